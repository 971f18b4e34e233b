//! The pipeline through a test double of an adapter: its "classifier"
//! splits command lines on whitespace and its "target" echoes them. The
//! gateway, policy, reviews, recorder and hash chain are the real ones, on
//! an in-memory store double.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;

use super::*;
use crate::auth::Principal;
use crate::gateway::Gateway;
use crate::live::Termination;
use crate::policy::RefusalReason;
use crate::record::chain;
use crate::record::{Event, StatementStatus};
use crate::request::{CommandLine, RequestKind, SimpleCommand};
use crate::session::{SessionStart, run_session};
use crate::statement::StatementClass;
use crate::store::Store;
use crate::testing::{self, MemoryStore};

const CONFIG: &str = r#"
[recording]
strict_timeout = "300ms"

[[connection]]
name = "wait"
kind = "postgres"
address = "127.0.0.1:1"
database = "x"
user = "u"
policy = "wait"

[[connection]]
name = "async"
kind = "postgres"
address = "127.0.0.1:1"
database = "x"
user = "u"
policy = "async"

[[connection]]
name = "strict"
kind = "postgres"
address = "127.0.0.1:1"
database = "x"
user = "u"
policy = "strict"

[[connection]]
name = "expiring"
kind = "postgres"
address = "127.0.0.1:1"
database = "x"
user = "u"
policy = "expiring"

[policy.wait]
[[policy.wait.rule]]
name = "no-rm"
action = "block"
programs = ["rm"]
[[policy.wait.rule]]
name = "deploys"
action = "review"
programs = ["deploy"]
[[policy.wait.rule]]
name = "opaque"
action = "block"
class = ["opaque"]
[policy.wait.review]
reviewers = ["ops"]
timeout = "20s"

[policy.async]
[[policy.async.rule]]
name = "opaque"
action = "block"
class = ["opaque"]
[[policy.async.rule]]
name = "deploys"
action = "review"
programs = ["deploy"]
[policy.async.review]
mode = "async"
reviewers = ["ops"]

[policy.strict]
record_mode = "strict"
[[policy.strict.rule]]
name = "opaque"
action = "block"
class = ["opaque"]

[policy.expiring]
[[policy.expiring.rule]]
name = "opaque"
action = "block"
class = ["opaque"]
[[policy.expiring.rule]]
name = "deploys"
action = "review"
programs = ["deploy"]
[policy.expiring.review]
reviewers = ["ops"]
timeout = "20s"
expires = "300ms"
"#;

/// What the double does when told a request is held.
#[derive(Clone, Copy)]
enum OnNotice {
    Nothing,
    Approve,
    Reject,
}

/// A test double of a protocol adapter (see the module docs).
struct TestAdapter {
    gateway: Arc<Gateway>,
    session: String,
    store: Arc<MemoryStore>,
    forwarded: Vec<String>,
    refused: Vec<Refusal>,
    notices: Vec<HeldNotice>,
    on_notice: OnNotice,
    /// Forward never answers (a long-running request), after saying so.
    hang: Option<Arc<Notify>>,
    /// In forward: whether the request event was already in the store.
    stored_before_forward: Vec<bool>,
}

impl TestAdapter {
    fn new(scope: &SessionScope, store: &Arc<MemoryStore>) -> TestAdapter {
        TestAdapter {
            gateway: scope.gateway().clone(),
            session: scope.id().to_string(),
            store: store.clone(),
            forwarded: Vec::new(),
            refused: Vec::new(),
            notices: Vec::new(),
            on_notice: OnNotice::Nothing,
            hang: None,
            stored_before_forward: Vec::new(),
        }
    }
}

fn reviewer() -> Principal {
    Principal {
        identity: "olga".into(),
        groups: vec!["ops".into()],
        method: "token:r".into(),
        expires_at: None,
    }
}

impl Exchange for TestAdapter {
    type Request = String;
    type Response = String;

    fn classify(&mut self, line: &String) -> Result<Request, String> {
        if line.contains('$') {
            return Err("a variable in command position".into());
        }
        let words: Vec<String> = line.split_whitespace().map(str::to_string).collect();
        let Some((program, args)) = words.split_first() else {
            return Err("empty line".into());
        };
        let class = if program == "ls" {
            StatementClass::Read
        } else {
            StatementClass::Write
        };
        Ok(Request::Command(CommandLine {
            text: line.clone(),
            commands: vec![SimpleCommand {
                program: program.clone(),
                args: args.to_vec(),
                classes: vec![class],
                ..SimpleCommand::default()
            }],
            classes: vec![class],
            ..CommandLine::default()
        }))
    }

    fn describe(&self, line: &String) -> RequestRecord {
        RequestRecord {
            kind: RequestKind::Command,
            text: line.clone(),
            ..RequestRecord::default()
        }
    }

    fn held(&self, line: &String, verdict: Verdict) -> HoldRequest {
        HoldRequest {
            verdict,
            canonical: line.as_bytes().to_vec(),
            params: None,
            display: None,
            estimate: Some(Box::pin(async { "touches 3 hosts".to_string() })),
        }
    }

    async fn forward(&mut self, line: String) -> Result<String, CloseReason> {
        let stored = self
            .store
            .events(&self.session)
            .iter()
            .any(|e| matches!(e, Event::Request(r) if r.text == line && r.refused.is_none()));
        self.stored_before_forward.push(stored);
        if let Some(started) = &self.hang {
            started.notify_one();
            std::future::pending::<()>().await;
        }
        self.forwarded.push(line.clone());
        Ok(format!("ran {line} with secret"))
    }

    fn mask(&mut self, response: String) -> Result<String, Box<Refusal>> {
        Ok(response.replace("secret", "******"))
    }

    async fn respond(&mut self, response: String) -> Result<ResponseRecord, CloseReason> {
        let mut r = ResponseRecord::new(StatementStatus::Ok);
        r.exit_status = Some(0);
        r.body = Some(crate::record::CapturedBody {
            text: Some(response.clone()),
            base64: None,
            size: response.len() as u64,
            truncated: false,
        });
        Ok(r)
    }

    async fn refuse(&mut self, refusal: &Refusal) -> Result<(), CloseReason> {
        self.refused.push(refusal.clone());
        Ok(())
    }

    async fn notice(&mut self, notice: &HeldNotice) -> Result<(), CloseReason> {
        self.notices.push(notice.clone());
        let reviews = self.gateway.reviews().clone();
        let id = notice.review;
        match self.on_notice {
            OnNotice::Nothing => {}
            OnNotice::Approve => {
                tokio::spawn(async move { reviews.approve(id, &reviewer()).await });
            }
            OnNotice::Reject => {
                tokio::spawn(async move { reviews.reject(id, &reviewer(), "not today").await });
            }
        }
        Ok(())
    }
}

async fn open(gateway: &Arc<Gateway>, connection: &str) -> SessionScope {
    let config = gateway.config();
    let policy = config
        .policy(config.connection(connection).unwrap().policy.as_deref())
        .unwrap();
    gateway
        .open_session(SessionStart {
            principal: Principal {
                identity: "alice".into(),
                groups: vec!["dev".into()],
                method: "token:t".into(),
                expires_at: None,
            },
            connection: connection.into(),
            client_addr: "test".into(),
            protocol: "test".into(),
            policy,
            review_mode: None,
        })
        .await
        .unwrap()
}

/// Closes the session and returns its stored events, checking its chain
/// and seal.
async fn closed(gateway: &Arc<Gateway>, store: &MemoryStore, scope: SessionScope) -> Vec<Event> {
    let id = scope.id().to_string();
    scope.close(CloseReason::ClientQuit).await;
    drop(scope);
    gateway.recorder().flush().await.unwrap();
    let (chained, seal) = store.session_chain(&id).unwrap().unwrap();
    let key = crate::record::chain::Signer::from_seed(&[7u8; 32])
        .unwrap()
        .public_key_hex();
    assert_eq!(chain::verify(&id, &chained, seal.as_ref(), &key), Ok(true));
    chained.into_iter().map(|c| c.event).collect()
}

#[tokio::test]
async fn allowed_requests_are_forwarded_masked_and_recorded() {
    let (gw, store, _t) = testing::gateway(CONFIG);
    let scope = open(&gw, "wait").await;
    let mut adapter = TestAdapter::new(&scope, &store);
    let outcome = exchange(&scope, &mut adapter, "ls -l /srv".into())
        .await
        .unwrap();
    assert!(
        matches!(
            outcome,
            Outcome::Ran {
                seq: 1,
                review: None
            }
        ),
        "{outcome:?}"
    );
    assert_eq!(adapter.forwarded, ["ls -l /srv"]);
    let events = closed(&gw, &store, scope).await;
    let Event::Request(req) = &events[1] else {
        panic!("{events:?}")
    };
    assert_eq!(
        (req.request_kind, req.verdict.as_deref()),
        (RequestKind::Command, Some("allow"))
    );
    assert_eq!(req.classified.as_ref().unwrap().commands, ["ls"]);
    let Event::Response(resp) = &events[2] else {
        panic!("{events:?}")
    };
    assert_eq!(
        (resp.seq, resp.status, resp.exit_status),
        (1, StatementStatus::Ok, Some(0))
    );
    assert_eq!(
        resp.body.as_ref().unwrap().text.as_deref(),
        Some("ran ls -l /srv with ******"),
        "the recording holds the masked answer"
    );
    assert!(matches!(&events[3], Event::Close(c) if c.reason == "client-quit"));
}

#[tokio::test]
async fn blocked_and_unparseable_requests_never_reach_the_target() {
    let (gw, store, _t) = testing::gateway(CONFIG);
    let scope = open(&gw, "wait").await;
    let mut adapter = TestAdapter::new(&scope, &store);
    let Outcome::Refused(r) = exchange(&scope, &mut adapter, "rm -rf /srv".into())
        .await
        .unwrap()
    else {
        panic!("not refused")
    };
    assert_eq!(
        (r.reason, r.rule.as_deref()),
        (RefusalReason::Guardrail, Some("wait/no-rm"))
    );
    assert_eq!(
        r.message,
        "blocked by guardrail \"wait/no-rm\" on connection wait"
    );
    let Outcome::Refused(u) = exchange(&scope, &mut adapter, "$X -rf /".into())
        .await
        .unwrap()
    else {
        panic!("not refused")
    };
    assert_eq!(u.reason, RefusalReason::Unparseable);
    assert!(
        u.detail
            .as_deref()
            .unwrap()
            .contains("the command could not be understood"),
        "{u:?}"
    );
    assert!(adapter.forwarded.is_empty());
    assert_eq!(adapter.refused.len(), 2);
    let events = closed(&gw, &store, scope).await;
    let refused: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            Event::Request(r) => Some((r.verdict.clone(), r.reason)),
            _ => None,
        })
        .collect();
    assert_eq!(
        refused,
        [
            (Some("block".into()), Some(RefusalReason::Guardrail)),
            (Some("block".into()), Some(RefusalReason::Unparseable))
        ]
    );
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::Response(r) if r.status == StatementStatus::Blocked))
    );
}

#[tokio::test]
async fn a_held_request_waits_runs_once_on_approval_and_a_rejection_refuses() {
    let (gw, store, _t) = testing::gateway(CONFIG);
    let scope = open(&gw, "wait").await;
    let mut adapter = TestAdapter::new(&scope, &store);
    adapter.on_notice = OnNotice::Approve;
    let outcome = exchange(&scope, &mut adapter, "deploy api".into())
        .await
        .unwrap();
    let Outcome::Ran {
        review: Some(id), ..
    } = outcome
    else {
        panic!("{outcome:?}")
    };
    assert_eq!(adapter.forwarded, ["deploy api"]);
    assert!(
        adapter.notices[0].message.starts_with(&format!(
            "command held for review {id}: approve with \"portcullis review approve {id}\""
        )),
        "{:?}",
        adapter.notices
    );
    // The approval was used: the identical command is held again.
    adapter.on_notice = OnNotice::Reject;
    let Outcome::Refused(r) = exchange(&scope, &mut adapter, "deploy api".into())
        .await
        .unwrap()
    else {
        panic!("ran twice")
    };
    assert_eq!(r.reason, RefusalReason::ReviewRejected { review: id + 1 });
    assert_eq!(
        r.message,
        format!("command review {} was rejected by olga: not today", id + 1)
    );
    assert_eq!(adapter.forwarded.len(), 1);
    let review = gw.reviews().get(id).await.unwrap().unwrap();
    assert_eq!(review.executed_session.as_deref(), Some(scope.id()));
    // The outcome and the adapter's estimate are stored in the background.
    let mut noted = None;
    for _ in 0..100 {
        let r = gw.reviews().get(id).await.unwrap().unwrap();
        if r.outcome.is_some() && r.estimate.is_some() {
            noted = Some(r);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let noted = noted.expect("outcome and estimate stored");
    assert_eq!(noted.outcome.as_deref(), Some("ok, 0 rows"));
    assert_eq!(noted.estimate.as_deref(), Some("touches 3 hosts"));
    let events = closed(&gw, &store, scope).await;
    assert!(events.iter().any(|e| matches!(e, Event::Request(r) if r.review == Some(id) && r.verdict.as_deref() == Some("review") && r.refused.is_none())));
}

#[tokio::test]
async fn async_mode_refuses_at_once_and_the_approved_resend_runs_exactly_once() {
    let (gw, store, _t) = testing::gateway(CONFIG);
    let scope = open(&gw, "async").await;
    let mut adapter = TestAdapter::new(&scope, &store);
    let Outcome::Refused(held) = exchange(&scope, &mut adapter, "deploy db".into())
        .await
        .unwrap()
    else {
        panic!("not held")
    };
    let RefusalReason::Held { review } = held.reason else {
        panic!("{held:?}")
    };
    assert_eq!(held.message, format!("command held for review {review}"));
    assert!(adapter.forwarded.is_empty() && adapter.notices.is_empty());
    // A different command does not use the approval.
    gw.reviews().approve(review, &reviewer()).await.unwrap();
    let Outcome::Refused(other) = exchange(&scope, &mut adapter, "deploy web".into())
        .await
        .unwrap()
    else {
        panic!("ran under another command's approval")
    };
    assert!(matches!(other.reason, RefusalReason::Held { .. }));
    let ran = exchange(&scope, &mut adapter, "deploy db".into())
        .await
        .unwrap();
    assert!(
        matches!(ran, Outcome::Ran { review: Some(r), .. } if r == review),
        "{ran:?}"
    );
    let again = exchange(&scope, &mut adapter, "deploy db".into())
        .await
        .unwrap();
    assert!(
        matches!(
            again,
            Outcome::Refused(Refusal {
                reason: RefusalReason::Held { .. },
                ..
            })
        ),
        "single use: {again:?}"
    );
    assert_eq!(adapter.forwarded, ["deploy db"]);
    closed(&gw, &store, scope).await;
}

#[tokio::test]
async fn a_review_that_expires_undecided_refuses() {
    let (gw, store, _t) = testing::gateway(CONFIG);
    let scope = open(&gw, "expiring").await;
    let mut adapter = TestAdapter::new(&scope, &store);
    let Outcome::Refused(r) = exchange(&scope, &mut adapter, "deploy api".into())
        .await
        .unwrap()
    else {
        panic!("ran")
    };
    let id = adapter.notices[0].review;
    assert_eq!(r.reason, RefusalReason::ReviewExpired { review: id });
    assert!(
        gw.reviews().approve(id, &reviewer()).await.is_err(),
        "too late to approve"
    );
    assert!(adapter.forwarded.is_empty());
    closed(&gw, &store, scope).await;
}

#[tokio::test]
async fn strict_mode_sends_only_what_is_stored_and_fails_closed() {
    let (gw, store, _t) = testing::gateway(CONFIG);
    let scope = open(&gw, "strict").await;
    let mut adapter = TestAdapter::new(&scope, &store);
    exchange(&scope, &mut adapter, "ls".into()).await.unwrap();
    assert_eq!(
        adapter.stored_before_forward,
        [true],
        "stored before it was sent"
    );
    store.fail_writes(true);
    let ended = exchange(&scope, &mut adapter, "ls /etc".into())
        .await
        .unwrap_err();
    assert!(
        matches!(&ended, CloseReason::RecordingUnavailable(d) if d.contains("command 2")),
        "{ended:?}"
    );
    assert_eq!(adapter.forwarded, ["ls"], "nothing runs unrecorded");
    assert_eq!(
        adapter.refused[0].reason,
        RefusalReason::RecordingUnavailable
    );
    assert_eq!(
        adapter.refused[0].message,
        "command not run: session recording is unavailable"
    );
    assert_eq!(
        gw.recorder()
            .stats()
            .strict_refusals
            .load(std::sync::atomic::Ordering::Relaxed),
        1
    );
    store.fail_writes(false);
    scope.close(ended).await;
    gw.recorder().flush().await.unwrap();
    assert!(
        store
            .audit_actions()
            .iter()
            .any(|a| a == "recording.strict_refused")
    );
}

#[tokio::test]
async fn a_kill_ends_a_running_request_and_revocation_a_held_one() {
    let (gw, store, _t) = testing::gateway(CONFIG);
    let scope = open(&gw, "wait").await;
    let id = scope.id().to_string();
    let started = Arc::new(Notify::new());
    let mut adapter = TestAdapter::new(&scope, &store);
    adapter.hang = Some(started.clone());
    let running = tokio::spawn(async move {
        let ended = exchange(&scope, &mut adapter, "ls -R /".into()).await;
        (scope, ended)
    });
    started.notified().await;
    assert!(gw.live().terminate(&id, Termination::Killed));
    let (scope, ended) = running.await.unwrap();
    assert_eq!(ended.unwrap_err(), CloseReason::Killed);
    scope.close(CloseReason::Killed).await;
    gw.recorder().flush().await.unwrap();
    let events = store.events(&id);
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::Response(r) if r.status == StatementStatus::Interrupted))
    );
    assert!(matches!(events.last(), Some(Event::Close(c)) if c.reason == "killed"));

    // Revocation while a request waits for reviewers.
    let scope = open(&gw, "wait").await;
    let id = scope.id().to_string();
    let mut adapter = TestAdapter::new(&scope, &store);
    let gw2 = gw.clone();
    let waiting = tokio::spawn(async move {
        let ended = exchange(&scope, &mut adapter, "deploy api".into()).await;
        (scope, ended, adapter.forwarded)
    });
    for _ in 0..500 {
        if gw2.reviews().get(1).await.unwrap().is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(gw.live().terminate(&id, Termination::Revoked));
    let (scope, ended, forwarded) = waiting.await.unwrap();
    assert_eq!(ended.unwrap_err(), CloseReason::Revoked);
    assert!(forwarded.is_empty());
    drop(scope);
}

#[tokio::test]
async fn a_panicking_session_is_closed_and_sealed_and_a_dropped_one_too() {
    let (gw, store, _t) = testing::gateway(CONFIG);
    let scope = open(&gw, "wait").await;
    let id = scope.id().to_string();
    let task = tokio::spawn(run_session(scope, async |s: &SessionScope| {
        let _ = s.recording().next_seq();
        if s.id().len() > 1 {
            panic!("adapter bug");
        }
        CloseReason::ClientQuit
    }));
    task.await.unwrap();
    gw.recorder().flush().await.unwrap();
    let (chained, seal) = store.session_chain(&id).unwrap().unwrap();
    let Event::Close(close) = &chained.last().unwrap().event else {
        panic!()
    };
    assert_eq!(
        (close.reason.as_str(), close.detail.as_deref()),
        ("panic", Some("adapter bug"))
    );
    let key = crate::record::chain::Signer::from_seed(&[7u8; 32])
        .unwrap()
        .public_key_hex();
    assert_eq!(chain::verify(&id, &chained, seal.as_ref(), &key), Ok(true));
    assert!(gw.live().snapshot().is_empty(), "unregistered");

    let scope = open(&gw, "wait").await;
    let id = scope.id().to_string();
    drop(scope);
    gw.recorder().flush().await.unwrap();
    assert!(matches!(store.events(&id).last(), Some(Event::Close(c)) if c.reason == "shutdown"));
}
