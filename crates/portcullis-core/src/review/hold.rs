//! Holding a request for review, for every adapter: claim an approval
//! already given, or ask for one and wait (`wait` mode) or refuse at once
//! (`async` mode). The messages are the same for every protocol; an
//! adapter only renders them (PostgreSQL notices and errors, SSH stderr,
//! HTTP status bodies).

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use crate::policy::{Action, Refusal, RefusalReason, ReviewMode, ReviewSettings, Verdict};
use crate::record::{StatementResponse, StatementStatus};
use crate::request::RequestKind;
use crate::time::{format_micros, now_micros};

use super::{Binding, NewReview, ReviewService, WaitOutcome, params_hash, statement_hash};

/// The planner's (or another) estimate of what a held request would do,
/// computed in the background once the review exists.
pub type Estimate = Pin<Box<dyn Future<Output = String> + Send>>;

/// A request a review rule holds, as the adapter describes it.
pub struct HoldRequest {
    pub verdict: Verdict,
    /// The request's exact bytes: an approval runs exactly these, once.
    pub canonical: Vec<u8>,
    /// Bound parameters: format code (0 text, 1 binary) and value; `None`
    /// when the protocol has none.
    pub params: Option<Vec<(i16, Option<Vec<u8>>)>>,
    /// What reviewers read; the canonical bytes as text when `None`.
    pub display: Option<String>,
    /// An estimate for reviewers (PostgreSQL's EXPLAIN row count).
    pub estimate: Option<Estimate>,
}

/// Who asks, from the session (filled in by [`crate::session::SessionScope::hold`]).
pub struct Asker {
    pub identity: String,
    pub groups: Vec<String>,
    pub connection: String,
    pub session_id: String,
    pub client_addr: String,
    pub protocol: String,
    /// The client's own choice of mode, over the policy's.
    pub mode: Option<ReviewMode>,
    /// The API listener reviewers use, named in hints.
    pub api: Option<SocketAddr>,
}

/// What happens to the held request.
#[derive(Debug)]
pub enum Hold {
    /// Run it as it was held, under this (approved, claimed) review.
    Run { review: u64 },
    /// Do not run it; tell the client this.
    Refuse {
        refusal: Refusal,
        review: Option<u64>,
    },
}

/// Shown to a client whose request waits for reviewers (a PostgreSQL
/// NoticeResponse, a line on SSH stderr).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldNotice {
    pub review: u64,
    pub message: String,
}

/// The first step of a hold.
pub enum HoldStart {
    /// Decided at once (an approval was claimed, async mode, an error).
    Decided(Hold),
    /// Waiting for reviewers: show [`Waiting::notice`], then await
    /// [`Waiting::decision`] (alongside whatever tells the adapter its
    /// client left).
    Waiting(Waiting),
}

/// A request waiting for a decision.
pub struct Waiting {
    service: Arc<ReviewService>,
    notice: HeldNotice,
    session_id: String,
    timeout: Duration,
    expires_at: i64,
    kind: RequestKind,
}

fn approve_hint(api: Option<SocketAddr>, id: u64) -> String {
    match api {
        Some(api) => format!(
            "approve with \"portcullis review approve {id}\" (API http://{api}/v1/reviews/{id})"
        ),
        None => format!("approve with \"portcullis review approve {id}\""),
    }
}

fn refuse(reason: RefusalReason, message: String, hint: String, review: Option<u64>) -> Hold {
    let mut refusal = Refusal::new(reason, message, Some(hint));
    refusal.action = Action::Review;
    Hold::Refuse { refusal, review }
}

fn hex(v: &[u8]) -> String {
    v.iter().map(|b| format!("{b:02x}")).collect()
}

impl ReviewService {
    /// Holds `request` for `asker` under `settings` (see [`HoldStart`]).
    pub async fn hold(
        self: &Arc<Self>,
        request: HoldRequest,
        asker: &Asker,
        settings: &ReviewSettings,
    ) -> HoldStart {
        let kind = request.verdict.kind;
        let noun = kind.noun();
        let value_refs: Vec<(i16, Option<&[u8]>)> = request
            .params
            .iter()
            .flatten()
            .map(|(f, v)| (*f, v.as_deref()))
            .collect();
        let binding = Binding {
            identity: asker.identity.clone(),
            connection: asker.connection.clone(),
            statement_hash: statement_hash(&request.canonical),
            params_hash: params_hash(&value_refs),
            policy_version: request.verdict.policy_version.clone(),
        };
        // An approval already given for exactly this runs it, once.
        match self.claim_grant(binding.clone(), &asker.session_id).await {
            Ok(Some(id)) => {
                tracing::info!(review = id, "approved request runs");
                return HoldStart::Decided(Hold::Run { review: id });
            }
            Ok(None) => {}
            Err(e) => {
                tracing::error!(error = %e, "review store unavailable");
                return HoldStart::Decided(refuse(
                    RefusalReason::ReviewUnavailable,
                    format!("{noun} needs review, but reviews are unavailable: it was not run"),
                    "try again later".into(),
                    None,
                ));
            }
        }
        let mode = asker.mode.unwrap_or(settings.mode);
        let now = now_micros();
        let micros = |d: Duration| i64::try_from(d.as_micros()).unwrap_or(i64::MAX);
        let v = &request.verdict;
        let new = NewReview {
            identity: asker.identity.clone(),
            groups: asker.groups.clone(),
            connection: asker.connection.clone(),
            session_id: asker.session_id.clone(),
            client_addr: asker.client_addr.clone(),
            protocol: asker.protocol.clone(),
            policy: v.policy.clone(),
            policy_version: v.policy_version.clone(),
            rule: v.rule.clone(),
            reason: v.message.clone(),
            statement: request
                .display
                .clone()
                .unwrap_or_else(|| String::from_utf8_lossy(&request.canonical).into_owned()),
            parameters: request.params.as_ref().map(|ps| {
                ps.iter()
                    .map(|(format, v)| {
                        v.as_ref().map(|v| match format {
                            0 => String::from_utf8_lossy(v).into_owned(),
                            _ => format!("\\x{}", hex(v)),
                        })
                    })
                    .collect()
            }),
            statement_hash: binding.statement_hash.clone(),
            params_hash: binding.params_hash.clone(),
            mode,
            reviewers: settings.reviewers.clone(),
            approvals_required: settings.approvals,
            requested_at: now,
            expires_at: now.saturating_add(micros(settings.expires)),
            grant_ttl_us: micros(settings.grant_ttl),
        };
        let review = match self.request(new).await {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(error = %e, "could not store a review");
                return HoldStart::Decided(refuse(
                    RefusalReason::ReviewUnavailable,
                    format!(
                        "{noun} needs review, but the review could not be recorded: it was not run"
                    ),
                    "try again later".into(),
                    None,
                ));
            }
        };
        let id = review.id;
        if let Some(estimate) = request.estimate {
            let reviews = self.clone();
            tokio::spawn(async move {
                let estimate = estimate.await;
                if let Err(e) = reviews.set_estimate(id, estimate).await {
                    tracing::warn!(review = id, error = %e, "could not store the estimate");
                }
            });
        }
        let hint = approve_hint(asker.api, id);
        if mode == ReviewMode::Async {
            let message = format!("{noun} held for review {id}");
            let detail = format!(
                "{}. After approval, re-send the identical {noun}{} on connection {} to run it once.",
                v.message,
                if request.params.is_some() {
                    " with the same parameters"
                } else {
                    ""
                },
                asker.connection
            );
            return HoldStart::Decided(Hold::Refuse {
                refusal: Refusal {
                    reason: RefusalReason::Held { review: id },
                    action: Action::Review,
                    rule: v.rule.clone(),
                    message,
                    detail: Some(detail),
                    hint: Some(hint),
                    cause: Some(v.message.clone()),
                },
                review: Some(id),
            });
        }
        HoldStart::Waiting(Waiting {
            service: self.clone(),
            notice: HeldNotice {
                review: id,
                message: format!(
                    "{noun} held for review {id}: {hint}; waiting up to {} for a decision",
                    humantime::format_duration(settings.timeout)
                ),
            },
            session_id: asker.session_id.clone(),
            timeout: settings.timeout,
            expires_at: review.request.expires_at,
            kind,
        })
    }

    /// Tells review `id` how the request it approved ended (in the
    /// background: never on the data path).
    pub fn note_outcome(self: &Arc<Self>, response: &StatementResponse) {
        let Some(id) = response.review else {
            return;
        };
        use StatementStatus as S;
        let outcome = match response.status {
            S::Ok => format!("ok, {} rows", response.rows.unwrap_or(0)),
            S::Error => format!("error: {}", response.error.as_deref().unwrap_or("")),
            S::Interrupted => "interrupted".to_string(),
            S::Skipped => "skipped after an earlier error".to_string(),
            // Held and not run: the review keeps its own state.
            S::Blocked => return,
        };
        let reviews = self.clone();
        tokio::spawn(async move {
            if let Err(e) = reviews.executed(id, outcome).await {
                tracing::warn!(review = id, error = %e, "could not store the outcome");
            }
        });
    }
}

impl Waiting {
    pub fn notice(&self) -> &HeldNotice {
        &self.notice
    }

    pub fn review(&self) -> u64 {
        self.notice.review
    }

    /// Waits for the reviewers (at most the policy's `timeout`), then
    /// claims the approval for this session.
    pub async fn decision(self) -> Hold {
        let id = self.notice.review;
        let noun = self.kind.noun();
        let review = Some(id);
        match self.service.wait(id, self.timeout).await {
            Ok(WaitOutcome::Approved(r)) => match self.service.claim(id, &self.session_id).await {
                Ok(true) => {
                    tracing::info!(
                        review = id,
                        approvals = r.approvals.len(),
                        "review approved; request runs"
                    );
                    Hold::Run { review: id }
                }
                Ok(false) => refuse(
                    RefusalReason::ApprovalUnavailable { review: id },
                    format!("the approval of review {id} was already used or has expired"),
                    format!("send the {noun} again to ask for a new review"),
                    review,
                ),
                Err(e) => {
                    tracing::error!(error = %e, "review store unavailable");
                    refuse(
                        RefusalReason::ReviewUnavailable,
                        format!(
                            "review {id} was approved, but the approval could not be taken: the {noun} was not run"
                        ),
                        "try again later".into(),
                        review,
                    )
                }
            },
            Ok(WaitOutcome::Rejected(r)) => {
                let (by, reason) = r.rejection.map(|x| (x.by, x.reason)).unwrap_or_default();
                refuse(
                    RefusalReason::ReviewRejected { review: id },
                    format!("{noun} review {id} was rejected by {by}: {reason}"),
                    format!("the {noun} was not run"),
                    review,
                )
            }
            Ok(WaitOutcome::TimedOut) => refuse(
                RefusalReason::ReviewTimedOut { review: id },
                format!(
                    "{noun} review {id} was not decided within {}; the {noun} was not run",
                    humantime::format_duration(self.timeout)
                ),
                format!(
                    "the review stays open until {}: once approved, re-send the identical {noun} to run it",
                    format_micros(self.expires_at)
                ),
                review,
            ),
            Ok(WaitOutcome::Expired) => refuse(
                RefusalReason::ReviewExpired { review: id },
                format!("{noun} review {id} expired undecided; the {noun} was not run"),
                "send it again to ask for a new review".into(),
                review,
            ),
            Err(e) => {
                tracing::error!(error = %e, "review store unavailable");
                refuse(
                    RefusalReason::ReviewUnavailable,
                    format!("review {id} could not be followed: the {noun} was not run"),
                    "try again later".into(),
                    review,
                )
            }
        }
    }
}
