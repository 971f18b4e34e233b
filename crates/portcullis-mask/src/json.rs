//! Keeping scanned json/jsonb values valid JSON.
//!
//! Scanning the raw JSON text is fast and keeps the document byte-identical
//! outside the masked spans; it is correct whenever detections sit inside
//! string literals. When a replacement breaks the document (a card number
//! stored as a JSON number, a token containing a quote), the value is parsed
//! and masked node by node instead: strings and keys are scrubbed, numbers
//! that contain a detection become masked strings.

use serde_json::Value;

use crate::policy::Inner;
use crate::scan::Outcome;

/// Returns valid JSON text for a scanned value, or `None` (SQL NULL) when a
/// `null`-style detection was found.
pub(crate) fn repair(policy: &Inner, original: &[u8], scanned: Vec<u8>) -> Option<String> {
    let scanned = match String::from_utf8(scanned) {
        Ok(text) if serde_json::from_str::<serde::de::IgnoredAny>(&text).is_ok() => {
            return Some(text);
        }
        Ok(text) => text.into_bytes(),
        Err(e) => e.into_bytes(),
    };
    match serde_json::from_slice::<Value>(original) {
        Ok(value) => walk(policy, value).map(|v| v.to_string()),
        // Not JSON to begin with: send the scrubbed text as a JSON string.
        Err(_) => Some(Value::String(String::from_utf8_lossy(&scanned).into_owned()).to_string()),
    }
}

/// Scans the decoded strings and numbers of a JSON document.
///
/// Returns `Unchanged` when nothing was detected, so the raw bytes can be
/// forwarded as they are.
pub(crate) fn scan_decoded(policy: &Inner, original: &[u8]) -> Outcome {
    let Ok(value) = serde_json::from_slice::<Value>(original) else {
        // Not JSON after all (the server would not send this): scan it as text.
        return policy.scan(original);
    };
    let before = value.to_string();
    match walk(policy, value) {
        None => Outcome::Null,
        Some(v) => {
            let after = v.to_string();
            if after == before {
                Outcome::Unchanged
            } else {
                Outcome::Masked(after.into_bytes())
            }
        }
    }
}

fn scrub(policy: &Inner, s: String) -> Option<String> {
    match policy.scan(s.as_bytes()) {
        Outcome::Unchanged => Some(s),
        Outcome::Null => None,
        Outcome::Masked(b) => Some(String::from_utf8_lossy(&b).into_owned()),
    }
}

fn walk(policy: &Inner, value: Value) -> Option<Value> {
    Some(match value {
        Value::String(s) => Value::String(scrub(policy, s)?),
        Value::Number(n) => {
            let text = n.to_string();
            match policy.scan(text.as_bytes()) {
                Outcome::Unchanged => Value::Number(n),
                Outcome::Null => return None,
                Outcome::Masked(b) => Value::String(String::from_utf8_lossy(&b).into_owned()),
            }
        }
        Value::Array(items) => Value::Array(
            items
                .into_iter()
                .map(|v| walk(policy, v))
                .collect::<Option<_>>()?,
        ),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| Some((scrub(policy, k)?, walk(policy, v)?)))
                .collect::<Option<_>>()?,
        ),
        other => other,
    })
}
