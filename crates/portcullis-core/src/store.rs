//! The storage interface: SQLite implements it today, a PostgreSQL backend
//! (for several gateway replicas) can implement it later.
//!
//! Methods are synchronous: callers on async paths use `spawn_blocking`, and
//! the recorder writes from its own thread.

use thiserror::Error;

use crate::record::audit::{AuditEntry, AuditFilter};
use crate::record::chain::{ChainedEvent, Seal};
use crate::record::{SessionFilter, SessionSummary, StatementRecord};
use crate::token::TokenRecord;

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("state store: {0}")]
    Backend(String),
    #[error("state store schema is newer ({found}) than this binary understands ({supported})")]
    SchemaTooNew { found: i64, supported: i64 },
}

/// A session's events in chain order, and its seal if it is closed and sealed.
pub type SessionChain = (Vec<ChainedEvent>, Option<Seal>);

pub trait Store: crate::review::ReviewStore + Send + Sync + 'static {
    fn insert_token(&self, token: &TokenRecord) -> Result<(), StoreError>;
    fn token(&self, id: &str) -> Result<Option<TokenRecord>, StoreError>;
    fn tokens(&self) -> Result<Vec<TokenRecord>, StoreError>;
    /// Marks a token revoked; false when no such token exists.
    fn revoke_token(&self, id: &str, at: i64) -> Result<bool, StoreError>;
    fn touch_token(&self, id: &str, at: i64) -> Result<(), StoreError>;

    /// Appends chained events and the seals of sessions they close,
    /// atomically: all of the batch or none of it.
    fn append(&self, events: &[ChainedEvent], seals: &[(String, Seal)]) -> Result<(), StoreError>;
    /// A session's events in chain order (open, statements, close) with
    /// their stored hashes, and its seal if it has one.
    fn session_chain(&self, id: &str) -> Result<Option<SessionChain>, StoreError>;
    fn sessions(&self, filter: &SessionFilter) -> Result<Vec<SessionSummary>, StoreError>;
    fn session(&self, id: &str) -> Result<Option<SessionSummary>, StoreError>;
    fn statements(&self, session_id: &str) -> Result<Vec<StatementRecord>, StoreError>;
    fn statement_count(&self) -> Result<u64, StoreError>;

    /// Removes sessions that ended before `cutoff` (µs), with their
    /// statements; returns how many. Chains are per session, so what
    /// remains still verifies.
    fn remove_sessions_ended_before(&self, cutoff: i64) -> Result<u64, StoreError>;

    /// Asks the running gateway to end a live session.
    fn request_kill(&self, session_id: &str, actor: &str, at: i64) -> Result<(), StoreError>;
    /// Takes (and forgets) pending kill requests.
    fn take_kill_requests(&self) -> Result<Vec<String>, StoreError>;

    /// Appends to the audit log.
    fn audit(&self, entry: &AuditEntry) -> Result<(), StoreError>;
    /// Audit entries, newest first.
    fn audit_entries(&self, filter: &AuditFilter) -> Result<Vec<AuditEntry>, StoreError>;
}
