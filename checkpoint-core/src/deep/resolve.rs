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

use std::cell::Cell;

use serde::de::{
    self, DeserializeSeed, EnumAccess, IntoDeserializer, MapAccess, SeqAccess, VariantAccess,
    Visitor,
};
use serde::Deserialize;

use postcard::de_flavors::Slice;

use super::skip::skip;
use super::{Content, DeepSchema, Leaf, Name, NodeId, Path, SchemaNode, Seg, Variant};

type Postcard<'de> = postcard::Deserializer<'de, Slice<'de>>;

/// Why a value cannot be read as the reader's type, and where. One
/// pointer wide, so that the results of the many small reads stay small.
#[derive(Debug)]
pub(crate) struct ResolveError(Box<ResolveFailure>);

#[derive(Debug)]
pub(crate) struct ResolveFailure {
    pub(crate) kind: ResolveKind,
    pub(crate) path: Path,
}

impl std::ops::Deref for ResolveError {
    type Target = ResolveFailure;
    fn deref(&self) -> &ResolveFailure {
        &self.0
    }
}

impl std::ops::DerefMut for ResolveError {
    fn deref_mut(&mut self) -> &mut ResolveFailure {
        &mut self.0
    }
}

#[derive(Debug)]
pub(crate) enum ResolveKind {
    /// The writer wrote `from` where the reader reads `to`.
    TypeChanged { from: String, to: String },
    /// The reader's struct has a field the writer did not write.
    MissingField { field: String, ty: Option<String> },
    /// The writer wrote a variant the reader's enum does not have.
    VariantRemoved { variant: String, ty: String },
    /// The reader needs a self-describing format.
    SelfDescribing,
    /// The reader's `Deserialize` refused the value.
    Custom(String),
    /// The bytes do not match the writer's schema.
    Decode(String),
}

impl ResolveError {
    fn new(kind: ResolveKind) -> Self {
        ResolveError(Box::new(ResolveFailure {
            kind,
            path: Path::default(),
        }))
    }

    fn at(mut self, seg: Seg) -> Self {
        self.path.push(seg);
        self
    }

    /// A phrase saying what differs, without the path.
    pub(crate) fn change(&self) -> String {
        match &self.kind {
            ResolveKind::TypeChanged { from, to } => {
                format!("type changed from `{from}` to `{to}`")
            }
            ResolveKind::MissingField { field, ty } => match ty {
                Some(ty) => {
                    format!("field `{field}` was added to `{ty}` since the checkpoint was written")
                }
                None => format!("field `{field}` was added since the checkpoint was written"),
            },
            ResolveKind::VariantRemoved { variant, ty } => {
                format!("the checkpoint holds variant `{variant}`, which `{ty}` no longer has")
            }
            ResolveKind::SelfDescribing => "its type reads itself through `deserialize_any`, \
                which needs a self-describing format (`serde_json::Value`, \
                `#[serde(untagged)]`, internally tagged enums, `#[serde(flatten)]`)"
                .to_owned(),
            ResolveKind::Custom(m) => m.clone(),
            ResolveKind::Decode(m) => format!("the bytes do not match their recorded schema: {m}"),
        }
    }

    /// What to do about it.
    pub(crate) fn fix(&self) -> &'static str {
        match &self.kind {
            ResolveKind::TypeChanged { .. } => {
                "to read the old form, add `#[checkpoint(was = OldType, convert = ...)]` to the field"
            }
            ResolveKind::MissingField { .. } => {
                "give the new field `#[serde(default)]` to restore checkpoints written before it existed"
            }
            ResolveKind::VariantRemoved { .. } => {
                "add the variant back (or `#[serde(alias = \"...\")]` to the variant it became)"
            }
            ResolveKind::SelfDescribing => {
                "store it as a `String` (e.g. `serde_json::to_string`) or mark the field `#[derived(from = ...)]`"
            }
            ResolveKind::Custom(_) | ResolveKind::Decode(_) => {
                "to read the old form, add `#[checkpoint(was = OldType, convert = ...)]` to the field"
            }
        }
    }

    /// Whether the writer and reader disagree on a type (rather than the
    /// bytes being bad).
    pub(crate) fn is_type_change(&self) -> bool {
        matches!(self.kind, ResolveKind::TypeChanged { .. })
    }
}

impl std::fmt::Display for ResolveError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "`{}`: {}", self.path, self.change())
    }
}

impl std::error::Error for ResolveError {}

impl de::Error for ResolveError {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        ResolveError::new(ResolveKind::Custom(msg.to_string()))
    }

    fn missing_field(field: &'static str) -> Self {
        ResolveError::new(ResolveKind::MissingField {
            field: field.to_owned(),
            ty: None,
        })
    }
}

pub(crate) fn decode(e: postcard::Error) -> ResolveError {
    ResolveError::new(ResolveKind::Decode(e.to_string()))
}

/// A writer's schema and what resolving it has learnt.
#[derive(Debug)]
pub(crate) struct Ctx<'s> {
    pub(crate) schema: &'s DeepSchema,
    /// Per node, the reader's field list found equal to the writer's.
    same: Vec<Cell<usize>>,
}

impl<'s> Ctx<'s> {
    pub(crate) fn new(schema: &'s DeepSchema) -> Self {
        Ctx {
            schema,
            same: (0..schema.nodes.len()).map(|_| Cell::new(0)).collect(),
        }
    }
}

/// Reads one value written at `at`.
pub(crate) struct Resolver<'a, 'de> {
    pub(crate) de: &'a mut Postcard<'de>,
    pub(crate) cx: &'a Ctx<'a>,
    pub(crate) at: NodeId,
}

/// Reads a whole value of `T` written at node `at` from `bytes`; the bytes
/// must hold exactly it.
pub(crate) fn from_bytes<'de, T: Deserialize<'de>>(
    bytes: &'de [u8],
    cx: &Ctx<'_>,
    at: NodeId,
) -> Result<T, ResolveError> {
    let mut de = Postcard::from_bytes(bytes);
    let value = T::deserialize(Resolver {
        de: &mut de,
        cx,
        at,
    })?;
    let rest = de.finalize().map_err(decode)?;
    if !rest.is_empty() {
        return Err(ResolveError::new(ResolveKind::Decode(format!(
            "{} bytes are left over after the value",
            rest.len()
        ))));
    }
    Ok(value)
}

impl<'a, 'de> Resolver<'a, 'de> {
    #[inline]
    fn schema(&self) -> &'a DeepSchema {
        self.cx.schema
    }

    fn child(&mut self, at: NodeId) -> Resolver<'_, 'de> {
        Resolver {
            de: self.de,
            cx: self.cx,
            at,
        }
    }

    /// The node written here, past back references and newtype wrappers
    /// (postcard writes a newtype as its content).
    #[inline]
    fn peel(&self) -> (NodeId, &'a SchemaNode) {
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
                return read_same(self.de, want, visitor);
            }
        }
        self.leaf_resolved(want, visitor)
    }

    fn leaf_resolved<V: Visitor<'de>>(
        self,
        want: Leaf,
        visitor: V,
    ) -> Result<V::Value, ResolveError> {
        let (id, node) = self.peel();
        match node {
            SchemaNode::Leaf(have) if have.widens_to(want) => {
                read_leaf(self.de, *have, want, visitor)
            }
            SchemaNode::UnitStruct(_) if want == Leaf::Unit => visitor.visit_unit(),
            SchemaNode::Opaque => passthrough(self.de, want, visitor),
            _ => Err(self.changed(id, want.type_name())),
        }
    }
}

/// Reads a leaf written as the type the reader asks for.
#[inline]
fn read_same<'de, V: Visitor<'de>>(
    de: &mut Postcard<'de>,
    leaf: Leaf,
    visitor: V,
) -> Result<V::Value, ResolveError> {
    macro_rules! read {
        ($t:ty, $visit:ident) => {
            visitor.$visit(<$t>::deserialize(&mut *de).map_err(decode)?)
        };
    }
    match leaf {
        Leaf::Unit => visitor.visit_unit(),
        Leaf::Bool => read!(bool, visit_bool),
        Leaf::I8 => read!(i8, visit_i8),
        Leaf::I16 => read!(i16, visit_i16),
        Leaf::I32 => read!(i32, visit_i32),
        Leaf::I64 => read!(i64, visit_i64),
        Leaf::I128 => read!(i128, visit_i128),
        Leaf::U8 => read!(u8, visit_u8),
        Leaf::U16 => read!(u16, visit_u16),
        Leaf::U32 => read!(u32, visit_u32),
        Leaf::U64 => read!(u64, visit_u64),
        Leaf::U128 => read!(u128, visit_u128),
        Leaf::F32 => read!(f32, visit_f32),
        Leaf::F64 => read!(f64, visit_f64),
        Leaf::Char => read!(char, visit_char),
        Leaf::Str => read!(&str, visit_borrowed_str),
        Leaf::Bytes => read!(&[u8], visit_borrowed_bytes),
    }
}

fn read_leaf<'de, V: Visitor<'de>>(
    de: &mut Postcard<'de>,
    have: Leaf,
    want: Leaf,
    visitor: V,
) -> Result<V::Value, ResolveError> {
    macro_rules! int {
        ($t:ty) => {
            visit_int(
                visitor,
                want,
                i128::from(<$t>::deserialize(&mut *de).map_err(decode)?),
            )
        };
    }
    match have {
        Leaf::Unit => visitor.visit_unit(),
        Leaf::Bool => visitor.visit_bool(bool::deserialize(&mut *de).map_err(decode)?),
        Leaf::I8 => int!(i8),
        Leaf::I16 => int!(i16),
        Leaf::I32 => int!(i32),
        Leaf::I64 => int!(i64),
        Leaf::I128 => visitor.visit_i128(i128::deserialize(&mut *de).map_err(decode)?),
        Leaf::U8 => int!(u8),
        Leaf::U16 => int!(u16),
        Leaf::U32 => int!(u32),
        Leaf::U64 => int!(u64),
        Leaf::U128 => visitor.visit_u128(u128::deserialize(&mut *de).map_err(decode)?),
        Leaf::F32 => {
            let v = f32::deserialize(&mut *de).map_err(decode)?;
            if want == Leaf::F64 {
                visitor.visit_f64(f64::from(v))
            } else {
                visitor.visit_f32(v)
            }
        }
        Leaf::F64 => visitor.visit_f64(f64::deserialize(&mut *de).map_err(decode)?),
        Leaf::Char => visitor.visit_char(char::deserialize(&mut *de).map_err(decode)?),
        Leaf::Str => visitor.visit_borrowed_str(<&str>::deserialize(&mut *de).map_err(decode)?),
        Leaf::Bytes => {
            visitor.visit_borrowed_bytes(<&[u8]>::deserialize(&mut *de).map_err(decode)?)
        }
    }
}

/// Visits an integer as the type the reader asked for; the widening table
/// ([`Leaf::widens_to`]) guarantees it fits.
fn visit_int<'de, V: Visitor<'de>>(
    visitor: V,
    want: Leaf,
    v: i128,
) -> Result<V::Value, ResolveError> {
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    match want {
        Leaf::I8 => visitor.visit_i8(v as i8),
        Leaf::I16 => visitor.visit_i16(v as i16),
        Leaf::I32 => visitor.visit_i32(v as i32),
        Leaf::I64 => visitor.visit_i64(v as i64),
        Leaf::I128 => visitor.visit_i128(v),
        Leaf::U8 => visitor.visit_u8(v as u8),
        Leaf::U16 => visitor.visit_u16(v as u16),
        Leaf::U32 => visitor.visit_u32(v as u32),
        Leaf::U64 => visitor.visit_u64(v as u64),
        Leaf::U128 => visitor.visit_u128(v as u128),
        _ => visitor.visit_i64(v as i64),
    }
}

/// Reads a leaf with nothing recorded about it, as the reader says.
fn passthrough<'de, V: Visitor<'de>>(
    de: &mut Postcard<'de>,
    want: Leaf,
    visitor: V,
) -> Result<V::Value, ResolveError> {
    use serde::Deserializer as _;
    let de = &mut *de;
    match want {
        Leaf::Unit => de.deserialize_unit(visitor),
        Leaf::Bool => de.deserialize_bool(visitor),
        Leaf::I8 => de.deserialize_i8(visitor),
        Leaf::I16 => de.deserialize_i16(visitor),
        Leaf::I32 => de.deserialize_i32(visitor),
        Leaf::I64 => de.deserialize_i64(visitor),
        Leaf::I128 => de.deserialize_i128(visitor),
        Leaf::U8 => de.deserialize_u8(visitor),
        Leaf::U16 => de.deserialize_u16(visitor),
        Leaf::U32 => de.deserialize_u32(visitor),
        Leaf::U64 => de.deserialize_u64(visitor),
        Leaf::U128 => de.deserialize_u128(visitor),
        Leaf::F32 => de.deserialize_f32(visitor),
        Leaf::F64 => de.deserialize_f64(visitor),
        Leaf::Char => de.deserialize_char(visitor),
        Leaf::Str => de.deserialize_str(visitor),
        Leaf::Bytes => de.deserialize_bytes(visitor),
    }
    .map_err(decode)
}

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
            let de = &mut *$self.de;
            return $call(de).map_err(decode);
        }
    };
}

impl<'de> de::Deserializer<'de> for Resolver<'_, 'de> {
    type Error = ResolveError;

    leaves! {
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

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ResolveError> {
        opaque!(self, |de: &mut Postcard<'de>| de.deserialize_any(visitor));
        Err(ResolveError::new(ResolveKind::SelfDescribing))
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(
        self,
        visitor: V,
    ) -> Result<V::Value, ResolveError> {
        skip(self.de, self.cx.schema, self.at, 0)?;
        visitor.visit_unit()
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ResolveError> {
        opaque!(self, |de: &mut Postcard<'de>| de
            .deserialize_identifier(visitor));
        match self.peel() {
            (_, SchemaNode::Leaf(l)) => read_leaf(self.de, *l, *l, visitor),
            (id, _) => Err(self.changed(id, "an identifier")),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(mut self, visitor: V) -> Result<V::Value, ResolveError> {
        opaque!(self, |de: &mut Postcard<'de>| de
            .deserialize_option(visitor));
        match self.peel() {
            (_, SchemaNode::Option(c)) => match u8::deserialize(&mut *self.de).map_err(decode)? {
                0 => visitor.visit_none(),
                1 => visitor.visit_some(self.child(*c)),
                _ => Err(ResolveError::new(ResolveKind::Decode(
                    "an `Option` tag is neither 0 nor 1".into(),
                ))),
            },
            (id, SchemaNode::Unknown) => Err(self.changed(id, "Option")),
            // `T` read as `Option<T>`: always `Some`.
            _ => visitor.visit_some(self),
        }
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
                let len = usize::deserialize(&mut *self.de).map_err(decode)?;
                visitor.visit_seq(Items {
                    de: self.de,
                    cx: self.cx,
                    nodes: Nodes::Same(*c, len),
                    i: 0,
                })
            }
            // An array or tuple read as a sequence: every element is there.
            (_, SchemaNode::Tuple(cs) | SchemaNode::TupleStruct(_, cs)) => {
                visitor.visit_seq(Items {
                    de: self.de,
                    cx: self.cx,
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
                    de: self.de,
                    cx: self.cx,
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
                    de: self.de,
                    cx: self.cx,
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
                let len = usize::deserialize(&mut *self.de).map_err(decode)?;
                visitor.visit_map(Entries {
                    de: self.de,
                    cx: self.cx,
                    key: *k,
                    value: *v,
                    left: len,
                })
            }
            (id, _) => Err(self.changed(id, "a map")),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, ResolveError> {
        opaque!(self, |de: &mut Postcard<'de>| de
            .deserialize_struct(name, fields, visitor));
        match self.peel() {
            (id, SchemaNode::Struct(_, written)) => {
                structure(self.de, self.cx, id, written, name, fields, visitor)
            }
            (id, _) => Err(self.changed(id, format!("struct {name}"))),
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
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
        let index = u32::deserialize(&mut *self.de).map_err(decode)?;
        let Ok(at) = written.binary_search_by_key(&index, |v| v.index) else {
            return Err(ResolveError::new(ResolveKind::Decode(format!(
                "variant #{index} of `{name}` was never recorded"
            ))));
        };
        let variant = &written[at];
        visitor.visit_enum(OneVariant {
            de: self.de,
            cx: self.cx,
            variant,
            hints: variants,
            ty: name,
        })
    }

    fn is_human_readable(&self) -> bool {
        false
    }
}

/// Reads a struct written with `written` fields as the reader's `fields`:
/// straight through when they are the same, by name otherwise.
#[inline]
fn structure<'de, V: Visitor<'de>>(
    de: &mut Postcard<'de>,
    cx: &Ctx<'_>,
    id: NodeId,
    written: &[(Name, NodeId)],
    name: &'static str,
    fields: &'static [&'static str],
    visitor: V,
) -> Result<V::Value, ResolveError> {
    let key = fields.as_ptr() as usize;
    let cached = cx.same.get(id as usize);
    let same = cached.is_some_and(|c| c.get() == key)
        || (written.len() == fields.len()
            && written.iter().zip(fields).all(|((w, _), r)| w == r)
            && {
                if let Some(c) = cached {
                    c.set(key);
                }
                true
            });
    let result = if same {
        let mut items = Items {
            de,
            cx,
            nodes: Nodes::Fields(written),
            i: 0,
        };
        let value = visitor.visit_seq(&mut items)?;
        if items.i < written.len() {
            return Err(de::Error::custom(format!(
                "`{name}` read {} of its {} fields",
                items.i,
                written.len()
            )));
        }
        Ok(value)
    } else {
        visitor.visit_map(Named {
            de,
            cx,
            fields: written,
            i: 0,
        })
    };
    result.map_err(|mut e| {
        if let ResolveKind::MissingField { ty, .. } = &mut e.kind {
            ty.get_or_insert_with(|| name.to_owned());
        }
        e
    })
}

enum Nodes<'a> {
    /// `len` elements, all at one node.
    Same(NodeId, usize),
    /// One element per node.
    Each(&'a [NodeId]),
    /// Struct fields in written order.
    Fields(&'a [(Name, NodeId)]),
}

/// The elements of a sequence, tuple, or same-layout struct.
struct Items<'a, 'de> {
    de: &'a mut Postcard<'de>,
    cx: &'a Ctx<'a>,
    nodes: Nodes<'a>,
    i: usize,
}

impl<'de> SeqAccess<'de> for Items<'_, 'de> {
    type Error = ResolveError;

    #[inline]
    fn next_element_seed<S: DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> Result<Option<S::Value>, ResolveError> {
        let i = self.i;
        let at = match self.nodes {
            Nodes::Same(c, len) if i < len => c,
            Nodes::Each(cs) if i < cs.len() => cs[i],
            Nodes::Fields(fs) if i < fs.len() => fs[i].1,
            _ => return Ok(None),
        };
        self.i += 1;
        let value = seed.deserialize(Resolver {
            de: self.de,
            cx: self.cx,
            at,
        });
        value.map(Some).map_err(|e| {
            e.at(match self.nodes {
                Nodes::Same(..) => Seg::Element,
                Nodes::Each(_) => Seg::Index(i),
                Nodes::Fields(fs) => Seg::Field(fs[i].0.to_string()),
            })
        })
    }

    fn size_hint(&self) -> Option<usize> {
        Some(
            match self.nodes {
                Nodes::Same(_, len) => len,
                Nodes::Each(cs) => cs.len(),
                Nodes::Fields(fs) => fs.len(),
            } - self.i,
        )
    }
}

/// A struct's fields by name, in written order.
struct Named<'a, 'de> {
    de: &'a mut Postcard<'de>,
    cx: &'a Ctx<'a>,
    fields: &'a [(Name, NodeId)],
    i: usize,
}

impl<'de> MapAccess<'de> for Named<'_, 'de> {
    type Error = ResolveError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, ResolveError> {
        let Some((name, _)) = self.fields.get(self.i) else {
            return Ok(None);
        };
        let key: de::value::StrDeserializer<'_, ResolveError> = name.as_ref().into_deserializer();
        seed.deserialize(key).map(Some)
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> Result<S::Value, ResolveError> {
        let (name, at) = &self.fields[self.i];
        self.i += 1;
        seed.deserialize(Resolver {
            de: self.de,
            cx: self.cx,
            at: *at,
        })
        .map_err(|e| e.at(Seg::Field(name.to_string())))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.fields.len() - self.i)
    }
}

/// A map's entries.
struct Entries<'a, 'de> {
    de: &'a mut Postcard<'de>,
    cx: &'a Ctx<'a>,
    key: NodeId,
    value: NodeId,
    left: usize,
}

impl<'de> MapAccess<'de> for Entries<'_, 'de> {
    type Error = ResolveError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, ResolveError> {
        if self.left == 0 {
            return Ok(None);
        }
        self.left -= 1;
        seed.deserialize(Resolver {
            de: self.de,
            cx: self.cx,
            at: self.key,
        })
        .map(Some)
        .map_err(|e| e.at(Seg::Key))
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> Result<S::Value, ResolveError> {
        seed.deserialize(Resolver {
            de: self.de,
            cx: self.cx,
            at: self.value,
        })
        .map_err(|e| e.at(Seg::Value))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.left)
    }
}

/// The variant a value was written as, handed to the reader by name.
struct OneVariant<'a, 'de> {
    de: &'a mut Postcard<'de>,
    cx: &'a Ctx<'a>,
    variant: &'a Variant,
    hints: &'static [&'static str],
    ty: &'static str,
}

impl<'a, 'de> EnumAccess<'de> for OneVariant<'a, 'de> {
    type Error = ResolveError;
    type Variant = Self;

    fn variant_seed<S: DeserializeSeed<'de>>(
        self,
        seed: S,
    ) -> Result<(S::Value, Self), ResolveError> {
        let name: &str = &self.variant.name;
        let key: de::value::StrDeserializer<'_, ResolveError> = name.into_deserializer();
        match seed.deserialize(key) {
            Ok(v) => Ok((v, self)),
            Err(_) if !self.hints.contains(&name) => {
                Err(ResolveError::new(ResolveKind::VariantRemoved {
                    variant: name.to_owned(),
                    ty: self.ty.to_owned(),
                }))
            }
            Err(e) => Err(e),
        }
    }
}

impl<'de> VariantAccess<'de> for OneVariant<'_, 'de> {
    type Error = ResolveError;

    fn unit_variant(self) -> Result<(), ResolveError> {
        match self.variant.content {
            Content::Unit => Ok(()),
            _ => Err(self.reshaped("a unit variant")),
        }
    }

    fn newtype_variant_seed<S: DeserializeSeed<'de>>(
        self,
        seed: S,
    ) -> Result<S::Value, ResolveError> {
        let within = self.within();
        match self.variant.content {
            Content::Newtype(at) => seed.deserialize(Resolver {
                de: self.de,
                cx: self.cx,
                at,
            }),
            _ => Err(self.reshaped("a newtype variant")),
        }
        .map_err(within)
    }

    fn tuple_variant<V: Visitor<'de>>(
        self,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, ResolveError> {
        let within = self.within();
        match self.variant.content {
            Content::Tuple(t) => match self.cx.schema.node(t) {
                SchemaNode::Tuple(cs) if cs.len() == len => visitor.visit_seq(Items {
                    de: self.de,
                    cx: self.cx,
                    nodes: Nodes::Each(cs),
                    i: 0,
                }),
                _ => Err(self.reshaped(&format!("a tuple variant of {len}"))),
            },
            _ => Err(self.reshaped(&format!("a tuple variant of {len}"))),
        }
        .map_err(within)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, ResolveError> {
        let within = self.within();
        match self.variant.content {
            Content::Struct(s) => match self.cx.schema.node(s) {
                SchemaNode::Struct(_, written) => {
                    structure(self.de, self.cx, s, written, self.ty, fields, visitor)
                }
                _ => Err(self.reshaped("a struct variant")),
            },
            _ => Err(self.reshaped("a struct variant")),
        }
        .map_err(within)
    }
}

impl<'a> OneVariant<'a, '_> {
    /// Puts an error inside this variant's content on the path.
    fn within(&self) -> impl FnOnce(ResolveError) -> ResolveError + 'a {
        let name: &'a str = &self.variant.name;
        move |e| e.at(Seg::Variant(name.to_owned()))
    }

    fn reshaped(&self, now: &str) -> ResolveError {
        let was = match self.variant.content {
            Content::Unit => "a unit variant".to_owned(),
            Content::Newtype(c) => {
                format!("a newtype variant of `{}`", self.cx.schema.type_name(c))
            }
            Content::Tuple(t) => format!("a tuple variant `{}`", self.cx.schema.type_name(t)),
            Content::Struct(_) => "a struct variant".to_owned(),
        };
        ResolveError::new(ResolveKind::TypeChanged {
            from: was,
            to: now.to_owned(),
        })
    }
}
