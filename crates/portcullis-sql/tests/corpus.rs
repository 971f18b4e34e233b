//! The guardrail corpus: `tests/corpus/*.txt`, one case a line:
//! `preset | allow|block|review | SQL` (`\n` in the SQL is a newline).

use std::path::Path;

use portcullis_core::policy::{Action, Policy, Subject};

/// The request's verdict: the most restrictive of its statements' (as the
/// gateway runs a multi-statement request only if every statement may run).
fn verdict(policy: &Policy, sql: &str) -> String {
    let subject = Subject::new("tester", vec![]);
    let reports = portcullis_sql::policy_check(policy, &subject, sql);
    let action = reports
        .iter()
        .map(|r| r.verdict)
        .max()
        .unwrap_or(Action::Allow);
    action.as_str().to_string()
}

#[test]
fn corpus() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    let mut cases = 0;
    let mut failures = Vec::new();
    for path in entries {
        let text = std::fs::read_to_string(&path).unwrap();
        for (n, line) in text.lines().enumerate() {
            if line.trim_start().starts_with('#') || line.trim().is_empty() {
                continue;
            }
            let mut parts = line.splitn(3, '|');
            let (Some(preset), Some(expected), Some(sql)) =
                (parts.next(), parts.next(), parts.next())
            else {
                panic!("{}:{}: malformed line", path.display(), n + 1);
            };
            let sql = sql.trim().replace("\\n", "\n");
            let policy = Policy::preset(preset.trim()).unwrap();
            let got = verdict(&policy, &sql);
            // The cached path must agree, hot or cold.
            let classifier = portcullis_sql::Classifier::default();
            let direct = portcullis_sql::classify(&sql);
            for _ in 0..2 {
                let cached = classifier.classify(&sql).map(|c| c.to_vec());
                assert_eq!(cached, direct, "cache disagrees on {sql:?}");
            }
            cases += 1;
            if got != expected.trim() {
                failures.push(format!(
                    "{}:{}: [{}] expected {}, got {got}: {sql}",
                    path.file_name().unwrap().to_string_lossy(),
                    n + 1,
                    preset.trim(),
                    expected.trim()
                ));
            }
        }
    }
    assert!(cases >= 250, "only {cases} cases");
    assert!(
        failures.is_empty(),
        "{} of {cases} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
