//! `portcullis review`: reviewers decide on held statements through the
//! gateway's API, authenticated with their own token.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, bail};
use portcullis_api::client::ApiClient;
use portcullis_core::time::format_micros;
use serde_json::{Value, json};

use super::load_config;
use crate::cli::{ReviewArgs, ReviewCommand};
use crate::table;

pub fn run(config_path: &Path, args: ReviewArgs) -> anyhow::Result<ExitCode> {
    let base = match &args.api {
        Some(a) => a.clone(),
        None => {
            let config = load_config(config_path)?;
            let Some(addr) = config.listen.api else {
                bail!(
                    "{}: listen.api is not set; pass --api URL",
                    config_path.display()
                );
            };
            let scheme = if config.listen.tls.is_some() {
                "https"
            } else {
                "http"
            };
            format!("{scheme}://{addr}")
        }
    };
    let Some(token) = args.token.as_deref().filter(|t| !t.is_empty()) else {
        bail!("a token is required: set PORTCULLIS_TOKEN (or pass --token)");
    };
    let client = ApiClient::new(&base, token, args.ca.as_deref())?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    runtime.block_on(async {
        let result = match &args.command {
            ReviewCommand::List { state } => {
                let query = match state.as_str() {
                    "all" => String::new(),
                    s => format!("?state={s}"),
                };
                client.get(&format!("/v1/reviews{query}")).await
            }
            ReviewCommand::Show { id } => client.get(&format!("/v1/reviews/{id}")).await,
            ReviewCommand::Approve { id } => {
                client
                    .post(&format!("/v1/reviews/{id}/approve"), None)
                    .await
            }
            ReviewCommand::Reject { id, reason } => {
                client
                    .post(
                        &format!("/v1/reviews/{id}/reject"),
                        Some(json!({ "reason": reason })),
                    )
                    .await
            }
        };
        let value = match result {
            Ok(v) => v,
            Err(e) => {
                eprintln!("error: {e}");
                return Ok(ExitCode::from(1));
            }
        };
        if args.json {
            println!("{}", serde_json::to_string_pretty(&value)?);
            return Ok(ExitCode::SUCCESS);
        }
        match &args.command {
            ReviewCommand::List { .. } => print!("{}", list(&value)),
            ReviewCommand::Show { .. } => print!("{}", show(&value)),
            ReviewCommand::Approve { id } => {
                let status = value["status"].as_str().unwrap_or("?");
                let have = value["approvals"].as_array().map_or(0, Vec::len);
                let need = value["approvals_required"].as_u64().unwrap_or(1);
                println!("review {id}: approval recorded ({have}/{need}); now {status}");
            }
            ReviewCommand::Reject { id, .. } => println!("review {id}: rejected"),
        }
        Ok(ExitCode::SUCCESS)
    })
}

fn s(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn time(v: &Value) -> String {
    v.as_i64().map(format_micros).unwrap_or_default()
}

fn one_line(text: &str, max: usize) -> String {
    let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() > max {
        format!("{}...", flat.chars().take(max).collect::<String>())
    } else {
        flat
    }
}

fn list(value: &Value) -> String {
    let rows: Vec<Vec<String>> = value["reviews"]
        .as_array()
        .map(|a| a.as_slice())
        .unwrap_or_default()
        .iter()
        .map(|r| {
            vec![
                s(&r["id"]),
                s(&r["status"]),
                s(&r["identity"]),
                s(&r["connection"]),
                s(&r["rule"]),
                time(&r["requested_at"]),
                one_line(&s(&r["statement"]), 60),
            ]
        })
        .collect();
    if rows.is_empty() {
        return "no reviews\n".into();
    }
    table::render(
        &[
            "ID",
            "STATUS",
            "IDENTITY",
            "CONNECTION",
            "RULE",
            "REQUESTED",
            "STATEMENT",
        ],
        &rows,
    )
}

fn show(r: &Value) -> String {
    let mut out = String::new();
    let mut line = |l: String| {
        out.push_str(&l);
        out.push('\n');
    };
    line(format!(
        "review {}: {} (decide before {}){}",
        s(&r["id"]),
        s(&r["status"]),
        time(&r["expires_at"]),
        if r["you_may_decide"].as_bool() == Some(true) {
            "; you may decide"
        } else {
            ""
        }
    ));
    line(format!(
        "requested by {} from {} (session {}, {}) at {}",
        s(&r["identity"]),
        s(&r["client_addr"]),
        s(&r["session_id"]),
        s(&r["protocol"]),
        time(&r["requested_at"])
    ));
    line(format!(
        "connection {}, policy {} (rule {}): {}",
        s(&r["connection"]),
        s(&r["policy"]),
        s(&r["rule"]),
        s(&r["reason"])
    ));
    line("statement:".into());
    for l in s(&r["statement"]).lines() {
        line(format!("    {l}"));
    }
    if let Some(params) = r["parameters"].as_array() {
        for (i, p) in params.iter().enumerate() {
            let shown = match p {
                Value::Null => "NULL".to_string(),
                other => format!("'{}'", s(other)),
            };
            line(format!("  ${} = {shown}", i + 1));
        }
    }
    if !r["estimate"].is_null() {
        line(format!("estimate: {}", s(&r["estimate"])));
    }
    let approvals = r["approvals"]
        .as_array()
        .map(|a| a.as_slice())
        .unwrap_or_default();
    line(format!(
        "approvals: {}/{} from members of {}",
        approvals.len(),
        s(&r["approvals_required"]),
        r["reviewers"]
            .as_array()
            .map(|g| g.iter().map(s).collect::<Vec<_>>().join(", "))
            .unwrap_or_default()
    ));
    for a in approvals {
        line(format!(
            "  approved by {} at {}",
            s(&a["by"]),
            time(&a["at"])
        ));
    }
    if let Some(x) = r["rejection"].as_object() {
        line(format!(
            "rejected by {} at {}: {}",
            s(&x["by"]),
            time(&x["at"]),
            s(&x["reason"])
        ));
    }
    if !r["executed_at"].is_null() {
        line(format!(
            "executed at {} in session {}: {}",
            time(&r["executed_at"]),
            s(&r["executed_session"]),
            s(&r["outcome"])
        ));
    }
    out
}
