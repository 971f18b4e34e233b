//! Masking styles: what a sensitive value becomes.
//!
//! Styles work on the value's bytes and produce UTF-8 text; whether that text
//! can be sent for the column's type is decided in [`crate::types`].

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::config::{MaskRuleConfig, StyleKind};
use crate::detect::is_email;
use crate::error::MaskError;

/// The token used by `redact` when none is configured, and for `null` in free text.
pub(crate) const DEFAULT_TOKEN: &str = "[REDACTED]";
/// Hex characters kept from the HMAC: 64 bits, collision-free for joins in practice.
const HASH_HEX_LEN: usize = 16;
/// Email partial: fixed-width stars hide the length of the local part and domain.
const EMAIL_LOCAL_STARS: &str = "****";
const EMAIL_DOMAIN_STARS: &str = "*****";
const DEFAULT_SUFFIX: usize = 4;
const DEFAULT_EMAIL_PREFIX: usize = 1;

/// A compiled style.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Style {
    Redact(String),
    Partial {
        prefix: Option<usize>,
        suffix: Option<usize>,
    },
    Hash,
    Null,
}

/// The deployment's HMAC key, pre-keyed once (cloning keyed state is cheaper than re-keying).
#[derive(Clone)]
pub(crate) struct Keyed(Option<Hmac<Sha256>>);

impl std::fmt::Debug for Keyed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keyed(<redacted>)")
    }
}

impl Keyed {
    pub(crate) fn new(key: &[u8]) -> Self {
        if key.is_empty() {
            return Keyed(None);
        }
        Keyed(Hmac::<Sha256>::new_from_slice(key).ok())
    }

    pub(crate) fn is_some(&self) -> bool {
        self.0.is_some()
    }
}

impl Style {
    pub(crate) fn from_config(rule: usize, cfg: &MaskRuleConfig) -> Result<Style, MaskError> {
        let style = cfg.style.as_str();
        let not_allowed = |option| {
            Err(MaskError::OptionNotAllowed {
                rule,
                option,
                style,
            })
        };
        if cfg.style != StyleKind::Partial {
            if cfg.keep_prefix.is_some() {
                return not_allowed("keep_prefix");
            }
            if cfg.keep_suffix.is_some() {
                return not_allowed("keep_suffix");
            }
        }
        if cfg.style != StyleKind::Redact && cfg.token.is_some() {
            return not_allowed("token");
        }
        Ok(match cfg.style {
            StyleKind::Redact => {
                let token = cfg
                    .token
                    .clone()
                    .unwrap_or_else(|| DEFAULT_TOKEN.to_owned());
                if token.is_empty() {
                    return Err(MaskError::EmptyToken { rule });
                }
                Style::Redact(token)
            }
            StyleKind::Partial => Style::Partial {
                prefix: cfg.keep_prefix,
                suffix: cfg.keep_suffix,
            },
            StyleKind::Hash => Style::Hash,
            StyleKind::Null => Style::Null,
        })
    }

    pub(crate) fn is_null(&self) -> bool {
        matches!(self, Style::Null)
    }

    /// The masked text for a whole value; `None` means SQL NULL.
    pub(crate) fn render(&self, value: &[u8], key: &Keyed) -> Option<String> {
        match self {
            Style::Null => None,
            _ => {
                let mut out = String::new();
                self.render_into(value, key, &mut out);
                Some(out)
            }
        }
    }

    /// Appends the masked text for `value`; `null` (impossible inside text) redacts.
    pub(crate) fn render_into(&self, value: &[u8], key: &Keyed, out: &mut String) {
        match self {
            Style::Redact(token) => out.push_str(token),
            Style::Null => out.push_str(DEFAULT_TOKEN),
            Style::Hash => hash_into(value, key, out),
            Style::Partial { prefix, suffix } => {
                let text = String::from_utf8_lossy(value);
                if is_email(value) {
                    email_partial(&text, prefix.unwrap_or(DEFAULT_EMAIL_PREFIX), out);
                } else {
                    partial(
                        &text,
                        prefix.unwrap_or(0),
                        suffix.unwrap_or(DEFAULT_SUFFIX),
                        out,
                    );
                }
            }
        }
    }
}

fn hash_into(value: &[u8], key: &Keyed, out: &mut String) {
    let Some(mac) = &key.0 else {
        // Compile refuses `hash` without a key; never fall back to an unkeyed digest.
        out.push_str(DEFAULT_TOKEN);
        return;
    };
    let mut mac = mac.clone();
    mac.update(value);
    let digest = mac.finalize().into_bytes();
    let hex = hex::encode(&digest[..HASH_HEX_LEN / 2]);
    out.push_str(&hex);
}

/// At most half of the significant characters are ever revealed: the
/// configured prefix is honoured first, then the suffix.
fn visible(prefix: usize, suffix: usize, significant: usize) -> (usize, usize) {
    let budget = significant / 2;
    let p = prefix.min(budget);
    (p, suffix.min(budget - p))
}

fn partial(text: &str, prefix: usize, suffix: usize, out: &mut String) {
    let significant = text.chars().filter(|c| c.is_alphanumeric()).count();
    let (p, s) = visible(prefix, suffix, significant);
    let mut idx = 0;
    for c in text.chars() {
        if !c.is_alphanumeric() {
            out.push(c);
            continue;
        }
        out.push(if idx < p || idx >= significant - s {
            c
        } else {
            '*'
        });
        idx += 1;
    }
}

/// `jane.doe@example.com` -> `j****@*****.com`: the top-level domain stays.
fn email_partial(text: &str, prefix: usize, out: &mut String) {
    let (local, domain) = text.rsplit_once('@').unwrap_or((text, ""));
    let keep = prefix.min(local.chars().count() / 2);
    out.extend(local.chars().take(keep));
    out.push_str(EMAIL_LOCAL_STARS);
    out.push('@');
    out.push_str(EMAIL_DOMAIN_STARS);
    if let Some((_, tld)) = domain.rsplit_once('.') {
        out.push('.');
        out.push_str(tld);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn partial_of(s: &str, prefix: Option<usize>, suffix: Option<usize>) -> String {
        Style::Partial { prefix, suffix }
            .render(s.as_bytes(), &Keyed::new(b""))
            .unwrap_or_default()
    }

    #[test]
    fn partial_card_keeps_separators_and_last4() {
        assert_eq!(
            partial_of("4444 3333 2222 4444", None, Some(4)),
            "**** **** **** 4444"
        );
        assert_eq!(partial_of("123-45-6789", None, None), "***-**-6789");
    }

    #[test]
    fn partial_email() {
        assert_eq!(
            partial_of("jane@example.com", None, None),
            "j****@*****.com"
        );
        assert_eq!(partial_of("j@example.co.uk", None, None), "****@*****.uk");
    }

    #[test]
    fn partial_never_reveals_more_than_half() {
        assert_eq!(partial_of("Bob", None, None), "**b");
        assert_eq!(
            partial_of("4111111111111111", Some(6), Some(4)),
            "411111********11"
        );
    }

    #[test]
    fn hash_is_stable_and_keyed() {
        let a = Style::Hash.render(b"x", &Keyed::new(b"k1"));
        assert_eq!(a, Style::Hash.render(b"x", &Keyed::new(b"k1")));
        assert_ne!(a, Style::Hash.render(b"x", &Keyed::new(b"k2")));
        assert_eq!(a.map(|h| h.len()), Some(HASH_HEX_LEN));
    }
}
