//! Skipping a value by walking the writer's schema: how a field only the
//! writer has is passed over.
//!
//! The walk is bounded by the bytes it reads. A value written as no bytes
//! at all (`()`, a unit struct, a struct of such) is passed over without
//! walking it, so a sequence of them, whatever length its bytes claim, is
//! skipped at once, and a struct's fields that take no bytes are not
//! visited. Every node the walk visits then reads at least one byte or
//! leads, at most [`MAX_DEPTH`] levels down, to one that does.

use postcard::de_flavors::Slice;
use serde::Deserialize;

use super::resolve::{decode, Ctx, ResolveError};
use super::{Content, DeepSchema, Leaf, NodeId, SchemaNode, MAX_DEPTH};

type Postcard<'de> = postcard::Deserializer<'de, Slice<'de>>;

/// What skipping knows of a writer's schema beyond its nodes, worked out
/// once per schema.
#[derive(Debug)]
pub(crate) struct Skips {
    /// Per node, whether its values are always written as no bytes.
    empty: Vec<bool>,
    /// Per struct or tuple node, its parts that take bytes.
    taking: Vec<Box<[NodeId]>>,
}

impl Skips {
    pub(crate) fn new(schema: &DeepSchema) -> Self {
        let nodes = &schema.nodes;
        let n = nodes.len();
        // Tentatively empty: what holds no bytes of its own. A part that
        // takes bytes (or is out of range) makes what holds it take bytes;
        // that spreads up through `holders` until nothing changes.
        let mut empty: Vec<bool> = nodes.iter().map(holds_no_bytes_itself).collect();
        let mut holders: Vec<Vec<NodeId>> = vec![Vec::new(); n];
        for (id, node) in nodes.iter().enumerate() {
            for part in parts(node) {
                match holders.get_mut(part as usize) {
                    Some(h) => h.push(id as NodeId),
                    None => empty[id] = false,
                }
            }
        }
        let mut taking: Vec<usize> = (0..n).filter(|&id| !empty[id]).collect();
        while let Some(id) = taking.pop() {
            for &holder in &holders[id] {
                if std::mem::replace(&mut empty[holder as usize], false) {
                    taking.push(holder as usize);
                }
            }
        }
        let taking = nodes
            .iter()
            .map(|node| match node {
                SchemaNode::Tuple(_) | SchemaNode::TupleStruct(..) | SchemaNode::Struct(..) => {
                    parts(node)
                        .filter(|&c| !empty.get(c as usize).copied().unwrap_or(false))
                        .collect()
                }
                _ => Box::default(),
            })
            .collect();
        Skips { empty, taking }
    }

    fn empty(&self, id: NodeId) -> bool {
        self.empty.get(id as usize).copied().unwrap_or(false)
    }

    fn taking(&self, id: NodeId) -> &[NodeId] {
        self.taking.get(id as usize).map_or(&[], |t| t)
    }
}

/// Whether `node` writes no bytes of its own, so that it is empty when its
/// parts are.
fn holds_no_bytes_itself(node: &SchemaNode) -> bool {
    matches!(
        node,
        SchemaNode::Leaf(Leaf::Unit)
            | SchemaNode::UnitStruct(_)
            | SchemaNode::Newtype(..)
            | SchemaNode::Ref(_)
            | SchemaNode::Tuple(_)
            | SchemaNode::TupleStruct(..)
            | SchemaNode::Struct(..)
    )
}

/// The nodes whose values make up a value of `node`, for a node that
/// writes no bytes of its own; none for the others.
fn parts(node: &SchemaNode) -> Box<dyn Iterator<Item = NodeId> + '_> {
    match node {
        SchemaNode::Newtype(_, c) | SchemaNode::Ref(c) => Box::new(std::iter::once(*c)),
        SchemaNode::Tuple(cs) | SchemaNode::TupleStruct(_, cs) => Box::new(cs.iter().copied()),
        SchemaNode::Struct(_, fs) => Box::new(fs.iter().map(|(_, c)| *c)),
        _ => Box::new(std::iter::empty()),
    }
}

/// Reads past one value written at `at`.
pub(crate) fn skip(
    de: &mut Postcard<'_>,
    cx: &Ctx<'_>,
    at: NodeId,
    depth: usize,
) -> Result<(), ResolveError> {
    if depth > MAX_DEPTH {
        return Err(serde::de::Error::custom(
            "the recorded schema nests deeper than any type",
        ));
    }
    let (schema, skips) = (cx.schema, cx.skips());
    let id = schema.follow(at);
    if skips.empty(id) {
        return Ok(());
    }
    let d = depth + 1;
    macro_rules! read {
        ($t:ty) => {{
            <$t>::deserialize(&mut *de).map_err(decode)?;
        }};
    }
    match schema.node(id) {
        SchemaNode::Unknown | SchemaNode::Opaque | SchemaNode::Ref(_) => {
            return Err(serde::de::Error::custom(
                "a value the checkpoint recorded no schema for cannot be skipped",
            ))
        }
        SchemaNode::Leaf(leaf) => match leaf {
            Leaf::Unit => {}
            Leaf::Bool => read!(bool),
            Leaf::I8 => read!(i8),
            Leaf::I16 => read!(i16),
            Leaf::I32 => read!(i32),
            Leaf::I64 => read!(i64),
            Leaf::I128 => read!(i128),
            Leaf::U8 => read!(u8),
            Leaf::U16 => read!(u16),
            Leaf::U32 => read!(u32),
            Leaf::U64 => read!(u64),
            Leaf::U128 => read!(u128),
            Leaf::F32 => read!(f32),
            Leaf::F64 => read!(f64),
            Leaf::Char => read!(char),
            Leaf::Str => read!(&str),
            Leaf::Bytes => read!(&[u8]),
        },
        SchemaNode::Option(c) => {
            if u8::deserialize(&mut *de).map_err(decode)? == 1 {
                skip(de, cx, *c, d)?;
            }
        }
        // Elements that take no bytes are all passed over at once; the
        // others each take at least a byte, so the loop ends with the bytes.
        SchemaNode::Seq(c) => {
            let len = usize::deserialize(&mut *de).map_err(decode)?;
            if !skips.empty(schema.follow(*c)) {
                for _ in 0..len {
                    skip(de, cx, *c, d)?;
                }
            }
        }
        SchemaNode::Map(k, v) => {
            let len = usize::deserialize(&mut *de).map_err(decode)?;
            if !(skips.empty(schema.follow(*k)) && skips.empty(schema.follow(*v))) {
                for _ in 0..len {
                    skip(de, cx, *k, d)?;
                    skip(de, cx, *v, d)?;
                }
            }
        }
        SchemaNode::Tuple(_) | SchemaNode::TupleStruct(..) | SchemaNode::Struct(..) => {
            for c in skips.taking(id) {
                skip(de, cx, *c, d)?;
            }
        }
        SchemaNode::UnitStruct(_) => {}
        SchemaNode::Newtype(_, c) => skip(de, cx, *c, d)?,
        SchemaNode::Enum(name, vs) => {
            let index = u32::deserialize(&mut *de).map_err(decode)?;
            let Ok(i) = vs.binary_search_by_key(&index, |v| v.index) else {
                return Err(serde::de::Error::custom(format!(
                    "variant #{index} of `{name}` was never recorded"
                )));
            };
            match vs[i].content {
                Content::Unit => {}
                Content::Newtype(c) | Content::Tuple(c) | Content::Struct(c) => {
                    skip(de, cx, c, d)?;
                }
            }
        }
    }
    Ok(())
}
