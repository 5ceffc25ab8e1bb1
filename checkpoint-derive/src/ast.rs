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
    Struct(Struct<'a>),
    Enum(Vec<Variant<'a>>),
}

pub(crate) struct Struct<'a> {
    pub(crate) fields: Fields<'a>,
    /// `#[repr(packed)]`: its fields cannot be borrowed, only copied out.
    pub(crate) packed: bool,
}

/// The fields of a struct or of one variant.
pub(crate) struct Fields<'a> {
    pub(crate) style: Style,
    pub(crate) list: Vec<Field<'a>>,
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
    pub(crate) fields: Fields<'a>,
}

pub(crate) struct Field<'a> {
    pub(crate) original: &'a syn::Field,
    /// `self.<member>`.
    pub(crate) member: Member,
    /// The name in the schema and in messages: `log`, or `0` in a tuple.
    pub(crate) name: String,
    /// The local that holds the field's value in `#[derived(from = ...)]`
    /// and `default` expressions: `log`, or `_0` in a tuple.
    pub(crate) binding: Ident,
    /// The local that holds the field's value everywhere else in generated
    /// code: hygienic, so no field name can shadow `__out` or `__input` and
    /// no constant of the user's can turn it into a pattern.
    pub(crate) local: Ident,
    /// Position in its struct or variant.
    pub(crate) index: usize,
    pub(crate) ty: &'a Type,
    pub(crate) attrs: attr::Field,
}

impl<'a> Input<'a> {
    /// The input, or `None` for a union (the error is recorded).
    pub(crate) fn from_syn(cx: &mut Ctxt, node: &'a DeriveInput) -> Option<Self> {
        let data = match &node.data {
            syn::Data::Struct(s) => Data::Struct(Struct {
                fields: Fields::from_syn(cx, &s.fields),
                packed: is_packed(node),
            }),
            syn::Data::Enum(e) => Data::Enum(
                e.variants
                    .iter()
                    .map(|v| Variant {
                        ident: &v.ident,
                        attrs: attr::Variant::from_attrs(cx, &v.attrs),
                        fields: Fields::from_syn(cx, &v.fields),
                    })
                    .collect(),
            ),
            // A union has no field to tell which part is live.
            syn::Data::Union(u) => {
                cx.error_spanned_by(
                    u.union_token,
                    format_args!(
                        "`#[derive(Checkpoint)]` does not support unions: `{}` does not say which field is live; use an enum",
                        node.ident
                    ),
                );
                return None;
            }
        };
        Some(Input {
            original: node,
            ident: &node.ident,
            generics: &node.generics,
            attrs: attr::Container::from_attrs(cx, &node.attrs),
            data,
        })
    }

    /// The name the schema records: `#[checkpoint(name)]` or the identifier.
    pub(crate) fn schema_name(&self) -> String {
        match &self.attrs.name {
            Some(name) => name.value(),
            None => self.ident.unraw().to_string(),
        }
    }

    /// The fields of the struct, or of each variant.
    pub(crate) fn field_lists(&self) -> Vec<&Fields<'a>> {
        match &self.data {
            Data::Struct(s) => vec![&s.fields],
            Data::Enum(variants) => variants.iter().map(|v| &v.fields).collect(),
        }
    }

    /// Every field, of the struct or of all variants.
    pub(crate) fn all_fields(&self) -> impl Iterator<Item = &Field<'a>> + '_ {
        self.field_lists().into_iter().flat_map(|f| f.list.iter())
    }

    /// Every serialized field, of the struct or of all variants.
    pub(crate) fn stored_fields(&self) -> impl Iterator<Item = &Field<'a>> + '_ {
        self.all_fields().filter(|f| f.is_stored())
    }
}

impl<'a> Fields<'a> {
    fn from_syn(cx: &mut Ctxt, fields: &'a syn::Fields) -> Self {
        let style = match fields {
            syn::Fields::Named(_) => Style::Named,
            syn::Fields::Unnamed(_) => Style::Tuple,
            syn::Fields::Unit => Style::Unit,
        };
        let list = fields
            .iter()
            .enumerate()
            .map(|(i, field)| Field::from_syn(cx, i, field))
            .collect();
        Fields { style, list }
    }

    pub(crate) fn stored(&self) -> impl Iterator<Item = &Field<'a>> + '_ {
        self.list.iter().filter(|f| f.is_stored())
    }
}

impl<'a> Field<'a> {
    fn from_syn(cx: &mut Ctxt, i: usize, field: &'a syn::Field) -> Self {
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
            local: Ident::new(&format!("__field{i}"), Span::mixed_site()),
            index: i,
            ty: &field.ty,
            attrs,
        }
    }

    /// Whether the field's value is in every checkpoint.
    pub(crate) fn is_stored(&self) -> bool {
        self.attrs.role.is_stored()
    }
}

/// Whether `#[repr(...)]` says `packed` or `packed(N)`.
fn is_packed(node: &DeriveInput) -> bool {
    let mut packed = false;
    for attr in node.attrs.iter().filter(|a| a.path().is_ident("repr")) {
        // a malformed `repr` is rustc's to report
        let _ = attr.parse_nested_meta(|meta| {
            packed |= meta.path.is_ident("packed");
            if !meta.input.is_empty() && !meta.input.peek(syn::Token![,]) {
                meta.input.parse::<proc_macro2::TokenTree>()?;
            }
            Ok(())
        });
    }
    packed
}
