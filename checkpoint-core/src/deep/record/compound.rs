//! The parts of a recorded value that hold others: sequences, tuples, maps
//! ([`Compound`]) and structs ([`Fields`]).

use serde::ser::{self, Serialize};

use super::{RecordError, RecordErrorKind, Recorder};
use crate::deep::{DeepSchema, NodeId, SchemaNode, Seg};

pub(super) fn option_child(node: &SchemaNode) -> Option<NodeId> {
    match node {
        SchemaNode::Option(c) => Some(*c),
        _ => None,
    }
}

pub(super) fn seq_child(node: &SchemaNode) -> Option<NodeId> {
    match node {
        SchemaNode::Seq(c) => Some(*c),
        _ => None,
    }
}

pub(super) enum Children {
    /// Every element at one node.
    Same(NodeId),
    /// One node per position: those of the tuple node named.
    Each(NodeId),
    /// Keys and values.
    Map(NodeId, NodeId),
}

/// Sequences, tuples and maps being recorded.
pub(crate) struct Compound<'a, F: postcard::ser_flavors::Flavor> {
    out: &'a mut postcard::Serializer<F>,
    schema: &'a mut DeepSchema,
    children: Children,
    i: usize,
}

impl<'a, F: postcard::ser_flavors::Flavor> Compound<'a, F> {
    pub(super) fn new(r: Recorder<'a, F>, children: Children) -> Self {
        Compound {
            out: r.out,
            schema: r.schema,
            children,
            i: 0,
        }
    }

    #[inline(always)]
    fn element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), RecordError> {
        let i = self.i;
        self.i += 1;
        let at = match &self.children {
            Children::Same(c) => *c,
            Children::Each(t) => match self.schema.node(*t) {
                SchemaNode::Tuple(cs) | SchemaNode::TupleStruct(_, cs) if i < cs.len() => cs[i],
                _ => return Err(ser::Error::custom("more tuple elements than its length")),
            },
            Children::Map(_, v) => *v,
        };
        let outcome = value.serialize(Recorder {
            out: self.out,
            schema: self.schema,
            at,
        });
        match outcome {
            Ok(()) => Ok(()),
            Err(e) => Err(self.element_failed(e, i)),
        }
    }

    #[cold]
    #[inline(never)]
    fn element_failed(&self, e: RecordError, i: usize) -> RecordError {
        e.at(match self.children {
            Children::Same(_) => Seg::Element,
            Children::Each(_) => Seg::Index(i),
            Children::Map(..) => Seg::Value,
        })
    }
}

/// Sequences, tuples, tuple structs and tuple variants: each element is
/// recorded at its child node.
macro_rules! elements {
    ($($trait:ident :: $method:ident),* $(,)?) => {$(
        impl<F: postcard::ser_flavors::Flavor> ser::$trait for Compound<'_, F> {
            type Ok = ();
            type Error = RecordError;
            #[inline(always)]
            fn $method<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), RecordError> {
                self.element(value)
            }
            fn end(self) -> Result<(), RecordError> {
                Ok(())
            }
        }
    )*};
}

elements! {
    SerializeSeq::serialize_element,
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field,
    SerializeTupleVariant::serialize_field,
}

impl<F: postcard::ser_flavors::Flavor> ser::SerializeMap for Compound<'_, F> {
    type Ok = ();
    type Error = RecordError;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), RecordError> {
        let Children::Map(k, _) = self.children else {
            unreachable!("a map recorder has map children")
        };
        key.serialize(Recorder {
            out: self.out,
            schema: self.schema,
            at: k,
        })
        .map_err(|e| e.at(Seg::Key))
    }
    #[inline(always)]
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), RecordError> {
        self.element(value)
    }
    fn end(self) -> Result<(), RecordError> {
        Ok(())
    }
}

/// A struct or struct variant being recorded.
pub(crate) struct Fields<'a, F: postcard::ser_flavors::Flavor> {
    out: &'a mut postcard::Serializer<F>,
    schema: &'a mut DeepSchema,
    id: NodeId,
    written: u32,
    /// The number of fields of a struct whose fields are settled (it has
    /// seen a whole value), so that ending it is one comparison;
    /// `u32::MAX` while its first value is being recorded.
    expect: u32,
    variant: Option<&'static str>,
}

impl<'a, F: postcard::ser_flavors::Flavor> Fields<'a, F> {
    /// The fields of struct node `id` (of enum variant `variant`), about to
    /// be written to `out`.
    pub(super) fn new(
        out: &'a mut postcard::Serializer<F>,
        schema: &'a mut DeepSchema,
        id: NodeId,
        variant: Option<&'static str>,
    ) -> Self {
        let expect = schema.sealed_len(id);
        Fields {
            out,
            schema,
            id,
            written: 0,
            expect,
            variant,
        }
    }
}

impl<F: postcard::ser_flavors::Flavor> Fields<'_, F> {
    #[inline(always)]
    fn field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), RecordError> {
        let at = match self.schema.field(self.id, self.written as usize, key) {
            Ok(at) => at,
            Err(e) => return Err(self.within_variant(e)),
        };
        self.written += 1;
        let recorded = value.serialize(Recorder {
            out: self.out,
            schema: self.schema,
            at,
        });
        match recorded {
            Ok(()) => Ok(()),
            Err(e) => Err(self.field_failed(e, key)),
        }
    }

    #[cold]
    #[inline(never)]
    fn field_failed(&self, e: RecordError, key: &'static str) -> RecordError {
        self.within_variant(e.at(Seg::Field(key.to_owned())))
    }

    fn skip(&mut self, key: &'static str) -> Result<(), RecordError> {
        Err(
            self.within_variant(RecordError::new(RecordErrorKind::Skipped {
                field: key,
                ty: self.schema.struct_name(self.id),
            })),
        )
    }

    #[inline(always)]
    fn end(self) -> Result<(), RecordError> {
        if self.written == self.expect {
            return Ok(());
        }
        self.end_slow()
    }

    #[cold]
    #[inline(never)]
    fn end_slow(self) -> Result<(), RecordError> {
        let variant = self.variant;
        self.schema
            .end_struct(self.id, self.written as usize)
            .map_err(|e| match variant {
                Some(v) => e.at(Seg::Variant(v.to_owned())),
                None => e,
            })
    }

    #[cold]
    #[inline(never)]
    fn within_variant(&self, e: RecordError) -> RecordError {
        match self.variant {
            Some(v) => e.at(Seg::Variant(v.to_owned())),
            None => e,
        }
    }
}

impl<F: postcard::ser_flavors::Flavor> ser::SerializeStruct for Fields<'_, F> {
    type Ok = ();
    type Error = RecordError;
    #[inline(always)]
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), RecordError> {
        self.field(key, value)
    }
    fn skip_field(&mut self, key: &'static str) -> Result<(), RecordError> {
        self.skip(key)
    }
    #[inline(always)]
    fn end(self) -> Result<(), RecordError> {
        Fields::end(self)
    }
}

impl<F: postcard::ser_flavors::Flavor> ser::SerializeStructVariant for Fields<'_, F> {
    type Ok = ();
    type Error = RecordError;
    #[inline(always)]
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), RecordError> {
        self.field(key, value)
    }
    fn skip_field(&mut self, key: &'static str) -> Result<(), RecordError> {
        self.skip(key)
    }
    #[inline(always)]
    fn end(self) -> Result<(), RecordError> {
        Fields::end(self)
    }
}
