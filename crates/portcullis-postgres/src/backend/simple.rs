//! The gateway's own simple-protocol queries on a connection it opened
//! itself (never a client's): used to ask the planner, not to run client SQL.

use bytes::BytesMut;
use thiserror::Error;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::protocol::backend as b;
use crate::protocol::frame::{self, FrameError, HEADER_LEN, Reader, put_cstr, write_frame};
use crate::protocol::frontend as f;
use crate::stream::Stream;

/// Replies larger than this are refused: these queries return a few rows.
const MAX_REPLY: usize = 4 * 1024 * 1024;

#[derive(Debug, Error)]
pub enum SimpleError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("malformed reply: {0}")]
    Frame(#[from] FrameError),
    #[error("{code}: {message}")]
    Server { code: String, message: String },
}

/// Rows of text columns (`None` for NULL).
pub type Rows = Vec<Vec<Option<String>>>;

/// Runs one simple Query and returns its rows; an ErrorResponse is an error.
pub async fn query(stream: &mut Stream, sql: &str) -> Result<Rows, SimpleError> {
    let mut out = Vec::with_capacity(sql.len() + 8);
    write_frame(&mut out, f::QUERY, |body| put_cstr(body, sql.as_bytes()));
    stream.write_all(&out).await?;
    stream.flush().await?;
    let mut buf = BytesMut::with_capacity(8 * 1024);
    let mut rows = Vec::new();
    let mut error = None;
    loop {
        let Some(h) = frame::header(&buf, MAX_REPLY)? else {
            read_more(stream, &mut buf).await?;
            continue;
        };
        if buf.len() < h.frame_len {
            read_more(stream, &mut buf).await?;
            continue;
        }
        let frame = buf.split_to(h.frame_len);
        let body = &frame[HEADER_LEN..];
        match h.tag {
            b::DATA_ROW => rows.push(data_row(body)?),
            b::ERROR_RESPONSE => {
                let e = b::error_fields(body)?;
                error.get_or_insert(SimpleError::Server {
                    code: e.code,
                    message: e.message,
                });
            }
            b::READY_FOR_QUERY => {
                return match error {
                    Some(e) => Err(e),
                    None => Ok(rows),
                };
            }
            _ => {}
        }
    }
}

/// Ends the connection politely.
pub async fn terminate(stream: &mut Stream) {
    let mut out = Vec::new();
    write_frame(&mut out, f::TERMINATE, |_| {});
    let _ = stream.write_all(&out).await;
    let _ = stream.shutdown().await;
}

async fn read_more(stream: &mut Stream, buf: &mut BytesMut) -> Result<(), SimpleError> {
    buf.reserve(8 * 1024);
    if stream.read_buf(buf).await? == 0 {
        return Err(SimpleError::Io(std::io::ErrorKind::UnexpectedEof.into()));
    }
    Ok(())
}

fn data_row(body: &[u8]) -> Result<Vec<Option<String>>, FrameError> {
    let mut r = Reader::new(body, "DataRow");
    let n = r.i16()?;
    let mut row = Vec::with_capacity(n.max(0) as usize);
    for _ in 0..n {
        let len = r.i32()?;
        row.push(if len < 0 {
            None
        } else {
            Some(String::from_utf8_lossy(r.bytes(len as usize)?).into_owned())
        });
    }
    Ok(row)
}
