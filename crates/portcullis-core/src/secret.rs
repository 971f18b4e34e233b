//! Secrets that must never reach a log line, a client or a recording.

use std::fmt;

/// A secret value: `Debug` and `Display` print a placeholder, and it has no
/// serde support, so it cannot end up in a log, a recording or a JSON reply
/// by accident. Use [`Secret::expose`] only where the value is sent to the
/// party that owns it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}
