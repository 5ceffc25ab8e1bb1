//! Support for the code `#[derive(Checkpoint)]` generates. Not public API.
//!
//! A serialized field whose type is not serializable must fail to compile
//! with one error that names the field. So the derive asserts
//! [`SerializedField`] once per field (in one generic function whose type
//! parameters are named after the fields), and every other use of the field's
//! type goes through [`FieldCodec`], whose methods resolve (by autoref) to
//! the serde-backed [`Codec`] when the type is serializable and otherwise to
//! [`NoCodec`], which compiles silently and is never run: the assertion has
//! already failed the build.

use core::marker::PhantomData;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

pub use crate::{
    Checkpoint, Error, FieldReader, FieldSchema, FieldWriter, Result, Schema, Shape, VariantSchema,
};

/// Implemented by every type a serialized field can have. `F` is a marker
/// named after the field, so the compile error names the field.
#[diagnostic::on_unimplemented(
    message = "field `{F}` cannot be checkpointed: `{Self}` does not implement serde's `Serialize` and `DeserializeOwned`",
    label = "not serializable",
    note = "serialize it or mark it `#[derived(from = ...)]` to rebuild it on restore"
)]
pub trait SerializedField<F> {}

#[diagnostic::do_not_recommend]
impl<T: Serialize + DeserializeOwned, F> SerializedField<F> for T {}

/// Compile-time check that field `F` has a serializable type `T`. `F` is a
/// type parameter named after the field.
pub const fn assert_field<F, T: SerializedField<F>>() {}

/// How generated code reaches a field of type `T`: call the methods of
/// [`Codec`] / [`NoCodec`] on `&FieldCodec::<T>::new()`.
pub struct FieldCodec<T>(PhantomData<fn() -> T>);

impl<T> Default for FieldCodec<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> FieldCodec<T> {
    /// The codec of a field of type `T`.
    #[inline]
    pub const fn new() -> Self {
        FieldCodec(PhantomData)
    }
}

/// Field access for serializable types.
pub trait Codec<T> {
    /// Writes the field's frame.
    ///
    /// # Errors
    ///
    /// As [`FieldWriter::field`].
    fn write_field(&self, out: &mut FieldWriter<'_>, name: &'static str, value: &T) -> Result<()>;
    /// Reads the field's frame.
    ///
    /// # Errors
    ///
    /// As [`FieldReader::field`].
    fn read_field(&self, input: &mut FieldReader<'_>, name: &'static str) -> Result<T>;
    /// Reads the field's frame under its name or a former one.
    ///
    /// # Errors
    ///
    /// As [`FieldReader::field_any`].
    fn read_field_any(
        &self,
        input: &mut FieldReader<'_>,
        names: &[&'static str],
    ) -> Result<Option<T>>;
    /// Reads a field declared `#[checkpoint(was = O, convert = ...)]`, as
    /// whichever of `T` and `O` the checkpoint stores.
    ///
    /// # Errors
    ///
    /// As [`FieldReader::field_or_was`].
    fn read_field_or_was<O: DeserializeOwned>(
        &self,
        input: &mut FieldReader<'_>,
        names: &[&'static str],
        key: &str,
        convert: fn(O) -> T,
    ) -> Result<Option<T>>;
    /// The field as the serde shadow type holds it.
    fn serialize_as<'a>(&self, value: &'a T) -> SerializeField<'a, T>;
    /// The type the serde shadow type deserializes the field as.
    fn deserialize_as(&self) -> PhantomData<DeserializeField<T>>;
}

impl<T: Serialize + DeserializeOwned> Codec<T> for FieldCodec<T> {
    #[inline]
    fn write_field(&self, out: &mut FieldWriter<'_>, name: &'static str, value: &T) -> Result<()> {
        out.field_checked(name, value)
    }
    #[inline]
    fn read_field(&self, input: &mut FieldReader<'_>, name: &'static str) -> Result<T> {
        input.field(name)
    }
    #[inline]
    fn read_field_any(
        &self,
        input: &mut FieldReader<'_>,
        names: &[&'static str],
    ) -> Result<Option<T>> {
        input.field_any(names)
    }
    #[inline]
    fn read_field_or_was<O: DeserializeOwned>(
        &self,
        input: &mut FieldReader<'_>,
        names: &[&'static str],
        key: &str,
        convert: fn(O) -> T,
    ) -> Result<Option<T>> {
        input.field_or_was(names, key, convert)
    }
    #[inline]
    fn serialize_as<'a>(&self, value: &'a T) -> SerializeField<'a, T> {
        SerializeField(value)
    }
    #[inline]
    fn deserialize_as(&self) -> PhantomData<DeserializeField<T>> {
        PhantomData
    }
}

/// Stand-in for [`Codec`] on a type that is not serializable; only
/// reached in code whose build fails on [`assert_field`].
pub trait NoCodec<T> {
    /// Never runs.
    ///
    /// # Errors
    ///
    /// Never runs.
    fn write_field(&self, out: &mut FieldWriter<'_>, name: &'static str, value: &T) -> Result<()>;
    /// Never runs.
    ///
    /// # Errors
    ///
    /// Never runs.
    fn read_field(&self, input: &mut FieldReader<'_>, name: &'static str) -> Result<T>;
    /// Never runs.
    ///
    /// # Errors
    ///
    /// Never runs.
    fn read_field_any(
        &self,
        input: &mut FieldReader<'_>,
        names: &[&'static str],
    ) -> Result<Option<T>>;
    /// Never runs.
    ///
    /// # Errors
    ///
    /// Never runs.
    fn read_field_or_was<O>(
        &self,
        input: &mut FieldReader<'_>,
        names: &[&'static str],
        key: &str,
        convert: fn(O) -> T,
    ) -> Result<Option<T>>;
    /// Never runs.
    fn serialize_as<'a>(&self, value: &'a T) -> Unserializable<'a, T>;
    /// Never runs.
    fn deserialize_as(&self) -> PhantomData<Unserializable<'static, T>>;
}

impl<T> NoCodec<T> for &FieldCodec<T> {
    fn write_field(&self, _: &mut FieldWriter<'_>, _: &'static str, _: &T) -> Result<()> {
        unreachable!("rejected at compile time")
    }
    fn read_field(&self, _: &mut FieldReader<'_>, _: &'static str) -> Result<T> {
        unreachable!("rejected at compile time")
    }
    fn read_field_any(&self, _: &mut FieldReader<'_>, _: &[&'static str]) -> Result<Option<T>> {
        unreachable!("rejected at compile time")
    }
    fn read_field_or_was<O>(
        &self,
        _: &mut FieldReader<'_>,
        _: &[&'static str],
        _: &str,
        _: fn(O) -> T,
    ) -> Result<Option<T>> {
        unreachable!("rejected at compile time")
    }
    fn serialize_as<'a>(&self, _: &'a T) -> Unserializable<'a, T> {
        unreachable!("rejected at compile time")
    }
    fn deserialize_as(&self) -> PhantomData<Unserializable<'static, T>> {
        PhantomData
    }
}

/// A serialized field, borrowed for serialization.
pub struct SerializeField<'a, T>(&'a T);

impl<T: Serialize> Serialize for SerializeField<'_, T> {
    #[inline]
    fn serialize<S: Serializer>(&self, serializer: S) -> core::result::Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

/// A serialized field, deserialized.
pub struct DeserializeField<T>(T);

impl<T> DeserializeField<T> {
    /// The field's value.
    #[inline]
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for DeserializeField<T> {
    #[inline]
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> core::result::Result<Self, D::Error> {
        T::deserialize(deserializer).map(DeserializeField)
    }
}

/// See [`NoCodec`].
pub struct Unserializable<'a, T>(PhantomData<fn(&'a ()) -> T>, core::convert::Infallible);

impl<T> Unserializable<'_, T> {
    /// Never runs.
    pub fn into_inner(self) -> T {
        match self.1 {}
    }
}

impl<T> Serialize for Unserializable<'_, T> {
    fn serialize<S: Serializer>(&self, _: S) -> core::result::Result<S::Ok, S::Error> {
        unreachable!("rejected at compile time")
    }
}

impl<'de, T> Deserialize<'de> for Unserializable<'_, T> {
    fn deserialize<D: Deserializer<'de>>(_: D) -> core::result::Result<Self, D::Error> {
        unreachable!("rejected at compile time")
    }
}

/// Deserializes a `S` named by a witness (the derive's shadow type, whose
/// field types the codecs chose).
///
/// # Errors
///
/// As `S::deserialize`.
#[inline]
pub fn deserialize_as<'de, D: Deserializer<'de>, S: Deserialize<'de>>(
    deserializer: D,
    _: PhantomData<S>,
) -> core::result::Result<S, D::Error> {
    S::deserialize(deserializer)
}

/// What `#[checkpoint(check = PATH)]` returned, as [`Checkpoint::check`]
/// reports it.
///
/// # Errors
///
/// The check's error, as text.
pub fn check_outcome<E: core::fmt::Display>(
    outcome: core::result::Result<(), E>,
) -> core::result::Result<(), String> {
    outcome.map_err(|e| e.to_string())
}

/// std's types whose value can change behind a shared reference, and std's
/// containers of them: what [`MutabilityProbe`] detects.
pub trait InteriorMutable {}

macro_rules! interior_mutable {
    ($($ty:ty $(: $param:ident)?),* $(,)?) => {
        $(impl<$($param: ?Sized)?> InteriorMutable for $ty {})*
    };
}

interior_mutable!(
    core::cell::Cell<T>: T,
    core::cell::RefCell<T>: T,
    core::cell::UnsafeCell<T>: T,
    std::sync::Mutex<T>: T,
    std::sync::RwLock<T>: T,
    core::sync::atomic::AtomicBool,
    core::sync::atomic::AtomicI8,
    core::sync::atomic::AtomicI16,
    core::sync::atomic::AtomicI32,
    core::sync::atomic::AtomicI64,
    core::sync::atomic::AtomicIsize,
    core::sync::atomic::AtomicU8,
    core::sync::atomic::AtomicU16,
    core::sync::atomic::AtomicU32,
    core::sync::atomic::AtomicU64,
    core::sync::atomic::AtomicUsize,
);

impl<T> InteriorMutable for core::cell::OnceCell<T> {}
impl<T> InteriorMutable for std::sync::OnceLock<T> {}
impl<T> InteriorMutable for core::sync::atomic::AtomicPtr<T> {}
impl<T, F> InteriorMutable for core::cell::LazyCell<T, F> {}
impl<T, F> InteriorMutable for std::sync::LazyLock<T, F> {}

macro_rules! containers {
    ($($ty:ty),* $(,)?) => {
        $(impl<T: ?Sized + InteriorMutable> InteriorMutable for $ty {})*
    };
}

containers!(
    Box<T>,
    std::rc::Rc<T>,
    std::sync::Arc<T>,
    core::mem::ManuallyDrop<T>,
);

macro_rules! sized_containers {
    ($($ty:ty),* $(,)?) => {
        $(impl<T: InteriorMutable> InteriorMutable for $ty {})*
    };
}

sized_containers!(
    [T],
    Option<T>,
    Vec<T>,
    std::collections::VecDeque<T>,
    std::collections::LinkedList<T>,
    std::collections::BinaryHeap<T>,
    std::collections::BTreeSet<T>,
    core::cmp::Reverse<T>,
    core::num::Wrapping<T>,
);

impl<T: InteriorMutable, const N: usize> InteriorMutable for [T; N] {}
impl<K, V: InteriorMutable> InteriorMutable for std::collections::BTreeMap<K, V> {}
impl<K, V: InteriorMutable, S> InteriorMutable for std::collections::HashMap<K, V, S> {}
impl<T: InteriorMutable, S> InteriorMutable for std::collections::HashSet<T, S> {}
impl<T: InteriorMutable, E> InteriorMutable for core::result::Result<T, E> {}

/// Asks, by autoref, whether `T` is [`InteriorMutable`]: generated code
/// calls [`Mutable::mutability`] / [`Immutable::mutability`] and
/// [`StdType::std_type`] / [`OtherType::std_type`] on
/// `&MutabilityProbe::<T>::new()`. In generic code the answer is "no" for a
/// type parameter: only the types written in the field are seen.
pub struct MutabilityProbe<T: ?Sized>(PhantomData<fn() -> PhantomData<T>>);

impl<T: ?Sized> MutabilityProbe<T> {
    /// The probe of `T`.
    #[inline]
    pub const fn new() -> Self {
        MutabilityProbe(PhantomData)
    }
}

impl<T: ?Sized> Default for MutabilityProbe<T> {
    fn default() -> Self {
        Self::new()
    }
}

/// Found for an interior-mutable type: names it.
pub trait Mutable<T: ?Sized> {
    /// `T` itself, which [`assert_captured_at_once`] rejects.
    fn mutability(&self) -> PhantomData<T>;
}

impl<T: ?Sized + InteriorMutable> Mutable<T> for MutabilityProbe<T> {
    #[inline]
    fn mutability(&self) -> PhantomData<T> {
        PhantomData
    }
}

/// Found for every other type.
pub trait Immutable {
    /// [`CapturedAtOnce`], which [`assert_captured_at_once`] accepts.
    fn mutability(&self) -> PhantomData<CapturedAtOnce>;
}

impl<T: ?Sized> Immutable for &MutabilityProbe<T> {
    #[inline]
    fn mutability(&self) -> PhantomData<CapturedAtOnce> {
        PhantomData
    }
}

/// Found for std's interior-mutable types: the field is then reported by
/// [`assert_captured_at_once`], so this one accepts.
pub trait StdType {
    /// [`CapturedAtOnce`].
    fn std_type(&self) -> PhantomData<CapturedAtOnce>;
}

impl<T: ?Sized + InteriorMutable> StdType for MutabilityProbe<T> {
    #[inline]
    fn std_type(&self) -> PhantomData<CapturedAtOnce> {
        PhantomData
    }
}

/// Found for a type named like one of std's interior-mutable types that is
/// not std's.
pub trait OtherType<T: ?Sized> {
    /// `T` itself, which [`assert_std_type`] rejects.
    fn std_type(&self) -> PhantomData<T>;
}

impl<T: ?Sized> OtherType<T> for &MutabilityProbe<T> {
    #[inline]
    fn std_type(&self) -> PhantomData<T> {
        PhantomData
    }
}

/// What a probe answers for a type whose value is captured at one instant.
pub struct CapturedAtOnce;

/// Implemented by [`CapturedAtOnce`] only. `F` is a marker named after
/// the field.
#[diagnostic::on_unimplemented(
    message = "field `{F}` has interior mutability (`{Self}`): its parts could be captured at different instants",
    label = "interior mutability",
    note = "mark it `#[derived(from = ...)]` to rebuild it on restore, or `#[checkpoint(allow_interior_mutability)]` if every checkpoint is taken while nothing else can change it"
)]
pub trait ConsistentField<F> {}

impl<F> ConsistentField<F> for CapturedAtOnce {}

/// Compile-time check that field `F` has no interior mutability the probe
/// can see.
#[inline]
pub fn assert_captured_at_once<F, T: ?Sized + ConsistentField<F>>(_: PhantomData<T>) {}

/// Implemented by [`CapturedAtOnce`] only. `F` is a marker named after
/// the field.
#[diagnostic::on_unimplemented(
    message = "field `{F}` has a type named like std's interior-mutable types, but `{Self}` is not std's",
    label = "a lock, a cell or your own type?",
    note = "if it can change behind `&` (a lock or cell of another crate), mark the field `#[derived(from = ...)]` or `#[checkpoint(allow_interior_mutability)]`",
    note = "if it is your own type without interior mutability, write it with its path (`self::{Self}`, `crate::...`) so it is not taken for std's"
)]
pub trait StdNamed<F> {}

impl<F> StdNamed<F> for CapturedAtOnce {}

/// Compile-time check that a type of field `F` written with the bare name
/// of one of std's interior-mutable types is std's (then
/// [`assert_captured_at_once`] has reported it).
#[inline]
pub fn assert_std_type<F, T: ?Sized + StdNamed<F>>(_: PhantomData<T>) {}

/// Implemented by every `Copy` type. `F` is a marker named after the field.
#[diagnostic::on_unimplemented(
    message = "field `{F}` of a `#[repr(packed)]` struct cannot be checkpointed: `{Self}` is not `Copy`",
    label = "not `Copy`",
    note = "a packed struct's fields cannot be borrowed, so each stored field is copied out: store a `Copy` type, mark the field `#[derived(from = ...)]`, or remove `#[repr(packed)]`"
)]
pub trait PackedField<F> {}

#[diagnostic::do_not_recommend]
impl<T: Copy, F> PackedField<F> for T {}

/// Compile-time check that field `F` of a packed struct is `Copy`.
#[inline]
pub const fn assert_copy<F, T: PackedField<F>>() {}

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
