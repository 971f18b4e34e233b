//! Classifying one parsed statement.
//!
//! The statement's top node decides its command, object type and base class
//! ([`crate::command`]); the whole-tree walk ([`crate::walk`]) adds every
//! effect found below it. EXPLAIN and PREPARE classify their inner statement
//! on its own and fold it in.

use pg_query::NodeEnum;
use portcullis_core::statement::{Fact, StatementClass, StatementInfo};

use crate::command::{self, Head};
use crate::error::ClassifyError;
use crate::tree::Tree;
use crate::walk::{Ctx, Found, Walker};

/// A classification and whether it depends on literal values.
pub(crate) struct Classified {
    pub(crate) info: StatementInfo,
    pub(crate) sensitive: bool,
}

/// Classifies the statement `node`; `normalized` is its normalized text.
pub(crate) fn classify_node(
    node: &NodeEnum,
    normalized: &str,
) -> Result<Classified, ClassifyError> {
    match node {
        NodeEnum::ExplainStmt(explain) => {
            let mut found = Found::default();
            let analyze = explain_analyzes(&explain.options, &mut found)?;
            let inner = match explain.query.as_ref().and_then(|q| q.node.as_ref()) {
                Some(query) => classify_node(query, normalized)?,
                None => {
                    return Err(ClassifyError::Incomplete(
                        "EXPLAIN without a statement".into(),
                    ));
                }
            };
            let sensitive = found.sensitive || inner.sensitive;
            let mut info = if analyze {
                let mut info = inner.info.clone();
                info.facts.push(Fact::ExplainAnalyze);
                if info.has_class(StatementClass::Write) {
                    info.facts.push(Fact::NestedWrite);
                }
                info.facts.sort();
                info.facts.dedup();
                info
            } else {
                let mut tables: Vec<String> = inner.info.tables_read.clone();
                tables.extend(inner.info.tables_written.iter().cloned());
                tables.sort();
                tables.dedup();
                let mut found = Found::default();
                found.classes.insert(StatementClass::Read);
                let mut info = finish(
                    found,
                    Head::new("EXPLAIN", None, StatementClass::Read),
                    normalized,
                );
                info.tables_read = tables;
                info.assumed_schema = inner.info.assumed_schema.clone();
                info
            };
            info.command = "EXPLAIN".into();
            info.object_type = None;
            info.inner = Some(Box::new(inner.info));
            Ok(Classified { info, sensitive })
        }
        NodeEnum::PrepareStmt(prepare) => {
            let inner = match prepare.query.as_ref().and_then(|q| q.node.as_ref()) {
                Some(query) => classify_node(query, normalized)?,
                None => {
                    return Err(ClassifyError::Incomplete(
                        "PREPARE without a statement".into(),
                    ));
                }
            };
            let mut info = inner.info.clone();
            info.command = "PREPARE".into();
            info.object_type = None;
            if !info.classes.contains(&StatementClass::Session) {
                info.classes.push(StatementClass::Session);
                info.classes.sort();
            }
            info.class = primary(&info.classes);
            info.prepared_name = Some(prepare.name.clone());
            info.inner = Some(Box::new(inner.info));
            Ok(Classified {
                info,
                sensitive: inner.sensitive,
            })
        }
        _ => {
            let mut found = Found::default();
            let head = command::head(node, &mut found);
            let tree = Tree::of(node).map_err(|e| ClassifyError::Incomplete(e.to_string()))?;
            let mut walker = Walker::new(&mut found);
            walker.walk(&tree, Ctx::root(head.rel));
            let sensitive = found.sensitive;
            Ok(Classified {
                info: finish(found, head, normalized),
                sensitive,
            })
        }
    }
}

/// Whether EXPLAIN's options run the statement (`ANALYZE`, in any spelling).
fn explain_analyzes(options: &[pg_query::Node], found: &mut Found) -> Result<bool, ClassifyError> {
    for option in options {
        let Some(NodeEnum::DefElem(def)) = option.node.as_ref() else {
            continue;
        };
        if !def.defname.eq_ignore_ascii_case("analyze") {
            continue;
        }
        let Some(arg) = def.arg.as_ref().and_then(|a| a.node.as_ref()) else {
            return Ok(true);
        };
        found.sensitive = true;
        let off = match arg {
            NodeEnum::String(s) => matches!(
                s.sval.to_ascii_lowercase().as_str(),
                "false" | "off" | "no" | "0" | "f" | "n"
            ),
            NodeEnum::Integer(i) => i.ival == 0,
            NodeEnum::Boolean(b) => !b.boolval,
            NodeEnum::AConst(_) => false,
            _ => false,
        };
        // Anything but a clear "off" counts as ANALYZE: fail closed.
        return Ok(!off);
    }
    Ok(false)
}

/// The most significant class (see `StatementClass` ordering).
fn primary(classes: &[StatementClass]) -> StatementClass {
    classes
        .iter()
        .copied()
        .max()
        .unwrap_or(StatementClass::Opaque)
}

/// Builds the public classification from the walk's findings.
fn finish(mut found: Found, head: Head, normalized: &str) -> StatementInfo {
    found.classes.insert(head.class);
    if !found.tables_read.is_empty() {
        found.classes.insert(StatementClass::Read);
    }
    let classes: Vec<StatementClass> = found.classes.into_iter().collect();
    StatementInfo {
        command: head.command.to_string(),
        object_type: head.object_type,
        class: primary(&classes),
        classes,
        tables_read: found.tables_read.into_iter().collect(),
        tables_written: found.tables_written.into_iter().collect(),
        assumed_schema: found.assumed_schema.into_iter().collect(),
        functions: found.functions.into_iter().collect(),
        facts: found.facts.into_iter().collect(),
        settings: found.settings,
        objects: found.objects.into_iter().collect(),
        opaque_reason: found.opaque_reason,
        prepared_name: found.prepared_name,
        inner: None,
        normalized: normalized.to_string(),
    }
}
