use super::*;
use crate::statement::{Fact, StatementClass as C, StatementInfo};

fn stmt(command: &str, classes: &[C]) -> StatementInfo {
    let mut classes = classes.to_vec();
    classes.sort();
    StatementInfo {
        command: command.into(),
        object_type: None,
        class: *classes.last().unwrap(),
        classes,
        tables_read: vec![],
        tables_written: vec![],
        functions: vec![],
        facts: vec![],
        settings: vec![],
        objects: vec![],
        opaque_reason: None,
        prepared_name: None,
        inner: None,
        assumed_schema: Vec::new(),
        normalized: command.into(),
    }
}

fn parse(toml_text: &str) -> Policy {
    #[derive(serde::Deserialize)]
    struct File {
        policy: std::collections::BTreeMap<String, PolicyConfig>,
    }
    let file: File = toml::from_str(toml_text).unwrap();
    let (name, config) = file.policy.into_iter().next().unwrap();
    Policy::compile(&name, &config).unwrap()
}

fn alice() -> Subject {
    Subject::new("alice", vec!["contractors".into()])
}

#[test]
fn toml_config_compiles_and_rejects_unknown_fields() {
    let p = parse(
        r#"
        [policy.prod]
        presets = ["production"]
        mode = "enforce"
        default = "allow"
        [[policy.prod.rule]]
        name = "payments-writes"
        action = "review"
        class = ["write"]
        tables_written = ["public.payments*"]
        "#,
    );
    assert_eq!(p.name(), "prod");
    assert!(p.rule_ids().contains(&"no-destructive/drop"));
    assert!(p.rule_ids().contains(&"prod/payments-writes"));
    let bad: Result<PolicyConfig, _> = toml::from_str("presets = []\nbogus = 1");
    assert!(bad.is_err());
    let bad_fact = PolicyConfig {
        rules: vec![RuleConfig {
            facts: Some(vec!["nope".into()]),
            ..RuleConfig::default()
        }],
        ..PolicyConfig::default()
    };
    assert!(matches!(
        Policy::compile("x", &bad_fact),
        Err(PolicyError::UnknownFact { .. })
    ));
    let unknown = PolicyConfig {
        presets: vec!["lenient".into()],
        ..PolicyConfig::default()
    };
    assert!(matches!(
        Policy::compile("x", &unknown),
        Err(PolicyError::UnknownPreset { .. })
    ));
}

#[test]
fn most_restrictive_wins_across_rules_and_statements() {
    let p = Policy::preset("production").unwrap();
    let mut drop = stmt("DROP", &[C::Ddl]);
    drop.object_type = Some("TABLE".into());
    let create = stmt("CREATE", &[C::Ddl]);
    let v = p.evaluate(std::slice::from_ref(&create), &alice());
    assert_eq!(
        (v.action, v.rule.as_deref()),
        (Action::Review, Some("production/ddl"))
    );
    let v = p.evaluate(&[create, drop], &alice());
    assert_eq!(
        (v.action, v.rule.as_deref()),
        (Action::Block, Some("no-destructive/drop"))
    );
    assert_eq!(v.statement, Some(1));
}

#[test]
fn broad_allow_does_not_disable_presets_but_named_override_does() {
    let mut opaque = stmt("DO", &[C::Opaque]);
    opaque.opaque_reason = Some("DO".into());
    let broad = parse(
        r#"
        [policy.p]
        presets = ["no-destructive"]
        [[policy.p.rule]]
        name = "everything"
        action = "allow"
        class = ["read", "write", "ddl", "opaque"]
        "#,
    );
    assert_eq!(
        broad.evaluate(&[opaque.clone()], &alice()).action,
        Action::Block
    );
    let named = parse(
        r#"
        [policy.p]
        presets = ["no-destructive"]
        [[policy.p.rule]]
        name = "migrations"
        action = "allow"
        class = ["opaque"]
        identities = ["ci-*"]
        overrides = ["no-destructive/opaque"]
        "#,
    );
    assert_eq!(
        named.evaluate(&[opaque.clone()], &alice()).action,
        Action::Block
    );
    let ci = Subject::new("ci-deploy", vec![]);
    assert_eq!(named.evaluate(&[opaque], &ci).action, Action::Allow);
    let typo = PolicyConfig {
        presets: vec!["no-destructive".into()],
        rules: vec![RuleConfig {
            overrides: vec!["no-destructive/opaq".into()],
            ..RuleConfig::default()
        }],
        ..PolicyConfig::default()
    };
    assert!(matches!(
        Policy::compile("p", &typo),
        Err(PolicyError::BadRule { .. })
    ));
}

#[test]
fn allow_rules_are_narrow() {
    let p = parse(
        r#"
        [policy.p]
        default = "block"
        [[policy.p.rule]]
        name = "selects"
        action = "allow"
        command = ["SELECT"]
        "#,
    );
    assert_eq!(
        p.evaluate(&[stmt("SELECT", &[C::Read])], &alice()).action,
        Action::Allow
    );
    // A SELECT hiding a DELETE in a CTE, or calling nextval, is not "a select".
    let v = p.evaluate(&[stmt("SELECT", &[C::Read, C::Write])], &alice());
    assert_eq!(
        (v.action, v.rule.as_deref()),
        (Action::Block, Some("p/default"))
    );
    let mut scratch = stmt("INSERT", &[C::Write]);
    scratch.tables_written = vec!["scratch.t".into(), "public.users".into()];
    let p = parse(
        r#"
        [policy.p]
        default = "block"
        [[policy.p.rule]]
        action = "allow"
        class = ["write"]
        tables_written = ["scratch.*"]
        "#,
    );
    assert_eq!(
        p.evaluate(&[scratch.clone()], &alice()).action,
        Action::Block
    );
    scratch.tables_written = vec!["scratch.t".into()];
    assert_eq!(p.evaluate(&[scratch], &alice()).action, Action::Allow);
}

#[test]
fn block_rules_match_any_and_narrow_by_group() {
    let p = parse(
        r#"
        [policy.p]
        [[policy.p.rule]]
        name = "no-payments"
        action = "block"
        tables = ["payments"]
        groups = ["contractors"]
        [[policy.p.rule]]
        name = "sleep"
        action = "review"
        regex = "(?i)pg_sleep"
        "#,
    );
    let mut s = stmt("SELECT", &[C::Read]);
    s.tables_read = vec!["public.orders".into(), "billing.payments".into()];
    assert_eq!(p.evaluate(&[s.clone()], &alice()).action, Action::Block);
    assert_eq!(
        p.evaluate(&[s.clone()], &Subject::new("bob", vec![]))
            .action,
        Action::Allow
    );
    s.normalized = "SELECT PG_SLEEP($1)".into();
    let v = p.evaluate(&[s], &Subject::new("bob", vec![]));
    assert_eq!(
        (v.action, v.rule.as_deref()),
        (Action::Review, Some("p/sleep"))
    );
}

#[test]
fn facts_and_read_only_settings() {
    let p = Policy::preset("no-destructive").unwrap();
    let mut s = stmt("DELETE", &[C::Write]);
    s.facts = vec![Fact::NoWhere];
    assert_eq!(
        p.evaluate(&[s], &alice()).rule.as_deref(),
        Some("no-destructive/no-where")
    );
    let ro = Policy::preset("read-only").unwrap();
    let mut set = stmt("SET", &[C::Session]);
    set.settings = vec![crate::statement::SettingChange {
        name: "statement_timeout".into(),
        value: None,
        local: false,
    }];
    assert_eq!(ro.evaluate(&[set.clone()], &alice()).action, Action::Allow);
    set.settings[0].name = "work_mem2".into();
    assert_eq!(
        ro.evaluate(&[set], &alice()).rule.as_deref(),
        Some("read-only/settings")
    );
}

#[test]
fn observe_mode_records_but_allows() {
    let p = parse("[policy.p]\npresets = [\"no-destructive\"]\nmode = \"observe\"");
    let v = p.evaluate(&[stmt("TRUNCATE", &[C::Write])], &alice());
    assert_eq!(v.action, Action::Allow);
    assert!(v.observed);
    assert_eq!(v.observed_action, Some(Action::Block));
    assert_eq!(v.rule.as_deref(), Some("no-destructive/truncate"));
}

#[test]
fn unparseable_fails_closed_except_allow_all() {
    for preset in ["read-only", "no-destructive", "production"] {
        let v = Policy::preset(preset).unwrap().unparseable("syntax error");
        assert_eq!(v.action, Action::Block, "{preset}");
        assert_eq!(v.rule.as_deref(), Some(UNPARSEABLE_RULE));
        assert!(v.message.contains("syntax error"));
    }
    assert_eq!(
        Policy::preset("allow-all").unwrap().unparseable("x").action,
        Action::Allow
    );
    let only_default = PolicyConfig {
        default: Action::Block,
        ..PolicyConfig::default()
    };
    assert_eq!(
        Policy::compile("p", &only_default)
            .unwrap()
            .unparseable("x")
            .action,
        Action::Block
    );
}

#[test]
fn version_is_stable_and_tracks_definition() {
    let a = Policy::preset("production").unwrap();
    let b = Policy::preset("production").unwrap();
    assert_eq!(a.version(), b.version());
    assert_eq!(a.version().len(), 32);
    assert_ne!(
        a.version(),
        Policy::preset("no-destructive").unwrap().version()
    );
}
