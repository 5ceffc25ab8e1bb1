//! Reading bytes as the writer's schema says, into the reader's types, by
//! name: a `serde::Deserializer` around postcard's.
//!
//! Where the writer and the reader agree (the same leaf, a struct with the
//! same fields in the same order) the bytes pass straight to the reader.
//! Where they differ, the writer's schema decides how to read and the
//! names serde passes decide where the value goes: a struct written with
//! other fields is presented as a map in written order (so fields match by
//! name and alias, fields only the writer has are skipped, and fields only
//! the reader has take their `#[serde(default)]`), an enum variant is
//! handed over by name, and a leaf widens losslessly or is a named type
//! change. Nothing is read as something it was not written as.

use std::cell::{Cell, OnceCell};

use serde::de::{self, Visitor};
use serde::Deserialize;

use postcard::de_flavors::Slice;

use self::access::{same_layout, structure, Entries, Items, Nodes, OneVariant, Written};
use self::leaf::{passthrough, read_leaf, read_same};
use super::skip::{skip, Skips};
use super::{DeepSchema, Leaf, NodeId, SchemaNode, Variant};

mod access;
mod error;
mod leaf;

pub(crate) use self::error::{decode, ResolveError, ResolveFailure, ResolveKind};

pub(super) type Postcard<'de> = postcard::Deserializer<'de, Slice<'de>>;

/// A writer's schema and what resolving it has learnt.
#[derive(Debug)]
pub(crate) struct Ctx<'s> {
    pub(crate) schema: &'s DeepSchema,
    /// Per node, the reader's field list found equal to the writer's.
    same: Vec<Cell<usize>>,
    /// What skipping values only the writer has needs, once one is.
    skips: OnceCell<Skips>,
}

impl<'s> Ctx<'s> {
    pub(crate) fn new(schema: &'s DeepSchema) -> Self {
        Ctx {
            schema,
            same: (0..schema.nodes.len()).map(|_| Cell::new(0)).collect(),
            skips: OnceCell::new(),
        }
    }

    pub(super) fn skips(&self) -> &Skips {
        self.skips.get_or_init(|| Skips::new(self.schema))
    }
}

/// The bytes being read and the writer's schema they are read through.
pub(crate) struct Reading<'c, 'de> {
    pub(crate) de: Postcard<'de>,
    pub(crate) cx: &'c Ctx<'c>,
}

/// Reads one value written at `at`. Two words, so that it passes in
/// registers into each reader's `Deserialize`.
pub(crate) struct Resolver<'a, 'c, 'de> {
    pub(crate) r: &'a mut Reading<'c, 'de>,
    pub(crate) at: NodeId,
}

/// Reads a whole value of `T` written at node `at` from `bytes`; the bytes
/// must hold exactly it.
pub(crate) fn from_bytes<'de, T: Deserialize<'de>>(
    bytes: &'de [u8],
    cx: &Ctx<'_>,
    at: NodeId,
) -> Result<T, ResolveError> {
    let mut r = Reading {
        de: Postcard::from_bytes(bytes),
        cx,
    };
    let value = T::deserialize(Resolver { r: &mut r, at })?;
    let rest = r.de.finalize().map_err(decode)?;
    if !rest.is_empty() {
        return Err(ResolveError::new(ResolveKind::Decode(format!(
            "{} bytes are left over after the value",
            rest.len()
        ))));
    }
    Ok(value)
}

impl<'a, 'c, 'de> Resolver<'a, 'c, 'de> {
    #[inline]
    fn schema(&self) -> &'c DeepSchema {
        self.r.cx.schema
    }

    fn child(&mut self, at: NodeId) -> Resolver<'_, 'c, 'de> {
        Resolver { r: self.r, at }
    }

    /// The node written here, past back references and newtype wrappers
    /// (postcard writes a newtype as its content).
    #[inline]
    fn peel(&self) -> (NodeId, &'c SchemaNode) {
        let schema = self.schema();
        let mut id = schema.follow(self.at);
        for _ in 0..64 {
            match schema.node(id) {
                SchemaNode::Newtype(_, c) => id = schema.follow(*c),
                _ => break,
            }
        }
        (id, schema.node(id))
    }

    fn changed(&self, id: NodeId, to: impl Into<String>) -> ResolveError {
        match self.schema().node(id) {
            SchemaNode::Unknown => ResolveError::new(ResolveKind::Decode(
                "a value is present where none was recorded".into(),
            )),
            _ => ResolveError::new(ResolveKind::TypeChanged {
                from: self.schema().type_name(id),
                to: to.into(),
            }),
        }
    }

    #[inline]
    fn leaf<V: Visitor<'de>>(self, want: Leaf, visitor: V) -> Result<V::Value, ResolveError> {
        if let SchemaNode::Leaf(have) = self.schema().node(self.at) {
            if *have == want {
                return read_same(&mut self.r.de, want, visitor);
            }
        }
        self.leaf_resolved(want, visitor)
    }

    #[inline(never)]
    fn leaf_resolved<V: Visitor<'de>>(
        self,
        want: Leaf,
        visitor: V,
    ) -> Result<V::Value, ResolveError> {
        let (id, node) = self.peel();
        match node {
            SchemaNode::Leaf(have) if have.widens_to(want) => {
                read_leaf(&mut self.r.de, *have, want, visitor)
            }
            SchemaNode::UnitStruct(_) if want == Leaf::Unit => visitor.visit_unit(),
            SchemaNode::Opaque => passthrough(&mut self.r.de, want, visitor),
            _ => Err(self.changed(id, want.type_name())),
        }
    }
}

/// Hands `$then` each of serde's leaf methods with the leaf it reads.
macro_rules! every_leaf {
    ($then:ident) => {
        $then! {
            deserialize_bool => Bool,
            deserialize_i8 => I8,
            deserialize_i16 => I16,
            deserialize_i32 => I32,
            deserialize_i64 => I64,
            deserialize_i128 => I128,
            deserialize_u8 => U8,
            deserialize_u16 => U16,
            deserialize_u32 => U32,
            deserialize_u64 => U64,
            deserialize_u128 => U128,
            deserialize_f32 => F32,
            deserialize_f64 => F64,
            deserialize_char => Char,
            deserialize_str => Str,
            deserialize_string => Str,
            deserialize_bytes => Bytes,
            deserialize_byte_buf => Bytes,
            deserialize_unit => Unit,
        }
    };
}
use every_leaf;

macro_rules! leaves {
    ($($method:ident => $leaf:ident,)*) => {$(
        #[inline]
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ResolveError> {
            self.leaf(Leaf::$leaf, visitor)
        }
    )*};
}

/// Hands a value whose node is opaque to postcard as the reader asks.
macro_rules! opaque {
    ($self:ident, $call:expr) => {
        if matches!(
            $self.schema().node($self.schema().follow($self.at)),
            SchemaNode::Opaque
        ) {
            #[allow(unused_imports)]
            use serde::Deserializer as _;
            let de = &mut $self.r.de;
            return $call(de).map_err(decode);
        }
    };
}

impl<'c, 'de> de::Deserializer<'de> for Resolver<'_, 'c, 'de> {
    type Error = ResolveError;

    every_leaf!(leaves);

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ResolveError> {
        opaque!(self, |de: &mut Postcard<'de>| de.deserialize_any(visitor));
        Err(ResolveError::new(ResolveKind::SelfDescribing))
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(
        self,
        visitor: V,
    ) -> Result<V::Value, ResolveError> {
        skip(&mut self.r.de, self.r.cx, self.at, 0)?;
        visitor.visit_unit()
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ResolveError> {
        opaque!(self, |de: &mut Postcard<'de>| de
            .deserialize_identifier(visitor));
        match self.peel() {
            (_, SchemaNode::Leaf(l)) => read_leaf(&mut self.r.de, *l, *l, visitor),
            (id, _) => Err(self.changed(id, "an identifier")),
        }
    }

    #[inline]
    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ResolveError> {
        if let Some(SchemaNode::Option(c)) = self.schema().nodes.get(self.at as usize) {
            return match u8::deserialize(&mut self.r.de) {
                Ok(0) => visitor.visit_none(),
                Ok(1) => {
                    let at = *c;
                    visitor.visit_some(Resolver { r: self.r, at })
                }
                Ok(_) => Err(bad_option_tag()),
                Err(e) => Err(decode(e)),
            };
        }
        self.option_resolved(visitor)
    }

    #[inline]
    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, ResolveError> {
        if let Some(SchemaNode::Struct(_, written)) = self.schema().nodes.get(self.at as usize) {
            if self.r.cx.same_fields(self.at, written, fields) {
                return same_layout(self.r, written, name, visitor);
            }
        }
        self.struct_resolved(name, fields, visitor)
    }

    #[inline]
    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, ResolveError> {
        if let Some(SchemaNode::Enum(_, written)) = self.schema().nodes.get(self.at as usize) {
            return self.variant(written, name, variants, visitor);
        }
        self.enum_resolved(name, variants, visitor)
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, ResolveError> {
        opaque!(self, |de: &mut Postcard<'de>| de
            .deserialize_unit_struct(name, visitor));
        match self.peel() {
            (_, SchemaNode::UnitStruct(_) | SchemaNode::Leaf(Leaf::Unit)) => visitor.visit_unit(),
            (id, _) => Err(self.changed(id, name)),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        mut self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, ResolveError> {
        opaque!(self, |de: &mut Postcard<'de>| de
            .deserialize_newtype_struct(name, visitor));
        match self.schema().node(self.schema().follow(self.at)) {
            SchemaNode::Newtype(_, c) => visitor.visit_newtype_struct(self.child(*c)),
            // `T` read as `struct Name(T)`: postcard writes both alike.
            _ => visitor.visit_newtype_struct(self),
        }
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ResolveError> {
        opaque!(self, |de: &mut Postcard<'de>| de.deserialize_seq(visitor));
        match self.peel() {
            (_, SchemaNode::Seq(c)) => {
                let len = usize::deserialize(&mut self.r.de).map_err(decode)?;
                let nodes = match self.schema().node(*c) {
                    SchemaNode::Leaf(leaf) => Nodes::Leaves(*c, *leaf, len),
                    _ => Nodes::Same(*c, len),
                };
                visitor.visit_seq(Items {
                    r: self.r,
                    nodes,
                    i: 0,
                })
            }
            // An array or tuple read as a sequence: every element is there.
            (_, SchemaNode::Tuple(cs) | SchemaNode::TupleStruct(_, cs)) => {
                visitor.visit_seq(Items {
                    r: self.r,
                    nodes: Nodes::Each(cs),
                    i: 0,
                })
            }
            (id, _) => Err(self.changed(id, "a sequence")),
        }
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, ResolveError> {
        opaque!(self, |de: &mut Postcard<'de>| de
            .deserialize_tuple(len, visitor));
        match self.peel() {
            (_, SchemaNode::Tuple(cs) | SchemaNode::TupleStruct(_, cs)) if cs.len() == len => {
                visitor.visit_seq(Items {
                    r: self.r,
                    nodes: Nodes::Each(cs),
                    i: 0,
                })
            }
            (id, _) => Err(self.changed(id, format!("a tuple of {len}"))),
        }
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, ResolveError> {
        opaque!(self, |de: &mut Postcard<'de>| de
            .deserialize_tuple_struct(name, len, visitor));
        match self.peel() {
            (_, SchemaNode::Tuple(cs) | SchemaNode::TupleStruct(_, cs)) if cs.len() == len => {
                visitor.visit_seq(Items {
                    r: self.r,
                    nodes: Nodes::Each(cs),
                    i: 0,
                })
            }
            (id, _) => Err(self.changed(id, format!("{name} (a tuple struct of {len})"))),
        }
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ResolveError> {
        opaque!(self, |de: &mut Postcard<'de>| de.deserialize_map(visitor));
        match self.peel() {
            (_, SchemaNode::Map(k, v)) => {
                let len = usize::deserialize(&mut self.r.de).map_err(decode)?;
                visitor.visit_map(Entries {
                    r: self.r,
                    key: *k,
                    value: *v,
                    left: len,
                })
            }
            (id, _) => Err(self.changed(id, "a map")),
        }
    }

    fn is_human_readable(&self) -> bool {
        false
    }
}

#[cold]
#[inline(never)]
fn unrecorded_variant(index: u32, name: &str) -> ResolveError {
    ResolveError::new(ResolveKind::Decode(format!(
        "variant #{index} of `{name}` was never recorded"
    )))
}

#[cold]
#[inline(never)]
fn bad_option_tag() -> ResolveError {
    ResolveError::new(ResolveKind::Decode(
        "an `Option` tag is neither 0 nor 1".into(),
    ))
}

impl<'a, 'c, 'de> Resolver<'a, 'c, 'de> {
    #[inline(never)]
    fn option_resolved<V: Visitor<'de>>(mut self, visitor: V) -> Result<V::Value, ResolveError> {
        opaque!(self, |de: &mut Postcard<'de>| de
            .deserialize_option(visitor));
        match self.peel() {
            (_, SchemaNode::Option(c)) => match u8::deserialize(&mut self.r.de).map_err(decode)? {
                0 => visitor.visit_none(),
                1 => visitor.visit_some(self.child(*c)),
                _ => Err(bad_option_tag()),
            },
            (id, SchemaNode::Unknown) => Err(self.changed(id, "Option")),
            // `T` read as `Option<T>`: always `Some`.
            _ => visitor.visit_some(self),
        }
    }

    #[inline(never)]
    fn struct_resolved<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, ResolveError> {
        opaque!(self, |de: &mut Postcard<'de>| de
            .deserialize_struct(name, fields, visitor));
        match self.peel() {
            (id, SchemaNode::Struct(_, written)) => {
                structure(self.r, id, written, name, fields, visitor)
            }
            (id, _) => Err(self.changed(id, format!("struct {name}"))),
        }
    }

    #[inline(never)]
    fn enum_resolved<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, ResolveError> {
        opaque!(self, |de: &mut Postcard<'de>| de
            .deserialize_enum(name, variants, visitor));
        let (id, node) = self.peel();
        let SchemaNode::Enum(_, written) = node else {
            return Err(self.changed(id, format!("enum {name}")));
        };
        self.variant(written, name, variants, visitor)
    }

    /// Reads a variant index and hands the variant it was written as to
    /// the reader, by name.
    #[inline]
    fn variant<V: Visitor<'de>>(
        self,
        written: &'c [Variant],
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, ResolveError> {
        let index = u32::deserialize(&mut self.r.de).map_err(decode)?;
        let Ok(at) = super::find_variant(written, index) else {
            return Err(unrecorded_variant(index, name));
        };
        let written = Written {
            variant: &written[at],
            hints: variants,
            ty: name,
        };
        visitor.visit_enum(OneVariant {
            r: self.r,
            written: &written,
        })
    }
}
