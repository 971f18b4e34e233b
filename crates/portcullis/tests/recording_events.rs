//! Request and response events end to end: what a session records matches
//! what happened (allowed, blocked, reviewed statements, masked result
//! rows, truncation), per-policy `record` levels, and strict mode (nothing
//! reaches the target unrecorded, even across `kill -9`; an unwritable
//! store refuses statements).

mod common;

use std::io::{Read, Write};
use std::time::Duration;

use common::{Gateway, Options, connect, direct, unique};
use serde_json::Value;

/// An email only ever written straight to PostgreSQL: it must reach
/// neither the client through the gateway nor the store.
const RAW_EMAIL: &str = "jane.roe.7731@example.com";

fn config() -> String {
    let mut c = String::from(
        r#"
[recording]
max_result_rows = 5
strict_timeout = "1s"
"#,
    );
    for (name, extra) in [
        (
            "shop",
            "presets = [\"no-destructive\"]\n\
             [[policy.shop.rule]]\nname = \"deletes\"\naction = \"review\"\ncommand = [\"DELETE\"]\n\
             [policy.shop.review]\nmode = \"async\"\nreviewers = [\"dba\"]\n\
             [[policy.shop.mask]]\ndetector = \"email\"\nstyle = \"redact\"\n",
        ),
        ("lite", "record = \"statements\"\n"),
        ("quiet", "record = \"off\"\n"),
        ("strict", "record_mode = \"strict\"\n"),
    ] {
        c.push_str(&format!(
            "
[[connection]]
name = \"{name}\"
kind = \"postgres\"
address = \"127.0.0.1:5432\"
database = \"test\"
user = \"postgres\"
tls = \"disable\"
policy = \"{name}\"

[policy.{name}]
{extra}
"
        ));
    }
    c.push_str(
        r#"
[[identity]]
name = "demo"

[[identity]]
name = "bob"
groups = ["dba"]

[[grant]]
identity = "demo"
connections = ["shop", "lite", "quiet", "strict"]
"#,
    );
    c
}

fn start() -> Gateway {
    Gateway::start_with(Options {
        body: config(),
        listen_extra: "api = \"127.0.0.1:0\"\n".into(),
        ..Options::default()
    })
}

/// The session's export document (`sessions export`).
fn export(gw: &Gateway, id: &str) -> Value {
    serde_json::from_str(&gw.cli_ok(&["sessions", "export", id])).unwrap()
}

/// Waits until the only session on `connection` is closed; its id.
fn closed_session(gw: &Gateway, connection: &str) -> String {
    let mut id = None;
    gw.eventually("the session to be recorded closed", || {
        id = gw
            .sessions()
            .into_iter()
            .find(|s| s["connection"] == connection && s["ended_at"].is_i64())
            .map(|s| s["session_id"].as_str().unwrap().to_string());
        id.is_some()
    });
    id.unwrap()
}

fn kinds(doc: &Value) -> Vec<String> {
    doc["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let ev = &e["event"];
            match ev["seq"].as_u64() {
                Some(seq) => format!("{}{seq}", ev["kind"].as_str().unwrap()),
                None => ev["kind"].as_str().unwrap().to_string(),
            }
        })
        .collect()
}

fn verify(gw: &Gateway, args: &[&str]) -> (bool, String) {
    let out = gw.cli(args);
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

/// Every byte of the store (database and WAL) as lossy text.
fn store_bytes(gw: &Gateway) -> String {
    let mut all = Vec::new();
    for suffix in ["", "-wal"] {
        let p = format!("{}{suffix}", gw.store_path().display());
        if let Ok(b) = std::fs::read(&p) {
            all.extend_from_slice(&b);
        }
    }
    String::from_utf8_lossy(&all).into_owned()
}

/// `GET path` on the API listener with plain HTTP/1.1; the body.
fn http_get(gw: &Gateway, path: &str) -> String {
    let mut s = std::net::TcpStream::connect(gw.api_addr()).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn a_session_records_what_happened_with_masked_rows_and_verifies() {
    let gw = start();
    let t = unique("rec");
    direct()
        .await
        .batch_execute(&format!(
            "CREATE TABLE {t} (id int PRIMARY KEY, email text);
             INSERT INTO {t} VALUES (1, '{RAW_EMAIL}'), (2, 'x');"
        ))
        .await
        .unwrap();
    let token = gw.token("demo");
    let bob = gw.token("bob");
    let client = connect(&gw.dsn("shop", "demo", &token)).await;

    let rows = client
        .simple_query(&format!("SELECT id, email FROM {t} ORDER BY id"))
        .await
        .unwrap();
    let shown = format!("{rows:?}");
    assert!(!shown.contains(RAW_EMAIL), "the client sees it masked");

    let err = client
        .simple_query(&format!("DROP TABLE {t}"))
        .await
        .unwrap_err();
    assert_eq!(err.as_db_error().unwrap().code().code(), "42501");

    let delete = format!("DELETE FROM {t} WHERE id = 2");
    let err = client.simple_query(&delete).await.unwrap_err();
    let review: u64 = err
        .as_db_error()
        .unwrap()
        .message()
        .strip_prefix("statement held for review ")
        .unwrap()
        .parse()
        .unwrap();
    let api = gw.api_url();
    let approved = gw.cli(&[
        "review",
        "--api",
        &api,
        "--token",
        &bob,
        "approve",
        &review.to_string(),
    ]);
    assert!(approved.status.success(), "{approved:?}");
    client.simple_query(&delete).await.unwrap();

    // More rows than the cap (5): the recording keeps 5 and says so.
    client
        .simple_query("SELECT n FROM generate_series(1, 20) AS n")
        .await
        .unwrap();
    // Extended protocol, binary results: names from the Describe, hex values.
    let ids: Vec<i32> = client
        .query(&format!("SELECT id FROM {t} WHERE id = $1"), &[&1i32])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(ids, [1]);
    drop(client);

    let id = closed_session(&gw, "shop");
    let doc = export(&gw, &id);
    assert_eq!(
        kinds(&doc),
        [
            "open",
            "request1",
            "response1",
            "request2",
            "response2",
            "request3",
            "response3",
            "request4",
            "response4",
            "request5",
            "response5",
            "request6",
            "response6",
            "close"
        ]
    );
    let ev = |i: usize| doc["events"][i]["event"].clone();

    // The masked rows, as the client got them.
    assert_eq!(ev(1)["verdict"], "allow");
    let result = &ev(2)["result"];
    assert_eq!(
        result["sets"][0]["columns"],
        serde_json::json!(["id", "email"])
    );
    let first = &result["sets"][0]["rows"][0];
    assert_eq!(first[0], "1");
    let masked = first[1].as_str().unwrap().to_string();
    assert_ne!(masked, RAW_EMAIL);
    assert!(!masked.is_empty());
    assert_eq!(result["truncated"], false);
    assert_eq!(ev(2)["rows"], 2);
    assert!(ev(2)["bytes"].as_u64().unwrap() > 0);

    // Blocked: never sent, its request says why.
    assert_eq!(ev(3)["verdict"], "block");
    assert_eq!(ev(3)["rule"], "no-destructive/drop");
    assert!(ev(3)["refused"].is_string());
    assert_eq!(ev(4)["status"], "blocked");
    // What the guard classified each request as.
    assert_eq!(
        ev(1)["classified"]["commands"],
        serde_json::json!(["SELECT"])
    );
    assert_eq!(ev(1)["classified"]["classes"], serde_json::json!(["read"]));
    assert_eq!(
        ev(3)["classified"]["commands"],
        serde_json::json!(["DROP TABLE"]),
        "{}",
        ev(3)
    );
    assert_eq!(
        ev(3)["classified"]["tables"],
        serde_json::json!([format!("public.{t}")])
    );
    assert_eq!(
        ev(5)["classified"]["commands"],
        serde_json::json!(["DELETE"])
    );

    // Held for review, then run under the approval.
    assert_eq!(ev(5)["verdict"], "review");
    assert_eq!(ev(6)["status"], "blocked");
    assert_eq!(ev(7)["review"], review);
    assert_eq!(ev(8)["status"], "ok");
    assert_eq!(ev(8)["rows"], 1);
    assert_eq!(ev(8)["review"], review);

    // Truncation.
    assert_eq!(ev(10)["rows"], 20);
    assert_eq!(ev(10)["result"]["truncated"], true);
    assert_eq!(
        ev(10)["result"]["sets"][0]["rows"]
            .as_array()
            .unwrap()
            .len(),
        5
    );

    assert_eq!(ev(11)["params"], serde_json::json!(["<binary 4 bytes>"]));
    assert_eq!(
        ev(12)["result"]["sets"][0],
        serde_json::json!({"columns": ["id"], "rows": [["\\x00000001"]]})
    );

    // The raw value is nowhere in the store's bytes.
    assert!(!store_bytes(&gw).contains(RAW_EMAIL));

    // The review's executed step has the outcome.
    gw.eventually("the review's outcome", || {
        gw.cli_ok(&[
            "review",
            "--api",
            &api,
            "--token",
            &bob,
            "show",
            &review.to_string(),
            "--json",
        ])
        .contains("ok, 1 rows")
    });

    // Replay shows the statement and the masked table.
    let replay = gw.cli_ok(&["sessions", "replay", &id]);
    assert!(
        replay.contains(&format!("shop=> SELECT id, email FROM {t}")),
        "{replay}"
    );
    assert!(replay.contains(&masked), "{replay}");
    assert!(!replay.contains(RAW_EMAIL), "{replay}");
    assert!(
        replay.contains("(result truncated: more rows than the recording keeps)"),
        "{replay}"
    );
    assert!(
        replay.contains("BLOCKED (block, rule no-destructive/drop)"),
        "{replay}"
    );

    let (ok, text) = verify(&gw, &["sessions", "verify", &id]);
    assert!(ok && text.contains("OK, 14 events"), "{text}");

    // Tampering with a response's rows in the store is found.
    let db = rusqlite::Connection::open(gw.store_path()).unwrap();
    let edited = db
        .execute(
            "UPDATE events SET doc = replace(doc, ?2, 'someone-else') \
             WHERE session_id = ?1 AND kind = 'response' AND seq = 1",
            rusqlite::params![&id, &masked],
        )
        .unwrap();
    assert_eq!(edited, 1);
    let (ok, text) = verify(&gw, &["sessions", "verify", &id]);
    assert!(!ok && text.contains("event 2 (response 1)"), "{text}");
    db.execute(
        "UPDATE events SET doc = replace(doc, 'someone-else', ?2) \
         WHERE session_id = ?1 AND kind = 'response' AND seq = 1",
        rusqlite::params![&id, &masked],
    )
    .unwrap();
    let (ok, text) = verify(&gw, &["sessions", "verify", &id]);
    assert!(ok, "restored: {text}");

    // And in the export file.
    let key = gw.cli_ok(&["keys", "show"]).trim().to_string();
    let file = gw.dir.path().join("export.json");
    let f = file.display().to_string();
    std::fs::write(&file, doc.to_string()).unwrap();
    let (ok, text) = verify(
        &gw,
        &["sessions", "verify", "--file", &f, "--public-key", &key],
    );
    assert!(ok, "{text}");
    let mut edited = doc.clone();
    edited["events"][2]["event"]["result"]["sets"][0]["rows"][0][1] = "someone-else".into();
    std::fs::write(&file, edited.to_string()).unwrap();
    let (ok, text) = verify(
        &gw,
        &["sessions", "verify", "--file", &f, "--public-key", &key],
    );
    assert!(!ok && text.contains("event 2 (response 1)"), "{text}");

    // The verdict filter sees request events.
    let blocked: Vec<Value> = serde_json::from_str(&gw.cli_ok(&[
        "sessions",
        "list",
        "--verdict",
        "block",
        "--format",
        "json",
    ]))
    .unwrap();
    assert_eq!(blocked.len(), 1);
    assert_eq!(blocked[0]["statements"], 6);
}

#[tokio::test(flavor = "multi_thread")]
async fn record_statements_keeps_no_rows_and_off_keeps_only_open_and_close() {
    let gw = start();
    let token = gw.token("demo");
    for connection in ["lite", "quiet"] {
        let client = connect(&gw.dsn(connection, "demo", &token)).await;
        client.simple_query("SELECT 'visible' AS v").await.unwrap();
        client
            .query("SELECT $1::text AS p", &[&"bound"])
            .await
            .unwrap();
        drop(client);
    }
    let lite = export(&gw, &closed_session(&gw, "lite"));
    assert_eq!(
        kinds(&lite),
        [
            "open",
            "request1",
            "response1",
            "request2",
            "response2",
            "close"
        ]
    );
    for e in lite["events"].as_array().unwrap() {
        assert!(e["event"].get("result").is_none(), "{e}");
    }
    // Bind parameters are on the request; tokio-postgres sends them in
    // binary format, recorded by size only.
    assert_eq!(
        lite["events"][3]["event"]["params"],
        serde_json::json!(["<binary 5 bytes>"])
    );
    assert_eq!(lite["events"][4]["event"]["rows"], 1);

    let quiet_id = closed_session(&gw, "quiet");
    let quiet = export(&gw, &quiet_id);
    assert_eq!(kinds(&quiet), ["open", "close"]);
    let (ok, text) = verify(&gw, &["sessions", "verify", &quiet_id]);
    assert!(ok, "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn strict_mode_has_every_statement_that_ran_on_record_across_kill_9() {
    let mut gw = start();
    let t = unique("strict");
    direct()
        .await
        .batch_execute(&format!("CREATE TABLE {t} (id int PRIMARY KEY)"))
        .await
        .unwrap();
    let token = gw.token("demo");
    let mut tasks = Vec::new();
    for worker in 0..4 {
        let client = connect(&gw.dsn("strict", "demo", &token)).await;
        let t = t.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..100_000 {
                let id = worker * 1_000_000 + i;
                if client
                    .simple_query(&format!("INSERT INTO {t} VALUES ({id})"))
                    .await
                    .is_err()
                {
                    break;
                }
            }
        }));
    }
    // Let the inserts run, then kill the gateway mid-stream.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let n: i64 = direct()
            .await
            .query_one(&format!("SELECT count(*) FROM {t}"), &[])
            .await
            .unwrap()
            .get(0);
        if n >= 200 || std::time::Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    gw.kill9();
    for task in tasks {
        let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
    }

    let ran: Vec<i32> = direct()
        .await
        .query(&format!("SELECT id FROM {t}"), &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(ran.len() >= 200, "{}", ran.len());
    let db = rusqlite::Connection::open(gw.store_path()).unwrap();
    let mut stmt = db
        .prepare("SELECT doc FROM events WHERE kind = 'request'")
        .unwrap();
    let recorded: std::collections::HashSet<String> = stmt
        .query_map([], |r| r.get::<_, String>(0))
        .unwrap()
        .map(|d| {
            let v: Value = serde_json::from_str(&d.unwrap()).unwrap();
            v["text"].as_str().unwrap().to_string()
        })
        .collect();
    let missing: Vec<i32> = ran
        .iter()
        .copied()
        .filter(|id| !recorded.contains(&format!("INSERT INTO {t} VALUES ({id})")))
        .collect();
    assert!(
        missing.is_empty(),
        "{} of {} inserts ran without their request on record: {missing:?}",
        missing.len(),
        ran.len()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn strict_mode_refuses_statements_while_the_store_cannot_be_written() {
    let gw = start();
    let t = unique("strictro");
    direct()
        .await
        .batch_execute(&format!("CREATE TABLE {t} (id int)"))
        .await
        .unwrap();
    let token = gw.token("demo");
    let client = connect(&gw.dsn("strict", "demo", &token)).await;
    client
        .simple_query(&format!("INSERT INTO {t} VALUES (1)"))
        .await
        .unwrap();

    // Another writer holds the store's write lock.
    let lock = rusqlite::Connection::open(gw.store_path()).unwrap();
    lock.busy_timeout(Duration::from_secs(5)).unwrap();
    lock.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let err = client
        .simple_query(&format!("INSERT INTO {t} VALUES (2)"))
        .await
        .unwrap_err();
    let db = err.as_db_error().unwrap_or_else(|| panic!("{err:?}"));
    assert_eq!(db.code().code(), "58030", "{db:?}");
    assert!(db.message().contains("session recording is unavailable"));
    let ids: Vec<i32> = direct()
        .await
        .query(&format!("SELECT id FROM {t} ORDER BY id"), &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(ids, [1], "the refused insert never reached the target");
    gw.eventually("the failure to be logged", || {
        gw.logs().contains("strict recording failed")
    });
    let metrics = http_get(&gw, "/metrics");
    assert!(
        metrics.contains("portcullis_recorder_strict_refusals_total 1"),
        "{metrics}"
    );
    lock.execute_batch("ROLLBACK").unwrap();

    // Once the store is back the refusal is audited and the session closed.
    gw.eventually("the refusal to be audited", || {
        gw.cli_ok(&["audit", "list", "--action", "recording.strict_refused"])
            .contains("recording.strict_refused")
    });
    let id = closed_session(&gw, "strict");
    let s = gw.session(&id);
    assert_eq!(s["session"]["reason"], "recording-unavailable", "{s}");
    let doc = export(&gw, &id);
    let last_response = doc["events"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .find(|e| e["event"]["kind"] == "response")
        .unwrap()["event"]
        .clone();
    assert_eq!(last_response["status"], "blocked", "{last_response}");
    let (ok, text) = verify(&gw, &["sessions", "verify", &id]);
    assert!(ok, "{text}");
}
