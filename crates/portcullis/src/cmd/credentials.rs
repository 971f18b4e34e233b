//! The CLI's stored OIDC tokens: one owner-only file (0600 in a 0700
//! directory) under the user's configuration directory, keyed by issuer,
//! replaced atomically so a crash never leaves half a file.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use serde::{Deserialize, Serialize};

/// What `login` keeps for one issuer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Stored {
    pub client_id: String,
    pub id_token: String,
    pub refresh_token: Option<String>,
    pub identity: String,
    pub groups: Vec<String>,
    /// Seconds since the epoch after which the gateway refuses the token.
    pub valid_until: i64,
}

/// `$PORTCULLIS_CREDENTIALS`, else `$XDG_CONFIG_HOME/portcullis/credentials.json`,
/// else `~/.config/portcullis/credentials.json`.
pub fn path() -> anyhow::Result<PathBuf> {
    if let Some(p) = std::env::var_os("PORTCULLIS_CREDENTIALS") {
        return Ok(PathBuf::from(p));
    }
    let base = match std::env::var_os("XDG_CONFIG_HOME") {
        Some(x) if !x.is_empty() => PathBuf::from(x),
        _ => PathBuf::from(std::env::var_os("HOME").context("HOME is not set")?).join(".config"),
    };
    Ok(base.join("portcullis").join("credentials.json"))
}

pub fn load() -> anyhow::Result<BTreeMap<String, Stored>> {
    let p = path()?;
    match std::fs::read(&p) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .with_context(|| format!("{} is not a credentials file", p.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeMap::new()),
        Err(e) => Err(e).with_context(|| format!("reading {}", p.display())),
    }
}

pub fn save(all: &BTreeMap<String, Stored>) -> anyhow::Result<PathBuf> {
    let p = path()?;
    let dir = p
        .parent()
        .context("the credentials path has no directory")?
        .to_path_buf();
    create_private_dir(&dir)?;
    let tmp = dir.join(".credentials.json.tmp");
    let _ = std::fs::remove_file(&tmp);
    let mut file = private_file(&tmp)?;
    file.write_all(&serde_json::to_vec_pretty(all)?)?;
    file.sync_all()?;
    std::fs::rename(&tmp, &p).with_context(|| format!("writing {}", p.display()))?;
    Ok(p)
}

#[cfg(unix)]
fn create_private_dir(dir: &std::path::Path) -> anyhow::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    if !dir.is_dir() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .with_context(|| format!("creating {}", dir.display()))?;
    }
    Ok(())
}

#[cfg(not(unix))]
fn create_private_dir(dir: &std::path::Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))
}

#[cfg(unix)]
fn private_file(p: &std::path::Path) -> anyhow::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(p)
        .with_context(|| format!("creating {}", p.display()))
}

#[cfg(not(unix))]
fn private_file(p: &std::path::Path) -> anyhow::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(p)
        .with_context(|| format!("creating {}", p.display()))
}
