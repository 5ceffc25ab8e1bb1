//! What is emitted beside the errors when the input is rejected: impls with
//! the right signatures, so uses of the type elsewhere raise no follow-on
//! errors and the user sees only what is wrong with the type itself.

use proc_macro2::TokenStream;
use quote::quote;
use syn::DeriveInput;

pub(crate) fn expand(input: &DeriveInput, errors: syn::Error) -> TokenStream {
    let p = quote!(::checkpoint::__private);
    let ident = &input.ident;
    let name = ident.to_string();
    let errors = errors.to_compile_error();
    // an unsized type cannot have the impls' signatures (`-> Self`)
    if has_unsized_field(input) {
        return errors;
    }
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    let mut de_generics = input.generics.clone();
    de_generics.params.insert(0, syn::parse_quote!('__de));
    let (de_impl_generics, _, _) = de_generics.split_for_impl();
    quote! {
        #errors
        #[allow(unreachable_code, unused_variables)]
        const _: () = {
            #[automatically_derived]
            impl #impl_generics #p::Checkpoint for #ident #ty_generics #where_clause {
                type Context = ();
                const SCHEMA: #p::Schema = #p::Schema::new(#name, #p::Shape::Unit);
                fn write_fields(&self, _: &mut #p::FieldWriter<'_>) -> #p::Result<()> {
                    #p::core::unreachable!()
                }
                fn read_fields(_: &mut #p::FieldReader<'_>, _: &Self::Context) -> #p::Result<Self> {
                    #p::core::unreachable!()
                }
            }
            #[automatically_derived]
            impl #impl_generics #p::serde::Serialize for #ident #ty_generics #where_clause {
                fn serialize<__S>(&self, _: __S) -> #p::core::result::Result<__S::Ok, __S::Error>
                where
                    __S: #p::serde::Serializer,
                {
                    #p::core::unreachable!()
                }
            }
            #[automatically_derived]
            impl #de_impl_generics #p::serde::Deserialize<'__de> for #ident #ty_generics #where_clause {
                fn deserialize<__D>(_: __D) -> #p::core::result::Result<Self, __D::Error>
                where
                    __D: #p::serde::Deserializer<'__de>,
                {
                    #p::core::unreachable!()
                }
            }
        };
    }
}

fn has_unsized_field(input: &DeriveInput) -> bool {
    let fields = match &input.data {
        syn::Data::Struct(s) => &s.fields,
        _ => return false,
    };
    fields
        .iter()
        .any(|f| crate::types::unsized_owned(&f.ty).is_some())
}
