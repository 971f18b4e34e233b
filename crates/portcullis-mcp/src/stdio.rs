//! stdio, for desktop agents that start `portcullis mcp` themselves.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use rmcp::ServiceExt;

use portcullis_core::auth::AuthError;
use portcullis_core::record::audit::AuditEntry;
use portcullis_core::secret::Secret;

use crate::error::McpError;
use crate::handler::{AgentSession, Credential};
use crate::state::Mcp;

/// Serves one MCP session on stdin/stdout until the client closes it. The
/// token is checked before anything is served (a bad token is a startup
/// error the agent's host shows), and again on every call.
pub async fn serve_stdio(mcp: Arc<Mcp>, token: Secret) -> Result<(), McpError> {
    let local = IpAddr::V4(Ipv4Addr::LOCALHOST);
    match crate::auth::authenticate_bearer(&mcp.gateway, local, token.expose()).await {
        Ok(p) => tracing::info!(identity = %p.identity, "MCP stdio session authenticated"),
        Err(AuthError::Invalid { why }) => {
            tracing::warn!(reason = why, "MCP authentication failed");
            mcp.gateway
                .audit(AuditEntry::new(
                    "mcp:stdio",
                    "auth.failed",
                    None,
                    Some(format!("mcp: {why}")),
                ))
                .await;
            return Err(McpError::Unauthenticated);
        }
        Err(AuthError::Unavailable(e)) => return Err(McpError::AuthUnavailable(e.to_string())),
    }
    let session = AgentSession::new(mcp, Credential::Token(token));
    let running = session
        .serve(rmcp::transport::stdio())
        .await
        .map_err(|e| McpError::Transport(e.to_string()))?;
    running
        .waiting()
        .await
        .map_err(|e| McpError::Transport(e.to_string()))?;
    Ok(())
}
