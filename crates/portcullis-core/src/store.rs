//! The storage interface: SQLite implements it today, a PostgreSQL backend
//! (for several gateway replicas) can implement it later.
//!
//! Methods are synchronous: callers on async paths use `spawn_blocking`, and
//! the recorder writes from its own thread.

use thiserror::Error;

use crate::record::{Event, SessionFilter, SessionSummary, StatementRecord};
use crate::token::TokenRecord;

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("state store: {0}")]
    Backend(String),
    #[error("state store schema is newer ({found}) than this binary understands ({supported})")]
    SchemaTooNew { found: i64, supported: i64 },
}

pub trait Store: Send + Sync + 'static {
    fn insert_token(&self, token: &TokenRecord) -> Result<(), StoreError>;
    fn token(&self, id: &str) -> Result<Option<TokenRecord>, StoreError>;
    fn tokens(&self) -> Result<Vec<TokenRecord>, StoreError>;
    /// Marks a token revoked; false when no such token exists.
    fn revoke_token(&self, id: &str, at: i64) -> Result<bool, StoreError>;
    fn touch_token(&self, id: &str, at: i64) -> Result<(), StoreError>;

    /// Appends events atomically: all of the batch or none of it.
    fn append(&self, events: &[Event]) -> Result<(), StoreError>;
    fn sessions(&self, filter: &SessionFilter) -> Result<Vec<SessionSummary>, StoreError>;
    fn session(&self, id: &str) -> Result<Option<SessionSummary>, StoreError>;
    fn statements(&self, session_id: &str) -> Result<Vec<StatementRecord>, StoreError>;
    fn statement_count(&self) -> Result<u64, StoreError>;
}
