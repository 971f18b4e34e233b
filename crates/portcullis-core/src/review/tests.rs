use super::notify::{Notice, NoticeKind, json_payload, slack_payload};
use super::*;
use crate::policy::ReviewMode;

fn review(statement: &str) -> Review {
    Review {
        id: 42,
        state: ReviewState::Pending,
        request: NewReview {
            identity: "alice".into(),
            groups: vec![],
            connection: "pg-prod".into(),
            session_id: "s1".into(),
            client_addr: "127.0.0.1:5000".into(),
            protocol: "postgres".into(),
            policy: "prod".into(),
            policy_version: "v1".into(),
            rule: Some("prod/ddl".into()),
            reason: "DDL needs review".into(),
            statement: statement.into(),
            parameters: Some(vec![Some("hunter2".into())]),
            statement_hash: statement_hash(statement.as_bytes()),
            params_hash: params_hash(&[]),
            mode: ReviewMode::Wait,
            reviewers: vec!["dba".into()],
            approvals_required: 1,
            requested_at: 0,
            expires_at: 3_600_000_000,
            grant_ttl_us: 1,
        },
        approvals: vec![],
        rejection: None,
        grant_expires_at: None,
        executed_at: None,
        executed_session: None,
        outcome: None,
        estimate: None,
    }
}

#[test]
fn slack_payload_cannot_be_forged_by_the_statement() {
    let hostile = "DROP TABLE t; -- ``` <!channel> <https://evil.example|click here> *bold* &amp;";
    let notice = Notice {
        kind: NoticeKind::Requested,
        review: review(hostile),
    };
    let text = slack_payload(&notice, None)["text"]
        .as_str()
        .unwrap()
        .to_string();
    // The code block opened by the gateway is the only one, and it closes once.
    assert_eq!(text.matches("```").count(), 2, "{text}");
    assert!(!text.contains('<') && !text.contains('>'), "{text}");
    assert!(text.contains("&lt;!channel&gt;"), "{text}");
    assert!(text.contains("&amp;amp;"), "{text}");
}

#[test]
fn json_payload_escapes_and_omits_parameter_values() {
    let notice = Notice {
        kind: NoticeKind::Requested,
        review: review("UPDATE t SET x = '\"}, \"event\": \"forged'"),
    };
    let body = serde_json::to_string(&json_payload(&notice, None)).unwrap();
    let back: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(back["event"], "review.requested");
    assert_eq!(
        back["review"]["statement"],
        "UPDATE t SET x = '\"}, \"event\": \"forged'"
    );
    assert!(!body.contains("hunter2"), "{body}");
    assert_eq!(back["review"]["parameter_count"], 1);
}

#[test]
fn parameter_hash_separates_null_empty_and_format() {
    let empty: &[u8] = b"";
    let a = params_hash(&[(0, None)]);
    let b = params_hash(&[(0, Some(empty))]);
    let c = params_hash(&[(1, Some(empty))]);
    let d = params_hash(&[(0, Some(b"1")), (0, Some(b"23"))]);
    let e = params_hash(&[(0, Some(b"12")), (0, Some(b"3"))]);
    assert!(a != b && b != c && a != c && d != e);
    assert_eq!(params_hash(&[]), params_hash(&[]));
}

#[test]
fn status_shows_expiry_and_execution() {
    let mut r = review("SELECT 1");
    assert_eq!(r.status(0), "pending");
    assert_eq!(r.status(3_600_000_000), "expired");
    r.state = ReviewState::Approved;
    r.grant_expires_at = Some(10);
    assert_eq!(r.status(5), "approved");
    assert_eq!(r.status(10), "approval-expired");
    r.executed_at = Some(6);
    assert_eq!(r.status(10), "executed");
}
