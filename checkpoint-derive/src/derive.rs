//! parse -> check -> expand, with every error collected on the way.

use proc_macro2::TokenStream;
use syn::DeriveInput;

use crate::ast::Input;
use crate::ctxt::Ctxt;
use crate::{check, expand, fallback};

pub(crate) fn derive(node: &DeriveInput) -> TokenStream {
    let mut cx = Ctxt::default();
    let input = Input::from_syn(&mut cx, node);
    check::check(&mut cx, &input);
    match cx.finish() {
        Ok(()) => expand::expand(&input),
        Err(errors) => fallback::expand(node, errors),
    }
}
