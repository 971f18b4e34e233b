//! What a session leaves behind: the event model every adapter records.
//!
//! Events are additive: later fields (classification, verdicts, masked
//! results, hash chain) extend these records without changing their meaning.

use serde::{Deserialize, Serialize};

use crate::policy::RefusalReason;
use crate::request::RequestKind;

/// One recorded fact about a session, in the order it happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Event {
    Open(SessionOpen),
    /// A statement recorded whole at completion: what gateways before
    /// separate request and response events wrote. Still read and verified.
    Statement(StatementRecord),
    /// A statement sent to the target, or refused by the gateway.
    Request(StatementRequest),
    /// How a requested statement ended, with its masked result rows.
    Response(StatementResponse),
    /// Bytes of a terminal stream (input, output) or a resize.
    Terminal(super::TerminalEvent),
    /// A file transferred (or refused): path, operation, size, digest.
    Transfer(super::TransferEvent),
    /// A forwarded channel (port, agent, X11 forwarding), when it ended.
    Forward(super::ForwardEvent),
    Close(SessionClose),
}

impl Event {
    pub fn session_id(&self) -> &str {
        match self {
            Event::Open(e) => &e.session_id,
            Event::Statement(e) => &e.session_id,
            Event::Request(e) => &e.session_id,
            Event::Response(e) => &e.session_id,
            Event::Terminal(e) => &e.session_id,
            Event::Transfer(e) => &e.session_id,
            Event::Forward(e) => &e.session_id,
            Event::Close(e) => &e.session_id,
        }
    }
}

/// Request events are not only SQL statements: the name is historical.
pub type RequestEvent = StatementRequest;
/// See [`RequestEvent`].
pub type ResponseEvent = StatementResponse;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionOpen {
    pub session_id: String,
    pub started_at: i64,
    pub identity: String,
    /// How the identity proved itself, e.g. `token:3fa1...` (token id, never the secret).
    pub auth_method: String,
    pub client_addr: String,
    pub connection: String,
    pub protocol: String,
    /// The policy in force and its version.
    #[serde(default)]
    pub policy: Option<String>,
    #[serde(default)]
    pub policy_version: Option<String>,
}

/// How a statement ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StatementStatus {
    /// Ran and completed.
    Ok,
    /// Reached the target, which answered with an error.
    Error,
    /// Sent in a pipeline after an earlier error; the target skipped it.
    Skipped,
    /// Stopped by the gateway; never reached the target.
    Blocked,
    /// The session ended before the target answered.
    Interrupted,
}

impl StatementStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            StatementStatus::Ok => "ok",
            StatementStatus::Error => "error",
            StatementStatus::Skipped => "skipped",
            StatementStatus::Blocked => "blocked",
            StatementStatus::Interrupted => "interrupted",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "ok" => StatementStatus::Ok,
            "error" => StatementStatus::Error,
            "skipped" => StatementStatus::Skipped,
            "blocked" => StatementStatus::Blocked,
            "interrupted" => StatementStatus::Interrupted,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatementRecord {
    pub session_id: String,
    /// 1-based position in the session.
    pub seq: u64,
    pub text: String,
    pub started_at: i64,
    pub duration_us: i64,
    /// Rows affected (DML) or returned (SELECT), when the target said.
    pub rows: Option<u64>,
    pub status: StatementStatus,
    /// `SQLSTATE: message` of an error, or why the statement was stopped.
    pub error: Option<String>,
    /// The guardrail verdict (`allow`, `block`, `review`); `None` on an
    /// unguarded (allow-all) connection, where nothing is judged.
    #[serde(default)]
    pub verdict: Option<String>,
    /// The deciding rule, e.g. `no-destructive/drop`.
    #[serde(default)]
    pub rule: Option<String>,
    /// True when an observe-mode policy let through what it would have stopped.
    #[serde(default)]
    pub observed: bool,
    /// The review that held the statement (and, if it ran, approved it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub review: Option<u64>,
    /// Masked result rows (read back from a response event; never part of
    /// a legacy statement event, so old hashes are unchanged).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<CapturedResult>,
}

impl StatementRecord {
    /// The statement as `sessions show` and `replay` see it: the request,
    /// completed by its response when there is one (a request without a
    /// response is a statement the session ended in the middle of).
    pub fn from_parts(req: &StatementRequest, resp: Option<&StatementResponse>) -> Self {
        StatementRecord {
            session_id: req.session_id.clone(),
            seq: req.seq,
            text: req.text.clone(),
            started_at: req.started_at,
            duration_us: resp.map_or(0, |r| r.duration_us),
            rows: resp.and_then(|r| r.rows),
            status: resp.map_or(StatementStatus::Interrupted, |r| r.status),
            error: resp
                .and_then(|r| r.error.clone())
                .or_else(|| req.refused.clone()),
            verdict: req.verdict.clone(),
            rule: req.rule.clone(),
            observed: req.observed,
            review: req.review,
            result: resp.and_then(|r| r.result.clone()),
        }
    }
}

/// A statement on its way to the target (or refused), recorded before its
/// bytes are sent: in strict mode the gateway waits until it is stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatementRequest {
    pub session_id: String,
    /// 1-based position in the session; its response carries the same.
    pub seq: u64,
    pub started_at: i64,
    /// Statement text, scrubbed by the policy's masking detectors.
    pub text: String,
    /// Bind parameters (extended protocol): text values scrubbed like the
    /// statement text, binary values as `<binary N bytes>`, NULL as null.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub params: Vec<Option<String>>,
    /// The guardrail verdict (`allow`, `block`, `review`); `None` on an
    /// unguarded connection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verdict: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub observed: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub review: Option<u64>,
    /// What the guard classified it as (commands, classes, tables); absent
    /// on an unguarded connection, where nothing is parsed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classified: Option<std::sync::Arc<crate::policy::Classified>>,
    /// Why the gateway refused it (then it never reaches the target).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
    /// What kind of request this is (`sql`, `command`, `http`, ...);
    /// absent for SQL, so events recorded before other kinds existed keep
    /// their hashes. (Not `kind`: that names the event itself.)
    #[serde(default, skip_serializing_if = "RequestKind::is_sql")]
    pub request_kind: RequestKind,
    /// The refusal's machine-readable reason, when it was refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<RefusalReason>,
    /// The request body as sent (masked), up to the capture caps (HTTP,
    /// Kubernetes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<CapturedBody>,
}

/// How a statement ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatementResponse {
    pub session_id: String,
    pub seq: u64,
    pub ended_at: i64,
    pub duration_us: i64,
    pub status: StatementStatus,
    /// Rows affected (DML) or returned (SELECT), when the target said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows: Option<u64>,
    /// Bytes of result rows (DataRow frames) sent to the client.
    #[serde(default)]
    pub bytes: u64,
    /// `SQLSTATE: message` of an error, or why the statement was stopped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The review that approved it (so the review records its outcome).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub review: Option<u64>,
    /// The result rows as the client received them (masked), up to the
    /// recording caps; only with `record = "full"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<CapturedResult>,
    /// The HTTP status of an HTTP or Kubernetes exchange.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_code: Option<u16>,
    /// The exit status of a command.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_status: Option<i32>,
    /// The response body or command output as the client received it
    /// (masked), up to the capture caps; only with `record = "full"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<CapturedBody>,
}

/// A body (HTTP, Kubernetes) or output (commands) captured after masking,
/// bounded by `max_result_bytes`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CapturedBody {
    /// The captured bytes as text, when they are UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// The captured bytes in base64, when they are not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base64: Option<String>,
    /// Size of the whole body, of which the capture is the start.
    pub size: u64,
    /// True when the body was longer than what was captured.
    #[serde(default)]
    pub truncated: bool,
}

/// Result rows captured from the wire after masking, bounded by the caps.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CapturedResult {
    /// One entry per result set (a simple query may return several).
    pub sets: Vec<ResultSet>,
    /// True when rows were left out: more than the caps allow, or a row
    /// too large to inspect in one piece.
    #[serde(default)]
    pub truncated: bool,
}

/// Column names and rows of one result set. Values are the text the client
/// received; binary-format values are hex (`\x...`), NULL is null.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ResultSet {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Option<String>>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionClose {
    pub session_id: String,
    pub ended_at: i64,
    /// A [`crate::session::CloseReason`] name: `client-quit`,
    /// `client-disconnected`, `upstream-closed`, `protocol-error`,
    /// `shutdown`, `recorder-stopped`, `recording-unavailable`, `revoked`,
    /// `killed`, `expired`, `panic`, `crashed` (older sessions: `error`).
    pub reason: String,
    pub detail: Option<String>,
}

/// A session as listed by `portcullis sessions list`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SessionSummary {
    #[serde(flatten)]
    pub open: SessionOpen,
    pub ended_at: Option<i64>,
    pub reason: Option<String>,
    pub detail: Option<String>,
    pub statements: u64,
}

/// Filters for listing sessions; `None` means any.
#[derive(Debug, Clone, Default)]
pub struct SessionFilter {
    pub identity: Option<String>,
    pub connection: Option<String>,
    pub since: Option<i64>,
    pub until: Option<i64>,
    /// Only sessions with at least one statement that got this verdict.
    pub verdict: Option<String>,
    pub limit: Option<u64>,
}
