//! The `describe` tool: schemas, tables, columns and types of a connection,
//! read from `information_schema` through the agent's own guarded session
//! (so it sees only what the target role may see, and is recorded).

use std::collections::BTreeMap;

use serde_json::{Value, json};
use tokio_postgres::SimpleQueryMessage;

use portcullis_core::policy::AgentLimits;

fn literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// The catalog query; `schema` narrows it to one schema.
pub(crate) fn catalog_sql(schema: Option<&str>) -> String {
    let filter = match schema {
        Some(s) => format!("c.table_schema = {}", literal(s)),
        None => "c.table_schema NOT IN ('pg_catalog', 'information_schema') AND c.table_schema NOT LIKE 'pg\\_%'".into(),
    };
    format!(
        "SELECT c.table_schema, c.table_name, t.table_type, c.column_name, c.data_type, c.is_nullable \
         FROM information_schema.columns c \
         JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name \
         WHERE {filter} \
         ORDER BY c.table_schema, c.table_name, c.ordinal_position"
    )
}

/// One column as shown to the agent. Marking masked columns is one more
/// field here once masking rules are part of policies.
fn column(name: &str, data_type: &str, nullable: &str) -> Value {
    json!({
        "name": name,
        "type": data_type,
        "nullable": nullable == "YES",
    })
}

/// Groups catalog rows into tables, capped like query results.
pub(crate) fn tables(messages: &[SimpleQueryMessage], limits: AgentLimits) -> Value {
    let mut tables: BTreeMap<(String, String), (String, Vec<Value>)> = BTreeMap::new();
    let mut bytes = 0usize;
    let mut truncated = false;
    for m in messages {
        let SimpleQueryMessage::Row(r) = m else {
            continue;
        };
        let cell = |i: usize| r.get(i).unwrap_or("");
        let size: usize = (0..r.len()).map(|i| cell(i).len() + 8).sum();
        if bytes + size > limits.max_bytes {
            truncated = true;
            break;
        }
        bytes += size;
        tables
            .entry((cell(0).to_string(), cell(1).to_string()))
            .or_insert_with(|| (cell(2).to_string(), Vec::new()))
            .1
            .push(column(cell(3), cell(4), cell(5)));
    }
    let list: Vec<Value> = tables
        .into_iter()
        .map(|((schema, name), (kind, columns))| {
            json!({
                "schema": schema,
                "name": name,
                "kind": if kind == "VIEW" { "view" } else { "table" },
                "columns": columns,
            })
        })
        .collect();
    json!({ "status": "ok", "tables": list, "truncated": truncated })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_filter_is_quoted() {
        let sql = catalog_sql(Some("a'b"));
        assert!(sql.contains("c.table_schema = 'a''b'"), "{sql}");
        assert_eq!(pg_query::split_with_parser(&sql).unwrap().len(), 1);
    }
}
