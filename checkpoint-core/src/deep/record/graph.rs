//! The schema side of recording: how a value's writes grow a
//! [`DeepSchema`], and when they conflict with what earlier values wrote.

use super::{RecordError, RecordErrorKind};
use crate::deep::{Content, DeepSchema, Leaf, Name, NodeId, SchemaNode, Variant};

const NO_PARENT: NodeId = NodeId::MAX;

/// How many enclosing containers of its own name a container is recorded
/// inside before it is taken as recursion.
const FOLD_AFTER: usize = 3;

#[inline(always)]
pub(super) fn same(a: &str, b: &'static str) -> bool {
    // Names come from the same `&'static str` for every value of a type.
    identical(a, b) || a == b
}

/// The same `&'static str`: the steady-state check, with no string
/// comparison. A name equal in content but not in address falls to the
/// full check, which accepts it.
#[inline(always)]
fn identical(a: &str, b: &'static str) -> bool {
    std::ptr::eq(a.as_ptr(), b.as_ptr()) && a.len() == b.len()
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

    pub(super) fn add(&mut self, node: SchemaNode, parent: NodeId) -> NodeId {
        let id = self.nodes.len() as NodeId;
        self.nodes.push(node);
        self.parents.push(parent);
        self.generation += 1;
        id
    }

    pub(super) fn set(&mut self, id: NodeId, node: SchemaNode) {
        self.nodes[id as usize] = node;
        self.generation += 1;
    }

    pub(super) fn describe(&self, id: NodeId) -> String {
        match self.node(id) {
            SchemaNode::Struct(n, _) => format!("struct {n}"),
            SchemaNode::Enum(n, _) => format!("enum {n}"),
            _ => self.type_name(id),
        }
    }

    pub(super) fn conflict(&self, id: NodeId, now: impl Into<String>) -> RecordError {
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
    pub(super) fn recursion(
        &mut self,
        id: NodeId,
        name: &str,
        kind: fn(&SchemaNode) -> bool,
    ) -> NodeId {
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

    #[inline(always)]
    pub(super) fn leaf(&mut self, at: NodeId, leaf: Leaf) -> Result<(), RecordError> {
        match self.nodes.get(at as usize) {
            Some(SchemaNode::Leaf(l)) if *l == leaf => Ok(()),
            _ => self.new_leaf(at, leaf),
        }
    }

    #[cold]
    #[inline(never)]
    pub(super) fn new_leaf(&mut self, at: NodeId, leaf: Leaf) -> Result<(), RecordError> {
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
    #[inline(always)]
    pub(super) fn one_child(
        &mut self,
        at: NodeId,
        what: &str,
        get: fn(&SchemaNode) -> Option<NodeId>,
        make: fn(NodeId) -> SchemaNode,
    ) -> Result<NodeId, RecordError> {
        if let Some(c) = self.nodes.get(at as usize).and_then(get) {
            return Ok(c);
        }
        self.new_child(at, what, get, make)
    }

    #[cold]
    #[inline(never)]
    fn new_child(
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

    pub(super) fn positions(
        &mut self,
        at: NodeId,
        name: Option<&'static str>,
        len: usize,
    ) -> Result<NodeId, RecordError> {
        let mut id = self.follow(at);
        if let Some(n) = name {
            if matches!(self.nodes[id as usize], SchemaNode::Unknown) {
                id = self.recursion(id, n, |k| matches!(k, SchemaNode::TupleStruct(..)));
            }
        }
        match (&self.nodes[id as usize], name) {
            (SchemaNode::Tuple(cs), None) if cs.len() == len => return Ok(id),
            (SchemaNode::TupleStruct(n, cs), Some(name)) if cs.len() == len && same(n, name) => {
                return Ok(id)
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
            Some(n) => SchemaNode::TupleStruct(Name::Borrowed(n), cs),
            None => SchemaNode::Tuple(cs),
        };
        self.set(id, node);
        Ok(id)
    }

    #[inline(always)]
    pub(super) fn structure(
        &mut self,
        at: NodeId,
        name: &'static str,
    ) -> Result<NodeId, RecordError> {
        match self.nodes.get(at as usize) {
            Some(SchemaNode::Struct(n, _)) if identical(n, name) => Ok(at),
            _ => self.new_structure(at, name),
        }
    }

    #[cold]
    #[inline(never)]
    pub(super) fn new_structure(
        &mut self,
        at: NodeId,
        name: &'static str,
    ) -> Result<NodeId, RecordError> {
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
    #[inline(always)]
    pub(super) fn variant(
        &mut self,
        at: NodeId,
        name: &'static str,
        index: u32,
        variant: &'static str,
        content: VariantKind,
    ) -> Result<Content, RecordError> {
        if let Some(SchemaNode::Enum(n, vs)) = self.nodes.get(at as usize) {
            if let Ok(i) = crate::deep::find_variant(vs, index) {
                let v = &vs[i];
                // A tuple variant's length is checked on the full path.
                let fits = matches!(
                    (v.content, &content),
                    (Content::Unit, VariantKind::Unit)
                        | (Content::Newtype(_), VariantKind::Newtype)
                        | (Content::Struct(_), VariantKind::Struct)
                );
                if fits && identical(n, name) && identical(&v.name, variant) {
                    return Ok(v.content);
                }
            }
        }
        self.new_variant(at, name, index, variant, content)
    }

    #[cold]
    #[inline(never)]
    pub(super) fn new_variant(
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
        let at = match crate::deep::find_variant(variants, index) {
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
    #[inline(always)]
    pub(super) fn sealed(&self, id: NodeId) -> bool {
        !self.open.contains(&id)
    }

    /// The number of fields of the struct at `id` once sealed (they no
    /// longer change), `u32::MAX` while open.
    #[inline(always)]
    pub(super) fn sealed_len(&self, id: NodeId) -> u32 {
        match self.nodes.get(id as usize) {
            Some(SchemaNode::Struct(_, fields)) if self.open.is_empty() || self.sealed(id) => {
                fields.len() as u32
            }
            _ => u32::MAX,
        }
    }

    fn sealed_mut(&mut self, id: NodeId, sealed: bool) {
        if sealed {
            self.open.retain(|&o| o != id);
        } else {
            self.open.push(id);
        }
    }

    /// The node of field `i`, named `key`, of the struct at `id`.
    #[inline(always)]
    pub(super) fn field(
        &mut self,
        id: NodeId,
        i: usize,
        key: &'static str,
    ) -> Result<NodeId, RecordError> {
        if let Some(SchemaNode::Struct(_, fields)) = self.nodes.get(id as usize) {
            if let Some((n, c)) = fields.get(i) {
                if identical(n, key) {
                    return Ok(*c);
                }
            }
        }
        self.new_field(id, i, key)
    }

    #[cold]
    #[inline(never)]
    pub(super) fn new_field(
        &mut self,
        id: NodeId,
        i: usize,
        key: &'static str,
    ) -> Result<NodeId, RecordError> {
        let sealed = self.sealed(id);
        let ty = self.struct_name(id);
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

    #[inline(always)]
    pub(super) fn end_struct(&mut self, id: NodeId, written: usize) -> Result<(), RecordError> {
        if self.open.is_empty() {
            if let SchemaNode::Struct(_, fields) = &self.nodes[id as usize] {
                if fields.len() == written {
                    return Ok(());
                }
            }
        }
        self.end_new_struct(id, written)
    }

    #[cold]
    #[inline(never)]
    pub(super) fn end_new_struct(&mut self, id: NodeId, written: usize) -> Result<(), RecordError> {
        let ty = self.struct_name(id);
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

pub(super) enum VariantKind {
    Unit,
    Newtype,
    Tuple(usize),
    Struct,
}

impl DeepSchema {
    /// The name of the struct at `id`, for messages.
    pub(super) fn struct_name(&self, id: NodeId) -> String {
        match self.node(id) {
            SchemaNode::Struct(n, _) => n.to_string(),
            _ => String::new(),
        }
    }
}
