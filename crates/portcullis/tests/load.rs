//! Under sustained load nothing is dropped: every statement pgbench ran
//! through the gateway is in the store.

mod common;

use std::process::Command;

use common::{Gateway, Options, default_config, psql_ok};

fn pgbench(args: &[&str], password: Option<&str>) -> String {
    let mut cmd = Command::new("pgbench");
    cmd.args(args);
    if let Some(p) = password {
        cmd.env("PGPASSWORD", p);
    }
    let out = cmd.output().expect("run pgbench");
    assert!(
        out.status.success(),
        "pgbench failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn field(report: &str, prefix: &str) -> u64 {
    report
        .lines()
        .find_map(|l| l.strip_prefix(prefix))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {prefix:?} in:\n{report}"))
}

#[test]
fn pgbench_for_a_minute_with_8_clients_loses_no_statement() {
    let seconds = std::env::var("PC_LOAD_SECONDS").unwrap_or_else(|_| "60".into());
    let db = "pc_loadtest";
    let exists = psql_ok(
        &common::direct_dsn(),
        &[
            "-At",
            "-c",
            &format!("SELECT 1 FROM pg_database WHERE datname = '{db}'"),
        ],
    );
    if exists.trim() != "1" {
        psql_ok(
            &common::direct_dsn(),
            &["-c", &format!("CREATE DATABASE {db}")],
        );
    }
    pgbench(
        &[
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "-i",
            "-q",
            "-s",
            "1",
            db,
        ],
        None,
    );

    let body = format!(
        "{}\n[[connection]]\nname = \"bench\"\nkind = \"postgres\"\naddress = \"127.0.0.1:5432\"\ndatabase = \"{db}\"\nuser = \"postgres\"\ntls = \"disable\"\n\n[[grant]]\nidentity = \"demo\"\nconnections = [\"bench\"]\n",
        default_config()
    );
    let mut gw = Gateway::start_with(Options {
        body,
        log: "info",
        ..Default::default()
    });
    let token = gw.token("demo");
    let port = gw.port().to_string();
    let report = pgbench(
        &[
            "-h",
            "127.0.0.1",
            "-p",
            &port,
            "-U",
            "demo",
            "-n",
            "-c",
            "8",
            "-j",
            "2",
            "-T",
            &seconds,
            "bench",
        ],
        Some(&token),
    );
    let transactions = field(&report, "number of transactions actually processed: ");
    assert!(transactions > 100, "{report}");
    // Graceful stop: sessions close, the recorder drains.
    gw.stop();

    let sessions: Vec<serde_json::Value> = serde_json::from_str(&gw.cli_ok(&[
        "sessions",
        "list",
        "--connection",
        "bench",
        "--format",
        "json",
        "--limit",
        "1000",
    ]))
    .unwrap();
    // One session per client, plus pgbench's own set-up connection.
    assert_eq!(sessions.len(), 9, "{sessions:?}");
    let recorded: u64 = sessions
        .iter()
        .map(|s| s["statements"].as_u64().unwrap())
        .sum();
    let mut scripted = 0u64;
    let mut ok = 0u64;
    let mut listed = 0u64;
    for s in &sessions {
        let shown = gw.session(s["session_id"].as_str().unwrap());
        let statements = shown["statements"].as_array().unwrap();
        listed += statements.len() as u64;
        ok += statements.iter().filter(|st| st["status"] == "ok").count() as u64;
        // pgbench's set-up connection only inspects the tables.
        if statements.iter().any(|st| st["text"] == "BEGIN;") {
            scripted += statements.len() as u64;
        }
    }
    assert_eq!(listed, recorded, "show and list agree");
    assert_eq!(ok, recorded, "every recorded statement completed");
    // The TPC-B-like script: BEGIN, 3 UPDATEs, SELECT, INSERT, END.
    assert_eq!(
        scripted,
        transactions * 7,
        "pgbench processed {transactions} transactions:\n{report}"
    );
    let history = psql_ok(
        &format!("host=127.0.0.1 port=5432 dbname={db} user=postgres sslmode=disable"),
        &["-At", "-c", "SELECT count(*) FROM pgbench_history"],
    );
    assert_eq!(
        history.trim().parse::<u64>().unwrap(),
        transactions,
        "every transaction committed"
    );
}
