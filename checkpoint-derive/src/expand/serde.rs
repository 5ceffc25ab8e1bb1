//! `Serialize` and `Deserialize` through a private "shadow" type that holds
//! only the serialized fields and that serde's own derive encodes.

use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote};

use super::{build, codec, frames, private, struct_fields, Case, P};
use crate::ast::{Data, Field, Fields, Input, Style};
use crate::attr::Role;

/// The shadow's name for a field (renamed to the field's own name for
/// serde): not the field's ident, which serde's derive could confuse with
/// its own locals (`__serializer`).
fn member(field: &Field) -> Ident {
    format_ident!("f{}", field.index)
}

fn param(i: usize) -> Ident {
    format_ident!("__F{}", i)
}

/// `struct __CheckpointShadow<__F0, __F1> { log: __F0, seq: __F1 }`.
pub(super) fn shadow(input: &Input, cases: &[Case]) -> TokenStream {
    let p = private();
    let name = input.schema_name();
    let serde_crate = format!("{P}::serde");
    let mut next = 0;
    let mut fields_of = |fields: &Fields| {
        let typed = fields.stored().map(|f| {
            let param = param(next);
            next += 1;
            match fields.style {
                Style::Named => {
                    let (name, member) = (&f.name, member(f));
                    quote!(#[serde(rename = #name)] #member: #param)
                }
                _ => quote!(#param),
            }
        });
        let typed: Vec<TokenStream> = typed.collect();
        match fields.style {
            Style::Named => quote!({ #(#typed),* }),
            Style::Tuple => quote!((#(#typed),*)),
            Style::Unit => TokenStream::new(),
        }
    };
    let (keyword, body) = match &input.data {
        Data::Struct(s) => {
            let body = fields_of(&s.fields);
            let semi = (s.fields.style != Style::Named).then(|| quote!(;));
            (quote!(struct), quote!(#body #semi))
        }
        Data::Enum(_) => {
            let variants = cases.iter().map(|case| {
                let ident = case.variant;
                let body = fields_of(case.fields);
                quote!(#ident #body)
            });
            (quote!(enum), quote!({ #(#variants),* }))
        }
    };
    let params: Vec<Ident> = (0..next).map(param).collect();
    let generics = (!params.is_empty()).then(|| quote!(<#(#params),*>));
    quote! {
        #[derive(#p::serde::Serialize, #p::serde::Deserialize)]
        #[serde(crate = #serde_crate, rename = #name)]
        #[allow(non_camel_case_types)]
        #keyword __CheckpointShadow #generics #body

        impl #generics __CheckpointShadow #generics {
            /// Names the shadow type whose field types the codecs chose.
            #[inline]
            fn __witness(
                #(_: #p::core::marker::PhantomData<#params>),*
            ) -> #p::core::marker::PhantomData<Self> {
                #p::core::marker::PhantomData
            }
        }
    }
}

/// Bodies of `serialize` and `deserialize`, through the shadow type.
pub(super) fn bodies(input: &Input, cases: &[Case]) -> (TokenStream, TokenStream) {
    let p = private();
    let to_shadow = |field: &Field, value: TokenStream| {
        let codec = codec(field);
        quote!(#codec.serialize_as(#value))
    };
    let witnesses = input.stored_fields().map(|f| {
        let codec = codec(f);
        quote!(#codec.deserialize_as())
    });
    let deserialize_shadow = quote! {
        let __shadow = #p::deserialize_as(
            __deserializer,
            __CheckpointShadow::__witness(#(#witnesses),*),
        )?;
    };
    let arg = |f: &Field| {
        let local = &f.local;
        match f.attrs.role {
            Role::Defaulted(_) => quote!(#p::core::option::Option::Some(#local.into_inner())),
            _ => quote!(#local.into_inner()),
        }
    };
    let (ser, de) = match &input.data {
        Data::Struct(s) => {
            let case = &cases[0];
            let (copy, values) = struct_fields(input, &s.fields);
            let mut values = values.into_iter();
            let value = value(quote!(__CheckpointShadow), &s.fields, |f| {
                to_shadow(f, values.next().expect("a value per stored field"))
            });
            let pat = pattern(quote!(__CheckpointShadow), &s.fields);
            let build = build::call(input, case, arg);
            (
                quote!(#copy let __shadow = #value;),
                quote! {
                    let #pat = __shadow;
                    #p::core::result::Result::Ok(#build)
                },
            )
        }
        Data::Enum(_) if cases.is_empty() => {
            return (
                quote!(match *self {}),
                quote!(#deserialize_shadow match __shadow {}),
            );
        }
        Data::Enum(_) => {
            let ser_arms = cases.iter().map(|case| {
                let ident = case.variant;
                let pat = frames::pattern(case);
                let value = value(quote!(__CheckpointShadow::#ident), case.fields, |f| {
                    let local = &f.local;
                    to_shadow(f, quote!(#local))
                });
                quote!(#pat => #value,)
            });
            let de_arms = cases.iter().map(|case| {
                let ident = case.variant;
                let pat = pattern(quote!(__CheckpointShadow::#ident), case.fields);
                let build = build::call(input, case, arg);
                quote!(#pat => #build,)
            });
            (
                quote!(let __shadow = match self { #(#ser_arms)* };),
                quote! {
                    #p::core::result::Result::Ok(match __shadow { #(#de_arms)* })
                },
            )
        }
    };
    (
        quote! {
            #ser
            #p::serde::Serialize::serialize(&__shadow, __serializer)
        },
        quote! {
            #deserialize_shadow
            #de
        },
    )
}

/// The shadow's value: `__CheckpointShadow { f0: ..., f2: ... }`.
fn value(
    path: TokenStream,
    fields: &Fields,
    mut value: impl FnMut(&Field) -> TokenStream,
) -> TokenStream {
    match fields.style {
        Style::Named => {
            let parts: Vec<TokenStream> = fields
                .stored()
                .map(|f| {
                    let m = member(f);
                    let v = value(f);
                    quote!(#m: #v)
                })
                .collect();
            quote!(#path { #(#parts),* })
        }
        Style::Tuple => {
            let parts: Vec<TokenStream> = fields.stored().map(value).collect();
            quote!(#path(#(#parts),*))
        }
        Style::Unit => path,
    }
}

/// `__CheckpointShadow { f0: __field0, f2: __field2 }`.
fn pattern(path: TokenStream, fields: &Fields) -> TokenStream {
    match fields.style {
        Style::Named => {
            let parts = fields.stored().map(|f| {
                let (m, local) = (member(f), &f.local);
                quote!(#m: #local)
            });
            quote!(#path { #(#parts),* })
        }
        Style::Tuple => {
            let locals = fields.stored().map(|f| &f.local);
            quote!(#path(#(#locals),*))
        }
        Style::Unit => path,
    }
}
