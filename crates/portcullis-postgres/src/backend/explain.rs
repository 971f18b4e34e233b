//! The planner's estimate of rows a held DML statement would touch, shown to
//! reviewers. The statement is only planned (`EXPLAIN` without `ANALYZE`),
//! inside a read-only transaction that is rolled back, on the gateway's own
//! connection: nothing a reviewer has not approved can run.

use serde_json::Value;

use super::simple::{self, SimpleError};
use super::{Target, connect};

/// Plans `sql` (one DML statement, already classified as such) and describes
/// the estimate, e.g. `about 1200 rows (planner estimate, not executed)`.
pub async fn estimate(target: &Target, sql: &str) -> Result<String, String> {
    let mut upstream = connect(target, &[]).await.map_err(|e| e.to_string())?;
    let stream = &mut upstream.stream;
    let planned = async {
        simple::query(stream, "BEGIN READ ONLY").await?;
        simple::query(stream, "SET LOCAL statement_timeout = '5s'").await?;
        simple::query(stream, &format!("EXPLAIN (FORMAT JSON) {sql}")).await
    }
    .await;
    let _ = simple::query(stream, "ROLLBACK").await;
    simple::terminate(stream).await;
    let rows = planned.map_err(|e: SimpleError| e.to_string())?;
    let json = rows
        .first()
        .and_then(|r| r.first())
        .and_then(|c| c.as_deref())
        .ok_or("EXPLAIN returned no plan")?;
    let plan: Value = serde_json::from_str(json).map_err(|e| e.to_string())?;
    let rows = affected_rows(&plan).ok_or("no row estimate in the plan")?;
    Ok(format!(
        "about {rows} rows (planner estimate, not executed)"
    ))
}

/// Rows a plan touches: for a ModifyTable, what its input produces.
fn affected_rows(explain: &Value) -> Option<u64> {
    let top = explain.get(0)?.get("Plan")?;
    let rows = |p: &Value| p.get("Plan Rows").and_then(Value::as_f64);
    if top.get("Node Type").and_then(Value::as_str) == Some("ModifyTable") {
        let children = top.get("Plans")?.as_array()?;
        Some(children.iter().filter_map(rows).sum::<f64>().round() as u64)
    } else {
        rows(top).map(|r| r.round() as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modify_table_estimates_come_from_its_input() {
        let plan: Value = serde_json::from_str(
            r#"[{"Plan": {"Node Type": "ModifyTable", "Plan Rows": 0,
                "Plans": [{"Node Type": "Seq Scan", "Plan Rows": 1200}]}}]"#,
        )
        .unwrap();
        assert_eq!(affected_rows(&plan), Some(1200));
        let select: Value =
            serde_json::from_str(r#"[{"Plan": {"Node Type": "Seq Scan", "Plan Rows": 7}}]"#)
                .unwrap();
        assert_eq!(affected_rows(&select), Some(7));
    }
}
