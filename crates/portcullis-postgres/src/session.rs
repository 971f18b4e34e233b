//! One client connection from accept to close: handshake, authenticate,
//! authorize, connect to the target, relay, record.

use std::net::SocketAddr;
use std::sync::Mutex;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::watch;

use portcullis_core::access::AccessError;
use portcullis_core::auth::{AuthError, Principal};
use portcullis_core::live::LiveInfo;
use portcullis_core::policy::Subject;
use portcullis_core::record::audit::AuditEntry;
use portcullis_core::record::{Event, SessionClose, SessionOpen};
use portcullis_core::time::now_micros;

use crate::backend;
use crate::frontend::{ClientHello, Handshake, handshake, send_fatal};
use crate::guard::Guard;
use crate::hold::Holds;
use crate::protocol::backend as b;
use crate::protocol::sqlstate;
use crate::protocol::startup::Startup;
use crate::relay::Relay;
use crate::server::PostgresServer;
use crate::stream::Stream;
use crate::tracker::Tracker;

/// Where a session comes from, as recorded and logged.
pub(crate) struct Origin {
    /// The client's address (`IP:PORT`), or a description for in-process clients.
    pub peer: String,
    /// The recorded `protocol` of the session (`postgres`, `mcp`).
    pub protocol: &'static str,
}

impl PostgresServer {
    pub(crate) async fn session(
        &self,
        tcp: TcpStream,
        peer: SocketAddr,
        shutdown: watch::Receiver<bool>,
    ) {
        let config = self.gateway.config();
        let hello = tokio::time::timeout(
            config.limits.startup_timeout,
            handshake(tcp, self.tls.as_ref(), config.listen.require_tls),
        )
        .await;
        match hello {
            Err(_) => tracing::debug!(%peer, "startup timed out"),
            Ok(Handshake::Closed(why)) => {
                tracing::debug!(%peer, %why, "connection closed during startup")
            }
            Ok(Handshake::Cancel { pid, secret }) => self.cancel(pid, secret).await,
            Ok(Handshake::Session(hello)) => self.run(*hello, peer, shutdown).await,
        }
    }

    async fn cancel(&self, pid: i32, secret: i32) {
        // Like PostgreSQL, an unknown key is ignored silently.
        let Some((target, upstream_pid, upstream_secret)) = self.cancels.resolve(pid, secret)
        else {
            tracing::debug!("cancel request with an unknown key ignored");
            return;
        };
        match backend::cancel(&target, upstream_pid, upstream_secret).await {
            Ok(()) => tracing::info!(connection = %target.name, "cancel request forwarded"),
            Err(e) => {
                tracing::warn!(connection = %target.name, error = %e, "cancel request failed")
            }
        }
    }

    async fn run(&self, hello: ClientHello, peer: SocketAddr, shutdown: watch::Receiver<bool>) {
        let ClientHello {
            mut stream,
            startup,
            user,
            database,
            password,
        } = hello;
        let principal = match self
            .gateway
            .authenticate_from(peer.ip(), &user, password.expose())
            .await
        {
            Ok(p) => p,
            Err(AuthError::Invalid { why }) => {
                tracing::warn!(%peer, identity = %user, reason = why, "authentication failed");
                self.gateway
                    .audit(AuditEntry::new(
                        peer.to_string(),
                        "auth.failed",
                        Some(user.clone()),
                        Some(why.to_string()),
                    ))
                    .await;
                send_fatal(
                    &mut stream,
                    sqlstate::INVALID_PASSWORD,
                    &format!("password authentication failed for user \"{user}\""),
                )
                .await;
                return;
            }
            Err(AuthError::Unavailable(e)) => {
                tracing::error!(%peer, error = %e, "authentication unavailable");
                send_fatal(
                    &mut stream,
                    sqlstate::CONNECTION_FAILURE,
                    "authentication is temporarily unavailable",
                )
                .await;
                return;
            }
        };
        drop(password);
        let origin = Origin {
            peer: peer.to_string(),
            protocol: "postgres",
        };
        self.open(stream, startup, principal, database, origin, shutdown)
            .await
    }

    /// Everything after authentication: authorize, guard the startup
    /// parameters, connect to the target, record, relay. Native clients
    /// arrive here from [`PostgresServer::run`], in-process clients (the MCP
    /// server) from [`PostgresServer::open_in_process`], so both take one path.
    pub(crate) async fn open(
        &self,
        mut stream: Stream,
        mut startup: Startup,
        principal: Principal,
        database: String,
        origin: Origin,
        shutdown: watch::Receiver<bool>,
    ) {
        let peer = &origin.peer;
        // Gateway options travel as `portcullis.*` startup parameters; they
        // are the gateway's, never forwarded to the target.
        let review_mode = match take_review_mode(&mut startup.params) {
            Ok(m) => m,
            Err(value) => {
                send_fatal(
                    &mut stream,
                    sqlstate::INVALID_PARAMETER_VALUE,
                    &format!("invalid portcullis.review_mode \"{value}\" (expected wait or async)"),
                )
                .await;
                return;
            }
        };
        let access = match self.gateway.authorize(&principal, &database) {
            Ok(a) => a,
            Err(e) => {
                let code = match e {
                    AccessError::UnknownConnection(_) => sqlstate::INVALID_CATALOG_NAME,
                    AccessError::NotGranted { .. } => sqlstate::INSUFFICIENT_PRIVILEGE,
                };
                tracing::warn!(%peer, identity = %principal.identity, connection = %database, error = %e, "access denied");
                self.gateway
                    .audit(AuditEntry::new(
                        peer.to_string(),
                        "access.denied",
                        Some(principal.identity.clone()),
                        Some(e.to_string()),
                    ))
                    .await;
                send_fatal(&mut stream, code, &e.to_string()).await;
                return;
            }
        };
        let name = access.connection.name.clone();
        let unavailable = format!("connection \"{name}\" is unavailable");
        let config = self.gateway.config();
        let Some(policy) = config.policy(access.policy.as_deref()) else {
            // Validation makes this unreachable; fail closed all the same.
            tracing::error!(connection = %name, "policy not found");
            send_fatal(&mut stream, sqlstate::INTERNAL_ERROR, "internal error").await;
            return;
        };
        let mut guard = Guard::new(
            policy.clone(),
            self.classifier.clone(),
            Subject::new(principal.identity.clone(), principal.groups.clone()),
            name.clone(),
        );
        if let Some(v) = guard.judge_startup(&startup.params)
            && !v.is_allowed()
        {
            let (message, detail, _) = guard.refusal(&v);
            tracing::warn!(%peer, identity = %principal.identity, connection = %name, rule = v.rule.as_deref().unwrap_or(""), "startup parameters refused");
            send_fatal(
                &mut stream,
                sqlstate::INSUFFICIENT_PRIVILEGE,
                &format!("{message}: {detail}"),
            )
            .await;
            return;
        }

        let target = match self.target(&access.connection) {
            Ok(t) => t,
            Err(e) => {
                tracing::error!(connection = %name, error = %e, "target TLS configuration failed");
                send_fatal(&mut stream, sqlstate::CONNECTION_FAILURE, &unavailable).await;
                return;
            }
        };
        // Masking: a session whose policy masks cannot run without it.
        let Ok(mask_policy) = self.mask_policy(&policy) else {
            send_fatal(&mut stream, sqlstate::INTERNAL_ERROR, "internal error").await;
            return;
        };
        let mask = mask_policy.as_ref().map(|p| crate::mask::MaskSession {
            masker: Mutex::new(crate::mask::Masker::new(p.clone(), policy.mask_unknown())),
            loader: tokio::sync::Mutex::new(crate::mask::CatalogLoader::new(
                target.clone(),
                startup.params.clone(),
            )),
        });
        let upstream = match backend::connect(&target, &startup.params).await {
            Ok(u) => u,
            Err(e) => {
                tracing::warn!(connection = %name, error = %e, "target unavailable");
                send_fatal(&mut stream, sqlstate::CONNECTION_FAILURE, &unavailable).await;
                return;
            }
        };
        let upstream_key = (target.clone(), upstream.pid, upstream.secret);
        let key = match self.cancels.register(target, upstream.pid, upstream.secret) {
            Ok(k) => k,
            Err(e) => {
                tracing::error!(error = %e, "cannot mint a cancel key");
                send_fatal(&mut stream, sqlstate::INTERNAL_ERROR, "internal error").await;
                return;
            }
        };
        let session_id = match portcullis_core::random::ordered_id(4) {
            Ok(id) => id,
            Err(e) => {
                tracing::error!(error = %e, "cannot mint a session id");
                send_fatal(&mut stream, sqlstate::INTERNAL_ERROR, "internal error").await;
                return;
            }
        };

        let recorder = self.gateway.recorder();
        let opened = Event::Open(SessionOpen {
            session_id: session_id.clone(),
            started_at: now_micros(),
            identity: principal.identity.clone(),
            auth_method: principal.method.clone(),
            client_addr: peer.to_string(),
            connection: name.clone(),
            protocol: origin.protocol.into(),
            policy: Some(policy.name().to_string()),
            policy_version: Some(policy.version().to_string()),
        });
        if recorder.record(opened).await.is_err() {
            send_fatal(
                &mut stream,
                sqlstate::INTERNAL_ERROR,
                "session recording is unavailable",
            )
            .await;
            return;
        }

        let mut out = Vec::with_capacity(512);
        b::authentication(&mut out, b::AUTH_OK);
        out.extend_from_slice(&upstream.startup_frames);
        b::backend_key_data(&mut out, key.pid, key.secret);
        b::ready_for_query(&mut out, upstream.status);
        let greeted = stream.write_all(&out).await.is_ok() && stream.flush().await.is_ok();
        tracing::info!(session = %session_id, identity = %principal.identity, connection = %name, %peer, via = %access.via, "session started");

        let (live, stop) = self.gateway.live().register(LiveInfo {
            id: session_id.clone(),
            principal: principal.clone(),
            connection: name.clone(),
        });
        let mut tracker = Tracker::new(session_id.as_str().into());
        if let Some(p) = mask_policy.filter(|p| p.has_detectors()) {
            tracker.scrub_statements_with(p);
        }
        let recording = self.gateway.config().recording;
        tracker.record_with(policy.record(), recording);
        let strict = (policy.record_mode() == portcullis_core::policy::RecordMode::Strict
            && policy.record() != portcullis_core::policy::RecordLevel::Off)
            .then_some(recording.strict_timeout);
        let tracker = Mutex::new(tracker);
        let holds = Holds {
            gateway: self.gateway.clone(),
            session_id: session_id.clone(),
            identity: principal.identity.clone(),
            groups: principal.groups.clone(),
            connection: name.clone(),
            client_addr: peer.to_string(),
            protocol: origin.protocol,
            mode: review_mode,
            target: upstream_key.0.clone(),
            api: self.gateway.config().listen.api,
        };
        let ended = if greeted {
            Relay {
                tracker: &tracker,
                guard,
                recorder,
                max_message: self.gateway.config().limits.max_message_bytes,
                shutdown,
                stop,
                holds: &holds,
                mask: mask.as_ref(),
                strict,
            }
            .run(stream, upstream.stream)
            .await
        } else {
            crate::relay::Ended::ClientGone("client left during startup".into())
        };
        drop(key);
        drop(live);

        let rest = tracker
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .interrupt_all();
        // A statement still running on the target would go on after the
        // socket closes (a backend busy in a query does not read it): cancel it.
        if !rest.is_empty() && !matches!(ended, crate::relay::Ended::UpstreamClosed(_)) {
            let (target, pid, secret) = upstream_key;
            if let Err(e) = backend::cancel(&target, pid, secret).await {
                tracing::warn!(session = %session_id, error = %e, "could not cancel the statement left running");
            }
        }
        for e in rest {
            let _ = recorder.record(e).await;
        }
        let _ = recorder
            .record(Event::Close(SessionClose {
                session_id: session_id.clone(),
                ended_at: now_micros(),
                reason: ended.reason().into(),
                detail: ended.detail(),
            }))
            .await;
        tracing::info!(session = %session_id, reason = ended.reason(), detail = ?ended.detail(), "session closed");
    }
}

/// Removes gateway options from the startup packet, returning the review
/// mode the client asked for. They come as `portcullis.*` parameters or as
/// `-c portcullis.*=...` inside `options` (what libpq and most drivers can
/// send); they are the gateway's and never reach the target.
fn take_review_mode(
    params: &mut Vec<(String, String)>,
) -> Result<Option<portcullis_core::policy::ReviewMode>, String> {
    let mut settings: Vec<(String, String)> = Vec::new();
    params.retain(|(k, v)| {
        if k.starts_with("portcullis.") {
            settings.push((k.clone(), v.clone()));
            return false;
        }
        true
    });
    for (k, v) in params.iter_mut() {
        if k == "options" {
            let (kept, ours) = split_gateway_options(v);
            *v = kept;
            settings.extend(ours);
        }
    }
    params.retain(|(k, v)| !(k == "options" && v.is_empty()));
    let mut mode = None;
    for (k, v) in settings {
        if k == "portcullis.review_mode" {
            mode = Some(portcullis_core::policy::ReviewMode::parse(&v).ok_or(v)?);
        } else {
            tracing::debug!(parameter = %k, "unknown gateway startup parameter ignored");
        }
    }
    Ok(mode)
}

/// Splits `options` into what goes to the target and the gateway's own
/// `-c portcullis.NAME=VALUE` / `--portcullis.NAME=VALUE` settings.
fn split_gateway_options(options: &str) -> (String, Vec<(String, String)>) {
    let words: Vec<&str> = options.split_ascii_whitespace().collect();
    let mut kept: Vec<&str> = Vec::new();
    let mut ours = Vec::new();
    let mut i = 0;
    while i < words.len() {
        let setting = if words[i] == "-c" {
            words.get(i + 1).copied().map(|w| (w, 2))
        } else {
            words[i].strip_prefix("--").map(|w| (w, 1))
        };
        match setting {
            Some((w, n)) if w.starts_with("portcullis.") => {
                let (k, v) = w.split_once('=').unwrap_or((w, ""));
                ours.push((k.to_string(), v.to_string()));
                i += n;
            }
            _ => {
                kept.push(words[i]);
                i += 1;
            }
        }
    }
    (kept.join(" "), ours)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gateway_options_are_taken_out_of_the_startup_packet() {
        let mut params = vec![
            ("user".to_string(), "u".to_string()),
            (
                "options".to_string(),
                "-c search_path=x -c portcullis.review_mode=async".to_string(),
            ),
        ];
        assert_eq!(
            take_review_mode(&mut params),
            Ok(Some(portcullis_core::policy::ReviewMode::Async))
        );
        assert_eq!(
            params[1],
            ("options".to_string(), "-c search_path=x".to_string())
        );

        let mut params = vec![("portcullis.review_mode".to_string(), "later".to_string())];
        assert_eq!(take_review_mode(&mut params), Err("later".to_string()));
        assert!(params.is_empty());

        let mut params = vec![(
            "options".to_string(),
            "--portcullis.review_mode=wait".to_string(),
        )];
        assert_eq!(
            take_review_mode(&mut params),
            Ok(Some(portcullis_core::policy::ReviewMode::Wait))
        );
        assert!(params.is_empty(), "{params:?}");
    }
}
