//! Compiling rules from TOML, planning columns and type-valid masking.

use std::borrow::Cow;

use portcullis_mask::{
    ColumnAction, ColumnInfo, DetectorKind, MaskError, MaskPolicy, MaskRuleConfig, StyleKind,
};

const KEY: &[u8] = b"deployment-key";

#[derive(serde::Deserialize)]
struct Doc {
    mask: Vec<MaskRuleConfig>,
}

fn rules(toml_text: &str) -> Vec<MaskRuleConfig> {
    toml::from_str::<Doc>(toml_text).expect("valid toml").mask
}

const EXAMPLE: &str = r#"
[[mask]]
column = "*.users.email"
style = "partial"
[[mask]]
name = "*card*"
style = "partial"
keep_suffix = 4
[[mask]]
detector = "payment-card"
style = "partial"
keep_suffix = 4
[[mask]]
pattern = "EMP-[0-9]{6}"
style = "redact"
[[mask]]
column = "public.users.ssn_hash"
style = "hash"
[[mask]]
name = "secret_note"
style = "null"
[[mask]]
detector = "email"
style = "redact"
token = "<email>"
"#;

fn policy() -> MaskPolicy {
    MaskPolicy::compile(&rules(EXAMPLE), KEY).expect("compiles")
}

fn col(source: Option<(&str, &str)>, name: &str, oid: u32, format: i16) -> ColumnInfo {
    ColumnInfo {
        source: source.map(|(t, c)| (t.to_owned(), c.to_owned())),
        name: name.to_owned(),
        type_oid: oid,
        format,
    }
}

fn text(v: Option<Cow<'_, [u8]>>) -> Option<String> {
    v.map(|b| String::from_utf8(b.into_owned()).expect("utf8"))
}

#[test]
fn example_config_parses_and_round_trips() {
    let parsed = rules(EXAMPLE);
    assert_eq!(parsed.len(), 7);
    assert_eq!(parsed[2].detector, Some(DetectorKind::PaymentCard));
    let json = serde_json::to_string(&parsed).expect("serializes");
    let back: Vec<MaskRuleConfig> = serde_json::from_str(&json).expect("deserializes");
    assert_eq!(back, parsed);
}

#[test]
fn unknown_fields_and_values_are_rejected() {
    assert!(
        toml::from_str::<Doc>("[[mask]]\ncolumn = \"a\"\nstyle = \"redact\"\ncolour = 1").is_err()
    );
    assert!(toml::from_str::<Doc>("[[mask]]\ncolumn = \"a\"\nstyle = \"blur\"").is_err());
    assert!(toml::from_str::<Doc>("[[mask]]\ndetector = \"dna\"\nstyle = \"redact\"").is_err());
    assert!(toml::from_str::<Doc>("[[mask]]\ndetector = \"ssn\"\nstyle = \"redact\"").is_ok());
}

#[test]
fn compile_errors_name_the_rule() {
    let err = |t: &str| MaskPolicy::compile(&rules(t), KEY).expect_err("must fail");
    assert_eq!(
        err("[[mask]]\nstyle = \"redact\""),
        MaskError::NoSelector { rule: 0 }
    );
    assert!(matches!(
        err("[[mask]]\ncolumn = \"a\"\nname = \"b\"\nstyle = \"redact\""),
        MaskError::MultipleSelectors { rule: 0, .. }
    ));
    assert!(matches!(
        err("[[mask]]\npattern = \"(\"\nstyle = \"redact\""),
        MaskError::InvalidPattern { rule: 0, .. }
    ));
    assert!(matches!(
        err("[[mask]]\ncolumn = \"a[\"\nstyle = \"redact\""),
        MaskError::InvalidGlob { rule: 0, .. }
    ));
    assert!(matches!(
        err("[[mask]]\ncolumn = \"a\"\nstyle = \"redact\"\nkeep_suffix = 4"),
        MaskError::OptionNotAllowed {
            option: "keep_suffix",
            ..
        }
    ));
    assert!(matches!(
        err("[[mask]]\ncolumn = \"a\"\nstyle = \"partial\"\ntoken = \"x\""),
        MaskError::OptionNotAllowed {
            option: "token",
            ..
        }
    ));
    assert!(matches!(
        err(
            "[[mask]]\ndetector = \"iban\"\nstyle = \"redact\"\n[[mask]]\ndetector = \"iban\"\nstyle = \"null\""
        ),
        MaskError::DuplicateDetector {
            rule: 1,
            first: 0,
            ..
        }
    ));
    let hash = rules("[[mask]]\ncolumn = \"a\"\nstyle = \"hash\"");
    assert_eq!(
        MaskPolicy::compile(&hash, b"").expect_err("no key"),
        MaskError::MissingHashKey { rule: 0 }
    );
    assert_eq!(
        err("[[mask]]\ncolumn = \"a\"\nstyle = \"redact\"\ntoken = \"\""),
        MaskError::EmptyToken { rule: 0 }
    );
}

#[test]
fn plan_picks_column_then_name_then_scan() {
    let plan = policy().plan(&[
        col(Some(("public.users", "email")), "email", 25, 0),
        col(None, "card_number", 1043, 0),
        col(Some(("public.users", "bio")), "bio", 25, 0),
        col(Some(("public.users", "id")), "id", 23, 1),
        col(Some(("public.users", "ssn_hash")), "x", 25, 1),
        col(None, "SECRET_NOTE", 25, 0),
        col(Some(("Public.Users", "EMAIL")), "e", 25, 0),
    ]);
    assert_eq!(plan.action(0), Some(ColumnAction::ColumnRule(0)));
    assert_eq!(plan.action(1), Some(ColumnAction::NameRule(1)));
    assert_eq!(plan.action(2), Some(ColumnAction::Scan));
    assert_eq!(plan.action(3), Some(ColumnAction::Pass));
    assert_eq!(plan.action(4), Some(ColumnAction::ColumnRule(4)));
    assert_eq!(
        plan.action(5),
        Some(ColumnAction::NameRule(5)),
        "globs are case-insensitive"
    );
    assert_eq!(
        plan.action(6),
        Some(ColumnAction::ColumnRule(0)),
        "globs are case-insensitive"
    );
    assert!(!plan.is_passthrough());
    assert_eq!(plan.len(), 7);

    assert_eq!(
        text(plan.mask_value(0, Some(b"jane@example.com"))).as_deref(),
        Some("j****@*****.com")
    );
    assert_eq!(
        text(plan.mask_value(1, Some(b"4444 3333 2222 4444"))).as_deref(),
        Some("**** **** **** 4444")
    );
    assert_eq!(
        text(plan.mask_value(
            2,
            Some(b"paid 4111 1111 1111 1111, mail bob@x.org, EMP-123456")
        ))
        .as_deref(),
        Some("paid **** **** **** 1111, mail <email>, [REDACTED]")
    );
    let plain = b"nothing to see";
    assert!(matches!(plan.mask_value(2, Some(plain)), Some(Cow::Borrowed(b)) if b == plain));
    assert!(matches!(
        plan.mask_value(3, Some(&[0, 0, 0, 7])),
        Some(Cow::Borrowed(_))
    ));
    let h1 = text(plan.mask_value(4, Some(b"123-45-6789")));
    assert_eq!(
        h1,
        text(plan.mask_value(4, Some(b"123-45-6789"))),
        "hash is stable"
    );
    assert_eq!(h1.map(|h| h.len()), Some(16));
    assert_eq!(plan.mask_value(5, Some(b"anything")), None);
    assert_eq!(plan.mask_value(0, None), None, "NULL stays NULL");
    assert_eq!(
        plan.mask_value(99, Some(b"x")),
        None,
        "fail closed past the plan"
    );
}

#[test]
fn passthrough_when_nothing_applies() {
    let p = MaskPolicy::compile(
        &rules("[[mask]]\ncolumn = \"*.users.email\"\nstyle = \"redact\""),
        KEY,
    )
    .expect("ok");
    let plan = p.plan(&[
        col(Some(("public.orders", "total")), "total", 1700, 0),
        col(None, "note", 25, 0),
    ]);
    assert!(plan.is_passthrough());
    assert!(MaskPolicy::compile(&[], KEY).expect("ok").is_empty());
}

#[test]
fn non_text_types_become_null() {
    let p =
        MaskPolicy::compile(&rules("[[mask]]\nname = \"*\"\nstyle = \"redact\""), KEY).expect("ok");
    // int4, numeric, date, uuid in text and binary; bytea binary; citext-like user type in binary.
    for (oid, format) in [
        (23, 0),
        (23, 1),
        (1700, 0),
        (1082, 1),
        (2950, 0),
        (17, 1),
        (90_000, 1),
        (18, 0),
    ] {
        assert_eq!(
            p.mask_with_rule(0, oid, format, b"1234"),
            None,
            "oid {oid} format {format}"
        );
    }
    assert_eq!(
        text(p.mask_with_rule(0, 90_000, 0, b"Jane")).as_deref(),
        Some("[REDACTED]"),
        "citext in text"
    );
}

#[test]
fn text_like_types_stay_decodable() {
    let p = MaskPolicy::compile(&rules("[[mask]]\nname = \"*\"\nstyle = \"partial\""), KEY)
        .expect("ok");
    assert_eq!(
        text(p.mask_with_rule(0, 25, 1, b"jane@example.com")).as_deref(),
        Some("j****@*****.com")
    );
    // bpchar keeps its declared width
    assert_eq!(
        text(p.mask_with_rule(0, 1042, 0, b"AB12CD34  ")).as_deref(),
        Some("****CD34  ")
    );
    // json becomes a JSON string; a JSON string value is unwrapped first
    assert_eq!(
        text(p.mask_with_rule(0, 114, 0, b"\"jane@example.com\"")).as_deref(),
        Some("\"j****@*****.com\"")
    );
    let obj = p
        .mask_with_rule(0, 114, 0, br#"{"a":"secret1234"}"#)
        .expect("value");
    assert!(
        serde_json::from_slice::<serde_json::Value>(&obj)
            .expect("json")
            .is_string()
    );
    // binary jsonb keeps the version byte
    let b = p
        .mask_with_rule(0, 3802, 1, b"\x01\"jane@example.com\"")
        .expect("value");
    assert_eq!(b[0], 1);
    assert_eq!(&b[1..], b"\"j****@*****.com\"");
    // name stays within 63 bytes
    let r = MaskPolicy::compile(
        &rules(&format!(
            "[[mask]]\nname = \"*\"\nstyle = \"redact\"\ntoken = \"{}\"",
            "x".repeat(100)
        )),
        KEY,
    )
    .expect("ok");
    assert_eq!(r.mask_with_rule(0, 19, 0, b"n").map(|v| v.len()), Some(63));
    assert_eq!(
        p.mask_with_rule(7, 25, 0, b"x"),
        None,
        "unknown rule fails closed"
    );
}

#[test]
fn scanned_json_stays_valid() {
    let p = MaskPolicy::compile(
        &rules("[[mask]]\ndetector = \"payment-card\"\nstyle = \"redact\"\ntoken = \"a\\\"b\"\n[[mask]]\ndetector = \"email\"\nstyle = \"partial\""),
        KEY,
    )
    .expect("ok");
    let plan = p.plan(&[col(None, "doc", 3802, 1), col(None, "doc", 114, 0)]);
    let cases: [&[u8]; 3] = [
        br#"{"card": 4111111111111111, "n": 1}"#,
        br#"{"card": "4111 1111 1111 1111"}"#,
        br#"["jane@example.com", {"k": "x"}]"#,
    ];
    for case in cases {
        let mut bin = vec![1u8];
        bin.extend_from_slice(case);
        let out = plan.mask_value(0, Some(&bin)).expect("value");
        assert_eq!(out[0], 1);
        let v: serde_json::Value = serde_json::from_slice(&out[1..]).expect("valid json");
        let s = v.to_string();
        assert!(!s.contains("4111") && !s.contains("jane@"), "{s}");
        let out = plan.mask_value(1, Some(case)).expect("value");
        serde_json::from_slice::<serde_json::Value>(&out).expect("valid json");
    }
}

#[test]
fn null_style_detector_nulls_column_and_redacts_free_text() {
    let p = MaskPolicy::compile(
        &rules("[[mask]]\ndetector = \"us-ssn\"\nstyle = \"null\""),
        KEY,
    )
    .expect("ok");
    let plan = p.plan(&[col(None, "note", 25, 0)]);
    assert_eq!(plan.mask_value(0, Some(b"ssn 123-45-6789")), None);
    assert_eq!(p.scrub("ssn 123-45-6789"), "ssn [REDACTED]");
}

#[test]
fn scrub_borrows_when_clean_and_masks_error_messages() {
    let p = policy();
    let clean =
        "duplicate key value violates unique constraint \"orders_pkey\" at 2024-01-02 12:34:56";
    assert!(matches!(p.scrub(clean), Cow::Borrowed(_)));
    assert_eq!(
        p.scrub("Key (email)=(jane@example.com) already exists."),
        "Key (email)=(<email>) already exists."
    );
    assert!(matches!(
        p.scrub_bytes(b"\xff\xfe no pii"),
        Cow::Borrowed(_)
    ));
}

#[test]
fn all_detectors_together_resolve_overlaps() {
    let all: Vec<MaskRuleConfig> = DetectorKind::ALL
        .iter()
        .map(|&d| MaskRuleConfig {
            detector: Some(d),
            style: StyleKind::Redact,
            token: Some(format!("<{}>", d.as_str())),
            ..Default::default()
        })
        .collect();
    let p = MaskPolicy::compile(&all, KEY).expect("ok");
    assert_eq!(
        p.scrub("from ::ffff:192.0.2.1 ssn 123-45-6789 card 4111111111111111 tel +14155552671 at 2024-01-02 12:34:56 v1.2.3.4.5"),
        "from <ipv6> ssn <us-ssn> card <payment-card> tel <phone> at 2024-01-02 12:34:56 v1.2.3.4.5"
    );
    assert_eq!(p.scrub("mail jane@example.com"), "mail <email>");
}

#[test]
fn debug_output_hides_the_key() {
    let s = format!("{:?}", policy());
    assert!(!s.contains("deployment-key"), "{s}");
}

#[test]
fn json_escapes_do_not_hide_values() {
    let p = MaskPolicy::compile(
        &rules("[[mask]]\ndetector = \"payment-card\"\nstyle = \"redact\"\n[[mask]]\ndetector = \"email\"\nstyle = \"redact\""),
        KEY,
    )
    .expect("ok");
    let plan = p.plan(&[col(None, "doc", 114, 0)]);
    let doc = br#"{"note":"card:\n4111111111111111","mail":"jane\u0040example.com","ok":"a\tb"}"#;
    let out = plan.mask_value(0, Some(doc)).expect("value");
    let v: serde_json::Value = serde_json::from_slice(&out).expect("valid json");
    assert_eq!(v["note"], "card:\n[REDACTED]");
    assert_eq!(v["mail"], "[REDACTED]");
    assert_eq!(v["ok"], "a\tb");
    let clean = br#"{"note":"line\nbreak"}"#;
    assert!(matches!(
        plan.mask_value(0, Some(clean)),
        Some(Cow::Borrowed(_))
    ));
}
