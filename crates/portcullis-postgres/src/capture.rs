//! Result rows for the recording: decoded from the DataRow frames the
//! client receives (after masking), up to a per-statement cap.
//!
//! The cap bounds memory: once it is reached, further rows are counted by
//! the tracker but not decoded, and the capture says it was truncated.
//! Text-format values are kept as text (invalid UTF-8 replaced); binary
//! values are kept as hex (`\x...`, as PostgreSQL prints bytea), so the
//! record shows exactly the bytes the client got without a type decoder.

use portcullis_core::record::{CapturedResult, ResultSet};

use crate::protocol::frame::Reader;

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Bytes counted for a NULL, so rows of NULLs still reach the byte cap.
const NULL_COST: usize = 4;

/// The rows of one statement being captured.
#[derive(Debug)]
pub struct Capture {
    result: CapturedResult,
    rows_left: usize,
    bytes_left: usize,
}

impl Capture {
    pub fn new(max_rows: usize, max_bytes: usize) -> Self {
        Capture {
            result: CapturedResult::default(),
            rows_left: max_rows,
            bytes_left: max_bytes,
        }
    }

    /// A new result set begins (RowDescription), with its column names.
    pub fn columns(&mut self, names: Vec<String>) {
        self.result.sets.push(ResultSet {
            columns: names,
            rows: Vec::new(),
        });
    }

    /// Whether more rows are still wanted; the tracker skips decoding once not.
    pub fn open(&self) -> bool {
        !self.result.truncated
    }

    /// A row that is not captured (too large to inspect in one piece).
    pub fn skip(&mut self) {
        self.result.truncated = true;
    }

    /// Decodes one DataRow body; `format(i)` is column `i`'s format code.
    /// A row that would pass a cap is left out, and so is every row after it.
    pub fn row(&mut self, body: &[u8], format: impl Fn(usize) -> i16) {
        if self.result.truncated {
            return;
        }
        if self.rows_left == 0 {
            self.result.truncated = true;
            return;
        }
        let Some((values, cost)) = decode(body, &format) else {
            // Malformed rows are the target's problem; the client gets them
            // as they are, the recording just does not show them.
            self.result.truncated = true;
            return;
        };
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

/// One row's values and what they cost against the byte cap.
fn decode(body: &[u8], format: &impl Fn(usize) -> i16) -> Option<(Vec<Option<String>>, usize)> {
    let mut r = Reader::new(body, "DataRow");
    let n = r.i16().ok()?;
    let mut values = Vec::with_capacity(n.max(0) as usize);
    let mut cost = 0usize;
    for i in 0..n.max(0) as usize {
        let len = r.i32().ok()?;
        if len < 0 {
            values.push(None);
            cost += NULL_COST;
            continue;
        }
        let raw = r.bytes(len as usize).ok()?;
        let value = if format(i) == 1 {
            let mut s = String::with_capacity(2 + raw.len() * 2);
            s.push_str("\\x");
            for b in raw {
                s.push(HEX[(b >> 4) as usize] as char);
                s.push(HEX[(b & 15) as usize] as char);
            }
            s
        } else {
            String::from_utf8_lossy(raw).into_owned()
        };
        cost += value.len();
        values.push(Some(value));
    }
    Some((values, cost))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data_row(values: &[Option<&[u8]>]) -> Vec<u8> {
        let mut out = (values.len() as i16).to_be_bytes().to_vec();
        for v in values {
            match v {
                None => out.extend_from_slice(&(-1i32).to_be_bytes()),
                Some(v) => {
                    out.extend_from_slice(&(v.len() as i32).to_be_bytes());
                    out.extend_from_slice(v);
                }
            }
        }
        out
    }

    #[test]
    fn text_binary_and_null_values_are_kept() {
        let mut c = Capture::new(10, 1000);
        c.columns(vec!["a".into(), "b".into(), "c".into()]);
        c.row(&data_row(&[Some(b"x@y.z"), Some(&[0, 1]), None]), |i| {
            if i == 1 { 1 } else { 0 }
        });
        let r = c.finish();
        assert!(!r.truncated);
        assert_eq!(r.sets[0].columns, ["a", "b", "c"]);
        assert_eq!(
            r.sets[0].rows[0],
            vec![Some("x@y.z".to_string()), Some("\\x0001".to_string()), None]
        );
    }

    #[test]
    fn the_row_and_byte_caps_truncate() {
        let mut c = Capture::new(2, 1000);
        for _ in 0..3 {
            c.row(&data_row(&[Some(b"1")]), |_| 0);
        }
        let r = c.finish();
        assert!(r.truncated);
        assert_eq!(r.sets[0].rows.len(), 2);

        let mut c = Capture::new(100, 10);
        c.row(&data_row(&[Some(b"12345")]), |_| 0);
        c.row(&data_row(&[Some(b"123456")]), |_| 0);
        c.row(&data_row(&[Some(b"1")]), |_| 0);
        let r = c.finish();
        assert!(r.truncated);
        assert_eq!(
            r.sets[0].rows.len(),
            1,
            "nothing after the first row left out"
        );
    }

    #[test]
    fn a_malformed_row_is_left_out() {
        let mut c = Capture::new(10, 100);
        c.row(&[0, 2, 0, 0], |_| 0);
        assert!(c.finish().truncated);
    }
}
