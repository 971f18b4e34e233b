//! Verdicts shaped for agents.
//!
//! The PostgreSQL session answers a refused statement with an
//! ErrorResponse (SQLSTATE `42501`). An agent given that as an error tends
//! to retry it; here it becomes a tool result that says what happened and
//! what to do next.

use serde_json::{Value, json};
use tokio_postgres::error::{DbError, SqlState};

use crate::limiter::Limited;

/// Prefix of the guard's message for a blocked statement.
const BLOCKED: &str = "blocked by guardrail ";
/// Prefix of the message for a statement held in async review mode
/// (`statement held for review N ...`).
const HELD: &str = "statement held for review ";
/// Prefix of the message for a statement that needs review on a gateway
/// without reviews.
const NEEDS_REVIEW: &str = "statement requires review ";

/// What the gateway did instead of running a statement.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    Blocked {
        rule: String,
        message: String,
        reason: Option<String>,
        hint: Option<String>,
    },
    Held {
        review: u64,
        message: String,
    },
}

/// Recognizes the gateway's own refusals among database errors (a plain
/// `permission denied` from PostgreSQL, also `42501`, is not one).
pub(crate) fn refusal(e: &DbError) -> Option<Refusal> {
    if *e.code() != SqlState::INSUFFICIENT_PRIVILEGE {
        return None;
    }
    refusal_of(e.message(), e.detail(), e.hint())
}

fn refusal_of(message: &str, detail: Option<&str>, hint: Option<&str>) -> Option<Refusal> {
    if let Some(rest) = message.strip_prefix(HELD) {
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        let review = digits.parse().ok()?;
        return Some(Refusal::Held {
            review,
            message: message.to_string(),
        });
    }
    if message.starts_with(BLOCKED) || message.starts_with(NEEDS_REVIEW) {
        let rule = message.split('"').nth(1).unwrap_or("unknown").to_string();
        return Some(Refusal::Blocked {
            rule,
            message: message.to_string(),
            reason: detail.map(str::to_string),
            hint: hint.map(str::to_string),
        });
    }
    None
}

pub(crate) fn blocked(connection: &str, r: &Refusal) -> Value {
    match r {
        Refusal::Blocked {
            rule,
            message,
            reason,
            hint,
        } => json!({
            "status": "blocked",
            "connection": connection,
            "rule": rule,
            "message": message,
            "reason": reason,
            "hint": hint,
            "retry": format!(
                "Do not retry: the same statement will be blocked again by rule {rule}. It never reached the database. Change the statement, or ask an administrator if it should be allowed."
            ),
        }),
        Refusal::Held { review, message } => held(connection, *review, message),
    }
}

pub(crate) fn held(connection: &str, review: u64, message: &str) -> Value {
    json!({
        "status": "pending_review",
        "connection": connection,
        "review": review,
        "message": format!("pending review {review}: {message}"),
        "next": format!(
            "The statement has not run. Check its state with the review_status tool (review = {review}). Once it is approved, send the identical statement again on the same connection to run it once; do not send it again before that."
        ),
    })
}

pub(crate) fn rate_limited(connection: &str, l: &Limited) -> Value {
    json!({
        "status": "rate_limited",
        "connection": connection,
        "rule": l.rule,
        "message": format!(
            "This identical statement was already blocked by rule {} and has now been sent {} times; it was not sent again.",
            l.rule, l.refusals
        ),
        "retry_after_seconds": l.retry_after.as_secs().max(1),
        "retry": "Do not retry this statement: it is blocked by policy. Change it, or ask an administrator.",
    })
}

/// A database error that is not a gateway verdict: the agent may fix its SQL.
pub(crate) fn database_error(connection: &str, e: &DbError) -> Value {
    json!({
        "status": "error",
        "connection": connection,
        "sqlstate": e.code().code(),
        "message": e.message(),
        "detail": e.detail(),
        "hint": e.hint(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gateway_refusals_are_recognized() {
        let b = refusal_of(
            "blocked by guardrail \"no-destructive/drop\" on connection demo",
            Some("DROP destroys objects"),
            None,
        );
        assert_eq!(
            b,
            Some(Refusal::Blocked {
                rule: "no-destructive/drop".into(),
                message: "blocked by guardrail \"no-destructive/drop\" on connection demo".into(),
                reason: Some("DROP destroys objects".into()),
                hint: None,
            })
        );
        let h = refusal_of("statement held for review 42 (rule p/bulk)", None, None);
        assert_eq!(
            h,
            Some(Refusal::Held {
                review: 42,
                message: "statement held for review 42 (rule p/bulk)".into()
            })
        );
        assert_eq!(refusal_of("statement held for review x", None, None), None);
        assert_eq!(
            refusal_of("permission denied for table t", None, None),
            None
        );
    }
}
