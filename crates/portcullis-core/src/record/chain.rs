//! Tamper evidence: every recorded event carries the hash of the one before
//! it, and a closed session is sealed with the gateway's Ed25519 signature
//! over its last hash.
//!
//! `hash(n) = SHA-256("portcullis-event/1" || hash(n-1) || canonical JSON of event n)`,
//! with `hash(-1)` = 32 zero bytes. The canonical JSON is serde_json's
//! rendering of the event (fields in declaration order), so any edit,
//! deletion or reordering of an event changes every hash after it.

use aws_lc_rs::signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use thiserror::Error;

use super::Event;

const DOMAIN: &[u8] = b"portcullis-event/1";
const SEAL_DOMAIN: &[u8] = b"portcullis-seal/1";

pub type Hash = [u8; 32];

/// The hash that precedes a session's first event.
pub const GENESIS: Hash = [0; 32];

/// The hash of `event` following `prev`.
pub fn link(prev: &Hash, event: &Event) -> Hash {
    link_with(&mut Vec::new(), prev, event)
}

/// [`link`] with a scratch buffer the caller reuses (the recorder links
/// every event, so it saves an allocation each time).
pub fn link_with(scratch: &mut Vec<u8>, prev: &Hash, event: &Event) -> Hash {
    scratch.clear();
    // Serializing our own plain structs cannot fail; were it to, the empty
    // body would still chain, and verification recomputes the same bytes.
    if serde_json::to_writer(&mut *scratch, event).is_err() {
        scratch.clear();
    }
    let mut h = Sha256::new();
    h.update(DOMAIN);
    h.update(prev);
    h.update(&scratch[..]);
    h.finalize().into()
}

/// Links a whole session's events from the start, as the recorder does one
/// by one (for tests, imports and tools).
pub fn link_all(events: Vec<Event>) -> Vec<ChainedEvent> {
    let mut prev = GENESIS;
    let mut scratch = Vec::new();
    events
        .into_iter()
        .map(|event| {
            prev = link_with(&mut scratch, &prev, &event);
            ChainedEvent {
                event,
                hash: hex::encode(prev),
                json: None,
            }
        })
        .collect()
}

/// A closed session's signature over its last hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seal {
    /// Hex hash of the session's last (close) event.
    pub last_hash: String,
    /// Hex Ed25519 signature over `"portcullis-seal/1" || session id || last hash`.
    pub signature: String,
    /// Hex public key of the signing gateway.
    pub public_key: String,
}

fn seal_message(session_id: &str, last: &Hash) -> Vec<u8> {
    let mut m = SEAL_DOMAIN.to_vec();
    m.extend_from_slice(session_id.as_bytes());
    m.push(0);
    m.extend_from_slice(last);
    m
}

/// The gateway's signing key (Ed25519, from a 32-byte seed kept on disk).
pub struct Signer {
    pair: Ed25519KeyPair,
}

#[derive(Debug, Error)]
pub enum KeyError {
    #[error("signing key: {0}")]
    Invalid(String),
}

impl Signer {
    pub fn from_seed(seed: &[u8]) -> Result<Signer, KeyError> {
        Ed25519KeyPair::from_seed_unchecked(seed)
            .map(|pair| Signer { pair })
            .map_err(|e| KeyError::Invalid(e.to_string()))
    }

    pub fn public_key_hex(&self) -> String {
        hex::encode(self.pair.public_key().as_ref())
    }

    pub fn seal(&self, session_id: &str, last: &Hash) -> Seal {
        let sig = self.pair.sign(&seal_message(session_id, last));
        Seal {
            last_hash: hex::encode(last),
            signature: hex::encode(sig.as_ref()),
            public_key: self.public_key_hex(),
        }
    }
}

/// What verification found wrong, and where.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum VerifyError {
    #[error(
        "event {index} ({what}): stored hash does not match its content or the event before it"
    )]
    Hash { index: usize, what: String },
    #[error(
        "event {index} ({what}): expected statement {expected}, found statement {found} (missing or reordered)"
    )]
    Sequence {
        index: usize,
        what: String,
        expected: u64,
        found: u64,
    },
    #[error("event {index}: {message}")]
    Structure { index: usize, message: String },
    #[error("seal: {0}")]
    Seal(String),
}

/// One event as stored, with the hash recorded for it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChainedEvent {
    pub event: Event,
    /// Hex SHA-256 link (see module docs).
    pub hash: String,
    /// The event's canonical JSON when the recorder already rendered it to
    /// hash it: the store keeps it as is instead of serializing again (the
    /// recorder is on the hot path of every statement). Not exported, and
    /// not part of equality: it is only a cache of `event`.
    #[serde(skip)]
    pub json: Option<String>,
}

impl PartialEq for ChainedEvent {
    fn eq(&self, other: &Self) -> bool {
        self.event == other.event && self.hash == other.hash
    }
}

fn describe(e: &Event) -> String {
    match e {
        Event::Open(_) => "session open".into(),
        Event::Statement(s) => format!("statement {}", s.seq),
        Event::Request(r) => format!("request {}", r.seq),
        Event::Response(r) => format!("response {}", r.seq),
        Event::Terminal(t) => format!("terminal {:?} at {} µs", t.stream, t.offset_us),
        Event::Transfer(t) => format!("transfer of {}", t.path),
        Event::Forward(f) => format!("forwarded {} channel", f.channel.as_str()),
        Event::Close(_) => "session close".into(),
    }
}

/// Checks a session's events (open; statements, or requests in order each
/// followed later by at most one response, with terminal, transfer and
/// forward events among them; close) and, when
/// given, its seal against `public_key` (hex). Returns whether it is sealed.
pub fn verify(
    session_id: &str,
    events: &[ChainedEvent],
    seal: Option<&Seal>,
    public_key: &str,
) -> Result<bool, VerifyError> {
    let mut prev = GENESIS;
    let mut next_seq = 1u64;
    // Requests still waiting for their response (pipelines keep several).
    let mut open = std::collections::BTreeSet::new();
    for (index, c) in events.iter().enumerate() {
        let what = describe(&c.event);
        if c.event.session_id() != session_id {
            return Err(VerifyError::Structure {
                index,
                message: format!("belongs to session {}", c.event.session_id()),
            });
        }
        match (&c.event, index) {
            (Event::Open(_), 0) => {}
            (Event::Open(_), _) | (_, 0) => {
                return Err(VerifyError::Structure {
                    index,
                    message: "a session starts with exactly one open event".into(),
                });
            }
            (Event::Statement(s), _) => {
                if s.seq != next_seq {
                    return Err(VerifyError::Sequence {
                        index,
                        what,
                        expected: next_seq,
                        found: s.seq,
                    });
                }
                next_seq += 1;
            }
            (Event::Request(r), _) => {
                if r.seq != next_seq {
                    return Err(VerifyError::Sequence {
                        index,
                        what,
                        expected: next_seq,
                        found: r.seq,
                    });
                }
                open.insert(r.seq);
                next_seq += 1;
            }
            (Event::Response(r), _) => {
                if !open.remove(&r.seq) {
                    return Err(VerifyError::Structure {
                        index,
                        message: format!(
                            "response {} answers no request waiting for one (missing, duplicated or reordered)",
                            r.seq
                        ),
                    });
                }
            }
            // Streams, transfers and forwarded channels sit anywhere
            // between open and close; the hash chain orders them.
            (Event::Terminal(_) | Event::Transfer(_) | Event::Forward(_), _) => {}
            (Event::Close(_), i) if i + 1 != events.len() => {
                return Err(VerifyError::Structure {
                    index,
                    message: "events after the close event".into(),
                });
            }
            (Event::Close(_), _) => {}
        }
        let h = link(&prev, &c.event);
        if hex::encode(h) != c.hash {
            return Err(VerifyError::Hash { index, what });
        }
        prev = h;
    }
    let closed = matches!(events.last().map(|c| &c.event), Some(Event::Close(_)));
    match (seal, closed) {
        (None, false) => Ok(false),
        (None, true) => Err(VerifyError::Seal(
            "the session is closed but has no seal".into(),
        )),
        (Some(_), false) => Err(VerifyError::Seal(
            "a seal on a session without its close event".into(),
        )),
        (Some(s), true) => {
            if s.last_hash != hex::encode(prev) {
                return Err(VerifyError::Seal(
                    "the seal is over a different last event".into(),
                ));
            }
            if !s.public_key.eq_ignore_ascii_case(public_key) {
                return Err(VerifyError::Seal(format!(
                    "sealed by key {}, not by the expected key {public_key}",
                    s.public_key
                )));
            }
            let key = hex::decode(public_key)
                .map_err(|_| VerifyError::Seal("public key is not hex".into()))?;
            let sig = hex::decode(&s.signature)
                .map_err(|_| VerifyError::Seal("signature is not hex".into()))?;
            UnparsedPublicKey::new(&ED25519, key)
                .verify(&seal_message(session_id, &prev), &sig)
                .map_err(|_| VerifyError::Seal("signature does not verify".into()))?;
            Ok(true)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{SessionClose, SessionOpen, StatementRecord, StatementStatus};

    fn session() -> Vec<Event> {
        let mut v = vec![Event::Open(SessionOpen {
            session_id: "s".into(),
            started_at: 1,
            identity: "ci".into(),
            auth_method: "token:1".into(),
            client_addr: "127.0.0.1:1".into(),
            connection: "db".into(),
            protocol: "postgres".into(),
            policy: None,
            policy_version: None,
        })];
        for seq in 1..=3 {
            v.push(Event::Statement(StatementRecord {
                session_id: "s".into(),
                seq,
                text: format!("select {seq}"),
                started_at: 2,
                duration_us: 3,
                rows: Some(1),
                status: StatementStatus::Ok,
                error: None,
                verdict: None,
                rule: None,
                observed: false,
                review: None,
                result: None,
            }));
        }
        v.push(Event::Close(SessionClose {
            session_id: "s".into(),
            ended_at: 9,
            reason: "client-quit".into(),
            detail: None,
        }));
        v
    }

    fn chain(events: Vec<Event>) -> Vec<ChainedEvent> {
        link_all(events)
    }

    /// The hash a seal covers: the last event's.
    fn last_hash(chain: &[ChainedEvent]) -> Hash {
        hex::decode(&chain.last().unwrap().hash)
            .unwrap()
            .try_into()
            .unwrap()
    }

    fn signer() -> Signer {
        Signer::from_seed(&[7u8; 32]).unwrap()
    }

    #[test]
    fn an_untouched_session_verifies() {
        let s = signer();
        let c = chain(session());
        let last = last_hash(&c);
        let seal = s.seal("s", &last);
        assert_eq!(verify("s", &c, Some(&seal), &s.public_key_hex()), Ok(true));
        // An open session (no close yet) verifies unsealed.
        assert_eq!(verify("s", &c[..3], None, &s.public_key_hex()), Ok(false));
    }

    #[test]
    fn every_kind_of_tampering_is_found_and_located() {
        let s = signer();
        let good = chain(session());
        let last = last_hash(&good);
        let seal = s.seal("s", &last);
        let pk = s.public_key_hex();

        let mut edited = good.clone();
        if let Event::Statement(st) = &mut edited[2].event {
            st.text = "drop table x".into();
        }
        assert!(matches!(
            verify("s", &edited, Some(&seal), &pk),
            Err(VerifyError::Hash { index: 2, .. })
        ));

        let mut deleted = good.clone();
        deleted.remove(2);
        assert!(matches!(
            verify("s", &deleted, Some(&seal), &pk),
            Err(VerifyError::Sequence {
                index: 2,
                expected: 2,
                found: 3,
                ..
            })
        ));

        let mut reordered = good.clone();
        reordered.swap(1, 2);
        assert!(matches!(
            verify("s", &reordered, Some(&seal), &pk),
            Err(VerifyError::Sequence { index: 1, .. })
        ));

        // Re-chaining after an edit still breaks the seal.
        let mut rechained_events = session();
        if let Event::Statement(st) = &mut rechained_events[1] {
            st.rows = Some(0);
        }
        let rechained = chain(rechained_events);
        assert!(matches!(
            verify("s", &rechained, Some(&seal), &pk),
            Err(VerifyError::Seal(_))
        ));

        let other = Signer::from_seed(&[8u8; 32]).unwrap();
        assert!(matches!(
            verify("s", &good, Some(&seal), &other.public_key_hex()),
            Err(VerifyError::Seal(_))
        ));
        let mut forged = seal.clone();
        forged.signature.replace_range(
            0..2,
            if forged.signature.starts_with("00") {
                "11"
            } else {
                "00"
            },
        );
        assert!(matches!(
            verify("s", &good, Some(&forged), &pk),
            Err(VerifyError::Seal(_))
        ));
        assert!(
            matches!(verify("s", &good, None, &pk), Err(VerifyError::Seal(_))),
            "closed but unsealed"
        );
    }

    fn split_session() -> Vec<Event> {
        use crate::record::{CapturedResult, ResultSet, StatementRequest, StatementResponse};
        let mut v = session();
        v.truncate(1);
        let req = |seq| {
            Event::Request(StatementRequest {
                session_id: "s".into(),
                seq,
                started_at: 2,
                text: format!("select {seq}"),
                params: vec![Some("1".into()), None],
                verdict: Some("allow".into()),
                rule: None,
                observed: false,
                review: None,
                classified: Some(std::sync::Arc::new(crate::policy::Classified {
                    commands: vec!["SELECT".into()],
                    classes: vec!["read".into()],
                    tables: vec![],
                })),
                refused: None,
                request_kind: Default::default(),
                reason: None,
                body: None,
            })
        };
        let resp = |seq| {
            Event::Response(StatementResponse {
                session_id: "s".into(),
                seq,
                ended_at: 3,
                duration_us: 1,
                status: StatementStatus::Ok,
                rows: Some(1),
                bytes: 11,
                error: None,
                review: None,
                result: Some(CapturedResult {
                    sets: vec![ResultSet {
                        columns: vec!["email".into()],
                        rows: vec![vec![Some("j***@example.com".into())]],
                    }],
                    truncated: false,
                }),
                status_code: None,
                exit_status: None,
                body: None,
            })
        };
        // A pipeline: two requests before the first response.
        v.extend([req(1), req(2), resp(1), resp(2), req(3)]);
        v.push(Event::Close(SessionClose {
            session_id: "s".into(),
            ended_at: 9,
            reason: "client-quit".into(),
            detail: None,
        }));
        v
    }

    #[test]
    fn requests_and_responses_verify_and_their_tampering_is_found() {
        let s = signer();
        let good = chain(split_session());
        let last = last_hash(&good);
        let seal = s.seal("s", &last);
        let pk = s.public_key_hex();
        assert_eq!(verify("s", &good, Some(&seal), &pk), Ok(true));

        let mut rows = good.clone();
        if let Event::Response(r) = &mut rows[3].event {
            r.result.as_mut().unwrap().sets[0].rows[0][0] = Some("jane@example.com".into());
        }
        assert!(matches!(
            verify("s", &rows, Some(&seal), &pk),
            Err(VerifyError::Hash { index: 3, .. })
        ));

        // A response whose request is gone, and one answered twice.
        let mut orphan = chain(split_session());
        orphan.remove(1);
        assert!(verify("s", &orphan, Some(&seal), &pk).is_err());
        let mut events = split_session();
        let dup = events[3].clone();
        events.insert(4, dup);
        assert!(matches!(
            verify("s", &chain(events), None, &pk),
            Err(VerifyError::Structure { index: 4, .. })
        ));
    }
}
