//! The writer's schema, down to the leaves: recorded from the serialization
//! itself as a checkpoint is written, stored in its header (format version
//! 3), and resolved by name against the reader's types on restore.
//!
//! - [`record`]: a `serde::Serializer` around postcard's that writes the
//!   same bytes and records what it wrote into a [`DeepSchema`].
//! - [`resolve`]: a `serde::Deserializer` around postcard's that reads
//!   those bytes as the writer's schema says and hands them to the reader's
//!   types by name, using the field and variant names serde passes.
//!
//! A schema is a graph of [`SchemaNode`]s addressed by index, so that a
//! recursive type is a back reference ([`SchemaNode::Ref`]) rather than a
//! tree as deep as the data, and decoding a stored schema never recurses.

use std::borrow::Cow;
use std::fmt::{self, Write as _};

use serde::{Deserialize, Serialize};

mod change;
mod compare;
pub(crate) mod record;
pub(crate) mod resolve;
mod skip;

pub use self::change::{DeepChange, DeepChangeKind};

/// A name recorded by the writer: borrowed while recording, owned once read.
pub type Name = Cow<'static, str>;

/// The index of a node in a [`DeepSchema`].
pub type NodeId = u32;

/// The writer's schema of every stored field of one checkpoint.
///
/// # Examples
///
/// ```
/// # use checkpoint::schema::DeepSchema;
/// let schema = DeepSchema::default();
/// assert!(schema.roots().is_empty());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DeepSchema {
    nodes: Vec<SchemaNode>,
    /// Each stored field (`Variant::field` in an enum) and its node.
    roots: Vec<(Name, NodeId)>,
    /// Per node, the node it was first recorded under; only while recording.
    #[serde(skip)]
    parents: Vec<NodeId>,
    /// Bumped on every change while recording.
    #[serde(skip)]
    generation: u64,
    /// Structs whose first value is still being recorded.
    #[serde(skip)]
    open: Vec<NodeId>,
}

/// One position of a writer's schema.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum SchemaNode {
    /// Nothing was written here (the element of an empty `Vec`, the
    /// content of an `Option` that was always `None`).
    Unknown,
    /// Not known: a field of a checkpoint older than format version 3, or a
    /// type its tracer could not describe. Read as the reader's type says.
    Opaque,
    /// The same as the enclosing node it names: a recursive type.
    Ref(NodeId),
    /// A primitive, string, bytes or unit.
    Leaf(Leaf),
    /// `Option<T>`.
    Option(NodeId),
    /// A sequence with a length: `Vec<T>`, `HashSet<T>`, ...
    Seq(NodeId),
    /// A map: key and value.
    Map(NodeId, NodeId),
    /// A tuple or array: one node per position.
    Tuple(Vec<NodeId>),
    /// `struct Name;`
    UnitStruct(Name),
    /// `struct Name(T);`
    Newtype(Name, NodeId),
    /// `struct Name(A, B);`
    TupleStruct(Name, Vec<NodeId>),
    /// `struct Name { a: A }`: the fields in written order.
    Struct(Name, Vec<(Name, NodeId)>),
    /// `enum Name { ... }`: the variants written, by index.
    Enum(Name, Vec<Variant>),
}

/// One variant of an enum, as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Variant {
    /// The index it is encoded with.
    pub index: u32,
    /// Its serde name.
    pub name: Name,
    /// What it carries.
    pub content: Content,
}

/// The position of variant `index` in `variants` (sorted by index): where
/// variants are recorded densely, its own index.
#[inline]
pub(crate) fn find_variant(variants: &[Variant], index: u32) -> Result<usize, usize> {
    match variants.get(index as usize) {
        Some(v) if v.index == index => Ok(index as usize),
        _ => variants.binary_search_by_key(&index, |v| v.index),
    }
}

/// What a variant carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Content {
    /// Nothing.
    Unit,
    /// One value: its node.
    Newtype(NodeId),
    /// Several values: a [`SchemaNode::Tuple`].
    Tuple(NodeId),
    /// Named fields: a [`SchemaNode::Struct`] named after the variant.
    Struct(NodeId),
}

/// A primitive of serde's data model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub enum Leaf {
    Unit,
    Bool,
    I8,
    I16,
    I32,
    I64,
    I128,
    U8,
    U16,
    U32,
    U64,
    U128,
    F32,
    F64,
    Char,
    Str,
    Bytes,
}

impl Leaf {
    /// The Rust type the leaf is written as.
    pub fn type_name(self) -> &'static str {
        match self {
            Leaf::Unit => "()",
            Leaf::Bool => "bool",
            Leaf::I8 => "i8",
            Leaf::I16 => "i16",
            Leaf::I32 => "i32",
            Leaf::I64 => "i64",
            Leaf::I128 => "i128",
            Leaf::U8 => "u8",
            Leaf::U16 => "u16",
            Leaf::U32 => "u32",
            Leaf::U64 => "u64",
            Leaf::U128 => "u128",
            Leaf::F32 => "f32",
            Leaf::F64 => "f64",
            Leaf::Char => "char",
            Leaf::Str => "String",
            Leaf::Bytes => "bytes",
        }
    }

    /// Whether every value written as `self` reads exactly as `to`: the
    /// same leaf, or a lossless widening (an integer into a wider one that
    /// holds all its values, `f32` into `f64`).
    pub fn widens_to(self, to: Leaf) -> bool {
        use Leaf::*;
        let rank = |l: Leaf| match l {
            U8 | I8 => 1,
            U16 | I16 => 2,
            U32 | I32 => 3,
            U64 | I64 => 4,
            U128 | I128 => 5,
            _ => 0,
        };
        let unsigned = |l: Leaf| matches!(l, U8 | U16 | U32 | U64 | U128);
        let signed = |l: Leaf| matches!(l, I8 | I16 | I32 | I64 | I128);
        self == to
            || (self, to) == (F32, F64)
            || (unsigned(self) && unsigned(to) && rank(self) < rank(to))
            || (signed(self) && signed(to) && rank(self) < rank(to))
            || (unsigned(self) && signed(to) && rank(self) < rank(to))
    }
}

/// Deepest nesting of schema nodes followed when printing or skipping: far
/// beyond any type, and a bound on hostile input.
pub(crate) const MAX_DEPTH: usize = 256;

/// Past this many bytes a type's name is cut short with `..`.
const MAX_TYPE_NAME: usize = 256;

/// Past this many bytes a printed schema tree is cut short.
const MAX_TREE: usize = 1 << 20;

/// `tree`, with a last line saying so when it reached [`MAX_TREE`].
fn cut_short(mut tree: String) -> String {
    if tree.len() >= MAX_TREE {
        tree.push_str("... (the rest of the tree is not shown)\n");
    }
    tree
}

impl DeepSchema {
    /// Appends `node` to a schema built from a stored description (version
    /// 2's field shapes) rather than recorded; returns its id.
    pub(crate) fn push_built(&mut self, node: SchemaNode) -> NodeId {
        self.nodes.push(node);
        (self.nodes.len() - 1) as NodeId
    }

    /// Replaces node `id` of a schema being built.
    pub(crate) fn set_built(&mut self, id: NodeId, node: SchemaNode) {
        self.nodes[id as usize] = node;
    }

    /// Adds the root of stored field `key` to a schema being built.
    pub(crate) fn push_root(&mut self, key: Name, id: NodeId) {
        self.roots.push((key, id));
    }

    /// Each stored field (`Variant::field` in an enum) and its node.
    pub fn roots(&self) -> &[(Name, NodeId)] {
        &self.roots
    }

    /// The node at `id`; `Unknown` for an id out of range.
    #[inline]
    pub fn node(&self, id: NodeId) -> &SchemaNode {
        self.nodes.get(id as usize).unwrap_or(&SchemaNode::Unknown)
    }

    /// The node of stored field `key` (`Variant::field` in an enum).
    pub fn root(&self, key: &str) -> Option<NodeId> {
        self.roots.iter().find(|(k, _)| k == key).map(|(_, id)| *id)
    }

    /// The node `id` stands for: itself, or what its [`SchemaNode::Ref`]
    /// names.
    #[inline]
    pub(crate) fn follow(&self, id: NodeId) -> NodeId {
        match self.node(id) {
            SchemaNode::Ref(to) => *to,
            _ => id,
        }
    }

    /// Checks every index a stored schema holds, so that reading it cannot
    /// go out of range.
    pub(crate) fn validate(&self) -> Result<(), String> {
        let n = self.nodes.len();
        let ok = |id: &NodeId| (*id as usize) < n;
        let bad = |what: &str| Err(format!("a {what} refers past its {n} nodes"));
        for (_, id) in &self.roots {
            if !ok(id) {
                return bad("field");
            }
        }
        for node in &self.nodes {
            let valid = match node {
                SchemaNode::Ref(to) => {
                    ok(to) && !matches!(self.nodes[*to as usize], SchemaNode::Ref(_))
                }
                SchemaNode::Option(c) | SchemaNode::Seq(c) | SchemaNode::Newtype(_, c) => ok(c),
                SchemaNode::Map(k, v) => ok(k) && ok(v),
                SchemaNode::Tuple(cs) | SchemaNode::TupleStruct(_, cs) => cs.iter().all(ok),
                SchemaNode::Struct(_, fs) => fs.iter().all(|(_, c)| ok(c)),
                SchemaNode::Enum(_, vs) => {
                    vs.windows(2).all(|w| w[0].index < w[1].index)
                        && vs.iter().all(|v| match &v.content {
                            Content::Unit => true,
                            Content::Newtype(c) => ok(c),
                            Content::Tuple(c) => {
                                ok(c) && matches!(self.nodes[*c as usize], SchemaNode::Tuple(_))
                            }
                            Content::Struct(c) => {
                                ok(c) && matches!(self.nodes[*c as usize], SchemaNode::Struct(..))
                            }
                        })
                }
                _ => true,
            };
            if !valid {
                return bad("node");
            }
        }
        Ok(())
    }

    /// The type written at `id`, in one line: `Vec<Task>`, `Option<u32>`.
    pub fn type_name(&self, id: NodeId) -> String {
        let mut out = String::new();
        self.write_type(&mut out, id, 0);
        out
    }

    fn write_type(&self, out: &mut String, id: NodeId, depth: usize) {
        // Nodes may share children: a schema small on disk can be
        // exponentially large as a tree, so the name is cut short by length
        // as well as by depth.
        if depth > 8 || out.len() > MAX_TYPE_NAME {
            out.push_str("..");
            return;
        }
        let d = depth + 1;
        match self.node(id) {
            SchemaNode::Unknown => out.push('?'),
            SchemaNode::Opaque => out.push_str("<not recorded>"),
            SchemaNode::Ref(to) => self.write_type(out, *to, 8),
            SchemaNode::Leaf(l) => out.push_str(l.type_name()),
            SchemaNode::Option(c) => {
                out.push_str("Option<");
                self.write_type(out, *c, d);
                out.push('>');
            }
            SchemaNode::Seq(c) => {
                out.push_str("Vec<");
                self.write_type(out, *c, d);
                out.push('>');
            }
            SchemaNode::Map(k, v) => {
                out.push_str("Map<");
                self.write_type(out, *k, d);
                out.push_str(", ");
                self.write_type(out, *v, d);
                out.push('>');
            }
            SchemaNode::Tuple(cs) => {
                out.push('(');
                for (i, c) in cs.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    if out.len() > MAX_TYPE_NAME {
                        out.push_str("..");
                        break;
                    }
                    self.write_type(out, *c, d);
                }
                out.push(')');
            }
            SchemaNode::UnitStruct(n)
            | SchemaNode::Newtype(n, _)
            | SchemaNode::TupleStruct(n, _)
            | SchemaNode::Struct(n, _)
            | SchemaNode::Enum(n, _) => out.push_str(n),
        }
    }

    /// The schema as an indented tree, one line per field, element, variant
    /// and leaf; a recursive type's inner occurrences print as
    /// `(recursive Name)`.
    ///
    /// Nodes may share children, so a schema small on disk can be
    /// exponentially large as a tree: past 1 MiB the tree ends with a line
    /// saying the rest is not shown.
    pub fn display_tree(&self) -> String {
        let mut out = String::new();
        for (name, id) in &self.roots {
            self.tree(&mut out, name, *id, 0);
        }
        cut_short(out)
    }

    /// The type written at `id` and, below it, its tree as
    /// [`display_tree`](Self::display_tree) prints it (as far as it does).
    pub fn field_tree(&self, id: NodeId) -> String {
        let mut out = format!("{}\n", self.type_name(id));
        self.below(&mut out, id, 1);
        cut_short(out)
    }

    fn tree(&self, out: &mut String, label: &str, id: NodeId, depth: usize) {
        if out.len() >= MAX_TREE {
            return;
        }
        let indent = "  ".repeat(depth);
        let kind = match self.node(id) {
            SchemaNode::Struct(..) | SchemaNode::UnitStruct(_) => "struct ",
            SchemaNode::TupleStruct(..) | SchemaNode::Newtype(..) => "struct ",
            SchemaNode::Enum(..) => "enum ",
            SchemaNode::Ref(_) => "recursive ",
            _ => "",
        };
        let _ = writeln!(out, "{indent}{label}: {kind}{}", self.type_name(id));
        if depth < MAX_DEPTH {
            self.below(out, id, depth + 1);
        }
    }

    /// The lines below node `id`, at depth `d`.
    fn below(&self, out: &mut String, id: NodeId, d: usize) {
        let indent = "  ".repeat(d);
        match self.node(id) {
            SchemaNode::Option(c) => self.tree(out, "some", *c, d),
            SchemaNode::Seq(c) => self.tree(out, "[]", *c, d),
            SchemaNode::Map(k, v) => {
                self.tree(out, "{key}", *k, d);
                self.tree(out, "{value}", *v, d);
            }
            SchemaNode::Tuple(cs) | SchemaNode::TupleStruct(_, cs) => {
                for (i, c) in cs.iter().enumerate() {
                    if out.len() >= MAX_TREE {
                        break;
                    }
                    self.tree(out, &i.to_string(), *c, d);
                }
            }
            SchemaNode::Newtype(_, c) => self.tree(out, "0", *c, d),
            SchemaNode::Struct(_, fs) => {
                for (n, c) in fs {
                    if out.len() >= MAX_TREE {
                        break;
                    }
                    self.tree(out, n, *c, d);
                }
            }
            SchemaNode::Enum(_, vs) => {
                for v in vs {
                    if out.len() >= MAX_TREE {
                        break;
                    }
                    let label = format!("::{} (#{})", v.name, v.index);
                    match v.content {
                        Content::Unit => {
                            let _ = writeln!(out, "{indent}{label}");
                        }
                        Content::Newtype(c) => self.tree(out, &label, c, d),
                        Content::Tuple(c) | Content::Struct(c) => {
                            let _ = writeln!(out, "{indent}{label}");
                            if d < MAX_DEPTH {
                                self.below(out, c, d + 1);
                            }
                        }
                    }
                }
            }
            _ => {}
        }
    }
}

/// One step of a path into a value, as errors name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Seg {
    /// `.name`
    Field(String),
    /// `[]`
    Element,
    /// `{key}`
    Key,
    /// `{value}`
    Value,
    /// `.0`
    Index(usize),
    /// `::Variant`
    Variant(String),
}

/// A path collected innermost first, as an error travels out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Path(pub(crate) Vec<Seg>);

impl Path {
    pub(crate) fn push(&mut self, seg: Seg) {
        self.0.push(seg);
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for seg in self.0.iter().rev() {
            match seg {
                Seg::Field(n) => write!(f, ".{n}")?,
                Seg::Element => f.write_str("[]")?,
                Seg::Key => f.write_str("{key}")?,
                Seg::Value => f.write_str("{value}")?,
                Seg::Index(i) => write!(f, ".{i}")?,
                Seg::Variant(v) => write!(f, "::{v}")?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
