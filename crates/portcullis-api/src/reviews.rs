//! `/v1/reviews`: what reviewers see and decide.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use portcullis_core::gateway::Gateway;
use portcullis_core::review::{Review, ReviewFilter, ReviewState, may_review};
use portcullis_core::time::now_micros;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::Caller;
use crate::error::ApiError;

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    /// `pending`, `approved`, `rejected`; absent: all.
    state: Option<String>,
    limit: Option<u64>,
}

#[derive(Debug, Deserialize)]
pub struct RejectBody {
    reason: String,
}

/// A review as the API shows it: everything a reviewer needs to decide.
fn view(review: &Review, caller: &Caller) -> Value {
    let mut v = serde_json::to_value(review).unwrap_or(Value::Null);
    if let Value::Object(m) = &mut v {
        m.insert("status".into(), json!(review.status(now_micros())));
        m.insert(
            "you_may_decide".into(),
            json!(
                review.state == ReviewState::Pending
                    && caller.0.identity != review.request.identity
                    && may_review(&caller.0, review)
            ),
        );
    }
    v
}

/// Reviewers see the reviews they may decide; requesters see their own.
fn visible(review: &Review, caller: &Caller) -> bool {
    review.request.identity == caller.0.identity || may_review(&caller.0, review)
}

pub async fn list(
    State(gateway): State<Arc<Gateway>>,
    caller: Caller,
    Query(q): Query<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    let state = match q.state.as_deref() {
        None => None,
        Some("pending") => Some(ReviewState::Pending),
        Some("approved") => Some(ReviewState::Approved),
        Some("rejected") => Some(ReviewState::Rejected),
        Some(other) => {
            return Err(ApiError::BadRequest(format!(
                "unknown state \"{other}\" (pending, approved, rejected)"
            )));
        }
    };
    let reviews = gateway
        .reviews()
        .list(ReviewFilter {
            state,
            limit: Some(q.limit.unwrap_or(100).min(1000)),
        })
        .await?;
    let shown: Vec<Value> = reviews
        .iter()
        .filter(|r| visible(r, &caller))
        .map(|r| view(r, &caller))
        .collect();
    Ok(Json(json!({ "reviews": shown })))
}

pub async fn show(
    State(gateway): State<Arc<Gateway>>,
    caller: Caller,
    Path(id): Path<u64>,
) -> Result<Json<Value>, ApiError> {
    match gateway.reviews().get(id).await? {
        Some(r) if visible(&r, &caller) => Ok(Json(view(&r, &caller))),
        // Invisible and missing look the same.
        _ => Err(ApiError::NotFound(format!("review {id} not found"))),
    }
}

pub async fn approve(
    State(gateway): State<Arc<Gateway>>,
    caller: Caller,
    Path(id): Path<u64>,
) -> Result<Json<Value>, ApiError> {
    let review = gateway.reviews().approve(id, &caller.0).await?;
    Ok(Json(view(&review, &caller)))
}

pub async fn reject(
    State(gateway): State<Arc<Gateway>>,
    caller: Caller,
    Path(id): Path<u64>,
    body: Option<Json<RejectBody>>,
) -> Result<Json<Value>, ApiError> {
    let reason = body.map(|b| b.0.reason).unwrap_or_default();
    let review = gateway.reviews().reject(id, &caller.0, &reason).await?;
    Ok(Json(view(&review, &caller)))
}
