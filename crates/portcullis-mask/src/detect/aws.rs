//! AWS credentials.
//!
//! Access key ids have a fixed shape (`AKIA`/`ASIA` + 16 upper-case
//! alphanumerics). Secret access keys are 40 random base64 characters with no
//! marker of their own, so one is only reported within 80 bytes after an
//! `aws`/`secret` cue and only if it mixes upper case, lower case and digits
//! (which rules out hex digests such as SHA-1 commit ids).

use regex::bytes::Regex;

use super::Finding;

#[derive(Debug)]
pub(crate) struct AccessKeyId {
    re: Regex,
}

impl AccessKeyId {
    pub(crate) fn new() -> Result<Self, regex::Error> {
        Ok(AccessKeyId {
            re: Regex::new(r"(?-u)\b(?:AKIA|ASIA)[A-Z0-9]{16}\b")?,
        })
    }

    pub(crate) fn find(&self, text: &[u8], rule: usize, out: &mut Vec<Finding>) {
        out.extend(self.re.find_iter(text).map(|m| Finding {
            start: m.start(),
            end: m.end(),
            rule,
        }));
    }
}

#[derive(Debug)]
pub(crate) struct SecretKey {
    cue: Regex,
}

const WINDOW: usize = 80;
const LEN: usize = 40;

fn is_b64(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'/' || b == b'+'
}

impl SecretKey {
    pub(crate) fn new() -> Result<Self, regex::Error> {
        Ok(SecretKey {
            cue: Regex::new(r"(?-u)aws|AWS|Aws|secret|SECRET|Secret")?,
        })
    }

    pub(crate) fn find(&self, text: &[u8], rule: usize, out: &mut Vec<Finding>) {
        let mut from = 0;
        for cue in self.cue.find_iter(text) {
            let mut i = cue.end().max(from);
            let stop = (cue.end() + WINDOW).min(text.len());
            while i < stop {
                if !is_b64(text[i]) {
                    i += 1;
                    continue;
                }
                let start = i;
                while i < text.len() && is_b64(text[i]) {
                    i += 1;
                }
                let at_boundary = start == 0 || !is_b64(text[start - 1]);
                let padded = text.get(i) == Some(&b'=');
                if at_boundary && !padded && i - start == LEN && mixed(&text[start..i]) {
                    out.push(Finding {
                        start,
                        end: i,
                        rule,
                    });
                    break;
                }
            }
            from = i;
        }
    }
}

fn mixed(s: &[u8]) -> bool {
    s.iter().any(u8::is_ascii_uppercase)
        && s.iter().any(u8::is_ascii_lowercase)
        && s.iter().any(u8::is_ascii_digit)
}
