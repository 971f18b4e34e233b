//! Globs over result-column sources and names.
//!
//! Matching is case-insensitive (PostgreSQL folds unquoted identifiers, and
//! masking one column too many is the safe mistake) and `*` crosses dots, so
//! `*.email` matches `public.users.email`.

use globset::{Glob, GlobBuilder, GlobMatcher};

use crate::error::MaskError;

/// A compiled glob.
#[derive(Debug, Clone)]
pub(crate) struct Selector {
    matcher: GlobMatcher,
}

impl Selector {
    /// A `column` glob: fewer than three dotted parts are anchored at the end
    /// (`users.email` means `*.users.email`).
    pub(crate) fn column(rule: usize, glob: &str) -> Result<Self, MaskError> {
        let parts = glob.split('.').count();
        let full = match parts {
            1 => format!("*.*.{glob}"),
            2 => format!("*.{glob}"),
            _ => glob.to_owned(),
        };
        Self::build(rule, glob, &full)
    }

    /// A `name` glob over the result column's name or alias.
    pub(crate) fn name(rule: usize, glob: &str) -> Result<Self, MaskError> {
        Self::build(rule, glob, glob)
    }

    fn build(rule: usize, written: &str, glob: &str) -> Result<Self, MaskError> {
        let invalid = |message: String| MaskError::InvalidGlob {
            rule,
            glob: written.to_owned(),
            message,
        };
        if written.is_empty() {
            return Err(invalid("empty glob".to_owned()));
        }
        let glob: Glob = GlobBuilder::new(glob)
            .case_insensitive(true)
            .literal_separator(false)
            .backslash_escape(true)
            .build()
            .map_err(|e| invalid(e.kind().to_string()))?;
        Ok(Selector {
            matcher: glob.compile_matcher(),
        })
    }

    pub(crate) fn is_match(&self, candidate: &str) -> bool {
        self.matcher.is_match(candidate)
    }
}
