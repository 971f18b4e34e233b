//! Turning detector findings into masked text.

use crate::detect::Finding;
use crate::style::{Keyed, Style};

/// Result of scanning one value or text.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Nothing detected: the input can be sent as is (no copy made).
    Unchanged,
    /// Detected spans replaced.
    Masked(Vec<u8>),
    /// A detection whose rule says `null`: the whole value becomes SQL NULL.
    Null,
}

/// Sorts findings and drops overlaps: the earliest start wins, then the longest span.
pub(crate) fn resolve(findings: &mut Vec<Finding>) {
    findings.sort_unstable_by_key(|f| (f.start, std::cmp::Reverse(f.end)));
    let mut end = 0;
    findings.retain(|f| {
        let keep = f.start >= end && f.end > f.start;
        if keep {
            end = f.end;
        }
        keep
    });
}

/// Copies `text`, replacing each (resolved) finding with its rule's style.
pub(crate) fn rewrite(text: &[u8], findings: &[Finding], styles: &[Style], key: &Keyed) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() + 16);
    let mut masked = String::new();
    let mut at = 0;
    for f in findings {
        out.extend_from_slice(&text[at..f.start]);
        masked.clear();
        if let Some(style) = styles.get(f.rule) {
            style.render_into(&text[f.start..f.end], key, &mut masked);
        } else {
            masked.push_str(crate::style::DEFAULT_TOKEN);
        }
        out.extend_from_slice(masked.as_bytes());
        at = f.end;
    }
    out.extend_from_slice(&text[at..]);
    out
}
