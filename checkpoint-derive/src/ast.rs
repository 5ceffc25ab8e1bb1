//! The derive's input as typed structs borrowing from `syn::DeriveInput`.

use proc_macro2::{Ident, Span};
use syn::ext::IdentExt;
use syn::{DeriveInput, Generics, Member, Type};

use crate::attr;
use crate::ctxt::Ctxt;

/// A struct or enum to derive for.
pub(crate) struct Input<'a> {
    pub(crate) original: &'a DeriveInput,
    pub(crate) ident: &'a Ident,
    pub(crate) generics: &'a Generics,
    pub(crate) attrs: attr::Container,
    pub(crate) data: Data<'a>,
}

pub(crate) enum Data<'a> {
    Struct(Style, Vec<Field<'a>>),
    Enum(Vec<Variant<'a>>),
    /// Rejected by the checks; kept for the `union` token's span.
    Union(&'a syn::DataUnion),
}

/// How a struct or variant lists its fields.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Style {
    Named,
    Tuple,
    Unit,
}

pub(crate) struct Variant<'a> {
    pub(crate) ident: &'a Ident,
    #[allow(dead_code)] // no variant options yet; parsed to reject unknown keys
    pub(crate) attrs: attr::Variant,
    pub(crate) style: Style,
    pub(crate) fields: Vec<Field<'a>>,
}

pub(crate) struct Field<'a> {
    pub(crate) original: &'a syn::Field,
    /// `self.<member>`.
    pub(crate) member: Member,
    /// The name in the schema and in messages: `log`, or `0` in a tuple.
    pub(crate) name: String,
    /// The local that holds the field's value in generated code and in
    /// `#[derived(from = ...)]` expressions: `log`, or `_0` in a tuple.
    pub(crate) binding: Ident,
    pub(crate) ty: &'a Type,
    pub(crate) attrs: attr::Field,
}

impl<'a> Input<'a> {
    pub(crate) fn from_syn(cx: &mut Ctxt, node: &'a DeriveInput) -> Self {
        let data = match &node.data {
            syn::Data::Struct(s) => {
                let (style, fields) = fields_from_syn(cx, &s.fields);
                Data::Struct(style, fields)
            }
            syn::Data::Enum(e) => Data::Enum(
                e.variants
                    .iter()
                    .map(|v| {
                        let (style, fields) = fields_from_syn(cx, &v.fields);
                        Variant {
                            ident: &v.ident,
                            attrs: attr::Variant::from_attrs(cx, &v.attrs),
                            style,
                            fields,
                        }
                    })
                    .collect(),
            ),
            syn::Data::Union(u) => Data::Union(u),
        };
        Input {
            original: node,
            ident: &node.ident,
            generics: &node.generics,
            attrs: attr::Container::from_attrs(cx, &node.attrs),
            data,
        }
    }

    /// The name the schema records: `#[checkpoint(name)]` or the identifier.
    pub(crate) fn schema_name(&self) -> String {
        match &self.attrs.name {
            Some(name) => name.value(),
            None => self.ident.unraw().to_string(),
        }
    }

    /// Every field, of the struct or of all variants.
    pub(crate) fn all_fields(&self) -> Box<dyn Iterator<Item = &Field<'a>> + '_> {
        match &self.data {
            Data::Struct(_, fields) => Box::new(fields.iter()),
            Data::Enum(variants) => Box::new(variants.iter().flat_map(|v| v.fields.iter())),
            Data::Union(_) => Box::new(std::iter::empty()),
        }
    }
}

impl Field<'_> {
    pub(crate) fn is_derived(&self) -> bool {
        self.attrs.derived.is_some()
    }
}

fn fields_from_syn<'a>(cx: &mut Ctxt, fields: &'a syn::Fields) -> (Style, Vec<Field<'a>>) {
    let style = match fields {
        syn::Fields::Named(_) => Style::Named,
        syn::Fields::Unnamed(_) => Style::Tuple,
        syn::Fields::Unit => Style::Unit,
    };
    let fields = fields
        .iter()
        .enumerate()
        .map(|(i, field)| {
            let (member, name, binding) = match &field.ident {
                Some(ident) => (
                    Member::Named(ident.clone()),
                    ident.unraw().to_string(),
                    ident.clone(),
                ),
                None => (
                    Member::Unnamed(syn::Index {
                        index: i as u32,
                        span: Span::call_site(),
                    }),
                    i.to_string(),
                    Ident::new(&format!("_{i}"), Span::call_site()),
                ),
            };
            let attrs = attr::Field::from_attrs(cx, &field.attrs, &name);
            Field {
                original: field,
                member,
                name,
                binding,
                ty: &field.ty,
                attrs,
            }
        })
        .collect();
    (style, fields)
}
