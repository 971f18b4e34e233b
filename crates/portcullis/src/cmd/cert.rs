//! `portcullis cert dev`: a self-signed pair for trying TLS locally.

use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::process::ExitCode;

use anyhow::Context;

use crate::cli::CertCommand;

pub fn run(cmd: CertCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        CertCommand::Dev { out, names } => {
            let key = rcgen::KeyPair::generate().context("generating a key")?;
            let params =
                rcgen::CertificateParams::new(names.clone()).context("certificate names")?;
            let cert = params.self_signed(&key).context("self-signing")?;
            fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
            let cert_path = out.join("cert.pem");
            let key_path = out.join("key.pem");
            fs::write(&cert_path, cert.pem())
                .with_context(|| format!("writing {}", cert_path.display()))?;
            let mut f = fs::OpenOptions::new()
                .create(true)
                .write(true)
                .truncate(true)
                .mode(0o600)
                .open(&key_path)
                .with_context(|| format!("writing {}", key_path.display()))?;
            f.write_all(key.serialize_pem().as_bytes())?;
            eprintln!(
                "self-signed certificate for {} (for trying TLS only; not for production)",
                names.join(", ")
            );
            println!(
                "[listen.tls]\ncert = \"{}\"\nkey = \"{}\"",
                abs(&cert_path),
                abs(&key_path)
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn abs(p: &std::path::Path) -> String {
    std::fs::canonicalize(p)
        .unwrap_or_else(|_| p.to_path_buf())
        .display()
        .to_string()
}
