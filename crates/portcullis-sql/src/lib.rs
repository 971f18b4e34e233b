//! Statement classification with PostgreSQL's own parser (libpg_query).
//!
//! [`classify`] turns SQL text into one
//! [`StatementInfo`](portcullis_core::statement::StatementInfo) per statement
//! by walking the *whole* parse tree; [`Classifier`] adds a byte-bounded cache
//! keyed by statement shape for the hot path; [`policy_check`] judges text
//! against a [`Policy`](portcullis_core::policy::Policy) for
//! `portcullis policy check`. Anything that cannot be parsed or fully
//! classified is an error, never a classification: callers fail closed.
//!
//! Assumes `standard_conforming_strings = on` and UTF-8, and reports SETs that
//! would change that (fact `lexing_setting`) so policies can block them.
#![forbid(unsafe_code)]

mod cache;
mod check;
mod classifier;
mod command;
mod error;
mod functions;
mod lineage;
mod normalize;
mod settings;
mod shape;
mod statement;
mod tree;
mod truth;
mod walk;

use std::panic::{AssertUnwindSafe, catch_unwind};

use portcullis_core::statement::StatementInfo;

pub use cache::Classification;
pub use check::{StatementReport, policy_check, render_text};
pub use classifier::{CacheStats, Classifier, DEFAULT_CACHE_BYTES};
pub use error::ClassifyError;
pub use lineage::{CopyLineage, RelationRef, StatementLineage, TargetLineage, lineage};

/// Classifies every statement of `sql` (one entry per statement, in order),
/// without caching. An empty or comment-only text yields no statements.
pub fn classify(sql: &str) -> Result<Vec<StatementInfo>, ClassifyError> {
    classify_detailed(sql).map(|(infos, _)| infos)
}

/// Classifies and reports whether any result depends on a literal's value.
pub(crate) fn classify_detailed(sql: &str) -> Result<(Vec<StatementInfo>, bool), ClassifyError> {
    if sql.contains('\0') {
        return Err(ClassifyError::Parse(
            "statement text contains a NUL byte".into(),
        ));
    }
    // A panic anywhere below is a bug; it must still not let a statement through.
    catch_unwind(AssertUnwindSafe(|| classify_inner(sql)))
        .unwrap_or_else(|_| Err(ClassifyError::Internal("classifier panicked".into())))
}

fn classify_inner(sql: &str) -> Result<(Vec<StatementInfo>, bool), ClassifyError> {
    let parsed = pg_query::parse(sql, 0).map_err(|e| match e {
        pg_query::Error::Parse(message) => ClassifyError::Parse(message),
        other => ClassifyError::Parse(other.to_string()),
    })?;
    let stmts = &parsed.protobuf.stmts;
    let mut spans = Vec::with_capacity(stmts.len());
    for raw in stmts {
        let start = usize::try_from(raw.stmt_location)
            .map_err(|_| ClassifyError::Incomplete("negative statement location".into()))?;
        let end = if raw.stmt_len == 0 {
            sql.len()
        } else {
            start.saturating_add(usize::try_from(raw.stmt_len).unwrap_or(0))
        };
        spans.push(normalize::Span { start, end });
    }
    let texts = normalize::normalized(sql, &spans)?;
    let mut infos = Vec::with_capacity(stmts.len());
    let mut sensitive = false;
    for (raw, text) in stmts.iter().zip(&texts) {
        let node = raw
            .stmt
            .as_ref()
            .and_then(|n| n.node.as_ref())
            .ok_or_else(|| ClassifyError::Incomplete("empty statement node".into()))?;
        let classified = statement::classify_node(node, text)?;
        sensitive |= classified.sensitive;
        infos.push(classified.info);
    }
    Ok((infos, sensitive))
}
