//! Per-result-set masking plans.
//!
//! Column and name globs are matched once, when RowDescription arrives, so
//! each DataRow field costs one table lookup; columns that need nothing are
//! passed through as borrowed bytes.

use std::borrow::Cow;
use std::sync::Arc;

use crate::policy::Inner;
use crate::scan::Outcome;
use crate::types::{self, TypeClass};

/// What the relay knows about one result column (from RowDescription and the catalog).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnInfo {
    /// `("schema.table", "column")` the values come from, when the wire names a source.
    pub source: Option<(String, String)>,
    /// The result column's name or alias.
    pub name: String,
    /// The column's type OID.
    pub type_oid: u32,
    /// The format code the values are sent in (0 text, 1 binary).
    pub format: i16,
}

/// Why and how a column is masked (also shown by `policy check`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnAction {
    /// Sent unchanged.
    Pass,
    /// Masked by the `column` rule at this index.
    ColumnRule(usize),
    /// Masked by the `name` rule at this index.
    NameRule(usize),
    /// Scanned with the value detectors and custom patterns.
    Scan,
    /// Derived from a column masked by the `column` rule at this index (an
    /// expression, a whole-row or JSON form, a view): the whole value is
    /// masked. `partial` would show pieces of a different value than the
    /// rule was written for, so it becomes the default redaction here.
    Derived(usize),
    /// Lineage unknown on a statement that reads masked data, and no rule to
    /// borrow a style from: the whole value is redacted (NULL for non-text types).
    Unknown,
}

/// How to mask each field of the rows of one result set.
#[derive(Debug, Clone)]
pub struct RowPlan {
    policy: Arc<Inner>,
    columns: Vec<(ColumnAction, TypeClass, i16)>,
    passthrough: bool,
}

impl RowPlan {
    pub(crate) fn new(policy: Arc<Inner>, columns: Vec<(ColumnAction, TypeClass, i16)>) -> Self {
        let passthrough = columns.iter().all(|(a, _, _)| *a == ColumnAction::Pass);
        RowPlan {
            policy,
            columns,
            passthrough,
        }
    }

    /// True when no column needs masking: the relay can forward rows without decoding them.
    pub fn is_passthrough(&self) -> bool {
        self.passthrough
    }

    /// Number of columns planned.
    pub fn len(&self) -> usize {
        self.columns.len()
    }

    /// True when the result has no columns.
    pub fn is_empty(&self) -> bool {
        self.columns.is_empty()
    }

    /// The decision for column `col`.
    pub fn action(&self, col: usize) -> Option<ColumnAction> {
        self.columns.get(col).map(|(a, _, _)| *a)
    }

    /// Masks field `col` of a DataRow (`None` in and out is SQL NULL).
    ///
    /// Unmasked values are returned borrowed, byte-identical. A column index
    /// beyond the plan (a row wider than its RowDescription) yields NULL:
    /// fail closed.
    pub fn mask_value<'a>(&self, col: usize, value: Option<&'a [u8]>) -> Option<Cow<'a, [u8]>> {
        let raw = value?;
        let &(action, class, format) = self.columns.get(col)?;
        match action {
            ColumnAction::Pass => Some(Cow::Borrowed(raw)),
            ColumnAction::ColumnRule(rule) | ColumnAction::NameRule(rule) => {
                self.policy.apply_rule(rule, class, format, raw)
            }
            ColumnAction::Scan => self.scan(class, format, raw),
            ColumnAction::Derived(rule) => {
                self.policy.apply_derived(Some(rule), class, format, raw)
            }
            ColumnAction::Unknown => self.policy.apply_derived(None, class, format, raw),
        }
    }

    fn scan<'a>(&self, class: TypeClass, format: i16, raw: &'a [u8]) -> Option<Cow<'a, [u8]>> {
        let content = types::content(class, format, raw);
        let is_json = matches!(class, TypeClass::Json | TypeClass::Jsonb);
        let outcome = if is_json && memchr::memchr(b'\\', content).is_some() {
            crate::json::scan_decoded(&self.policy, content)
        } else {
            self.policy.scan(content)
        };
        let masked = match outcome {
            Outcome::Unchanged => return Some(Cow::Borrowed(raw)),
            Outcome::Null => return None,
            Outcome::Masked(bytes) if is_json => crate::json::repair(&self.policy, content, bytes)?,
            Outcome::Masked(bytes) => String::from_utf8(bytes)
                .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()),
        };
        types::encode(class, format, raw, masked, is_json)
    }
}
