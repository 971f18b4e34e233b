//! A generic view of libpg_query's parse tree.
//!
//! The `pg_query` protobuf types all implement `serde::Serialize`; serializing
//! one into [`Tree`] gives a uniform tree of named structs and fields that the
//! walker can descend *completely* without a hand-written case for each of the
//! ~270 node types. A node type the walker has no special rule for is still
//! visited, so a DELETE or a function call can never hide in a node kind we
//! forgot. Positions (`location` fields) and default values are dropped, so
//! two subtrees compare equal when they mean the same thing.

use serde::Serialize;
use serde::ser::{self, Impossible};

/// One node of the generic tree.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Tree {
    /// A protobuf message: its Rust type name and its non-default fields.
    Struct(&'static str, Vec<(&'static str, Tree)>),
    /// A repeated field.
    Seq(Vec<Tree>),
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    /// An absent optional field or unit value.
    Null,
}

impl Tree {
    /// Builds the tree of any serializable `pg_query` value.
    pub(crate) fn of<T: Serialize + ?Sized>(value: &T) -> Result<Tree, TreeError> {
        value.serialize(Builder)
    }

    /// The struct's type name, if this is a struct.
    pub(crate) fn name(&self) -> Option<&'static str> {
        match self {
            Tree::Struct(name, _) => Some(name),
            _ => None,
        }
    }

    /// A field of a struct (`None` when absent, default or not a struct).
    pub(crate) fn field(&self, key: &str) -> Option<&Tree> {
        match self {
            Tree::Struct(_, fields) => fields.iter().find(|(k, _)| *k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The elements of a repeated field (empty when absent).
    pub(crate) fn list(&self, key: &str) -> &[Tree] {
        match self.field(key) {
            Some(Tree::Seq(items)) => items,
            _ => &[],
        }
    }

    /// A string field ("" when absent).
    pub(crate) fn str_field(&self, key: &str) -> &str {
        match self.field(key) {
            Some(Tree::Str(s)) => s,
            _ => "",
        }
    }

    /// An integer (or enum) field (0 when absent).
    pub(crate) fn int_field(&self, key: &str) -> i64 {
        match self.field(key) {
            Some(Tree::Int(i)) => *i,
            _ => 0,
        }
    }

    /// A boolean field (false when absent).
    pub(crate) fn bool_field(&self, key: &str) -> bool {
        matches!(self.field(key), Some(Tree::Bool(true)))
    }

    /// The `sval` strings of a list of `String` nodes (qualified names).
    pub(crate) fn names(&self, key: &str) -> Vec<&str> {
        self.list(key)
            .iter()
            .filter(|t| t.name() == Some("String"))
            .map(|t| t.str_field("sval"))
            .collect()
    }

    /// True when any node in this subtree is a struct named `name`.
    pub(crate) fn contains(&self, name: &str) -> bool {
        match self {
            Tree::Struct(n, fields) => *n == name || fields.iter().any(|(_, v)| v.contains(name)),
            Tree::Seq(items) => items.iter().any(|t| t.contains(name)),
            _ => false,
        }
    }
}

/// Serialization into [`Tree`] failed (never expected; fails closed).
#[derive(Debug, thiserror::Error)]
#[error("cannot build the statement tree: {0}")]
pub struct TreeError(String);

impl ser::Error for TreeError {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        TreeError(msg.to_string())
    }
}

/// Fields that carry positions in the text, not meaning.
fn is_position(key: &str) -> bool {
    key.contains("location") || key == "stmt_len" || key.starts_with("rexpr_list_")
}

fn is_default(tree: &Tree) -> bool {
    match tree {
        Tree::Null => true,
        Tree::Bool(b) => !b,
        Tree::Int(i) => *i == 0,
        Tree::Str(s) => s.is_empty(),
        Tree::Seq(items) => items.is_empty(),
        Tree::Float(_) | Tree::Struct(..) => false,
    }
}

struct Builder;

struct SeqBuilder(Vec<Tree>);

struct StructBuilder(&'static str, Vec<(&'static str, Tree)>);

impl ser::Serializer for Builder {
    type Ok = Tree;
    type Error = TreeError;
    type SerializeSeq = SeqBuilder;
    type SerializeTuple = SeqBuilder;
    type SerializeTupleStruct = SeqBuilder;
    type SerializeTupleVariant = Impossible<Tree, TreeError>;
    type SerializeMap = Impossible<Tree, TreeError>;
    type SerializeStruct = StructBuilder;
    type SerializeStructVariant = Impossible<Tree, TreeError>;

    fn serialize_bool(self, v: bool) -> Result<Tree, TreeError> {
        Ok(Tree::Bool(v))
    }
    fn serialize_i8(self, v: i8) -> Result<Tree, TreeError> {
        Ok(Tree::Int(v.into()))
    }
    fn serialize_i16(self, v: i16) -> Result<Tree, TreeError> {
        Ok(Tree::Int(v.into()))
    }
    fn serialize_i32(self, v: i32) -> Result<Tree, TreeError> {
        Ok(Tree::Int(v.into()))
    }
    fn serialize_i64(self, v: i64) -> Result<Tree, TreeError> {
        Ok(Tree::Int(v))
    }
    fn serialize_u8(self, v: u8) -> Result<Tree, TreeError> {
        Ok(Tree::Int(v.into()))
    }
    fn serialize_u16(self, v: u16) -> Result<Tree, TreeError> {
        Ok(Tree::Int(v.into()))
    }
    fn serialize_u32(self, v: u32) -> Result<Tree, TreeError> {
        Ok(Tree::Int(v.into()))
    }
    fn serialize_u64(self, v: u64) -> Result<Tree, TreeError> {
        Ok(Tree::Int(i64::try_from(v).unwrap_or(i64::MAX)))
    }
    fn serialize_f32(self, v: f32) -> Result<Tree, TreeError> {
        Ok(Tree::Float(v.into()))
    }
    fn serialize_f64(self, v: f64) -> Result<Tree, TreeError> {
        Ok(Tree::Float(v))
    }
    fn serialize_char(self, v: char) -> Result<Tree, TreeError> {
        Ok(Tree::Str(v.to_string()))
    }
    fn serialize_str(self, v: &str) -> Result<Tree, TreeError> {
        Ok(Tree::Str(v.to_string()))
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<Tree, TreeError> {
        Ok(Tree::Str(String::from_utf8_lossy(v).into_owned()))
    }
    fn serialize_none(self) -> Result<Tree, TreeError> {
        Ok(Tree::Null)
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<Tree, TreeError> {
        value.serialize(Builder)
    }
    fn serialize_unit(self) -> Result<Tree, TreeError> {
        Ok(Tree::Null)
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<Tree, TreeError> {
        Ok(Tree::Null)
    }
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<Tree, TreeError> {
        Ok(Tree::Struct(variant, Vec::new()))
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<Tree, TreeError> {
        value.serialize(Builder)
    }
    /// A `Node` oneof variant: the wrapped message already carries the node
    /// type as its struct name, so the variant wrapper is dropped.
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        value: &T,
    ) -> Result<Tree, TreeError> {
        value.serialize(Builder)
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<SeqBuilder, TreeError> {
        Ok(SeqBuilder(Vec::with_capacity(len.unwrap_or(0))))
    }
    fn serialize_tuple(self, len: usize) -> Result<SeqBuilder, TreeError> {
        Ok(SeqBuilder(Vec::with_capacity(len)))
    }
    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        len: usize,
    ) -> Result<SeqBuilder, TreeError> {
        Ok(SeqBuilder(Vec::with_capacity(len)))
    }
    fn serialize_tuple_variant(
        self,
        name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleVariant, TreeError> {
        Err(TreeError(format!("unexpected tuple variant in {name}")))
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<Self::SerializeMap, TreeError> {
        Err(TreeError("unexpected map".to_string()))
    }
    fn serialize_struct(self, name: &'static str, len: usize) -> Result<StructBuilder, TreeError> {
        Ok(StructBuilder(name, Vec::with_capacity(len.min(8))))
    }
    fn serialize_struct_variant(
        self,
        name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStructVariant, TreeError> {
        Err(TreeError(format!("unexpected struct variant in {name}")))
    }
}

impl ser::SerializeSeq for SeqBuilder {
    type Ok = Tree;
    type Error = TreeError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), TreeError> {
        self.0.push(value.serialize(Builder)?);
        Ok(())
    }
    fn end(self) -> Result<Tree, TreeError> {
        Ok(Tree::Seq(self.0))
    }
}

impl ser::SerializeTuple for SeqBuilder {
    type Ok = Tree;
    type Error = TreeError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), TreeError> {
        ser::SerializeSeq::serialize_element(self, value)
    }
    fn end(self) -> Result<Tree, TreeError> {
        Ok(Tree::Seq(self.0))
    }
}

impl ser::SerializeTupleStruct for SeqBuilder {
    type Ok = Tree;
    type Error = TreeError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), TreeError> {
        ser::SerializeSeq::serialize_element(self, value)
    }
    fn end(self) -> Result<Tree, TreeError> {
        Ok(Tree::Seq(self.0))
    }
}

impl ser::SerializeStruct for StructBuilder {
    type Ok = Tree;
    type Error = TreeError;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), TreeError> {
        if is_position(key) {
            return Ok(());
        }
        let tree = value.serialize(Builder)?;
        if !is_default(&tree) {
            self.1.push((key, tree));
        }
        Ok(())
    }
    fn end(mut self) -> Result<Tree, TreeError> {
        // `Node` only wraps the oneof that names the real node type.
        if self.0 == "Node" {
            return Ok(self.1.pop().map(|(_, v)| v).unwrap_or(Tree::Null));
        }
        Ok(Tree::Struct(self.0, self.1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_named_structs_without_positions() {
        let parsed = pg_query::parse("SELECT a FROM s.t WHERE a = 1", 0).unwrap();
        let tree = Tree::of(&parsed.protobuf).unwrap();
        assert!(tree.contains("RangeVar"));
        assert!(tree.contains("AExpr"));
        assert!(!format!("{tree:?}").contains("location"));
    }
}
