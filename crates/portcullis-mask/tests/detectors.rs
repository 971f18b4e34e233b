//! Table-driven detector corpus: `tests/data/detectors.tsv`, one case a line.

use portcullis_mask::{DetectorKind, MaskPolicy, MaskRuleConfig, StyleKind};

const TOKEN: &str = "<X>";

fn detector(name: &str) -> DetectorKind {
    let quoted = format!("\"{name}\"");
    serde_json::from_str(&quoted).unwrap_or_else(|e| panic!("unknown detector {name}: {e}"))
}

fn policy(kind: DetectorKind) -> MaskPolicy {
    let rule = MaskRuleConfig {
        detector: Some(kind),
        style: StyleKind::Redact,
        token: Some(TOKEN.into()),
        ..Default::default()
    };
    MaskPolicy::compile(&[rule], b"key").expect("compiles")
}

#[test]
fn detector_corpus() {
    let data = include_str!("data/detectors.tsv");
    let mut failures = Vec::new();
    let mut cases = 0;
    for (n, line) in data.lines().enumerate() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let mut parts = line.splitn(3, '\t');
        let (Some(kind), Some(expected), Some(text)) = (parts.next(), parts.next(), parts.next())
        else {
            panic!("line {}: expected three tab-separated fields", n + 1);
        };
        let text = text.replace("\\n", "\n");
        let expected = expected.replace("\\n", "\n");
        let want = if expected == "-" {
            text.clone()
        } else {
            text.replacen(&expected, TOKEN, 1)
        };
        assert!(
            expected == "-" || text.contains(&expected),
            "line {}: span not in text",
            n + 1
        );
        let got = policy(detector(kind)).scrub(&text).into_owned();
        cases += 1;
        if got != want {
            failures.push(format!(
                "line {} [{kind}]: {text:?}\n   want {want:?}\n    got {got:?}",
                n + 1
            ));
        }
    }
    assert!(cases > 90, "corpus shrank: {cases}");
    assert!(
        failures.is_empty(),
        "{} of {cases} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
