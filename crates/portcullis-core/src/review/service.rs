//! The review workflow: request, decide, wait, and hand out the approval once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use tokio::sync::watch;

use crate::auth::Principal;
use crate::record::audit::AuditEntry;
use crate::store::{Store, StoreError};
use crate::time::now_micros;

use super::notify::{Notice, NoticeKind, Notifier};
use super::{
    Binding, Decision, NewReview, Rejection, Review, ReviewError, ReviewFilter, ReviewState,
};

/// How a wait for a decision ended.
#[derive(Debug)]
pub enum WaitOutcome {
    Approved(Review),
    Rejected(Review),
    /// The wait's own limit passed; the review stays pending.
    TimedOut,
    /// The review itself expired undecided.
    Expired,
}

/// Shared by every adapter and the API.
pub struct ReviewService {
    store: Arc<dyn Store>,
    /// Decisions announced to sessions waiting on them (this process only;
    /// after a restart nobody waits, and the stored state is the truth).
    decided: Mutex<HashMap<u64, watch::Sender<Option<ReviewState>>>>,
    /// Decisions are read-modify-write: one at a time.
    serial: tokio::sync::Mutex<()>,
    notifier: OnceLock<Arc<dyn Notifier>>,
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StoreError::Backend(format!("store task failed: {e}")))?
}

impl ReviewService {
    pub fn new(store: Arc<dyn Store>) -> Self {
        ReviewService {
            store,
            decided: Mutex::new(HashMap::new()),
            serial: tokio::sync::Mutex::new(()),
            notifier: OnceLock::new(),
        }
    }

    /// Installs the webhook sender (once, at start-up).
    pub fn set_notifier(&self, notifier: Arc<dyn Notifier>) {
        let _ = self.notifier.set(notifier);
    }

    fn notify(&self, kind: NoticeKind, review: &Review) {
        if let Some(n) = self.notifier.get() {
            n.notify(Notice {
                kind,
                review: review.clone(),
            });
        }
    }

    fn announce(&self, id: u64, state: ReviewState) {
        let mut map = self.decided.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(tx) = map.remove(&id) {
            let _ = tx.send(Some(state));
        }
    }

    async fn audit(&self, actor: &str, action: &str, id: u64, detail: Option<String>) {
        let store = self.store.clone();
        let entry = AuditEntry::new(actor, action, Some(format!("review:{id}")), detail);
        if let Err(e) = blocking(move || store.audit(&entry)).await {
            tracing::error!(error = %e, action, "could not write the audit log");
        }
    }

    /// Stores a new pending review and tells the webhooks.
    pub async fn request(&self, new: NewReview) -> Result<Review, ReviewError> {
        let store = self.store.clone();
        let stored = new.clone();
        let id = blocking(move || store.insert_review(&stored)).await?;
        let review = Review {
            id,
            state: ReviewState::Pending,
            request: new,
            approvals: Vec::new(),
            rejection: None,
            grant_expires_at: None,
            executed_at: None,
            executed_session: None,
            outcome: None,
            estimate: None,
        };
        tracing::info!(review = id, identity = %review.request.identity, connection = %review.request.connection, rule = review.request.rule.as_deref().unwrap_or(""), "statement held for review");
        self.audit(
            &review.request.identity,
            "review.request",
            id,
            Some(format!(
                "session {} on {}, rule {}",
                review.request.session_id,
                review.request.connection,
                review.request.rule.as_deref().unwrap_or("default")
            )),
        )
        .await;
        self.notify(NoticeKind::Requested, &review);
        Ok(review)
    }

    pub async fn get(&self, id: u64) -> Result<Option<Review>, ReviewError> {
        let store = self.store.clone();
        Ok(blocking(move || store.review(id)).await?)
    }

    pub async fn list(&self, filter: ReviewFilter) -> Result<Vec<Review>, ReviewError> {
        let store = self.store.clone();
        Ok(blocking(move || store.reviews(&filter)).await?)
    }

    /// Loads a review that `reviewer` may decide now.
    async fn decidable(&self, id: u64, reviewer: &Principal) -> Result<Review, ReviewError> {
        let review = self.get(id).await?.ok_or(ReviewError::NotFound(id))?;
        // Those who may not decide it do not learn that it exists.
        if reviewer.identity != review.request.identity && !may_review(reviewer, &review) {
            return Err(ReviewError::NotFound(id));
        }
        let now = now_micros();
        if review.state != ReviewState::Pending {
            return Err(ReviewError::NotPending {
                id,
                state: review.status(now).to_string(),
            });
        }
        if now >= review.request.expires_at {
            return Err(ReviewError::Expired(id));
        }
        if reviewer.identity == review.request.identity {
            return Err(ReviewError::OwnStatement);
        }
        Ok(review)
    }

    /// Adds `reviewer`'s approval; with enough approvals the statement may run.
    pub async fn approve(&self, id: u64, reviewer: &Principal) -> Result<Review, ReviewError> {
        let _one = self.serial.lock().await;
        let mut review = self.decidable(id, reviewer).await?;
        if review.approvals.iter().any(|a| a.by == reviewer.identity) {
            return Err(ReviewError::AlreadyApproved(id));
        }
        let now = now_micros();
        review.approvals.push(Decision {
            by: reviewer.identity.clone(),
            at: now,
        });
        let complete =
            review.approvals.len() as u64 >= u64::from(review.request.approvals_required);
        if complete {
            review.state = ReviewState::Approved;
            review.grant_expires_at = Some(now.saturating_add(review.request.grant_ttl_us));
        }
        let store = self.store.clone();
        let saved = review.clone();
        blocking(move || store.save_review(&saved)).await?;
        self.audit(
            &reviewer.identity,
            "review.approve",
            id,
            Some(format!(
                "{}/{} approvals",
                review.approvals.len(),
                review.request.approvals_required
            )),
        )
        .await;
        tracing::info!(review = id, reviewer = %reviewer.identity, complete, "review approval recorded");
        if complete {
            self.announce(id, ReviewState::Approved);
            self.notify(NoticeKind::Approved, &review);
        }
        Ok(review)
    }

    /// Rejects the statement for good, with a reason the client is shown.
    pub async fn reject(
        &self,
        id: u64,
        reviewer: &Principal,
        reason: &str,
    ) -> Result<Review, ReviewError> {
        let reason = reason.trim();
        if reason.is_empty() {
            return Err(ReviewError::ReasonRequired);
        }
        let _one = self.serial.lock().await;
        let mut review = self.decidable(id, reviewer).await?;
        review.state = ReviewState::Rejected;
        review.rejection = Some(Rejection {
            by: reviewer.identity.clone(),
            at: now_micros(),
            reason: reason.to_string(),
        });
        let store = self.store.clone();
        let saved = review.clone();
        blocking(move || store.save_review(&saved)).await?;
        self.audit(
            &reviewer.identity,
            "review.reject",
            id,
            Some(reason.to_string()),
        )
        .await;
        tracing::info!(review = id, reviewer = %reviewer.identity, "review rejected");
        self.announce(id, ReviewState::Rejected);
        self.notify(NoticeKind::Rejected, &review);
        Ok(review)
    }

    /// Waits (at most `limit`) for review `id` to be decided.
    pub async fn wait(&self, id: u64, limit: Duration) -> Result<WaitOutcome, ReviewError> {
        let mut rx = {
            let mut map = self.decided.lock().unwrap_or_else(|p| p.into_inner());
            map.entry(id)
                .or_insert_with(|| watch::channel(None).0)
                .subscribe()
        };
        // A decision may have landed before we subscribed: the store is the truth.
        let review = self.get(id).await?.ok_or(ReviewError::NotFound(id))?;
        let expires_in = Duration::from_micros(
            u64::try_from(review.request.expires_at - now_micros()).unwrap_or(0),
        );
        let deadline = tokio::time::Instant::now() + limit.min(expires_in);
        let mut state = review.state;
        while state == ReviewState::Pending {
            match tokio::time::timeout_at(deadline, rx.changed()).await {
                Ok(Ok(())) => {
                    if let Some(s) = *rx.borrow_and_update() {
                        state = s;
                    }
                }
                // The sender is gone only when the decision was announced.
                Ok(Err(_)) => break,
                Err(_) => {
                    let timed_out = limit <= expires_in;
                    return Ok(if timed_out {
                        WaitOutcome::TimedOut
                    } else {
                        WaitOutcome::Expired
                    });
                }
            }
        }
        let review = self.get(id).await?.ok_or(ReviewError::NotFound(id))?;
        Ok(match review.state {
            ReviewState::Approved => WaitOutcome::Approved(review),
            ReviewState::Rejected => WaitOutcome::Rejected(review),
            ReviewState::Pending => WaitOutcome::TimedOut,
        })
    }

    /// The unused approval matching `binding`, taken for `session` (at most once).
    pub async fn claim_grant(
        &self,
        binding: Binding,
        session: &str,
    ) -> Result<Option<u64>, ReviewError> {
        let store = self.store.clone();
        let session = session.to_string();
        let id = blocking(move || store.claim_grant(&binding, now_micros(), &session)).await?;
        if let Some(id) = id {
            self.audit("gateway", "review.execute", id, None).await;
        }
        Ok(id)
    }

    /// Takes the approval of review `id` for `session`; false if it is not usable.
    pub async fn claim(&self, id: u64, session: &str) -> Result<bool, ReviewError> {
        let store = self.store.clone();
        let session = session.to_string();
        let claimed = blocking(move || store.claim_review(id, now_micros(), &session)).await?;
        if claimed {
            self.audit("gateway", "review.execute", id, None).await;
        }
        Ok(claimed)
    }

    /// Notes how the approved statement ended.
    pub async fn executed(&self, id: u64, outcome: String) -> Result<(), ReviewError> {
        self.update(id, move |r| r.outcome = Some(outcome)).await
    }

    /// Attaches the planner's estimate (computed after the request).
    pub async fn set_estimate(&self, id: u64, estimate: String) -> Result<(), ReviewError> {
        self.update(id, move |r| r.estimate = Some(estimate)).await
    }

    async fn update(&self, id: u64, f: impl FnOnce(&mut Review)) -> Result<(), ReviewError> {
        let _one = self.serial.lock().await;
        let mut review = self.get(id).await?.ok_or(ReviewError::NotFound(id))?;
        f(&mut review);
        let store = self.store.clone();
        blocking(move || store.save_review(&review)).await?;
        Ok(())
    }
}

/// Members of any of the review's reviewer groups may decide it.
pub fn may_review(reviewer: &Principal, review: &Review) -> bool {
    review
        .request
        .reviewers
        .iter()
        .any(|g| reviewer.groups.iter().any(|mine| mine == g))
}
