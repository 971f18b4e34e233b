//! `portcullis sessions replay`: a recorded session as a psql-like
//! transcript, with the masked result rows the client received.

use portcullis_core::record::{
    CapturedResult, Event, SessionSummary, StatementRecord, StatementStatus, TerminalStream,
};
use portcullis_core::time::format_micros;

use crate::table;

/// Indentation of everything printed under a statement.
const INDENT: &str = "          ";

/// One thing to replay, at its time.
enum Step<'a> {
    Statement(&'a StatementRecord),
    /// Terminal output, written as it was shown.
    Output(Vec<u8>),
    /// A transfer or forwarded channel, described in one line.
    Line(String),
}

/// The session's requests and its other events (terminal output,
/// transfers, forwarded channels) in time order.
fn timeline<'a>(
    session: &SessionSummary,
    statements: &'a [StatementRecord],
    others: &[Event],
) -> Vec<(i64, Step<'a>)> {
    let start = session.open.started_at;
    let mut steps: Vec<(i64, Step<'a>)> = statements
        .iter()
        .map(|s| (s.started_at, Step::Statement(s)))
        .collect();
    for e in others {
        match e {
            Event::Terminal(t) if t.stream == TerminalStream::Output => steps.push((
                start + i64::try_from(t.offset_us).unwrap_or(i64::MAX),
                Step::Output(t.bytes()),
            )),
            Event::Transfer(t) => steps.push((
                t.started_at,
                Step::Line(format!(
                    "file {} {}{} ({} bytes{}) {}",
                    t.op.as_str(),
                    t.path,
                    t.target
                        .as_deref()
                        .map(|x| format!(" -> {x}"))
                        .unwrap_or_default(),
                    t.size,
                    t.sha256
                        .as_deref()
                        .map(|h| format!(", sha256 {h}"))
                        .unwrap_or_default(),
                    t.refused
                        .as_deref()
                        .map(|r| format!("REFUSED: {r}"))
                        .or_else(|| t.error.as_deref().map(|e| format!("ERROR: {e}")))
                        .unwrap_or_else(|| t.verdict.clone().unwrap_or_default()),
                )),
            )),
            Event::Forward(f) => steps.push((
                f.opened_at,
                Step::Line(format!(
                    "forwarded {} channel{} ({} bytes in, {} out, {:.3} s) {}",
                    f.channel.as_str(),
                    f.destination
                        .as_deref()
                        .map(|d| format!(" to {d}"))
                        .unwrap_or_default(),
                    f.bytes_in,
                    f.bytes_out,
                    f.duration_us as f64 / 1e6,
                    f.refused
                        .as_deref()
                        .map(|r| format!("REFUSED: {r}"))
                        .unwrap_or_else(|| f.verdict.clone().unwrap_or_default()),
                )),
            )),
            _ => {}
        }
    }
    // Stable: events recorded at the same moment keep their order.
    steps.sort_by_key(|(at, _)| *at);
    steps
}

/// Prints the exchange in order, like a psql transcript (terminal output
/// as it was shown), optionally with the original pauses (divided by `speed`).
pub fn replay(
    session: &SessionSummary,
    statements: &[StatementRecord],
    others: &[Event],
    speed: Option<f64>,
) {
    use std::io::Write;
    let o = &session.open;
    println!(
        "-- session {} by {} ({}) on {} from {}, {}",
        o.session_id,
        o.identity,
        o.auth_method,
        o.connection,
        o.client_addr,
        format_micros(o.started_at)
    );
    let mut previous = o.started_at;
    for (at, step) in timeline(session, statements, others) {
        if let Some(speed) = speed.filter(|s| *s > 0.0) {
            let gap = (at - previous).max(0) as f64 / speed;
            std::thread::sleep(std::time::Duration::from_micros(gap.min(60e6) as u64));
        }
        previous = at;
        let offset = (at - o.started_at) as f64 / 1e6;
        let s = match step {
            Step::Statement(s) => s,
            Step::Output(bytes) => {
                let _ = std::io::stdout().write_all(&bytes);
                let _ = std::io::stdout().flush();
                continue;
            }
            Step::Line(line) => {
                println!("[+{offset:.3}s] {line}");
                continue;
            }
        };
        println!("[+{offset:.3}s] {}=> {}", o.connection, s.text.trim_end());
        let took = format!("{:.3} ms", s.duration_us as f64 / 1000.0);
        let outcome = match s.status {
            StatementStatus::Ok => match s.rows {
                Some(1) => format!("(1 row, {took})"),
                Some(n) => format!("({n} rows, {took})"),
                None => format!("(ok, {took})"),
            },
            StatementStatus::Blocked => format!(
                "BLOCKED ({}{}): {}",
                s.verdict.as_deref().unwrap_or("block"),
                s.rule
                    .as_deref()
                    .map(|r| format!(", rule {r}"))
                    .unwrap_or_default(),
                s.error.as_deref().unwrap_or("")
            ),
            StatementStatus::Error => {
                format!("ERROR: {} ({took})", s.error.as_deref().unwrap_or(""))
            }
            StatementStatus::Skipped => {
                "(skipped: an earlier statement in the pipeline failed)".into()
            }
            StatementStatus::Interrupted => {
                "(interrupted: the session ended before it finished)".into()
            }
        };
        println!("{INDENT}{outcome}");
        if let Some(result) = &s.result {
            print_result(result);
        }
        if s.observed {
            println!(
                "          observe mode: rule {} would have stopped it",
                s.rule.as_deref().unwrap_or("?")
            );
        }
        let _ = std::io::stdout().flush();
    }
    match (&session.ended_at, &session.reason) {
        (Some(e), Some(r)) => println!("-- session closed {} ({r})", format_micros(*e)),
        _ => println!("-- session still open"),
    }
}

/// Prints each captured result set as a table under the statement; NULL
/// prints as an empty cell, as in psql.
fn print_result(result: &CapturedResult) {
    for set in &result.sets {
        let headers: Vec<&str> = set.columns.iter().map(String::as_str).collect();
        let rows: Vec<Vec<String>> = set
            .rows
            .iter()
            .map(|r| r.iter().map(|v| v.clone().unwrap_or_default()).collect())
            .collect();
        let rendered = table::render(&headers, &rows);
        let mut lines = rendered.lines();
        if let Some(header) = lines.next() {
            println!("{INDENT}{header}");
            println!("{INDENT}{}", "-".repeat(header.chars().count().max(1)));
        }
        for line in lines {
            println!("{INDENT}{line}");
        }
    }
    if result.truncated {
        println!("{INDENT}(result truncated: more rows than the recording keeps)");
    }
}
