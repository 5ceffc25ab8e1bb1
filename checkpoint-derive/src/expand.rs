//! Code generation: `Checkpoint`, `Serialize` and `Deserialize` impls.
//!
//! Everything goes in one `const _: () = { ... };` block:
//! - `mod __checkpoint_fields`: one empty enum per serialized field, named
//!   like the field, so a type error on a field can name it;
//! - a private inherent `__checkpoint_build*` function per struct or variant
//!   that takes the serialized fields and evaluates the `#[derived]`
//!   expressions, shared by `read_fields` and `Deserialize`;
//! - a "shadow" type generic over its fields' types, holding only the
//!   serialized fields, that serde's own derive encodes.

use proc_macro2::{Ident, Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{parse_quote, Generics, WherePredicate};

use crate::ast::{Data, Field, Input, Style, Variant};
use crate::types;

const P: &str = "::checkpoint::__private";

fn private() -> TokenStream {
    P.parse().expect("valid path")
}

pub(crate) fn expand(input: &Input) -> TokenStream {
    let p = private();
    let ident = input.ident;
    let (_, ty_generics, _) = input.generics.split_for_impl();
    let bounded = with_inferred_bounds(input);
    let (impl_generics, _, bounded_where) = bounded.split_for_impl();
    let (plain_impl_generics, _, plain_where) = input.generics.split_for_impl();

    let markers = markers(input);
    let schema = schema(input);
    let builds = builds(input);
    let (write_body, read_body) = field_bodies(input);
    let asserts = assert_fields(input);
    let use_codecs = use_codecs();
    let shadow = shadow(input);
    let (ser_body, de_body) = serde_bodies(input);

    let mut de_generics = bounded.clone();
    de_generics.params.insert(0, parse_quote!('__de));
    let (de_impl_generics, _, _) = de_generics.split_for_impl();

    quote! {
        #[allow(non_upper_case_globals, unused_qualifications, clippy::all)]
        const _: () = {
            #markers
            #shadow

            #[automatically_derived]
            impl #plain_impl_generics #ident #ty_generics #plain_where {
                #builds
            }

            #[automatically_derived]
            impl #impl_generics #p::Checkpoint for #ident #ty_generics #bounded_where {
                type Context = ();
                const SCHEMA: #p::Schema = #schema;

                fn write_fields(
                    &self,
                    __out: &mut #p::FieldWriter<'_>,
                ) -> #p::Result<()> {
                    #asserts
                    #use_codecs
                    #write_body
                    #p::core::result::Result::Ok(())
                }

                fn read_fields(
                    __input: &mut #p::FieldReader<'_>,
                    _context: &Self::Context,
                ) -> #p::Result<Self> {
                    #use_codecs
                    #read_body
                }
            }

            #[automatically_derived]
            impl #impl_generics #p::serde::Serialize for #ident #ty_generics #bounded_where {
                fn serialize<__S>(
                    &self,
                    __serializer: __S,
                ) -> #p::core::result::Result<__S::Ok, __S::Error>
                where
                    __S: #p::serde::Serializer,
                {
                    #use_codecs
                    #ser_body
                }
            }

            #[automatically_derived]
            impl #de_impl_generics #p::serde::Deserialize<'__de> for #ident #ty_generics #bounded_where {
                fn deserialize<__D>(
                    __deserializer: __D,
                ) -> #p::core::result::Result<Self, __D::Error>
                where
                    __D: #p::serde::Deserializer<'__de>,
                {
                    #use_codecs
                    #de_body
                }
            }
        };
    }
}

/// The user's generics plus `T: Serialize + DeserializeOwned` for every type
/// parameter a serialized field mentions, as serde infers its bounds.
fn with_inferred_bounds(input: &Input) -> Generics {
    let p = private();
    let mut generics = input.generics.clone();
    let params: Vec<Ident> = generics.type_params().map(|t| t.ident.clone()).collect();
    let used: Vec<&Ident> = params
        .iter()
        .filter(|param| {
            input
                .all_fields()
                .filter(|f| !f.is_derived())
                .any(|f| types::mentions(f.ty, param))
        })
        .collect();
    if !used.is_empty() {
        let clause = generics.make_where_clause();
        for param in used {
            let bound: WherePredicate = parse_quote! {
                #param: #p::serde::Serialize + #p::serde::de::DeserializeOwned
            };
            clause.predicates.push(bound);
        }
    }
    generics
}

fn serialized<'f, 'a>(fields: &'f [Field<'a>]) -> impl Iterator<Item = &'f Field<'a>> {
    fields.iter().filter(|f| !f.is_derived())
}

fn marker(field: &Field) -> TokenStream {
    let binding = &field.binding;
    quote!(__checkpoint_fields::#binding)
}

/// One empty enum per serialized field name: `field `log` cannot be checkpointed`.
fn markers(input: &Input) -> TokenStream {
    let mut names: Vec<&Ident> = Vec::new();
    for field in input.all_fields().filter(|f| !f.is_derived()) {
        if !names.iter().any(|n| **n == field.binding) {
            names.push(&field.binding);
        }
    }
    quote! {
        #[doc(hidden)]
        #[allow(non_camel_case_types, dead_code)]
        mod __checkpoint_fields {
            #(pub enum #names {})*
        }
    }
}

fn schema(input: &Input) -> TokenStream {
    let p = private();
    let name = input.schema_name();
    match &input.data {
        Data::Struct(style, fields) => {
            let list = field_schemas(fields);
            let shape = shape(*style, quote!(__FIELDS));
            quote! {{
                const __FIELDS: &[#p::FieldSchema] = &[#(#list),*];
                #p::Schema::new(#name, #shape)
            }}
        }
        Data::Enum(variants) => {
            let consts = variants.iter().enumerate().map(|(i, v)| {
                let c = format_ident!("__V{}", i);
                let list = field_schemas(&v.fields);
                quote!(const #c: &[#p::FieldSchema] = &[#(#list),*];)
            });
            let entries = variants.iter().enumerate().map(|(i, v)| {
                let c = format_ident!("__V{}", i);
                let name = variant_name(v);
                let shape = shape(v.style, quote!(#c));
                quote!(#p::VariantSchema::new(#name, #shape))
            });
            quote! {{
                #(#consts)*
                const __VARIANTS: &[#p::VariantSchema] = &[#(#entries),*];
                #p::Schema::new(#name, #p::Shape::Enum(__VARIANTS))
            }}
        }
        Data::Union(_) => quote!(#p::Schema::new(#name, #p::Shape::Unit)),
    }
}

fn variant_name(v: &Variant) -> String {
    syn::ext::IdentExt::unraw(v.ident).to_string()
}

fn shape(style: Style, fields: TokenStream) -> TokenStream {
    let p = private();
    match style {
        Style::Named => quote!(#p::Shape::Struct(#fields)),
        Style::Tuple => quote!(#p::Shape::Tuple(#fields)),
        Style::Unit => quote!(#p::Shape::Unit),
    }
}

fn field_schemas(fields: &[Field]) -> Vec<TokenStream> {
    let p = private();
    fields
        .iter()
        .map(|f| {
            let name = &f.name;
            let ty = types::schema_name(f.ty);
            if f.is_derived() {
                quote!(#p::FieldSchema::derived(#name, #ty))
            } else {
                quote!(#p::FieldSchema::serialized(#name, #ty))
            }
        })
        .collect()
}

fn build_fn(index: Option<usize>) -> Ident {
    match index {
        None => Ident::new("__checkpoint_build", Span::call_site()),
        Some(i) => format_ident!("__checkpoint_build_{}", i),
    }
}

/// `fn __checkpoint_build(log: Vec<Message>) -> Self { let index = EXPR; Self { log, index } }`
fn builds(input: &Input) -> TokenStream {
    match &input.data {
        Data::Struct(style, fields) => build(None, quote!(Self), *style, fields),
        Data::Enum(variants) => variants
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let ident = v.ident;
                build(Some(i), quote!(Self::#ident), v.style, &v.fields)
            })
            .collect(),
        Data::Union(_) => TokenStream::new(),
    }
}

fn build(index: Option<usize>, path: TokenStream, style: Style, fields: &[Field]) -> TokenStream {
    let name = build_fn(index);
    let params = serialized(fields).map(|f| {
        let binding = &f.binding;
        let ty = f.ty;
        quote!(#binding: #ty)
    });
    let derived = fields.iter().filter_map(|f| {
        let d = f.attrs.derived.as_ref()?;
        let binding = &f.binding;
        let ty = f.ty;
        let expr = &d.from;
        Some(quote_spanned!(expr.span()=> let #binding: #ty = #expr;))
    });
    let value = construct(&path, style, fields);
    quote! {
        #[doc(hidden)]
        #[allow(clippy::too_many_arguments, clippy::redundant_field_names)]
        fn #name(#(#params),*) -> Self {
            #(#derived)*
            #value
        }
    }
}

/// `Self { a, b }`, `Self(_0, _1)` or `Self`, from locals named by bindings.
fn construct(path: &TokenStream, style: Style, fields: &[Field]) -> TokenStream {
    let bindings = fields.iter().map(|f| &f.binding);
    match style {
        Style::Named => quote!(#path { #(#bindings),* }),
        Style::Tuple => quote!(#path(#(#bindings),*)),
        Style::Unit => quote!(#path),
    }
}

/// `Self::A { x, .. }` / `Self::B(_0, _, _2)`: binds the serialized fields.
fn pattern(path: &TokenStream, style: Style, fields: &[Field]) -> TokenStream {
    match style {
        Style::Named => {
            let bindings = serialized(fields).map(|f| &f.binding);
            quote!(#path { #(#bindings,)* .. })
        }
        Style::Tuple => {
            let parts = fields.iter().map(|f| {
                if f.is_derived() {
                    quote!(_)
                } else {
                    let b = &f.binding;
                    quote!(#b)
                }
            });
            quote!(#path(#(#parts),*))
        }
        Style::Unit => quote!(#path),
    }
}

/// `(&FieldCodec::<marker, Ty>::new())`: see `__private` for why.
fn codec(field: &Field) -> TokenStream {
    let p = private();
    let marker = marker(field);
    let ty = field.ty;
    quote_spanned!(ty.span()=> (&#p::FieldCodec::<#marker, #ty>::new()))
}

fn use_codecs() -> TokenStream {
    let p = private();
    quote!(use #p::{Codec as _, NoCodec as _};)
}

/// The one place a serialized field's type is required to be serializable.
fn assert_fields(input: &Input) -> TokenStream {
    let p = private();
    input
        .all_fields()
        .filter(|f| !f.is_derived())
        .map(|field| {
            let marker = marker(field);
            let ty = field.ty;
            quote_spanned!(ty.span()=> #p::assert_field::<#marker, #ty>();)
        })
        .collect()
}

fn write_field(field: &Field, value: TokenStream) -> TokenStream {
    let codec = codec(field);
    let name = &field.name;
    quote!(#codec.write_field(__out, #name, #value)?;)
}

fn read_fields(fields: &[Field]) -> TokenStream {
    serialized(fields)
        .map(|field| {
            let codec = codec(field);
            let name = &field.name;
            let binding = &field.binding;
            quote!(let #binding = #codec.read_field(__input, #name)?;)
        })
        .collect()
}

fn build_call(index: Option<usize>, fields: &[Field]) -> TokenStream {
    let name = build_fn(index);
    let args = serialized(fields).map(|f| &f.binding);
    quote!(Self::#name(#(#args),*))
}

/// Bodies of `write_fields` and `read_fields`.
fn field_bodies(input: &Input) -> (TokenStream, TokenStream) {
    let p = private();
    let ok = quote!(#p::core::result::Result::Ok);
    match &input.data {
        Data::Struct(_, fields) => {
            let writes = serialized(fields).map(|f| {
                let member = &f.member;
                write_field(f, quote!(&self.#member))
            });
            let reads = read_fields(fields);
            let build = build_call(None, fields);
            (quote!(#(#writes)*), quote!(#reads #ok(#build)))
        }
        Data::Enum(variants) => {
            let write_arms = variants.iter().map(|v| {
                let ident = v.ident;
                let name = variant_name(v);
                let pat = pattern(&quote!(Self::#ident), v.style, &v.fields);
                let writes = serialized(&v.fields).map(|f| {
                    let b = &f.binding;
                    write_field(f, quote!(#b))
                });
                quote!(#pat => {
                    __out.variant(#name)?;
                    #(#writes)*
                })
            });
            let read_arms = variants.iter().enumerate().map(|(i, v)| {
                let name = variant_name(v);
                let reads = read_fields(&v.fields);
                let build = build_call(Some(i), &v.fields);
                quote!(#name => { #reads #ok(#build) })
            });
            (
                if variants.is_empty() {
                    quote!(match *self {})
                } else {
                    quote!(match self { #(#write_arms)* })
                },
                quote! {
                    match __input.variant()?.as_str() {
                        #(#read_arms)*
                        __other => #p::core::result::Result::Err(__input.unknown_variant(__other)),
                    }
                },
            )
        }
        Data::Union(_) => (TokenStream::new(), quote!(unreachable!())),
    }
}

fn shadow_param(i: usize) -> Ident {
    format_ident!("__F{}", i)
}

/// `struct __CheckpointShadow<__F0, __F1> { log: __F0, seq: __F1 }`.
fn shadow(input: &Input) -> TokenStream {
    let p = private();
    let name = input.schema_name();
    let serde_crate = format!("{P}::serde");
    let mut next = 0;
    let mut fields_of = |style: Style, fields: &[Field]| {
        let typed = serialized(fields).map(|f| {
            let param = shadow_param(next);
            next += 1;
            match style {
                Style::Named => {
                    let b = &f.binding;
                    quote!(#b: #param)
                }
                _ => quote!(#param),
            }
        });
        let typed: Vec<TokenStream> = typed.collect();
        match style {
            Style::Named => quote!({ #(#typed),* }),
            Style::Tuple => quote!((#(#typed),*)),
            Style::Unit => TokenStream::new(),
        }
    };
    let (keyword, body) = match &input.data {
        Data::Struct(style, fields) => {
            let body = fields_of(*style, fields);
            let semi = (*style != Style::Named).then(|| quote!(;));
            (quote!(struct), quote!(#body #semi))
        }
        Data::Enum(variants) => {
            let variants = variants.iter().map(|v| {
                let ident = v.ident;
                let body = fields_of(v.style, &v.fields);
                quote!(#ident #body)
            });
            (quote!(enum), quote!({ #(#variants),* }))
        }
        Data::Union(_) => return TokenStream::new(),
    };
    let params: Vec<Ident> = (0..next).map(shadow_param).collect();
    let generics = (!params.is_empty()).then(|| quote!(<#(#params),*>));
    quote! {
        #[derive(#p::serde::Serialize, #p::serde::Deserialize)]
        #[serde(crate = #serde_crate, rename = #name)]
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
fn serde_bodies(input: &Input) -> (TokenStream, TokenStream) {
    let p = private();
    let to_shadow = |field: &Field, value: TokenStream| {
        let codec = codec(field);
        quote!(#codec.serialize_as(#value))
    };
    let witnesses = input.all_fields().filter(|f| !f.is_derived()).map(|f| {
        let codec = codec(f);
        quote!(#codec.deserialize_as())
    });
    let deserialize_shadow = quote! {
        let __shadow = #p::deserialize_as(
            __deserializer,
            __CheckpointShadow::__witness(#(#witnesses),*),
        )?;
    };
    let unwrap_args = |fields: &[Field]| -> Vec<TokenStream> {
        serialized(fields)
            .map(|f| {
                let b = &f.binding;
                quote!(#b.into_inner())
            })
            .collect()
    };
    let (ser, de) = match &input.data {
        Data::Struct(style, fields) => {
            let shadow_value = shadow_value(quote!(__CheckpointShadow), *style, fields, |f| {
                let member = &f.member;
                to_shadow(f, quote!(&self.#member))
            });
            let pat = shadow_pattern(quote!(__CheckpointShadow), *style, fields);
            let name = build_fn(None);
            let args = unwrap_args(fields);
            (
                quote!(let __shadow = #shadow_value;),
                quote! {
                    let #pat = __shadow;
                    #p::core::result::Result::Ok(Self::#name(#(#args),*))
                },
            )
        }
        Data::Enum(variants) if variants.is_empty() => {
            return (
                quote!(match *self {}),
                quote!(#deserialize_shadow match __shadow {}),
            );
        }
        Data::Enum(variants) => {
            let ser_arms = variants.iter().map(|v| {
                let ident = v.ident;
                let pat = pattern(&quote!(Self::#ident), v.style, &v.fields);
                let value = shadow_value(
                    quote!(__CheckpointShadow::#ident),
                    v.style,
                    &v.fields,
                    |f| {
                        let b = &f.binding;
                        to_shadow(f, quote!(#b))
                    },
                );
                quote!(#pat => #value,)
            });
            let de_arms = variants.iter().enumerate().map(|(i, v)| {
                let ident = v.ident;
                let pat = shadow_pattern(quote!(__CheckpointShadow::#ident), v.style, &v.fields);
                let name = build_fn(Some(i));
                let args = unwrap_args(&v.fields);
                quote!(#pat => Self::#name(#(#args),*),)
            });
            (
                quote!(let __shadow = match self { #(#ser_arms)* };),
                quote! {
                    #p::core::result::Result::Ok(match __shadow { #(#de_arms)* })
                },
            )
        }
        Data::Union(_) => return (quote!(unreachable!()), quote!(unreachable!())),
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

fn shadow_value(
    path: TokenStream,
    style: Style,
    fields: &[Field],
    value: impl Fn(&Field) -> TokenStream,
) -> TokenStream {
    match style {
        Style::Named => {
            let parts = serialized(fields).map(|f| {
                let b = &f.binding;
                let v = value(f);
                quote!(#b: #v)
            });
            quote!(#path { #(#parts),* })
        }
        Style::Tuple => {
            let parts = serialized(fields).map(value);
            quote!(#path(#(#parts),*))
        }
        Style::Unit => path,
    }
}

fn shadow_pattern(path: TokenStream, style: Style, fields: &[Field]) -> TokenStream {
    let bindings = serialized(fields).map(|f| &f.binding);
    match style {
        Style::Named => quote!(#path { #(#bindings),* }),
        Style::Tuple => quote!(#path(#(#bindings),*)),
        Style::Unit => path,
    }
}
