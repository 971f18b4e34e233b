//! The whole-tree walk that finds what a statement really does.
//!
//! Every node of the generic [`Tree`] is visited, so a DML statement, a table
//! or a function call is found wherever it hides: in a CTE, a subquery, a
//! COPY query, a rule action, a function argument or a node kind this module
//! has no rule for. Node kinds with a meaning for guardrails get a rule; all
//! others are descended into unchanged.

use std::collections::BTreeSet;

use portcullis_core::statement::{Fact, SettingChange, StatementClass};

use crate::functions::{self, Effect};
use crate::settings;
use crate::tree::Tree;
use crate::truth::Truth;

/// What the walk found, accumulated over a statement.
#[derive(Default, Debug)]
pub(crate) struct Found {
    pub(crate) classes: BTreeSet<StatementClass>,
    pub(crate) tables_read: BTreeSet<String>,
    pub(crate) tables_written: BTreeSet<String>,
    /// Entries of the two sets above written without a schema.
    pub(crate) assumed_schema: BTreeSet<String>,
    pub(crate) functions: BTreeSet<String>,
    pub(crate) facts: BTreeSet<Fact>,
    pub(crate) settings: Vec<SettingChange>,
    pub(crate) objects: BTreeSet<String>,
    pub(crate) opaque_reason: Option<String>,
    pub(crate) prepared_name: Option<String>,
    /// Whether any result depends on a literal's value (see `crate::shape`).
    pub(crate) sensitive: bool,
}

impl Found {
    /// Marks the statement opaque, keeping the first reason given.
    pub(crate) fn opaque(&mut self, reason: impl Into<String>) {
        self.classes.insert(StatementClass::Opaque);
        if self.opaque_reason.is_none() {
            self.opaque_reason = Some(reason.into());
        }
    }

    /// Records a setting change and the facts it raises.
    pub(crate) fn setting(&mut self, name: String, value: Option<String>, local: bool) {
        for fact in settings::facts(&name, value.as_deref()) {
            self.facts.insert(fact);
        }
        self.classes.insert(StatementClass::Session);
        self.settings.push(SettingChange { name, value, local });
    }
}

/// How a relation met at this point of the tree is used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Rel {
    Read,
    Write,
}

/// Where in the tree the walk is.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Ctx {
    pub(crate) rel: Rel,
    /// True only for the statement's own top node.
    pub(crate) root: bool,
    pub(crate) in_cte: bool,
}

impl Ctx {
    /// The context of a statement's top node.
    pub(crate) fn root(rel: Rel) -> Ctx {
        Ctx {
            rel,
            root: true,
            in_cte: false,
        }
    }

    fn child(self, rel: Rel) -> Ctx {
        Ctx {
            rel,
            root: false,
            in_cte: self.in_cte,
        }
    }
}

/// Walks trees into a [`Found`].
pub(crate) struct Walker<'a> {
    pub(crate) found: &'a mut Found,
    /// CTE names visible at this point, innermost last.
    scope: Vec<String>,
}

/// Whether [`qualify`] had to assume the schema: the name was written
/// without one and is not a temporary table being created.
pub(crate) fn assumes_schema(schema: &str, persistence: &str) -> bool {
    schema.is_empty() && persistence != "t"
}

/// Schema-qualifies a relation name (see `StatementInfo::tables_read`).
pub(crate) fn qualify(schema: &str, name: &str, persistence: &str) -> String {
    if !schema.is_empty() {
        format!("{schema}.{name}")
    } else if persistence == "t" {
        format!("pg_temp.{name}")
    } else if name.starts_with("pg_") {
        format!("pg_catalog.{name}")
    } else {
        format!("public.{name}")
    }
}

/// Joins a qualified name list, lowercase, dropping a leading `pg_catalog`.
pub(crate) fn function_name(parts: &[&str]) -> String {
    let parts: Vec<String> = parts.iter().map(|p| p.to_lowercase()).collect();
    let parts = match parts.split_first() {
        Some((first, rest)) if first == "pg_catalog" && !rest.is_empty() => rest,
        _ => &parts[..],
    };
    parts.join(".")
}

impl<'a> Walker<'a> {
    pub(crate) fn new(found: &'a mut Found) -> Walker<'a> {
        Walker {
            found,
            scope: Vec::new(),
        }
    }

    /// Visits `tree` and everything below it.
    pub(crate) fn walk(&mut self, tree: &Tree, ctx: Ctx) {
        match tree {
            Tree::Seq(items) => {
                for item in items {
                    self.walk(item, ctx);
                }
            }
            Tree::Struct(name, _) => self.node(tree, name, ctx),
            _ => {}
        }
    }

    fn node(&mut self, tree: &Tree, name: &str, ctx: Ctx) {
        match name {
            "RangeVar" => self.range_var(tree, ctx.rel),
            "FuncCall" => {
                self.func_call(tree);
                self.descend(tree, ctx.child(Rel::Read), None);
            }
            "InsertStmt" | "UpdateStmt" | "DeleteStmt" | "MergeStmt" => self.dml(tree, name, ctx),
            "SelectStmt" => {
                if !tree.list("locking_clause").is_empty() {
                    self.found.facts.insert(Fact::LockingRead);
                }
                self.descend(tree, ctx.child(Rel::Read), None);
            }
            "IntoClause" => {
                self.found.classes.insert(StatementClass::Ddl);
                self.found.classes.insert(StatementClass::Write);
                self.found.facts.insert(Fact::CreatesTable);
                self.descend(tree, ctx.child(Rel::Write), None);
            }
            "CopyStmt" => self.copy(tree, ctx),
            "ExecuteStmt" => {
                let name = tree.str_field("name").to_string();
                self.found.opaque(format!(
                    "EXECUTE runs prepared statement \"{name}\", known only from the session's PREPARE"
                ));
                self.found.prepared_name = Some(name);
                self.descend(tree, ctx.child(Rel::Read), None);
            }
            "CallStmt" => {
                self.found
                    .opaque("CALL runs a procedure whose body is not inspected");
                self.descend(tree, ctx.child(Rel::Read), None);
            }
            "DoStmt" => self.found.opaque("DO runs an anonymous code block"),
            // Function bodies are opaque and do not run at definition time.
            "CreateFunctionStmt" => {
                self.found.facts.insert(Fact::FunctionBody);
            }
            "RuleStmt" => {
                // Rule actions run later, on every matching statement: they count.
                self.descend(tree, ctx.child(Rel::Write), None);
            }
            "AlterTableCmd" => {
                const AT_DROP_COLUMN: i64 = 14;
                if tree.int_field("subtype") == AT_DROP_COLUMN {
                    self.found.facts.insert(Fact::DropColumn);
                }
                self.descend(tree, ctx.child(ctx.rel), None);
            }
            _ => self.descend(tree, ctx.child(ctx.rel), None),
        }
    }

    /// Visits every field of a struct, handling its WITH clause's scope.
    /// `target` names the field whose relations are written.
    fn descend(&mut self, tree: &Tree, ctx: Ctx, target: Option<&str>) {
        let Tree::Struct(_, fields) = tree else {
            return;
        };
        let saved = self.scope.len();
        if let Some(with) = tree.field("with_clause") {
            self.with_clause(with);
        }
        for (key, value) in fields {
            if *key == "with_clause" {
                continue;
            }
            let rel = if Some(*key) == target {
                Rel::Write
            } else {
                ctx.rel
            };
            self.walk(value, Ctx { rel, ..ctx });
        }
        self.scope.truncate(saved);
    }

    /// Walks CTE queries with PostgreSQL's visibility: a non-recursive CTE
    /// sees the CTEs before it, a recursive WITH sees all of its names.
    fn with_clause(&mut self, with: &Tree) {
        let ctes = with.list("ctes");
        let recursive = with.bool_field("recursive");
        if recursive {
            for cte in ctes {
                self.scope.push(cte.str_field("ctename").to_string());
            }
        }
        for cte in ctes {
            let inner = Ctx {
                rel: Rel::Read,
                root: false,
                in_cte: true,
            };
            self.descend(cte, inner, None);
            if !recursive {
                self.scope.push(cte.str_field("ctename").to_string());
            }
        }
    }

    fn range_var(&mut self, tree: &Tree, rel: Rel) {
        let schema = tree.str_field("schemaname");
        let name = tree.str_field("relname");
        if name.is_empty() {
            return;
        }
        if rel == Rel::Read && schema.is_empty() && self.scope.iter().any(|c| c == name) {
            return; // a CTE reference, not a table
        }
        let persistence = tree.str_field("relpersistence");
        let qualified = qualify(schema, name, persistence);
        if assumes_schema(schema, persistence) {
            self.found.assumed_schema.insert(qualified.clone());
        }
        match rel {
            Rel::Read => self.found.tables_read.insert(qualified),
            Rel::Write => self.found.tables_written.insert(qualified),
        };
    }

    fn func_call(&mut self, tree: &Tree) {
        let parts = tree.names("funcname");
        let name = function_name(&parts);
        let bare = name.rsplit('.').next().unwrap_or("").to_string();
        for effect in functions::effects(&bare) {
            match effect {
                Effect::Write => {
                    self.found.classes.insert(StatementClass::Write);
                    self.found.facts.insert(Fact::WriteFunction);
                }
                Effect::Admin => {
                    self.found.classes.insert(StatementClass::Admin);
                    self.found.facts.insert(Fact::AdminFunction);
                }
                Effect::Setting => self.set_config(tree),
                Effect::RunsSql => self
                    .found
                    .opaque(format!("{name} runs SQL given as a string")),
            }
        }
        self.found.functions.insert(name);
    }

    /// `set_config(name, value, is_local)`: a SET in function form.
    fn set_config(&mut self, tree: &Tree) {
        let args = tree.list("args");
        self.found.sensitive = true;
        let text = |t: Option<&Tree>| -> Option<String> {
            let t = t?;
            if t.name()? != "AConst" {
                return None;
            }
            let val = t.field("val")?;
            match val.name()? {
                "String" => Some(val.str_field("sval").to_string()),
                "Integer" => Some(val.int_field("ival").to_string()),
                "Float" => Some(val.str_field("fval").to_string()),
                _ => None,
            }
        };
        match text(args.first()) {
            Some(name) => {
                let value = text(args.get(1));
                let local = args
                    .get(2)
                    .is_some_and(|t| t.field("val").is_some_and(|v| v.bool_field("boolval")));
                let value_known = value.is_some();
                self.found.setting(name.to_lowercase(), value, local);
                if !value_known {
                    // The value is computed at run time: assume the worst.
                    self.found.facts.insert(Fact::LexingSetting);
                    self.found.facts.insert(Fact::ReplicationRoleSetting);
                }
            }
            None => self
                .found
                .opaque("set_config with a setting name computed at run time"),
        }
    }

    fn dml(&mut self, tree: &Tree, name: &str, ctx: Ctx) {
        self.found.classes.insert(StatementClass::Write);
        if !ctx.root {
            self.found.facts.insert(Fact::NestedWrite);
        }
        if ctx.in_cte {
            self.found.facts.insert(Fact::CteWrite);
        }
        let condition = match name {
            "UpdateStmt" | "DeleteStmt" => match tree.field("where_clause") {
                None => {
                    self.found.facts.insert(Fact::NoWhere);
                    None
                }
                Some(condition) => Some(condition),
            },
            "MergeStmt" => tree.field("join_condition"),
            _ => None,
        };
        if let Some(condition) = condition {
            let mut truth = Truth {
                sensitive: &mut self.found.sensitive,
            };
            if truth.eval(condition) == Some(true) {
                self.found.facts.insert(Fact::AlwaysTrueWhere);
            }
        }
        self.descend(tree, ctx.child(Rel::Read), Some("relation"));
    }

    fn copy(&mut self, tree: &Tree, ctx: Ctx) {
        let is_from = tree.bool_field("is_from");
        let program = tree.bool_field("is_program");
        let file = !tree.str_field("filename").is_empty();
        if is_from {
            self.found.classes.insert(StatementClass::Write);
            self.found.facts.insert(Fact::CopyFrom);
        } else {
            self.found.classes.insert(StatementClass::Read);
        }
        if program {
            self.found.classes.insert(StatementClass::Admin);
            self.found.facts.insert(Fact::CopyProgram);
        } else if file {
            self.found.classes.insert(StatementClass::Admin);
            self.found.facts.insert(Fact::CopyServerFile);
        }
        let target = if is_from { Some("relation") } else { None };
        self.descend(tree, ctx.child(Rel::Read), target);
    }
}
