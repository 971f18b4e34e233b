//! Masking on the wire: results, COPY data, errors, notices and
//! notifications leave the gateway with masked values only.
//!
//! The relay hands every complete client message to [`Masker::frontend`]
//! and every backend frame to [`Masker::backend`] *before* the tracker sees
//! it, so recordings only ever hold masked values. Plans are made once per
//! result (at RowDescription, CopyOutResponse, or the first DataRow of an
//! Execute); a result with nothing to mask streams through untouched.
//! Column sources come from the target's catalog ([`catalog`]), read over
//! the gateway's own second connection when first needed.

pub mod catalog;
mod exercise;
mod masker;
pub mod rows;
mod taint;
pub mod text;

use std::borrow::Cow;
use std::sync::Mutex;

use portcullis_mask::MaskPolicy;

pub use catalog::CatalogLoader;
pub use exercise::exercise_masker;
pub use masker::{Decision, Masker, RowMode};

/// Rows of a masked result larger than this are not inspected: the
/// statement ends with an error instead (they are buffered whole to be masked).
pub const MAX_MASKED_ROW: usize = 16 * 1024 * 1024;

/// The masking state of one session, shared by both relay directions.
pub struct MaskSession {
    pub masker: Mutex<Masker>,
    pub loader: tokio::sync::Mutex<CatalogLoader>,
}

impl MaskSession {
    pub fn lock(&self) -> std::sync::MutexGuard<'_, Masker> {
        self.masker.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Reads the catalog (opening the catalog connection if needed) and
    /// installs it; a failure is installed too, so results fail closed.
    pub async fn load_catalog(&self) {
        let loaded = self.loader.lock().await.load().await;
        self.lock().set_catalog(loaded);
    }
}

/// Statement text as it may be recorded: values the detectors find (literals
/// such as `WHERE email = 'jane@example.com'`) replaced.
pub fn scrub_statement<'a>(policy: &MaskPolicy, text: &'a str) -> Cow<'a, str> {
    if policy.has_detectors() {
        policy.scrub(text)
    } else {
        Cow::Borrowed(text)
    }
}
