//! Why a statement could not be classified.
//!
//! Every variant means "unknown": callers must fail closed (block on any
//! guarded policy), never guess.

/// Classification failed; the statement must be treated as unparseable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClassifyError {
    /// PostgreSQL's parser rejected the text (the message is the parser's).
    #[error("statement could not be parsed: {0}")]
    Parse(String),
    /// The parse tree could not be fully walked.
    #[error("statement could not be fully classified: {0}")]
    Incomplete(String),
    /// The classifier itself failed (a bug); the statement is not judged.
    #[error("internal classifier error: {0}")]
    Internal(String),
}
