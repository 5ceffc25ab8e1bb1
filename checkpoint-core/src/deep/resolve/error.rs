//! Why bytes cannot be read as the reader's type, and where.

use serde::de;

use crate::deep::{Path, Seg};

/// Why a value cannot be read as the reader's type, and where. One
/// pointer wide, so that the results of the many small reads stay small.
#[derive(Debug)]
pub(crate) struct ResolveError(Box<ResolveFailure>);

#[derive(Debug)]
pub(crate) struct ResolveFailure {
    pub(crate) kind: ResolveKind,
    pub(crate) path: Path,
}

impl std::ops::Deref for ResolveError {
    type Target = ResolveFailure;
    fn deref(&self) -> &ResolveFailure {
        &self.0
    }
}

impl std::ops::DerefMut for ResolveError {
    fn deref_mut(&mut self) -> &mut ResolveFailure {
        &mut self.0
    }
}

#[derive(Debug)]
pub(crate) enum ResolveKind {
    /// The writer wrote `from` where the reader reads `to`.
    TypeChanged { from: String, to: String },
    /// The reader's struct has a field the writer did not write.
    MissingField { field: String, ty: Option<String> },
    /// The writer wrote a variant the reader's enum does not have.
    VariantRemoved { variant: String, ty: String },
    /// The reader needs a self-describing format.
    SelfDescribing,
    /// The reader's `Deserialize` refused the value.
    Custom(String),
    /// The bytes do not match the writer's schema.
    Decode(String),
}

impl ResolveError {
    pub(super) fn new(kind: ResolveKind) -> Self {
        ResolveError(Box::new(ResolveFailure {
            kind,
            path: Path::default(),
        }))
    }

    pub(super) fn at(mut self, seg: Seg) -> Self {
        self.path.push(seg);
        self
    }

    /// A phrase saying what differs, without the path.
    pub(crate) fn change(&self) -> String {
        match &self.kind {
            ResolveKind::TypeChanged { from, to } => {
                format!("type changed from `{from}` to `{to}`")
            }
            ResolveKind::MissingField { field, ty } => match ty {
                Some(ty) => {
                    format!("field `{field}` was added to `{ty}` since the checkpoint was written")
                }
                None => format!("field `{field}` was added since the checkpoint was written"),
            },
            ResolveKind::VariantRemoved { variant, ty } => {
                format!("the checkpoint holds variant `{variant}`, which `{ty}` no longer has")
            }
            ResolveKind::SelfDescribing => "its type reads itself through `deserialize_any`, \
                which needs a self-describing format (`serde_json::Value`, \
                `#[serde(untagged)]`, internally tagged enums, `#[serde(flatten)]`)"
                .to_owned(),
            ResolveKind::Custom(m) => m.clone(),
            ResolveKind::Decode(m) => format!("the bytes do not match their recorded schema: {m}"),
        }
    }

    /// What to do about it.
    pub(crate) fn fix(&self) -> &'static str {
        match &self.kind {
            ResolveKind::TypeChanged { .. } => {
                "to read the old form, add `#[checkpoint(was = OldType, convert = ...)]` to the field"
            }
            ResolveKind::MissingField { .. } => {
                "give the new field `#[serde(default)]` to restore checkpoints written before it existed"
            }
            ResolveKind::VariantRemoved { .. } => {
                "add the variant back (or `#[serde(alias = \"...\")]` to the variant it became)"
            }
            ResolveKind::SelfDescribing => {
                "store it as a `String` (e.g. `serde_json::to_string`) or mark the field `#[derived(from = ...)]`"
            }
            ResolveKind::Custom(_) | ResolveKind::Decode(_) => {
                "to read the old form, add `#[checkpoint(was = OldType, convert = ...)]` to the field"
            }
        }
    }

    /// Whether the writer and reader disagree on a type (rather than the
    /// bytes being bad).
    pub(crate) fn is_type_change(&self) -> bool {
        matches!(self.kind, ResolveKind::TypeChanged { .. })
    }
}

impl std::fmt::Display for ResolveError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "`{}`: {}", self.path, self.change())
    }
}

impl std::error::Error for ResolveError {}

impl de::Error for ResolveError {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        ResolveError::new(ResolveKind::Custom(msg.to_string()))
    }

    fn missing_field(field: &'static str) -> Self {
        ResolveError::new(ResolveKind::MissingField {
            field: field.to_owned(),
            ty: None,
        })
    }
}

pub(crate) fn decode(e: postcard::Error) -> ResolveError {
    ResolveError::new(ResolveKind::Decode(e.to_string()))
}
