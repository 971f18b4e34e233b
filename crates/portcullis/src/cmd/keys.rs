//! The gateway's signing key: created on first use, kept beside the store
//! with owner-only permissions; `portcullis keys show` prints its public half.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use portcullis_core::config::Config;
use portcullis_core::record::chain::Signer;

use super::load_config;
use crate::cli::KeysCommand;

pub fn key_path(config: &Config) -> PathBuf {
    config
        .store_path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .join("signing.key")
}

/// Loads the signing key, creating it (mode 0600) if there is none.
pub fn load_or_create(config: &Config) -> anyhow::Result<Signer> {
    let seed = seed_file(&key_path(config), "session signing key")?;
    Ok(Signer::from_seed(&seed)?)
}

/// The deployment's key for the `hash` masking style: created once beside
/// the store (mode 0600) so hashes stay stable across restarts and replicas
/// that share the directory; never logged, never sent anywhere.
pub fn mask_key(config: &Config) -> anyhow::Result<portcullis_core::secret::Secret> {
    let path = key_path(config).with_file_name("mask.key");
    let seed = seed_file(&path, "masking key")?;
    Ok(portcullis_core::secret::Secret::new(to_hex(&seed)))
}

/// A 32-byte secret kept in `path` as hex, created (mode 0600) if missing;
/// refused if others can read it.
fn seed_file(path: &Path, what: &str) -> anyhow::Result<Vec<u8>> {
    let path = path.to_path_buf();
    if !path.exists() {
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let mut seed = [0u8; 32];
        portcullis_core::random::fill(&mut seed)?;
        let created = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path);
        match created {
            Ok(mut f) => {
                f.write_all(format!("{}\n", to_hex(&seed)).as_bytes())?;
                f.sync_all()?;
                tracing::info!(path = %path.display(), "created the {what}");
            }
            // Another process created it first: use theirs.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e).with_context(|| format!("creating {}", path.display())),
        }
    }
    let mode = fs::metadata(&path)?.permissions().mode();
    if mode & 0o077 != 0 {
        bail!(
            "{} is readable by others (mode {:o}); run chmod 600 on it",
            path.display(),
            mode & 0o777
        );
    }
    let text = fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    from_hex(text.trim()).with_context(|| format!("{} is not a hex key", path.display()))
}

fn to_hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn from_hex(s: &str) -> Option<Vec<u8>> {
    if s.len() != 64 {
        return None;
    }
    (0..32)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok())
        .collect()
}

pub fn run(config_path: &Path, cmd: KeysCommand) -> anyhow::Result<ExitCode> {
    let config = load_config(config_path)?;
    match cmd {
        KeysCommand::Show => {
            let signer = load_or_create(&config)?;
            eprintln!("session signing key {}", key_path(&config).display());
            println!("{}", signer.public_key_hex());
        }
    }
    Ok(ExitCode::SUCCESS)
}
