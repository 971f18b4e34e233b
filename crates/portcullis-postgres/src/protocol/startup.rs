//! The untagged packets a client may send before the session starts.

use super::frame::{FrameError, Reader};

pub const SSL_REQUEST: i32 = 80_877_103;
pub const GSSENC_REQUEST: i32 = 80_877_104;
pub const CANCEL_REQUEST: i32 = 80_877_102;
pub const PROTOCOL_3_0: i32 = 196_608;
/// PostgreSQL's own limit for a startup packet.
pub const MAX_STARTUP_LEN: usize = 10_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartupPacket {
    SslRequest,
    GssEncRequest,
    Cancel { pid: i32, secret: i32 },
    Startup(Startup),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Startup {
    /// Requested protocol version (major << 16 | minor).
    pub version: i32,
    pub params: Vec<(String, String)>,
}

impl Startup {
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Validates a startup packet's 4-byte length prefix.
pub fn packet_len(prefix: [u8; 4]) -> Result<usize, FrameError> {
    let len = u32::from_be_bytes(prefix);
    if len < 8 {
        return Err(FrameError::InvalidLength(len));
    }
    if len as usize > MAX_STARTUP_LEN {
        return Err(FrameError::TooLarge {
            len: len as usize,
            max: MAX_STARTUP_LEN,
        });
    }
    Ok(len as usize)
}

/// Decodes the body of a startup packet (everything after the length).
pub fn decode(body: &[u8]) -> Result<StartupPacket, FrameError> {
    let mut r = Reader::new(body, "startup");
    let code = r.i32()?;
    match code {
        SSL_REQUEST if r.is_empty() => Ok(StartupPacket::SslRequest),
        GSSENC_REQUEST if r.is_empty() => Ok(StartupPacket::GssEncRequest),
        CANCEL_REQUEST => {
            let pid = r.i32()?;
            let secret = r.i32()?;
            if !r.is_empty() {
                return Err(FrameError::Malformed("cancel request"));
            }
            Ok(StartupPacket::Cancel { pid, secret })
        }
        v if v >> 16 == 3 => {
            let mut params = Vec::new();
            loop {
                let key = r.cstr()?;
                if key.is_empty() {
                    break;
                }
                let value = r.cstr()?;
                let key = utf8(key)?;
                let value = utf8(value)?;
                params.push((key, value));
            }
            if !r.is_empty() {
                return Err(FrameError::Malformed("startup"));
            }
            Ok(StartupPacket::Startup(Startup { version: v, params }))
        }
        _ => Err(FrameError::Malformed(
            "startup (unsupported protocol version)",
        )),
    }
}

fn utf8(b: &[u8]) -> Result<String, FrameError> {
    String::from_utf8(b.to_vec()).map_err(|_| FrameError::Malformed("startup (not UTF-8)"))
}

/// Encodes a StartupMessage for protocol 3.0.
pub fn encode_startup(params: &[(&str, &str)]) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&PROTOCOL_3_0.to_be_bytes());
    for (k, v) in params {
        super::frame::put_cstr(&mut body, k.as_bytes());
        super::frame::put_cstr(&mut body, v.as_bytes());
    }
    body.push(0);
    with_len(body)
}

pub fn encode_ssl_request() -> Vec<u8> {
    with_len(SSL_REQUEST.to_be_bytes().to_vec())
}

pub fn encode_cancel(pid: i32, secret: i32) -> Vec<u8> {
    let mut body = CANCEL_REQUEST.to_be_bytes().to_vec();
    body.extend_from_slice(&pid.to_be_bytes());
    body.extend_from_slice(&secret.to_be_bytes());
    with_len(body)
}

fn with_len(body: Vec<u8>) -> Vec<u8> {
    let mut out = ((body.len() + 4) as u32).to_be_bytes().to_vec();
    out.extend_from_slice(&body);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_startup() {
        let pkt = encode_startup(&[("user", "u"), ("database", "d")]);
        let len = packet_len(pkt[..4].try_into().unwrap()).unwrap();
        assert_eq!(len, pkt.len());
        match decode(&pkt[4..]).unwrap() {
            StartupPacket::Startup(s) => {
                assert_eq!(s.param("user"), Some("u"));
                assert_eq!(s.param("database"), Some("d"));
                assert_eq!(s.version, PROTOCOL_3_0);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn recognises_requests_and_rejects_garbage() {
        assert_eq!(
            decode(&encode_ssl_request()[4..]),
            Ok(StartupPacket::SslRequest)
        );
        assert_eq!(
            decode(&encode_cancel(7, 9)[4..]),
            Ok(StartupPacket::Cancel { pid: 7, secret: 9 })
        );
        assert!(
            decode(&[0, 2, 0, 0]).is_err(),
            "protocol 2 is not supported"
        );
        assert!(
            decode(&[0, 3, 0, 0, b'u', 0]).is_err(),
            "unterminated parameter"
        );
        assert!(packet_len(1_000_000_000u32.to_be_bytes()).is_err());
        assert!(packet_len(4u32.to_be_bytes()).is_err());
    }
}
