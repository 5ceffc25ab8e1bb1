//! `__checkpoint_build*`: from the stored fields (and the context) to the
//! value, filling defaults and derived fields in declaration order.

use proc_macro2::{Ident, Span, TokenStream, TokenTree};
use quote::{format_ident, quote, quote_spanned, ToTokens};
use syn::spanned::Spanned;

use super::{private, Case};
use crate::ast::{Field, Fields, Input, Style};
use crate::attr::Role;

/// The build function of a struct or of one variant.
pub(super) fn name(case: &Case) -> Ident {
    match case.variant {
        None => Ident::new("__checkpoint_build", Span::call_site()),
        Some(_) => format_ident!("__checkpoint_build_{}", case.index),
    }
}

/// `Self::__checkpoint_build(__field0, __field1, _context)`, with each
/// stored field's value given by `arg`.
pub(super) fn call(input: &Input, case: &Case, arg: impl Fn(&Field) -> TokenStream) -> TokenStream {
    let name = name(case);
    let args = case.fields.stored().map(arg);
    let context = input.attrs.context.is_some().then(|| quote!(_context));
    quote!(Self::#name(#(#args,)* #context))
}

pub(super) fn functions(input: &Input, cases: &[Case]) -> TokenStream {
    cases.iter().map(|case| function(input, case)).collect()
}

/// `fn __checkpoint_build(__field0: Vec<Message>) -> Self { let log = __field0;
/// let __field1 = build_index(&log); Self { log, index: __field1 } }`
///
/// The stored values arrive in hygienic locals; a field is bound under its
/// own name only when a `default` or `#[derived]` expression mentions it, so
/// a constant of the user's named like a field cannot turn the binding into
/// a pattern unless an expression needs that name.
fn function(input: &Input, case: &Case) -> TokenStream {
    let p = private();
    let name = name(case);
    let fields = case.fields;
    let mentioned = mentioned_names(fields);
    let is_mentioned = |f: &Field| mentioned.contains(&f.binding.to_string());
    let params = fields.stored().map(|f| {
        let (ty, local) = (f.ty, &f.local);
        match f.attrs.role {
            Role::Defaulted(_) => quote!(#local: #p::core::option::Option<#ty>),
            _ => quote!(#local: #ty),
        }
    });
    let context = input.attrs.context.as_ref().map(|ty| {
        let ctx = Ident::new("ctx", Span::call_site());
        quote!(#ctx: &#ty)
    });
    // per field, the local that ends up holding its value, and how it is set
    let mut values: Vec<TokenStream> = Vec::new();
    let mut lets: Vec<TokenStream> = Vec::new();
    for f in &fields.list {
        let (ty, local) = (f.ty, &f.local);
        let named = is_mentioned(f);
        let target = if named {
            f.binding.to_token_stream()
        } else {
            local.to_token_stream()
        };
        values.push(target.clone());
        lets.push(match &f.attrs.role {
            Role::Stored if named => quote!(let #target = #local;),
            Role::Stored | Role::BrokenDerived => TokenStream::new(),
            Role::Defaulted(expr) => {
                let value = Ident::new("__value", Span::mixed_site());
                let fill = quote_spanned!(expr.span()=> #expr);
                quote! {
                    let #target: #ty = match #local {
                        #p::core::option::Option::Some(#value) => #value,
                        #p::core::option::Option::None => #fill,
                    };
                }
            }
            Role::Derived(expr) => quote_spanned!(expr.span()=> let #target: #ty = #expr;),
        });
    }
    let path = &case.path;
    let value = match fields.style {
        Style::Named => {
            let members = fields.list.iter().map(|f| &f.member);
            quote!(#path { #(#members: #values),* })
        }
        Style::Tuple => quote!(#path(#(#values),*)),
        Style::Unit => quote!(#path),
    };
    quote! {
        #[doc(hidden)]
        #[allow(clippy::too_many_arguments, unused_variables, non_snake_case)]
        fn #name(#(#params,)* #context) -> Self {
            #(#lets)*
            #value
        }
    }
}

/// The names that `default` and `#[derived]` expressions of these fields
/// may refer to: every identifier in them, and every string literal's words
/// (`format!("{count}")` names `count`).
fn mentioned_names(fields: &Fields) -> Vec<String> {
    fn walk(tokens: TokenStream, out: &mut Vec<String>) {
        for tt in tokens {
            match tt {
                TokenTree::Ident(ident) => out.push(ident.to_string()),
                TokenTree::Group(g) => walk(g.stream(), out),
                TokenTree::Literal(lit) => {
                    let text = lit.to_string();
                    if text.contains('"') {
                        out.extend(
                            text.split(|c: char| !(c.is_alphanumeric() || c == '_'))
                                .filter(|w| !w.is_empty())
                                .map(str::to_owned),
                        );
                    }
                }
                TokenTree::Punct(_) => {}
            }
        }
    }
    let mut out = Vec::new();
    for field in &fields.list {
        match &field.attrs.role {
            Role::Defaulted(expr) | Role::Derived(expr) => walk(expr.to_token_stream(), &mut out),
            Role::Stored | Role::BrokenDerived => {}
        }
    }
    out
}
