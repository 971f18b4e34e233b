//! `portcullis audit list`.

use std::path::Path;
use std::process::ExitCode;

use portcullis_core::record::audit::AuditFilter;
use portcullis_core::time::{format_micros, now_micros};

use super::{load_config, open_store};
use crate::cli::{AuditCommand, Format};
use crate::table;

pub fn run(config_path: &Path, cmd: AuditCommand) -> anyhow::Result<ExitCode> {
    let config = load_config(config_path)?;
    let store = open_store(&config)?;
    match cmd {
        AuditCommand::List {
            since,
            action,
            limit,
            format,
        } => {
            let entries = store.audit_entries(&AuditFilter {
                since: since.map(|d| {
                    now_micros().saturating_sub(d.as_micros().min(i64::MAX as u128) as i64)
                }),
                action,
                limit: Some(limit),
            })?;
            match format {
                Format::Json => println!("{}", serde_json::to_string_pretty(&entries)?),
                Format::Table => {
                    let rows: Vec<Vec<String>> = entries
                        .iter()
                        .map(|e| {
                            vec![
                                format_micros(e.at),
                                e.actor.clone(),
                                e.action.clone(),
                                e.subject.clone().unwrap_or_default(),
                                e.detail.clone().unwrap_or_default(),
                            ]
                        })
                        .collect();
                    print!(
                        "{}",
                        table::render(&["AT", "ACTOR", "ACTION", "SUBJECT", "DETAIL"], &rows)
                    );
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
