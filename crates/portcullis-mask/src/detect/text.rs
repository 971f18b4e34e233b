//! Byte-class helpers shared by the detectors (ASCII only, on purpose: every
//! built-in shape is ASCII, and working on bytes keeps non-UTF-8 client
//! encodings scannable).

/// Letters, digits and `_`: a byte that glues a candidate to a longer identifier.
pub(crate) fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// True when `text[at - 1]` (if any) is a word byte.
pub(crate) fn word_before(text: &[u8], at: usize) -> bool {
    at > 0 && is_word(text[at - 1])
}

/// True when `text[at]` (if any) is a word byte.
pub(crate) fn word_after(text: &[u8], at: usize) -> bool {
    text.get(at).is_some_and(|&b| is_word(b))
}

/// Case-insensitive search for any of `needles` (lowercase) in `text[from..to]`.
pub(crate) fn contains_ci(text: &[u8], from: usize, to: usize, needles: &[&[u8]]) -> bool {
    let hay = &text[from.min(text.len())..to.min(text.len())];
    needles.iter().any(|n| {
        n.len() <= hay.len()
            && hay.windows(n.len()).any(|w| {
                w.iter()
                    .zip(n.iter())
                    .all(|(a, b)| a.to_ascii_lowercase() == *b)
            })
    })
}
