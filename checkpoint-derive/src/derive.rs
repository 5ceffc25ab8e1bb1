//! parse -> check -> expand, with every error collected on the way.

use proc_macro2::TokenStream;
use syn::DeriveInput;

use crate::ast::Input;
use crate::ctxt::Ctxt;
use crate::{check, expand, fallback};

pub(crate) fn derive(node: &DeriveInput) -> TokenStream {
    let mut cx = Ctxt::default();
    let input = Input::from_syn(&mut cx, node);
    if let Some(input) = &input {
        check::check(&mut cx, input);
    }
    match (cx.finish(), input) {
        (Ok(()), Some(input)) => expand::expand(&input),
        (Err(errors), input) => {
            // what only the compiler can check is still reported beside the
            // derive's own errors
            let checks = input.as_ref().map(expand::interior_mutability_checks);
            let mut out = fallback::expand(node, errors);
            out.extend(checks);
            out
        }
        (Ok(()), None) => unreachable!("a union is always an error"),
    }
}
