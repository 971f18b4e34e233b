//! The PostgreSQL v3 wire protocol: just enough decoding for the pipeline
//! and encoders for the messages the gateway itself sends.
//!
//! Frames are relayed as bytes; these functions look inside only the
//! messages the gateway must understand.

pub mod backend;
pub mod frame;
pub mod frontend;
pub mod sqlstate;
pub mod startup;

pub use frame::{FrameError, HEADER_LEN, Header};

/// Runs every decoder over arbitrary bytes as if a client (and then a
/// server) had sent them: the body of the fuzz target and the property
/// tests, which both require that nothing panics.
pub fn exercise_decoders(data: &[u8]) {
    if data.len() >= 4
        && let Ok(n) = startup::packet_len([data[0], data[1], data[2], data[3]])
    {
        let _ = startup::decode(&data[4..n.min(data.len())]);
    }
    let mut tracker = crate::tracker::Tracker::new("exercise".into());
    let mut rest = data;
    while let Ok(Some(h)) = frame::header(rest, 1 << 20) {
        if rest.len() < h.frame_len {
            break;
        }
        let body = &rest[HEADER_LEN..h.frame_len];
        if h.tag == frontend::BIND {
            let _ = frontend::bind_params(body);
        }
        let _ = tracker.frontend(h.tag, body);
        let _ = tracker.backend(h.tag, body);
        rest = &rest[h.frame_len..];
    }
    let _ = tracker.interrupt_all();
}
