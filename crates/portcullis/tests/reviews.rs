//! Reviews end to end: statements held by a `review` rule wait for people
//! to approve them (through the API and the CLI), then run exactly as held,
//! once; rejections, timeouts, expiry, restarts and webhooks.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::mpsc;
use std::time::Duration;

use common::{Gateway, Options, connect, direct, unique};
use serde_json::Value;

/// Connections with review rules on UPDATE and DELETE: `wait` (default),
/// `async`, a two-approver policy, a short wait, and a short expiry.
fn config(webhooks: impl Fn(&str) -> String) -> String {
    let mut c = String::new();
    for (name, review) in [
        (
            "rv-wait",
            "reviewers = [\"dba\"]\ntimeout = \"60s\"".to_string(),
        ),
        (
            "rv-async",
            "mode = \"async\"\nreviewers = [\"dba\"]".to_string(),
        ),
        (
            "rv-two",
            "reviewers = [\"dba\"]\napprovals = 2\ntimeout = \"60s\"".to_string(),
        ),
        (
            "rv-short",
            "reviewers = [\"dba\"]\ntimeout = \"1s\"".to_string(),
        ),
        (
            "rv-expiry",
            "mode = \"async\"\nreviewers = [\"dba\"]\nexpires = \"1s\"".to_string(),
        ),
    ] {
        let policy = name.replace('-', "_");
        let webhook = webhooks(&policy);
        c.push_str(&format!(
            r#"
[[connection]]
name = "{name}"
kind = "postgres"
address = "127.0.0.1:5432"
database = "test"
user = "postgres"
tls = "disable"
policy = "{policy}"

[policy.{policy}]
[[policy.{policy}.rule]]
name = "changes"
action = "review"
command = ["UPDATE", "DELETE"]

[policy.{policy}.review]
{review}
{webhook}
"#
        ));
    }
    c.push_str(
        r#"
[[identity]]
name = "alice"
groups = ["developers"]

[[identity]]
name = "eve"
groups = ["developers"]

[[identity]]
name = "bob"
groups = ["dba"]

[[identity]]
name = "carol"
groups = ["dba"]

[[grant]]
group = "developers"
connections = ["rv-wait", "rv-async", "rv-two", "rv-short", "rv-expiry"]
"#,
    );
    c
}

fn start() -> Gateway {
    Gateway::start_with(Options {
        body: config(|_| String::new()),
        listen_extra: "api = \"127.0.0.1:0\"\n".into(),
        ..Options::default()
    })
}

/// A table with one row (id 1, n 0), created directly on the target.
async fn table() -> String {
    let name = unique("rv");
    direct()
        .await
        .batch_execute(&format!(
            "CREATE TABLE {name} (id int PRIMARY KEY, n int NOT NULL);
             INSERT INTO {name} VALUES (1, 0);"
        ))
        .await
        .unwrap();
    name
}

async fn n_of(table: &str) -> i32 {
    direct()
        .await
        .query_one(&format!("SELECT n FROM {table} WHERE id = 1"), &[])
        .await
        .unwrap()
        .get(0)
}

/// `portcullis review ...` as `token`'s holder against this gateway's API.
fn review(gw: &Gateway, token: &str, args: &[&str]) -> std::process::Output {
    let api = gw.api_url();
    let mut all = vec!["review", "--api", &api, "--token", token];
    all.extend_from_slice(args);
    gw.cli(&all)
}

fn review_json(gw: &Gateway, token: &str, args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.push("--json");
    let out = review(gw, token, &all);
    assert!(
        out.status.success(),
        "review {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Waits for a pending review whose statement contains `needle`; its id.
fn pending(gw: &Gateway, reviewer: &str, needle: &str) -> u64 {
    let mut found = None;
    gw.eventually("a pending review", || {
        let list = review_json(gw, reviewer, &["list"]);
        found = list["reviews"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["statement"].as_str().unwrap().contains(needle))
            .map(|r| r["id"].as_u64().unwrap());
        found.is_some()
    });
    found.unwrap()
}

fn dsn(gw: &Gateway, connection: &str, user: &str, token: &str) -> String {
    gw.dsn(connection, user, token)
}

#[tokio::test(flavor = "multi_thread")]
async fn wait_mode_approval_runs_the_held_statement_once() {
    let gw = start();
    let t = table().await;
    let alice = gw.token("alice");
    let bob = gw.token("bob");
    let sql = format!("UPDATE {t} SET n = n + 1 WHERE id = 1");
    let held = {
        let d = dsn(&gw, "rv-wait", "alice", &alice);
        let sql = sql.clone();
        std::thread::spawn(move || common::psql(&d, &["-v", "ON_ERROR_STOP=1", "-c", &sql]))
    };
    let id = pending(&gw, &bob, &t);
    // Not run while it waits.
    assert_eq!(n_of(&t).await, 0);

    // The reviewer sees what, who, where, which rule, and the planner's estimate.
    let mut shown = Value::Null;
    gw.eventually("the estimate", || {
        shown = review_json(&gw, &bob, &["show", &id.to_string()]);
        !shown["estimate"].is_null()
    });
    assert_eq!(shown["statement"], sql.as_str());
    assert_eq!(shown["identity"], "alice");
    assert_eq!(shown["connection"], "rv-wait");
    assert_eq!(shown["rule"], "rv_wait/changes");
    assert_eq!(shown["status"], "pending");
    assert_eq!(shown["you_may_decide"], true);
    assert!(
        shown["estimate"]
            .as_str()
            .unwrap()
            .starts_with("about 1 rows"),
        "{shown}"
    );
    let text = String::from_utf8(review(&gw, &bob, &["show", &id.to_string()]).stdout).unwrap();
    assert!(
        text.contains("requested by alice") && text.contains(&sql),
        "{text}"
    );
    // EXPLAIN planned it; nothing ran.
    assert_eq!(n_of(&t).await, 0);

    let approved = review(&gw, &bob, &["approve", &id.to_string()]);
    assert!(
        approved.status.success(),
        "{}",
        String::from_utf8_lossy(&approved.stderr)
    );
    let out = held.join().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(&format!("statement held for review {id}")),
        "the client is told at once: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("UPDATE 1"));
    assert_eq!(n_of(&t).await, 1, "ran exactly once");

    let mut done = Value::Null;
    gw.eventually("the outcome", || {
        done = review_json(&gw, &bob, &["show", &id.to_string()]);
        !done["outcome"].is_null()
    });
    assert_eq!(done["status"], "executed");
    assert_eq!(done["outcome"], "ok, 1 rows");
    assert_eq!(done["approvals"][0]["by"], "bob");

    // The session records the statement under its review, and the audit log the decision.
    let session = done["executed_session"].as_str().unwrap().to_string();
    gw.eventually("the recorded statement", || {
        let s = gw.session(&session);
        s["statements"].as_array().is_some_and(|st| {
            st.iter()
                .any(|x| x["review"].as_u64() == Some(id) && x["status"] == "ok")
        })
    });
    let audit = gw.cli_ok(&["audit", "list", "--action", "review."]);
    for action in ["review.request", "review.approve", "review.execute"] {
        assert!(audit.contains(action), "{audit}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn extended_protocol_runs_the_approved_parameters() {
    let gw = start();
    let t = table().await;
    let alice = gw.token("alice");
    let bob = gw.token("bob");
    let client = connect(&dsn(&gw, "rv-wait", "alice", &alice)).await;
    let sql = format!("UPDATE {t} SET n = n + $1 WHERE id = $2");
    let run = tokio::spawn(async move {
        let r = client.execute(sql.as_str(), &[&5i32, &1i32]).await;
        (client, r)
    });
    let id = pending(&gw, &bob, &t);
    let shown = review_json(&gw, &bob, &["show", &id.to_string()]);
    assert_eq!(shown["parameters"].as_array().unwrap().len(), 2, "{shown}");
    assert_eq!(n_of(&t).await, 0);
    assert!(
        review(&gw, &bob, &["approve", &id.to_string()])
            .status
            .success()
    );
    let (client, result) = run.await.unwrap();
    assert_eq!(result.unwrap(), 1);
    assert_eq!(n_of(&t).await, 5, "the approved parameters ran");
    // The prepared statement is still held for its next Bind: new parameters, new review.
    let sql = format!("UPDATE {t} SET n = n + $1 WHERE id = $2");
    let again = tokio::spawn(async move { client.execute(sql.as_str(), &[&7i32, &1i32]).await });
    let id2 = pending(&gw, &bob, &t);
    assert_ne!(id, id2);
    let reject = review(
        &gw,
        &bob,
        &["reject", &id2.to_string(), "--reason", "not now"],
    );
    assert!(reject.status.success());
    let err = again.await.unwrap().unwrap_err();
    let db = err.as_db_error().unwrap();
    assert_eq!(db.code().code(), "42501");
    assert!(
        db.message().contains("rejected by bob: not now"),
        "{}",
        db.message()
    );
    assert_eq!(n_of(&t).await, 5);
}

#[tokio::test(flavor = "multi_thread")]
async fn rejection_and_timeout_fail_the_statement_and_keep_the_session() {
    let gw = start();
    let t = table().await;
    let alice = gw.token("alice");
    let bob = gw.token("bob");
    let client = std::sync::Arc::new(connect(&dsn(&gw, "rv-wait", "alice", &alice)).await);
    let c = client.clone();
    let sql = format!("DELETE FROM {t}");
    let run = tokio::spawn(async move { c.simple_query(&sql).await });
    let id = pending(&gw, &bob, &t);
    let out = review(
        &gw,
        &bob,
        &["reject", &id.to_string(), "--reason", "deletes everything"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = run.await.unwrap().unwrap_err();
    let db = err.as_db_error().expect("a protocol error");
    assert_eq!(db.code().code(), "42501");
    assert!(
        db.message().contains("rejected by bob: deletes everything"),
        "{}",
        db.message()
    );
    // The session stays usable, and nothing ran.
    let rows = client.simple_query("SELECT 1").await.unwrap();
    assert!(!rows.is_empty());
    assert_eq!(n_of(&t).await, 0);
    // A decided review cannot be decided again.
    let again = review(&gw, &bob, &["approve", &id.to_string()]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("rejected"));

    // Timeout: the client gets a clean error, the review stays open.
    let short = connect(&dsn(&gw, "rv-short", "alice", &alice)).await;
    let err = short
        .simple_query(&format!("UPDATE {t} SET n = 9"))
        .await
        .unwrap_err();
    let db = err.as_db_error().unwrap();
    assert_eq!(db.code().code(), "42501");
    assert!(
        db.message().contains("was not decided within 1s"),
        "{}",
        db.message()
    );
    assert!(short.simple_query("SELECT 1").await.is_ok());
    let list = review_json(&gw, &bob, &["list"]);
    assert!(
        list["reviews"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["connection"] == "rv-short" && r["status"] == "pending"),
        "{list}"
    );
    assert_eq!(n_of(&t).await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn async_mode_runs_the_identical_statement_once_after_approval() {
    let gw = start();
    let t = table().await;
    let alice = gw.token("alice");
    let eve = gw.token("eve");
    let bob = gw.token("bob");
    let client = connect(&dsn(&gw, "rv-async", "alice", &alice)).await;
    let sql = format!("UPDATE {t} SET n = n + 1 WHERE id = 1");
    let err = client.simple_query(&sql).await.unwrap_err();
    let db = err.as_db_error().unwrap();
    assert_eq!(db.code().code(), "42501");
    let id: u64 = db
        .message()
        .strip_prefix("statement held for review ")
        .unwrap_or_else(|| panic!("{}", db.message()))
        .parse()
        .unwrap();
    assert!(
        db.hint()
            .unwrap()
            .contains(&format!("portcullis review approve {id}"))
    );
    // Re-sending before approval asks again (a new review), and runs nothing.
    let err = client.simple_query(&sql).await.unwrap_err();
    assert!(
        err.as_db_error()
            .unwrap()
            .message()
            .starts_with("statement held for review ")
    );
    assert_eq!(n_of(&t).await, 0);

    assert!(
        review(&gw, &bob, &["approve", &id.to_string()])
            .status
            .success()
    );
    // Another identity, or other text, is held again; the approval survives that.
    let eves = connect(&dsn(&gw, "rv-async", "eve", &eve)).await;
    assert!(eves.simple_query(&sql).await.is_err());
    let changed = format!("UPDATE {t} SET n = n + 1 WHERE id = 1 ");
    assert!(client.simple_query(&changed).await.is_err());
    assert_eq!(n_of(&t).await, 0);
    // The identical statement runs, once.
    client.simple_query(&sql).await.unwrap();
    assert_eq!(n_of(&t).await, 1);
    let err = client.simple_query(&sql).await.unwrap_err();
    assert!(
        err.as_db_error()
            .unwrap()
            .message()
            .starts_with("statement held for review ")
    );
    assert_eq!(n_of(&t).await, 1);

    // Parameters are bound too: approve one set, send another.
    let p = format!("UPDATE {t} SET n = n + $1 WHERE id = 1");
    let err = client.execute(p.as_str(), &[&10i32]).await.unwrap_err();
    let msg = err.as_db_error().unwrap().message().to_string();
    let pid: u64 = msg
        .strip_prefix("statement held for review ")
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        review(&gw, &bob, &["approve", &pid.to_string()])
            .status
            .success()
    );
    assert!(client.execute(p.as_str(), &[&11i32]).await.is_err());
    assert_eq!(n_of(&t).await, 1);
    assert_eq!(client.execute(p.as_str(), &[&10i32]).await.unwrap(), 1);
    assert_eq!(n_of(&t).await, 11);
}

#[tokio::test(flavor = "multi_thread")]
async fn reviewers_are_checked_and_approvals_counted() {
    let gw = start();
    let t = table().await;
    let alice = gw.token("alice");
    let eve = gw.token("eve");
    let bob = gw.token("bob");
    let carol = gw.token("carol");
    let client = connect(&dsn(&gw, "rv-two", "alice", &alice)).await;
    let sql = format!("UPDATE {t} SET n = 42");
    let run = tokio::spawn(async move { client.simple_query(&sql).await });
    let id = pending(&gw, &bob, &t).to_string();

    // The requester never approves their own statement; non-reviewers cannot decide.
    let own = review(&gw, &alice, &["approve", &id]);
    assert!(!own.status.success());
    let eves = review(&gw, &eve, &["approve", &id]);
    assert!(!eves.status.success());
    assert!(
        String::from_utf8_lossy(&eves.stderr).contains("not found"),
        "invisible to non-reviewers"
    );
    let bad = review(&gw, "pcl_0000000000000000_00", &["list"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("authentication required"));
    // Requesters see their own reviews, and that they cannot decide them.
    let mine = review_json(&gw, &alice, &["show", &id]);
    assert_eq!(mine["you_may_decide"], false);
    let own_err = String::from_utf8_lossy(&own.stderr).to_string();
    assert!(own_err.contains("your own statement"), "{own_err}");

    // Two approvals needed: one is not enough, the same reviewer twice does not count.
    assert!(review(&gw, &bob, &["approve", &id]).status.success());
    assert!(!review(&gw, &bob, &["approve", &id]).status.success());
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(n_of(&t).await, 0);
    assert!(!run.is_finished());
    assert!(review(&gw, &carol, &["approve", &id]).status.success());
    run.await.unwrap().unwrap();
    assert_eq!(n_of(&t).await, 42);
}

#[tokio::test(flavor = "multi_thread")]
async fn expired_reviews_cannot_be_approved() {
    let gw = start();
    let t = table().await;
    let alice = gw.token("alice");
    let bob = gw.token("bob");
    let client = connect(&dsn(&gw, "rv-expiry", "alice", &alice)).await;
    let sql = format!("UPDATE {t} SET n = 1");
    let err = client.simple_query(&sql).await.unwrap_err();
    let msg = err.as_db_error().unwrap().message().to_string();
    let id = msg
        .strip_prefix("statement held for review ")
        .unwrap()
        .to_string();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let out = review(&gw, &bob, &["approve", &id]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("expired"));
    assert!(client.simple_query(&sql).await.is_err());
    assert_eq!(n_of(&t).await, 0);
    let shown = review_json(&gw, &bob, &["show", &id]);
    assert_eq!(shown["status"], "expired");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_restart_during_a_wait_fails_cleanly_and_the_review_survives() {
    let mut gw = start();
    let t = table().await;
    let alice = gw.token("alice");
    let bob = gw.token("bob");
    let client = connect(&dsn(&gw, "rv-wait", "alice", &alice)).await;
    let sql = format!("UPDATE {t} SET n = n + 1 WHERE id = 1");
    let s = sql.clone();
    let run = tokio::spawn(async move { client.simple_query(&s).await });
    let id = pending(&gw, &bob, &t).to_string();
    gw.restart();
    let err = run.await.unwrap().unwrap_err();
    let db = err
        .as_db_error()
        .expect("a clean protocol error, not a dropped socket");
    assert_eq!(db.code().code(), "57P01");
    gw.eventually("the API after restart", || {
        gw.logs().matches("API listener ready").count() == 2
    });
    assert_eq!(review_json(&gw, &bob, &["show", &id])["status"], "pending");
    assert!(review(&gw, &bob, &["approve", &id]).status.success());
    // The approval is used by the identical statement on a new session.
    let client = connect(&dsn(&gw, "rv-wait", "alice", &alice)).await;
    client.simple_query(&sql).await.unwrap();
    assert_eq!(n_of(&t).await, 1);
}

/// A local HTTP receiver: answers every request with `status`, hands bodies out.
fn receiver(status: u16) -> (String, mpsc::Receiver<Value>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut length = 0usize;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                    break;
                }
                let lower = line.to_ascii_lowercase();
                if let Some(v) = lower.strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
                if line == "\r\n" {
                    break;
                }
            }
            let mut body = vec![0u8; length];
            let _ = reader.read_exact(&mut body);
            let _ = write!(
                stream,
                "HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
            );
            if let Ok(v) = serde_json::from_slice(&body) {
                let _ = tx.send(v);
            }
        }
    });
    (url, rx)
}

#[tokio::test(flavor = "multi_thread")]
async fn webhooks_carry_escaped_payloads_and_failures_never_block() {
    let (json_url, json_rx) = receiver(200);
    let (slack_url, slack_rx) = receiver(200);
    let (failing_url, failing_rx) = receiver(500);
    let body = config(|p| {
        format!(
            "[[policy.{p}.review.webhook]]\nurl = \"{json_url}\"\n\n[[policy.{p}.review.webhook]]\nurl = \"{slack_url}\"\nformat = \"slack\"\n\n[[policy.{p}.review.webhook]]\nurl = \"{failing_url}\"\n"
        )
    });
    let gw = Gateway::start_with(Options {
        body,
        listen_extra: "api = \"127.0.0.1:0\"\n".into(),
        ..Options::default()
    });
    let t = table().await;
    let alice = gw.token("alice");
    let bob = gw.token("bob");
    let client = connect(&dsn(&gw, "rv-async", "alice", &alice)).await;
    let hostile = format!(
        "UPDATE {t} SET n = 1 WHERE 'x' <> '``` <!channel> <https://evil.example|click> *now*'"
    );
    let err = client.simple_query(&hostile).await.unwrap_err();
    assert!(
        err.as_db_error()
            .unwrap()
            .message()
            .starts_with("statement held for review")
    );

    let requested = json_rx.recv_timeout(Duration::from_secs(10)).unwrap();
    assert_eq!(requested["event"], "review.requested");
    assert_eq!(requested["review"]["statement"], hostile.as_str());
    assert_eq!(requested["review"]["identity"], "alice");
    let id = requested["review"]["id"].as_u64().unwrap();
    let slack = slack_rx.recv_timeout(Duration::from_secs(10)).unwrap();
    let text = slack["text"].as_str().unwrap();
    assert_eq!(
        text.matches("```").count(),
        2,
        "only the gateway's code block: {text}"
    );
    assert!(!text.contains('<') && !text.contains('>'), "{text}");
    assert!(text.contains("&lt;!channel&gt;"), "{text}");
    // No credential of any kind in the payloads.
    for payload in [&requested, &slack] {
        let s = payload.to_string();
        assert!(!s.contains(&alice) && !s.contains("pcl_"), "{s}");
    }
    // The failing hook is retried; the review is decided meanwhile, undisturbed.
    assert!(
        review(&gw, &bob, &["approve", &id.to_string()])
            .status
            .success()
    );
    let approved = json_rx.recv_timeout(Duration::from_secs(10)).unwrap();
    assert_eq!(approved["event"], "review.approved");
    let mut attempts = 0;
    while failing_rx.recv_timeout(Duration::from_secs(5)).is_ok() {
        attempts += 1;
        if attempts >= 3 {
            break;
        }
    }
    assert!(
        attempts >= 3,
        "a failing webhook is retried (got {attempts} attempts)"
    );
    gw.eventually("the failure logged", || {
        gw.logs().contains("webhook delivery failed")
    });
    client.simple_query(&hostile).await.unwrap();
    assert_eq!(n_of(&t).await, 1);
}
