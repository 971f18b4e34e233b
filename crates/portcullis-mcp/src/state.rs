//! What every MCP session shares.

use std::sync::Arc;

use tokio::sync::watch;

use portcullis_core::gateway::Gateway;
use portcullis_postgres::PostgresServer;

use crate::limiter::BlockedCalls;

/// The MCP server's shared state: the gateway, the PostgreSQL adapter whose
/// in-process sessions run agents' statements, and the memory of blocked
/// calls (shared, so an agent cannot reset it by reconnecting).
pub struct Mcp {
    pub(crate) gateway: Arc<Gateway>,
    pub(crate) postgres: Arc<PostgresServer>,
    pub(crate) shutdown: watch::Receiver<bool>,
    pub(crate) blocked: BlockedCalls,
}

impl Mcp {
    /// `postgres` should be the gateway's own adapter (one classifier cache
    /// and cancel registry); `shutdown` turning true ends agents' sessions
    /// like the PostgreSQL listener's.
    pub fn new(
        gateway: Arc<Gateway>,
        postgres: Arc<PostgresServer>,
        shutdown: watch::Receiver<bool>,
    ) -> Arc<Mcp> {
        Arc::new(Mcp {
            gateway,
            postgres,
            shutdown,
            blocked: BlockedCalls::default(),
        })
    }
}
