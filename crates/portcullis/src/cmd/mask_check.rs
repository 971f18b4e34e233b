//! The masking part of `portcullis policy check`: which result columns of a
//! statement will be masked, and why.
//!
//! This is the parse-level view (no connection to the target): relation and
//! column names come from the statement text, unqualified tables are taken
//! to be in `public`, and `*` is reported as "each column by its rule". The
//! gateway itself resolves sources through the catalog, so it can only mask
//! more than this report shows (views, functions, renamed columns).

use portcullis_mask::MaskPolicy;
use portcullis_sql::{StatementLineage, TargetLineage};
use serde::Serialize;

/// One result column and what masking does to it.
#[derive(Debug, Serialize)]
pub struct MaskedColumn {
    pub statement: usize,
    pub column: String,
    pub masked: bool,
    pub why: String,
}

/// The masking report for every statement of `sql` with a result list.
pub fn report(rules: &[portcullis_mask::MaskRuleConfig], sql: &str) -> Vec<MaskedColumn> {
    if rules.is_empty() {
        return Vec::new();
    }
    // The key only matters for hash values, which are not shown here.
    let Ok(policy) = MaskPolicy::compile(rules, b"policy check") else {
        return Vec::new();
    };
    let Ok(statements) = portcullis_sql::lineage(sql) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (index, l) in statements.iter().enumerate() {
        let Some(targets) = &l.targets else {
            if l.opaque || l.nested {
                out.push(MaskedColumn {
                    statement: index + 1,
                    column: "*".into(),
                    masked: policy.has_column_rules(),
                    why: "lineage not visible in the text (subquery, CTE, set operation or opaque statement): computed columns that may read a masked column are masked whole, or blocked per `mask_unknown`".into(),
                });
            }
            continue;
        };
        for (i, t) in targets.iter().enumerate() {
            let (masked, why) = judge(&policy, l, t);
            out.push(MaskedColumn {
                statement: index + 1,
                column: label(t, i),
                masked,
                why,
            });
        }
    }
    out
}

fn label(t: &TargetLineage, i: usize) -> String {
    t.alias
        .clone()
        .or_else(|| t.direct.clone())
        .unwrap_or_else(|| format!("column {}", i + 1))
}

/// `schema.table.column` for each relation the statement names.
fn full_names<'a>(l: &'a StatementLineage, column: &'a str) -> impl Iterator<Item = String> + 'a {
    l.relations.iter().map(move |r| {
        format!(
            "{}.{}.{}",
            r.schema.as_deref().unwrap_or("public"),
            r.name,
            column
        )
    })
}

fn judge(policy: &MaskPolicy, l: &StatementLineage, t: &TargetLineage) -> (bool, String) {
    if t.star {
        return (
            policy.has_column_rules(),
            "expands to the tables' columns: each is masked by the column rule matching its source"
                .into(),
        );
    }
    let rule_for = |c: &str| full_names(l, c).find_map(|f| policy.column_rule(&f).map(|r| (r, f)));
    if let Some(direct) = &t.direct
        && let Some((rule, full)) = rule_for(direct)
    {
        return (true, format!("column rule {} matches {full}", rule + 1));
    }
    if let Some(rule) = policy.name_rule(&label(t, 0)) {
        return (
            true,
            format!("name rule {} matches the result name", rule + 1),
        );
    }
    if let Some((rule, full)) = t.columns.iter().find_map(|c| rule_for(c)) {
        return (
            true,
            format!(
                "derived from {full} (column rule {}): masked whole",
                rule + 1
            ),
        );
    }
    if policy.has_column_rules()
        && let Some(w) = t
            .whole_rows
            .iter()
            .find(|w| l.aliases.iter().any(|(a, _)| a == *w))
    {
        return (
            true,
            format!("whole row of {w}: masked whole if its table has a masked column"),
        );
    }
    if policy.has_detectors() {
        (
            false,
            "not masked by rule; text values are scanned by the detectors".into(),
        )
    } else {
        (false, "not masked".into())
    }
}

/// The report as text lines for the table output.
pub fn render(columns: &[MaskedColumn]) -> String {
    let mut out = String::new();
    if columns.is_empty() {
        return out;
    }
    out.push_str("\nmasking:\n");
    for c in columns {
        out.push_str(&format!(
            "  {:>3}  {:<24} {:<7} {}\n",
            c.statement,
            c.column,
            if c.masked { "masked" } else { "clear" },
            c.why
        ));
    }
    out
}
