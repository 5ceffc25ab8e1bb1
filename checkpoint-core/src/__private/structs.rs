//! What a derived `Deserialize` of a struct shares with every other.

use core::marker::PhantomData;

use serde::{Deserialize, Deserializer};

// What a derived `Deserialize` of a struct shares with every other: the
// visitor, the field-name matching and the missing-field rule live here once,
// generic over the list of the struct's stored fields, instead of being
// generated for each struct.

/// The end of a [`Cons`] list of a struct's stored fields.
pub struct Nil;

/// A struct's stored fields, in order: `Cons<A, Cons<B, Nil>>`.
pub struct Cons<H, T>(pub H, pub T);

/// `PhantomData<Nil>`, to build a field list's type from witnesses.
#[inline]
pub const fn nil() -> PhantomData<Nil> {
    PhantomData
}

/// `PhantomData<Cons<H, T>>`, to build a field list's type from witnesses.
#[inline]
pub const fn cons<H, T>(_: PhantomData<H>, _: PhantomData<T>) -> PhantomData<Cons<H, T>> {
    PhantomData
}

/// A list of fields that can be deserialized from a sequence (in order) or
/// from a map (by name).
pub trait FieldList<'de>: Sized {
    /// One `Option` per field, filled from a map.
    type Slots;
    /// The slots, all empty.
    fn slots() -> Self::Slots;
    /// Reads the fields in order; `read` counts those read before.
    ///
    /// # Errors
    ///
    /// A field that does not decode, or a sequence too short.
    fn visit_seq<A: serde::de::SeqAccess<'de>>(
        seq: &mut A,
        read: usize,
        expected: &dyn serde::de::Expected,
    ) -> core::result::Result<Self, A::Error>;
    /// Reads the value of the field `index` places down the list.
    ///
    /// # Errors
    ///
    /// The value does not decode, or the field was already read.
    fn visit_value<A: serde::de::MapAccess<'de>>(
        slots: &mut Self::Slots,
        map: &mut A,
        index: usize,
        names: &'static [&'static str],
        depth: usize,
    ) -> core::result::Result<(), A::Error>;
    /// The fields read from a map; a missing one is `None` if it is an
    /// `Option`, an error otherwise.
    ///
    /// # Errors
    ///
    /// A field is missing.
    fn finish<E: serde::de::Error>(
        slots: Self::Slots,
        names: &'static [&'static str],
        depth: usize,
    ) -> core::result::Result<Self, E>;
}

impl<'de> FieldList<'de> for Nil {
    type Slots = ();
    #[inline]
    fn slots() {}
    #[inline]
    fn visit_seq<A: serde::de::SeqAccess<'de>>(
        _: &mut A,
        _: usize,
        _: &dyn serde::de::Expected,
    ) -> core::result::Result<Self, A::Error> {
        Ok(Nil)
    }
    #[inline]
    fn visit_value<A: serde::de::MapAccess<'de>>(
        _: &mut (),
        map: &mut A,
        _: usize,
        _: &'static [&'static str],
        _: usize,
    ) -> core::result::Result<(), A::Error> {
        // not reached: a key's index is below the number of names
        map.next_value::<serde::de::IgnoredAny>().map(|_| ())
    }
    #[inline]
    fn finish<E: serde::de::Error>(
        _: (),
        _: &'static [&'static str],
        _: usize,
    ) -> core::result::Result<Self, E> {
        Ok(Nil)
    }
}

impl<'de, H: Deserialize<'de>, T: FieldList<'de>> FieldList<'de> for Cons<H, T> {
    type Slots = (Option<H>, T::Slots);
    #[inline]
    fn slots() -> Self::Slots {
        (None, T::slots())
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(
        seq: &mut A,
        read: usize,
        expected: &dyn serde::de::Expected,
    ) -> core::result::Result<Self, A::Error> {
        let head = match seq.next_element()? {
            Some(head) => head,
            None => return Err(serde::de::Error::invalid_length(read, expected)),
        };
        Ok(Cons(head, T::visit_seq(seq, read + 1, expected)?))
    }
    fn visit_value<A: serde::de::MapAccess<'de>>(
        slots: &mut Self::Slots,
        map: &mut A,
        index: usize,
        names: &'static [&'static str],
        depth: usize,
    ) -> core::result::Result<(), A::Error> {
        if index > 0 {
            return T::visit_value(&mut slots.1, map, index - 1, names, depth + 1);
        }
        if slots.0.is_some() {
            return Err(serde::de::Error::duplicate_field(names[depth]));
        }
        slots.0 = Some(map.next_value()?);
        Ok(())
    }
    fn finish<E: serde::de::Error>(
        slots: Self::Slots,
        names: &'static [&'static str],
        depth: usize,
    ) -> core::result::Result<Self, E> {
        let head = match slots.0 {
            Some(head) => head,
            None => H::deserialize(MissingField(names[depth], PhantomData))?,
        };
        Ok(Cons(head, T::finish(slots.1, names, depth + 1)?))
    }
}

/// Deserializes a field a map lacks: `None` for an `Option`, the error
/// "missing field" for anything else, as serde's derive does.
struct MissingField<E>(&'static str, PhantomData<E>);

impl<'de, E: serde::de::Error> Deserializer<'de> for MissingField<E> {
    type Error = E;
    fn deserialize_any<V: serde::de::Visitor<'de>>(
        self,
        _: V,
    ) -> core::result::Result<V::Value, E> {
        Err(E::missing_field(self.0))
    }
    fn deserialize_option<V: serde::de::Visitor<'de>>(
        self,
        visitor: V,
    ) -> core::result::Result<V::Value, E> {
        visitor.visit_none()
    }
    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct newtype_struct seq tuple
        tuple_struct map struct enum identifier ignored_any
    }
}

/// A map key: the index of the field it names, or `None` for a key the
/// struct does not have (ignored, as serde's derive does).
struct FieldKey(&'static [&'static str]);

impl<'de> serde::de::DeserializeSeed<'de> for FieldKey {
    type Value = Option<usize>;
    fn deserialize<D: Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> core::result::Result<Option<usize>, D::Error> {
        deserializer.deserialize_identifier(self)
    }
}

impl<'de> serde::de::Visitor<'de> for FieldKey {
    type Value = Option<usize>;
    fn expecting(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("field identifier")
    }
    fn visit_u64<E: serde::de::Error>(self, index: u64) -> core::result::Result<Option<usize>, E> {
        Ok(usize::try_from(index).ok().filter(|&i| i < self.0.len()))
    }
    fn visit_str<E: serde::de::Error>(self, name: &str) -> core::result::Result<Option<usize>, E> {
        Ok(self.0.iter().position(|n| *n == name))
    }
    fn visit_bytes<E: serde::de::Error>(
        self,
        name: &[u8],
    ) -> core::result::Result<Option<usize>, E> {
        Ok(self.0.iter().position(|n| n.as_bytes() == name))
    }
}

/// How a derived struct's `Serialize` impl writes it.
#[derive(Clone, Copy)]
enum StructKind {
    Named,
    Tuple,
    Newtype,
    Unit,
}

struct StructVisitor<L> {
    name: &'static str,
    names: &'static [&'static str],
    kind: StructKind,
    fields: PhantomData<L>,
}

/// What a sequence too short for a struct was expected to hold.
struct Elements {
    name: &'static str,
    len: usize,
    tuple: bool,
}

impl serde::de::Expected for Elements {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let what = if self.tuple { "tuple struct" } else { "struct" };
        write!(f, "{what} {} with {} elements", self.name, self.len)
    }
}

impl<L> StructVisitor<L> {
    fn elements(&self) -> Elements {
        Elements {
            name: self.name,
            len: self.names.len(),
            tuple: !matches!(self.kind, StructKind::Named),
        }
    }
}

impl<'de, L: FieldList<'de>> serde::de::Visitor<'de> for StructVisitor<L> {
    type Value = L;
    fn expecting(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.kind {
            StructKind::Named => write!(f, "struct {}", self.name),
            StructKind::Tuple | StructKind::Newtype => write!(f, "tuple struct {}", self.name),
            StructKind::Unit => write!(f, "unit struct {}", self.name),
        }
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(
        self,
        mut seq: A,
    ) -> core::result::Result<L, A::Error> {
        L::visit_seq(&mut seq, 0, &self.elements())
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(
        self,
        mut map: A,
    ) -> core::result::Result<L, A::Error> {
        if !matches!(self.kind, StructKind::Named) {
            return Err(serde::de::Error::invalid_type(
                serde::de::Unexpected::Map,
                &self,
            ));
        }
        let mut slots = L::slots();
        while let Some(key) = map.next_key_seed(FieldKey(self.names))? {
            match key {
                Some(index) => L::visit_value(&mut slots, &mut map, index, self.names, 0)?,
                None => {
                    map.next_value::<serde::de::IgnoredAny>()?;
                }
            }
        }
        L::finish(slots, self.names, 0)
    }
    fn visit_newtype_struct<D: Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> core::result::Result<L, D::Error> {
        if !matches!(self.kind, StructKind::Newtype) {
            return Err(serde::de::Error::invalid_type(
                serde::de::Unexpected::NewtypeStruct,
                &self,
            ));
        }
        L::visit_seq(&mut OneElement(Some(deserializer)), 0, &self.elements())
    }
    fn visit_unit<E: serde::de::Error>(self) -> core::result::Result<L, E> {
        if !matches!(self.kind, StructKind::Unit) {
            return Err(E::invalid_type(serde::de::Unexpected::Unit, &self));
        }
        L::finish(L::slots(), self.names, 0)
    }
}

/// The one element of a newtype struct, as a sequence.
struct OneElement<D>(Option<D>);

impl<'de, D: Deserializer<'de>> serde::de::SeqAccess<'de> for OneElement<D> {
    type Error = D::Error;
    fn next_element_seed<S: serde::de::DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> core::result::Result<Option<S::Value>, D::Error> {
        self.0.take().map(|d| seed.deserialize(d)).transpose()
    }
}

/// `Deserialize` of a struct with named fields whose stored fields are `L`.
///
/// # Errors
///
/// As `D::deserialize_struct`.
pub fn deserialize_struct<'de, D: Deserializer<'de>, L: FieldList<'de>>(
    deserializer: D,
    name: &'static str,
    names: &'static [&'static str],
    _: PhantomData<L>,
) -> core::result::Result<L, D::Error> {
    let visitor = StructVisitor {
        name,
        names,
        kind: StructKind::Named,
        fields: PhantomData,
    };
    deserializer.deserialize_struct(name, names, visitor)
}

/// `Deserialize` of a tuple struct whose stored fields (not one) are `L`.
///
/// # Errors
///
/// As `D::deserialize_tuple_struct`.
pub fn deserialize_tuple_struct<'de, D: Deserializer<'de>, L: FieldList<'de>>(
    deserializer: D,
    name: &'static str,
    names: &'static [&'static str],
    _: PhantomData<L>,
) -> core::result::Result<L, D::Error> {
    let visitor = StructVisitor {
        name,
        names,
        kind: StructKind::Tuple,
        fields: PhantomData,
    };
    deserializer.deserialize_tuple_struct(name, names.len(), visitor)
}

/// `Deserialize` of a tuple struct with one stored field.
///
/// # Errors
///
/// As `D::deserialize_newtype_struct`.
pub fn deserialize_newtype_struct<'de, D: Deserializer<'de>, H: Deserialize<'de>>(
    deserializer: D,
    name: &'static str,
    _: PhantomData<Cons<H, Nil>>,
) -> core::result::Result<Cons<H, Nil>, D::Error> {
    let visitor = StructVisitor {
        name,
        names: &["0"],
        kind: StructKind::Newtype,
        fields: PhantomData,
    };
    deserializer.deserialize_newtype_struct(name, visitor)
}

/// `Deserialize` of a struct with no stored field written as a unit struct.
///
/// # Errors
///
/// As `D::deserialize_unit_struct`.
pub fn deserialize_unit_struct<'de, D: Deserializer<'de>>(
    deserializer: D,
    name: &'static str,
) -> core::result::Result<Nil, D::Error> {
    let visitor = StructVisitor::<Nil> {
        name,
        names: &[],
        kind: StructKind::Unit,
        fields: PhantomData,
    };
    deserializer.deserialize_unit_struct(name, visitor)
}
