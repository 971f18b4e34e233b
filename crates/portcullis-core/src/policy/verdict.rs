//! The outcome of judging statements, and who they were judged for.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::config::Action;
use super::refusal::{Refusal, RefusalReason};
use crate::request::RequestKind;
use crate::statement::StatementInfo;

/// What a request was classified as, kept with its verdict so recordings
/// say what ran (commands, classes of effect, tables), not only whether it
/// was allowed. Shared: a session's verdicts are cached and cloned per
/// statement.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Classified {
    /// Each statement's command, `DROP TABLE`, `UPDATE`, ... in order.
    pub commands: Vec<String>,
    /// Every class of effect found, sorted: `read`, `write`, `ddl`, ...
    pub classes: Vec<String>,
    /// Tables read or written, schema-qualified, sorted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tables: Vec<String>,
}

impl Classified {
    pub fn of(statements: &[StatementInfo]) -> Classified {
        let mut classes: Vec<String> = Vec::new();
        let mut tables: Vec<String> = Vec::new();
        for s in statements {
            classes.extend(s.classes.iter().map(|c| c.as_str().to_string()));
            tables.extend(s.tables_read.iter().chain(&s.tables_written).cloned());
        }
        classes.sort();
        classes.dedup();
        tables.sort();
        tables.dedup();
        Classified {
            commands: statements.iter().map(StatementInfo::full_command).collect(),
            classes,
            tables,
        }
    }
}

impl Classified {
    /// What a request of any kind amounts to: its items' labels (programs,
    /// methods, verbs, ref updates) and classes; SQL as [`Classified::of`].
    pub fn of_request(request: &crate::request::Request) -> Classified {
        if let crate::request::Request::Sql { statements } = request {
            return Classified::of(statements);
        }
        let mut classes: Vec<String> = Vec::new();
        let mut commands: Vec<String> = Vec::new();
        for judged in super::item::items(request) {
            classes.extend(judged.item.classes().iter().map(|c| c.as_str().to_string()));
            if !judged.embedded {
                commands.push(judged.item.label().into_owned());
            }
        }
        classes.sort();
        classes.dedup();
        Classified {
            commands,
            classes,
            tables: Vec::new(),
        }
    }
}

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
    /// What was judged; `None` when the text could not be classified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classified: Option<Arc<Classified>>,
    /// The kind of request judged.
    #[serde(default, skip_serializing_if = "RequestKind::is_sql")]
    pub kind: RequestKind,
    /// Why it is stopped, machine-readable: set on every block and review
    /// verdict (in `observe` mode too, for what would have happened).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<RefusalReason>,
}

impl Verdict {
    /// True when the statement(s) may run.
    pub fn is_allowed(&self) -> bool {
        self.action == Action::Allow
    }

    /// What the client is told when this verdict stops the request on
    /// `connection`; `None` when it runs.
    pub fn refusal(&self, connection: &str) -> Option<Refusal> {
        (!self.is_allowed()).then(|| Refusal::of_verdict(self, connection))
    }
}
