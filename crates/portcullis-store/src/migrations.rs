//! Schema migrations, applied in order at open; `PRAGMA user_version` holds
//! the number applied. Append new steps, never edit old ones.

pub const MIGRATIONS: &[&str] = &[
    // 1: tokens, sessions, statements.
    "CREATE TABLE tokens (
        id TEXT PRIMARY KEY,
        identity TEXT NOT NULL,
        groups TEXT NOT NULL,
        hash TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER,
        revoked_at INTEGER,
        last_used_at INTEGER
    );
    CREATE TABLE sessions (
        id TEXT PRIMARY KEY,
        started_at INTEGER NOT NULL,
        identity TEXT NOT NULL,
        auth_method TEXT NOT NULL,
        client_addr TEXT NOT NULL,
        connection TEXT NOT NULL,
        protocol TEXT NOT NULL,
        ended_at INTEGER,
        reason TEXT,
        detail TEXT
    );
    CREATE INDEX sessions_started_at ON sessions(started_at);
    CREATE TABLE statements (
        session_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        text TEXT NOT NULL,
        started_at INTEGER NOT NULL,
        duration_us INTEGER NOT NULL,
        rows INTEGER,
        status TEXT NOT NULL,
        error TEXT,
        PRIMARY KEY (session_id, seq)
    ) WITHOUT ROWID;",
    // 2: guardrail verdicts, and the policy each session ran under.
    "ALTER TABLE statements ADD COLUMN verdict TEXT;
    ALTER TABLE statements ADD COLUMN rule TEXT;
    ALTER TABLE statements ADD COLUMN observed INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE sessions ADD COLUMN policy TEXT;
    ALTER TABLE sessions ADD COLUMN policy_version TEXT;",
    // 3: tamper evidence: each event's chain hash, and the seal of closed sessions.
    "ALTER TABLE statements ADD COLUMN hash TEXT;
    ALTER TABLE sessions ADD COLUMN open_hash TEXT;
    ALTER TABLE sessions ADD COLUMN close_hash TEXT;
    ALTER TABLE sessions ADD COLUMN seal_last_hash TEXT;
    ALTER TABLE sessions ADD COLUMN seal_signature TEXT;
    ALTER TABLE sessions ADD COLUMN seal_public_key TEXT;",
    // 4: the audit log.
    "CREATE TABLE audit (
        id INTEGER PRIMARY KEY,
        at INTEGER NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        subject TEXT,
        detail TEXT
    );
    CREATE INDEX audit_at ON audit(at);",
    // 5: requests to end live sessions, picked up by the running gateway.
    "CREATE TABLE kill_requests (
        session_id TEXT PRIMARY KEY,
        requested_at INTEGER NOT NULL,
        actor TEXT NOT NULL
    );",
    // 6: reviews of held statements, and their single-use approvals.
    "CREATE TABLE reviews (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        state TEXT NOT NULL,
        identity TEXT NOT NULL,
        connection TEXT NOT NULL,
        statement_hash TEXT NOT NULL,
        params_hash TEXT NOT NULL,
        policy_version TEXT NOT NULL,
        requested_at INTEGER NOT NULL,
        grant_expires_at INTEGER,
        executed_at INTEGER,
        doc TEXT NOT NULL
    );
    CREATE INDEX reviews_grant ON reviews(identity, connection, statement_hash)
        WHERE state = 'approved' AND executed_at IS NULL;
    ALTER TABLE statements ADD COLUMN review INTEGER;",
    // 7: separate request and response events, stored as the JSON of the
    //    event itself (the hash covers exactly that); `n` is the event's
    //    position in its session after the open event, so the key is also
    //    the chain order. `verdict` is copied out for filtering. Sessions
    //    recorded before this keep their rows in `statements`.
    "CREATE TABLE events (
        session_id TEXT NOT NULL,
        n INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        kind TEXT NOT NULL,
        verdict TEXT,
        doc TEXT NOT NULL,
        hash TEXT NOT NULL,
        PRIMARY KEY (session_id, n)
    ) WITHOUT ROWID;",
];
