//! Real drivers through the gateway: tokio-postgres (extended protocol,
//! prepared statements, binary format, cancel, LISTEN/NOTIFY), psql (simple
//! protocol, COPY, \copy), psycopg and node-postgres.

mod common;

use std::process::Command;
use std::time::Duration;

use common::{Gateway, connect, direct, psql_ok, repo_root, unique};

#[tokio::test]
async fn tokio_postgres_extended_protocol_and_binary_results() {
    let gw = Gateway::start();
    let token = gw.token("demo");
    let c = connect(&gw.dsn("demo", "demo", &token)).await;
    let table = unique("ext");
    c.batch_execute(&format!(
        "CREATE TABLE {table} (id int8 PRIMARY KEY, name text, score float8, tags text[], payload bytea, doc jsonb, at timestamptz)"
    ))
    .await
    .unwrap();

    // Named prepared statement reused with different binary parameters.
    let insert = c
        .prepare(&format!(
            "INSERT INTO {table} VALUES ($1, $2, $3, $4, $5, $6, now())"
        ))
        .await
        .unwrap();
    for i in 0..50i64 {
        let tags = vec![format!("t{i}"), "common".to_string()];
        let payload = vec![i as u8; 300];
        let doc = serde_json::json!({ "i": i, "nested": { "even": i % 2 == 0 } });
        let n = c
            .execute(
                &insert,
                &[
                    &i,
                    &format!("name {i}"),
                    &(i as f64 / 3.0),
                    &tags,
                    &payload,
                    &doc,
                ],
            )
            .await
            .unwrap();
        assert_eq!(n, 1);
    }
    // Binary-format results decode to the same values.
    let rows = c
        .query(
            &format!(
                "SELECT id, name, score, tags, payload, doc FROM {table} WHERE id >= $1 ORDER BY id"
            ),
            &[&45i64],
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 5);
    let id: i64 = rows[0].get(0);
    let tags: Vec<String> = rows[0].get(3);
    let payload: Vec<u8> = rows[0].get(4);
    let doc: serde_json::Value = rows[0].get(5);
    assert_eq!(id, 45);
    assert_eq!(tags, vec!["t45".to_string(), "common".to_string()]);
    assert_eq!(payload, vec![45u8; 300]);
    assert_eq!(doc["nested"]["even"], false);
    let score: f64 = rows[0].get(2);
    assert!((score - 15.0).abs() < 1e-9);

    // Errors in the extended protocol leave the session usable.
    let err = c.query("SELECT 1/0", &[]).await.unwrap_err();
    assert_eq!(err.code().unwrap().code(), "22012");
    let row = c
        .query_one("SELECT $1::text || '!'", &[&"still"])
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "still!");

    // Transactions with savepoints through the extended protocol.
    let mut c2 = connect(&gw.dsn("demo", "demo", &token)).await;
    let tx = c2.transaction().await.unwrap();
    tx.execute(&format!("DELETE FROM {table} WHERE id < 10"), &[])
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    let n: i64 = c
        .query_one(&format!("SELECT count(*) FROM {table}"), &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 50);

    // Portals with a row limit (PortalSuspended) via a cursor-style query.
    let tx = c2.transaction().await.unwrap();
    let portal = tx
        .bind(&format!("SELECT id FROM {table} ORDER BY id"), &[])
        .await
        .unwrap();
    let first = tx.query_portal(&portal, 20).await.unwrap();
    let second = tx.query_portal(&portal, 100).await.unwrap();
    assert_eq!((first.len(), second.len()), (20, 30));
    tx.commit().await.unwrap();

    direct()
        .await
        .batch_execute(&format!("DROP TABLE {table}"))
        .await
        .unwrap();
}

#[tokio::test]
async fn cancel_reaches_the_right_backend() {
    let gw = Gateway::start();
    let token = gw.token("demo");
    let c = connect(&gw.dsn("demo", "demo", &token)).await;
    let bystander = connect(&gw.dsn("demo", "demo", &token)).await;
    let cancel = c.cancel_token();
    let running = tokio::spawn(async move { c.simple_query("SELECT pg_sleep(30)").await });
    tokio::time::sleep(Duration::from_millis(500)).await;
    let bystander_sleep = tokio::spawn(async move {
        bystander
            .simple_query("SELECT pg_sleep(1)")
            .await
            .map(|_| ())
    });
    cancel.cancel_query(tokio_postgres::NoTls).await.unwrap();
    let err = running.await.unwrap().unwrap_err();
    assert_eq!(err.code().unwrap().code(), "57014", "query_canceled");
    // The other session's query was not cancelled.
    bystander_sleep
        .await
        .unwrap()
        .expect("bystander unaffected");
}

#[tokio::test]
async fn listen_notify_pass_through() {
    let gw = Gateway::start();
    let token = gw.token("demo");
    let (client, conn) =
        tokio_postgres::connect(&gw.dsn("demo", "demo", &token), tokio_postgres::NoTls)
            .await
            .unwrap();
    let mut rx = drive(conn);
    let channel = unique("chan");
    client
        .batch_execute(&format!("LISTEN {channel}"))
        .await
        .unwrap();
    direct()
        .await
        .batch_execute(&format!("NOTIFY {channel}, 'hello from outside'"))
        .await
        .unwrap();
    let got = tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got, format!("notification {channel}: hello from outside"));
    // Notices pass through as well.
    client
        .batch_execute("DO $$ BEGIN RAISE NOTICE 'a notice'; END $$")
        .await
        .unwrap();
    let got = tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got, "notice: a notice");
}

/// Drives a tokio-postgres connection, forwarding notifications and notices.
fn drive(
    mut conn: tokio_postgres::Connection<tokio_postgres::Socket, tokio_postgres::tls::NoTlsStream>,
) -> tokio::sync::mpsc::UnboundedReceiver<String> {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            match std::future::poll_fn(|cx| conn.poll_message(cx)).await {
                Some(Ok(tokio_postgres::AsyncMessage::Notification(n))) => {
                    let _ = tx.send(format!("notification {}: {}", n.channel(), n.payload()));
                }
                Some(Ok(tokio_postgres::AsyncMessage::Notice(n))) => {
                    let _ = tx.send(format!("notice: {}", n.message()));
                }
                Some(Ok(_)) => {}
                _ => break,
            }
        }
    });
    rx
}

#[test]
fn psql_simple_protocol_copy_and_backslash_copy() {
    let gw = Gateway::start();
    let token = gw.token("demo");
    let dsn = gw.dsn("demo", "demo", &token);
    let table = unique("pcopy");
    psql_ok(
        &dsn,
        &["-c", &format!("CREATE TABLE {table} (id int, label text)")],
    );
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.csv");
    let mut csv = String::new();
    for i in 0..10_000 {
        csv.push_str(&format!("{i},\"label, {i}\"\n"));
    }
    std::fs::write(&input, &csv).unwrap();
    // \copy streams the file from the client through COPY FROM STDIN.
    let out = psql_ok(
        &dsn,
        &[
            "-c",
            &format!(
                "\\copy {table} FROM '{}' WITH (FORMAT csv)",
                input.display()
            ),
        ],
    );
    assert!(out.contains("COPY 10000"), "{out}");
    // ...and back out through COPY TO STDOUT.
    let output = dir.path().join("out.csv");
    psql_ok(
        &dsn,
        &[
            "-c",
            &format!(
                "\\copy (SELECT * FROM {table} ORDER BY id) TO '{}' WITH (FORMAT csv)",
                output.display()
            ),
        ],
    );
    assert_eq!(std::fs::read_to_string(&output).unwrap(), csv);
    // COPY TO STDOUT through the gateway equals direct.
    let q = format!("COPY (SELECT * FROM {table} ORDER BY id) TO STDOUT");
    assert_eq!(
        psql_ok(&dsn, &["-c", &q]),
        psql_ok(&common::direct_dsn(), &["-c", &q])
    );
    let r = psql_ok(
        &dsn,
        &["-At", "-c", &format!("SELECT count(*) FROM {table}")],
    );
    assert_eq!(r.trim(), "10000");
    psql_ok(
        &common::direct_dsn(),
        &["-c", &format!("DROP TABLE {table}")],
    );
}

fn run_script(program: &str, args: &[&str], envs: &[(&str, String)]) -> String {
    let mut cmd = Command::new(program);
    cmd.args(args).current_dir(repo_root());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("run {program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?} failed:\nstdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn psycopg_through_the_gateway() {
    let gw = Gateway::start();
    let token = gw.token("demo");
    let out = run_script(
        "python3",
        &["tests/clients/python/psycopg_client.py"],
        &[
            ("PC_DSN", gw.dsn("demo", "demo", &token)),
            ("PC_TABLE", unique("psy")),
        ],
    );
    assert!(out.contains("psycopg ok"), "{out}");
}

#[test]
fn node_postgres_through_the_gateway() {
    let gw = Gateway::start();
    let token = gw.token("demo");
    let out = run_script(
        "node",
        &["tests/clients/node/client.js"],
        &[
            ("PC_PORT", gw.port().to_string()),
            ("PC_TOKEN", token),
            ("PC_TABLE", unique("node")),
        ],
    );
    assert!(out.contains("node-postgres ok"), "{out}");
}
