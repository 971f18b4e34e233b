//! PostgreSQL wire adapter for Portcullis.
//!
//! `frontend` speaks to clients, `backend` to targets; `relay` moves frames
//! between them and `tracker` turns them into recorded statements.
#![forbid(unsafe_code)]

pub mod backend;
pub mod cancel;
pub mod capture;
pub mod frontend;
pub mod guard;
pub mod hold;
mod inprocess;
pub mod mask;
pub mod protocol;
pub mod relay;
mod server;
mod session;
pub mod stream;
pub mod tls;
pub mod tracker;

pub use inprocess::InProcessSession;
pub use server::PostgresServer;
