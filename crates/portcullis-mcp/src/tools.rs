//! The tools agents see: names, descriptions (written for a model to read)
//! and input schemas.

use std::sync::Arc;

use rmcp::model::{JsonObject, Tool, ToolAnnotations};
use serde::Deserialize;
use serde_json::json;

pub(crate) const LIST_CONNECTIONS: &str = "list_connections";
pub(crate) const DESCRIBE: &str = "describe";
pub(crate) const QUERY: &str = "query";
pub(crate) const REVIEW_STATUS: &str = "review_status";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DescribeArgs {
    pub connection: String,
    #[serde(default)]
    pub schema: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct QueryArgs {
    pub connection: String,
    pub sql: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReviewStatusArgs {
    pub review: u64,
}

fn schema(value: serde_json::Value) -> Arc<JsonObject> {
    match value {
        serde_json::Value::Object(map) => Arc::new(map),
        _ => Arc::new(JsonObject::new()),
    }
}

fn read_only(mut tool: Tool) -> Tool {
    let mut a = ToolAnnotations::new();
    a.read_only_hint = Some(true);
    tool.annotations = Some(a);
    tool
}

pub(crate) fn all() -> Vec<Tool> {
    vec![
        read_only(Tool::new(
            LIST_CONNECTIONS,
            "List the database connections you may use, each with its guardrail policy (name, mode, rules) and the row, byte and time limits of your results.",
            schema(json!({ "type": "object", "properties": {}, "additionalProperties": false })),
        )),
        read_only(Tool::new(
            DESCRIBE,
            "Describe a connection: its schemas, tables and views, with each column's name, type and nullability. Optionally only one schema.",
            schema(json!({
                "type": "object",
                "properties": {
                    "connection": { "type": "string", "description": "connection name from list_connections" },
                    "schema": { "type": "string", "description": "only this schema (e.g. public)" }
                },
                "required": ["connection"],
                "additionalProperties": false
            })),
        )),
        Tool::new(
            QUERY,
            "Run exactly one SQL statement on a connection, under its guardrails, reviews, masking and recording. Returns columns and rows (values as text, null as null), capped by the policy's limits with a truncated flag. A statement the policy blocks returns status \"blocked\" with the rule: do not retry it. A statement held for review returns status \"pending_review\" with a review number: check it with review_status and re-send the identical statement once approved.",
            schema(json!({
                "type": "object",
                "properties": {
                    "connection": { "type": "string", "description": "connection name from list_connections" },
                    "sql": { "type": "string", "description": "exactly one SQL statement" }
                },
                "required": ["connection", "sql"],
                "additionalProperties": false
            })),
        ),
        read_only(Tool::new(
            REVIEW_STATUS,
            "The state of a statement held for review (pending, approved, rejected, expired), by the review number a query returned.",
            schema(json!({
                "type": "object",
                "properties": {
                    "review": { "type": "integer", "minimum": 1, "description": "review number from a pending_review result" }
                },
                "required": ["review"],
                "additionalProperties": false
            })),
        )),
    ]
}
