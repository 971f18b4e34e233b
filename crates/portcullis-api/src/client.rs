//! A small client of the API, for the `portcullis review` commands.

use std::path::Path;

use serde_json::Value;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot reach the gateway API at {url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("{0}")]
    Api(String),
    #[error("invalid CA certificate {path}: {reason}")]
    BadCa { path: String, reason: String },
}

pub struct ApiClient {
    base: String,
    token: String,
    http: reqwest::Client,
}

impl ApiClient {
    /// `base` like `http://127.0.0.1:7433`; `ca` trusts one more certificate
    /// (a gateway with its own CA).
    pub fn new(base: &str, token: &str, ca: Option<&Path>) -> Result<Self, ClientError> {
        let mut builder = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(30))
            .redirect(reqwest::redirect::Policy::none());
        if let Some(path) = ca {
            let bad = |reason: String| ClientError::BadCa {
                path: path.display().to_string(),
                reason,
            };
            let pem = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
            let cert = reqwest::Certificate::from_pem(&pem).map_err(|e| bad(e.to_string()))?;
            builder = builder.add_root_certificate(cert);
        }
        let http = builder.build().map_err(|e| ClientError::Unreachable {
            url: base.to_string(),
            reason: e.to_string(),
        })?;
        Ok(ApiClient {
            base: base.trim_end_matches('/').to_string(),
            token: token.to_string(),
            http,
        })
    }

    pub async fn get(&self, path: &str) -> Result<Value, ClientError> {
        self.send(self.http.get(format!("{}{path}", self.base)))
            .await
    }

    pub async fn post(&self, path: &str, body: Option<Value>) -> Result<Value, ClientError> {
        let mut request = self.http.post(format!("{}{path}", self.base));
        if let Some(b) = body {
            request = request.json(&b);
        }
        self.send(request).await
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Result<Value, ClientError> {
        let response = request.bearer_auth(&self.token).send().await.map_err(|e| {
            ClientError::Unreachable {
                url: self.base.clone(),
                reason: e.without_url().to_string(),
            }
        })?;
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if status.is_success() {
            return Ok(body);
        }
        let message = body
            .get("error")
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| format!("HTTP {}", status.as_u16()));
        Err(ClientError::Api(message))
    }
}
