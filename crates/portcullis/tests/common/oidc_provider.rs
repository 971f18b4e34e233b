//! A real OpenID Provider for the tests: node's `oidc-provider` run by
//! `tests/clients/oidc/provider.js` (installed by scripts/test-setup.sh).
//! Its /test/* endpoints approve device codes in place of a person at a
//! browser and forge the tokens an attacker would try.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use portcullis_core::http::HttpClient;
use serde_json::{Value, json};

pub struct Provider {
    pub issuer: String,
    child: Child,
    http: HttpClient,
}

impl Provider {
    pub fn start() -> Provider {
        let dir = crate::common::repo_root().join("tests/clients/oidc");
        let mut child = Command::new("node")
            .arg("provider.js")
            .current_dir(&dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start node oidc-provider (run scripts/test-setup.sh)");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(iss) = line.strip_prefix("READY ") {
                    let _ = tx.send(iss.to_string());
                }
            }
        });
        let issuer = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("the OIDC provider did not start");
        Provider {
            issuer,
            child,
            http: HttpClient::new(Duration::from_secs(30)).unwrap(),
        }
    }

    async fn call(&self, path: &str, body: Value) -> Value {
        let url = format!("{}{path}", self.issuer);
        let resp = self.http.post_json(&url, &body).await.unwrap();
        assert_eq!(
            resp.status,
            200,
            "{path}: {}",
            String::from_utf8_lossy(&resp.bytes)
        );
        resp.json(&url).unwrap()
    }

    /// An ID token the provider issues to `client_id` for `sub` through a
    /// whole device flow.
    pub async fn id_token(&self, client_id: &str, sub: &str, groups: &[&str]) -> String {
        let r = self
            .call(
                "/test/token",
                json!({"client_id": client_id, "sub": sub, "groups": groups}),
            )
            .await;
        r["id_token"]
            .as_str()
            .unwrap_or_else(|| panic!("no id_token in {r}"))
            .to_string()
    }

    /// A token the provider would never issue (`none`, `hs256-public`,
    /// `unknown-kid`, `wrong-iss`, `not-yet-valid`).
    pub async fn forge(&self, kind: &str, sub: &str) -> String {
        let r = self
            .call("/test/forge", json!({"kind": kind, "sub": sub}))
            .await;
        r["token"].as_str().unwrap().to_string()
    }

    pub async fn approve(&self, user_code: &str, sub: &str, groups: &[&str]) {
        self.call(
            "/test/approve",
            json!({"user_code": user_code, "sub": sub, "groups": groups}),
        )
        .await;
    }

    /// Replaces every signing key; returns the new key ids.
    pub async fn rotate(&self) -> Value {
        self.call("/test/rotate", json!({})).await["kids"].clone()
    }

    /// The gateway configuration for this provider.
    pub fn config(&self) -> String {
        format!(
            r#"
[[oidc]]
issuer = "{}"
audience = ["portcullis", "portcullis-es", "portcullis-ed", "portcullis-short"]
algorithms = ["RS256", "ES256", "EdDSA"]
clock_skew = "0s"
jwks_refresh_interval = "1s"
client_id = "portcullis"
scopes = ["openid", "email", "groups"]
"#,
            self.issuer
        )
    }
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A claim of a JWT, read without verification (for test bookkeeping).
pub fn claim(token: &str, name: &str) -> Value {
    portcullis_core::oidc::unverified_claim(token, name).unwrap_or(Value::Null)
}
