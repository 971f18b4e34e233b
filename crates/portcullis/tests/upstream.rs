//! The gateway authenticates to targets with stored credentials (SCRAM,
//! md5, cleartext) in every TLS mode, and never lets the password out.

mod common;

use common::raw::RawConn;
use common::{Gateway, Options, psql, psql_ok};

fn connection(name: &str, user: &str, env: &str, tls: &str) -> String {
    format!(
        "[[connection]]\nname = \"{name}\"\nkind = \"postgres\"\naddress = \"127.0.0.1:5432\"\ndatabase = \"test\"\nuser = \"{user}\"\npassword = {{ env = \"{env}\" }}\ntls = \"{tls}\"\n\n[[grant]]\nidentity = \"demo\"\nconnections = [\"{name}\"]\n\n"
    )
}

fn gateway(log: &'static str) -> Gateway {
    let mut body = common::default_config();
    body.push_str(&connection("scram", "pc_scram", "PC_SCRAM_PW", "disable"));
    body.push_str(&connection("md5", "pc_md5", "PC_MD5_PW", "disable"));
    body.push_str(&connection("clear", "pc_clear", "PC_CLEAR_PW", "disable"));
    body.push_str(&connection(
        "tls-require",
        "pc_tlsonly",
        "PC_TLS_PW",
        "require",
    ));
    body.push_str(&connection(
        "tls-prefer",
        "pc_tlsonly",
        "PC_TLS_PW",
        "prefer",
    ));
    body.push_str(&connection(
        "tls-disable",
        "pc_tlsonly",
        "PC_TLS_PW",
        "disable",
    ));
    // The machine's server has a self-signed snakeoil certificate: full
    // verification against the system roots must refuse it.
    body.push_str(&connection(
        "tls-verify",
        "pc_tlsonly",
        "PC_TLS_PW",
        "verify-full",
    ));
    body.push_str(&connection(
        "scram-wrong",
        "pc_scram",
        "PC_WRONG_PW",
        "disable",
    ));
    Gateway::start_with(Options {
        body,
        log,
        env: vec![
            ("PC_SCRAM_PW".into(), common::SCRAM_PASSWORD.into()),
            ("PC_MD5_PW".into(), common::MD5_PASSWORD.into()),
            ("PC_CLEAR_PW".into(), common::CLEAR_PASSWORD.into()),
            ("PC_TLS_PW".into(), common::TLSONLY_PASSWORD.into()),
            (
                "PC_WRONG_PW".into(),
                "definitely-not-the-password-9955".into(),
            ),
        ],
        ..Default::default()
    })
}

#[test]
fn every_upstream_auth_method_and_tls_mode() {
    let gw = gateway("debug");
    let token = gw.token("demo");
    for (conn, user, ssl) in [
        ("scram", "pc_scram", "f"),
        ("md5", "pc_md5", "f"),
        ("clear", "pc_clear", "f"),
        ("tls-require", "pc_tlsonly", "t"),
        ("tls-prefer", "pc_tlsonly", "t"),
    ] {
        let out = psql_ok(
            &gw.dsn(conn, "demo", &token),
            &[
                "-At",
                "-c",
                "SELECT current_user || ' ' || ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            ],
        );
        assert_eq!(
            out.trim(),
            format!("{user} {}", if ssl == "t" { "true" } else { "false" }),
            "via {conn}"
        );
    }
    for conn in ["tls-disable", "tls-verify", "scram-wrong"] {
        let out = psql(&gw.dsn(conn, "demo", &token), &["-c", "SELECT 1"]);
        assert!(!out.status.success(), "{conn} must fail");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(&format!("connection \"{conn}\" is unavailable")),
            "{conn}: {err}"
        );
    }
}

/// The upstream passwords must appear in nothing the gateway emits: client
/// messages, logs at every level, the store, CLI output.
#[test]
fn upstream_passwords_never_leak() {
    let mut gw = gateway("trace");
    let token = gw.token("demo");
    let mut seen = String::new();
    for conn in [
        "scram",
        "md5",
        "clear",
        "tls-require",
        "tls-disable",
        "scram-wrong",
    ] {
        let dsn = gw.dsn(conn, "demo", &token);
        for sql in [
            "SELECT 1",
            "SELECT 1/0",
            "SHOW ALL",
            "SELECT * FROM pg_settings",
        ] {
            let out = psql(&dsn, &["-c", sql]);
            seen.push_str(&String::from_utf8_lossy(&out.stdout));
            seen.push_str(&String::from_utf8_lossy(&out.stderr));
        }
    }
    // Raw protocol view of a session, including every startup message.
    let mut c = RawConn::connect(gw.port(), "demo", "scram", Some(&token)).unwrap();
    for (t, b) in &c.startup {
        seen.push_str(&format!("{}{}", *t as char, String::from_utf8_lossy(b)));
    }
    for (t, b) in c.query("SELECT 'x'") {
        seen.push_str(&format!("{}{}", t as char, String::from_utf8_lossy(&b)));
    }
    drop(c);
    for args in [
        &["sessions", "list"][..],
        &["sessions", "list", "--format", "json"],
        &["token", "list", "--format", "json"],
        &["config", "check"],
    ] {
        let out = gw.cli(args);
        seen.push_str(&String::from_utf8_lossy(&out.stdout));
        seen.push_str(&String::from_utf8_lossy(&out.stderr));
    }
    for s in gw.sessions() {
        seen.push_str(&gw.session(s["session_id"].as_str().unwrap()).to_string());
    }
    gw.stop();
    seen.push_str(&gw.logs());
    let store = std::fs::read(gw.store_path()).unwrap();
    let wal = std::fs::read(gw.store_path().with_extension("db-wal")).unwrap_or_default();
    assert!(
        gw.logs().contains("TRACE") || gw.logs().contains("DEBUG"),
        "logging was verbose"
    );
    assert!(
        seen.len() > 10_000,
        "collected {} bytes of output",
        seen.len()
    );
    for secret in [
        common::SCRAM_PASSWORD,
        common::MD5_PASSWORD,
        common::CLEAR_PASSWORD,
        common::TLSONLY_PASSWORD,
        "definitely-not-the-password-9955",
    ] {
        assert!(!seen.contains(secret), "{secret} leaked into output");
        for bytes in [&store, &wal] {
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "{secret} leaked into the store"
            );
        }
    }
    // The client's token is not stored either (only its hash).
    assert!(!store.windows(token.len()).any(|w| w == token.as_bytes()));
    assert!(!seen.contains(&token));
}
