//! Matches the target's replies to the client's requests, so each statement
//! is recorded with its outcome, row count and duration.
//!
//! Every client message that the server answers pushes an entry; each
//! server reply pops or updates the entry it belongs to, following the
//! protocol's rules (errors in the extended protocol skip to the next Sync).

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Instant;

use portcullis_core::record::{Event, StatementRecord, StatementStatus};
use portcullis_core::time::now_micros;

use crate::protocol::backend as b;
use crate::protocol::frontend as f;
use crate::protocol::frame::FrameError;

/// A statement the target is working on.
#[derive(Debug)]
struct InFlight {
    seq: u64,
    text: Arc<str>,
    started: Instant,
    started_at: i64,
    rows: Option<u64>,
    data_rows: u64,
    error: Option<String>,
}

#[derive(Debug)]
enum Pending {
    Query(InFlight),
    Execute(InFlight),
    FunctionCall(InFlight),
    Parse,
    Bind,
    Describe,
    Close,
    Sync,
}

pub struct Tracker {
    session_id: Arc<str>,
    seq: u64,
    prepared: HashMap<Vec<u8>, Arc<str>>,
    portals: HashMap<Vec<u8>, Arc<str>>,
    pending: VecDeque<Pending>,
    done: Vec<Event>,
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
        }
    }

    fn start(&mut self, text: Arc<str>) -> InFlight {
        self.seq += 1;
        InFlight {
            seq: self.seq,
            text,
            started: Instant::now(),
            started_at: now_micros(),
            rows: None,
            data_rows: 0,
            error: None,
        }
    }

    /// Notes a complete client message on its way to the target.
    pub fn frontend(&mut self, tag: u8, body: &[u8]) -> Result<(), FrameError> {
        match tag {
            f::QUERY => {
                let sql = f::query(body)?;
                let s = self.start(text_of(sql));
                self.pending.push_back(Pending::Query(s));
            }
            f::PARSE => {
                let (name, sql) = f::parse(body)?;
                self.prepared.insert(name.to_vec(), text_of(sql));
                self.pending.push_back(Pending::Parse);
            }
            f::BIND => {
                let (portal, statement) = f::bind(body)?;
                let text = self
                    .prepared
                    .get(statement)
                    .cloned()
                    .unwrap_or_else(|| Arc::from("<unknown prepared statement>"));
                self.portals.insert(portal.to_vec(), text);
                self.pending.push_back(Pending::Bind);
            }
            f::EXECUTE => {
                let portal = f::execute(body)?;
                let text = self
                    .portals
                    .get(portal)
                    .cloned()
                    .unwrap_or_else(|| Arc::from("<unknown portal>"));
                let s = self.start(text);
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
                let s = self.start(Arc::from("<FunctionCall>"));
                self.pending.push_back(Pending::FunctionCall(s));
            }
            _ => {}
        }
        Ok(())
    }

    /// Notes a complete (or, for DataRow, started) server message on its way to the client.
    pub fn backend(&mut self, tag: u8, body: &[u8]) {
        match tag {
            b::PARSE_COMPLETE | b::BIND_COMPLETE | b::CLOSE_COMPLETE => {
                if matches!(
                    self.pending.front(),
                    Some(Pending::Parse | Pending::Bind | Pending::Close)
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
            b::ERROR_RESPONSE => self.error(body),
            b::READY_FOR_QUERY => self.ready(),
            _ => {}
        }
    }

    fn current(&mut self) -> Option<&mut InFlight> {
        match self.pending.front_mut() {
            Some(Pending::Query(s) | Pending::Execute(s) | Pending::FunctionCall(s)) => Some(s),
            _ => None,
        }
    }

    fn error(&mut self, body: &[u8]) {
        let text = match b::error_fields(body) {
            Ok(e) => format!("{}: {}", e.code, e.message),
            Err(_) => "malformed error from target".to_string(),
        };
        match self.pending.front_mut() {
            Some(Pending::Query(s)) => {
                if s.error.is_none() {
                    s.error = Some(text);
                }
            }
            Some(Pending::Sync) | None => {}
            Some(_) => {
                if let Some(Pending::Execute(mut s) | Pending::FunctionCall(mut s)) =
                    self.pending.pop_front()
                {
                    s.error = Some(text);
                    self.finish(s, StatementStatus::Error);
                }
                self.skip_to_sync(StatementStatus::Skipped);
            }
        }
    }

    /// After an error the server ignores everything up to the next Sync.
    fn skip_to_sync(&mut self, status: StatementStatus) {
        while let Some(p) = self.pending.front() {
            if matches!(p, Pending::Sync | Pending::Query(_)) {
                break;
            }
            if let Some(Pending::Execute(s) | Pending::FunctionCall(s)) = self.pending.pop_front() {
                self.finish(s, status);
            }
        }
    }

    fn ready(&mut self) {
        self.skip_to_sync(StatementStatus::Interrupted);
        match self.pending.pop_front() {
            Some(Pending::Query(s)) => {
                let status = if s.error.is_some() {
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
        self.done.push(Event::Statement(StatementRecord {
            session_id: self.session_id.to_string(),
            seq: s.seq,
            text: s.text.to_string(),
            started_at: s.started_at,
            duration_us: s.started.elapsed().as_micros() as i64,
            rows,
            status,
            error: s.error,
        }));
    }

    /// Statements completed since the last call, in completion order.
    pub fn take_done(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.done)
    }

    /// Marks everything still in flight as interrupted (session ending).
    pub fn interrupt_all(&mut self) -> Vec<Event> {
        while let Some(p) = self.pending.pop_front() {
            if let Pending::Query(s) | Pending::Execute(s) | Pending::FunctionCall(s) = p {
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
        t.frontend(f::QUERY, b"insert into t values (1); select 1\0").unwrap();
        t.backend(b::COMMAND_COMPLETE, b"INSERT 0 1\0");
        t.backend(b::ROW_DESCRIPTION, b"");
        t.backend(b::DATA_ROW, b"");
        t.backend(b::COMMAND_COMPLETE, b"SELECT 1\0");
        assert!(t.take_done().is_empty(), "not finished before ReadyForQuery");
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
