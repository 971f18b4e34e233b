//! Messages a client (frontend) sends, decoded only as far as the gateway needs.

use super::frame::{FrameError, Reader};

pub const QUERY: u8 = b'Q';
pub const PARSE: u8 = b'P';
pub const BIND: u8 = b'B';
pub const DESCRIBE: u8 = b'D';
pub const EXECUTE: u8 = b'E';
pub const CLOSE: u8 = b'C';
pub const SYNC: u8 = b'S';
pub const FLUSH: u8 = b'H';
pub const FUNCTION_CALL: u8 = b'F';
pub const TERMINATE: u8 = b'X';
pub const COPY_DATA: u8 = b'd';
pub const COPY_DONE: u8 = b'c';
pub const COPY_FAIL: u8 = b'f';
/// PasswordMessage, SASLInitialResponse and SASLResponse share this tag.
pub const PASSWORD: u8 = b'p';

/// Whether `tag` is a message a client may send once the session is running.
pub fn is_known(tag: u8) -> bool {
    matches!(
        tag,
        QUERY
            | PARSE
            | BIND
            | DESCRIBE
            | EXECUTE
            | CLOSE
            | SYNC
            | FLUSH
            | FUNCTION_CALL
            | TERMINATE
            | COPY_DATA
            | COPY_DONE
            | COPY_FAIL
    )
}

/// Query: the SQL text.
pub fn query(body: &[u8]) -> Result<&[u8], FrameError> {
    let mut r = Reader::new(body, "Query");
    let q = r.cstr()?;
    Ok(q)
}

/// Parse: prepared statement name and SQL text.
pub fn parse(body: &[u8]) -> Result<(&[u8], &[u8]), FrameError> {
    let mut r = Reader::new(body, "Parse");
    let name = r.cstr()?;
    let sql = r.cstr()?;
    let n = r.i16()?;
    if n < 0 {
        return Err(FrameError::Malformed("Parse"));
    }
    r.bytes(n as usize * 4)?;
    Ok((name, sql))
}

/// Bind: portal name and prepared statement name (parameters stay opaque).
pub fn bind(body: &[u8]) -> Result<(&[u8], &[u8]), FrameError> {
    let mut r = Reader::new(body, "Bind");
    let portal = r.cstr()?;
    let statement = r.cstr()?;
    Ok((portal, statement))
}

/// A Bind's parameters: each value with its format code (0 text, 1 binary;
/// `None` is SQL NULL), as the server will apply them.
pub struct BindParams<'a> {
    pub statement: &'a [u8],
    pub values: Vec<(i16, Option<&'a [u8]>)>,
}

/// Bind, with its parameters decoded (only for statements held for review).
pub fn bind_params(body: &[u8]) -> Result<BindParams<'_>, FrameError> {
    let mut r = Reader::new(body, "Bind");
    r.cstr()?;
    let statement = r.cstr()?;
    let nformats = r.i16()?;
    if nformats < 0 {
        return Err(FrameError::Malformed("Bind"));
    }
    let mut formats = Vec::with_capacity(nformats as usize);
    for _ in 0..nformats {
        formats.push(r.i16()?);
    }
    let nvalues = r.i16()?;
    if nvalues < 0 || (nformats > 1 && nformats != nvalues) {
        return Err(FrameError::Malformed("Bind"));
    }
    let mut values = Vec::with_capacity(nvalues as usize);
    for i in 0..nvalues as usize {
        // No format codes: all text; one: it applies to all.
        let format = match formats.len() {
            0 => 0,
            1 => formats[0],
            _ => formats[i],
        };
        let len = r.i32()?;
        let value = match len {
            -1 => None,
            n if n < 0 => return Err(FrameError::Malformed("Bind")),
            n => Some(r.bytes(n as usize)?),
        };
        values.push((format, value));
    }
    Ok(BindParams { statement, values })
}

/// Execute: portal name.
pub fn execute(body: &[u8]) -> Result<&[u8], FrameError> {
    let mut r = Reader::new(body, "Execute");
    let portal = r.cstr()?;
    r.i32()?;
    Ok(portal)
}

/// Describe and Close: `'S'` (statement) or `'P'` (portal) and the name.
pub fn target<'a>(body: &'a [u8], what: &'static str) -> Result<(u8, &'a [u8]), FrameError> {
    let mut r = Reader::new(body, what);
    let kind = r.u8()?;
    if kind != b'S' && kind != b'P' {
        return Err(FrameError::Malformed(what));
    }
    let name = r.cstr()?;
    Ok((kind, name))
}

/// PasswordMessage: the password (here, a token or a JWT).
pub fn password(body: &[u8]) -> Result<&[u8], FrameError> {
    let mut r = Reader::new(body, "PasswordMessage");
    let p = r.cstr()?;
    if !r.is_empty() {
        return Err(FrameError::Malformed("PasswordMessage"));
    }
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_extended_protocol_messages() {
        assert_eq!(
            parse(b"s1\0select $1\0\0\x01\0\0\0\x17").unwrap(),
            (&b"s1"[..], &b"select $1"[..])
        );
        assert!(
            parse(b"s1\0select\0\0\x02\0\0\0\x17").is_err(),
            "missing parameter types"
        );
        assert_eq!(bind(b"p\0s\0rest").unwrap(), (&b"p"[..], &b"s"[..]));
        assert_eq!(execute(b"\0\0\0\0\0").unwrap(), &b""[..]);
        assert_eq!(
            target(b"Sname\0", "Describe").unwrap(),
            (b'S', &b"name"[..])
        );
        assert!(target(b"Xname\0", "Describe").is_err());
        assert!(query(b"no terminator").is_err());
        assert_eq!(password(b"tok\0").unwrap(), b"tok");
    }
}
