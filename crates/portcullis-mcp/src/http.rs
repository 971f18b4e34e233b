//! Streamable HTTP at `/mcp`, for agents that reach the gateway over the
//! network. Every request carries `Authorization: Bearer TOKEN`, checked
//! before the MCP layer sees it (401 otherwise); an MCP session stays bound
//! to the identity of its first call.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};

use portcullis_core::auth::{AuthError, Principal};
use portcullis_core::record::audit::AuditEntry;
use tokio_util::sync::CancellationToken;

use crate::handler::{AgentSession, Credential};
use crate::state::Mcp;

/// The principal the middleware authenticated for one request.
#[derive(Clone)]
pub(crate) struct Authenticated {
    pub principal: Principal,
    pub client_addr: String,
}

/// The `/mcp` endpoint, to mount on the gateway's API listener. Serve it
/// with `into_make_service_with_connect_info::<SocketAddr>()` so failed
/// authentications are rate-limited per client address.
pub fn router(mcp: Arc<Mcp>) -> axum::Router {
    let for_sessions = mcp.clone();
    // Host validation protects unauthenticated local servers from DNS
    // rebinding; every request here needs a bearer token instead, and the
    // gateway is reached by whatever name operators give it.
    let config = StreamableHttpServerConfig::default()
        .disable_allowed_hosts()
        .with_cancellation_token(cancel_on_shutdown(&mcp));
    let service = StreamableHttpService::new(
        move || {
            Ok(AgentSession::new(
                for_sessions.clone(),
                Credential::PerRequest,
            ))
        },
        Arc::new(LocalSessionManager::default()),
        config,
    );
    axum::Router::new()
        .route_service("/mcp", service)
        .layer(axum::middleware::from_fn_with_state(mcp, bearer))
}

/// A token cancelled when the gateway shuts down, so open MCP sessions and
/// their event streams end instead of holding the listener open.
fn cancel_on_shutdown(mcp: &Mcp) -> CancellationToken {
    let token = CancellationToken::new();
    let mut shutdown = mcp.shutdown.clone();
    let cancel = token.clone();
    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
        runtime.spawn(async move {
            while !*shutdown.borrow() {
                if shutdown.changed().await.is_err() {
                    break;
                }
            }
            cancel.cancel();
        });
    }
    token
}

fn bearer_token(request: &Request) -> Option<&str> {
    let value = request
        .headers()
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
        .filter(|t| !t.is_empty())
}

fn refuse(status: StatusCode, message: &str) -> Response {
    let body = serde_json::json!({ "error": message }).to_string();
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if status == StatusCode::UNAUTHORIZED {
        headers.insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"portcullis\""),
        );
    }
    response
}

async fn bearer(State(mcp): State<Arc<Mcp>>, mut request: Request, next: Next) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    let ip = peer.map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |p| p.ip());
    let client_addr = peer.map_or_else(|| "http".to_string(), |p| p.to_string());
    let Some(token) = bearer_token(&request) else {
        return refuse(
            StatusCode::UNAUTHORIZED,
            "missing bearer token: send Authorization: Bearer <your portcullis token>",
        );
    };
    match crate::auth::authenticate_bearer(&mcp.gateway, ip, token).await {
        Ok(principal) => {
            request.extensions_mut().insert(Authenticated {
                principal,
                client_addr,
            });
            next.run(request).await
        }
        Err(AuthError::Invalid { why }) => {
            tracing::warn!(peer = %client_addr, reason = why, "MCP authentication failed");
            mcp.gateway
                .audit(AuditEntry::new(
                    client_addr,
                    "auth.failed",
                    None,
                    Some(format!("mcp: {why}")),
                ))
                .await;
            refuse(StatusCode::UNAUTHORIZED, "invalid bearer token")
        }
        Err(AuthError::Unavailable(e)) => {
            tracing::error!(error = %e, "authentication unavailable");
            refuse(
                StatusCode::SERVICE_UNAVAILABLE,
                "authentication is temporarily unavailable",
            )
        }
    }
}
