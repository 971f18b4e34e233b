//! OIDC: JWTs from the configured identity providers, verified against
//! each issuer's published keys.
//!
//! What is checked, in order: the token's shape and size; `alg` is one the
//! issuer allows (asymmetric only, so never `none` and never HMAC, whatever
//! the token says); `iss` names a configured issuer, exactly; the key named
//! by `kid` is in the issuer's key set and its type fits `alg`; the
//! signature; `aud`, `exp` and `nbf` with the issuer's clock skew; the
//! identity claim is a non-empty string.

mod exercise;
mod jwk;
mod jwt;
mod keys;

use std::collections::HashMap;
use std::sync::Arc;

use thiserror::Error;
use tokio::sync::Mutex;

use crate::config::OidcIssuer;
use crate::http::HttpClient;

pub use exercise::exercise_decoders;
pub use jwt::{MAX_TOKEN_BYTES, looks_like_jwt};
pub use keys::discovery_url;

/// Why a JWT was refused. Clients never see it (they get the same answer
/// as for any bad credential); the log and the audit log do.
#[derive(Debug, Error, Clone, Copy, PartialEq, Eq)]
pub enum OidcError {
    #[error("malformed JWT")]
    Malformed,
    #[error("JWT algorithm not allowed")]
    AlgorithmNotAllowed,
    #[error("JWT has unsupported critical header parameters")]
    CriticalHeader,
    #[error("JWT issuer is not configured")]
    UnknownIssuer,
    #[error("JWT signing key is not in the issuer's key set")]
    UnknownKey,
    #[error("issuer's signing keys are unavailable")]
    KeysUnavailable,
    #[error("JWT signature is invalid")]
    BadSignature,
    #[error("JWT audience does not match")]
    WrongAudience,
    #[error("JWT has no expiry")]
    NoExpiry,
    #[error("JWT expired")]
    Expired,
    #[error("JWT not yet valid")]
    NotYetValid,
    #[error("JWT lacks the identity claim")]
    NoIdentity,
}

impl OidcError {
    /// The reason as a static string, for `AuthError::Invalid`.
    pub fn reason(self) -> &'static str {
        match self {
            OidcError::Malformed => "malformed JWT",
            OidcError::AlgorithmNotAllowed => "JWT algorithm not allowed",
            OidcError::CriticalHeader => "JWT has unsupported critical header parameters",
            OidcError::UnknownIssuer => "JWT issuer is not configured",
            OidcError::UnknownKey => "JWT signing key is not in the issuer's key set",
            OidcError::KeysUnavailable => "issuer's signing keys are unavailable",
            OidcError::BadSignature => "JWT signature is invalid",
            OidcError::WrongAudience => "JWT audience does not match",
            OidcError::NoExpiry => "JWT has no expiry",
            OidcError::Expired => "JWT expired",
            OidcError::NotYetValid => "JWT not yet valid",
            OidcError::NoIdentity => "JWT lacks the identity claim",
        }
    }
}

/// A JWT that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedToken {
    pub issuer: String,
    /// The value of the issuer's identity claim.
    pub identity: String,
    /// The groups in the issuer's groups claim.
    pub groups: Vec<String>,
    /// `exp` plus the clock skew, in seconds since the epoch: the moment
    /// the token stops being accepted, and a session on it ends.
    pub valid_until: i64,
}

/// Verifies JWTs; keeps each issuer's keys across calls and reloads.
pub struct OidcVerifier {
    http: HttpClient,
    issuers: Mutex<HashMap<String, Arc<Mutex<keys::IssuerKeys>>>>,
}

impl OidcVerifier {
    pub fn new(http: HttpClient) -> Self {
        OidcVerifier {
            http,
            issuers: Mutex::new(HashMap::new()),
        }
    }

    /// Verifies `token` against the configured `issuers` at `now` (seconds).
    pub async fn verify(
        &self,
        issuers: &[OidcIssuer],
        token: &str,
        now: i64,
    ) -> Result<VerifiedToken, OidcError> {
        let parsed = jwt::parse(token)?;
        let alg = parsed.header.alg.as_str();
        if !crate::config::ASYMMETRIC_ALGORITHMS.contains(&alg) {
            return Err(OidcError::AlgorithmNotAllowed);
        }
        if parsed.header.crit.is_some() {
            return Err(OidcError::CriticalHeader);
        }
        let iss = parsed
            .claims
            .get("iss")
            .and_then(|v| v.as_str())
            .ok_or(OidcError::UnknownIssuer)?;
        let issuer = issuers
            .iter()
            .find(|i| i.issuer == iss)
            .ok_or(OidcError::UnknownIssuer)?;
        if !issuer.algorithms.iter().any(|a| a == alg) {
            return Err(OidcError::AlgorithmNotAllowed);
        }
        let slot = {
            let mut map = self.issuers.lock().await;
            map.entry(issuer.issuer.clone()).or_default().clone()
        };
        let key = slot
            .lock()
            .await
            .find(
                &self.http,
                &issuer.issuer,
                parsed.header.kid.as_deref(),
                alg,
                issuer.jwks_refresh_interval,
            )
            .await?;
        if !key.verify(alg, parsed.signed.as_bytes(), &parsed.signature) {
            return Err(OidcError::BadSignature);
        }
        let exp = jwt::check_claims(&parsed.claims, issuer, now)?;
        let identity = parsed
            .claims
            .get(&issuer.identity_claim)
            .and_then(|v| v.as_str())
            .filter(|s| !s.is_empty())
            .ok_or(OidcError::NoIdentity)?;
        let skew = i64::try_from(issuer.clock_skew.as_secs()).unwrap_or(0);
        Ok(VerifiedToken {
            issuer: issuer.issuer.clone(),
            identity: identity.to_string(),
            groups: jwt::groups(&parsed.claims, &issuer.groups_claim),
            valid_until: exp.saturating_add(skew),
        })
    }
}

/// Reads a claim of a token without verifying it: for the CLI, to show
/// the user what it stored. Never use the result for an access decision.
pub fn unverified_claim(token: &str, claim: &str) -> Option<serde_json::Value> {
    jwt::parse(token).ok()?.claims.get(claim).cloned()
}
