//! Why a review action was refused.

use thiserror::Error;

use crate::store::StoreError;

#[derive(Debug, Error)]
pub enum ReviewError {
    #[error("review {0} not found")]
    NotFound(u64),
    #[error("review {id} is {state}; only pending reviews can be decided")]
    NotPending { id: u64, state: String },
    #[error("review {0} has expired")]
    Expired(u64),
    #[error("you cannot decide on your own statement")]
    OwnStatement,
    #[error("you have already approved review {0}")]
    AlreadyApproved(u64),
    #[error("a rejection needs a reason")]
    ReasonRequired,
    #[error(transparent)]
    Store(#[from] StoreError),
}
