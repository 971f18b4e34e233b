//! The session scope every adapter opens after authorizing a client: one
//! session id, its open and close events, live registration (revocation,
//! kills, credential expiry), a `tracing` span that puts the session on
//! every log line, and the session's judging, holding and recording.
//!
//! ```text
//! let scope = gateway.open_session(SessionStart { .. }).await?;   // open
//! run_session(scope, async |s| { ... s.judge(&req) ... s.hold(..) ...
//!     s.recording().request(..) ... CloseReason::ClientQuit }).await; // close
//! ```
//!
//! A session always ends with a close event, so its hash chain is sealed:
//! [`SessionScope::close`] records it; dropping an open scope (its task
//! aborted) records `shutdown`; [`run_session`] records `panic` when the
//! session's future panics.

mod close;
mod recording;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use futures_util::FutureExt;
use tokio::sync::watch;
use tracing::Instrument;

pub use close::CloseReason;
pub use recording::{NotRecorded, RecordedRequest, RequestRecord, ResponseRecord, SessionRecorder};

use crate::auth::Principal;
use crate::gateway::Gateway;
use crate::live::{LiveGuard, LiveInfo, Termination};
use crate::policy::{Policy, ReviewMode, Subject, Verdict};
use crate::random::RandomError;
use crate::record::{Event, RecordError, SessionClose, SessionOpen};
use crate::request::Request;
use crate::review::{Asker, HoldRequest, HoldStart};
use crate::time::now_micros;

/// What an adapter knows when it opens a session (after authorization).
#[derive(Debug, Clone)]
pub struct SessionStart {
    pub principal: Principal,
    /// The connection's name.
    pub connection: String,
    /// The client's address (`IP:PORT`), or a description for in-process clients.
    pub client_addr: String,
    /// The recorded protocol: `postgres`, `mcp`, `ssh`, `http`, `kubernetes`.
    pub protocol: String,
    /// The policy in force for this principal on this connection.
    pub policy: Arc<Policy>,
    /// The client's choice of review mode, over the policy's.
    pub review_mode: Option<ReviewMode>,
}

/// Why a session could not be opened (the client is told the session is
/// unavailable; nothing was recorded).
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("cannot mint a session id: {0}")]
    Id(#[from] RandomError),
    #[error("session recording is unavailable: {0}")]
    Recording(#[from] RecordError),
}

/// One open session. Not `Clone`: share it by reference, or in an `Arc`
/// when a session runs several tasks.
pub struct SessionScope {
    gateway: Arc<Gateway>,
    id: Arc<str>,
    principal: Principal,
    subject: Subject,
    connection: String,
    client_addr: String,
    protocol: String,
    policy: Arc<Policy>,
    review_mode: Option<ReviewMode>,
    span: tracing::Span,
    recording: SessionRecorder,
    stop: watch::Receiver<Option<Termination>>,
    live: Mutex<Option<LiveGuard>>,
    closed: AtomicBool,
}

impl Gateway {
    /// Opens a session: mints its id, records its open event, registers it
    /// as live and creates its span.
    pub async fn open_session(
        self: &Arc<Self>,
        start: SessionStart,
    ) -> Result<SessionScope, SessionError> {
        let id: Arc<str> = crate::random::ordered_id(4)?.into();
        let SessionStart {
            principal,
            connection,
            client_addr,
            protocol,
            policy,
            review_mode,
        } = start;
        let span = tracing::info_span!(
            "session",
            id = %id,
            identity = %principal.identity,
            connection = %connection,
            protocol = %protocol,
        );
        self.recorder()
            .record(Event::Open(SessionOpen {
                session_id: id.to_string(),
                started_at: now_micros(),
                identity: principal.identity.clone(),
                auth_method: principal.method.clone(),
                client_addr: client_addr.clone(),
                connection: connection.clone(),
                protocol: protocol.clone(),
                policy: Some(policy.name().to_string()),
                policy_version: Some(policy.version().to_string()),
            }))
            .await?;
        let (live, stop) = self.live().register(LiveInfo {
            id: id.to_string(),
            principal: principal.clone(),
            connection: connection.clone(),
        });
        let recording = SessionRecorder::new(
            id.clone(),
            self.recorder().clone(),
            policy.record(),
            policy.record_mode(),
            self.config().recording,
        );
        Ok(SessionScope {
            gateway: self.clone(),
            subject: Subject::new(principal.identity.clone(), principal.groups.clone()),
            id,
            principal,
            connection,
            client_addr,
            protocol,
            policy,
            review_mode,
            span,
            recording,
            stop,
            live: Mutex::new(Some(live)),
            closed: AtomicBool::new(false),
        })
    }
}

impl SessionScope {
    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn principal(&self) -> &Principal {
        &self.principal
    }

    /// Who the policy judges.
    pub fn subject(&self) -> &Subject {
        &self.subject
    }

    pub fn connection(&self) -> &str {
        &self.connection
    }

    pub fn client_addr(&self) -> &str {
        &self.client_addr
    }

    pub fn protocol(&self) -> &str {
        &self.protocol
    }

    pub fn policy(&self) -> &Arc<Policy> {
        &self.policy
    }

    pub fn gateway(&self) -> &Arc<Gateway> {
        &self.gateway
    }

    /// The session's span: futures of the session run inside it
    /// ([`run_session`] does this), so every log line names the session.
    pub fn span(&self) -> &tracing::Span {
        &self.span
    }

    /// The session's recording API.
    pub fn recording(&self) -> &SessionRecorder {
        &self.recording
    }

    /// decide: the policy's verdict on a request of any kind.
    pub fn judge(&self, request: &Request) -> Verdict {
        self.policy.judge(request, &self.subject)
    }

    /// hold: the review flow for a request a rule holds.
    pub async fn hold(&self, request: HoldRequest) -> HoldStart {
        let asker = Asker {
            identity: self.principal.identity.clone(),
            groups: self.principal.groups.clone(),
            connection: self.connection.clone(),
            session_id: self.id.to_string(),
            client_addr: self.client_addr.clone(),
            protocol: self.protocol.clone(),
            mode: self.review_mode,
            api: self.gateway.config().listen.api,
        };
        self.gateway
            .reviews()
            .hold(request, &asker, self.policy.review())
            .await
    }

    /// Whether the gateway has ended the session (revocation, kill).
    pub fn termination(&self) -> Option<Termination> {
        *self.stop.borrow()
    }

    /// Resolves when the gateway ends the session (revocation, expiry of
    /// the credential, a grant removed, a kill); adapters `select!` on it
    /// beside their own work and then close with its reason.
    pub fn terminated(&self) -> impl Future<Output = Termination> + Send + 'static {
        let mut stop = self.stop.clone();
        async move {
            loop {
                if let Some(t) = *stop.borrow_and_update() {
                    return t;
                }
                if stop.changed().await.is_err() {
                    // Unregistered: the session is closing anyway.
                    std::future::pending::<()>().await;
                }
            }
        }
    }

    /// close: records the close event (which seals the session's chain),
    /// unregisters it and logs why. Only the first call counts.
    pub async fn close(&self, reason: CloseReason) {
        if self.closed.swap(true, Ordering::AcqRel) {
            return;
        }
        self.live.lock().unwrap_or_else(|p| p.into_inner()).take();
        let event = self.close_event(&reason);
        if self.gateway.recorder().record(event).await.is_err() {
            tracing::error!(parent: &self.span, "the recorder stopped before the session's close event");
        }
        tracing::info!(parent: &self.span, reason = reason.as_str(), detail = ?reason.detail(), "session closed");
    }

    fn close_event(&self, reason: &CloseReason) -> Event {
        Event::Close(SessionClose {
            session_id: self.id.to_string(),
            ended_at: now_micros(),
            reason: reason.as_str().into(),
            detail: reason.detail(),
        })
    }
}

impl Drop for SessionScope {
    fn drop(&mut self) {
        if self.closed.swap(true, Ordering::AcqRel) {
            return;
        }
        // The task running the session was aborted (or forgot to close):
        // the chain is sealed all the same.
        let reason = CloseReason::Shutdown;
        tracing::warn!(parent: &self.span, "session dropped without closing; recorded as shutdown");
        self.gateway
            .recorder()
            .record_detached(self.close_event(&reason));
    }
}

/// Runs a session to its end inside its span, then closes it with the
/// reason the session returns. A panic in the session is caught, logged
/// and recorded as [`CloseReason::Panic`]: the chain is still sealed and
/// the gateway keeps serving everyone else.
pub async fn run_session(
    scope: SessionScope,
    session: impl AsyncFnOnce(&SessionScope) -> CloseReason,
) {
    let span = scope.span.clone();
    let outcome = std::panic::AssertUnwindSafe(session(&scope).instrument(span.clone()))
        .catch_unwind()
        .await;
    let reason = match outcome {
        Ok(reason) => reason,
        Err(payload) => {
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic without a message".into());
            tracing::error!(parent: &span, panic = %message, "session task panicked");
            CloseReason::Panic(message)
        }
    };
    scope.close(reason).await;
}
