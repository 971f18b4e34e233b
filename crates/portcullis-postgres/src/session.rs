//! One client connection from accept to close: handshake, authenticate,
//! authorize, connect to the target, relay, record.

use std::net::SocketAddr;
use std::sync::Mutex;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::watch;

use portcullis_core::access::AccessError;
use portcullis_core::auth::AuthError;
use portcullis_core::live::LiveInfo;
use portcullis_core::policy::Subject;
use portcullis_core::record::audit::AuditEntry;
use portcullis_core::record::{Event, SessionClose, SessionOpen};
use portcullis_core::time::now_micros;

use crate::backend;
use crate::frontend::{ClientHello, Handshake, handshake, send_fatal};
use crate::guard::Guard;
use crate::protocol::backend as b;
use crate::protocol::sqlstate;
use crate::relay::Relay;
use crate::server::PostgresServer;
use crate::tracker::Tracker;

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
            protocol: "postgres".into(),
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
        let tracker = Mutex::new(Tracker::new(session_id.as_str().into()));
        let ended = if greeted {
            Relay {
                tracker: &tracker,
                guard,
                recorder,
                max_message: self.gateway.config().limits.max_message_bytes,
                shutdown,
                stop,
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
