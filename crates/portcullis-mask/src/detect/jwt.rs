//! JSON Web Tokens: three base64url segments whose first decodes to a JSON
//! object with an `alg` member. The `eyJ` literal (base64 of `{"`) is the
//! trigger, so the regex engine's literal prefilter does the scanning.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use regex::bytes::Regex;

use super::Finding;

#[derive(Debug)]
pub(crate) struct Jwt {
    re: Regex,
}

impl Jwt {
    pub(crate) fn new() -> Result<Self, regex::Error> {
        Ok(Jwt {
            re: Regex::new(r"(?-u)\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*")?,
        })
    }

    pub(crate) fn find(&self, text: &[u8], rule: usize, out: &mut Vec<Finding>) {
        for m in self.re.find_iter(text) {
            let header = m
                .as_bytes()
                .split(|&b| b == b'.')
                .next()
                .unwrap_or_default();
            if header_has_alg(header) {
                out.push(Finding {
                    start: m.start(),
                    end: m.end(),
                    rule,
                });
            }
        }
    }
}

fn header_has_alg(segment: &[u8]) -> bool {
    URL_SAFE_NO_PAD
        .decode(segment)
        .ok()
        .and_then(|json| {
            serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(&json).ok()
        })
        .is_some_and(|h| h.contains_key("alg"))
}
