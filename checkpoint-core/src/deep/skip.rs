//! Skipping a value by walking the writer's schema: how a field only the
//! writer has is passed over.

use postcard::de_flavors::Slice;
use serde::Deserialize;

use super::resolve::{decode, ResolveError};
use super::{Content, DeepSchema, Leaf, NodeId, SchemaNode, MAX_DEPTH};

type Postcard<'de> = postcard::Deserializer<'de, Slice<'de>>;

/// Reads past one value written at `at`.
pub(crate) fn skip(
    de: &mut Postcard<'_>,
    schema: &DeepSchema,
    at: NodeId,
    depth: usize,
) -> Result<(), ResolveError> {
    if depth > MAX_DEPTH {
        return Err(serde::de::Error::custom(
            "the recorded schema nests deeper than any type",
        ));
    }
    let d = depth + 1;
    macro_rules! read {
        ($t:ty) => {{
            <$t>::deserialize(&mut *de).map_err(decode)?;
        }};
    }
    match schema.node(schema.follow(at)) {
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
                skip(de, schema, *c, d)?;
            }
        }
        SchemaNode::Seq(c) => {
            let len = usize::deserialize(&mut *de).map_err(decode)?;
            for _ in 0..len {
                skip(de, schema, *c, d)?;
            }
        }
        SchemaNode::Map(k, v) => {
            let len = usize::deserialize(&mut *de).map_err(decode)?;
            for _ in 0..len {
                skip(de, schema, *k, d)?;
                skip(de, schema, *v, d)?;
            }
        }
        SchemaNode::Tuple(cs) | SchemaNode::TupleStruct(_, cs) => {
            for c in cs {
                skip(de, schema, *c, d)?;
            }
        }
        SchemaNode::UnitStruct(_) => {}
        SchemaNode::Newtype(_, c) => skip(de, schema, *c, d)?,
        SchemaNode::Struct(_, fs) => {
            for (_, c) in fs {
                skip(de, schema, *c, d)?;
            }
        }
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
                    skip(de, schema, c, d)?;
                }
            }
        }
    }
    Ok(())
}
