//! What the compiler checks for the derive: each stored field's type is
//! serializable, has no interior mutability, and (in a packed struct) is
//! `Copy`, each reported once, naming the field.

use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::GenericParam;

use super::{bounds, import_private, private};
use crate::ast::{Data, Field, Input};
use crate::types;

/// Type parameters named after the fields, for the messages of the checks:
/// rustc prints a type parameter by its bare name, where a marker type would
/// be printed with its path as soon as two types share a field name. A
/// field named like a type its struct mentions (`u8: u8`) would shadow it,
/// so such a field's marker is prefixed.
struct Markers {
    taken: Vec<String>,
}

impl Markers {
    fn new(input: &Input) -> Self {
        let mut taken: Vec<String> = input
            .generics
            .params
            .iter()
            .map(|param| match param {
                GenericParam::Type(t) => t.ident.to_string(),
                GenericParam::Lifetime(l) => l.lifetime.ident.to_string(),
                GenericParam::Const(c) => c.ident.to_string(),
            })
            .collect();
        for field in input.all_fields() {
            types::idents(field.ty, &mut taken);
        }
        Markers { taken }
    }

    fn of(&self, field: &Field) -> Ident {
        if self.taken.contains(&field.binding.to_string()) {
            format_ident!("__field_{}", field.binding)
        } else {
            field.binding.clone()
        }
    }
}

/// `fn __checkpoint_check<started>() where ... { assert_field::<started, Instant>(); }`
/// in the type's inherent impl:
/// the one place a stored field's type is required to be serializable and
/// to have no interior mutability that the compiler can see.
pub(super) fn check_fields(input: &Input) -> TokenStream {
    check_function(input, true)
}

/// [`check_fields`] without the serializability checks.
pub(super) fn interior_mutability_only(input: &Input) -> TokenStream {
    let function = check_function(input, false);
    let import = import_private();
    let ident = input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    quote! {
        const _: () = {
            #import
            #[automatically_derived]
            impl #impl_generics #ident #ty_generics #where_clause {
                #function
            }
        };
    }
}

fn check_function(input: &Input, serializable: bool) -> TokenStream {
    let p = private();
    let markers = Markers::new(input);
    let mut params: Vec<Ident> = Vec::new();
    let mut asserts: Vec<TokenStream> = Vec::new();
    for field in input.stored_fields() {
        let marker = markers.of(field);
        if !params.contains(&marker) {
            params.push(marker.clone());
        }
        let ty = field.ty;
        if serializable {
            asserts.push(quote_spanned!(ty.span()=> #p::assert_field::<#marker, #ty>();));
        }
        if field.attrs.allow_interior_mutability.is_none() {
            asserts.extend(interior_mutability(field, &marker));
        }
    }
    // the impl around it has the user's generics alone
    let bounded = bounds::with_param_bounds(input);
    let where_clause = &bounded.where_clause;
    let uses = quote!(use #p::{Mutable as _, Immutable as _, StdType as _, OtherType as _};);
    quote! {
        #[doc(hidden)]
        #[allow(non_camel_case_types, non_snake_case, dead_code)]
        fn __checkpoint_check<#(#params),*>() #where_clause {
            #uses
            #(#asserts)*
        }
    }
}

/// Asks the compiler whether the field's type is one of std's
/// interior-mutable types or a std container of one (through aliases too),
/// and whether each bare name like `Cell<u8>` in it is std's type or
/// another that only shares its name.
fn interior_mutability(field: &Field, marker: &Ident) -> Vec<TokenStream> {
    let p = private();
    if types::interior_mutability(field.ty).is_some() {
        // rejected by name already
        return Vec::new();
    }
    let bare = types::bare_interior_mutability(field.ty);
    if bare.is_empty() {
        let ty = field.ty;
        return vec![quote_spanned!(ty.span()=>
            #p::assert_captured_at_once::<#marker, _>(
                (&#p::MutabilityProbe::<#ty>::new()).mutability(),
            );
        )];
    }
    bare.into_iter()
        .map(|ty| {
            quote_spanned!(ty.span()=>
                #p::assert_captured_at_once::<#marker, _>(
                    (&#p::MutabilityProbe::<#ty>::new()).mutability(),
                );
                #p::assert_std_type::<#marker, _>(
                    (&#p::MutabilityProbe::<#ty>::new()).std_type(),
                );
            )
        })
        .collect()
}

/// In a packed struct, the fields cannot be borrowed where they lie:
/// `fn __checkpoint_copy<a, b>(&self) -> (u8, u32) { ({ self.a }, { self.b }) }`
/// copies the stored ones out, and is the one place that requires them to
/// be `Copy` (its body failing to type-check, the compiler reports no
/// move out of a borrow beside it).
pub(super) fn packed_copy(input: &Input) -> TokenStream {
    let Data::Struct(s) = &input.data else {
        return TokenStream::new();
    };
    if !s.packed || s.fields.stored().next().is_none() {
        return TokenStream::new();
    }
    let p = private();
    let markers = Markers::new(input);
    let params: Vec<Ident> = s.fields.stored().map(|f| markers.of(f)).collect();
    let types: Vec<&syn::Type> = s.fields.stored().map(|f| f.ty).collect();
    let asserts = s.fields.stored().zip(&params).map(|(f, marker)| {
        let ty = f.ty;
        quote_spanned!(ty.span()=> #p::assert_copy::<#marker, #ty>();)
    });
    let copies = s.fields.stored().map(|f| {
        let member = &f.member;
        quote!({ self.#member })
    });
    quote! {
        #[doc(hidden)]
        #[allow(non_camel_case_types, non_snake_case)]
        fn __checkpoint_copy<#(#params),*>(&self) -> (#(#types,)*) {
            #(#asserts)*
            (#(#copies,)*)
        }
    }
}
