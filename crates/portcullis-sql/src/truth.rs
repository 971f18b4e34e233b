//! Deciding whether a condition is always true.
//!
//! `DELETE FROM t WHERE 1=1` deletes every row just like a DELETE without
//! WHERE. This module recognises conditions that hold for every row (ignoring
//! NULLs): constant comparisons, `x = x`, `x OR true`, `NOT false`,
//! `x LIKE '%'`, `EXISTS (SELECT 1)`, `x IS NULL OR x IS NOT NULL`, and
//! boolean combinations of those. It answers `None` when it cannot tell.
//!
//! Reading a literal's value makes the answer depend on that value, so every
//! such read sets `sensitive`, which tells the cache not to share the
//! classification between statements that differ only in literals.

use crate::tree::Tree;

// Values of pg_query's protobuf enums used here.
const BOOL_AND: i64 = 1;
const BOOL_OR: i64 = 2;
const BOOL_NOT: i64 = 3;
const AEXPR_OP: i64 = 1;
const AEXPR_DISTINCT: i64 = 4;
const AEXPR_NOT_DISTINCT: i64 = 5;
const AEXPR_IN: i64 = 7;
const AEXPR_LIKE: i64 = 8;
const AEXPR_ILIKE: i64 = 9;
const AEXPR_BETWEEN: i64 = 11;
const AEXPR_NOT_BETWEEN: i64 = 12;
const IS_NULL: i64 = 1;
const IS_NOT_NULL: i64 = 2;
const IS_TRUE: i64 = 1;
const IS_NOT_TRUE: i64 = 2;
const IS_FALSE: i64 = 3;
const IS_NOT_FALSE: i64 = 4;
const EXISTS_SUBLINK: i64 = 1;

/// A literal value.
#[derive(Clone, Debug, PartialEq)]
enum Const {
    Null,
    Bool(bool),
    Num(f64),
    Str(String),
}

/// Evaluates conditions, recording whether a literal value was read.
pub(crate) struct Truth<'a> {
    pub(crate) sensitive: &'a mut bool,
}

impl Truth<'_> {
    /// `Some(true)` when `expr` holds for every row, `Some(false)` when it
    /// holds for none, `None` when unknown.
    pub(crate) fn eval(&mut self, expr: &Tree) -> Option<bool> {
        match expr.name()? {
            "AConst" | "TypeCast" => match self.constant(expr)? {
                Const::Bool(b) => Some(b),
                Const::Str(s) => parse_bool(&s),
                Const::Null => Some(false),
                Const::Num(_) => None,
            },
            "BoolExpr" => self.bool_expr(expr),
            "AExpr" => self.a_expr(expr),
            "NullTest" => {
                let arg = expr.field("arg")?;
                let value = self.constant(arg)?;
                let is_null = value == Const::Null;
                match expr.int_field("nulltesttype") {
                    IS_NULL => Some(is_null),
                    IS_NOT_NULL => Some(!is_null),
                    _ => None,
                }
            }
            "BooleanTest" => {
                let value = self.eval(expr.field("arg")?)?;
                match expr.int_field("booltesttype") {
                    IS_TRUE | IS_NOT_FALSE => Some(value),
                    IS_NOT_TRUE | IS_FALSE => Some(!value),
                    _ => None,
                }
            }
            "SubLink" => {
                if expr.int_field("sub_link_type") != EXISTS_SUBLINK {
                    return None;
                }
                let sub = expr.field("subselect")?;
                let trivial = sub.name() == Some("SelectStmt")
                    && sub.list("from_clause").is_empty()
                    && sub.field("where_clause").is_none()
                    && sub.field("having_clause").is_none()
                    && sub.list("values_lists").is_empty()
                    && sub.field("limit_count").is_none()
                    && sub.field("larg").is_none();
                trivial.then_some(true)
            }
            _ => None,
        }
    }

    fn bool_expr(&mut self, expr: &Tree) -> Option<bool> {
        let args = expr.list("args");
        // Evaluate every argument (no short-circuit) so that what is read does
        // not depend on literal values.
        let values: Vec<Option<bool>> = args.iter().map(|a| self.eval(a)).collect();
        match expr.int_field("boolop") {
            BOOL_AND => {
                if values.iter().all(|v| *v == Some(true)) {
                    Some(true)
                } else if values.contains(&Some(false)) {
                    Some(false)
                } else {
                    None
                }
            }
            BOOL_OR => {
                if values.contains(&Some(true)) || self.complementary(args) {
                    Some(true)
                } else if values.iter().all(|v| *v == Some(false)) {
                    Some(false)
                } else {
                    None
                }
            }
            BOOL_NOT => values.first().copied().flatten().map(|v| !v),
            _ => None,
        }
    }

    /// `x OR NOT x` and `x IS NULL OR x IS NOT NULL`.
    fn complementary(&mut self, args: &[Tree]) -> bool {
        for a in args {
            for b in args {
                if b.name() == Some("BoolExpr")
                    && b.int_field("boolop") == BOOL_NOT
                    && b.list("args")
                        .first()
                        .is_some_and(|inner| self.same(inner, a))
                {
                    return true;
                }
                if a.name() == Some("NullTest")
                    && b.name() == Some("NullTest")
                    && a.int_field("nulltesttype") == IS_NULL
                    && b.int_field("nulltesttype") == IS_NOT_NULL
                    && let (Some(x), Some(y)) = (a.field("arg"), b.field("arg"))
                    && self.same(x, y)
                {
                    return true;
                }
            }
        }
        false
    }

    fn a_expr(&mut self, expr: &Tree) -> Option<bool> {
        let kind = expr.int_field("kind");
        let op = expr.names("name");
        let op = op.last().copied().unwrap_or("");
        let left = expr.field("lexpr");
        let right = expr.field("rexpr");
        match kind {
            AEXPR_OP => {
                let (left, right) = (left?, right?);
                if self.same(left, right) {
                    return match op {
                        "=" | ">=" | "<=" => Some(true),
                        "<>" | "!=" | "<" | ">" => Some(false),
                        _ => None,
                    };
                }
                let l = self.constant(left)?;
                let r = self.constant(right)?;
                compare(op, &l, &r)
            }
            AEXPR_NOT_DISTINCT | AEXPR_DISTINCT => {
                let same = self.same(left?, right?);
                if same {
                    Some(kind == AEXPR_NOT_DISTINCT)
                } else {
                    None
                }
            }
            AEXPR_IN => {
                let l = self.constant(left?)?;
                let items = list_items(right?)?;
                let mut found = false;
                for item in items {
                    let v = self.constant(item)?;
                    if compare("=", &l, &v) == Some(true) {
                        found = true;
                    }
                }
                match op {
                    "=" => Some(found),
                    "<>" => (!found).then_some(true),
                    _ => None,
                }
            }
            AEXPR_LIKE | AEXPR_ILIKE => {
                if !matches!(op, "~~" | "~~*") {
                    return None;
                }
                match self.constant(right?)? {
                    Const::Str(p) if !p.is_empty() && p.chars().all(|c| c == '%') => Some(true),
                    _ => None,
                }
            }
            AEXPR_BETWEEN | AEXPR_NOT_BETWEEN => {
                let value = self.constant(left?)?;
                let bounds = list_items(right?)?;
                let [low, high] = bounds else {
                    return None;
                };
                let low = self.constant(low)?;
                let high = self.constant(high)?;
                let inside = compare(">=", &value, &low)? && compare("<=", &value, &high)?;
                Some(inside == (kind == AEXPR_BETWEEN))
            }
            _ => None,
        }
    }

    /// The literal value of `expr` (through casts), reading it sensitively.
    fn constant(&mut self, expr: &Tree) -> Option<Const> {
        match expr.name()? {
            "TypeCast" => {
                let value = self.constant(expr.field("arg")?)?;
                let is_bool = expr
                    .field("type_name")
                    .map(|t| t.names("names"))
                    .and_then(|n| n.last().map(|s| matches!(*s, "bool" | "boolean")))
                    .unwrap_or(false);
                if is_bool && let Const::Str(s) = &value {
                    return parse_bool(s).map(Const::Bool);
                }
                Some(value)
            }
            "AConst" => {
                *self.sensitive = true;
                if expr.bool_field("isnull") {
                    return Some(Const::Null);
                }
                let val = expr.field("val")?;
                match val.name()? {
                    "Integer" => Some(Const::Num(val.int_field("ival") as f64)),
                    "Float" => val.str_field("fval").parse().ok().map(Const::Num),
                    "Boolean" => Some(Const::Bool(val.bool_field("boolval"))),
                    "String" => Some(Const::Str(val.str_field("sval").to_string())),
                    _ => None,
                }
            }
            _ => None,
        }
    }

    /// Structural equality of two expressions without volatile parts.
    fn same(&mut self, a: &Tree, b: &Tree) -> bool {
        if a.contains("FuncCall") || a.contains("SubLink") || b.contains("FuncCall") {
            return false;
        }
        equal(a, b, false, self.sensitive)
    }
}

/// Structural equality that records a read of literal values: comparing two
/// leaves inside a node that can hold a literal sets `sensitive`; a mismatch
/// of node types is decided without reading any value.
fn equal(a: &Tree, b: &Tree, in_literal: bool, sensitive: &mut bool) -> bool {
    match (a, b) {
        (Tree::Struct(na, fa), Tree::Struct(nb, fb)) => {
            if na != nb {
                return false;
            }
            let literal = in_literal
                || matches!(
                    *na,
                    "AConst" | "String" | "Integer" | "Float" | "Boolean" | "BitString"
                );
            if literal {
                *sensitive = true;
            }
            fa.len() == fb.len()
                && fa
                    .iter()
                    .zip(fb)
                    .all(|((ka, va), (kb, vb))| ka == kb && equal(va, vb, literal, sensitive))
        }
        (Tree::Seq(xa), Tree::Seq(xb)) => {
            xa.len() == xb.len()
                && xa
                    .iter()
                    .zip(xb)
                    .all(|(x, y)| equal(x, y, in_literal, sensitive))
        }
        _ => {
            if in_literal {
                *sensitive = true;
            }
            a == b
        }
    }
}

/// The elements of a `List` node (or a bare sequence).
fn list_items(tree: &Tree) -> Option<&[Tree]> {
    match tree {
        Tree::Seq(items) => Some(items),
        Tree::Struct("List", _) => Some(tree.list("items")),
        _ => None,
    }
}

fn parse_bool(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "t" | "true" | "y" | "yes" | "on" | "1" => Some(true),
        "f" | "false" | "n" | "no" | "off" | "0" => Some(false),
        _ => None,
    }
}

fn compare(op: &str, l: &Const, r: &Const) -> Option<bool> {
    let ordering = match (l, r) {
        (Const::Null, _) | (_, Const::Null) => return Some(false),
        (Const::Num(a), Const::Num(b)) => a.partial_cmp(b)?,
        (Const::Num(a), Const::Str(b)) => a.partial_cmp(&b.trim().parse::<f64>().ok()?)?,
        (Const::Str(a), Const::Num(b)) => a.trim().parse::<f64>().ok()?.partial_cmp(b)?,
        (Const::Str(a), Const::Str(b)) => a.cmp(b),
        (Const::Bool(a), Const::Bool(b)) => a.cmp(b),
        (Const::Bool(a), Const::Str(b)) => a.cmp(&parse_bool(b)?),
        (Const::Str(a), Const::Bool(b)) => parse_bool(a)?.cmp(b),
        _ => return None,
    };
    use std::cmp::Ordering::*;
    match op {
        "=" => Some(ordering == Equal),
        "<>" | "!=" => Some(ordering != Equal),
        "<" => Some(ordering == Less),
        ">" => Some(ordering == Greater),
        "<=" => Some(ordering != Greater),
        ">=" => Some(ordering != Less),
        _ => None,
    }
}
