//! OIDC end to end against a real provider (node `oidc-provider`): JWTs as
//! PostgreSQL passwords, groups mapped to grants, every kind of bad token
//! refused with 28P01, key rotation without restart, sessions cut when
//! their JWT expires, and `login` (device flow) + `connect` for people.

mod common;
#[path = "common/oidc_provider.rs"]
mod provider;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::raw::{self, RawConn};
use common::{Gateway, Options, connect, psql, psql_ok};
use provider::{Provider, claim};

fn body(provider: &Provider) -> String {
    format!(
        r#"
[[connection]]
name = "demo"
kind = "postgres"
address = "127.0.0.1:5432"
database = "test"
user = "postgres"
tls = "disable"
policy = "allow-all"

[[grant]]
group = "sre"
connections = ["demo"]

[[grant]]
group = "contractors"
connections = ["demo"]
policy = "read-only"
{}"#,
        provider.config()
    )
}

fn start(provider: &Provider) -> Gateway {
    Gateway::start_with(Options {
        body: body(provider),
        ..Options::default()
    })
}

fn now_secs() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// Sleeps until `token`'s `exp` has passed (the tests run with no skew).
async fn outlive(token: &str) {
    let exp = claim(token, "exp").as_f64().unwrap();
    let wait = exp - now_secs() + 0.3;
    if wait > 0.0 {
        tokio::time::sleep(Duration::from_secs_f64(wait)).await;
    }
}

fn sqlstate(gw: &Gateway, user: &str, token: &str) -> String {
    match RawConn::connect(gw.port(), user, "demo", Some(token)) {
        Ok(_) => "OK".into(),
        Err((code, _)) => code,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_valid_jwt_connects_and_its_groups_choose_the_grant() {
    let idp = Provider::start();
    let gw = start(&idp);
    let alice = idp.id_token("portcullis", "alice", &["sre"]).await;
    let bob = idp.id_token("portcullis", "bob", &["contractors"]).await;
    let carol = idp.id_token("portcullis", "carol", &[]).await;
    let ddl = ["-c", "CREATE TEMP TABLE oidc_t (x int)"];

    // sre: the connection's allow-all policy.
    psql_ok(&gw.dsn("demo", "alice", &alice), &ddl);
    // contractors: the grant's narrower read-only policy.
    assert_eq!(
        psql_ok(&gw.dsn("demo", "bob", &bob), &["-Atc", "SELECT 6 * 7"]).trim(),
        "42"
    );
    let refused = psql(&gw.dsn("demo", "bob", &bob), &ddl);
    assert!(!refused.status.success(), "read-only must refuse DDL");
    // No group with a grant: authenticated, but not authorized.
    let denied = psql(&gw.dsn("demo", "carol", &carol), &["-c", "SELECT 1"]);
    let stderr = String::from_utf8_lossy(&denied.stderr);
    assert!(stderr.contains("has no grant"), "{stderr}");

    // EC and Ed25519 signatures from the same provider.
    for client in ["portcullis-es", "portcullis-ed"] {
        let t = idp.id_token(client, "alice", &["sre"]).await;
        assert_eq!(sqlstate(&gw, "alice", &t), "OK", "{client}");
    }
    let sessions = gw.sessions();
    let s = sessions
        .iter()
        .find(|s| s["identity"] == "alice")
        .expect("alice's session is recorded");
    assert!(s.to_string().contains("oidc:"), "{s}");
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_tokens_fail_like_bad_passwords_and_the_audit_log_says_why() {
    let idp = Provider::start();
    let gw = start(&idp);
    let good = idp.id_token("portcullis", "alice", &["sre"]).await;
    assert_eq!(sqlstate(&gw, "alice", &good), "OK");

    let short = idp.id_token("portcullis-short", "alice", &["sre"]).await;
    let cases = [
        (
            "wrong audience",
            idp.id_token("other-app", "alice", &["sre"]).await,
            "JWT audience does not match",
        ),
        (
            "wrong issuer",
            idp.forge("wrong-iss", "alice").await,
            "JWT issuer is not configured",
        ),
        (
            "unknown kid",
            idp.forge("unknown-kid", "alice").await,
            "JWT signing key is not in the issuer's key set",
        ),
        (
            "alg none",
            idp.forge("none", "alice").await,
            "JWT algorithm not allowed",
        ),
        (
            "HS256 keyed with the public key",
            idp.forge("hs256-public", "alice").await,
            "JWT algorithm not allowed",
        ),
        (
            "payload changed after signing",
            tamper(&good),
            "JWT signature is invalid",
        ),
        (
            "not yet valid",
            idp.forge("not-yet-valid", "alice").await,
            "JWT not yet valid",
        ),
    ];
    for (what, token, _) in &cases {
        let user = if *what == "payload changed after signing" {
            "mallory"
        } else {
            "alice"
        };
        assert_eq!(sqlstate(&gw, user, token), "28P01", "{what}");
    }
    // A valid token presented for another user name.
    assert_eq!(sqlstate(&gw, "bob", &good), "28P01", "identity mismatch");
    outlive(&short).await;
    assert_eq!(sqlstate(&gw, "alice", &short), "28P01", "expired");

    let audit: Vec<serde_json::Value> = serde_json::from_str(&gw.cli_ok(&[
        "audit",
        "list",
        "--action",
        "auth.failed",
        "--format",
        "json",
    ]))
    .unwrap();
    let details: Vec<&str> = audit.iter().filter_map(|e| e["detail"].as_str()).collect();
    for why in cases
        .iter()
        .map(|c| c.2)
        .chain(["JWT expired", "JWT identity differs from the user name"])
    {
        assert!(details.contains(&why), "{why:?} missing from {details:?}");
    }
    // The client learns nothing of why.
    let out = psql(&gw.dsn("demo", "alice", &short), &["-c", "SELECT 1"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("password authentication failed") && !stderr.contains("JWT"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn key_rotation_at_the_provider_is_picked_up_without_restart() {
    let idp = Provider::start();
    let gw = start(&idp);
    let before = idp.id_token("portcullis", "alice", &["sre"]).await;
    assert_eq!(sqlstate(&gw, "alice", &before), "OK");

    let kids = idp.rotate().await;
    let after = idp.id_token("portcullis", "alice", &["sre"]).await;
    assert!(
        kids.as_array().unwrap().contains(&claim_kid(&after).into()),
        "the new token is signed with a rotated key"
    );
    // Past the refresh interval (1 s here), an unknown kid refreshes the keys.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(sqlstate(&gw, "alice", &after), "OK");
    // The withdrawn key no longer verifies anything.
    assert_eq!(sqlstate(&gw, "alice", &before), "28P01");
    gw.eventually("a second fetch of the signing keys", || {
        gw.logs()
            .matches("fetched the issuer's signing keys")
            .count()
            >= 2
    });
}

/// The same token claiming to be mallory's, with alice's signature.
fn tamper(token: &str) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let parts: Vec<&str> = token.split('.').collect();
    let payload = String::from_utf8(b64.decode(parts[1]).unwrap()).unwrap();
    assert!(payload.contains("\"sub\":\"alice\""));
    let forged = payload.replace("\"sub\":\"alice\"", "\"sub\":\"mallory\"");
    format!("{}.{}.{}", parts[0], b64.encode(forged), parts[2])
}

fn claim_kid(token: &str) -> String {
    use base64::Engine;
    let header = token.split('.').next().unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header)
        .unwrap();
    serde_json::from_slice::<serde_json::Value>(&bytes).unwrap()["kid"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_session_ends_when_its_jwt_expires() {
    let idp = Provider::start();
    let gw = start(&idp);
    let token = idp.id_token("portcullis-short", "alice", &["sre"]).await;
    let exp = claim(&token, "exp").as_f64().unwrap();
    let busy = connect(&gw.dsn("demo", "alice", &token)).await;
    let mut idle = RawConn::connect(gw.port(), "alice", "demo", Some(&token)).unwrap();
    let err = busy
        .simple_query("SELECT pg_sleep(30)")
        .await
        .expect_err("the session must be cut before the sleep ends");
    let late = now_secs() - exp;
    let db = err
        .as_db_error()
        .expect("a server error, not a dropped socket");
    assert_eq!(db.code().code(), "57P01");
    idle.stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let (tag, body) = raw::read_message(&mut idle.stream).expect("a FATAL before close");
    assert_eq!(tag, b'E');
    assert_eq!(raw::error_fields(&body).0, "57P01");
    eprintln!("the running session was cut {late:.3} s after the JWT's exp");
    gw.eventually("both sessions to be recorded as revoked", || {
        gw.sessions()
            .iter()
            .filter(|s| s["reason"] == "revoked")
            .count()
            == 2
    });
}

#[tokio::test(flavor = "multi_thread")]
async fn login_runs_the_device_flow_and_connect_prints_a_usable_string() {
    let idp = Provider::start();
    let gw = start(&idp);
    let home = tempfile::tempdir().unwrap();
    let creds = home.path().join("portcullis/credentials.json");

    let mut login = Command::new(common::bin())
        .arg("--config")
        .arg(&gw.config)
        .arg("login")
        .env("PORTCULLIS_CREDENTIALS", &creds)
        .env("PORTCULLIS_LOG", "warn")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = login.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut transcript = Vec::new();
    let code = loop {
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("login prints a user code");
        transcript.push(line.clone());
        if let Some(rest) = line.split("enter the code ").nth(1) {
            break rest.trim().to_string();
        }
    };
    assert!(
        transcript[0].contains(&format!("{}/device", idp.issuer)),
        "{transcript:?}"
    );
    idp.approve(&code, "alice", &["sre"]).await;
    let status = tokio::task::spawn_blocking(move || login.wait().unwrap())
        .await
        .unwrap();
    // Everything it printed: the reader ends when the process's stderr closes.
    while let Ok(line) = rx.recv_timeout(Duration::from_secs(10)) {
        transcript.push(line);
    }
    assert!(status.success(), "{transcript:?}");
    assert!(
        transcript
            .iter()
            .any(|l| l.contains("as alice (groups: sre)")),
        "{transcript:?}"
    );
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&creds).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    let run = |args: &[&str]| {
        Command::new(common::bin())
            .arg("--config")
            .arg(&gw.config)
            .args(args)
            .env("PORTCULLIS_CREDENTIALS", &creds)
            .env("PORTCULLIS_LOG", "warn")
            .env_remove("PGPASSWORD")
            .output()
            .unwrap()
    };
    let unknown_port = run(&["connect", "demo"]);
    assert!(
        String::from_utf8_lossy(&unknown_port.stderr).contains("--port"),
        "{unknown_port:?}"
    );
    let port = gw.port().to_string();
    let out = run(&["connect", "demo", "--port", &port]);
    assert!(out.status.success(), "{out:?}");
    let dsn = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert!(
        dsn.starts_with(&format!("host=127.0.0.1 port={port} ")),
        "{dsn}"
    );
    assert!(
        dsn.contains("user=alice") && dsn.contains("dbname=demo") && dsn.contains("password=eyJ")
    );
    assert_eq!(psql_ok(&dsn, &["-Atc", "SELECT 1"]).trim(), "1");

    let bare =
        String::from_utf8(run(&["connect", "demo", "--port", &port, "--no-password"]).stdout)
            .unwrap();
    assert!(!bare.contains("password"), "{bare}");
    let exec = run(&[
        "connect",
        "demo",
        "--port",
        &port,
        "--exec",
        "--",
        "-X",
        "-Atc",
        "SELECT 40 + 2",
    ]);
    assert!(exec.status.success(), "{exec:?}");
    assert_eq!(String::from_utf8_lossy(&exec.stdout).trim(), "42");

    // An expired sign-in without a refresh token: a clear message, no string.
    let mut stored: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&creds).unwrap()).unwrap();
    let entry = stored.get_mut(&idp.issuer).unwrap();
    entry["valid_until"] = 1.into();
    entry["refresh_token"] = serde_json::Value::Null;
    std::fs::write(&creds, serde_json::to_vec(&stored).unwrap()).unwrap();
    let expired = run(&["connect", "demo", "--port", &port]);
    assert!(!expired.status.success());
    assert!(expired.stdout.is_empty());
    let msg = String::from_utf8_lossy(&expired.stderr);
    assert!(
        msg.contains("expired") && msg.contains("portcullis login"),
        "{msg}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_kids_do_not_make_the_gateway_hammer_the_provider() {
    let idp = Provider::start();
    let gw = Gateway::start_with(Options {
        body: body(&idp).replace(
            "jwks_refresh_interval = \"1s\"",
            "jwks_refresh_interval = \"1h\"",
        ),
        ..Options::default()
    });
    let good = idp.id_token("portcullis", "alice", &["sre"]).await;
    assert_eq!(sqlstate(&gw, "alice", &good), "OK");
    for _ in 0..5 {
        let stranger = idp.forge("unknown-kid", "alice").await;
        assert_eq!(sqlstate(&gw, "alice", &stranger), "28P01");
    }
    gw.eventually("the first fetch of the signing keys", || {
        gw.logs().contains("fetched the issuer's signing keys")
    });
    assert_eq!(
        gw.logs()
            .matches("fetched the issuer's signing keys")
            .count(),
        1,
        "one fetch at first use, none for made-up kids within the interval"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reload_cuts_only_the_jwt_sessions_whose_grant_went_away() {
    let idp = Provider::start();
    let gw = start(&idp);
    let alice = idp.id_token("portcullis", "alice", &["sre"]).await;
    let bob = idp.id_token("portcullis", "bob", &["contractors"]).await;
    let mut sre = RawConn::connect(gw.port(), "alice", "demo", Some(&alice)).unwrap();
    let mut contractor = RawConn::connect(gw.port(), "bob", "demo", Some(&bob)).unwrap();

    let text = std::fs::read_to_string(&gw.config).unwrap();
    let without = text.replace("[[grant]]\ngroup = \"sre\"\nconnections = [\"demo\"]\n", "");
    assert_ne!(text, without, "the grant was in the file");
    std::fs::write(&gw.config, without).unwrap();
    common::signal_pid(gw.pid(), "HUP");

    sre.stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let (tag, body) = raw::read_message(&mut sre.stream).expect("a FATAL before close");
    assert_eq!((tag, raw::error_fields(&body).0.as_str()), (b'E', "57P01"));
    gw.eventually("the reload", || {
        gw.logs().contains("configuration reloaded")
    });
    // The contractor's grant is untouched: the session goes on.
    let reply = contractor.query("SELECT 1");
    assert!(reply.iter().any(|(t, _)| *t == b'D'), "a row for bob");
}

/// `Gateway::authenticate_bearer`, which the API and MCP listeners call,
/// driven in-process with a real store and the real provider.
#[tokio::test(flavor = "multi_thread")]
async fn bearer_authentication_takes_jwts_and_service_tokens() {
    use std::sync::Arc;

    use portcullis_core::auth::AuthError;
    use portcullis_core::gateway::Gateway as Core;
    use portcullis_core::record::Recorder;
    use portcullis_core::record::chain::Signer;
    use portcullis_core::store::Store;

    let idp = Provider::start();
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "[store]\npath = \"{}\"\n\n[[identity]]\nname = \"ci\"\ngroups = [\"sre\"]\n{}",
        dir.path().join("state.db").display(),
        body(&idp)
    );
    let config = portcullis_core::config::parse(&dir.path().join("p.toml"), &text).unwrap();
    let store: Arc<dyn Store> =
        Arc::new(portcullis_store::SqliteStore::open(&config.store_path).unwrap());
    let signer = Arc::new(Signer::from_seed(&[7u8; 32]).unwrap());
    let (recorder, _writer) = Recorder::start(store.clone(), 16, signer).unwrap();
    let gw = Core::new(config, store.clone(), recorder);
    let from = "127.0.0.1".parse().unwrap();

    let jwt = idp.id_token("portcullis", "alice", &["sre"]).await;
    let p = gw.authenticate_bearer(from, &jwt).await.unwrap();
    assert_eq!(
        (p.identity.as_str(), p.groups.as_slice()),
        ("alice", &["sre".to_string()][..])
    );
    assert_eq!(p.method, format!("oidc:{}", idp.issuer));
    let exp = claim(&jwt, "exp").as_i64().unwrap();
    assert_eq!(
        p.expires_at,
        Some(exp * 1_000_000),
        "no skew in this config"
    );
    assert!(gw.authorize(&p, "demo").is_ok());

    let minted = portcullis_core::token::mint("ci", vec![], 0, None).unwrap();
    store.insert_token(&minted.record).unwrap();
    let p = gw
        .authenticate_bearer(from, minted.secret.expose())
        .await
        .unwrap();
    assert_eq!(p.identity, "ci");
    assert!(p.method.starts_with("token:"));

    for bad in [
        idp.forge("none", "alice").await,
        idp.forge("hs256-public", "alice").await,
        tamper(&jwt),
        "pcl_0000000000000000_00".to_string(),
    ] {
        assert!(
            matches!(
                gw.authenticate_bearer(from, &bad).await,
                Err(AuthError::Invalid { .. })
            ),
            "{bad}"
        );
    }
}
