//! Property tests for the JWT and JWKS decoders (the same body as the fuzz
//! target `jwt`, so CI exercises it on every run).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use portcullis_core::oidc::exercise_decoders;
use proptest::prelude::*;

/// JSON objects with the claim and header names the decoders look at, and
/// values of every JSON type.
fn json_object() -> impl Strategy<Value = String> {
    let key = prop::sample::select(vec![
        "alg", "kid", "crit", "aud", "exp", "nbf", "iss", "sub", "groups", "kty", "crv", "n", "e",
        "x", "y", "use", "keys",
    ]);
    let value = prop_oneof![
        Just("null".to_string()),
        any::<i64>().prop_map(|n| n.to_string()),
        any::<f64>().prop_map(|f| if f.is_finite() {
            f.to_string()
        } else {
            "1e999".into()
        }),
        "[ -~&&[^\"\\\\]]{0,24}".prop_map(|s| format!("\"{s}\"")),
        prop::collection::vec("[a-zA-Z0-9_-]{0,12}", 0..4).prop_map(|v| {
            let items: Vec<String> = v.iter().map(|s| format!("\"{s}\"")).collect();
            format!("[{}]", items.join(","))
        }),
        Just(
            r#"[{"kty":"EC","crv":"P-256","x":"AA","y":"AA"},{"kty":"RSA","n":"AQAB","e":"AQAB"}]"#
                .to_string()
        ),
    ];
    prop::collection::vec((key, value), 0..8).prop_map(|kv| {
        let body: Vec<String> = kv.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
        format!("{{{}}}", body.join(","))
    })
}

fn token() -> impl Strategy<Value = String> {
    (
        json_object(),
        json_object(),
        prop::collection::vec(any::<u8>(), 0..80),
    )
        .prop_map(|(h, c, sig)| {
            format!(
                "{}.{}.{}",
                URL_SAFE_NO_PAD.encode(h),
                URL_SAFE_NO_PAD.encode(c),
                URL_SAFE_NO_PAD.encode(sig)
            )
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn jwt_decoders_never_panic_on_random_bytes(data in prop::collection::vec(any::<u8>(), 0..512)) {
        exercise_decoders(&data);
    }

    #[test]
    fn jwt_decoders_never_panic_on_well_formed_tokens(t in token()) {
        exercise_decoders(t.as_bytes());
    }

    #[test]
    fn jwks_decoder_never_panics_on_key_sets(set in json_object()) {
        exercise_decoders(set.as_bytes());
    }
}
