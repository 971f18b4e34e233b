//! How a policy's held statements are reviewed (`[policy.NAME.review]`).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::PolicyError;

/// What the client experiences while its statement is held.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReviewMode {
    /// The statement blocks until a decision (or the timeout), then runs or fails.
    #[default]
    Wait,
    /// The client is told at once; after approval it re-sends the statement.
    Async,
}

impl ReviewMode {
    pub fn as_str(self) -> &'static str {
        match self {
            ReviewMode::Wait => "wait",
            ReviewMode::Async => "async",
        }
    }

    pub fn parse(s: &str) -> Option<ReviewMode> {
        match s {
            "wait" => Some(ReviewMode::Wait),
            "async" => Some(ReviewMode::Async),
            _ => None,
        }
    }
}

/// Payload shape of a webhook.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WebhookFormat {
    /// The review as generic JSON.
    #[default]
    Json,
    /// A Slack-compatible `{"text": ...}` message (incoming webhooks).
    Slack,
}

/// One notification target.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// `http://` or `https://` URL the payload is POSTed to.
    pub url: String,
    #[serde(default)]
    pub format: WebhookFormat,
}

/// `[policy.NAME.review]` as written.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReviewConfig {
    #[serde(default)]
    pub mode: ReviewMode,
    /// Groups whose members may approve or reject (never their own statements).
    #[serde(default = "default_reviewers")]
    pub reviewers: Vec<String>,
    /// Distinct approvals needed before the statement may run.
    #[serde(default = "default_approvals")]
    pub approvals: u32,
    /// How long a client in `wait` mode waits for a decision.
    #[serde(default = "default_timeout")]
    pub timeout: String,
    /// How long a review can be decided at all: a forgotten review can never
    /// be approved weeks later.
    #[serde(default = "default_expires")]
    pub expires: String,
    /// How long an approval stays usable by the `async` re-send (single use).
    #[serde(default = "default_grant_ttl")]
    pub grant_ttl: String,
    #[serde(default, rename = "webhook", skip_serializing_if = "Vec::is_empty")]
    pub webhooks: Vec<WebhookConfig>,
}

fn default_reviewers() -> Vec<String> {
    vec!["reviewers".into()]
}
fn default_approvals() -> u32 {
    1
}
fn default_timeout() -> String {
    "10m".into()
}
fn default_expires() -> String {
    "1h".into()
}
fn default_grant_ttl() -> String {
    "15m".into()
}

impl Default for ReviewConfig {
    fn default() -> Self {
        ReviewConfig {
            mode: ReviewMode::default(),
            reviewers: default_reviewers(),
            approvals: default_approvals(),
            timeout: default_timeout(),
            expires: default_expires(),
            grant_ttl: default_grant_ttl(),
            webhooks: Vec::new(),
        }
    }
}

/// The compiled review settings of a policy.
#[derive(Clone, Debug, PartialEq)]
pub struct ReviewSettings {
    pub mode: ReviewMode,
    pub reviewers: Vec<String>,
    pub approvals: u32,
    pub timeout: Duration,
    pub expires: Duration,
    pub grant_ttl: Duration,
    pub webhooks: Vec<WebhookConfig>,
}

impl ReviewSettings {
    pub(crate) fn compile(policy: &str, c: &ReviewConfig) -> Result<ReviewSettings, PolicyError> {
        let bad = |reason: String| PolicyError::BadReview {
            policy: policy.to_string(),
            reason,
        };
        let duration = |field: &str, v: &str| {
            humantime::parse_duration(v)
                .map_err(|e| bad(format!("{field} \"{v}\": {e}")))
                .and_then(|d| {
                    if d.is_zero() {
                        Err(bad(format!("{field} must be longer than zero")))
                    } else {
                        Ok(d)
                    }
                })
        };
        if c.approvals == 0 {
            return Err(bad("approvals must be at least 1".into()));
        }
        if c.reviewers.is_empty() || c.reviewers.iter().any(|r| r.trim().is_empty()) {
            return Err(bad(
                "reviewers must name at least one group (and no empty names)".into(),
            ));
        }
        for w in &c.webhooks {
            if !(w.url.starts_with("http://") || w.url.starts_with("https://")) {
                return Err(bad(format!(
                    "webhook url \"{}\" must start with http:// or https://",
                    w.url
                )));
            }
        }
        Ok(ReviewSettings {
            mode: c.mode,
            reviewers: c.reviewers.clone(),
            approvals: c.approvals,
            timeout: duration("timeout", &c.timeout)?,
            expires: duration("expires", &c.expires)?,
            grant_ttl: duration("grant_ttl", &c.grant_ttl)?,
            webhooks: c.webhooks.clone(),
        })
    }
}
