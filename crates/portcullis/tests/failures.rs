//! Bad credentials, missing grants, unreachable targets and broken frames:
//! each gets the protocol's proper error and nothing else is disturbed.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::raw::{self, RawConn};
use common::{Gateway, Options, default_config};

fn refused(gw: &Gateway, user: &str, db: &str, password: &str) -> (String, String) {
    match RawConn::connect(gw.port(), user, db, Some(password)) {
        Ok(_) => panic!("connection as {user} to {db} was accepted"),
        Err(e) => e,
    }
}

#[test]
fn bad_tokens_get_28p01_without_revealing_why() {
    let gw = Gateway::start();
    let good = gw.token("demo");
    let expected = "password authentication failed for user \"demo\"";

    // Wrong secret with a valid id, a malformed token, another identity's token.
    let mut wrong = good.clone();
    wrong.replace_range(wrong.len() - 4.., "0000");
    for bad in [wrong.as_str(), "not-a-token", ""] {
        let (code, msg) = refused(&gw, "demo", "demo", bad);
        assert_eq!(
            (code.as_str(), msg.as_str()),
            ("28P01", expected),
            "for {bad:?}"
        );
    }
    let other = gw.token("nogrant");
    assert_eq!(refused(&gw, "demo", "demo", &other).0, "28P01");
    // Unknown identities look exactly like wrong tokens.
    let (code, msg) = refused(&gw, "ghost", "demo", &good);
    assert_eq!(code, "28P01");
    assert_eq!(msg, "password authentication failed for user \"ghost\"");

    // Revoked.
    let id = good.split('_').nth(1).unwrap().to_string();
    RawConn::connect(gw.port(), "demo", "demo", Some(&good)).expect("valid before revoke");
    gw.cli_ok(&["token", "revoke", &id]);
    assert_eq!(refused(&gw, "demo", "demo", &good).0, "28P01");
    let list = gw.cli_ok(&["token", "list"]);
    assert!(list.contains(&id) && list.contains("revoked"), "{list}");
    assert!(!list.contains(&good), "token list must not print secrets");

    // Expired.
    let short = gw
        .cli_ok(&["token", "create", "--identity", "demo", "--ttl", "1s"])
        .trim()
        .to_string();
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(refused(&gw, "demo", "demo", &short).0, "28P01");

    // Every failure was logged with its real reason, for the operator (the
    // log is read from the gateway's stderr as it comes).
    for why in [
        "wrong token secret",
        "malformed token",
        "token revoked",
        "token expired",
    ] {
        gw.eventually(&format!("the log to say {why:?}"), || {
            gw.logs().contains(why)
        });
    }
}

#[test]
fn grants_and_connection_names_are_enforced() {
    let gw = Gateway::start();
    let t = gw.token("nogrant");
    let (code, msg) = refused(&gw, "nogrant", "demo", &t);
    assert_eq!(code, "42501");
    assert!(msg.contains("no grant") && msg.contains("demo"), "{msg}");
    let t = gw.token("demo");
    let (code, msg) = refused(&gw, "demo", "nosuch", &t);
    assert_eq!(code, "3D000");
    assert!(msg.contains("nosuch"), "{msg}");
}

#[test]
fn unreachable_target_is_08006_and_names_only_the_connection() {
    // A port nothing listens on.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let body = format!(
        "{}\n[[connection]]\nname = \"down\"\nkind = \"postgres\"\naddress = \"127.0.0.1:{port}\"\ndatabase = \"x\"\nuser = \"u\"\ntls = \"disable\"\n\n[[grant]]\nidentity = \"demo\"\nconnections = [\"down\"]\n",
        default_config()
    );
    let gw = Gateway::start_with(Options {
        body,
        ..Default::default()
    });
    let t = gw.token("demo");
    let (code, msg) = refused(&gw, "demo", "down", &t);
    assert_eq!(code, "08006");
    assert_eq!(msg, "connection \"down\" is unavailable");
    assert!(!msg.contains(&port.to_string()));
    // The gateway still serves other connections.
    RawConn::connect(gw.port(), "demo", "demo", Some(&t)).expect("demo still works");
}

fn expect_fatal(stream: &mut TcpStream, code: &str) {
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let (tag, body) = raw::read_message(stream).expect("an error before close");
    assert_eq!(tag, b'E');
    assert_eq!(raw::error_fields(&body).0, code);
    let mut rest = Vec::new();
    let _ = stream.read_to_end(&mut rest);
    assert!(rest.is_empty(), "connection closed after the error");
}

#[test]
fn malformed_startup_packets_are_refused() {
    let gw = Gateway::start();
    // Length shorter than the header.
    let mut s = TcpStream::connect(&gw.addr).unwrap();
    s.write_all(&[0, 0, 0, 3]).unwrap();
    expect_fatal(&mut s, "08P01");
    // 1 GiB length prefix on the startup packet.
    let mut s = TcpStream::connect(&gw.addr).unwrap();
    s.write_all(&(1u32 << 30).to_be_bytes()).unwrap();
    expect_fatal(&mut s, "08P01");
    // Unterminated parameter list.
    let mut s = TcpStream::connect(&gw.addr).unwrap();
    let mut pkt = vec![0, 0, 0, 13, 0, 3, 0, 0];
    pkt.extend_from_slice(b"user\0");
    s.write_all(&pkt).unwrap();
    expect_fatal(&mut s, "08P01");
    // Protocol version 2.
    let mut s = TcpStream::connect(&gw.addr).unwrap();
    s.write_all(&[0, 0, 0, 8, 0, 2, 0, 0]).unwrap();
    expect_fatal(&mut s, "08P01");
    // Still serving.
    let t = gw.token("demo");
    RawConn::connect(gw.port(), "demo", "demo", Some(&t)).expect("still serving");
}

#[test]
fn oversized_and_malformed_frames_end_only_that_session() {
    let gw = Gateway::start();
    let t = gw.token("demo");
    let mut bystander = RawConn::connect(gw.port(), "demo", "demo", Some(&t)).unwrap();

    // 1 GiB length prefix on a Query.
    let mut c = RawConn::connect(gw.port(), "demo", "demo", Some(&t)).unwrap();
    c.send(&[b'Q', 0x40, 0, 0, 0]);
    expect_fatal(&mut c.stream, "54000");

    // A length below the minimum.
    let mut c = RawConn::connect(gw.port(), "demo", "demo", Some(&t)).unwrap();
    c.send(&[b'Q', 0, 0, 0, 2]);
    expect_fatal(&mut c.stream, "08P01");

    // An unknown message type.
    let mut c = RawConn::connect(gw.port(), "demo", "demo", Some(&t)).unwrap();
    c.send(&raw::frame(b'!', b"x"));
    expect_fatal(&mut c.stream, "08P01");

    // A Query without its terminating NUL.
    let mut c = RawConn::connect(gw.port(), "demo", "demo", Some(&t)).unwrap();
    c.send(&raw::frame(b'Q', b"select 1"));
    expect_fatal(&mut c.stream, "08P01");

    let reply = bystander.query("SELECT 42");
    assert!(
        reply.iter().any(|(t, b)| *t == b'D' && b.ends_with(b"42")),
        "bystander session still works"
    );
    gw.eventually("sessions closed as protocol errors", || {
        gw.logs().contains("protocol-error")
    });
}

#[test]
fn client_disconnecting_mid_result_is_recorded_and_harmless() {
    let gw = Gateway::start();
    let t = gw.token("demo");
    let mut c = RawConn::connect(gw.port(), "demo", "demo", Some(&t)).unwrap();
    c.send(&raw::query_frame(
        "SELECT g, repeat('x', 1000) FROM generate_series(1, 2000000) g",
    ));
    let mut first = [0u8; 65536];
    c.stream.read_exact(&mut first).unwrap();
    drop(c);
    gw.eventually("the session to close", || {
        gw.sessions()
            .iter()
            .any(|s| s["reason"] == "client-disconnected")
    });
    let s = gw
        .sessions()
        .into_iter()
        .find(|s| s["reason"] == "client-disconnected")
        .unwrap();
    let shown = gw.session(s["session_id"].as_str().unwrap());
    assert_eq!(shown["statements"][0]["status"], "interrupted");
    // The target backend was released too: no session of ours runs that query.
    let mut d = RawConn::connect(common::PG_PORT, "postgres", "test", None).unwrap();
    let mut gone = false;
    for _ in 0..100 {
        let r = d.query("SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT g, repeat%' AND pid <> pg_backend_pid()");
        if r.iter().any(|(t, b)| *t == b'D' && b.ends_with(b"0")) {
            gone = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(gone, "target backend still running the abandoned query");
    RawConn::connect(gw.port(), "demo", "demo", Some(&t)).expect("still serving");
}

#[test]
fn gssenc_is_declined_like_postgres_and_the_startup_goes_on() {
    let gw = Gateway::start();
    let token = gw.token("demo");
    let mut s = TcpStream::connect(&gw.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(&[0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x30]).unwrap(); // GSSENCRequest
    let mut answer = [0u8; 1];
    s.read_exact(&mut answer).unwrap();
    assert_eq!(&answer, b"N");
    // The same connection then carries a normal startup.
    s.write_all(&raw::startup_packet(&[
        ("user", "demo"),
        ("database", "demo"),
    ]))
    .unwrap();
    let (tag, body) = raw::read_message(&mut s).unwrap();
    assert_eq!(
        (tag, &body[..]),
        (b'R', &3i32.to_be_bytes()[..]),
        "cleartext password requested"
    );
    let mut p = token.into_bytes();
    p.push(0);
    s.write_all(&raw::frame(b'p', &p)).unwrap();
    loop {
        let (tag, _) = raw::read_message(&mut s).unwrap();
        assert_ne!(tag, b'E');
        if tag == b'Z' {
            break;
        }
    }
}

#[test]
fn repeated_failures_from_one_address_are_rate_limited() {
    let gw = Gateway::start();
    let good = gw.token("demo");
    for _ in 0..10 {
        assert_eq!(refused(&gw, "demo", "demo", "pcl_guess").0, "28P01");
    }
    // Now even the right token is refused from this address, with the same
    // error (nothing tells the guesser what happened).
    let (code, msg) = refused(&gw, "demo", "demo", &good);
    assert_eq!(code, "28P01");
    assert_eq!(msg, "password authentication failed for user \"demo\"");
    gw.eventually("the limit to be logged and audited", || {
        gw.logs()
            .contains("too many failed attempts from this address")
    });
    let audit = gw.cli_ok(&["audit", "list", "--action", "auth.failed"]);
    assert!(audit.contains("too many failed attempts"), "{audit}");
}
