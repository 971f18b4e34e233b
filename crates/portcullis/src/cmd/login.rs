//! `portcullis login`: the OAuth 2.0 device authorization grant (RFC 8628)
//! against a configured `[[oidc]]` issuer. The person opens a URL and types
//! a short code wherever they have a browser; the CLI polls the token
//! endpoint, verifies the ID token exactly as the gateway will, and keeps it.

use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use portcullis_core::config::{Config, OidcIssuer};
use portcullis_core::http::{HttpClient, url_is_safe};
use portcullis_core::oidc::{OidcVerifier, discovery_url};
use portcullis_core::time::{format_micros, now_micros};
use serde::Deserialize;

use super::credentials::{self, Stored};
use crate::cli::LoginArgs;

const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
/// RFC 8628 §3.5: the poll interval when the provider names none, and what
/// `slow_down` adds to it.
const DEFAULT_INTERVAL: u64 = 5;
const SLOW_DOWN_STEP: u64 = 5;

#[derive(Deserialize)]
struct Discovery {
    issuer: String,
    token_endpoint: String,
    device_authorization_endpoint: Option<String>,
}

#[derive(Deserialize)]
struct DeviceAuthorization {
    device_code: String,
    user_code: String,
    /// Some providers spell it `verification_url`.
    #[serde(alias = "verification_url")]
    verification_uri: String,
    verification_uri_complete: Option<String>,
    expires_in: u64,
    interval: Option<u64>,
}

#[derive(Deserialize)]
struct TokenResponse {
    id_token: Option<String>,
    refresh_token: Option<String>,
}

#[derive(Deserialize)]
struct OAuthError {
    error: String,
    error_description: Option<String>,
}

/// The provider's endpoints for `issuer`.
pub(super) struct Endpoints {
    pub token: String,
    pub device_authorization: Option<String>,
}

pub(super) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

pub(super) fn http() -> anyhow::Result<HttpClient> {
    Ok(HttpClient::new(Duration::from_secs(15))?)
}

/// The issuer named by `wanted`, else the only or first configured one.
pub(super) fn pick_issuer<'c>(
    config: &'c Config,
    wanted: Option<&str>,
) -> anyhow::Result<&'c OidcIssuer> {
    match wanted {
        Some(w) => config
            .oidc_issuer(w)
            .with_context(|| format!("no [[oidc]] issuer {w:?} in the configuration")),
        None => config
            .oidc
            .first()
            .context("the configuration declares no [[oidc]] issuer"),
    }
}

pub(super) async fn endpoints(http: &HttpClient, issuer: &str) -> anyhow::Result<Endpoints> {
    let d: Discovery = http.get_json(&discovery_url(issuer)).await?;
    if d.issuer != issuer {
        bail!(
            "the provider's discovery names issuer {:?}, not {issuer:?}",
            d.issuer
        );
    }
    for u in std::iter::once(&d.token_endpoint).chain(d.device_authorization_endpoint.iter()) {
        if !url_is_safe(u) {
            bail!("the provider's endpoint {u} is not https");
        }
    }
    Ok(Endpoints {
        token: d.token_endpoint,
        device_authorization: d.device_authorization_endpoint,
    })
}

/// Verifies a fresh token response's ID token as the gateway would and
/// turns it into what is stored.
pub(super) async fn accept(
    http: &HttpClient,
    issuer: &OidcIssuer,
    body: &[u8],
    previous_refresh: Option<String>,
) -> anyhow::Result<Stored> {
    let t: TokenResponse =
        serde_json::from_slice(body).context("the token endpoint sent no JSON")?;
    let id_token = t
        .id_token
        .context("the provider sent no ID token (is `openid` among the scopes?)")?;
    let verifier = OidcVerifier::new(http.clone());
    let v = verifier
        .verify(
            std::slice::from_ref(issuer),
            &id_token,
            now_micros() / 1_000_000,
        )
        .await
        .map_err(|e| anyhow::anyhow!("the provider's ID token does not verify: {e}"))?;
    Ok(Stored {
        client_id: issuer.client_id.clone(),
        id_token,
        refresh_token: t.refresh_token.or(previous_refresh),
        identity: v.identity,
        groups: v.groups,
        valid_until: v.valid_until,
    })
}

pub(super) fn oauth_error(body: &[u8]) -> Option<(String, String)> {
    let e: OAuthError = serde_json::from_slice(body).ok()?;
    Some((e.error, e.error_description.unwrap_or_default()))
}

pub fn run(config_path: &Path, args: LoginArgs) -> anyhow::Result<ExitCode> {
    let config = super::load_config(config_path)?;
    let issuer = pick_issuer(&config, args.issuer.as_deref())?.clone();
    let stored = runtime()?.block_on(device_flow(&issuer))?;
    let mut all = credentials::load()?;
    let (identity, groups, until) = (
        stored.identity.clone(),
        stored.groups.join(", "),
        stored.valid_until,
    );
    all.insert(issuer.issuer.clone(), stored);
    let path = credentials::save(&all)?;
    eprintln!(
        "Signed in to {} as {identity}{}; the token is valid until {} (kept in {}).",
        issuer.issuer,
        if groups.is_empty() {
            String::new()
        } else {
            format!(" (groups: {groups})")
        },
        format_micros(until.saturating_mul(1_000_000)),
        path.display()
    );
    Ok(ExitCode::SUCCESS)
}

async fn device_flow(issuer: &OidcIssuer) -> anyhow::Result<Stored> {
    let http = http()?;
    let ep = endpoints(&http, &issuer.issuer).await?;
    let device_endpoint = ep
        .device_authorization
        .context("the provider does not offer the device authorization grant")?;
    let scope = issuer.scopes.join(" ");
    let resp = http
        .post_form(
            &device_endpoint,
            &[("client_id", &issuer.client_id), ("scope", &scope)],
        )
        .await?;
    if resp.status != 200 {
        let (e, d) = oauth_error(&resp.bytes).unwrap_or_default();
        bail!(
            "the provider refused to start a sign-in (HTTP {}): {e} {d}",
            resp.status
        );
    }
    let auth: DeviceAuthorization = resp.json(&device_endpoint)?;
    eprintln!(
        "To sign in, open {} and enter the code {}",
        auth.verification_uri, auth.user_code
    );
    if let Some(complete) = &auth.verification_uri_complete {
        eprintln!("(or open {complete})");
    }
    let deadline = Instant::now() + Duration::from_secs(auth.expires_in);
    let mut interval = auth.interval.unwrap_or(DEFAULT_INTERVAL).max(1);
    loop {
        tokio::time::sleep(Duration::from_secs(interval)).await;
        if Instant::now() >= deadline {
            bail!("the code expired before the sign-in was approved; run `portcullis login` again");
        }
        let resp = http
            .post_form(
                &ep.token,
                &[
                    ("grant_type", DEVICE_GRANT),
                    ("device_code", &auth.device_code),
                    ("client_id", &issuer.client_id),
                ],
            )
            .await?;
        if resp.status == 200 {
            return accept(&http, issuer, &resp.bytes, None).await;
        }
        match oauth_error(&resp.bytes) {
            Some((e, _)) if e == "authorization_pending" => {}
            Some((e, _)) if e == "slow_down" => interval += SLOW_DOWN_STEP,
            Some((e, _)) if e == "access_denied" => bail!("the sign-in was denied"),
            Some((e, _)) if e == "expired_token" => {
                bail!(
                    "the code expired before the sign-in was approved; run `portcullis login` again"
                )
            }
            Some((e, d)) => bail!("the provider refused the sign-in: {e} {d}"),
            None => bail!("the token endpoint answered HTTP {}", resp.status),
        }
    }
}
