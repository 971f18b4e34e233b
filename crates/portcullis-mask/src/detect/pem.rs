//! PEM private key blocks (`-----BEGIN ... PRIVATE KEY-----` to the matching
//! END line). A block whose END line is missing (truncated output) is masked
//! up to the end of its base64 body, failing closed.

use regex::bytes::Regex;

use super::Finding;

#[derive(Debug)]
pub(crate) struct PrivateKey {
    begin: Regex,
    end: Regex,
}

impl PrivateKey {
    pub(crate) fn new() -> Result<Self, regex::Error> {
        Ok(PrivateKey {
            begin: Regex::new(r"(?-u)-----BEGIN [A-Z0-9 ]{0,40}PRIVATE KEY( BLOCK)?-----")?,
            end: Regex::new(r"(?-u)-----END [A-Z0-9 ]{0,40}PRIVATE KEY( BLOCK)?-----")?,
        })
    }

    pub(crate) fn find(&self, text: &[u8], rule: usize, out: &mut Vec<Finding>) {
        let mut from = 0;
        // Once an END search fails, later ones would too: never rescan (linear time).
        let mut ends_left = true;
        while let Some(b) = self.begin.find_at(text, from) {
            let end = match ends_left.then(|| self.end.find_at(text, b.end())).flatten() {
                Some(e) => e.end(),
                None => {
                    ends_left = false;
                    body_end(text, b.end())
                }
            };
            out.push(Finding {
                start: b.start(),
                end,
                rule,
            });
            from = end.max(b.end());
        }
    }
}

fn body_end(text: &[u8], mut i: usize) -> usize {
    while i < text.len()
        && (text[i].is_ascii_alphanumeric()
            || matches!(text[i], b'+' | b'/' | b'=' | b':' | b',' | b'-' | b'\\')
            || text[i].is_ascii_whitespace())
    {
        i += 1;
    }
    i
}
