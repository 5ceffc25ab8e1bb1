//! Recording the writer's schema while encoding: a `serde::Serializer`
//! around postcard's that writes exactly postcard's bytes and records, per
//! position, what was written there.
//!
//! One [`DeepSchema`] collects every value a process writes of one type, so
//! it grows only when a value takes a path not taken before (a first
//! element, a new variant); then its generation changes and the writer
//! checks the new bytes once. Values that write different things at one
//! position (a field skipped for some values, a `serde_json::Value` that is
//! a string here and a number there) cannot be described and are refused.

use serde::ser::{self, Serialize};

use super::{Content, DeepSchema, Leaf, Name, NodeId, Path, SchemaNode, Seg, Variant};

/// Why a value cannot be recorded, and where. One pointer wide, so that
/// the results of the many small writes stay small.
#[derive(Debug)]
pub(crate) struct RecordError(Box<RecordFailure>);

#[derive(Debug)]
pub(crate) struct RecordFailure {
    pub(crate) kind: RecordErrorKind,
    pub(crate) path: Path,
}

impl std::ops::Deref for RecordError {
    type Target = RecordFailure;
    fn deref(&self) -> &RecordFailure {
        &self.0
    }
}

impl std::ops::DerefMut for RecordError {
    fn deref_mut(&mut self) -> &mut RecordFailure {
        &mut self.0
    }
}

#[derive(Debug)]
pub(crate) enum RecordErrorKind {
    /// Values at one position were written as different types.
    Conflict { before: String, now: String },
    /// A struct skipped a field for this value (`skip_serializing_if`).
    Skipped {
        field: &'static str,
        ty: &'static str,
    },
    /// The encoder or the value's `Serialize` failed.
    Encode(String),
}

impl RecordError {
    fn new(kind: RecordErrorKind) -> Self {
        RecordError(Box::new(RecordFailure {
            kind,
            path: Path::default(),
        }))
    }

    fn at(mut self, seg: Seg) -> Self {
        self.path.push(seg);
        self
    }

    pub(crate) fn into_inner(self) -> RecordFailure {
        *self.0
    }
}

impl std::fmt::Display for RecordError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.kind {
            RecordErrorKind::Conflict { before, now } => {
                write!(f, "written as `{before}` and as `{now}`")
            }
            RecordErrorKind::Skipped { field, ty } => {
                write!(f, "`{ty}` skipped field `{field}` when writing")
            }
            RecordErrorKind::Encode(e) => f.write_str(e),
        }
    }
}

impl std::error::Error for RecordError {}

impl ser::Error for RecordError {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        RecordError::new(RecordErrorKind::Encode(msg.to_string()))
    }
}

fn encode(e: postcard::Error) -> RecordError {
    RecordError::new(RecordErrorKind::Encode(e.to_string()))
}

const NO_PARENT: NodeId = NodeId::MAX;

/// How many enclosing containers of its own name a container is recorded
/// inside before it is taken as recursion.
const FOLD_AFTER: usize = 3;

#[inline]
fn same(a: &str, b: &'static str) -> bool {
    // Names come from the same `&'static str` for every value of a type.
    std::ptr::eq(a.as_ptr(), b.as_ptr()) && a.len() == b.len() || a == b
}

impl DeepSchema {
    /// The node for stored field `key`, created when new.
    pub(crate) fn root_for(
        &mut self,
        variant: Option<&'static str>,
        field: &'static str,
    ) -> NodeId {
        let matches = |k: &Name| match variant {
            None => same(k, field),
            Some(v) => k
                .strip_prefix(v)
                .and_then(|r| r.strip_prefix("::"))
                .is_some_and(|f| f == field),
        };
        if let Some((_, id)) = self.roots.iter().find(|(k, _)| matches(k)) {
            return *id;
        }
        let key: Name = match variant {
            None => Name::Borrowed(field),
            Some(v) => Name::Owned(format!("{v}::{field}")),
        };
        let id = self.add(SchemaNode::Unknown, NO_PARENT);
        self.roots.push((key, id));
        id
    }

    /// How many changes recording has made.
    pub(crate) fn generation(&self) -> u64 {
        self.generation
    }

    fn add(&mut self, node: SchemaNode, parent: NodeId) -> NodeId {
        let id = self.nodes.len() as NodeId;
        self.nodes.push(node);
        self.parents.push(parent);
        self.generation += 1;
        id
    }

    fn set(&mut self, id: NodeId, node: SchemaNode) {
        self.nodes[id as usize] = node;
        self.generation += 1;
    }

    fn describe(&self, id: NodeId) -> String {
        match self.node(id) {
            SchemaNode::Struct(n, _) => format!("struct {n}"),
            SchemaNode::Enum(n, _) => format!("enum {n}"),
            _ => self.type_name(id),
        }
    }

    fn conflict(&self, id: NodeId, now: impl Into<String>) -> RecordError {
        RecordError::new(RecordErrorKind::Conflict {
            before: self.describe(id),
            now: now.into(),
        })
    }

    /// A container named `name` at `id` (still unknown) inside
    /// [`FOLD_AFTER`] enclosing containers of the same name and kind is
    /// taken as recursion: it becomes a reference to the nearest of them,
    /// so a recursive type's schema stays finite however deep its values
    /// nest. Fewer nestings are recorded apart, so a generic type holding
    /// another instance of itself (`Wrapper<Wrapper<u8>>`) is not mistaken
    /// for recursion.
    fn recursion(&mut self, id: NodeId, name: &str, kind: fn(&SchemaNode) -> bool) -> NodeId {
        let mut at = self.parents[id as usize];
        let mut nearest = None;
        let mut seen = 0;
        while at != NO_PARENT {
            let node = &self.nodes[at as usize];
            if kind(node) && container_name(node) == Some(name) {
                nearest.get_or_insert(at);
                seen += 1;
                if seen == FOLD_AFTER {
                    break;
                }
            }
            at = self.parents[at as usize];
        }
        match nearest {
            Some(to) if seen == FOLD_AFTER => {
                self.set(id, SchemaNode::Ref(to));
                to
            }
            _ => id,
        }
    }

    #[inline]
    fn leaf(&mut self, at: NodeId, leaf: Leaf) -> Result<(), RecordError> {
        match self.nodes.get(at as usize) {
            Some(SchemaNode::Leaf(l)) if *l == leaf => Ok(()),
            _ => self.new_leaf(at, leaf),
        }
    }

    #[cold]
    #[inline(never)]
    fn new_leaf(&mut self, at: NodeId, leaf: Leaf) -> Result<(), RecordError> {
        let id = self.follow(at);
        match &self.nodes[id as usize] {
            SchemaNode::Leaf(l) if *l == leaf => Ok(()),
            SchemaNode::Unknown => {
                self.set(id, SchemaNode::Leaf(leaf));
                Ok(())
            }
            _ => Err(self.conflict(id, leaf.type_name())),
        }
    }

    /// The child of a one-child node built by `make`, recognised by `get`.
    fn one_child(
        &mut self,
        at: NodeId,
        what: &str,
        get: fn(&SchemaNode) -> Option<NodeId>,
        make: fn(NodeId) -> SchemaNode,
    ) -> Result<NodeId, RecordError> {
        let id = self.follow(at);
        if let Some(c) = get(&self.nodes[id as usize]) {
            return Ok(c);
        }
        if !matches!(self.nodes[id as usize], SchemaNode::Unknown) {
            return Err(self.conflict(id, what));
        }
        let child = self.add(SchemaNode::Unknown, id);
        self.set(id, make(child));
        Ok(child)
    }

    fn positions(
        &mut self,
        at: NodeId,
        name: Option<&'static str>,
        len: usize,
    ) -> Result<(NodeId, Vec<NodeId>), RecordError> {
        let mut id = self.follow(at);
        if let Some(n) = name {
            if matches!(self.nodes[id as usize], SchemaNode::Unknown) {
                id = self.recursion(id, n, |k| matches!(k, SchemaNode::TupleStruct(..)));
            }
        }
        match (&self.nodes[id as usize], name) {
            (SchemaNode::Tuple(cs), None) if cs.len() == len => return Ok((id, cs.clone())),
            (SchemaNode::TupleStruct(n, cs), Some(name)) if cs.len() == len && same(n, name) => {
                return Ok((id, cs.clone()))
            }
            (SchemaNode::Unknown, _) => {}
            _ => {
                let now = match name {
                    Some(n) => format!("{n} (a tuple struct of {len})"),
                    None => format!("a tuple of {len}"),
                };
                return Err(self.conflict(id, now));
            }
        }
        let cs: Vec<NodeId> = (0..len)
            .map(|_| self.add(SchemaNode::Unknown, id))
            .collect();
        let node = match name {
            Some(n) => SchemaNode::TupleStruct(Name::Borrowed(n), cs.clone()),
            None => SchemaNode::Tuple(cs.clone()),
        };
        self.set(id, node);
        Ok((id, cs))
    }

    #[inline]
    fn structure(&mut self, at: NodeId, name: &'static str) -> Result<NodeId, RecordError> {
        let id = self.follow(at);
        match &self.nodes[id as usize] {
            SchemaNode::Struct(n, _) if same(n, name) => Ok(id),
            _ => self.new_structure(at, name),
        }
    }

    #[cold]
    #[inline(never)]
    fn new_structure(&mut self, at: NodeId, name: &'static str) -> Result<NodeId, RecordError> {
        let mut id = self.follow(at);
        if matches!(self.nodes[id as usize], SchemaNode::Unknown) {
            id = self.recursion(id, name, |k| matches!(k, SchemaNode::Struct(..)));
        }
        match &self.nodes[id as usize] {
            SchemaNode::Struct(n, _) if same(n, name) => Ok(id),
            SchemaNode::Unknown => {
                self.set(id, SchemaNode::Struct(Name::Borrowed(name), Vec::new()));
                self.sealed_mut(id, false);
                Ok(id)
            }
            _ => Err(self.conflict(id, format!("struct {name}"))),
        }
    }

    /// The variant `index` of enum `name` at `at`, recorded when new.
    #[inline]
    fn variant(
        &mut self,
        at: NodeId,
        name: &'static str,
        index: u32,
        variant: &'static str,
        content: VariantKind,
    ) -> Result<Content, RecordError> {
        let id = self.follow(at);
        if let SchemaNode::Enum(n, vs) = &self.nodes[id as usize] {
            if same(n, name) {
                if let Ok(i) = vs.binary_search_by_key(&index, |v| v.index) {
                    let v = &vs[i];
                    let fits = match (v.content, &content) {
                        (Content::Unit, VariantKind::Unit)
                        | (Content::Newtype(_), VariantKind::Newtype)
                        | (Content::Struct(_), VariantKind::Struct) => true,
                        (Content::Tuple(t), VariantKind::Tuple(len)) => {
                            matches!(self.node(t), SchemaNode::Tuple(cs) if cs.len() == *len)
                        }
                        _ => false,
                    };
                    if fits && same(&v.name, variant) {
                        return Ok(v.content);
                    }
                }
            }
        }
        self.new_variant(at, name, index, variant, content)
    }

    #[cold]
    #[inline(never)]
    fn new_variant(
        &mut self,
        at: NodeId,
        name: &'static str,
        index: u32,
        variant: &'static str,
        content: VariantKind,
    ) -> Result<Content, RecordError> {
        let mut id = self.follow(at);
        if matches!(self.nodes[id as usize], SchemaNode::Unknown) {
            id = self.recursion(id, name, |k| matches!(k, SchemaNode::Enum(..)));
        }
        let variants = match &self.nodes[id as usize] {
            SchemaNode::Enum(n, vs) if same(n, name) => vs,
            SchemaNode::Unknown => {
                self.set(id, SchemaNode::Enum(Name::Borrowed(name), Vec::new()));
                match &self.nodes[id as usize] {
                    SchemaNode::Enum(_, vs) => vs,
                    _ => unreachable!("just set"),
                }
            }
            _ => return Err(self.conflict(id, format!("enum {name}"))),
        };
        let at = match variants.binary_search_by_key(&index, |v| v.index) {
            Ok(i) => {
                let v = &variants[i];
                let fits = match (v.content, &content) {
                    (Content::Unit, VariantKind::Unit)
                    | (Content::Newtype(_), VariantKind::Newtype) => true,
                    (Content::Tuple(t), VariantKind::Tuple(len)) => {
                        matches!(self.node(t), SchemaNode::Tuple(cs) if cs.len() == *len)
                    }
                    (Content::Struct(_), VariantKind::Struct) => true,
                    _ => false,
                };
                if same(&v.name, variant) && fits {
                    return Ok(v.content);
                }
                return Err(
                    self.conflict(id, format!("variant #{index} `{variant}` of enum {name}"))
                );
            }
            Err(at) => at,
        };
        let content = match content {
            VariantKind::Unit => Content::Unit,
            VariantKind::Newtype => Content::Newtype(self.add(SchemaNode::Unknown, id)),
            VariantKind::Tuple(len) => {
                let t = self.add(SchemaNode::Unknown, id);
                let cs = (0..len).map(|_| self.add(SchemaNode::Unknown, t)).collect();
                self.set(t, SchemaNode::Tuple(cs));
                Content::Tuple(t)
            }
            VariantKind::Struct => {
                let s = self.add(SchemaNode::Struct(Name::Borrowed(variant), Vec::new()), id);
                self.sealed_mut(s, false);
                Content::Struct(s)
            }
        };
        if let SchemaNode::Enum(_, vs) = &mut self.nodes[id as usize] {
            vs.insert(
                at,
                Variant {
                    index,
                    name: Name::Borrowed(variant),
                    content,
                },
            );
        }
        self.generation += 1;
        Ok(content)
    }

    /// Whether the struct at `id` has seen a whole value: until then each
    /// field written is appended, afterwards every value must write the
    /// same fields.
    #[inline]
    fn sealed(&self, id: NodeId) -> bool {
        !self.open.contains(&id)
    }

    fn sealed_mut(&mut self, id: NodeId, sealed: bool) {
        if sealed {
            self.open.retain(|&o| o != id);
        } else {
            self.open.push(id);
        }
    }

    /// The node of field `i`, named `key`, of the struct at `id`.
    #[inline]
    fn field(
        &mut self,
        id: NodeId,
        i: usize,
        key: &'static str,
        ty: &'static str,
    ) -> Result<NodeId, RecordError> {
        if let SchemaNode::Struct(_, fields) = &self.nodes[id as usize] {
            if let Some((n, c)) = fields.get(i) {
                if same(n, key) {
                    return Ok(*c);
                }
            }
        }
        self.new_field(id, i, key, ty)
    }

    #[cold]
    #[inline(never)]
    fn new_field(
        &mut self,
        id: NodeId,
        i: usize,
        key: &'static str,
        ty: &'static str,
    ) -> Result<NodeId, RecordError> {
        let sealed = self.sealed(id);
        let SchemaNode::Struct(_, fields) = &self.nodes[id as usize] else {
            unreachable!("a struct recorder holds a struct node")
        };
        match fields.get(i) {
            Some((n, c)) if same(n, key) => Ok(*c),
            Some((n, _)) => Err(RecordError::new(RecordErrorKind::Conflict {
                before: format!("struct {ty} writing field `{n}` here"),
                now: format!("struct {ty} writing field `{key}` here"),
            })),
            None if !sealed => {
                let c = self.add(SchemaNode::Unknown, id);
                if let SchemaNode::Struct(_, fields) = &mut self.nodes[id as usize] {
                    fields.push((Name::Borrowed(key), c));
                }
                Ok(c)
            }
            None => Err(RecordError::new(RecordErrorKind::Conflict {
                before: format!("struct {ty} without field `{key}`"),
                now: format!("struct {ty} with field `{key}`"),
            })),
        }
    }

    #[inline]
    fn end_struct(
        &mut self,
        id: NodeId,
        written: usize,
        ty: &'static str,
    ) -> Result<(), RecordError> {
        if self.open.is_empty() {
            if let SchemaNode::Struct(_, fields) = &self.nodes[id as usize] {
                if fields.len() == written {
                    return Ok(());
                }
            }
        }
        self.end_new_struct(id, written, ty)
    }

    #[cold]
    #[inline(never)]
    fn end_new_struct(
        &mut self,
        id: NodeId,
        written: usize,
        ty: &'static str,
    ) -> Result<(), RecordError> {
        if !self.sealed(id) {
            self.sealed_mut(id, true);
            return Ok(());
        }
        match &self.nodes[id as usize] {
            SchemaNode::Struct(_, fields) if fields.len() > written => {
                Err(RecordError::new(RecordErrorKind::Conflict {
                    before: format!("struct {ty} with field `{}`", fields[written].0),
                    now: format!("struct {ty} without it"),
                }))
            }
            _ => Ok(()),
        }
    }
}

fn container_name(node: &SchemaNode) -> Option<&str> {
    match node {
        SchemaNode::Struct(n, _)
        | SchemaNode::Enum(n, _)
        | SchemaNode::TupleStruct(n, _)
        | SchemaNode::Newtype(n, _)
        | SchemaNode::UnitStruct(n) => Some(n),
        _ => None,
    }
}

enum VariantKind {
    Unit,
    Newtype,
    Tuple(usize),
    Struct,
}

/// Encodes like postcard's serializer and records into a schema.
pub(crate) struct Recorder<'a, F: postcard::ser_flavors::Flavor> {
    pub(crate) out: &'a mut postcard::Serializer<F>,
    pub(crate) schema: &'a mut DeepSchema,
    pub(crate) at: NodeId,
}

macro_rules! leaf {
    ($($method:ident($ty:ty) => $leaf:ident;)*) => {$(
        #[inline]
        fn $method(self, v: $ty) -> Result<(), RecordError> {
            self.schema.leaf(self.at, Leaf::$leaf)?;
            ser::Serializer::$method(&mut *self.out, v).map_err(encode)
        }
    )*};
}

impl<'a, F: postcard::ser_flavors::Flavor> ser::Serializer for Recorder<'a, F> {
    type Ok = ();
    type Error = RecordError;
    type SerializeSeq = Compound<'a, F>;
    type SerializeTuple = Compound<'a, F>;
    type SerializeTupleStruct = Compound<'a, F>;
    type SerializeTupleVariant = Compound<'a, F>;
    type SerializeMap = Compound<'a, F>;
    type SerializeStruct = Fields<'a, F>;
    type SerializeStructVariant = Fields<'a, F>;

    leaf! {
        serialize_bool(bool) => Bool;
        serialize_i8(i8) => I8;
        serialize_i16(i16) => I16;
        serialize_i32(i32) => I32;
        serialize_i64(i64) => I64;
        serialize_i128(i128) => I128;
        serialize_u8(u8) => U8;
        serialize_u16(u16) => U16;
        serialize_u32(u32) => U32;
        serialize_u64(u64) => U64;
        serialize_u128(u128) => U128;
        serialize_f32(f32) => F32;
        serialize_f64(f64) => F64;
        serialize_char(char) => Char;
        serialize_str(&str) => Str;
        serialize_bytes(&[u8]) => Bytes;
    }

    fn serialize_unit(self) -> Result<(), RecordError> {
        self.schema.leaf(self.at, Leaf::Unit)
    }

    fn serialize_none(self) -> Result<(), RecordError> {
        self.schema
            .one_child(self.at, "Option", option_child, SchemaNode::Option)?;
        ser::Serializer::serialize_u8(&mut *self.out, 0).map_err(encode)
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), RecordError> {
        let child = self
            .schema
            .one_child(self.at, "Option", option_child, SchemaNode::Option)?;
        ser::Serializer::serialize_u8(&mut *self.out, 1).map_err(encode)?;
        value.serialize(Recorder {
            out: self.out,
            schema: self.schema,
            at: child,
        })
    }

    fn serialize_unit_struct(self, name: &'static str) -> Result<(), RecordError> {
        let id = self.schema.follow(self.at);
        match self.schema.node(id) {
            SchemaNode::UnitStruct(n) if same(n, name) => Ok(()),
            SchemaNode::Unknown => {
                self.schema
                    .set(id, SchemaNode::UnitStruct(Name::Borrowed(name)));
                Ok(())
            }
            _ => Err(self.schema.conflict(id, name)),
        }
    }

    fn serialize_unit_variant(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
    ) -> Result<(), RecordError> {
        self.schema
            .variant(self.at, name, index, variant, VariantKind::Unit)?;
        ser::Serializer::serialize_u32(&mut *self.out, index).map_err(encode)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        value: &T,
    ) -> Result<(), RecordError> {
        let mut id = self.schema.follow(self.at);
        if matches!(self.schema.node(id), SchemaNode::Unknown) {
            id = self
                .schema
                .recursion(id, name, |k| matches!(k, SchemaNode::Newtype(..)));
        }
        let child = match self.schema.node(id) {
            SchemaNode::Newtype(n, c) if same(n, name) => *c,
            SchemaNode::Unknown => {
                let c = self.schema.add(SchemaNode::Unknown, id);
                self.schema
                    .set(id, SchemaNode::Newtype(Name::Borrowed(name), c));
                c
            }
            _ => return Err(self.schema.conflict(id, name)),
        };
        value.serialize(Recorder {
            out: self.out,
            schema: self.schema,
            at: child,
        })
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), RecordError> {
        let Content::Newtype(child) =
            self.schema
                .variant(self.at, name, index, variant, VariantKind::Newtype)?
        else {
            unreachable!("checked by `variant`")
        };
        ser::Serializer::serialize_u32(&mut *self.out, index).map_err(encode)?;
        value
            .serialize(Recorder {
                out: self.out,
                schema: self.schema,
                at: child,
            })
            .map_err(|e| e.at(Seg::Variant(variant.to_owned())))
    }

    fn serialize_seq(self, len: Option<usize>) -> Result<Compound<'a, F>, RecordError> {
        let child = self
            .schema
            .one_child(self.at, "a sequence", seq_child, SchemaNode::Seq)?;
        ser::Serializer::serialize_seq(&mut *self.out, len).map_err(encode)?;
        Ok(Compound::new(self, Children::Same(child)))
    }

    fn serialize_tuple(self, len: usize) -> Result<Compound<'a, F>, RecordError> {
        let (_, cs) = self.schema.positions(self.at, None, len)?;
        Ok(Compound::new(self, Children::Each(cs)))
    }

    fn serialize_tuple_struct(
        self,
        name: &'static str,
        len: usize,
    ) -> Result<Compound<'a, F>, RecordError> {
        let (_, cs) = self.schema.positions(self.at, Some(name), len)?;
        Ok(Compound::new(self, Children::Each(cs)))
    }

    fn serialize_tuple_variant(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Compound<'a, F>, RecordError> {
        let Content::Tuple(t) =
            self.schema
                .variant(self.at, name, index, variant, VariantKind::Tuple(len))?
        else {
            unreachable!("checked by `variant`")
        };
        let SchemaNode::Tuple(cs) = self.schema.node(t).clone() else {
            unreachable!("a tuple variant holds a tuple")
        };
        ser::Serializer::serialize_u32(&mut *self.out, index).map_err(encode)?;
        Ok(Compound::new(self, Children::Each(cs)))
    }

    fn serialize_map(self, len: Option<usize>) -> Result<Compound<'a, F>, RecordError> {
        let id = self.schema.follow(self.at);
        let (k, v) = match self.schema.node(id) {
            SchemaNode::Map(k, v) => (*k, *v),
            SchemaNode::Unknown => {
                let k = self.schema.add(SchemaNode::Unknown, id);
                let v = self.schema.add(SchemaNode::Unknown, id);
                self.schema.set(id, SchemaNode::Map(k, v));
                (k, v)
            }
            _ => return Err(self.schema.conflict(id, "a map")),
        };
        ser::Serializer::serialize_map(&mut *self.out, len).map_err(encode)?;
        Ok(Compound::new(self, Children::Map(k, v)))
    }

    fn serialize_struct(
        self,
        name: &'static str,
        _len: usize,
    ) -> Result<Fields<'a, F>, RecordError> {
        let id = self.schema.structure(self.at, name)?;
        Ok(Fields {
            out: self.out,
            schema: self.schema,
            id,
            ty: name,
            written: 0,
            variant: None,
        })
    }

    fn serialize_struct_variant(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Fields<'a, F>, RecordError> {
        let Content::Struct(id) =
            self.schema
                .variant(self.at, name, index, variant, VariantKind::Struct)?
        else {
            unreachable!("checked by `variant`")
        };
        ser::Serializer::serialize_u32(&mut *self.out, index).map_err(encode)?;
        Ok(Fields {
            out: self.out,
            schema: self.schema,
            id,
            ty: name,
            written: 0,
            variant: Some(variant),
        })
    }

    fn is_human_readable(&self) -> bool {
        false
    }
}

fn option_child(node: &SchemaNode) -> Option<NodeId> {
    match node {
        SchemaNode::Option(c) => Some(*c),
        _ => None,
    }
}

fn seq_child(node: &SchemaNode) -> Option<NodeId> {
    match node {
        SchemaNode::Seq(c) => Some(*c),
        _ => None,
    }
}

enum Children {
    /// Every element at one node.
    Same(NodeId),
    /// One node per position.
    Each(Vec<NodeId>),
    /// Keys and values.
    Map(NodeId, NodeId),
}

/// Sequences, tuples and maps being recorded.
pub(crate) struct Compound<'a, F: postcard::ser_flavors::Flavor> {
    out: &'a mut postcard::Serializer<F>,
    schema: &'a mut DeepSchema,
    children: Children,
    i: usize,
}

impl<'a, F: postcard::ser_flavors::Flavor> Compound<'a, F> {
    fn new(r: Recorder<'a, F>, children: Children) -> Self {
        Compound {
            out: r.out,
            schema: r.schema,
            children,
            i: 0,
        }
    }

    #[inline]
    fn element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), RecordError> {
        let i = self.i;
        self.i += 1;
        let at = match &self.children {
            Children::Same(c) => *c,
            Children::Each(cs) => match cs.get(i) {
                Some(c) => *c,
                None => return Err(ser::Error::custom("more tuple elements than its length")),
            },
            Children::Map(_, v) => *v,
        };
        let outcome = value.serialize(Recorder {
            out: self.out,
            schema: self.schema,
            at,
        });
        outcome.map_err(|e| {
            e.at(match self.children {
                Children::Same(_) => Seg::Element,
                Children::Each(_) => Seg::Index(i),
                Children::Map(..) => Seg::Value,
            })
        })
    }
}

impl<F: postcard::ser_flavors::Flavor> ser::SerializeSeq for Compound<'_, F> {
    type Ok = ();
    type Error = RecordError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), RecordError> {
        self.element(value)
    }
    fn end(self) -> Result<(), RecordError> {
        Ok(())
    }
}

impl<F: postcard::ser_flavors::Flavor> ser::SerializeTuple for Compound<'_, F> {
    type Ok = ();
    type Error = RecordError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), RecordError> {
        self.element(value)
    }
    fn end(self) -> Result<(), RecordError> {
        Ok(())
    }
}

impl<F: postcard::ser_flavors::Flavor> ser::SerializeTupleStruct for Compound<'_, F> {
    type Ok = ();
    type Error = RecordError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), RecordError> {
        self.element(value)
    }
    fn end(self) -> Result<(), RecordError> {
        Ok(())
    }
}

impl<F: postcard::ser_flavors::Flavor> ser::SerializeTupleVariant for Compound<'_, F> {
    type Ok = ();
    type Error = RecordError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), RecordError> {
        self.element(value)
    }
    fn end(self) -> Result<(), RecordError> {
        Ok(())
    }
}

impl<F: postcard::ser_flavors::Flavor> ser::SerializeMap for Compound<'_, F> {
    type Ok = ();
    type Error = RecordError;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), RecordError> {
        let Children::Map(k, _) = self.children else {
            unreachable!("a map recorder has map children")
        };
        key.serialize(Recorder {
            out: self.out,
            schema: self.schema,
            at: k,
        })
        .map_err(|e| e.at(Seg::Key))
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), RecordError> {
        self.element(value)
    }
    fn end(self) -> Result<(), RecordError> {
        Ok(())
    }
}

/// A struct or struct variant being recorded.
pub(crate) struct Fields<'a, F: postcard::ser_flavors::Flavor> {
    out: &'a mut postcard::Serializer<F>,
    schema: &'a mut DeepSchema,
    id: NodeId,
    ty: &'static str,
    written: usize,
    variant: Option<&'static str>,
}

impl<F: postcard::ser_flavors::Flavor> Fields<'_, F> {
    fn field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), RecordError> {
        let result = self
            .schema
            .field(self.id, self.written, key, self.ty)
            .and_then(|at| {
                value
                    .serialize(Recorder {
                        out: self.out,
                        schema: self.schema,
                        at,
                    })
                    .map_err(|e| e.at(Seg::Field(key.to_owned())))
            });
        self.written += 1;
        result.map_err(|e| self.within_variant(e))
    }

    fn skip(&mut self, key: &'static str) -> Result<(), RecordError> {
        Err(
            self.within_variant(RecordError::new(RecordErrorKind::Skipped {
                field: key,
                ty: self.ty,
            })),
        )
    }

    fn end(self) -> Result<(), RecordError> {
        let (ty, variant) = (self.ty, self.variant);
        self.schema
            .end_struct(self.id, self.written, ty)
            .map_err(|e| match variant {
                Some(v) => e.at(Seg::Variant(v.to_owned())),
                None => e,
            })
    }

    fn within_variant(&self, e: RecordError) -> RecordError {
        match self.variant {
            Some(v) => e.at(Seg::Variant(v.to_owned())),
            None => e,
        }
    }
}

impl<F: postcard::ser_flavors::Flavor> ser::SerializeStruct for Fields<'_, F> {
    type Ok = ();
    type Error = RecordError;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), RecordError> {
        self.field(key, value)
    }
    fn skip_field(&mut self, key: &'static str) -> Result<(), RecordError> {
        self.skip(key)
    }
    fn end(self) -> Result<(), RecordError> {
        Fields::end(self)
    }
}

impl<F: postcard::ser_flavors::Flavor> ser::SerializeStructVariant for Fields<'_, F> {
    type Ok = ();
    type Error = RecordError;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), RecordError> {
        self.field(key, value)
    }
    fn skip_field(&mut self, key: &'static str) -> Result<(), RecordError> {
        self.skip(key)
    }
    fn end(self) -> Result<(), RecordError> {
        Fields::end(self)
    }
}
