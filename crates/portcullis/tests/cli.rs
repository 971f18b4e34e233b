//! The command line: configuration errors name file, line and field; token
//! and session commands print what they should and nothing secret.

mod common;

use std::process::Command;

use common::{Gateway, bin, psql_ok};

fn check(text: &str) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, text).unwrap();
    let out = Command::new(bin())
        .args(["config", "check"])
        .arg(&path)
        .output()
        .unwrap();
    let msg = String::from_utf8_lossy(&out.stderr).replace(&path.display().to_string(), "FILE");
    (out.status.success(), msg)
}

const BASE: &str = "[listen]\npostgres = \"127.0.0.1:15432\"\n\n[[connection]]\nname = \"db\"\nkind = \"postgres\"\naddress = \"127.0.0.1:5432\"\ndatabase = \"test\"\nuser = \"postgres\"\n";

#[test]
fn config_errors_name_file_line_and_field() {
    assert!(check(BASE).0, "the base config is valid");
    let cases: &[(&str, &str)] = &[
        // Syntax error.
        ("[listen\n", "FILE:1:"),
        // Unknown field, with its line.
        (
            &format!("{BASE}adress = \"x\"\n"),
            "FILE:10:1: field `connection[0].adress`: unknown field `adress`",
        ),
        // Bad enum value.
        (
            &format!("{BASE}tls = \"sometimes\"\n"),
            "FILE:10:7: field `connection[0].tls`",
        ),
        // Wrong type.
        (
            "[listen]\npostgres = 5432\n",
            "FILE:2:12: field `listen.postgres`",
        ),
        // Cross-reference errors found by validation.
        (
            &format!("{BASE}\n[[grant]]\nidentity = \"ghost\"\nconnections = [\"db\"]\n"),
            "FILE:12:12: field `grant[0].identity`: unknown identity \"ghost\"",
        ),
        (
            &format!(
                "{BASE}\n[[identity]]\nname = \"a\"\n\n[[grant]]\nidentity = \"a\"\nconnections = [\"nope\"]\n"
            ),
            "field `grant[0].connections[0]`: unknown connection \"nope\"",
        ),
        (
            &format!("{BASE}password = {{ env = \"PC_SURELY_UNSET_VAR\" }}\n"),
            "FILE:10:12: field `connection[0].password`: environment variable PC_SURELY_UNSET_VAR is not set",
        ),
        (
            &format!(
                "{BASE}\n[[connection]]\nname = \"db\"\nkind = \"postgres\"\naddress = \"h:1\"\ndatabase = \"d\"\nuser = \"u\"\n"
            ),
            "FILE:12:8: field `connection[1].name`: duplicate connection name",
        ),
        (
            "[listen]\npostgres = \"0.0.0.0:15432\"\n",
            "field `listen.postgres`: clients must use TLS here",
        ),
        (
            &format!("{BASE}policy = \"made-up\"\n"),
            "field `connection[0].policy`: unknown policy \"made-up\"",
        ),
    ];
    for (text, expected) in cases {
        let (ok, msg) = check(text);
        assert!(!ok, "accepted:\n{text}");
        assert!(
            msg.contains(expected),
            "for:\n{text}\nexpected {expected:?} in {msg:?}"
        );
    }
}

#[test]
fn serve_refuses_to_start_on_invalid_config() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.toml");
    std::fs::write(&path, format!("{BASE}port = 1\n")).unwrap();
    let out = Command::new(bin())
        .arg("--config")
        .arg(&path)
        .arg("serve")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("{}:10:1", path.display())) && err.contains("unknown field `port`"),
        "{err}"
    );
}

#[test]
fn the_example_config_is_valid() {
    let example = common::repo_root().join("examples/portcullis.toml");
    let out = Command::new(bin())
        .args(["config", "check"])
        .arg(&example)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn token_and_session_commands() {
    let gw = Gateway::start();
    // The token alone on stdout, so TOKEN=$(...) works.
    let out = gw.cli(&[
        "token",
        "create",
        "--identity",
        "demo",
        "--ttl",
        "24h",
        "--group",
        "ci",
    ]);
    assert!(out.status.success());
    let stdout = String::from_utf8(out.stdout).unwrap();
    let token = stdout.trim_end_matches('\n');
    assert!(
        !token.contains(char::is_whitespace) && token.starts_with("pcl_"),
        "{stdout:?}"
    );
    assert_eq!(stdout.lines().count(), 1);
    // Undeclared identities cannot get tokens.
    let out = gw.cli(&["token", "create", "--identity", "nobody"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not declared"));

    let list: serde_json::Value =
        serde_json::from_str(&gw.cli_ok(&["token", "list", "--format", "json"])).unwrap();
    let t = &list[0];
    assert_eq!(t["identity"], "demo");
    assert_eq!(t["groups"], serde_json::json!(["ci"]));
    assert!(t["expires_at"].as_i64().unwrap() > t["created_at"].as_i64().unwrap());
    assert!(t.get("hash").is_none(), "no hash in the listing");
    assert!(t["last_used_at"].is_null());

    let out = common::psql(
        &gw.dsn("demo", "demo", token),
        &["-c", "SELECT 1", "-c", "SELECT 1/0 AS boom"],
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("division by zero"));
    let list: serde_json::Value =
        serde_json::from_str(&gw.cli_ok(&["token", "list", "--format", "json"])).unwrap();
    assert!(list[0]["last_used_at"].is_i64(), "last use recorded");

    gw.eventually("the session to be recorded as closed", || {
        gw.sessions()
            .first()
            .is_some_and(|s| s["ended_at"].is_i64())
    });
    let table = gw.cli_ok(&["sessions", "list"]);
    assert!(
        table.starts_with("ID") && table.contains("demo") && table.contains("client-quit"),
        "{table}"
    );
    let s = &gw.sessions()[0];
    let id = s["session_id"].as_str().unwrap();
    let shown = gw.cli_ok(&["sessions", "show", id]);
    assert!(
        shown.contains("SELECT 1/0 AS boom") && shown.contains("22012"),
        "{shown}"
    );
    let json = gw.session(id);
    let st = json["statements"].as_array().unwrap();
    assert_eq!(st.len(), 2);
    assert_eq!(st[0]["status"], "ok");
    assert_eq!(st[0]["rows"], 1);
    assert_eq!(st[1]["status"], "error");
    assert!(
        json["session"]["auth_method"]
            .as_str()
            .unwrap()
            .starts_with("token:")
    );
    let filtered: serde_json::Value = serde_json::from_str(&gw.cli_ok(&[
        "sessions",
        "list",
        "--identity",
        "nobody",
        "--format",
        "json",
    ]))
    .unwrap();
    assert_eq!(filtered.as_array().unwrap().len(), 0);
}

#[test]
fn cert_dev_enables_tls_and_require_tls_refuses_plaintext() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(bin())
        .args(["cert", "dev", "--out"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success());
    let snippet = String::from_utf8(out.stdout).unwrap();
    assert!(snippet.contains("[listen.tls]"));
    let key_mode = std::fs::metadata(dir.path().join("key.pem")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(key_mode.permissions().mode() & 0o077, 0, "key is private");

    let gw = Gateway::start_with(common::Options {
        listen_extra: format!("require_tls = true\n{snippet}"),
        ..Default::default()
    });
    let token = gw.token("demo");
    let base = format!(
        "host=127.0.0.1 port={} dbname=demo user=demo password={token}",
        gw.port()
    );
    let out = psql_ok(
        &format!("{base} sslmode=require"),
        &["-At", "-c", "SELECT 'over tls'"],
    );
    assert_eq!(out.trim(), "over tls");
    let out = common::psql(&format!("{base} sslmode=disable"), &["-c", "SELECT 1"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("requires TLS"));
    // verify-full against the dev certificate as CA.
    let ok = psql_ok(
        &format!(
            "{base} sslmode=verify-full sslrootcert={}",
            dir.path().join("cert.pem").display()
        ),
        &["-At", "-c", "SELECT 1"],
    );
    assert_eq!(ok.trim(), "1");
}

#[test]
fn policy_check_reports_verdicts_and_exit_codes() {
    let run = |args: &[&str]| Command::new(bin()).args(args).output().unwrap();
    // A preset needs no configuration.
    let out = run(&[
        "policy",
        "check",
        "--preset",
        "no-destructive",
        "--format",
        "json",
        "SELECT 1; DROP TABLE t",
    ]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "blocked statements make it fail"
    );
    let lines: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["verdict"], "allow");
    assert_eq!(lines[1]["verdict"], "block");
    assert_eq!(lines[1]["rule"], "no-destructive/drop");
    assert_eq!(lines[1]["classification"]["command"], "DROP");
    let out = run(&[
        "policy",
        "check",
        "--preset",
        "read-only",
        "SELECT * FROM orders",
    ]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("ALLOW"));
    // Unparseable text fails closed.
    let out = run(&[
        "policy",
        "check",
        "--preset",
        "read-only",
        "--format",
        "json",
        "SELEC 1",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("fail-closed/unparseable"));

    // Through a configuration: the connection's policy, narrowed per identity by its grant.
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("p.toml");
    std::fs::write(
        &cfg,
        format!(
            "{BASE}policy = \"strict\"\n\n[policy.strict]\npresets = [\"production\"]\n\n[[rule]]\n\n[[identity]]\nname = \"contractor\"\ngroups = [\"contractors\"]\n\n[[grant]]\ngroup = \"contractors\"\nconnections = [\"db\"]\npolicy = \"read-only\"\n"
        )
        .replace("[[rule]]\n\n", "[[policy.strict.rule]]\nname = \"no-payments\"\naction = \"block\"\ntables = [\"public.payments\"]\n\n"),
    )
    .unwrap();
    let sql_file = dir.path().join("q.sql");
    std::fs::write(
        &sql_file,
        "SELECT * FROM payments;\nUPDATE accounts SET x = 1 WHERE id = 2;\n",
    )
    .unwrap();
    let cfg_s = cfg.display().to_string();
    let file_s = sql_file.display().to_string();
    let out = run(&[
        "policy",
        "check",
        "--config",
        &cfg_s,
        "--connection",
        "db",
        "--file",
        &file_s,
        "--format",
        "json",
    ]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("strict/no-payments"), "{text}");
    let out = run(&[
        "policy",
        "check",
        "--config",
        &cfg_s,
        "--connection",
        "db",
        "--identity",
        "contractor",
        "--format",
        "json",
        "UPDATE accounts SET x = 1 WHERE id = 2",
    ]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(text.contains("\"policy\":\"read-only\""), "{text}");
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn access_explain_says_what_applies_and_why() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("p.toml");
    std::fs::write(
        &cfg,
        format!(
            "{BASE}policy = \"production\"\n\n[[identity]]\nname = \"alice\"\ngroups = [\"sre\"]\n\n[[identity]]\nname = \"carl\"\ngroups = [\"contractors\"]\n\n[[identity]]\nname = \"nobody\"\n\n[[grant]]\ngroup = \"sre\"\nconnections = [\"db\"]\n\n[[grant]]\ngroup = \"contractors\"\nconnections = [\"db\"]\npolicy = \"read-only\"\n"
        ),
    )
    .unwrap();
    let explain = |id: &str| {
        let out = Command::new(bin())
            .args(["--config"])
            .arg(&cfg)
            .args(["access", "explain", "--identity", id, "--connection", "db"])
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let (code, text) = explain("alice");
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains("ALLOWED via grant[0] (group sre)")
            && text.contains("policy      production (the connection's policy"),
        "{text}"
    );
    let (code, text) = explain("carl");
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains("policy      read-only (narrowed by grant[1] (group contractors)"),
        "{text}"
    );
    assert!(
        text.contains("grant[0] to group sre: does not apply"),
        "{text}"
    );
    let (code, text) = explain("nobody");
    assert_eq!(code, Some(1));
    assert!(text.contains("DENIED"), "{text}");
    let (code, text) = explain("ghost");
    assert_eq!(code, Some(1));
    assert!(text.contains("not declared"), "{text}");
}
