//! Presets for the protocols beyond SQL: SSH hosts, Kubernetes clusters
//! and git remotes. Their rules judge what the adapters' classifiers
//! report (facts of command lines, verbs and resources of API requests,
//! ref updates of pushes); the adapters refine them as they land.

use super::config::{Action, RuleConfig};
use super::preset::{Spec, list, rule};
use crate::request::RequestKind;
use crate::statement::StatementClass;

const SSH_HINT: &str = "this guardrail stops destructive commands; ask an operator, or add an allow rule naming it in `overrides`";
const SSH_RO_HINT: &str = "this host is read-only through the gateway";
const K8S_HINT: &str = "this guardrail stops destructive Kubernetes requests; ask an operator, or add an allow rule naming it in `overrides`";
const K8S_RO_HINT: &str = "this cluster is read-only through the gateway";
const GIT_HINT: &str = "protected branches only take fast-forward pushes; push to another branch and open a merge request";

fn stop(
    name: &'static str,
    message: &'static str,
    hint: &'static str,
    fill: impl FnOnce(&mut RuleConfig),
) -> (String, RuleConfig) {
    rule(
        Spec {
            name,
            action: Action::Block,
            message,
            hint,
        },
        fill,
    )
}

/// Forwarding, agent and X11 channels, refused unless a rule allows them
/// (an allow rule naming the destination and this rule in `overrides`).
fn forwarding(hint: &'static str) -> (String, RuleConfig) {
    stop(
        "forwarding",
        "port, agent and X11 forwarding are refused unless a rule allows them",
        hint,
        |r| {
            r.kind = Some(RequestKind::Channel);
            r.channels = list(&["direct-tcpip", "tcpip-forward", "agent-forward", "x11"]);
        },
    )
}

pub(super) fn ssh_no_destructive() -> Vec<(String, RuleConfig)> {
    let fact = |name, message, fact: &'static str| {
        stop(name, message, SSH_HINT, move |r| r.facts = list(&[fact]))
    };
    vec![
        fact(
            "recursive-remove",
            "recursive removal destroys whole trees of files",
            "recursive_remove",
        ),
        fact(
            "device-write",
            "writing a block device or making a filesystem destroys its data",
            "device_write",
        ),
        fact(
            "power",
            "shutting down, rebooting or halting the host is not allowed",
            "power_control",
        ),
        fact(
            "kill-all",
            "killing init or every process is not allowed",
            "kill_all",
        ),
        fact(
            "firewall",
            "flushing or disabling the firewall is not allowed",
            "firewall_flush",
        ),
        fact(
            "services",
            "stopping, disabling or masking services is not allowed",
            "service_stop",
        ),
        fact(
            "recursive-permission",
            "changing owners or modes recursively is not allowed",
            "recursive_permission",
        ),
        stop(
            "system-files",
            "writing to /etc or /boot changes how the host runs",
            SSH_HINT,
            |r| r.paths_written = list(&["/etc", "/etc/**", "/boot", "/boot/**"]),
        ),
        stop("destructive", "the command destroys data", SSH_HINT, |r| {
            r.class = Some(vec![StatementClass::Destructive])
        }),
        stop(
            "opaque",
            "what the command line runs cannot be known before it runs",
            SSH_HINT,
            |r| r.class = Some(vec![StatementClass::Opaque]),
        ),
        stop(
            "file-system-paths",
            "file transfers may not write to /etc or /boot",
            SSH_HINT,
            |r| {
                r.kind = Some(RequestKind::File);
                r.operations = list(&[
                    "write", "remove", "rename", "mkdir", "rmdir", "setstat", "symlink",
                ]);
                r.paths = list(&["/etc", "/etc/**", "/boot", "/boot/**"]);
            },
        ),
        forwarding(SSH_HINT),
    ]
}

pub(super) fn ssh_read_only() -> Vec<(String, RuleConfig)> {
    let class = |name, message, class| {
        stop(name, message, SSH_RO_HINT, move |r| {
            r.class = Some(vec![class])
        })
    };
    vec![
        class(
            "write",
            "read-only: the command changes files",
            StatementClass::Write,
        ),
        class(
            "destructive",
            "read-only: the command destroys data",
            StatementClass::Destructive,
        ),
        class(
            "admin",
            "read-only: the command administers the host",
            StatementClass::Admin,
        ),
        class(
            "network",
            "read-only: the command opens network connections",
            StatementClass::Network,
        ),
        class(
            "opaque",
            "read-only: what the command line runs cannot be known before it runs",
            StatementClass::Opaque,
        ),
        stop(
            "privilege",
            "read-only: the command runs with more privilege",
            SSH_RO_HINT,
            |r| r.facts = list(&["privilege_escalation"]),
        ),
        stop(
            "shell",
            "read-only: an interactive shell can run anything, so it is not opened",
            SSH_RO_HINT,
            |r| {
                r.kind = Some(RequestKind::Channel);
                r.channels = list(&["shell"]);
            },
        ),
        stop(
            "file-writes",
            "read-only: file transfers may only read",
            SSH_RO_HINT,
            |r| {
                r.kind = Some(RequestKind::File);
                r.operations = list(&[
                    "write", "remove", "rename", "mkdir", "rmdir", "setstat", "symlink",
                ]);
            },
        ),
        forwarding(SSH_RO_HINT),
    ]
}

pub(super) fn k8s_no_destructive() -> Vec<(String, RuleConfig)> {
    vec![
        stop(
            "delete-critical",
            "deleting namespaces, CRDs, persistent volumes or nodes destroys everything in them",
            K8S_HINT,
            |r| {
                r.verbs = list(&["delete"]);
                r.resources = list(&[
                    "namespaces",
                    "customresourcedefinitions",
                    "persistentvolumes",
                    "nodes",
                ]);
            },
        ),
        stop(
            "deletecollection",
            "deleting a whole collection of objects at once is not allowed",
            K8S_HINT,
            |r| r.verbs = list(&["deletecollection"]),
        ),
        stop(
            "privileged",
            "privileged containers, host paths and host namespaces reach the node itself",
            K8S_HINT,
            |r| r.facts = list(&["privileged_container", "host_path", "host_namespace"]),
        ),
        stop(
            "opaque",
            "the request body could not be understood, so its effect cannot be known",
            K8S_HINT,
            |r| r.class = Some(vec![StatementClass::Opaque]),
        ),
    ]
}

pub(super) fn k8s_read_only() -> Vec<(String, RuleConfig)> {
    vec![stop(
        "writes",
        "read-only: the request changes, deletes or runs something in the cluster",
        K8S_RO_HINT,
        |r| {
            r.class = Some(vec![
                StatementClass::Write,
                StatementClass::Destructive,
                StatementClass::Network,
                StatementClass::Admin,
                StatementClass::Opaque,
            ])
        },
    )]
}

pub(super) fn git_protected_branches() -> Vec<(String, RuleConfig)> {
    vec![stop(
        "history",
        "deleting or rewriting a protected branch is not allowed",
        GIT_HINT,
        |r| {
            r.refs = list(&[
                "refs/heads/main",
                "refs/heads/master",
                "refs/heads/release/**",
            ]);
            r.ref_updates = list(&["delete", "non_fast_forward", "unknown"]);
        },
    )]
}
