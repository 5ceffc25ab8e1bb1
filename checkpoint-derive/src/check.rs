//! The rules a Checkpoint type must follow, one function per rule.

use syn::Attribute;

use crate::ast::{Field, Input};
use crate::attr::Role;
use crate::ctxt::Ctxt;
use crate::types;

pub(crate) fn check(cx: &mut Ctxt, input: &Input) {
    check_no_serde_attrs(cx, input);
    check_derived_only_on_fields(cx, input);
    check_removed_not_kept(cx, input);
    for field in input.all_fields() {
        check_interior_mutability(cx, field);
        check_owned(cx, field);
        check_sized(cx, field);
        check_evolution_on_stored(cx, field);
        check_was_with_convert(cx, field);
    }
    check_aliases_unique(cx, input);
}

// Evolution keys say how a stored field is read back: a derived field is never
// stored, so they contradict `#[derived]`.
fn check_evolution_on_stored(cx: &mut Ctxt, field: &Field) {
    if field.is_stored() {
        return;
    }
    let name = &field.name;
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
            let what = if !field.is_stored() {
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
    for fields in input.field_lists() {
        let fields = &fields.list;
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

// The derive owns the serde encoding: `#[serde(...)]` could drop fields silently
// or produce bytes a non-self-describing format cannot read back.
fn check_no_serde_attrs(cx: &mut Ctxt, input: &Input) {
    let node = input.original;
    serde_attrs(cx, &node.attrs, Owner::Type, &node.ident.to_string());
    if let syn::Data::Enum(e) = &node.data {
        for v in &e.variants {
            serde_attrs(cx, &v.attrs, Owner::Variant, &v.ident.to_string());
        }
    }
    for field in input.all_fields() {
        serde_attrs(cx, &field.original.attrs, Owner::Field, &field.name);
    }
}

/// What a `#[serde(...)]` attribute is on.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Owner {
    Type,
    Variant,
    Field,
}

impl Owner {
    fn describe(self, name: &str) -> String {
        let what = match self {
            Owner::Type => "type",
            Owner::Variant => "variant",
            Owner::Field => "field",
        };
        format!("{what} `{name}`")
    }
}

fn serde_attrs(cx: &mut Ctxt, attrs: &[Attribute], owner: Owner, name: &str) {
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
                    "`#[serde(...)]` is not supported on {}: `#[derive(Checkpoint)]` owns the serde encoding of Checkpoint types; remove it",
                    owner.describe(name)
                ),
            );
            continue;
        }
        for key in keys {
            let key_name = key.get_ident().map(ToString::to_string).unwrap_or_default();
            cx.error_spanned_by(&key, serde_key_message(&key_name, owner, name));
        }
    }
}

/// Why `#[serde(key)]` on `owner` is rejected, and what to write instead.
pub(crate) fn serde_key_message(key: &str, owner: Owner, name: &str) -> String {
    let on = owner.describe(name);
    let fix = match (key, owner) {
        ("skip" | "skip_serializing" | "skip_deserializing", Owner::Field) => {
            return format!(
                "`#[serde({key})]` on {on} would leave it out of every checkpoint silently; \
                 mark it `#[derived(from = EXPR)]` to rebuild it on restore"
            )
        }
        ("skip" | "skip_serializing" | "skip_deserializing", Owner::Variant) => {
            "every variant is checkpointed, so remove it; mark a field of the variant \
             `#[derived(from = EXPR)]` to rebuild it instead of storing it"
                .to_owned()
        }
        ("default", Owner::Field) => format!(
            "write `#[checkpoint(default = EXPR)]` to fill field `{name}` when a checkpoint lacks it"
        ),
        ("default", _) => {
            "write `#[checkpoint(default = EXPR)]` on each field that older checkpoints lack".to_owned()
        }
        ("rename" | "alias", Owner::Field) => format!(
            "checkpoints record fields by their Rust names: rename the field itself, and add \
             `#[checkpoint(alias = \"old_name\")]` to read checkpoints that hold field `{name}` under an old name"
        ),
        ("rename", Owner::Type) => {
            "write `#[checkpoint(name = \"...\")]` for the name the schema records".to_owned()
        }
        ("rename" | "alias", _) => {
            "checkpoints record variants by their Rust names: rename the variant itself".to_owned()
        }
        ("rename_all", _) => {
            "checkpoints record fields and variants by their Rust names: remove it; a renamed \
             field keeps older checkpoints readable with `#[checkpoint(alias = \"old_name\")]`"
                .to_owned()
        }
        ("bound", _) => "write `#[checkpoint(bound = \"T: Trait\")]` instead".to_owned(),
        ("borrow", _) => {
            "remove it: a restored value owns its data, so a `Cow<'a, str>` field is restored \
             as `Cow::Owned`"
                .to_owned()
        }
        ("deny_unknown_fields", _) => {
            "remove it: a checkpoint holding a field the type lacks is already refused; \
             declare a field dropped on purpose with `#[checkpoint(removed = \"name\")]`"
                .to_owned()
        }
        ("other", _) => {
            "remove it: a checkpoint holding a variant the enum lacks is refused, never read as another variant"
                .to_owned()
        }
        ("transparent", _) => {
            "remove it: a Checkpoint type is encoded with its field names; to encode a wrapper as \
             its inner value, implement `Serialize` and `Deserialize` by hand and store it in a field"
                .to_owned()
        }
        ("remote", _) => {
            "remove it: derive `Checkpoint` on a type of your own, and store another crate's type \
             in a field whose type implements `Serialize` and `Deserialize`"
                .to_owned()
        }
        ("crate", _) => {
            "remove it: the derive reaches serde through the `checkpoint` crate".to_owned()
        }
        ("skip_serializing_if", _) => {
            "omitting a value makes the bytes unreadable in non-self-describing formats like postcard; remove it"
                .to_owned()
        }
        ("flatten", _) => {
            "flattened fields cannot be read back from non-self-describing formats like postcard; \
             store the inner struct as a field"
                .to_owned()
        }
        ("untagged" | "tag" | "content", _) => {
            "the enum's encoding must name its variant in every format; remove it".to_owned()
        }
        ("with" | "serialize_with" | "deserialize_with" | "from" | "try_from" | "into", _) => {
            "implement `Serialize` and `Deserialize` on the field's type instead".to_owned()
        }
        _ => "the derive owns the serde encoding of Checkpoint types; remove it".to_owned(),
    };
    format!("`#[serde({key})]` is not supported on {on}: {fix}")
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
// at different instants, unless the user says the field is consistent. Here:
// the types written with a path that names them exactly (`std::sync::Mutex`);
// the expansion asks the compiler about the others (a bare `Mutex`, aliases).
fn check_interior_mutability(cx: &mut Ctxt, field: &Field) {
    if !field.is_stored() || field.attrs.allow_interior_mutability.is_some() {
        return;
    }
    if let Some(found) = types::interior_mutability(field.ty) {
        let name = types::path_name(found);
        cx.error_spanned_by(
            found,
            format_args!(
                "field `{}` has interior mutability (`{name}`): its parts could be captured at different instants; \
                 mark it `#[derived(from = ...)]` to rebuild it on restore, or `#[checkpoint(allow_interior_mutability)]` \
                 if every checkpoint is taken while nothing else can change it",
                field.name
            ),
        );
    }
}

// A serialized field must own its data: a borrow cannot be restored from bytes.
fn check_owned(cx: &mut Ctxt, field: &Field) {
    if !field.is_stored() {
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

// A restored value is built from its fields' values, so each must have a size.
fn check_sized(cx: &mut Ctxt, field: &Field) {
    if matches!(field.attrs.role, Role::BrokenDerived) {
        return;
    }
    if let Some(owned) = types::unsized_owned(field.ty) {
        cx.error_spanned_by(
            field.ty,
            format_args!(
                "field `{}` has the unsized type `{}`: a restored value is built from each field's value; \
                 store `{owned}` instead",
                field.name,
                types::schema_name(field.ty),
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
        if let Some(input) = Input::from_syn(&mut cx, &node) {
            check(&mut cx, &input);
        }
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
                #[derived(from = Default::default())] b: std::sync::Mutex<u8>,
                #[checkpoint(allow_interior_mutability)] c: core::cell::RefCell<u8>,
                d: (u8, ::std::cell::Cell<u8>),
                e: parking_lot::Mutex<u8>,
                // bare names and aliases are the compiler's to resolve
                f: Cell<u8>,
            }
        });
        assert_eq!(e.len(), 3, "{e:?}");
        assert!(
            e[0].starts_with("field `a` has interior mutability (`std::sync::atomic::AtomicU64`)")
        );
        assert!(e[1].starts_with("field `d` has interior mutability (`::std::cell::Cell`)"));
        assert!(e[2].starts_with("field `e` has interior mutability (`parking_lot::Mutex`)"));
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
        assert!(e[1].contains("rename the variant itself"));
        assert!(e[2].contains("`#[serde(skip)]` on field `x`"));
        assert!(e[2].contains("`#[derived(from = EXPR)]`"));
        assert!(e[3].contains("`#[serde(default)]` is not supported"));
        assert!(e[3].contains("`#[checkpoint(default = EXPR)]`"));
    }

    #[test]
    fn serde_skip_on_a_variant_says_to_remove_it() {
        let e = errors(parse_quote! {
            enum E { #[serde(skip)] A, B }
        });
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(
            e[0].contains("every variant is checkpointed, so remove it"),
            "{e:?}"
        );
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
