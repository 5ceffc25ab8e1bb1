//! How two recorded schemas differ: what [`DeepSchema::diff`] returns.

use std::fmt;

#[cfg(doc)]
use super::DeepSchema;

/// One difference between two recorded schemas, found by
/// [`DeepSchema::diff`].
///
/// Displays as one phrase, e.g. ``"`log[].payload.sender`: type changed from
/// `u32` to `String`"``.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeepChange {
    path: String,
    kind: DeepChangeKind,
}

/// What differs at a [`DeepChange`]'s path.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DeepChangeKind {
    /// The type is a different one.
    TypeChanged {
        /// The stored type.
        from: String,
        /// The current type.
        to: String,
    },
    /// The stored struct has a field the current one does not.
    FieldMissing(String),
    /// The current struct has a field the stored one does not.
    FieldAdded(String),
    /// A field is at another position (fields are encoded by position).
    FieldMoved {
        /// The field.
        name: String,
        /// Its stored position.
        from: usize,
        /// Its current position.
        to: usize,
    },
    /// The stored enum has a variant the current one does not.
    VariantMissing(String),
    /// The current enum has a variant the stored one does not.
    VariantAdded(String),
    /// A variant is encoded with another index.
    VariantMoved {
        /// The variant.
        name: String,
        /// Its stored index.
        from: u32,
        /// Its current index.
        to: u32,
    },
}

impl DeepChange {
    pub(crate) fn new(path: String, kind: DeepChangeKind) -> Self {
        DeepChange { path, kind }
    }

    /// Where the change is, relative to the compared type: `[]` for sequence
    /// elements, `{key}` / `{value}` for maps, `.0` for tuple positions,
    /// `::Variant` for enum variants and `.field` for struct fields. Empty
    /// when the compared types themselves differ.
    pub fn path(&self) -> &str {
        self.path.strip_prefix('.').unwrap_or(&self.path)
    }

    /// What differs.
    pub fn kind(&self) -> &DeepChangeKind {
        &self.kind
    }

    /// The same change, with its path placed under `prefix`: a struct and
    /// field name such as `MessageProcessor.log`.
    #[must_use]
    pub fn within(mut self, prefix: &str) -> Self {
        self.path.insert_str(0, prefix);
        self
    }
}

impl fmt::Display for DeepChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.path().is_empty() {
            write!(f, "`{}`: ", self.path())?;
        }
        match &self.kind {
            DeepChangeKind::TypeChanged { from, to } => {
                write!(f, "type changed from `{from}` to `{to}`")
            }
            DeepChangeKind::FieldMissing(name) => write!(f, "field `{name}` no longer exists"),
            DeepChangeKind::FieldAdded(name) => write!(f, "field `{name}` was added"),
            DeepChangeKind::FieldMoved { name, from, to } => {
                write!(f, "field `{name}` moved from position {from} to {to}")
            }
            DeepChangeKind::VariantMissing(name) => write!(f, "variant `{name}` no longer exists"),
            DeepChangeKind::VariantAdded(name) => write!(f, "variant `{name}` was added"),
            DeepChangeKind::VariantMoved { name, from, to } => {
                write!(f, "variant `{name}` moved from index {from} to {to}")
            }
        }
    }
}
