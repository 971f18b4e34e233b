//! Recordings are hash-chained and sealed: verify passes on what happened,
//! and fails, saying where, after tampering in the store or in an export.

mod common;

use common::{Gateway, psql};

fn verify(gw: &Gateway, args: &[&str]) -> (bool, String) {
    let out = gw.cli(args);
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

#[test]
fn sessions_verify_export_and_detect_tampering() {
    let gw = Gateway::start();
    let token = gw.token("demo");
    let out = psql(
        &gw.dsn("demo", "demo", &token),
        &[
            "-c",
            "SELECT 1",
            "-c",
            "SELECT 'two'",
            "-c",
            "SELECT 1/0",
            "-c",
            "SELECT 4",
        ],
    );
    assert!(!out.status.success(), "the division by zero stops psql");
    gw.eventually("the session to close", || {
        gw.sessions()
            .first()
            .is_some_and(|s| s["ended_at"].is_i64())
    });
    let id = gw.sessions()[0]["session_id"].as_str().unwrap().to_string();

    // The public key, created on first start with owner-only permissions.
    let key = gw.cli_ok(&["keys", "show"]).trim().to_string();
    assert_eq!(key.len(), 64, "{key}");
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(gw.dir.path().join("signing.key"))
            .unwrap()
            .permissions(),
    );
    assert_eq!(mode & 0o077, 0);

    let (ok, text) = verify(&gw, &["sessions", "verify", &id]);
    assert!(ok, "{text}");
    assert!(
        text.contains("OK, 8 events") && text.contains("sealed by"),
        "{text}"
    );

    // Offline: export, verify with the public key.
    let export = gw.cli_ok(&["sessions", "export", &id]);
    let file = gw.dir.path().join("s.json");
    std::fs::write(&file, &export).unwrap();
    let f = file.display().to_string();
    let (ok, text) = verify(
        &gw,
        &["sessions", "verify", "--file", &f, "--public-key", &key],
    );
    assert!(ok, "{text}");

    // Tampering with the export file.
    let mut doc: serde_json::Value = serde_json::from_str(&export).unwrap();
    doc["events"][3]["event"]["text"] = "SELECT 'edited'".into();
    std::fs::write(&file, doc.to_string()).unwrap();
    let (ok, text) = verify(
        &gw,
        &["sessions", "verify", "--file", &f, "--public-key", &key],
    );
    assert!(!ok && text.contains("event 3 (request 2)"), "{text}");

    // The first statement's request and response both gone.
    let mut doc: serde_json::Value = serde_json::from_str(&export).unwrap();
    doc["events"].as_array_mut().unwrap().drain(1..3);
    std::fs::write(&file, doc.to_string()).unwrap();
    let (ok, text) = verify(
        &gw,
        &["sessions", "verify", "--file", &f, "--public-key", &key],
    );
    assert!(
        !ok && text.contains("expected statement 1, found statement 2"),
        "{text}"
    );

    let mut doc: serde_json::Value = serde_json::from_str(&export).unwrap();
    doc["events"].as_array_mut().unwrap().swap(2, 3);
    std::fs::write(&file, doc.to_string()).unwrap();
    let (ok, text) = verify(
        &gw,
        &["sessions", "verify", "--file", &f, "--public-key", &key],
    );
    assert!(!ok && text.contains("TAMPERED"), "{text}");

    std::fs::write(&file, &export).unwrap();
    let wrong = "0".repeat(64);
    let (ok, text) = verify(
        &gw,
        &["sessions", "verify", "--file", &f, "--public-key", &wrong],
    );
    assert!(!ok && text.contains("seal"), "{text}");

    // Tampering directly in the store.
    let db = rusqlite::Connection::open(gw.store_path()).unwrap();
    let original: String = db
        .query_row(
            "SELECT doc FROM events WHERE session_id = ?1 AND kind = 'response' AND seq = 3",
            [&id],
            |r| r.get(0),
        )
        .unwrap();
    db.execute(
        "UPDATE events SET doc = json_set(doc, '$.rows', 99) \
         WHERE session_id = ?1 AND kind = 'response' AND seq = 3",
        [&id],
    )
    .unwrap();
    let (ok, text) = verify(&gw, &["sessions", "verify", &id]);
    assert!(!ok && text.contains("event 6 (response 3)"), "{text}");
    db.execute(
        "UPDATE events SET doc = ?2 WHERE session_id = ?1 AND kind = 'response' AND seq = 3",
        rusqlite::params![&id, original],
    )
    .unwrap();
    let (ok, text) = verify(&gw, &["sessions", "verify", &id]);
    assert!(
        ok,
        "restoring the original value restores the chain: {text}"
    );
    db.execute(
        "DELETE FROM events WHERE session_id = ?1 AND kind = 'request' AND seq = 1",
        [&id],
    )
    .unwrap();
    let (ok, text) = verify(&gw, &["sessions", "verify", &id]);
    assert!(!ok && text.contains("event 1"), "{text}");
    db.execute("UPDATE sessions SET reason = 'killed' WHERE id = ?1", [&id])
        .unwrap();
    let (ok, _) = verify(&gw, &["sessions", "verify", &id]);
    assert!(!ok);
}

#[test]
fn replay_and_verdict_filters() {
    let mut body = common::default_config();
    body.push_str("[[connection]]\nname = \"guarded\"\nkind = \"postgres\"\naddress = \"127.0.0.1:5432\"\ndatabase = \"test\"\nuser = \"postgres\"\ntls = \"disable\"\npolicy = \"no-destructive\"\n\n[[grant]]\nidentity = \"demo\"\nconnections = [\"guarded\"]\n");
    let gw = Gateway::start_with(common::Options {
        body,
        ..Default::default()
    });
    let token = gw.token("demo");
    let _ = psql(
        &gw.dsn("demo", "demo", &token),
        &["-c", "SELECT 42 AS answer"],
    );
    let _ = psql(
        &gw.dsn("guarded", "demo", &token),
        // psql stops at the first error (ON_ERROR_STOP).
        &[
            "-c",
            "SELECT 1",
            "-c",
            "DROP TABLE nothing_here",
            "-c",
            "SELECT 2",
        ],
    );
    gw.eventually("both sessions to close", || {
        gw.sessions()
            .iter()
            .filter(|s| s["ended_at"].is_i64())
            .count()
            == 2
    });
    let blocked: Vec<serde_json::Value> = serde_json::from_str(&gw.cli_ok(&[
        "sessions",
        "list",
        "--verdict",
        "block",
        "--since",
        "1h",
        "--format",
        "json",
    ]))
    .unwrap();
    assert_eq!(blocked.len(), 1, "{blocked:?}");
    assert_eq!(blocked[0]["connection"], "guarded");
    let none: Vec<serde_json::Value> = serde_json::from_str(
        &gw.cli_ok(&["sessions", "list", "--until", "1h", "--format", "json"]),
    )
    .unwrap();
    assert!(none.is_empty(), "nothing started more than an hour ago");

    let id = blocked[0]["session_id"].as_str().unwrap();
    let replay = gw.cli_ok(&["sessions", "replay", id]);
    let lines: Vec<&str> = replay.lines().collect();
    assert!(
        lines[0].starts_with(&format!("-- session {id} by demo")),
        "{replay}"
    );
    assert!(lines[1].ends_with("guarded=> SELECT 1"), "{replay}");
    assert!(lines[2].trim().starts_with("(1 row,"), "{replay}");
    // The result the client got, as a table.
    assert_eq!(lines[3].trim(), "?column?", "{replay}");
    assert_eq!(lines[5].trim(), "1", "{replay}");
    assert!(
        lines[6].ends_with("guarded=> DROP TABLE nothing_here"),
        "{replay}"
    );
    assert!(
        lines[7].contains("BLOCKED (block, rule no-destructive/drop)"),
        "{replay}"
    );
    assert_eq!(lines.len(), 9, "{replay}");
    assert!(lines.last().unwrap().contains("(client-quit)"), "{replay}");
    // With --speed the output is the same, only paced.
    assert_eq!(
        gw.cli_ok(&["sessions", "replay", id, "--speed", "1000"]),
        replay
    );
}

#[test]
fn administrative_and_security_events_are_audited() {
    let mut gw = Gateway::start();
    let token = gw.token("demo");
    let id = token.split('_').nth(1).unwrap().to_string();
    let _ = psql(&gw.dsn("demo", "demo", "pcl_wrong"), &["-c", "SELECT 1"]);
    let other = gw.token("nogrant");
    let _ = psql(&gw.dsn("demo", "nogrant", &other), &["-c", "SELECT 1"]);
    gw.cli_ok(&["token", "revoke", &id]);
    common::signal_pid(gw.pid(), "HUP");
    gw.eventually("the reload to be logged", || {
        gw.logs().contains("configuration reloaded")
    });
    gw.stop();
    let entries: Vec<serde_json::Value> =
        serde_json::from_str(&gw.cli_ok(&["audit", "list", "--format", "json"])).unwrap();
    let actions: Vec<&str> = entries
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for expected in [
        "gateway.start",
        "token.create",
        "auth.failed",
        "access.denied",
        "token.revoke",
        "config.reload",
        "gateway.stop",
    ] {
        assert!(
            actions.contains(&expected),
            "{expected} missing from {actions:?}"
        );
    }
    let revoke = entries
        .iter()
        .find(|e| e["action"] == "token.revoke")
        .unwrap();
    assert_eq!(revoke["subject"], id.as_str());
    assert!(revoke["actor"].as_str().unwrap().starts_with("cli:"));
    let failed = entries
        .iter()
        .find(|e| e["action"] == "auth.failed")
        .unwrap();
    assert_eq!(failed["subject"], "demo");
    assert_eq!(failed["detail"], "malformed token");
    // Newest first, and filtered by prefix.
    assert_eq!(actions.first(), Some(&"gateway.stop"));
    let tokens: Vec<serde_json::Value> = serde_json::from_str(
        &gw.cli_ok(&["audit", "list", "--action", "token.", "--format", "json"]),
    )
    .unwrap();
    assert_eq!(tokens.len(), 3, "two creates and a revoke: {tokens:?}");
}

#[test]
fn retention_removes_old_closed_sessions_only() {
    let body = format!(
        "[recording]\nretention = \"3s\"\n\n{}",
        common::default_config()
    );
    let gw = Gateway::start_with(common::Options {
        body,
        ..Default::default()
    });
    let token = gw.token("demo");
    let _ = psql(&gw.dsn("demo", "demo", &token), &["-c", "SELECT 'old'"]);
    // A session that stays open across the sweep.
    let mut open = common::raw::RawConn::connect(gw.port(), "demo", "demo", Some(&token)).unwrap();
    open.query("SELECT 'still here'");
    gw.eventually("the first session to be recorded closed", || {
        gw.sessions().iter().any(|s| s["ended_at"].is_i64())
    });
    let closed = gw
        .sessions()
        .into_iter()
        .find(|s| s["ended_at"].is_i64())
        .unwrap();
    let closed_id = closed["session_id"].as_str().unwrap().to_string();
    std::thread::sleep(std::time::Duration::from_secs(4));
    gw.eventually("retention to remove the closed session", || {
        !gw.sessions()
            .iter()
            .any(|s| s["session_id"] == closed_id.as_str())
    });
    let left = gw.sessions();
    assert_eq!(left.len(), 1, "the open session stays: {left:?}");
    let id = left[0]["session_id"].as_str().unwrap().to_string();
    let (ok, text) = verify(&gw, &["sessions", "verify", &id]);
    assert!(ok, "what remains still verifies: {text}");
    let audit = gw.cli_ok(&["audit", "list", "--action", "retention.removed"]);
    assert!(
        audit.contains("1 sessions ended more than 3s ago"),
        "{audit}"
    );
}
