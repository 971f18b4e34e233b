//! `portcullis token create|list|revoke`.

use std::path::Path;
use std::process::ExitCode;

use anyhow::bail;
use portcullis_core::record::audit::AuditEntry;
use portcullis_core::time::{format_micros, now_micros};
use portcullis_core::token;

use super::{load_config, open_store};
use crate::cli::{Format, TokenCommand};
use crate::table;

pub fn run(config_path: &Path, cmd: TokenCommand) -> anyhow::Result<ExitCode> {
    let config = load_config(config_path)?;
    let store = open_store(&config)?;
    match cmd {
        TokenCommand::Create {
            identity,
            ttl,
            groups,
        } => {
            if config.identity(&identity).is_none() {
                bail!(
                    "identity {identity:?} is not declared in {} (add an [[identity]] entry first)",
                    config_path.display()
                );
            }
            let now = now_micros();
            let expires =
                ttl.map(|d| now.saturating_add(d.as_micros().min(i64::MAX as u128) as i64));
            let minted = token::mint(&identity, groups, now, expires)?;
            store.insert_token(&minted.record)?;
            store.audit(&AuditEntry::new(
                super::cli_actor(),
                "token.create",
                Some(minted.record.id.clone()),
                Some(format!(
                    "identity {identity}{}",
                    expires
                        .map(|e| format!(", expires {}", format_micros(e)))
                        .unwrap_or_default()
                )),
            ))?;
            eprintln!(
                "created token {} for identity {identity}{}",
                minted.record.id,
                expires
                    .map(|e| format!(", expires {}", format_micros(e)))
                    .unwrap_or_default()
            );
            println!("{}", minted.secret.expose());
        }
        TokenCommand::List { format } => {
            let tokens = store.tokens()?;
            match format {
                Format::Json => println!("{}", serde_json::to_string_pretty(&tokens)?),
                Format::Table => {
                    let now = now_micros();
                    let rows: Vec<Vec<String>> = tokens
                        .iter()
                        .map(|t| {
                            let status = if t.revoked_at.is_some() {
                                "revoked"
                            } else if t.expires_at.is_some_and(|e| e <= now) {
                                "expired"
                            } else {
                                "active"
                            };
                            vec![
                                t.id.clone(),
                                t.identity.clone(),
                                t.groups.join(","),
                                format_micros(t.created_at),
                                t.expires_at
                                    .map(format_micros)
                                    .unwrap_or_else(|| "never".into()),
                                t.last_used_at
                                    .map(format_micros)
                                    .unwrap_or_else(|| "never".into()),
                                status.into(),
                            ]
                        })
                        .collect();
                    print!(
                        "{}",
                        table::render(
                            &[
                                "ID",
                                "IDENTITY",
                                "GROUPS",
                                "CREATED",
                                "EXPIRES",
                                "LAST USED",
                                "STATUS"
                            ],
                            &rows
                        )
                    );
                }
            }
        }
        TokenCommand::Revoke { id } => {
            if !store.revoke_token(&id, now_micros())? {
                bail!("no token with id {id:?}");
            }
            store.audit(&AuditEntry::new(
                super::cli_actor(),
                "token.revoke",
                Some(id.clone()),
                None,
            ))?;
            println!("revoked token {id}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
