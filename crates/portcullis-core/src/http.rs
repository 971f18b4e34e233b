//! The one outbound HTTP client: OIDC discovery, JWKS, the device flow and
//! webhooks all go through it, so TLS (rustls on aws-lc-rs, the platform's
//! roots), timeouts and response size limits are decided in one place.

use std::time::Duration;

use serde::de::DeserializeOwned;
use thiserror::Error;

/// Largest response body read: discovery documents, key sets and token
/// responses are a few KB; anything far larger is not what we asked for.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

#[derive(Debug, Error)]
pub enum HttpError {
    #[error("cannot build the HTTP client: {0}")]
    Build(String),
    #[error("request to {url} failed: {reason}")]
    Request { url: String, reason: String },
    #[error("{url} answered HTTP {status}")]
    Status { url: String, status: u16 },
    #[error("{url} sent more than {MAX_BODY_BYTES} bytes")]
    TooLarge { url: String },
    #[error("{url} sent invalid JSON: {reason}")]
    Json { url: String, reason: String },
}

/// A cloneable client (clones share one connection pool).
#[derive(Clone)]
pub struct HttpClient {
    inner: reqwest::Client,
}

/// A response body read within [`MAX_BODY_BYTES`], with its status.
pub struct Body {
    pub status: u16,
    pub bytes: Vec<u8>,
}

impl Body {
    /// Parses the body as JSON whatever the status (OAuth errors come as
    /// JSON with 400).
    pub fn json<T: DeserializeOwned>(&self, url: &str) -> Result<T, HttpError> {
        serde_json::from_slice(&self.bytes).map_err(|e| HttpError::Json {
            url: url.to_string(),
            reason: e.to_string(),
        })
    }
}

impl HttpClient {
    /// Builds the client; `timeout` bounds each whole request.
    pub fn new(timeout: Duration) -> Result<Self, HttpError> {
        let inner = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .redirect(reqwest::redirect::Policy::limited(3))
            .user_agent(concat!("portcullis/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| HttpError::Build(e.to_string()))?;
        Ok(HttpClient { inner })
    }

    /// GETs `url` and parses a JSON body; any status but 2xx is an error.
    pub async fn get_json<T: DeserializeOwned>(&self, url: &str) -> Result<T, HttpError> {
        let body = self.send(url, self.inner.get(url)).await?;
        if !(200..300).contains(&body.status) {
            return Err(HttpError::Status {
                url: url.to_string(),
                status: body.status,
            });
        }
        body.json(url)
    }

    /// POSTs a form and returns the body whatever the status.
    pub async fn post_form(&self, url: &str, form: &[(&str, &str)]) -> Result<Body, HttpError> {
        self.send(url, self.inner.post(url).form(form)).await
    }

    /// POSTs a JSON body (webhooks) and returns the body whatever the status.
    pub async fn post_json<T: serde::Serialize + ?Sized>(
        &self,
        url: &str,
        body: &T,
    ) -> Result<Body, HttpError> {
        self.send(url, self.inner.post(url).json(body)).await
    }

    async fn send(&self, url: &str, req: reqwest::RequestBuilder) -> Result<Body, HttpError> {
        let failed = |e: reqwest::Error| HttpError::Request {
            url: url.to_string(),
            reason: e.to_string(),
        };
        let mut resp = req.send().await.map_err(failed)?;
        let status = resp.status().as_u16();
        let mut bytes = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(failed)? {
            if bytes.len() + chunk.len() > MAX_BODY_BYTES {
                return Err(HttpError::TooLarge {
                    url: url.to_string(),
                });
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(Body { status, bytes })
    }
}

/// Whether `url` may be fetched: HTTPS, or plain HTTP to a loopback host
/// (a provider on the same machine, as in tests and local setups).
pub fn url_is_safe(url: &str) -> bool {
    let Ok(parsed) = reqwest::Url::parse(url) else {
        return false;
    };
    match parsed.scheme() {
        "https" => parsed.host().is_some(),
        "http" => parsed.host_str().is_some_and(|h| {
            h == "localhost"
                || h.trim_matches(['[', ']'])
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback())
        }),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::url_is_safe;

    #[test]
    fn only_https_or_loopback_http() {
        assert!(url_is_safe("https://idp.example.com"));
        assert!(url_is_safe("http://127.0.0.1:9000/x"));
        assert!(url_is_safe("http://localhost:9000"));
        assert!(url_is_safe("http://[::1]:9000"));
        assert!(!url_is_safe("http://idp.example.com"));
        assert!(!url_is_safe("ftp://127.0.0.1"));
        assert!(!url_is_safe("not a url"));
    }
}
