//! Framing: a one-byte tag and a four-byte big-endian length that counts
//! itself but not the tag.

use thiserror::Error;

pub const HEADER_LEN: usize = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub tag: u8,
    /// Whole frame length including the tag byte.
    pub frame_len: usize,
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum FrameError {
    #[error("invalid message length {0}")]
    InvalidLength(u32),
    #[error("message of {len} bytes exceeds the limit of {max} bytes")]
    TooLarge { len: usize, max: usize },
    #[error("malformed {0} message")]
    Malformed(&'static str),
}

/// Reads the header at the start of `buf`, if five bytes are there.
pub fn header(buf: &[u8], max: usize) -> Result<Option<Header>, FrameError> {
    if buf.len() < HEADER_LEN {
        return Ok(None);
    }
    let len = u32::from_be_bytes([buf[1], buf[2], buf[3], buf[4]]);
    if len < 4 {
        return Err(FrameError::InvalidLength(len));
    }
    let frame_len = len as usize + 1;
    if frame_len > max {
        return Err(FrameError::TooLarge {
            len: frame_len,
            max,
        });
    }
    Ok(Some(Header {
        tag: buf[0],
        frame_len,
    }))
}

/// A cursor over a message body, for the few messages that are decoded.
pub struct Reader<'a> {
    buf: &'a [u8],
    what: &'static str,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8], what: &'static str) -> Self {
        Reader { buf, what }
    }

    fn malformed(&self) -> FrameError {
        FrameError::Malformed(self.what)
    }

    /// A NUL-terminated string (bytes, not necessarily UTF-8).
    pub fn cstr(&mut self) -> Result<&'a [u8], FrameError> {
        let end = self
            .buf
            .iter()
            .position(|&b| b == 0)
            .ok_or_else(|| self.malformed())?;
        let s = &self.buf[..end];
        self.buf = &self.buf[end + 1..];
        Ok(s)
    }

    pub fn i16(&mut self) -> Result<i16, FrameError> {
        let b = self.bytes(2)?;
        Ok(i16::from_be_bytes([b[0], b[1]]))
    }

    pub fn i32(&mut self) -> Result<i32, FrameError> {
        let b = self.bytes(4)?;
        Ok(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub fn u8(&mut self) -> Result<u8, FrameError> {
        Ok(self.bytes(1)?[0])
    }

    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8], FrameError> {
        if self.buf.len() < n {
            return Err(self.malformed());
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Ok(head)
    }

    pub fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.buf)
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }
}

/// Appends a frame with `tag` whose body `fill` writes, fixing up the length.
pub fn write_frame(out: &mut Vec<u8>, tag: u8, fill: impl FnOnce(&mut Vec<u8>)) {
    out.push(tag);
    let at = out.len();
    out.extend_from_slice(&[0; 4]);
    fill(out);
    let len = (out.len() - at) as u32;
    out[at..at + 4].copy_from_slice(&len.to_be_bytes());
}

pub fn put_cstr(out: &mut Vec<u8>, s: &[u8]) {
    out.extend_from_slice(s);
    out.push(0);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_rejects_short_and_huge_lengths() {
        assert_eq!(header(b"Q\0\0", 100), Ok(None));
        assert_eq!(
            header(b"Q\0\0\0\x03", 100),
            Err(FrameError::InvalidLength(3))
        );
        assert_eq!(
            header(&[b'Q', 0x40, 0, 0, 0], 1 << 20),
            Err(FrameError::TooLarge {
                len: (1 << 30) + 1,
                max: 1 << 20
            })
        );
        assert_eq!(
            header(b"Q\0\0\0\x09select", 100),
            Ok(Some(Header {
                tag: b'Q',
                frame_len: 10
            }))
        );
    }

    #[test]
    fn write_frame_sets_length() {
        let mut out = Vec::new();
        write_frame(&mut out, b'Z', |b| b.push(b'I'));
        assert_eq!(out, b"Z\0\0\0\x05I");
    }
}
