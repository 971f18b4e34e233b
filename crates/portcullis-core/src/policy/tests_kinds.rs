//! Rules for the request kinds beyond SQL.

use super::*;
use crate::request::*;
use crate::statement::{Fact, StatementClass as C};

fn parse(toml_text: &str) -> Policy {
    #[derive(serde::Deserialize)]
    struct File {
        policy: std::collections::BTreeMap<String, PolicyConfig>,
    }
    let file: File = toml::from_str(toml_text).unwrap();
    let (name, config) = file.policy.into_iter().next().unwrap();
    Policy::compile(&name, &config).unwrap()
}

fn who() -> Subject {
    Subject::new("ci-bot", vec!["ci".into()])
}

fn cmd(program: &str, args: &[&str], classes: &[C]) -> SimpleCommand {
    SimpleCommand {
        program: program.into(),
        args: args.iter().map(|s| s.to_string()).collect(),
        classes: classes.to_vec(),
        ..SimpleCommand::default()
    }
}

fn line(commands: Vec<SimpleCommand>) -> Request {
    let mut classes: Vec<C> = commands.iter().flat_map(|c| c.classes.clone()).collect();
    classes.sort();
    classes.dedup();
    Request::Command(CommandLine {
        text: "line".into(),
        commands,
        classes,
        ..CommandLine::default()
    })
}

fn verdict(p: &Policy, r: &Request) -> (Action, Option<String>) {
    let v = p.judge(r, &who());
    (v.action, v.rule)
}

#[test]
fn command_rules_match_programs_wrappers_args_and_paths() {
    let p = parse(
        r#"
        [policy.p]
        default = "block"
        [[policy.p.rule]]
        name = "reads"
        action = "allow"
        programs = ["ls", "cat", "grep"]
        [[policy.p.rule]]
        name = "no-etc"
        action = "block"
        paths_written = ["/etc/**"]
        [[policy.p.rule]]
        name = "sudo"
        action = "review"
        programs = ["sudo"]
        "#,
    );
    let ls = line(vec![
        cmd("ls", &["-l"], &[C::Read]),
        cmd("grep", &["x"], &[C::Read]),
    ]);
    assert_eq!(verdict(&p, &ls), (Action::Allow, Some("p/reads".into())));
    // The allow is narrow: `cat` that writes is not "a read".
    let mut tee = cmd("cat", &[], &[C::Read, C::Write]);
    tee.paths_written = vec!["/etc/hosts".into()];
    assert_eq!(
        verdict(&p, &line(vec![tee])),
        (Action::Block, Some("p/no-etc".into()))
    );
    let mut wrapped = cmd("ls", &[], &[C::Read]);
    wrapped.via = vec!["sudo".into()];
    assert_eq!(
        verdict(&p, &line(vec![wrapped])),
        (Action::Review, Some("p/sudo".into())),
        "a wrapper is a program: `allow ls` does not cover `sudo ls`"
    );
    let v = p.judge(&line(vec![cmd("make", &[], &[C::Write])]), &who());
    assert_eq!(
        (v.action, v.rule.as_deref()),
        (Action::Block, Some("p/default"))
    );
    assert_eq!(v.message, "no rule of policy p allows this make command");
    assert_eq!(v.kind, RequestKind::Command);
    assert_eq!(v.reason, Some(RefusalReason::Guardrail));
}

#[test]
fn an_opaque_line_is_judged_even_when_no_command_says_so() {
    let p = Policy::preset("ssh-no-destructive").unwrap();
    let mut opaque = CommandLine {
        text: "$CMD".into(),
        commands: vec![cmd("echo", &[], &[C::Read])],
        classes: vec![C::Read, C::Opaque],
        opaque_reason: Some("a variable in command position".into()),
        ..CommandLine::default()
    };
    let v = p.judge(&Request::Command(opaque.clone()), &who());
    assert_eq!(v.rule.as_deref(), Some("ssh-no-destructive/opaque"));
    opaque.classes = vec![C::Read];
    assert!(p.judge(&Request::Command(opaque), &who()).is_allowed());
    let mut rm = cmd("rm", &["-rf", "/var/lib/app"], &[C::Write, C::Destructive]);
    rm.facts = vec![Fact::RecursiveRemove];
    assert_eq!(
        verdict(&p, &line(vec![rm])).1.as_deref(),
        Some("ssh-no-destructive/recursive-remove")
    );
}

#[test]
fn sql_and_kubectl_on_a_command_line_only_make_it_stricter() {
    let p = parse(
        r#"
        [policy.p]
        presets = ["no-destructive", "k8s-no-destructive"]
        default = "block"
        [[policy.p.rule]]
        action = "allow"
        programs = ["psql", "kubectl"]
        "#,
    );
    let psql = |sql: Vec<crate::statement::StatementInfo>| {
        let mut l = CommandLine {
            text: "psql -c ...".into(),
            commands: vec![cmd("psql", &["-c"], &[C::Read])],
            classes: vec![C::Read],
            ..CommandLine::default()
        };
        l.sql = sql;
        Request::Command(l)
    };
    let select = crate::statement::StatementInfo {
        command: "SELECT".into(),
        object_type: None,
        class: C::Read,
        classes: vec![C::Read],
        tables_read: vec![],
        tables_written: vec![],
        functions: vec![],
        facts: vec![],
        settings: vec![],
        objects: vec![],
        opaque_reason: None,
        prepared_name: None,
        inner: None,
        assumed_schema: vec![],
        normalized: "SELECT $1".into(),
    };
    assert!(
        p.judge(&psql(vec![select.clone()]), &who()).is_allowed(),
        "the default does not apply to SQL carried along"
    );
    let mut drop = select;
    drop.command = "DROP".into();
    drop.object_type = Some("TABLE".into());
    drop.classes = vec![C::Ddl];
    assert_eq!(
        verdict(&p, &psql(vec![drop])).1.as_deref(),
        Some("no-destructive/drop")
    );
}

fn kube(verb: KubeVerb, resource: &str) -> KubeRequest {
    KubeRequest {
        verb,
        group: String::new(),
        version: "v1".into(),
        resource: resource.into(),
        subresource: None,
        namespace: Some("payments".into()),
        name: Some("x".into()),
        dry_run: false,
        field_manager: None,
        label_selector: None,
        field_selector: None,
        workload: None,
        facts: vec![],
        opaque_reason: None,
    }
}

#[test]
fn kubernetes_rules_and_presets() {
    let p = parse(
        r#"
        [policy.p]
        presets = ["k8s-no-destructive"]
        [[policy.p.rule]]
        name = "images"
        action = "block"
        images = ["docker.io/*"]
        [[policy.p.rule]]
        name = "exec"
        action = "review"
        resources = ["pods/exec"]
        namespaces = ["pay*"]
        "#,
    );
    let mut ns = kube(KubeVerb::Delete, "namespaces");
    ns.namespace = None;
    assert_eq!(
        verdict(&p, &Request::Kubernetes(ns)).1.as_deref(),
        Some("k8s-no-destructive/delete-critical")
    );
    assert!(
        p.judge(&Request::Kubernetes(kube(KubeVerb::Delete, "pods")), &who())
            .is_allowed()
    );
    let mut pod = kube(KubeVerb::Create, "pods");
    pod.workload = Some(WorkloadFacts {
        images: vec![
            "registry.corp/app:1".into(),
            "docker.io/library/busybox".into(),
        ],
        ..WorkloadFacts::default()
    });
    assert_eq!(
        verdict(&p, &Request::Kubernetes(pod.clone())).1.as_deref(),
        Some("p/images")
    );
    pod.facts = vec![Fact::PrivilegedContainer];
    assert_eq!(
        verdict(&p, &Request::Kubernetes(pod)).1.as_deref(),
        Some("k8s-no-destructive/privileged")
    );
    let mut exec = kube(KubeVerb::Exec, "pods");
    exec.subresource = Some("exec".into());
    assert_eq!(verdict(&p, &Request::Kubernetes(exec)).0, Action::Review);
    let ro = Policy::preset("k8s-read-only").unwrap();
    assert!(
        ro.judge(&Request::Kubernetes(kube(KubeVerb::List, "pods")), &who())
            .is_allowed()
    );
    assert!(
        !ro.judge(
            &Request::Kubernetes(kube(KubeVerb::Patch, "deployments")),
            &who()
        )
        .is_allowed()
    );
    assert!(
        !ro.judge(&Request::Kubernetes(kube(KubeVerb::Exec, "pods")), &who())
            .is_allowed()
    );
    let mut opaque = kube(KubeVerb::Get, "pods");
    opaque.opaque_reason = Some("undecodable".into());
    assert!(!ro.judge(&Request::Kubernetes(opaque), &who()).is_allowed());
}

#[test]
fn git_pushes_are_judged_per_ref_update() {
    let p = parse(
        r#"
        [policy.p]
        presets = ["git-protected-branches"]
        [[policy.p.rule]]
        name = "ci-main"
        action = "review"
        refs = ["refs/heads/main"]
        groups = ["ci"]
        "#,
    );
    let update = |name: &str, kind| RefUpdate {
        name: name.into(),
        old: "a".repeat(40),
        new: "b".repeat(40),
        kind,
    };
    let push = |updates| {
        Request::Git(GitPush {
            repository: "app.git".into(),
            updates,
        })
    };
    assert!(
        p.judge(
            &push(vec![update(
                "refs/heads/bot/x",
                RefUpdateKind::NonFastForward
            )]),
            &who()
        )
        .is_allowed()
    );
    let v = p.judge(
        &push(vec![
            update("refs/heads/feature", RefUpdateKind::Update),
            update("refs/heads/main", RefUpdateKind::Update),
        ]),
        &who(),
    );
    assert_eq!((v.action, v.statement), (Action::Review, Some(1)));
    assert_eq!(
        verdict(
            &p,
            &push(vec![update(
                "refs/heads/release/2.1",
                RefUpdateKind::Delete
            )])
        )
        .1
        .as_deref(),
        Some("git-protected-branches/history")
    );
    assert!(
        p.judge(&push(vec![]), &who()).is_allowed(),
        "a push of nothing runs nothing"
    );
}

#[test]
fn http_rules_match_methods_paths_query_headers_and_json() {
    let p = parse(
        r#"
        [policy.p]
        default = "block"
        [[policy.p.rule]]
        name = "reads"
        action = "allow"
        methods = ["GET"]
        paths = ["/api/**"]
        [[policy.p.rule]]
        name = "dry-runs"
        action = "allow"
        class = ["write"]
        methods = ["POST"]
        paths = ["/api/items"]
        query = ["dry_run=true"]
        [[policy.p.rule]]
        name = "big"
        action = "review"
        json = [{ pointer = "/replicas", values = ["1?", "[2-9]?"] }]
        [[policy.p.rule]]
        name = "admin"
        action = "block"
        headers = ["x-admin"]
        "#,
    );
    let req = |method: &str, path: &str| HttpRequest {
        method: method.into(),
        path: path.into(),
        ..HttpRequest::default()
    };
    let judge = |h: HttpRequest| verdict(&p, &Request::Http(h));
    assert_eq!(judge(req("GET", "/api/v1/items")).0, Action::Allow);
    assert_eq!(judge(req("GET", "/admin")).1.as_deref(), Some("p/default"));
    let mut post = req("POST", "/api/items");
    assert_eq!(judge(post.clone()).0, Action::Block, "no dry_run");
    post.query = vec![("dry_run".into(), "true".into())];
    assert_eq!(judge(post.clone()).0, Action::Allow);
    post.body = JsonBody::Json(serde_json::json!({"replicas": 12}));
    assert_eq!(judge(post.clone()).1.as_deref(), Some("p/big"));
    post.body = JsonBody::Opaque;
    assert_eq!(
        judge(post.clone()).1.as_deref(),
        Some("p/big"),
        "an opaque body cannot prove it is small"
    );
    post.body = JsonBody::Json(serde_json::json!({"replicas": 3}));
    post.headers = vec![("x-admin".into(), "1".into())];
    assert_eq!(judge(post).1.as_deref(), Some("p/admin"));
}

#[test]
fn channel_and_file_rules() {
    let p = parse(
        r#"
        [policy.p]
        presets = ["ssh-no-destructive"]
        [[policy.p.rule]]
        name = "db-tunnel"
        action = "allow"
        kind = "channel"
        channels = ["direct-tcpip"]
        destinations = ["db.internal:5432"]
        overrides = ["ssh-no-destructive/forwarding"]
        "#,
    );
    let fwd = |dest: &str| {
        Request::Channel(ChannelRequest {
            channel: ChannelKind::DirectTcpip,
            subsystem: None,
            destination: Some(dest.into()),
            pty: false,
        })
    };
    assert!(p.judge(&fwd("db.internal:5432"), &who()).is_allowed());
    assert_eq!(
        verdict(&p, &fwd("evil.example:22")).1.as_deref(),
        Some("ssh-no-destructive/forwarding")
    );
    let file = |op, path: &str| {
        Request::File(FileOperation {
            op,
            path: path.into(),
            target: None,
        })
    };
    assert!(
        p.judge(&file(FileOp::Write, "/home/me/x"), &who())
            .is_allowed()
    );
    assert!(
        !p.judge(&file(FileOp::Write, "/etc/passwd"), &who())
            .is_allowed()
    );
    let ro = Policy::preset("ssh-read-only").unwrap();
    assert!(
        ro.judge(&file(FileOp::Read, "/etc/passwd"), &who())
            .is_allowed()
    );
    assert!(
        !ro.judge(&file(FileOp::Remove, "/tmp/x"), &who())
            .is_allowed()
    );
    let shell = Request::Channel(ChannelRequest {
        channel: ChannelKind::Shell,
        subsystem: None,
        destination: None,
        pty: true,
    });
    assert_eq!(
        verdict(&ro, &shell).1.as_deref(),
        Some("ssh-read-only/shell")
    );
}

#[test]
fn sql_presets_judge_only_sql() {
    let p = Policy::preset("read-only").unwrap();
    let post = Request::Http(HttpRequest {
        method: "POST".into(),
        path: "/x".into(),
        ..HttpRequest::default()
    });
    assert!(p.judge(&post, &who()).is_allowed());
    assert!(p.guards(RequestKind::Sql));
    assert!(!p.guards(RequestKind::Http));
    assert_eq!(p.kinds(), [RequestKind::Sql]);
}

#[test]
fn kind_errors_fail_compilation() {
    let bad: PolicyConfig = toml::from_str(
        r#"
        [[rule]]
        action = "block"
        tables = ["t"]
        programs = ["rm"]
        "#,
    )
    .unwrap();
    assert!(matches!(
        Policy::compile("p", &bad),
        Err(PolicyError::RuleKind { .. })
    ));
    let unknown: PolicyConfig = toml::from_str(
        r#"
        [[rule]]
        action = "block"
        verbs = ["destroy"]
        "#,
    )
    .unwrap();
    let e = Policy::compile("p", &unknown).unwrap_err().to_string();
    assert!(e.contains("unknown verb"), "{e}");
}
