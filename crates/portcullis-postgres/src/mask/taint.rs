//! Which relations and columns carry masked values, and whether a statement
//! (or one of its output columns) reads them.
//!
//! Computed once per catalog snapshot: every column of every table is matched
//! against the policy's `column` rules; a view is tainted when what it reads
//! (transitively) is. Statements are then judged by name, over-approximating:
//! a referenced name that could be a masked column counts as one.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use portcullis_mask::MaskPolicy;
use portcullis_sql::{StatementLineage, TargetLineage};

use super::catalog::Catalog;

/// System objects (created by initdb) have OIDs below this.
pub const FIRST_NORMAL_OID: u32 = 16384;

#[derive(Debug, Default)]
pub struct Taint {
    pub catalog: Arc<Catalog>,
    /// Table OID to its masked columns: name and rule.
    pub masked: HashMap<u32, Vec<(String, usize)>>,
    /// View OID to the rule of a masked column it reads.
    pub views: HashMap<u32, usize>,
    /// The first rule that matches anything (for opaque statements).
    pub any_rule: Option<usize>,
}

impl Taint {
    pub fn new(catalog: Arc<Catalog>, policy: &MaskPolicy) -> Taint {
        let mut masked: HashMap<u32, Vec<(String, usize)>> = HashMap::new();
        let mut any_rule: Option<usize> = None;
        for (oid, rel) in &catalog.relations {
            if rel.is_view() {
                continue;
            }
            for (_, col) in &rel.columns {
                let full = format!("{}.{}.{}", rel.schema, rel.name, col);
                if let Some(rule) = policy.column_rule(&full) {
                    masked
                        .entry(*oid)
                        .or_default()
                        .push((col.to_lowercase(), rule));
                    any_rule = Some(any_rule.map_or(rule, |r| r.min(rule)));
                }
            }
        }
        let mut views = HashMap::new();
        for oid in catalog.view_reads.keys() {
            let mut seen = HashSet::new();
            if let Some(rule) = view_rule(&catalog, &masked, *oid, &mut seen) {
                views.insert(*oid, rule);
            }
        }
        Taint {
            catalog,
            masked,
            views,
            any_rule,
        }
    }

    /// What a statement's names may reach.
    pub fn scope(&self, l: &StatementLineage) -> Scope {
        let mut s = Scope::default();
        for (alias, r) in &l.aliases {
            for oid in self.catalog.lookup(r.schema.as_deref(), &r.name) {
                if let Some(cols) = self.masked.get(&oid) {
                    for (c, rule) in cols {
                        s.names.entry(c.clone()).or_insert(*rule);
                    }
                    s.aliases.entry(alias.clone()).or_insert(cols[0].1);
                    s.any.get_or_insert(cols[0].1);
                }
                if let Some(rule) = self.views.get(&oid) {
                    if let Some(rel) = self.catalog.relations.get(&oid) {
                        for (_, c) in &rel.columns {
                            s.names.entry(c.to_lowercase()).or_insert(*rule);
                        }
                    }
                    s.aliases.entry(alias.clone()).or_insert(*rule);
                    s.any.get_or_insert(*rule);
                }
            }
        }
        s
    }

    /// The rule of a masked value a whole statement may read, if any.
    pub fn statement_rule(&self, l: &StatementLineage, scope: &Scope) -> Option<usize> {
        if l.opaque {
            return self.any_rule;
        }
        l.columns
            .iter()
            .find_map(|c| scope.names.get(c).copied())
            .or_else(|| {
                l.whole_rows
                    .iter()
                    .find_map(|w| scope.aliases.get(w).copied())
            })
            .or(if l.inner_star { scope.any } else { None })
            .or_else(|| self.functions_rule(l.functions.iter()))
    }

    /// The rule of a masked value one output column may be derived from.
    pub fn target_rule(&self, t: &TargetLineage, scope: &Scope) -> Option<usize> {
        t.columns
            .iter()
            .find_map(|c| scope.names.get(c).copied())
            .or_else(|| {
                t.whole_rows
                    .iter()
                    .find_map(|w| scope.aliases.get(w).copied())
            })
            .or_else(|| {
                if t.whole_rows.contains("*") {
                    scope.any
                } else {
                    None
                }
            })
            .or_else(|| self.functions_rule(t.functions.iter()))
    }

    /// A user-defined function may read anything: taint when anything is masked.
    fn functions_rule<'a>(&self, mut functions: impl Iterator<Item = &'a String>) -> Option<usize> {
        let user = functions.any(|f| {
            let bare = f.rsplit('.').next().unwrap_or(f);
            self.catalog.user_functions.contains(bare)
        });
        if user { self.any_rule } else { None }
    }
}

/// Masked names reachable from one statement.
#[derive(Debug, Default)]
pub struct Scope {
    /// Column name to rule.
    pub names: HashMap<String, usize>,
    /// Relation alias (or name) to rule, for whole-row references.
    pub aliases: HashMap<String, usize>,
    /// Any rule in reach.
    pub any: Option<usize>,
}

fn view_rule(
    cat: &Catalog,
    masked: &HashMap<u32, Vec<(String, usize)>>,
    oid: u32,
    seen: &mut HashSet<u32>,
) -> Option<usize> {
    if !seen.insert(oid) {
        return None;
    }
    for read in cat.view_reads.get(&oid).into_iter().flatten() {
        if let Some(cols) = masked.get(read) {
            return cols.first().map(|(_, r)| *r);
        }
        if let Some(rule) = view_rule(cat, masked, *read, seen) {
            return Some(rule);
        }
    }
    None
}
