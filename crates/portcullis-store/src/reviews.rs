//! Reviews in SQLite: the review document as JSON, with the columns a
//! grant is looked up by beside it.

use portcullis_core::review::{Binding, NewReview, Review, ReviewFilter, ReviewState, ReviewStore};
use portcullis_core::store::StoreError;
use rusqlite::{OptionalExtension, TransactionBehavior, params};

use crate::sqlite::{SqliteStore, err};

fn decode(doc: String, id: i64) -> Result<Review, StoreError> {
    let mut review: Review =
        serde_json::from_str(&doc).map_err(|e| err(format!("review {id} is unreadable: {e}")))?;
    review.id = id as u64;
    Ok(review)
}

fn encode(review: &Review) -> Result<String, StoreError> {
    serde_json::to_string(review).map_err(err)
}

impl ReviewStore for SqliteStore {
    fn insert_review(&self, new: &NewReview) -> Result<u64, StoreError> {
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(err)?;
        tx.execute(
            "INSERT INTO reviews (state, identity, connection, statement_hash, params_hash,
                policy_version, requested_at, doc) VALUES ('pending', ?1, ?2, ?3, ?4, ?5, ?6, '{}')",
            params![
                new.identity,
                new.connection,
                new.statement_hash,
                new.params_hash,
                new.policy_version,
                new.requested_at
            ],
        )
        .map_err(err)?;
        let id = tx.last_insert_rowid();
        let review = Review {
            id: id as u64,
            state: ReviewState::Pending,
            request: new.clone(),
            approvals: Vec::new(),
            rejection: None,
            grant_expires_at: None,
            executed_at: None,
            executed_session: None,
            outcome: None,
            estimate: None,
        };
        tx.execute(
            "UPDATE reviews SET doc = ?1 WHERE id = ?2",
            params![encode(&review)?, id],
        )
        .map_err(err)?;
        tx.commit().map_err(err)?;
        Ok(id as u64)
    }

    fn review(&self, id: u64) -> Result<Option<Review>, StoreError> {
        let conn = self.conn();
        let doc: Option<String> = conn
            .query_row(
                "SELECT doc FROM reviews WHERE id = ?1",
                params![id as i64],
                |r| r.get(0),
            )
            .optional()
            .map_err(err)?;
        doc.map(|d| decode(d, id as i64)).transpose()
    }

    fn reviews(&self, filter: &ReviewFilter) -> Result<Vec<Review>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(
                "SELECT id, doc FROM reviews WHERE (?1 IS NULL OR state = ?1)
                 ORDER BY id DESC LIMIT ?2",
            )
            .map_err(err)?;
        let state = filter.state.map(|s| s.as_str());
        let limit = filter.limit.map(|l| l as i64).unwrap_or(-1);
        let rows = stmt
            .query_map(params![state, limit], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
            })
            .map_err(err)?;
        let mut out = Vec::new();
        for row in rows {
            let (id, doc) = row.map_err(err)?;
            out.push(decode(doc, id)?);
        }
        Ok(out)
    }

    fn save_review(&self, review: &Review) -> Result<(), StoreError> {
        let conn = self.conn();
        let changed = conn
            .execute(
                "UPDATE reviews SET state = ?1, grant_expires_at = ?2, executed_at = ?3, doc = ?4
                 WHERE id = ?5",
                params![
                    review.state.as_str(),
                    review.grant_expires_at,
                    review.executed_at,
                    encode(review)?,
                    review.id as i64
                ],
            )
            .map_err(err)?;
        if changed == 1 {
            Ok(())
        } else {
            Err(err(format!("review {} does not exist", review.id)))
        }
    }

    fn claim_grant(
        &self,
        binding: &Binding,
        now: i64,
        session: &str,
    ) -> Result<Option<u64>, StoreError> {
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(err)?;
        let found: Option<i64> = tx
            .query_row(
                "SELECT id FROM reviews
                 WHERE state = 'approved' AND executed_at IS NULL AND grant_expires_at > ?1
                   AND identity = ?2 AND connection = ?3 AND statement_hash = ?4
                   AND params_hash = ?5 AND policy_version = ?6
                 ORDER BY id LIMIT 1",
                params![
                    now,
                    binding.identity,
                    binding.connection,
                    binding.statement_hash,
                    binding.params_hash,
                    binding.policy_version
                ],
                |r| r.get(0),
            )
            .optional()
            .map_err(err)?;
        let Some(id) = found else {
            return Ok(None);
        };
        mark_executed(&tx, id, now, session)?;
        tx.commit().map_err(err)?;
        Ok(Some(id as u64))
    }

    fn claim_review(&self, id: u64, now: i64, session: &str) -> Result<bool, StoreError> {
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(err)?;
        let usable: Option<i64> = tx
            .query_row(
                "SELECT id FROM reviews WHERE id = ?1 AND state = 'approved'
                   AND executed_at IS NULL AND grant_expires_at > ?2",
                params![id as i64, now],
                |r| r.get(0),
            )
            .optional()
            .map_err(err)?;
        if usable.is_none() {
            return Ok(false);
        }
        mark_executed(&tx, id as i64, now, session)?;
        tx.commit().map_err(err)?;
        Ok(true)
    }
}

fn mark_executed(
    tx: &rusqlite::Transaction<'_>,
    id: i64,
    now: i64,
    session: &str,
) -> Result<(), StoreError> {
    let doc: String = tx
        .query_row("SELECT doc FROM reviews WHERE id = ?1", params![id], |r| {
            r.get(0)
        })
        .map_err(err)?;
    let mut review = decode(doc, id)?;
    review.executed_at = Some(now);
    review.executed_session = Some(session.to_string());
    tx.execute(
        "UPDATE reviews SET executed_at = ?1, doc = ?2 WHERE id = ?3",
        params![now, encode(&review)?, id],
    )
    .map_err(err)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use portcullis_core::policy::ReviewMode;
    use portcullis_core::review::{params_hash, statement_hash};

    fn new_review(text: &str) -> NewReview {
        NewReview {
            identity: "alice".into(),
            groups: vec![],
            connection: "pg".into(),
            session_id: "s".into(),
            client_addr: "a".into(),
            protocol: "postgres".into(),
            policy: "p".into(),
            policy_version: "v1".into(),
            rule: None,
            reason: "r".into(),
            statement: text.into(),
            parameters: None,
            statement_hash: statement_hash(text.as_bytes()),
            params_hash: params_hash(&[]),
            mode: ReviewMode::Async,
            reviewers: vec!["dba".into()],
            approvals_required: 1,
            requested_at: 1,
            expires_at: 1_000,
            grant_ttl_us: 100,
        }
    }

    fn binding(r: &NewReview) -> Binding {
        Binding {
            identity: r.identity.clone(),
            connection: r.connection.clone(),
            statement_hash: r.statement_hash.clone(),
            params_hash: r.params_hash.clone(),
            policy_version: r.policy_version.clone(),
        }
    }

    #[test]
    fn an_approval_is_claimed_once_and_only_by_its_binding() {
        let store = SqliteStore::in_memory().unwrap();
        let new = new_review("UPDATE t SET x = 1");
        let id = store.insert_review(&new).unwrap();
        // Pending: nothing to claim.
        assert_eq!(store.claim_grant(&binding(&new), 10, "s2").unwrap(), None);
        let mut r = store.review(id).unwrap().unwrap();
        r.state = ReviewState::Approved;
        r.grant_expires_at = Some(50);
        store.save_review(&r).unwrap();
        for other in [
            Binding {
                identity: "bob".into(),
                ..binding(&new)
            },
            Binding {
                connection: "pg2".into(),
                ..binding(&new)
            },
            Binding {
                statement_hash: statement_hash(b"UPDATE t SET x = 2"),
                ..binding(&new)
            },
            Binding {
                params_hash: params_hash(&[(0, None)]),
                ..binding(&new)
            },
            Binding {
                policy_version: "v2".into(),
                ..binding(&new)
            },
        ] {
            assert_eq!(store.claim_grant(&other, 10, "s2").unwrap(), None);
        }
        // Expired approval: unusable.
        assert_eq!(store.claim_grant(&binding(&new), 50, "s2").unwrap(), None);
        assert_eq!(
            store.claim_grant(&binding(&new), 10, "s2").unwrap(),
            Some(id)
        );
        assert_eq!(store.claim_grant(&binding(&new), 11, "s3").unwrap(), None);
        assert!(!store.claim_review(id, 12, "s3").unwrap());
        let used = store.review(id).unwrap().unwrap();
        assert_eq!(used.executed_session.as_deref(), Some("s2"));
        assert_eq!(used.executed_at, Some(10));
    }

    #[test]
    fn reviews_list_newest_first_and_filter_by_state() {
        let store = SqliteStore::in_memory().unwrap();
        let a = store.insert_review(&new_review("a")).unwrap();
        let b = store.insert_review(&new_review("b")).unwrap();
        let mut r = store.review(a).unwrap().unwrap();
        r.state = ReviewState::Rejected;
        store.save_review(&r).unwrap();
        let all: Vec<u64> = store
            .reviews(&ReviewFilter::default())
            .unwrap()
            .iter()
            .map(|r| r.id)
            .collect();
        assert_eq!(all, vec![b, a]);
        let pending = store
            .reviews(&ReviewFilter {
                state: Some(ReviewState::Pending),
                limit: None,
            })
            .unwrap();
        assert_eq!(pending.len(), 1);
        assert_eq!(pending[0].request.statement, "b");
    }
}
