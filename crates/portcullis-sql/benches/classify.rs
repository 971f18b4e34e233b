//! Classification cost, uncached and cached, and policy evaluation.
//!
//! `cargo bench -p portcullis-sql -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use portcullis_core::policy::{Policy, Subject};
use portcullis_sql::{Classifier, classify};

const SELECT: &str = "SELECT abalance FROM pgbench_accounts WHERE aid = 4242;";
const UPDATE: &str = "UPDATE pgbench_accounts SET abalance = abalance + -1234 WHERE aid = 4242;";

/// A ~5 KB analytic query: CTEs, joins, window functions, subqueries.
fn analytic() -> String {
    let mut sql = String::from("WITH ");
    for i in 0..16 {
        if i > 0 {
            sql.push_str(", ");
        }
        sql.push_str(&format!(
            "s{i} AS (SELECT c.region, date_trunc('month', o.created_at) AS m, sum(o.total) AS revenue, \
             count(DISTINCT o.customer_id) AS buyers FROM orders o JOIN customers c ON c.id = o.customer_id \
             WHERE o.status = 'paid' AND o.created_at >= now() - interval '{i} months' GROUP BY 1, 2) "
        ));
    }
    sql.push_str(
        "SELECT s0.region, s0.m, s0.revenue, rank() OVER (PARTITION BY s0.region ORDER BY s0.revenue DESC) AS r, \
         (SELECT avg(total) FROM orders WHERE orders.created_at > s0.m) AS avg_after FROM s0 \
         JOIN s1 ON s1.region = s0.region AND s1.m = s0.m JOIN s2 ON s2.region = s0.region \
         WHERE s0.revenue > 1000 AND EXISTS (SELECT 1 FROM refunds r WHERE r.region = s0.region) ORDER BY 1, 2 LIMIT 100",
    );
    sql
}

fn bench(c: &mut Criterion) {
    let analytic = analytic();
    assert!(analytic.len() >= 4500, "{}", analytic.len());
    let mut group = c.benchmark_group("classify");
    for (name, sql) in [
        ("select", SELECT),
        ("update", UPDATE),
        ("analytic_5kb", analytic.as_str()),
    ] {
        group.bench_function(format!("{name}/uncached"), |b| {
            b.iter(|| classify(black_box(sql)).unwrap())
        });
        let classifier = Classifier::default();
        classifier.classify(sql).unwrap();
        group.bench_function(format!("{name}/cached"), |b| {
            b.iter(|| classifier.classify(black_box(sql)).unwrap())
        });
    }
    // Same shape, different literal each time: the pgbench hot path.
    let classifier = Classifier::default();
    let mut aid = 0u32;
    group.bench_function("select/cached_new_literal", |b| {
        b.iter(|| {
            aid = aid.wrapping_add(1);
            let sql = format!("SELECT abalance FROM pgbench_accounts WHERE aid = {aid};");
            classifier.classify(black_box(&sql)).unwrap()
        })
    });
    group.finish();

    let policy = Policy::preset("production").unwrap();
    let subject = Subject::new("bench", vec!["devs".into()]);
    let select = classify(SELECT).unwrap();
    let analytic_info = classify(&analytic).unwrap();
    c.bench_function("policy/production/select", |b| {
        b.iter(|| policy.evaluate(black_box(&select), &subject))
    });
    c.bench_function("policy/production/analytic", |b| {
        b.iter(|| policy.evaluate(black_box(&analytic_info), &subject))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
