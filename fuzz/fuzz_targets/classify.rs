//! Fuzz the classifier and the fail-closed path: never panic, and never allow
//! (under a guarded preset) text the parser could not classify. The cached
//! classifier must agree with the uncached one.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use portcullis_core::policy::{Action, Policy, Subject};
use portcullis_sql::{Classifier, classify};

fn classifier() -> &'static Classifier {
    static CLASSIFIER: OnceLock<Classifier> = OnceLock::new();
    CLASSIFIER.get_or_init(|| Classifier::new(4 << 20))
}

fuzz_target!(|data: &[u8]| {
    let Ok(sql) = std::str::from_utf8(data) else {
        return;
    };
    let direct = classify(sql);
    let cached = classifier().classify(sql).map(|c| c.to_vec());
    assert_eq!(direct, cached, "cache disagrees with the parser");
    let subject = Subject::new("fuzz", vec![]);
    for preset in ["read-only", "no-destructive", "production"] {
        let Ok(policy) = Policy::preset(preset) else {
            panic!("preset {preset} must compile");
        };
        let verdict = match &direct {
            Ok(statements) => policy.evaluate(statements, &subject),
            Err(error) => {
                let verdict = policy.unparseable(&error.to_string());
                assert_ne!(verdict.action, Action::Allow, "allowed unparseable text");
                verdict
            }
        };
        let reports = portcullis_sql::policy_check(&policy, &subject, sql);
        if direct.is_err() {
            assert!(reports.iter().all(|r| r.verdict != Action::Allow));
        }
        let _ = verdict;
    }
});
