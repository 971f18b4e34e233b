//! A minimal PostgreSQL wire client over a blocking socket, for comparing
//! exact bytes and for sending frames no real driver would send.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

pub type Message = (u8, Vec<u8>);

pub struct RawConn {
    pub stream: TcpStream,
    pub startup: Vec<Message>,
}

pub fn startup_packet(params: &[(&str, &str)]) -> Vec<u8> {
    let mut body = 196_608i32.to_be_bytes().to_vec();
    for (k, v) in params {
        body.extend_from_slice(k.as_bytes());
        body.push(0);
        body.extend_from_slice(v.as_bytes());
        body.push(0);
    }
    body.push(0);
    let mut out = ((body.len() + 4) as u32).to_be_bytes().to_vec();
    out.extend_from_slice(&body);
    out
}

pub fn frame(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    out.extend_from_slice(&((body.len() + 4) as u32).to_be_bytes());
    out.extend_from_slice(body);
    out
}

pub fn query_frame(sql: &str) -> Vec<u8> {
    let mut body = sql.as_bytes().to_vec();
    body.push(0);
    frame(b'Q', &body)
}

/// Reads one message; `None` at end of stream.
pub fn read_message(s: &mut TcpStream) -> Option<Message> {
    let mut header = [0u8; 5];
    s.read_exact(&mut header).ok()?;
    let len = u32::from_be_bytes([header[1], header[2], header[3], header[4]]) as usize;
    let mut body = vec![0u8; len - 4];
    s.read_exact(&mut body).ok()?;
    Some((header[0], body))
}

/// The `M` (message) and `C` (code) fields of an ErrorResponse body.
pub fn error_fields(body: &[u8]) -> (String, String) {
    let mut code = String::new();
    let mut message = String::new();
    for field in body.split(|&b| b == 0) {
        if let Some((&k, v)) = field.split_first() {
            match k {
                b'C' => code = String::from_utf8_lossy(v).into(),
                b'M' => message = String::from_utf8_lossy(v).into(),
                _ => {}
            }
        }
    }
    (code, message)
}

impl RawConn {
    /// Connects and authenticates (trust, or cleartext with `password`).
    pub fn connect(
        port: u16,
        user: &str,
        database: &str,
        password: Option<&str>,
    ) -> Result<RawConn, (String, String)> {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("tcp connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        stream
            .write_all(&startup_packet(&[
                ("user", user),
                ("database", database),
                ("client_encoding", "UTF8"),
            ]))
            .unwrap();
        let mut startup = Vec::new();
        loop {
            let (tag, body) = read_message(&mut stream).expect("startup reply");
            match tag {
                b'R' => {
                    let code = i32::from_be_bytes([body[0], body[1], body[2], body[3]]);
                    match code {
                        0 => {}
                        3 => {
                            let mut p = password.expect("password requested").as_bytes().to_vec();
                            p.push(0);
                            stream.write_all(&frame(b'p', &p)).unwrap();
                        }
                        other => panic!("unsupported auth {other}"),
                    }
                }
                b'E' => return Err(error_fields(&body)),
                b'Z' => break,
                _ => startup.push((tag, body)),
            }
        }
        Ok(RawConn { stream, startup })
    }

    /// Sends a simple Query and returns every message up to and including ReadyForQuery.
    pub fn query(&mut self, sql: &str) -> Vec<Message> {
        self.stream.write_all(&query_frame(sql)).unwrap();
        self.until_ready()
    }

    pub fn until_ready(&mut self) -> Vec<Message> {
        let mut out = Vec::new();
        loop {
            let m = read_message(&mut self.stream).expect("reply");
            let done = m.0 == b'Z';
            out.push(m);
            if done {
                return out;
            }
        }
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).unwrap();
    }
}

/// Reads a result to its ReadyForQuery without keeping it, handing each
/// DataRow frame (tag and length included) to `on_row`; the bytes read.
pub fn drain_result(stream: &mut TcpStream, mut on_row: impl FnMut(&[u8])) -> u64 {
    let mut total: u64 = 0;
    let mut buf = vec![0u8; 1 << 20];
    let mut tail: Vec<u8> = Vec::new();
    loop {
        let n = stream.read(&mut buf).unwrap();
        assert!(n > 0, "connection closed early");
        total += n as u64;
        tail.extend_from_slice(&buf[..n]);
        let mut at = 0;
        while tail.len() - at >= 5 {
            let len = u32::from_be_bytes([tail[at + 1], tail[at + 2], tail[at + 3], tail[at + 4]])
                as usize;
            if tail.len() - at < len + 1 {
                break;
            }
            if tail[at] == b'D' {
                on_row(&tail[at..at + len + 1]);
            }
            at += len + 1;
        }
        let done = at >= 6 && tail[..at].ends_with(&[b'Z', 0, 0, 0, 5, b'I']);
        tail.drain(..at);
        if done && tail.is_empty() {
            return total;
        }
    }
}
