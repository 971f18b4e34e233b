//! Opens an authenticated session on the target with the gateway's credentials.

use std::sync::Arc;
use std::time::Duration;

use rustls::ClientConfig;
use rustls::pki_types::ServerName;
use thiserror::Error;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use portcullis_core::config::{Connection, UpstreamTlsMode};
use portcullis_core::secret::Secret;

use super::scram::{self, Scram};
use crate::protocol::backend as msg;
use crate::protocol::frame::{self, put_cstr, write_frame};
use crate::protocol::startup;
use crate::stream::Stream;

/// Largest message accepted from a target during startup.
const MAX_STARTUP_MESSAGE: usize = 1 << 20;

/// Everything needed to reach one target, resolved from its connection.
#[derive(Clone)]
pub struct Target {
    pub name: String,
    pub address: String,
    pub database: String,
    pub user: String,
    pub password: Option<Secret>,
    pub tls_mode: UpstreamTlsMode,
    pub tls: Option<Arc<ClientConfig>>,
    pub connect_timeout: Duration,
}

impl Target {
    pub fn new(c: &Connection, tls: Option<Arc<ClientConfig>>, connect_timeout: Duration) -> Self {
        Target {
            name: c.name.clone(),
            address: c.address.clone(),
            database: c.database.clone(),
            user: c.user.clone(),
            password: c.password.clone(),
            tls_mode: c.tls,
            tls,
            connect_timeout,
        }
    }

    fn host(&self) -> &str {
        let host = self
            .address
            .rsplit_once(':')
            .map_or(self.address.as_str(), |(h, _)| h);
        host.trim_start_matches('[').trim_end_matches(']')
    }
}

/// A target session ready for queries.
pub struct Upstream {
    pub stream: Stream,
    /// ParameterStatus (and NoticeResponse) frames to pass on to the client.
    pub startup_frames: Vec<u8>,
    pub pid: i32,
    pub secret: i32,
    /// Transaction status from the first ReadyForQuery.
    pub status: u8,
}

/// Why a target could not be reached; shown to operators, never to clients.
#[derive(Debug, Error)]
pub enum UpstreamError {
    #[error("connect: {0}")]
    Io(#[from] std::io::Error),
    #[error("timed out")]
    Timeout,
    #[error("the target refused TLS, which sslmode {0:?} requires")]
    TlsRefused(UpstreamTlsMode),
    #[error("TLS: {0}")]
    Tls(String),
    #[error("the target asks for a password but the connection has none configured")]
    NoPassword,
    #[error("unsupported authentication request {0}")]
    UnsupportedAuth(i32),
    #[error("SCRAM: {0}")]
    Scram(#[from] scram::ScramError),
    #[error("the target rejected the session: {code}: {message}")]
    Rejected { code: String, message: String },
    #[error("protocol: {0}")]
    Protocol(String),
}

/// Connects and authenticates; `params` are the client's startup parameters
/// to pass on (user and database come from the connection).
pub async fn connect(
    target: &Target,
    params: &[(String, String)],
) -> Result<Upstream, UpstreamError> {
    tokio::time::timeout(target.connect_timeout, connect_inner(target, params))
        .await
        .map_err(|_| UpstreamError::Timeout)?
}

async fn open(target: &Target) -> Result<Stream, UpstreamError> {
    let tcp = TcpStream::connect(&target.address).await?;
    tcp.set_nodelay(true)?;
    let Some(tls) = &target.tls else {
        return Ok(Stream::Plain(tcp));
    };
    let mut tcp = tcp;
    tcp.write_all(&startup::encode_ssl_request()).await?;
    let mut answer = [0u8; 1];
    tcp.read_exact(&mut answer).await?;
    match answer[0] {
        b'S' => {
            let name = ServerName::try_from(target.host().to_string())
                .map_err(|e| UpstreamError::Tls(e.to_string()))?;
            let tls = tokio_rustls::TlsConnector::from(tls.clone())
                .connect(name, tcp)
                .await
                .map_err(|e| UpstreamError::Tls(e.to_string()))?;
            Ok(Stream::Client(Box::new(tls)))
        }
        b'N' if target.tls_mode == UpstreamTlsMode::Prefer => Ok(Stream::Plain(tcp)),
        b'N' => Err(UpstreamError::TlsRefused(target.tls_mode)),
        _ => Err(UpstreamError::Protocol(
            "unexpected answer to SSLRequest".into(),
        )),
    }
}

async fn connect_inner(
    target: &Target,
    params: &[(String, String)],
) -> Result<Upstream, UpstreamError> {
    let mut stream = open(target).await?;
    let mut startup_params: Vec<(&str, &str)> =
        vec![("user", &target.user), ("database", &target.database)];
    startup_params.extend(params.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    stream
        .write_all(&startup::encode_startup(&startup_params))
        .await?;

    let mut scram: Option<Scram> = None;
    let mut out = Vec::new();
    let mut startup_frames = Vec::new();
    let mut key = (0, 0);
    loop {
        let (tag, body) = read_message(&mut stream).await?;
        match tag {
            msg::AUTHENTICATION => {
                let (code, rest) = msg::authentication_request(&body).map_err(protocol)?;
                out.clear();
                match code {
                    msg::AUTH_OK => continue,
                    msg::AUTH_CLEARTEXT => {
                        let pw = password(target)?;
                        write_frame(&mut out, b'p', |b| put_cstr(b, pw.as_bytes()));
                    }
                    msg::AUTH_MD5 => {
                        let pw = password(target)?;
                        let salt = rest.get(..4).ok_or_else(|| protocol("short md5 salt"))?;
                        let response = scram::md5_response(&target.user, pw, salt);
                        write_frame(&mut out, b'p', |b| put_cstr(b, response.as_bytes()));
                    }
                    msg::AUTH_SASL => {
                        let offered = rest
                            .split(|&b| b == 0)
                            .any(|m| m == scram::MECHANISM.as_bytes());
                        if !offered {
                            return Err(UpstreamError::UnsupportedAuth(code));
                        }
                        let pw = password(target)?;
                        let s = Scram::new(
                            pw,
                            portcullis_core::random::hex_id(18)
                                .map_err(|e| protocol(e.to_string()))?,
                        );
                        let first = s.client_first();
                        write_frame(&mut out, b'p', |b| {
                            put_cstr(b, scram::MECHANISM.as_bytes());
                            b.extend_from_slice(&(first.len() as i32).to_be_bytes());
                            b.extend_from_slice(first.as_bytes());
                        });
                        scram = Some(s);
                    }
                    msg::AUTH_SASL_CONTINUE => {
                        let s = scram
                            .as_mut()
                            .ok_or_else(|| protocol("SASLContinue without SASL"))?;
                        let fin = s.client_final(rest)?;
                        write_frame(&mut out, b'p', |b| b.extend_from_slice(fin.as_bytes()));
                    }
                    msg::AUTH_SASL_FINAL => {
                        let s = scram
                            .as_ref()
                            .ok_or_else(|| protocol("SASLFinal without SASL"))?;
                        s.verify_final(rest)?;
                        continue;
                    }
                    other => return Err(UpstreamError::UnsupportedAuth(other)),
                }
                stream.write_all(&out).await?;
            }
            msg::PARAMETER_STATUS | msg::NOTICE_RESPONSE => {
                write_frame(&mut startup_frames, tag, |b| b.extend_from_slice(&body));
            }
            msg::BACKEND_KEY_DATA => {
                let mut r = frame::Reader::new(&body, "BackendKeyData");
                key = (r.i32().map_err(protocol)?, r.i32().map_err(protocol)?);
            }
            msg::READY_FOR_QUERY => {
                let status = body.first().copied().unwrap_or(b'I');
                return Ok(Upstream {
                    stream,
                    startup_frames,
                    pid: key.0,
                    secret: key.1,
                    status,
                });
            }
            msg::ERROR_RESPONSE => {
                let f = msg::error_fields(&body).map_err(protocol)?;
                return Err(UpstreamError::Rejected {
                    code: f.code,
                    message: f.message,
                });
            }
            msg::NEGOTIATE_PROTOCOL_VERSION => continue,
            other => {
                return Err(protocol(format!(
                    "unexpected message {:?} during startup",
                    other as char
                )));
            }
        }
    }
}

fn password(target: &Target) -> Result<&str, UpstreamError> {
    target
        .password
        .as_ref()
        .map(Secret::expose)
        .ok_or(UpstreamError::NoPassword)
}

fn protocol(e: impl ToString) -> UpstreamError {
    UpstreamError::Protocol(e.to_string())
}

async fn read_message(stream: &mut Stream) -> Result<(u8, Vec<u8>), UpstreamError> {
    let mut header = [0u8; 5];
    stream.read_exact(&mut header).await?;
    let h = frame::header(&header, MAX_STARTUP_MESSAGE)
        .map_err(protocol)?
        .ok_or_else(|| protocol("short header"))?;
    let mut body = vec![0u8; h.frame_len - 5];
    stream.read_exact(&mut body).await?;
    Ok((h.tag, body))
}

/// Sends a CancelRequest for the target backend `pid`/`secret`.
pub async fn cancel(target: &Target, pid: i32, secret: i32) -> Result<(), UpstreamError> {
    tokio::time::timeout(target.connect_timeout, async {
        let mut stream = open(target).await?;
        stream
            .write_all(&startup::encode_cancel(pid, secret))
            .await?;
        stream.flush().await?;
        // The server closes the connection when done; wait for that.
        let mut sink = [0u8; 16];
        let _ = stream.read(&mut sink).await;
        Ok(())
    })
    .await
    .map_err(|_| UpstreamError::Timeout)?
}
