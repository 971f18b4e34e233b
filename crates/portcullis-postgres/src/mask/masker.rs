//! The per-session masking state: which result is streaming and how its
//! rows are masked.
//!
//! It follows requests and replies closely enough to know, for each
//! RowDescription, DataRow or CopyOutResponse, which statement text and
//! which column descriptions it belongs to (simple Query; Parse/Bind/
//! Describe/Execute with named statements and portals; errors skipping to
//! Sync). A plan is made once per result; a result whose plan masks nothing
//! costs nothing per row.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use portcullis_core::policy::UnknownLineage;
use portcullis_mask::{ColumnAction, ColumnInfo, MaskPolicy, RowPlan};
use portcullis_sql::StatementLineage;

use super::catalog::{Catalog, CatalogError};
use super::rows::{self, Column, CopySyntax};
use super::taint::{FIRST_NORMAL_OID, Taint};
use super::text::{self, QuotedValues};
use crate::protocol::backend as b;
use crate::protocol::frame::FrameError;
use crate::protocol::frontend as f;
use crate::protocol::sqlstate;

/// Statement texts whose lineage is kept per session.
const LINEAGE_CACHE: usize = 256;
/// Result shapes whose plan is kept per session.
const PLAN_CACHE: usize = 256;

/// What the relay does with one backend frame.
#[derive(Debug, PartialEq, Eq)]
pub enum Decision {
    /// Forward it unchanged.
    Pass,
    /// Send these bytes (whole frames) instead.
    Replace(Vec<u8>),
    /// Send nothing (the result was refused; the rest of it is swallowed).
    Drop,
    /// The catalog must be (re)loaded before this frame can be judged.
    NeedCatalog,
}

/// How a DataRow or CopyData frame that has not fully arrived is handled.
#[derive(Debug, PartialEq, Eq)]
pub enum RowMode {
    /// Stream it through untouched.
    Stream,
    /// Buffer it whole (it will be masked).
    Whole,
    /// Swallow it.
    Drop,
    /// Load the catalog first.
    NeedCatalog,
}

#[derive(Debug)]
enum Expect {
    Query(Arc<str>),
    Parse,
    Bind,
    DescribeStatement(Vec<u8>),
    DescribePortal(Vec<u8>),
    Execute(Vec<u8>),
    Close,
    Sync,
}

#[derive(Debug, Clone)]
struct Prepared {
    sql: Arc<str>,
    columns: Option<Arc<Vec<Column>>>,
}

#[derive(Debug, Clone)]
struct Portal {
    sql: Arc<str>,
    /// The statement it was bound from and the result formats asked for.
    statement: Vec<u8>,
    formats: Vec<i16>,
    /// Columns from Describe (portal), formats included.
    columns: Option<Arc<Vec<Column>>>,
}

enum Current {
    None,
    Rows(RowPlan),
    Copy(RowPlan, CopySyntax),
}

/// Why a result is refused instead of masked.
enum Refuse {
    Unknown,
    Copy(&'static str),
}

pub struct Masker {
    policy: MaskPolicy,
    block_unknown: bool,
    taint: Option<Taint>,
    /// The last load failed: unresolvable columns are masked.
    catalog_failed: bool,
    /// DDL or an unknown OID was seen: reload before the next plan.
    stale: bool,
    /// Unknown OIDs a reload was already tried for.
    reloaded_for: Vec<u32>,
    pending: VecDeque<Expect>,
    statements: HashMap<Vec<u8>, Prepared>,
    portals: HashMap<Vec<u8>, Portal>,
    lineages: HashMap<Arc<str>, Arc<Vec<StatementLineage>>>,
    /// Plans by result columns, for results whose plan does not depend on
    /// the statement text (every column has a source table, or no column
    /// rules apply): an OLTP session repeats a handful of shapes. Cleared
    /// with every catalog load, since plans depend on the catalog.
    plans: HashMap<Vec<Column>, RowPlan>,
    current: Current,
    /// Planned the current Execute's rows already.
    execute_planned: bool,
    /// A result was refused: swallow everything until ReadyForQuery.
    poisoned: bool,
}

impl Masker {
    pub fn new(policy: MaskPolicy, unknown: UnknownLineage) -> Masker {
        Masker {
            policy,
            block_unknown: unknown == UnknownLineage::Block,
            taint: None,
            catalog_failed: false,
            stale: false,
            reloaded_for: Vec::new(),
            pending: VecDeque::new(),
            statements: HashMap::new(),
            portals: HashMap::new(),
            lineages: HashMap::new(),
            plans: HashMap::new(),
            current: Current::None,
            execute_planned: false,
            poisoned: false,
        }
    }

    fn needs_catalog(&self) -> bool {
        self.policy.has_column_rules()
            && (self.stale || (self.taint.is_none() && !self.catalog_failed))
    }

    /// Installs a freshly loaded catalog (or records that loading failed).
    pub fn set_catalog(&mut self, loaded: Result<Arc<Catalog>, CatalogError>) {
        self.stale = false;
        self.plans.clear();
        match loaded {
            Ok(c) => {
                self.taint = Some(Taint::new(c, &self.policy));
                self.catalog_failed = false;
            }
            Err(e) => {
                tracing::warn!(error = %e, "masking catalog unavailable; unresolved columns are masked");
                self.taint = None;
                self.catalog_failed = true;
            }
        }
    }

    /// Notes a complete client message.
    pub fn frontend(&mut self, tag: u8, body: &[u8]) {
        let parsed: Result<(), FrameError> = (|| {
            match tag {
                f::QUERY => {
                    let sql = f::query(body)?;
                    self.pending.push_back(Expect::Query(text(sql)));
                }
                f::FUNCTION_CALL => self.pending.push_back(Expect::Query(Arc::from(""))),
                f::PARSE => {
                    let (name, sql) = f::parse(body)?;
                    self.statements.insert(
                        name.to_vec(),
                        Prepared {
                            sql: text(sql),
                            columns: None,
                        },
                    );
                    self.pending.push_back(Expect::Parse);
                }
                f::BIND => {
                    let (portal, statement) = f::bind(body)?;
                    let formats = rows::bind_result_formats(body)?;
                    let sql = self
                        .statements
                        .get(statement)
                        .map_or_else(|| Arc::from(""), |p| p.sql.clone());
                    let portal_info = Portal {
                        sql,
                        statement: statement.to_vec(),
                        formats,
                        columns: None,
                    };
                    self.portals.insert(portal.to_vec(), portal_info);
                    self.pending.push_back(Expect::Bind);
                }
                f::DESCRIBE => {
                    let (kind, name) = f::target(body, "Describe")?;
                    self.pending.push_back(if kind == b'S' {
                        Expect::DescribeStatement(name.to_vec())
                    } else {
                        Expect::DescribePortal(name.to_vec())
                    });
                }
                f::EXECUTE => {
                    let portal = f::execute(body)?;
                    self.pending.push_back(Expect::Execute(portal.to_vec()));
                }
                f::CLOSE => {
                    let (kind, name) = f::target(body, "Close")?;
                    if kind == b'S' {
                        self.statements.remove(name);
                    } else {
                        self.portals.remove(name);
                    }
                    self.pending.push_back(Expect::Close);
                }
                f::SYNC => self.pending.push_back(Expect::Sync),
                _ => {}
            }
            Ok(())
        })();
        // The guard and tracker reject malformed frames; nothing to add here.
        let _ = parsed;
    }

    /// How a DataRow or CopyData that has not fully arrived is handled.
    pub fn row_mode(&mut self, tag: u8) -> RowMode {
        if self.poisoned {
            return RowMode::Drop;
        }
        if tag == b::DATA_ROW
            && let Err(d) = self.plan_execute()
        {
            return match d {
                Decision::NeedCatalog => RowMode::NeedCatalog,
                _ => RowMode::Whole, // the refusal is sent when the frame is complete
            };
        }
        match (&self.current, tag) {
            (Current::Rows(_), b::DATA_ROW) | (Current::Copy(..), b::COPY_DATA) => RowMode::Whole,
            _ => RowMode::Stream,
        }
    }

    /// A masked result's row was larger than the inspection bound: the
    /// statement ends with an error instead of passing it unmasked.
    pub fn oversize(&mut self, len: usize) -> Vec<u8> {
        self.poison(
            sqlstate::PROGRAM_LIMIT_EXCEEDED,
            &format!(
                "a row of {len} bytes in a masked result is larger than the gateway inspects; the result was stopped"
            ),
        )
    }

    /// Judges one complete backend frame.
    pub fn backend(&mut self, tag: u8, body: &[u8]) -> Decision {
        if self.poisoned {
            return match tag {
                b::READY_FOR_QUERY => {
                    self.poisoned = false;
                    self.ready();
                    Decision::Pass
                }
                b::NOTIFICATION_RESPONSE => self.notification(body),
                b::PARAMETER_STATUS => Decision::Pass,
                _ => Decision::Drop,
            };
        }
        match tag {
            b::DATA_ROW => {
                if let Err(d) = self.plan_execute() {
                    return d;
                }
                match &self.current {
                    Current::Rows(plan) => match rows::data_row(plan, body) {
                        Ok(Some(frame)) => Decision::Replace(frame),
                        Ok(None) => Decision::Pass,
                        Err(_) => self.refuse_malformed(),
                    },
                    _ => Decision::Pass,
                }
            }
            b::COPY_DATA => match &self.current {
                Current::Copy(plan, syntax) => match rows::copy_line(plan, *syntax, body) {
                    Some(frame) => Decision::Replace(frame),
                    None => Decision::Pass,
                },
                _ => Decision::Pass,
            },
            b::ROW_DESCRIPTION => self.row_description(body),
            b::COPY_OUT_RESPONSE => self.copy_out(body),
            b::NO_DATA => {
                if matches!(
                    self.pending.front(),
                    Some(Expect::DescribeStatement(_) | Expect::DescribePortal(_))
                ) {
                    self.pending.pop_front();
                }
                Decision::Pass
            }
            b::PARSE_COMPLETE | b::BIND_COMPLETE | b::CLOSE_COMPLETE => {
                if matches!(
                    self.pending.front(),
                    Some(Expect::Parse | Expect::Bind | Expect::Close)
                ) {
                    self.pending.pop_front();
                }
                Decision::Pass
            }
            b::COMMAND_COMPLETE => {
                if is_ddl(body) {
                    self.stale = true;
                }
                self.end_result();
                Decision::Pass
            }
            b::EMPTY_QUERY_RESPONSE | b::PORTAL_SUSPENDED => {
                self.end_result();
                Decision::Pass
            }
            b::ERROR_RESPONSE | b::NOTICE_RESPONSE => {
                let d = self.error_or_notice(tag, body);
                if tag == b::ERROR_RESPONSE {
                    self.current = Current::None;
                    self.execute_planned = false;
                    if !matches!(self.pending.front(), Some(Expect::Query(_))) {
                        while let Some(e) = self.pending.front() {
                            if matches!(e, Expect::Sync | Expect::Query(_)) {
                                break;
                            }
                            self.pending.pop_front();
                        }
                    }
                }
                d
            }
            b::NOTIFICATION_RESPONSE => self.notification(body),
            b::READY_FOR_QUERY => {
                self.ready();
                Decision::Pass
            }
            _ => Decision::Pass,
        }
    }

    fn ready(&mut self) {
        self.current = Current::None;
        self.execute_planned = false;
        while let Some(e) = self.pending.pop_front() {
            if matches!(e, Expect::Sync | Expect::Query(_)) {
                break;
            }
        }
    }

    fn end_result(&mut self) {
        self.current = Current::None;
        if matches!(self.pending.front(), Some(Expect::Execute(_))) {
            self.pending.pop_front();
        }
        self.execute_planned = false;
    }

    fn row_description(&mut self, body: &[u8]) -> Decision {
        let Ok(columns) = rows::row_description(body) else {
            return self.refuse_malformed();
        };
        match self.pending.front() {
            Some(Expect::DescribeStatement(name)) => {
                let name = name.clone();
                if let Some(p) = self.statements.get_mut(&name) {
                    p.columns = Some(Arc::new(columns));
                }
                self.pending.pop_front();
                Decision::Pass
            }
            Some(Expect::DescribePortal(name)) => {
                let name = name.clone();
                if let Some(p) = self.portals.get_mut(&name) {
                    p.columns = Some(Arc::new(columns));
                }
                self.pending.pop_front();
                Decision::Pass
            }
            Some(Expect::Query(sql)) => {
                let sql = sql.clone();
                self.start_rows(&sql, &columns)
            }
            // A RowDescription nobody asked for: plan it with no text (fail closed).
            _ => self.start_rows("", &columns),
        }
    }

    /// Plans the rows of the Execute at the front, once.
    fn plan_execute(&mut self) -> Result<(), Decision> {
        if self.execute_planned || !matches!(self.current, Current::None) {
            return Ok(());
        }
        let Some(Expect::Execute(portal)) = self.pending.front() else {
            return Ok(());
        };
        let portal = self.portals.get(portal).cloned();
        let described = portal.as_ref().and_then(|p| {
            p.columns.clone().or_else(|| {
                let cols = self.statements.get(&p.statement)?.columns.clone()?;
                Some(Arc::new(
                    cols.iter()
                        .enumerate()
                        .map(|(i, c)| Column {
                            format: rows::format_of(&p.formats, i),
                            ..c.clone()
                        })
                        .collect(),
                ))
            })
        });
        let (sql, columns) = match (portal, described) {
            (Some(p), Some(c)) => (p.sql, c),
            // Rows whose columns were never described: nothing to plan
            // with, so every field is masked (an empty plan nulls them).
            _ => {
                self.current = Current::Rows(self.policy.plan_with(&[], &[]));
                self.execute_planned = true;
                return Ok(());
            }
        };
        match self.start_rows(&sql, &columns) {
            Decision::Pass => {
                self.execute_planned = true;
                Ok(())
            }
            Decision::NeedCatalog => Err(Decision::NeedCatalog),
            other => {
                self.execute_planned = true;
                Err(other)
            }
        }
    }

    /// Decides the plan of a result; `Pass` when planned (or nothing to do).
    fn start_rows(&mut self, sql: &str, columns: &[Column]) -> Decision {
        if self.needs_catalog() {
            return Decision::NeedCatalog;
        }
        if let Some(d) = self.reload_for_unknown(columns) {
            return d;
        }
        if let Some(plan) = self.plans.get(columns) {
            self.current = if plan.is_passthrough() {
                Current::None
            } else {
                Current::Rows(plan.clone())
            };
            return Decision::Pass;
        }
        match self.plan(sql, columns) {
            Ok((plan, by_text)) => {
                if !by_text {
                    if self.plans.len() >= PLAN_CACHE {
                        self.plans.clear();
                    }
                    self.plans.insert(columns.to_vec(), plan.clone());
                }
                self.current = if plan.is_passthrough() {
                    Current::None
                } else {
                    Current::Rows(plan)
                };
                Decision::Pass
            }
            Err(Refuse::Unknown) => Decision::Replace(self.poison(
                sqlstate::INSUFFICIENT_PRIVILEGE,
                "result refused by masking: a result column's origin cannot be determined and the statement reads masked data",
            )),
            Err(Refuse::Copy(why)) => Decision::Replace(self.poison(sqlstate::INSUFFICIENT_PRIVILEGE, why)),
        }
    }

    /// An OID the catalog does not know: reload once for it.
    fn reload_for_unknown(&mut self, columns: &[Column]) -> Option<Decision> {
        if !self.policy.has_column_rules() {
            return None;
        }
        let taint = self.taint.as_ref()?;
        let unknown = columns.iter().find(|c| {
            c.table_oid >= FIRST_NORMAL_OID
                && !taint.catalog.relations.contains_key(&c.table_oid)
                && !self.reloaded_for.contains(&c.table_oid)
        })?;
        self.reloaded_for.push(unknown.table_oid);
        self.stale = true;
        Some(Decision::NeedCatalog)
    }

    fn lineage(&mut self, sql: &str) -> Option<Arc<Vec<StatementLineage>>> {
        if let Some(l) = self.lineages.get(sql) {
            return Some(l.clone());
        }
        let l = Arc::new(portcullis_sql::lineage(sql).ok()?);
        if self.lineages.len() >= LINEAGE_CACHE {
            self.lineages.clear();
        }
        self.lineages.insert(Arc::from(sql), l.clone());
        Some(l)
    }

    /// The plan of a result, and whether it depends on the statement text
    /// (lineage of computed columns) rather than on the columns alone.
    fn plan(&mut self, sql: &str, columns: &[Column]) -> Result<(RowPlan, bool), Refuse> {
        let has_columns = self.policy.has_column_rules();
        let mut infos = Vec::with_capacity(columns.len());
        let mut forced: Vec<Option<ColumnAction>> = vec![None; columns.len()];
        let mut computed = Vec::new();
        for (i, c) in columns.iter().enumerate() {
            let mut source = None;
            if has_columns && c.table_oid != 0 {
                match &self.taint {
                    _ if c.table_oid < FIRST_NORMAL_OID => {}
                    Some(t) => match t.catalog.relations.get(&c.table_oid) {
                        Some(rel) => {
                            if rel.is_view()
                                && let Some(rule) = t.views.get(&c.table_oid)
                            {
                                forced[i] = Some(self.unknown_action(Some(*rule))?);
                            }
                            source = rel.column(c.attnum).map(|col| {
                                (format!("{}.{}", rel.schema, rel.name), col.to_string())
                            });
                            if source.is_none() {
                                forced[i] = Some(self.unknown_action(t.any_rule)?);
                            }
                        }
                        None => forced[i] = Some(self.unknown_action(t.any_rule)?),
                    },
                    None => forced[i] = Some(self.unknown_action(None)?),
                }
            } else if has_columns {
                computed.push(i);
            }
            infos.push(ColumnInfo {
                source,
                name: c.name.clone(),
                type_oid: c.type_oid,
                format: c.format,
            });
        }
        if !computed.is_empty() {
            self.plan_computed(sql, columns.len(), &computed, &mut forced)?;
        }
        Ok((self.policy.plan_with(&infos, &forced), !computed.is_empty()))
    }

    /// Lineage of computed columns (no source table on the wire).
    fn plan_computed(
        &mut self,
        sql: &str,
        width: usize,
        computed: &[usize],
        forced: &mut [Option<ColumnAction>],
    ) -> Result<(), Refuse> {
        if self.taint.is_none() {
            for &i in computed {
                forced[i] = Some(self.unknown_action(None)?);
            }
            return Ok(());
        }
        let lineage = self.lineage(sql);
        let block_unknown = self.block_unknown;
        let Some(taint) = self.taint.as_ref() else {
            return Err(Refuse::Unknown);
        };
        let Some(lineage) = lineage else {
            // Unparseable here (a guarded connection already refused it if it
            // were): fail closed if anything is masked at all.
            if let Some(rule) = taint.any_rule {
                if block_unknown {
                    return Err(Refuse::Unknown);
                }
                for &i in computed {
                    forced[i] = Some(ColumnAction::Derived(rule));
                }
            }
            return Ok(());
        };
        let mut reads: Option<usize> = None;
        let mut scopes = Vec::with_capacity(lineage.len());
        for l in lineage.iter() {
            let scope = taint.scope(l);
            if reads.is_none() {
                reads = taint.statement_rule(l, &scope);
            }
            scopes.push(scope);
        }
        let Some(read_rule) = reads else {
            return Ok(());
        };
        // Line the output columns up with the statement's select list.
        let targets = match lineage.as_slice() {
            [l] if !l.nested && !l.opaque => l
                .targets
                .as_ref()
                .and_then(|t| expand_stars(t, l, taint).filter(|t: &Vec<_>| t.len() == width)),
            _ => None,
        };
        match &targets {
            Some(targets) => {
                for &i in computed {
                    let t = &targets[i];
                    // A bare masked column (RETURNING email) keeps its rule's style.
                    let direct = t.direct.as_ref().and_then(|d| scopes[0].names.get(d));
                    forced[i] = match direct {
                        Some(rule) => Some(ColumnAction::ColumnRule(*rule)),
                        None => taint.target_rule(t, &scopes[0]).map(ColumnAction::Derived),
                    };
                }
            }
            None => {
                if block_unknown {
                    return Err(Refuse::Unknown);
                }
                for &i in computed {
                    forced[i] = Some(ColumnAction::Derived(read_rule));
                }
            }
        }
        Ok(())
    }

    fn unknown_action(&self, rule: Option<usize>) -> Result<ColumnAction, Refuse> {
        if self.block_unknown {
            return Err(Refuse::Unknown);
        }
        Ok(rule.map_or(ColumnAction::Unknown, ColumnAction::Derived))
    }

    fn copy_out(&mut self, body: &[u8]) -> Decision {
        if self.needs_catalog() {
            return Decision::NeedCatalog;
        }
        let sql = match self.pending.front() {
            Some(Expect::Query(sql)) => sql.clone(),
            Some(Expect::Execute(p)) => self
                .portals
                .get(p)
                .map_or_else(|| Arc::from(""), |p| p.sql.clone()),
            _ => Arc::from(""),
        };
        let binary = body.first() == Some(&1);
        let width = body
            .get(1..3)
            .map_or(0, |w| i16::from_be_bytes([w[0], w[1]]).max(0) as usize);
        match self.copy_plan(&sql, width, binary) {
            Ok(Some((plan, syntax))) => {
                self.current = Current::Copy(plan, syntax);
                Decision::Pass
            }
            Ok(None) => Decision::Pass,
            Err(Refuse::Unknown) => Decision::Replace(self.poison(
                sqlstate::INSUFFICIENT_PRIVILEGE,
                "COPY refused by masking: it reads masked data whose columns cannot be determined",
            )),
            Err(Refuse::Copy(why)) => {
                Decision::Replace(self.poison(sqlstate::INSUFFICIENT_PRIVILEGE, why))
            }
        }
    }

    fn copy_plan(
        &mut self,
        sql: &str,
        width: usize,
        binary: bool,
    ) -> Result<Option<(RowPlan, CopySyntax)>, Refuse> {
        let lineage = self.lineage(sql);
        let copy = lineage.as_ref().and_then(|l| {
            l.iter()
                .find(|s| s.copy.as_ref().is_some_and(|c| !c.from))
                .cloned()
        });
        let syntax = match copy.as_ref().and_then(|c| c.copy.as_ref()) {
            Some(c) if c.csv => CopySyntax::Csv,
            _ => CopySyntax::Text,
        };
        let custom = copy
            .as_ref()
            .and_then(|c| c.copy.as_ref())
            .is_some_and(|c| c.custom_syntax);
        let text_col = |name: String, source: Option<(String, String)>| ColumnInfo {
            source,
            name,
            type_oid: 25,
            format: 0,
        };
        let mut infos: Vec<ColumnInfo> = (0..width)
            .map(|i| text_col(format!("?column{i}?"), None))
            .collect();
        let mut forced: Vec<Option<ColumnAction>> = vec![None; width];
        let rel = copy
            .as_ref()
            .and_then(|s| s.copy.as_ref())
            .and_then(|c| c.relation.clone());
        match (&copy, rel) {
            (Some(stmt), Some(r)) => {
                let cols = stmt
                    .copy
                    .as_ref()
                    .map(|c| c.columns.clone())
                    .unwrap_or_default();
                let resolved = self.taint.as_ref().and_then(|t| {
                    let oids = t.catalog.lookup(r.schema.as_deref(), &r.name);
                    oids.first()
                        .and_then(|o| t.catalog.relations.get(o))
                        .cloned()
                });
                match resolved {
                    Some(rel) => {
                        let names: Vec<String> = if cols.is_empty() {
                            rel.columns.iter().map(|(_, n)| n.clone()).collect()
                        } else {
                            cols
                        };
                        for (i, n) in names.into_iter().enumerate().take(width) {
                            infos[i] = text_col(
                                n.clone(),
                                Some((format!("{}.{}", rel.schema, rel.name), n)),
                            );
                        }
                    }
                    None if self.policy.has_column_rules() => {
                        let rule = self.taint.as_ref().and_then(|t| t.any_rule);
                        for f in forced.iter_mut() {
                            *f = Some(self.unknown_action(rule)?);
                        }
                    }
                    None => {}
                }
            }
            _ if self.policy.has_column_rules() => {
                // COPY (query): every column the query may read masked data into.
                let rule = match (&self.taint, &lineage) {
                    (Some(t), Some(l)) => l.iter().find_map(|s| {
                        let scope = t.scope(s);
                        t.statement_rule(s, &scope)
                    }),
                    (Some(t), None) => t.any_rule,
                    (None, _) => Some(usize::MAX),
                };
                if let Some(rule) = rule {
                    let rule = (rule != usize::MAX).then_some(rule);
                    for f in forced.iter_mut() {
                        *f = Some(self.unknown_action(rule)?);
                    }
                }
            }
            _ => {}
        }
        let plan = self.policy.plan_with(&infos, &forced);
        if plan.is_passthrough() {
            return Ok(None);
        }
        if binary {
            return Err(Refuse::Copy(
                "binary COPY of masked data is refused; use text or csv format",
            ));
        }
        if custom {
            return Err(Refuse::Copy(
                "COPY of masked data with a custom DELIMITER, QUOTE, ESCAPE or NULL is refused",
            ));
        }
        Ok(Some((plan, syntax)))
    }

    fn error_or_notice(&mut self, tag: u8, body: &[u8]) -> Decision {
        let quoted = Quoted {
            taint: self.taint.as_ref(),
            column_rules: self.policy.has_column_rules(),
        };
        match text::error_or_notice(tag, body, &self.policy, &quoted) {
            Ok(Some(frame)) => Decision::Replace(frame),
            Ok(None) => Decision::Pass,
            Err(_) => self.refuse_malformed(),
        }
    }

    fn notification(&self, body: &[u8]) -> Decision {
        match text::notification(body, &self.policy) {
            Ok(Some(frame)) => Decision::Replace(frame),
            Ok(None) => Decision::Pass,
            // Cannot be scrubbed: not sent.
            Err(_) => Decision::Drop,
        }
    }

    fn refuse_malformed(&mut self) -> Decision {
        Decision::Replace(self.poison(
            sqlstate::PROTOCOL_VIOLATION,
            "the target sent a frame masking could not read; the result was stopped",
        ))
    }

    /// An ErrorResponse in the result's place; the rest of it is swallowed.
    fn poison(&mut self, code: &str, message: &str) -> Vec<u8> {
        tracing::info!(message, "result refused by masking");
        self.poisoned = true;
        self.current = Current::None;
        let mut out = Vec::new();
        b::error_response(&mut out, b::Severity::Error, code, message, None);
        out
    }
}

struct Quoted<'a> {
    taint: Option<&'a Taint>,
    column_rules: bool,
}

impl QuotedValues for Quoted<'_> {
    fn hide(&self, schema: Option<&str>, table: Option<&str>, columns: &[&str]) -> bool {
        if !self.column_rules {
            return false;
        }
        let (Some(t), Some(table)) = (self.taint, table) else {
            return true;
        };
        let oids = t.catalog.lookup(schema, &table.to_lowercase());
        if oids.is_empty() {
            return true;
        }
        oids.iter().any(|oid| match t.masked.get(oid) {
            None => false,
            Some(masked) if columns.is_empty() => !masked.is_empty(),
            Some(masked) => columns.iter().any(|c| {
                let c = c.trim_matches('"').to_lowercase();
                // An expression index key: cannot tell, hide.
                c.contains('(') || masked.iter().any(|(m, _)| *m == c)
            }),
        })
    }
}

/// `RETURNING *` of a DML statement expanded to the written table's columns.
fn expand_stars(
    targets: &[portcullis_sql::TargetLineage],
    l: &StatementLineage,
    taint: &Taint,
) -> Option<Vec<portcullis_sql::TargetLineage>> {
    if !targets.iter().any(|t| t.star) {
        return Some(targets.to_vec());
    }
    let r = l.dml_relation.as_ref()?;
    let oids = taint.catalog.lookup(r.schema.as_deref(), &r.name);
    let [oid] = oids.as_slice() else {
        return None;
    };
    let rel = taint.catalog.relations.get(oid)?;
    let mut out = Vec::new();
    for t in targets {
        if t.star {
            for (_, c) in &rel.columns {
                let name = c.to_lowercase();
                out.push(portcullis_sql::TargetLineage {
                    direct: Some(name.clone()),
                    columns: [name].into_iter().collect(),
                    ..Default::default()
                });
            }
        } else {
            out.push(t.clone());
        }
    }
    Some(out)
}

fn is_ddl(body: &[u8]) -> bool {
    body.starts_with(b"CREATE")
        || body.starts_with(b"ALTER")
        || body.starts_with(b"DROP")
        || body.starts_with(b"SELECT INTO")
        || body.starts_with(b"IMPORT")
}

fn text(sql: &[u8]) -> Arc<str> {
    String::from_utf8_lossy(sql).into()
}
