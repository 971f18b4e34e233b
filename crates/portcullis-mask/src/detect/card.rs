//! Payment card numbers: length, Luhn checksum and a plausible issuer prefix.
//!
//! The issuer (IIN) check removes most Luhn-valid accidents: one random digit
//! string in ten passes Luhn, far fewer also start like a real card of that length.

/// `digits` are ASCII digits only (separators already removed).
pub(crate) fn is_card(digits: &[u8]) -> bool {
    (13..=19).contains(&digits.len()) && plausible_issuer(digits) && luhn(digits)
}

fn prefix(d: &[u8], n: usize) -> u32 {
    d[..n]
        .iter()
        .fold(0, |acc, b| acc * 10 + u32::from(b - b'0'))
}

fn plausible_issuer(d: &[u8]) -> bool {
    let len = d.len();
    let (p2, p3, p4) = (prefix(d, 2), prefix(d, 3), prefix(d, 4));
    match d[0] {
        // Visa
        b'4' => matches!(len, 13 | 16 | 19),
        // Mastercard 51-55, Maestro 50, 56-59
        b'5' => ((51..=55).contains(&p2) && len == 16) || p2 == 50 || (56..=59).contains(&p2),
        // Mastercard 2-series
        b'2' => (2221..=2720).contains(&p4) && len == 16,
        // Amex, Diners, JCB
        b'3' => {
            ((p2 == 34 || p2 == 37) && len == 15)
                || (((300..=305).contains(&p3) || p2 == 36 || p2 == 38 || p2 == 39) && len >= 14)
                || ((3528..=3589).contains(&p4) && len >= 16)
        }
        // Discover, UnionPay, Maestro, RuPay
        b'6' => len >= 16 || (p2 >= 60 && len >= 13),
        _ => false,
    }
}

fn luhn(d: &[u8]) -> bool {
    let sum: u32 = d
        .iter()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let v = u32::from(b - b'0');
            if i % 2 == 1 {
                let x = v * 2;
                if x > 9 { x - 9 } else { x }
            } else {
                v
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn luhn_and_issuer() {
        assert!(is_card(b"4111111111111111"));
        assert!(is_card(b"5555555555554444"));
        assert!(is_card(b"378282246310005"));
        assert!(is_card(b"6011111111111117"));
        assert!(!is_card(b"4111111111111112"));
        assert!(!is_card(b"1234567812345670")); // Luhn-valid, no issuer starts with 1
        assert!(!is_card(b"411111111111")); // too short
    }
}
