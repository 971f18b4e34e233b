//! Webhook delivery for reviews: in the background, retried with back-off,
//! never blocking a review. URLs can embed secrets (Slack's do), so logs
//! name only the host.

use std::sync::{Arc, Weak};
use std::time::Duration;

use portcullis_core::gateway::Gateway;
use portcullis_core::policy::{WebhookConfig, WebhookFormat};
use portcullis_core::review::notify::{json_payload, slack_payload};
use portcullis_core::review::{Notice, Notifier};

/// Attempts per delivery, and the first pause between them (doubling).
const ATTEMPTS: u32 = 5;
const FIRST_BACKOFF: Duration = Duration::from_millis(500);
const TIMEOUT: Duration = Duration::from_secs(10);

pub struct Webhooks {
    gateway: Weak<Gateway>,
    http: reqwest::Client,
}

impl Webhooks {
    /// Installs webhook delivery on the gateway's review service.
    pub fn install(gateway: &Arc<Gateway>) -> Result<(), reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        gateway.reviews().set_notifier(Arc::new(Webhooks {
            gateway: Arc::downgrade(gateway),
            http,
        }));
        Ok(())
    }
}

fn host_of(url: &str) -> String {
    reqwest::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
        .unwrap_or_else(|| "<invalid url>".into())
}

impl Notifier for Webhooks {
    fn notify(&self, notice: Notice) {
        let Some(gateway) = self.gateway.upgrade() else {
            return;
        };
        let config = gateway.config();
        let Some(policy) = config.policies.get(&notice.review.request.policy) else {
            return;
        };
        let console = config.listen.api.map(|a| format!("http://{a}"));
        for hook in policy.review().webhooks.clone() {
            let body = match hook.format {
                WebhookFormat::Json => json_payload(&notice, console.as_deref()),
                WebhookFormat::Slack => slack_payload(&notice, console.as_deref()),
            };
            let http = self.http.clone();
            let id = notice.review.id;
            let event = notice.kind.event();
            tokio::spawn(deliver(http, hook, body, id, event));
        }
    }
}

async fn deliver(
    http: reqwest::Client,
    hook: WebhookConfig,
    body: serde_json::Value,
    review: u64,
    event: &'static str,
) {
    let host = host_of(&hook.url);
    let mut pause = FIRST_BACKOFF;
    for attempt in 1..=ATTEMPTS {
        let sent = http.post(&hook.url).json(&body).send().await;
        let failure = match sent {
            Ok(r) if r.status().is_success() => {
                tracing::debug!(review, event, %host, "webhook delivered");
                return;
            }
            Ok(r) => format!("HTTP {}", r.status().as_u16()),
            // Without the URL: it may carry a secret.
            Err(e) => e.without_url().to_string(),
        };
        tracing::warn!(review, event, %host, attempt, error = %failure, "webhook delivery failed");
        if attempt < ATTEMPTS {
            tokio::time::sleep(pause).await;
            pause *= 2;
        }
    }
    tracing::error!(review, event, %host, "webhook delivery given up after {ATTEMPTS} attempts");
}
