//! Code generation: `Checkpoint`, `Serialize` and `Deserialize` impls.
//!
//! Everything goes in one `const _: () = { ... };` block, built from one
//! file per thing generated:
//! - `checks`: a private inherent `__checkpoint_check` function, the one
//!   place that requires each serialized field's type to be serializable and
//!   free of interior mutability, with type parameters named like the fields
//!   so the error names the field; and, for a packed struct, the function
//!   that copies its fields out;
//! - `build`: a private inherent `__checkpoint_build*` function per struct or
//!   variant that takes the serialized fields and evaluates the `default`
//!   and `#[derived]` expressions, shared by `read_fields` and `Deserialize`;
//! - `schema`: the `SCHEMA` constant; `frames`: `write_fields` and
//!   `read_fields`;
//! - `serde`: a "shadow" type generic over its fields' types, holding only
//!   the serialized fields, that serde's own derive encodes;
//! - `bounds`: the where-clauses of the impls.
//!
//! A struct is handled as an enum's variant is: each generator works on one
//! [`Case`], and only the code around the cases (a `match` on the variant)
//! differs between structs and enums.

mod bounds;
mod build;
mod checks;
mod frames;
mod schema;
mod serde;

use proc_macro2::{Ident, TokenStream};
use quote::{quote, quote_spanned};
use syn::ext::IdentExt;
use syn::parse_quote;
use syn::spanned::Spanned;

use crate::ast::{Data, Field, Fields, Input};

/// The path generated code reaches the runtime through, as the expansion
/// names it: `__p`, imported once at the top of the `const _` block (a
/// full `::checkpoint::__private::` on every path was a third of the
/// tokens rustc had to parse and resolve).
fn private() -> TokenStream {
    quote!(__p)
}

/// `use ::checkpoint::__private as __p;`
fn import_private() -> TokenStream {
    quote!(
        use ::checkpoint::__private as __p;
    )
}

/// One struct, or one variant of an enum.
struct Case<'c, 'a> {
    /// `Self` or `Self::Variant`.
    path: TokenStream,
    /// The variant's identifier, for an enum.
    variant: Option<&'c Ident>,
    /// The variant's name as recorded (`Variant`), for an enum.
    name: Option<String>,
    /// Position among the variants (0 for a struct): names its build function.
    index: usize,
    fields: &'c Fields<'a>,
}

impl Case<'_, '_> {
    /// The name of a field as errors and schemas record it: `field` or
    /// `Variant::field`.
    fn key(&self, field: &Field) -> String {
        match &self.name {
            Some(variant) => format!("{variant}::{}", field.name),
            None => field.name.clone(),
        }
    }
}

fn cases<'c, 'a>(input: &'c Input<'a>) -> Vec<Case<'c, 'a>> {
    match &input.data {
        Data::Struct(s) => vec![Case {
            path: quote!(Self),
            variant: None,
            name: None,
            index: 0,
            fields: &s.fields,
        }],
        Data::Enum(variants) => variants
            .iter()
            .enumerate()
            .map(|(index, v)| {
                let ident = v.ident;
                Case {
                    path: quote!(Self::#ident),
                    variant: Some(ident),
                    name: Some(ident.unraw().to_string()),
                    index,
                    fields: &v.fields,
                }
            })
            .collect(),
    }
}

pub(crate) fn expand(input: &Input) -> TokenStream {
    let p = private();
    let ident = input.ident;
    let import = import_private();
    let cases = cases(input);
    let (_, ty_generics, _) = input.generics.split_for_impl();
    let bounded = bounds::with_bounds(input);
    let (impl_generics, _, bounded_where) = bounded.split_for_impl();
    let (plain_impl_generics, _, plain_where) = input.generics.split_for_impl();

    let schema = schema::schema(input, &cases);
    let builds = build::functions(input, &cases);
    let copy = checks::packed_copy(input);
    let (write_body, read_body) = frames::bodies(input, &cases);
    let check = checks::check_fields(input);
    let use_codecs = use_codecs();
    let shadow = serde::shadow(input, &cases);
    let (ser_body, de_body) = serde::bodies(input, &cases);
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
            #import
            #shadow

            #[automatically_derived]
            impl #plain_impl_generics #ident #ty_generics #plain_where {
                #check
                #builds
                #copy
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

/// The interior-mutability checks of [`checks::check_fields`] alone, for
/// a type the derive rejected.
pub(crate) fn interior_mutability_checks(input: &Input) -> TokenStream {
    checks::interior_mutability_only(input)
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

/// How a struct's stored fields are reached by `write_fields` and
/// `serialize`: borrowed in place, or (in a packed struct) copied out first.
fn struct_fields(input: &Input, fields: &Fields) -> (TokenStream, Vec<TokenStream>) {
    match &input.data {
        Data::Struct(s) if s.packed => {
            let locals: Vec<&Ident> = fields.stored().map(|f| &f.local).collect();
            let markers = locals.iter().map(|_| quote!(()));
            let copy = (!locals.is_empty())
                .then(|| quote!(let (#(#locals,)*) = self.__checkpoint_copy::<#(#markers),*>();));
            (
                copy.unwrap_or_default(),
                locals.iter().map(|l| quote!(&#l)).collect(),
            )
        }
        _ => (
            TokenStream::new(),
            fields
                .stored()
                .map(|f| {
                    let member = &f.member;
                    quote!(&self.#member)
                })
                .collect(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use proc_macro2::{TokenStream, TokenTree};
    use syn::DeriveInput;

    use crate::ctxt::Ctxt;

    fn expand(node: DeriveInput) -> TokenStream {
        let mut cx = Ctxt::default();
        let input = super::Input::from_syn(&mut cx, &node).expect("not a union");
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
