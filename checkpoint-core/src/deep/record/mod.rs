//! Recording the writer's schema while encoding: a `serde::Serializer`
//! around postcard's that writes exactly postcard's bytes and records, per
//! position, what was written there.
//!
//! One [`DeepSchema`] collects every value a process writes of one type, so
//! it grows only when a value takes a path not taken before (a first
//! element, a new variant); then its generation changes and the writer
//! checks the new bytes once. Values that write different things at one
//! position (a field skipped for some values, a `serde_json::Value` that is
//! a string here and a number there) cannot be described and are refused.

use serde::ser::{self, Serialize};

use self::graph::{same, VariantKind};
use super::{Content, DeepSchema, Leaf, Name, NodeId, Path, SchemaNode, Seg};

mod compound;
mod graph;

use self::compound::{option_child, seq_child, Children};
pub(crate) use self::compound::{Compound, Fields};

/// Why a value cannot be recorded, and where. One pointer wide, so that
/// the results of the many small writes stay small.
#[derive(Debug)]
pub(crate) struct RecordError(Box<RecordFailure>);

#[derive(Debug)]
pub(crate) struct RecordFailure {
    pub(crate) kind: RecordErrorKind,
    pub(crate) path: Path,
}

impl std::ops::Deref for RecordError {
    type Target = RecordFailure;
    fn deref(&self) -> &RecordFailure {
        &self.0
    }
}

impl std::ops::DerefMut for RecordError {
    fn deref_mut(&mut self) -> &mut RecordFailure {
        &mut self.0
    }
}

#[derive(Debug)]
pub(crate) enum RecordErrorKind {
    /// Values at one position were written as different types.
    Conflict { before: String, now: String },
    /// A struct skipped a field for this value (`skip_serializing_if`).
    Skipped { field: &'static str, ty: String },
    /// The encoder or the value's `Serialize` failed.
    Encode(String),
}

impl RecordError {
    fn new(kind: RecordErrorKind) -> Self {
        RecordError(Box::new(RecordFailure {
            kind,
            path: Path::default(),
        }))
    }

    fn at(mut self, seg: Seg) -> Self {
        self.path.push(seg);
        self
    }

    pub(crate) fn into_inner(self) -> RecordFailure {
        *self.0
    }
}

impl std::fmt::Display for RecordError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.kind {
            RecordErrorKind::Conflict { before, now } => {
                write!(f, "written as `{before}` and as `{now}`")
            }
            RecordErrorKind::Skipped { field, ty } => {
                write!(f, "`{ty}` skipped field `{field}` when writing")
            }
            RecordErrorKind::Encode(e) => f.write_str(e),
        }
    }
}

impl std::error::Error for RecordError {}

impl ser::Error for RecordError {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        RecordError::new(RecordErrorKind::Encode(msg.to_string()))
    }
}

#[cold]
#[inline(never)]
fn encode(e: postcard::Error) -> RecordError {
    RecordError::new(RecordErrorKind::Encode(e.to_string()))
}

/// Encodes like postcard's serializer and records into a schema.
pub(crate) struct Recorder<'a, F: postcard::ser_flavors::Flavor> {
    pub(crate) out: &'a mut postcard::Serializer<F>,
    pub(crate) schema: &'a mut DeepSchema,
    pub(crate) at: NodeId,
}

macro_rules! leaf {
    ($($method:ident($ty:ty) => $leaf:ident;)*) => {$(
        #[inline(always)]
        fn $method(self, v: $ty) -> Result<(), RecordError> {
            self.schema.leaf(self.at, Leaf::$leaf)?;
            ser::Serializer::$method(&mut *self.out, v).map_err(encode)
        }
    )*};
}

impl<'a, F: postcard::ser_flavors::Flavor> ser::Serializer for Recorder<'a, F> {
    type Ok = ();
    type Error = RecordError;
    type SerializeSeq = Compound<'a, F>;
    type SerializeTuple = Compound<'a, F>;
    type SerializeTupleStruct = Compound<'a, F>;
    type SerializeTupleVariant = Compound<'a, F>;
    type SerializeMap = Compound<'a, F>;
    type SerializeStruct = Fields<'a, F>;
    type SerializeStructVariant = Fields<'a, F>;

    leaf! {
        serialize_bool(bool) => Bool;
        serialize_i8(i8) => I8;
        serialize_i16(i16) => I16;
        serialize_i32(i32) => I32;
        serialize_i64(i64) => I64;
        serialize_i128(i128) => I128;
        serialize_u8(u8) => U8;
        serialize_u16(u16) => U16;
        serialize_u32(u32) => U32;
        serialize_u64(u64) => U64;
        serialize_u128(u128) => U128;
        serialize_f32(f32) => F32;
        serialize_f64(f64) => F64;
        serialize_char(char) => Char;
        serialize_str(&str) => Str;
        serialize_bytes(&[u8]) => Bytes;
    }

    fn serialize_unit(self) -> Result<(), RecordError> {
        self.schema.leaf(self.at, Leaf::Unit)
    }

    #[inline(always)]
    fn serialize_none(self) -> Result<(), RecordError> {
        self.schema
            .one_child(self.at, "Option", option_child, SchemaNode::Option)?;
        ser::Serializer::serialize_u8(&mut *self.out, 0).map_err(encode)
    }

    #[inline(always)]
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), RecordError> {
        let child = self
            .schema
            .one_child(self.at, "Option", option_child, SchemaNode::Option)?;
        ser::Serializer::serialize_u8(&mut *self.out, 1).map_err(encode)?;
        value.serialize(Recorder {
            out: self.out,
            schema: self.schema,
            at: child,
        })
    }

    fn serialize_unit_struct(self, name: &'static str) -> Result<(), RecordError> {
        let id = self.schema.follow(self.at);
        match self.schema.node(id) {
            SchemaNode::UnitStruct(n) if same(n, name) => Ok(()),
            SchemaNode::Unknown => {
                self.schema
                    .set(id, SchemaNode::UnitStruct(Name::Borrowed(name)));
                Ok(())
            }
            _ => Err(self.schema.conflict(id, name)),
        }
    }

    #[inline(always)]
    fn serialize_unit_variant(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
    ) -> Result<(), RecordError> {
        self.schema
            .variant(self.at, name, index, variant, VariantKind::Unit)?;
        ser::Serializer::serialize_u32(&mut *self.out, index).map_err(encode)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        value: &T,
    ) -> Result<(), RecordError> {
        let mut id = self.schema.follow(self.at);
        if matches!(self.schema.node(id), SchemaNode::Unknown) {
            id = self
                .schema
                .recursion(id, name, |k| matches!(k, SchemaNode::Newtype(..)));
        }
        let child = match self.schema.node(id) {
            SchemaNode::Newtype(n, c) if same(n, name) => *c,
            SchemaNode::Unknown => {
                let c = self.schema.add(SchemaNode::Unknown, id);
                self.schema
                    .set(id, SchemaNode::Newtype(Name::Borrowed(name), c));
                c
            }
            _ => return Err(self.schema.conflict(id, name)),
        };
        value.serialize(Recorder {
            out: self.out,
            schema: self.schema,
            at: child,
        })
    }

    #[inline(always)]
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), RecordError> {
        let Content::Newtype(child) =
            self.schema
                .variant(self.at, name, index, variant, VariantKind::Newtype)?
        else {
            unreachable!("checked by `variant`")
        };
        ser::Serializer::serialize_u32(&mut *self.out, index).map_err(encode)?;
        value
            .serialize(Recorder {
                out: self.out,
                schema: self.schema,
                at: child,
            })
            .map_err(|e| e.at(Seg::Variant(variant.to_owned())))
    }

    #[inline(always)]
    fn serialize_seq(self, len: Option<usize>) -> Result<Compound<'a, F>, RecordError> {
        let child = self
            .schema
            .one_child(self.at, "a sequence", seq_child, SchemaNode::Seq)?;
        ser::Serializer::serialize_seq(&mut *self.out, len).map_err(encode)?;
        Ok(Compound::new(self, Children::Same(child)))
    }

    fn serialize_tuple(self, len: usize) -> Result<Compound<'a, F>, RecordError> {
        let id = self.schema.positions(self.at, None, len)?;
        Ok(Compound::new(self, Children::Each(id)))
    }

    fn serialize_tuple_struct(
        self,
        name: &'static str,
        len: usize,
    ) -> Result<Compound<'a, F>, RecordError> {
        let id = self.schema.positions(self.at, Some(name), len)?;
        Ok(Compound::new(self, Children::Each(id)))
    }

    fn serialize_tuple_variant(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Compound<'a, F>, RecordError> {
        let Content::Tuple(t) =
            self.schema
                .variant(self.at, name, index, variant, VariantKind::Tuple(len))?
        else {
            unreachable!("checked by `variant`")
        };
        ser::Serializer::serialize_u32(&mut *self.out, index).map_err(encode)?;
        Ok(Compound::new(self, Children::Each(t)))
    }

    fn serialize_map(self, len: Option<usize>) -> Result<Compound<'a, F>, RecordError> {
        let id = self.schema.follow(self.at);
        let (k, v) = match self.schema.node(id) {
            SchemaNode::Map(k, v) => (*k, *v),
            SchemaNode::Unknown => {
                let k = self.schema.add(SchemaNode::Unknown, id);
                let v = self.schema.add(SchemaNode::Unknown, id);
                self.schema.set(id, SchemaNode::Map(k, v));
                (k, v)
            }
            _ => return Err(self.schema.conflict(id, "a map")),
        };
        ser::Serializer::serialize_map(&mut *self.out, len).map_err(encode)?;
        Ok(Compound::new(self, Children::Map(k, v)))
    }

    #[inline(always)]
    fn serialize_struct(
        self,
        name: &'static str,
        _len: usize,
    ) -> Result<Fields<'a, F>, RecordError> {
        let id = self.schema.structure(self.at, name)?;
        Ok(Fields::new(self.out, self.schema, id, None))
    }

    #[inline(always)]
    fn serialize_struct_variant(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Fields<'a, F>, RecordError> {
        let Content::Struct(id) =
            self.schema
                .variant(self.at, name, index, variant, VariantKind::Struct)?
        else {
            unreachable!("checked by `variant`")
        };
        ser::Serializer::serialize_u32(&mut *self.out, index).map_err(encode)?;
        Ok(Fields::new(self.out, self.schema, id, Some(variant)))
    }

    fn is_human_readable(&self) -> bool {
        false
    }
}
