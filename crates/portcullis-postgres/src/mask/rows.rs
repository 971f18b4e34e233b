//! Rewriting result rows: DataRow frames and COPY TO lines.
//!
//! Each function returns `None` when nothing changed, so the relay forwards
//! the original bytes untouched (unmasked values stay byte-identical).

use std::borrow::Cow;

use portcullis_mask::RowPlan;

use crate::protocol::backend as b;
use crate::protocol::frame::{FrameError, Reader, write_frame};

/// One column of a RowDescription.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Column {
    pub name: String,
    pub table_oid: u32,
    pub attnum: i16,
    pub type_oid: u32,
    pub format: i16,
}

/// Decodes a RowDescription body.
pub fn row_description(body: &[u8]) -> Result<Vec<Column>, FrameError> {
    let mut r = Reader::new(body, "RowDescription");
    let n = r.i16()?;
    let mut out = Vec::with_capacity(n.max(0) as usize);
    for _ in 0..n {
        let name = String::from_utf8_lossy(r.cstr()?).into_owned();
        let table_oid = r.i32()? as u32;
        let attnum = r.i16()?;
        let type_oid = r.i32()? as u32;
        let _size = r.i16()?;
        let _modifier = r.i32()?;
        let format = r.i16()?;
        out.push(Column {
            name,
            table_oid,
            attnum,
            type_oid,
            format,
        });
    }
    Ok(out)
}

/// The result format codes of a Bind body (after the portal and statement names).
pub fn bind_result_formats(body: &[u8]) -> Result<Vec<i16>, FrameError> {
    let mut r = Reader::new(body, "Bind");
    r.cstr()?;
    r.cstr()?;
    let n = r.i16()?;
    for _ in 0..n {
        r.i16()?;
    }
    let params = r.i16()?;
    for _ in 0..params {
        let len = r.i32()?;
        if len > 0 {
            r.bytes(len as usize)?;
        }
    }
    let n = r.i16()?;
    (0..n).map(|_| r.i16()).collect()
}

/// The format of column `i` under Bind's result format codes.
pub fn format_of(formats: &[i16], i: usize) -> i16 {
    match formats {
        [] => 0,
        [one] => *one,
        many => many.get(i).copied().unwrap_or(0),
    }
}

/// Masks one DataRow body; returns the whole new frame when something changed.
pub fn data_row(plan: &RowPlan, body: &[u8]) -> Result<Option<Vec<u8>>, FrameError> {
    let mut r = Reader::new(body, "DataRow");
    let n = r.i16()?;
    let mut fields: Vec<Option<Cow<'_, [u8]>>> = Vec::with_capacity(n.max(0) as usize);
    let mut changed = false;
    for i in 0..n.max(0) as usize {
        let len = r.i32()?;
        let raw = if len < 0 {
            None
        } else {
            Some(r.bytes(len as usize)?)
        };
        let masked = plan.mask_value(i, raw);
        changed |= match (&masked, raw) {
            (Some(Cow::Borrowed(m)), Some(r)) => m.as_ptr() != r.as_ptr() || m.len() != r.len(),
            (None, None) => false,
            _ => true,
        };
        fields.push(masked);
    }
    if !changed {
        return Ok(None);
    }
    let size: usize = fields
        .iter()
        .map(|f| 4 + f.as_ref().map_or(0, |v| v.len()))
        .sum();
    let mut out = Vec::with_capacity(7 + size);
    write_frame(&mut out, b::DATA_ROW, |o| {
        o.extend_from_slice(&n.to_be_bytes());
        for f in &fields {
            match f {
                None => o.extend_from_slice(&(-1i32).to_be_bytes()),
                Some(v) => {
                    o.extend_from_slice(&(v.len() as i32).to_be_bytes());
                    o.extend_from_slice(v);
                }
            }
        }
    });
    Ok(Some(out))
}

/// COPY TO line syntax (default delimiters only; anything else is refused upstream).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CopySyntax {
    Text,
    Csv,
}

/// Masks one COPY TO line (one CopyData body); the new CopyData frame when changed.
pub fn copy_line(plan: &RowPlan, syntax: CopySyntax, line: &[u8]) -> Option<Vec<u8>> {
    let (content, newline) = match line.strip_suffix(b"\n") {
        Some(c) => (c, true),
        None => (line, false),
    };
    let fields = match syntax {
        CopySyntax::Text => split_text(content),
        CopySyntax::Csv => split_csv(content),
    };
    let mut changed = false;
    let mut body = Vec::with_capacity(line.len() + 16);
    for (i, (raw, value)) in fields.iter().enumerate() {
        if i > 0 {
            body.push(if syntax == CopySyntax::Csv {
                b','
            } else {
                b'\t'
            });
        }
        let masked = plan.mask_value(i, value.as_deref());
        let same = match (&masked, value.as_deref()) {
            (Some(m), Some(v)) => m.as_ref() == v,
            (None, None) => true,
            _ => false,
        };
        if same {
            // Unchanged fields keep their original bytes.
            body.extend_from_slice(raw);
            continue;
        }
        changed = true;
        match (syntax, masked) {
            (CopySyntax::Text, None) => body.extend_from_slice(b"\\N"),
            (CopySyntax::Csv, None) => {}
            (CopySyntax::Text, Some(v)) => escape_text(&v, &mut body),
            (CopySyntax::Csv, Some(v)) => quote_csv(&v, &mut body),
        }
    }
    if !changed {
        return None;
    }
    if newline {
        body.push(b'\n');
    }
    let mut out = Vec::with_capacity(body.len() + 5);
    write_frame(&mut out, b::COPY_DATA, |o| o.extend_from_slice(&body));
    Some(out)
}

/// A field as it appears on the line, and its value (`None` is NULL).
type Field<'a> = (&'a [u8], Option<Vec<u8>>);

fn split_text(line: &[u8]) -> Vec<Field<'_>> {
    line.split(|&c| c == b'\t')
        .map(|raw| {
            if raw == b"\\N" {
                return (raw, None);
            }
            let mut v = Vec::with_capacity(raw.len());
            let mut it = raw.iter();
            while let Some(&c) = it.next() {
                if c != b'\\' {
                    v.push(c);
                    continue;
                }
                match it.next() {
                    Some(b'n') => v.push(b'\n'),
                    Some(b'r') => v.push(b'\r'),
                    Some(b't') => v.push(b'\t'),
                    Some(b'b') => v.push(8),
                    Some(b'f') => v.push(12),
                    Some(b'v') => v.push(11),
                    Some(&o) => v.push(o),
                    None => {}
                }
            }
            (raw, Some(v))
        })
        .collect()
}

fn escape_text(v: &[u8], out: &mut Vec<u8>) {
    for &c in v {
        match c {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            c => out.push(c),
        }
    }
}

fn split_csv(line: &[u8]) -> Vec<Field<'_>> {
    let mut fields = Vec::new();
    let mut i = 0;
    loop {
        let start = i;
        if i < line.len() && line[i] == b'"' {
            let mut v = Vec::new();
            i += 1;
            while i < line.len() {
                if line[i] == b'"' {
                    if line.get(i + 1) == Some(&b'"') {
                        v.push(b'"');
                        i += 2;
                        continue;
                    }
                    i += 1;
                    break;
                }
                v.push(line[i]);
                i += 1;
            }
            // Anything between the closing quote and the comma is kept.
            while i < line.len() && line[i] != b',' {
                v.push(line[i]);
                i += 1;
            }
            fields.push((&line[start..i], Some(v)));
        } else {
            let end = line[i..]
                .iter()
                .position(|&c| c == b',')
                .map_or(line.len(), |p| i + p);
            let raw = &line[i..end];
            fields.push((raw, (!raw.is_empty()).then(|| raw.to_vec())));
            i = end;
        }
        if i >= line.len() {
            break;
        }
        i += 1; // the comma
        if i == line.len() {
            fields.push((&line[i..], None));
            break;
        }
    }
    fields
}

fn quote_csv(v: &[u8], out: &mut Vec<u8>) {
    out.push(b'"');
    for &c in v {
        if c == b'"' {
            out.push(b'"');
        }
        out.push(c);
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use portcullis_mask::{ColumnInfo, MaskPolicy, MaskRuleConfig};

    fn plan(n: usize) -> RowPlan {
        let rules = [MaskRuleConfig {
            name: Some("secret".into()),
            ..Default::default()
        }];
        let p = MaskPolicy::compile(&rules, b"k").unwrap();
        let cols: Vec<_> = (0..n)
            .map(|i| ColumnInfo {
                source: None,
                name: if i == 1 {
                    "secret".into()
                } else {
                    format!("c{i}")
                },
                type_oid: 25,
                format: 0,
            })
            .collect();
        p.plan(&cols)
    }

    #[test]
    fn text_copy_line_masks_one_field_and_keeps_escapes() {
        let out = copy_line(&plan(3), CopySyntax::Text, b"a\\tb\tjane\t\\N\n").unwrap();
        assert_eq!(&out[5..], b"a\\tb\t[REDACTED]\t\\N\n");
        assert!(copy_line(&plan(1), CopySyntax::Text, b"x\n").is_none());
    }

    #[test]
    fn csv_copy_line_handles_quotes_and_nulls() {
        let out = copy_line(&plan(3), CopySyntax::Csv, b"\"a,\"\"b\",\"x,y\",\n").unwrap();
        assert_eq!(&out[5..], b"\"a,\"\"b\",\"[REDACTED]\",\n");
    }

    #[test]
    fn data_row_unchanged_is_none() {
        let p = plan(1);
        let body = [0u8, 1, 0, 0, 0, 1, b'x'];
        assert!(data_row(&p, &body).unwrap().is_none());
        let p = plan(2);
        let body = [0u8, 2, 0, 0, 0, 1, b'x', 0, 0, 0, 1, b'y'];
        let out = data_row(&p, &body).unwrap().unwrap();
        assert!(out.ends_with(b"[REDACTED]"));
    }
}
