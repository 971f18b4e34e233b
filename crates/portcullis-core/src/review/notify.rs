//! Notifications about reviews: what is sent, in which shape. Sending is the
//! job of whoever implements [`Notifier`] (it must never block a review).
//!
//! Payloads carry the statement, never parameter values (they may hold
//! secrets) and never webhook URLs or tokens.

use serde_json::{Value, json};

use crate::time::format_micros;

use super::Review;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoticeKind {
    Requested,
    Approved,
    Rejected,
}

impl NoticeKind {
    pub fn event(self) -> &'static str {
        match self {
            NoticeKind::Requested => "review.requested",
            NoticeKind::Approved => "review.approved",
            NoticeKind::Rejected => "review.rejected",
        }
    }
}

/// Something a webhook should hear about.
#[derive(Debug, Clone)]
pub struct Notice {
    pub kind: NoticeKind,
    pub review: Review,
}

/// Delivers notices in the background.
pub trait Notifier: Send + Sync {
    fn notify(&self, notice: Notice);
}

/// The generic JSON payload.
pub fn json_payload(notice: &Notice, console: Option<&str>) -> Value {
    let r = &notice.review;
    let q = &r.request;
    json!({
        "event": notice.kind.event(),
        "review": {
            "id": r.id,
            "state": r.state.as_str(),
            "identity": q.identity,
            "connection": q.connection,
            "session_id": q.session_id,
            "client_addr": q.client_addr,
            "policy": q.policy,
            "rule": q.rule,
            "reason": q.reason,
            "statement": q.statement,
            "parameter_count": q.parameters.as_ref().map(|p| p.len()),
            "requested_at": format_micros(q.requested_at),
            "expires_at": format_micros(q.expires_at),
            "approvals": r.approvals.iter().map(|a| json!({"by": a.by, "at": format_micros(a.at)})).collect::<Vec<_>>(),
            "approvals_required": q.approvals_required,
            "rejection": r.rejection.as_ref().map(|x| json!({"by": x.by, "at": format_micros(x.at), "reason": x.reason})),
        },
        "approve_with": format!("portcullis review approve {}", r.id),
        "console": console,
    })
}

/// A Slack-compatible message. Everything taken from the request is escaped
/// so it can neither format the message nor smuggle in links or mentions.
pub fn slack_payload(notice: &Notice, console: Option<&str>) -> Value {
    let r = &notice.review;
    let q = &r.request;
    let head = match notice.kind {
        NoticeKind::Requested => format!(
            "Review {} requested: *{}* on *{}* (rule {})",
            r.id,
            slack_escape(&q.identity),
            slack_escape(&q.connection),
            slack_escape(q.rule.as_deref().unwrap_or("default"))
        ),
        NoticeKind::Approved => format!(
            "Review {} approved by {}",
            r.id,
            slack_escape(
                &r.approvals
                    .iter()
                    .map(|a| a.by.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        ),
        NoticeKind::Rejected => format!(
            "Review {} rejected by {}: {}",
            r.id,
            slack_escape(r.rejection.as_ref().map(|x| x.by.as_str()).unwrap_or("")),
            slack_escape(
                r.rejection
                    .as_ref()
                    .map(|x| x.reason.as_str())
                    .unwrap_or("")
            )
        ),
    };
    let mut text = format!("{head}\n```{}```", slack_code(&q.statement));
    if notice.kind == NoticeKind::Requested {
        text.push_str(&format!(
            "\nApprove with `portcullis review approve {}`",
            r.id
        ));
        if let Some(c) = console {
            text.push_str(&format!(" (API: {})", slack_escape(c)));
        }
    }
    json!({ "text": text })
}

/// Slack's control characters (`&`, `<`, `>`) escaped; formatting markers
/// neutralised with look-alike-free escapes so user text stays literal.
pub fn slack_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            // Formatting markers, and the backtick that could open a code span.
            '*' | '_' | '~' | '`' => {
                out.push('\u{200B}');
                out.push(c);
                out.push('\u{200B}');
            }
            c if c.is_control() && c != '\n' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Text for inside a ``` block: escaped, and no backtick run that could end it.
fn slack_code(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '`' => out.push('\u{2018}'),
            c if c.is_control() && c != '\n' && c != '\t' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}
