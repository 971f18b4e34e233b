//! `portcullis access explain`: what applies to an identity on a connection, and why.

use std::path::Path;
use std::process::ExitCode;

use portcullis_core::access;
use portcullis_core::auth::Principal;
use portcullis_core::config::{DEFAULT_POLICY, GrantSubject};

use super::load_config;
use crate::cli::AccessCommand;

pub fn run(config_path: &Path, cmd: AccessCommand) -> anyhow::Result<ExitCode> {
    let config = load_config(config_path)?;
    let AccessCommand::Explain {
        identity,
        connection,
        groups,
    } = cmd;
    let Some(declared) = config.identity(&identity) else {
        println!(
            "identity {identity}: not declared in {}: no access to anything",
            config_path.display()
        );
        return Ok(ExitCode::from(1));
    };
    let mut all_groups = declared.groups.clone();
    for g in groups {
        if !all_groups.contains(&g) {
            all_groups.push(g);
        }
    }
    println!("identity    {identity}");
    println!(
        "groups      {}",
        if all_groups.is_empty() {
            "(none)".to_string()
        } else {
            all_groups.join(", ")
        }
    );
    let Some(conn) = config.connection(&connection) else {
        println!("connection  {connection}: does not exist");
        return Ok(ExitCode::from(1));
    };
    println!(
        "connection  {} ({:?} at {}, database {})",
        conn.name, conn.kind, conn.address, conn.database
    );
    println!("grants naming this connection:");
    let mut any = false;
    for (i, g) in config.grants.iter().enumerate() {
        if !g.connections.iter().any(|c| c == &connection) {
            continue;
        }
        any = true;
        let (subject, applies) = match &g.subject {
            GrantSubject::Identity(id) => (format!("identity {id}"), *id == identity),
            GrantSubject::Group(grp) => (format!("group {grp}"), all_groups.contains(grp)),
        };
        println!(
            "  grant[{i}] to {subject}{}: {}",
            g.policy
                .as_deref()
                .map(|p| format!(" with policy {p}"))
                .unwrap_or_default(),
            if applies { "applies" } else { "does not apply" }
        );
    }
    if !any {
        println!("  (none)");
    }
    let principal = Principal {
        identity: identity.clone(),
        groups: all_groups,
        method: "explain".into(),
        expires_at: None,
    };
    match access::authorize(&config, &principal, &connection) {
        Ok(a) => {
            let (policy, why) = match (&a.policy, a.policy_from_grant) {
                (Some(p), true) => (p.clone(), format!("narrowed by {}", a.via)),
                (Some(p), false) => (p.clone(), "the connection's policy".to_string()),
                (None, _) => (
                    DEFAULT_POLICY.to_string(),
                    "the default: the connection names none".to_string(),
                ),
            };
            println!("verdict     ALLOWED via {}", a.via);
            match config.policy(Some(&policy)) {
                Some(p) => {
                    println!(
                        "policy      {policy} ({why}; version {}, mode {:?})",
                        p.version(),
                        p.mode()
                    );
                    let rules = p.rule_ids();
                    if rules.is_empty() {
                        println!("rules       (none: every statement is allowed)");
                    } else {
                        println!("rules       {}", rules.join(", "));
                    }
                }
                None => println!("policy      {policy} (unknown!)"),
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            println!("verdict     DENIED: {e}");
            Ok(ExitCode::from(1))
        }
    }
}
