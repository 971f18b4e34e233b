//! Bearer tokens: an agent presents only its token (env var on stdio,
//! `Authorization: Bearer` on HTTP), not an identity name; the token's own
//! record names the identity it belongs to.

use std::net::IpAddr;

use portcullis_core::auth::{AuthError, Principal};
use portcullis_core::gateway::Gateway;
use portcullis_core::token;

/// Authenticates a bearer token from `client`, with the same checks, rate
/// limit on failures and vague failure as the PostgreSQL path.
pub async fn authenticate_bearer(
    gateway: &Gateway,
    client: IpAddr,
    presented: &str,
) -> Result<Principal, AuthError> {
    let owner = match token::id_of(presented) {
        Some(id) => {
            let store = gateway.store().clone();
            let id = id.to_string();
            match tokio::task::spawn_blocking(move || store.token(&id)).await {
                Ok(Ok(record)) => record.map(|r| r.identity),
                Ok(Err(e)) => return Err(AuthError::Unavailable(e)),
                Err(_) => {
                    return Err(AuthError::Invalid {
                        why: "authentication task failed",
                    });
                }
            }
        }
        None => None,
    };
    // An unknown or malformed token still goes through the full check (and
    // its timing), under an identity no token can belong to.
    gateway
        .authenticate_from(client, owner.as_deref().unwrap_or(""), presented)
        .await
}
