//! One decoder exercise for what an OIDC client or provider can send us,
//! shared by the fuzz target `jwt` and the property tests: a presented
//! token (split, base64url, JSON header and claims, claim checks) and a
//! published key set. None of it may panic, whatever the bytes.

use std::time::Duration;

use super::jwk::{Jwk, RawJwks};
use super::jwt;
use crate::config::OidcIssuer;

pub fn exercise_decoders(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let _ = jwt::looks_like_jwt(&text);
    if let Ok(parsed) = jwt::parse(&text) {
        let issuer = OidcIssuer {
            issuer: "https://idp.example".into(),
            audiences: vec!["portcullis".into()],
            groups_claim: "groups".into(),
            identity_claim: "sub".into(),
            algorithms: vec!["RS256".into(), "ES256".into(), "EdDSA".into()],
            clock_skew: Duration::from_secs(30),
            jwks_refresh_interval: Duration::from_secs(60),
            client_id: "portcullis".into(),
            scopes: Vec::new(),
        };
        let _ = jwt::check_claims(&parsed.claims, &issuer, 1_800_000_000);
        let _ = jwt::groups(&parsed.claims, "groups");
        // Any key the same bytes describe, tried against the token.
        if let Ok(raw) = serde_json::from_slice::<RawJwks>(data) {
            for key in Jwk::parse_set(raw) {
                let _ = key.verify(
                    &parsed.header.alg,
                    parsed.signed.as_bytes(),
                    &parsed.signature,
                );
            }
        }
    }
    if let Ok(raw) = serde_json::from_slice::<RawJwks>(data) {
        for key in Jwk::parse_set(raw) {
            for alg in ["RS256", "PS256", "ES256", "ES384", "EdDSA", "HS256", "none"] {
                let _ = key.verify(alg, data, data);
            }
        }
    }
}
