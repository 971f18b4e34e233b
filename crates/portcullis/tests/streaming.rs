//! Large results stream through with bounded memory, and a client that
//! stops reading slows the target instead of filling the gateway.

mod common;

use std::io::Read;
use std::time::Duration;

use common::Gateway;
use common::raw::{self, RawConn};

fn status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap()
}

#[test]
fn a_1_gib_result_streams_with_flat_memory() {
    let gw = Gateway::start_with(common::Options {
        log: "info",
        ..Default::default()
    });
    let token = gw.token("demo");
    let mut c = RawConn::connect(gw.port(), "demo", "demo", Some(&token)).unwrap();
    c.query("SELECT 1");
    let before = status_kib(gw.pid(), "VmRSS:");

    // 1,048,576 rows of 1 KiB: a little over 1 GiB of DataRow frames.
    c.send(&raw::query_frame(
        "SELECT repeat('x', 1024) FROM generate_series(1, 1048576)",
    ));
    // A client that does not read: the target must be held back, not buffered.
    std::thread::sleep(Duration::from_secs(2));
    let stalled = status_kib(gw.pid(), "VmRSS:");

    let mut total: u64 = 0;
    let mut rows: u64 = 0;
    let mut buf = vec![0u8; 1 << 20];
    let mut tail: Vec<u8> = Vec::new();
    // Count DataRow frames while draining, without keeping the stream.
    loop {
        let n = c.stream.read(&mut buf).unwrap();
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
                rows += 1;
            }
            at += len + 1;
        }
        let done = at >= 6 && tail[..at].ends_with(&[b'Z', 0, 0, 0, 5, b'I']);
        tail.drain(..at);
        if done && tail.is_empty() {
            break;
        }
    }
    let peak = status_kib(gw.pid(), "VmHWM:");
    assert_eq!(rows, 1_048_576);
    assert!(total > 1 << 30, "streamed {total} bytes");
    eprintln!(
        "RSS before {before} KiB, while stalled {stalled} KiB, peak {peak} KiB over {total} bytes"
    );
    assert!(
        stalled < before + 16 * 1024,
        "a stalled client made the gateway buffer: {before} -> {stalled} KiB"
    );
    assert!(
        peak < before + 32 * 1024,
        "memory grew while streaming: {before} -> {peak} KiB"
    );
    // The session is still in step.
    let reply = c.query("SELECT 'after'");
    assert!(
        reply
            .iter()
            .any(|(t, b)| *t == b'D' && b.ends_with(b"after"))
    );
}
