//! Test doubles for the core and for adapters' unit tests (feature
//! `testing`): an in-memory [`Store`] and a [`Gateway`] built on it.
//! Integration tests use the real SQLite store; these exist so the
//! pipeline can be tested without an adapter or a database.
// A test double: failing loudly is what a broken test setup should do.
#![allow(clippy::panic)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use crate::config::Config;
use crate::gateway::Gateway;
use crate::record::audit::{AuditEntry, AuditFilter};
use crate::record::chain::{ChainedEvent, Seal, Signer};
use crate::record::{
    Event, Recorder, RecorderThread, SessionFilter, SessionSummary, StatementRecord,
};
use crate::review::{Binding, NewReview, Review, ReviewFilter, ReviewState, ReviewStore};
use crate::store::{SessionChain, Store, StoreError};
use crate::token::TokenRecord;

/// A store double that keeps events, seals, audit entries and reviews in
/// memory. Its writes can be made to fail, as a full disk or a locked
/// database would.
#[derive(Default)]
pub struct MemoryStore {
    events: Mutex<HashMap<String, Vec<ChainedEvent>>>,
    seals: Mutex<HashMap<String, Seal>>,
    audit: Mutex<Vec<AuditEntry>>,
    reviews: Mutex<Vec<Review>>,
    kills: Mutex<Vec<String>>,
    failing: AtomicBool,
}

impl MemoryStore {
    /// While `true`, appending events fails (the recorder retries).
    pub fn fail_writes(&self, failing: bool) {
        self.failing.store(failing, Ordering::SeqCst);
    }

    /// Every event stored for `session`, in chain order.
    pub fn events(&self, session: &str) -> Vec<Event> {
        lock(&self.events)
            .get(session)
            .map(|v| v.iter().map(|c| c.event.clone()).collect())
            .unwrap_or_default()
    }

    pub fn audit_actions(&self) -> Vec<String> {
        lock(&self.audit).iter().map(|a| a.action.clone()).collect()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl ReviewStore for MemoryStore {
    fn insert_review(&self, review: &NewReview) -> Result<u64, StoreError> {
        let mut all = lock(&self.reviews);
        let id = all.len() as u64 + 1;
        all.push(Review {
            id,
            state: ReviewState::Pending,
            request: review.clone(),
            approvals: Vec::new(),
            rejection: None,
            grant_expires_at: None,
            executed_at: None,
            executed_session: None,
            outcome: None,
            estimate: None,
        });
        Ok(id)
    }

    fn review(&self, id: u64) -> Result<Option<Review>, StoreError> {
        Ok(lock(&self.reviews).iter().find(|r| r.id == id).cloned())
    }

    fn reviews(&self, filter: &ReviewFilter) -> Result<Vec<Review>, StoreError> {
        let mut out: Vec<Review> = lock(&self.reviews)
            .iter()
            .filter(|r| filter.state.is_none_or(|s| r.state == s))
            .cloned()
            .collect();
        out.reverse();
        if let Some(l) = filter.limit {
            out.truncate(l as usize);
        }
        Ok(out)
    }

    fn save_review(&self, review: &Review) -> Result<(), StoreError> {
        let mut all = lock(&self.reviews);
        match all.iter_mut().find(|r| r.id == review.id) {
            Some(r) => {
                *r = review.clone();
                Ok(())
            }
            None => Err(StoreError::Backend(format!(
                "review {} does not exist",
                review.id
            ))),
        }
    }

    fn claim_grant(
        &self,
        binding: &Binding,
        now: i64,
        session: &str,
    ) -> Result<Option<u64>, StoreError> {
        let mut all = lock(&self.reviews);
        let found = all.iter_mut().find(|r| {
            r.state == ReviewState::Approved
                && r.executed_at.is_none()
                && r.grant_expires_at.is_some_and(|g| g > now)
                && r.request.identity == binding.identity
                && r.request.connection == binding.connection
                && r.request.statement_hash == binding.statement_hash
                && r.request.params_hash == binding.params_hash
                && r.request.policy_version == binding.policy_version
        });
        Ok(found.map(|r| {
            r.executed_at = Some(now);
            r.executed_session = Some(session.to_string());
            r.id
        }))
    }

    fn claim_review(&self, id: u64, now: i64, session: &str) -> Result<bool, StoreError> {
        let mut all = lock(&self.reviews);
        let Some(r) = all.iter_mut().find(|r| r.id == id) else {
            return Ok(false);
        };
        let usable = r.state == ReviewState::Approved
            && r.executed_at.is_none()
            && r.grant_expires_at.is_some_and(|g| g > now);
        if usable {
            r.executed_at = Some(now);
            r.executed_session = Some(session.to_string());
        }
        Ok(usable)
    }
}

impl Store for MemoryStore {
    fn insert_token(&self, _: &TokenRecord) -> Result<(), StoreError> {
        Ok(())
    }
    fn token(&self, _: &str) -> Result<Option<TokenRecord>, StoreError> {
        Ok(None)
    }
    fn tokens(&self) -> Result<Vec<TokenRecord>, StoreError> {
        Ok(Vec::new())
    }
    fn revoke_token(&self, _: &str, _: i64) -> Result<bool, StoreError> {
        Ok(false)
    }
    fn touch_token(&self, _: &str, _: i64) -> Result<(), StoreError> {
        Ok(())
    }

    fn append(&self, events: &[ChainedEvent], seals: &[(String, Seal)]) -> Result<(), StoreError> {
        if self.failing.load(Ordering::SeqCst) {
            return Err(StoreError::Backend(
                "the memory store refuses writes".into(),
            ));
        }
        let mut all = lock(&self.events);
        for e in events {
            all.entry(e.event.session_id().to_string())
                .or_default()
                .push(e.clone());
        }
        lock(&self.seals).extend(seals.iter().cloned());
        Ok(())
    }

    fn session_chain(&self, id: &str) -> Result<Option<SessionChain>, StoreError> {
        let events = lock(&self.events).get(id).cloned();
        Ok(events.map(|e| (e, lock(&self.seals).get(id).cloned())))
    }
    fn sessions(&self, _: &SessionFilter) -> Result<Vec<SessionSummary>, StoreError> {
        Ok(Vec::new())
    }
    fn session(&self, _: &str) -> Result<Option<SessionSummary>, StoreError> {
        Ok(None)
    }
    fn statements(&self, _: &str) -> Result<Vec<StatementRecord>, StoreError> {
        Ok(Vec::new())
    }
    fn statement_count(&self) -> Result<u64, StoreError> {
        Ok(0)
    }
    fn remove_sessions_ended_before(&self, _: i64) -> Result<u64, StoreError> {
        Ok(0)
    }
    fn request_kill(&self, session_id: &str, _: &str, _: i64) -> Result<(), StoreError> {
        lock(&self.kills).push(session_id.to_string());
        Ok(())
    }
    fn take_kill_requests(&self) -> Result<Vec<String>, StoreError> {
        Ok(std::mem::take(&mut *lock(&self.kills)))
    }
    fn audit(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        lock(&self.audit).push(entry.clone());
        Ok(())
    }
    fn audit_entries(&self, _: &AuditFilter) -> Result<Vec<AuditEntry>, StoreError> {
        Ok(lock(&self.audit).clone())
    }
}

/// A gateway on a [`MemoryStore`] with `config_toml` (relative paths are
/// resolved against the working directory) and its recorder thread.
pub fn gateway(config_toml: &str) -> (Arc<Gateway>, Arc<MemoryStore>, RecorderThread) {
    let config: Config = match crate::config::parse(std::path::Path::new("test.toml"), config_toml)
    {
        Ok(c) => c,
        Err(e) => panic!("test configuration: {e}"),
    };
    let store = Arc::new(MemoryStore::default());
    let signer = match Signer::from_seed(&[7u8; 32]) {
        Ok(s) => Arc::new(s),
        Err(e) => panic!("test key: {e}"),
    };
    let (recorder, thread) = match Recorder::start(store.clone(), 64, signer) {
        Ok(r) => r,
        Err(e) => panic!("recorder: {e}"),
    };
    let gateway = Arc::new(Gateway::new(config, store.clone(), recorder));
    (gateway, store, thread)
}
