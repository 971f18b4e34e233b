//! A compiled rule and how it matches a statement.
//!
//! Block and review rules are broad: a list criterion matches when *any*
//! entry of the statement matches any pattern. Allow rules are narrow, so a
//! broad allow can never wave through more than it names:
//! - every class of the statement other than `read` must be listed in the
//!   rule's `class` (no `class` means `["read"]`), so `allow command=["SELECT"]`
//!   does not cover `WITH d AS (DELETE ...) SELECT` or `SELECT nextval(..)`;
//! - list criteria over names (tables, functions, settings) need the
//!   statement's list to be non-empty and *every* entry to match.

use globset::{Glob, GlobBuilder, GlobSet, GlobSetBuilder};
use regex::Regex;

use super::config::{Action, RuleConfig};
use super::error::PolicyError;
use super::verdict::Subject;
use crate::statement::{ANY_SCHEMA, Fact, StatementClass, StatementInfo};

/// Glob patterns over dotted names. A pattern without a dot matches the last
/// component (a bare table or function name in any schema).
///
/// A table whose schema cannot be known (`*.name`, see
/// [`crate::statement::ANY_SCHEMA`]) matches broadly when the name part of
/// any pattern matches (`billing.payments` covers `*.payments`: it may be
/// that table), and narrowly only through patterns that cover every schema
/// (`payments`, `*.payments`).
#[derive(Debug, Clone)]
pub(crate) struct NameSet {
    qualified: GlobSet,
    bare: GlobSet,
    /// The part after the schema of each qualified pattern.
    qualified_names: GlobSet,
}

impl NameSet {
    fn build(
        patterns: &[String],
        err: impl Fn(&str, String) -> PolicyError,
    ) -> Result<NameSet, PolicyError> {
        let mut qualified = GlobSetBuilder::new();
        let mut bare = GlobSetBuilder::new();
        let mut qualified_names = GlobSetBuilder::new();
        for p in patterns {
            let glob = glob(p).map_err(|e| err(p, e))?;
            if let Some((_, name)) = p.split_once('.') {
                qualified.add(glob);
                qualified_names.add(self::glob(name).map_err(|e| err(p, e))?);
            } else {
                bare.add(glob);
            }
        }
        let build = |b: GlobSetBuilder| b.build().map_err(|e| err("", e.to_string()));
        Ok(NameSet {
            qualified: build(qualified)?,
            bare: build(bare)?,
            qualified_names: build(qualified_names)?,
        })
    }

    /// Whether `name` matches for a rule that names what it stops.
    pub(crate) fn matches(&self, name: &str) -> bool {
        let last = name.rsplit('.').next().unwrap_or(name);
        if self.qualified.is_match(name) || self.bare.is_match(last) {
            return true;
        }
        match name.split_once('.') {
            Some((ANY_SCHEMA, table)) => self.qualified_names.is_match(table),
            _ => false,
        }
    }

    /// Whether `name` is certainly covered, for a rule that allows.
    pub(crate) fn covers(&self, name: &str) -> bool {
        let last = name.rsplit('.').next().unwrap_or(name);
        self.qualified.is_match(name) || self.bare.is_match(last)
    }
}

fn glob(pattern: &str) -> Result<Glob, String> {
    GlobBuilder::new(pattern)
        .case_insensitive(true)
        .literal_separator(false)
        .build()
        .map_err(|e| e.to_string())
}

fn glob_set(
    patterns: &[String],
    err: impl Fn(&str, String) -> PolicyError,
) -> Result<GlobSet, PolicyError> {
    let mut builder = GlobSetBuilder::new();
    for p in patterns {
        builder.add(glob(p).map_err(|e| err(p, e))?);
    }
    builder.build().map_err(|e| err("", e.to_string()))
}

/// A rule ready to match.
#[derive(Debug, Clone)]
pub(crate) struct Rule {
    /// `SET/NAME`, e.g. `no-destructive/drop`.
    pub(crate) id: String,
    pub(crate) action: Action,
    pub(crate) message: Option<String>,
    pub(crate) hint: Option<String>,
    classes: Option<Vec<StatementClass>>,
    commands: Option<Vec<String>>,
    tables: Option<NameSet>,
    tables_read: Option<NameSet>,
    tables_written: Option<NameSet>,
    functions: Option<NameSet>,
    facts: Option<Vec<Fact>>,
    settings: Option<NameSet>,
    settings_outside: Option<NameSet>,
    regex: Option<Regex>,
    identities: Option<GlobSet>,
    groups: Option<GlobSet>,
    pub(crate) overrides: Option<GlobSet>,
    pub(crate) override_patterns: Vec<String>,
}

impl Rule {
    /// Compiles `config` as rule `id` of policy `policy`.
    pub(crate) fn compile(
        policy: &str,
        id: String,
        config: &RuleConfig,
    ) -> Result<Rule, PolicyError> {
        let bad = |pattern: &str, reason: String| PolicyError::BadPattern {
            policy: policy.to_string(),
            rule: id.clone(),
            pattern: pattern.to_string(),
            reason,
        };
        let names = |list: &Option<Vec<String>>| -> Result<Option<NameSet>, PolicyError> {
            list.as_deref().map(|l| NameSet::build(l, bad)).transpose()
        };
        let facts = match &config.facts {
            None => None,
            Some(list) => Some(
                list.iter()
                    .map(|f| {
                        Fact::parse(f).ok_or_else(|| PolicyError::UnknownFact {
                            policy: policy.to_string(),
                            rule: id.clone(),
                            fact: f.clone(),
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()?,
            ),
        };
        let regex = match &config.regex {
            None => None,
            Some(r) => Some(Regex::new(r).map_err(|e| PolicyError::BadRegex {
                policy: policy.to_string(),
                rule: id.clone(),
                reason: e.to_string(),
            })?),
        };
        if !config.overrides.is_empty() && config.action == Action::Block {
            return Err(PolicyError::BadRule {
                policy: policy.to_string(),
                rule: id.clone(),
                reason: "only allow and review rules can override other rules".into(),
            });
        }
        let overrides = if config.overrides.is_empty() {
            None
        } else {
            Some(glob_set(&config.overrides, bad)?)
        };
        Ok(Rule {
            action: config.action,
            message: config.message.clone(),
            hint: config.hint.clone(),
            classes: config.class.clone(),
            commands: config
                .command
                .as_ref()
                .map(|c| c.iter().map(|s| normalize_command(s)).collect()),
            tables: names(&config.tables)?,
            tables_read: names(&config.tables_read)?,
            tables_written: names(&config.tables_written)?,
            functions: names(&config.functions)?,
            facts,
            settings: names(&config.settings)?,
            settings_outside: names(&config.settings_outside)?,
            regex,
            identities: config
                .identities
                .as_deref()
                .map(|l| glob_set(l, bad))
                .transpose()?,
            groups: config
                .groups
                .as_deref()
                .map(|l| glob_set(l, bad))
                .transpose()?,
            overrides,
            override_patterns: config.overrides.clone(),
            id,
        })
    }

    /// Whether the rule applies to `subject` at all.
    pub(crate) fn applies_to(&self, subject: &Subject) -> bool {
        if self.identities.is_none() && self.groups.is_none() {
            return true;
        }
        let by_identity = self
            .identities
            .as_ref()
            .is_some_and(|g| g.is_match(&subject.identity));
        let by_group = self
            .groups
            .as_ref()
            .is_some_and(|g| subject.groups.iter().any(|group| g.is_match(group)));
        by_identity || by_group
    }

    /// Whether every criterion matches `s`.
    pub(crate) fn matches(&self, s: &StatementInfo) -> bool {
        let allow = self.action == Action::Allow;
        let names = |set: &Option<NameSet>, list: &[String]| match set {
            None => true,
            Some(set) if allow => !list.is_empty() && list.iter().all(|n| set.covers(n)),
            Some(set) => list.iter().any(|n| set.matches(n)),
        };
        let classes_ok = if allow {
            let listed = self.classes.as_deref().unwrap_or(&[StatementClass::Read]);
            s.classes
                .iter()
                .all(|c| *c == StatementClass::Read || listed.contains(c))
        } else {
            self.classes
                .as_ref()
                .is_none_or(|l| s.classes.iter().any(|c| l.contains(c)))
        };
        if !classes_ok {
            return false;
        }
        if let Some(commands) = &self.commands {
            let full = s.full_command();
            if !commands.iter().any(|c| *c == s.command || *c == full) {
                return false;
            }
        }
        let all_tables: Vec<String> = if self.tables.is_some() {
            s.tables_read
                .iter()
                .chain(&s.tables_written)
                .cloned()
                .collect()
        } else {
            Vec::new()
        };
        let settings: Vec<String> = s.settings.iter().map(|c| c.name.clone()).collect();
        names(&self.tables, &all_tables)
            && names(&self.tables_read, &s.tables_read)
            && names(&self.tables_written, &s.tables_written)
            && names(&self.functions, &s.functions)
            && names(&self.settings, &settings)
            && self
                .facts
                .as_ref()
                .is_none_or(|f| f.iter().any(|x| s.has_fact(*x)))
            && self
                .settings_outside
                .as_ref()
                .is_none_or(|ok| settings.iter().any(|n| !ok.matches(n)))
            && self
                .regex
                .as_ref()
                .is_none_or(|r| r.is_match(&s.normalized))
    }

    /// Whether this rule exempts statements from rule `id`.
    pub(crate) fn overrides(&self, id: &str) -> bool {
        self.overrides.as_ref().is_some_and(|g| g.is_match(id))
    }
}

/// Uppercase, single-spaced command text.
fn normalize_command(command: &str) -> String {
    command
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_uppercase()
}
