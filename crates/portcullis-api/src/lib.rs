//! The gateway's HTTP API: reviewers list, inspect, approve and reject held
//! statements with their own bearer token. Other adapters (MCP) mount their
//! routes beside these on the same listener.
#![forbid(unsafe_code)]

mod auth;
pub mod client;
mod error;
mod metrics;
mod reviews;
mod server;
pub mod webhook;

use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};
use portcullis_core::gateway::Gateway;

pub use error::ApiError;
pub use server::{ServeError, serve};

/// The API routes, bound to the gateway state.
pub fn router(gateway: Arc<Gateway>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/metrics", get(metrics::metrics))
        .route("/v1/reviews", get(reviews::list))
        .route("/v1/reviews/{id}", get(reviews::show))
        .route("/v1/reviews/{id}/approve", post(reviews::approve))
        .route("/v1/reviews/{id}/reject", post(reviews::reject))
        .with_state(gateway)
}
