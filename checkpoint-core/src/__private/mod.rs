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

mod probes;
mod structs;

pub use probes::*;
pub use structs::*;

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
