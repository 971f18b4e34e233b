//! IBANs: a known country code, that country's exact length, and the ISO 13616
//! mod-97 checksum. Electronic form (`DE89370400440532013000`) and print form
//! (groups of four separated by single spaces) are both accepted.

use super::text::{word_after, word_before};

/// IBAN length per country (ISO 13616 registry, common members).
const LENGTHS: &[(&[u8; 2], usize)] = &[
    (b"AD", 24),
    (b"AE", 23),
    (b"AL", 28),
    (b"AT", 20),
    (b"AZ", 28),
    (b"BA", 20),
    (b"BE", 16),
    (b"BG", 22),
    (b"BH", 22),
    (b"BR", 29),
    (b"BY", 28),
    (b"CH", 21),
    (b"CR", 22),
    (b"CY", 28),
    (b"CZ", 24),
    (b"DE", 22),
    (b"DK", 18),
    (b"DO", 28),
    (b"EE", 20),
    (b"EG", 29),
    (b"ES", 24),
    (b"FI", 18),
    (b"FO", 18),
    (b"FR", 27),
    (b"GB", 22),
    (b"GE", 22),
    (b"GI", 23),
    (b"GL", 18),
    (b"GR", 27),
    (b"GT", 28),
    (b"HR", 21),
    (b"HU", 28),
    (b"IE", 22),
    (b"IL", 23),
    (b"IQ", 23),
    (b"IS", 26),
    (b"IT", 27),
    (b"JO", 30),
    (b"KW", 30),
    (b"KZ", 20),
    (b"LB", 28),
    (b"LC", 32),
    (b"LI", 21),
    (b"LT", 20),
    (b"LU", 20),
    (b"LV", 21),
    (b"MC", 27),
    (b"MD", 24),
    (b"ME", 22),
    (b"MK", 19),
    (b"MR", 27),
    (b"MT", 31),
    (b"MU", 30),
    (b"NL", 18),
    (b"NO", 15),
    (b"PK", 24),
    (b"PL", 28),
    (b"PS", 29),
    (b"PT", 25),
    (b"QA", 29),
    (b"RO", 24),
    (b"RS", 22),
    (b"SA", 24),
    (b"SC", 31),
    (b"SE", 24),
    (b"SI", 19),
    (b"SK", 24),
    (b"SM", 27),
    (b"ST", 25),
    (b"SV", 28),
    (b"TL", 23),
    (b"TN", 24),
    (b"TR", 26),
    (b"UA", 29),
    (b"VA", 22),
    (b"VG", 24),
    (b"XK", 20),
];

fn country_length(cc: &[u8]) -> Option<usize> {
    LENGTHS
        .iter()
        .find(|(c, _)| c.as_slice() == cc)
        .map(|(_, n)| *n)
}

/// Matches an IBAN starting exactly at `start` (the country code); returns its end.
pub(crate) fn match_at(text: &[u8], start: usize) -> Option<usize> {
    if word_before(text, start) || text.len() < start + 15 {
        return None;
    }
    let want = country_length(&text[start..start + 2])?;
    let mut chars = [0u8; 34];
    let mut n = 0;
    let mut i = start;
    while n < want && i < text.len() {
        let b = text[i];
        if b.is_ascii_digit() || b.is_ascii_uppercase() {
            chars[n] = b;
            n += 1;
            i += 1;
        } else if b == b' '
            && n.is_multiple_of(4)
            && text.get(i + 1).is_some_and(u8::is_ascii_alphanumeric)
        {
            i += 1;
        } else {
            return None;
        }
    }
    if n != want || word_after(text, i) || !chars[2].is_ascii_digit() || !chars[3].is_ascii_digit()
    {
        return None;
    }
    mod97(&chars[..n]).then_some(i)
}

fn mod97(iban: &[u8]) -> bool {
    let rearranged = iban[4..].iter().chain(iban[..4].iter());
    let mut rem: u32 = 0;
    for &b in rearranged {
        if b.is_ascii_digit() {
            rem = (rem * 10 + u32::from(b - b'0')) % 97;
        } else {
            rem = (rem * 100 + u32::from(b - b'A' + 10)) % 97;
        }
    }
    rem == 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksums() {
        assert_eq!(match_at(b"DE89370400440532013000", 0), Some(22));
        assert_eq!(match_at(b"GB82 WEST 1234 5698 7654 32", 0), Some(27));
        assert_eq!(match_at(b"DE89370400440532013001", 0), None);
        assert_eq!(match_at(b"ZZ89370400440532013000", 0), None);
    }
}
