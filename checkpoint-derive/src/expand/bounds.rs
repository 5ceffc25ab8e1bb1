//! The where-clauses of the generated impls, inferred as serde infers its
//! own: from the serialized fields' types, skipping what holds no value.

use proc_macro2::{Ident, TokenStream, TokenTree};
use quote::{quote, ToTokens};
use syn::{GenericParam, Generics, Lifetime, Type, WherePredicate};

use super::private;
use crate::ast::Input;
use crate::types;

/// The user's generics plus what the serialized fields need:
/// `#[checkpoint(bound = "...")]` where given, otherwise
/// `Serialize + DeserializeOwned` on every type parameter a serialized field
/// holds a value of (not one inside `PhantomData` or a macro), and on every
/// associated type (`T::Assoc`) one uses.
///
/// A field that names a lifetime parameter (`Name<'a>`, maybe an alias of
/// `&'a str`) has its own type bounded too: if it borrows, the one error is
/// then the check function's, not one per use of the field.
pub(crate) fn with_bounds(input: &Input) -> Generics {
    let mut generics = with_param_bounds(input);
    let lifetimes: Vec<&Lifetime> = input.generics.lifetimes().map(|l| &l.lifetime).collect();
    if lifetimes.is_empty() || input.attrs.bound.is_some() {
        return generics;
    }
    let p = private();
    let borrowing: Vec<&Type> = input
        .stored_fields()
        .filter(|f| f.attrs.bound.is_none() && names_lifetime(f.ty, &lifetimes))
        .map(|f| f.ty)
        .collect();
    let clause = generics.make_where_clause();
    for ty in borrowing {
        clause.predicates.push(syn::parse_quote! {
            #ty: #p::serde::Serialize + #p::serde::de::DeserializeOwned
        });
    }
    generics
}

/// [`with_bounds`] without the bounds on field types: what the check
/// function needs, so that it reports a field that cannot be stored.
pub(crate) fn with_param_bounds(input: &Input) -> Generics {
    let mut generics = input.generics.clone();
    let mut predicates: Vec<WherePredicate> = Vec::new();
    for field in input.stored_fields() {
        if let Some(bound) = &field.attrs.bound {
            predicates.extend(bound.iter().cloned());
        }
    }
    match &input.attrs.bound {
        Some(bound) => predicates.extend(bound.iter().cloned()),
        None => predicates.extend(inferred(input)),
    }
    if !predicates.is_empty() {
        generics.make_where_clause().predicates.extend(predicates);
    }
    generics
}

fn inferred(input: &Input) -> Vec<WherePredicate> {
    let params: Vec<&Ident> = input
        .generics
        .params
        .iter()
        .filter_map(|param| match param {
            GenericParam::Type(t) => Some(&t.ident),
            _ => None,
        })
        .collect();
    if params.is_empty() {
        return Vec::new();
    }
    let mut used: Vec<&Ident> = Vec::new();
    // by their tokens: syn's types are not comparable without `extra-traits`
    let mut associated: Vec<(String, &Type)> = Vec::new();
    let mut associate = |ty| {
        let key = quote!(#ty).to_string();
        if !associated.iter().any(|(k, _)| *k == key) {
            associated.push((key, ty));
        }
    };
    for field in input.stored_fields().filter(|f| f.attrs.bound.is_none()) {
        types::visit_types(field.ty, &mut |ty| {
            let Type::Path(path) = ty else {
                return;
            };
            if path.qself.is_some() {
                // `<T as Trait>::Assoc`
                if mentions_any(&path.to_token_stream(), &params) {
                    associate(ty);
                }
                return;
            }
            let segments = &path.path.segments;
            let Some(first) = segments.first() else {
                return;
            };
            if path.path.leading_colon.is_some() {
                return;
            }
            if let Some(param) = params.iter().find(|p| first.ident == ***p) {
                if segments.len() == 1 {
                    if !used.contains(param) {
                        used.push(param);
                    }
                } else {
                    // `T::Assoc`: the associated type is what is stored
                    associate(ty);
                }
            }
        });
    }
    let p = private();
    let bound = quote!(#p::serde::Serialize + #p::serde::de::DeserializeOwned);
    // in declaration order, so the where-clause reads like the generics
    let used = params.iter().filter(|p| used.contains(p));
    used.map(|param| syn::parse_quote!(#param: #bound))
        .chain(
            associated
                .into_iter()
                .map(|(_, ty)| syn::parse_quote!(#ty: #bound)),
        )
        .collect()
}

/// Whether `ty` names one of `lifetimes` outside `PhantomData`.
fn names_lifetime(ty: &Type, lifetimes: &[&Lifetime]) -> bool {
    let mut found = false;
    types::visit_types(ty, &mut |ty| {
        if let Type::Path(path) = ty {
            for segment in &path.path.segments {
                if let syn::PathArguments::AngleBracketed(args) = &segment.arguments {
                    found |= args.args.iter().any(|arg| {
                        matches!(arg, syn::GenericArgument::Lifetime(l) if lifetimes.contains(&l))
                    });
                }
            }
        }
    });
    found
}

fn mentions_any(tokens: &TokenStream, params: &[&Ident]) -> bool {
    tokens.clone().into_iter().any(|tt| match tt {
        TokenTree::Ident(ident) => params.iter().any(|p| ident == **p),
        TokenTree::Group(g) => mentions_any(&g.stream(), params),
        _ => false,
    })
}

#[cfg(test)]
mod tests {
    use quote::ToTokens;
    use syn::DeriveInput;

    use crate::ast::Input;
    use crate::ctxt::Ctxt;

    fn where_clause(node: DeriveInput) -> String {
        let mut cx = Ctxt::default();
        let input = Input::from_syn(&mut cx, &node).expect("not a union");
        let generics = super::with_bounds(&input);
        let clause = generics
            .where_clause
            .map(|w| w.to_token_stream().to_string())
            .unwrap_or_default();
        clause.replace(
            "__p :: serde :: Serialize + __p :: serde :: de :: DeserializeOwned",
            "S",
        )
    }

    #[test]
    fn bounds_what_holds_a_value() {
        assert_eq!(
            where_clause(syn::parse_quote! {
                struct S<A, B, C, D, E> {
                    a: Vec<A>,
                    b: PhantomData<B>,
                    c: PhantomData<fn(C) -> C>,
                    d: mac!(D),
                    #[derived(from = Default::default())]
                    e: E,
                }
            }),
            "where A : S"
        );
    }

    #[test]
    fn bounds_associated_types_instead_of_their_parameter() {
        assert_eq!(
            where_clause(syn::parse_quote! {
                struct S<T: Trait, U: Iterator> where T: Trait {
                    assoc: T::Assoc,
                    item: Option<<U as Iterator>::Item>,
                }
            }),
            "where T : Trait , T :: Assoc : S , < U as Iterator > :: Item : S"
        );
    }

    #[test]
    fn an_explicit_bound_replaces_inference() {
        assert_eq!(
            where_clause(syn::parse_quote! {
                #[checkpoint(bound = "T: Clone")]
                struct S<T> { t: T }
            }),
            "where T : Clone"
        );
        assert_eq!(
            where_clause(syn::parse_quote! {
                struct S<T, U> { #[checkpoint(bound = "T: Clone")] t: Wrap<T>, u: U }
            }),
            "where T : Clone , U : S"
        );
    }

    #[test]
    fn fields_naming_a_lifetime_are_bounded_themselves() {
        assert_eq!(
            where_clause(syn::parse_quote! {
                struct S<'a> { name: Name<'a>, marker: PhantomData<&'a u8>, n: u8 }
            }),
            "where Name < 'a > : S"
        );
    }
}
