//! Sessions for clients inside the gateway process (the MCP server).
//!
//! An in-process client gets one end of an in-memory stream and speaks the
//! PostgreSQL protocol over it (e.g. `tokio-postgres` with `connect_raw`);
//! the other end runs the very session a TCP client gets, minus the password
//! exchange, because the caller has already authenticated the principal.
//! Authorization, the guard, the relay, the tracker, recording and live
//! revocation are the same code: agents take no parallel path.

use std::sync::Arc;

use tokio::io::{AsyncReadExt, DuplexStream};
use tokio::sync::watch;

use portcullis_core::auth::Principal;

use crate::frontend::send_fatal;
use crate::protocol::sqlstate;
use crate::protocol::startup::{self, Startup, StartupPacket};
use crate::server::PostgresServer;
use crate::session::Origin;
use crate::stream::Stream;

/// Buffer of the in-memory stream in each direction; the relay reads in
/// bursts of this order, and a full buffer is back-pressure, as on TCP.
const PIPE_BYTES: usize = 64 * 1024;

/// Startup parameters an in-process client may not set itself (the caller
/// names the identity and connection; replication is never allowed).
const RESERVED_PARAMS: &[&str] = &["user", "database", "replication"];

/// What an in-process session is opened for.
pub struct InProcessSession {
    /// Already authenticated by the caller (bearer token, env token).
    pub principal: Principal,
    /// The connection name, authorized like a client's `dbname`.
    pub connection: String,
    /// Recorded as the client address, e.g. `mcp:stdio` or the HTTP peer.
    pub peer: String,
    /// Recorded as the session's protocol, e.g. `mcp`.
    pub protocol: &'static str,
    /// Startup parameters set by the caller, after the client's own (they
    /// win): e.g. `statement_timeout`, `portcullis.review_mode`.
    pub params: Vec<(String, String)>,
}

impl PostgresServer {
    /// Starts a session for an already-authenticated principal and returns
    /// the client's end of it. The client must begin with a StartupMessage
    /// (no SSLRequest; its `user`, `database` and `replication` are
    /// ignored) and is answered with AuthenticationOk, or with an
    /// ErrorResponse when authorization or the target fails, exactly as a
    /// TCP client would be.
    pub fn open_in_process(
        self: &Arc<Self>,
        session: InProcessSession,
        shutdown: watch::Receiver<bool>,
    ) -> DuplexStream {
        let (client, server_end) = tokio::io::duplex(PIPE_BYTES);
        let server = self.clone();
        tokio::spawn(async move {
            let mut stream = Stream::Memory(server_end);
            let startup = match read_startup(&mut stream).await {
                Ok(s) => s,
                Err(why) => {
                    tracing::warn!(peer = %session.peer, %why, "in-process client sent no valid startup");
                    send_fatal(&mut stream, sqlstate::PROTOCOL_VIOLATION, &why).await;
                    return;
                }
            };
            let mut params: Vec<(String, String)> = startup
                .params
                .into_iter()
                .filter(|(k, _)| !RESERVED_PARAMS.contains(&k.as_str()) && !k.starts_with("_pq_."))
                .filter(|(k, _)| session.params.iter().all(|(own, _)| own != k))
                .collect();
            params.extend(session.params);
            let origin = Origin {
                peer: session.peer,
                protocol: session.protocol,
            };
            let startup = Startup {
                version: startup::PROTOCOL_3_0,
                params,
            };
            server
                .open(
                    stream,
                    startup,
                    session.principal,
                    session.connection,
                    origin,
                    shutdown,
                )
                .await;
        });
        client
    }
}

async fn read_startup(stream: &mut Stream) -> Result<Startup, String> {
    let mut len = [0u8; 4];
    stream
        .read_exact(&mut len)
        .await
        .map_err(|e| format!("startup: {e}"))?;
    let n = startup::packet_len(len).map_err(|e| e.to_string())?;
    let mut body = vec![0u8; n - 4];
    stream
        .read_exact(&mut body)
        .await
        .map_err(|e| format!("startup: {e}"))?;
    match startup::decode(&body).map_err(|e| e.to_string())? {
        StartupPacket::Startup(s) if s.version == startup::PROTOCOL_3_0 => Ok(s),
        StartupPacket::Startup(_) => Err("unsupported protocol version".into()),
        _ => Err("expected a StartupMessage (in-process sessions use no TLS)".into()),
    }
}
