//! The error type of checkpoint and restore.

use crate::store::StoreError;

/// Everything that can go wrong while checkpointing or restoring.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A serialized field failed to encode.
    #[error("field `{field}` of `{type_name}` failed to encode: {reason}")]
    FieldEncode {
        /// The struct.
        type_name: String,
        /// The field.
        field: String,
        /// What the encoder said.
        reason: String,
    },
    /// A field the struct has is absent from the checkpoint.
    #[error("the checkpoint of `{type_name}` has no field `{field}`")]
    MissingField {
        /// The struct.
        type_name: String,
        /// The field.
        field: String,
    },
    /// A field's bytes do not decode as the field's type.
    #[error("field `{field}` of `{type_name}` does not decode: {reason}")]
    FieldDecode {
        /// The struct.
        type_name: String,
        /// The field.
        field: String,
        /// What the decoder said.
        reason: String,
    },
    /// The checkpoint holds a variant the enum does not have.
    #[error(
        "the checkpoint of `{type_name}` holds variant `{variant}`, which the enum does not have"
    )]
    UnknownVariant {
        /// The enum.
        type_name: String,
        /// The variant.
        variant: String,
    },
    /// The checkpoint ends early.
    #[error("the checkpoint of `{type_name}` is truncated")]
    Truncated {
        /// The struct.
        type_name: String,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}
