//! Which kind of request a rule judges: explicit, or inferred from its
//! criteria. Criteria of two kinds in one rule are a configuration error
//! (the rule could never match, which would silently leave a gap).

use crate::policy::config::RuleConfig;
use crate::request::RequestKind::{self, *};

/// The kind-specific criteria a rule sets, with the kinds each belongs to.
fn criteria(c: &RuleConfig) -> Vec<(&'static str, &'static [RequestKind])> {
    let mut out = Vec::new();
    let mut add = |set: bool, name: &'static str, kinds: &'static [RequestKind]| {
        if set {
            out.push((name, kinds));
        }
    };
    add(c.command.is_some(), "command", &[Sql]);
    add(c.tables.is_some(), "tables", &[Sql]);
    add(c.tables_read.is_some(), "tables_read", &[Sql]);
    add(c.tables_written.is_some(), "tables_written", &[Sql]);
    add(c.functions.is_some(), "functions", &[Sql]);
    add(c.settings.is_some(), "settings", &[Sql]);
    add(c.settings_outside.is_some(), "settings", &[Sql]);
    add(c.programs.is_some(), "programs", &[Command]);
    add(c.args.is_some(), "args", &[Command]);
    add(c.paths_read.is_some(), "paths_read", &[Command]);
    add(c.paths_written.is_some(), "paths_written", &[Command]);
    add(c.paths_removed.is_some(), "paths_removed", &[Command]);
    add(c.channels.is_some(), "channels", &[Channel]);
    add(c.subsystems.is_some(), "subsystems", &[Channel]);
    add(c.destinations.is_some(), "destinations", &[Channel]);
    add(c.operations.is_some(), "operations", &[File]);
    add(c.paths.is_some(), "paths", &[File, Http]);
    add(c.methods.is_some(), "methods", &[Http]);
    add(c.query.is_some(), "query", &[Http]);
    add(c.headers.is_some(), "headers", &[Http]);
    add(c.content_types.is_some(), "content_types", &[Http]);
    add(c.json.is_some(), "json", &[Http]);
    add(c.refs.is_some(), "refs", &[Git]);
    add(c.ref_updates.is_some(), "ref_updates", &[Git]);
    add(c.verbs.is_some(), "verbs", &[Kubernetes]);
    add(c.api_groups.is_some(), "api_groups", &[Kubernetes]);
    add(c.resources.is_some(), "resources", &[Kubernetes]);
    add(c.namespaces.is_some(), "namespaces", &[Kubernetes]);
    add(c.names.is_some(), "names", &[Kubernetes]);
    add(c.images.is_some(), "images", &[Kubernetes]);
    out
}

/// The rule's kind; `Ok(None)` for a kind-neutral rule.
pub(super) fn kind_of(c: &RuleConfig) -> Result<Option<RequestKind>, String> {
    let set = criteria(c);
    if let Some(kind) = c.kind {
        if let Some((name, _)) = set.iter().find(|(_, kinds)| !kinds.contains(&kind)) {
            return Err(format!(
                "`{name}` is not a criterion of {kind} rules (kind = \"{kind}\")"
            ));
        }
        return Ok(Some(kind));
    }
    let Some((_, first)) = set.first() else {
        return Ok(None);
    };
    let common: Vec<RequestKind> = first
        .iter()
        .copied()
        .filter(|k| set.iter().all(|(_, kinds)| kinds.contains(k)))
        .collect();
    match common.as_slice() {
        [one] => Ok(Some(*one)),
        [] => {
            let mut names: Vec<String> = set
                .iter()
                .map(|(n, kinds)| {
                    let ks: Vec<&str> = kinds.iter().map(|k| k.as_str()).collect();
                    format!("`{n}` ({})", ks.join(" or "))
                })
                .collect();
            names.dedup();
            Err(format!(
                "mixes criteria of different kinds of request: {}; write one rule per kind",
                names.join(", ")
            ))
        }
        several => {
            let ks: Vec<&str> = several.iter().map(|k| k.as_str()).collect();
            Err(format!(
                "its criteria fit {} requests alike: set `kind`",
                ks.join(" and ")
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::config::Action;

    fn rule(f: impl FnOnce(&mut RuleConfig)) -> RuleConfig {
        let mut r = RuleConfig {
            action: Action::Block,
            ..RuleConfig::default()
        };
        f(&mut r);
        r
    }

    #[test]
    fn kinds_are_explicit_inferred_or_neutral_and_never_mixed() {
        let some = |v: &[&str]| Some(v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(
            kind_of(&rule(|r| r.command = some(&["DROP"]))),
            Ok(Some(Sql))
        );
        assert_eq!(
            kind_of(&rule(|r| r.programs = some(&["rm"]))),
            Ok(Some(Command))
        );
        assert_eq!(
            kind_of(&rule(|r| {
                r.paths = some(&["/etc/**"]);
                r.operations = some(&["write"]);
            })),
            Ok(Some(File))
        );
        assert_eq!(
            kind_of(&rule(|r| {
                r.paths = some(&["/api/**"]);
                r.methods = some(&["POST"]);
            })),
            Ok(Some(Http))
        );
        assert_eq!(kind_of(&rule(|r| r.class = Some(vec![]))), Ok(None));
        let ambiguous = kind_of(&rule(|r| r.paths = some(&["/x"]))).unwrap_err();
        assert!(ambiguous.contains("set `kind`"), "{ambiguous}");
        assert_eq!(
            kind_of(&rule(|r| {
                r.paths = some(&["/x"]);
                r.kind = Some(Http);
            })),
            Ok(Some(Http))
        );
        let mixed = kind_of(&rule(|r| {
            r.tables = some(&["t"]);
            r.verbs = some(&["delete"]);
        }))
        .unwrap_err();
        assert!(
            mixed.contains("`tables` (sql)") && mixed.contains("`verbs` (kubernetes)"),
            "{mixed}"
        );
        let wrong = kind_of(&rule(|r| {
            r.kind = Some(Git);
            r.programs = some(&["git"]);
        }))
        .unwrap_err();
        assert!(
            wrong.contains("`programs` is not a criterion of git rules"),
            "{wrong}"
        );
    }
}
