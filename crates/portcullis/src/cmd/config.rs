//! `portcullis config check`.

use std::path::Path;
use std::process::ExitCode;

use crate::cli::ConfigCommand;

pub fn run(default: &Path, cmd: ConfigCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        ConfigCommand::Check { file } => {
            let path = file.as_deref().unwrap_or(default);
            match portcullis_core::config::load(path) {
                Ok(c) => {
                    println!(
                        "{}: ok ({} connections, {} identities, {} grants)",
                        path.display(),
                        c.connections.len(),
                        c.identities.len(),
                        c.grants.len()
                    );
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    Ok(ExitCode::from(1))
                }
            }
        }
    }
}
