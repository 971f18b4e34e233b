//! Feeds arbitrary bytes to the JWT and JWKS decoders: a presented token
//! or a published key set must never crash the gateway.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    portcullis_core::oidc::exercise_decoders(data);
});
