//! The recorder against the real SQLite store: events survive a store that
//! fails for a while (the writer retries, nothing is dropped), the outage is
//! audited, and what was written verifies.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use portcullis_core::record::audit::{AuditEntry, AuditFilter};
use portcullis_core::record::chain::{self, ChainedEvent, Seal, Signer};
use portcullis_core::record::{
    Event, Recorder, SessionClose, SessionFilter, SessionOpen, SessionSummary, StatementRecord,
    StatementStatus,
};
use portcullis_core::review::{Binding, NewReview, Review, ReviewFilter, ReviewStore};
use portcullis_core::store::{SessionChain, Store, StoreError};
use portcullis_core::token::TokenRecord;
use portcullis_store::SqliteStore;

/// The real store, whose first `fail` appends report an error: a stand-in
/// for a full disk or a locked file, which cannot be produced on demand.
struct Flaky {
    inner: SqliteStore,
    fail: AtomicU32,
}

impl ReviewStore for Flaky {
    fn insert_review(&self, r: &NewReview) -> Result<u64, StoreError> {
        self.inner.insert_review(r)
    }
    fn review(&self, id: u64) -> Result<Option<Review>, StoreError> {
        self.inner.review(id)
    }
    fn reviews(&self, f: &ReviewFilter) -> Result<Vec<Review>, StoreError> {
        self.inner.reviews(f)
    }
    fn save_review(&self, r: &Review) -> Result<(), StoreError> {
        self.inner.save_review(r)
    }
    fn claim_grant(&self, b: &Binding, now: i64, s: &str) -> Result<Option<u64>, StoreError> {
        self.inner.claim_grant(b, now, s)
    }
    fn claim_review(&self, id: u64, now: i64, s: &str) -> Result<bool, StoreError> {
        self.inner.claim_review(id, now, s)
    }
}

impl Store for Flaky {
    fn insert_token(&self, t: &TokenRecord) -> Result<(), StoreError> {
        self.inner.insert_token(t)
    }
    fn token(&self, id: &str) -> Result<Option<TokenRecord>, StoreError> {
        self.inner.token(id)
    }
    fn tokens(&self) -> Result<Vec<TokenRecord>, StoreError> {
        self.inner.tokens()
    }
    fn revoke_token(&self, id: &str, at: i64) -> Result<bool, StoreError> {
        self.inner.revoke_token(id, at)
    }
    fn touch_token(&self, id: &str, at: i64) -> Result<(), StoreError> {
        self.inner.touch_token(id, at)
    }
    fn append(&self, events: &[ChainedEvent], seals: &[(String, Seal)]) -> Result<(), StoreError> {
        if self
            .fail
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            return Err(StoreError::Backend("disk full (simulated)".into()));
        }
        self.inner.append(events, seals)
    }
    fn session_chain(&self, id: &str) -> Result<Option<SessionChain>, StoreError> {
        self.inner.session_chain(id)
    }
    fn sessions(&self, f: &SessionFilter) -> Result<Vec<SessionSummary>, StoreError> {
        self.inner.sessions(f)
    }
    fn session(&self, id: &str) -> Result<Option<SessionSummary>, StoreError> {
        self.inner.session(id)
    }
    fn statements(&self, id: &str) -> Result<Vec<StatementRecord>, StoreError> {
        self.inner.statements(id)
    }
    fn statement_count(&self) -> Result<u64, StoreError> {
        self.inner.statement_count()
    }
    fn remove_sessions_ended_before(&self, cutoff: i64) -> Result<u64, StoreError> {
        self.inner.remove_sessions_ended_before(cutoff)
    }
    fn request_kill(&self, id: &str, actor: &str, at: i64) -> Result<(), StoreError> {
        self.inner.request_kill(id, actor, at)
    }
    fn take_kill_requests(&self) -> Result<Vec<String>, StoreError> {
        self.inner.take_kill_requests()
    }
    fn audit(&self, e: &AuditEntry) -> Result<(), StoreError> {
        self.inner.audit(e)
    }
    fn audit_entries(&self, f: &AuditFilter) -> Result<Vec<AuditEntry>, StoreError> {
        self.inner.audit_entries(f)
    }
}

#[tokio::test]
async fn a_failing_store_slows_recording_down_but_loses_nothing() {
    let flaky = Arc::new(Flaky {
        inner: SqliteStore::in_memory().unwrap(),
        fail: AtomicU32::new(3),
    });
    let signer = Arc::new(Signer::from_seed(&[5u8; 32]).unwrap());
    let key = signer.public_key_hex();
    let (recorder, thread) = Recorder::start(flaky.clone(), 4, signer).unwrap();
    recorder
        .record(Event::Open(SessionOpen {
            session_id: "s".into(),
            started_at: 1,
            identity: "ci".into(),
            auth_method: "token:1".into(),
            client_addr: "127.0.0.1:1".into(),
            connection: "db".into(),
            protocol: "postgres".into(),
            policy: None,
            policy_version: None,
        }))
        .await
        .unwrap();
    // More events than the queue holds: senders wait instead of dropping.
    for seq in 1..=50 {
        recorder
            .record(Event::Statement(StatementRecord {
                session_id: "s".into(),
                seq,
                text: format!("select {seq}"),
                started_at: 2,
                duration_us: 1,
                rows: Some(1),
                status: StatementStatus::Ok,
                error: None,
                verdict: None,
                rule: None,
                observed: false,
                review: None,
                result: None,
            }))
            .await
            .unwrap();
    }
    recorder
        .record(Event::Close(SessionClose {
            session_id: "s".into(),
            ended_at: 3,
            reason: "client-quit".into(),
            detail: None,
        }))
        .await
        .unwrap();
    recorder.flush().await.unwrap();
    assert_eq!(recorder.stats().write_failures.load(Ordering::Relaxed), 3);
    drop(recorder);
    thread.finish();

    assert_eq!(flaky.statement_count().unwrap(), 50);
    let (events, seal) = flaky.session_chain("s").unwrap().unwrap();
    assert_eq!(chain::verify("s", &events, seal.as_ref(), &key), Ok(true));
    let audit = flaky.audit_entries(&AuditFilter::default()).unwrap();
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].action, "recording.failed");
    assert!(
        audit[0]
            .detail
            .as_deref()
            .unwrap()
            .starts_with("3 failed attempts"),
        "{audit:?}"
    );
}

#[tokio::test]
async fn record_durable_waits_for_the_commit_and_times_out_while_the_store_fails() {
    let flaky = Arc::new(Flaky {
        inner: SqliteStore::in_memory().unwrap(),
        fail: AtomicU32::new(4),
    });
    let signer = Arc::new(Signer::from_seed(&[5u8; 32]).unwrap());
    let (recorder, thread) = Recorder::start(flaky.clone(), 16, signer).unwrap();
    let open = Event::Open(SessionOpen {
        session_id: "d".into(),
        started_at: 1,
        identity: "ci".into(),
        auth_method: "token:1".into(),
        client_addr: "127.0.0.1:1".into(),
        connection: "db".into(),
        protocol: "postgres".into(),
        policy: None,
        policy_version: None,
    });
    // Four failures back off 50 + 100 + 200 + 400 ms: far beyond 100 ms.
    let short = std::time::Duration::from_millis(100);
    assert!(matches!(
        recorder.record_durable(open, short).await,
        Err(portcullis_core::record::RecordError::Timeout(_))
    ));
    assert!(flaky.session("d").unwrap().is_none(), "not stored yet");
    recorder
        .audit(AuditEntry::new(
            "gateway",
            "recording.strict_refused",
            None,
            None,
        ))
        .await
        .unwrap();
    let close = Event::Close(SessionClose {
        session_id: "d".into(),
        ended_at: 2,
        reason: "client-quit".into(),
        detail: None,
    });
    recorder
        .record_durable(close, std::time::Duration::from_secs(10))
        .await
        .unwrap();
    // Durable means committed: visible to a reader at once.
    assert!(flaky.session("d").unwrap().unwrap().ended_at.is_some());
    let actions: Vec<String> = flaky
        .audit_entries(&AuditFilter::default())
        .unwrap()
        .into_iter()
        .map(|a| a.action)
        .collect();
    assert!(
        actions.contains(&"recording.strict_refused".to_string()),
        "{actions:?}"
    );
    assert_eq!(recorder.queue_depth(), 0);
    drop(recorder);
    thread.finish();
}
