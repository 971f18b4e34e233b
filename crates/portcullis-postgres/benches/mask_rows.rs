//! DataRow rewriting on the wire, column rules only: MB/s of DataRow payload
//! through `mask::rows::data_row` (decode, mask the masked fields, re-encode),
//! and the same rows through a plan that masks nothing (the cost a result
//! with nothing to mask would pay if it were not skipped outright).

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use portcullis_mask::{ColumnInfo, MaskPolicy, MaskRuleConfig, StyleKind};
use portcullis_postgres::mask::rows::data_row;

const ROWS: usize = 10_000;

fn column(table: &str, name: &str, type_oid: u32) -> ColumnInfo {
    ColumnInfo {
        source: Some((format!("public.{table}"), name.into())),
        name: name.into(),
        type_oid,
        format: 0,
    }
}

/// Rows like a customers table: id, name, email, card, status, amount, created.
fn rows() -> Vec<Vec<u8>> {
    (0..ROWS)
        .map(|i| {
            let fields = [
                format!("{i}"),
                format!("Customer number {i}"),
                format!("customer.{i}@example.com"),
                format!("4111 1111 1111 {:04}", i % 10_000),
                "settled".to_string(),
                format!("{}.{:02}", i * 3, i % 100),
                "2024-05-01 12:34:56.789+00".to_string(),
            ];
            let mut body = (fields.len() as i16).to_be_bytes().to_vec();
            for f in fields {
                body.extend_from_slice(&(f.len() as i32).to_be_bytes());
                body.extend_from_slice(f.as_bytes());
            }
            body
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let rules = [
        MaskRuleConfig {
            column: Some("*.customers.email".into()),
            style: StyleKind::Partial,
            ..Default::default()
        },
        MaskRuleConfig {
            column: Some("*.customers.card".into()),
            style: StyleKind::Partial,
            ..Default::default()
        },
        MaskRuleConfig {
            column: Some("*.customers.name".into()),
            style: StyleKind::Redact,
            ..Default::default()
        },
    ];
    let policy = MaskPolicy::compile(&rules, b"bench-key").expect("compiles");
    let cols = |table: &str| {
        vec![
            column(table, "id", 23),
            column(table, "name", 25),
            column(table, "email", 25),
            column(table, "card", 25),
            column(table, "status", 25),
            column(table, "amount", 1700),
            column(table, "created", 1184),
        ]
    };
    let masked = policy.plan(&cols("customers"));
    let clear = policy.plan(&cols("orders"));
    let rows = rows();
    let bytes: usize = rows.iter().map(Vec::len).sum();
    let mut g = c.benchmark_group("wire_rows");
    g.throughput(Throughput::Bytes(bytes as u64));
    g.bench_function("column_rules_3_of_7_masked", |b| {
        b.iter(|| {
            for r in &rows {
                black_box(data_row(&masked, black_box(r)).expect("decodes"));
            }
        })
    });
    g.bench_function("plan_masks_nothing", |b| {
        b.iter(|| {
            for r in &rows {
                black_box(data_row(&clear, black_box(r)).expect("decodes"));
            }
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
