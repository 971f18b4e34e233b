//! File transfers and forwarded channels: what moved, where, how much,
//! and under which verdict.

use serde::{Deserialize, Serialize};

use crate::request::{ChannelKind, FileOp};

/// One file operation (SFTP, scp), recorded when it is finished or refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferEvent {
    pub session_id: String,
    pub started_at: i64,
    #[serde(default)]
    pub duration_us: i64,
    pub op: FileOp,
    pub path: String,
    /// The second path of a rename or symlink.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// Bytes read or written.
    #[serde(default)]
    pub size: u64,
    /// Hex SHA-256 of the bytes transferred (reads and writes of whole files).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// `allow`, `block`, `review`; `None` on an unguarded connection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verdict: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// Why the gateway refused it (then nothing was transferred).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
    /// The target's error, when the operation failed there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A forwarded channel (port, agent or X11 forwarding), recorded when it
/// closes (or is refused): metadata only, never its bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForwardEvent {
    pub session_id: String,
    pub opened_at: i64,
    #[serde(default)]
    pub duration_us: i64,
    pub channel: ChannelKind,
    /// `host:port` connected to or listened on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination: Option<String>,
    /// Bytes from the client towards the destination, and back.
    #[serde(default)]
    pub bytes_in: u64,
    #[serde(default)]
    pub bytes_out: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verdict: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
}
