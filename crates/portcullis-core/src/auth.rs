//! Authentication: turns presented credentials into a [`Principal`].
//!
//! Every failure looks the same to the client ([`AuthError::Invalid`]), so
//! an attacker cannot learn whether an identity or a token id exists.

use std::sync::Arc;

use thiserror::Error;

use crate::config::Config;
use crate::oidc::VerifiedToken;
use crate::store::{Store, StoreError};
use crate::time::now_micros;
use crate::token;

/// Who is connecting, as established by authentication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub identity: String,
    pub groups: Vec<String>,
    /// `token:<id>` or `oidc:<issuer>`; never the secret.
    pub method: String,
    /// When the credential stops being valid (µs); a live session ends then.
    pub expires_at: Option<i64>,
}

#[derive(Debug, Error)]
pub enum AuthError {
    /// Wrong, unknown, revoked or expired credentials: deliberately vague.
    #[error("authentication failed")]
    Invalid { why: &'static str },
    #[error("authentication is unavailable: {0}")]
    Unavailable(#[from] StoreError),
}

/// Checks a service-account token presented on its own (a bearer token):
/// the identity is the token's.
pub fn authenticate_bearer_token(
    config: &Config,
    store: &Arc<dyn Store>,
    presented: &str,
) -> Result<Principal, AuthError> {
    let identity = token::id_of(presented)
        .map(|id| store.token(id))
        .transpose()?
        .flatten()
        .map(|record| record.identity);
    // Unknown ids go through the same checks (and hashing work) and fail there.
    authenticate_token(config, store, identity.as_deref().unwrap_or(""), presented)
}

/// The principal of a verified JWT: its identity claim, the groups of its
/// groups claim plus those of a declared `[[identity]]` of the same name.
/// `method` names the issuer, so the access watcher knows it is no stored token.
pub fn jwt_principal(config: &Config, token: VerifiedToken) -> Principal {
    let mut groups = token.groups;
    if let Some(declared) = config.identity(&token.identity) {
        for g in &declared.groups {
            if !groups.contains(g) {
                groups.push(g.clone());
            }
        }
    }
    Principal {
        identity: token.identity,
        groups,
        method: format!("{OIDC_METHOD_PREFIX}{}", token.issuer),
        expires_at: Some(token.valid_until.saturating_mul(1_000_000)),
    }
}

/// `Principal::method` of a JWT-authenticated principal starts with this.
pub const OIDC_METHOD_PREFIX: &str = "oidc:";

/// Checks a service-account token presented as the password of `user`.
pub fn authenticate_token(
    config: &Config,
    store: &Arc<dyn Store>,
    user: &str,
    presented: &str,
) -> Result<Principal, AuthError> {
    let invalid = |why| AuthError::Invalid { why };
    let Some(id) = token::id_of(presented) else {
        // Spend the same hashing work as a real check.
        let _ = token::matches(&token::hash(""), presented);
        return Err(invalid("malformed token"));
    };
    let record = store.token(id)?;
    let Some(record) = record else {
        let _ = token::matches(&token::hash(""), presented);
        return Err(invalid("unknown token"));
    };
    if !token::matches(&record.hash, presented) {
        return Err(invalid("wrong token secret"));
    }
    if record.identity != user {
        return Err(invalid("token belongs to another identity"));
    }
    let now = now_micros();
    if record.revoked_at.is_some() {
        return Err(invalid("token revoked"));
    }
    if record.expires_at.is_some_and(|e| e <= now) {
        return Err(invalid("token expired"));
    }
    let Some(identity) = config.identity(user) else {
        return Err(invalid("identity no longer declared"));
    };
    if let Err(e) = store.touch_token(&record.id, now) {
        tracing::warn!(error = %e, "could not update token last-used time");
    }
    let mut groups = identity.groups.clone();
    for g in record.groups {
        if !groups.contains(&g) {
            groups.push(g);
        }
    }
    Ok(Principal {
        identity: identity.name.clone(),
        groups,
        method: format!("token:{}", record.id),
        expires_at: record.expires_at,
    })
}
