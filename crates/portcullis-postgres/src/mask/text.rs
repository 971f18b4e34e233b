//! Free text that quotes values: ErrorResponse and NoticeResponse fields,
//! NotificationResponse payloads.
//!
//! Every human-readable field is scrubbed with the value detectors. On
//! connections with column rules, the values PostgreSQL quotes from a row
//! (`Key (email)=(jane@example.com) already exists`, `Failing row contains
//! (...)`) are redacted when they may come from a masked column, since a
//! column rule can mask values no detector recognises.

use std::borrow::Cow;

use portcullis_mask::MaskPolicy;

use crate::protocol::backend as b;
use crate::protocol::frame::{FrameError, Reader, put_cstr, write_frame};

/// Fields that carry text meant for people (and so may quote values).
const TEXT_FIELDS: &[u8] = b"MDHWqp";

const REDACTED: &str = "[REDACTED]";

/// Decides whether row values quoted in an error about `(schema, table)`
/// must be hidden (`None` table: unknown, so yes).
pub trait QuotedValues {
    fn hide(&self, schema: Option<&str>, table: Option<&str>, columns: &[&str]) -> bool;
}

/// Scrubs an ErrorResponse or NoticeResponse body; the new frame when changed.
pub fn error_or_notice(
    tag: u8,
    body: &[u8],
    policy: &MaskPolicy,
    quoted: &dyn QuotedValues,
) -> Result<Option<Vec<u8>>, FrameError> {
    let mut r = Reader::new(body, "ErrorResponse");
    let mut fields: Vec<(u8, &[u8])> = Vec::new();
    loop {
        let kind = r.u8()?;
        if kind == 0 {
            break;
        }
        fields.push((kind, r.cstr()?));
    }
    let field = |k: u8| {
        fields
            .iter()
            .find(|(kind, _)| *kind == k)
            .map(|(_, v)| String::from_utf8_lossy(v))
    };
    let schema = field(b's');
    let table = field(b't');
    let mut changed = false;
    let mut out_fields: Vec<(u8, Cow<'_, [u8]>)> = Vec::with_capacity(fields.len());
    for &(kind, value) in &fields {
        if !TEXT_FIELDS.contains(&kind) {
            out_fields.push((kind, Cow::Borrowed(value)));
            continue;
        }
        let mut text = String::from_utf8_lossy(value).into_owned();
        if (kind == b'D' || kind == b'M')
            && let Some(hidden) =
                hide_row_values(&text, schema.as_deref(), table.as_deref(), quoted)
        {
            text = hidden;
        }
        let scrubbed = policy.scrub(&text).into_owned();
        if scrubbed.as_bytes() != value {
            changed = true;
            out_fields.push((kind, Cow::Owned(scrubbed.into_bytes())));
        } else {
            out_fields.push((kind, Cow::Borrowed(value)));
        }
    }
    if !changed {
        return Ok(None);
    }
    let mut out = Vec::with_capacity(body.len() + 16);
    write_frame(&mut out, tag, |o| {
        for (kind, v) in &out_fields {
            o.push(*kind);
            put_cstr(
                o,
                &v.iter().copied().filter(|&c| c != 0).collect::<Vec<_>>(),
            );
        }
        o.push(0);
    });
    Ok(Some(out))
}

/// `Key (a, b)=(x, y)` and `Failing row contains (...)`: the values hidden
/// when they may come from masked columns.
fn hide_row_values(
    text: &str,
    schema: Option<&str>,
    table: Option<&str>,
    quoted: &dyn QuotedValues,
) -> Option<String> {
    let mut out = text.to_string();
    let mut changed = false;
    if let Some(start) = out.find("Key (")
        && let Some(eq) = out[start..].find(")=(").map(|p| start + p)
    {
        let columns: Vec<&str> = out[start + 5..eq].split(',').map(str::trim).collect();
        if quoted.hide(schema, table, &columns) {
            let values_start = eq + 3;
            let end = out[values_start..]
                .rfind(')')
                .map_or(out.len(), |p| values_start + p);
            out.replace_range(values_start..end, REDACTED);
            changed = true;
        }
    }
    if let Some(start) = out.find("Failing row contains (")
        && quoted.hide(schema, table, &[])
    {
        let values_start = start + "Failing row contains (".len();
        let end = out[values_start..]
            .rfind(')')
            .map_or(out.len(), |p| values_start + p);
        out.replace_range(values_start..end, REDACTED);
        changed = true;
    }
    changed.then_some(out)
}

/// Scrubs a NotificationResponse payload; the new frame when changed.
pub fn notification(body: &[u8], policy: &MaskPolicy) -> Result<Option<Vec<u8>>, FrameError> {
    let mut r = Reader::new(body, "NotificationResponse");
    let pid = r.i32()?;
    let channel = r.cstr()?;
    let payload = r.cstr()?;
    let Cow::Owned(scrubbed) = policy.scrub_bytes(payload) else {
        return Ok(None);
    };
    let mut out = Vec::with_capacity(body.len() + 16);
    write_frame(&mut out, b::NOTIFICATION_RESPONSE, |o| {
        o.extend_from_slice(&pid.to_be_bytes());
        put_cstr(o, channel);
        put_cstr(
            o,
            &scrubbed.into_iter().filter(|&c| c != 0).collect::<Vec<_>>(),
        );
    });
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use portcullis_mask::{DetectorKind, MaskRuleConfig};

    struct Always(bool);
    impl QuotedValues for Always {
        fn hide(&self, _: Option<&str>, _: Option<&str>, _: &[&str]) -> bool {
            self.0
        }
    }

    fn body(detail: &str) -> Vec<u8> {
        let mut out = Vec::new();
        b::error_response_full(
            &mut out,
            b::Severity::Error,
            "23505",
            "duplicate key value violates unique constraint \"users_card_key\"",
            Some(detail),
            None,
        );
        out[5..].to_vec()
    }

    #[test]
    fn unique_violation_values_are_hidden() {
        let p = MaskPolicy::compile(&[], b"k").unwrap();
        let b = body("Key (card)=(4111 1111 1111 1111) already exists.");
        let out = error_or_notice(b::ERROR_RESPONSE, &b, &p, &Always(true))
            .unwrap()
            .unwrap();
        let f = b::error_fields(&out[5..]).unwrap();
        assert_eq!(
            f.detail.as_deref(),
            Some("Key (card)=([REDACTED]) already exists.")
        );
        assert!(
            error_or_notice(b::ERROR_RESPONSE, &b, &p, &Always(false))
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn detectors_scrub_messages() {
        let rules = [MaskRuleConfig {
            detector: Some(DetectorKind::Email),
            ..Default::default()
        }];
        let p = MaskPolicy::compile(&rules, b"k").unwrap();
        let b = body("Key (email)=(jane@example.com) already exists.");
        let out = error_or_notice(b::ERROR_RESPONSE, &b, &p, &Always(false))
            .unwrap()
            .unwrap();
        assert!(!String::from_utf8_lossy(&out).contains("jane@example.com"));
    }
}
