//! Masking throughput in MB/s: (a) column rules over DataRow fields,
//! (b) detectors over ~1 MB of log-like free text with sparse PII,
//! (c) the same text with PII on every line.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use portcullis_mask::{ColumnInfo, DetectorKind, MaskPolicy, MaskRuleConfig, StyleKind};

const TARGET: usize = 1 << 20;

fn rule(style: StyleKind) -> MaskRuleConfig {
    MaskRuleConfig {
        style,
        ..Default::default()
    }
}

fn all_detectors() -> MaskPolicy {
    let mut rules: Vec<MaskRuleConfig> = DetectorKind::ALL
        .iter()
        .map(|&d| MaskRuleConfig {
            detector: Some(d),
            ..rule(StyleKind::Partial)
        })
        .collect();
    rules.push(MaskRuleConfig {
        pattern: Some("EMP-[0-9]{6}".into()),
        ..rule(StyleKind::Redact)
    });
    MaskPolicy::compile(&rules, b"bench-key").expect("compiles")
}

/// Deterministic pseudo-random numbers (no dependency, same text every run).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
}

const WORDS: &[&str] = &[
    "request",
    "completed",
    "user",
    "session",
    "order",
    "shipped",
    "payment",
    "pending",
    "retry",
    "the",
    "with",
    "for",
    "status",
    "warehouse",
    "customer",
    "updated",
    "timeout",
    "cache",
    "miss",
    "queue",
    "worker",
    "latency",
];
const PII: &[&str] = &[
    "jane.doe@example.com",
    "4111 1111 1111 1111",
    "123-45-6789",
    "DE89370400440532013000",
    "+14155552671",
    "10.1.2.3",
    "2001:db8::8a2e:370:7334",
    "AKIAIOSFODNN7EXAMPLE",
    "Bearer abcdef0123456789.ghijkl-mnop_qr",
    "EMP-123456",
];

fn free_text(pii_every: usize) -> String {
    let mut rng = Lcg(42);
    let mut out = String::with_capacity(TARGET + 256);
    let mut line = 0usize;
    while out.len() < TARGET {
        out.push_str(&format!(
            "2024-01-{:02} 12:{:02}:{:02}.{:03} INFO worker-{} order_id=ORD-{} amount={}.{:02} ",
            rng.next() % 28 + 1,
            rng.next() % 60,
            rng.next() % 60,
            rng.next() % 1000,
            rng.next() % 16,
            rng.next() % 10_000_000,
            rng.next() % 10_000,
            rng.next() % 100
        ));
        for _ in 0..(8 + rng.next() % 10) {
            out.push_str(WORDS[(rng.next() as usize) % WORDS.len()]);
            out.push(' ');
        }
        if line.is_multiple_of(pii_every) {
            out.push_str(PII[(rng.next() as usize) % PII.len()]);
        }
        out.push_str(&format!(
            " took {}ms v1.{}.{}\n",
            rng.next() % 500,
            rng.next() % 10,
            rng.next() % 10
        ));
        line += 1;
    }
    out
}

fn bench_columns(c: &mut Criterion) {
    let rules = vec![
        MaskRuleConfig {
            column: Some("*.users.email".into()),
            ..rule(StyleKind::Partial)
        },
        MaskRuleConfig {
            column: Some("*.users.ssn".into()),
            ..rule(StyleKind::Hash)
        },
        MaskRuleConfig {
            name: Some("*card*".into()),
            keep_suffix: Some(4),
            ..rule(StyleKind::Partial)
        },
    ];
    let policy = MaskPolicy::compile(&rules, b"bench-key").expect("compiles");
    let src = |c: &str| Some(("public.users".to_owned(), c.to_owned()));
    let columns = [
        ColumnInfo {
            source: src("id"),
            name: "id".into(),
            type_oid: 23,
            format: 1,
        },
        ColumnInfo {
            source: src("email"),
            name: "email".into(),
            type_oid: 25,
            format: 0,
        },
        ColumnInfo {
            source: src("name"),
            name: "name".into(),
            type_oid: 25,
            format: 0,
        },
        ColumnInfo {
            source: src("ssn"),
            name: "ssn".into(),
            type_oid: 1043,
            format: 0,
        },
        ColumnInfo {
            source: None,
            name: "card_number".into(),
            type_oid: 25,
            format: 0,
        },
        ColumnInfo {
            source: src("created_at"),
            name: "created_at".into(),
            type_oid: 1184,
            format: 0,
        },
        ColumnInfo {
            source: src("bio"),
            name: "bio".into(),
            type_oid: 25,
            format: 0,
        },
    ];
    let plan = policy.plan(&columns);
    let mut rows: Vec<Vec<Vec<u8>>> = Vec::new();
    let mut bytes = 0;
    let mut i = 0u32;
    while bytes < TARGET {
        let row = vec![
            i.to_be_bytes().to_vec(),
            format!("user{i}@example.com").into_bytes(),
            format!("Customer Number {i}").into_bytes(),
            format!(
                "{:03}-{:02}-{:04}",
                100 + i % 500,
                10 + i % 80,
                1000 + i % 8000
            )
            .into_bytes(),
            b"4111 1111 1111 1111".to_vec(),
            b"2024-01-02 12:34:56.789+00".to_vec(),
            b"Likes hiking, databases and long walks on the beach. Plays the cello on weekends."
                .to_vec(),
        ];
        bytes += row.iter().map(Vec::len).sum::<usize>();
        rows.push(row);
        i += 1;
    }
    let mut g = c.benchmark_group("columns");
    g.throughput(Throughput::Bytes(bytes as u64));
    g.bench_function("column_rules", |b| {
        b.iter(|| {
            let mut n = 0;
            for row in &rows {
                for (col, v) in row.iter().enumerate() {
                    n += plan.mask_value(col, Some(v)).map_or(0, |m| m.len());
                }
            }
            black_box(n)
        })
    });
    g.finish();
}

fn bench_scrub(c: &mut Criterion) {
    let policy = all_detectors();
    let mut g = c.benchmark_group("scrub");
    for (name, every) in [("sparse_pii", 200), ("dense_pii", 1)] {
        let text = free_text(every);
        g.throughput(Throughput::Bytes(text.len() as u64));
        g.bench_function(name, |b| {
            b.iter(|| black_box(policy.scrub(black_box(&text))).len())
        });
    }
    let clean = free_text(usize::MAX);
    g.throughput(Throughput::Bytes(clean.len() as u64));
    g.bench_function("no_pii", |b| {
        b.iter(|| black_box(policy.scrub(black_box(&clean))).len())
    });
    g.finish();
}

/// One detector at a time over the sparse text; set `MASK_BENCH_EACH=1` to run.
fn bench_each(c: &mut Criterion) {
    if std::env::var_os("MASK_BENCH_EACH").is_none() {
        return;
    }
    let text = free_text(200);
    let mut g = c.benchmark_group("each");
    g.throughput(Throughput::Bytes(text.len() as u64));
    for d in DetectorKind::ALL {
        let rules = [MaskRuleConfig {
            detector: Some(d),
            ..rule(StyleKind::Redact)
        }];
        let policy = MaskPolicy::compile(&rules, b"k").expect("compiles");
        g.bench_function(d.as_str(), |b| {
            b.iter(|| black_box(policy.scrub(black_box(&text))).len())
        });
    }
    g.finish();
}

criterion_group!(benches, bench_columns, bench_scrub, bench_each);
criterion_main!(benches);
