//! What the state store provides for reviews.

use crate::store::StoreError;

use super::{Binding, NewReview, Review, ReviewFilter};

/// Reviews and their single-use grants, kept so that they survive restarts.
pub trait ReviewStore: Send + Sync {
    /// Stores a new pending review; returns its id.
    fn insert_review(&self, review: &NewReview) -> Result<u64, StoreError>;
    fn review(&self, id: u64) -> Result<Option<Review>, StoreError>;
    /// Reviews, newest first.
    fn reviews(&self, filter: &ReviewFilter) -> Result<Vec<Review>, StoreError>;
    /// Overwrites a review's decisions and outcome.
    fn save_review(&self, review: &Review) -> Result<(), StoreError>;
    /// Atomically takes the oldest unused, unexpired approval matching
    /// `binding`, marking it executed by `session`.
    fn claim_grant(
        &self,
        binding: &Binding,
        now: i64,
        session: &str,
    ) -> Result<Option<u64>, StoreError>;
    /// Atomically marks approved review `id` executed by `session`; false if
    /// it was not approved, already used, or its approval expired.
    fn claim_review(&self, id: u64, now: i64, session: &str) -> Result<bool, StoreError>;
}
