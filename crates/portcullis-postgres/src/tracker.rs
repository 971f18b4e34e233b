//! Matches the target's replies to the client's requests, so each statement
//! is recorded as a request (when it is sent, or refused) and a response
//! (its outcome, row count, duration and masked result rows).
//!
//! Every client message that the server answers pushes an entry; each
//! server reply pops or updates the entry it belongs to, following the
//! protocol's rules (errors in the extended protocol skip to the next Sync).

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Instant;

use portcullis_core::config::RecordingLimits;
use portcullis_core::policy::{Action, Classified, RecordLevel, Verdict};
use portcullis_core::record::{Event, StatementRequest, StatementResponse, StatementStatus};
use portcullis_core::time::now_micros;

use crate::capture::Capture;
use crate::mask::rows::{bind_result_formats, format_of, row_description};
use crate::protocol::backend as b;
use crate::protocol::frame::FrameError;
use crate::protocol::frontend as f;

/// The guardrail decision a statement ran (or was stopped) under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Judged {
    pub action: Action,
    pub rule: Option<String>,
    pub observed: bool,
    /// The review that held (and, if it ran, approved) the statement.
    pub review: Option<u64>,
    /// What the guard classified it as.
    pub classified: Option<Arc<Classified>>,
}

impl From<&Verdict> for Judged {
    fn from(v: &Verdict) -> Judged {
        Judged {
            action: v.action,
            rule: v.rule.clone(),
            observed: v.observed,
            review: None,
            classified: v.classified.clone(),
        }
    }
}

impl Judged {
    /// The same verdict, tied to review `id`.
    pub fn with_review(mut self, id: Option<u64>) -> Judged {
        self.review = id;
        self
    }
}

/// Recorded bind parameters of a portal.
type Params = Arc<[Option<String>]>;

/// A statement as prepared or bound: its text and the verdict it got.
#[derive(Debug, Clone)]
struct Known {
    text: Arc<str>,
    judged: Option<Arc<Judged>>,
    /// Bound parameters, as recorded (portals only, when recording).
    params: Option<Params>,
    /// Result format codes from Bind (portals only, `record = "full"`).
    formats: Option<Arc<[i16]>>,
    /// Result column names from a Describe of it (`record = "full"`).
    columns: Option<Arc<[String]>>,
}

impl Known {
    fn new(text: Arc<str>, judged: Option<Arc<Judged>>) -> Self {
        Known {
            text,
            judged,
            params: None,
            formats: None,
            columns: None,
        }
    }
}

/// A statement the target is working on.
#[derive(Debug)]
struct InFlight {
    seq: u64,
    judged: Option<Arc<Judged>>,
    started: Instant,
    rows: Option<u64>,
    data_rows: u64,
    /// Bytes of DataRow frames sent to the client.
    bytes: u64,
    error: Option<String>,
    /// Set when the gateway stopped the statement: the target was sent a
    /// stand-in that fails, and its error is replaced with this frame.
    refusal: Option<Vec<u8>>,
    /// Stopped by the gateway (kept after `refusal` is used).
    blocked: bool,
    /// Result rows being recorded (`record = "full"` only).
    capture: Option<Box<Capture>>,
    /// Result formats of an Execute (None: all text).
    formats: Option<Arc<[i16]>>,
    /// Column names of an Execute's portal, when it was described.
    columns: Option<Arc<[String]>>,
}

#[derive(Debug)]
enum Pending {
    Query(InFlight),
    Execute(InFlight),
    FunctionCall(InFlight),
    /// A Parse; `Some` when the gateway refused it.
    Parse(Option<InFlight>),
    /// A Bind; `Some` when the gateway refused it.
    Bind(Option<InFlight>),
    /// A Describe of a statement (`S`) or portal (`P`) and its name.
    Describe(u8, Vec<u8>),
    Close,
    Sync,
}

pub struct Tracker {
    session_id: Arc<str>,
    seq: u64,
    prepared: HashMap<Vec<u8>, Known>,
    portals: HashMap<Vec<u8>, Known>,
    pending: VecDeque<Pending>,
    /// Request events not yet handed to the recorder.
    requests: Vec<Event>,
    /// Requests handed out are `..=taken`, those confirmed queued
    /// `..=confirmed` (both in order): if the session ends in between,
    /// the unconfirmed ones get no response either (a response without its
    /// request would break the chain).
    taken: u64,
    confirmed: u64,
    done: Vec<StatementResponse>,
    /// Masking policy whose detectors scrub recorded statement text.
    scrub: Option<portcullis_mask::MaskPolicy>,
    level: RecordLevel,
    limits: RecordingLimits,
}

fn text_of(sql: &[u8]) -> Arc<str> {
    String::from_utf8_lossy(sql).into()
}

impl Tracker {
    pub fn new(session_id: Arc<str>) -> Self {
        Tracker {
            session_id,
            seq: 0,
            prepared: HashMap::new(),
            portals: HashMap::new(),
            pending: VecDeque::new(),
            requests: Vec::new(),
            taken: 0,
            confirmed: 0,
            done: Vec::new(),
            scrub: None,
            level: RecordLevel::Full,
            limits: RecordingLimits::default(),
        }
    }

    /// Recorded statement text is scrubbed with `policy`'s detectors
    /// (literal values such as `WHERE email = 'jane@example.com'`).
    pub fn scrub_statements_with(&mut self, policy: portcullis_mask::MaskPolicy) {
        self.scrub = Some(policy);
    }

    /// What to record per statement, and the caps on captured rows.
    pub fn record_with(&mut self, level: RecordLevel, limits: RecordingLimits) {
        self.level = level;
        self.limits = limits;
    }

    /// Whether statement events are recorded at all (`record != "off"`).
    pub fn records(&self) -> bool {
        self.level != RecordLevel::Off
    }

    fn text(&self, sql: &[u8]) -> Arc<str> {
        match &self.scrub {
            None => text_of(sql),
            Some(p) => crate::mask::scrub_statement(p, &String::from_utf8_lossy(sql)).into(),
        }
    }

    /// Bind parameters as recorded: text values scrubbed like statement
    /// text, binary values by size only.
    fn params(&self, body: &[u8]) -> Option<Params> {
        if !self.records() {
            return None;
        }
        let bind = f::bind_params(body).ok()?;
        if bind.values.is_empty() {
            return None;
        }
        Some(
            bind.values
                .iter()
                .map(|(format, v)| {
                    v.map(|v| {
                        if *format == 1 {
                            format!("<binary {} bytes>", v.len())
                        } else {
                            self.text(v).to_string()
                        }
                    })
                })
                .collect(),
        )
    }

    /// Starts statement `seq + 1`: its request event is queued for the
    /// recorder (refused ones say why).
    fn start(
        &mut self,
        text: Arc<str>,
        judged: Option<Arc<Judged>>,
        params: Option<&Params>,
        refused: Option<String>,
    ) -> InFlight {
        self.seq += 1;
        let started_at = now_micros();
        if self.records() {
            let j = judged.as_deref();
            self.requests.push(Event::Request(StatementRequest {
                session_id: self.session_id.to_string(),
                seq: self.seq,
                started_at,
                text: text.to_string(),
                params: params.map(|p| p.to_vec()).unwrap_or_default(),
                verdict: j.map(|j| j.action.as_str().to_string()),
                rule: j.and_then(|j| j.rule.clone()),
                observed: j.is_some_and(|j| j.observed),
                review: j.and_then(|j| j.review),
                classified: j.and_then(|j| j.classified.clone()),
                refused: refused.clone(),
                request_kind: Default::default(),
                reason: None,
                body: None,
            }));
        }
        let capture = (self.level == RecordLevel::Full && refused.is_none()).then(|| {
            Box::new(Capture::new(
                self.limits.max_result_rows,
                self.limits.max_result_bytes,
            ))
        });
        InFlight {
            seq: self.seq,
            judged,
            started: Instant::now(),
            rows: None,
            data_rows: 0,
            bytes: 0,
            blocked: refused.is_some(),
            error: refused,
            refusal: None,
            capture,
            formats: None,
            columns: None,
        }
    }

    /// A simple Query on its way to the target, with its verdict.
    pub fn query(&mut self, sql: &[u8], judged: Option<Judged>) {
        let s = self.start(self.text(sql), judged.map(Arc::new), None, None);
        self.pending.push_back(Pending::Query(s));
    }

    /// A request the gateway refused (a Query, or a FunctionCall): the
    /// target gets a stand-in Query that fails, whose error becomes `refusal`.
    pub fn refused_query(&mut self, text: &[u8], judged: Judged, reason: String, refusal: Vec<u8>) {
        let mut s = self.start(self.text(text), Some(Arc::new(judged)), None, Some(reason));
        s.refusal = Some(refusal);
        self.pending.push_back(Pending::Query(s));
    }

    /// A Parse on its way to the target, with its verdict.
    pub fn parse(&mut self, name: &[u8], sql: &[u8], judged: Option<Judged>) {
        self.prepared.insert(
            name.to_vec(),
            Known::new(self.text(sql), judged.map(Arc::new)),
        );
        self.pending.push_back(Pending::Parse(None));
    }

    /// A Parse the gateway refused: the target gets a Parse that fails.
    pub fn refused_parse(&mut self, sql: &[u8], judged: Judged, reason: String, refusal: Vec<u8>) {
        let mut s = self.start(self.text(sql), Some(Arc::new(judged)), None, Some(reason));
        s.refusal = Some(refusal);
        self.pending.push_back(Pending::Parse(Some(s)));
    }

    /// The text of a prepared statement, as Parse gave it.
    pub fn prepared_text(&self, name: &[u8]) -> Option<String> {
        self.prepared.get(name).map(|k| k.text.to_string())
    }

    /// A portal bound from `body`, with what recording needs of it.
    fn portal(&self, body: &[u8], known: Known) -> Known {
        Known {
            params: self.params(body),
            formats: if self.level == RecordLevel::Full {
                bind_result_formats(body).ok().map(Arc::from)
            } else {
                None
            },
            ..known
        }
    }

    /// A Bind of a held statement that was approved: its portal runs under
    /// the review's verdict.
    pub fn bind_approved(&mut self, body: &[u8], judged: Judged) -> Result<(), FrameError> {
        let (portal, statement) = f::bind(body)?;
        let text = self
            .prepared
            .get(statement)
            .map(|k| k.text.clone())
            .unwrap_or_else(|| Arc::from("<unknown statement>"));
        let columns = self.prepared.get(statement).and_then(|k| k.columns.clone());
        let known = self.portal(
            body,
            Known {
                columns,
                ..Known::new(text, Some(Arc::new(judged)))
            },
        );
        self.portals.insert(portal.to_vec(), known);
        self.pending.push_back(Pending::Bind(None));
        Ok(())
    }

    /// A Bind the gateway refused: the target gets a Bind that fails.
    pub fn refused_bind(
        &mut self,
        body: &[u8],
        judged: Judged,
        reason: String,
        refusal: Vec<u8>,
    ) -> Result<(), FrameError> {
        let (_, statement) = f::bind(body)?;
        let text = self
            .prepared
            .get(statement)
            .map(|k| k.text.clone())
            .unwrap_or_else(|| Arc::from("<unknown statement>"));
        let params = self.params(body);
        let mut s = self.start(text, Some(Arc::new(judged)), params.as_ref(), Some(reason));
        s.refusal = Some(refusal);
        self.pending.push_back(Pending::Bind(Some(s)));
        Ok(())
    }

    /// Notes a complete client message on its way to the target.
    pub fn frontend(&mut self, tag: u8, body: &[u8]) -> Result<(), FrameError> {
        match tag {
            f::QUERY => self.query(f::query(body)?, None),
            f::PARSE => {
                let (name, sql) = f::parse(body)?;
                self.parse(name, sql, None);
            }
            f::BIND => {
                let (portal, statement) = f::bind(body)?;
                let known = self.prepared.get(statement).cloned().unwrap_or_else(|| {
                    Known::new(Arc::from("<statement prepared with SQL PREPARE>"), None)
                });
                let known = self.portal(body, known);
                self.portals.insert(portal.to_vec(), known);
                self.pending.push_back(Pending::Bind(None));
            }
            f::EXECUTE => {
                let portal = f::execute(body)?;
                let known = self
                    .portals
                    .get(portal)
                    .cloned()
                    .unwrap_or_else(|| Known::new(Arc::from("<unknown portal>"), None));
                let mut s = self.start(known.text, known.judged, known.params.as_ref(), None);
                s.formats = known.formats;
                s.columns = known.columns;
                self.pending.push_back(Pending::Execute(s));
            }
            f::DESCRIBE => {
                let (kind, name) = f::target(body, "Describe")?;
                self.pending
                    .push_back(Pending::Describe(kind, name.to_vec()));
            }
            f::CLOSE => {
                let (kind, name) = f::target(body, "Close")?;
                if kind == b'S' {
                    self.prepared.remove(name);
                } else {
                    self.portals.remove(name);
                }
                self.pending.push_back(Pending::Close);
            }
            f::SYNC => self.pending.push_back(Pending::Sync),
            f::FUNCTION_CALL => {
                let s = self.start(Arc::from("<FunctionCall>"), None, None, None);
                self.pending.push_back(Pending::FunctionCall(s));
            }
            _ => {}
        }
        Ok(())
    }

    /// A DataRow (or CopyData) frame too large to inspect whole streams
    /// through: it is counted, and its row is not captured.
    pub fn streamed(&mut self, tag: u8, frame_len: usize) {
        if tag != b::DATA_ROW {
            let _ = self.backend(tag, &[]);
        } else if let Some(s) = self.current() {
            s.data_rows += 1;
            s.bytes += frame_len as u64;
            if let Some(c) = s.capture.as_deref_mut() {
                c.skip();
            }
        }
    }

    /// Notes a complete (or, for DataRow, started) server message on its
    /// way to the client; returns the frame to send instead, if any.
    pub fn backend(&mut self, tag: u8, body: &[u8]) -> Option<Vec<u8>> {
        match tag {
            b::PARSE_COMPLETE | b::BIND_COMPLETE | b::CLOSE_COMPLETE => {
                if matches!(
                    self.pending.front(),
                    Some(Pending::Parse(_) | Pending::Bind(_) | Pending::Close)
                ) {
                    self.pending.pop_front();
                }
            }
            b::ROW_DESCRIPTION | b::NO_DATA => {
                let full = self.level == RecordLevel::Full;
                if matches!(self.pending.front(), Some(Pending::Describe(..))) {
                    if let Some(Pending::Describe(kind, name)) = self.pending.pop_front()
                        && full
                        && tag == b::ROW_DESCRIPTION
                    {
                        self.described(kind, &name, body);
                    }
                } else if full
                    && tag == b::ROW_DESCRIPTION
                    && let Some(Pending::Query(s)) = self.pending.front_mut()
                    && let Some(c) = s.capture.as_deref_mut()
                {
                    c.columns(column_names(body).unwrap_or_default());
                }
            }
            b::DATA_ROW => {
                if let Some(Pending::Query(s) | Pending::Execute(s) | Pending::FunctionCall(s)) =
                    self.pending.front_mut()
                {
                    s.data_rows += 1;
                    s.bytes += (body.len() + crate::protocol::frame::HEADER_LEN) as u64;
                    if let Some(c) = s.capture.as_deref_mut()
                        && c.open()
                    {
                        // An Execute's rows carry no names: its portal's Describe gave them.
                        if s.data_rows == 1
                            && let Some(names) = s.columns.take()
                        {
                            c.columns(names.to_vec());
                        }
                        match &s.formats {
                            Some(formats) => c.row(body, |i| format_of(formats, i)),
                            None => c.row(body, |_| 0),
                        }
                    }
                }
            }
            b::COMMAND_COMPLETE => {
                let rows = b::command_rows(body);
                match self.pending.front_mut() {
                    Some(Pending::Query(s)) => {
                        if let Some(r) = rows {
                            s.rows = Some(s.rows.unwrap_or(0) + r);
                        }
                        s.data_rows = 0;
                    }
                    Some(Pending::Execute(_)) => {
                        if let Some(Pending::Execute(mut s)) = self.pending.pop_front() {
                            s.rows = rows.or(Some(s.data_rows));
                            self.finish(s, StatementStatus::Ok);
                        }
                    }
                    _ => {}
                }
            }
            b::EMPTY_QUERY_RESPONSE | b::PORTAL_SUSPENDED => {
                if let Some(Pending::Execute(_)) = self.pending.front()
                    && let Some(Pending::Execute(mut s)) = self.pending.pop_front()
                {
                    s.rows = Some(s.data_rows);
                    self.finish(s, StatementStatus::Ok);
                }
            }
            b::FUNCTION_CALL_RESPONSE => {
                if let Some(Pending::FunctionCall(_)) = self.pending.front()
                    && let Some(Pending::FunctionCall(s)) = self.pending.pop_front()
                {
                    self.finish(s, StatementStatus::Ok);
                }
            }
            b::ERROR_RESPONSE => return self.error(body),
            b::READY_FOR_QUERY => self.ready(),
            _ => {}
        }
        None
    }

    /// Keeps the column names a Describe returned with the statement or
    /// portal described; a Bind copies a statement's to its portal.
    fn described(&mut self, kind: u8, name: &[u8], body: &[u8]) {
        let columns = column_names(body).map(Arc::from);
        let known = if kind == b'S' {
            self.prepared.get_mut(name)
        } else {
            self.portals.get_mut(name)
        };
        if let Some(k) = known {
            k.columns.clone_from(&columns);
        }
        // In a pipeline the Execute was already started when the reply
        // comes: it is the next one waiting, and has no names yet.
        if let Some(s) = self.pending.iter_mut().find_map(|p| match p {
            Pending::Execute(s) => Some(s),
            _ => None,
        }) && s.columns.is_none()
            && s.data_rows == 0
        {
            s.columns = columns;
        }
    }

    fn current(&mut self) -> Option<&mut InFlight> {
        match self.pending.front_mut() {
            Some(Pending::Query(s) | Pending::Execute(s) | Pending::FunctionCall(s)) => Some(s),
            _ => None,
        }
    }

    fn error(&mut self, body: &[u8]) -> Option<Vec<u8>> {
        let text = || match b::error_fields(body) {
            Ok(e) => format!("{}: {}", e.code, e.message),
            Err(_) => "malformed error from target".to_string(),
        };
        match self.pending.front_mut() {
            Some(Pending::Query(s)) => {
                // A refused query's stand-in fails exactly once: say why instead.
                if let Some(refusal) = s.refusal.take() {
                    return Some(refusal);
                }
                if s.error.is_none() {
                    s.error = Some(text());
                }
                None
            }
            Some(Pending::Sync) | None => None,
            Some(_) => {
                let mut replacement = None;
                match self.pending.pop_front() {
                    Some(Pending::Execute(mut s) | Pending::FunctionCall(mut s)) => {
                        s.error = Some(text());
                        self.finish(s, StatementStatus::Error);
                    }
                    Some(Pending::Parse(Some(mut s)) | Pending::Bind(Some(mut s))) => {
                        replacement = s.refusal.take();
                        self.finish(s, StatementStatus::Blocked);
                    }
                    _ => {}
                }
                self.skip_to_sync(StatementStatus::Skipped);
                replacement
            }
        }
    }

    /// After an error the server ignores everything up to the next Sync.
    fn skip_to_sync(&mut self, status: StatementStatus) {
        while let Some(p) = self.pending.front() {
            if matches!(p, Pending::Sync | Pending::Query(_)) {
                break;
            }
            match self.pending.pop_front() {
                Some(Pending::Execute(s) | Pending::FunctionCall(s)) => self.finish(s, status),
                // Refused by the gateway and, besides, skipped by the target.
                Some(Pending::Parse(Some(s)) | Pending::Bind(Some(s))) => {
                    self.finish(s, StatementStatus::Blocked)
                }
                _ => {}
            }
        }
    }

    fn ready(&mut self) {
        self.skip_to_sync(StatementStatus::Interrupted);
        match self.pending.pop_front() {
            Some(Pending::Query(s)) => {
                let status = if s.blocked {
                    StatementStatus::Blocked
                } else if s.error.is_some() {
                    StatementStatus::Error
                } else {
                    StatementStatus::Ok
                };
                self.finish(s, status);
            }
            Some(Pending::Sync) | None => {}
            Some(other) => self.pending.push_front(other),
        }
    }

    fn finish(&mut self, s: InFlight, status: StatementStatus) {
        let review = s.judged.as_deref().and_then(|j| j.review);
        // With nothing recorded, only a review still wants the outcome.
        let unconfirmed = s.seq > self.confirmed && s.seq <= self.taken;
        if (!self.records() && review.is_none()) || unconfirmed {
            return;
        }
        let rows = match status {
            StatementStatus::Ok | StatementStatus::Error => s.rows.or(Some(s.data_rows)),
            _ => None,
        };
        self.done.push(StatementResponse {
            session_id: self.session_id.to_string(),
            seq: s.seq,
            ended_at: now_micros(),
            duration_us: s.started.elapsed().as_micros() as i64,
            status,
            rows,
            bytes: s.bytes,
            error: s.error,
            review,
            result: s.capture.map(|c| c.finish()),
            status_code: None,
            exit_status: None,
            body: None,
        });
    }

    /// Request events since the last call, in statement order. The caller
    /// confirms each with [`Tracker::request_recorded`] once it is queued.
    pub fn take_requests(&mut self) -> Vec<Event> {
        let taken = std::mem::take(&mut self.requests);
        if let Some(Event::Request(r)) = taken.last() {
            self.taken = r.seq;
        }
        taken
    }

    /// The request event of statement `seq` is in the recorder's queue.
    pub fn request_recorded(&mut self, seq: u64) {
        self.confirmed = self.confirmed.max(seq);
    }

    /// Statements completed since the last call, in completion order
    /// (responses are recorded unless `record = "off"`; reviews use them
    /// to store the outcome of what they approved).
    pub fn take_done(&mut self) -> Vec<StatementResponse> {
        std::mem::take(&mut self.done)
    }

    /// Statements from `seq` on were never sent: the gateway could not
    /// record them in strict mode. They are answered as blocked with
    /// `reason`; earlier ones still running are interrupted.
    pub fn refuse_unsent(&mut self, seq: u64, reason: &str) {
        while let Some(p) = self.pending.pop_front() {
            if let Pending::Query(mut s)
            | Pending::Execute(mut s)
            | Pending::FunctionCall(mut s)
            | Pending::Parse(Some(mut s))
            | Pending::Bind(Some(mut s)) = p
            {
                if s.seq >= seq {
                    s.error = Some(reason.to_string());
                    self.finish(s, StatementStatus::Blocked);
                } else {
                    self.finish(s, StatementStatus::Interrupted);
                }
            }
        }
    }

    /// Marks everything still in flight as interrupted (session ending):
    /// request events not yet recorded come first, then every response.
    pub fn interrupt_all(&mut self) -> Vec<Event> {
        let mut out = std::mem::take(&mut self.requests);
        while let Some(p) = self.pending.pop_front() {
            if let Pending::Query(s)
            | Pending::Execute(s)
            | Pending::FunctionCall(s)
            | Pending::Parse(Some(s))
            | Pending::Bind(Some(s)) = p
            {
                self.finish(s, StatementStatus::Interrupted);
            }
        }
        let records = self.records();
        out.extend(
            self.take_done()
                .into_iter()
                .filter(|_| records)
                .map(Event::Response),
        );
        out
    }
}

/// Column names of a RowDescription body.
fn column_names(body: &[u8]) -> Option<Vec<String>> {
    row_description(body)
        .ok()
        .map(|cols| cols.into_iter().map(|c| c.name).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    use portcullis_core::record::{StatementRecord, StatementRequest};

    /// Completed statements, each joined with its request.
    fn statements(t: &mut Tracker) -> Vec<StatementRecord> {
        let requests: Vec<StatementRequest> = t
            .take_requests()
            .into_iter()
            .map(|e| match e {
                Event::Request(r) => r,
                other => panic!("{other:?}"),
            })
            .collect();
        for r in &requests {
            t.request_recorded(r.seq);
        }
        t.take_done()
            .iter()
            .map(|resp| {
                let req = requests.iter().find(|r| r.seq == resp.seq).unwrap();
                StatementRecord::from_parts(req, Some(resp))
            })
            .collect()
    }

    fn error_body(code: &str) -> Vec<u8> {
        let mut out = Vec::new();
        b::error_response(&mut out, b::Severity::Error, code, "boom", None);
        out[5..].to_vec()
    }

    #[test]
    fn simple_query_with_two_statements_is_one_record() {
        let mut t = Tracker::new("s".into());
        t.frontend(f::QUERY, b"insert into t values (1); select 1\0")
            .unwrap();
        t.backend(b::COMMAND_COMPLETE, b"INSERT 0 1\0");
        t.backend(b::ROW_DESCRIPTION, b"");
        t.backend(b::DATA_ROW, b"");
        t.backend(b::COMMAND_COMPLETE, b"SELECT 1\0");
        assert!(t.done.is_empty(), "not finished before ReadyForQuery");
        t.backend(b::READY_FOR_QUERY, b"I");
        let s = statements(&mut t);
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].rows, Some(2));
        assert_eq!(s[0].status, StatementStatus::Ok);
        assert_eq!(s[0].text, "insert into t values (1); select 1");
    }

    #[test]
    fn pipeline_error_skips_to_sync() {
        let mut t = Tracker::new("s".into());
        for (tag, body) in [
            (f::PARSE, &b"a\0select 1/0\0\0\0"[..]),
            (f::BIND, b"\0a\0\0\0\0\0\0\0"),
            (f::EXECUTE, b"\0\0\0\0\0"),
            (f::PARSE, b"b\0select 2\0\0\0"),
            (f::BIND, b"\0b\0\0\0\0\0\0\0"),
            (f::EXECUTE, b"\0\0\0\0\0"),
            (f::SYNC, b""),
            (f::PARSE, b"\0select 3\0\0\0"),
            (f::BIND, b"\0\0\0\0\0\0\0\0"),
            (f::EXECUTE, b"\0\0\0\0\0"),
            (f::SYNC, b""),
        ] {
            t.frontend(tag, body).unwrap();
        }
        t.backend(b::PARSE_COMPLETE, b"");
        t.backend(b::BIND_COMPLETE, b"");
        t.backend(b::ERROR_RESPONSE, &error_body("22012"));
        t.backend(b::READY_FOR_QUERY, b"I");
        t.backend(b::PARSE_COMPLETE, b"");
        t.backend(b::BIND_COMPLETE, b"");
        t.backend(b::DATA_ROW, b"");
        t.backend(b::COMMAND_COMPLETE, b"SELECT 1\0");
        t.backend(b::READY_FOR_QUERY, b"I");
        let s = statements(&mut t);
        let got: Vec<_> = s.iter().map(|s| (s.text.as_str(), s.status)).collect();
        assert_eq!(
            got,
            vec![
                ("select 1/0", StatementStatus::Error),
                ("select 2", StatementStatus::Skipped),
                ("select 3", StatementStatus::Ok),
            ]
        );
        assert_eq!(s[0].error.as_deref(), Some("22012: boom"));
        assert_eq!(s[2].rows, Some(1));
    }

    #[test]
    fn interrupted_statements_are_still_recorded() {
        let mut t = Tracker::new("s".into());
        t.frontend(f::QUERY, b"select pg_sleep(10)\0").unwrap();
        let events = t.interrupt_all();
        assert!(matches!(&events[0], Event::Request(r) if r.text == "select pg_sleep(10)"));
        assert!(
            matches!(&events[1], Event::Response(r) if r.status == StatementStatus::Interrupted)
        );
    }

    #[test]
    fn malformed_messages_are_errors() {
        let mut t = Tracker::new("s".into());
        assert!(t.frontend(f::QUERY, b"no nul").is_err());
        assert!(t.frontend(f::PARSE, b"x\0y\0").is_err());
        assert!(t.frontend(f::DESCRIBE, b"Z\0").is_err());
    }

    /// A RowDescription body with text-format columns `names`.
    fn row_description_body(names: &[&str]) -> Vec<u8> {
        let mut out = (names.len() as i16).to_be_bytes().to_vec();
        for n in names {
            out.extend_from_slice(n.as_bytes());
            out.push(0);
            out.extend_from_slice(&[0; 4]); // table oid
            out.extend_from_slice(&[0; 2]); // attnum
            out.extend_from_slice(&25u32.to_be_bytes()); // text
            out.extend_from_slice(&(-1i16).to_be_bytes());
            out.extend_from_slice(&(-1i32).to_be_bytes());
            out.extend_from_slice(&0i16.to_be_bytes());
        }
        out
    }

    fn data_row_body(v: &[u8]) -> Vec<u8> {
        let mut out = 1i16.to_be_bytes().to_vec();
        out.extend_from_slice(&(v.len() as i32).to_be_bytes());
        out.extend_from_slice(v);
        out
    }

    /// Bind of the unnamed statement: one text and one binary parameter,
    /// results in binary.
    fn bind_body() -> Vec<u8> {
        let mut b = b"\0\0".to_vec();
        b.extend_from_slice(&2i16.to_be_bytes());
        b.extend_from_slice(&0i16.to_be_bytes());
        b.extend_from_slice(&1i16.to_be_bytes());
        b.extend_from_slice(&2i16.to_be_bytes());
        b.extend_from_slice(&16i32.to_be_bytes());
        b.extend_from_slice(b"jane@example.com");
        b.extend_from_slice(&4i32.to_be_bytes());
        b.extend_from_slice(&[0, 0, 0, 7]);
        b.extend_from_slice(&1i16.to_be_bytes());
        b.extend_from_slice(&1i16.to_be_bytes());
        b
    }

    #[test]
    fn extended_statements_record_scrubbed_params_and_binary_rows() {
        let mut t = Tracker::new("s".into());
        let policy = portcullis_mask::MaskPolicy::compile(
            &[portcullis_mask::MaskRuleConfig {
                detector: Some(portcullis_mask::DetectorKind::Email),
                style: portcullis_mask::StyleKind::Redact,
                ..Default::default()
            }],
            b"k",
        )
        .unwrap();
        t.scrub_statements_with(policy);
        t.frontend(f::PARSE, b"\0select $1, $2\0\0\0").unwrap();
        t.frontend(f::BIND, &bind_body()).unwrap();
        t.frontend(f::DESCRIBE, b"P\0").unwrap();
        t.frontend(f::EXECUTE, b"\0\0\0\0\0").unwrap();
        t.frontend(f::SYNC, b"").unwrap();
        t.backend(b::PARSE_COMPLETE, b"");
        t.backend(b::BIND_COMPLETE, b"");
        t.backend(b::ROW_DESCRIPTION, &row_description_body(&["n"]));
        t.backend(b::DATA_ROW, &data_row_body(&[0, 0, 0, 7]));
        t.backend(b::COMMAND_COMPLETE, b"SELECT 1\0");
        t.backend(b::READY_FOR_QUERY, b"I");
        let requests = t.take_requests();
        let Event::Request(r) = &requests[0] else {
            panic!("{requests:?}")
        };
        assert_eq!(r.params.len(), 2);
        assert!(
            !r.params[0].as_deref().unwrap().contains("jane@example.com"),
            "{:?}",
            r.params
        );
        assert_eq!(r.params[1].as_deref(), Some("<binary 4 bytes>"));
        let done = t.take_done();
        let result = done[0].result.as_ref().unwrap();
        assert_eq!(result.sets[0].columns, ["n"]);
        assert_eq!(result.sets[0].rows[0][0].as_deref(), Some("\\x00000007"));
        assert!(done[0].bytes > 0);
    }

    #[test]
    fn record_levels_decide_what_is_built() {
        let run = |level| {
            let mut t = Tracker::new("s".into());
            t.record_with(level, RecordingLimits::default());
            t.frontend(f::QUERY, b"select 'a' as x\0").unwrap();
            t.backend(b::ROW_DESCRIPTION, &row_description_body(&["x"]));
            t.backend(b::DATA_ROW, &data_row_body(b"a"));
            t.backend(b::COMMAND_COMPLETE, b"SELECT 1\0");
            t.backend(b::READY_FOR_QUERY, b"I");
            (t.take_requests(), t.take_done())
        };
        let (req, done) = run(RecordLevel::Full);
        assert_eq!(req.len(), 1);
        let rows = &done[0].result.as_ref().unwrap().sets[0];
        assert_eq!(rows.columns, ["x"]);
        assert_eq!(rows.rows, vec![vec![Some("a".to_string())]]);
        let (req, done) = run(RecordLevel::Statements);
        assert_eq!(req.len(), 1);
        assert_eq!(done[0].result, None);
        assert_eq!(done[0].rows, Some(1));
        let (req, done) = run(RecordLevel::Off);
        assert!(req.is_empty() && done.is_empty());
    }

    #[test]
    fn a_request_never_confirmed_gets_no_response() {
        let mut t = Tracker::new("s".into());
        t.frontend(f::QUERY, b"select 1\0").unwrap();
        let lost = t.take_requests();
        assert_eq!(lost.len(), 1);
        // The session ends before the request was queued: neither is recorded.
        assert!(t.interrupt_all().is_empty());
    }
}
