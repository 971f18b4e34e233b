//! The MCP server end to end, with the official MCP Python SDK as the client
//! (tests/clients/mcp/calls.py) over stdio (`portcullis mcp`) and streamable
//! HTTP (`/mcp` on the API listener), and an AutoGen agent
//! (tests/clients/mcp/autogen_e2e.py) driven by scripted model responses.

mod common;

use std::process::Command;

use serde_json::{Value, json};

use common::{Gateway, Options, direct, unique};

fn connection(name: &str, policy: &str) -> String {
    format!(
        "[[connection]]\nname = \"{name}\"\nkind = \"postgres\"\naddress = \"127.0.0.1:5432\"\ndatabase = \"test\"\nuser = \"postgres\"\ntls = \"disable\"\npolicy = \"{policy}\"\n\n"
    )
}

/// Connections `open` (allow-all), `guarded` (no-destructive) and `capped`
/// (small agent limits) granted to `agent`; `hidden` granted to nobody.
fn gateway() -> Gateway {
    let mut body = String::new();
    body.push_str(&connection("open", "allow-all"));
    body.push_str(&connection("guarded", "no-destructive"));
    body.push_str(&connection("capped", "capped"));
    body.push_str(&connection("hidden", "allow-all"));
    body.push_str(&connection("held", "held"));
    body.push_str(
        r#"
[policy.capped]
presets = ["no-destructive"]
[policy.capped.agent]
max_rows = 5
max_bytes = 4096
statement_timeout = "300ms"

[policy.held]
presets = ["no-destructive"]
[[policy.held.rule]]
name = "writes"
action = "review"
class = ["write"]

[[identity]]
name = "agent"
groups = ["agents"]

[[identity]]
name = "other"

[[identity]]
name = "reviewer"
groups = ["reviewers"]

[[grant]]
group = "agents"
connections = ["open", "guarded", "capped", "held"]

[[grant]]
identity = "other"
connections = ["hidden"]
"#,
    );
    Gateway::start_with(Options {
        body,
        listen_extra: "api = \"127.0.0.1:0\"\n".into(),
        ..Default::default()
    })
}

fn script(name: &str) -> String {
    common::repo_root()
        .join("crates/portcullis/tests/clients/mcp")
        .join(name)
        .display()
        .to_string()
}

/// Runs the SDK client; `Ok` is its JSON output, `Err` its error report.
fn run_client(args: &[String]) -> Result<Value, String> {
    let out = Command::new("python3")
        .arg(script("calls.py"))
        .args(args)
        .env("PORTCULLIS_LOG", "info")
        .output()
        .expect("run python3");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let parsed: Value = serde_json::from_str(stdout.trim()).unwrap_or_else(|e| {
        panic!(
            "client printed no JSON ({e}): {stdout}\nstderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    if out.status.success() {
        Ok(parsed)
    } else {
        Err(format!(
            "{}\nstderr: {}",
            parsed["error"],
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

fn stdio(gw: &Gateway, token: &str, calls: Value) -> Result<Value, String> {
    run_client(&[
        "--transport".into(),
        "stdio".into(),
        "--binary".into(),
        common::bin().into(),
        "--config".into(),
        gw.config.display().to_string(),
        "--token".into(),
        token.into(),
        "--calls".into(),
        calls.to_string(),
    ])
}

fn http(gw: &Gateway, token: &str, calls: Value) -> Result<Value, String> {
    run_client(&[
        "--transport".into(),
        "http".into(),
        "--url".into(),
        format!("http://{}/mcp", gw.api_addr()),
        "--token".into(),
        token.into(),
        "--calls".into(),
        calls.to_string(),
    ])
}

fn query(connection: &str, sql: &str) -> Value {
    json!({ "tool": "query", "args": { "connection": connection, "sql": sql } })
}

/// A table with three rows, created directly on the target.
async fn seeded() -> String {
    let t = unique("mcp");
    direct()
        .await
        .batch_execute(&format!(
            "CREATE TABLE {t} (id int PRIMARY KEY, v text); INSERT INTO {t} VALUES (1, 'a'), (2, NULL), (3, 'c')"
        ))
        .await
        .unwrap();
    t
}

async fn exists(table: &str) -> bool {
    direct()
        .await
        .query_one("SELECT to_regclass($1) IS NOT NULL", &[&table])
        .await
        .unwrap()
        .get(0)
}

/// The recorded MCP sessions of `identity`, with their statements.
fn mcp_sessions(gw: &Gateway, identity: &str) -> Vec<Value> {
    gw.sessions()
        .into_iter()
        .filter(|s| s["protocol"] == "mcp" && s["identity"] == identity)
        .map(|s| gw.session(s["session_id"].as_str().unwrap()))
        .collect()
}

fn check_rows(result: &Value, table: &str) {
    assert_eq!(result["is_error"], false, "{result}");
    let s = &result["structured"];
    assert_eq!(s["status"], "ok", "{s}");
    assert_eq!(s["columns"], json!(["id", "v"]), "{s}");
    assert_eq!(
        s["rows"],
        json!([["1", "a"], ["2", null], ["3", "c"]]),
        "{table}: {s}"
    );
    assert_eq!(s["truncated"], false);
    assert_eq!(s["row_count"], 3);
}

#[tokio::test]
async fn stdio_lists_tools_runs_a_query_and_records_the_session() {
    let gw = gateway();
    let token = gw.token("agent");
    let t = seeded().await;
    let out = stdio(
        &gw,
        &token,
        json!([query("open", &format!("SELECT id, v FROM {t} ORDER BY id"))]),
    )
    .expect("stdio client");
    let mut tools: Vec<&str> = out["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    tools.sort_unstable();
    assert_eq!(
        tools,
        ["describe", "list_connections", "query", "review_status"]
    );
    check_rows(&out["results"][0], &t);

    // Recorded like any client: identity, protocol mcp, the MCP client's
    // name and version, the statement and its outcome, closed at exit.
    let sessions = mcp_sessions(&gw, "agent");
    assert_eq!(sessions.len(), 1, "{sessions:?}");
    let s = &sessions[0];
    assert_eq!(s["session"]["connection"], "open");
    assert!(
        s["session"]["client_addr"]
            .as_str()
            .unwrap()
            .contains("stdio (portcullis-mcp-test 1.0.0)"),
        "{s}"
    );
    assert!(
        s["session"]["auth_method"]
            .as_str()
            .unwrap()
            .starts_with("token:")
    );
    let statements = s["statements"].as_array().unwrap();
    assert_eq!(statements.len(), 1, "{s}");
    assert_eq!(
        statements[0]["text"],
        format!("SELECT id, v FROM {t} ORDER BY id")
    );
    assert_eq!(statements[0]["status"], "ok");
    assert_eq!(statements[0]["rows"], 3);
    assert_eq!(s["session"]["reason"], "client-quit", "{s}");
}

#[tokio::test]
async fn http_with_a_bearer_token_runs_queries_in_one_session() {
    let gw = gateway();
    let token = gw.token("agent");
    let t = seeded().await;
    // Session state lives as long as the MCP session: a SET is still in
    // force on the next call, and a temporary table is visible.
    let out = http(
        &gw,
        &token,
        json!([
            query("open", &format!("SELECT id, v FROM {t} ORDER BY id")),
            query("open", "SET application_name = 'agent-was-here'"),
            query("open", "SHOW application_name"),
            { "tool": "describe", "args": { "connection": "open", "schema": "public" } },
        ]),
    )
    .expect("http client");
    assert_eq!(out["tools"].as_array().unwrap().len(), 4);
    check_rows(&out["results"][0], &t);
    assert_eq!(
        out["results"][2]["structured"]["rows"],
        json!([["agent-was-here"]])
    );
    let described = &out["results"][3]["structured"];
    let table = described["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["name"] == t.as_str())
        .unwrap_or_else(|| panic!("{t} not described: {described}"));
    assert_eq!(
        table["columns"],
        json!([
            { "name": "id", "type": "integer", "nullable": false },
            { "name": "v", "type": "text", "nullable": true },
        ])
    );

    let sessions = mcp_sessions(&gw, "agent");
    assert_eq!(
        sessions.len(),
        1,
        "one MCP session, one connection: {sessions:?}"
    );
    assert_eq!(sessions[0]["statements"].as_array().unwrap().len(), 4);
    assert!(
        sessions[0]["session"]["client_addr"]
            .as_str()
            .unwrap()
            .contains("(portcullis-mcp-test 1.0.0)")
    );
}

#[tokio::test]
async fn blocked_statement_is_a_tool_result_the_table_survives_and_repeats_are_limited() {
    let gw = gateway();
    let token = gw.token("agent");
    let t = seeded().await;
    let drop = query("guarded", &format!("DROP TABLE {t}"));
    let out = http(
        &gw,
        &token,
        json!([
            drop,
            drop,
            drop,
            drop,
            query("guarded", &format!("SELECT count(*) FROM {t}"))
        ]),
    )
    .expect("http client");
    let results = out["results"].as_array().unwrap();

    let first = &results[0];
    assert_eq!(first["is_error"], true, "{first}");
    let s = &first["structured"];
    assert_eq!(s["status"], "blocked", "{s}");
    assert_eq!(s["rule"], "no-destructive/drop");
    assert!(
        s["retry"].as_str().unwrap().starts_with("Do not retry"),
        "{s}"
    );
    assert!(
        s["message"]
            .as_str()
            .unwrap()
            .contains("no-destructive/drop")
    );
    assert_eq!(results[1]["structured"]["status"], "blocked");
    // From the third identical call, the gateway does not send it again.
    for r in &results[2..4] {
        assert_eq!(r["structured"]["status"], "rate_limited", "{r}");
        assert_eq!(r["structured"]["rule"], "no-destructive/drop");
        assert!(r["structured"]["retry_after_seconds"].as_u64().unwrap() >= 1);
    }
    // The session stayed usable and the table is intact.
    assert_eq!(results[4]["structured"]["rows"], json!([["3"]]));
    assert!(exists(&t).await, "{t} was dropped");

    let sessions = mcp_sessions(&gw, "agent");
    let statements = sessions[0]["statements"].as_array().unwrap();
    let blocked: Vec<&Value> = statements
        .iter()
        .filter(|s| s["status"] == "blocked")
        .collect();
    assert_eq!(
        blocked.len(),
        2,
        "only the calls that reached the session: {statements:?}"
    );
    assert_eq!(blocked[0]["rule"], "no-destructive/drop");
}

#[tokio::test]
async fn list_connections_shows_only_granted_connections_with_their_policy() {
    let gw = gateway();
    let token = gw.token("agent");
    let out = stdio(&gw, &token, json!([{ "tool": "list_connections" }])).expect("stdio client");
    let s = &out["results"][0]["structured"];
    assert_eq!(s["identity"], "agent");
    let conns = s["connections"].as_array().unwrap();
    let names: Vec<&str> = conns.iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["open", "guarded", "capped", "held"], "{s}");
    let capped = &conns[2];
    assert_eq!(capped["policy"]["name"], "capped");
    assert_eq!(capped["policy"]["mode"], "enforce");
    assert!(
        capped["policy"]["rules"]
            .as_array()
            .unwrap()
            .contains(&json!("no-destructive/drop"))
    );
    assert_eq!(
        capped["limits"],
        json!({ "max_rows": 5, "max_bytes": 4096, "statement_timeout_ms": 300 })
    );

    // The other identity sees only its own, and may not query ours.
    let other = gw.token("other");
    let out = stdio(
        &gw,
        &other,
        json!([{ "tool": "list_connections" }, query("open", "SELECT 1")]),
    )
    .expect("stdio client");
    let conns = out["results"][0]["structured"]["connections"]
        .as_array()
        .unwrap();
    assert_eq!(conns.len(), 1);
    assert_eq!(conns[0]["name"], "hidden");
    let denied = &out["results"][1];
    assert_eq!(denied["is_error"], true);
    assert_eq!(denied["structured"]["status"], "denied", "{denied}");
}

#[tokio::test]
async fn bad_or_missing_tokens_are_rejected_on_both_transports() {
    let gw = gateway();
    let good = gw.token("agent");
    let last = if good.ends_with('A') { 'B' } else { 'A' };
    let wrong = format!("{}{last}", &good[..good.len() - 1]);
    for token in ["", "not-a-token", wrong.as_str()] {
        let e = http(&gw, token, json!([])).expect_err("HTTP must refuse");
        assert!(e.contains("401"), "{token:?}: {e}");
    }
    let e = stdio(&gw, &wrong, json!([])).expect_err("stdio must refuse");
    assert!(!e.is_empty());
    assert!(
        mcp_sessions(&gw, "agent").is_empty(),
        "no session for a bad token"
    );
    let audit = gw.cli_ok(&[
        "audit",
        "list",
        "--action",
        "auth.failed",
        "--format",
        "json",
    ]);
    assert!(audit.contains("mcp: wrong token secret"), "{audit}");
}

#[tokio::test]
async fn results_are_capped_statements_time_out_and_one_statement_per_call() {
    let gw = gateway();
    let token = gw.token("agent");
    let out = stdio(
        &gw,
        &token,
        json!([
            query(
                "capped",
                "SELECT g, repeat('x', 10) FROM generate_series(1, 20) g"
            ),
            query("capped", "SELECT repeat('y', 10000)"),
            query("capped", "SELECT pg_sleep(5)"),
            query("capped", "SELECT 1; SELECT 2"),
            query("capped", "SELECT 42"),
        ]),
    )
    .expect("stdio client");
    let r = &out["results"];
    let rows = &r[0]["structured"];
    assert_eq!(rows["returned_rows"], 5, "{rows}");
    assert_eq!(rows["row_count"], 20);
    assert_eq!(rows["truncated"], true);
    assert_eq!(rows["rows"][4], json!(["5", "xxxxxxxxxx"]));
    assert_eq!(r[1]["structured"]["truncated"], true);
    assert_eq!(r[1]["structured"]["rows"], json!([]));
    // statement_timeout from the policy (300ms) cancels it on the target.
    assert_eq!(r[2]["is_error"], true);
    assert_eq!(r[2]["structured"]["sqlstate"], "57014", "{}", r[2]);
    assert_eq!(r[3]["is_error"], true);
    assert!(
        r[3]["structured"]["message"]
            .as_str()
            .unwrap()
            .contains("exactly one"),
        "{}",
        r[3]
    );
    assert_eq!(r[4]["structured"]["rows"], json!([["42"]]));
}

/// Needs reviews (issue 4, on main): a held statement in async review mode
/// answers `statement held for review N`.
#[tokio::test]
async fn held_statement_becomes_pending_review() {
    let gw = gateway();
    let token = gw.token("agent");
    let t = seeded().await;
    let out = http(
        &gw,
        &token,
        json!([query(
            "held",
            &format!("UPDATE {t} SET v = 'z' WHERE id > 0")
        )]),
    )
    .expect("http client");
    let r = &out["results"][0];
    assert_eq!(r["is_error"], false, "{r}");
    let s = &r["structured"];
    assert_eq!(s["status"], "pending_review", "{s}");
    let n = s["review"].as_u64().expect("review number");
    assert!(s["next"].as_str().unwrap().contains("review_status"));
    assert!(
        s["message"]
            .as_str()
            .unwrap()
            .starts_with(&format!("pending review {n}"))
    );
    let unchanged: i64 = direct()
        .await
        .query_one(&format!("SELECT count(*) FROM {t} WHERE v = 'z'"), &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(unchanged, 0, "a held statement must not run");

    // A reviewer approves; the agent sees it with review_status and re-sends
    // the identical statement, which runs once.
    let reviewer = gw.token("reviewer");
    let approved = gw.cli(&[
        "review",
        "--api",
        &format!("http://{}", gw.api_addr()),
        "--token",
        &reviewer,
        "approve",
        &n.to_string(),
    ]);
    assert!(
        approved.status.success(),
        "{}",
        String::from_utf8_lossy(&approved.stderr)
    );
    let sql = format!("UPDATE {t} SET v = 'z' WHERE id > 0");
    let out = http(
        &gw,
        &token,
        json!([
            { "tool": "review_status", "args": { "review": n } },
            query("held", &sql),
            { "tool": "review_status", "args": { "review": n } },
        ]),
    )
    .expect("http client");
    let status = &out["results"][0]["structured"];
    assert_eq!(status["status"], "approved", "{status}");
    let ran = &out["results"][1];
    assert_eq!(ran["is_error"], false, "{ran}");
    assert_ne!(ran["structured"]["status"], "pending_review", "{ran}");
    let changed: i64 = direct()
        .await
        .query_one(&format!("SELECT count(*) FROM {t} WHERE v = 'z'"), &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(changed, 3, "the approved statement ran");
    gw.eventually("the outcome on the review", || {
        let out = http(
            &gw,
            &token,
            json!([{ "tool": "review_status", "args": { "review": n } }]),
        )
        .expect("http client");
        out["results"][0]["structured"]["status"] == "executed"
    });
}

/// The issue's AutoGen scenario: an AssistantAgent with autogen-ext MCP
/// tools on Portcullis, its model replayed from a script (no network).
/// Needs masking (issue 5) and reviews (issue 4) merged to pass in full.
#[tokio::test]
async fn autogen_agent_is_governed_end_to_end() {
    let mut body = connection("shop", "shop");
    body.push_str(
        r#"
[policy.shop]
presets = ["no-destructive"]

[[policy.shop.rule]]
name = "bulk-update"
action = "review"
command = ["UPDATE"]
overrides = ["no-destructive/no-where"]

[[policy.shop.mask]]
detector = "payment-card"
style = "partial"
keep_suffix = 4

[[identity]]
name = "agent"

[[grant]]
identity = "agent"
connections = ["shop"]
"#,
    );
    let gw = Gateway::start_with(Options {
        body,
        ..Default::default()
    });
    let token = gw.token("agent");
    let orders = unique("orders");
    direct()
        .await
        .batch_execute(&format!(
            "CREATE TABLE {orders} (id int PRIMARY KEY, card_number text, status text);
             INSERT INTO {orders} VALUES (1, '4111 1111 1111 1111', 'new'), (2, '5555 5555 5555 4444', 'new')"
        ))
        .await
        .unwrap();

    let out = Command::new("python3")
        .arg(script("autogen_e2e.py"))
        .args(["--binary", common::bin(), "--config"])
        .arg(&gw.config)
        .args(["--token", &token, "--table", &orders])
        .env("PORTCULLIS_LOG", "info")
        .output()
        .expect("run autogen");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "autogen run failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let results: Value = serde_json::from_str(stdout.trim()).expect("autogen JSON");
    let results = results["tool_results"].as_array().unwrap();
    assert_eq!(results.len(), 3, "{results:?}");
    let parsed: Vec<Value> = results
        .iter()
        .map(|r| serde_json::from_str(r["content"].as_str().unwrap()).unwrap())
        .collect();

    // DROP TABLE is blocked, the agent is told not to retry, the table survives.
    assert_eq!(parsed[0]["status"], "blocked", "{}", parsed[0]);
    assert_eq!(parsed[0]["rule"], "no-destructive/drop");
    assert!(exists(&orders).await);

    // Card numbers arrive masked.
    let cards = parsed[1]["rows"].to_string();
    assert_eq!(parsed[1]["status"], "ok", "{}", parsed[1]);
    assert!(!cards.contains("4111 1111 1111 1111"), "{cards}");
    assert!(!cards.contains("5555 5555 5555 4444"), "{cards}");
    assert!(cards.contains("**** **** **** 1111"), "{cards}");
    assert!(cards.contains("**** **** **** 4444"), "{cards}");

    // The bulk UPDATE waits for approval and has not run.
    assert_eq!(parsed[2]["status"], "pending_review", "{}", parsed[2]);
    let shipped: i64 = direct()
        .await
        .query_one(
            &format!("SELECT count(*) FROM {orders} WHERE status = 'shipped'"),
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(shipped, 0);

    // All three are in one recorded MCP session.
    let sessions = mcp_sessions(&gw, "agent");
    assert_eq!(sessions.len(), 1, "{sessions:?}");
    let texts: Vec<&str> = sessions[0]["statements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["text"].as_str().unwrap())
        .collect();
    assert_eq!(
        texts,
        [
            format!("DROP TABLE {orders}"),
            format!("SELECT id, card_number FROM {orders} ORDER BY id"),
            format!("UPDATE {orders} SET status = 'shipped'"),
        ]
    );
}

#[tokio::test]
async fn revoking_the_token_ends_the_agents_session_and_stops_its_calls() {
    let gw = gateway();
    let token = gw.token("agent");
    let go = gw.dir.path().join("revoked");
    let calls = json!([
        query("open", "SELECT 1"),
        { "wait_for_file": go.display().to_string() },
        query("open", "SELECT 2"),
    ]);
    let client = {
        let config = gw.config.display().to_string();
        let token = token.clone();
        std::thread::spawn(move || {
            run_client(&[
                "--transport".into(),
                "stdio".into(),
                "--binary".into(),
                common::bin().into(),
                "--config".into(),
                config,
                "--token".into(),
                token,
                "--calls".into(),
                calls.to_string(),
            ])
        })
    };
    gw.eventually("the agent's session to be recorded", || {
        !mcp_sessions(&gw, "agent").is_empty()
    });
    let id = gw.cli_ok(&["token", "list", "--format", "json"]);
    let tokens: Value = serde_json::from_str(&id).unwrap();
    let token_id = tokens[0]["id"].as_str().unwrap().to_string();
    gw.cli_ok(&["token", "revoke", &token_id]);
    // The agent's live session is cut (the stdio server watches revocations).
    gw.eventually("the session to end as revoked", || {
        mcp_sessions(&gw, "agent")[0]["session"]["reason"] == "revoked"
    });
    std::fs::write(&go, b"").unwrap();
    let out = client.join().unwrap().expect("stdio client");
    assert_eq!(out["results"][0]["structured"]["rows"], json!([["1"]]));
    let after = &out["results"][1];
    assert_eq!(after["is_error"], true, "{after}");
    assert!(
        after["structured"]["message"]
            .as_str()
            .unwrap()
            .starts_with("authentication failed"),
        "{after}"
    );
    // No new session was opened for the refused call.
    assert_eq!(mcp_sessions(&gw, "agent").len(), 1);
}
