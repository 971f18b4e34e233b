//! Guardrails end to end: refused statements never reach PostgreSQL, the
//! session goes on, transactions end up exactly as PostgreSQL leaves them,
//! and every verdict is recorded.

mod common;

use common::raw::{self, RawConn};
use common::{Gateway, Options, direct, psql, psql_ok, unique};

fn gateway() -> Gateway {
    let mut body = common::default_config();
    for (name, policy) in [
        ("guarded", "no-destructive"),
        ("ro", "read-only"),
        ("prod", "production"),
        ("watch", "watch"),
    ] {
        body.push_str(&format!(
            "[[connection]]\nname = \"{name}\"\nkind = \"postgres\"\naddress = \"127.0.0.1:5432\"\ndatabase = \"test\"\nuser = \"postgres\"\ntls = \"disable\"\npolicy = \"{policy}\"\n\n[[grant]]\nidentity = \"demo\"\nconnections = [\"{name}\"]\n\n"
        ));
    }
    body.push_str("[policy.watch]\npresets = [\"no-destructive\"]\nmode = \"observe\"\n");
    Gateway::start_with(Options {
        body,
        ..Default::default()
    })
}

/// A table with three rows, created directly on the target.
async fn seeded() -> String {
    let t = unique("guard");
    direct()
        .await
        .batch_execute(&format!(
            "CREATE TABLE {t} (id int PRIMARY KEY, v text); INSERT INTO {t} VALUES (1, 'a'), (2, 'b'), (3, 'c')"
        ))
        .await
        .unwrap();
    t
}

async fn rows(table: &str) -> i64 {
    direct()
        .await
        .query_one(&format!("SELECT count(*) FROM {table}"), &[])
        .await
        .unwrap_or_else(|e| panic!("{table} is gone: {e}"))
        .get(0)
}

fn error_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[tokio::test]
async fn destructive_statements_never_reach_postgres() {
    let gw = gateway();
    let token = gw.token("demo");
    let t = seeded().await;
    let dsn = gw.dsn("guarded", "demo", &token);
    let attempts = [
        format!("DROP TABLE {t}"),
        format!("drop /* sneaky */ table {t}"),
        format!("TRUNCATE {t}"),
        format!("DELETE FROM {t}"),
        format!("UPDATE {t} SET v = 'x' WHERE 1 = 1"),
        format!("WITH gone AS (DELETE FROM {t} RETURNING *) SELECT count(*) FROM gone"),
        format!("SELECT 1; DROP TABLE {t}"),
        format!("EXPLAIN ANALYZE DELETE FROM {t}"),
        format!("DO $$ BEGIN EXECUTE 'DROP TABLE {t}'; END $$"),
        format!("DROP TABLE \"{t}\""),
    ];
    for sql in &attempts {
        let out = psql(&dsn, &["-c", sql]);
        assert!(!out.status.success(), "{sql} ran");
        let err = error_of(&out);
        assert!(
            err.contains("blocked by guardrail \"no-destructive/"),
            "{sql}: {err}"
        );
        assert!(err.contains("on connection guarded"), "{err}");
    }
    assert_eq!(rows(&t).await, 3, "table intact, rows unchanged");
    // Benign statements pass, including ones mentioning delete.
    let ok = psql_ok(
        &dsn,
        &[
            "-At",
            "-c",
            &format!("SELECT 'delete from {t}' AS delete FROM {t} WHERE id = 1"),
        ],
    );
    assert!(ok.starts_with("delete from"), "{ok}");
    psql_ok(
        &dsn,
        &["-c", &format!("UPDATE {t} SET v = 'z' WHERE id = 2")],
    );
    // The SQLSTATE is 42501.
    let mut c = RawConn::connect(gw.port(), "demo", "guarded", Some(&token)).unwrap();
    let reply = c.query(&format!("DROP TABLE {t}"));
    let (code, msg) = raw::error_fields(&reply[0].1);
    assert_eq!(code, "42501");
    assert_eq!(
        msg,
        "blocked by guardrail \"no-destructive/drop\" on connection guarded"
    );
    assert_eq!(
        reply.last().unwrap(),
        &(b'Z', b"I".to_vec()),
        "session ready again"
    );
    direct()
        .await
        .batch_execute(&format!("DROP TABLE {t}"))
        .await
        .unwrap();
}

#[tokio::test]
async fn multi_statement_queries_run_all_or_nothing() {
    let gw = gateway();
    let token = gw.token("demo");
    let t = seeded().await;
    let mut c = RawConn::connect(gw.port(), "demo", "guarded", Some(&token)).unwrap();
    let reply = c.query(&format!(
        "INSERT INTO {t} VALUES (4, 'd'); DELETE FROM {t}; INSERT INTO {t} VALUES (5, 'e')"
    ));
    assert_eq!(reply.len(), 2, "one error, then ReadyForQuery: {reply:?}");
    assert_eq!(reply[0].0, b'E');
    assert_eq!(rows(&t).await, 3, "not even the first INSERT ran");
    direct()
        .await
        .batch_execute(&format!("DROP TABLE {t}"))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_refused_statement_fails_the_transaction_like_postgres() {
    let gw = gateway();
    let token = gw.token("demo");
    let t = seeded().await;
    let mut c = RawConn::connect(gw.port(), "demo", "guarded", Some(&token)).unwrap();
    assert_eq!(c.query("BEGIN").last().unwrap().1, b"T");
    c.query(&format!("INSERT INTO {t} VALUES (10, 'in tx')"));
    let reply = c.query(&format!("TRUNCATE {t}"));
    assert_eq!(raw::error_fields(&reply[0].1).0, "42501");
    assert_eq!(
        reply.last().unwrap().1,
        b"E",
        "transaction failed, as PostgreSQL would leave it"
    );
    let reply = c.query("SELECT 1");
    assert_eq!(
        raw::error_fields(&reply[0].1).0,
        "25P02",
        "in failed transaction"
    );
    let reply = c.query("COMMIT");
    assert!(
        reply
            .iter()
            .any(|(t, b)| *t == b'C' && b.starts_with(b"ROLLBACK")),
        "COMMIT of a failed transaction rolls back"
    );
    assert_eq!(reply.last().unwrap().1, b"I");
    assert_eq!(rows(&t).await, 3, "the INSERT was rolled back");
    // Still usable afterwards.
    let reply = c.query(&format!("SELECT count(*) FROM {t}"));
    assert!(reply.iter().any(|(t, b)| *t == b'D' && b.ends_with(b"3")));
    direct()
        .await
        .batch_execute(&format!("DROP TABLE {t}"))
        .await
        .unwrap();
}

#[tokio::test]
async fn extended_protocol_and_prepared_statements_are_guarded() {
    let gw = gateway();
    let token = gw.token("demo");
    let t = seeded().await;
    let c = common::connect(&gw.dsn("guarded", "demo", &token)).await;
    // Parse of a destructive statement is refused; the verdict binds to it.
    let err = c.prepare(&format!("DELETE FROM {t}")).await.unwrap_err();
    assert_eq!(err.code().unwrap().code(), "42501");
    let msg = err.as_db_error().unwrap().message().to_string();
    assert!(msg.contains("no-destructive/no-where"), "{msg}");
    let err = c
        .execute(
            &format!("UPDATE {t} SET v = $1 WHERE $2 OR true"),
            &[&"x", &true],
        )
        .await
        .unwrap_err();
    assert_eq!(err.code().unwrap().code(), "42501");
    // Allowed prepared statements run with parameters.
    let n = c
        .execute(
            &format!("UPDATE {t} SET v = $1 WHERE id = $2"),
            &[&"y", &1i32],
        )
        .await
        .unwrap();
    assert_eq!(n, 1);
    // SQL-level PREPARE/EXECUTE: the EXECUTE is judged as what it runs.
    c.batch_execute(&format!("PREPARE ok AS SELECT * FROM {t} WHERE id = $1"))
        .await
        .unwrap();
    assert_eq!(c.simple_query("EXECUTE ok(2)").await.unwrap().len(), 3);
    let err = c
        .batch_execute(&format!("PREPARE bad AS DELETE FROM {t}"))
        .await
        .unwrap_err();
    assert_eq!(err.code().unwrap().code(), "42501");
    let err = c.batch_execute("EXECUTE bad").await.unwrap_err();
    assert_eq!(
        err.code().unwrap().code(),
        "42501",
        "unknown EXECUTE is opaque: {err}"
    );
    // The session goes on.
    let n: i64 = c
        .query_one(&format!("SELECT count(*) FROM {t}"), &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 3);
    assert_eq!(rows(&t).await, 3);
    direct()
        .await
        .batch_execute(&format!("DROP TABLE {t}"))
        .await
        .unwrap();
}

#[tokio::test]
async fn read_only_blocks_writes_copy_and_function_calls() {
    let gw = gateway();
    let token = gw.token("demo");
    let t = seeded().await;
    let dsn = gw.dsn("ro", "demo", &token);
    for sql in [
        format!("INSERT INTO {t} VALUES (9, 'w')"),
        format!("UPDATE {t} SET v = 'w' WHERE id = 1"),
        format!("COPY {t} FROM STDIN"),
        format!("SELECT * INTO {t}_copy FROM {t}"),
        format!("CREATE TABLE {t}_new (a int)"),
        "SELECT nextval('no_such_seq')".to_string(),
    ] {
        let out = psql(&dsn, &["-c", &sql]);
        assert!(!out.status.success(), "{sql} ran under read-only");
        assert!(
            error_of(&out).contains("read-only/"),
            "{sql}: {}",
            error_of(&out)
        );
    }
    psql_ok(&dsn, &["-c", &format!("SELECT * FROM {t}")]);
    // FunctionCall (by OID) cannot be judged: refused on guarded connections.
    let mut c = RawConn::connect(gw.port(), "demo", "ro", Some(&token)).unwrap();
    let mut body = 1598i32.to_be_bytes().to_vec(); // pg_catalog.random()
    body.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
    c.send(&raw::frame(b'F', &body));
    let reply = c.until_ready();
    assert_eq!(raw::error_fields(&reply[0].1).0, "42501", "{reply:?}");
    assert_eq!(rows(&t).await, 3);
    direct()
        .await
        .batch_execute(&format!("DROP TABLE {t}"))
        .await
        .unwrap();
}

#[test]
fn startup_options_are_guarded() {
    let gw = gateway();
    let token = gw.token("demo");
    let base = format!(
        "host=127.0.0.1 port={} user=demo password={token} sslmode=disable",
        gw.port()
    );
    let out = psql(
        &format!("{base} dbname=guarded options='-c session_replication_role=replica'"),
        &["-c", "SELECT 1"],
    );
    assert!(!out.status.success());
    assert!(
        error_of(&out).contains("blocked by guardrail"),
        "{}",
        error_of(&out)
    );
    // Harmless settings pass and take effect.
    let out = psql_ok(
        &format!("{base} dbname=guarded options='-c statement_timeout=1234'"),
        &["-At", "-c", "SHOW statement_timeout"],
    );
    assert_eq!(out.trim(), "1234ms");
    // On an allow-all connection anything goes.
    let out = psql_ok(
        &format!("{base} dbname=demo options='-c session_replication_role=replica'"),
        &["-At", "-c", "SHOW session_replication_role"],
    );
    assert_eq!(out.trim(), "replica");
}

#[tokio::test]
async fn production_holds_ddl_for_review_and_observe_mode_lets_through() {
    let gw = gateway();
    let token = gw.token("demo");
    let t = seeded().await;
    // Asking for async review: the client is told at once instead of waiting.
    let out = psql(
        &format!(
            "{} options='-c portcullis.review_mode=async'",
            gw.dsn("prod", "demo", &token)
        ),
        &["-c", &format!("ALTER TABLE {t} ADD COLUMN extra int")],
    );
    assert!(!out.status.success());
    assert!(
        error_of(&out).contains("statement held for review"),
        "{}",
        error_of(&out)
    );
    // Observe mode: the DELETE runs, and the record says what would have happened.
    let out = psql_ok(
        &gw.dsn("watch", "demo", &token),
        &["-c", &format!("DELETE FROM {t}")],
    );
    assert!(out.contains("DELETE 3"), "{out}");
    assert_eq!(rows(&t).await, 0);
    gw.eventually("the sessions to be recorded", || {
        gw.sessions()
            .iter()
            .filter(|s| s["ended_at"].is_i64())
            .count()
            >= 2
    });
    let sessions = gw.sessions();
    let find = |conn: &str| {
        let s = sessions.iter().find(|s| s["connection"] == conn).unwrap();
        assert!(s["policy_version"].is_string());
        gw.session(s["session_id"].as_str().unwrap())["statements"][0].clone()
    };
    let held = find("prod");
    assert_eq!(held["status"], "blocked");
    assert_eq!(held["verdict"], "review");
    assert!(held["rule"].as_str().unwrap().starts_with("production/"));
    let watched = find("watch");
    assert_eq!(watched["status"], "ok");
    assert_eq!(watched["verdict"], "allow");
    assert_eq!(watched["observed"], true);
    assert_eq!(watched["rule"], "no-destructive/no-where");
    direct()
        .await
        .batch_execute(&format!("DROP TABLE {t}"))
        .await
        .unwrap();
}

fn parse(name: &str, sql: &str) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(name.as_bytes());
    b.push(0);
    b.extend_from_slice(sql.as_bytes());
    b.push(0);
    b.extend_from_slice(&0i16.to_be_bytes());
    raw::frame(b'P', &b)
}

fn bind_execute(statement: &str) -> Vec<u8> {
    let mut b = vec![0u8]; // unnamed portal
    b.extend_from_slice(statement.as_bytes());
    b.push(0);
    b.extend_from_slice(&[0, 0, 0, 0, 0, 0]); // no formats, no parameters, no result formats
    let mut out = raw::frame(b'B', &b);
    out.extend_from_slice(&raw::frame(b'E', &[0, 0, 0, 0, 0]));
    out
}

#[tokio::test]
async fn a_refused_parse_in_a_pipeline_behaves_like_a_failing_one() {
    let gw = gateway();
    let token = gw.token("demo");
    let t = seeded().await;
    let mut c = RawConn::connect(gw.port(), "demo", "guarded", Some(&token)).unwrap();
    // One implicit transaction up to Sync: an INSERT, then a refused DELETE,
    // then a SELECT the server must skip.
    let mut pipeline = parse("ins", &format!("INSERT INTO {t} VALUES (7, 'pipelined')"));
    pipeline.extend(bind_execute("ins"));
    pipeline.extend(parse("del", &format!("DELETE FROM {t}")));
    pipeline.extend(bind_execute("del"));
    pipeline.extend(parse("", "SELECT 1"));
    pipeline.extend(bind_execute(""));
    pipeline.extend(raw::frame(b'S', b""));
    c.send(&pipeline);
    let reply = c.until_ready();
    let tags: Vec<char> = reply.iter().map(|(t, _)| *t as char).collect();
    assert_eq!(tags, vec!['1', '2', 'C', 'E', 'Z'], "{reply:?}");
    let (code, msg) = raw::error_fields(&reply[3].1);
    assert_eq!(code, "42501");
    assert!(msg.contains("no-destructive/no-where"), "{msg}");
    assert_eq!(reply[4].1, b"I");
    // As with any error in an implicit transaction, the INSERT rolled back.
    assert_eq!(rows(&t).await, 3);
    // The refused statement was never prepared; the allowed one was.
    c.send(&bind_execute("del"));
    c.send(&raw::frame(b'S', b""));
    let reply = c.until_ready();
    assert_eq!(
        raw::error_fields(&reply[0].1).0,
        "26000",
        "prepared statement \"del\" does not exist"
    );
    c.send(&bind_execute("ins"));
    c.send(&raw::frame(b'S', b""));
    let reply = c.until_ready();
    assert!(
        reply
            .iter()
            .any(|(t, b)| *t == b'C' && b.starts_with(b"INSERT 0 1")),
        "{reply:?}"
    );
    assert_eq!(rows(&t).await, 4);
    direct()
        .await
        .batch_execute(&format!("DROP TABLE {t}"))
        .await
        .unwrap();
}

/// A rule on `SCHEMA.payments` cannot be sidestepped by moving the
/// search_path so that an unqualified `payments` resolves to it, whether by
/// `SET`, `set_config`, or a startup option; the same table in `public`
/// stays writable while the path is the default.
#[tokio::test]
async fn a_search_path_change_does_not_sidestep_a_schema_rule() {
    let schema = unique("billing");
    let table = unique("payments");
    let c = direct().await;
    c.batch_execute(&format!(
        "CREATE SCHEMA {schema}; CREATE TABLE {schema}.{table} (id int PRIMARY KEY, n int);
         INSERT INTO {schema}.{table} VALUES (1, 0);
         CREATE TABLE public.{table} (id int PRIMARY KEY, n int);
         INSERT INTO public.{table} VALUES (1, 0);"
    ))
    .await
    .unwrap();
    let mut body = common::default_config();
    body.push_str(&format!(
        "[[connection]]\nname = \"pay\"\nkind = \"postgres\"\naddress = \"127.0.0.1:5432\"\ndatabase = \"test\"\nuser = \"postgres\"\ntls = \"disable\"\npolicy = \"pay\"\n\n[[grant]]\nidentity = \"demo\"\nconnections = [\"pay\"]\n\n[policy.pay]\ndefault = \"allow\"\n\n[[policy.pay.rule]]\nname = \"billing\"\naction = \"block\"\ntables_written = [\"{schema}.{table}\"]\n"
    ));
    let gw = Gateway::start_with(Options {
        body,
        ..Default::default()
    });
    let token = gw.token("demo");
    let dsn = gw.dsn("pay", "demo", &token);
    let update = format!("UPDATE {table} SET n = n + 1 WHERE id = 1");
    let update = update.as_str();
    psql_ok(&dsn, &["-c", update]);
    for attempt in [
        vec![format!("SET search_path = {schema}"), update.to_string()],
        vec![format!("SET search_path = {schema}; {update}")],
        vec![
            format!("SELECT set_config('search_path', '{schema}', false)"),
            update.to_string(),
        ],
    ] {
        let mut args = vec!["-v".to_string(), "ON_ERROR_STOP=1".to_string()];
        for sql in &attempt {
            args.push("-c".into());
            args.push(sql.clone());
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = psql(&dsn, &args);
        assert!(!out.status.success(), "{attempt:?} ran");
        assert!(
            error_of(&out).contains("blocked by guardrail \"pay/billing\""),
            "{attempt:?}: {}",
            error_of(&out)
        );
    }
    let base = format!(
        "host=127.0.0.1 port={} user=demo password={token} sslmode=disable dbname=pay",
        gw.port()
    );
    let out = psql(
        &format!("{base} options='-c search_path={schema}'"),
        &["-c", update],
    );
    assert!(
        !out.status.success(),
        "startup search_path sidestepped the rule"
    );
    let n: i32 = c
        .query_one(&format!("SELECT n FROM {schema}.{table} WHERE id = 1"), &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 0, "the protected table was changed");
}
