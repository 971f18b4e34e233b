//! `portcullis sessions list|show`.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, bail};
use portcullis_core::record::chain::{self, ChainedEvent, Seal, VerifyError};
use portcullis_core::record::{Event, SessionFilter};
use portcullis_core::time::{format_micros, now_micros};

use super::{load_config, open_store};
use crate::cli::{Format, SessionsCommand};
use crate::table;

/// The self-contained form written by `sessions export`.
#[derive(serde::Serialize, serde::Deserialize)]
struct Export {
    format: String,
    session_id: String,
    events: Vec<ChainedEvent>,
    seal: Option<Seal>,
}

const EXPORT_FORMAT: &str = "portcullis-session/1";

fn report(id: &str, events: usize, result: Result<bool, VerifyError>, key: &str) -> ExitCode {
    match result {
        Ok(true) => {
            println!("session {id}: OK, {events} events, hash chain intact, sealed by {key}");
            ExitCode::SUCCESS
        }
        Ok(false) => {
            println!(
                "session {id}: OK so far, {events} events, hash chain intact; not sealed (still open, or the gateway stopped abruptly)"
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            println!("session {id}: TAMPERED: {e}");
            ExitCode::from(1)
        }
    }
}

pub fn run(config_path: &Path, cmd: SessionsCommand) -> anyhow::Result<ExitCode> {
    // Offline verification needs no configuration at all.
    if let SessionsCommand::Verify {
        file: Some(file),
        public_key: Some(key),
        ..
    } = &cmd
    {
        let text =
            std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
        let export: Export = serde_json::from_str(&text)
            .with_context(|| format!("{} is not a session export", file.display()))?;
        if export.format != EXPORT_FORMAT {
            bail!(
                "{}: unknown export format {:?}",
                file.display(),
                export.format
            );
        }
        let result = chain::verify(
            &export.session_id,
            &export.events,
            export.seal.as_ref(),
            key,
        );
        return Ok(report(&export.session_id, export.events.len(), result, key));
    }
    let config = load_config(config_path)?;
    let store = open_store(&config)?;
    match cmd {
        SessionsCommand::Verify { id, .. } => {
            let Some(id) = id else {
                bail!("give a session id, or --file with --public-key");
            };
            let Some((events, seal)) = store.session_chain(&id)? else {
                bail!("no session with id {id:?}");
            };
            let key = super::keys::load_or_create(&config)?.public_key_hex();
            let result = chain::verify(&id, &events, seal.as_ref(), &key);
            return Ok(report(&id, events.len(), result, &key));
        }
        SessionsCommand::Kill { id } => {
            let Some(session) = store.session(&id)? else {
                bail!("no session with id {id:?}");
            };
            if session.ended_at.is_some() {
                bail!(
                    "session {id} already ended ({})",
                    session.reason.unwrap_or_default()
                );
            }
            let actor = super::cli_actor();
            store.request_kill(&id, &actor, now_micros())?;
            store.audit(&portcullis_core::record::audit::AuditEntry::new(
                actor,
                "session.kill",
                Some(id.clone()),
                None,
            ))?;
            println!("asked the gateway to end session {id}");
        }
        SessionsCommand::Replay { id, speed } => {
            let Some(session) = store.session(&id)? else {
                bail!("no session with id {id:?}");
            };
            let others: Vec<Event> = store
                .session_chain(&id)?
                .map(|(events, _)| events.into_iter().map(|c| c.event).collect())
                .unwrap_or_default();
            super::replay::replay(&session, &store.statements(&id)?, &others, speed);
        }
        SessionsCommand::Export {
            id,
            asciicast,
            channel,
        } => {
            let Some((events, seal)) = store.session_chain(&id)? else {
                bail!("no session with id {id:?}");
            };
            if asciicast {
                let started = match events.first().map(|c| &c.event) {
                    Some(Event::Open(o)) => o.started_at,
                    _ => 0,
                };
                let plain: Vec<Event> = events.into_iter().map(|c| c.event).collect();
                let Some(cast) = portcullis_core::record::asciicast(&plain, channel, started)
                else {
                    bail!("session {id} recorded no terminal");
                };
                print!("{cast}");
                return Ok(ExitCode::SUCCESS);
            }
            let export = Export {
                format: EXPORT_FORMAT.into(),
                session_id: id,
                events,
                seal,
            };
            println!("{}", serde_json::to_string_pretty(&export)?);
        }
        SessionsCommand::List(f) => {
            let filter = SessionFilter {
                identity: f.identity,
                connection: f.connection,
                since: f.since.map(ago),
                until: f.until.map(ago),
                verdict: f.verdict,
                limit: Some(f.limit),
            };
            let sessions = store.sessions(&filter)?;
            match f.format {
                Format::Json => println!("{}", serde_json::to_string_pretty(&sessions)?),
                Format::Table => {
                    let rows: Vec<Vec<String>> = sessions
                        .iter()
                        .map(|s| {
                            vec![
                                s.open.session_id.clone(),
                                format_micros(s.open.started_at),
                                s.open.identity.clone(),
                                s.open.connection.clone(),
                                s.open.client_addr.clone(),
                                s.statements.to_string(),
                                s.reason.clone().unwrap_or_else(|| "open".into()),
                            ]
                        })
                        .collect();
                    print!(
                        "{}",
                        table::render(
                            &[
                                "ID",
                                "STARTED",
                                "IDENTITY",
                                "CONNECTION",
                                "CLIENT",
                                "STATEMENTS",
                                "OUTCOME"
                            ],
                            &rows
                        )
                    );
                }
            }
        }
        SessionsCommand::Show { id, format } => {
            let Some(session) = store.session(&id)? else {
                bail!("no session with id {id:?}");
            };
            let statements = store.statements(&id)?;
            match format {
                Format::Json => println!(
                    "{}",
                    serde_json::to_string_pretty(&serde_json::json!({
                        "session": session,
                        "statements": statements,
                    }))?
                ),
                Format::Table => {
                    let o = &session.open;
                    println!("session     {}", o.session_id);
                    println!("identity    {} ({})", o.identity, o.auth_method);
                    println!("connection  {} ({})", o.connection, o.protocol);
                    println!("client      {}", o.client_addr);
                    println!("started     {}", format_micros(o.started_at));
                    match session.ended_at {
                        Some(e) => println!(
                            "ended       {} ({}{})",
                            format_micros(e),
                            session.reason.as_deref().unwrap_or("?"),
                            session
                                .detail
                                .as_deref()
                                .map(|d| format!(": {d}"))
                                .unwrap_or_default()
                        ),
                        None => println!("ended       (still open)"),
                    }
                    println!();
                    let rows: Vec<Vec<String>> = statements
                        .iter()
                        .map(|s| {
                            vec![
                                s.seq.to_string(),
                                format_micros(s.started_at),
                                format!("{:.3} ms", s.duration_us as f64 / 1000.0),
                                s.status.as_str().into(),
                                s.rows.map(|r| r.to_string()).unwrap_or_default(),
                                one_line(&s.text),
                                s.error.clone().unwrap_or_default(),
                            ]
                        })
                        .collect();
                    print!(
                        "{}",
                        table::render(
                            &[
                                "#",
                                "STARTED",
                                "DURATION",
                                "STATUS",
                                "ROWS",
                                "STATEMENT",
                                "ERROR"
                            ],
                            &rows
                        )
                    );
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn ago(d: humantime::Duration) -> i64 {
    now_micros().saturating_sub(d.as_micros().min(i64::MAX as u128) as i64)
}

fn one_line(s: &str) -> String {
    let flat: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() > 120 {
        format!("{}...", flat.chars().take(117).collect::<String>())
    } else {
        flat
    }
}
