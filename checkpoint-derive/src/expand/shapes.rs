//! `field_shapes` and `old_field_shapes`: the deep shape of each stored
//! field's type, and of each former type named by `was`.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;

use super::{codec, private, use_codecs, Case};

pub(super) fn methods(cases: &[Case]) -> TokenStream {
    let p = private();
    let mut shapes = Vec::new();
    let mut old = Vec::new();
    for case in cases {
        for f in case.fields.stored() {
            let key = case.key(f);
            let codec = codec(f);
            shapes.push(quote!((#key, #codec.shape())));
            if let Some((_, was)) = &f.attrs.was {
                old.push(quote_spanned!(was.span()=> (#key, #p::TypeShape::of::<#was>())));
            }
        }
    }
    let use_codecs = use_codecs();
    let old = (!old.is_empty()).then(|| {
        quote! {
            fn old_field_shapes() -> #p::std::vec::Vec<(&'static str, #p::TypeShape)> {
                #p::std::vec![#(#old),*]
            }
        }
    });
    quote! {
        fn field_shapes() -> #p::std::vec::Vec<(&'static str, #p::TypeShape)> {
            #use_codecs
            #p::std::vec![#(#shapes),*]
        }
        #old
    }
}
