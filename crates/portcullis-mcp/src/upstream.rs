//! One in-process PostgreSQL session per (MCP session, connection), driven
//! by `tokio-postgres`, so session state (SET, temporary tables, open
//! transactions, prepared statements) lives as long as the agent's MCP
//! session and the whole exchange is recorded as one gateway session.

use portcullis_core::auth::Principal;
use portcullis_core::policy::AgentLimits;
use portcullis_postgres::InProcessSession;
use tokio_postgres::config::SslMode;

use crate::state::Mcp;

/// Startup parameter asking the gateway to answer held statements at once
/// (`statement held for review N`) instead of waiting for the reviewer: an
/// agent's tool call must not hang for hours.
const REVIEW_MODE: (&str, &str) = ("portcullis.review_mode", "async");

/// Who is on the other side of the MCP session, for the recording.
#[derive(Clone, Debug)]
pub(crate) struct Peer {
    /// `stdio`, or the HTTP client's address.
    pub transport: String,
    /// The MCP client's `clientInfo` name and version, when it sent them.
    pub client: Option<String>,
}

impl Peer {
    /// Recorded as the session's client address, e.g. `stdio (autogen 0.7.5)`.
    pub(crate) fn describe(&self) -> String {
        match &self.client {
            Some(c) => format!("{} ({c})", self.transport),
            None => self.transport.clone(),
        }
    }

    /// The target sees this as `application_name`.
    fn application_name(&self) -> String {
        let mut name = format!("portcullis-mcp {}", self.client.as_deref().unwrap_or(""));
        name.truncate(63);
        name.trim_end().to_string()
    }
}

/// A live in-process session on one connection.
pub(crate) struct Upstream {
    pub client: tokio_postgres::Client,
    pub limits: AgentLimits,
}

pub(crate) async fn open(
    mcp: &Mcp,
    principal: &Principal,
    connection: &str,
    limits: AgentLimits,
    peer: &Peer,
) -> Result<Upstream, tokio_postgres::Error> {
    let timeout_ms = limits.statement_timeout.as_millis().max(1);
    let stream = mcp.postgres.open_in_process(
        InProcessSession {
            principal: principal.clone(),
            connection: connection.to_string(),
            peer: peer.describe(),
            protocol: "mcp",
            params: vec![
                ("statement_timeout".into(), timeout_ms.to_string()),
                (REVIEW_MODE.0.into(), REVIEW_MODE.1.into()),
            ],
        },
        mcp.shutdown.clone(),
    );
    let mut config = tokio_postgres::Config::new();
    config
        .user(&principal.identity)
        .dbname(connection)
        .application_name(peer.application_name())
        .ssl_mode(SslMode::Disable);
    let (client, conn) = config.connect_raw(stream, tokio_postgres::NoTls).await?;
    let name = connection.to_string();
    tokio::spawn(async move {
        if let Err(e) = conn.await {
            tracing::debug!(connection = %name, error = %e, "agent session ended");
        }
    });
    Ok(Upstream { client, limits })
}
