//! Properties that must hold for any input.

use std::borrow::Cow;

use portcullis_mask::{ColumnInfo, DetectorKind, MaskPolicy, MaskRuleConfig, StyleKind};
use proptest::prelude::*;

fn all_detectors(style: StyleKind) -> MaskPolicy {
    let rules: Vec<MaskRuleConfig> = DetectorKind::ALL
        .iter()
        .map(|&d| MaskRuleConfig {
            detector: Some(d),
            style,
            ..Default::default()
        })
        .collect();
    MaskPolicy::compile(&rules, b"k").expect("compiles")
}

proptest! {
    #[test]
    fn scrub_never_panics_and_is_idempotent(s in "[ -~\n]{0,200}") {
        let p = all_detectors(StyleKind::Redact);
        let once = p.scrub(&s).into_owned();
        let twice = p.scrub(&once).into_owned();
        prop_assert_eq!(once, twice);
    }

    #[test]
    fn scrub_bytes_never_panics(b in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = all_detectors(StyleKind::Partial).scrub_bytes(&b);
    }

    #[test]
    fn cards_in_text_are_always_masked(n in 0u64..1_000_000_000_000_000, sep in "[ -]?") {
        // Build a Luhn-valid Visa number around a random body.
        let body = format!("4{n:014}");
        let sum: u32 = body.chars().rev().enumerate().map(|(i, c)| {
            let v = c.to_digit(10).unwrap_or(0);
            if i % 2 == 0 { let x = v * 2; if x > 9 { x - 9 } else { x } } else { v }
        }).sum();
        let card = format!("{body}{}", (10 - sum % 10) % 10);
        let grouped: Vec<&str> = (0..4).map(|i| &card[i * 4..i * 4 + 4]).collect();
        let text = format!("paid with {} today", grouped.join(&sep));
        let out = all_detectors(StyleKind::Redact).scrub(&text).into_owned();
        prop_assert!(!out.contains(&card[12..]), "{} -> {}", text, out);
    }

    #[test]
    fn json_scan_output_is_json(s in "[ -~]{0,60}") {
        let p = all_detectors(StyleKind::Redact);
        let plan = p.plan(&[ColumnInfo { source: None, name: "j".into(), type_oid: 114, format: 0 }]);
        let doc = serde_json::json!({ "s": s, "n": [1, 4111111111111111u64] }).to_string();
        let out = plan.mask_value(0, Some(doc.as_bytes()));
        if let Some(Cow::Owned(bytes)) = out {
            prop_assert!(serde_json::from_slice::<serde_json::Value>(&bytes).is_ok());
        }
    }
}

#[test]
fn adversarial_inputs_stay_linear() {
    let p = all_detectors(StyleKind::Redact);
    let inputs = [
        "-----BEGIN PRIVATE KEY----- ".repeat(5_000),
        "1 ".repeat(100_000),
        "1-".repeat(100_000),
        "a@".repeat(100_000),
        "ab:".repeat(100_000),
        "aws secret ".repeat(20_000),
        format!("{}@{}", "a".repeat(100_000), "b.".repeat(100_000)),
    ];
    for input in &inputs {
        let started = std::time::Instant::now();
        let _ = p.scrub(input);
        assert!(
            started.elapsed() < std::time::Duration::from_secs(3),
            "slow on {:?}...",
            &input[..40]
        );
    }
}
