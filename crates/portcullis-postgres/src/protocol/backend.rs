//! Messages the server (backend) sends: encoders for what the gateway says
//! itself, decoders for what it must read from the target.

use super::frame::{FrameError, Reader, put_cstr, write_frame};

pub const AUTHENTICATION: u8 = b'R';
pub const BACKEND_KEY_DATA: u8 = b'K';
pub const PARAMETER_STATUS: u8 = b'S';
pub const READY_FOR_QUERY: u8 = b'Z';
pub const ERROR_RESPONSE: u8 = b'E';
pub const NOTICE_RESPONSE: u8 = b'N';
pub const COMMAND_COMPLETE: u8 = b'C';
pub const EMPTY_QUERY_RESPONSE: u8 = b'I';
pub const DATA_ROW: u8 = b'D';
pub const ROW_DESCRIPTION: u8 = b'T';
pub const NO_DATA: u8 = b'n';
pub const PARAMETER_DESCRIPTION: u8 = b't';
pub const PARSE_COMPLETE: u8 = b'1';
pub const BIND_COMPLETE: u8 = b'2';
pub const CLOSE_COMPLETE: u8 = b'3';
pub const PORTAL_SUSPENDED: u8 = b's';
pub const COPY_IN_RESPONSE: u8 = b'G';
pub const COPY_OUT_RESPONSE: u8 = b'H';
pub const COPY_BOTH_RESPONSE: u8 = b'W';
pub const COPY_DATA: u8 = b'd';
pub const COPY_DONE: u8 = b'c';
pub const NOTIFICATION_RESPONSE: u8 = b'A';
pub const FUNCTION_CALL_RESPONSE: u8 = b'V';
pub const NEGOTIATE_PROTOCOL_VERSION: u8 = b'v';

pub const AUTH_OK: i32 = 0;
pub const AUTH_CLEARTEXT: i32 = 3;
pub const AUTH_MD5: i32 = 5;
pub const AUTH_SASL: i32 = 10;
pub const AUTH_SASL_CONTINUE: i32 = 11;
pub const AUTH_SASL_FINAL: i32 = 12;

/// Severity of an error the gateway raises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Error,
    Fatal,
}

impl Severity {
    fn as_bytes(self) -> &'static [u8] {
        match self {
            Severity::Error => b"ERROR",
            Severity::Fatal => b"FATAL",
        }
    }
}

/// An error or notice in PostgreSQL's field format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorFields {
    pub severity: String,
    pub code: String,
    pub message: String,
    pub detail: Option<String>,
    pub hint: Option<String>,
}

pub fn error_response(
    out: &mut Vec<u8>,
    severity: Severity,
    code: &str,
    message: &str,
    hint: Option<&str>,
) {
    error_response_full(out, severity, code, message, None, hint);
}

pub fn error_response_full(
    out: &mut Vec<u8>,
    severity: Severity,
    code: &str,
    message: &str,
    detail: Option<&str>,
    hint: Option<&str>,
) {
    write_frame(out, ERROR_RESPONSE, |b| {
        b.push(b'S');
        put_cstr(b, severity.as_bytes());
        b.push(b'V');
        put_cstr(b, severity.as_bytes());
        b.push(b'C');
        put_cstr(b, code.as_bytes());
        b.push(b'M');
        put_cstr(b, message.as_bytes());
        if let Some(d) = detail {
            b.push(b'D');
            put_cstr(b, d.as_bytes());
        }
        if let Some(h) = hint {
            b.push(b'H');
            put_cstr(b, h.as_bytes());
        }
        b.push(0);
    });
}

pub fn notice_response(out: &mut Vec<u8>, message: &str) {
    write_frame(out, NOTICE_RESPONSE, |b| {
        b.push(b'S');
        put_cstr(b, b"NOTICE");
        b.push(b'V');
        put_cstr(b, b"NOTICE");
        b.push(b'C');
        put_cstr(b, b"00000");
        b.push(b'M');
        put_cstr(b, message.as_bytes());
        b.push(0);
    });
}

pub fn authentication(out: &mut Vec<u8>, code: i32) {
    write_frame(out, AUTHENTICATION, |b| {
        b.extend_from_slice(&code.to_be_bytes())
    });
}

pub fn backend_key_data(out: &mut Vec<u8>, pid: i32, secret: i32) {
    write_frame(out, BACKEND_KEY_DATA, |b| {
        b.extend_from_slice(&pid.to_be_bytes());
        b.extend_from_slice(&secret.to_be_bytes());
    });
}

pub fn ready_for_query(out: &mut Vec<u8>, status: u8) {
    write_frame(out, READY_FOR_QUERY, |b| b.push(status));
}

pub fn negotiate_protocol_version(out: &mut Vec<u8>, newest_minor: i32, unsupported: &[&str]) {
    write_frame(out, NEGOTIATE_PROTOCOL_VERSION, |b| {
        b.extend_from_slice(&newest_minor.to_be_bytes());
        b.extend_from_slice(&(unsupported.len() as i32).to_be_bytes());
        for o in unsupported {
            put_cstr(b, o.as_bytes());
        }
    });
}

/// Rows counted in a CommandComplete tag (`SELECT 5`, `INSERT 0 3`, ...).
pub fn command_rows(body: &[u8]) -> Option<u64> {
    let tag = body.strip_suffix(&[0]).unwrap_or(body);
    let last = tag.rsplit(|&b| b == b' ').next()?;
    if last.is_empty() || !last.iter().all(u8::is_ascii_digit) || last.len() == tag.len() {
        return None;
    }
    std::str::from_utf8(last).ok()?.parse().ok()
}

/// The fields of an ErrorResponse or NoticeResponse.
pub fn error_fields(body: &[u8]) -> Result<ErrorFields, FrameError> {
    let mut r = Reader::new(body, "ErrorResponse");
    let mut f = ErrorFields {
        severity: String::new(),
        code: String::new(),
        message: String::new(),
        detail: None,
        hint: None,
    };
    loop {
        let kind = r.u8()?;
        if kind == 0 {
            break;
        }
        let value = String::from_utf8_lossy(r.cstr()?).into_owned();
        match kind {
            b'V' => f.severity = value,
            b'S' if f.severity.is_empty() => f.severity = value,
            b'C' => f.code = value,
            b'M' => f.message = value,
            b'D' => f.detail = Some(value),
            b'H' => f.hint = Some(value),
            _ => {}
        }
    }
    Ok(f)
}

/// Authentication request code and the rest of its body.
pub fn authentication_request(body: &[u8]) -> Result<(i32, &[u8]), FrameError> {
    let mut r = Reader::new(body, "Authentication");
    let code = r.i32()?;
    Ok((code, r.rest()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_rows_in_command_tags() {
        assert_eq!(command_rows(b"SELECT 5\0"), Some(5));
        assert_eq!(command_rows(b"INSERT 0 3\0"), Some(3));
        assert_eq!(command_rows(b"UPDATE 10\0"), Some(10));
        assert_eq!(command_rows(b"CREATE TABLE\0"), None);
        assert_eq!(command_rows(b"BEGIN\0"), None);
        assert_eq!(command_rows(b"12\0"), None);
    }

    #[test]
    fn error_round_trip() {
        let mut out = Vec::new();
        error_response(
            &mut out,
            Severity::Fatal,
            "28P01",
            "nope",
            Some("try again"),
        );
        let f = error_fields(&out[5..]).unwrap();
        assert_eq!(f.severity, "FATAL");
        assert_eq!(f.code, "28P01");
        assert_eq!(f.message, "nope");
        assert_eq!(f.hint.as_deref(), Some("try again"));
    }
}
