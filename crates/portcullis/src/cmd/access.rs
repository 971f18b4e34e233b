//! Keeps live sessions within their access: a revoked or expired token, a
//! grant removed by a reload, or a kill request ends them at once.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use portcullis_core::access;
use portcullis_core::auth::{OIDC_METHOD_PREFIX, Principal};
use portcullis_core::gateway::Gateway;
use portcullis_core::live::{LiveInfo, Termination};
use portcullis_core::record::audit::AuditEntry;
use portcullis_core::time::now_micros;
use portcullis_core::token::TokenRecord;

/// How often the store is checked for revocations and kill requests.
const POLL: Duration = Duration::from_millis(200);

fn token_id(p: &Principal) -> Option<&str> {
    p.method.strip_prefix("token:")
}

/// Polls the store and ends sessions whose token was revoked or expired,
/// or that an administrator asked to kill.
pub async fn watch(gateway: Arc<Gateway>) {
    loop {
        tokio::time::sleep(POLL).await;
        let live = gateway.live().snapshot();
        let store = gateway.store().clone();
        let check_tokens = !live.is_empty();
        let fetched = tokio::task::spawn_blocking(move || {
            let kills = store.take_kill_requests()?;
            let tokens = if check_tokens {
                store.tokens()?
            } else {
                Vec::new()
            };
            Ok::<_, portcullis_core::store::StoreError>((kills, tokens))
        })
        .await;
        let (kills, tokens) = match fetched {
            Ok(Ok(v)) => v,
            Ok(Err(e)) => {
                tracing::error!(error = %e, "cannot check for revocations");
                continue;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot check for revocations");
                continue;
            }
        };
        for id in kills {
            if gateway.live().terminate(&id, Termination::Killed) {
                tracing::warn!(session = %id, "session killed by an administrator");
            }
        }
        let tokens: HashMap<&str, &TokenRecord> =
            tokens.iter().map(|t| (t.id.as_str(), t)).collect();
        let now = now_micros();
        for s in &live {
            let revoked = match token_id(&s.principal) {
                Some(id) => tokens.get(id).is_none_or(|t| {
                    t.revoked_at.is_some() || t.expires_at.is_some_and(|e| e <= now)
                }),
                None => s.principal.expires_at.is_some_and(|e| e <= now),
            };
            if revoked {
                let why = if s.principal.method.starts_with(OIDC_METHOD_PREFIX) {
                    "JWT expired"
                } else {
                    "token revoked or expired"
                };
                end(&gateway, s, why).await;
            }
        }
    }
}

/// After a reload: ends sessions whose identity or grant is gone.
pub async fn reauthorize(gateway: &Arc<Gateway>) {
    let config = gateway.config();
    for s in gateway.live().snapshot() {
        let token_groups = match token_id(&s.principal) {
            Some(id) => {
                let store = gateway.store().clone();
                let id = id.to_string();
                match tokio::task::spawn_blocking(move || store.token(&id)).await {
                    Ok(Ok(Some(t))) => t.groups,
                    _ => Vec::new(),
                }
            }
            None => Vec::new(),
        };
        // A JWT's groups came with the token (and its declared identity's,
        // merged at login); its issuer must still be configured.
        let oidc_issuer = s.principal.method.strip_prefix(OIDC_METHOD_PREFIX);
        let allowed = if let Some(issuer) = oidc_issuer {
            config.oidc_issuer(issuer).is_some()
                && access::authorize(&config, &s.principal, &s.connection).is_ok()
        } else {
            config
                .identity(&s.principal.identity)
                .is_some_and(|identity| {
                    let mut groups = identity.groups.clone();
                    groups.extend(token_groups);
                    let principal = Principal {
                        groups,
                        ..s.principal.clone()
                    };
                    access::authorize(&config, &principal, &s.connection).is_ok()
                })
        };
        if !allowed {
            end(gateway, &s, "grant removed by a configuration reload").await;
        }
    }
}

async fn end(gateway: &Arc<Gateway>, s: &LiveInfo, why: &str) {
    if gateway.live().terminate(&s.id, Termination::Revoked) {
        tracing::warn!(session = %s.id, identity = %s.principal.identity, reason = why, "ending session: access revoked");
        gateway
            .audit(AuditEntry::new(
                "gateway",
                "session.revoked",
                Some(s.id.clone()),
                Some(format!("{}: {why}", s.principal.identity)),
            ))
            .await;
    }
}
