//! The audit log of administrative and security events: who did what, when.

use serde::{Deserialize, Serialize};

/// One audited action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub at: i64,
    /// Who acted: `cli:<os user>`, `gateway`, or a client address.
    pub actor: String,
    /// `token.create`, `token.revoke`, `config.reload`, `config.reload_failed`,
    /// `gateway.start`, `gateway.stop`, `auth.failed`, `access.denied`, ...
    pub action: String,
    /// What it concerned: a token id, an identity, a file.
    pub subject: Option<String>,
    pub detail: Option<String>,
}

impl AuditEntry {
    pub fn new(
        actor: impl Into<String>,
        action: &str,
        subject: Option<String>,
        detail: Option<String>,
    ) -> Self {
        AuditEntry {
            at: crate::time::now_micros(),
            actor: actor.into(),
            action: action.to_string(),
            subject,
            detail,
        }
    }
}

/// Filters for `portcullis audit list`; `None` means any.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub since: Option<i64>,
    /// Exact action, or a prefix ending in `.` (`token.`).
    pub action: Option<String>,
    pub limit: Option<u64>,
}
