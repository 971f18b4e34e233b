//! The request/response pipeline, readable in one place: the steps of
//! ARCHITECTURE.md's diagram in their order, for adapters whose traffic
//! is a sequence of exchanges (SSH exec, HTTP, Kubernetes, git pushes).
//!
//! ```text
//! classify -> decide -+-allow--> record request -> forward -> mask -> respond -> record response
//!                     +-block--> record request -> refuse -> record response
//!                     '-review-> hold -> (run once as allowed) | (refuse)
//! ```
//!
//! accept, authenticate, authorize and open happen before (the adapter's
//! listener, [`crate::gateway::Gateway::authenticate_bearer`] and friends,
//! [`crate::gateway::Gateway::authorize`],
//! [`crate::gateway::Gateway::open_session`]); close after
//! ([`crate::session::run_session`]). The adapter implements [`Exchange`]:
//! the protocol's side of each step. Everything else (verdicts, reviews,
//! strict recording, kills and revocation while a request runs) is here.
//!
//! Adapters whose wire interleaves many requests (PostgreSQL's pipelined
//! extended protocol) use the same building blocks directly:
//! [`SessionScope::judge`], [`SessionScope::hold`] and
//! [`crate::session::SessionRecorder`].

use std::future::Future;

use crate::policy::{Action, Refusal, Verdict};
use crate::record::{Judged, RecordError, StatementStatus};
use crate::request::Request;
use crate::review::{HeldNotice, Hold, HoldRequest, HoldStart};
use crate::session::{
    CloseReason, NotRecorded, RecordedRequest, RequestRecord, ResponseRecord, SessionScope,
};

/// The protocol's side of one exchange. Each method is one step; a step
/// that fails with a [`CloseReason`] ends the session.
pub trait Exchange: Send {
    /// A request as it arrived (bytes, a parsed HTTP request, an exec line).
    type Request: Send;
    /// What the target answered (possibly a stream the adapter relays).
    type Response: Send;

    /// classify: the request in the protocol-neutral model; `Err(why)`
    /// when it cannot be classified (guarded policies then block it).
    fn classify(&mut self, request: &Self::Request) -> Result<Request, String>;

    /// What the request event says (kind, scrubbed text, parameters,
    /// masked body); the pipeline adds the verdict and any refusal.
    fn describe(&self, request: &Self::Request) -> RequestRecord;

    /// hold: what a review binds (exact bytes, parameters) and shows, and
    /// an optional estimate for reviewers.
    fn held(&self, request: &Self::Request, verdict: Verdict) -> HoldRequest;

    /// forward: send the request to the target and get its answer.
    fn forward(
        &mut self,
        request: Self::Request,
    ) -> impl Future<Output = Result<Self::Response, CloseReason>> + Send;

    /// mask: rewrite the answer before the client (and the recording)
    /// sees it; `Err` refuses it instead (it cannot be masked safely).
    fn mask(&mut self, response: Self::Response) -> Result<Self::Response, Box<Refusal>>;

    /// respond: send the masked answer to the client; returns how the
    /// request ended, for its response event.
    fn respond(
        &mut self,
        response: Self::Response,
    ) -> impl Future<Output = Result<ResponseRecord, CloseReason>> + Send;

    /// refuse: tell the client, in the protocol's own error format.
    fn refuse(&mut self, refusal: &Refusal)
    -> impl Future<Output = Result<(), CloseReason>> + Send;

    /// Tell a client whose request waits for reviewers (wait mode).
    fn notice(
        &mut self,
        notice: &HeldNotice,
    ) -> impl Future<Output = Result<(), CloseReason>> + Send;
}

/// How one exchange ended (the session goes on).
#[derive(Debug)]
pub enum Outcome {
    /// Forwarded and answered; `review` approved it when it was held.
    Ran { seq: u64, review: Option<u64> },
    /// Refused; the client was told.
    Refused(Refusal),
}

/// Runs one request through every step; `Err` ends the session.
pub async fn exchange<E: Exchange>(
    scope: &SessionScope,
    adapter: &mut E,
    request: E::Request,
) -> Result<Outcome, CloseReason> {
    let record = adapter.describe(&request);
    // classify, decide
    let verdict = match adapter.classify(&request) {
        Ok(classified) => scope.judge(&classified),
        Err(why) => scope.policy().unparseable_as(record.kind, &why),
    };
    let judged = Judged::from(&verdict);
    match verdict.action {
        Action::Allow => {
            if verdict.observed {
                tracing::info!(
                    rule = verdict.rule.as_deref().unwrap_or(""),
                    policy = %verdict.policy,
                    "observe mode: would have stopped this request"
                );
            }
            run(scope, adapter, request, record, judged).await
        }
        Action::Block => {
            let refusal = Refusal::of_verdict(&verdict, scope.connection());
            tracing::info!(rule = verdict.rule.as_deref().unwrap_or(""), policy = %verdict.policy, reason = refusal.reason.as_str(), "request refused");
            refuse(scope, adapter, record, judged, refusal).await
        }
        Action::Review => {
            let held = adapter.held(&request, verdict);
            let hold = match scope.hold(held).await {
                HoldStart::Decided(hold) => hold,
                HoldStart::Waiting(waiting) => {
                    adapter.notice(waiting.notice()).await?;
                    let decision = waiting.decision();
                    tokio::select! {
                        hold = decision => hold,
                        t = scope.terminated() => return Err(t.into()),
                    }
                }
            };
            match hold {
                Hold::Run { review } => {
                    run(
                        scope,
                        adapter,
                        request,
                        record,
                        judged.with_review(Some(review)),
                    )
                    .await
                }
                Hold::Refuse { refusal, review } => {
                    refuse(scope, adapter, record, judged.with_review(review), refusal).await
                }
            }
        }
    }
}

/// A request whose event could not be stored is not sent.
async fn not_recorded<E: Exchange>(
    scope: &SessionScope,
    adapter: &mut E,
    failed: NotRecorded,
    kind: crate::request::RequestKind,
) -> CloseReason {
    let rec = scope.recording();
    match failed.error {
        RecordError::Stopped => CloseReason::RecorderStopped,
        RecordError::Timeout(waited) => {
            let refusal = rec.strict_refusal(failed.seq, waited, kind);
            if let Some(queued) = failed.queued_request() {
                let mut r = ResponseRecord::new(StatementStatus::Blocked);
                r.error = Some("refused: the recording store is unavailable (strict mode)".into());
                let _ = rec.response(&queued, r).await;
            }
            let detail = refusal.detail.clone().unwrap_or_default();
            if let Err(reason) = adapter.refuse(&refusal).await {
                return reason;
            }
            CloseReason::RecordingUnavailable(detail)
        }
    }
}

/// record request -> forward -> mask -> respond -> record response.
async fn run<E: Exchange>(
    scope: &SessionScope,
    adapter: &mut E,
    request: E::Request,
    mut record: RequestRecord,
    judged: Judged,
) -> Result<Outcome, CloseReason> {
    let kind = record.kind;
    record.judged = Some(judged);
    let rec = scope.recording();
    let recorded = match rec.request(record).await {
        Ok(r) => r,
        Err(failed) => return Err(not_recorded(scope, adapter, failed, kind).await),
    };
    let forwarded = tokio::select! {
        answer = adapter.forward(request) => answer,
        t = scope.terminated() => Err(t.into()),
    };
    let response = match forwarded {
        Ok(r) => r,
        Err(reason) => return Err(interrupted(scope, &recorded, reason).await),
    };
    let response = match adapter.mask(response) {
        Ok(r) => r,
        Err(refusal) => {
            tracing::info!(
                reason = refusal.reason.as_str(),
                "response refused by masking"
            );
            adapter.refuse(&refusal).await?;
            let mut r = ResponseRecord::new(StatementStatus::Error);
            r.error = Some(refusal.recorded());
            finish(scope, &recorded, r).await?;
            return Ok(Outcome::Refused(*refusal));
        }
    };
    let responded = tokio::select! {
        done = adapter.respond(response) => done,
        t = scope.terminated() => Err(t.into()),
    };
    match responded {
        Ok(done) => {
            finish(scope, &recorded, done).await?;
            Ok(Outcome::Ran {
                seq: recorded.seq,
                review: recorded.review,
            })
        }
        Err(reason) => Err(interrupted(scope, &recorded, reason).await),
    }
}

/// record request (refused) -> refuse -> record response.
async fn refuse<E: Exchange>(
    scope: &SessionScope,
    adapter: &mut E,
    mut record: RequestRecord,
    judged: Judged,
    refusal: Refusal,
) -> Result<Outcome, CloseReason> {
    let kind = record.kind;
    record.judged = Some(judged);
    record.refusal = Some(refusal.clone());
    let rec = scope.recording();
    let recorded = match rec.request(record).await {
        Ok(r) => r,
        Err(failed) => return Err(not_recorded(scope, adapter, failed, kind).await),
    };
    adapter.refuse(&refusal).await?;
    let mut r = ResponseRecord::new(StatementStatus::Blocked);
    r.error = Some(refusal.recorded());
    finish(scope, &recorded, r).await?;
    Ok(Outcome::Refused(refusal))
}

/// record response, and tell an approving review how its request ended.
async fn finish(
    scope: &SessionScope,
    recorded: &RecordedRequest,
    r: ResponseRecord,
) -> Result<(), CloseReason> {
    let response = scope
        .recording()
        .response(recorded, r)
        .await
        .map_err(|_| CloseReason::RecorderStopped)?;
    scope.gateway().reviews().note_outcome(&response);
    Ok(())
}

/// The session ends while a request runs: its response says so.
async fn interrupted(
    scope: &SessionScope,
    recorded: &RecordedRequest,
    reason: CloseReason,
) -> CloseReason {
    let mut r = ResponseRecord::new(StatementStatus::Interrupted);
    r.error = Some(format!("session ended: {reason}"));
    match finish(scope, recorded, r).await {
        Ok(()) => reason,
        Err(stopped) => stopped,
    }
}

#[cfg(test)]
mod tests;
