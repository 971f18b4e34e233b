//! SQLite implementation of the store: one connection in WAL mode behind a
//! mutex (writes come in batches from the recorder, reads are rare).

use std::path::Path;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use portcullis_core::record::audit::{AuditEntry, AuditFilter};
use portcullis_core::record::chain::{ChainedEvent, Seal};
use std::collections::HashMap;

use portcullis_core::record::{
    Event, SessionClose, SessionFilter, SessionOpen, SessionSummary, StatementRecord,
    StatementRequest, StatementResponse, StatementStatus,
};
use portcullis_core::store::{SessionChain, Store, StoreError};
use portcullis_core::token::TokenRecord;
use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior, params};

use crate::migrations::MIGRATIONS;

pub struct SqliteStore {
    conn: Mutex<Connection>,
    /// Next event position of each open session this process appends to,
    /// so positions need no query per event (see [`SqliteStore::position`]).
    positions: Mutex<HashMap<String, i64>>,
}

pub(crate) fn err(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and migrates it.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
        // The store holds token hashes and recorded statements: owner only.
        if let Some(dir) = path.parent()
            && !dir.as_os_str().is_empty()
            && !dir.exists()
        {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(|e| err(format!("cannot create {}: {e}", dir.display())))?;
        }
        if !path.exists() {
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)
            {
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(err(format!("cannot create {}: {e}", path.display()))),
            }
        }
        let conn = Connection::open(path)
            .map_err(|e| err(format!("cannot open {}: {e}", path.display())))?;
        Self::init(conn)
    }

    /// An in-memory store, for tests and `policy check`.
    pub fn in_memory() -> Result<Self, StoreError> {
        Self::init(Connection::open_in_memory().map_err(err)?)
    }

    fn init(mut conn: Connection) -> Result<Self, StoreError> {
        conn.busy_timeout(Duration::from_secs(10)).map_err(err)?;
        // Switching to WAL needs an exclusive lock, and SQLite reports a busy
        // database at once instead of waiting for it: retry for a while.
        let mut attempts = 0;
        loop {
            match conn.pragma_update(None, "journal_mode", "WAL") {
                Ok(()) => break,
                Err(rusqlite::Error::SqliteFailure(e, _))
                    if e.code == rusqlite::ErrorCode::DatabaseBusy && attempts < 400 =>
                {
                    attempts += 1;
                    std::thread::sleep(Duration::from_millis(25));
                }
                Err(e) => return Err(err(e)),
            }
        }
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(err)?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(err)?;
        // Checkpoint less often: hot pages are copied back once per
        // checkpoint however often they were rewritten in between.
        conn.pragma_update(None, "wal_autocheckpoint", 8000)
            .map_err(err)?;
        // 16 MiB of page cache (default 2 MiB): the recorder's inserts touch
        // pages across every live session's key range; re-reading them
        // from the file on every batch showed up in profiles.
        conn.pragma_update(None, "cache_size", -16384)
            .map_err(err)?;
        migrate(&mut conn)?;
        Ok(SqliteStore {
            conn: Mutex::new(conn),
            positions: Mutex::new(HashMap::new()),
        })
    }

    pub(crate) fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave SQLite inconsistent
        // (transactions roll back), so a poisoned lock is still usable.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Statements of sessions recorded before request and response events
    /// (migration 7): one row, one `Statement` event.
    fn legacy_statements(&self, session_id: &str) -> Result<Vec<StatementRecord>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(
                "SELECT session_id, seq, text, started_at, duration_us, rows, status, error, verdict, rule, observed, review \
                 FROM statements WHERE session_id = ?1 ORDER BY seq",
            )
            .map_err(err)?;
        let rows = stmt
            .query_map([session_id], |r| {
                let status: String = r.get(6)?;
                Ok(StatementRecord {
                    session_id: r.get(0)?,
                    seq: r.get::<_, i64>(1)? as u64,
                    text: r.get(2)?,
                    started_at: r.get(3)?,
                    duration_us: r.get(4)?,
                    rows: r.get::<_, Option<i64>>(5)?.map(|v| v as u64),
                    status: StatementStatus::parse(&status).unwrap_or(StatementStatus::Error),
                    error: r.get(7)?,
                    verdict: r.get(8)?,
                    rule: r.get(9)?,
                    observed: r.get(10)?,
                    review: r.get::<_, Option<i64>>(11)?.map(|v| v as u64),
                    result: None,
                })
            })
            .map_err(err)?;
        rows.collect::<Result<_, _>>().map_err(err)
    }

    /// A session's request and response events in chain order. A document
    /// that no longer parses is reported, never skipped: skipping would hide
    /// tampering from verification.
    fn split_events(&self, session_id: &str) -> Result<Vec<ChainedEvent>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(
                "SELECT seq, kind, doc, hash FROM events WHERE session_id = ?1 ORDER BY n",
            )
            .map_err(err)?;
        let rows = stmt
            .query_map([session_id], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                ))
            })
            .map_err(err)?;
        let mut out = Vec::new();
        for row in rows {
            let (seq, kind, doc, hash) = row.map_err(err)?;
            let event: Event = serde_json::from_str(&doc).map_err(|e| {
                err(format!(
                    "session {session_id}: stored {kind} event {seq} is unreadable (edited?): {e}"
                ))
            })?;
            out.push(ChainedEvent {
                event,
                hash,
                json: None,
            });
        }
        Ok(out)
    }
}

fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    // One writer at a time: the gateway and a CLI may open a new store at
    // the same moment, and each must see the other's finished migration.
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(err)?;
    let version: i64 = tx
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(err)?;
    let supported = MIGRATIONS.len() as i64;
    if version > supported {
        return Err(StoreError::SchemaTooNew {
            found: version,
            supported,
        });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        tx.execute_batch(sql).map_err(err)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)
            .map_err(err)?;
        tracing::info!(version = i + 1, "state store migrated");
    }
    tx.commit().map_err(err)
}

fn token_from_row(r: &Row<'_>) -> rusqlite::Result<TokenRecord> {
    let groups: String = r.get(2)?;
    Ok(TokenRecord {
        id: r.get(0)?,
        identity: r.get(1)?,
        groups: serde_json::from_str(&groups).unwrap_or_default(),
        hash: r.get(3)?,
        created_at: r.get(4)?,
        expires_at: r.get(5)?,
        revoked_at: r.get(6)?,
        last_used_at: r.get(7)?,
    })
}

/// Session id, seq, kind and verdict of an event stored in `events`
/// (requests, responses, terminal chunks, transfers, forwarded channels;
/// the last three have no seq of their own: their position orders them).
fn statement_key(e: &Event) -> Option<(&String, u64, &'static str, Option<&str>)> {
    match e {
        Event::Request(r) => Some((&r.session_id, r.seq, "request", r.verdict.as_deref())),
        Event::Response(r) => Some((&r.session_id, r.seq, "response", None)),
        Event::Terminal(t) => Some((&t.session_id, 0, "terminal", None)),
        Event::Transfer(t) => Some((&t.session_id, 0, "transfer", t.verdict.as_deref())),
        Event::Forward(f) => Some((&f.session_id, 0, "forward", f.verdict.as_deref())),
        _ => None,
    }
}

const TOKEN_COLUMNS: &str =
    "id, identity, groups, hash, created_at, expires_at, revoked_at, last_used_at";

const SESSION_COLUMNS: &str = "s.id, s.started_at, s.identity, s.auth_method, s.client_addr, \
     s.connection, s.protocol, s.ended_at, s.reason, s.detail, \
     (SELECT count(*) FROM statements st WHERE st.session_id = s.id) + \
     (SELECT count(*) FROM events ev WHERE ev.session_id = s.id AND ev.kind = 'request'), \
     s.policy, s.policy_version";

fn session_from_row(r: &Row<'_>) -> rusqlite::Result<SessionSummary> {
    Ok(SessionSummary {
        open: SessionOpen {
            session_id: r.get(0)?,
            started_at: r.get(1)?,
            identity: r.get(2)?,
            auth_method: r.get(3)?,
            client_addr: r.get(4)?,
            connection: r.get(5)?,
            protocol: r.get(6)?,
            policy: r.get(11)?,
            policy_version: r.get(12)?,
        },
        ended_at: r.get(7)?,
        reason: r.get(8)?,
        detail: r.get(9)?,
        statements: r.get::<_, i64>(10)? as u64,
    })
}

impl Store for SqliteStore {
    fn insert_token(&self, t: &TokenRecord) -> Result<(), StoreError> {
        let groups = serde_json::to_string(&t.groups).map_err(err)?;
        self.conn()
            .execute(
                &format!(
                    "INSERT INTO tokens ({TOKEN_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
                ),
                params![
                    t.id,
                    t.identity,
                    groups,
                    t.hash,
                    t.created_at,
                    t.expires_at,
                    t.revoked_at,
                    t.last_used_at
                ],
            )
            .map_err(err)?;
        Ok(())
    }

    fn token(&self, id: &str) -> Result<Option<TokenRecord>, StoreError> {
        self.conn()
            .query_row(
                &format!("SELECT {TOKEN_COLUMNS} FROM tokens WHERE id = ?1"),
                [id],
                token_from_row,
            )
            .optional()
            .map_err(err)
    }

    fn tokens(&self) -> Result<Vec<TokenRecord>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(&format!(
                "SELECT {TOKEN_COLUMNS} FROM tokens ORDER BY created_at, id"
            ))
            .map_err(err)?;
        let rows = stmt.query_map([], token_from_row).map_err(err)?;
        rows.collect::<Result<_, _>>().map_err(err)
    }

    fn revoke_token(&self, id: &str, at: i64) -> Result<bool, StoreError> {
        let conn = self.conn();
        let exists = conn
            .query_row("SELECT 1 FROM tokens WHERE id = ?1", [id], |_| Ok(()))
            .optional()
            .map_err(err)?
            .is_some();
        conn.execute(
            "UPDATE tokens SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
            params![id, at],
        )
        .map_err(err)?;
        Ok(exists)
    }

    fn touch_token(&self, id: &str, at: i64) -> Result<(), StoreError> {
        self.conn()
            .execute(
                "UPDATE tokens SET last_used_at = ?2 WHERE id = ?1",
                params![id, at],
            )
            .map_err(err)?;
        Ok(())
    }

    fn append(&self, events: &[ChainedEvent], seals: &[(String, Seal)]) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let mut positions = self.positions.lock().unwrap_or_else(|p| p.into_inner());
        // Positions taken by this batch; kept only if it commits.
        let mut next: HashMap<String, i64> = HashMap::new();
        let mut closed: Vec<&str> = Vec::new();
        let tx = conn.transaction().map_err(err)?;
        {
            let mut open = tx
                .prepare_cached(
                    "INSERT INTO sessions (id, started_at, identity, auth_method, client_addr, connection, protocol, policy, policy_version, open_hash) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                )
                .map_err(err)?;
            let mut statement = tx
                .prepare_cached(
                    "INSERT INTO statements (session_id, seq, text, started_at, duration_us, rows, status, error, verdict, rule, observed, hash, review) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
                )
                .map_err(err)?;
            let mut event = tx
                .prepare_cached(
                    "INSERT INTO events (session_id, n, seq, kind, verdict, doc, hash) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )
                .map_err(err)?;
            let mut last = tx
                .prepare_cached("SELECT max(n) FROM events WHERE session_id = ?1")
                .map_err(err)?;
            let mut close = tx
                .prepare_cached(
                    "UPDATE sessions SET ended_at = ?2, reason = ?3, detail = ?4, close_hash = ?5 WHERE id = ?1",
                )
                .map_err(err)?;
            let mut seal = tx
                .prepare_cached(
                    "UPDATE sessions SET seal_last_hash = ?2, seal_signature = ?3, seal_public_key = ?4 WHERE id = ?1",
                )
                .map_err(err)?;
            for c in events {
                let hash = &c.hash;
                if let Some((id, seq, kind, verdict)) = statement_key(&c.event) {
                    let n = match next.get_mut(id.as_str()) {
                        Some(n) => {
                            *n += 1;
                            *n - 1
                        }
                        None => {
                            let n = match positions.get(id.as_str()) {
                                Some(n) => *n,
                                None => last
                                    .query_row([id], |r| r.get::<_, Option<i64>>(0))
                                    .map_err(err)?
                                    .map_or(0, |m| m + 1),
                            };
                            next.insert(id.clone(), n + 1);
                            n
                        }
                    };
                    let doc = match &c.json {
                        Some(j) => std::borrow::Cow::Borrowed(j.as_str()),
                        None => {
                            std::borrow::Cow::Owned(serde_json::to_string(&c.event).map_err(err)?)
                        }
                    };
                    event
                        .execute(params![id, n, seq as i64, kind, verdict, doc, hash])
                        .map_err(err)?;
                    continue;
                }
                match &c.event {
                    Event::Open(o) => open.execute(params![
                        o.session_id,
                        o.started_at,
                        o.identity,
                        o.auth_method,
                        o.client_addr,
                        o.connection,
                        o.protocol,
                        o.policy,
                        o.policy_version,
                        hash
                    ]),
                    Event::Statement(s) => statement.execute(params![
                        s.session_id,
                        s.seq as i64,
                        s.text,
                        s.started_at,
                        s.duration_us,
                        s.rows.map(|r| r as i64),
                        s.status.as_str(),
                        s.error,
                        s.verdict,
                        s.rule,
                        s.observed,
                        hash,
                        s.review.map(|r| r as i64)
                    ]),
                    // Stored above.
                    Event::Request(_)
                    | Event::Response(_)
                    | Event::Terminal(_)
                    | Event::Transfer(_)
                    | Event::Forward(_) => Ok(0),
                    Event::Close(c) => {
                        closed.push(&c.session_id);
                        close.execute(params![c.session_id, c.ended_at, c.reason, c.detail, hash])
                    }
                }
                .map_err(err)?;
            }
            for (id, s) in seals {
                seal.execute(params![id, s.last_hash, s.signature, s.public_key])
                    .map_err(err)?;
            }
        }
        tx.commit().map_err(err)?;
        positions.extend(next);
        for id in closed {
            positions.remove(id);
        }
        Ok(())
    }

    fn session_chain(&self, id: &str) -> Result<Option<SessionChain>, StoreError> {
        let Some(summary) = self.session(id)? else {
            return Ok(None);
        };
        type Hashes = (
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
        );
        let (open_hash, close_hash, last, signature, key): Hashes = self
            .conn()
            .query_row(
                "SELECT open_hash, close_hash, seal_last_hash, seal_signature, seal_public_key FROM sessions WHERE id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
            )
            .map_err(err)?;
        let mut events = vec![ChainedEvent {
            event: Event::Open(summary.open.clone()),
            hash: open_hash.unwrap_or_default(),
            json: None,
        }];
        let hashes: Vec<Option<String>> = {
            let conn = self.conn();
            let mut stmt = conn
                .prepare("SELECT hash FROM statements WHERE session_id = ?1 ORDER BY seq")
                .map_err(err)?;
            let rows = stmt.query_map([id], |r| r.get(0)).map_err(err)?;
            rows.collect::<Result<_, _>>().map_err(err)?
        };
        for (s, h) in self.legacy_statements(id)?.into_iter().zip(hashes) {
            events.push(ChainedEvent {
                event: Event::Statement(s),
                hash: h.unwrap_or_default(),
                json: None,
            });
        }
        events.extend(self.split_events(id)?);
        if let (Some(ended_at), Some(reason)) = (summary.ended_at, summary.reason.clone()) {
            events.push(ChainedEvent {
                event: Event::Close(SessionClose {
                    session_id: id.to_string(),
                    ended_at,
                    reason,
                    detail: summary.detail.clone(),
                }),
                hash: close_hash.unwrap_or_default(),
                json: None,
            });
        }
        let seal = match (last, signature, key) {
            (Some(last_hash), Some(signature), Some(public_key)) => Some(Seal {
                last_hash,
                signature,
                public_key,
            }),
            _ => None,
        };
        Ok(Some((events, seal)))
    }

    fn sessions(&self, f: &SessionFilter) -> Result<Vec<SessionSummary>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(&format!(
                "SELECT {SESSION_COLUMNS} FROM sessions s \
                 WHERE (?1 IS NULL OR s.identity = ?1) AND (?2 IS NULL OR s.connection = ?2) \
                 AND (?3 IS NULL OR s.started_at >= ?3) AND (?4 IS NULL OR s.started_at <= ?4) \
                 AND (?6 IS NULL OR EXISTS (SELECT 1 FROM statements v WHERE v.session_id = s.id AND v.verdict = ?6) \
                      OR EXISTS (SELECT 1 FROM events e WHERE e.session_id = s.id AND e.kind = 'request' AND e.verdict = ?6)) \
                 ORDER BY s.started_at DESC, s.id LIMIT ?5"
            ))
            .map_err(err)?;
        let limit = f.limit.map_or(-1, |l| l as i64);
        let rows = stmt
            .query_map(
                params![f.identity, f.connection, f.since, f.until, limit, f.verdict],
                session_from_row,
            )
            .map_err(err)?;
        rows.collect::<Result<_, _>>().map_err(err)
    }

    fn session(&self, id: &str) -> Result<Option<SessionSummary>, StoreError> {
        self.conn()
            .query_row(
                &format!("SELECT {SESSION_COLUMNS} FROM sessions s WHERE s.id = ?1"),
                [id],
                session_from_row,
            )
            .optional()
            .map_err(err)
    }

    fn statements(&self, session_id: &str) -> Result<Vec<StatementRecord>, StoreError> {
        let mut out = self.legacy_statements(session_id)?;
        let mut requests: Vec<StatementRequest> = Vec::new();
        let mut responses: HashMap<u64, StatementResponse> = HashMap::new();
        for c in self.split_events(session_id)? {
            match c.event {
                Event::Request(r) => requests.push(r),
                Event::Response(r) => {
                    responses.insert(r.seq, r);
                }
                _ => {}
            }
        }
        out.extend(
            requests
                .iter()
                .map(|r| StatementRecord::from_parts(r, responses.get(&r.seq))),
        );
        Ok(out)
    }

    fn remove_sessions_ended_before(&self, cutoff: i64) -> Result<u64, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(err)?;
        for table in ["statements", "events"] {
            tx.execute(
                &format!(
                    "DELETE FROM {table} WHERE session_id IN \
                     (SELECT id FROM sessions WHERE ended_at IS NOT NULL AND ended_at < ?1)"
                ),
                [cutoff],
            )
            .map_err(err)?;
        }
        let n = tx
            .execute(
                "DELETE FROM sessions WHERE ended_at IS NOT NULL AND ended_at < ?1",
                [cutoff],
            )
            .map_err(err)?;
        tx.commit().map_err(err)?;
        Ok(n as u64)
    }

    fn request_kill(&self, session_id: &str, actor: &str, at: i64) -> Result<(), StoreError> {
        self.conn()
            .execute(
                "INSERT OR REPLACE INTO kill_requests (session_id, requested_at, actor) VALUES (?1, ?2, ?3)",
                params![session_id, at, actor],
            )
            .map_err(err)?;
        Ok(())
    }

    fn take_kill_requests(&self) -> Result<Vec<String>, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(err)?;
        let ids: Vec<String> = {
            let mut stmt = tx
                .prepare("SELECT session_id FROM kill_requests")
                .map_err(err)?;
            let rows = stmt.query_map([], |r| r.get(0)).map_err(err)?;
            rows.collect::<Result<_, _>>().map_err(err)?
        };
        if !ids.is_empty() {
            tx.execute("DELETE FROM kill_requests", []).map_err(err)?;
        }
        tx.commit().map_err(err)?;
        Ok(ids)
    }

    fn audit(&self, e: &AuditEntry) -> Result<(), StoreError> {
        self.conn()
            .execute(
                "INSERT INTO audit (at, actor, action, subject, detail) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![e.at, e.actor, e.action, e.subject, e.detail],
            )
            .map_err(err)?;
        Ok(())
    }

    fn audit_entries(&self, f: &AuditFilter) -> Result<Vec<AuditEntry>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(
                "SELECT at, actor, action, subject, detail FROM audit \
                 WHERE (?1 IS NULL OR at >= ?1) \
                 AND (?2 IS NULL OR action = ?2 OR (substr(?2, -1) = '.' AND substr(action, 1, length(?2)) = ?2)) \
                 ORDER BY at DESC, id DESC LIMIT ?3",
            )
            .map_err(err)?;
        let limit = f.limit.map_or(-1, |l| l as i64);
        let rows = stmt
            .query_map(params![f.since, f.action, limit], |r| {
                Ok(AuditEntry {
                    at: r.get(0)?,
                    actor: r.get(1)?,
                    action: r.get(2)?,
                    subject: r.get(3)?,
                    detail: r.get(4)?,
                })
            })
            .map_err(err)?;
        rows.collect::<Result<_, _>>().map_err(err)
    }

    fn statement_count(&self) -> Result<u64, StoreError> {
        self.conn()
            .query_row(
                "SELECT (SELECT count(*) FROM statements) + \
                 (SELECT count(*) FROM events WHERE kind = 'request')",
                [],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n as u64)
            .map_err(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use portcullis_core::record::chain;

    fn chained(events: Vec<Event>) -> Vec<ChainedEvent> {
        chain::link_all(events)
    }

    fn open_event(id: &str, at: i64) -> Event {
        Event::Open(SessionOpen {
            session_id: id.into(),
            started_at: at,
            identity: "ci".into(),
            auth_method: "token:1".into(),
            client_addr: "127.0.0.1:1".into(),
            connection: "demo".into(),
            protocol: "postgres".into(),
            policy: Some("no-destructive".into()),
            policy_version: Some("v1".into()),
        })
    }

    #[test]
    fn sessions_and_statements_round_trip() {
        let s = SqliteStore::in_memory().unwrap();
        let st = StatementRecord {
            session_id: "a".into(),
            seq: 1,
            text: "select 1".into(),
            started_at: 5,
            duration_us: 7,
            rows: Some(1),
            status: StatementStatus::Ok,
            error: None,
            verdict: Some("allow".into()),
            rule: None,
            observed: false,
            review: None,
            result: None,
        };
        s.append(
            &chained(vec![
                open_event("a", 1),
                Event::Statement(st.clone()),
                Event::Close(SessionClose {
                    session_id: "a".into(),
                    ended_at: 9,
                    reason: "client-quit".into(),
                    detail: None,
                }),
                open_event("b", 2),
            ]),
            &[],
        )
        .unwrap();
        assert_eq!(s.statements("a").unwrap(), vec![st]);
        assert_eq!(s.statement_count().unwrap(), 1);
        let a = s.session("a").unwrap().unwrap();
        assert_eq!(a.ended_at, Some(9));
        assert_eq!(a.statements, 1);
        let listed = s.sessions(&SessionFilter::default()).unwrap();
        assert_eq!(listed.len(), 2);
        assert_eq!(listed[0].open.session_id, "b", "newest first");
        let only_a = s
            .sessions(&SessionFilter {
                until: Some(1),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(only_a.len(), 1);
    }

    #[test]
    fn stored_chains_verify_and_tampering_in_the_store_is_located() {
        let s = SqliteStore::in_memory().unwrap();
        let signer = chain::Signer::from_seed(&[3u8; 32]).unwrap();
        let mut events = vec![open_event("t", 1)];
        for seq in 1..=3 {
            events.push(Event::Statement(StatementRecord {
                session_id: "t".into(),
                seq,
                text: format!("select {seq}"),
                started_at: 2,
                duration_us: 3,
                rows: Some(1),
                status: StatementStatus::Ok,
                error: None,
                verdict: Some("allow".into()),
                rule: None,
                observed: false,
                review: None,
                result: None,
            }));
        }
        events.push(Event::Close(SessionClose {
            session_id: "t".into(),
            ended_at: 9,
            reason: "client-quit".into(),
            detail: None,
        }));
        let c = chained(events);
        let last: chain::Hash = (0..32)
            .map(|i| u8::from_str_radix(&c.last().unwrap().hash[2 * i..2 * i + 2], 16).unwrap())
            .collect::<Vec<_>>()
            .try_into()
            .unwrap();
        let seal = signer.seal("t", &last);
        s.append(&c, &[("t".into(), seal)]).unwrap();
        let pk = signer.public_key_hex();
        let check = |s: &SqliteStore| {
            let (events, seal) = s.session_chain("t").unwrap().unwrap();
            chain::verify("t", &events, seal.as_ref(), &pk)
        };
        assert_eq!(check(&s), Ok(true));
        let tamper = |sql: &str| s.conn().execute_batch(sql).unwrap();
        tamper("UPDATE statements SET text = 'drop table x' WHERE seq = 2");
        assert!(matches!(
            check(&s),
            Err(chain::VerifyError::Hash { index: 2, .. })
        ));
        tamper("UPDATE statements SET text = 'select 2' WHERE seq = 2");
        assert_eq!(check(&s), Ok(true));
        tamper("DELETE FROM statements WHERE seq = 1");
        assert!(matches!(
            check(&s),
            Err(chain::VerifyError::Sequence { index: 1, .. })
        ));
        tamper("UPDATE sessions SET identity = 'someone-else'");
        assert!(matches!(
            check(&s),
            Err(chain::VerifyError::Hash { index: 0, .. })
        ));
    }

    #[test]
    fn a_failing_batch_writes_nothing() {
        let s = SqliteStore::in_memory().unwrap();
        // The duplicate session id violates the primary key: the whole batch rolls back.
        let r = s.append(&chained(vec![open_event("x", 1), open_event("x", 2)]), &[]);
        assert!(r.is_err());
        assert!(s.session("x").unwrap().is_none());
    }

    #[test]
    fn tokens_revoke_and_touch() {
        let s = SqliteStore::in_memory().unwrap();
        let t = portcullis_core::token::mint("ci", vec!["g".into()], 1, Some(100)).unwrap();
        s.insert_token(&t.record).unwrap();
        assert_eq!(s.token(&t.record.id).unwrap().unwrap(), t.record);
        s.touch_token(&t.record.id, 50).unwrap();
        assert!(s.revoke_token(&t.record.id, 60).unwrap());
        assert!(!s.revoke_token("nope", 60).unwrap());
        let back = s.token(&t.record.id).unwrap().unwrap();
        assert_eq!(back.last_used_at, Some(50));
        assert_eq!(back.revoked_at, Some(60));
    }

    #[test]
    fn concurrent_opens_of_a_new_store_both_succeed() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("race.db");
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let p = p.clone();
                std::thread::spawn(move || SqliteStore::open(&p).map(|_| ()))
            })
            .collect();
        for h in handles {
            h.join().unwrap().unwrap();
        }
    }

    #[test]
    fn a_new_store_is_private_to_its_owner() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sub/state.db");
        SqliteStore::open(&p).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&p), 0o600);
        assert_eq!(mode(p.parent().unwrap()), 0o700);
        // SQLite gives its WAL the database's permissions.
        let wal = p.with_extension("db-wal");
        if wal.exists() {
            assert_eq!(mode(&wal) & 0o077, 0);
        }
    }

    #[test]
    fn migrations_are_idempotent_across_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.db");
        SqliteStore::open(&p).unwrap();
        let again = SqliteStore::open(&p).unwrap();
        assert_eq!(again.statement_count().unwrap(), 0);
    }
}
