//! `portcullis policy check`: what a policy would do with given statements.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, bail};
use portcullis_core::auth::Principal;
use portcullis_core::policy::{Policy, Subject};

use super::load_config;
use crate::cli::{Format, PolicyCheckArgs, PolicyCommand};

pub fn run(config_path: &Path, cmd: PolicyCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        PolicyCommand::Check(args) => check(config_path, args),
    }
}

fn check(config_path: &Path, args: PolicyCheckArgs) -> anyhow::Result<ExitCode> {
    let sql = match (&args.file, &args.sql) {
        (Some(f), _) => {
            std::fs::read_to_string(f).with_context(|| format!("reading {}", f.display()))?
        }
        (None, Some(s)) => s.clone(),
        (None, None) => bail!("give the statements as an argument or with --file"),
    };
    let identity = args
        .identity
        .clone()
        .unwrap_or_else(|| "policy-check".into());
    let (policy, subject) = match (&args.preset, &args.connection) {
        (Some(preset), _) => (
            Arc::new(Policy::preset(preset)?),
            Subject::new(identity, Vec::new()),
        ),
        (None, Some(connection)) => {
            let config = load_config(config_path)?;
            let Some(conn) = config.connection(connection) else {
                bail!("no connection {connection:?} in {}", config_path.display());
            };
            match &args.identity {
                Some(id) => {
                    let Some(declared) = config.identity(id) else {
                        bail!(
                            "identity {id:?} is not declared in {}",
                            config_path.display()
                        );
                    };
                    let principal = Principal {
                        identity: id.clone(),
                        groups: declared.groups.clone(),
                        method: "policy-check".into(),
                        expires_at: None,
                    };
                    let access =
                        portcullis_core::access::authorize(&config, &principal, connection)?;
                    let policy = config
                        .policy(access.policy.as_deref())
                        .context("the grant names an unknown policy")?;
                    (policy, Subject::new(id.clone(), declared.groups.clone()))
                }
                None => (
                    config
                        .policy(conn.policy.as_deref())
                        .context("the connection names an unknown policy")?,
                    Subject::new(identity, Vec::new()),
                ),
            }
        }
        (None, None) => bail!("give --connection NAME or --preset NAME"),
    };
    let reports = portcullis_sql::policy_check(&policy, &subject, &sql);
    let masking = super::mask_check::report(policy.mask_rules(), &sql);
    match args.format {
        Format::Json => {
            for r in &reports {
                println!("{}", serde_json::to_string(r)?);
            }
            if !masking.is_empty() {
                println!("{}", serde_json::json!({ "masking": masking }));
            }
        }
        Format::Table => {
            print!("{}", portcullis_sql::render_text(&reports));
            print!("{}", super::mask_check::render(&masking));
        }
    }
    Ok(if reports.iter().any(|r| r.is_blocked()) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
