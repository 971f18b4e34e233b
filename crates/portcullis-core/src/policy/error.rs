//! Configuration errors in a policy.

/// A policy definition that cannot be compiled. Policies with errors must not
/// be loaded (the gateway refuses to start rather than run unguarded).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("policy {policy}: unknown preset \"{preset}\" (known: {})", super::PRESET_NAMES.join(", "))]
    UnknownPreset { policy: String, preset: String },
    #[error("policy {policy}, rule {rule}: unknown fact \"{fact}\"")]
    UnknownFact {
        policy: String,
        rule: String,
        fact: String,
    },
    #[error("policy {policy}, rule {rule}: invalid pattern \"{pattern}\": {reason}")]
    BadPattern {
        policy: String,
        rule: String,
        pattern: String,
        reason: String,
    },
    #[error("policy {policy}, rule {rule}: invalid regex: {reason}")]
    BadRegex {
        policy: String,
        rule: String,
        reason: String,
    },
    #[error("policy {policy}, rule {rule}: {reason}")]
    BadRule {
        policy: String,
        rule: String,
        reason: String,
    },
    /// A rule whose kind of request is unclear or contradicts its criteria.
    #[error("policy {policy}, rule {rule}: {reason}")]
    RuleKind {
        policy: String,
        rule: String,
        reason: String,
    },
    #[error("policy {policy}, review: {reason}")]
    BadReview { policy: String, reason: String },
    #[error("policy {policy}: {reason}")]
    BadMask {
        policy: String,
        /// Position in `mask` (from 0), so the error can point at the rule.
        index: Option<usize>,
        reason: String,
    },
}
