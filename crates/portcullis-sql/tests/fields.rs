//! Unit tests of individual classification fields.

use portcullis_core::statement::{Fact, StatementClass as C, StatementInfo};
use portcullis_sql::{ClassifyError, classify};

fn one(sql: &str) -> StatementInfo {
    let mut all = classify(sql).unwrap();
    assert_eq!(all.len(), 1, "{sql}");
    all.remove(0)
}

#[test]
fn select_reads_qualified_tables() {
    let s = one("SELECT a FROM orders o JOIN app.customers c ON c.id = o.cid, pg_class");
    assert_eq!(s.command, "SELECT");
    assert_eq!(s.class, C::Read);
    assert_eq!(
        s.tables_read,
        ["app.customers", "pg_catalog.pg_class", "public.orders"]
    );
    assert!(s.tables_written.is_empty());
}

#[test]
fn cte_names_are_not_tables_but_shadowing_is_scoped() {
    let s = one("WITH a AS (SELECT * FROM b), b AS (SELECT 1) SELECT * FROM a, b");
    assert_eq!(s.tables_read, ["public.b"]);
    let s = one("WITH RECURSIVE r AS (SELECT 1 UNION ALL SELECT * FROM r) SELECT * FROM r");
    assert!(s.tables_read.is_empty());
}

#[test]
fn dml_targets_are_written() {
    let s = one("UPDATE app.orders SET a = b.a FROM staging b WHERE orders.id = b.id");
    assert_eq!(s.tables_written, ["app.orders"]);
    assert_eq!(s.tables_read, ["public.staging"]);
    assert_eq!(s.classes, [C::Read, C::Write]);
}

#[test]
fn no_where_and_tautologies() {
    assert!(one("DELETE FROM t").has_fact(Fact::NoWhere));
    assert!(one("UPDATE t SET a = 1").has_fact(Fact::NoWhere));
    for sql in [
        "DELETE FROM t WHERE true",
        "DELETE FROM t WHERE 1=1",
        "DELETE FROM t WHERE 'a'='a'",
        "DELETE FROM t WHERE id = id",
        "DELETE FROM t WHERE x OR true",
        "DELETE FROM t WHERE NOT false",
    ] {
        assert!(one(sql).has_fact(Fact::AlwaysTrueWhere), "{sql}");
    }
    for sql in [
        "DELETE FROM t WHERE id = 1",
        "DELETE FROM t WHERE 1 = 2",
        "DELETE FROM t WHERE a = b",
    ] {
        let s = one(sql);
        assert!(
            !s.has_fact(Fact::AlwaysTrueWhere) && !s.has_fact(Fact::NoWhere),
            "{sql}"
        );
    }
}

#[test]
fn nested_writes_are_found() {
    let s = one("WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d");
    assert_eq!(s.command, "SELECT");
    assert_eq!(s.class, C::Write);
    assert!(
        s.has_fact(Fact::CteWrite) && s.has_fact(Fact::NestedWrite) && s.has_fact(Fact::NoWhere)
    );
    let s = one("COPY (DELETE FROM t RETURNING *) TO STDOUT");
    assert_eq!(s.tables_written, ["public.t"]);
    let s = one("CREATE RULE r AS ON INSERT TO a DO ALSO DELETE FROM b");
    assert_eq!(s.class, C::Ddl);
    assert!(s.has_class(C::Write));
    assert!(s.tables_written.contains(&"public.b".to_string()));
}

#[test]
fn explain_runs_only_with_analyze() {
    let plain = one("EXPLAIN DELETE FROM t");
    assert_eq!(plain.class, C::Read);
    assert_eq!(plain.tables_read, ["public.t"]);
    assert_eq!(plain.inner.as_ref().unwrap().command, "DELETE");
    let analyze = one("EXPLAIN ANALYZE DELETE FROM t");
    assert_eq!(analyze.command, "EXPLAIN");
    assert_eq!(analyze.class, C::Write);
    assert!(analyze.has_fact(Fact::ExplainAnalyze));
}

#[test]
fn copy_variants() {
    let s = one("COPY t FROM STDIN");
    assert!(s.has_fact(Fact::CopyFrom));
    assert_eq!(s.tables_written, ["public.t"]);
    let s = one("COPY t TO PROGRAM 'gzip > /tmp/x'");
    assert!(s.has_fact(Fact::CopyProgram));
    assert_eq!(s.class, C::Admin);
    assert_eq!(one("COPY t TO STDOUT").class, C::Read);
}

#[test]
fn prepare_and_execute() {
    let all = classify("PREPARE p(int) AS DELETE FROM t WHERE id = $1; EXECUTE p(1)").unwrap();
    assert_eq!(all[0].command, "PREPARE");
    assert_eq!(all[0].prepared_name.as_deref(), Some("p"));
    assert_eq!(all[0].class, C::Write);
    assert_eq!(all[0].inner.as_ref().unwrap().command, "DELETE");
    assert_eq!(all[1].command, "EXECUTE");
    assert_eq!(all[1].class, C::Opaque);
    let resolved =
        all[1].resolve_execute(|name| (name == "p").then(|| all[0].inner.as_deref()).flatten());
    assert_eq!(resolved.command, "EXECUTE");
    assert_eq!(resolved.class, C::Write);
    assert_eq!(resolved.tables_written, ["public.t"]);
}

#[test]
fn ddl_and_dcl_objects() {
    let s = one("DROP TABLE a, app.b");
    assert_eq!(
        (s.command.as_str(), s.object_type.as_deref()),
        ("DROP", Some("TABLE"))
    );
    assert_eq!(s.tables_written, ["app.b", "public.a"]);
    let s = one("DROP DATABASE prod");
    assert_eq!(s.full_command(), "DROP DATABASE");
    assert_eq!(s.objects, ["prod"]);
    assert_eq!(
        one("ALTER SYSTEM SET fsync = off").full_command(),
        "ALTER SYSTEM"
    );
    assert_eq!(one("ALTER ROLE bob SUPERUSER").class, C::Dcl);
    assert_eq!(
        one("CREATE EXTENSION dblink").full_command(),
        "CREATE EXTENSION"
    );
    let s = one("CREATE TABLE x AS SELECT * FROM y");
    assert_eq!(s.classes, [C::Read, C::Write, C::Ddl]);
    assert!(s.has_fact(Fact::CreatesTable));
    let s = one("CREATE FUNCTION f() RETURNS void LANGUAGE sql BEGIN ATOMIC DELETE FROM t; END");
    assert_eq!(s.class, C::Ddl);
    assert!(s.has_fact(Fact::FunctionBody));
    assert!(!s.has_class(C::Write));
}

#[test]
fn functions_are_lowercase_and_classified() {
    let s = one("SELECT NextVal('s'), pg_catalog.now(), app.f(1)");
    assert_eq!(s.functions, ["app.f", "nextval", "now"]);
    assert!(s.has_class(C::Write) && s.has_fact(Fact::WriteFunction));
    let s = one("SELECT dblink_exec('c', 'x')");
    assert_eq!(s.class, C::Opaque);
    assert!(s.opaque_reason.is_some());
}

#[test]
fn settings_are_recorded_with_facts() {
    let s = one("SET LOCAL statement_timeout = '5s'");
    assert_eq!(s.settings[0].name, "statement_timeout");
    assert_eq!(s.settings[0].value.as_deref(), Some("5s"));
    assert!(s.settings[0].local);
    assert!(one("SET standard_conforming_strings = off").has_fact(Fact::LexingSetting));
    assert!(!one("SET standard_conforming_strings = on").has_fact(Fact::LexingSetting));
    assert!(one("SET client_encoding = 'LATIN1'").has_fact(Fact::LexingSetting));
    assert!(one("SET session_replication_role = replica").has_fact(Fact::ReplicationRoleSetting));
    assert!(one("SELECT set_config('backslash_quote', 'on', false)").has_fact(Fact::LexingSetting));
    assert_eq!(one("RESET ALL").settings[0].name, "all");
    assert_eq!(one("SET TRANSACTION READ ONLY").class, C::Transaction);
}

#[test]
fn opaque_statements() {
    for sql in ["DO $$ BEGIN END $$", "CALL p()", "EXECUTE p", "LOAD 'x'"] {
        let s = one(sql);
        assert!(s.has_class(C::Opaque), "{sql}");
        assert!(s.opaque_reason.is_some(), "{sql}");
    }
}

#[test]
fn normalized_text_hides_literals_and_comments() {
    let s = one("SELECT /* x */ 'secret', 42 FROM t -- y");
    assert_eq!(s.normalized, "SELECT $1, $2 FROM t");
}

#[test]
fn parse_errors_are_errors() {
    assert!(matches!(classify("SELEC 1"), Err(ClassifyError::Parse(_))));
    assert!(matches!(
        classify("SELECT 1; DROP"),
        Err(ClassifyError::Parse(_))
    ));
    assert!(matches!(
        classify("SELECT '\0'"),
        Err(ClassifyError::Parse(_))
    ));
    assert!(classify("").unwrap().is_empty());
    assert!(classify("-- nothing").unwrap().is_empty());
}

#[test]
fn unicode_escapes_and_quoting_resolve_names() {
    assert_eq!(
        one(r#"DROP TABLE U&"d\0061t""#).tables_written,
        ["public.dat"]
    );
    assert_eq!(
        one(r#"DELETE FROM "Orders""#).tables_written,
        ["public.Orders"]
    );
}
