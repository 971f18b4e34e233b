//! `portcullis policy check`: judge SQL text against a policy, statement by
//! statement, for people and for CI.

use std::collections::HashMap;
use std::fmt::Write as _;

use portcullis_core::policy::{Action, Policy, Subject, Verdict};
use portcullis_core::statement::StatementInfo;
use serde::Serialize;

/// The judgement of one statement (one JSON object per statement with
/// `--format json`).
#[derive(Clone, Debug, Serialize)]
pub struct StatementReport {
    /// Position of the statement in the text, from 0.
    pub index: usize,
    /// `allow`, `block` or `review` (what happens; see `observed`).
    pub verdict: Action,
    /// The deciding rule, e.g. `no-destructive/drop`.
    pub rule: Option<String>,
    /// The policy's name and version.
    pub policy: String,
    pub policy_version: String,
    /// Why.
    pub message: String,
    pub hint: Option<String>,
    /// True when `observe` mode let a block or review through.
    pub observed: bool,
    /// What would have happened without `observe` mode.
    pub observed_action: Option<Action>,
    /// The classification, absent when the text could not be parsed.
    pub classification: Option<StatementInfo>,
    /// The parser's error, when the text could not be parsed.
    pub error: Option<String>,
}

impl StatementReport {
    fn new(
        index: usize,
        verdict: Verdict,
        classification: Option<StatementInfo>,
        error: Option<String>,
    ) -> Self {
        StatementReport {
            index,
            verdict: verdict.action,
            rule: verdict.rule,
            policy: verdict.policy,
            policy_version: verdict.policy_version,
            message: verdict.message,
            hint: verdict.hint,
            observed: verdict.observed,
            observed_action: verdict.observed_action,
            classification,
            error,
        }
    }

    /// True unless the statement is allowed (observe mode counts as allowed).
    pub fn is_blocked(&self) -> bool {
        self.verdict != Action::Allow
    }
}

/// Classifies `sql` and judges each statement with `policy` for `subject`.
///
/// An `EXECUTE` of a statement PREPAREd earlier in the same text is judged as
/// the prepared statement. Text that cannot be parsed yields one report with
/// the fail-closed verdict (blocked on every guarded policy).
pub fn policy_check(policy: &Policy, subject: &Subject, sql: &str) -> Vec<StatementReport> {
    let statements = match crate::classify(sql) {
        Ok(statements) => statements,
        Err(error) => {
            let message = error.to_string();
            return vec![StatementReport::new(
                0,
                policy.unparseable(&message),
                None,
                Some(message),
            )];
        }
    };
    let mut prepared: HashMap<String, StatementInfo> = HashMap::new();
    let mut reports = Vec::with_capacity(statements.len());
    for (index, statement) in statements.into_iter().enumerate() {
        let judged = statement.resolve_execute(|name| prepared.get(name));
        if statement.command == "PREPARE"
            && let (Some(name), Some(inner)) = (&statement.prepared_name, &statement.inner)
        {
            prepared.insert(name.clone(), (**inner).clone());
        }
        let verdict = policy.evaluate_one(&judged, subject);
        reports.push(StatementReport::new(index, verdict, Some(judged), None));
    }
    reports
}

/// Human-readable rendering of reports, one block per statement.
pub fn render_text(reports: &[StatementReport]) -> String {
    let mut out = String::new();
    for r in reports {
        let verdict = r.verdict.as_str().to_uppercase();
        let what = r
            .classification
            .as_ref()
            .map(|c| c.full_command())
            .unwrap_or_else(|| "(unparseable)".to_string());
        let _ = write!(out, "[{}] {verdict:<6} {what}", r.index + 1);
        if let Some(rule) = &r.rule {
            let _ = write!(out, "  (rule {rule}, policy {})", r.policy);
        }
        out.push('\n');
        if let Some(observed) = r.observed_action {
            let _ = writeln!(out, "    observe mode: would have been {observed}");
        }
        let _ = writeln!(out, "    {}", r.message);
        if let Some(hint) = &r.hint {
            let _ = writeln!(out, "    hint: {hint}");
        }
        if let Some(c) = &r.classification {
            let classes: Vec<&str> = c.classes.iter().map(|k| k.as_str()).collect();
            let _ = writeln!(out, "    class: {} ({})", c.class, classes.join(", "));
            let lists = [
                ("tables read", &c.tables_read),
                ("tables written", &c.tables_written),
                ("functions", &c.functions),
                ("objects", &c.objects),
            ];
            for (label, list) in lists {
                if !list.is_empty() {
                    let _ = writeln!(out, "    {label}: {}", list.join(", "));
                }
            }
            if !c.facts.is_empty() {
                let facts: Vec<&str> = c.facts.iter().map(|f| f.as_str()).collect();
                let _ = writeln!(out, "    facts: {}", facts.join(", "));
            }
            for s in &c.settings {
                let _ = writeln!(
                    out,
                    "    sets: {} = {}",
                    s.name,
                    s.value.as_deref().unwrap_or("(default)")
                );
            }
            if let Some(reason) = &c.opaque_reason {
                let _ = writeln!(out, "    opaque: {reason}");
            }
        }
    }
    out
}
