//! Large results stream through with bounded memory, and a client that
//! stops reading slows the target instead of filling the gateway.

mod common;

use std::time::Duration;

use common::Gateway;
use common::raw::{self, RawConn};

#[test]
fn a_1_gib_result_streams_with_flat_memory() {
    let gw = Gateway::start_with(common::Options {
        log: "info",
        ..Default::default()
    });
    let token = gw.token("demo");
    let mut c = RawConn::connect(gw.port(), "demo", "demo", Some(&token)).unwrap();
    c.query("SELECT 1");
    let before = common::status_kib(gw.pid(), "VmRSS:");

    // 1,048,576 rows of 1 KiB: a little over 1 GiB of DataRow frames.
    c.send(&raw::query_frame(
        "SELECT repeat('x', 1024) FROM generate_series(1, 1048576)",
    ));
    // A client that does not read: the target must be held back, not buffered.
    std::thread::sleep(Duration::from_secs(2));
    let stalled = common::status_kib(gw.pid(), "VmRSS:");

    let mut rows: u64 = 0;
    // Count DataRow frames while draining, without keeping the stream.
    let total = raw::drain_result(&mut c.stream, |_| rows += 1);
    let peak = common::status_kib(gw.pid(), "VmHWM:");
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
