//! The `SCHEMA` constant: the type's name and every field's.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use super::{private, Case};
use crate::ast::{Fields, Input, Style};
use crate::attr::Role;
use crate::types;

pub(super) fn schema(input: &Input, cases: &[Case]) -> TokenStream {
    let p = private();
    let name = input.schema_name();
    let removed = input.attrs.removed.iter();
    let lists = cases
        .iter()
        .filter(|c| c.fields.style != Style::Unit)
        .map(|case| {
            let c = format_ident!("__V{}", case.index);
            let list = cases_fields(case.fields);
            quote!(const #c: &[#p::FieldSchema] = &[#(#list),*];)
        });
    let shape = match cases {
        [case] if case.name.is_none() => shape(case.fields.style, quote!(__V0)),
        _ => {
            let entries = cases.iter().map(|case| {
                let c = format_ident!("__V{}", case.index);
                let name = case.name.as_deref().unwrap_or_default();
                let shape = shape(case.fields.style, quote!(#c));
                quote!(#p::VariantSchema::new(#name, #shape))
            });
            // a constant: a `const fn` call is not promoted to `'static`
            quote!({
                const __VARIANTS: &[#p::VariantSchema] = &[#(#entries),*];
                #p::Shape::Enum(__VARIANTS)
            })
        }
    };
    quote! {{
        #(#lists)*
        #p::Schema::new(#name, #shape).with_removed(&[#(#removed),*])
    }}
}

fn shape(style: Style, fields: TokenStream) -> TokenStream {
    let p = private();
    match style {
        Style::Named => quote!(#p::Shape::Struct(#fields)),
        Style::Tuple => quote!(#p::Shape::Tuple(#fields)),
        Style::Unit => quote!(#p::Shape::Unit),
    }
}

fn cases_fields(fields: &Fields) -> Vec<TokenStream> {
    let p = private();
    fields
        .list
        .iter()
        .map(|f| {
            let name = &f.name;
            let ty = types::schema_name(f.ty);
            if !f.is_stored() {
                return quote!(#p::FieldSchema::derived(#name, #ty));
            }
            let mut schema = quote!(#p::FieldSchema::serialized(#name, #ty));
            if !f.attrs.aliases.is_empty() {
                let aliases = &f.attrs.aliases;
                schema = quote!(#schema.with_aliases(&[#(#aliases),*]));
            }
            if let Role::Defaulted(_) = f.attrs.role {
                schema = quote!(#schema.with_default());
            }
            if let Some((_, was)) = &f.attrs.was {
                let was = types::schema_name(was);
                schema = quote!(#schema.with_was(#was));
            }
            schema
        })
        .collect()
}
