//! The rules a Checkpoint type must follow, one function per rule.

use syn::Attribute;

use crate::ast::{Data, Field, Input};
use crate::ctxt::Ctxt;
use crate::types;

pub(crate) fn check(cx: &mut Ctxt, input: &Input) {
    check_union(cx, input);
    check_no_serde_attrs(cx, input);
    check_derived_only_on_fields(cx, input);
    check_removed_not_kept(cx, input);
    for field in input.all_fields() {
        check_interior_mutability(cx, field);
        check_owned(cx, field);
        check_evolution_on_stored(cx, field);
        check_was_with_convert(cx, field);
    }
    check_aliases_unique(cx, input);
}

// Evolution keys say how a stored field is read back: a derived field is never
// stored, so they contradict `#[derived]`.
fn check_evolution_on_stored(cx: &mut Ctxt, field: &Field) {
    if !field.attrs.marked_derived {
        return;
    }
    let name = &field.name;
    if let Some((span, _)) = &field.attrs.default {
        cx.syn_error(syn::Error::new(
            *span,
            format_args!(
                "field `{name}` has both `#[derived(from = ...)]` and `#[checkpoint(default = ...)]`: \
                 a derived field is never stored, so it is always rebuilt; keep one"
            ),
        ));
    }
    let keys = [
        field.attrs.aliases.first().map(|a| (a.span(), "alias")),
        field.attrs.was.as_ref().map(|(s, _)| (*s, "was")),
        field.attrs.convert.as_ref().map(|(s, _)| (*s, "convert")),
    ];
    for (span, key) in keys.into_iter().flatten() {
        cx.syn_error(syn::Error::new(
            span,
            format_args!(
                "`#[checkpoint({key} = ...)]` on field `{name}` says how its stored bytes are read, \
                 but `#[derived(from = ...)]` means it is never stored; keep one"
            ),
        ));
    }
}

// A changed type needs both the old type to decode and the function that converts it.
fn check_was_with_convert(cx: &mut Ctxt, field: &Field) {
    let name = &field.name;
    match (&field.attrs.was, &field.attrs.convert) {
        (Some((span, _)), None) => cx.syn_error(syn::Error::new(
            *span,
            format_args!(
                "`#[checkpoint(was = ...)]` on field `{name}` needs `convert = PATH` too: \
                 write `#[checkpoint(was = OldType, convert = path::to::function)]` with \
                 `fn(OldType) -> NewType`"
            ),
        )),
        (None, Some((span, _))) => cx.syn_error(syn::Error::new(
            *span,
            format_args!(
                "`#[checkpoint(convert = ...)]` on field `{name}` needs `was = OldType` too: \
                 write `#[checkpoint(was = OldType, convert = path::to::function)]`"
            ),
        )),
        _ => {}
    }
}

// A field declared removed must be gone, or its checkpoints would be read twice over.
fn check_removed_not_kept(cx: &mut Ctxt, input: &Input) {
    for lit in &input.attrs.removed {
        let removed = lit.value();
        if let Some(field) = input.all_fields().find(|f| f.name == removed) {
            let what = if field.is_derived() {
                "a derived field"
            } else {
                "a field"
            };
            cx.error_spanned_by(
                lit,
                format_args!(
                    "`#[checkpoint(removed = \"{removed}\")]` names {what} `{removed}` the type still has: \
                     remove the field, or drop the attribute"
                ),
            );
        }
    }
}

// An alias must not be another field's name: a checkpoint's frame would answer to both.
fn check_aliases_unique(cx: &mut Ctxt, input: &Input) {
    let siblings: Vec<&[Field]> = match &input.data {
        Data::Struct(_, fields) => vec![fields],
        Data::Enum(variants) => variants.iter().map(|v| v.fields.as_slice()).collect(),
        Data::Union(_) => Vec::new(),
    };
    for fields in siblings {
        for field in fields {
            for alias in &field.attrs.aliases {
                let old = alias.value();
                if let Some(other) = fields.iter().find(|f| f.name == old) {
                    let whose = if other.index == field.index {
                        "its own name".to_owned()
                    } else {
                        format!("the name of field `{old}`")
                    };
                    cx.error_spanned_by(
                        alias,
                        format_args!(
                            "alias `{old}` of field `{}` is {whose}: an alias is a name the field had before",
                            field.name
                        ),
                    );
                }
            }
        }
    }
}

// A union has no field to tell which part is live, so it cannot be checkpointed.
fn check_union(cx: &mut Ctxt, input: &Input) {
    if let Data::Union(u) = &input.data {
        cx.error_spanned_by(
            u.union_token,
            format_args!(
                "`#[derive(Checkpoint)]` does not support unions: `{}` does not say which field is live; use an enum",
                input.ident
            ),
        );
    }
}

// The derive owns the serde encoding: `#[serde(...)]` could drop fields silently
// or produce bytes a non-self-describing format cannot read back.
fn check_no_serde_attrs(cx: &mut Ctxt, input: &Input) {
    let node = input.original;
    serde_attrs(cx, &node.attrs, &format!("type `{}`", node.ident));
    if let syn::Data::Enum(e) = &node.data {
        for v in &e.variants {
            serde_attrs(cx, &v.attrs, &format!("variant `{}`", v.ident));
        }
    }
    for field in input.all_fields() {
        serde_attrs(
            cx,
            &field.original.attrs,
            &format!("field `{}`", field.name),
        );
    }
    if let Data::Union(u) = &input.data {
        for f in &u.fields.named {
            serde_attrs(
                cx,
                &f.attrs,
                &format!("field `{}`", f.ident.as_ref().unwrap()),
            );
        }
    }
}

fn serde_attrs(cx: &mut Ctxt, attrs: &[Attribute], owner: &str) {
    for attr in attrs.iter().filter(|a| a.path().is_ident("serde")) {
        let mut keys = Vec::new();
        let parsed = attr.parse_nested_meta(|meta| {
            keys.push(meta.path.clone());
            if meta.input.peek(syn::Token![=]) {
                meta.value()?.parse::<syn::Expr>()?;
            } else if !meta.input.is_empty() && !meta.input.peek(syn::Token![,]) {
                meta.input.parse::<proc_macro2::TokenTree>()?;
            }
            Ok(())
        });
        if parsed.is_err() || keys.is_empty() {
            cx.error_spanned_by(
                attr,
                format_args!(
                    "`#[serde(...)]` is not supported on {owner}: `#[derive(Checkpoint)]` owns the serde encoding of Checkpoint types"
                ),
            );
            continue;
        }
        for key in keys {
            let name = key.get_ident().map(ToString::to_string).unwrap_or_default();
            cx.error_spanned_by(&key, serde_key_message(&name, owner));
        }
    }
}

/// Why `#[serde(name)]` on `owner` is rejected, and what to write instead.
pub(crate) fn serde_key_message(name: &str, owner: &str) -> String {
    let why = match name {
        "skip" | "skip_serializing" | "skip_deserializing" => {
            return format!(
                "`#[serde({name})]` on {owner} would leave it out of every checkpoint silently; \
                 mark it `#[derived(from = EXPR)]` to rebuild it on restore"
            )
        }
        "skip_serializing_if" => {
            "omitting a value makes the bytes unreadable in non-self-describing formats like postcard"
        }
        "flatten" => "flattened fields cannot be read back from non-self-describing formats like postcard",
        "default" => "a default silently replaces a value missing from a checkpoint",
        "rename" | "rename_all" | "alias" => {
            "checkpoints record fields and variants by their Rust names; rename the item itself"
        }
        "untagged" | "tag" | "content" => {
            "the enum's encoding must name its variant in every format"
        }
        "with" | "serialize_with" | "deserialize_with" | "from" | "try_from" | "into" => {
            "implement `Serialize` and `Deserialize` on the field's type instead"
        }
        "bound" => "bounds are inferred from the serialized fields",
        _ => "the derive owns the serde encoding of Checkpoint types",
    };
    format!("`#[serde({name})]` is not supported on {owner}: {why}")
}

// `#[derived]` says how to rebuild one field, so it belongs on fields only.
fn check_derived_only_on_fields(cx: &mut Ctxt, input: &Input) {
    let node = input.original;
    let mut misplaced: Vec<&Attribute> = node.attrs.iter().collect();
    if let syn::Data::Enum(e) = &node.data {
        misplaced.extend(e.variants.iter().flat_map(|v| &v.attrs));
    }
    for attr in misplaced
        .into_iter()
        .filter(|a| a.path().is_ident("derived"))
    {
        cx.error_spanned_by(
            attr,
            "`#[derived(from = ...)]` goes on a field: it says how to rebuild that field on restore",
        );
    }
}

// A serialized field with interior mutability would have its parts captured
// at different instants, unless the user says the field is consistent.
fn check_interior_mutability(cx: &mut Ctxt, field: &Field) {
    if field.attrs.marked_derived || field.attrs.allow_interior_mutability.is_some() {
        return;
    }
    if let Some(found) = types::interior_mutability(field.ty) {
        cx.syn_error(syn::Error::new(
            found.span(),
            format_args!(
                "field `{}` has interior mutability (`{found}`): its parts could be captured at different instants; \
                 mark it `#[derived(from = ...)]` to rebuild it on restore, or `#[checkpoint(allow_interior_mutability)]` \
                 if every checkpoint is taken while nothing else can change it",
                field.name
            ),
        ));
    }
}

// A serialized field must own its data: a borrow cannot be restored from bytes.
fn check_owned(cx: &mut Ctxt, field: &Field) {
    if field.attrs.marked_derived {
        return;
    }
    if let Some(reference) = types::borrowed(field.ty) {
        cx.error_spanned_by(
            reference,
            format_args!(
                "field `{}` borrows (`{}`): a restored value cannot borrow from the checkpoint; \
                 store an owned type (`String`, `Vec<T>`, `Box<T>`, `Cow<'a, T>`) or mark it `#[derived(from = ...)]`",
                field.name,
                types::schema_name(&syn::Type::Reference(reference.clone())),
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use syn::{parse_quote, DeriveInput};

    fn errors(node: DeriveInput) -> Vec<String> {
        let mut cx = Ctxt::default();
        let input = Input::from_syn(&mut cx, &node);
        check(&mut cx, &input);
        match cx.finish() {
            Ok(()) => Vec::new(),
            Err(e) => e.into_iter().map(|e| e.to_string()).collect(),
        }
    }

    #[test]
    fn accepts_plain_struct() {
        assert!(errors(parse_quote! {
            struct S { a: u64, #[derived(from = a + 1)] b: u64 }
        })
        .is_empty());
    }

    #[test]
    fn rejects_borrowed_serialized_fields() {
        let e = errors(parse_quote! {
            struct S<'a> { a: &'a str, #[derived(from = "")] b: &'static str, c: PhantomData<&'a u8> }
        });
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(e[0].starts_with("field `a` borrows (`&'a str`)"));
    }

    #[test]
    fn rejects_union() {
        let e = errors(parse_quote!(union U { a: u8 }));
        assert_eq!(e.len(), 1);
        assert!(e[0].contains("does not support unions"));
    }

    #[test]
    fn interior_mutability_unless_derived_or_allowed() {
        let e = errors(parse_quote! {
            struct S {
                a: Vec<std::sync::atomic::AtomicU64>,
                #[derived(from = Default::default())] b: Mutex<u8>,
                #[checkpoint(allow_interior_mutability)] c: RefCell<u8>,
                d: (u8, Cell<u8>),
            }
        });
        assert_eq!(e.len(), 2, "{e:?}");
        assert!(e[0].starts_with("field `a` has interior mutability (`AtomicU64`)"));
        assert!(e[1].starts_with("field `d` has interior mutability (`Cell`)"));
    }

    #[test]
    fn every_serde_attr_is_rejected() {
        let e = errors(parse_quote! {
            #[serde(rename_all = "camelCase")]
            enum E {
                #[serde(rename = "b")] A { #[serde(skip, default)] x: u8 },
            }
        });
        assert_eq!(e.len(), 4, "{e:?}");
        assert!(e[0].contains("on type `E`"));
        assert!(e[1].contains("on variant `A`"));
        assert!(e[2].contains("`#[serde(skip)]` on field `x`"));
        assert!(e[2].contains("`#[derived(from = EXPR)]`"));
        assert!(e[3].contains("`#[serde(default)]` is not supported"));
    }

    #[test]
    fn derived_on_container_is_misplaced() {
        let e = errors(parse_quote!(
            #[derived(from = 1)]
            struct S;
        ));
        assert_eq!(e.len(), 1);
        assert!(e[0].contains("goes on a field"));
    }
}
