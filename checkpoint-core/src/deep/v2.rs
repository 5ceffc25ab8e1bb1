//! Version 2 checkpoints stored a traced shape per field; read as a writer's
//! schema, they restore through the same resolution as version 3.

use super::{Content, DeepSchema, Leaf, Name, NodeId, SchemaNode, Variant};
use crate::format::v2::{V2Field, V2Type, V2VariantContent};

/// The writer's schema a version 2 header's field shapes describe. A shape
/// the tracer could not describe is [`SchemaNode::Opaque`].
pub(crate) fn from_field_shapes(shapes: &[(String, V2Type)]) -> DeepSchema {
    let mut schema = DeepSchema::default();
    for (name, shape) in shapes {
        let id = convert(&mut schema, shape, &mut Vec::new());
        schema.roots.push((Name::Owned(name.clone()), id));
    }
    schema
}

fn push(schema: &mut DeepSchema, node: SchemaNode) -> NodeId {
    schema.nodes.push(node);
    (schema.nodes.len() - 1) as NodeId
}

/// Converts `shape`; `named` holds the enclosing named containers, for
/// `Recursive` references.
fn convert(schema: &mut DeepSchema, shape: &V2Type, named: &mut Vec<(String, NodeId)>) -> NodeId {
    let leaf = |l| SchemaNode::Leaf(l);
    let node = match shape {
        V2Type::Unit => leaf(Leaf::Unit),
        V2Type::Bool => leaf(Leaf::Bool),
        V2Type::I8 => leaf(Leaf::I8),
        V2Type::I16 => leaf(Leaf::I16),
        V2Type::I32 => leaf(Leaf::I32),
        V2Type::I64 => leaf(Leaf::I64),
        V2Type::I128 => leaf(Leaf::I128),
        V2Type::U8 => leaf(Leaf::U8),
        V2Type::U16 => leaf(Leaf::U16),
        V2Type::U32 => leaf(Leaf::U32),
        V2Type::U64 => leaf(Leaf::U64),
        V2Type::U128 => leaf(Leaf::U128),
        V2Type::F32 => leaf(Leaf::F32),
        V2Type::F64 => leaf(Leaf::F64),
        V2Type::Char => leaf(Leaf::Char),
        V2Type::Str => leaf(Leaf::Str),
        V2Type::Bytes => leaf(Leaf::Bytes),
        V2Type::Option(inner) => SchemaNode::Option(convert(schema, inner, named)),
        V2Type::Seq(inner) => SchemaNode::Seq(convert(schema, inner, named)),
        V2Type::Map { key, value } => {
            let k = convert(schema, key, named);
            SchemaNode::Map(k, convert(schema, value, named))
        }
        V2Type::Tuple(items) => {
            SchemaNode::Tuple(items.iter().map(|s| convert(schema, s, named)).collect())
        }
        V2Type::TupleArray { element, len } => match usize::try_from(*len) {
            Ok(len) if len <= 1 << 16 => {
                let c = convert(schema, element, named);
                SchemaNode::Tuple(vec![c; len])
            }
            _ => SchemaNode::Opaque,
        },
        V2Type::Recursive(name) => match named.iter().rev().find(|(n, _)| n == name) {
            Some((_, id)) => SchemaNode::Ref(*id),
            None => SchemaNode::Opaque,
        },
        V2Type::UnitStruct { name } => SchemaNode::UnitStruct(Name::Owned(name.clone())),
        V2Type::NewtypeStruct { name, inner } => {
            return container(schema, named, name, |schema, named| {
                SchemaNode::Newtype(Name::Owned(name.clone()), convert(schema, inner, named))
            })
        }
        V2Type::TupleStruct { name, fields } => {
            return container(schema, named, name, |schema, named| {
                let cs = fields.iter().map(|s| convert(schema, s, named)).collect();
                SchemaNode::TupleStruct(Name::Owned(name.clone()), cs)
            })
        }
        V2Type::Struct { name, fields } => {
            return container(schema, named, name, |schema, named| {
                SchemaNode::Struct(
                    Name::Owned(name.clone()),
                    struct_fields(schema, fields, named),
                )
            })
        }
        V2Type::Enum { name, variants } => {
            return container(schema, named, name, |schema, named| {
                let mut vs: Vec<Variant> = variants
                    .iter()
                    .map(|v| Variant {
                        index: v.index,
                        name: Name::Owned(v.name.clone()),
                        content: match &v.content {
                            V2VariantContent::Unit => Content::Unit,
                            V2VariantContent::Newtype(s) => {
                                Content::Newtype(convert(schema, s, named))
                            }
                            V2VariantContent::Tuple(items) => {
                                let cs = items.iter().map(|s| convert(schema, s, named)).collect();
                                Content::Tuple(push(schema, SchemaNode::Tuple(cs)))
                            }
                            V2VariantContent::Struct(fields) => {
                                let fs = struct_fields(schema, fields, named);
                                let node = SchemaNode::Struct(Name::Owned(v.name.clone()), fs);
                                Content::Struct(push(schema, node))
                            }
                        },
                    })
                    .collect();
                vs.sort_by_key(|v| v.index);
                vs.dedup_by_key(|v| v.index);
                SchemaNode::Enum(Name::Owned(name.clone()), vs)
            })
        }
        _ => SchemaNode::Opaque,
    };
    push(schema, node)
}

fn struct_fields(
    schema: &mut DeepSchema,
    fields: &[V2Field],
    named: &mut Vec<(String, NodeId)>,
) -> Vec<(Name, NodeId)> {
    fields
        .iter()
        .map(|f| {
            (
                Name::Owned(f.name.clone()),
                convert(schema, &f.shape, named),
            )
        })
        .collect()
}

/// A named container: its node is reserved first so that `Recursive`
/// references inside it can point at it.
fn container(
    schema: &mut DeepSchema,
    named: &mut Vec<(String, NodeId)>,
    name: &str,
    build: impl FnOnce(&mut DeepSchema, &mut Vec<(String, NodeId)>) -> SchemaNode,
) -> NodeId {
    let id = push(schema, SchemaNode::Unknown);
    named.push((name.to_owned(), id));
    let node = build(schema, named);
    named.pop();
    schema.nodes[id as usize] = node;
    id
}
