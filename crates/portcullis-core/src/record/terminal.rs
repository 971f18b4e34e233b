//! Terminal streams (interactive shells, `kubectl exec -it`): what the
//! client typed, what it was shown, and how the window was sized, with
//! time offsets, so a session can be replayed and exported as asciicast v2.

use base64::Engine;
use serde::{Deserialize, Serialize};

use super::Event;

/// Which side of a terminal a chunk belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TerminalStream {
    /// Bytes the client sent (keystrokes, pasted text).
    Input,
    /// Bytes the client was shown (stdout and stderr of a pty).
    Output,
    /// The window changed size (or got its first size).
    Resize,
}

/// One chunk of a terminal stream, in the session's hash chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TerminalEvent {
    pub session_id: String,
    /// Microseconds since the session opened (a monotonic clock, so the
    /// replay keeps the pauses the session had).
    pub offset_us: u64,
    /// The channel, for sessions with several terminals (SSH channel id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<u32>,
    pub stream: TerminalStream,
    /// The bytes as text, when the chunk is UTF-8 on its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
    /// The bytes in base64 otherwise (a chunk may end inside a character).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_base64: Option<String>,
    /// Columns and rows of a resize.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cols: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows: Option<u16>,
}

impl TerminalEvent {
    /// A chunk of input or output.
    pub fn data(
        session_id: String,
        offset_us: u64,
        channel: Option<u32>,
        stream: TerminalStream,
        bytes: &[u8],
    ) -> TerminalEvent {
        let (data, data_base64) = match std::str::from_utf8(bytes) {
            Ok(s) => (Some(s.to_string()), None),
            Err(_) => (
                None,
                Some(base64::engine::general_purpose::STANDARD.encode(bytes)),
            ),
        };
        TerminalEvent {
            session_id,
            offset_us,
            channel,
            stream,
            data,
            data_base64,
            cols: None,
            rows: None,
        }
    }

    /// The chunk's bytes exactly as recorded.
    pub fn bytes(&self) -> Vec<u8> {
        match (&self.data, &self.data_base64) {
            (Some(s), _) => s.as_bytes().to_vec(),
            (None, Some(b)) => base64::engine::general_purpose::STANDARD
                .decode(b)
                .unwrap_or_default(),
            (None, None) => Vec::new(),
        }
    }
}

/// The terminal events of a session as an asciicast v2 recording
/// (newline-delimited JSON: a header, then `[time, code, data]` events),
/// for `channel` (`None`: the first channel that has a terminal).
///
/// Input and output are decoded as one UTF-8 stream per direction, so a
/// character split across chunks is whole in the cast. Nothing is lost
/// for terminals that speak UTF-8; bytes that are not UTF-8 at all (which
/// asciicast cannot carry) become U+FFFD. Returns `None` when the session
/// has no terminal.
pub fn asciicast(events: &[Event], channel: Option<u32>, started_at: i64) -> Option<String> {
    let terminal: Vec<&TerminalEvent> = events
        .iter()
        .filter_map(|e| match e {
            Event::Terminal(t) => Some(t),
            _ => None,
        })
        .collect();
    let channel = match channel {
        Some(c) => Some(c),
        None => terminal.first()?.channel,
    };
    let mine: Vec<&TerminalEvent> = terminal
        .into_iter()
        .filter(|t| t.channel == channel)
        .collect();
    let first = mine.first()?;
    let (width, height) = mine
        .iter()
        .find(|t| t.stream == TerminalStream::Resize)
        .map_or((80, 24), |t| (t.cols.unwrap_or(80), t.rows.unwrap_or(24)));
    let start = first.offset_us;
    let header = serde_json::json!({
        "version": 2,
        "width": width,
        "height": height,
        "timestamp": (started_at + i64::try_from(start).unwrap_or(0)) / 1_000_000,
    });
    let mut out = header.to_string();
    out.push('\n');
    let mut input = Utf8Stream::default();
    let mut output = Utf8Stream::default();
    let mut seen_size = false;
    for t in mine {
        let time = (t.offset_us.saturating_sub(start)) as f64 / 1e6;
        let (code, data) = match t.stream {
            TerminalStream::Input => ("i", input.push(&t.bytes())),
            TerminalStream::Output => ("o", output.push(&t.bytes())),
            TerminalStream::Resize => {
                // The first size is the header's.
                if !seen_size {
                    seen_size = true;
                    continue;
                }
                (
                    "r",
                    format!("{}x{}", t.cols.unwrap_or(width), t.rows.unwrap_or(height)),
                )
            }
        };
        if data.is_empty() {
            continue;
        }
        out.push_str(&serde_json::json!([round6(time), code, data]).to_string());
        out.push('\n');
    }
    Some(out)
}

fn round6(t: f64) -> f64 {
    (t * 1e6).round() / 1e6
}

/// Decodes a byte stream as UTF-8 across chunk boundaries.
#[derive(Default)]
struct Utf8Stream {
    carry: Vec<u8>,
}

impl Utf8Stream {
    fn push(&mut self, bytes: &[u8]) -> String {
        let mut buf = std::mem::take(&mut self.carry);
        buf.extend_from_slice(bytes);
        let mut out = String::new();
        let mut rest: &[u8] = &buf;
        loop {
            match std::str::from_utf8(rest) {
                Ok(s) => {
                    out.push_str(s);
                    break;
                }
                Err(e) => {
                    let (valid, after) = rest.split_at(e.valid_up_to());
                    out.push_str(std::str::from_utf8(valid).unwrap_or_default());
                    match e.error_len() {
                        // An incomplete character at the end: wait for the rest.
                        None => {
                            self.carry = after.to_vec();
                            break;
                        }
                        Some(n) => {
                            out.push(char::REPLACEMENT_CHARACTER);
                            rest = &after[n..];
                        }
                    }
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(offset: u64, stream: TerminalStream, bytes: &[u8]) -> Event {
        Event::Terminal(TerminalEvent::data(
            "s".into(),
            offset,
            Some(0),
            stream,
            bytes,
        ))
    }

    #[test]
    fn split_characters_and_timing_survive_the_conversion() {
        let euro = "€".as_bytes();
        let mut resize =
            TerminalEvent::data("s".into(), 1_000, Some(0), TerminalStream::Resize, b"");
        resize.data = None;
        resize.cols = Some(100);
        resize.rows = Some(30);
        let mut later = resize.clone();
        later.offset_us = 4_000_000;
        later.cols = Some(120);
        let events = vec![
            Event::Terminal(resize),
            chunk(1_500_000, TerminalStream::Output, &[b'$', b' ', euro[0]]),
            chunk(1_500_250, TerminalStream::Output, &euro[1..]),
            chunk(2_000_000, TerminalStream::Input, b"ls\r"),
            Event::Terminal(later),
        ];
        let first = match &events[1] {
            Event::Terminal(t) => t.clone(),
            _ => unreachable!(),
        };
        assert!(
            first.data.is_none() && first.data_base64.is_some(),
            "split character kept as bytes"
        );
        assert_eq!(first.bytes(), vec![b'$', b' ', euro[0]]);
        let cast = asciicast(&events, None, 1_700_000_000_000_000).unwrap();
        let lines: Vec<serde_json::Value> = cast
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines[0]["version"], 2);
        assert_eq!(
            (lines[0]["width"].clone(), lines[0]["height"].clone()),
            (100.into(), 30.into())
        );
        assert_eq!(lines[1], serde_json::json!([1.499, "o", "$ "]));
        assert_eq!(lines[2], serde_json::json!([1.49925, "o", "€"]));
        assert_eq!(lines[3], serde_json::json!([1.999, "i", "ls\r"]));
        assert_eq!(lines[4], serde_json::json!([3.999, "r", "120x30"]));
        assert_eq!(asciicast(&events[..0], None, 0), None);
    }
}
