//! Deep type shapes: the serde data model of a field's type, all the way
//! down, so that a change inside a nested type is caught on restore and
//! named by its path instead of being misread.
//!
//! A checkpoint stores the [`TypeShape`] of each serialized field next to its
//! bytes. On restore the stored shape is compared with the shape of the
//! current code by [`TypeShape::diff`], which names the first difference:
//! `log[].payload.sender: type changed from u32 to String`.
//!
//! Shapes are traced from the type's `Deserialize` implementation, so plain
//! serde types need nothing beyond `#[derive(Deserialize)]`, and foreign types
//! (std, chrono, uuid, ...) work as they are.

use std::any::type_name;
use std::collections::{BTreeSet, HashMap};
use std::fmt::{self, Write as _};
use std::marker::PhantomData;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Mutex, OnceLock, PoisonError};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_reflection::{
    ContainerFormat, Format, Named, Registry, Samples, Tracer, TracerConfig, VariantFormat,
};

use self::depth::DepthLimited;

mod depth;

/// The serde data model of a type: what its bytes mean in a checkpoint.
///
/// Named containers (structs and enums) are described in place wherever they
/// occur; a type that contains itself is described once, and its inner
/// occurrences are [`TypeShape::Recursive`] references to that description.
///
/// # Examples
///
/// ```
/// use checkpoint_core::TypeShape;
/// use serde::Deserialize;
///
/// #[derive(Deserialize)]
/// struct Payload {
///     sender: u32,
/// }
///
/// let shape = TypeShape::of::<Vec<Option<Payload>>>();
/// assert_eq!(shape.to_string(), "Vec<Option<Payload>>");
/// assert_eq!(
///     shape.display_tree(),
///     "Vec<Option<Payload>>\n  []: Option<Payload>\n    some: struct Payload\n      sender: u32\n",
/// );
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

/// The first difference between a stored shape and the current one, found by
/// [`TypeShape::diff`].
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
    ///
    /// # Examples
    ///
    /// ```
    /// use checkpoint_core::TypeShape;
    ///
    /// let change = TypeShape::of::<Vec<u32>>()
    ///     .diff(&TypeShape::of::<Vec<String>>())
    ///     .unwrap()
    ///     .within("MessageProcessor.log");
    /// assert_eq!(change.path(), "MessageProcessor.log[]");
    /// ```
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

/// Shapes already traced, by type name: tracing runs the type's
/// `Deserialize` many times, and saves are frequent.
fn cache() -> &'static Mutex<HashMap<&'static str, TypeShape>> {
    static CACHE: OnceLock<Mutex<HashMap<&'static str, TypeShape>>> = OnceLock::new();
    CACHE.get_or_init(Mutex::default)
}

/// Bounds that keep a pathological `Deserialize` from tracing forever.
const MAX_PASSES: usize = 10_000;
const MAX_RESTARTS: usize = 64;

impl TypeShape {
    /// The shape of `T`, traced from its `Deserialize` implementation and
    /// cached for the rest of the process.
    ///
    /// Never fails: a type that cannot be traced without sample values (a
    /// `Deserialize` that validates, such as `NonZeroU64`'s), or whose
    /// tracing fails in any other way, is [`TypeShape::Opaque`] with the
    /// reason, and checkpointing goes on without deep checks for it.
    ///
    /// A recursive enum whose first variant contains itself cannot be traced
    /// (tracing would never end): tracing stops past 128 levels of nesting
    /// and the type is opaque. Put a non-recursive variant first to have it
    /// traced.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::num::NonZeroU64;
    /// use checkpoint_core::TypeShape;
    ///
    /// assert_eq!(TypeShape::of::<Option<u8>>(), TypeShape::Option(Box::new(TypeShape::U8)));
    /// assert!(matches!(TypeShape::of::<NonZeroU64>(), TypeShape::Opaque(_)));
    /// ```
    pub fn of<T: DeserializeOwned>() -> TypeShape {
        let key = type_name::<T>();
        let cached = cache()
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(key)
            .cloned();
        if let Some(shape) = cached {
            return shape;
        }
        // Traced without the lock held: tracing runs user code.
        let shape = match catch_unwind(AssertUnwindSafe(trace::<T>)) {
            Ok(Ok((format, registry))) => from_format(&format, &registry, &mut Vec::new()),
            Ok(Err(reason)) => TypeShape::Opaque(reason),
            Err(_) => TypeShape::Opaque("tracing panicked".to_owned()),
        };
        cache()
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(key)
            .or_insert(shape)
            .clone()
    }

    /// The first difference between `self`, the shape stored in a
    /// checkpoint, and `newer`, the shape of the current code; `None` when
    /// bytes of the stored shape read as the current one.
    ///
    /// Struct and enum names are not compared (the encoding does not hold
    /// them); field and variant names, positions and types are. An
    /// [`TypeShape::Opaque`] shape on either side cannot be compared and
    /// reports no difference.
    ///
    /// # Examples
    ///
    /// ```
    /// use checkpoint_core::TypeShape;
    ///
    /// let stored = TypeShape::of::<(u8, Vec<u32>)>();
    /// let current = TypeShape::of::<(u8, Vec<String>)>();
    /// let change = stored.diff(&current).unwrap();
    /// assert_eq!(change.to_string(), "`1[]`: type changed from `u32` to `String`");
    /// assert_eq!(stored.diff(&stored), None);
    /// ```
    pub fn diff(&self, newer: &TypeShape) -> Option<ShapeChange> {
        Differ::default().shape(self, newer)
    }

    /// An indented tree of the shape, one line per field, variant or
    /// element, for a human reading a checkpoint.
    ///
    /// # Examples
    ///
    /// ```
    /// use checkpoint_core::TypeShape;
    /// use serde::Deserialize;
    ///
    /// #[derive(Deserialize)]
    /// enum Kind {
    ///     Empty,
    ///     Sized { len: u32 },
    /// }
    ///
    /// assert_eq!(
    ///     TypeShape::of::<Kind>().display_tree(),
    ///     "enum Kind\n  Empty\n  Sized\n    len: u32\n",
    /// );
    /// ```
    pub fn display_tree(&self) -> String {
        let mut out = String::new();
        self.write_tree(&mut out, "", 0);
        out
    }

    fn write_tree(&self, out: &mut String, label: &str, depth: usize) {
        let indent = "  ".repeat(depth);
        match self {
            TypeShape::Struct { name, fields } => {
                let _ = writeln!(out, "{indent}{label}struct {name}");
                for field in fields {
                    field.write_tree(out, depth + 1);
                }
            }
            TypeShape::NewtypeStruct { name, inner } => {
                let _ = writeln!(out, "{indent}{label}struct {name}");
                inner.write_tree(out, "0: ", depth + 1);
            }
            TypeShape::TupleStruct { name, fields } => {
                let _ = writeln!(out, "{indent}{label}struct {name}");
                for (i, field) in fields.iter().enumerate() {
                    field.write_tree(out, &format!("{i}: "), depth + 1);
                }
            }
            TypeShape::UnitStruct { name } => {
                let _ = writeln!(out, "{indent}{label}struct {name}");
            }
            TypeShape::Enum { name, variants } => {
                let _ = writeln!(out, "{indent}{label}enum {name}");
                let inner = "  ".repeat(depth + 1);
                for variant in variants {
                    match &variant.content {
                        VariantContent::Unit => {
                            let _ = writeln!(out, "{inner}{}", variant.name);
                        }
                        VariantContent::Newtype(shape) => {
                            shape.write_tree(out, &format!("{}: ", variant.name), depth + 1);
                        }
                        VariantContent::Tuple(shapes) => {
                            let _ = writeln!(out, "{inner}{}", variant.name);
                            for (i, shape) in shapes.iter().enumerate() {
                                shape.write_tree(out, &format!("{i}: "), depth + 2);
                            }
                        }
                        VariantContent::Struct(fields) => {
                            let _ = writeln!(out, "{inner}{}", variant.name);
                            for field in fields {
                                field.write_tree(out, depth + 2);
                            }
                        }
                    }
                }
            }
            TypeShape::Recursive(name) => {
                let _ = writeln!(out, "{indent}{label}{name} (recursive)");
            }
            TypeShape::Opaque(reason) => {
                let _ = writeln!(out, "{indent}{label}opaque ({reason})");
            }
            _ => {
                let _ = writeln!(out, "{indent}{label}{self}");
                if !self.is_simple() {
                    for (child_label, child) in self.children() {
                        child.write_tree(out, &child_label, depth + 1);
                    }
                }
            }
        }
    }

    /// The element types of an anonymous compound type, with their labels
    /// in the tree.
    fn children(&self) -> Vec<(String, &TypeShape)> {
        match self {
            TypeShape::Option(inner) => vec![("some: ".to_owned(), inner)],
            TypeShape::Seq(inner) | TypeShape::TupleArray { element: inner, .. } => {
                vec![("[]: ".to_owned(), inner)]
            }
            TypeShape::Map { key, value } => vec![
                ("{key}: ".to_owned(), key.as_ref()),
                ("{value}: ".to_owned(), value.as_ref()),
            ],
            TypeShape::Tuple(shapes) => shapes
                .iter()
                .enumerate()
                .map(|(i, shape)| (format!("{i}: "), shape))
                .collect(),
            _ => Vec::new(),
        }
    }

    /// Whether the one-line form says everything: no struct, enum or opaque
    /// type inside.
    fn is_simple(&self) -> bool {
        match self {
            TypeShape::Struct { .. }
            | TypeShape::NewtypeStruct { .. }
            | TypeShape::TupleStruct { .. }
            | TypeShape::Enum { .. }
            | TypeShape::Opaque(_) => false,
            _ => self.children().iter().all(|(_, child)| child.is_simple()),
        }
    }
}

impl FieldShape {
    fn write_tree(&self, out: &mut String, depth: usize) {
        self.shape
            .write_tree(out, &format!("{}: ", self.name), depth);
    }
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

/// Traces `T` until every enum it reaches, however deep, has all its
/// variants described.
///
/// serde-reflection explores one variant of an enum per pass and flags the
/// enum as incomplete until all are seen; its own loop only looks at the
/// outermost type. Here every enum met so far is checked after each pass, and
/// an enum first met late (inside a variant) restarts the tracing with its
/// name known.
fn trace<T: DeserializeOwned>() -> Result<(Format, Registry), String> {
    let samples = Samples::new();
    let mut enums = BTreeSet::<String>::new();
    for _ in 0..MAX_RESTARTS {
        let mut tracer = Tracer::new(TracerConfig::default());
        let mut passes = 0;
        let format = loop {
            let (format, _value) = tracer
                .trace_type_once_with_seed(&samples, DepthLimited::new(PhantomData::<T>))
                .map_err(|error| error.to_string())?;
            let mut incomplete = false;
            for name in &enums {
                incomplete |= tracer.check_incomplete_enum(name).is_some();
            }
            passes += 1;
            if !incomplete {
                break format;
            }
            if passes == MAX_PASSES {
                return Err(format!("tracing did not end after {MAX_PASSES} passes"));
            }
        };
        match tracer.registry() {
            Ok(registry) => return Ok((format, registry)),
            Err(serde_reflection::Error::MissingVariants(names)) => {
                let known = enums.len();
                enums.extend(names);
                if enums.len() == known {
                    return Err("enum variants could not all be traced".to_owned());
                }
            }
            Err(error) => return Err(error.to_string()),
        }
    }
    Err(format!("tracing did not end after {MAX_RESTARTS} restarts"))
}

/// Converts a traced format, expanding named containers in place; `within`
/// holds the containers being expanded, whose inner occurrences become
/// [`TypeShape::Recursive`].
fn from_format(format: &Format, registry: &Registry, within: &mut Vec<String>) -> TypeShape {
    match format {
        Format::Variable(variable) => match variable.borrow().as_ref() {
            Some(format) => from_format(format, registry, within),
            None => TypeShape::Opaque("not traced".to_owned()),
        },
        Format::TypeName(name) => {
            if within.contains(name) {
                return TypeShape::Recursive(name.clone());
            }
            let Some(container) = registry.get(name) else {
                return TypeShape::Opaque(format!("`{name}` was not traced"));
            };
            within.push(name.clone());
            let shape = from_container(name, container, registry, within);
            within.pop();
            shape
        }
        Format::Unit => TypeShape::Unit,
        Format::Bool => TypeShape::Bool,
        Format::I8 => TypeShape::I8,
        Format::I16 => TypeShape::I16,
        Format::I32 => TypeShape::I32,
        Format::I64 => TypeShape::I64,
        Format::I128 => TypeShape::I128,
        Format::U8 => TypeShape::U8,
        Format::U16 => TypeShape::U16,
        Format::U32 => TypeShape::U32,
        Format::U64 => TypeShape::U64,
        Format::U128 => TypeShape::U128,
        Format::F32 => TypeShape::F32,
        Format::F64 => TypeShape::F64,
        Format::Char => TypeShape::Char,
        Format::Str => TypeShape::Str,
        Format::Bytes => TypeShape::Bytes,
        Format::Option(inner) => TypeShape::Option(Box::new(from_format(inner, registry, within))),
        Format::Seq(inner) => TypeShape::Seq(Box::new(from_format(inner, registry, within))),
        Format::Map { key, value } => TypeShape::Map {
            key: Box::new(from_format(key, registry, within)),
            value: Box::new(from_format(value, registry, within)),
        },
        Format::Tuple(formats) => TypeShape::Tuple(from_formats(formats, registry, within)),
        Format::TupleArray { content, size } => TypeShape::TupleArray {
            element: Box::new(from_format(content, registry, within)),
            len: *size as u64,
        },
    }
}

fn from_formats(
    formats: &[Format],
    registry: &Registry,
    within: &mut Vec<String>,
) -> Vec<TypeShape> {
    formats
        .iter()
        .map(|format| from_format(format, registry, within))
        .collect()
}

fn from_fields(
    fields: &[Named<Format>],
    registry: &Registry,
    within: &mut Vec<String>,
) -> Vec<FieldShape> {
    fields
        .iter()
        .map(|field| FieldShape {
            name: field.name.clone(),
            shape: from_format(&field.value, registry, within),
        })
        .collect()
}

fn from_container(
    name: &str,
    container: &ContainerFormat,
    registry: &Registry,
    within: &mut Vec<String>,
) -> TypeShape {
    let name = name.to_owned();
    match container {
        ContainerFormat::UnitStruct => TypeShape::UnitStruct { name },
        ContainerFormat::NewTypeStruct(inner) => TypeShape::NewtypeStruct {
            name,
            inner: Box::new(from_format(inner, registry, within)),
        },
        ContainerFormat::TupleStruct(formats) => TypeShape::TupleStruct {
            name,
            fields: from_formats(formats, registry, within),
        },
        ContainerFormat::Struct(fields) => TypeShape::Struct {
            name,
            fields: from_fields(fields, registry, within),
        },
        // Provisional indices (counted down from `u32::MAX`) remain when
        // tracing stopped reaching the enum before all its variants were
        // seen: serde-reflection explores a `Vec`, `Option` or map inside
        // another container only once. A partial list would raise false
        // alarms.
        ContainerFormat::Enum(variants) if variants.keys().any(|&index| index > u32::MAX / 2) => {
            TypeShape::Opaque(format!(
                "enum `{name}` is reached only through a `Vec`, `Option` or map inside \
                 another type, where its variants cannot all be traced"
            ))
        }
        ContainerFormat::Enum(variants) => TypeShape::Enum {
            name,
            variants: variants
                .iter()
                .map(|(&index, variant)| VariantShape {
                    name: variant.name.clone(),
                    index,
                    content: match &variant.value {
                        VariantFormat::Variable(_) | VariantFormat::Unit => VariantContent::Unit,
                        VariantFormat::NewType(inner) => {
                            VariantContent::Newtype(Box::new(from_format(inner, registry, within)))
                        }
                        VariantFormat::Tuple(formats) => {
                            VariantContent::Tuple(from_formats(formats, registry, within))
                        }
                        VariantFormat::Struct(fields) => {
                            VariantContent::Struct(from_fields(fields, registry, within))
                        }
                    },
                })
                .collect(),
        },
    }
}

/// Walks a stored and a current shape side by side.
#[derive(Default)]
struct Differ {
    /// The path to the shapes being compared.
    path: String,
    /// The (stored, current) names of the containers being compared, which a
    /// [`TypeShape::Recursive`] pair refers to.
    within: Vec<(String, String)>,
}

impl Differ {
    fn change(&self, kind: ChangeKind) -> Option<ShapeChange> {
        Some(ShapeChange {
            path: self.path.clone(),
            kind,
        })
    }

    fn type_changed(&self, old: &dyn fmt::Display, new: &dyn fmt::Display) -> Option<ShapeChange> {
        self.change(ChangeKind::TypeChanged {
            from: old.to_string(),
            to: new.to_string(),
        })
    }

    /// Compares `old` and `new` with `segment` added to the path.
    fn at(&mut self, segment: &str, old: &TypeShape, new: &TypeShape) -> Option<ShapeChange> {
        let len = self.path.len();
        self.path.push_str(segment);
        let change = self.shape(old, new);
        self.path.truncate(len);
        change
    }

    /// Compares the contents of two named containers.
    fn container<F>(&mut self, old: &str, new: &str, compare: F) -> Option<ShapeChange>
    where
        F: FnOnce(&mut Self) -> Option<ShapeChange>,
    {
        self.within.push((old.to_owned(), new.to_owned()));
        let change = compare(self);
        self.within.pop();
        change
    }

    fn shape(&mut self, old: &TypeShape, new: &TypeShape) -> Option<ShapeChange> {
        use TypeShape as S;
        match (old, new) {
            (S::Opaque(_), _) | (_, S::Opaque(_)) => None,
            (S::Recursive(a), S::Recursive(b)) => {
                if self.within.iter().any(|(x, y)| x == a && y == b) {
                    None
                } else {
                    self.type_changed(old, new)
                }
            }
            (S::Option(a), S::Option(b)) => self.shape(a, b),
            (S::Seq(a), S::Seq(b)) => self.at("[]", a, b),
            (S::Map { key: k1, value: v1 }, S::Map { key: k2, value: v2 }) => self
                .at("{key}", k1, k2)
                .or_else(|| self.at("{value}", v1, v2)),
            (S::Tuple(a), S::Tuple(b)) if a.len() == b.len() => self.positional(a, b),
            (S::TupleArray { element: a, len: n }, S::TupleArray { element: b, len: m })
                if n == m =>
            {
                self.at("[]", a, b)
            }
            (S::UnitStruct { .. }, S::UnitStruct { .. }) => None,
            (S::NewtypeStruct { name: n, inner: a }, S::NewtypeStruct { name: m, inner: b }) => {
                self.container(n, m, |this| this.at(".0", a, b))
            }
            (S::TupleStruct { name: n, fields: a }, S::TupleStruct { name: m, fields: b })
                if a.len() == b.len() =>
            {
                self.container(n, m, |this| this.positional(a, b))
            }
            (S::Struct { name: n, fields: a }, S::Struct { name: m, fields: b }) => {
                self.container(n, m, |this| this.fields(a, b))
            }
            (
                S::Enum {
                    name: n,
                    variants: a,
                },
                S::Enum {
                    name: m,
                    variants: b,
                },
            ) => self.container(n, m, |this| this.variants(a, b)),
            _ if old == new => None,
            _ => self.type_changed(old, new),
        }
    }

    fn positional(&mut self, old: &[TypeShape], new: &[TypeShape]) -> Option<ShapeChange> {
        old.iter()
            .zip(new)
            .enumerate()
            .find_map(|(i, (a, b))| self.at(&format!(".{i}"), a, b))
    }

    fn fields(&mut self, old: &[FieldShape], new: &[FieldShape]) -> Option<ShapeChange> {
        for (from, field) in old.iter().enumerate() {
            let Some(to) = new.iter().position(|f| f.name == field.name) else {
                return self.change(ChangeKind::FieldMissing(field.name.clone()));
            };
            if from != to {
                return self.change(ChangeKind::FieldMoved {
                    name: field.name.clone(),
                    from,
                    to,
                });
            }
            let change = self.at(&format!(".{}", field.name), &field.shape, &new[to].shape);
            if change.is_some() {
                return change;
            }
        }
        let added = new.iter().find(|f| !old.iter().any(|o| o.name == f.name))?;
        self.change(ChangeKind::FieldAdded(added.name.clone()))
    }

    fn variants(&mut self, old: &[VariantShape], new: &[VariantShape]) -> Option<ShapeChange> {
        for variant in old {
            let Some(current) = new.iter().find(|v| v.name == variant.name) else {
                return self.change(ChangeKind::VariantMissing(variant.name.clone()));
            };
            if variant.index != current.index {
                return self.change(ChangeKind::VariantMoved {
                    name: variant.name.clone(),
                    from: variant.index,
                    to: current.index,
                });
            }
            let len = self.path.len();
            self.path.push_str("::");
            self.path.push_str(&variant.name);
            let change = self.variant_content(&variant.content, &current.content);
            self.path.truncate(len);
            if change.is_some() {
                return change;
            }
        }
        let added = new.iter().find(|v| !old.iter().any(|o| o.name == v.name))?;
        self.change(ChangeKind::VariantAdded(added.name.clone()))
    }

    fn variant_content(
        &mut self,
        old: &VariantContent,
        new: &VariantContent,
    ) -> Option<ShapeChange> {
        match (old, new) {
            (VariantContent::Unit, VariantContent::Unit) => None,
            (VariantContent::Newtype(a), VariantContent::Newtype(b)) => self.shape(a, b),
            (VariantContent::Tuple(a), VariantContent::Tuple(b)) if a.len() == b.len() => {
                self.positional(a, b)
            }
            (VariantContent::Struct(a), VariantContent::Struct(b)) => self.fields(a, b),
            _ => self.type_changed(old, new),
        }
    }
}

#[cfg(test)]
// The test types exist only to have their shapes traced.
#[allow(dead_code)]
mod tests {
    use super::*;

    use std::collections::{BTreeMap, HashMap};
    use std::num::NonZeroU64;

    mod v1 {
        use serde::Deserialize;

        #[derive(Deserialize)]
        pub struct Message {
            pub id: u64,
            pub payload: Payload,
        }

        #[derive(Deserialize)]
        pub struct Payload {
            pub sender: u32,
            pub body: String,
        }

        #[derive(Deserialize)]
        pub enum Kind {
            Ping,
            Data(Vec<u8>),
        }
    }

    mod v2 {
        use serde::Deserialize;

        #[derive(Deserialize)]
        pub struct Message {
            pub id: u64,
            pub payload: Payload,
        }

        #[derive(Deserialize)]
        pub struct Payload {
            pub sender: String,
            pub body: String,
        }

        #[derive(Deserialize)]
        pub enum Kind {
            Ping,
            Data(Vec<u8>),
            Close { code: u16 },
        }
    }

    #[test]
    fn nested_struct_change_is_named_by_its_path() {
        let stored = TypeShape::of::<Vec<v1::Message>>();
        let current = TypeShape::of::<Vec<v2::Message>>();
        let change = stored
            .diff(&current)
            .unwrap()
            .within("MessageProcessor.log");
        assert_eq!(change.path(), "MessageProcessor.log[].payload.sender");
        assert_eq!(
            change.kind(),
            &ChangeKind::TypeChanged {
                from: "u32".to_owned(),
                to: "String".to_owned()
            }
        );
        assert_eq!(
            change.to_string(),
            "`MessageProcessor.log[].payload.sender`: type changed from `u32` to `String`"
        );
    }

    #[test]
    fn added_enum_variant_is_reported_inside_an_option() {
        let stored = TypeShape::of::<Option<v1::Kind>>();
        let current = TypeShape::of::<Option<v2::Kind>>();
        let change = stored.diff(&current).unwrap();
        assert_eq!(change.kind(), &ChangeKind::VariantAdded("Close".to_owned()));
        let back = current.diff(&stored).unwrap();
        assert_eq!(back.kind(), &ChangeKind::VariantMissing("Close".to_owned()));
    }

    #[test]
    fn nested_enums_are_traced_completely() {
        #[derive(Deserialize)]
        struct Holder {
            first: v2::Kind,
            second: (u8, v2::Kind),
        }
        for shape in [
            TypeShape::of::<Holder>(),
            TypeShape::of::<Vec<Holder>>(),
            TypeShape::of::<Option<Holder>>(),
        ] {
            let tree = shape.display_tree();
            assert_eq!(tree.matches("enum Kind").count(), 2, "{tree}");
            assert_eq!(tree.matches("    Close\n").count(), 2, "{tree}");
            assert!(!tree.contains("opaque"), "{tree}");
        }
        let TypeShape::Struct { fields, .. } = TypeShape::of::<Holder>() else {
            panic!("not a struct");
        };
        let TypeShape::Enum { variants, .. } = &fields[0].shape else {
            panic!("not an enum: {:?}", fields[0].shape);
        };
        let indices: Vec<_> = variants
            .iter()
            .map(|v| (v.index, v.name.as_str()))
            .collect();
        assert_eq!(indices, [(0, "Ping"), (1, "Data"), (2, "Close")]);
    }

    #[test]
    fn enum_under_a_vec_inside_a_struct_is_opaque_not_partial() {
        mod old {
            #[derive(serde::Deserialize)]
            pub struct Holder {
                pub kinds: Vec<super::v1::Kind>,
                pub count: u8,
            }
        }
        mod new {
            #[derive(serde::Deserialize)]
            pub struct Holder {
                pub kinds: Vec<super::v2::Kind>,
                pub count: u16,
            }
        }
        let stored = TypeShape::of::<old::Holder>();
        let TypeShape::Struct { fields, .. } = &stored else {
            panic!("not a struct: {stored:?}");
        };
        let TypeShape::Seq(kind) = &fields[0].shape else {
            panic!("not a seq: {stored:?}");
        };
        assert!(matches!(kind.as_ref(), TypeShape::Opaque(_)), "{kind:?}");
        // The rest of the struct is still compared.
        let change = stored.diff(&TypeShape::of::<new::Holder>()).unwrap();
        assert_eq!(
            change.to_string(),
            "`count`: type changed from `u8` to `u16`"
        );
    }

    #[test]
    fn field_type_change_under_vec_of_option() {
        mod old {
            #[derive(serde::Deserialize)]
            pub struct Payload {
                pub sender: u32,
            }
        }
        mod new {
            #[derive(serde::Deserialize)]
            pub struct Payload {
                pub sender: u64,
            }
        }
        let change = TypeShape::of::<Vec<Option<old::Payload>>>()
            .diff(&TypeShape::of::<Vec<Option<new::Payload>>>())
            .unwrap();
        assert_eq!(
            change.to_string(),
            "`[].sender`: type changed from `u32` to `u64`"
        );
    }

    #[test]
    fn map_value_change() {
        let change = TypeShape::of::<HashMap<u64, (u8, v1::Payload)>>()
            .diff(&TypeShape::of::<HashMap<u64, (u8, v2::Payload)>>())
            .unwrap();
        assert_eq!(change.path(), "{value}.1.sender");
        let change = TypeShape::of::<BTreeMap<String, u8>>()
            .diff(&TypeShape::of::<BTreeMap<u32, u8>>())
            .unwrap();
        assert_eq!(change.path(), "{key}");
    }

    #[test]
    fn removed_and_added_fields_are_reported() {
        mod old {
            #[derive(serde::Deserialize)]
            pub struct Point {
                pub x: i32,
                pub y: i32,
            }
        }
        mod new {
            #[derive(serde::Deserialize)]
            pub struct Point {
                pub x: i32,
                pub y: i32,
                pub z: i32,
            }
        }
        let old = TypeShape::of::<old::Point>();
        let new = TypeShape::of::<new::Point>();
        assert_eq!(old.diff(&new).unwrap().to_string(), "field `z` was added");
        assert_eq!(
            new.diff(&old).unwrap().kind(),
            &ChangeKind::FieldMissing("z".to_owned())
        );
    }

    #[derive(Deserialize)]
    struct Tree {
        label: String,
        children: Vec<Tree>,
    }

    #[test]
    fn recursive_type_terminates() {
        let shape = TypeShape::of::<Tree>();
        assert_eq!(
            shape,
            TypeShape::Struct {
                name: "Tree".to_owned(),
                fields: vec![
                    FieldShape {
                        name: "label".to_owned(),
                        shape: TypeShape::Str
                    },
                    FieldShape {
                        name: "children".to_owned(),
                        shape: TypeShape::Seq(Box::new(TypeShape::Recursive("Tree".to_owned())))
                    },
                ],
            }
        );
        assert_eq!(shape.diff(&shape), None);
    }

    #[test]
    fn std_types_trace_without_help() {
        use std::net::SocketAddr;
        use std::path::PathBuf;
        use std::time::{Duration, SystemTime};

        #[derive(Deserialize)]
        enum Expr {
            Lit(u32),
            Add(Box<Expr>, Box<Expr>),
        }

        for shape in [
            TypeShape::of::<SocketAddr>(),
            TypeShape::of::<(Duration, SystemTime, PathBuf, char)>(),
            TypeShape::of::<Box<[u8; 4]>>(),
            TypeShape::of::<Expr>(),
        ] {
            let tree = shape.display_tree();
            assert!(!tree.contains("opaque"), "{tree}");
        }
        assert!(TypeShape::of::<SocketAddr>().display_tree().contains("V6"));
        assert_eq!(
            TypeShape::of::<Expr>().display_tree(),
            "enum Expr\n  Lit: u32\n  Add\n    0: Expr (recursive)\n    1: Expr (recursive)\n"
        );
    }

    mod first_variant_recurses {
        #[derive(serde::Deserialize)]
        pub enum Expr {
            Add(Box<Expr>, Box<Expr>),
            Num(i64),
        }

        #[derive(serde::Deserialize)]
        pub enum Even {
            Next(Box<Odd>),
            Zero,
        }

        #[derive(serde::Deserialize)]
        pub enum Odd {
            Next(Box<Even>),
            One,
        }

        #[derive(serde::Deserialize)]
        pub struct Holder {
            pub id: u32,
            pub expr: Expr,
        }
    }

    /// Runs `f` on a thread with the default 2 MiB stack of spawned threads,
    /// whatever `RUST_MIN_STACK` says.
    fn on_small_stack<R: Send + 'static>(f: fn() -> R) -> R {
        std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn(f)
            .unwrap()
            .join()
            .unwrap()
    }

    #[test]
    fn enum_whose_first_variant_recurses_is_opaque_not_an_abort() {
        use first_variant_recurses::{Even, Expr, Holder, Odd};

        let shapes = on_small_stack(|| {
            [
                TypeShape::of::<Expr>(),
                TypeShape::of::<Even>(),
                TypeShape::of::<Vec<Odd>>(),
                TypeShape::of::<Holder>(),
            ]
        });
        for shape in shapes {
            let TypeShape::Opaque(reason) = &shape else {
                panic!("traced: {shape:?}");
            };
            assert!(
                reason.contains(
                    "the value nests deeper than 128 levels \
                     (when tracing: a recursive enum whose first variant contains itself?)"
                ),
                "{reason}"
            );
            assert_eq!(shape.diff(&TypeShape::I64), None);
        }
    }

    #[test]
    fn recursive_enum_with_a_base_case_first_traces_fully() {
        #[derive(Deserialize)]
        enum List {
            Nil,
            Cons(u8, Box<List>),
        }

        let shape = on_small_stack(TypeShape::of::<List>);
        assert_eq!(
            shape,
            TypeShape::Enum {
                name: "List".to_owned(),
                variants: vec![
                    VariantShape {
                        name: "Nil".to_owned(),
                        index: 0,
                        content: VariantContent::Unit,
                    },
                    VariantShape {
                        name: "Cons".to_owned(),
                        index: 1,
                        content: VariantContent::Tuple(vec![
                            TypeShape::U8,
                            TypeShape::Recursive("List".to_owned()),
                        ]),
                    },
                ],
            }
        );
    }

    #[test]
    fn validating_deserialize_becomes_opaque_and_never_alarms() {
        let shape = TypeShape::of::<Vec<NonZeroU64>>();
        let TypeShape::Opaque(reason) = &shape else {
            panic!("traced: {shape:?}");
        };
        assert!(reason.contains("nonzero"), "{reason}");
        assert_eq!(shape.diff(&TypeShape::U64), None);
        assert_eq!(TypeShape::U64.diff(&shape), None);
    }

    #[test]
    fn shape_survives_a_postcard_round_trip() {
        for shape in [
            TypeShape::of::<Vec<v2::Message>>(),
            TypeShape::of::<Option<v2::Kind>>(),
            TypeShape::of::<Tree>(),
            TypeShape::of::<([u16; 3], BTreeMap<char, bool>)>(),
            TypeShape::of::<NonZeroU64>(),
        ] {
            let bytes = postcard::to_stdvec(&shape).unwrap();
            let back: TypeShape = postcard::from_bytes(&bytes).unwrap();
            assert_eq!(back, shape);
        }
    }

    #[test]
    fn identical_types_have_no_difference() {
        let a = TypeShape::of::<Vec<v1::Message>>();
        let b = TypeShape::of::<Vec<v1::Message>>();
        assert_eq!(a.diff(&b), None);
        // Names are not encoded: a renamed struct with the same fields reads.
        mod renamed {
            #[derive(serde::Deserialize)]
            pub struct Payload2 {
                pub sender: u32,
                pub body: String,
            }
        }
        assert_eq!(
            TypeShape::of::<v1::Payload>().diff(&TypeShape::of::<renamed::Payload2>()),
            None
        );
    }

    #[test]
    fn repeated_calls_use_the_cache() {
        use std::sync::atomic::{AtomicUsize, Ordering};

        static TRACED: AtomicUsize = AtomicUsize::new(0);

        struct Counted;

        impl<'de> Deserialize<'de> for Counted {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                TRACED.fetch_add(1, Ordering::SeqCst);
                u8::deserialize(d).map(|_| Counted)
            }
        }

        let first = TypeShape::of::<Counted>();
        let after_first = TRACED.load(Ordering::SeqCst);
        assert!(after_first > 0);
        assert_eq!(TypeShape::of::<Counted>(), first);
        assert_eq!(TRACED.load(Ordering::SeqCst), after_first);
    }

    #[test]
    fn panicking_deserialize_becomes_opaque() {
        struct Panics;

        impl<'de> Deserialize<'de> for Panics {
            fn deserialize<D: serde::Deserializer<'de>>(_: D) -> Result<Self, D::Error> {
                panic!("not traceable")
            }
        }

        assert_eq!(
            TypeShape::of::<Panics>(),
            TypeShape::Opaque("tracing panicked".to_owned())
        );
    }
}
