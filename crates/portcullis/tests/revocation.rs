//! Revocation reaches live sessions: a revoked token, a grant removed by a
//! reload, or a kill ends running and idle sessions at once, closes the
//! target connection and records the reason.

mod common;

use std::time::{Duration, Instant};

use common::raw::{self, RawConn};
use common::{Gateway, connect, direct, signal_pid};

fn fatal_code(c: &mut RawConn) -> String {
    c.stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let (tag, body) = raw::read_message(&mut c.stream).expect("a FATAL before close");
    assert_eq!(tag, b'E');
    raw::error_fields(&body).0
}

async fn backends_of(application: &str) -> i64 {
    direct()
        .await
        .query_one(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1",
            &[&application],
        )
        .await
        .unwrap()
        .get(0)
}

#[tokio::test(flavor = "multi_thread")]
async fn revoking_a_token_cuts_running_and_idle_sessions() {
    let gw = Gateway::start();
    let token = gw.token("demo");
    let id = token.split('_').nth(1).unwrap().to_string();
    let app = common::unique("revoke");
    let dsn = format!("{} application_name={app}", gw.dsn("demo", "demo", &token));
    let busy = connect(&dsn).await;
    let running = tokio::spawn(async move { busy.simple_query("SELECT pg_sleep(30)").await });
    let mut idle = RawConn::connect(gw.port(), "demo", "demo", Some(&token)).unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(backends_of(&app).await, 1);

    let started = Instant::now();
    gw.cli_ok(&["token", "revoke", &id]);
    let err = running.await.unwrap().unwrap_err();
    let cut = started.elapsed();
    let db = err
        .as_db_error()
        .expect("a server error, not a dropped socket");
    assert_eq!(db.code().code(), "57P01");
    assert!(
        db.message().contains("access was revoked"),
        "{}",
        db.message()
    );
    assert_eq!(fatal_code(&mut idle), "57P01");
    eprintln!("running session cut {cut:?} after the revoke command started");

    // The target connection is gone too.
    gw.eventually("the target backend to go away", || {
        tokio::task::block_in_place(|| {
            tokio::runtime::Handle::current().block_on(backends_of(&app))
        }) == 0
    });
    // New connections with the token fail.
    assert_eq!(
        RawConn::connect(gw.port(), "demo", "demo", Some(&token))
            .err()
            .unwrap()
            .0,
        "28P01"
    );
    gw.eventually("both sessions to be recorded as revoked", || {
        gw.sessions()
            .iter()
            .filter(|s| s["reason"] == "revoked")
            .count()
            == 2
    });
}

#[test]
fn removing_the_grant_and_reloading_cuts_the_session() {
    let gw = Gateway::start();
    let token = gw.token("demo");
    let mut c = RawConn::connect(gw.port(), "demo", "demo", Some(&token)).unwrap();
    c.query("SELECT 1");
    let text = std::fs::read_to_string(&gw.config).unwrap();
    let without = text.replace(
        "[[grant]]\nidentity = \"demo\"\nconnections = [\"demo\"]\n",
        "",
    );
    assert_ne!(text, without, "the grant was in the file");
    std::fs::write(&gw.config, without).unwrap();
    signal_pid(gw.pid(), "HUP");
    assert_eq!(fatal_code(&mut c), "57P01");
    let (code, _) = RawConn::connect(gw.port(), "demo", "demo", Some(&token))
        .err()
        .unwrap();
    assert_eq!(code, "42501", "no grant any more");
    let audit = gw.cli_ok(&["audit", "list", "--action", "session.revoked"]);
    assert!(audit.contains("grant removed"), "{audit}");
}

#[test]
fn sessions_kill_ends_one_session() {
    let gw = Gateway::start();
    let token = gw.token("demo");
    let mut victim = RawConn::connect(gw.port(), "demo", "demo", Some(&token)).unwrap();
    victim.query("SELECT 'victim'");
    let mut bystander = RawConn::connect(gw.port(), "demo", "demo", Some(&token)).unwrap();
    bystander.query("SELECT 'bystander'");
    gw.eventually("both sessions to be recorded", || gw.sessions().len() == 2);
    // The victim is the older session (listed last).
    let id = gw.sessions()[1]["session_id"].as_str().unwrap().to_string();
    let out = gw.cli_ok(&["sessions", "kill", &id]);
    assert!(out.contains(&id));
    assert_eq!(fatal_code(&mut victim), "57P01");
    let reply = bystander.query("SELECT 'still alive'");
    assert!(
        reply
            .iter()
            .any(|(t, b)| *t == b'D' && b.ends_with(b"still alive"))
    );
    gw.eventually("the kill to be recorded", || {
        gw.sessions()
            .iter()
            .any(|s| s["session_id"] == id.as_str() && s["reason"] == "killed")
    });
    let again = gw.cli(&["sessions", "kill", &id]);
    assert!(!again.status.success(), "an ended session cannot be killed");
}
