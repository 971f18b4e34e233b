//! Feeds arbitrary bytes to the frontend decoders: the startup packet
//! decoder, frame headers, and every message the statement tracker decodes.
//! None of them may panic, whatever a client sends.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    portcullis_postgres::protocol::exercise_decoders(data);
});
