//! Results through the gateway are byte-identical to results direct.

mod common;

use common::raw::RawConn;
use common::{Gateway, PG_PORT};

/// Zeroes the table OIDs in RowDescription: the two runs create their own
/// tables, so those OIDs differ for reasons that have nothing to do with the
/// gateway. Every other byte is compared as is.
fn normalize(mut replies: Vec<(u8, Vec<u8>)>) -> Vec<(u8, Vec<u8>)> {
    for (tag, body) in &mut replies {
        if *tag != b'T' {
            continue;
        }
        let n = u16::from_be_bytes([body[0], body[1]]) as usize;
        let mut at = 2;
        for _ in 0..n {
            at += body[at..].iter().position(|&b| b == 0).unwrap() + 1;
            body[at..at + 4].fill(0);
            at += 18;
        }
    }
    replies
}

fn corpus() -> Vec<String> {
    include_str!("data/transparency.sql")
        .lines()
        .filter(|l| !l.starts_with("--") && !l.trim().is_empty())
        .map(str::to_string)
        .collect()
}

#[test]
fn corpus_replies_are_byte_identical_through_the_gateway() {
    let statements = corpus();
    assert!(
        statements.len() >= 50,
        "corpus has {} statements",
        statements.len()
    );
    let gw = Gateway::start();
    let token = gw.token("demo");
    // Both runs use one schema, one after the other, so object names in
    // error fields match too.
    let schema = common::unique("transparency");
    let mut admin = RawConn::connect(PG_PORT, "postgres", "test", None).expect("direct");
    admin.query(&format!("CREATE SCHEMA {schema}"));
    let mut direct = RawConn::connect(PG_PORT, "postgres", "test", None).expect("direct");
    let mut via = RawConn::connect(gw.port(), "demo", "demo", Some(&token)).expect("gateway");
    for c in [&mut direct, &mut via] {
        c.query(&format!("SET search_path = {schema}"));
    }

    // Startup parameters the server reports are passed on unchanged.
    let params = |c: &RawConn| {
        let mut p: Vec<_> = c.startup.iter().filter(|m| m.0 == b'S').cloned().collect();
        p.sort();
        p
    };
    assert_eq!(params(&direct), params(&via), "ParameterStatus at startup");

    let direct_replies: Vec<_> = statements
        .iter()
        .map(|sql| normalize(direct.query(sql)))
        .collect();
    let mut compared = 0;
    for (sql, a) in statements.iter().zip(direct_replies) {
        let b = normalize(via.query(sql));
        if a != b {
            let show = |m: &Vec<(u8, Vec<u8>)>| {
                m.iter()
                    .map(|(t, body)| format!("{}:{}", *t as char, String::from_utf8_lossy(body)))
                    .collect::<Vec<_>>()
                    .join(" | ")
            };
            panic!(
                "reply differs for {sql:?}\n direct: {}\n gateway: {}",
                show(&a),
                show(&b)
            );
        }
        compared += a.len();
    }
    assert!(compared > 2500, "compared only {compared} messages");
    admin.query(&format!("DROP SCHEMA {schema} CASCADE"));
}

#[test]
fn copy_from_stdin_is_transparent() {
    let gw = Gateway::start();
    let token = gw.token("demo");
    let mut via = RawConn::connect(gw.port(), "demo", "demo", Some(&token)).unwrap();
    let mut direct = RawConn::connect(PG_PORT, "postgres", "test", None).unwrap();
    for c in [&mut via, &mut direct] {
        c.query("CREATE TEMP TABLE cp (a int, b text)");
        c.send(&common::raw::query_frame("COPY cp FROM STDIN"));
    }
    let a = common::raw::read_message(&mut direct.stream).unwrap();
    let b = common::raw::read_message(&mut via.stream).unwrap();
    assert_eq!(a, b, "CopyInResponse");
    assert_eq!(a.0, b'G');
    let mut data = Vec::new();
    for i in 0..5000 {
        data.extend_from_slice(format!("{i}\tline {i}\n").as_bytes());
    }
    for c in [&mut via, &mut direct] {
        // Uneven chunks, so frames straddle reads.
        for chunk in data.chunks(7919) {
            c.send(&common::raw::frame(b'd', chunk));
        }
        c.send(&common::raw::frame(b'c', b""));
    }
    assert_eq!(direct.until_ready(), via.until_ready());
    assert_eq!(
        direct.query("SELECT count(*), sum(a) FROM cp"),
        via.query("SELECT count(*), sum(a) FROM cp")
    );
}
