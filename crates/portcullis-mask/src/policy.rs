//! A compiled masking policy: validated rules, ready for the hot path.

use std::borrow::Cow;
use std::sync::Arc;

use regex::bytes::{Regex, RegexBuilder};

use crate::config::{MaskRuleConfig, StyleKind};
use crate::detect::{Detectors, Enabled, Finding};
use crate::error::MaskError;
use crate::plan::{ColumnAction, ColumnInfo, RowPlan};
use crate::scan::{self, Outcome};
use crate::selector::Selector;
use crate::style::{Keyed, Style};
use crate::types::{self, TypeClass};

/// Upper bound on a compiled custom pattern, so a hostile config cannot exhaust memory.
const PATTERN_SIZE_LIMIT: usize = 1 << 20;

/// A compiled, immutable masking policy. Cheap to clone (shared), safe to use
/// from many sessions at once.
#[derive(Clone)]
pub struct MaskPolicy {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) styles: Vec<Style>,
    pub(crate) columns: Vec<(Selector, usize)>,
    pub(crate) names: Vec<(Selector, usize)>,
    pub(crate) detectors: Detectors,
    pub(crate) custom: Vec<(Regex, usize)>,
    pub(crate) key: Keyed,
}

impl std::fmt::Debug for MaskPolicy {
    /// Rule counts only: the key and the rules' details stay out of logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MaskPolicy")
            .field("rules", &self.inner.styles.len())
            .field("column_rules", &self.inner.columns.len())
            .field("name_rules", &self.inner.names.len())
            .field("custom_patterns", &self.inner.custom.len())
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for Inner {
    /// Shown inside a [`RowPlan`]'s Debug; never prints the key.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MaskPolicy { .. }")
    }
}

fn selectors(cfg: &MaskRuleConfig) -> Vec<&'static str> {
    let mut found = Vec::new();
    if cfg.column.is_some() {
        found.push("column");
    }
    if cfg.name.is_some() {
        found.push("name");
    }
    if cfg.detector.is_some() {
        found.push("detector");
    }
    if cfg.pattern.is_some() {
        found.push("pattern");
    }
    found
}

impl MaskPolicy {
    /// Validates and compiles `rules`. `hmac_key` is the deployment's secret
    /// for the `hash` style (required, non-empty, when any rule uses it).
    ///
    /// Errors name the rule's index so the caller can locate it in the file.
    pub fn compile(rules: &[MaskRuleConfig], hmac_key: &[u8]) -> Result<MaskPolicy, MaskError> {
        let key = Keyed::new(hmac_key);
        let mut styles = Vec::with_capacity(rules.len());
        let mut columns = Vec::new();
        let mut names = Vec::new();
        let mut custom = Vec::new();
        let mut enabled: Enabled = Default::default();
        for (rule, cfg) in rules.iter().enumerate() {
            match selectors(cfg).as_slice() {
                [] => return Err(MaskError::NoSelector { rule }),
                [_] => {}
                many => {
                    return Err(MaskError::MultipleSelectors {
                        rule,
                        found: many.join(", "),
                    });
                }
            }
            let style = Style::from_config(rule, cfg)?;
            if cfg.style == StyleKind::Hash && !key.is_some() {
                return Err(MaskError::MissingHashKey { rule });
            }
            styles.push(style);
            if let Some(glob) = &cfg.column {
                columns.push((Selector::column(rule, glob)?, rule));
            } else if let Some(glob) = &cfg.name {
                names.push((Selector::name(rule, glob)?, rule));
            } else if let Some(kind) = cfg.detector {
                let slot = &mut enabled[kind.index()];
                if let Some(first) = *slot {
                    return Err(MaskError::DuplicateDetector {
                        rule,
                        first,
                        detector: kind.as_str(),
                    });
                }
                *slot = Some(rule);
            } else if let Some(pattern) = &cfg.pattern {
                custom.push((compile_pattern(rule, pattern)?, rule));
            }
        }
        let detectors = Detectors::new(enabled)?;
        Ok(MaskPolicy {
            inner: Arc::new(Inner {
                styles,
                columns,
                names,
                detectors,
                custom,
                key,
            }),
        })
    }

    /// True when the policy masks nothing (the relay can skip all masking work).
    pub fn is_empty(&self) -> bool {
        self.inner.styles.is_empty()
    }

    /// True when value detectors or custom patterns are configured (free text will be scanned).
    pub fn has_detectors(&self) -> bool {
        self.inner.has_detectors()
    }

    /// Decides, once per result set, how each column of its rows is masked.
    pub fn plan(&self, columns: &[ColumnInfo]) -> RowPlan {
        let actions = columns
            .iter()
            .map(|c| {
                let class = TypeClass::of(c.type_oid, c.format);
                (self.inner.action(c, class), class, c.format)
            })
            .collect();
        RowPlan::new(self.inner.clone(), actions)
    }

    /// Like [`MaskPolicy::plan`], but the wire side may force an action on
    /// columns whose lineage it knows better (derived or unknown). A forced
    /// action only ever adds masking: a column the policy already masks by
    /// its own rules keeps that rule.
    pub fn plan_with(&self, columns: &[ColumnInfo], forced: &[Option<ColumnAction>]) -> RowPlan {
        let actions = columns
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let class = TypeClass::of(c.type_oid, c.format);
                let own = self.inner.action(c, class);
                let action = match (own, forced.get(i).copied().flatten()) {
                    (ColumnAction::Pass | ColumnAction::Scan, Some(f))
                        if f != ColumnAction::Pass =>
                    {
                        f
                    }
                    (own, _) => own,
                };
                (action, class, c.format)
            })
            .collect();
        RowPlan::new(self.inner.clone(), actions)
    }

    /// True when the policy has `column` rules (the wire side then needs the
    /// catalog to know where result columns come from).
    pub fn has_column_rules(&self) -> bool {
        !self.inner.columns.is_empty()
    }

    /// The first `column` rule matching `schema.table.column`, if any.
    pub fn column_rule(&self, full_name: &str) -> Option<usize> {
        self.inner
            .columns
            .iter()
            .find(|(s, _)| s.is_match(full_name))
            .map(|(_, r)| *r)
    }

    /// The first `name` rule matching a result column's name, if any.
    pub fn name_rule(&self, name: &str) -> Option<usize> {
        self.inner
            .names
            .iter()
            .find(|(s, _)| s.is_match(name))
            .map(|(_, r)| *r)
    }

    /// Replaces every detected span in free text (error and notice fields,
    /// NOTIFY payloads, COPY lines). Borrows when nothing was found.
    pub fn scrub<'a>(&self, text: &'a str) -> Cow<'a, str> {
        match self.scrub_bytes(text.as_bytes()) {
            Cow::Borrowed(_) => Cow::Borrowed(text),
            Cow::Owned(bytes) => Cow::Owned(
                String::from_utf8(bytes)
                    .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()),
            ),
        }
    }

    /// [`MaskPolicy::scrub`] over bytes in any ASCII-compatible encoding.
    pub fn scrub_bytes<'a>(&self, text: &'a [u8]) -> Cow<'a, [u8]> {
        match self.inner.findings(text) {
            None => Cow::Borrowed(text),
            Some(findings) => Cow::Owned(scan::rewrite(
                text,
                &findings,
                &self.inner.styles,
                &self.inner.key,
            )),
        }
    }

    /// Masks one raw value with rule `rule`'s style so it stays decodable as
    /// `type_oid` in `format` (see [`TypeClass`]); `None` is SQL NULL, as is
    /// an unknown rule index (fail closed).
    pub fn mask_with_rule<'a>(
        &self,
        rule: usize,
        type_oid: u32,
        format: i16,
        value: &'a [u8],
    ) -> Option<Cow<'a, [u8]>> {
        self.inner
            .apply_rule(rule, TypeClass::of(type_oid, format), format, value)
    }
}

fn compile_pattern(rule: usize, pattern: &str) -> Result<Regex, MaskError> {
    RegexBuilder::new(pattern)
        .size_limit(PATTERN_SIZE_LIMIT)
        .build()
        .map_err(|e| MaskError::InvalidPattern {
            rule,
            pattern: pattern.to_owned(),
            message: e.to_string(),
        })
}

impl Inner {
    fn has_detectors(&self) -> bool {
        !self.detectors.is_empty() || !self.custom.is_empty()
    }

    fn action(&self, c: &ColumnInfo, class: TypeClass) -> ColumnAction {
        let by_column = c.source.as_ref().and_then(|(table, column)| {
            let full = format!("{table}.{column}");
            self.columns
                .iter()
                .find(|(s, _)| s.is_match(&full))
                .map(|(_, r)| ColumnAction::ColumnRule(*r))
        });
        by_column
            .or_else(|| {
                self.names
                    .iter()
                    .find(|(s, _)| s.is_match(&c.name))
                    .map(|(_, r)| ColumnAction::NameRule(*r))
            })
            .unwrap_or(if class.is_text_like() && self.has_detectors() {
                ColumnAction::Scan
            } else {
                ColumnAction::Pass
            })
    }

    /// Resolved findings, or `None` when nothing matched.
    pub(crate) fn findings(&self, text: &[u8]) -> Option<Vec<Finding>> {
        if !self.has_detectors() {
            return None;
        }
        let mut found = Vec::new();
        self.detectors.find(text, &mut found);
        for (re, rule) in &self.custom {
            found.extend(
                re.find_iter(text)
                    .filter(|m| !m.is_empty())
                    .map(|m| Finding {
                        start: m.start(),
                        end: m.end(),
                        rule: *rule,
                    }),
            );
        }
        if found.is_empty() {
            return None;
        }
        scan::resolve(&mut found);
        Some(found)
    }

    /// Scans one value: a finding whose style is `null` nulls the whole value.
    pub(crate) fn scan(&self, text: &[u8]) -> Outcome {
        match self.findings(text) {
            None => Outcome::Unchanged,
            Some(f)
                if f.iter()
                    .any(|f| self.styles.get(f.rule).is_none_or(Style::is_null)) =>
            {
                Outcome::Null
            }
            Some(f) => Outcome::Masked(scan::rewrite(text, &f, &self.styles, &self.key)),
        }
    }

    /// Masks a whole derived value: the rule's style, except that `partial`
    /// becomes the default redaction (and no rule means the default redaction).
    pub(crate) fn apply_derived<'a>(
        &self,
        rule: Option<usize>,
        class: TypeClass,
        format: i16,
        raw: &[u8],
    ) -> Option<Cow<'a, [u8]>> {
        let redact = Style::Redact(crate::style::DEFAULT_TOKEN.to_string());
        let style = match rule.and_then(|r| self.styles.get(r)) {
            Some(Style::Partial { .. }) | None => &redact,
            Some(s) => s,
        };
        if class == TypeClass::Other || style.is_null() {
            return None;
        }
        let content = types::content(class, format, raw);
        let masked = style.render(content, &self.key)?;
        types::encode(class, format, raw, masked, false)
    }

    pub(crate) fn apply_rule<'a>(
        &self,
        rule: usize,
        class: TypeClass,
        format: i16,
        raw: &[u8],
    ) -> Option<Cow<'a, [u8]>> {
        let style = self.styles.get(rule)?;
        if class == TypeClass::Other {
            return None;
        }
        let content = types::content(class, format, raw);
        let json_string;
        let value = match class {
            TypeClass::Json | TypeClass::Jsonb => {
                match serde_json::from_slice::<serde_json::Value>(content) {
                    Ok(serde_json::Value::String(s)) => {
                        json_string = s;
                        json_string.as_bytes()
                    }
                    _ => content,
                }
            }
            _ => content,
        };
        let masked = style.render(value, &self.key)?;
        types::encode(class, format, raw, masked, false)
    }
}
