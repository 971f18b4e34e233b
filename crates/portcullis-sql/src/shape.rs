//! The shape key: a statement's text with literal values taken out.
//!
//! Statements that differ only in literal values (pgbench's
//! `... WHERE aid = 4242` and `... WHERE aid = 17`) share a key, so the cache
//! classifies them once. The key must be *sound*: two texts with equal keys
//! must tokenize identically in PostgreSQL's lexer up to the values of
//! literals. So this lexer follows PostgreSQL's rules (`scan.l`, with
//! `standard_conforming_strings = on`) for the constructs it accepts, and
//! gives up (returns `None`: "do not share") on everything else: escape
//! strings (`E'..'`), bit and hex strings, `U&` Unicode escapes, national
//! strings, backslashes, string continuation across lines, hexadecimal,
//! octal, binary or underscored numbers, non-ASCII outside literals and
//! quoted identifiers, unterminated literals or comments, and any character
//! it does not know.
//!
//! Literal classes stay in the key (`I` integer that fits in 32 bits, `F`
//! other number, `S` string), because the grammar accepts an integer in
//! places where it refuses a float.

/// Marks a placeholder in the key; never accepted outside a literal, so a
/// placeholder cannot be confused with statement text.
const MARK: char = '\u{1}';

/// Returns the shape key of `sql`, or `None` when the text uses a construct
/// this lexer does not handle exactly like PostgreSQL.
pub(crate) fn shape_key(sql: &str) -> Option<String> {
    let bytes = sql.as_bytes();
    let mut key = String::with_capacity(sql.len());
    let mut i = 0;
    // Whether a gap (whitespace or comment) separates the previous token.
    let mut gap = false;
    // The previous significant byte and whether the last token was a string.
    let mut prev: u8 = b' ';
    let mut last_was_string = false;
    while i < bytes.len() {
        let c = bytes[i];
        match c {
            b' ' | b'\t' | b'\n' | b'\r' => {
                gap = true;
                i += 1;
                continue;
            }
            b'-' if bytes.get(i + 1) == Some(&b'-') => {
                while i < bytes.len() && bytes[i] != b'\n' && bytes[i] != b'\r' {
                    i += 1;
                }
                gap = true;
                continue;
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i = skip_block_comment(bytes, i)?;
                gap = true;
                continue;
            }
            _ => {}
        }
        if gap && !key.is_empty() {
            key.push(' ');
        }
        let adjacent = !gap;
        gap = false;
        let is_string_start = c == b'\'' || (c == b'$' && !bytes.get(i + 1)?.is_ascii_digit());
        if last_was_string && (c == b'\'' || c == b'"') {
            // PostgreSQL joins 'a'<newline>'b' into one literal: never share.
            return None;
        }
        last_was_string = false;
        if c == b'\'' || c == b'"' {
            // A quote glued to a letter, digit, `&` or another quote may be a
            // prefixed literal (E'', B'', X'', N'', U&'', U&"").
            if adjacent && !allowed_before_quote(prev) {
                return None;
            }
        }
        let start = i;
        if c == b'\'' {
            i = end_of_quoted(bytes, i, b'\'')?;
            if sql[start..i].contains('\\') {
                return None;
            }
            key.push(MARK);
            key.push('S');
            last_was_string = true;
        } else if c == b'"' {
            i = end_of_quoted(bytes, i, b'"')?;
            if i - start == 2 {
                return None; // zero-length identifier: an error in PostgreSQL
            }
            key.push_str(&sql[start..i]);
        } else if is_string_start {
            i = end_of_dollar_quoted(sql, i)?;
            key.push(MARK);
            key.push('S');
            last_was_string = true;
        } else if c == b'$' {
            // A parameter: `$` and digits, never glued to a letter.
            i += 1;
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            if bytes
                .get(i)
                .is_some_and(|b| is_ident_cont(*b) || *b >= 0x80)
            {
                return None;
            }
            key.push_str(&sql[start..i]);
        } else if c.is_ascii_digit()
            || (c == b'.' && bytes.get(i + 1).is_some_and(u8::is_ascii_digit))
        {
            let (end, integer) = end_of_number(bytes, i)?;
            i = end;
            key.push(MARK);
            key.push(if integer { 'I' } else { 'F' });
        } else if c.is_ascii_alphabetic() || c == b'_' {
            while i < bytes.len() && is_ident_cont(bytes[i]) {
                i += 1;
            }
            if bytes.get(i).is_some_and(|b| *b >= 0x80) {
                return None;
            }
            let word = &sql[start..i];
            // The raw grammar checks integer values after these words
            // (`FLOAT(p)` precision, `ALTER COLUMN n SET STATISTICS`): a value
            // can decide whether the statement parses at all.
            if word.eq_ignore_ascii_case("float") || word.eq_ignore_ascii_case("statistics") {
                return None;
            }
            key.push_str(word);
        } else if is_operator_or_punct(c) {
            key.push(c as char);
            i += 1;
        } else {
            return None;
        }
        prev = bytes[i - 1];
    }
    Some(key)
}

/// Characters after which a quote starts a plain literal or identifier.
fn allowed_before_quote(prev: u8) -> bool {
    matches!(
        prev,
        b' ' | b'('
            | b','
            | b'='
            | b'<'
            | b'>'
            | b'+'
            | b'-'
            | b'*'
            | b'/'
            | b'%'
            | b'|'
            | b'['
            | b':'
            | b';'
            | b'!'
            | b'~'
            | b'^'
            | b'@'
            | b'#'
            | b'.'
            | b')'
            | b']'
    )
}

fn is_ident_cont(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$'
}

fn is_operator_or_punct(b: u8) -> bool {
    matches!(
        b,
        b',' | b'('
            | b')'
            | b'['
            | b']'
            | b'.'
            | b';'
            | b':'
            | b'+'
            | b'-'
            | b'*'
            | b'/'
            | b'%'
            | b'^'
            | b'<'
            | b'>'
            | b'='
            | b'~'
            | b'!'
            | b'@'
            | b'#'
            | b'&'
            | b'|'
            | b'`'
            | b'?'
    )
}

/// Skips a (possibly nested) `/* ... */` comment starting at `i`.
fn skip_block_comment(bytes: &[u8], mut i: usize) -> Option<usize> {
    let mut depth = 0usize;
    while i < bytes.len() {
        if bytes[i] == b'/' && bytes.get(i + 1) == Some(&b'*') {
            depth += 1;
            i += 2;
        } else if bytes[i] == b'*' && bytes.get(i + 1) == Some(&b'/') {
            depth -= 1;
            i += 2;
            if depth == 0 {
                return Some(i);
            }
        } else {
            i += 1;
        }
    }
    None
}

/// End (exclusive) of a literal quoted with `quote`, where a doubled quote
/// stands for itself. `None` when unterminated or when it holds a NUL.
fn end_of_quoted(bytes: &[u8], start: usize, quote: u8) -> Option<usize> {
    let mut i = start + 1;
    while i < bytes.len() {
        if bytes[i] == 0 {
            return None;
        }
        if bytes[i] == quote {
            if bytes.get(i + 1) == Some(&quote) {
                i += 2;
                continue;
            }
            return Some(i + 1);
        }
        i += 1;
    }
    None
}

/// End (exclusive) of a `$tag$ ... $tag$` string starting at `start`.
fn end_of_dollar_quoted(sql: &str, start: usize) -> Option<usize> {
    let bytes = sql.as_bytes();
    let mut i = start + 1;
    if bytes
        .get(i)
        .is_some_and(|b| b.is_ascii_alphabetic() || *b == b'_')
    {
        while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
            i += 1;
        }
    }
    if bytes.get(i) != Some(&b'$') {
        return None; // `$x` without closing `$`, or a non-ASCII tag
    }
    let delimiter = &sql[start..=i];
    let body_start = i + 1;
    let end = sql.get(body_start..)?.find(delimiter)? + body_start + delimiter.len();
    if sql[body_start..end].contains('\0') {
        return None;
    }
    Some(end)
}

/// End (exclusive) of a decimal number at `start` and whether PostgreSQL
/// lexes it as an integer constant (digits only, value fits in `int4`).
fn end_of_number(bytes: &[u8], start: usize) -> Option<(usize, bool)> {
    let mut i = start;
    let mut value: Option<u64> = Some(0);
    while i < bytes.len() && bytes[i].is_ascii_digit() {
        value = value
            .and_then(|v| v.checked_mul(10))
            .and_then(|v| v.checked_add(u64::from(bytes[i] - b'0')));
        i += 1;
    }
    let mut integer = true;
    if bytes.get(i) == Some(&b'.') {
        integer = false;
        i += 1;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
    }
    if matches!(bytes.get(i), Some(b'e' | b'E')) {
        integer = false;
        i += 1;
        if matches!(bytes.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if !bytes.get(i).is_some_and(u8::is_ascii_digit) {
            return None;
        }
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
    }
    // Trailing junk (`123abc`, `0x1F`, `1_000`) or another dot (`1..2`,
    // `1.2.3`): PostgreSQL has special rules there; do not share.
    if bytes
        .get(i)
        .is_some_and(|b| is_ident_cont(*b) || *b == b'.' || *b >= 0x80 || *b == b'\'' || *b == b'"')
    {
        return None;
    }
    let fits = value.is_some_and(|v| v <= i32::MAX as u64);
    Some((i, integer && fits))
}

#[cfg(test)]
mod tests {
    use super::shape_key;

    #[test]
    fn literals_share_a_key() {
        let a = shape_key("SELECT abalance FROM pgbench_accounts WHERE aid = 4242;");
        let b = shape_key("SELECT  abalance FROM pgbench_accounts /* c */ WHERE aid = 7;");
        assert!(a.is_some());
        assert_eq!(a, b);
        assert_eq!(
            shape_key("SELECT 'it''s', $q$x'$q$"),
            shape_key("SELECT 'a', $$b$$")
        );
    }

    #[test]
    fn literal_classes_are_kept() {
        assert_ne!(shape_key("SELECT 1"), shape_key("SELECT 1.5"));
        assert_ne!(shape_key("SELECT 1"), shape_key("SELECT 2147483648"));
        assert_ne!(shape_key("SELECT 1"), shape_key("SELECT '1'"));
        assert_eq!(shape_key("SELECT 2147483647"), shape_key("SELECT 0"));
    }

    #[test]
    fn doubtful_text_is_not_shared() {
        for sql in [
            "SELECT E'a\\'b'",
            "SELECT e'x'",
            "SELECT B'101'",
            "SELECT X'1F'",
            "SELECT N'x'",
            "SELECT U&'d\\0061t'",
            "SELECT U&\"d\\0061t\"",
            "SELECT 'a'\n'b'",
            "SELECT 'a\\'",
            "SELECT 0x1F",
            "SELECT 1_000",
            "SELECT 1..2",
            "SELECT 123abc",
            "SELECT 1e",
            "SELECT /* unterminated",
            "SELECT 'unterminated",
            "SELECT $a",
            "SELECT $1abc",
            "SELECT \"\"",
            "SELECT ünïcode",
            "SELECT \u{c}1",
            "SELECT {1}",
            "SELECT \\x",
            "SELECT 1::float(5)",
            "ALTER TABLE t ALTER COLUMN 1 SET STATISTICS 5",
        ] {
            assert_eq!(shape_key(sql), None, "{sql:?}");
        }
    }

    #[test]
    fn nested_comments_follow_postgres() {
        assert_eq!(
            shape_key("SELECT /* a /* b */ c */ 1"),
            shape_key("SELECT 2")
        );
        assert_eq!(shape_key("SELECT /* a /* b */ 1"), None);
        assert_eq!(shape_key("SELECT 1 --x\n + 2"), shape_key("SELECT 3 + 4"));
        assert_ne!(shape_key("SELECT 1+-2"), shape_key("SELECT 1+ -2"));
    }
}
