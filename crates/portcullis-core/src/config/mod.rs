//! The configuration model: one TOML file declares listeners, connections,
//! identities, grants and policies.
//!
//! Loading is two-phase: serde turns the text into the raw model (syntax and
//! type errors), then [`validate`] checks cross-references and resolves
//! secrets. Every error carries the file, line and field so an operator can
//! fix it without guessing.

mod error;
mod locate;
mod model;
mod oidc;
mod validate;

pub use error::ConfigError;
pub use model::*;
pub use oidc::{ASYMMETRIC_ALGORITHMS, OidcIssuer};

use std::path::{Path, PathBuf};

/// Reads, parses and validates the configuration file at `path`.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
        file: path.to_path_buf(),
        line: 0,
        column: 0,
        field: String::new(),
        message: format!("cannot read configuration: {e}"),
    })?;
    parse(path, &text)
}

/// Parses and validates configuration text; `path` names it in errors and
/// anchors relative paths (TLS files, secret files).
pub fn parse(path: &Path, text: &str) -> Result<Config, ConfigError> {
    let raw = parse_raw(path, text)?;
    let base = path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    let mut config = validate::validate(raw, &base).map_err(|issue| {
        let (line, column) = locate::position(text, &issue.path);
        ConfigError {
            file: path.to_path_buf(),
            line,
            column,
            field: issue.path,
            message: issue.message,
        }
    })?;
    config.source = path.to_path_buf();
    Ok(config)
}

fn parse_raw(path: &Path, text: &str) -> Result<RawConfig, ConfigError> {
    let syntax_error = |e: toml::de::Error| {
        let (line, column) = e
            .span()
            .map(|s| locate::line_col(text, s.start))
            .unwrap_or((0, 0));
        ConfigError {
            file: path.to_path_buf(),
            line,
            column,
            field: String::new(),
            message: e.message().to_string(),
        }
    };
    let de = toml::de::Deserializer::parse(text).map_err(syntax_error)?;
    serde_path_to_error::deserialize::<_, RawConfig>(de).map_err(|e| {
        let field = e.path().to_string();
        let inner = e.into_inner();
        let (line, column) = match inner.span() {
            Some(s) => locate::line_col(text, s.start),
            None => locate::position(text, &field),
        };
        ConfigError {
            file: path.to_path_buf(),
            line,
            column,
            field: if field == "." { String::new() } else { field },
            message: inner.message().to_string(),
        }
    })
}
