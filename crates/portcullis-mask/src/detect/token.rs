//! Bearer tokens and API token shapes with well-known prefixes
//! (Stripe `sk_live_`, GitHub `ghp_`/`github_pat_`, Slack `xoxb-`, GitLab
//! `glpat-`, Google `AIza`, OpenAI/Anthropic `sk-`, npm `npm_`).
//!
//! Only the credential is reported for `Bearer <token>`, so the scheme stays
//! readable in masked logs.

use regex::bytes::Regex;

use super::Finding;

#[derive(Debug)]
pub(crate) struct ApiToken {
    prefixed: Regex,
    bearer: Regex,
}

impl ApiToken {
    pub(crate) fn new() -> Result<Self, regex::Error> {
        Ok(ApiToken {
            prefixed: Regex::new(concat!(
                r"(?-u)\b(?:(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}",
                r"|gh[pousr]_[A-Za-z0-9]{30,}",
                r"|github_pat_[A-Za-z0-9_]{40,}",
                r"|xox[abposre]-[A-Za-z0-9-]{10,}",
                r"|glpat-[A-Za-z0-9_-]{20,}",
                r"|AIza[A-Za-z0-9_-]{35}",
                r"|sk-(?:proj-|ant-)?[A-Za-z0-9_-]{32,}",
                r"|npm_[A-Za-z0-9]{36})\b"
            ))?,
            bearer: Regex::new(r"(?-u)\b(?:Bearer|bearer|BEARER)[ \t]+([A-Za-z0-9._~+/-]{16,}=*)")?,
        })
    }

    pub(crate) fn find(&self, text: &[u8], rule: usize, out: &mut Vec<Finding>) {
        out.extend(self.prefixed.find_iter(text).map(|m| Finding {
            start: m.start(),
            end: m.end(),
            rule,
        }));
        for caps in self.bearer.captures_iter(text) {
            if let Some(m) = caps.get(1) {
                out.push(Finding {
                    start: m.start(),
                    end: m.end(),
                    rule,
                });
            }
        }
    }
}
