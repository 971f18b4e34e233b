//! Feeds arbitrary frames, in both directions, to the masker and the
//! backend decoders: a hostile or broken target must not crash the gateway.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    portcullis_postgres::mask::exercise_masker(data);
});
