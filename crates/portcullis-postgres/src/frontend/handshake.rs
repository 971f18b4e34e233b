//! Everything before the session runs: SSLRequest/GSSENCRequest, the
//! StartupMessage and the password exchange.
//!
//! Clients authenticate with a cleartext PasswordMessage carrying their
//! token: the token is a bearer secret the gateway must verify against a
//! stored hash (and later a JWT), which SCRAM cannot do. Off loopback the
//! listener requires TLS by default so the token never crosses the network
//! in clear.

use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;

use portcullis_core::secret::Secret;

use crate::protocol::backend::{self as b, Severity};
use crate::protocol::frame::{self, FrameError};
use crate::protocol::frontend as f;
use crate::protocol::sqlstate;
use crate::protocol::startup::{self, Startup, StartupPacket};
use crate::stream::Stream;

/// A client that has sent its startup packet and password.
pub struct ClientHello {
    pub stream: Stream,
    pub startup: Startup,
    pub user: String,
    pub database: String,
    pub password: Secret,
}

pub enum Handshake {
    Session(Box<ClientHello>),
    Cancel {
        pid: i32,
        secret: i32,
    },
    /// The client went away or was refused; it has been told why if it could be.
    Closed(String),
}

/// Startup parameters a client may not set through the gateway.
const RESERVED_PARAMS: &[&str] = &["user", "database", "replication"];

pub async fn handshake(
    tcp: TcpStream,
    tls: Option<&Arc<rustls::ServerConfig>>,
    require_tls: bool,
) -> Handshake {
    let mut stream = Stream::Plain(tcp);
    let mut tried_tls = false;
    let mut tried_gss = false;
    let startup = loop {
        let packet = match read_startup(&mut stream).await {
            Ok(p) => p,
            Err(e) => {
                send_fatal(
                    &mut stream,
                    sqlstate::PROTOCOL_VIOLATION,
                    &format!("invalid startup packet: {e}"),
                )
                .await;
                return Handshake::Closed(format!("invalid startup packet: {e}"));
            }
        };
        match packet {
            StartupPacket::SslRequest if !tried_tls && !stream.is_tls() => {
                tried_tls = true;
                let Stream::Plain(mut tcp) = stream else {
                    return Handshake::Closed("unexpected stream state".into());
                };
                match tls {
                    Some(cfg) => {
                        if tcp.write_all(b"S").await.is_err() {
                            return Handshake::Closed("client went away".into());
                        }
                        match TlsAcceptor::from(cfg.clone()).accept(tcp).await {
                            Ok(t) => stream = Stream::Server(Box::new(t)),
                            Err(e) => {
                                return Handshake::Closed(format!("TLS handshake failed: {e}"));
                            }
                        }
                    }
                    None => {
                        if tcp.write_all(b"N").await.is_err() {
                            return Handshake::Closed("client went away".into());
                        }
                        stream = Stream::Plain(tcp);
                    }
                }
            }
            // Like PostgreSQL without GSSAPI: decline and let the client go on.
            StartupPacket::GssEncRequest if !tried_gss && !stream.is_tls() => {
                tried_gss = true;
                if stream.write_all(b"N").await.is_err() {
                    return Handshake::Closed("client went away".into());
                }
            }
            StartupPacket::SslRequest | StartupPacket::GssEncRequest => {
                send_fatal(
                    &mut stream,
                    sqlstate::PROTOCOL_VIOLATION,
                    "duplicate encryption request",
                )
                .await;
                return Handshake::Closed("duplicate encryption request".into());
            }
            StartupPacket::Cancel { pid, secret } => return Handshake::Cancel { pid, secret },
            StartupPacket::Startup(s) => break s,
        }
    };

    if require_tls && !stream.is_tls() {
        send_fatal(
            &mut stream,
            sqlstate::INVALID_AUTHORIZATION,
            "this gateway requires TLS: connect with sslmode=require or stronger",
        )
        .await;
        return Handshake::Closed("client without TLS on a TLS-only listener".into());
    }
    let Some(user) = startup.param("user").map(str::to_string) else {
        send_fatal(
            &mut stream,
            sqlstate::INVALID_AUTHORIZATION,
            "no identity specified in the startup packet (user)",
        )
        .await;
        return Handshake::Closed("no user in startup packet".into());
    };
    let database = startup.param("database").unwrap_or(&user).to_string();
    if startup
        .param("replication")
        .is_some_and(|v| !matches!(v, "false" | "off" | "no" | "0"))
    {
        send_fatal(
            &mut stream,
            sqlstate::INSUFFICIENT_PRIVILEGE,
            "replication connections are not allowed through the gateway",
        )
        .await;
        return Handshake::Closed("replication connection refused".into());
    }

    // Protocol 3.x with a minor version or options we do not know:
    // answer like PostgreSQL so newer clients fall back to 3.0.
    let unknown: Vec<&str> = startup
        .params
        .iter()
        .filter(|(k, _)| k.starts_with("_pq_."))
        .map(|(k, _)| k.as_str())
        .collect();
    let mut out = Vec::new();
    if startup.version != startup::PROTOCOL_3_0 || !unknown.is_empty() {
        b::negotiate_protocol_version(&mut out, 0, &unknown);
    }
    b::authentication(&mut out, b::AUTH_CLEARTEXT);
    if stream.write_all(&out).await.is_err() {
        return Handshake::Closed("client went away".into());
    }
    let password = match read_password(&mut stream).await {
        Ok(p) => p,
        Err(e) => {
            // libpq closes the connection when it has no password to give.
            return Handshake::Closed(format!("no password: {e}"));
        }
    };
    let startup = Startup {
        version: startup.version,
        params: startup
            .params
            .into_iter()
            .filter(|(k, _)| !RESERVED_PARAMS.contains(&k.as_str()) && !k.starts_with("_pq_."))
            .collect(),
    };
    Handshake::Session(Box::new(ClientHello {
        stream,
        startup,
        user,
        database,
        password,
    }))
}

async fn read_startup(stream: &mut Stream) -> Result<StartupPacket, FrameError> {
    let mut len = [0u8; 4];
    stream
        .read_exact(&mut len)
        .await
        .map_err(|_| FrameError::Malformed("startup (connection closed)"))?;
    let n = startup::packet_len(len)?;
    let mut body = vec![0u8; n - 4];
    stream
        .read_exact(&mut body)
        .await
        .map_err(|_| FrameError::Malformed("startup (connection closed)"))?;
    startup::decode(&body)
}

/// Largest PasswordMessage: room for a JWT of `oidc::MAX_TOKEN_BYTES`
/// (ID tokens with long group lists run to several KB) plus framing.
const MAX_PASSWORD_FRAME: usize = portcullis_core::oidc::MAX_TOKEN_BYTES + 64;

async fn read_password(stream: &mut Stream) -> Result<Secret, FrameError> {
    let mut header = [0u8; 5];
    stream
        .read_exact(&mut header)
        .await
        .map_err(|_| FrameError::Malformed("password (connection closed)"))?;
    let h = frame::header(&header, MAX_PASSWORD_FRAME)?.ok_or(FrameError::Malformed("password"))?;
    if h.tag != f::PASSWORD {
        return Err(FrameError::Malformed("expected a password message"));
    }
    let mut body = vec![0u8; h.frame_len - 5];
    stream
        .read_exact(&mut body)
        .await
        .map_err(|_| FrameError::Malformed("password (connection closed)"))?;
    let pw = f::password(&body)?;
    let pw = std::str::from_utf8(pw).map_err(|_| FrameError::Malformed("password (not UTF-8)"))?;
    Ok(Secret::new(pw))
}

/// Sends a FATAL ErrorResponse; errors are ignored (the client may be gone).
pub async fn send_fatal(stream: &mut Stream, code: &str, message: &str) {
    let mut out = Vec::new();
    b::error_response(&mut out, Severity::Fatal, code, message, None);
    let _ = stream.write_all(&out).await;
    let _ = stream.flush().await;
}
