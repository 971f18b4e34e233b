//! Types of the configuration file (raw, as written) and of the validated
//! configuration the gateway runs on.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use std::sync::Arc;

use crate::policy::{Policy, PolicyConfig};
use crate::secret::Secret;

/// The file as written, before cross-references are checked.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    #[serde(default)]
    pub store: RawStore,
    #[serde(default)]
    pub listen: RawListen,
    #[serde(default)]
    pub limits: RawLimits,
    #[serde(default)]
    pub runtime: RawRuntime,
    #[serde(default)]
    pub recording: RawRecording,
    #[serde(default, rename = "connection")]
    pub connections: Vec<RawConnection>,
    #[serde(default, rename = "identity")]
    pub identities: Vec<RawIdentity>,
    #[serde(default, rename = "grant")]
    pub grants: Vec<RawGrant>,
    #[serde(default, rename = "policy")]
    pub policies: BTreeMap<String, PolicyConfig>,
    /// `[[oidc]]` identity providers.
    #[serde(default)]
    pub oidc: Vec<super::oidc::RawOidcIssuer>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStore {
    /// SQLite file; relative paths are relative to the working directory.
    pub path: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawListen {
    pub postgres: Option<SocketAddr>,
    pub api: Option<SocketAddr>,
    pub require_tls: Option<bool>,
    pub tls: Option<RawTlsFiles>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLimits {
    pub max_message_bytes: Option<usize>,
    pub startup_timeout: Option<String>,
    pub connect_timeout: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRecording {
    /// How long closed sessions are kept, e.g. `"90d"`; absent: forever.
    pub retention: Option<String>,
    /// Result rows recorded per statement with `record = "full"` (default 100).
    pub max_result_rows: Option<usize>,
    /// Bytes of result values recorded per statement (default 65536).
    pub max_result_bytes: Option<usize>,
    /// How long a statement under `record_mode = "strict"` waits for its
    /// request event to be stored before it is refused (default `"5s"`).
    pub strict_timeout: Option<String>,
}

/// Validated `[recording]` settings the adapters use per statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordingLimits {
    pub max_result_rows: usize,
    pub max_result_bytes: usize,
    pub strict_timeout: Duration,
}

impl Default for RecordingLimits {
    fn default() -> Self {
        RecordingLimits {
            max_result_rows: 100,
            max_result_bytes: 64 * 1024,
            strict_timeout: Duration::from_secs(5),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRuntime {
    /// Threads that run sessions: a number, or `"auto"` (half the cores,
    /// at least one): the gateway usually shares its machine, and fewer
    /// threads hand work between each other less often.
    pub workers: Option<Workers>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum Workers {
    Count(usize),
    Auto(AutoWord),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AutoWord {
    Auto,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConnection {
    pub name: String,
    pub kind: ConnectionKind,
    pub address: String,
    pub database: String,
    pub user: String,
    pub password: Option<SecretSource>,
    #[serde(default)]
    pub tls: UpstreamTlsMode,
    pub ca: Option<PathBuf>,
    pub policy: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawIdentity {
    pub name: String,
    #[serde(default)]
    pub groups: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawGrant {
    pub identity: Option<String>,
    pub group: Option<String>,
    pub connections: Vec<String>,
    pub policy: Option<String>,
}

/// Where a secret comes from: never written inline in the file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "lowercase")]
pub enum SecretSource {
    Env(String),
    File(PathBuf),
}

/// The kinds of target a connection can point at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConnectionKind {
    Postgres,
}

impl ConnectionKind {
    /// The kinds of request a connection of this kind carries, which its
    /// policy must have rules for.
    pub fn request_kinds(self) -> &'static [crate::request::RequestKind] {
        match self {
            ConnectionKind::Postgres => &[crate::request::RequestKind::Sql],
        }
    }
}

/// libpq's `sslmode` values the gateway supports towards the target.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum UpstreamTlsMode {
    Disable,
    #[default]
    Prefer,
    Require,
    VerifyFull,
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub source: PathBuf,
    pub store_path: PathBuf,
    pub listen: Listen,
    pub limits: Limits,
    /// Threads that run sessions.
    pub workers: usize,
    /// Closed sessions older than this are removed; `None` keeps them.
    pub retention: Option<Duration>,
    /// Result capture caps and the strict-mode timeout.
    pub recording: RecordingLimits,
    pub connections: Vec<Connection>,
    pub identities: Vec<Identity>,
    pub grants: Vec<Grant>,
    /// Compiled policies: the built-in presets and every `[policy.NAME]`.
    pub policies: BTreeMap<String, Arc<Policy>>,
    /// Identity providers whose JWTs are accepted.
    pub oidc: Vec<super::oidc::OidcIssuer>,
}

#[derive(Debug, Clone)]
pub struct Listen {
    pub postgres: Option<SocketAddr>,
    pub api: Option<SocketAddr>,
    pub require_tls: bool,
    pub tls: Option<TlsFiles>,
}

#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest frontend message accepted; larger ones end the session.
    pub max_message_bytes: usize,
    /// Time a client has to finish TLS, startup and authentication.
    pub startup_timeout: Duration,
    /// Time allowed to reach a target.
    pub connect_timeout: Duration,
}

/// A target the gateway connects to on behalf of clients.
#[derive(Debug, Clone)]
pub struct Connection {
    pub name: String,
    pub kind: ConnectionKind,
    pub address: String,
    pub database: String,
    pub user: String,
    pub password: Option<Secret>,
    pub tls: UpstreamTlsMode,
    pub ca: Option<PathBuf>,
    /// `None` means [`DEFAULT_POLICY`].
    pub policy: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Identity {
    pub name: String,
    pub groups: Vec<String>,
}

/// Who may use which connections.
#[derive(Debug, Clone)]
pub struct Grant {
    pub subject: GrantSubject,
    pub connections: Vec<String>,
    pub policy: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GrantSubject {
    Identity(String),
    Group(String),
}

impl Config {
    pub fn connection(&self, name: &str) -> Option<&Connection> {
        self.connections.iter().find(|c| c.name == name)
    }

    pub fn oidc_issuer(&self, issuer: &str) -> Option<&super::oidc::OidcIssuer> {
        self.oidc.iter().find(|o| o.issuer == issuer)
    }

    pub fn identity(&self, name: &str) -> Option<&Identity> {
        self.identities.iter().find(|i| i.name == name)
    }

    /// The compiled policy `name`, or `DEFAULT_POLICY` when `None`.
    pub fn policy(&self, name: Option<&str>) -> Option<Arc<Policy>> {
        self.policies.get(name.unwrap_or(DEFAULT_POLICY)).cloned()
    }
}

/// The policy of a connection that names none: secure by default.
pub const DEFAULT_POLICY: &str = "no-destructive";
