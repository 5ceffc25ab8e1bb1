//! Code generation: `Checkpoint`, `Serialize` and `Deserialize` impls.
//!
//! Everything goes in one `const _: () = { ... };` block:
//! - a private inherent `__checkpoint_check` function, the one place that
//!   requires each serialized field's type to be serializable, with type
//!   parameters named like the fields so the type error names the field;
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

    let schema = schema(input);
    let builds = builds(input);
    let (write_body, read_body) = field_bodies(input);
    let check = check_fields(input);
    let use_codecs = use_codecs();
    let shadow = shadow(input);
    let (ser_body, de_body) = serde_bodies(input);
    let context = match &input.attrs.context {
        Some(ty) => quote!(#ty),
        None => quote!(()),
    };
    let check_fn = input.attrs.check.as_ref().map(|path| {
        let outcome = quote_spanned!(path.span()=> #p::check_outcome(#path(self)));
        quote! {
            fn check(&self) -> #p::core::result::Result<(), #p::std::string::String> {
                #outcome
            }
        }
    });

    let mut de_generics = bounded.clone();
    de_generics.params.insert(0, parse_quote!('__de));
    let (de_impl_generics, _, _) = de_generics.split_for_impl();

    // A type restored with a context cannot be deserialized without one.
    let deserialize = input.attrs.context.is_none().then(|| {
        quote! {
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
        }
    });

    quote! {
        #[allow(non_upper_case_globals, unused_qualifications, clippy::all)]
        const _: () = {
            #shadow
            #check

            #[automatically_derived]
            impl #plain_impl_generics #ident #ty_generics #plain_where {
                #builds
            }

            #[automatically_derived]
            impl #impl_generics #p::Checkpoint for #ident #ty_generics #bounded_where {
                type Context = #context;
                const SCHEMA: #p::Schema = #schema;

                fn write_fields(
                    &self,
                    __out: &mut #p::FieldWriter<'_>,
                ) -> #p::Result<()> {
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

                #check_fn
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

            #deserialize
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

fn schema(input: &Input) -> TokenStream {
    let p = private();
    let name = input.schema_name();
    match &input.data {
        Data::Struct(style, fields) => {
            let list = field_schemas(fields);
            let shape = shape(*style, quote!(__FIELDS));
            let removed = input.attrs.removed.iter();
            quote! {{
                const __FIELDS: &[#p::FieldSchema] = &[#(#list),*];
                #p::Schema::new(#name, #shape).with_removed(&[#(#removed),*])
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
                return quote!(#p::FieldSchema::derived(#name, #ty));
            }
            let mut schema = quote!(#p::FieldSchema::serialized(#name, #ty));
            if !f.attrs.aliases.is_empty() {
                let aliases = &f.attrs.aliases;
                schema = quote!(#schema.with_aliases(&[#(#aliases),*]));
            }
            if f.attrs.default.is_some() {
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

fn build_fn(index: Option<usize>) -> Ident {
    match index {
        None => Ident::new("__checkpoint_build", Span::call_site()),
        Some(i) => format_ident!("__checkpoint_build_{}", i),
    }
}

/// `fn __checkpoint_build(log: Vec<Message>) -> Self { let index = EXPR; Self { log, index } }`
fn builds(input: &Input) -> TokenStream {
    match &input.data {
        Data::Struct(style, fields) => build(input, None, quote!(Self), *style, fields),
        Data::Enum(variants) => variants
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let ident = v.ident;
                build(input, Some(i), quote!(Self::#ident), v.style, &v.fields)
            })
            .collect(),
        Data::Union(_) => TokenStream::new(),
    }
}

/// The parameter holding a defaulted field, `None` when the checkpoint lacks it.
fn default_param(field: &Field) -> Ident {
    Ident::new(&format!("__default{}", field.index), Span::mixed_site())
}

/// `ctx: &Context` when the type declares a context.
fn context_param(input: &Input) -> Option<TokenStream> {
    let ty = input.attrs.context.as_ref()?;
    let ctx = Ident::new("ctx", Span::call_site());
    Some(quote!(#ctx: &#ty))
}

fn build(
    input: &Input,
    index: Option<usize>,
    path: TokenStream,
    style: Style,
    fields: &[Field],
) -> TokenStream {
    let p = private();
    let name = build_fn(index);
    let params = serialized(fields).map(|f| {
        let ty = f.ty;
        if f.attrs.default.is_some() {
            let param = default_param(f);
            quote!(#param: #p::core::option::Option<#ty>)
        } else {
            let binding = &f.binding;
            quote!(#binding: #ty)
        }
    });
    let context = context_param(input).into_iter();
    // Every stored field is in scope first; defaults and derived fields are
    // then filled in declaration order.
    let filled = fields.iter().filter_map(|f| {
        let binding = &f.binding;
        let ty = f.ty;
        if let Some(d) = &f.attrs.derived {
            let expr = &d.from;
            return Some(quote_spanned!(expr.span()=> let #binding: #ty = #expr;));
        }
        let (_, expr) = f.attrs.default.as_ref()?;
        let param = default_param(f);
        let value = Ident::new("__value", Span::mixed_site());
        let fill = quote_spanned!(expr.span()=> #expr);
        Some(quote! {
            let #binding: #ty = match #param {
                #p::core::option::Option::Some(#value) => #value,
                #p::core::option::Option::None => #fill,
            };
        })
    });
    let value = construct(&path, style, fields);
    quote! {
        #[doc(hidden)]
        #[allow(clippy::too_many_arguments, clippy::redundant_field_names, unused_variables)]
        fn #name(#(#params,)* #(#context)*) -> Self {
            #(#filled)*
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
            let parts = serialized(fields).map(|f| {
                let (member, local) = (&f.member, &f.local);
                quote!(#member: #local)
            });
            quote!(#path { #(#parts,)* .. })
        }
        Style::Tuple => {
            let parts = fields.iter().map(|f| {
                if f.is_derived() {
                    quote!(_)
                } else {
                    let b = &f.local;
                    quote!(#b)
                }
            });
            quote!(#path(#(#parts),*))
        }
        Style::Unit => quote!(#path),
    }
}

/// `(&FieldCodec::<Ty>::new())`: see `__private` for why.
fn codec(field: &Field) -> TokenStream {
    let p = private();
    let ty = field.ty;
    quote_spanned!(ty.span()=> (&#p::FieldCodec::<#ty>::new()))
}

fn use_codecs() -> TokenStream {
    let p = private();
    quote!(use #p::{Codec as _, NoCodec as _};)
}

/// The one place a serialized field's type is required to be serializable:
/// `fn __checkpoint_check<started>() { assert_field::<started, Instant>(); }`.
/// The marker is a type parameter named after the field because rustc
/// prints a type parameter by its bare name, where a marker type would be
/// printed with its path as soon as two types share a field name.
fn check_fields(input: &Input) -> TokenStream {
    let p = private();
    // a field named like a type its struct mentions (`u8: u8`) would
    // shadow it: such a field gets a prefixed marker
    let mut taken: Vec<String> = input
        .generics
        .params
        .iter()
        .map(|param| match param {
            syn::GenericParam::Type(t) => t.ident.to_string(),
            syn::GenericParam::Lifetime(l) => l.lifetime.ident.to_string(),
            syn::GenericParam::Const(c) => c.ident.to_string(),
        })
        .collect();
    for field in input.all_fields() {
        types::idents(field.ty, &mut taken);
    }
    let mut params: Vec<Ident> = Vec::new();
    let asserts: Vec<TokenStream> = input
        .all_fields()
        .filter(|f| !f.is_derived())
        .map(|field| {
            let name = field.binding.to_string();
            let marker = if taken.contains(&name) {
                format_ident!("__field_{}", field.binding)
            } else {
                field.binding.clone()
            };
            if !params.contains(&marker) {
                params.push(marker.clone());
            }
            let ty = field.ty;
            quote_spanned!(ty.span()=> #p::assert_field::<#marker, #ty>();)
        })
        .collect();
    let bounded = with_inferred_bounds(input);
    let (impl_generics, _, where_clause) = bounded.split_for_impl();
    let ident = input.ident;
    let (_, ty_generics, _) = input.generics.split_for_impl();
    quote! {
        #[automatically_derived]
        impl #impl_generics #ident #ty_generics #where_clause {
            #[doc(hidden)]
            #[allow(non_camel_case_types, dead_code)]
            fn __checkpoint_check<#(#params),*>() {
                #(#asserts)*
            }
        }
    }
}

fn write_field(field: &Field, value: TokenStream) -> TokenStream {
    let codec = codec(field);
    let name = &field.name;
    quote!(#codec.write_field(__out, #name, #value)?;)
}

/// Reads each stored field into its local: the field itself, or for a
/// defaulted field an `Option` of it.
fn read_fields(prefix: &str, fields: &[Field]) -> TokenStream {
    let p = private();
    serialized(fields)
        .map(|field| {
            let codec = codec(field);
            let name = &field.name;
            let local = &field.local;
            let attrs = &field.attrs;
            if attrs.aliases.is_empty() && attrs.default.is_none() && attrs.was.is_none() {
                return quote!(let #local = #codec.read_field(__input, #name)?;);
            }
            let aliases = &attrs.aliases;
            let names = quote!(&[#name, #(#aliases),*]);
            let mut found = quote!(#codec.read_field_any(__input, #names)?);
            if let (Some((_, was)), Some((_, convert))) = (&attrs.was, &attrs.convert) {
                let ty = field.ty;
                let key = format!("{prefix}{name}");
                let convert = quote_spanned!(convert.span()=> {
                    let __convert: fn(#was) -> #ty = #convert;
                    __convert
                });
                // Read as the old type or the current one, whichever the
                // checkpoint stores (the runtime decides, by type name or by
                // the recorded schema).
                found = quote_spanned! {was.span()=>
                    #codec.read_field_or_was::<#was>(__input, #names, #key, #convert)?
                };
            }
            if attrs.default.is_some() {
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

fn build_call(input: &Input, index: Option<usize>, fields: &[Field]) -> TokenStream {
    let name = build_fn(index);
    let args = serialized(fields).map(|f| &f.local);
    let context = input.attrs.context.is_some().then(|| quote!(_context));
    quote!(Self::#name(#(#args,)* #context))
}

/// Bodies of `write_fields` and `read_fields`. `read_fields` calls
/// `fields_read` between reading the stored fields and building the derived
/// ones, so derived expressions only ever see a verified checkpoint.
fn field_bodies(input: &Input) -> (TokenStream, TokenStream) {
    let p = private();
    let ok = quote!(#p::core::result::Result::Ok);
    match &input.data {
        Data::Struct(_, fields) => {
            let writes = serialized(fields).map(|f| {
                let member = &f.member;
                write_field(f, quote!(&self.#member))
            });
            let reads = read_fields("", fields);
            let build = build_call(input, None, fields);
            (
                quote!(#(#writes)*),
                quote!(#reads __input.fields_read()?; #ok(#build)),
            )
        }
        Data::Enum(variants) => {
            let write_arms = variants.iter().map(|v| {
                let ident = v.ident;
                let name = variant_name(v);
                let pat = pattern(&quote!(Self::#ident), v.style, &v.fields);
                let writes = serialized(&v.fields).map(|f| {
                    let b = &f.local;
                    write_field(f, quote!(#b))
                });
                quote!(#pat => {
                    __out.variant(#name)?;
                    #(#writes)*
                })
            });
            let read_arms = variants.iter().enumerate().map(|(i, v)| {
                let name = variant_name(v);
                let reads = read_fields(&format!("{name}::"), &v.fields);
                let build = build_call(input, Some(i), &v.fields);
                quote!(#name => { #reads __input.fields_read()?; #ok(#build) })
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
        Data::Union(_) => (TokenStream::new(), quote!(#p::core::unreachable!())),
    }
}

/// The shadow's name for a field (renamed to the field's own name for
/// serde): not the field's ident, which serde's derive could confuse with
/// its own locals (`__serializer`).
fn shadow_member(field: &Field) -> Ident {
    format_ident!("f{}", field.index)
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
                    let (name, member) = (&f.name, shadow_member(f));
                    quote!(#[serde(rename = #name)] #member: #param)
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
                let b = &f.local;
                if f.attrs.default.is_some() {
                    quote!(#p::core::option::Option::Some(#b.into_inner()))
                } else {
                    quote!(#b.into_inner())
                }
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
                        let b = &f.local;
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
        Data::Union(_) => {
            return (
                quote!(#p::core::unreachable!()),
                quote!(#p::core::unreachable!()),
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

fn shadow_value(
    path: TokenStream,
    style: Style,
    fields: &[Field],
    value: impl Fn(&Field) -> TokenStream,
) -> TokenStream {
    match style {
        Style::Named => {
            let parts = serialized(fields).map(|f| {
                let b = shadow_member(f);
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
    let locals = serialized(fields).map(|f| &f.local);
    let named = serialized(fields).map(|f| {
        let (b, local) = (shadow_member(f), &f.local);
        quote!(#b: #local)
    });
    match style {
        Style::Named => quote!(#path { #(#named),* }),
        Style::Tuple => quote!(#path(#(#locals),*)),
        Style::Unit => path,
    }
}

#[cfg(test)]
mod tests {
    use proc_macro2::{TokenStream, TokenTree};
    use syn::DeriveInput;

    use crate::ctxt::Ctxt;

    fn expand(node: DeriveInput) -> TokenStream {
        let mut cx = Ctxt::default();
        let input = super::Input::from_syn(&mut cx, &node);
        cx.finish().expect("valid input");
        super::expand(&input)
    }

    fn flatten(tokens: TokenStream, out: &mut Vec<TokenTree>) {
        for tt in tokens {
            match tt {
                TokenTree::Group(g) => flatten(g.stream(), out),
                other => out.push(other),
            }
        }
    }

    /// Names a user may shadow: the expansion must only reach them through
    /// a path (`::checkpoint::__private::core::result::Result::Ok`), and every
    /// absolute path must go through the facade's hidden module.
    #[test]
    fn expansion_uses_only_qualified_paths() {
        let tokens = expand(syn::parse_quote! {
            enum Job<T> {
                Idle,
                Busy(T, #[derived(from = 0)] u8),
                Done { code: i32, #[derived(from = code == 0)] ok: bool },
            }
        });
        let mut flat = Vec::new();
        flatten(tokens, &mut flat);
        let shadowable = [
            "Result",
            "Ok",
            "Err",
            "Option",
            "Some",
            "None",
            "Vec",
            "String",
            "Box",
            "serde",
            "Serialize",
            "Deserialize",
            "Checkpoint",
            "PhantomData",
        ];
        let is_colon = |tt: &TokenTree| matches!(tt, TokenTree::Punct(p) if p.as_char() == ':');
        for (i, tt) in flat.iter().enumerate() {
            let TokenTree::Ident(ident) = tt else {
                continue;
            };
            let qualified = i >= 2 && is_colon(&flat[i - 1]) && is_colon(&flat[i - 2]);
            let name = ident.to_string();
            // `#[serde(...)]`: the helper attribute of serde's derive
            let attribute =
                i >= 1 && matches!(&flat[i - 1], TokenTree::Punct(p) if p.as_char() == '#');
            if shadowable.contains(&name.as_str()) && !attribute {
                assert!(qualified, "bare `{name}` in the expansion");
            }
            // `::core`, `::serde`, ... would resolve to whatever the user's
            // crate names so; only `::checkpoint::__private` is ours
            let after_path_part = i >= 3
                && match &flat[i - 3] {
                    TokenTree::Ident(_) => true,
                    TokenTree::Punct(p) => p.as_char() == '>',
                    _ => false,
                };
            if qualified && !after_path_part {
                assert_eq!(name, "checkpoint", "absolute path `::{name}`");
                assert_eq!(
                    flat[i + 3].to_string(),
                    "__private",
                    "absolute path into `::checkpoint`"
                );
            }
        }
    }
}
