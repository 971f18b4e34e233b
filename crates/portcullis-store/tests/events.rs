//! Request and response events in the SQLite store: they round-trip as the
//! documents their hashes cover, feed `statements`, filters and retention,
//! and any edit of a stored document (such as a result row) is detected.

use portcullis_core::record::chain::{self, Signer};
use portcullis_core::record::{
    CapturedResult, Event, ResultSet, SessionClose, SessionFilter, SessionOpen, StatementRequest,
    StatementResponse, StatementStatus,
};
use portcullis_core::store::Store;
use portcullis_store::SqliteStore;

fn session(id: &str, ended_at: i64) -> Vec<Event> {
    let request = |seq: u64, verdict: &str, refused: Option<&str>| {
        Event::Request(StatementRequest {
            session_id: id.into(),
            seq,
            started_at: 10 + seq as i64,
            text: format!("select {seq}"),
            params: vec![Some("<redacted>".into())],
            verdict: Some(verdict.into()),
            rule: refused.map(|_| "no-destructive/drop".into()),
            observed: false,
            review: None,
            classified: Some(std::sync::Arc::new(portcullis_core::policy::Classified {
                commands: vec!["SELECT".into()],
                classes: vec!["read".into()],
                tables: vec!["public.t".into()],
            })),
            refused: refused.map(str::to_string),
            request_kind: Default::default(),
            reason: None,
            body: None,
        })
    };
    vec![
        Event::Open(SessionOpen {
            session_id: id.into(),
            started_at: 1,
            identity: "ci".into(),
            auth_method: "token:1".into(),
            client_addr: "127.0.0.1:1".into(),
            connection: "demo".into(),
            protocol: "postgres".into(),
            policy: None,
            policy_version: None,
        }),
        request(1, "allow", None),
        Event::Response(StatementResponse {
            session_id: id.into(),
            seq: 1,
            ended_at: 12,
            duration_us: 5,
            status: StatementStatus::Ok,
            rows: Some(1),
            bytes: 20,
            error: None,
            review: None,
            result: Some(CapturedResult {
                sets: vec![ResultSet {
                    columns: vec!["email".into()],
                    rows: vec![vec![Some("j***@example.com".into())]],
                }],
                truncated: false,
            }),
            status_code: None,
            exit_status: None,
            body: None,
        }),
        request(2, "block", Some("blocked")),
        Event::Response(StatementResponse {
            session_id: id.into(),
            seq: 2,
            ended_at: 13,
            duration_us: 1,
            status: StatementStatus::Blocked,
            rows: None,
            bytes: 0,
            error: Some("blocked".into()),
            review: None,
            result: None,
            status_code: None,
            exit_status: None,
            body: None,
        }),
        Event::Close(SessionClose {
            session_id: id.into(),
            ended_at,
            reason: "client-quit".into(),
            detail: None,
        }),
    ]
}

#[test]
fn request_and_response_events_round_trip_verify_and_reveal_edits() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    let store = SqliteStore::open(&path).unwrap();
    let signer = Signer::from_seed(&[3u8; 32]).unwrap();
    let chained = chain::link_all(session("a", 100));
    let last: chain::Hash = hex_to_hash(&chained.last().unwrap().hash);
    store
        .append(&chained, &[("a".into(), signer.seal("a", &last))])
        .unwrap();

    let (events, seal) = store.session_chain("a").unwrap().unwrap();
    assert_eq!(events, chained);
    let key = signer.public_key_hex();
    assert_eq!(chain::verify("a", &events, seal.as_ref(), &key), Ok(true));

    let statements = store.statements("a").unwrap();
    assert_eq!(statements.len(), 2);
    assert_eq!(statements[0].status, StatementStatus::Ok);
    assert_eq!(
        statements[0].result.as_ref().unwrap().sets[0].rows[0][0].as_deref(),
        Some("j***@example.com")
    );
    assert_eq!(statements[1].status, StatementStatus::Blocked);
    assert_eq!(store.session("a").unwrap().unwrap().statements, 2);
    let blocked = store
        .sessions(&SessionFilter {
            verdict: Some("block".into()),
            ..SessionFilter::default()
        })
        .unwrap();
    assert_eq!(blocked.len(), 1);

    // Edit the recorded row in the store: verification names the response.
    let db = rusqlite::Connection::open(&path).unwrap();
    db.execute(
        "UPDATE events SET doc = replace(doc, 'j***@example.com', 'jane@example.com') \
         WHERE session_id = 'a' AND kind = 'response' AND seq = 1",
        [],
    )
    .unwrap();
    let (events, seal) = store.session_chain("a").unwrap().unwrap();
    let e = chain::verify("a", &events, seal.as_ref(), &key).unwrap_err();
    assert!(e.to_string().contains("event 2 (response 1)"), "{e}");

    // Retention removes the events with their session.
    assert_eq!(store.remove_sessions_ended_before(101).unwrap(), 1);
    let left: i64 = db
        .query_row("SELECT count(*) FROM events", [], |r| r.get(0))
        .unwrap();
    assert_eq!(left, 0);
}

fn hex_to_hash(h: &str) -> chain::Hash {
    let mut out = [0u8; 32];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(&h[2 * i..2 * i + 2], 16).unwrap();
    }
    out
}

/// Terminal chunks, transfers and forwarded channels (SSH sessions) are
/// stored in the chain beside requests, verify, and go with retention.
#[test]
fn terminal_transfer_and_forward_events_are_stored_in_the_chain() {
    use portcullis_core::record::{ForwardEvent, TerminalEvent, TerminalStream, TransferEvent};
    use portcullis_core::request::{ChannelKind, FileOp};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    let store = SqliteStore::open(&path).unwrap();
    let signer = Signer::from_seed(&[3u8; 32]).unwrap();
    let mut events = session("t", 100);
    let close = events.pop().unwrap();
    events.push(Event::Terminal(TerminalEvent::data(
        "t".into(),
        1_000,
        Some(0),
        TerminalStream::Output,
        b"$ \xe2\x82",
    )));
    events.push(Event::Transfer(TransferEvent {
        session_id: "t".into(),
        started_at: 20,
        duration_us: 3,
        op: FileOp::Write,
        path: "/srv/app.tar".into(),
        target: None,
        size: 4096,
        sha256: Some("ab".repeat(32)),
        verdict: Some("allow".into()),
        rule: None,
        refused: None,
        error: None,
    }));
    events.push(Event::Forward(ForwardEvent {
        session_id: "t".into(),
        opened_at: 21,
        duration_us: 9,
        channel: ChannelKind::DirectTcpip,
        destination: Some("db:5432".into()),
        bytes_in: 10,
        bytes_out: 20,
        verdict: Some("block".into()),
        rule: Some("ssh-no-destructive/forwarding".into()),
        refused: Some("refused".into()),
    }));
    events.push(close);
    let chained = chain::link_all(events);
    let last = hex_to_hash(&chained.last().unwrap().hash);
    store
        .append(&chained, &[("t".into(), signer.seal("t", &last))])
        .unwrap();
    let (stored, seal) = store.session_chain("t").unwrap().unwrap();
    assert_eq!(stored, chained);
    assert_eq!(
        chain::verify("t", &stored, seal.as_ref(), &signer.public_key_hex()),
        Ok(true)
    );
    let Event::Terminal(t) = &stored[5].event else {
        panic!("{:?}", stored[5])
    };
    assert_eq!(t.bytes(), b"$ \xe2\x82", "bytes kept exactly");
    assert_eq!(
        store.statements("t").unwrap().len(),
        2,
        "only requests are statements"
    );
    let blocked = store
        .sessions(&SessionFilter {
            verdict: Some("block".into()),
            ..SessionFilter::default()
        })
        .unwrap();
    assert_eq!(blocked.len(), 1);
    assert_eq!(store.remove_sessions_ended_before(101).unwrap(), 1);
    assert!(store.session_chain("t").unwrap().is_none());
}
