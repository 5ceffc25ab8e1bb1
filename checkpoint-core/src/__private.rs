//! Support for the code `#[derive(Checkpoint)]` generates. Not public API.

use core::marker::PhantomData;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

pub use crate::{
    Checkpoint, Error, FieldReader, FieldSchema, FieldWriter, Result, Schema, Shape, VariantSchema,
};

/// Implemented by every type a serialized field can have. The derive asserts
/// it for each serialized field, with `F` a marker named after the field, so
/// the compile error names the field.
#[diagnostic::on_unimplemented(
    message = "field `{F}` cannot be checkpointed: `{Self}` does not implement serde's `Serialize` and `DeserializeOwned`",
    label = "not serializable",
    note = "serialize it or mark it `#[derived(from = ...)]` to rebuild it on restore"
)]
pub trait SerializedField<F>: Serialize + DeserializeOwned {}

impl<T: Serialize + DeserializeOwned, F> SerializedField<F> for T {}

/// Compile-time check that field `F` has a serializable type `T`.
pub const fn assert_field<F, T: SerializedField<F>>() {}

/// Writes serialized field `F`.
///
/// # Errors
///
/// As [`FieldWriter::field`].
#[inline]
pub fn write_field<F, T: SerializedField<F>>(
    out: &mut FieldWriter<'_>,
    name: &'static str,
    value: &T,
) -> Result<()> {
    out.field(name, value)
}

/// Reads serialized field `F`.
///
/// # Errors
///
/// As [`FieldReader::field`].
#[inline]
pub fn read_field<F, T: SerializedField<F>>(
    input: &mut FieldReader<'_>,
    name: &'static str,
) -> Result<T> {
    input.field(name)
}

/// Serializes field `F` of a value; the derive's serde impls go through it
/// so an unserializable field is reported once, by name.
pub struct SerializeField<'a, F, T>(&'a T, PhantomData<F>);

impl<'a, F, T: SerializedField<F>> SerializeField<'a, F, T> {
    /// Wraps a reference to the field.
    #[inline]
    pub fn new(value: &'a T) -> Self {
        SerializeField(value, PhantomData)
    }
}

impl<F, T: SerializedField<F>> Serialize for SerializeField<'_, F, T> {
    #[inline]
    fn serialize<S: Serializer>(&self, serializer: S) -> core::result::Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

/// Deserializes field `F`; the value is `.0`.
pub struct DeserializeField<F, T>(pub T, PhantomData<F>);

impl<'de, F, T: SerializedField<F>> Deserialize<'de> for DeserializeField<F, T> {
    #[inline]
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> core::result::Result<Self, D::Error> {
        T::deserialize(deserializer).map(|value| DeserializeField(value, PhantomData))
    }
}
