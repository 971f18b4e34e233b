//! Cross-reference checks and secret resolution for a parsed configuration.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::model::*;
use crate::policy::{PRESET_NAMES, Policy};
use crate::secret::Secret;

/// The first problem found, with the field path it concerns.
pub struct Issue {
    pub path: String,
    pub message: String,
}

pub(super) fn issue(path: impl Into<String>, message: impl Into<String>) -> Issue {
    Issue {
        path: path.into(),
        message: message.into(),
    }
}

const DEFAULT_MAX_MESSAGE: usize = 64 * 1024 * 1024;

pub fn validate(raw: RawConfig, base: &Path) -> Result<Config, Issue> {
    let listen = listen(raw.listen, base)?;
    let limits = limits(raw.limits)?;
    let policies = policies(&raw.policies)?;

    let mut names = HashSet::new();
    let mut connections = Vec::with_capacity(raw.connections.len());
    for (i, c) in raw.connections.into_iter().enumerate() {
        let at = |f: &str| format!("connection[{i}].{f}");
        check_name(&c.name, &at("name"))?;
        if !names.insert(c.name.clone()) {
            return Err(issue(
                at("name"),
                format!("duplicate connection name {:?}", c.name),
            ));
        }
        if c.address
            .rsplit_once(':')
            .is_none_or(|(host, port)| host.is_empty() || port.parse::<u16>().is_err())
        {
            return Err(issue(at("address"), "expected HOST:PORT"));
        }
        if let Some(policy) = &c.policy {
            check_policy_name(policy, &policies, &at("policy"))?;
        }
        if let Some(p) = policies.get(c.policy.as_deref().unwrap_or(DEFAULT_POLICY)) {
            check_coverage(p, c.kind, &c.name, &at("policy"))?;
        }
        let password = match c.password {
            Some(source) => Some(resolve_secret(&source, base, &at("password"))?),
            None => None,
        };
        let ca = c.ca.map(|p| base.join(p));
        if let Some(ca) = &ca
            && !ca.is_file()
        {
            return Err(issue(
                at("ca"),
                format!("CA file {} does not exist", ca.display()),
            ));
        }
        connections.push(Connection {
            name: c.name,
            kind: c.kind,
            address: c.address,
            database: c.database,
            user: c.user,
            password,
            tls: c.tls,
            ca,
            policy: c.policy,
        });
    }

    let mut identity_names = HashSet::new();
    let mut identities = Vec::with_capacity(raw.identities.len());
    for (i, id) in raw.identities.into_iter().enumerate() {
        check_name(&id.name, &format!("identity[{i}].name"))?;
        if !identity_names.insert(id.name.clone()) {
            return Err(issue(
                format!("identity[{i}].name"),
                format!("duplicate identity {:?}", id.name),
            ));
        }
        identities.push(Identity {
            name: id.name,
            groups: id.groups,
        });
    }

    let mut grants = Vec::with_capacity(raw.grants.len());
    for (i, g) in raw.grants.into_iter().enumerate() {
        let at = |f: &str| format!("grant[{i}].{f}");
        let subject = match (g.identity, g.group) {
            (Some(id), None) => {
                if !identity_names.contains(&id) {
                    return Err(issue(at("identity"), format!("unknown identity {id:?}")));
                }
                GrantSubject::Identity(id)
            }
            (None, Some(group)) => GrantSubject::Group(group),
            _ => {
                return Err(issue(
                    format!("grant[{i}]"),
                    "a grant names exactly one of `identity` or `group`",
                ));
            }
        };
        for (j, name) in g.connections.iter().enumerate() {
            if !names.contains(name) {
                return Err(issue(
                    format!("grant[{i}].connections[{j}]"),
                    format!("unknown connection {name:?}"),
                ));
            }
        }
        if let Some(policy) = &g.policy {
            check_policy_name(policy, &policies, &at("policy"))?;
            for name in &g.connections {
                if let (Some(p), Some(c)) = (
                    policies.get(policy),
                    connections.iter().find(|c: &&Connection| &c.name == name),
                ) {
                    check_coverage(p, c.kind, name, &at("policy"))?;
                }
            }
        }
        grants.push(Grant {
            subject,
            connections: g.connections,
            policy: g.policy,
        });
    }

    Ok(Config {
        source: PathBuf::new(),
        store_path: raw
            .store
            .path
            .unwrap_or_else(|| PathBuf::from(".portcullis/state.db")),
        listen,
        limits,
        workers: workers(raw.runtime.workers)?,
        retention: match &raw.recording.retention {
            None => None,
            Some(r) => Some(
                humantime::parse_duration(r)
                    .map_err(|e| issue("recording.retention", format!("invalid duration: {e}")))?,
            ),
        },
        recording: recording_limits(&raw.recording)?,
        connections,
        identities,
        grants,
        policies,
        oidc: super::oidc::validate(raw.oidc)?,
    })
}

/// The `[recording]` caps and strict timeout, with their defaults.
fn recording_limits(raw: &super::model::RawRecording) -> Result<RecordingLimits, Issue> {
    let d = RecordingLimits::default();
    let strict_timeout = match &raw.strict_timeout {
        None => d.strict_timeout,
        Some(t) => {
            let t = humantime::parse_duration(t)
                .map_err(|e| issue("recording.strict_timeout", format!("invalid duration: {e}")))?;
            if t.is_zero() {
                return Err(issue(
                    "recording.strict_timeout",
                    "must be longer than zero: a strict statement needs time to be stored",
                ));
            }
            t
        }
    };
    Ok(RecordingLimits {
        max_result_rows: raw.max_result_rows.unwrap_or(d.max_result_rows),
        max_result_bytes: raw.max_result_bytes.unwrap_or(d.max_result_bytes),
        strict_timeout,
    })
}

/// Compiles the presets and every declared policy; a declared policy may
/// not take a preset's name.
fn policies(
    declared: &BTreeMap<String, crate::policy::PolicyConfig>,
) -> Result<BTreeMap<String, Arc<Policy>>, Issue> {
    let mut out = BTreeMap::new();
    for name in PRESET_NAMES {
        let p = Policy::preset(name).map_err(|e| issue(format!("policy.{name}"), e.to_string()))?;
        out.insert(name.to_string(), Arc::new(p));
    }
    for (name, config) in declared {
        let path = format!("policy.{name}");
        if PRESET_NAMES.contains(&name.as_str()) {
            return Err(issue(
                path,
                format!(
                    "{name:?} is a built-in preset; name your policy differently and list the preset in `presets`"
                ),
            ));
        }
        check_name(name, &path)?;
        let p = Policy::compile(name, config).map_err(|e| match &e {
            crate::policy::PolicyError::BadMask { index: Some(i), .. } => {
                issue(format!("{path}.mask[{i}]"), e.to_string())
            }
            crate::policy::PolicyError::RuleKind { rule, .. } => {
                match rule_index(config, name, rule) {
                    Some(i) => issue(format!("{path}.rule[{i}]"), e.to_string()),
                    None => issue(path.clone(), e.to_string()),
                }
            }
            _ => issue(path, e.to_string()),
        })?;
        out.insert(name.clone(), Arc::new(p));
    }
    Ok(out)
}

/// Position of rule `id` (`POLICY/NAME`) among the policy's own rules.
fn rule_index(config: &crate::policy::PolicyConfig, policy: &str, id: &str) -> Option<usize> {
    let name = id.strip_prefix(policy)?.strip_prefix('/')?;
    config
        .rules
        .iter()
        .enumerate()
        .position(|(i, r)| match &r.name {
            Some(n) => n == name,
            None => name == format!("rule-{}", i + 1),
        })
}

/// A policy with rules, none of which judges what the connection speaks,
/// and default `allow`, would let everything through there: that is a
/// mistake (an unguarded connection says so with `allow-all`).
fn check_coverage(
    policy: &Policy,
    kind: ConnectionKind,
    connection: &str,
    path: &str,
) -> Result<(), Issue> {
    if !policy.is_guarded() {
        return Ok(());
    }
    let kinds = kind.request_kinds();
    if kinds.iter().any(|k| policy.guards(*k)) {
        return Ok(());
    }
    let names: Vec<&str> = kinds.iter().map(|k| k.as_str()).collect();
    Err(issue(
        path,
        format!(
            "policy {:?} has no rule for what connection {connection:?} carries ({} requests) and allows by default, so it would guard nothing there; add rules for it, or use \"allow-all\" to say so",
            policy.name(),
            names.join(", ")
        ),
    ))
}

fn listen(raw: RawListen, base: &Path) -> Result<Listen, Issue> {
    let tls = raw.tls.map(|t| TlsFiles {
        cert: base.join(t.cert),
        key: base.join(t.key),
    });
    if let Some(t) = &tls {
        for (field, p) in [("listen.tls.cert", &t.cert), ("listen.tls.key", &t.key)] {
            if !p.is_file() {
                return Err(issue(field, format!("{} does not exist", p.display())));
            }
        }
    }
    // Off loopback, passwords (tokens) must not cross the network in clear.
    let loopback = raw.postgres.is_none_or(|a| a.ip().is_loopback());
    let require_tls = raw.require_tls.unwrap_or(!loopback);
    if require_tls && tls.is_none() {
        return Err(issue(
            if raw.require_tls.is_some() {
                "listen.require_tls"
            } else {
                "listen.postgres"
            },
            "clients must use TLS here (non-loopback listeners require it by default): \
             add [listen.tls] with cert and key, e.g. from `portcullis cert dev`",
        ));
    }
    Ok(Listen {
        postgres: raw.postgres,
        api: raw.api,
        require_tls,
        tls,
    })
}

fn limits(raw: RawLimits) -> Result<Limits, Issue> {
    let duration = |field: &str, v: Option<String>, default: Duration| match v {
        None => Ok(default),
        Some(s) => humantime::parse_duration(&s)
            .map_err(|e| issue(format!("limits.{field}"), format!("invalid duration: {e}"))),
    };
    let max_message_bytes = raw.max_message_bytes.unwrap_or(DEFAULT_MAX_MESSAGE);
    if max_message_bytes < 1024 {
        return Err(issue(
            "limits.max_message_bytes",
            "must be at least 1024 bytes",
        ));
    }
    Ok(Limits {
        max_message_bytes,
        startup_timeout: duration(
            "startup_timeout",
            raw.startup_timeout,
            Duration::from_secs(30),
        )?,
        connect_timeout: duration(
            "connect_timeout",
            raw.connect_timeout,
            Duration::from_secs(10),
        )?,
    })
}

fn workers(w: Option<Workers>) -> Result<usize, Issue> {
    match w {
        None | Some(Workers::Auto(_)) => {
            let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
            Ok((cores / 2).max(1))
        }
        Some(Workers::Count(0)) => {
            Err(issue("runtime.workers", "must be at least 1 (or \"auto\")"))
        }
        Some(Workers::Count(n)) => Ok(n),
    }
}

fn check_name(name: &str, path: &str) -> Result<(), Issue> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '@'));
    if ok {
        Ok(())
    } else {
        Err(issue(
            path,
            format!("{name:?} is not a valid name (1-63 of A-Z a-z 0-9 - _ . @)"),
        ))
    }
}

fn check_policy_name(
    name: &str,
    declared: &BTreeMap<String, Arc<Policy>>,
    path: &str,
) -> Result<(), Issue> {
    if declared.contains_key(name) {
        Ok(())
    } else {
        Err(issue(path, format!("unknown policy {name:?}")))
    }
}

fn resolve_secret(source: &SecretSource, base: &Path, path: &str) -> Result<Secret, Issue> {
    match source {
        SecretSource::Env(var) => std::env::var(var).map(Secret::new).map_err(|_| {
            issue(
                path,
                format!("environment variable {var} is not set (or not UTF-8)"),
            )
        }),
        SecretSource::File(p) => {
            let p = base.join(p);
            std::fs::read_to_string(&p)
                .map(|s| Secret::new(s.trim_end_matches(['\n', '\r'])))
                .map_err(|e| issue(path, format!("cannot read {}: {e}", p.display())))
        }
    }
}

#[cfg(test)]
mod recording_tests {
    use std::path::Path;
    use std::time::Duration;

    use crate::config::{ConfigError, parse};
    use crate::policy::{RecordLevel, RecordMode};

    fn load(text: &str) -> Result<crate::config::Config, ConfigError> {
        parse(Path::new("p.toml"), text)
    }

    #[test]
    fn record_settings_default_parse_and_errors_are_located() {
        let c = load("[policy.p]\n").unwrap();
        let p = c.policy(Some("p")).unwrap();
        assert_eq!(
            (p.record(), p.record_mode()),
            (RecordLevel::Full, RecordMode::Batched)
        );
        assert_eq!(c.recording.max_result_rows, 100);
        assert_eq!(c.recording.max_result_bytes, 65536);
        assert_eq!(c.recording.strict_timeout, Duration::from_secs(5));

        let c = load(
            "[recording]\nmax_result_rows = 3\nstrict_timeout = \"250ms\"\n\n[policy.p]\nrecord = \"statements\"\nrecord_mode = \"strict\"\n",
        )
        .unwrap();
        let p = c.policy(Some("p")).unwrap();
        assert_eq!(
            (p.record(), p.record_mode()),
            (RecordLevel::Statements, RecordMode::Strict)
        );
        assert_eq!(c.recording.max_result_rows, 3);
        assert_eq!(c.recording.strict_timeout, Duration::from_millis(250));

        let bad = load("[policy.p]\nrecord = \"all\"\n").unwrap_err();
        assert_eq!(bad.line, 2, "{bad}");
        assert!(bad.message.contains("full"), "{bad}");
        let bad = load("[policy.p]\nrecord_mode = \"eventually\"\n").unwrap_err();
        assert!(bad.message.contains("strict"), "{bad}");
        let bad = load("[recording]\nstrict_timeout = \"0s\"\n").unwrap_err();
        assert_eq!(
            (bad.field.as_str(), bad.line),
            ("recording.strict_timeout", 2)
        );
        let bad = load("[recording]\nmax_result_rows = -1\n").unwrap_err();
        assert_eq!(bad.line, 2, "{bad}");
    }
}

#[cfg(test)]
mod kind_tests {
    use std::path::Path;

    use crate::config::parse;

    const CONNECTION: &str = "[[connection]]\nname = \"db\"\nkind = \"postgres\"\naddress = \"h:5432\"\ndatabase = \"d\"\nuser = \"u\"\npolicy = \"p\"\n\n";

    #[test]
    fn rule_kind_errors_are_located_at_the_rule() {
        let text = format!(
            "{CONNECTION}[policy.p]\n[[policy.p.rule]]\naction = \"block\"\ntables = [\"t\"]\n\n[[policy.p.rule]]\nname = \"mixed\"\naction = \"block\"\ntables = [\"t\"]\nverbs = [\"delete\"]\n"
        );
        let e = parse(Path::new("p.toml"), &text).unwrap_err();
        assert_eq!((e.field.as_str(), e.line), ("policy.p.rule[1]", 14), "{e}");
        assert!(e.message.contains("mixes criteria"), "{e}");
    }

    #[test]
    fn a_policy_with_no_rule_for_the_connection_is_refused() {
        let only_k8s = format!("{CONNECTION}[policy.p]\npresets = [\"k8s-read-only\"]\n");
        let e = parse(Path::new("p.toml"), &only_k8s).unwrap_err();
        assert_eq!(e.field, "connection[0].policy", "{e}");
        assert!(e.message.contains("guard nothing"), "{e}");
        // Several kinds, one of them SQL: fine; so is an unguarded policy.
        let shared =
            format!("{CONNECTION}[policy.p]\npresets = [\"k8s-read-only\", \"read-only\"]\n");
        assert!(parse(Path::new("p.toml"), &shared).is_ok());
        let mask_only = format!("{CONNECTION}[policy.p]\n");
        assert!(parse(Path::new("p.toml"), &mask_only).is_ok());
    }
}
