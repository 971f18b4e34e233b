//! The running session: frames flow both ways as bytes, read in bursts and
//! written with one write per burst; only the messages the pipeline needs
//! are looked into.
//!
//! Both directions run as two futures in one task. Large DataRow and
//! CopyData frames stream through without being buffered whole, so memory
//! stays flat whatever the result size; a slow client slows the target
//! (back-pressure) because nothing is read while a write waits.

use std::sync::Mutex;
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, watch};

use portcullis_core::live::Termination;
use portcullis_core::policy::Action;
use portcullis_core::record::audit::AuditEntry;
use portcullis_core::record::{Event, RecordError, Recorder};

use crate::guard::Guard;
use crate::hold::{Held, Holds, Resolution};
use crate::mask::{Decision, MAX_MASKED_ROW, MaskSession, Masker, RowMode};
use crate::protocol::backend as b;
use crate::protocol::frame::{self, FrameError, HEADER_LEN, put_cstr, write_frame};
use crate::protocol::frontend as f;
use crate::protocol::sqlstate;
use crate::stream::Stream;
use crate::tracker::{Judged, Tracker};

const READ_CHUNK: usize = 32 * 1024;
/// Server frames are trusted for size, but the ones that are inspected
/// whole (not streamed) are bounded all the same.
const MAX_BACKEND_INSPECTED: usize = 64 * 1024 * 1024;

/// Why a session ended.
#[derive(Debug)]
pub enum Ended {
    /// The client sent Terminate.
    ClientQuit,
    /// The client's connection closed or failed without Terminate.
    ClientGone(String),
    /// The target closed the connection.
    UpstreamClosed(String),
    /// The client broke the protocol; it was told why.
    ClientProtocol(String),
    /// The gateway is shutting down; the client was told.
    Shutdown,
    /// Recording stopped: the session is closed rather than run unrecorded.
    RecorderStopped,
    /// Strict mode: a request event could not be stored in time, so its
    /// statement was refused and the session closed.
    RecordingUnavailable(String),
    /// The gateway ended it: access revoked, or killed by an administrator.
    Terminated(Termination),
}

impl Ended {
    /// The close reason stored with the session.
    pub fn reason(&self) -> &'static str {
        match self {
            Ended::ClientQuit => "client-quit",
            Ended::ClientGone(_) => "client-disconnected",
            Ended::UpstreamClosed(_) => "upstream-closed",
            Ended::ClientProtocol(_) => "protocol-error",
            Ended::Shutdown => "shutdown",
            Ended::RecorderStopped => "error",
            Ended::RecordingUnavailable(_) => "recording-unavailable",
            Ended::Terminated(t) => t.reason(),
        }
    }

    pub fn detail(&self) -> Option<String> {
        match self {
            Ended::ClientGone(d)
            | Ended::UpstreamClosed(d)
            | Ended::ClientProtocol(d)
            | Ended::RecordingUnavailable(d) => Some(d.clone()),
            Ended::RecorderStopped => Some("recorder stopped".into()),
            _ => None,
        }
    }
}

/// Bytes the gateway itself sends to the client, in order with the relayed stream.
pub(crate) struct Inject {
    pub(crate) bytes: Vec<u8>,
    pub(crate) then_close: Option<Ended>,
}

/// What the target is sent in place of a refused statement: a guaranteed
/// syntax error. It fails in the same place the refused statement would
/// have run (so an open transaction is left failed, exactly as PostgreSQL
/// would leave it, and a pipeline skips to its Sync), touches no catalog,
/// and its error is replaced by the gateway's own before the client sees it.
const STAND_IN: &[u8] = b"PORTCULLIS REFUSED";

/// A byte range of the input to send differently.
type Edit = (std::ops::Range<usize>, Vec<u8>);

pub struct Relay<'a> {
    pub tracker: &'a Mutex<Tracker>,
    pub guard: Guard,
    pub recorder: &'a Recorder,
    pub max_message: usize,
    pub shutdown: watch::Receiver<bool>,
    pub stop: watch::Receiver<Option<Termination>>,
    /// How statements held for review are decided.
    pub holds: &'a Holds,
    /// Masking state, when the session's policy masks anything.
    pub mask: Option<&'a MaskSession>,
    /// `record_mode = "strict"`: how long a statement waits for its request
    /// event to be stored before it is refused.
    pub strict: Option<Duration>,
}

/// What both directions of a session share.
#[derive(Clone, Copy)]
struct Shared<'a> {
    tracker: &'a Mutex<Tracker>,
    holds: &'a Holds,
    mask: Option<&'a MaskSession>,
    recorder: &'a Recorder,
}

fn lock(t: &Mutex<Tracker>) -> std::sync::MutexGuard<'_, Tracker> {
    t.lock().unwrap_or_else(|p| p.into_inner())
}

impl Relay<'_> {
    pub async fn run(self, client: Stream, upstream: Stream) -> Ended {
        match (client, upstream) {
            // Plain TCP splits without a lock; TLS streams need tokio's split.
            (Stream::Plain(c), Stream::Plain(u)) => {
                let (cr, cw) = c.into_split();
                let (ur, uw) = u.into_split();
                self.pump(cr, cw, ur, uw).await
            }
            (c, u) => {
                let (cr, cw) = tokio::io::split(c);
                let (ur, uw) = tokio::io::split(u);
                self.pump(cr, cw, ur, uw).await
            }
        }
    }

    async fn pump(
        self,
        cr: impl AsyncRead + Unpin,
        cw: impl AsyncWrite + Unpin,
        ur: impl AsyncRead + Unpin,
        uw: impl AsyncWrite + Unpin,
    ) -> Ended {
        let (inject_tx, inject_rx) = mpsc::channel(8);
        let shared = Shared {
            tracker: self.tracker,
            holds: self.holds,
            mask: self.mask,
            recorder: self.recorder,
        };
        tokio::select! {
            e = client_to_upstream(cr, uw, shared, (self.guard, self.strict), self.max_message, inject_tx) => e,
            e = upstream_to_client(ur, cw, shared, inject_rx, (self.shutdown, self.stop)) => e,
        }
    }
}

async fn client_to_upstream(
    mut client: impl AsyncRead + Unpin,
    mut upstream: impl AsyncWrite + Unpin,
    shared: Shared<'_>,
    (mut guard, strict): (Guard, Option<Duration>),
    max: usize,
    inject: mpsc::Sender<Inject>,
) -> Ended {
    let Shared {
        tracker,
        holds,
        mask,
        recorder,
    } = shared;
    let mut buf = BytesMut::with_capacity(READ_CHUNK);
    let mut edits: Vec<Edit> = Vec::new();
    // Bytes of a CopyData frame still to stream through unexamined.
    let mut passthrough = 0usize;
    let mut need = 0usize;
    // The decision on a held message, applied when the walk reaches it again.
    let mut resolved: Option<Resolution> = None;
    loop {
        // After a hold the rest of the buffer is walked before reading more.
        if resolved.is_none() {
            buf.reserve(need.max(READ_CHUNK / 2));
            match client.read_buf(&mut buf).await {
                Ok(0) => return Ended::ClientGone("connection closed without Terminate".into()),
                Ok(_) => {}
                Err(e) => return Ended::ClientGone(e.to_string()),
            }
        }
        let mut pos = passthrough.min(buf.len());
        passthrough -= pos;
        let mut terminate = false;
        need = 0;
        let outcome = {
            let mut t = lock(tracker);
            let mut m = mask.map(MaskSession::lock);
            let mut walk = FrontendWalk {
                pos: &mut pos,
                passthrough: &mut passthrough,
                need: &mut need,
                terminate: &mut terminate,
                edits: &mut edits,
                resolved: &mut resolved,
                masker: m.as_deref_mut(),
            };
            walk.run(&buf, max, &mut t, &mut guard)
        };
        // A decision is only ever applied to the message it was made for.
        resolved = None;
        // Requests go on record before their bytes go to the target.
        let requests = lock(tracker).take_requests();
        if !requests.is_empty() {
            let first = first_seq(&requests);
            match record_requests(tracker, recorder, requests, strict).await {
                Ok(()) => {}
                Err(RecordError::Stopped) => return Ended::RecorderStopped,
                Err(RecordError::Timeout(t)) => {
                    refuse_unrecorded(tracker, recorder, &holds.session_id, first, t, &inject)
                        .await;
                    // The other direction writes the error and ends the session.
                    std::future::pending::<()>().await;
                }
            }
        }
        if pos > 0 {
            let chunk = buf.split_to(pos);
            let sent = if edits.is_empty() {
                write(&mut upstream, &chunk).await
            } else {
                write(&mut upstream, &apply(&chunk, &mut edits)).await
            };
            if let Err(e) = sent {
                return Ended::UpstreamClosed(e.to_string());
            }
        }
        let outcome = match outcome {
            Ok(Some(held)) => {
                let settings = guard.policy().review().clone();
                match holds
                    .resolve(held, &settings, &inject, &mut client, &mut buf)
                    .await
                {
                    Ok(r) => resolved = Some(r),
                    Err(ended) => return ended,
                }
                continue;
            }
            Ok(None) => Ok(()),
            Err(e) => Err(e),
        };
        if let Err(e) = outcome {
            let mut bytes = Vec::new();
            let code = match e {
                FrameError::TooLarge { .. } => sqlstate::PROGRAM_LIMIT_EXCEEDED,
                _ => sqlstate::PROTOCOL_VIOLATION,
            };
            let message = e.to_string();
            b::error_response(&mut bytes, b::Severity::Fatal, code, &message, None);
            let _ = inject
                .send(Inject {
                    bytes,
                    then_close: Some(Ended::ClientProtocol(message)),
                })
                .await;
            // The other direction writes the error and ends the session.
            std::future::pending::<()>().await;
        }
        if terminate {
            return Ended::ClientQuit;
        }
    }
}

/// Walks complete client frames; stops at an incomplete one (`need` says
/// how many bytes it still lacks) or after Terminate.
struct FrontendWalk<'a> {
    pos: &'a mut usize,
    passthrough: &'a mut usize,
    need: &'a mut usize,
    terminate: &'a mut bool,
    edits: &'a mut Vec<Edit>,
    resolved: &'a mut Option<Resolution>,
    masker: Option<&'a mut Masker>,
}

impl FrontendWalk<'_> {
    fn run(
        &mut self,
        buf: &[u8],
        max: usize,
        tracker: &mut Tracker,
        guard: &mut Guard,
    ) -> Result<Option<Held>, FrameError> {
        while *self.passthrough == 0 {
            let rest = &buf[*self.pos..];
            let Some(h) = frame::header(rest, max)? else {
                return Ok(None);
            };
            if !f::is_known(h.tag) {
                return Err(FrameError::Malformed("unknown frontend message type"));
            }
            if rest.len() < h.frame_len {
                if h.tag == f::COPY_DATA {
                    *self.passthrough = h.frame_len - rest.len();
                    *self.pos = buf.len();
                } else {
                    *self.need = h.frame_len - rest.len();
                }
                return Ok(None);
            }
            let range = *self.pos..*self.pos + h.frame_len;
            // A held message stops the walk before it: nothing of it is sent
            // or tracked until it is decided.
            if let Some(held) =
                self.message(h.tag, &rest[HEADER_LEN..h.frame_len], range, tracker, guard)?
            {
                return Ok(Some(held));
            }
            // The masker follows what the target is asked to run (a held
            // message is shown to it once, when it is finally sent).
            if let Some(m) = self.masker.as_deref_mut() {
                m.frontend(h.tag, &rest[HEADER_LEN..h.frame_len]);
            }
            *self.pos += h.frame_len;
            if h.tag == f::TERMINATE {
                *self.terminate = true;
                return Ok(None);
            }
        }
        Ok(None)
    }

    /// Judges what asks the target to run something; stand-ins replace
    /// what is refused.
    fn message(
        &mut self,
        tag: u8,
        body: &[u8],
        range: std::ops::Range<usize>,
        tracker: &mut Tracker,
        guard: &mut Guard,
    ) -> Result<Option<Held>, FrameError> {
        match tag {
            f::QUERY => {
                let sql = f::query(body)?;
                match guard.judge_sql(sql) {
                    Some(v) if v.action == Action::Review => match self.resolved.take() {
                        Some(Resolution::Run(judged)) => tracker.query(sql, Some(judged)),
                        Some(Resolution::Refuse {
                            judged,
                            refusal,
                            reason,
                        }) => {
                            tracker.refused_query(sql, judged, reason, refusal);
                            self.edits.push((range, stand_in_query()));
                        }
                        None => {
                            return Ok(Some(Held {
                                text: sql.to_vec(),
                                params: None,
                                dml: guard.is_single_dml(sql),
                                verdict: v,
                            }));
                        }
                    },
                    Some(v) if !v.is_allowed() => {
                        let (refusal, reason) = refusal(guard, &v);
                        tracker.refused_query(sql, Judged::from(&v), reason, refusal);
                        self.edits.push((range, stand_in_query()));
                    }
                    v => {
                        observe(v.as_ref(), sql);
                        tracker.query(sql, v.as_ref().map(Judged::from));
                    }
                }
            }
            f::PARSE => {
                let (name, sql) = f::parse(body)?;
                match guard.judge_parse(name, sql) {
                    // Preparing runs nothing: each Bind of it is held instead.
                    Some(v) if v.action == Action::Review => {
                        tracker.parse(name, sql, Some(Judged::from(&v)));
                        guard.hold_prepared(name, v);
                    }
                    Some(v) if !v.is_allowed() => {
                        let (refusal, reason) = refusal(guard, &v);
                        tracker.refused_parse(sql, Judged::from(&v), reason, refusal);
                        self.edits.push((range, stand_in_parse(name)));
                    }
                    v => {
                        observe(v.as_ref(), sql);
                        tracker.parse(name, sql, v.as_ref().map(Judged::from));
                    }
                }
            }
            f::FUNCTION_CALL => match guard.judge_function_call() {
                Some(v) if !v.is_allowed() => {
                    let (refusal, reason) = refusal(guard, &v);
                    tracker.refused_query(b"<FunctionCall>", Judged::from(&v), reason, refusal);
                    self.edits.push((range, stand_in_query()));
                }
                _ => tracker.frontend(tag, body)?,
            },
            f::BIND => {
                let bind = f::bind_params(body)?;
                match guard.held_statement(bind.statement).cloned() {
                    None => tracker.frontend(tag, body)?,
                    Some(v) => match self.resolved.take() {
                        Some(Resolution::Run(judged)) => tracker.bind_approved(body, judged)?,
                        Some(Resolution::Refuse {
                            judged,
                            refusal,
                            reason,
                        }) => {
                            tracker.refused_bind(body, judged, reason, refusal)?;
                            self.edits.push((range, stand_in_bind()));
                        }
                        None => {
                            let text = tracker.prepared_text(bind.statement).unwrap_or_default();
                            return Ok(Some(Held {
                                dml: guard.is_single_dml(text.as_bytes()),
                                text: text.into_bytes(),
                                params: Some(
                                    bind.values
                                        .iter()
                                        .map(|(f, v)| (*f, v.map(<[u8]>::to_vec)))
                                        .collect(),
                                ),
                                verdict: v,
                            }));
                        }
                    },
                }
            }
            f::CLOSE => {
                let (kind, name) = f::target(body, "Close")?;
                if kind == b'S' {
                    guard.closed(name);
                }
                tracker.frontend(tag, body)?;
            }
            _ => tracker.frontend(tag, body)?,
        }
        Ok(None)
    }
}

fn first_seq(requests: &[Event]) -> u64 {
    match requests.first() {
        Some(Event::Request(r)) => r.seq,
        _ => 0,
    }
}

/// Queues the request events taken from the tracker, confirming each as it
/// is queued; in strict mode then waits until the store has committed them.
async fn record_requests(
    tracker: &Mutex<Tracker>,
    recorder: &Recorder,
    requests: Vec<Event>,
    strict: Option<Duration>,
) -> Result<(), RecordError> {
    let deadline = strict.map(|t| (tokio::time::Instant::now() + t, t));
    for event in requests {
        let seq = match &event {
            Event::Request(r) => r.seq,
            _ => 0,
        };
        match deadline {
            None => recorder.record(event).await?,
            Some((at, t)) => tokio::time::timeout_at(at, recorder.record(event))
                .await
                .map_err(|_| RecordError::Timeout(t))??,
        }
        lock(tracker).request_recorded(seq);
    }
    if let Some((at, t)) = deadline {
        tokio::time::timeout_at(at, recorder.flush())
            .await
            .map_err(|_| RecordError::Timeout(t))??;
    }
    Ok(())
}

/// Strict mode failed closed: the statements of this burst are not sent.
/// The client is told why and the session ends; the operator gets a log
/// line, a metric and an audit entry (written once the store is back).
async fn refuse_unrecorded(
    tracker: &Mutex<Tracker>,
    recorder: &Recorder,
    session_id: &str,
    first: u64,
    waited: Duration,
    inject: &mpsc::Sender<Inject>,
) {
    recorder
        .stats()
        .strict_refusals
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let detail = format!(
        "the state store did not confirm the request event within {waited:?}; statement {first} and any after it in the same burst were not run"
    );
    tracing::error!(session = %session_id, statement = first, waited = ?waited, "strict recording failed: statement refused, session closed");
    let audit = recorder.clone();
    let entry = AuditEntry::new(
        "gateway",
        "recording.strict_refused",
        Some(session_id.to_string()),
        Some(detail.clone()),
    );
    // Queued behind the events it concerns; it waits for the store too.
    tokio::spawn(async move {
        if audit.audit(entry).await.is_err() {
            tracing::error!("could not queue the audit entry of a strict recording failure");
        }
    });
    lock(tracker).refuse_unsent(
        first,
        "refused: the recording store is unavailable (strict mode)",
    );
    let mut bytes = Vec::new();
    b::error_response_full(
        &mut bytes,
        b::Severity::Fatal,
        sqlstate::IO_ERROR,
        "statement not run: session recording is unavailable",
        Some(&detail),
        Some(
            "this connection records in strict mode; try again when the gateway's state store is writable",
        ),
    );
    let _ = inject
        .send(Inject {
            bytes,
            then_close: Some(Ended::RecordingUnavailable(detail)),
        })
        .await;
}

fn observe(v: Option<&portcullis_core::policy::Verdict>, sql: &[u8]) {
    if let Some(v) = v
        && v.observed
    {
        tracing::info!(
            rule = v.rule.as_deref().unwrap_or(""),
            policy = %v.policy,
            statement = %String::from_utf8_lossy(sql),
            "observe mode: would have stopped this statement"
        );
    }
}

/// The ErrorResponse that replaces the stand-in's error, and the recorded reason.
fn refusal(guard: &Guard, v: &portcullis_core::policy::Verdict) -> (Vec<u8>, String) {
    let (message, detail, hint) = guard.refusal(v);
    tracing::info!(
        action = v.action.as_str(),
        rule = v.rule.as_deref().unwrap_or(""),
        policy = %v.policy,
        "statement refused"
    );
    let mut out = Vec::new();
    b::error_response_full(
        &mut out,
        b::Severity::Error,
        sqlstate::INSUFFICIENT_PRIVILEGE,
        &message,
        Some(&detail),
        Some(&hint),
    );
    (out, format!("{message}: {detail}"))
}

fn stand_in_query() -> Vec<u8> {
    let mut out = Vec::new();
    write_frame(&mut out, f::QUERY, |b| put_cstr(b, STAND_IN));
    out
}

/// A Bind of a statement that cannot exist: fails before anything runs,
/// and the extended protocol skips to Sync as after any error.
fn stand_in_bind() -> Vec<u8> {
    let mut out = Vec::new();
    write_frame(&mut out, f::BIND, |b| {
        put_cstr(b, b"");
        put_cstr(b, b"portcullis refused \x01");
        b.extend_from_slice(&0i16.to_be_bytes());
        b.extend_from_slice(&0i16.to_be_bytes());
        b.extend_from_slice(&0i16.to_be_bytes());
    });
    out
}

fn stand_in_parse(name: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    write_frame(&mut out, f::PARSE, |b| {
        put_cstr(b, name);
        put_cstr(b, STAND_IN);
        b.extend_from_slice(&0i16.to_be_bytes());
    });
    out
}

/// `chunk` with the edited ranges replaced (edits are in order).
fn apply(chunk: &[u8], edits: &mut Vec<Edit>) -> Vec<u8> {
    let mut out = Vec::with_capacity(chunk.len() + 64);
    let mut at = 0;
    for (range, bytes) in edits.drain(..) {
        out.extend_from_slice(&chunk[at..range.start]);
        out.extend_from_slice(&bytes);
        at = range.end;
    }
    out.extend_from_slice(&chunk[at..]);
    out
}

async fn upstream_to_client(
    mut upstream: impl AsyncRead + Unpin,
    mut client: impl AsyncWrite + Unpin,
    shared: Shared<'_>,
    mut inject: mpsc::Receiver<Inject>,
    (mut shutdown, mut stop): (watch::Receiver<bool>, watch::Receiver<Option<Termination>>),
) -> Ended {
    let Shared {
        tracker,
        holds,
        mask,
        recorder,
    } = shared;
    let mut buf = BytesMut::with_capacity(READ_CHUNK);
    let mut edits: Vec<Edit> = Vec::new();
    let mut passthrough = 0usize;
    // Bytes of a refused frame still to swallow.
    let mut discard = 0usize;
    let mut need = 0usize;
    // The catalog was just loaded: walk what is buffered before reading more.
    let mut rewalk = false;
    // Created once: re-arming a watch future on every read costs a lock.
    let stopping = async move {
        while !*shutdown.borrow_and_update() {
            if shutdown.changed().await.is_err() {
                break;
            }
        }
    };
    tokio::pin!(stopping);
    let terminated = async move {
        loop {
            if let Some(t) = *stop.borrow_and_update() {
                return Some(t);
            }
            if stop.changed().await.is_err() {
                return None;
            }
        }
    };
    tokio::pin!(terminated);
    loop {
        buf.reserve(need.max(READ_CHUNK / 2));
        if !std::mem::take(&mut rewalk) {
            tokio::select! {
                biased;
                // Never inside a frame that is still streaming through.
                Some(msg) = inject.recv(), if passthrough == 0 => {
                    let _ = write(&mut client, &msg.bytes).await;
                    if let Some(end) = msg.then_close {
                        return end;
                    }
                    continue;
                }
                Some(t) = &mut terminated => {
                    let mut bytes = Vec::new();
                    b::error_response(&mut bytes, b::Severity::Fatal, sqlstate::ADMIN_SHUTDOWN, t.message(), None);
                    let _ = write(&mut client, &bytes).await;
                    return Ended::Terminated(t);
                }
                () = &mut stopping => {
                    let mut bytes = Vec::new();
                    b::error_response(&mut bytes, b::Severity::Fatal, sqlstate::ADMIN_SHUTDOWN,
                        "terminating connection: the gateway is shutting down", None);
                    let _ = write(&mut client, &bytes).await;
                    return Ended::Shutdown;
                }
                read = upstream.read_buf(&mut buf) => match read {
                    Ok(0) => return Ended::UpstreamClosed("target closed the connection".into()),
                    Ok(_) => {}
                    Err(e) => return Ended::UpstreamClosed(e.to_string()),
                },
            }
        }
        let swallowed = discard.min(buf.len());
        if swallowed > 0 {
            let _ = buf.split_to(swallowed);
            discard -= swallowed;
        }
        let mut pos = passthrough.min(buf.len());
        passthrough -= pos;
        need = 0;
        let (walked, done) = {
            let mut t = lock(tracker);
            let mut m = mask.map(MaskSession::lock);
            let walked = walk_backend(
                &buf,
                &mut pos,
                &mut Skips {
                    passthrough: &mut passthrough,
                    discard: &mut discard,
                    need: &mut need,
                },
                &mut t,
                &mut edits,
                m.as_deref_mut(),
            );
            (walked, (t.take_done(), t.records()))
        };
        // Responses are queued before the client sees the outcome, so the
        // chain follows cause and effect: a client's next request, sent
        // after this reply, always comes after this response.
        let (done, records) = done;
        for response in done {
            holds.note_outcome(&response);
            if records && recorder.record(Event::Response(response)).await.is_err() {
                return Ended::RecorderStopped;
            }
        }
        if pos > 0 {
            let chunk = buf.split_to(pos);
            let sent = if edits.is_empty() {
                write(&mut client, &chunk).await
            } else {
                write(&mut client, &apply(&chunk, &mut edits)).await
            };
            if let Err(e) = sent {
                return Ended::ClientGone(e.to_string());
            }
        }
        match walked {
            Err(e) => return Ended::UpstreamClosed(format!("target sent a malformed frame: {e}")),
            Ok(Flow::Catalog) => {
                if let Some(m) = mask {
                    m.load_catalog().await;
                }
                rewalk = true;
            }
            Ok(Flow::Read) => {}
        }
    }
}

/// What the backend walk needs next.
enum Flow {
    /// More bytes from the target.
    Read,
    /// The masking catalog, then a walk of what is already buffered.
    Catalog,
}

/// Counters of bytes the walk will not look at.
struct Skips<'a> {
    /// Bytes of a streamed frame to forward unexamined.
    passthrough: &'a mut usize,
    /// Bytes of a refused frame to swallow.
    discard: &'a mut usize,
    /// Bytes an incomplete frame still lacks.
    need: &'a mut usize,
}

fn walk_backend(
    buf: &[u8],
    pos: &mut usize,
    skips: &mut Skips<'_>,
    tracker: &mut Tracker,
    edits: &mut Vec<Edit>,
    mut masker: Option<&mut Masker>,
) -> Result<Flow, FrameError> {
    while *skips.passthrough == 0 {
        let rest = &buf[*pos..];
        // Lengths from the target are not limited here: frames that are
        // streamed need no buffer, the others are bounded below.
        let Some(h) = frame::header(rest, usize::MAX)? else {
            return Ok(Flow::Read);
        };
        let streamed = matches!(h.tag, b::DATA_ROW | b::COPY_DATA);
        if rest.len() < h.frame_len {
            if streamed && let Some(m) = masker.as_deref_mut() {
                let partial = *pos..buf.len();
                let missing = h.frame_len - rest.len();
                match m.row_mode(h.tag) {
                    RowMode::NeedCatalog => return Ok(Flow::Catalog),
                    RowMode::Drop => {
                        edits.push((partial, Vec::new()));
                        *skips.discard = missing;
                        *pos = buf.len();
                        return Ok(Flow::Read);
                    }
                    RowMode::Whole if h.frame_len > MAX_MASKED_ROW => {
                        let error = m.oversize(h.frame_len);
                        let shown = tracker
                            .backend(b::ERROR_RESPONSE, &error[HEADER_LEN..])
                            .unwrap_or(error);
                        edits.push((partial, shown));
                        *skips.discard = missing;
                        *pos = buf.len();
                        return Ok(Flow::Read);
                    }
                    RowMode::Whole => {
                        *skips.need = missing;
                        return Ok(Flow::Read);
                    }
                    RowMode::Stream => {}
                }
            }
            if streamed || h.frame_len > MAX_BACKEND_INSPECTED {
                tracker.streamed(h.tag, h.frame_len);
                *skips.passthrough = h.frame_len - rest.len();
                *pos = buf.len();
            } else {
                *skips.need = h.frame_len - rest.len();
            }
            return Ok(Flow::Read);
        }
        let body = &rest[HEADER_LEN..h.frame_len];
        let range = *pos..*pos + h.frame_len;
        // Mask first, then track: the recording sees what the client sees.
        let decision = match masker.as_deref_mut() {
            Some(m) => m.backend(h.tag, body),
            None => Decision::Pass,
        };
        match decision {
            Decision::NeedCatalog => return Ok(Flow::Catalog),
            Decision::Drop => edits.push((range, Vec::new())),
            Decision::Pass => {
                if let Some(replacement) = tracker.backend(h.tag, body) {
                    edits.push((range, replacement));
                }
            }
            Decision::Replace(frame) => {
                let tracked = match frame.get(HEADER_LEN..) {
                    Some(masked) => tracker.backend(frame[0], masked),
                    None => None,
                };
                edits.push((range, tracked.unwrap_or(frame)));
            }
        }
        *pos += h.frame_len;
    }
    Ok(Flow::Read)
}

async fn write(w: &mut (impl AsyncWrite + Unpin), bytes: &[u8]) -> std::io::Result<()> {
    w.write_all(bytes).await?;
    w.flush().await
}
