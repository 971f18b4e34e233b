//! An issuer's signing keys: found by discovery, cached, refreshed when a
//! token names a key we do not know (at most once per refresh interval, so
//! a flood of made-up `kid`s cannot turn the gateway against the provider),
//! and re-read after [`MAX_AGE`] so withdrawn keys stop working.

use std::time::{Duration, Instant};

use serde::Deserialize;

use super::OidcError;
use super::jwk::{Jwk, RawJwks};
use crate::http::{HttpClient, url_is_safe};

/// Keys older than this are re-read on next use.
const MAX_AGE: Duration = Duration::from_secs(3600);

#[derive(Deserialize)]
struct Discovery {
    issuer: String,
    jwks_uri: String,
}

/// What is known of one issuer's keys.
#[derive(Default)]
pub struct IssuerKeys {
    jwks_uri: Option<String>,
    keys: Vec<Jwk>,
    fetched: Option<Instant>,
    last_attempt: Option<Instant>,
}

/// The discovery document's URL for `issuer`.
pub fn discovery_url(issuer: &str) -> String {
    format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    )
}

impl IssuerKeys {
    /// The key for `kid` that fits `alg`, fetching or refreshing as needed.
    pub async fn find(
        &mut self,
        http: &HttpClient,
        issuer: &str,
        kid: Option<&str>,
        alg: &str,
        min_refresh: Duration,
    ) -> Result<Jwk, OidcError> {
        let may_fetch = self.last_attempt.is_none_or(|t| t.elapsed() >= min_refresh);
        let stale = self.fetched.is_none_or(|t| t.elapsed() >= MAX_AGE);
        let mut refreshed = false;
        if stale && may_fetch {
            refreshed = true;
            // On failure, keys we already have stay usable.
            if self.refresh(http, issuer).await.is_err() && self.keys.is_empty() {
                return Err(OidcError::KeysUnavailable);
            }
        }
        if let Some(k) = self.pick(kid, alg) {
            return Ok(k);
        }
        // An unknown key: perhaps the provider rotated. Ask again, but not
        // more often than the issuer's refresh interval.
        if !refreshed && may_fetch {
            self.refresh(http, issuer).await?;
            if let Some(k) = self.pick(kid, alg) {
                return Ok(k);
            }
        }
        if self.fetched.is_none() {
            return Err(OidcError::KeysUnavailable);
        }
        Err(OidcError::UnknownKey)
    }

    fn pick(&self, kid: Option<&str>, alg: &str) -> Option<Jwk> {
        let mut fitting = self.keys.iter().filter(|k| k.fits(alg));
        match kid {
            Some(kid) => fitting.find(|k| k.kid.as_deref() == Some(kid)).cloned(),
            // No kid: usable only if exactly one key could have signed it.
            None => {
                let first = fitting.next()?;
                fitting.next().is_none().then(|| first.clone())
            }
        }
    }

    async fn refresh(&mut self, http: &HttpClient, issuer: &str) -> Result<(), OidcError> {
        // Counted even if it fails, so a provider that is down is not asked
        // on every login.
        self.last_attempt = Some(Instant::now());
        match self.fetch(http, issuer).await {
            Ok(keys) => {
                tracing::info!(%issuer, keys = keys.len(), "fetched the issuer's signing keys");
                self.keys = keys;
                self.fetched = self.last_attempt;
                Ok(())
            }
            Err(e) => {
                tracing::warn!(%issuer, error = %e, "cannot fetch the issuer's signing keys");
                Err(OidcError::KeysUnavailable)
            }
        }
    }

    async fn fetch(&mut self, http: &HttpClient, issuer: &str) -> Result<Vec<Jwk>, String> {
        let uri = match &self.jwks_uri {
            Some(u) => u.clone(),
            None => {
                let d: Discovery = http
                    .get_json(&discovery_url(issuer))
                    .await
                    .map_err(|e| e.to_string())?;
                if d.issuer != issuer {
                    return Err(format!(
                        "discovery names issuer {:?}, configured {issuer:?}",
                        d.issuer
                    ));
                }
                if !url_is_safe(&d.jwks_uri) {
                    return Err(format!("jwks_uri {:?} is not https", d.jwks_uri));
                }
                self.jwks_uri = Some(d.jwks_uri.clone());
                d.jwks_uri
            }
        };
        let set: RawJwks = http.get_json(&uri).await.map_err(|e| e.to_string())?;
        Ok(Jwk::parse_set(set))
    }
}
