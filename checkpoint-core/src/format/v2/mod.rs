//! Deep type shapes as format version 2 stored them: a tree of each
//! stored field's serde data model, traced from the reader's types when the
//! checkpoint was written. Read only: a version 2 header's shapes are
//! decoded (depth-limited) and read as a writer's schema
//! ([`DeepSchema`](crate::schema::DeepSchema)), so they restore through the same
//! resolution as version 3.

use std::fmt;

use serde::{Deserialize, Serialize};

use self::depth::DepthLimited;

mod depth;

/// The serde data model of a type as format version 2 stored it.
///
/// Named containers (structs and enums) are described in place wherever they
/// occur; a type that contains itself is described once, and its inner
/// occurrences are [`V2Type::Recursive`] references to that description.
///
/// # Examples
///
/// ```
/// use checkpoint::format::v2::V2Type;
///
/// let shape = V2Type::Seq(Box::new(V2Type::Option(Box::new(V2Type::U32))));
/// assert_eq!(shape.to_string(), "Vec<Option<u32>>");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum V2Type {
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
    Option(Box<V2Type>),
    /// A sequence: `Vec<T>`, `HashSet<T>`, `VecDeque<T>`, ...
    Seq(Box<V2Type>),
    /// A map: `HashMap<K, V>`, `BTreeMap<K, V>`, ...
    Map {
        /// The keys.
        key: Box<V2Type>,
        /// The values.
        value: Box<V2Type>,
    },
    /// A tuple `(A, B, ...)`.
    Tuple(Vec<V2Type>),
    /// A fixed-size array `[T; N]`.
    TupleArray {
        /// The elements.
        element: Box<V2Type>,
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
        inner: Box<V2Type>,
    },
    /// `struct Name(A, B, ...);`
    TupleStruct {
        /// The struct's serde name.
        name: String,
        /// The positional fields.
        fields: Vec<V2Type>,
    },
    /// `struct Name { a: A, ... }`
    Struct {
        /// The struct's serde name.
        name: String,
        /// The named fields, in declaration order.
        fields: Vec<V2Field>,
    },
    /// `enum Name { ... }`
    Enum {
        /// The enum's serde name.
        name: String,
        /// The variants, by index.
        variants: Vec<V2Variant>,
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
pub struct V2Field {
    /// The field's serde name.
    pub name: String,
    /// The field's type.
    pub shape: V2Type,
}

/// A variant of an enum.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct V2Variant {
    /// The variant's serde name.
    pub name: String,
    /// The index the variant is encoded with.
    pub index: u32,
    /// What the variant carries.
    pub content: V2VariantContent,
}

/// What an enum variant carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum V2VariantContent {
    /// Nothing: `A`.
    Unit,
    /// One unnamed value: `A(T)`.
    Newtype(Box<V2Type>),
    /// Several unnamed values: `A(T, U)`.
    Tuple(Vec<V2Type>),
    /// Named fields: `A { x: T }`.
    Struct(Vec<V2Field>),
}

/// How deep a stored list of field shapes may nest when decoded, in serde
/// levels (a type level takes two to four). Decoding recurses, so a crafted
/// header must not nest without bound.
const MAX_DECODE_DEPTH: usize = 512;

/// Field shapes as a checkpoint header stores them: `(field, shape)` pairs.
pub(crate) type V2FieldTypes = Vec<(String, V2Type)>;

/// Decodes the postcard encoding of [`V2FieldTypes`] at the start of `bytes`;
/// returns them and the bytes after them. Depth-limited: hostile input gives
/// an error, never a stack overflow.
pub(crate) fn decode_field_shapes(bytes: &[u8]) -> Result<(V2FieldTypes, &[u8]), String> {
    let mut de = postcard::Deserializer::from_bytes(bytes);
    let shapes = V2FieldTypes::deserialize(DepthLimited::with_max(&mut de, MAX_DECODE_DEPTH))
        .map_err(|e| e.to_string())?;
    let rest = de.finalize().map_err(|e| e.to_string())?;
    Ok((shapes, rest))
}

/// One line: the type as a Rust user would write it.
impl fmt::Display for V2Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            V2Type::Unit => f.write_str("()"),
            V2Type::Bool => f.write_str("bool"),
            V2Type::I8 => f.write_str("i8"),
            V2Type::I16 => f.write_str("i16"),
            V2Type::I32 => f.write_str("i32"),
            V2Type::I64 => f.write_str("i64"),
            V2Type::I128 => f.write_str("i128"),
            V2Type::U8 => f.write_str("u8"),
            V2Type::U16 => f.write_str("u16"),
            V2Type::U32 => f.write_str("u32"),
            V2Type::U64 => f.write_str("u64"),
            V2Type::U128 => f.write_str("u128"),
            V2Type::F32 => f.write_str("f32"),
            V2Type::F64 => f.write_str("f64"),
            V2Type::Char => f.write_str("char"),
            V2Type::Str => f.write_str("String"),
            V2Type::Bytes => f.write_str("bytes"),
            V2Type::Option(inner) => write!(f, "Option<{inner}>"),
            V2Type::Seq(inner) => write!(f, "Vec<{inner}>"),
            V2Type::Map { key, value } => write!(f, "Map<{key}, {value}>"),
            V2Type::Tuple(shapes) => {
                f.write_str("(")?;
                write_list(f, shapes)?;
                f.write_str(if shapes.len() == 1 { ",)" } else { ")" })
            }
            V2Type::TupleArray { element, len } => write!(f, "[{element}; {len}]"),
            V2Type::UnitStruct { name }
            | V2Type::NewtypeStruct { name, .. }
            | V2Type::TupleStruct { name, .. }
            | V2Type::Struct { name, .. }
            | V2Type::Enum { name, .. }
            | V2Type::Recursive(name) => f.write_str(name),
            V2Type::Opaque(_) => f.write_str("opaque"),
        }
    }
}

fn write_list(f: &mut fmt::Formatter<'_>, shapes: &[V2Type]) -> fmt::Result {
    for (i, shape) in shapes.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        write!(f, "{shape}")?;
    }
    Ok(())
}

impl fmt::Display for V2VariantContent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            V2VariantContent::Unit => f.write_str("no data"),
            V2VariantContent::Newtype(shape) => write!(f, "({shape})"),
            V2VariantContent::Tuple(shapes) => {
                f.write_str("(")?;
                write_list(f, shapes)?;
                f.write_str(")")
            }
            V2VariantContent::Struct(fields) => {
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
