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
    Checkpoint, Error, FieldReader, FieldSchema, FieldWriter, Result, Schema, Shape, TypeShape,
    VariantSchema,
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
    /// The field type's deep shape.
    fn shape(&self) -> TypeShape;
    /// The field as the serde shadow type holds it.
    fn serialize_as<'a>(&self, value: &'a T) -> SerializeField<'a, T>;
    /// The type the serde shadow type deserializes the field as.
    fn deserialize_as(&self) -> PhantomData<DeserializeField<T>>;
}

impl<T: Serialize + DeserializeOwned> Codec<T> for FieldCodec<T> {
    #[inline]
    fn write_field(&self, out: &mut FieldWriter<'_>, name: &'static str, value: &T) -> Result<()> {
        out.field(name, value)
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
    fn shape(&self) -> TypeShape {
        TypeShape::of::<T>()
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
    fn shape(&self) -> TypeShape;
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
    fn shape(&self) -> TypeShape {
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
