//! Statements a policy holds for review: the relay stops at them, and this
//! decides what happens instead (run under an approval, or refuse).
//!
//! In `wait` mode the client's statement blocks while the gateway waits for
//! reviewers; in `async` mode the client is told at once and re-sends the
//! identical statement after approval. Either way an approval runs the
//! exact statement (same bytes, same parameters) once.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::mpsc;

use portcullis_core::gateway::Gateway;
use portcullis_core::policy::{ReviewMode, ReviewSettings, Verdict};
use portcullis_core::review::{
    Binding, NewReview, ReviewService, WaitOutcome, params_hash, statement_hash,
};
use portcullis_core::time::{format_micros, now_micros};

use crate::backend::{Target, explain};
use crate::protocol::backend as b;
use crate::protocol::sqlstate;
use crate::relay::{Ended, Inject};
use crate::tracker::Judged;

/// Client bytes read (and kept) while a statement waits; beyond this the
/// gateway stops reading until the decision.
const MAX_READ_WHILE_HELD: usize = 1024 * 1024;

/// What the relay stopped at.
#[derive(Debug)]
pub struct Held {
    /// The statement's exact text.
    pub text: Vec<u8>,
    /// Bound parameters (extended protocol): format code and value.
    pub params: Option<Vec<(i16, Option<Vec<u8>>)>>,
    pub verdict: Verdict,
    /// One INSERT/UPDATE/DELETE/MERGE: the planner may estimate it.
    pub dml: bool,
}

/// What to do with the held message.
#[derive(Debug)]
pub enum Resolution {
    /// Run it as sent, recorded under this (approved) review.
    Run(Judged),
    /// Refuse it: the ErrorResponse the client gets, and the recorded reason.
    Refuse {
        judged: Judged,
        refusal: Vec<u8>,
        reason: String,
    },
}

/// A session's side of reviews: who asks, and where.
pub struct Holds {
    pub gateway: Arc<Gateway>,
    pub session_id: String,
    pub identity: String,
    pub groups: Vec<String>,
    pub connection: String,
    pub client_addr: String,
    /// `postgres`, or `mcp` for agents' in-process sessions.
    pub protocol: &'static str,
    /// Chosen by the client with `portcullis.review_mode`; else the policy's.
    pub mode: Option<ReviewMode>,
    pub target: Target,
    /// The API listener reviewers use, named in messages.
    pub api: Option<SocketAddr>,
}

impl Holds {
    fn reviews(&self) -> &Arc<ReviewService> {
        self.gateway.reviews()
    }

    fn approve_hint(&self, id: u64) -> String {
        match self.api {
            Some(api) => format!(
                "approve with \"portcullis review approve {id}\" (API http://{api}/v1/reviews/{id})"
            ),
            None => format!("approve with \"portcullis review approve {id}\""),
        }
    }

    /// Decides a held statement. `client`/`buf` are read while waiting so a
    /// client that leaves is noticed (what it sent meanwhile is kept in `buf`).
    pub(crate) async fn resolve(
        &self,
        held: Held,
        settings: &ReviewSettings,
        inject: &mpsc::Sender<Inject>,
        client: &mut (impl AsyncRead + Unpin),
        buf: &mut BytesMut,
    ) -> Result<Resolution, Ended> {
        let judged = Judged::from(&held.verdict);
        let value_refs: Vec<(i16, Option<&[u8]>)> = held
            .params
            .iter()
            .flatten()
            .map(|(f, v)| (*f, v.as_deref()))
            .collect();
        let binding = Binding {
            identity: self.identity.clone(),
            connection: self.connection.clone(),
            statement_hash: statement_hash(&held.text),
            params_hash: params_hash(&value_refs),
            policy_version: held.verdict.policy_version.clone(),
        };
        // An approval already given for exactly this runs it, once.
        match self
            .reviews()
            .claim_grant(binding.clone(), &self.session_id)
            .await
        {
            Ok(Some(id)) => {
                tracing::info!(session = %self.session_id, review = id, "approved statement runs");
                return Ok(Resolution::Run(judged.with_review(Some(id))));
            }
            Ok(None) => {}
            Err(e) => {
                tracing::error!(error = %e, "review store unavailable");
                return Ok(refuse(
                    judged,
                    "statement needs review, but reviews are unavailable: it was not run".into(),
                    "try again later".into(),
                ));
            }
        }
        let mode = self.mode.unwrap_or(settings.mode);
        let now = now_micros();
        let micros = |d: std::time::Duration| i64::try_from(d.as_micros()).unwrap_or(i64::MAX);
        let new = NewReview {
            identity: self.identity.clone(),
            groups: self.groups.clone(),
            connection: self.connection.clone(),
            session_id: self.session_id.clone(),
            client_addr: self.client_addr.clone(),
            protocol: self.protocol.into(),
            policy: held.verdict.policy.clone(),
            policy_version: held.verdict.policy_version.clone(),
            rule: held.verdict.rule.clone(),
            reason: held.verdict.message.clone(),
            statement: String::from_utf8_lossy(&held.text).into_owned(),
            parameters: held.params.as_ref().map(|ps| {
                ps.iter()
                    .map(|(format, v)| {
                        v.as_ref().map(|v| match format {
                            0 => String::from_utf8_lossy(v).into_owned(),
                            _ => format!("\\x{}", hex_encode(v)),
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
        let review = match self.reviews().request(new).await {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(error = %e, "could not store a review");
                return Ok(refuse(
                    judged,
                    "statement needs review, but the review could not be recorded: it was not run"
                        .into(),
                    "try again later".into(),
                ));
            }
        };
        let id = review.id;
        let judged = judged.with_review(Some(id));
        if held.dml && held.params.as_ref().is_none_or(|p| p.is_empty()) {
            self.spawn_estimate(id, review.request.statement.clone());
        }
        if mode == ReviewMode::Async {
            let message = format!("statement held for review {id}");
            let detail = format!(
                "{}. After approval, re-send the identical statement{} on connection {} to run it once.",
                held.verdict.message,
                if held.params.is_some() {
                    " with the same parameters"
                } else {
                    ""
                },
                self.connection
            );
            let mut refusal = Vec::new();
            b::error_response_full(
                &mut refusal,
                b::Severity::Error,
                sqlstate::INSUFFICIENT_PRIVILEGE,
                &message,
                Some(&detail),
                Some(&self.approve_hint(id)),
            );
            return Ok(Resolution::Refuse {
                judged,
                refusal,
                reason: format!("{message}: {}", held.verdict.message),
            });
        }

        let mut notice = Vec::new();
        b::notice_response(
            &mut notice,
            &format!(
                "statement held for review {id}: {}; waiting up to {} for a decision",
                self.approve_hint(id),
                humantime::format_duration(settings.timeout)
            ),
        );
        let _ = inject
            .send(Inject {
                bytes: notice,
                then_close: None,
            })
            .await;
        let outcome = {
            let wait = self.reviews().wait(id, settings.timeout);
            tokio::pin!(wait);
            loop {
                tokio::select! {
                    outcome = &mut wait => break outcome,
                    read = client.read_buf(buf), if buf.len() < MAX_READ_WHILE_HELD => match read {
                        Ok(0) => return Err(Ended::ClientGone("left while a statement awaited review".into())),
                        Ok(_) => {}
                        Err(e) => return Err(Ended::ClientGone(e.to_string())),
                    },
                }
            }
        };
        Ok(match outcome {
            Ok(WaitOutcome::Approved(r)) => {
                match self.reviews().claim(id, &self.session_id).await {
                    Ok(true) => {
                        tracing::info!(session = %self.session_id, review = id, approvals = r.approvals.len(), "review approved; statement runs");
                        Resolution::Run(judged)
                    }
                    Ok(false) => refuse(
                        judged,
                        format!("the approval of review {id} was already used or has expired"),
                        "send the statement again to ask for a new review".into(),
                    ),
                    Err(e) => {
                        tracing::error!(error = %e, "review store unavailable");
                        refuse(
                            judged,
                            format!(
                                "review {id} was approved, but the approval could not be taken: the statement was not run"
                            ),
                            "try again later".into(),
                        )
                    }
                }
            }
            Ok(WaitOutcome::Rejected(r)) => {
                let (by, reason) = r.rejection.map(|x| (x.by, x.reason)).unwrap_or_default();
                refuse(
                    judged,
                    format!("statement review {id} was rejected by {by}: {reason}"),
                    "the statement was not run".into(),
                )
            }
            Ok(WaitOutcome::TimedOut) => refuse(
                judged,
                format!(
                    "statement review {id} was not decided within {}; the statement was not run",
                    humantime::format_duration(settings.timeout)
                ),
                format!(
                    "the review stays open until {}: once approved, re-send the identical statement to run it",
                    format_micros(review.request.expires_at)
                ),
            ),
            Ok(WaitOutcome::Expired) => refuse(
                judged,
                format!("statement review {id} expired undecided; the statement was not run"),
                "send it again to ask for a new review".into(),
            ),
            Err(e) => {
                tracing::error!(error = %e, "review store unavailable");
                refuse(
                    judged,
                    format!("review {id} could not be followed: the statement was not run"),
                    "try again later".into(),
                )
            }
        })
    }

    /// Tells the review how its approved statement ended (off the data path).
    pub fn note_outcome(&self, s: &portcullis_core::record::StatementResponse) {
        let Some(id) = s.review else {
            return;
        };
        use portcullis_core::record::StatementStatus as S;
        let outcome = match s.status {
            S::Ok => format!("ok, {} rows", s.rows.unwrap_or(0)),
            S::Error => format!("error: {}", s.error.as_deref().unwrap_or("")),
            S::Interrupted => "interrupted".to_string(),
            S::Skipped => "skipped after an earlier error".to_string(),
            // Held and not run: the review keeps its own state.
            S::Blocked => return,
        };
        let reviews = self.reviews().clone();
        tokio::spawn(async move {
            if let Err(e) = reviews.executed(id, outcome).await {
                tracing::warn!(review = id, error = %e, "could not store the outcome");
            }
        });
    }

    /// Asks the planner (never the executor) how many rows a held DML
    /// statement would touch, for reviewers; failures only leave it unknown.
    fn spawn_estimate(&self, id: u64, sql: String) {
        let target = self.target.clone();
        let reviews = self.reviews().clone();
        tokio::spawn(async move {
            let estimate = match explain::estimate(&target, &sql).await {
                Ok(e) => e,
                Err(e) => format!("unknown (EXPLAIN failed: {e})"),
            };
            if let Err(e) = reviews.set_estimate(id, estimate).await {
                tracing::warn!(review = id, error = %e, "could not store the estimate");
            }
        });
    }
}

fn refuse(judged: Judged, message: String, hint: String) -> Resolution {
    let mut refusal = Vec::new();
    b::error_response_full(
        &mut refusal,
        b::Severity::Error,
        sqlstate::INSUFFICIENT_PRIVILEGE,
        &message,
        None,
        Some(&hint),
    );
    Resolution::Refuse {
        judged,
        refusal,
        reason: message,
    }
}

fn hex_encode(v: &[u8]) -> String {
    v.iter().map(|b| format!("{b:02x}")).collect()
}
