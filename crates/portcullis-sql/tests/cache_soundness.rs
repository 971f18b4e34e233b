//! The cache must be sound: a cached answer equals what the parser would say,
//! for every text, including texts that share a shape with a cached one.

use portcullis_sql::{Classifier, classify};
use proptest::prelude::*;

const TEMPLATES: &[&str] = &[
    "SELECT abalance FROM pgbench_accounts WHERE aid = {i};",
    "UPDATE pgbench_accounts SET abalance = abalance + {i} WHERE aid = {i};",
    "DELETE FROM orders WHERE {i} = {i}",
    "DELETE FROM orders WHERE {s} = {s}",
    "DELETE FROM orders WHERE id = {i} OR {i} < {i}",
    "UPDATE t SET a = {s} WHERE {f} > {i}",
    "SELECT {s}, {f}, {i} FROM t WHERE x IN ({i}, {i}) AND y LIKE {s}",
    "SELECT set_config({s}, {s}, false)",
    "SET statement_timeout = {i}",
    "SET session_replication_role = {s}",
    "EXPLAIN (ANALYZE {i}) DELETE FROM t",
    "DELETE FROM t WHERE {s}",
    "DELETE FROM t WHERE {s}::boolean",
    "SELECT {i}::float({i})",
    "DELETE FROM t WHERE x BETWEEN {i} AND {i}",
    "SELECT 1 /* {s} */ + {i} -- {s}\n, {s}",
    "INSERT INTO t VALUES ({i}, {s}, {f}) ON CONFLICT DO NOTHING",
];

fn literal() -> impl Strategy<Value = (String, String, String)> {
    let int = prop_oneof![
        (0i64..10).prop_map(|v| v.to_string()),
        any::<u32>().prop_map(|v| v.to_string()),
        Just("2147483647".to_string()),
        Just("2147483648".to_string()),
        Just("0x1F".to_string()),
        Just("1_000".to_string()),
        Just("00012".to_string()),
        Just("1e5".to_string()),
    ];
    let float = prop_oneof![
        Just("1.5".to_string()),
        Just(".5".to_string()),
        Just("1.".to_string()),
        Just("1e-3".to_string()),
        Just("1.2.3".to_string()),
    ];
    let string = prop_oneof![
        "[a-z '%]{0,6}".prop_map(|s| format!("'{}'", s.replace('\'', "''"))),
        Just("'t'".to_string()),
        Just("'replica'".to_string()),
        Just("'origin'".to_string()),
        Just("'standard_conforming_strings'".to_string()),
        Just("E'a\\'b'".to_string()),
        Just("U&'\\0061'".to_string()),
        Just("$$x'y$$".to_string()),
        Just("$q$ $$ $q$".to_string()),
        Just("'a\\'".to_string()),
        Just("'é'".to_string()),
        Just("'a'\n'b'".to_string()),
        Just("B'101'".to_string()),
        Just("'*/'".to_string()),
    ];
    (int, float, string)
}

fn fill(template: &str, values: &[(String, String, String)]) -> String {
    let mut out = String::new();
    let mut rest = template;
    let mut n = 0;
    while let Some(pos) = rest.find('{') {
        out.push_str(&rest[..pos]);
        let (i, f, s) = &values[n % values.len()];
        n += 1;
        match &rest[pos..pos + 3] {
            "{i}" => out.push_str(i),
            "{f}" => out.push_str(f),
            _ => out.push_str(s),
        }
        rest = &rest[pos + 3..];
    }
    out.push_str(rest);
    out
}

const FRAGMENTS: &[&str] = &[
    "SELECT",
    "DELETE",
    "FROM",
    "t",
    "WHERE",
    "1",
    "=",
    "'a'",
    "E'\\''",
    "$$",
    "$a$",
    "--",
    "/*",
    "*/",
    "\n",
    " ",
    ";",
    "(",
    ")",
    "U&\"x\"",
    "\"q\"",
    "DROP TABLE x",
    "1.5",
    "e",
    "'",
    "\"",
    "\\",
    "$1",
    "true",
    "OR",
    "::",
    "float(",
    "0",
    "é",
    "x",
    "?",
    "-",
    "+",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Statements differing only in literals: whatever was cached first, the
    /// answer for the second equals the parser's.
    #[test]
    fn literal_substitution_agrees(
        template in 0..TEMPLATES.len(),
        first in proptest::collection::vec(literal(), 1..4),
        second in proptest::collection::vec(literal(), 1..4),
    ) {
        let classifier = Classifier::new(1 << 20);
        let a = fill(TEMPLATES[template], &first);
        let b = fill(TEMPLATES[template], &second);
        let _ = classifier.classify(&a);
        let cached = classifier.classify(&b).map(|c| c.to_vec());
        prop_assert_eq!(cached, classify(&b), "after {:?}", a);
    }

    /// Random token soup, classified after other soup warmed the cache.
    #[test]
    fn adversarial_text_agrees(
        warm in proptest::collection::vec(proptest::collection::vec(0..FRAGMENTS.len(), 0..12), 0..8),
        text in proptest::collection::vec(0..FRAGMENTS.len(), 0..12),
    ) {
        let classifier = Classifier::new(1 << 20);
        for w in &warm {
            let sql: String = w.iter().map(|i| FRAGMENTS[*i]).collect::<Vec<_>>().join(" ");
            let _ = classifier.classify(&sql);
        }
        let sql: String = text.iter().map(|i| FRAGMENTS[*i]).collect::<Vec<_>>().join("");
        let cached = classifier.classify(&sql).map(|c| c.to_vec());
        prop_assert_eq!(cached, classify(&sql));
    }
}

#[test]
fn pgbench_statements_share_a_cache_entry() {
    let classifier = Classifier::new(1 << 20);
    for aid in [1, 42, 4242, 99999] {
        classifier
            .classify(&format!(
                "SELECT abalance FROM pgbench_accounts WHERE aid = {aid};"
            ))
            .unwrap();
        classifier
            .classify(&format!(
                "UPDATE pgbench_accounts SET abalance = abalance + {} WHERE aid = {aid};",
                -aid
            ))
            .unwrap();
    }
    let stats = classifier.stats();
    assert_eq!(stats.misses, 2, "{stats:?}");
    assert_eq!(stats.hits, 6, "{stats:?}");
}

#[test]
fn literal_dependent_results_are_not_shared() {
    let classifier = Classifier::new(1 << 20);
    let safe = classifier.classify("DELETE FROM t WHERE 1 = 2").unwrap();
    let tautology = classifier.classify("DELETE FROM t WHERE 1 = 1").unwrap();
    assert!(
        !safe[0]
            .facts
            .iter()
            .any(|f| f.as_str() == "always_true_where")
    );
    assert!(
        tautology[0]
            .facts
            .iter()
            .any(|f| f.as_str() == "always_true_where")
    );
    let origin = classifier
        .classify("SET session_replication_role = 'origin'")
        .unwrap();
    let replica = classifier
        .classify("SET session_replication_role = 'replica'")
        .unwrap();
    assert_ne!(origin, replica);
}
