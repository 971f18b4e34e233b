//! Names of tables and columns, read from the target's catalog over the
//! gateway's own connection.
//!
//! RowDescription names a result column's source only by table OID and
//! column number; masking rules name `schema.table.column`. The session's
//! own connection cannot be used to ask (it belongs to the client, possibly
//! mid-transaction or mid-pipeline), so a second connection is opened with
//! the same credentials, lazily, on the first result that needs it, and kept
//! for the session. The whole user catalog is read in one round trip
//! (tables, views and their columns; which relations each view reads; which
//! functions are user-defined), and read again after DDL or an unknown OID.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::backend::{self, Target};
use crate::protocol::backend as b;
use crate::protocol::frame::{self, HEADER_LEN, Reader, put_cstr, write_frame};
use crate::protocol::frontend as f;
use crate::stream::Stream;

/// Catalog rows read at most (columns); beyond that the catalog is
/// incomplete and unresolved columns are masked (fail closed).
const MAX_ROWS: usize = 500_000;
/// Catalog replies are read into memory; bound them.
const MAX_FRAME: usize = 1024 * 1024;

const CATALOG_SQL: &str = "\
SELECT c.oid::int8, n.nspname, c.relname, c.relkind::text, a.attnum::int4, a.attname \
FROM pg_catalog.pg_class c \
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid \
WHERE c.relkind IN ('r','v','m','f','p') AND a.attnum > 0 AND NOT a.attisdropped \
AND n.nspname NOT IN ('pg_catalog','information_schema') AND n.nspname NOT LIKE 'pg\\_toast%' \
ORDER BY 1, 5;
SELECT DISTINCT r.ev_class::int8, d.refobjid::int8 \
FROM pg_catalog.pg_rewrite r JOIN pg_catalog.pg_depend d \
ON d.classid = 'pg_catalog.pg_rewrite'::regclass AND d.objid = r.oid \
AND d.refclassid = 'pg_catalog.pg_class'::regclass \
WHERE d.refobjid <> r.ev_class;
SELECT DISTINCT lower(p.proname) FROM pg_catalog.pg_proc p \
JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace \
WHERE n.nspname NOT IN ('pg_catalog','information_schema');";

/// One table, view or other relation.
#[derive(Debug, Clone)]
pub struct Relation {
    pub schema: String,
    pub name: String,
    /// `r`, `v`, `m`, `f`, `p`.
    pub kind: char,
    /// `(attnum, name)` in column order.
    pub columns: Vec<(i16, String)>,
}

impl Relation {
    pub fn is_view(&self) -> bool {
        matches!(self.kind, 'v' | 'm')
    }

    pub fn column(&self, attnum: i16) -> Option<&str> {
        self.columns
            .iter()
            .find(|(n, _)| *n == attnum)
            .map(|(_, s)| s.as_str())
    }
}

/// A snapshot of the target's user catalog.
#[derive(Debug, Default)]
pub struct Catalog {
    pub relations: HashMap<u32, Relation>,
    /// Relation name (lower case) to OIDs (several schemas may use one name).
    pub by_name: HashMap<String, Vec<u32>>,
    /// View OID to the relations its rewrite rule reads.
    pub view_reads: HashMap<u32, Vec<u32>>,
    /// Names of functions defined outside `pg_catalog`/`information_schema`.
    pub user_functions: HashSet<String>,
    /// True when the catalog was cut at [`MAX_ROWS`].
    pub truncated: bool,
}

impl Catalog {
    /// The OIDs a (possibly unqualified) name may refer to.
    pub fn lookup(&self, schema: Option<&str>, name: &str) -> Vec<u32> {
        let Some(oids) = self.by_name.get(name) else {
            return Vec::new();
        };
        oids.iter()
            .copied()
            .filter(|oid| {
                schema.is_none_or(|s| self.relations.get(oid).is_some_and(|r| r.schema == s))
            })
            .collect()
    }
}

/// Why the catalog could not be read (logged; the result is masked anyway).
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("connecting for the catalog: {0}")]
    Connect(#[from] backend::UpstreamError),
    #[error("reading the catalog: {0}")]
    Io(#[from] std::io::Error),
    #[error("catalog query failed: {0}")]
    Query(String),
    #[error("catalog reply malformed: {0}")]
    Malformed(String),
}

/// Opens the catalog connection lazily and reads the catalog on demand.
pub struct CatalogLoader {
    target: Target,
    params: Vec<(String, String)>,
    conn: Option<Stream>,
}

impl CatalogLoader {
    pub fn new(target: Target, params: Vec<(String, String)>) -> Self {
        // Only parameters that change how names resolve are carried over;
        // replication or options that start something else are not.
        let params = params
            .into_iter()
            .filter(|(k, _)| k == "search_path" || k == "application_name")
            .map(|(k, v)| {
                if k == "application_name" {
                    (k, format!("{v} (portcullis catalog)"))
                } else {
                    (k, v)
                }
            })
            .collect();
        CatalogLoader {
            target,
            params,
            conn: None,
        }
    }

    /// Reads the catalog, connecting first if needed. A failed connection is
    /// dropped so the next call starts afresh.
    pub async fn load(&mut self) -> Result<Arc<Catalog>, CatalogError> {
        let result = self.load_inner().await;
        if result.is_err() {
            self.conn = None;
        }
        result.map(Arc::new)
    }

    async fn load_inner(&mut self) -> Result<Catalog, CatalogError> {
        let conn = match &mut self.conn {
            Some(c) => c,
            None => {
                let up = backend::connect(&self.target, &self.params).await?;
                self.conn.insert(up.stream)
            }
        };
        let mut out = Vec::new();
        write_frame(&mut out, f::QUERY, |b| put_cstr(b, CATALOG_SQL.as_bytes()));
        conn.write_all(&out).await?;
        conn.flush().await?;
        let timeout = self
            .target
            .connect_timeout
            .max(std::time::Duration::from_secs(5))
            * 2;
        tokio::time::timeout(timeout, read_reply(conn))
            .await
            .map_err(|_| CatalogError::Query("timed out".into()))?
    }
}

async fn read_reply(conn: &mut Stream) -> Result<Catalog, CatalogError> {
    let mut cat = Catalog::default();
    let mut buf: Vec<u8> = Vec::with_capacity(64 * 1024);
    let mut result = 0usize;
    let mut rows = 0usize;
    let mut error = None;
    loop {
        let Some(h) = frame::header(&buf, MAX_FRAME)
            .map_err(|e| CatalogError::Malformed(e.to_string()))?
            .filter(|h| buf.len() >= h.frame_len)
        else {
            let mut chunk = [0u8; 16 * 1024];
            let n = conn.read(&mut chunk).await?;
            if n == 0 {
                return Err(CatalogError::Query("connection closed".into()));
            }
            buf.extend_from_slice(&chunk[..n]);
            continue;
        };
        let body = buf[HEADER_LEN..h.frame_len].to_vec();
        buf.drain(..h.frame_len);
        match h.tag {
            b::DATA_ROW => {
                rows += 1;
                if rows > MAX_ROWS {
                    cat.truncated = true;
                    continue;
                }
                let fields = data_row_text(&body)?;
                add_row(&mut cat, result, &fields)?;
            }
            b::COMMAND_COMPLETE => result += 1,
            b::ERROR_RESPONSE => {
                error = Some(
                    b::error_fields(&body)
                        .map(|e| format!("{}: {}", e.code, e.message))
                        .unwrap_or_else(|_| "malformed error".into()),
                )
            }
            b::READY_FOR_QUERY => break,
            _ => {}
        }
    }
    match error {
        Some(e) => Err(CatalogError::Query(e)),
        None => Ok(cat),
    }
}

fn data_row_text(body: &[u8]) -> Result<Vec<String>, CatalogError> {
    let mut r = Reader::new(body, "DataRow");
    let bad = |e: crate::protocol::frame::FrameError| CatalogError::Malformed(e.to_string());
    let n = r.i16().map_err(bad)?;
    let mut out = Vec::with_capacity(n.max(0) as usize);
    for _ in 0..n {
        let len = r.i32().map_err(bad)?;
        if len < 0 {
            out.push(String::new());
        } else {
            let bytes = r.bytes(len as usize).map_err(bad)?;
            out.push(String::from_utf8_lossy(bytes).into_owned());
        }
    }
    Ok(out)
}

fn add_row(cat: &mut Catalog, result: usize, f: &[String]) -> Result<(), CatalogError> {
    let num = |s: &str| -> Result<i64, CatalogError> {
        s.parse()
            .map_err(|_| CatalogError::Malformed(format!("not a number: {s:?}")))
    };
    match (result, f) {
        (0, [oid, schema, name, kind, attnum, attname]) => {
            let oid = num(oid)? as u32;
            let rel = cat.relations.entry(oid).or_insert_with(|| Relation {
                schema: schema.clone(),
                name: name.clone(),
                kind: kind.chars().next().unwrap_or('r'),
                columns: Vec::new(),
            });
            rel.columns.push((num(attnum)? as i16, attname.clone()));
            let names = cat.by_name.entry(name.to_lowercase()).or_default();
            if !names.contains(&oid) {
                names.push(oid);
            }
        }
        (1, [view, reads]) => cat
            .view_reads
            .entry(num(view)? as u32)
            .or_default()
            .push(num(reads)? as u32),
        (2, [name]) => {
            cat.user_functions.insert(name.clone());
        }
        _ => return Err(CatalogError::Malformed("unexpected catalog row".into())),
    }
    Ok(())
}
