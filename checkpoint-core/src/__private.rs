//! Support for the code `#[derive(Checkpoint)]` generates. Not public API.

use serde::de::DeserializeOwned;
use serde::Serialize;

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
