//! Maps a field path such as `connection[1].tls` back to a line and column.

/// 1-based line and column of a byte offset.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..floor_char_boundary(text, offset)];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

fn floor_char_boundary(text: &str, mut i: usize) -> usize {
    while i > 0 && !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Position of the deepest part of `path` that exists in the document;
/// `(0, 0)` when nothing of it can be found.
pub fn position(text: &str, path: &str) -> (usize, usize) {
    let Ok(doc) = toml_edit::Document::parse(text) else {
        return (0, 0);
    };
    let mut item: Option<&toml_edit::Item> = None;
    let mut span = None;
    for segment in segments(path) {
        let next = match (item, &segment) {
            (None, Segment::Key(k)) => doc.get(k),
            (None, Segment::Index(_)) => None,
            (Some(it), Segment::Key(k)) => it.get(k.as_str()),
            (Some(it), Segment::Index(i)) => it.get(*i),
        };
        match next {
            Some(n) => {
                if let Some(s) = n.span().or_else(|| table_span(n)) {
                    span = Some(s);
                }
                item = Some(n);
            }
            None => break,
        }
    }
    span.map_or((0, 0), |s| line_col(text, s.start))
}

fn table_span(item: &toml_edit::Item) -> Option<std::ops::Range<usize>> {
    match item {
        toml_edit::Item::Table(t) => t.span(),
        toml_edit::Item::ArrayOfTables(a) => a.span(),
        toml_edit::Item::Value(v) => v.span(),
        toml_edit::Item::None => None,
    }
}

enum Segment {
    Key(String),
    Index(usize),
}

fn segments(path: &str) -> Vec<Segment> {
    let mut out = Vec::new();
    for part in path.split('.') {
        let mut rest = part;
        if let Some(open) = rest.find('[') {
            if open > 0 {
                out.push(Segment::Key(rest[..open].to_string()));
            }
            rest = &rest[open..];
            while let Some(stripped) = rest.strip_prefix('[') {
                let Some(close) = stripped.find(']') else {
                    break;
                };
                if let Ok(i) = stripped[..close].parse() {
                    out.push(Segment::Index(i));
                }
                rest = &stripped[close + 1..];
            }
        } else if !rest.is_empty() {
            out.push(Segment::Key(rest.to_string()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_nested_array_fields() {
        let text = "[store]\npath = \"x\"\n\n[[connection]]\nname = \"a\"\n\n[[connection]]\nname = \"b\"\ntls = \"bogus\"\n";
        assert_eq!(position(text, "connection[1].tls"), (9, 7));
        assert_eq!(position(text, "connection[0].name"), (5, 8));
        assert_eq!(position(text, "store.path"), (2, 8));
    }

    #[test]
    fn unknown_paths_fall_back_to_the_deepest_known_part() {
        let text = "[[grant]]\nidentity = \"x\"\n";
        assert_eq!(position(text, "grant[0].nope").0, 1);
        assert_eq!(position(text, "nothing"), (0, 0));
    }
}
