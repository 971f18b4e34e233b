//! Feeds arbitrary bytes to the frontend decoders: the startup packet
//! decoder, frame headers, and every message the statement tracker decodes.
//! None of them may panic, whatever a client sends.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis_postgres::protocol::{frame, startup};
use portcullis_postgres::tracker::Tracker;

fuzz_target!(|data: &[u8]| {
    if data.len() >= 4 {
        let prefix = [data[0], data[1], data[2], data[3]];
        if let Ok(n) = startup::packet_len(prefix) {
            let end = n.min(data.len());
            let _ = startup::decode(&data[4..end]);
        }
    }
    let mut tracker = Tracker::new("fuzz".into());
    let mut rest = data;
    while let Ok(Some(h)) = frame::header(rest, 1 << 20) {
        if rest.len() < h.frame_len {
            break;
        }
        let body = &rest[frame::HEADER_LEN..h.frame_len];
        let _ = tracker.frontend(h.tag, body);
        // The same bytes as if the server had sent them.
        tracker.backend(h.tag, body);
        rest = &rest[h.frame_len..];
    }
    let _ = tracker.interrupt_all();
});
