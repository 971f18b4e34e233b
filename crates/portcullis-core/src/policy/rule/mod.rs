//! A compiled rule and how it matches one item of a request.
//!
//! A rule judges one kind of request (`kind`, explicit or inferred from
//! its criteria) or, with only kind-neutral criteria (`class`, `facts`,
//! `regex`, `identities`, `groups`), every kind.
//!
//! Block and review rules are broad: a list criterion matches when *any*
//! entry of the item matches any pattern. Allow rules are narrow, so a
//! broad allow can never wave through more than it names:
//! - for kinds classified from text (SQL, command lines), every class of
//!   the item other than `read` must be listed in the rule's `class` (no
//!   `class` means `["read"]`), so `allow command=["SELECT"]` does not
//!   cover `WITH d AS (DELETE ...) SELECT`, nor `allow programs=["find"]`
//!   a `find -delete`; for the other kinds a `class`, when given, must
//!   list every class of the item;
//! - list criteria over names (tables, programs, paths, images) need the
//!   item's list to be non-empty and *every* entry to match;
//! - condition lists (query parameters, headers, JSON fields) must all hold.

mod criteria;
mod kinds;
mod names;

use globset::GlobSet;
use regex::Regex;

use super::config::{Action, RuleConfig};
use super::error::PolicyError;
use super::item::Item;
use super::verdict::Subject;
use crate::request::RequestKind;
use crate::statement::{Fact, StatementClass};

use names::Style;

/// A rule ready to match.
#[derive(Debug, Clone)]
pub(crate) struct Rule {
    /// `SET/NAME`, e.g. `no-destructive/drop`.
    pub(crate) id: String,
    pub(crate) action: Action,
    pub(crate) message: Option<String>,
    pub(crate) hint: Option<String>,
    /// The kind it judges; `None`: every kind.
    pub(crate) kind: Option<RequestKind>,
    classes: Option<Vec<StatementClass>>,
    facts: Option<Vec<Fact>>,
    regex: Option<Regex>,
    identities: Option<GlobSet>,
    groups: Option<GlobSet>,
    criteria: Criteria,
    pub(crate) overrides: Option<GlobSet>,
    pub(crate) override_patterns: Vec<String>,
}

/// The criteria of the rule's kind (none for a kind-neutral rule).
#[derive(Debug, Clone)]
enum Criteria {
    Neutral,
    Sql(Box<criteria::Sql>),
    Command(Box<criteria::Command>),
    Channel(Box<criteria::Channel>),
    File(Box<criteria::File>),
    Http(Box<criteria::Http>),
    Git(Box<criteria::Git>),
    Kube(Box<criteria::Kube>),
}

fn glob_set(
    patterns: &[String],
    err: &impl Fn(&str, String) -> PolicyError,
) -> Result<GlobSet, PolicyError> {
    let mut builder = globset::GlobSetBuilder::new();
    for p in patterns {
        builder.add(names::glob(p, Style::Sql).map_err(|e| err(p, e))?);
    }
    builder.build().map_err(|e| err("", e.to_string()))
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
        let kind = kinds::kind_of(config).map_err(|reason| PolicyError::RuleKind {
            policy: policy.to_string(),
            rule: id.clone(),
            reason,
        })?;
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
            Some(glob_set(&config.overrides, &bad)?)
        };
        let b: criteria::Bad<'_> = &bad;
        let criteria = match kind {
            None => Criteria::Neutral,
            Some(RequestKind::Sql) => Criteria::Sql(Box::new(criteria::Sql::compile(config, b)?)),
            Some(RequestKind::Command) => {
                Criteria::Command(Box::new(criteria::Command::compile(config, b)?))
            }
            Some(RequestKind::Channel) => {
                Criteria::Channel(Box::new(criteria::Channel::compile(config, b)?))
            }
            Some(RequestKind::File) => {
                Criteria::File(Box::new(criteria::File::compile(config, b)?))
            }
            Some(RequestKind::Http) => {
                Criteria::Http(Box::new(criteria::Http::compile(config, b)?))
            }
            Some(RequestKind::Git) => Criteria::Git(Box::new(criteria::Git::compile(config, b)?)),
            Some(RequestKind::Kubernetes) => {
                Criteria::Kube(Box::new(criteria::Kube::compile(config, b)?))
            }
        };
        Ok(Rule {
            action: config.action,
            message: config.message.clone(),
            hint: config.hint.clone(),
            kind,
            classes: config.class.clone(),
            facts,
            regex,
            identities: config
                .identities
                .as_deref()
                .map(|l| glob_set(l, &bad))
                .transpose()?,
            groups: config
                .groups
                .as_deref()
                .map(|l| glob_set(l, &bad))
                .transpose()?,
            criteria,
            overrides,
            override_patterns: config.overrides.clone(),
            id,
        })
    }

    /// Whether the rule judges items of `kind` at all.
    pub(crate) fn judges(&self, kind: RequestKind) -> bool {
        self.kind.is_none_or(|k| k == kind)
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

    /// Whether every criterion matches `item`.
    pub(crate) fn matches(&self, item: &Item<'_>) -> bool {
        if !self.judges(item.kind()) {
            return false;
        }
        let allow = self.action == Action::Allow;
        let classes = item.classes();
        let classes_ok = if allow && item.classified_from_text() {
            let listed = self.classes.as_deref().unwrap_or(&[StatementClass::Read]);
            classes
                .iter()
                .all(|c| *c == StatementClass::Read || listed.contains(c))
        } else if allow {
            self.classes
                .as_ref()
                .is_none_or(|l| classes.iter().all(|c| l.contains(c)))
        } else {
            self.classes
                .as_ref()
                .is_none_or(|l| classes.iter().any(|c| l.contains(c)))
        };
        if !classes_ok {
            return false;
        }
        let facts = item.facts();
        if !self
            .facts
            .as_ref()
            .is_none_or(|f| f.iter().any(|x| facts.contains(x)))
        {
            return false;
        }
        let kind_ok = match (&self.criteria, item) {
            (Criteria::Neutral, _) => true,
            (Criteria::Sql(c), Item::Sql(s)) => c.matches(s, allow),
            (Criteria::Command(c), Item::Command(_, cmd)) => c.matches(*cmd, allow),
            (Criteria::Channel(c), Item::Channel(ch)) => c.matches(ch),
            (Criteria::File(c), Item::File(f)) => c.matches(f, allow),
            (Criteria::Http(c), Item::Http(h)) => c.matches(h, allow),
            (Criteria::Git(c), Item::Git(u)) => c.matches(u),
            (Criteria::Kube(c), Item::Kube(k)) => c.matches(k, allow),
            // `judges` already refused other kinds.
            _ => false,
        };
        kind_ok && self.regex.as_ref().is_none_or(|r| r.is_match(&item.text()))
    }

    /// Whether this rule exempts statements from rule `id`.
    pub(crate) fn overrides(&self, id: &str) -> bool {
        self.overrides.as_ref().is_some_and(|g| g.is_match(id))
    }
}
