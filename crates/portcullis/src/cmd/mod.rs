//! One module per subcommand family.

mod access;
mod audit;
mod cert;
mod config;
mod connect;
mod credentials;
mod explain;
pub mod keys;
mod login;
mod mask_check;
mod mcp;
mod policy;
mod replay;
mod review;
mod serve;
mod sessions;
mod token;

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use portcullis_core::config::Config;
use portcullis_core::store::Store;
use portcullis_store::SqliteStore;

use crate::cli::{Cli, Command};

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Serve => serve::run(&cli.config),
        Command::Config(c) => config::run(&cli.config, c),
        Command::Token(c) => token::run(&cli.config, c),
        Command::Sessions(c) => sessions::run(&cli.config, c),
        Command::Cert(c) => cert::run(c),
        Command::Policy(c) => policy::run(&cli.config, c),
        Command::Keys(c) => keys::run(&cli.config, c),
        Command::Audit(c) => audit::run(&cli.config, c),
        Command::Access(c) => explain::run(&cli.config, c),
        Command::Login(a) => login::run(&cli.config, a),
        Command::Connect(a) => connect::run(&cli.config, a),
        Command::Review(c) => review::run(&cli.config, c),
        Command::Mcp => mcp::run(&cli.config),
    }
}

/// Loads and validates the configuration, with the error naming file, line and field.
pub fn load_config(path: &Path) -> anyhow::Result<Config> {
    Ok(portcullis_core::config::load(path)?)
}

pub fn open_store(config: &Config) -> anyhow::Result<Arc<dyn Store>> {
    let store = SqliteStore::open(&config.store_path)
        .with_context(|| format!("opening the state store {}", config.store_path.display()))?;
    Ok(Arc::new(store))
}

/// Who runs this CLI, for the audit log.
pub fn cli_actor() -> String {
    format!(
        "cli:{}",
        std::env::var("USER").unwrap_or_else(|_| "unknown".into())
    )
}
