//! `write_fields` and `read_fields`: one frame per stored field.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned, ToTokens};
use syn::spanned::Spanned;

use super::{build, codec, private, struct_fields, Case};
use crate::ast::{Data, Field, Fields, Input, Style};
use crate::attr::Role;

/// Bodies of `write_fields` and `read_fields`. `read_fields` calls
/// `fields_read` between reading the stored fields and building the derived
/// ones, so derived expressions only ever see a verified checkpoint.
pub(super) fn bodies(input: &Input, cases: &[Case]) -> (TokenStream, TokenStream) {
    let p = private();
    let ok = quote!(#p::core::result::Result::Ok);
    match &input.data {
        Data::Struct(s) => {
            let case = &cases[0];
            let (copy, values) = struct_fields(input, &s.fields);
            let writes = s.fields.stored().zip(values).map(|(f, v)| write(f, v));
            let reads = reads(case);
            let build = build::call(input, case, |f| f.local.to_token_stream());
            (
                quote!(#copy #(#writes)* #ok(())),
                quote!(#(#reads)* __input.fields_read()?; #ok(#build)),
            )
        }
        Data::Enum(_) if cases.is_empty() => (
            quote!(match *self {}),
            quote! {
                let __other = __input.variant()?;
                #p::core::result::Result::Err(__input.unknown_variant(&__other))
            },
        ),
        Data::Enum(_) => {
            let write_arms = cases.iter().map(|case| {
                let name = case.name.as_deref().unwrap_or_default();
                let pat = pattern(case);
                let writes = case.fields.stored().map(|f| {
                    let local = &f.local;
                    write(f, quote!(#local))
                });
                quote!(#pat => {
                    __out.variant(#name)?;
                    #(#writes)*
                })
            });
            let read_arms = cases.iter().map(|case| {
                let name = case.name.as_deref().unwrap_or_default();
                let reads = reads(case);
                let build = build::call(input, case, |f| f.local.to_token_stream());
                quote!(#name => { #(#reads)* __input.fields_read()?; #ok(#build) })
            });
            (
                quote! {
                    match self { #(#write_arms)* }
                    #ok(())
                },
                quote! {
                    match __input.variant()?.as_str() {
                        #(#read_arms)*
                        __other => #p::core::result::Result::Err(__input.unknown_variant(__other)),
                    }
                },
            )
        }
    }
}

/// `Self::A { x: __field0, .. }` / `Self::B(__field0, _, __field2)`: binds
/// the stored fields of a variant to their locals.
pub(super) fn pattern(case: &Case) -> TokenStream {
    let path = &case.path;
    let fields: &Fields = case.fields;
    match fields.style {
        Style::Named => {
            let parts = fields.stored().map(|f| {
                let (member, local) = (&f.member, &f.local);
                quote!(#member: #local)
            });
            quote!(#path { #(#parts,)* .. })
        }
        Style::Tuple => {
            let parts = fields.list.iter().map(|f| {
                if f.is_stored() {
                    f.local.to_token_stream()
                } else {
                    quote!(_)
                }
            });
            quote!(#path(#(#parts),*))
        }
        Style::Unit => quote!(#path),
    }
}

fn write(field: &Field, value: TokenStream) -> TokenStream {
    let codec = codec(field);
    let name = &field.name;
    quote!(#codec.write_field(__out, #name, #value)?;)
}

/// Reads each stored field into its local: the field itself, or for a
/// defaulted field an `Option` of it.
fn reads(case: &Case) -> Vec<TokenStream> {
    let p = private();
    case.fields
        .stored()
        .map(|field| {
            let codec = codec(field);
            let name = &field.name;
            let local = &field.local;
            let attrs = &field.attrs;
            let defaulted = matches!(attrs.role, Role::Defaulted(_));
            if attrs.aliases.is_empty() && !defaulted && attrs.was.is_none() {
                return quote!(let #local = #codec.read_field(__input, #name)?;);
            }
            let aliases = &attrs.aliases;
            let names = quote!(&[#name, #(#aliases),*]);
            let mut found = quote!(#codec.read_field_any(__input, #names)?);
            if let (Some((_, was)), Some((_, convert))) = (&attrs.was, &attrs.convert) {
                let ty = field.ty;
                let key = case.key(field);
                let convert = quote_spanned!(convert.span()=> {
                    let __convert: fn(#was) -> #ty = #convert;
                    __convert
                });
                // Read as the old type or the current one, whichever the
                // checkpoint stores: the runtime decides, by the recorded
                // writer's schema or by type name.
                found = quote_spanned! {was.span()=>
                    #codec.read_field_or_was::<#was>(__input, #names, #key, #convert)?
                };
            }
            if defaulted {
                quote!(let #local = #found;)
            } else {
                quote! {
                    let #local = match #found {
                        #p::core::option::Option::Some(__value) => __value,
                        #p::core::option::Option::None => {
                            return #p::core::result::Result::Err(__input.missing_field(#name));
                        }
                    };
                }
            }
        })
        .collect()
}
