//! Bearer authentication for API requests: the same credentials, rate limit
//! and audit trail as the PostgreSQL listener.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::header;
use axum::http::request::Parts;
use portcullis_core::auth::{AuthError, Principal};
use portcullis_core::gateway::Gateway;
use portcullis_core::record::audit::AuditEntry;

use crate::error::ApiError;

/// The authenticated caller of a request.
pub struct Caller(pub Principal);

impl FromRequestParts<Arc<Gateway>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        gateway: &Arc<Gateway>,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0)
            .ok_or(ApiError::Unauthenticated)?;
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(str::trim)
            .filter(|t| !t.is_empty());
        let Some(token) = token else {
            return Err(ApiError::Unauthenticated);
        };
        match gateway.authenticate_bearer(peer.ip(), token).await {
            Ok(p) => Ok(Caller(p)),
            Err(AuthError::Invalid { why }) => {
                tracing::warn!(%peer, reason = why, "API authentication failed");
                gateway
                    .audit(AuditEntry::new(
                        peer.to_string(),
                        "auth.failed",
                        None,
                        Some(format!("api: {why}")),
                    ))
                    .await;
                Err(ApiError::Unauthenticated)
            }
            Err(AuthError::Unavailable(e)) => {
                tracing::error!(%peer, error = %e, "authentication unavailable");
                Err(ApiError::Unavailable)
            }
        }
    }
}
