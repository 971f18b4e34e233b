//! What a review is, as stored and shown to reviewers.

use serde::{Deserialize, Serialize};

use crate::policy::ReviewMode;

/// Where a review stands. Expiry is not a state of its own: a pending review
/// past `expires_at` is shown as expired and can no longer be decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReviewState {
    Pending,
    Approved,
    Rejected,
}

impl ReviewState {
    pub fn as_str(self) -> &'static str {
        match self {
            ReviewState::Pending => "pending",
            ReviewState::Approved => "approved",
            ReviewState::Rejected => "rejected",
        }
    }
}

/// One reviewer's approval.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    pub by: String,
    pub at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rejection {
    pub by: String,
    pub at: i64,
    pub reason: String,
}

/// What an adapter knows about a held statement when it asks for review.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewReview {
    pub identity: String,
    pub groups: Vec<String>,
    pub connection: String,
    pub session_id: String,
    pub client_addr: String,
    pub protocol: String,
    pub policy: String,
    pub policy_version: String,
    /// The rule that asked for the review, e.g. `production/ddl`.
    pub rule: Option<String>,
    /// Why, in the policy's words.
    pub reason: String,
    /// The statement exactly as sent (lossy UTF-8 for display; the hash is of the bytes).
    pub statement: String,
    /// Bound parameters for display (`None` for NULL); absent in the simple protocol.
    pub parameters: Option<Vec<Option<String>>>,
    pub statement_hash: String,
    pub params_hash: String,
    pub mode: ReviewMode,
    pub reviewers: Vec<String>,
    pub approvals_required: u32,
    pub requested_at: i64,
    pub expires_at: i64,
    /// How long an approval may be used, in microseconds.
    pub grant_ttl_us: i64,
}

/// A review as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Review {
    pub id: u64,
    pub state: ReviewState,
    #[serde(flatten)]
    pub request: NewReview,
    #[serde(default)]
    pub approvals: Vec<Decision>,
    #[serde(default)]
    pub rejection: Option<Rejection>,
    /// Until when the approval may be used (set on approval).
    #[serde(default)]
    pub grant_expires_at: Option<i64>,
    /// When the approved statement ran, and in which session.
    #[serde(default)]
    pub executed_at: Option<i64>,
    #[serde(default)]
    pub executed_session: Option<String>,
    /// `ok, 3 rows` or the error the target returned.
    #[serde(default)]
    pub outcome: Option<String>,
    /// The planner's estimate for DML (`EXPLAIN`, never executed).
    #[serde(default)]
    pub estimate: Option<String>,
}

impl Review {
    /// The state as shown: a pending review past its expiry is `expired`, an
    /// approved one that ran is `executed`.
    pub fn status(&self, now: i64) -> &'static str {
        match self.state {
            ReviewState::Pending if now >= self.request.expires_at => "expired",
            ReviewState::Approved if self.executed_at.is_some() => "executed",
            ReviewState::Approved if self.grant_expires_at.is_some_and(|g| now >= g) => {
                "approval-expired"
            }
            s => s.as_str(),
        }
    }
}

/// What a single-use grant is bound to: all must match for it to be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    pub identity: String,
    pub connection: String,
    pub statement_hash: String,
    pub params_hash: String,
    pub policy_version: String,
}

/// Filters for listing reviews; `None` means any.
#[derive(Debug, Clone, Default)]
pub struct ReviewFilter {
    pub state: Option<ReviewState>,
    pub limit: Option<u64>,
}
