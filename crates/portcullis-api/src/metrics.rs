//! `GET /metrics`: the recorder's counters in the Prometheus text format,
//! so an operator can alert on recording falling behind or failing.
//!
//! Loopback callers (a local Prometheus agent) need no token; anyone else
//! authenticates with a bearer token like every other route. The counters
//! hold no statement text and no identity.

use std::fmt::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use portcullis_core::gateway::Gateway;

use crate::auth::Caller;
use crate::error::ApiError;

pub async fn metrics(
    State(gateway): State<Arc<Gateway>>,
    request: Request,
) -> Result<Response, ApiError> {
    let (mut parts, _) = request.into_parts();
    let loopback = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .is_some_and(|c| c.0.ip().is_loopback());
    if !loopback {
        Caller::from_request_parts(&mut parts, &gateway).await?;
    }
    let body = render(&gateway);
    Ok((
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
        .into_response())
}

fn render(gateway: &Gateway) -> String {
    let recorder = gateway.recorder();
    let stats = recorder.stats();
    let mut out = String::new();
    let mut metric = |name: &str, kind: &str, help: &str, value: u64| {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} {kind}");
        let _ = writeln!(out, "{name} {value}");
    };
    metric(
        "portcullis_recorder_events_written_total",
        "counter",
        "Session events committed to the state store.",
        stats.written.load(Ordering::Relaxed),
    );
    metric(
        "portcullis_recorder_write_failures_total",
        "counter",
        "Failed attempts to write recorded events or audit entries (each is retried).",
        stats.write_failures.load(Ordering::Relaxed),
    );
    metric(
        "portcullis_recorder_queue_depth",
        "gauge",
        "Events waiting in the recorder queue.",
        recorder.queue_depth() as u64,
    );
    metric(
        "portcullis_recorder_strict_refusals_total",
        "counter",
        "Statements refused in strict mode because their request event could not be stored in time.",
        stats.strict_refusals.load(Ordering::Relaxed),
    );
    out
}
