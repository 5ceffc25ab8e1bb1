//! What checking every value costs a save and a restore, whoever writes
//! the checks.
//!
//! The struct-heavy orders of `save_restore` (about 1 MiB, a struct or a
//! variant every few bytes), encoded and decoded four ways in one run:
//!
//! - `raw_postcard`: `postcard::to_allocvec` and `postcard::from_bytes`,
//!   the baseline;
//! - `forwarding`: a serializer and a deserializer that wrap postcard's and
//!   pass every nested value through themselves, checking nothing: what
//!   wrapping postcard costs by itself;
//! - `minimal_checks`: the least that a save recording the writer's schema
//!   and a restore checking it must do. Each keeps the node of every value
//!   in a compact schema (of `Vec<Order>`, built here by hand: on save as
//!   already recorded, names compared by address as the recorder compares
//!   them; on restore as written) and compares every leaf, struct, field,
//!   option and variant with it, as checkpoint's recorder and resolver do,
//!   with nothing else: no paths for errors, no growing the schema, no
//!   widening, no evolution, no header or checksum;
//! - `checkpoint`: `Checkpointer::save` to and `restore_latest` from a
//!   `MemStore`, which also write and check the header and the CRC-32C.
//!
//! Run with `cargo bench --bench check_cost`; docs/PERFORMANCE.md has the
//! figures and docs/DESIGN-NOTES.md what they mean.

use std::sync::LazyLock;

use checkpoint::{Checkpoint, Checkpointer, MemStore};
use common::{orders, Order, Price, Side, Status};
use divan::Bencher;
use serde::Deserialize;

mod common;

#[derive(Debug, Checkpoint)]
struct Book {
    orders: Vec<Order>,
}

/// `Order` with its `id` narrowed: the checks must refuse it.
#[derive(Debug, serde::Deserialize)]
#[allow(dead_code)]
struct Narrowed {
    id: u32,
    side: Side,
    price: Price,
    status: Status,
    flags: Option<u8>,
}

static BOOK: LazyLock<Book> = LazyLock::new(|| Book { orders: orders() });
static BYTES: LazyLock<Vec<u8>> = LazyLock::new(|| postcard::to_allocvec(&BOOK.orders).unwrap());
static WRITTEN: LazyLock<read::Schema> = LazyLock::new(read::order_schema);

fn main() {
    let orders = &BOOK.orders;
    let recorded = write::order_schema();
    assert_eq!(write::forwarded(orders), *BYTES);
    assert_eq!(write::checked(orders, &recorded).unwrap(), *BYTES);
    let mut changed = orders[..3].to_vec();
    changed[2].status = Status::New;
    changed[1].flags = None;
    assert!(write::checked(&changed, &recorded).is_ok());
    assert!(write::checked(&[(1u32, 2u8)], &recorded).is_err());

    let mut de = postcard::Deserializer::from_bytes(&BYTES);
    let forwarded = Vec::<Order>::deserialize(read::Forward(&mut de)).unwrap();
    assert_eq!(forwarded, *orders);
    assert_eq!(read::checked::<Order>(&BYTES, &WRITTEN).unwrap(), *orders);
    assert!(read::checked::<Narrowed>(&BYTES, &WRITTEN).is_err());
    divan::main();
}

#[divan::bench(sample_count = 60, sample_size = 1)]
fn save_raw_postcard(bencher: Bencher) {
    bencher.bench(|| postcard::to_allocvec(&BOOK.orders).unwrap());
}

#[divan::bench(sample_count = 60, sample_size = 1)]
fn save_forwarding(bencher: Bencher) {
    bencher.bench(|| write::forwarded(&BOOK.orders));
}

#[divan::bench(sample_count = 60, sample_size = 1)]
fn save_minimal_checks(bencher: Bencher) {
    let recorded = write::order_schema();
    bencher.bench_local(|| write::checked(&BOOK.orders, &recorded).unwrap());
}

#[divan::bench(sample_count = 60, sample_size = 1)]
fn save_checkpoint(bencher: Bencher) {
    let ckpt = Checkpointer::new(MemStore::new()).unwrap();
    ckpt.save(&*BOOK).unwrap();
    bencher.bench_local(|| ckpt.save(&*BOOK).unwrap());
}

#[divan::bench(sample_count = 60, sample_size = 1)]
fn restore_raw_postcard(bencher: Bencher) {
    bencher.bench(|| postcard::from_bytes::<Vec<Order>>(&BYTES).unwrap());
}

#[divan::bench(sample_count = 60, sample_size = 1)]
fn restore_forwarding(bencher: Bencher) {
    bencher.bench(|| {
        let mut de = postcard::Deserializer::from_bytes(&BYTES);
        Vec::<Order>::deserialize(read::Forward(&mut de)).unwrap()
    });
}

#[divan::bench(sample_count = 60, sample_size = 1)]
fn restore_minimal_checks(bencher: Bencher) {
    bencher.bench(|| read::checked::<Order>(&BYTES, &WRITTEN).unwrap());
}

#[divan::bench(sample_count = 60, sample_size = 1)]
fn restore_checkpoint(bencher: Bencher) {
    let ckpt = Checkpointer::new(MemStore::new()).unwrap();
    ckpt.save(&*BOOK).unwrap();
    bencher.bench_local(|| ckpt.restore_latest::<Book>().unwrap().unwrap().state);
}

/// The leaves `Order` holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leaf {
    U8,
    U32,
    U64,
    I32,
    I64,
}

/// What a variant carries.
#[derive(Debug, Clone, Copy)]
pub enum Content {
    Unit,
    Newtype(u32),
    Struct(u32),
}

/// A value read or written other than the schema says.
#[derive(Debug)]
pub struct Mismatch;

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("not as the schema says")
    }
}

impl std::error::Error for Mismatch {}

impl serde::de::Error for Mismatch {
    #[cold]
    fn custom<T: std::fmt::Display>(_: T) -> Self {
        Mismatch
    }
}

impl serde::ser::Error for Mismatch {
    #[cold]
    fn custom<T: std::fmt::Display>(_: T) -> Self {
        Mismatch
    }
}

#[cold]
#[inline(never)]
fn mismatch<E>(_: E) -> Mismatch {
    Mismatch
}

/// Decoding: postcard's deserializer, wrapped.
mod read {
    use std::cell::Cell;

    use postcard::de_flavors::Slice;
    use serde::de::{self, DeserializeSeed, IntoDeserializer, Visitor};
    use serde::Deserialize;

    use super::{mismatch, Content, Leaf, Mismatch};

    type Postcard<'de> = postcard::Deserializer<'de, Slice<'de>>;

    /// Postcard's deserializer, passing every nested value through itself.
    pub struct Forward<'a, 'de>(pub &'a mut Postcard<'de>);

    /// The elements of a sequence, tuple or struct, through [`Forward`].
    struct ForwardItems<'a, 'de>(&'a mut Postcard<'de>, usize);

    /// A variant by its index, its content through [`Forward`].
    struct ForwardVariant<'a, 'de>(&'a mut Postcard<'de>);

    macro_rules! to_postcard {
        ($($method:ident)*) => {$(
            #[inline]
            fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, postcard::Error> {
                de::Deserializer::$method(&mut *self.0, visitor)
            }
        )*};
    }

    impl<'de> de::Deserializer<'de> for Forward<'_, 'de> {
        type Error = postcard::Error;

        to_postcard! {
            deserialize_any deserialize_bool deserialize_i8 deserialize_i16 deserialize_i32
            deserialize_i64 deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64
            deserialize_f32 deserialize_f64 deserialize_char deserialize_str deserialize_string
            deserialize_bytes deserialize_byte_buf deserialize_unit deserialize_identifier
            deserialize_ignored_any deserialize_map
        }

        #[inline]
        fn deserialize_option<V: Visitor<'de>>(
            self,
            visitor: V,
        ) -> Result<V::Value, postcard::Error> {
            match u8::deserialize(&mut *self.0)? {
                0 => visitor.visit_none(),
                1 => visitor.visit_some(self),
                _ => Err(postcard::Error::DeserializeBadOption),
            }
        }

        fn deserialize_unit_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            visitor: V,
        ) -> Result<V::Value, postcard::Error> {
            visitor.visit_unit()
        }

        fn deserialize_newtype_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            visitor: V,
        ) -> Result<V::Value, postcard::Error> {
            visitor.visit_newtype_struct(self)
        }

        #[inline]
        fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, postcard::Error> {
            let len = usize::deserialize(&mut *self.0)?;
            visitor.visit_seq(ForwardItems(self.0, len))
        }

        fn deserialize_tuple<V: Visitor<'de>>(
            self,
            len: usize,
            visitor: V,
        ) -> Result<V::Value, postcard::Error> {
            visitor.visit_seq(ForwardItems(self.0, len))
        }

        fn deserialize_tuple_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            len: usize,
            visitor: V,
        ) -> Result<V::Value, postcard::Error> {
            visitor.visit_seq(ForwardItems(self.0, len))
        }

        #[inline]
        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            visitor: V,
        ) -> Result<V::Value, postcard::Error> {
            visitor.visit_seq(ForwardItems(self.0, fields.len()))
        }

        #[inline]
        fn deserialize_enum<V: Visitor<'de>>(
            self,
            _: &'static str,
            _: &'static [&'static str],
            visitor: V,
        ) -> Result<V::Value, postcard::Error> {
            visitor.visit_enum(ForwardVariant(self.0))
        }

        fn is_human_readable(&self) -> bool {
            false
        }
    }

    impl<'de> de::SeqAccess<'de> for ForwardItems<'_, 'de> {
        type Error = postcard::Error;

        #[inline]
        fn next_element_seed<T: DeserializeSeed<'de>>(
            &mut self,
            seed: T,
        ) -> Result<Option<T::Value>, postcard::Error> {
            if self.1 == 0 {
                return Ok(None);
            }
            self.1 -= 1;
            seed.deserialize(Forward(&mut *self.0)).map(Some)
        }

        fn size_hint(&self) -> Option<usize> {
            Some(self.1)
        }
    }

    impl<'de> de::EnumAccess<'de> for ForwardVariant<'_, 'de> {
        type Error = postcard::Error;
        type Variant = Self;

        #[inline]
        fn variant_seed<T: DeserializeSeed<'de>>(
            self,
            seed: T,
        ) -> Result<(T::Value, Self), postcard::Error> {
            let index = u32::deserialize(&mut *self.0)?;
            let index: de::value::U32Deserializer<postcard::Error> = index.into_deserializer();
            Ok((seed.deserialize(index)?, self))
        }
    }

    impl<'de> de::VariantAccess<'de> for ForwardVariant<'_, 'de> {
        type Error = postcard::Error;

        fn unit_variant(self) -> Result<(), postcard::Error> {
            Ok(())
        }

        #[inline]
        fn newtype_variant_seed<T: DeserializeSeed<'de>>(
            self,
            seed: T,
        ) -> Result<T::Value, postcard::Error> {
            seed.deserialize(Forward(self.0))
        }

        fn tuple_variant<V: Visitor<'de>>(
            self,
            len: usize,
            visitor: V,
        ) -> Result<V::Value, postcard::Error> {
            visitor.visit_seq(ForwardItems(self.0, len))
        }

        #[inline]
        fn struct_variant<V: Visitor<'de>>(
            self,
            fields: &'static [&'static str],
            visitor: V,
        ) -> Result<V::Value, postcard::Error> {
            visitor.visit_seq(ForwardItems(self.0, fields.len()))
        }
    }

    /// One node of the writer's schema: four words, children by index.
    #[derive(Debug, Clone, Copy)]
    enum Node {
        Leaf(Leaf),
        /// Fields `first..first + len` of [`Schema::fields`].
        Struct {
            first: u32,
            len: u32,
        },
        Option(u32),
        Seq(u32),
        /// Variants `first..first + len` of [`Schema::variants`].
        Enum {
            first: u32,
            len: u32,
        },
    }

    struct Variant {
        index: u32,
        name: &'static str,
        content: Content,
    }

    /// A writer's schema, flat: nodes, then the fields and variants they
    /// list.
    pub struct Schema {
        nodes: Vec<Node>,
        fields: Vec<(&'static str, u32)>,
        variants: Vec<Variant>,
    }

    /// The schema of `Vec<Order>` as a writer records it.
    pub fn order_schema() -> Schema {
        Schema {
            nodes: vec![
                Node::Seq(1),
                Node::Struct { first: 0, len: 5 }, // Order
                Node::Leaf(Leaf::U64),
                Node::Enum { first: 0, len: 2 },   // Side
                Node::Struct { first: 5, len: 2 }, // Price
                Node::Leaf(Leaf::I64),
                Node::Leaf(Leaf::I32),
                Node::Enum { first: 2, len: 3 },   // Status
                Node::Struct { first: 7, len: 1 }, // Status::Filled
                Node::Leaf(Leaf::U8),
                Node::Option(11),
                Node::Leaf(Leaf::U8),
                Node::Leaf(Leaf::U32),
            ],
            fields: vec![
                ("id", 2),
                ("side", 3),
                ("price", 4),
                ("status", 7),
                ("flags", 10),
                ("units", 5),
                ("nanos", 6),
                ("qty", 12),
            ],
            variants: vec![
                Variant {
                    index: 0,
                    name: "Buy",
                    content: Content::Unit,
                },
                Variant {
                    index: 1,
                    name: "Sell",
                    content: Content::Unit,
                },
                Variant {
                    index: 0,
                    name: "New",
                    content: Content::Unit,
                },
                Variant {
                    index: 1,
                    name: "Filled",
                    content: Content::Struct(8),
                },
                Variant {
                    index: 2,
                    name: "Cancelled",
                    content: Content::Newtype(9),
                },
            ],
        }
    }

    /// The orders, read as `Vec<T>` through [`Checked`].
    pub fn checked<'de, T: Deserialize<'de>>(
        bytes: &'de [u8],
        schema: &Schema,
    ) -> Result<Vec<T>, Mismatch> {
        let same = (0..schema.nodes.len()).map(|_| Cell::new(0)).collect();
        let mut reading = Reading {
            de: Postcard::from_bytes(bytes),
            schema,
            same,
        };
        Vec::<T>::deserialize(Checked {
            r: &mut reading,
            at: 0,
        })
    }

    /// The bytes and the schema they were written with.
    struct Reading<'s, 'de> {
        de: Postcard<'de>,
        schema: &'s Schema,
        /// Per struct node, the reader's field list found equal to the
        /// writer's, by address.
        same: Vec<Cell<usize>>,
    }

    /// Reads the value written at node `at`, checking the reader's request.
    struct Checked<'a, 's, 'de> {
        r: &'a mut Reading<'s, 'de>,
        at: u32,
    }

    impl<'s> Checked<'_, 's, '_> {
        #[inline]
        fn node(&self) -> Option<&'s Node> {
            self.r.schema.nodes.get(self.at as usize)
        }
    }

    macro_rules! checked_leaves {
        ($($method:ident => $leaf:ident: $ty:ty, $visit:ident;)*) => {$(
            #[inline]
            fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Mismatch> {
                match self.node() {
                    Some(Node::Leaf(Leaf::$leaf)) => {
                        visitor.$visit(<$ty>::deserialize(&mut self.r.de).map_err(mismatch)?)
                    }
                    _ => Err(Mismatch),
                }
            }
        )*};
    }

    macro_rules! refused {
        ($($method:ident)*) => {$(
            fn $method<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Mismatch> {
                Err(Mismatch)
            }
        )*};
    }

    impl<'de> de::Deserializer<'de> for Checked<'_, '_, 'de> {
        type Error = Mismatch;

        checked_leaves! {
            deserialize_u8 => U8: u8, visit_u8;
            deserialize_u32 => U32: u32, visit_u32;
            deserialize_u64 => U64: u64, visit_u64;
            deserialize_i32 => I32: i32, visit_i32;
            deserialize_i64 => I64: i64, visit_i64;
        }

        refused! {
            deserialize_any deserialize_bool deserialize_i8 deserialize_i16 deserialize_u16
            deserialize_f32 deserialize_f64 deserialize_char deserialize_str deserialize_string
            deserialize_bytes deserialize_byte_buf deserialize_unit deserialize_identifier
            deserialize_ignored_any deserialize_map
        }

        #[inline]
        fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Mismatch> {
            let Some(&Node::Option(at)) = self.node() else {
                return Err(Mismatch);
            };
            match u8::deserialize(&mut self.r.de).map_err(mismatch)? {
                0 => visitor.visit_none(),
                1 => visitor.visit_some(Checked { r: self.r, at }),
                _ => Err(Mismatch),
            }
        }

        fn deserialize_unit_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            _: V,
        ) -> Result<V::Value, Mismatch> {
            Err(Mismatch)
        }

        fn deserialize_newtype_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            _: V,
        ) -> Result<V::Value, Mismatch> {
            Err(Mismatch)
        }

        #[inline]
        fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Mismatch> {
            let Some(&Node::Seq(at)) = self.node() else {
                return Err(Mismatch);
            };
            let len = usize::deserialize(&mut self.r.de).map_err(mismatch)?;
            visitor.visit_seq(Elements {
                r: self.r,
                at,
                left: len,
            })
        }

        fn deserialize_tuple<V: Visitor<'de>>(self, _: usize, _: V) -> Result<V::Value, Mismatch> {
            Err(Mismatch)
        }

        fn deserialize_tuple_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            _: usize,
            _: V,
        ) -> Result<V::Value, Mismatch> {
            Err(Mismatch)
        }

        #[inline]
        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            visitor: V,
        ) -> Result<V::Value, Mismatch> {
            structure(self.r, self.at, fields, visitor)
        }

        #[inline]
        fn deserialize_enum<V: Visitor<'de>>(
            self,
            _: &'static str,
            _: &'static [&'static str],
            visitor: V,
        ) -> Result<V::Value, Mismatch> {
            let Some(&Node::Enum { first, len }) = self.node() else {
                return Err(Mismatch);
            };
            let index = u32::deserialize(&mut self.r.de).map_err(mismatch)?;
            let schema = self.r.schema;
            let variant = schema.variants[first as usize..(first + len) as usize]
                .get(index as usize)
                .filter(|v| v.index == index)
                .ok_or(Mismatch)?;
            visitor.visit_enum(CheckedVariant { r: self.r, variant })
        }

        fn is_human_readable(&self) -> bool {
            false
        }
    }

    /// A struct whose reader's fields are the writer's, in order (compared
    /// once per node, then by address), read as a sequence.
    #[inline]
    fn structure<'de, V: Visitor<'de>>(
        r: &mut Reading<'_, 'de>,
        at: u32,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Mismatch> {
        let Some(&Node::Struct { first, len }) = r.schema.nodes.get(at as usize) else {
            return Err(Mismatch);
        };
        let written = &r.schema.fields[first as usize..(first + len) as usize];
        let key = fields.as_ptr() as usize;
        let same = match r.same.get(at as usize) {
            Some(known) if known.get() == key => true,
            known => same_names(known, key, written, fields),
        };
        if !same {
            return Err(Mismatch);
        }
        let mut items = Fields {
            r,
            written,
            read: 0,
        };
        let value = visitor.visit_seq(&mut items)?;
        if items.read != written.len() {
            return Err(Mismatch);
        }
        Ok(value)
    }

    #[cold]
    #[inline(never)]
    fn same_names(
        known: Option<&Cell<usize>>,
        key: usize,
        written: &[(&str, u32)],
        fields: &[&str],
    ) -> bool {
        let same =
            written.len() == fields.len() && written.iter().zip(fields).all(|(w, r)| w.0 == *r);
        if let (true, Some(known)) = (same, known) {
            known.set(key);
        }
        same
    }

    /// A struct's fields, each at its own node.
    struct Fields<'a, 's, 'de> {
        r: &'a mut Reading<'s, 'de>,
        written: &'s [(&'static str, u32)],
        read: usize,
    }

    impl<'de> de::SeqAccess<'de> for Fields<'_, '_, 'de> {
        type Error = Mismatch;

        #[inline]
        fn next_element_seed<T: DeserializeSeed<'de>>(
            &mut self,
            seed: T,
        ) -> Result<Option<T::Value>, Mismatch> {
            let Some(&(_, at)) = self.written.get(self.read) else {
                return Ok(None);
            };
            self.read += 1;
            seed.deserialize(Checked { r: self.r, at }).map(Some)
        }

        fn size_hint(&self) -> Option<usize> {
            Some(self.written.len() - self.read)
        }
    }

    /// A sequence's elements, all at one node.
    struct Elements<'a, 's, 'de> {
        r: &'a mut Reading<'s, 'de>,
        at: u32,
        left: usize,
    }

    impl<'de> de::SeqAccess<'de> for Elements<'_, '_, 'de> {
        type Error = Mismatch;

        #[inline]
        fn next_element_seed<T: DeserializeSeed<'de>>(
            &mut self,
            seed: T,
        ) -> Result<Option<T::Value>, Mismatch> {
            if self.left == 0 {
                return Ok(None);
            }
            self.left -= 1;
            seed.deserialize(Checked {
                r: self.r,
                at: self.at,
            })
            .map(Some)
        }

        fn size_hint(&self) -> Option<usize> {
            Some(self.left)
        }
    }

    /// The written variant, handed to the reader by name.
    struct CheckedVariant<'a, 's, 'de> {
        r: &'a mut Reading<'s, 'de>,
        variant: &'s Variant,
    }

    impl<'a, 's, 'de> de::EnumAccess<'de> for CheckedVariant<'a, 's, 'de> {
        type Error = Mismatch;
        type Variant = Self;

        #[inline]
        fn variant_seed<T: DeserializeSeed<'de>>(
            self,
            seed: T,
        ) -> Result<(T::Value, Self), Mismatch> {
            let name: de::value::StrDeserializer<'_, Mismatch> =
                self.variant.name.into_deserializer();
            Ok((seed.deserialize(name)?, self))
        }
    }

    impl<'de> de::VariantAccess<'de> for CheckedVariant<'_, '_, 'de> {
        type Error = Mismatch;

        #[inline]
        fn unit_variant(self) -> Result<(), Mismatch> {
            match self.variant.content {
                Content::Unit => Ok(()),
                _ => Err(Mismatch),
            }
        }

        #[inline]
        fn newtype_variant_seed<T: DeserializeSeed<'de>>(
            self,
            seed: T,
        ) -> Result<T::Value, Mismatch> {
            match self.variant.content {
                Content::Newtype(at) => seed.deserialize(Checked { r: self.r, at }),
                _ => Err(Mismatch),
            }
        }

        fn tuple_variant<V: Visitor<'de>>(self, _: usize, _: V) -> Result<V::Value, Mismatch> {
            Err(Mismatch)
        }

        #[inline]
        fn struct_variant<V: Visitor<'de>>(
            self,
            fields: &'static [&'static str],
            visitor: V,
        ) -> Result<V::Value, Mismatch> {
            match self.variant.content {
                Content::Struct(at) => structure(self.r, at, fields, visitor),
                _ => Err(Mismatch),
            }
        }
    }
}

/// Encoding: postcard's serializer, wrapped.
mod write {
    use std::cell::Cell;

    use postcard::ser_flavors::{AllocVec, Flavor};
    use serde::ser::{self, Serialize};

    use super::{mismatch, Content, Leaf, Mismatch};

    type Postcard = postcard::Serializer<AllocVec>;

    /// Encodes `value` as postcard does, through [`Forward`].
    pub fn forwarded<T: Serialize>(value: &T) -> Vec<u8> {
        let mut out = Postcard {
            output: AllocVec::new(),
        };
        value.serialize(Forward(&mut out)).unwrap();
        out.output.finalize().unwrap()
    }

    /// Encodes `value` as postcard does, through [`Checked`] against
    /// `schema`.
    pub fn checked<T: Serialize>(value: &T, schema: &Schema) -> Result<Vec<u8>, Mismatch> {
        let mut out = Postcard {
            output: AllocVec::new(),
        };
        value.serialize(Checked {
            out: &mut out,
            schema,
            at: 0,
        })?;
        Ok(out.output.finalize().unwrap())
    }

    /// Postcard's serializer, passing every nested value through itself.
    pub struct Forward<'a>(&'a mut Postcard);

    macro_rules! to_postcard {
        ($($method:ident($ty:ty))*) => {$(
            #[inline]
            fn $method(self, v: $ty) -> Result<(), postcard::Error> {
                ser::Serializer::$method(&mut *self.0, v)
            }
        )*};
    }

    impl<'a> ser::Serializer for Forward<'a> {
        type Ok = ();
        type Error = postcard::Error;
        type SerializeSeq = Self;
        type SerializeTuple = Self;
        type SerializeTupleStruct = Self;
        type SerializeTupleVariant = Self;
        type SerializeMap = Self;
        type SerializeStruct = Self;
        type SerializeStructVariant = Self;

        to_postcard! {
            serialize_bool(bool) serialize_i8(i8) serialize_i16(i16) serialize_i32(i32)
            serialize_i64(i64) serialize_u8(u8) serialize_u16(u16) serialize_u32(u32)
            serialize_u64(u64) serialize_f32(f32) serialize_f64(f64) serialize_char(char)
            serialize_str(&str) serialize_bytes(&[u8])
        }

        #[inline]
        fn serialize_none(self) -> Result<(), postcard::Error> {
            ser::Serializer::serialize_u8(&mut *self.0, 0)
        }

        #[inline]
        fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), postcard::Error> {
            ser::Serializer::serialize_u8(&mut *self.0, 1)?;
            value.serialize(self)
        }

        fn serialize_unit(self) -> Result<(), postcard::Error> {
            Ok(())
        }

        fn serialize_unit_struct(self, _: &'static str) -> Result<(), postcard::Error> {
            Ok(())
        }

        #[inline]
        fn serialize_unit_variant(
            self,
            _: &'static str,
            index: u32,
            _: &'static str,
        ) -> Result<(), postcard::Error> {
            ser::Serializer::serialize_u32(&mut *self.0, index)
        }

        fn serialize_newtype_struct<T: Serialize + ?Sized>(
            self,
            _: &'static str,
            value: &T,
        ) -> Result<(), postcard::Error> {
            value.serialize(self)
        }

        #[inline]
        fn serialize_newtype_variant<T: Serialize + ?Sized>(
            self,
            _: &'static str,
            index: u32,
            _: &'static str,
            value: &T,
        ) -> Result<(), postcard::Error> {
            ser::Serializer::serialize_u32(&mut *self.0, index)?;
            value.serialize(self)
        }

        #[inline]
        fn serialize_seq(self, len: Option<usize>) -> Result<Self, postcard::Error> {
            ser::Serializer::serialize_seq(&mut *self.0, len)?;
            Ok(self)
        }

        fn serialize_tuple(self, _: usize) -> Result<Self, postcard::Error> {
            Ok(self)
        }

        fn serialize_tuple_struct(
            self,
            _: &'static str,
            _: usize,
        ) -> Result<Self, postcard::Error> {
            Ok(self)
        }

        fn serialize_tuple_variant(
            self,
            _: &'static str,
            index: u32,
            _: &'static str,
            _: usize,
        ) -> Result<Self, postcard::Error> {
            ser::Serializer::serialize_u32(&mut *self.0, index)?;
            Ok(self)
        }

        fn serialize_map(self, len: Option<usize>) -> Result<Self, postcard::Error> {
            ser::Serializer::serialize_map(&mut *self.0, len)?;
            Ok(self)
        }

        #[inline]
        fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self, postcard::Error> {
            Ok(self)
        }

        #[inline]
        fn serialize_struct_variant(
            self,
            _: &'static str,
            index: u32,
            _: &'static str,
            _: usize,
        ) -> Result<Self, postcard::Error> {
            ser::Serializer::serialize_u32(&mut *self.0, index)?;
            Ok(self)
        }

        fn is_human_readable(&self) -> bool {
            false
        }
    }

    macro_rules! forward_compound {
        ($($trait:ident $method:ident)*) => {$(
            impl ser::$trait for Forward<'_> {
                type Ok = ();
                type Error = postcard::Error;

                #[inline]
                fn $method<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), postcard::Error> {
                    value.serialize(Forward(&mut *self.0))
                }

                #[inline]
                fn end(self) -> Result<(), postcard::Error> {
                    Ok(())
                }
            }
        )*};
    }

    forward_compound! {
        SerializeSeq serialize_element
        SerializeTuple serialize_element
        SerializeTupleStruct serialize_field
        SerializeTupleVariant serialize_field
    }

    impl ser::SerializeMap for Forward<'_> {
        type Ok = ();
        type Error = postcard::Error;

        fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), postcard::Error> {
            key.serialize(Forward(&mut *self.0))
        }

        fn serialize_value<T: Serialize + ?Sized>(
            &mut self,
            value: &T,
        ) -> Result<(), postcard::Error> {
            value.serialize(Forward(&mut *self.0))
        }

        fn end(self) -> Result<(), postcard::Error> {
            Ok(())
        }
    }

    macro_rules! forward_fields {
        ($($trait:ident)*) => {$(
            impl ser::$trait for Forward<'_> {
                type Ok = ();
                type Error = postcard::Error;

                #[inline]
                fn serialize_field<T: Serialize + ?Sized>(
                    &mut self,
                    _: &'static str,
                    value: &T,
                ) -> Result<(), postcard::Error> {
                    value.serialize(Forward(&mut *self.0))
                }

                #[inline]
                fn end(self) -> Result<(), postcard::Error> {
                    Ok(())
                }
            }
        )*};
    }

    forward_fields!(SerializeStruct SerializeStructVariant);

    /// One node of a schema already recorded: children by index.
    #[derive(Debug, Clone, Copy)]
    pub enum Node {
        Leaf(Leaf),
        /// Its name, then fields `first..first + len` of
        /// [`Schema::fields`].
        Struct {
            name: u32,
            first: u32,
            len: u32,
        },
        Option(u32),
        Seq(u32),
        /// Its name, then variants `first..first + len` of
        /// [`Schema::variants`], by index.
        Enum {
            name: u32,
            first: u32,
            len: u32,
        },
    }

    /// A schema already recorded, which every value written must match.
    /// Names are compared by address, as serde passes the same `&'static
    /// str` each time; a name equal at another address is compared once
    /// and its address then kept.
    pub struct Schema {
        pub nodes: Vec<Node>,
        pub names: Vec<Cell<&'static str>>,
        /// Name, node.
        pub fields: Vec<(u32, u32)>,
        /// Name, content.
        pub variants: Vec<(u32, Content)>,
    }

    impl Schema {
        #[inline]
        fn same(&self, name: u32, as_written: &'static str) -> bool {
            let Some(known) = self.names.get(name as usize) else {
                return false;
            };
            let k = known.get();
            (k.as_ptr() == as_written.as_ptr() && k.len() == as_written.len())
                || adopt(known, as_written)
        }
    }

    #[cold]
    #[inline(never)]
    fn adopt(known: &Cell<&'static str>, as_written: &'static str) -> bool {
        let same = known.get() == as_written;
        if same {
            known.set(as_written);
        }
        same
    }

    /// Writes the value at node `at`, checking it against what was
    /// recorded there.
    pub struct Checked<'a> {
        out: &'a mut Postcard,
        schema: &'a Schema,
        at: u32,
    }

    impl<'a> Checked<'a> {
        #[inline]
        fn node(&self) -> Option<&'a Node> {
            self.schema.nodes.get(self.at as usize)
        }

        #[inline]
        fn child(&mut self, at: u32) -> Checked<'_> {
            Checked {
                out: self.out,
                schema: self.schema,
                at,
            }
        }

        /// The variant `index` of the enum recorded here, checked by name.
        #[inline]
        fn variant(
            &self,
            name: &'static str,
            index: u32,
            variant: &'static str,
        ) -> Option<Content> {
            let Some(&Node::Enum {
                name: n,
                first,
                len,
            }) = self.node()
            else {
                return None;
            };
            if index >= len || !self.schema.same(n, name) {
                return None;
            }
            let (v, content) = self.schema.variants[(first + index) as usize];
            self.schema.same(v, variant).then_some(content)
        }
    }

    macro_rules! checked_leaves {
        ($($method:ident($ty:ty) => $leaf:ident)*) => {$(
            #[inline]
            fn $method(self, v: $ty) -> Result<(), Mismatch> {
                match self.node() {
                    Some(Node::Leaf(Leaf::$leaf)) => {
                        ser::Serializer::$method(&mut *self.out, v).map_err(mismatch)
                    }
                    _ => Err(Mismatch),
                }
            }
        )*};
    }

    macro_rules! refused {
        ($($method:ident($ty:ty))*) => {$(
            fn $method(self, _: $ty) -> Result<(), Mismatch> {
                Err(Mismatch)
            }
        )*};
    }

    impl<'a> ser::Serializer for Checked<'a> {
        type Ok = ();
        type Error = Mismatch;
        type SerializeSeq = Elements<'a>;
        type SerializeTuple = ser::Impossible<(), Mismatch>;
        type SerializeTupleStruct = ser::Impossible<(), Mismatch>;
        type SerializeTupleVariant = ser::Impossible<(), Mismatch>;
        type SerializeMap = ser::Impossible<(), Mismatch>;
        type SerializeStruct = Fields<'a>;
        type SerializeStructVariant = Fields<'a>;

        checked_leaves! {
            serialize_u8(u8) => U8
            serialize_u32(u32) => U32
            serialize_u64(u64) => U64
            serialize_i32(i32) => I32
            serialize_i64(i64) => I64
        }

        refused! {
            serialize_bool(bool) serialize_i8(i8) serialize_i16(i16) serialize_u16(u16)
            serialize_f32(f32) serialize_f64(f64) serialize_char(char) serialize_str(&str)
            serialize_bytes(&[u8]) serialize_unit_struct(&'static str)
        }

        fn serialize_unit(self) -> Result<(), Mismatch> {
            Err(Mismatch)
        }

        #[inline]
        fn serialize_none(self) -> Result<(), Mismatch> {
            let Some(Node::Option(_)) = self.node() else {
                return Err(Mismatch);
            };
            ser::Serializer::serialize_u8(&mut *self.out, 0).map_err(mismatch)
        }

        #[inline]
        fn serialize_some<T: Serialize + ?Sized>(mut self, value: &T) -> Result<(), Mismatch> {
            let Some(&Node::Option(at)) = self.node() else {
                return Err(Mismatch);
            };
            ser::Serializer::serialize_u8(&mut *self.out, 1).map_err(mismatch)?;
            value.serialize(self.child(at))
        }

        #[inline]
        fn serialize_unit_variant(
            self,
            name: &'static str,
            index: u32,
            variant: &'static str,
        ) -> Result<(), Mismatch> {
            let Some(Content::Unit) = self.variant(name, index, variant) else {
                return Err(Mismatch);
            };
            ser::Serializer::serialize_u32(&mut *self.out, index).map_err(mismatch)
        }

        fn serialize_newtype_struct<T: Serialize + ?Sized>(
            self,
            _: &'static str,
            _: &T,
        ) -> Result<(), Mismatch> {
            Err(Mismatch)
        }

        #[inline]
        fn serialize_newtype_variant<T: Serialize + ?Sized>(
            mut self,
            name: &'static str,
            index: u32,
            variant: &'static str,
            value: &T,
        ) -> Result<(), Mismatch> {
            let Some(Content::Newtype(at)) = self.variant(name, index, variant) else {
                return Err(Mismatch);
            };
            ser::Serializer::serialize_u32(&mut *self.out, index).map_err(mismatch)?;
            value.serialize(self.child(at))
        }

        #[inline]
        fn serialize_seq(self, len: Option<usize>) -> Result<Elements<'a>, Mismatch> {
            let Some(&Node::Seq(at)) = self.node() else {
                return Err(Mismatch);
            };
            ser::Serializer::serialize_seq(&mut *self.out, len).map_err(mismatch)?;
            Ok(Elements {
                out: self.out,
                schema: self.schema,
                at,
            })
        }

        fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, Mismatch> {
            Err(Mismatch)
        }

        fn serialize_tuple_struct(
            self,
            _: &'static str,
            _: usize,
        ) -> Result<Self::SerializeTupleStruct, Mismatch> {
            Err(Mismatch)
        }

        fn serialize_tuple_variant(
            self,
            _: &'static str,
            _: u32,
            _: &'static str,
            _: usize,
        ) -> Result<Self::SerializeTupleVariant, Mismatch> {
            Err(Mismatch)
        }

        fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, Mismatch> {
            Err(Mismatch)
        }

        #[inline]
        fn serialize_struct(self, name: &'static str, _: usize) -> Result<Fields<'a>, Mismatch> {
            let Some(&Node::Struct {
                name: n,
                first,
                len,
            }) = self.node()
            else {
                return Err(Mismatch);
            };
            if !self.schema.same(n, name) {
                return Err(Mismatch);
            }
            Ok(Fields::new(self.out, self.schema, first, len))
        }

        #[inline]
        fn serialize_struct_variant(
            self,
            name: &'static str,
            index: u32,
            variant: &'static str,
            _: usize,
        ) -> Result<Fields<'a>, Mismatch> {
            let Some(Content::Struct(at)) = self.variant(name, index, variant) else {
                return Err(Mismatch);
            };
            let Some(&Node::Struct { first, len, .. }) = self.schema.nodes.get(at as usize) else {
                return Err(Mismatch);
            };
            ser::Serializer::serialize_u32(&mut *self.out, index).map_err(mismatch)?;
            Ok(Fields::new(self.out, self.schema, first, len))
        }

        fn is_human_readable(&self) -> bool {
            false
        }
    }

    /// A sequence's elements, all at one node.
    pub struct Elements<'a> {
        out: &'a mut Postcard,
        schema: &'a Schema,
        at: u32,
    }

    impl ser::SerializeSeq for Elements<'_> {
        type Ok = ();
        type Error = Mismatch;

        #[inline]
        fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Mismatch> {
            value.serialize(Checked {
                out: self.out,
                schema: self.schema,
                at: self.at,
            })
        }

        fn end(self) -> Result<(), Mismatch> {
            Ok(())
        }
    }

    /// A struct's fields, each checked by name and written at its node;
    /// all of them, in recorded order.
    pub struct Fields<'a> {
        out: &'a mut Postcard,
        schema: &'a Schema,
        fields: &'a [(u32, u32)],
        written: usize,
    }

    impl<'a> Fields<'a> {
        #[inline]
        fn new(out: &'a mut Postcard, schema: &'a Schema, first: u32, len: u32) -> Self {
            Fields {
                out,
                schema,
                fields: &schema.fields[first as usize..(first + len) as usize],
                written: 0,
            }
        }

        #[inline]
        fn field<T: Serialize + ?Sized>(
            &mut self,
            key: &'static str,
            value: &T,
        ) -> Result<(), Mismatch> {
            let Some(&(name, at)) = self.fields.get(self.written) else {
                return Err(Mismatch);
            };
            if !self.schema.same(name, key) {
                return Err(Mismatch);
            }
            self.written += 1;
            value.serialize(Checked {
                out: self.out,
                schema: self.schema,
                at,
            })
        }

        #[inline]
        fn end(self) -> Result<(), Mismatch> {
            if self.written == self.fields.len() {
                Ok(())
            } else {
                Err(Mismatch)
            }
        }
    }

    macro_rules! checked_fields {
        ($($trait:ident)*) => {$(
            impl ser::$trait for Fields<'_> {
                type Ok = ();
                type Error = Mismatch;

                #[inline]
                fn serialize_field<T: Serialize + ?Sized>(
                    &mut self,
                    key: &'static str,
                    value: &T,
                ) -> Result<(), Mismatch> {
                    self.field(key, value)
                }

                #[inline]
                fn end(self) -> Result<(), Mismatch> {
                    Fields::end(self)
                }
            }
        )*};
    }

    checked_fields!(SerializeStruct SerializeStructVariant);

    /// The schema of `Vec<Order>` as recorded from earlier saves, with its
    /// names as `String`s (so at other addresses than serde's).
    pub fn order_schema() -> Schema {
        let names = [
            "Order",
            "id",
            "side",
            "price",
            "status",
            "flags",
            "Side",
            "Buy",
            "Sell",
            "Price",
            "units",
            "nanos",
            "Status",
            "New",
            "Filled",
            "Cancelled",
            "qty",
        ];
        let name = |n: &str| names.iter().position(|m| *m == n).unwrap() as u32;
        Schema {
            nodes: vec![
                Node::Seq(1),
                Node::Struct {
                    name: name("Order"),
                    first: 0,
                    len: 5,
                },
                Node::Leaf(Leaf::U64),
                Node::Enum {
                    name: name("Side"),
                    first: 0,
                    len: 2,
                },
                Node::Struct {
                    name: name("Price"),
                    first: 5,
                    len: 2,
                },
                Node::Leaf(Leaf::I64),
                Node::Leaf(Leaf::I32),
                Node::Enum {
                    name: name("Status"),
                    first: 2,
                    len: 3,
                },
                Node::Struct {
                    name: name("Filled"),
                    first: 7,
                    len: 1,
                },
                Node::Leaf(Leaf::U8),
                Node::Option(11),
                Node::Leaf(Leaf::U8),
                Node::Leaf(Leaf::U32),
            ],
            names: names
                .iter()
                .map(|n| Cell::new(&*String::leak(n.to_string())))
                .collect(),
            fields: vec![
                (name("id"), 2),
                (name("side"), 3),
                (name("price"), 4),
                (name("status"), 7),
                (name("flags"), 10),
                (name("units"), 5),
                (name("nanos"), 6),
                (name("qty"), 12),
            ],
            variants: vec![
                (name("Buy"), Content::Unit),
                (name("Sell"), Content::Unit),
                (name("New"), Content::Unit),
                (name("Filled"), Content::Struct(8)),
                (name("Cancelled"), Content::Newtype(9)),
            ],
        }
    }
}
