//! Matches the target's replies to the client's requests, so each statement
//! is recorded with its outcome, row count and duration.
//!
//! Every client message that the server answers pushes an entry; each
//! server reply pops or updates the entry it belongs to, following the
//! protocol's rules (errors in the extended protocol skip to the next Sync).

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Instant;

use portcullis_core::policy::{Action, Verdict};
use portcullis_core::record::{Event, StatementRecord, StatementStatus};
use portcullis_core::time::now_micros;

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
}

impl From<&Verdict> for Judged {
    fn from(v: &Verdict) -> Judged {
        Judged {
            action: v.action,
            rule: v.rule.clone(),
            observed: v.observed,
            review: None,
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

/// A statement as prepared or bound: its text and the verdict it got.
#[derive(Debug, Clone)]
struct Known {
    text: Arc<str>,
    judged: Option<Arc<Judged>>,
}

/// A statement the target is working on.
#[derive(Debug)]
struct InFlight {
    seq: u64,
    text: Arc<str>,
    judged: Option<Arc<Judged>>,
    started: Instant,
    started_at: i64,
    rows: Option<u64>,
    data_rows: u64,
    error: Option<String>,
    /// Set when the gateway stopped the statement: the target was sent a
    /// stand-in that fails, and its error is replaced with this frame.
    refusal: Option<Vec<u8>>,
    /// Stopped by the gateway (kept after `refusal` is used).
    blocked: bool,
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
    Describe,
    Close,
    Sync,
}

pub struct Tracker {
    session_id: Arc<str>,
    seq: u64,
    prepared: HashMap<Vec<u8>, Known>,
    portals: HashMap<Vec<u8>, Known>,
    pending: VecDeque<Pending>,
    done: Vec<Event>,
    /// Masking policy whose detectors scrub recorded statement text.
    scrub: Option<portcullis_mask::MaskPolicy>,
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
            done: Vec::new(),
            scrub: None,
        }
    }

    /// Recorded statement text is scrubbed with `policy`'s detectors
    /// (literal values such as `WHERE email = 'jane@example.com'`).
    pub fn scrub_statements_with(&mut self, policy: portcullis_mask::MaskPolicy) {
        self.scrub = Some(policy);
    }

    fn text(&self, sql: &[u8]) -> Arc<str> {
        match &self.scrub {
            None => text_of(sql),
            Some(p) => crate::mask::scrub_statement(p, &String::from_utf8_lossy(sql)).into(),
        }
    }

    fn start(&mut self, text: Arc<str>, judged: Option<Arc<Judged>>) -> InFlight {
        self.seq += 1;
        InFlight {
            seq: self.seq,
            text,
            judged,
            started: Instant::now(),
            started_at: now_micros(),
            rows: None,
            data_rows: 0,
            error: None,
            refusal: None,
            blocked: false,
        }
    }

    /// A simple Query on its way to the target, with its verdict.
    pub fn query(&mut self, sql: &[u8], judged: Option<Judged>) {
        let s = self.start(self.text(sql), judged.map(Arc::new));
        self.pending.push_back(Pending::Query(s));
    }

    /// A request the gateway refused (a Query, or a FunctionCall): the
    /// target gets a stand-in Query that fails, whose error becomes `refusal`.
    pub fn refused_query(&mut self, text: &[u8], judged: Judged, reason: String, refusal: Vec<u8>) {
        let mut s = self.start(self.text(text), Some(Arc::new(judged)));
        s.error = Some(reason);
        s.refusal = Some(refusal);
        s.blocked = true;
        self.pending.push_back(Pending::Query(s));
    }

    /// A Parse on its way to the target, with its verdict.
    pub fn parse(&mut self, name: &[u8], sql: &[u8], judged: Option<Judged>) {
        self.prepared.insert(
            name.to_vec(),
            Known {
                text: self.text(sql),
                judged: judged.map(Arc::new),
            },
        );
        self.pending.push_back(Pending::Parse(None));
    }

    /// A Parse the gateway refused: the target gets a Parse that fails.
    pub fn refused_parse(&mut self, sql: &[u8], judged: Judged, reason: String, refusal: Vec<u8>) {
        let mut s = self.start(self.text(sql), Some(Arc::new(judged)));
        s.error = Some(reason);
        s.refusal = Some(refusal);
        s.blocked = true;
        self.pending.push_back(Pending::Parse(Some(s)));
    }

    /// The text of a prepared statement, as Parse gave it.
    pub fn prepared_text(&self, name: &[u8]) -> Option<String> {
        self.prepared.get(name).map(|k| k.text.to_string())
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
        self.portals.insert(
            portal.to_vec(),
            Known {
                text,
                judged: Some(Arc::new(judged)),
            },
        );
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
        let mut s = self.start(text, Some(Arc::new(judged)));
        s.error = Some(reason);
        s.refusal = Some(refusal);
        s.blocked = true;
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
                let known = self
                    .prepared
                    .get(statement)
                    .cloned()
                    .unwrap_or_else(|| Known {
                        text: Arc::from("<statement prepared with SQL PREPARE>"),
                        judged: None,
                    });
                self.portals.insert(portal.to_vec(), known);
                self.pending.push_back(Pending::Bind(None));
            }
            f::EXECUTE => {
                let portal = f::execute(body)?;
                let known = self.portals.get(portal).cloned().unwrap_or_else(|| Known {
                    text: Arc::from("<unknown portal>"),
                    judged: None,
                });
                let s = self.start(known.text, known.judged);
                self.pending.push_back(Pending::Execute(s));
            }
            f::DESCRIBE => {
                f::target(body, "Describe")?;
                self.pending.push_back(Pending::Describe);
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
                let s = self.start(Arc::from("<FunctionCall>"), None);
                self.pending.push_back(Pending::FunctionCall(s));
            }
            _ => {}
        }
        Ok(())
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
                if matches!(self.pending.front(), Some(Pending::Describe)) {
                    self.pending.pop_front();
                }
            }
            b::DATA_ROW => {
                if let Some(s) = self.current() {
                    s.data_rows += 1;
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
        let rows = match status {
            StatementStatus::Ok | StatementStatus::Error => s.rows.or(Some(s.data_rows)),
            _ => None,
        };
        let judged = s.judged.as_deref();
        self.done.push(Event::Statement(StatementRecord {
            session_id: self.session_id.to_string(),
            seq: s.seq,
            text: s.text.to_string(),
            started_at: s.started_at,
            duration_us: s.started.elapsed().as_micros() as i64,
            rows,
            status,
            error: s.error,
            verdict: judged.map(|j| j.action.as_str().to_string()),
            rule: judged.and_then(|j| j.rule.clone()),
            observed: judged.is_some_and(|j| j.observed),
            review: judged.and_then(|j| j.review),
        }));
    }

    /// Statements completed since the last call, in completion order.
    pub fn take_done(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.done)
    }

    /// Marks everything still in flight as interrupted (session ending).
    pub fn interrupt_all(&mut self) -> Vec<Event> {
        while let Some(p) = self.pending.pop_front() {
            if let Pending::Query(s)
            | Pending::Execute(s)
            | Pending::FunctionCall(s)
            | Pending::Parse(Some(s)) = p
            {
                self.finish(s, StatementStatus::Interrupted);
            }
        }
        self.take_done()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn statements(events: Vec<Event>) -> Vec<StatementRecord> {
        events
            .into_iter()
            .map(|e| match e {
                Event::Statement(s) => s,
                other => panic!("{other:?}"),
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
        assert!(
            t.take_done().is_empty(),
            "not finished before ReadyForQuery"
        );
        t.backend(b::READY_FOR_QUERY, b"I");
        let s = statements(t.take_done());
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
        let s = statements(t.take_done());
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
        let s = statements(t.interrupt_all());
        assert_eq!(s[0].status, StatementStatus::Interrupted);
    }

    #[test]
    fn malformed_messages_are_errors() {
        let mut t = Tracker::new("s".into());
        assert!(t.frontend(f::QUERY, b"no nul").is_err());
        assert!(t.frontend(f::PARSE, b"x\0y\0").is_err());
        assert!(t.frontend(f::DESCRIBE, b"Z\0").is_err());
    }
}
