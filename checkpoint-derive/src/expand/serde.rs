//! `Serialize` and `Deserialize`, encoding the serialized fields as serde's
//! derive encodes a struct or enum of that name that has only them: for a
//! struct, with the visitor that `__private` shares between all structs;
//! for an enum, through a private "shadow" enum that serde's own derive
//! encodes.

use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote};

use super::{build, codec, frames, private, struct_fields, Case};
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

/// For an enum, `enum __CheckpointShadow<__F0, __F1> { A { log: __F0 }, B(__F1) }`.
pub(super) fn shadow(input: &Input, cases: &[Case]) -> TokenStream {
    let p = private();
    let name = input.schema_name();
    let serde_crate = "::checkpoint::__private::serde";
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
        // a struct's impls share the code in `__private` instead
        Data::Struct(_) => return TokenStream::new(),
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

        /// Names the shadow type whose field types the codecs chose.
        #[inline]
        fn __witness #generics(
            #(_: #p::core::marker::PhantomData<#params>),*
        ) -> #p::core::marker::PhantomData<__CheckpointShadow #generics> {
            #p::core::marker::PhantomData
        }
    }
}

/// Bodies of `serialize` and `deserialize`: a struct's directly, an enum's
/// through the shadow type.
pub(super) fn bodies(input: &Input, cases: &[Case]) -> (TokenStream, TokenStream) {
    if let Data::Struct(s) = &input.data {
        return struct_bodies(input, &cases[0], &s.fields);
    }
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
            __witness(#(#witnesses),*),
        )?;
    };
    if cases.is_empty() {
        return (
            quote!(match *self {}),
            quote!(#deserialize_shadow match __shadow {}),
        );
    }
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
        let build = build::call(input, case, build_arg);
        quote!(#pat => #build,)
    });
    let ser = quote!(let __shadow = match self { #(#ser_arms)* };);
    let de = quote! {
        #p::core::result::Result::Ok(match __shadow { #(#de_arms)* })
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

/// Bodies of a struct's `serialize` and `deserialize`: the calls serde's
/// derive makes for a struct holding the stored fields alone.
fn struct_bodies(input: &Input, case: &Case, fields: &Fields) -> (TokenStream, TokenStream) {
    let p = private();
    let name = input.schema_name();
    let stored: Vec<&Field> = fields.stored().collect();
    let (copy, values) = struct_fields(input, fields);
    let values: Vec<TokenStream> = stored
        .iter()
        .zip(values)
        .map(|(f, v)| {
            let codec = codec(f);
            quote!(&#codec.serialize_as(#v))
        })
        .collect();
    let names: Vec<&String> = stored.iter().map(|f| &f.name).collect();
    let len = stored.len();
    let ser = |state: TokenStream, start: TokenStream| {
        quote! {
            let mut __state = #p::serde::Serializer::#start?;
            #(#p::serde::ser::#state::serialize_field(&mut __state, #names, #values)?;)*
            #p::serde::ser::#state::end(__state)
        }
    };
    let ser = match (fields.style, len) {
        (Style::Named, _) => ser(
            quote!(SerializeStruct),
            quote!(serialize_struct(__serializer, #name, #len)),
        ),
        (Style::Tuple, 1) => {
            let value = &values[0];
            quote!(#p::serde::Serializer::serialize_newtype_struct(__serializer, #name, #value))
        }
        (Style::Tuple, _) => {
            let values = &values;
            quote! {
                let mut __state = #p::serde::Serializer::serialize_tuple_struct(__serializer, #name, #len)?;
                #(#p::serde::ser::SerializeTupleStruct::serialize_field(&mut __state, #values)?;)*
                #p::serde::ser::SerializeTupleStruct::end(__state)
            }
        }
        (Style::Unit, _) => {
            quote!(#p::serde::Serializer::serialize_unit_struct(__serializer, #name))
        }
    };
    let list = stored.iter().rev().fold(quote!(#p::nil()), |rest, f| {
        let codec = codec(f);
        quote!(#p::cons(#codec.deserialize_as(), #rest))
    });
    let pattern = stored.iter().rev().fold(quote!(#p::Nil), |rest, f| {
        let local = &f.local;
        quote!(#p::Cons(#local, #rest))
    });
    let read = match (fields.style, len) {
        (Style::Named, _) => {
            quote!(#p::deserialize_struct(__deserializer, #name, &[#(#names),*], #list))
        }
        (Style::Tuple, 1) => quote!(#p::deserialize_newtype_struct(__deserializer, #name, #list)),
        (Style::Tuple, _) => {
            quote!(#p::deserialize_tuple_struct(__deserializer, #name, &[#(#names),*], #list))
        }
        (Style::Unit, _) => quote!(#p::deserialize_unit_struct(__deserializer, #name)),
    };
    let build = build::call(input, case, build_arg);
    (
        quote!(#copy #ser),
        quote! {
            let #pattern = #read?;
            #p::core::result::Result::Ok(#build)
        },
    )
}

/// A deserialized field as its build function takes it.
fn build_arg(field: &Field) -> TokenStream {
    let p = private();
    let local = &field.local;
    match field.attrs.role {
        Role::Defaulted(_) => quote!(#p::core::option::Option::Some(#local.into_inner())),
        _ => quote!(#local.into_inner()),
    }
}

/// The shadow's value: `__CheckpointShadow::V { f0: ..., f2: ... }`.
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
