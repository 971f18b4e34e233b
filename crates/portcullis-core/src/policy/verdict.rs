//! The outcome of judging statements, and who they were judged for.

use serde::{Deserialize, Serialize};

use super::config::Action;

/// Who sends the statement: rules can be narrowed to identities and groups.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subject {
    /// The authenticated identity (`alice@example.com`, `ci-bot`, ...).
    pub identity: String,
    /// Groups the identity belongs to.
    #[serde(default)]
    pub groups: Vec<String>,
}

impl Subject {
    /// A subject with an identity and groups.
    pub fn new(identity: impl Into<String>, groups: Vec<String>) -> Subject {
        Subject {
            identity: identity.into(),
            groups,
        }
    }
}

/// A policy's decision, with what is needed to explain and record it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    /// What happens: in `observe` mode always `allow`.
    pub action: Action,
    /// The deciding rule as `SET/NAME` (`no-destructive/drop`, `prod/payments`,
    /// `prod/default`, `fail-closed/unparseable`); `None` when allowed by default.
    pub rule: Option<String>,
    /// The policy's name.
    pub policy: String,
    /// The policy's version (hash of its definition), for binding reviews.
    pub policy_version: String,
    /// Why, in words, for the client and the record.
    pub message: String,
    /// What the client can do about it.
    pub hint: Option<String>,
    /// True when `observe` mode turned a block or review into an allow.
    pub observed: bool,
    /// In `observe` mode, the action that would have been taken.
    pub observed_action: Option<Action>,
    /// Index of the statement (in a multi-statement request) that decided it.
    pub statement: Option<usize>,
}

impl Verdict {
    /// True when the statement(s) may run.
    pub fn is_allowed(&self) -> bool {
        self.action == Action::Allow
    }
}
