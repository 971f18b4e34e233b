//! The normalized text of a statement: what policy regular expressions see.
//!
//! Built from PostgreSQL's own lexer (`pg_query::scan_tokens`): comments are
//! dropped, literal constants become `$n` placeholders numbered after the
//! statement's own parameters, and any run of whitespace becomes one space.
//! A regular expression therefore cannot be fooled by a comment, and it never
//! sees literal values, which is also what keeps it the same for every
//! statement of one shape (see [`crate::shape`]).

use pg_query::protobuf::Token;

use crate::error::ClassifyError;

/// A statement's byte range in the request text.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Span {
    pub(crate) start: usize,
    pub(crate) end: usize,
}

/// Normalized text for each span of `sql`.
pub(crate) fn normalized(sql: &str, spans: &[Span]) -> Result<Vec<String>, ClassifyError> {
    if spans.is_empty() {
        return Ok(Vec::new());
    }
    // `scan` (protobuf) rather than `scan_tokens`: the latter builds a slice
    // from a null pointer when there are no tokens.
    let tokens = pg_query::scan(sql)
        .map_err(|e| ClassifyError::Parse(e.to_string()))?
        .tokens;
    let mut out = Vec::with_capacity(spans.len());
    for span in spans {
        let in_span: Vec<_> = tokens
            .iter()
            .filter(|t| {
                let start = usize::try_from(t.start).unwrap_or(usize::MAX);
                start >= span.start && start < span.end
            })
            .collect();
        let mut next_param = in_span
            .iter()
            .filter(|t| t.token == Token::Param as i32)
            .filter_map(|t| text(sql, t.start, t.end).get(1..)?.parse::<u32>().ok())
            .max()
            .unwrap_or(0);
        let mut text_out = String::new();
        let mut prev_end: Option<i32> = None;
        for token in in_span {
            let kind = token.token;
            if kind == Token::SqlComment as i32 || kind == Token::CComment as i32 {
                continue;
            }
            if let Some(end) = prev_end
                && token.start > end
            {
                text_out.push(' ');
            }
            if is_constant(kind) {
                next_param = next_param.saturating_add(1);
                text_out.push('$');
                text_out.push_str(&next_param.to_string());
            } else {
                text_out.push_str(text(sql, token.start, token.end));
            }
            prev_end = Some(token.end);
        }
        out.push(text_out);
    }
    Ok(out)
}

fn is_constant(kind: i32) -> bool {
    [
        Token::Sconst,
        Token::Usconst,
        Token::Fconst,
        Token::Iconst,
        Token::Bconst,
        Token::Xconst,
    ]
    .iter()
    .any(|t| *t as i32 == kind)
}

fn text(sql: &str, start: i32, end: i32) -> &str {
    let start = usize::try_from(start).unwrap_or(0);
    let end = usize::try_from(end).unwrap_or(0);
    sql.get(start..end).unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_literals_and_drops_comments() {
        let sql = "SELECT a /* x */ FROM t WHERE b = 'y' AND c = $1 -- z\n AND d = 4";
        let got = normalized(
            sql,
            &[Span {
                start: 0,
                end: sql.len(),
            }],
        )
        .unwrap();
        assert_eq!(
            got,
            vec!["SELECT a FROM t WHERE b = $2 AND c = $1 AND d = $3"]
        );
    }
}
