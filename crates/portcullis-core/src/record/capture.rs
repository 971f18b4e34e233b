//! The recording caps on captured results, enforced here for every
//! adapter: at most `max_result_rows` rows and `max_result_bytes` bytes of
//! values per request, never a whole result.
//!
//! Adapters decode what their protocol sends (after masking) and hand the
//! values in; once a cap is reached the capture says it was truncated and
//! asks for nothing more, so adapters can stop decoding.

use base64::Engine;

use super::{CapturedBody, CapturedResult, ResultSet};
use crate::config::RecordingLimits;

/// Bytes counted for a NULL, so rows of NULLs still reach the byte cap.
const NULL_COST: usize = 4;

/// The rows of one request being captured.
#[derive(Debug)]
pub struct ResultCapture {
    result: CapturedResult,
    rows_left: usize,
    bytes_left: usize,
}

impl ResultCapture {
    pub fn new(limits: &RecordingLimits) -> Self {
        ResultCapture::with_caps(limits.max_result_rows, limits.max_result_bytes)
    }

    pub fn with_caps(max_rows: usize, max_bytes: usize) -> Self {
        ResultCapture {
            result: CapturedResult::default(),
            rows_left: max_rows,
            bytes_left: max_bytes,
        }
    }

    /// A new result set begins, with its column names.
    pub fn columns(&mut self, names: Vec<String>) {
        self.result.sets.push(ResultSet {
            columns: names,
            rows: Vec::new(),
        });
    }

    /// Whether more rows are still wanted; adapters skip decoding once not.
    pub fn open(&self) -> bool {
        !self.result.truncated
    }

    /// A row that is not captured (too large or malformed to decode).
    pub fn skip(&mut self) {
        self.result.truncated = true;
    }

    /// Adds one decoded row. A row that would pass a cap is left out, and
    /// so is every row after it.
    pub fn row(&mut self, values: Vec<Option<String>>) {
        if self.result.truncated {
            return;
        }
        if self.rows_left == 0 {
            self.result.truncated = true;
            return;
        }
        let cost: usize = values
            .iter()
            .map(|v| v.as_ref().map_or(NULL_COST, String::len))
            .sum();
        if cost > self.bytes_left {
            self.result.truncated = true;
            return;
        }
        self.rows_left -= 1;
        self.bytes_left -= cost;
        if self.result.sets.is_empty() {
            self.result.sets.push(ResultSet::default());
        }
        if let Some(set) = self.result.sets.last_mut() {
            set.rows.push(values);
        }
    }

    pub fn finish(self) -> CapturedResult {
        self.result
    }
}

/// The start of a body or an output stream, up to `max_result_bytes`.
#[derive(Debug)]
pub struct BodyCapture {
    bytes: Vec<u8>,
    cap: usize,
    size: u64,
}

impl BodyCapture {
    pub fn new(limits: &RecordingLimits) -> Self {
        BodyCapture {
            bytes: Vec::new(),
            cap: limits.max_result_bytes,
            size: 0,
        }
    }

    /// Adds the next bytes; what is past the cap is only counted.
    pub fn push(&mut self, bytes: &[u8]) {
        self.size = self.size.saturating_add(bytes.len() as u64);
        let room = self.cap.saturating_sub(self.bytes.len());
        self.bytes
            .extend_from_slice(&bytes[..room.min(bytes.len())]);
    }

    /// Whether more bytes would still be kept.
    pub fn open(&self) -> bool {
        self.bytes.len() < self.cap
    }

    pub fn finish(self) -> CapturedBody {
        let truncated = self.size > self.bytes.len() as u64;
        let (text, base64) = match String::from_utf8(self.bytes) {
            Ok(s) => (Some(s), None),
            // A cut may end inside a character: keep the valid text.
            Err(e) if truncated && e.utf8_error().error_len().is_none() => {
                let valid = e.utf8_error().valid_up_to();
                let mut bytes = e.into_bytes();
                bytes.truncate(valid);
                (Some(String::from_utf8(bytes).unwrap_or_default()), None)
            }
            Err(e) => (
                None,
                Some(base64::engine::general_purpose::STANDARD.encode(e.into_bytes())),
            ),
        };
        CapturedBody {
            text,
            base64,
            size: self.size,
            truncated,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Option<String> {
        Some(s.to_string())
    }

    #[test]
    fn the_row_and_byte_caps_truncate() {
        let mut c = ResultCapture::with_caps(2, 1000);
        for _ in 0..3 {
            c.row(vec![v("1")]);
        }
        let r = c.finish();
        assert!(r.truncated);
        assert_eq!(r.sets[0].rows.len(), 2);

        let mut c = ResultCapture::with_caps(100, 10);
        c.row(vec![v("12345")]);
        c.row(vec![v("123456")]);
        c.row(vec![v("1")]);
        let r = c.finish();
        assert!(r.truncated);
        assert_eq!(
            r.sets[0].rows.len(),
            1,
            "nothing after the first row left out"
        );

        let mut c = ResultCapture::with_caps(100, 10);
        c.row(vec![None, None]);
        assert!(c.open(), "two NULLs cost 8 bytes");
        c.row(vec![None]);
        assert!(!c.open(), "a third passes the cap");
        assert_eq!(c.finish().sets[0].rows.len(), 1);
    }

    #[test]
    fn bodies_keep_their_start_and_size() {
        let limits = RecordingLimits {
            max_result_bytes: 4,
            ..RecordingLimits::default()
        };
        let mut b = BodyCapture::new(&limits);
        b.push(b"ab");
        b.push("c€".as_bytes());
        assert!(!b.open());
        let body = b.finish();
        assert_eq!(
            body.text.as_deref(),
            Some("abc"),
            "the cut character is left out"
        );
        assert_eq!((body.size, body.truncated), (6, true));
        let mut b = BodyCapture::new(&limits);
        b.push(&[0xff, 0]);
        let body = b.finish();
        assert_eq!((body.text, body.base64.as_deref()), (None, Some("/wA=")));
        assert!(!body.truncated);
    }
}
