//! The `query` tool's execution: exactly one statement, results as columns
//! and rows of JSON, capped by the policy's agent limits.

use std::pin::pin;

use futures_util::StreamExt;
use serde_json::{Value, json};
use tokio_postgres::SimpleQueryMessage;

use portcullis_core::policy::AgentLimits;

/// Bytes counted per cell besides its text (JSON quoting and separators),
/// so that many empty cells still count.
const CELL_OVERHEAD: usize = 4;

/// Why a text is not exactly one statement.
pub(crate) fn one_statement(sql: &str) -> Result<(), String> {
    match pg_query::split_with_parser(sql) {
        Ok(parts) => match parts.iter().filter(|p| !p.trim().is_empty()).count() {
            1 => Ok(()),
            0 => Err("the text contains no SQL statement".into()),
            n => Err(format!(
                "the text contains {n} statements; the query tool runs exactly one per call"
            )),
        },
        // PostgreSQL parses the whole text before running any of it, so a
        // syntax error runs nothing: let the session report it (a guarded
        // connection blocks it, fail closed).
        Err(_) => Ok(()),
    }
}

/// Runs `sql` (one statement) and collects at most the limits' rows and
/// bytes; the rest is read and counted but not returned.
pub(crate) async fn run(
    client: &tokio_postgres::Client,
    sql: &str,
    limits: AgentLimits,
) -> Result<Value, tokio_postgres::Error> {
    let stream = client.simple_query_raw(sql).await?;
    let mut stream = pin!(stream);
    let mut columns: Vec<String> = Vec::new();
    let mut rows: Vec<Value> = Vec::new();
    let mut bytes = 0usize;
    let mut truncated = false;
    let mut seen = 0u64;
    let mut affected: Option<u64> = None;
    while let Some(message) = stream.next().await {
        match message? {
            SimpleQueryMessage::RowDescription(cols) => {
                columns = cols.iter().map(|c| c.name().to_string()).collect();
            }
            SimpleQueryMessage::Row(row) => {
                seen += 1;
                if truncated {
                    continue;
                }
                if columns.is_empty() {
                    columns = row.columns().iter().map(|c| c.name().to_string()).collect();
                }
                let cells: Vec<Option<&str>> = (0..row.len()).map(|i| row.get(i)).collect();
                let size: usize = cells
                    .iter()
                    .map(|c| c.map_or(4, str::len) + CELL_OVERHEAD)
                    .sum();
                if rows.len() >= limits.max_rows || bytes + size > limits.max_bytes {
                    truncated = true;
                    continue;
                }
                bytes += size;
                rows.push(Value::Array(
                    cells
                        .into_iter()
                        .map(|c| c.map_or(Value::Null, |s| Value::String(s.to_string())))
                        .collect(),
                ));
            }
            SimpleQueryMessage::CommandComplete(n) => affected = Some(n),
            _ => {}
        }
    }
    let returned = rows.len();
    let mut out = json!({
        "status": "ok",
        "columns": columns,
        "rows": rows,
        "returned_rows": returned,
        "truncated": truncated,
    });
    if !columns.is_empty() {
        out["row_count"] = json!(seen);
    } else if let Some(n) = affected {
        out["rows_affected"] = json!(n);
    }
    if truncated {
        out["note"] = json!(format!(
            "result truncated to {returned} of {seen} rows (limits: {} rows, {} bytes); add a WHERE or LIMIT to see the rest",
            limits.max_rows, limits.max_bytes
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exactly_one_statement() {
        assert!(one_statement("SELECT 1").is_ok());
        assert!(one_statement("SELECT 1;").is_ok());
        assert!(one_statement("SELECT 1; SELECT 2").is_err());
        assert!(one_statement("  -- nothing\n").is_err());
        // A syntax error is left to the session (which runs nothing).
        assert!(one_statement("SELEC 1; DROP TABLE t").is_ok());
    }
}
