//! The part of a verdict a request event keeps.

use std::sync::Arc;

use crate::policy::{Action, Classified, Verdict};

/// The guardrail decision a request ran (or was stopped) under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Judged {
    pub action: Action,
    pub rule: Option<String>,
    pub observed: bool,
    /// The review that held (and, if it ran, approved) the request.
    pub review: Option<u64>,
    /// What the guard classified it as.
    pub classified: Option<Arc<Classified>>,
}

impl From<&Verdict> for Judged {
    fn from(v: &Verdict) -> Judged {
        Judged {
            action: v.action,
            rule: v.rule.clone(),
            observed: v.observed,
            review: None,
            classified: v.classified.clone(),
        }
    }
}

impl Judged {
    /// The same verdict, tied to review `id`.
    pub fn with_review(mut self, id: Option<u64>) -> Judged {
        self.review = id;
        self
    }
}
