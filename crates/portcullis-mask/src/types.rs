//! Type-valid masking: a masked value must still decode on the client.
//!
//! Only text-like types can carry a masked string. Everything else (numbers,
//! dates, uuids, arrays, bytea, ...) becomes SQL NULL, in text and binary
//! format alike: NULL decodes for every type and nullable column, whereas a
//! fabricated "type-valid" value (0, 1970-01-01, the nil uuid) would be
//! indistinguishable from real data.

use std::borrow::Cow;

/// PostgreSQL's text format code.
pub const FORMAT_TEXT: i16 = 0;
/// PostgreSQL's binary format code.
pub const FORMAT_BINARY: i16 = 1;

const NAME: u32 = 19;
const TEXT: u32 = 25;
const JSON: u32 = 114;
const UNKNOWN: u32 = 705;
const BPCHAR: u32 = 1042;
const VARCHAR: u32 = 1043;
const JSONB: u32 = 3802;
/// OIDs below this are built in; above it live extension and user types (citext, enums).
const FIRST_NORMAL_OID: u32 = 16384;
/// `name` holds at most NAMEDATALEN - 1 bytes.
const NAME_MAX: usize = 63;
const JSONB_VERSION: u8 = 1;

/// How values of a result column can be masked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TypeClass {
    /// text, varchar, unknown, and (text format only) non-built-in types such as citext.
    Text,
    /// `character(n)`: blank-padded to a fixed length.
    Bpchar,
    /// `name`: at most 63 bytes.
    Name,
    /// `json` (same bytes in both formats).
    Json,
    /// `jsonb` (binary format has a one-byte version prefix).
    Jsonb,
    /// Anything else: can only be masked to NULL.
    Other,
}

impl TypeClass {
    /// Classifies a result column from its RowDescription type OID and format code.
    pub fn of(type_oid: u32, format: i16) -> TypeClass {
        match type_oid {
            TEXT | VARCHAR | UNKNOWN => TypeClass::Text,
            BPCHAR => TypeClass::Bpchar,
            NAME => TypeClass::Name,
            JSON => TypeClass::Json,
            JSONB => TypeClass::Jsonb,
            oid if oid >= FIRST_NORMAL_OID && format == FORMAT_TEXT => TypeClass::Text,
            _ => TypeClass::Other,
        }
    }

    /// True when a masked string can be sent for this class.
    pub fn is_text_like(self) -> bool {
        self != TypeClass::Other
    }
}

/// The textual content of a raw value, and how to wrap masked text back.
pub(crate) fn content(class: TypeClass, format: i16, raw: &[u8]) -> &[u8] {
    match class {
        TypeClass::Jsonb if format == FORMAT_BINARY => raw.get(1..).unwrap_or_default(),
        TypeClass::Bpchar => trim_blanks(raw),
        _ => raw,
    }
}

fn trim_blanks(raw: &[u8]) -> &[u8] {
    let end = raw.iter().rposition(|&b| b != b' ').map_or(0, |i| i + 1);
    &raw[..end]
}

/// Wraps masked text so it is a valid value of `class` in `format`.
///
/// `masked_text` is plain text for text types; for json/jsonb the caller says
/// whether it is already JSON (`is_json`) or must become a JSON string.
pub(crate) fn encode<'a>(
    class: TypeClass,
    format: i16,
    raw: &[u8],
    masked_text: String,
    is_json: bool,
) -> Option<Cow<'a, [u8]>> {
    match class {
        TypeClass::Other => None,
        TypeClass::Text => Some(Cow::Owned(masked_text.into_bytes())),
        TypeClass::Name => Some(Cow::Owned(truncate(masked_text, NAME_MAX).into_bytes())),
        TypeClass::Bpchar => Some(Cow::Owned(fit_bpchar(raw, masked_text).into_bytes())),
        TypeClass::Json | TypeClass::Jsonb => {
            let json = if is_json {
                masked_text
            } else {
                serde_json::Value::String(masked_text).to_string()
            };
            let mut out = Vec::with_capacity(json.len() + 1);
            if class == TypeClass::Jsonb && format == FORMAT_BINARY {
                out.push(JSONB_VERSION);
            }
            out.extend_from_slice(json.as_bytes());
            Some(Cow::Owned(out))
        }
    }
}

fn truncate(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut cut = max;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
    }
    s
}

/// `character(n)` values arrive padded to n characters: keep exactly n, so
/// the masked value neither grows past the declared length nor loses padding.
fn fit_bpchar(raw: &[u8], masked: String) -> String {
    let width = String::from_utf8_lossy(raw).chars().count();
    let mut out: String = masked.chars().take(width).collect();
    let len = out.chars().count();
    out.extend(std::iter::repeat_n(' ', width - len));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes() {
        assert_eq!(TypeClass::of(25, 0), TypeClass::Text);
        assert_eq!(TypeClass::of(23, 0), TypeClass::Other);
        assert_eq!(TypeClass::of(90_000, 0), TypeClass::Text);
        assert_eq!(TypeClass::of(90_000, 1), TypeClass::Other);
    }

    #[test]
    fn bpchar_keeps_width() {
        assert_eq!(fit_bpchar(b"ab  ", "[REDACTED]".into()), "[RED");
        assert_eq!(fit_bpchar(b"abcdef  ", "x".into()), "x       ");
    }
}
