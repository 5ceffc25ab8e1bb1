//! Version 2 checkpoints stored a traced shape per field; read as a writer's
//! schema, they restore through the same resolution as version 3.

use super::{Content, DeepSchema, Leaf, Name, NodeId, SchemaNode, Variant};
use crate::shape::{FieldShape, TypeShape, VariantContent};

/// The writer's schema a version 2 header's field shapes describe. A shape
/// the tracer could not describe is [`SchemaNode::Opaque`].
pub(crate) fn from_field_shapes(shapes: &[(String, TypeShape)]) -> DeepSchema {
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
fn convert(
    schema: &mut DeepSchema,
    shape: &TypeShape,
    named: &mut Vec<(String, NodeId)>,
) -> NodeId {
    let leaf = |l| SchemaNode::Leaf(l);
    let node = match shape {
        TypeShape::Unit => leaf(Leaf::Unit),
        TypeShape::Bool => leaf(Leaf::Bool),
        TypeShape::I8 => leaf(Leaf::I8),
        TypeShape::I16 => leaf(Leaf::I16),
        TypeShape::I32 => leaf(Leaf::I32),
        TypeShape::I64 => leaf(Leaf::I64),
        TypeShape::I128 => leaf(Leaf::I128),
        TypeShape::U8 => leaf(Leaf::U8),
        TypeShape::U16 => leaf(Leaf::U16),
        TypeShape::U32 => leaf(Leaf::U32),
        TypeShape::U64 => leaf(Leaf::U64),
        TypeShape::U128 => leaf(Leaf::U128),
        TypeShape::F32 => leaf(Leaf::F32),
        TypeShape::F64 => leaf(Leaf::F64),
        TypeShape::Char => leaf(Leaf::Char),
        TypeShape::Str => leaf(Leaf::Str),
        TypeShape::Bytes => leaf(Leaf::Bytes),
        TypeShape::Option(inner) => SchemaNode::Option(convert(schema, inner, named)),
        TypeShape::Seq(inner) => SchemaNode::Seq(convert(schema, inner, named)),
        TypeShape::Map { key, value } => {
            let k = convert(schema, key, named);
            SchemaNode::Map(k, convert(schema, value, named))
        }
        TypeShape::Tuple(items) => {
            SchemaNode::Tuple(items.iter().map(|s| convert(schema, s, named)).collect())
        }
        TypeShape::TupleArray { element, len } => match usize::try_from(*len) {
            Ok(len) if len <= 1 << 16 => {
                let c = convert(schema, element, named);
                SchemaNode::Tuple(vec![c; len])
            }
            _ => SchemaNode::Opaque,
        },
        TypeShape::Recursive(name) => match named.iter().rev().find(|(n, _)| n == name) {
            Some((_, id)) => SchemaNode::Ref(*id),
            None => SchemaNode::Opaque,
        },
        TypeShape::UnitStruct { name } => SchemaNode::UnitStruct(Name::Owned(name.clone())),
        TypeShape::NewtypeStruct { name, inner } => {
            return container(schema, named, name, |schema, named| {
                SchemaNode::Newtype(Name::Owned(name.clone()), convert(schema, inner, named))
            })
        }
        TypeShape::TupleStruct { name, fields } => {
            return container(schema, named, name, |schema, named| {
                let cs = fields.iter().map(|s| convert(schema, s, named)).collect();
                SchemaNode::TupleStruct(Name::Owned(name.clone()), cs)
            })
        }
        TypeShape::Struct { name, fields } => {
            return container(schema, named, name, |schema, named| {
                SchemaNode::Struct(
                    Name::Owned(name.clone()),
                    struct_fields(schema, fields, named),
                )
            })
        }
        TypeShape::Enum { name, variants } => {
            return container(schema, named, name, |schema, named| {
                let mut vs: Vec<Variant> = variants
                    .iter()
                    .map(|v| Variant {
                        index: v.index,
                        name: Name::Owned(v.name.clone()),
                        content: match &v.content {
                            VariantContent::Unit => Content::Unit,
                            VariantContent::Newtype(s) => {
                                Content::Newtype(convert(schema, s, named))
                            }
                            VariantContent::Tuple(items) => {
                                let cs = items.iter().map(|s| convert(schema, s, named)).collect();
                                Content::Tuple(push(schema, SchemaNode::Tuple(cs)))
                            }
                            VariantContent::Struct(fields) => {
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
    fields: &[FieldShape],
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
