//! Built-in presets: named rule sets users can include in a policy.
//!
//! Rule ids are `PRESET/NAME` and are stable: users name them in `overrides`.
//! Changing a preset changes [`PRESETS_VERSION`], which is part of every
//! policy's version, so reviews bound to an older definition no longer apply.

use super::config::{Action, RuleConfig};
use crate::request::RequestKind;
use crate::statement::StatementClass;

/// Version of the preset definitions below; bump on any change.
pub const PRESETS_VERSION: &str = "presets-1";

/// Names of the built-in presets. `read-only`, `no-destructive` and
/// `production` judge SQL; the others the kind their name says.
pub const PRESET_NAMES: [&str; 9] = [
    "allow-all",
    "read-only",
    "no-destructive",
    "production",
    "ssh-no-destructive",
    "ssh-read-only",
    "k8s-no-destructive",
    "k8s-read-only",
    "git-protected-branches",
];

/// Settings a read-only session may change: formatting, timeouts, planner
/// knobs and the like, nothing that changes data or how text is lexed.
const HARMLESS_SETTINGS: &[&str] = &[
    "all",
    "application_name",
    "statement_timeout",
    "lock_timeout",
    "idle_in_transaction_session_timeout",
    "idle_session_timeout",
    "transaction_timeout",
    "timezone",
    "datestyle",
    "intervalstyle",
    "extra_float_digits",
    "client_min_messages",
    "search_path",
    "bytea_output",
    "standard_conforming_strings",
    "client_encoding",
    "work_mem",
    "enable_*",
    "jit*",
    "random_page_cost",
    "seq_page_cost",
    "cpu_*",
    "effective_cache_size",
    "max_parallel_workers_per_gather",
    "default_transaction_read_only",
    "default_transaction_isolation",
    "transaction_isolation",
    "transaction_read_only",
    "default_text_search_config",
    "lc_monetary",
    "lc_numeric",
    "lc_time",
    "plan_cache_mode",
    "geqo*",
    "from_collapse_limit",
    "join_collapse_limit",
    "row_security",
    "xmloption",
    "role",
];

pub(super) struct Spec {
    pub(super) name: &'static str,
    pub(super) action: Action,
    pub(super) message: &'static str,
    pub(super) hint: &'static str,
}

pub(super) fn rule(spec: Spec, fill: impl FnOnce(&mut RuleConfig)) -> (String, RuleConfig) {
    let mut config = RuleConfig {
        name: Some(spec.name.to_string()),
        action: spec.action,
        message: Some(spec.message.to_string()),
        hint: Some(spec.hint.to_string()),
        ..RuleConfig::default()
    };
    fill(&mut config);
    (spec.name.to_string(), config)
}

pub(super) fn list(items: &[&str]) -> Option<Vec<String>> {
    Some(items.iter().map(|s| s.to_string()).collect())
}

const DESTRUCTIVE_HINT: &str = "this guardrail stops destructive statements; ask an operator, or add an allow rule naming it in `overrides`";

fn block(
    name: &'static str,
    message: &'static str,
    fill: impl FnOnce(&mut RuleConfig),
) -> (String, RuleConfig) {
    rule(
        Spec {
            name,
            action: Action::Block,
            message,
            hint: DESTRUCTIVE_HINT,
        },
        fill,
    )
}

fn no_destructive() -> Vec<(String, RuleConfig)> {
    vec![
        block("drop", "DROP destroys objects and their data", |r| {
            r.command = list(&["DROP"])
        }),
        block("truncate", "TRUNCATE removes every row", |r| {
            r.command = list(&["TRUNCATE"])
        }),
        block(
            "no-where",
            "UPDATE or DELETE without WHERE changes every row",
            |r| r.facts = list(&["no_where"]),
        ),
        block(
            "always-true-where",
            "the WHERE condition is always true, so every row changes",
            |r| r.facts = list(&["always_true_where"]),
        ),
        block(
            "drop-column",
            "ALTER TABLE ... DROP COLUMN destroys the column's data",
            |r| r.facts = list(&["drop_column"]),
        ),
        block(
            "alter-system",
            "ALTER SYSTEM changes the server's configuration",
            |r| r.command = list(&["ALTER SYSTEM"]),
        ),
        block(
            "alter-role",
            "ALTER ROLE changes a role's privileges or password",
            |r| r.command = list(&["ALTER ROLE"]),
        ),
        block(
            "create-extension",
            "CREATE EXTENSION installs code into the database",
            |r| r.command = list(&["CREATE EXTENSION"]),
        ),
        block(
            "copy-program",
            "COPY ... PROGRAM runs a shell command on the database server",
            |r| r.facts = list(&["copy_program"]),
        ),
        block(
            "copy-server-file",
            "COPY to or from a server file reads or overwrites files on the database server",
            |r| r.facts = list(&["copy_server_file"]),
        ),
        block(
            "terminate-backend",
            "terminating or cancelling other sessions is not allowed",
            |r| r.functions = list(&["pg_terminate_backend", "pg_cancel_backend"]),
        ),
        block(
            "large-objects",
            "lo_unlink, lo_import and lo_export destroy large objects or touch server files",
            |r| r.functions = list(&["lo_unlink", "lo_import", "lo_export"]),
        ),
        block(
            "dblink",
            "dblink runs SQL on another server, out of reach of this policy",
            |r| r.functions = list(&["dblink_exec", "dblink"]),
        ),
        block(
            "admin-functions",
            "this function acts on the server or its files",
            |r| r.facts = list(&["admin_function"]),
        ),
        block(
            "replication-role",
            "session_replication_role other than origin disables triggers and foreign-key checks",
            |r| r.facts = list(&["replication_role_setting"]),
        ),
        block(
            "lexing-setting",
            "this setting changes how statement text is read, so later statements could not be judged reliably",
            |r| r.facts = list(&["lexing_setting"]),
        ),
        block(
            "opaque",
            "the statement's effect cannot be known before it runs",
            |r| r.class = Some(vec![StatementClass::Opaque]),
        ),
    ]
}

fn review(
    name: &'static str,
    message: &'static str,
    class: StatementClass,
) -> (String, RuleConfig) {
    rule(
        Spec {
            name,
            action: Action::Review,
            message,
            hint: "a reviewer must approve this statement before it runs",
        },
        |r| r.class = Some(vec![class]),
    )
}

fn read_only() -> Vec<(String, RuleConfig)> {
    const HINT: &str = "this connection is read-only";
    let only = |name: &'static str, message: &'static str, class: StatementClass| {
        rule(
            Spec {
                name,
                action: Action::Block,
                message,
                hint: HINT,
            },
            |r| r.class = Some(vec![class]),
        )
    };
    vec![
        only(
            "write",
            "read-only: the statement changes data",
            StatementClass::Write,
        ),
        only(
            "ddl",
            "read-only: the statement changes the schema",
            StatementClass::Ddl,
        ),
        only(
            "dcl",
            "read-only: the statement changes privileges",
            StatementClass::Dcl,
        ),
        only(
            "admin",
            "read-only: the statement acts on the server",
            StatementClass::Admin,
        ),
        only(
            "opaque",
            "read-only: the statement's effect cannot be known before it runs",
            StatementClass::Opaque,
        ),
        rule(
            Spec {
                name: "lexing-setting",
                action: Action::Block,
                message: "read-only: this setting changes how statement text is read",
                hint: HINT,
            },
            |r| r.facts = list(&["lexing_setting", "replication_role_setting"]),
        ),
        rule(
            Spec {
                name: "settings",
                action: Action::Block,
                message: "read-only: only harmless session settings may be changed",
                hint: HINT,
            },
            |r| r.settings_outside = list(HARMLESS_SETTINGS),
        ),
    ]
}

/// The rules of preset `name` as `(rule id, rule)`, or `None` if unknown.
pub(crate) fn rules(name: &str) -> Option<Vec<(String, RuleConfig)>> {
    // Every rule of a preset says which kind it judges: a SQL preset on a
    // connection of another protocol must not stop what it never meant to.
    let prefixed = |set: &str, rules: Vec<(String, RuleConfig)>, kind: RequestKind| {
        rules
            .into_iter()
            .map(|(n, mut r)| {
                r.kind.get_or_insert(kind);
                (format!("{set}/{n}"), r)
            })
            .collect::<Vec<_>>()
    };
    use RequestKind::Sql;
    match name {
        "allow-all" => Some(Vec::new()),
        "read-only" => Some(prefixed("read-only", read_only(), Sql)),
        "no-destructive" => Some(prefixed("no-destructive", no_destructive(), Sql)),
        "ssh-no-destructive" => Some(prefixed(
            "ssh-no-destructive",
            super::preset_protocols::ssh_no_destructive(),
            RequestKind::Command,
        )),
        "ssh-read-only" => Some(prefixed(
            "ssh-read-only",
            super::preset_protocols::ssh_read_only(),
            RequestKind::Command,
        )),
        "k8s-no-destructive" => Some(prefixed(
            "k8s-no-destructive",
            super::preset_protocols::k8s_no_destructive(),
            RequestKind::Kubernetes,
        )),
        "k8s-read-only" => Some(prefixed(
            "k8s-read-only",
            super::preset_protocols::k8s_read_only(),
            RequestKind::Kubernetes,
        )),
        "git-protected-branches" => Some(prefixed(
            "git-protected-branches",
            super::preset_protocols::git_protected_branches(),
            RequestKind::Git,
        )),
        "production" => {
            let mut out = prefixed("no-destructive", no_destructive(), Sql);
            out.extend(prefixed(
                "production",
                vec![
                    review(
                        "ddl",
                        "schema changes on production need review",
                        StatementClass::Ddl,
                    ),
                    review(
                        "dcl",
                        "privilege changes on production need review",
                        StatementClass::Dcl,
                    ),
                    review(
                        "admin",
                        "server administration on production needs review",
                        StatementClass::Admin,
                    ),
                ],
                Sql,
            ));
            Some(out)
        }
        _ => None,
    }
}
