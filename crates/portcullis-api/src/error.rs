//! API errors as JSON (`{"error": "..."}`) with the fitting status code.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use portcullis_core::review::ReviewError;
use serde_json::json;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Missing or invalid credentials: deliberately vague.
    #[error("authentication required: present a valid bearer token")]
    Unauthenticated,
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("the gateway's state store is unavailable")]
    Unavailable,
}

impl From<ReviewError> for ApiError {
    fn from(e: ReviewError) -> Self {
        match e {
            ReviewError::NotFound(_) => ApiError::NotFound(e.to_string()),
            ReviewError::OwnStatement => ApiError::Forbidden(e.to_string()),
            ReviewError::NotPending { .. }
            | ReviewError::Expired(_)
            | ReviewError::AlreadyApproved(_) => ApiError::Conflict(e.to_string()),
            ReviewError::ReasonRequired => ApiError::BadRequest(e.to_string()),
            ReviewError::Store(err) => {
                tracing::error!(error = %err, "review store unavailable");
                ApiError::Unavailable
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = match self {
            ApiError::Unauthenticated => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        };
        let mut response = (status, Json(json!({ "error": self.to_string() }))).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}
