//! One pass over digit runs feeds every numeric detector (card, SSN, IBAN,
//! phone, IPv4), so digits are looked at once however many are enabled.
//!
//! A token is a run of "words" separated by single spaces; a word is digit
//! groups joined by `-` or `.`. Words can be split at spaces (a card followed
//! by a year is still a card) but never inside, so `1.2.3.4.5` is not an IPv4
//! address and `2024-01-02` is not split into smaller numbers. Digits glued to
//! letters or `_` (order ids, UUIDs, `v1.2`, `T12`) are never candidates.

use super::text::{is_word, word_after};
use super::{Enabled, Finding, card, iban, ip, phone, ssn};
use crate::config::DetectorKind;

const MAX_GROUPS: usize = 8;
const MAX_WORDS: usize = 8;
/// Longest run of words tried as one value (a 19-digit card in groups of 4 and 3 is 5 words).
const MAX_SPAN: usize = 6;

#[derive(Clone, Copy, Default)]
struct Word {
    start: usize,
    end: usize,
    groups: [(u32, u32); MAX_GROUPS],
    n: usize,
    dots: bool,
    dashes: bool,
    overflow: bool,
}

impl Word {
    fn lens(&self) -> impl Iterator<Item = usize> + '_ {
        self.groups[..self.n].iter().map(|(s, e)| (e - s) as usize)
    }
}

#[derive(Clone, Copy)]
struct Rules {
    card: Option<usize>,
    ssn: Option<usize>,
    ipv4: Option<usize>,
}

pub(crate) fn find(text: &[u8], enabled: &Enabled, out: &mut Vec<Finding>) {
    let rule = |k: DetectorKind| enabled[k.index()];
    let rules = Rules {
        card: rule(DetectorKind::PaymentCard),
        ssn: rule(DetectorKind::UsSsn),
        ipv4: rule(DetectorKind::Ipv4),
    };
    let iban_rule = rule(DetectorKind::Iban);
    let phone_rule = rule(DetectorKind::Phone);
    if rules.card.is_none()
        && rules.ssn.is_none()
        && rules.ipv4.is_none()
        && iban_rule.is_none()
        && phone_rule.is_none()
    {
        return;
    }
    let mut i = 0;
    while let Some(off) = text[i..].iter().position(u8::is_ascii_digit) {
        let p = i + off;
        if let Some(rule) = iban_rule
            && p >= 2
            && text[p - 2].is_ascii_uppercase()
            && text[p - 1].is_ascii_uppercase()
            && let Some(end) = iban::match_at(text, p - 2)
        {
            out.push(Finding {
                start: p - 2,
                end,
                rule,
            });
            i = end;
            continue;
        }
        if !at_token_start(text, p) {
            i = p;
            while i < text.len() && is_word(text[i]) {
                i += 1;
            }
            continue;
        }
        if let Some(rule) = phone_rule {
            let start = if p > 0 && matches!(text[p - 1], b'+' | b'(') {
                p - 1
            } else {
                p
            };
            if let Some(end) = phone::match_at(text, start) {
                out.push(Finding { start, end, rule });
                i = end;
                continue;
            }
        }
        i = numbers(text, p, rules, out);
    }
}

/// A digit at `p` starts a token unless it continues an identifier
/// (`abc1`, `_1`, `v1.2`, `ORD-1`).
fn at_token_start(text: &[u8], p: usize) -> bool {
    if p == 0 {
        return true;
    }
    let b = text[p - 1];
    if is_word(b) {
        return false;
    }
    !(matches!(b, b'-' | b'.') && p >= 2 && is_word(text[p - 2]))
}

fn digits_end(text: &[u8], mut i: usize) -> usize {
    while i < text.len() && text[i].is_ascii_digit() {
        i += 1;
    }
    i
}

fn parse_word(text: &[u8], start: usize) -> Word {
    let mut w = Word {
        start,
        ..Word::default()
    };
    let mut i = start;
    loop {
        let end = digits_end(text, i);
        if w.n < MAX_GROUPS {
            // Offsets fit: values longer than 4 GiB are not scanned (see `find`).
            w.groups[w.n] = (i as u32, end as u32);
            w.n += 1;
        } else {
            w.overflow = true;
        }
        i = end;
        match (text.get(i), text.get(i + 1)) {
            (Some(&sep @ (b'-' | b'.')), Some(d)) if d.is_ascii_digit() => {
                w.dots |= sep == b'.';
                w.dashes |= sep == b'-';
                i += 1;
            }
            _ => break,
        }
    }
    w.end = i;
    w
}

fn continues(text: &[u8], pos: usize) -> bool {
    text.get(pos) == Some(&b' ') && text.get(pos + 1).is_some_and(u8::is_ascii_digit)
}

/// The shortest token any numeric detector accepts (an IPv4 address `1.2.3.4`).
const MIN_TOKEN: usize = 7;

/// Scans the token at `p`, pushes what it finds, returns the token's end.
fn numbers(text: &[u8], p: usize, rules: Rules, out: &mut Vec<Finding>) -> usize {
    let first = parse_word(text, p);
    if !continues(text, first.end) {
        // The common case (timestamps, counts, ids): one word, no array to fill.
        if first.end - p >= MIN_TOKEN
            && !word_after(text, first.end)
            && let Some(rule) = classify(text, std::slice::from_ref(&first), rules)
        {
            out.push(Finding {
                start: p,
                end: first.end,
                rule,
            });
        }
        return first.end;
    }
    let mut words = [first; MAX_WORDS];
    let mut n = 1;
    let mut pos = first.end + 1;
    loop {
        let w = parse_word(text, pos);
        words[n] = w;
        n += 1;
        pos = w.end;
        if n < MAX_WORDS && continues(text, pos) {
            pos += 1;
        } else {
            break;
        }
    }
    let token_end = words[n - 1].end;
    if word_after(text, token_end) {
        n -= 1; // the last word is glued to an identifier
    }
    let mut i = 0;
    'outer: while i < n {
        for j in (i..n.min(i + MAX_SPAN)).rev() {
            if let Some(rule) = classify(text, &words[i..=j], rules) {
                out.push(Finding {
                    start: words[i].start,
                    end: words[j].end,
                    rule,
                });
                i = j + 1;
                continue 'outer;
            }
        }
        i += 1;
    }
    token_end
}

fn classify(text: &[u8], ws: &[Word], rules: Rules) -> Option<usize> {
    if ws.iter().any(|w| w.overflow) {
        return None;
    }
    let first = &ws[0];
    if ws.iter().any(|w| w.dots) {
        let quad = ws.len() == 1 && first.n == 4 && !first.dashes;
        return rules
            .ipv4
            .filter(|_| quad && ip::is_ipv4(&text[first.start..first.end]));
    }
    let mut digits = [0u8; 19];
    let mut count = 0;
    for &(s, e) in ws.iter().flat_map(|w| w.groups[..w.n].iter()) {
        for &b in &text[s as usize..e as usize] {
            if count == digits.len() {
                return None;
            }
            digits[count] = b;
            count += 1;
        }
    }
    let digits = &digits[..count];
    if let Some(rule) = rules.ssn
        && is_ssn(text, ws, digits)
    {
        return Some(rule);
    }
    let lens_ok = {
        let groups: usize = ws.iter().map(|w| w.n).sum();
        groups == 1 || ws.iter().flat_map(Word::lens).all(|l| (3..=6).contains(&l))
    };
    rules.card.filter(|_| lens_ok && card::is_card(digits))
}

fn is_ssn(text: &[u8], ws: &[Word], digits: &[u8]) -> bool {
    if digits.len() != 9 || !ssn::valid_digits(digits) {
        return false;
    }
    let lens: Vec<usize> = ws.iter().flat_map(Word::lens).collect();
    match (ws.len(), lens.as_slice()) {
        (1, [3, 2, 4]) => true,
        (1, [9]) | (3, [3, 2, 4]) => ssn::has_context(text, ws[0].start),
        _ => false,
    }
}
