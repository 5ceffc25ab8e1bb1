//! Schemas: the one a type is checkpointed with, as the derive states it
//! ([`Schema`]), and the writer's schema a checkpoint records of its
//! stored fields, down to the leaves ([`DeepSchema`]).

pub use crate::deep::{
    Content, DeepChange, DeepChangeKind, DeepSchema, Leaf, Name, NodeId, SchemaNode, Variant,
};

/// A type's schema, known at compile time.
///
/// Built by `#[derive(Checkpoint)]` with the `const fn` constructors below.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Schema {
    /// The type's checkpoint name: its identifier, or `#[checkpoint(name = "...")]`.
    /// Not its module path, so moving a type does not break its checkpoints.
    pub name: &'static str,
    /// Named, tuple or unit struct, or enum.
    pub shape: Shape,
    /// Fields deliberately dropped with `#[checkpoint(removed = "...")]`.
    pub removed: &'static [&'static str],
}

/// The shape of a checkpointed type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Shape {
    /// `struct S { a: A, b: B }`
    Struct(&'static [FieldSchema]),
    /// `struct S(A, B);` fields are named `0`, `1`, ...
    Tuple(&'static [FieldSchema]),
    /// `struct S;`
    Unit,
    /// `enum E { ... }`
    Enum(&'static [VariantSchema]),
}

/// One variant of an enum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct VariantSchema {
    /// The variant's name.
    pub name: &'static str,
    /// Its fields (`Shape::Struct`, `Shape::Tuple` or `Shape::Unit`).
    pub shape: Shape,
}

/// One field of a struct or variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct FieldSchema {
    /// The field's name (`0`, `1`, ... in a tuple).
    pub name: &'static str,
    /// The field's type as written, paths trimmed to their last segment
    /// (`std::collections::HashMap<u64, usize>` is `HashMap<u64, usize>`).
    pub ty: &'static str,
    /// Rebuilt on restore by `#[derived(from = ...)]`, not stored.
    pub derived: bool,
    /// Former names, from `#[checkpoint(alias = "...")]`.
    pub aliases: &'static [&'static str],
    /// Whether `#[checkpoint(default = ...)]` fills it when a checkpoint lacks it.
    pub has_default: bool,
    /// The field's former type, from `#[checkpoint(was = OldType, convert = ...)]`,
    /// written as [`ty`](Self::ty) is.
    pub was: Option<&'static str>,
}

impl Schema {
    /// A schema with no removed fields.
    pub const fn new(name: &'static str, shape: Shape) -> Self {
        Schema {
            name,
            shape,
            removed: &[],
        }
    }

    /// Declares fields deliberately dropped from the type.
    pub const fn with_removed(mut self, removed: &'static [&'static str]) -> Self {
        self.removed = removed;
        self
    }

    /// The most field frames a value of the type writes: one per stored
    /// field, and an enum's variant frame.
    pub(crate) fn most_frames(&self) -> usize {
        let stored = |s: &Shape| s.fields().iter().filter(|f| !f.derived).count();
        match self.shape {
            Shape::Enum(vs) => 1 + vs.iter().map(|v| stored(&v.shape)).max().unwrap_or(0),
            shape => stored(&shape),
        }
    }

    /// The serialized (stored) fields of a struct, in order; empty for enums.
    pub fn stored_fields(&self) -> impl Iterator<Item = &'static FieldSchema> {
        self.shape.fields().iter().filter(|f| !f.derived)
    }
}

impl Shape {
    /// The fields of a struct or variant shape; empty for `Unit` and `Enum`.
    pub const fn fields(&self) -> &'static [FieldSchema] {
        match self {
            Shape::Struct(fields) | Shape::Tuple(fields) => fields,
            Shape::Unit | Shape::Enum(_) => &[],
        }
    }
}

impl VariantSchema {
    /// A variant.
    pub const fn new(name: &'static str, shape: Shape) -> Self {
        VariantSchema { name, shape }
    }
}

impl FieldSchema {
    /// A field stored in the checkpoint.
    pub const fn serialized(name: &'static str, ty: &'static str) -> Self {
        FieldSchema {
            name,
            ty,
            derived: false,
            aliases: &[],
            has_default: false,
            was: None,
        }
    }

    /// A field rebuilt on restore by `#[derived(from = ...)]`.
    pub const fn derived(name: &'static str, ty: &'static str) -> Self {
        FieldSchema {
            name,
            ty,
            derived: true,
            aliases: &[],
            has_default: false,
            was: None,
        }
    }

    /// Declares former names of the field.
    pub const fn with_aliases(mut self, aliases: &'static [&'static str]) -> Self {
        self.aliases = aliases;
        self
    }

    /// Declares the field's former type, which `#[checkpoint(convert = ...)]`
    /// turns into the current one.
    pub const fn with_was(mut self, was: &'static str) -> Self {
        self.was = Some(was);
        self
    }

    /// Declares that `#[checkpoint(default = ...)]` fills the field.
    pub const fn with_default(mut self) -> Self {
        self.has_default = true;
        self
    }
}

/// Type names compare without whitespace, which differs between how types
/// are written and how they are printed.
pub(crate) fn same_type(a: &str, b: &str) -> bool {
    a.chars()
        .filter(|c| !c.is_whitespace())
        .eq(b.chars().filter(|c| !c.is_whitespace()))
}
