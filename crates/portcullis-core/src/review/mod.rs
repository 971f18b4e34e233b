//! Reviews: a request a policy holds waits for people to approve it, then
//! runs exactly as approved, once. [`ReviewService::hold`] is the flow
//! every adapter uses (claim, request, wait or refuse, messages).
//!
//! A [`Review`] records the held statement, who sent it and from where, and
//! its decisions. Approval turns it into a single-use grant bound to the
//! identity, the connection, the statement's exact bytes, its parameters and
//! the policy version; [`ReviewService`] hands that grant out at most once.

mod error;
mod hold;
mod model;
pub mod notify;
mod service;
mod store;

pub use error::ReviewError;
pub use hold::{Asker, Estimate, HeldNotice, Hold, HoldRequest, HoldStart, Waiting};
pub use model::{Binding, Decision, NewReview, Rejection, Review, ReviewFilter, ReviewState};
pub use notify::{Notice, NoticeKind, Notifier};
pub use service::{ReviewService, WaitOutcome, may_review};
pub use store::ReviewStore;

use sha2::{Digest, Sha256};

/// Hex SHA-256 of a statement's exact bytes.
pub fn statement_hash(text: &[u8]) -> String {
    hex::encode(Sha256::digest(text))
}

/// Hex SHA-256 of bound parameters (format code and value of each, with
/// NULL distinct from empty); `None` (simple protocol) hashes like no parameters.
pub fn params_hash(params: &[(i16, Option<&[u8]>)]) -> String {
    let mut h = Sha256::new();
    h.update((params.len() as u64).to_be_bytes());
    for (format, value) in params {
        h.update(format.to_be_bytes());
        match value {
            None => h.update([0u8]),
            Some(v) => {
                h.update([1u8]);
                h.update((v.len() as u64).to_be_bytes());
                h.update(v);
            }
        }
    }
    hex::encode(h.finalize())
}

#[cfg(test)]
mod tests;
