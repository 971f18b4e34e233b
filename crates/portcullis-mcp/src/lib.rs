//! MCP server for AI agents: governed database access over the Model
//! Context Protocol, on stdio (desktop agents) and streamable HTTP (`/mcp`).
//!
//! Agents get four tools: `list_connections`, `describe`, `query` and
//! `review_status`. `query` is not a parallel implementation: each MCP
//! session opens, per connection, one in-process PostgreSQL session through
//! the adapter ([`PostgresServer::open_in_process`]) and drives it with
//! `tokio-postgres`, so identity, grants, guardrails, reviews, masking and
//! recording are exactly those of a native client. What differs is the
//! shape of the answers: verdicts come back as tool results an agent can act
//! on (blocked, by which rule, do not retry; pending review N, how to check),
//! results are capped by the policy's `[policy.NAME.agent]` limits, and
//! identical blocked calls repeated by a looping agent are rate-limited.
//!
//! [`PostgresServer::open_in_process`]: portcullis_postgres::PostgresServer::open_in_process
#![forbid(unsafe_code)]

mod auth;
mod catalog;
mod error;
mod handler;
mod http;
mod limiter;
mod outcome;
mod query;
mod state;
mod stdio;
mod tools;
mod upstream;

pub use auth::authenticate_bearer;
pub use error::McpError;
pub use http::router;
pub use state::Mcp;
pub use stdio::serve_stdio;
