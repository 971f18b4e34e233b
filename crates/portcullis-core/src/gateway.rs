//! The state every adapter shares: configuration, store and recorder.

use std::sync::{Arc, RwLock};

use crate::access::{self, Access, AccessError};
use crate::auth::{self, AuthError, Principal};
use crate::config::Config;
use crate::http::HttpClient;
use crate::live::LiveSessions;
use crate::oidc::{self, OidcVerifier};
use crate::ratelimit::FailureLimiter;
use crate::record::Recorder;
use crate::record::audit::AuditEntry;
use crate::review::ReviewService;
use crate::store::Store;

/// Shared by every session; cheap to reach through an `Arc`.
pub struct Gateway {
    config: RwLock<Arc<Config>>,
    store: Arc<dyn Store>,
    recorder: Recorder,
    live: Arc<LiveSessions>,
    failures: FailureLimiter,
    /// `None` if no HTTP client could be built: JWTs are then refused.
    oidc: Option<OidcVerifier>,
    http: Option<HttpClient>,
    reviews: Arc<ReviewService>,
}

/// Failed authentications allowed per client address and window.
const MAX_FAILURES: u32 = 10;
const FAILURE_WINDOW: std::time::Duration = std::time::Duration::from_secs(60);
/// Bound on one outbound request (discovery, JWKS, webhooks).
const HTTP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

impl Gateway {
    pub fn new(config: Config, store: Arc<dyn Store>, recorder: Recorder) -> Self {
        let http = HttpClient::new(HTTP_TIMEOUT)
            .inspect_err(
                |e| tracing::error!(error = %e, "no HTTP client: OIDC tokens will be refused"),
            )
            .ok();
        Gateway {
            config: RwLock::new(Arc::new(config)),
            recorder,
            live: Arc::new(LiveSessions::default()),
            failures: FailureLimiter::new(MAX_FAILURES, FAILURE_WINDOW),
            oidc: http.clone().map(OidcVerifier::new),
            http,
            reviews: Arc::new(ReviewService::new(store.clone())),
            store,
        }
    }

    /// Sessions running now, for revocation and kills.
    pub fn live(&self) -> &Arc<LiveSessions> {
        &self.live
    }

    /// The configuration in force now (a snapshot; reloads replace it).
    pub fn config(&self) -> Arc<Config> {
        self.config
            .read()
            .map(|c| c.clone())
            .unwrap_or_else(|p| p.into_inner().clone())
    }

    /// Swaps in a new configuration for sessions that start from now on.
    pub fn replace_config(&self, config: Config) {
        let mut slot = self.config.write().unwrap_or_else(|p| p.into_inner());
        *slot = Arc::new(config);
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The shared outbound HTTP client (webhooks, OIDC), if it could be built.
    pub fn http(&self) -> Option<&HttpClient> {
        self.http.as_ref()
    }

    /// Held statements and their approvals.
    pub fn reviews(&self) -> &Arc<ReviewService> {
        &self.reviews
    }

    pub fn recorder(&self) -> &Recorder {
        &self.recorder
    }

    /// Authenticates `user` from `client` with the secret it presented (off
    /// the async runtime's threads). An address that failed too often in the
    /// last minute is refused without a check.
    pub async fn authenticate_from(
        &self,
        client: std::net::IpAddr,
        user: &str,
        secret: &str,
    ) -> Result<Principal, AuthError> {
        if self.failures.is_limited(client) {
            return Err(AuthError::Invalid {
                why: "too many failed attempts from this address",
            });
        }
        let result = self.authenticate(user, secret).await;
        match &result {
            Ok(_) => self.failures.succeeded(client),
            Err(AuthError::Invalid { .. }) => self.failures.failed(client),
            Err(AuthError::Unavailable(_)) => {}
        }
        result
    }

    /// Authenticates a bearer credential (API, MCP): a service-account
    /// token or a JWT; the identity comes from the credential itself.
    /// Rate-limited per address like the PostgreSQL path.
    pub async fn authenticate_bearer(
        &self,
        client: std::net::IpAddr,
        secret: &str,
    ) -> Result<Principal, AuthError> {
        if self.failures.is_limited(client) {
            return Err(AuthError::Invalid {
                why: "too many failed attempts from this address",
            });
        }
        let result = if oidc::looks_like_jwt(secret) {
            self.authenticate_jwt(secret).await
        } else {
            let config = self.config();
            let store = self.store.clone();
            let secret = secret.to_string();
            tokio::task::spawn_blocking(move || {
                auth::authenticate_bearer_token(&config, &store, &secret)
            })
            .await
            .unwrap_or(Err(AuthError::Invalid {
                why: "authentication task failed",
            }))
        };
        match &result {
            Ok(_) => self.failures.succeeded(client),
            Err(AuthError::Invalid { .. }) => self.failures.failed(client),
            Err(AuthError::Unavailable(_)) => {}
        }
        result
    }

    /// Authenticates `user` with the secret it presented: a JWT from a
    /// configured issuer (whose identity claim must equal `user`) or a
    /// service-account token (checked off the async runtime's threads).
    pub async fn authenticate(&self, user: &str, secret: &str) -> Result<Principal, AuthError> {
        if oidc::looks_like_jwt(secret) {
            let principal = self.authenticate_jwt(secret).await?;
            if principal.identity != user {
                return Err(AuthError::Invalid {
                    why: "JWT identity differs from the user name",
                });
            }
            return Ok(principal);
        }
        let config = self.config();
        let store = self.store.clone();
        let user = user.to_string();
        let secret = secret.to_string();
        tokio::task::spawn_blocking(move || {
            auth::authenticate_token(&config, &store, &user, &secret)
        })
        .await
        .unwrap_or(Err(AuthError::Invalid {
            why: "authentication task failed",
        }))
    }

    /// Verifies a JWT against the configured issuers.
    async fn authenticate_jwt(&self, token: &str) -> Result<Principal, AuthError> {
        let config = self.config();
        let Some(verifier) = &self.oidc else {
            return Err(AuthError::Invalid {
                why: "OIDC is unavailable (no HTTP client)",
            });
        };
        let now = crate::time::now_micros() / 1_000_000;
        let verified = verifier
            .verify(&config.oidc, token, now)
            .await
            .map_err(|e| AuthError::Invalid { why: e.reason() })?;
        Ok(auth::jwt_principal(&config, verified))
    }

    /// Writes an audit entry off the async threads; a failure is logged
    /// (the audit log must never fail silently) but does not stop the caller.
    pub async fn audit(&self, entry: AuditEntry) {
        let store = self.store.clone();
        let action = entry.action.clone();
        match tokio::task::spawn_blocking(move || store.audit(&entry)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::error!(error = %e, %action, "could not write the audit log"),
            Err(e) => tracing::error!(error = %e, %action, "could not write the audit log"),
        }
    }

    pub fn authorize(
        &self,
        principal: &Principal,
        connection: &str,
    ) -> Result<Access, AccessError> {
        access::authorize(&self.config(), principal, connection)
    }
}
