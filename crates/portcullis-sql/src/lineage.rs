//! Where the values of a statement's result columns may come from.
//!
//! Masking needs to know, for a result column the wire reports as computed
//! (no source table in RowDescription), which columns its value was derived
//! from. PostgreSQL's parse tree answers that without the catalog: every
//! column reference, whole-row reference, star and function call is
//! collected, per output column where the output columns can be lined up
//! with the select list, and for the statement as a whole otherwise.
//!
//! The analysis is deliberately an over-approximation: a name that *could*
//! be a masked column counts as one. Anything that hides where values come
//! from (EXECUTE, FETCH, CALL, DO, functions that run SQL text, subqueries in
//! FROM, CTEs, set operations) is reported so the caller can fail closed.

use std::collections::BTreeSet;

use crate::error::ClassifyError;
use crate::tree::Tree;

/// A table or view named in a statement (CTE names are left out).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct RelationRef {
    /// The schema, when the statement qualifies the name.
    pub schema: Option<String>,
    /// The relation's name.
    pub name: String,
}

/// What one output column of a statement is computed from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TargetLineage {
    /// The column alias (`AS name`), if any.
    pub alias: Option<String>,
    /// `Some(column)` when the value is a bare column reference.
    pub direct: Option<String>,
    /// A `*` or `t.*` at the top of the select list (expands to several columns).
    pub star: bool,
    /// Every column name referenced in the expression (last name part, lower case).
    pub columns: BTreeSet<String>,
    /// Names referenced as whole rows (`row_to_json(u)`, `u.*` inside an expression).
    pub whole_rows: BTreeSet<String>,
    /// Functions called in the expression (lower case, `pg_catalog.` dropped).
    pub functions: BTreeSet<String>,
}

/// The COPY part of a `COPY ... TO STDOUT`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyLineage {
    /// `COPY table` (None for `COPY (query)`).
    pub relation: Option<RelationRef>,
    /// The column list, if given.
    pub columns: Vec<String>,
    /// `COPY ... FROM` (values flow to the target, nothing to mask).
    pub from: bool,
    /// `csv` format (else text, or binary when `binary` is set).
    pub csv: bool,
    /// `binary` format.
    pub binary: bool,
    /// Options that change the line syntax (delimiter, quote, escape, null).
    pub custom_syntax: bool,
}

/// What one statement reads, for masking.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatementLineage {
    /// Every table or view referenced.
    pub relations: Vec<RelationRef>,
    /// `(alias or name, relation)` for every relation reference.
    pub aliases: Vec<(String, RelationRef)>,
    /// Every column name referenced anywhere (lower case).
    pub columns: BTreeSet<String>,
    /// Every name referenced as a whole row anywhere.
    pub whole_rows: BTreeSet<String>,
    /// Every function called anywhere.
    pub functions: BTreeSet<String>,
    /// A `*` somewhere other than the outermost select list.
    pub inner_star: bool,
    /// Subqueries in FROM, CTEs, set operations or LATERAL: names can be
    /// renamed on the way, so per-column lineage is not trusted.
    pub nested: bool,
    /// Where the values cannot be known from the text (EXECUTE, FETCH, CALL, DO,
    /// functions that run SQL given as text).
    pub opaque: bool,
    /// One entry per output column when they can be lined up with the text:
    /// a plain SELECT's list or a DML statement's RETURNING list.
    pub targets: Option<Vec<TargetLineage>>,
    /// The relation an INSERT, UPDATE or DELETE writes (for `RETURNING *`).
    pub dml_relation: Option<RelationRef>,
    /// Set for COPY statements.
    pub copy: Option<CopyLineage>,
}

/// Functions that run SQL given as text: what they read is unknowable here.
const RUNS_SQL: &[&str] = &[
    "query_to_xml",
    "query_to_xml_and_xmlschema",
    "query_to_xmlschema",
    "cursor_to_xml",
    "table_to_xml",
    "table_to_xml_and_xmlschema",
    "dblink",
    "dblink_exec",
];

/// Lineage of every statement of `sql`, in order.
pub fn lineage(sql: &str) -> Result<Vec<StatementLineage>, ClassifyError> {
    let parsed = pg_query::parse(sql, 0).map_err(|e| ClassifyError::Parse(e.to_string()))?;
    let mut out = Vec::with_capacity(parsed.protobuf.stmts.len());
    for raw in &parsed.protobuf.stmts {
        let node = raw
            .stmt
            .as_ref()
            .and_then(|n| n.node.as_ref())
            .ok_or_else(|| ClassifyError::Incomplete("empty statement node".into()))?;
        let tree = Tree::of(node).map_err(|e| ClassifyError::Incomplete(e.to_string()))?;
        out.push(statement(&tree));
    }
    Ok(out)
}

fn statement(tree: &Tree) -> StatementLineage {
    let mut l = StatementLineage::default();
    let mut ctes = BTreeSet::new();
    collect_ctes(tree, &mut ctes);
    if !ctes.is_empty() {
        l.nested = true;
    }
    match tree.name() {
        Some("SelectStmt") => {
            if tree.field("larg").is_some() || !tree.list("values_lists").is_empty() {
                l.nested = true;
            } else {
                l.targets = Some(tree.list("target_list").iter().map(target).collect());
            }
        }
        Some("InsertStmt" | "UpdateStmt" | "DeleteStmt" | "MergeStmt") => {
            l.dml_relation = tree.field("relation").and_then(relation_ref);
            // PostgreSQL 18 wraps the list in a ReturningClause.
            let returning = match tree.field("returning_clause") {
                Some(clause) => clause.list("exprs"),
                None => tree.list("returning_list"),
            };
            if !returning.is_empty() {
                l.targets = Some(returning.iter().map(target).collect());
            }
        }
        Some("CopyStmt") => l.copy = Some(copy(tree)),
        Some("ExecuteStmt" | "FetchStmt" | "CallStmt" | "DoStmt") => l.opaque = true,
        _ => {}
    }
    let mut w = Collect {
        l: &mut l,
        ctes: &ctes,
    };
    w.walk(tree, true);
    l
}

fn collect_ctes(tree: &Tree, out: &mut BTreeSet<String>) {
    match tree {
        Tree::Struct(name, fields) => {
            if *name == "CommonTableExpr" {
                out.insert(tree.str_field("ctename").to_lowercase());
            }
            for (_, v) in fields {
                collect_ctes(v, out);
            }
        }
        Tree::Seq(items) => items.iter().for_each(|t| collect_ctes(t, out)),
        _ => {}
    }
}

fn relation_ref(tree: &Tree) -> Option<RelationRef> {
    let name = tree.str_field("relname");
    if name.is_empty() {
        return None;
    }
    let schema = tree.str_field("schemaname");
    Some(RelationRef {
        schema: (!schema.is_empty()).then(|| schema.to_lowercase()),
        name: name.to_lowercase(),
    })
}

fn copy(tree: &Tree) -> CopyLineage {
    let mut c = CopyLineage {
        relation: tree.field("relation").and_then(relation_ref),
        columns: tree
            .names("attlist")
            .iter()
            .map(|s| s.to_lowercase())
            .collect(),
        from: tree.bool_field("is_from"),
        csv: false,
        binary: false,
        custom_syntax: false,
    };
    for opt in tree.list("options") {
        let value = opt
            .field("arg")
            .map(|a| a.str_field("sval").to_lowercase())
            .unwrap_or_default();
        match opt.str_field("defname") {
            "format" => {
                c.csv = value == "csv";
                c.binary = value == "binary";
            }
            "delimiter" | "quote" | "escape" | "null" | "encoding" | "force_quote" => {
                c.custom_syntax = true
            }
            _ => {}
        }
    }
    c
}

/// One select-list or RETURNING entry.
fn target(rt: &Tree) -> TargetLineage {
    let mut t = TargetLineage::default();
    let alias = rt.str_field("name");
    if !alias.is_empty() {
        t.alias = Some(alias.to_lowercase());
    }
    let Some(val) = rt.field("val") else {
        return t;
    };
    if val.name() == Some("ColumnRef") {
        let fields = val.list("fields");
        match fields.last() {
            Some(last) if last.name() == Some("AStar") => t.star = true,
            Some(last) if last.name() == Some("String") => {
                t.direct = Some(last.str_field("sval").to_lowercase())
            }
            _ => {}
        }
    }
    let mut scratch = StatementLineage::default();
    let none = BTreeSet::new();
    let mut w = Collect {
        l: &mut scratch,
        ctes: &none,
    };
    w.walk(val, false);
    t.columns = scratch.columns;
    t.whole_rows = scratch.whole_rows;
    t.functions = scratch.functions;
    // A star inside the expression (`count(*)` is not one: that is agg_star).
    // A star, a subquery in FROM or anything opaque inside the expression:
    // the names in it no longer say where values come from.
    if scratch.inner_star || scratch.nested || scratch.opaque {
        t.whole_rows.insert("*".into());
    }
    t
}

struct Collect<'a> {
    l: &'a mut StatementLineage,
    ctes: &'a BTreeSet<String>,
}

impl Collect<'_> {
    /// `top` is true only for the outermost statement's own select list.
    fn walk(&mut self, tree: &Tree, top: bool) {
        match tree {
            Tree::Seq(items) => items.iter().for_each(|t| self.walk(t, top)),
            Tree::Struct(name, fields) => {
                match *name {
                    "ColumnRef" => self.column_ref(tree, top),
                    "RangeVar" => self.range_var(tree),
                    "RangeSubselect" | "RangeFunction" | "RangeTableFunc" => self.l.nested = true,
                    "FuncCall" => {
                        let parts: Vec<String> = tree
                            .names("funcname")
                            .iter()
                            .map(|p| p.to_lowercase())
                            .collect();
                        let name = match parts.split_first() {
                            Some((first, rest)) if first == "pg_catalog" && !rest.is_empty() => {
                                rest.join(".")
                            }
                            _ => parts.join("."),
                        };
                        let bare = name.rsplit('.').next().unwrap_or("");
                        if RUNS_SQL.contains(&bare) {
                            self.l.opaque = true;
                        }
                        self.l.functions.insert(name);
                    }
                    _ => {}
                }
                for (key, value) in fields {
                    // Only the outermost SELECT's own target list is "top".
                    let child_top = top && *key == "target_list";
                    if *name == "ColumnRef" {
                        continue;
                    }
                    if *name == "ResTarget" {
                        self.walk(value, top);
                    } else {
                        self.walk(value, child_top);
                    }
                }
            }
            _ => {}
        }
    }

    fn column_ref(&mut self, tree: &Tree, top: bool) {
        let fields = tree.list("fields");
        let names: Vec<String> = fields
            .iter()
            .filter(|f| f.name() == Some("String"))
            .map(|f| f.str_field("sval").to_lowercase())
            .collect();
        let star = fields.last().is_some_and(|f| f.name() == Some("AStar"));
        if star {
            if !top {
                self.l.inner_star = true;
            }
            if let Some(q) = names.last() {
                self.l.whole_rows.insert(q.clone());
            }
            return;
        }
        if let Some(last) = names.last() {
            self.l.columns.insert(last.clone());
            if names.len() == 1 {
                // `u` alone may be a column or a whole row of `u`.
                self.l.whole_rows.insert(last.clone());
            }
        }
    }

    fn range_var(&mut self, tree: &Tree) {
        let Some(r) = relation_ref(tree) else {
            return;
        };
        if r.schema.is_none() && self.ctes.contains(&r.name) {
            return;
        }
        let alias = tree
            .field("alias")
            .map(|a| a.str_field("aliasname").to_lowercase())
            .filter(|a| !a.is_empty())
            .unwrap_or_else(|| r.name.clone());
        self.l.aliases.push((alias, r.clone()));
        if !self.l.relations.contains(&r) {
            self.l.relations.push(r);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(sql: &str) -> StatementLineage {
        let mut all = lineage(sql).unwrap();
        assert_eq!(all.len(), 1);
        all.remove(0)
    }

    #[test]
    fn plain_select_lines_up_columns() {
        let l = one("SELECT id, lower(u.email) AS e, count(*) FROM app.users u");
        let t = l.targets.unwrap();
        assert_eq!(t.len(), 3);
        assert_eq!(t[0].direct.as_deref(), Some("id"));
        assert!(t[1].columns.contains("email"));
        assert_eq!(t[1].alias.as_deref(), Some("e"));
        assert!(t[1].functions.contains("lower"));
        assert!(t[2].columns.is_empty());
        assert!(!l.nested && !l.opaque);
        assert_eq!(
            l.aliases,
            vec![(
                "u".to_string(),
                RelationRef {
                    schema: Some("app".into()),
                    name: "users".into()
                }
            )]
        );
    }

    #[test]
    fn whole_rows_and_stars() {
        let l = one("SELECT row_to_json(u), to_jsonb(u.*) FROM users u");
        let t = l.targets.unwrap();
        assert!(t[0].whole_rows.contains("u"));
        assert!(t[1].whole_rows.contains("u"));
        let l = one("SELECT * FROM users");
        assert!(!l.inner_star);
        assert!(l.targets.unwrap()[0].star);
        let l = one("SELECT (SELECT array_agg(x) FROM (SELECT * FROM users) x)");
        assert!(l.inner_star && l.nested);
    }

    #[test]
    fn ctes_unions_and_opaque() {
        let l = one("WITH x AS (SELECT email FROM users) SELECT * FROM x");
        assert!(l.nested);
        assert_eq!(l.relations.len(), 1, "the CTE name is not a relation");
        let l = one("SELECT email FROM users UNION SELECT 'a'");
        assert!(l.nested && l.targets.is_none());
        assert!(one("EXECUTE p(1)").opaque);
        assert!(one("FETCH 10 FROM c").opaque);
        assert!(one("SELECT query_to_xml('select 1', true, true, '')").opaque);
    }

    #[test]
    fn returning_and_copy() {
        let l = one("INSERT INTO users(email) VALUES ('a@b.co') RETURNING id, email");
        assert_eq!(l.dml_relation.unwrap().name, "users");
        let t = l.targets.unwrap();
        assert_eq!(t[1].direct.as_deref(), Some("email"));
        let l = one("COPY app.users (id, email) TO STDOUT WITH (FORMAT csv)");
        let c = l.copy.unwrap();
        assert!(c.csv && !c.binary && !c.from && !c.custom_syntax);
        assert_eq!(c.columns, vec!["id", "email"]);
        let l = one("COPY (SELECT email FROM users) TO STDOUT");
        assert!(l.copy.unwrap().relation.is_none());
        assert!(l.columns.contains("email"));
    }
}
