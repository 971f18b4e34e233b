//! What a session leaves behind: the event model every adapter records.
//!
//! Events are additive: later fields (classification, verdicts, masked
//! results, hash chain) extend these records without changing their meaning.

use serde::{Deserialize, Serialize};

/// One recorded fact about a session, in the order it happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Event {
    Open(SessionOpen),
    Statement(StatementRecord),
    Close(SessionClose),
}

impl Event {
    pub fn session_id(&self) -> &str {
        match self {
            Event::Open(e) => &e.session_id,
            Event::Statement(e) => &e.session_id,
            Event::Close(e) => &e.session_id,
        }
    }
}

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
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionClose {
    pub session_id: String,
    pub ended_at: i64,
    /// `client-quit`, `error`, `upstream-closed`, `shutdown`, `revoked`, `killed`.
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
