//! One recording API for every adapter: request and response events for
//! exchanges, terminal streams, file transfers and forwarded channels, all
//! in the session's hash chain. Strict mode and the capture caps live
//! here, once.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::config::RecordingLimits;
use crate::policy::{RecordLevel, RecordMode, Refusal, RefusalReason};
use crate::record::audit::AuditEntry;
use crate::record::capture::{BodyCapture, ResultCapture};
use crate::record::{
    CapturedBody, CapturedResult, Event, ForwardEvent, Judged, RecordError, Recorder,
    StatementRequest, StatementResponse, StatementStatus, TerminalEvent, TerminalStream,
    TransferEvent,
};
use crate::request::RequestKind;
use crate::time::now_micros;

/// A session's side of the recorder. Cheap to clone (adapters hand it to
/// the tasks of one session).
#[derive(Clone)]
pub struct SessionRecorder {
    session_id: Arc<str>,
    recorder: Recorder,
    level: RecordLevel,
    /// `record_mode = "strict"` (and something is recorded): how long a
    /// request waits for its event to be stored.
    strict: Option<Duration>,
    limits: RecordingLimits,
    seq: Arc<AtomicU64>,
    opened: Instant,
}

/// What an adapter says about a request it records.
#[derive(Debug, Clone, Default)]
pub struct RequestRecord {
    pub kind: RequestKind,
    /// The request as text (SQL, a command line, `GET /path`), scrubbed of
    /// what masking detectors find.
    pub text: String,
    /// Parameters (scrubbed text, `<binary N bytes>`, NULL as `None`).
    pub params: Vec<Option<String>>,
    /// The verdict it runs (or was stopped) under; `None` unguarded.
    pub judged: Option<Judged>,
    /// Set when the gateway refused it: it never reaches the target.
    pub refusal: Option<Refusal>,
    /// The masked request body, captured with [`SessionRecorder::body_capture`].
    pub body: Option<CapturedBody>,
}

/// A request on record, to answer with [`SessionRecorder::response`].
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    pub seq: u64,
    pub started: Instant,
    /// The review that approved it, whose outcome the response tells.
    pub review: Option<u64>,
}

/// A request whose event could not be stored (the recorder stopped, or
/// strict mode timed out): it must not be sent.
#[derive(Debug)]
pub struct NotRecorded {
    pub seq: u64,
    pub started: Instant,
    pub review: Option<u64>,
    /// Whether the event made it into the queue (then it may still be
    /// written, and a response to it keeps the chain whole).
    pub queued: bool,
    pub error: RecordError,
}

impl NotRecorded {
    /// The request as recorded, when its event was queued.
    pub fn queued_request(&self) -> Option<RecordedRequest> {
        self.queued.then_some(RecordedRequest {
            seq: self.seq,
            started: self.started,
            review: self.review,
        })
    }
}

/// How a request ended, as an adapter saw it.
#[derive(Debug, Clone)]
pub struct ResponseRecord {
    pub status: StatementStatus,
    pub rows: Option<u64>,
    pub bytes: u64,
    pub error: Option<String>,
    pub result: Option<CapturedResult>,
    pub status_code: Option<u16>,
    pub exit_status: Option<i32>,
    pub body: Option<CapturedBody>,
}

impl ResponseRecord {
    pub fn new(status: StatementStatus) -> ResponseRecord {
        ResponseRecord {
            status,
            rows: None,
            bytes: 0,
            error: None,
            result: None,
            status_code: None,
            exit_status: None,
            body: None,
        }
    }
}

impl SessionRecorder {
    pub(crate) fn new(
        session_id: Arc<str>,
        recorder: Recorder,
        level: RecordLevel,
        mode: RecordMode,
        limits: RecordingLimits,
    ) -> SessionRecorder {
        SessionRecorder {
            session_id,
            recorder,
            level,
            strict: (mode == RecordMode::Strict && level != RecordLevel::Off)
                .then_some(limits.strict_timeout),
            limits,
            seq: Arc::new(AtomicU64::new(0)),
            opened: Instant::now(),
        }
    }

    pub fn session_id(&self) -> &str {
        &self.session_id
    }

    /// What the policy records per request.
    pub fn level(&self) -> RecordLevel {
        self.level
    }

    /// Whether request events are recorded at all (`record != "off"`).
    pub fn records(&self) -> bool {
        self.level != RecordLevel::Off
    }

    /// The caps on captured results and the strict timeout.
    pub fn limits(&self) -> &RecordingLimits {
        &self.limits
    }

    /// `Some(timeout)` in strict mode.
    pub fn strict(&self) -> Option<Duration> {
        self.strict
    }

    /// The next request's position in the session (from 1). Adapters that
    /// build request events themselves take numbers here, so every request
    /// of the session shares one sequence.
    pub fn next_seq(&self) -> u64 {
        self.seq.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Microseconds since the session opened.
    pub fn offset_us(&self) -> u64 {
        u64::try_from(self.opened.elapsed().as_micros()).unwrap_or(u64::MAX)
    }

    /// A capture of result rows within the caps, with `record = "full"`.
    pub fn result_capture(&self) -> Option<ResultCapture> {
        (self.level == RecordLevel::Full).then(|| ResultCapture::new(&self.limits))
    }

    /// A capture of a body or output within the caps, with `record = "full"`.
    pub fn body_capture(&self) -> Option<BodyCapture> {
        (self.level == RecordLevel::Full).then(|| BodyCapture::new(&self.limits))
    }

    /// Queues any event (waiting while the queue is full).
    pub async fn record(&self, event: Event) -> Result<(), RecordError> {
        self.recorder.record(event).await
    }

    /// Queues request events in order, telling `queued` each one's seq as
    /// it is queued; in strict mode then waits until the store has
    /// committed them all, or fails with [`RecordError::Timeout`] (the
    /// requests must then not be sent).
    pub async fn requests(
        &self,
        events: Vec<Event>,
        mut queued: impl FnMut(u64),
    ) -> Result<(), RecordError> {
        let deadline = self.strict.map(|t| (tokio::time::Instant::now() + t, t));
        for event in events {
            let seq = match &event {
                Event::Request(r) => r.seq,
                _ => 0,
            };
            match deadline {
                None => self.recorder.record(event).await?,
                Some((at, t)) => tokio::time::timeout_at(at, self.recorder.record(event))
                    .await
                    .map_err(|_| RecordError::Timeout(t))??,
            }
            queued(seq);
        }
        if let Some((at, t)) = deadline {
            tokio::time::timeout_at(at, self.recorder.flush())
                .await
                .map_err(|_| RecordError::Timeout(t))??;
        }
        Ok(())
    }

    /// Records one request before it is sent (in strict mode: once it is
    /// stored). With `record = "off"` nothing is recorded, but the request
    /// still gets its number.
    pub async fn request(&self, r: RequestRecord) -> Result<RecordedRequest, NotRecorded> {
        let seq = self.next_seq();
        let started = Instant::now();
        let review = r.judged.as_ref().and_then(|j| j.review);
        if self.records() {
            let j = r.judged.as_ref();
            let event = Event::Request(StatementRequest {
                session_id: self.session_id.to_string(),
                seq,
                started_at: now_micros(),
                text: r.text,
                params: r.params,
                verdict: j.map(|j| j.action.as_str().to_string()),
                rule: j.and_then(|j| j.rule.clone()),
                observed: j.is_some_and(|j| j.observed),
                review,
                classified: j.and_then(|j| j.classified.clone()),
                refused: r.refusal.as_ref().map(Refusal::recorded),
                request_kind: r.kind,
                reason: r.refusal.as_ref().map(|x| x.reason),
                body: if self.level == RecordLevel::Full {
                    r.body
                } else {
                    None
                },
            });
            let mut queued = false;
            if let Err(error) = self.requests(vec![event], |_| queued = true).await {
                return Err(NotRecorded {
                    seq,
                    started,
                    review,
                    queued,
                    error,
                });
            }
        }
        Ok(RecordedRequest {
            seq,
            started,
            review,
        })
    }

    /// Records how a request ended.
    pub async fn response(
        &self,
        request: &RecordedRequest,
        r: ResponseRecord,
    ) -> Result<StatementResponse, RecordError> {
        let full = self.level == RecordLevel::Full;
        let response = StatementResponse {
            session_id: self.session_id.to_string(),
            seq: request.seq,
            ended_at: now_micros(),
            duration_us: i64::try_from(request.started.elapsed().as_micros()).unwrap_or(i64::MAX),
            status: r.status,
            rows: r.rows,
            bytes: r.bytes,
            error: r.error,
            review: request.review,
            result: if full { r.result } else { None },
            status_code: r.status_code,
            exit_status: r.exit_status,
            body: if full { r.body } else { None },
        };
        if self.records() {
            self.recorder
                .record(Event::Response(response.clone()))
                .await?;
        }
        Ok(response)
    }

    /// Records a chunk of a terminal's input or output (`record = "full"`).
    /// Input in strict mode is stored before it may be forwarded.
    pub async fn terminal(
        &self,
        channel: Option<u32>,
        stream: TerminalStream,
        bytes: &[u8],
    ) -> Result<(), RecordError> {
        if self.level != RecordLevel::Full || bytes.is_empty() {
            return Ok(());
        }
        let event = Event::Terminal(TerminalEvent::data(
            self.session_id.to_string(),
            self.offset_us(),
            channel,
            stream,
            bytes,
        ));
        match (stream, self.strict) {
            (TerminalStream::Input, Some(t)) => self.recorder.record_durable(event, t).await,
            _ => self.recorder.record(event).await,
        }
    }

    /// Records a terminal's (first or new) window size (`record = "full"`).
    pub async fn resize(
        &self,
        channel: Option<u32>,
        cols: u16,
        rows: u16,
    ) -> Result<(), RecordError> {
        if self.level != RecordLevel::Full {
            return Ok(());
        }
        let mut event = TerminalEvent::data(
            self.session_id.to_string(),
            self.offset_us(),
            channel,
            TerminalStream::Resize,
            b"",
        );
        event.data = None;
        event.cols = Some(cols);
        event.rows = Some(rows);
        self.recorder.record(Event::Terminal(event)).await
    }

    /// Records a file transfer (unless `record = "off"`); the session id is
    /// filled in.
    pub async fn transfer(&self, mut t: TransferEvent) -> Result<(), RecordError> {
        if !self.records() {
            return Ok(());
        }
        t.session_id = self.session_id.to_string();
        self.recorder.record(Event::Transfer(t)).await
    }

    /// Records a forwarded channel (unless `record = "off"`).
    pub async fn forward(&self, mut f: ForwardEvent) -> Result<(), RecordError> {
        if !self.records() {
            return Ok(());
        }
        f.session_id = self.session_id.to_string();
        self.recorder.record(Event::Forward(f)).await
    }

    /// Strict mode failed closed for request `first` of `kind` (and any
    /// sent with it): counted, logged and audited (the audit entry waits
    /// for the store like the events it concerns). Returns what the client
    /// is told; the adapter then ends the session with
    /// [`super::CloseReason::RecordingUnavailable`] and the refusal's detail.
    pub fn strict_refusal(&self, first: u64, waited: Duration, kind: RequestKind) -> Refusal {
        self.recorder
            .stats()
            .strict_refusals
            .fetch_add(1, Ordering::Relaxed);
        let noun = kind.noun();
        let detail = format!(
            "the state store did not confirm the request event within {waited:?}; {noun} {first} and any after it in the same burst were not run"
        );
        tracing::error!(request = first, waited = ?waited, "strict recording failed: request refused, session closed");
        let audit = self.recorder.clone();
        let entry = AuditEntry::new(
            "gateway",
            "recording.strict_refused",
            Some(self.session_id.to_string()),
            Some(detail.clone()),
        );
        tokio::spawn(async move {
            if audit.audit(entry).await.is_err() {
                tracing::error!("could not queue the audit entry of a strict recording failure");
            }
        });
        Refusal {
            reason: RefusalReason::RecordingUnavailable,
            action: crate::policy::Action::Block,
            rule: None,
            message: format!("{noun} not run: session recording is unavailable"),
            detail: Some(detail),
            hint: Some(
                "this connection records in strict mode; try again when the gateway's state store is writable"
                    .into(),
            ),
            cause: None,
        }
    }
}
