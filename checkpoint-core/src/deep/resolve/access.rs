//! The accesses a resolved value hands to the reader's visitors: struct
//! fields in order or by name, sequence and map elements, and the variant
//! an enum value was written as.

use serde::de::{
    self, DeserializeSeed, EnumAccess, IntoDeserializer, MapAccess, SeqAccess, VariantAccess,
    Visitor,
};

use super::leaf::Element;
use super::{Ctx, Reading, ResolveError, ResolveKind, Resolver};
use crate::deep::{Content, Leaf, Name, NodeId, SchemaNode, Seg, Variant};

/// Reads a struct written with `written` fields as the reader's `fields`:
/// straight through when they are the same, by name otherwise.
#[inline]
pub(super) fn structure<'c, 'de, V: Visitor<'de>>(
    r: &mut Reading<'c, 'de>,
    id: NodeId,
    written: &'c [(Name, NodeId)],
    name: &str,
    fields: &'static [&'static str],
    visitor: V,
) -> Result<V::Value, ResolveError> {
    if r.cx.same_fields(id, written, fields) {
        return same_layout(r, written, name, visitor);
    }
    by_name(r, written, name, visitor)
}

/// Reads a struct written with other fields than the reader's: as a map
/// in written order. Out of line, so that the reader's map visitor stays
/// out of the steady-state path.
#[inline(never)]
fn by_name<'c, 'de, V: Visitor<'de>>(
    r: &mut Reading<'c, 'de>,
    written: &'c [(Name, NodeId)],
    name: &str,
    visitor: V,
) -> Result<V::Value, ResolveError> {
    visitor
        .visit_map(Named {
            r,
            fields: written,
            i: 0,
        })
        .map_err(|e| missing_in(e, name))
}

/// Reads a struct whose reader's fields are the writer's, in order:
/// straight through as a sequence.
#[inline]
pub(super) fn same_layout<'c, 'de, V: Visitor<'de>>(
    r: &mut Reading<'c, 'de>,
    written: &'c [(Name, NodeId)],
    name: &str,
    visitor: V,
) -> Result<V::Value, ResolveError> {
    let mut items = FieldsInOrder { r, written, i: 0 };
    match visitor.visit_seq(&mut items) {
        Ok(value) if items.i == written.len() => Ok(value),
        Ok(_) => Err(short_read(name, items.i, written.len())),
        Err(e) => Err(missing_in(e, name)),
    }
}

#[cold]
#[inline(never)]
fn short_read(name: &str, read: usize, len: usize) -> ResolveError {
    de::Error::custom(format!("`{name}` read {read} of its {len} fields"))
}

/// Names the struct a missing field was missing from.
#[cold]
#[inline(never)]
fn missing_in(e: ResolveError, name: &str) -> ResolveError {
    e.with_kind(|kind| {
        if let ResolveKind::MissingField { ty, .. } = kind {
            ty.get_or_insert_with(|| name.to_owned());
        }
    });
    e
}

impl Ctx<'_> {
    /// Whether the reader's `fields` are the writer's `written` (the node
    /// `id`), in order: compared once, then remembered by the address of
    /// `fields`.
    #[inline]
    pub(super) fn same_fields(
        &self,
        id: NodeId,
        written: &[(Name, NodeId)],
        fields: &'static [&'static str],
    ) -> bool {
        let key = fields.as_ptr() as usize;
        match self.same.get(id as usize) {
            Some(c) if c.get() == key => true,
            cached => compare_fields(cached, key, written, fields),
        }
    }
}

#[cold]
#[inline(never)]
fn compare_fields(
    cached: Option<&std::cell::Cell<usize>>,
    key: usize,
    written: &[(Name, NodeId)],
    fields: &[&str],
) -> bool {
    let same =
        written.len() == fields.len() && written.iter().zip(fields).all(|((w, _), r)| w == r);
    if let (true, Some(c)) = (same, cached) {
        c.set(key);
    }
    same
}

pub(super) enum Nodes<'a> {
    /// `len` elements, all at one node.
    Same(NodeId, usize),
    /// `len` elements, all at one node, a leaf.
    Leaves(NodeId, Leaf, usize),
    /// One element per node.
    Each(&'a [NodeId]),
}

/// The elements of a sequence or tuple.
pub(super) struct Items<'a, 'c, 'de> {
    pub(super) r: &'a mut Reading<'c, 'de>,
    pub(super) nodes: Nodes<'a>,
    pub(super) i: usize,
}

impl<'de> SeqAccess<'de> for Items<'_, '_, 'de> {
    type Error = ResolveError;

    #[inline]
    fn next_element_seed<S: DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> Result<Option<S::Value>, ResolveError> {
        let i = self.i;
        let at = match self.nodes {
            Nodes::Leaves(c, leaf, len) if i < len => {
                self.i += 1;
                let r = &mut *self.r;
                return seed
                    .deserialize(Element { r, at: c, leaf })
                    .map(Some)
                    .map_err(|e| e.at(Seg::Element));
            }
            Nodes::Same(c, len) if i < len => c,
            Nodes::Each(cs) if i < cs.len() => cs[i],
            _ => return Ok(None),
        };
        self.i += 1;
        let value = seed.deserialize(Resolver { r: self.r, at });
        let nodes = &self.nodes;
        value.map(Some).map_err(|e| item_error(e, nodes, i))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(
            match self.nodes {
                Nodes::Same(_, len) | Nodes::Leaves(_, _, len) => len,
                Nodes::Each(cs) => cs.len(),
            } - self.i,
        )
    }
}

/// The fields of a struct read in written order, each at its node. Apart
/// from [`Items`], so that reading a field instantiates the reader's
/// `Deserialize` with a [`Resolver`] only.
pub(super) struct FieldsInOrder<'a, 'c, 'de> {
    r: &'a mut Reading<'c, 'de>,
    written: &'c [(Name, NodeId)],
    i: usize,
}

impl<'de> SeqAccess<'de> for FieldsInOrder<'_, '_, 'de> {
    type Error = ResolveError;

    #[inline]
    fn next_element_seed<S: DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> Result<Option<S::Value>, ResolveError> {
        let Some((name, at)) = self.written.get(self.i) else {
            return Ok(None);
        };
        self.i += 1;
        seed.deserialize(Resolver { r: self.r, at: *at })
            .map(Some)
            .map_err(|e| field_error(e, name))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.written.len() - self.i)
    }
}

/// Puts item `i` of `nodes` on an error's path.
#[cold]
#[inline(never)]
fn item_error(e: ResolveError, nodes: &Nodes<'_>, i: usize) -> ResolveError {
    e.at(match nodes {
        Nodes::Same(..) | Nodes::Leaves(..) => Seg::Element,
        Nodes::Each(_) => Seg::Index(i),
    })
}

/// Puts field `name` on an error's path.
#[cold]
#[inline(never)]
fn field_error(e: ResolveError, name: &str) -> ResolveError {
    e.at(Seg::Field(name.to_owned()))
}

/// A struct's fields by name, in written order.
pub(super) struct Named<'a, 'c, 'de> {
    pub(super) r: &'a mut Reading<'c, 'de>,
    pub(super) fields: &'a [(Name, NodeId)],
    pub(super) i: usize,
}

impl<'de> MapAccess<'de> for Named<'_, '_, 'de> {
    type Error = ResolveError;

    #[inline]
    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, ResolveError> {
        let Some((name, _)) = self.fields.get(self.i) else {
            return Ok(None);
        };
        let key: de::value::StrDeserializer<'_, ResolveError> = name.as_ref().into_deserializer();
        seed.deserialize(key).map(Some)
    }

    #[inline]
    fn next_value_seed<S: DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> Result<S::Value, ResolveError> {
        let (name, at) = &self.fields[self.i];
        self.i += 1;
        seed.deserialize(Resolver { r: self.r, at: *at })
            .map_err(|e| field_error(e, name))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.fields.len() - self.i)
    }
}

/// A map's entries.
pub(super) struct Entries<'a, 'c, 'de> {
    pub(super) r: &'a mut Reading<'c, 'de>,
    pub(super) key: NodeId,
    pub(super) value: NodeId,
    pub(super) left: usize,
}

impl<'de> MapAccess<'de> for Entries<'_, '_, 'de> {
    type Error = ResolveError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, ResolveError> {
        if self.left == 0 {
            return Ok(None);
        }
        self.left -= 1;
        seed.deserialize(Resolver {
            r: self.r,
            at: self.key,
        })
        .map(Some)
        .map_err(|e| e.at(Seg::Key))
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> Result<S::Value, ResolveError> {
        seed.deserialize(Resolver {
            r: self.r,
            at: self.value,
        })
        .map_err(|e| e.at(Seg::Value))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.left)
    }
}

/// The variant a value was written as, with what an error about it
/// names: the reader's variants and enum.
pub(super) struct Written<'a> {
    pub(super) variant: &'a Variant,
    pub(super) hints: &'static [&'static str],
    pub(super) ty: &'static str,
}

/// The variant a value was written as, handed to the reader by name. Two
/// pointers, so that it passes in registers into the reader's visitor.
pub(super) struct OneVariant<'a, 'c, 'de> {
    pub(super) r: &'a mut Reading<'c, 'de>,
    pub(super) written: &'a Written<'a>,
}

/// The content of the variant a value was written as. Two pointers, so
/// that handing it back with the reader's variant costs little.
pub(super) struct InVariant<'a, 'c, 'de> {
    r: &'a mut Reading<'c, 'de>,
    variant: &'a Variant,
}

impl<'a, 'c, 'de> EnumAccess<'de> for OneVariant<'a, 'c, 'de> {
    type Error = ResolveError;
    type Variant = InVariant<'a, 'c, 'de>;

    #[inline]
    fn variant_seed<S: DeserializeSeed<'de>>(
        self,
        seed: S,
    ) -> Result<(S::Value, InVariant<'a, 'c, 'de>), ResolveError> {
        let written = self.written;
        let name: &str = &written.variant.name;
        let key: de::value::StrDeserializer<'_, ResolveError> = name.into_deserializer();
        match seed.deserialize(key) {
            Ok(v) => Ok((
                v,
                InVariant {
                    r: self.r,
                    variant: written.variant,
                },
            )),
            Err(e) => Err(unknown_variant(e, name, written.hints, written.ty)),
        }
    }
}

/// The reader refused the written variant's name: removed from its enum,
/// or refused for another reason it gave.
#[cold]
#[inline(never)]
fn unknown_variant(e: ResolveError, name: &str, hints: &[&str], ty: &str) -> ResolveError {
    if hints.contains(&name) {
        return e;
    }
    ResolveError::new(ResolveKind::VariantRemoved {
        variant: name.to_owned(),
        ty: ty.to_owned(),
    })
}

impl<'de> VariantAccess<'de> for InVariant<'_, '_, 'de> {
    type Error = ResolveError;

    #[inline]
    fn unit_variant(self) -> Result<(), ResolveError> {
        match self.variant.content {
            Content::Unit => Ok(()),
            _ => Err(self.reshaped("a unit variant")),
        }
    }

    #[inline]
    fn newtype_variant_seed<S: DeserializeSeed<'de>>(
        self,
        seed: S,
    ) -> Result<S::Value, ResolveError> {
        let within = self.within();
        match self.variant.content {
            Content::Newtype(at) => seed.deserialize(Resolver { r: self.r, at }),
            _ => Err(self.reshaped("a newtype variant")),
        }
        .map_err(within)
    }

    #[inline]
    fn tuple_variant<V: Visitor<'de>>(
        self,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, ResolveError> {
        let within = self.within();
        match self.variant.content {
            Content::Tuple(t) => match self.r.cx.schema.node(t) {
                SchemaNode::Tuple(cs) if cs.len() == len => visitor.visit_seq(Items {
                    r: self.r,
                    nodes: Nodes::Each(cs),
                    i: 0,
                }),
                _ => Err(self.reshaped(&format!("a tuple variant of {len}"))),
            },
            _ => Err(self.reshaped(&format!("a tuple variant of {len}"))),
        }
        .map_err(within)
    }

    #[inline]
    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, ResolveError> {
        let within = self.within();
        match self.variant.content {
            Content::Struct(s) => match self.r.cx.schema.node(s) {
                SchemaNode::Struct(_, written) => {
                    let name: &str = &self.variant.name;
                    structure(self.r, s, written, name, fields, visitor)
                }
                _ => Err(self.reshaped("a struct variant")),
            },
            _ => Err(self.reshaped("a struct variant")),
        }
        .map_err(within)
    }
}

/// Puts `variant` on an error's path.
#[cold]
#[inline(never)]
fn variant_error(e: ResolveError, variant: &Variant) -> ResolveError {
    e.at(Seg::Variant(variant.name.to_string()))
}

impl<'a> InVariant<'a, '_, '_> {
    /// Puts an error inside this variant's content on the path.
    fn within(&self) -> impl FnOnce(ResolveError) -> ResolveError + 'a {
        let variant: &'a Variant = self.variant;
        move |e| variant_error(e, variant)
    }

    fn reshaped(&self, now: &str) -> ResolveError {
        let was = match self.variant.content {
            Content::Unit => "a unit variant".to_owned(),
            Content::Newtype(c) => {
                format!("a newtype variant of `{}`", self.r.cx.schema.type_name(c))
            }
            Content::Tuple(t) => format!("a tuple variant `{}`", self.r.cx.schema.type_name(t)),
            Content::Struct(_) => "a struct variant".to_owned(),
        };
        ResolveError::new(ResolveKind::TypeChanged {
            from: was,
            to: now.to_owned(),
        })
    }
}
