//! Errors raised while compiling a masking policy.
//!
//! Every variant names the rule by its index in the configured list so the
//! configuration layer can point at the exact `[[mask]]` table.

use thiserror::Error;

/// Why a list of mask rules could not be compiled into a [`crate::MaskPolicy`].
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum MaskError {
    /// A rule has none of `column`, `name`, `detector`, `pattern`.
    #[error(
        "mask rule {rule}: exactly one of `column`, `name`, `detector`, `pattern` is required, found none"
    )]
    NoSelector {
        /// Index of the rule in the configured list.
        rule: usize,
    },
    /// A rule has more than one selector, which would make its meaning ambiguous.
    #[error(
        "mask rule {rule}: exactly one of `column`, `name`, `detector`, `pattern` is allowed, found {found}"
    )]
    MultipleSelectors {
        /// Index of the rule in the configured list.
        rule: usize,
        /// The selectors that were given, comma separated.
        found: String,
    },
    /// A `column` or `name` glob does not compile.
    #[error("mask rule {rule}: invalid glob {glob:?}: {message}")]
    InvalidGlob {
        /// Index of the rule in the configured list.
        rule: usize,
        /// The glob as written.
        glob: String,
        /// What is wrong with it.
        message: String,
    },
    /// A custom `pattern` does not compile (or is too large).
    #[error("mask rule {rule}: invalid pattern {pattern:?}: {message}")]
    InvalidPattern {
        /// Index of the rule in the configured list.
        rule: usize,
        /// The pattern as written.
        pattern: String,
        /// What is wrong with it.
        message: String,
    },
    /// An option that the rule's style does not use (e.g. `token` with `partial`).
    #[error("mask rule {rule}: option `{option}` is not allowed with style `{style}`")]
    OptionNotAllowed {
        /// Index of the rule in the configured list.
        rule: usize,
        /// The offending option.
        option: &'static str,
        /// The rule's style.
        style: &'static str,
    },
    /// The same detector appears in two rules; which style wins would be unclear.
    #[error("mask rule {rule}: detector `{detector}` is already configured by rule {first}")]
    DuplicateDetector {
        /// Index of the second rule.
        rule: usize,
        /// Index of the first rule naming the detector.
        first: usize,
        /// The detector's name.
        detector: &'static str,
    },
    /// `style = "hash"` without a deployment key would give guessable hashes.
    #[error("mask rule {rule}: style `hash` needs a non-empty deployment key")]
    MissingHashKey {
        /// Index of the rule in the configured list.
        rule: usize,
    },
    /// A redaction token must be non-empty so a masked value is visibly masked.
    #[error("mask rule {rule}: `token` must not be empty")]
    EmptyToken {
        /// Index of the rule in the configured list.
        rule: usize,
    },
    /// A built-in detector expression failed to compile (a bug in this crate).
    #[error("built-in detector `{detector}` failed to compile: {message}")]
    Builtin {
        /// The detector's name.
        detector: &'static str,
        /// The regex error.
        message: String,
    },
}

impl MaskError {
    /// The index of the rule at fault, so configuration errors can point at it.
    pub fn rule(&self) -> Option<usize> {
        match self {
            MaskError::NoSelector { rule }
            | MaskError::MultipleSelectors { rule, .. }
            | MaskError::InvalidGlob { rule, .. }
            | MaskError::InvalidPattern { rule, .. }
            | MaskError::OptionNotAllowed { rule, .. }
            | MaskError::DuplicateDetector { rule, .. }
            | MaskError::MissingHashKey { rule }
            | MaskError::EmptyToken { rule } => Some(*rule),
            MaskError::Builtin { .. } => None,
        }
    }
}
