//! Deep type shapes as format version 2 stored them: a tree of each
//! stored field's serde data model, traced from the reader's types when the
//! checkpoint was written. Read only: a version 2 header's shapes are
//! decoded (depth-limited) and read as a writer's schema
//! ([`DeepSchema`](crate::DeepSchema)), so they restore through the same
//! resolution as version 3. [`ShapeChange`] is how two recorded schemas
//! differ ([`DeepSchema::diff`](crate::DeepSchema::diff)).

use std::fmt;

use serde::{Deserialize, Serialize};

use self::depth::DepthLimited;

mod depth;

/// The serde data model of a type as format version 2 stored it.
///
/// Named containers (structs and enums) are described in place wherever they
/// occur; a type that contains itself is described once, and its inner
/// occurrences are [`TypeShape::Recursive`] references to that description.
///
/// # Examples
///
/// ```
/// use checkpoint_core::TypeShape;
///
/// let shape = TypeShape::Seq(Box::new(TypeShape::Option(Box::new(TypeShape::U32))));
/// assert_eq!(shape.to_string(), "Vec<Option<u32>>");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum TypeShape {
    /// `()`.
    Unit,
    /// `bool`.
    Bool,
    /// `i8`.
    I8,
    /// `i16`.
    I16,
    /// `i32`.
    I32,
    /// `i64`.
    I64,
    /// `i128`.
    I128,
    /// `u8`.
    U8,
    /// `u16`.
    U16,
    /// `u32`.
    U32,
    /// `u64`.
    U64,
    /// `u128`.
    U128,
    /// `f32`.
    F32,
    /// `f64`.
    F64,
    /// `char`.
    Char,
    /// A string (`String`, `PathBuf`, ...).
    Str,
    /// A byte string (`serde_bytes`).
    Bytes,
    /// `Option<T>`.
    Option(Box<TypeShape>),
    /// A sequence: `Vec<T>`, `HashSet<T>`, `VecDeque<T>`, ...
    Seq(Box<TypeShape>),
    /// A map: `HashMap<K, V>`, `BTreeMap<K, V>`, ...
    Map {
        /// The keys.
        key: Box<TypeShape>,
        /// The values.
        value: Box<TypeShape>,
    },
    /// A tuple `(A, B, ...)`.
    Tuple(Vec<TypeShape>),
    /// A fixed-size array `[T; N]`.
    TupleArray {
        /// The elements.
        element: Box<TypeShape>,
        /// How many elements.
        len: u64,
    },
    /// `struct Name;`
    UnitStruct {
        /// The struct's serde name.
        name: String,
    },
    /// `struct Name(T);`
    NewtypeStruct {
        /// The struct's serde name.
        name: String,
        /// The wrapped type.
        inner: Box<TypeShape>,
    },
    /// `struct Name(A, B, ...);`
    TupleStruct {
        /// The struct's serde name.
        name: String,
        /// The positional fields.
        fields: Vec<TypeShape>,
    },
    /// `struct Name { a: A, ... }`
    Struct {
        /// The struct's serde name.
        name: String,
        /// The named fields, in declaration order.
        fields: Vec<FieldShape>,
    },
    /// `enum Name { ... }`
    Enum {
        /// The enum's serde name.
        name: String,
        /// The variants, by index.
        variants: Vec<VariantShape>,
    },
    /// The named container that encloses this occurrence, already described
    /// further up the tree (`Tree` inside `Tree { children: Vec<Tree> }`).
    Recursive(String),
    /// A type that could not be traced, with the reason. Its changes go
    /// undetected: an opaque shape never reports a difference.
    Opaque(String),
}

/// A named field of a struct or of a struct variant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldShape {
    /// The field's serde name.
    pub name: String,
    /// The field's type.
    pub shape: TypeShape,
}

/// A variant of an enum.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VariantShape {
    /// The variant's serde name.
    pub name: String,
    /// The index the variant is encoded with.
    pub index: u32,
    /// What the variant carries.
    pub content: VariantContent,
}

/// What an enum variant carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum VariantContent {
    /// Nothing: `A`.
    Unit,
    /// One unnamed value: `A(T)`.
    Newtype(Box<TypeShape>),
    /// Several unnamed values: `A(T, U)`.
    Tuple(Vec<TypeShape>),
    /// Named fields: `A { x: T }`.
    Struct(Vec<FieldShape>),
}

/// One difference between two recorded schemas, found by
/// [`DeepSchema::diff`](crate::DeepSchema::diff).
///
/// Displays as one phrase, e.g. ``"`log[].payload.sender`: type changed from
/// `u32` to `String`"``.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShapeChange {
    path: String,
    kind: ChangeKind,
}

/// What differs at a [`ShapeChange`]'s path.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChangeKind {
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

impl ShapeChange {
    pub(crate) fn new(path: String, kind: ChangeKind) -> Self {
        ShapeChange { path, kind }
    }

    /// Where the change is, relative to the compared type: `[]` for sequence
    /// elements, `{key}` / `{value}` for maps, `.0` for tuple positions,
    /// `::Variant` for enum variants and `.field` for struct fields. Empty
    /// when the compared types themselves differ.
    pub fn path(&self) -> &str {
        self.path.strip_prefix('.').unwrap_or(&self.path)
    }

    /// What differs.
    pub fn kind(&self) -> &ChangeKind {
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

impl fmt::Display for ShapeChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.path().is_empty() {
            write!(f, "`{}`: ", self.path())?;
        }
        match &self.kind {
            ChangeKind::TypeChanged { from, to } => {
                write!(f, "type changed from `{from}` to `{to}`")
            }
            ChangeKind::FieldMissing(name) => write!(f, "field `{name}` no longer exists"),
            ChangeKind::FieldAdded(name) => write!(f, "field `{name}` was added"),
            ChangeKind::FieldMoved { name, from, to } => {
                write!(f, "field `{name}` moved from position {from} to {to}")
            }
            ChangeKind::VariantMissing(name) => write!(f, "variant `{name}` no longer exists"),
            ChangeKind::VariantAdded(name) => write!(f, "variant `{name}` was added"),
            ChangeKind::VariantMoved { name, from, to } => {
                write!(f, "variant `{name}` moved from index {from} to {to}")
            }
        }
    }
}

/// How deep a stored list of field shapes may nest when decoded, in serde
/// levels (a type level takes two to four). Decoding recurses, so a crafted
/// header must not nest without bound.
const MAX_DECODE_DEPTH: usize = 512;

/// Field shapes as a checkpoint header stores them: `(field, shape)` pairs.
pub(crate) type FieldShapes = Vec<(String, TypeShape)>;

/// Decodes the postcard encoding of [`FieldShapes`] at the start of `bytes`;
/// returns them and the bytes after them. Depth-limited: hostile input gives
/// an error, never a stack overflow.
pub(crate) fn decode_field_shapes(bytes: &[u8]) -> Result<(FieldShapes, &[u8]), String> {
    let mut de = postcard::Deserializer::from_bytes(bytes);
    let shapes = FieldShapes::deserialize(DepthLimited::with_max(&mut de, MAX_DECODE_DEPTH))
        .map_err(|e| e.to_string())?;
    let rest = de.finalize().map_err(|e| e.to_string())?;
    Ok((shapes, rest))
}

/// One line: the type as a Rust user would write it.
impl fmt::Display for TypeShape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TypeShape::Unit => f.write_str("()"),
            TypeShape::Bool => f.write_str("bool"),
            TypeShape::I8 => f.write_str("i8"),
            TypeShape::I16 => f.write_str("i16"),
            TypeShape::I32 => f.write_str("i32"),
            TypeShape::I64 => f.write_str("i64"),
            TypeShape::I128 => f.write_str("i128"),
            TypeShape::U8 => f.write_str("u8"),
            TypeShape::U16 => f.write_str("u16"),
            TypeShape::U32 => f.write_str("u32"),
            TypeShape::U64 => f.write_str("u64"),
            TypeShape::U128 => f.write_str("u128"),
            TypeShape::F32 => f.write_str("f32"),
            TypeShape::F64 => f.write_str("f64"),
            TypeShape::Char => f.write_str("char"),
            TypeShape::Str => f.write_str("String"),
            TypeShape::Bytes => f.write_str("bytes"),
            TypeShape::Option(inner) => write!(f, "Option<{inner}>"),
            TypeShape::Seq(inner) => write!(f, "Vec<{inner}>"),
            TypeShape::Map { key, value } => write!(f, "Map<{key}, {value}>"),
            TypeShape::Tuple(shapes) => {
                f.write_str("(")?;
                write_list(f, shapes)?;
                f.write_str(if shapes.len() == 1 { ",)" } else { ")" })
            }
            TypeShape::TupleArray { element, len } => write!(f, "[{element}; {len}]"),
            TypeShape::UnitStruct { name }
            | TypeShape::NewtypeStruct { name, .. }
            | TypeShape::TupleStruct { name, .. }
            | TypeShape::Struct { name, .. }
            | TypeShape::Enum { name, .. }
            | TypeShape::Recursive(name) => f.write_str(name),
            TypeShape::Opaque(_) => f.write_str("opaque"),
        }
    }
}

fn write_list(f: &mut fmt::Formatter<'_>, shapes: &[TypeShape]) -> fmt::Result {
    for (i, shape) in shapes.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        write!(f, "{shape}")?;
    }
    Ok(())
}

impl fmt::Display for VariantContent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VariantContent::Unit => f.write_str("no data"),
            VariantContent::Newtype(shape) => write!(f, "({shape})"),
            VariantContent::Tuple(shapes) => {
                f.write_str("(")?;
                write_list(f, shapes)?;
                f.write_str(")")
            }
            VariantContent::Struct(fields) => {
                f.write_str("{ ")?;
                for (i, field) in fields.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{}: {}", field.name, field.shape)?;
                }
                f.write_str(" }")
            }
        }
    }
}
