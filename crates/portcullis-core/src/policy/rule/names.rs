//! Glob patterns as rules use them.

use globset::{Glob, GlobBuilder, GlobSet, GlobSetBuilder};

use crate::policy::error::PolicyError;
use crate::statement::ANY_SCHEMA;

/// How a pattern reads its text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Style {
    /// SQL names: case-insensitive, `*` matches anything.
    Sql,
    /// Names that are case-sensitive where they come from (programs,
    /// namespaces, images): `*` matches anything.
    Name,
    /// Paths and refs: case-sensitive; `*` stops at `/`, `**` crosses it.
    Path,
}

pub(crate) fn glob(pattern: &str, style: Style) -> Result<Glob, String> {
    GlobBuilder::new(pattern)
        .case_insensitive(style == Style::Sql)
        .literal_separator(style == Style::Path)
        .build()
        .map_err(|e| e.to_string())
}

/// Patterns matched against one value at a time.
#[derive(Debug, Clone)]
pub(crate) struct Globs(GlobSet);

impl Globs {
    pub(crate) fn build(
        patterns: &[String],
        style: Style,
        err: &impl Fn(&str, String) -> PolicyError,
    ) -> Result<Globs, PolicyError> {
        let mut builder = GlobSetBuilder::new();
        for p in patterns {
            builder.add(glob(p, style).map_err(|e| err(p, e))?);
        }
        builder
            .build()
            .map(Globs)
            .map_err(|e| err("", e.to_string()))
    }

    pub(crate) fn is_match(&self, value: &str) -> bool {
        self.0.is_match(value)
    }

    /// Whether `values` meet the patterns: a rule that stops (block,
    /// review) matches when any value matches; a rule that allows covers
    /// only a non-empty list whose every value matches, so it can never
    /// wave through more than it names.
    pub(crate) fn meets<'a>(&self, values: impl IntoIterator<Item = &'a str>, allow: bool) -> bool {
        let mut values = values.into_iter();
        if allow {
            let mut any = false;
            for v in values {
                if !self.is_match(v) {
                    return false;
                }
                any = true;
            }
            any
        } else {
            values.any(|v| self.is_match(v))
        }
    }
}

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
    pub(crate) fn build(
        patterns: &[String],
        err: &impl Fn(&str, String) -> PolicyError,
    ) -> Result<NameSet, PolicyError> {
        let mut qualified = GlobSetBuilder::new();
        let mut bare = GlobSetBuilder::new();
        let mut qualified_names = GlobSetBuilder::new();
        for p in patterns {
            let glob = glob(p, Style::Sql).map_err(|e| err(p, e))?;
            if let Some((_, name)) = p.split_once('.') {
                qualified.add(glob);
                qualified_names.add(self::glob(name, Style::Sql).map_err(|e| err(p, e))?);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn globs(p: &[&str], style: Style) -> Globs {
        let p: Vec<String> = p.iter().map(|s| s.to_string()).collect();
        Globs::build(&p, style, &|_, e| PolicyError::BadRule {
            policy: "p".into(),
            rule: "r".into(),
            reason: e,
        })
        .unwrap()
    }

    #[test]
    fn path_globs_stop_at_slashes_and_allow_is_narrow() {
        let g = globs(&["/etc/*", "/boot/**"], Style::Path);
        assert!(g.is_match("/etc/passwd"));
        assert!(!g.is_match("/etc/ssh/sshd_config"));
        assert!(g.is_match("/boot/grub/grub.cfg"));
        assert!(!g.is_match("/ETC/passwd"), "paths are case-sensitive");
        assert!(g.meets(["/tmp/x", "/etc/hosts"], false));
        assert!(!g.meets(["/tmp/x", "/etc/hosts"], true));
        assert!(g.meets(["/etc/hosts"], true));
        assert!(!g.meets([], true), "an allow covers nothing it cannot see");
        let n = globs(&["registry.corp/*"], Style::Name);
        assert!(n.is_match("registry.corp/team/app:1"));
    }
}
