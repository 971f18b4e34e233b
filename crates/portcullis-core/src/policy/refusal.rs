//! Typed refusals: what every adapter renders in its own error format
//! (PostgreSQL ErrorResponse, SSH stderr and exit status, HTTP status
//! bodies, MCP tool results). Code decides on [`RefusalReason`], never on
//! the wording of a message.

use serde::{Deserialize, Serialize};

use super::config::Action;
use super::verdict::Verdict;
use crate::request::RequestKind;

/// Why the gateway did not run a request, machine-readable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RefusalReason {
    /// A rule (or the policy's default) blocks it.
    Guardrail,
    /// It could not be parsed or classified on a guarded connection.
    Unparseable,
    /// A rule asks for review, and the request cannot be held here (a
    /// startup parameter, a protocol message that cannot wait).
    ReviewRequired,
    /// Held for review `review` (async mode): re-send it once approved.
    Held { review: u64 },
    /// The reviewers rejected it.
    ReviewRejected { review: u64 },
    /// The review expired undecided.
    ReviewExpired { review: u64 },
    /// The client's wait ended before a decision; the review stays open.
    ReviewTimedOut { review: u64 },
    /// The review was approved, but its single-use approval was already
    /// taken or has expired.
    ApprovalUnavailable { review: u64 },
    /// Reviews could not be stored or followed (the state store failed).
    ReviewUnavailable,
    /// Strict recording: the request event could not be stored in time.
    RecordingUnavailable,
    /// Masking refused the result (it cannot be masked safely).
    Masking,
}

impl RefusalReason {
    /// The snake_case name, as serialized.
    pub fn as_str(self) -> &'static str {
        match self {
            RefusalReason::Guardrail => "guardrail",
            RefusalReason::Unparseable => "unparseable",
            RefusalReason::ReviewRequired => "review_required",
            RefusalReason::Held { .. } => "held",
            RefusalReason::ReviewRejected { .. } => "review_rejected",
            RefusalReason::ReviewExpired { .. } => "review_expired",
            RefusalReason::ReviewTimedOut { .. } => "review_timed_out",
            RefusalReason::ApprovalUnavailable { .. } => "approval_unavailable",
            RefusalReason::ReviewUnavailable => "review_unavailable",
            RefusalReason::RecordingUnavailable => "recording_unavailable",
            RefusalReason::Masking => "masking",
        }
    }

    /// The review this refusal concerns, if any.
    pub fn review(self) -> Option<u64> {
        match self {
            RefusalReason::Held { review }
            | RefusalReason::ReviewRejected { review }
            | RefusalReason::ReviewExpired { review }
            | RefusalReason::ReviewTimedOut { review }
            | RefusalReason::ApprovalUnavailable { review } => Some(review),
            _ => None,
        }
    }

    /// Whether sending the identical request again can succeed without an
    /// operator changing the policy (after an approval, or once the store
    /// is back). Agents use this to decide whether to retry.
    pub fn may_succeed_later(self) -> bool {
        !matches!(
            self,
            RefusalReason::Guardrail | RefusalReason::Unparseable | RefusalReason::Masking
        )
    }
}

/// A refusal as the client is told it: every adapter renders these fields.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refusal {
    pub reason: RefusalReason,
    /// `block`, or `review` for refusals of held requests.
    pub action: Action,
    /// The deciding rule (`no-destructive/drop`), when a rule decided.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// One line: what happened (`blocked by guardrail "..." on connection X`).
    pub message: String,
    /// More on why and what follows, when there is more to say.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// What the client can do about it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// The policy's own words for why (a rule's message), recorded with
    /// the request after the headline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
}

/// Said when a rule gives no hint.
fn default_hint(kind: RequestKind) -> String {
    format!(
        "retrying the same {} will not help; ask an administrator if it should be allowed",
        kind.noun()
    )
}

impl Refusal {
    /// The refusal of a verdict that stops a request on `connection`
    /// (block, or review where nothing can be held). The wording is the
    /// same for every protocol.
    pub fn of_verdict(v: &Verdict, connection: &str) -> Refusal {
        let rule = v.rule.as_deref().unwrap_or("default");
        let action = v.observed_action.unwrap_or(v.action);
        let (message, reason) = match action {
            Action::Review => (
                format!(
                    "{} requires review (guardrail \"{rule}\" on connection {connection}); reviews are not enabled on this gateway, so it was not run",
                    v.kind.noun()
                ),
                RefusalReason::ReviewRequired,
            ),
            _ => (
                format!("blocked by guardrail \"{rule}\" on connection {connection}"),
                v.reason.unwrap_or(RefusalReason::Guardrail),
            ),
        };
        Refusal {
            reason,
            action,
            rule: v.rule.clone(),
            message,
            detail: Some(v.message.clone()),
            hint: Some(v.hint.clone().unwrap_or_else(|| default_hint(v.kind))),
            cause: Some(v.message.clone()),
        }
    }

    /// A refusal without a deciding rule (reviews, recording).
    pub fn new(reason: RefusalReason, message: String, hint: Option<String>) -> Refusal {
        Refusal {
            reason,
            action: Action::Block,
            rule: None,
            message,
            detail: None,
            hint,
            cause: None,
        }
    }

    /// The text recorded as the request's `refused` field: the headline,
    /// then the policy's words when there are any.
    pub fn recorded(&self) -> String {
        match &self.cause {
            Some(cause) => format!("{}: {cause}", self.message),
            None => self.message.clone(),
        }
    }
}

impl RequestKind {
    /// What one request of this kind is called in messages.
    pub fn noun(self) -> &'static str {
        match self {
            RequestKind::Sql => "statement",
            RequestKind::Command => "command",
            RequestKind::Channel => "channel",
            RequestKind::File => "file operation",
            RequestKind::Http => "request",
            RequestKind::Git => "push",
            RequestKind::Kubernetes => "request",
        }
    }

    /// [`RequestKind::noun`] in the plural.
    pub fn plural(self) -> &'static str {
        match self {
            RequestKind::Sql => "statements",
            RequestKind::Command => "commands",
            RequestKind::Channel => "channels",
            RequestKind::File => "file operations",
            RequestKind::Http => "requests",
            RequestKind::Git => "pushes",
            RequestKind::Kubernetes => "requests",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_serialize_with_their_review() {
        let held = serde_json::to_value(RefusalReason::Held { review: 7 }).unwrap();
        assert_eq!(held, serde_json::json!({"kind": "held", "review": 7}));
        let back: RefusalReason = serde_json::from_value(held).unwrap();
        assert_eq!(back.review(), Some(7));
        assert_eq!(back.as_str(), "held");
        assert!(back.may_succeed_later());
        assert!(!RefusalReason::Guardrail.may_succeed_later());
        assert_eq!(
            serde_json::to_value(RefusalReason::Guardrail).unwrap(),
            serde_json::json!({"kind": "guardrail"})
        );
    }
}
