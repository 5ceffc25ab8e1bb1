//! What the derive reads from a field's type: its schema name, the
//! interior-mutability types it mentions, whether it borrows or is unsized.

use proc_macro2::{TokenStream, TokenTree};
use quote::ToTokens;
use syn::{GenericArgument, PathArguments, ReturnType, Type, TypeParamBound};

/// std's types whose values change behind a shared reference, by the name
/// they are usually imported under.
const STD_INTERIOR_MUTABILITY: &[&str] = &[
    "Mutex",
    "RwLock",
    "RefCell",
    "Cell",
    "OnceCell",
    "OnceLock",
    "LazyCell",
    "LazyLock",
    "UnsafeCell",
    "AtomicBool",
    "AtomicI8",
    "AtomicI16",
    "AtomicI32",
    "AtomicI64",
    "AtomicIsize",
    "AtomicU8",
    "AtomicU16",
    "AtomicU32",
    "AtomicU64",
    "AtomicUsize",
    "AtomicPtr",
];

/// Crates (and modules) whose locks, cells and atomics are used in place of
/// std's; a path through one of them to a name below is interior mutability.
const INTERIOR_MUTABILITY_CRATES: &[&str] = &[
    "std",
    "core",
    "alloc",
    "parking_lot",
    "lock_api",
    "spin",
    "once_cell",
    "portable_atomic",
    "crossbeam_utils",
    "atomic_refcell",
    "tokio",
    "async_std",
    "futures",
];

/// Names of other crates' interior-mutable types, beyond std's.
const OTHER_INTERIOR_MUTABILITY: &[&str] = &[
    "ReentrantMutex",
    "FairMutex",
    "Lazy",
    "AtomicCell",
    "AtomicRefCell",
    "AtomicF32",
    "AtomicF64",
    "AtomicI128",
    "AtomicU128",
];

/// The type as the schema records it: every path trimmed to its last
/// segment, one canonical spacing (`Vec<T>`, `(u64, String)`, `[u8; 32]`).
pub(crate) fn schema_name(ty: &Type) -> String {
    let mut out = String::new();
    write_type(&mut out, ty);
    out
}

fn write_type(out: &mut String, ty: &Type) {
    match ty {
        Type::Path(p) => {
            if let Some(q) = &p.qself {
                out.push('<');
                write_type(out, &q.ty);
                if q.position > 0 {
                    out.push_str(" as ");
                    write_path(out, p.path.segments.iter().take(q.position));
                }
                out.push_str(">::");
                write_full_path(out, p.path.segments.iter().skip(q.position));
            } else {
                write_path(out, p.path.segments.iter());
            }
        }
        Type::Reference(r) => {
            out.push('&');
            if let Some(l) = &r.lifetime {
                out.push_str(&l.to_string());
                out.push(' ');
            }
            if r.mutability.is_some() {
                out.push_str("mut ");
            }
            write_type(out, &r.elem);
        }
        Type::Ptr(p) => {
            out.push_str(match p.mutability {
                syn::PointerMutability::Mut(_) => "*mut ",
                _ => "*const ",
            });
            write_type(out, &p.elem);
        }
        Type::Array(a) => {
            out.push('[');
            write_type(out, &a.elem);
            out.push_str("; ");
            out.push_str(&tokens_compact(a.len.to_token_stream()));
            out.push(']');
        }
        Type::Slice(s) => {
            out.push('[');
            write_type(out, &s.elem);
            out.push(']');
        }
        Type::Tuple(t) => {
            out.push('(');
            write_list(out, t.elems.iter());
            if t.elems.len() == 1 {
                out.push(',');
            }
            out.push(')');
        }
        Type::Paren(p) => write_type(out, &p.elem),
        Type::Group(g) => write_type(out, &g.elem),
        Type::Never(_) => out.push('!'),
        Type::Infer(_) => out.push('_'),
        Type::TraitObject(t) => {
            out.push_str("dyn ");
            write_bounds(out, t.bounds.iter());
        }
        Type::ImplTrait(t) => {
            out.push_str("impl ");
            write_bounds(out, t.bounds.iter());
        }
        Type::FnPtr(f) => {
            if f.unsafety.is_some() {
                out.push_str("unsafe ");
            }
            out.push_str("fn(");
            let inputs: Vec<&Type> = f.inputs.iter().map(|a| &a.ty).collect();
            write_list(out, inputs.into_iter());
            out.push(')');
            write_return(out, &f.output);
        }
        other => out.push_str(&tokens_compact(other.to_token_stream())),
    }
}

fn write_list<'a>(out: &mut String, types: impl Iterator<Item = &'a Type>) {
    for (i, ty) in types.enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        write_type(out, ty);
    }
}

fn write_return(out: &mut String, output: &ReturnType) {
    if let ReturnType::Type(_, ty) = output {
        out.push_str(" -> ");
        write_type(out, ty);
    }
}

fn write_bounds<'a>(out: &mut String, bounds: impl Iterator<Item = &'a TypeParamBound>) {
    for (i, bound) in bounds.enumerate() {
        if i > 0 {
            out.push_str(" + ");
        }
        match bound {
            TypeParamBound::Trait(t) => write_path(out, t.path.segments.iter()),
            TypeParamBound::Lifetime(l) => out.push_str(&l.to_string()),
            other => out.push_str(&tokens_compact(other.to_token_stream())),
        }
    }
}

/// A path trimmed to its last segment.
fn write_path<'a>(out: &mut String, segments: impl Iterator<Item = &'a syn::PathSegment>) {
    if let Some(last) = segments.last() {
        write_segment(out, last);
    }
}

/// A path kept whole (the associated part of `<T as Trait>::Assoc`).
fn write_full_path<'a>(out: &mut String, segments: impl Iterator<Item = &'a syn::PathSegment>) {
    for (i, segment) in segments.enumerate() {
        if i > 0 {
            out.push_str("::");
        }
        write_segment(out, segment);
    }
}

fn write_segment(out: &mut String, segment: &syn::PathSegment) {
    out.push_str(&segment.ident.to_string());
    match &segment.arguments {
        PathArguments::None => {}
        PathArguments::AngleBracketed(args) => {
            out.push('<');
            for (i, arg) in args.args.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                match arg {
                    GenericArgument::Type(ty) => write_type(out, ty),
                    GenericArgument::Lifetime(l) => out.push_str(&l.to_string()),
                    GenericArgument::AssocType(a) => {
                        out.push_str(&a.ident.to_string());
                        out.push_str(" = ");
                        write_type(out, &a.ty);
                    }
                    other => out.push_str(&tokens_compact(other.to_token_stream())),
                }
            }
            out.push('>');
        }
        PathArguments::Parenthesized(args) => {
            out.push('(');
            write_list(out, args.inputs.iter().map(|a| &a.ty));
            out.push(')');
            write_return(out, &args.output);
        }
    }
}

/// Tokens printed without the spaces `TokenStream`'s `Display` puts between
/// them, except between two words (`N + 1` stays readable as `N+1`).
fn tokens_compact(tokens: TokenStream) -> String {
    let mut out = String::new();
    let mut last_word = false;
    for tt in tokens {
        let word = matches!(tt, TokenTree::Ident(_) | TokenTree::Literal(_));
        if word && last_word {
            out.push(' ');
        }
        match &tt {
            TokenTree::Group(g) => {
                let (open, close) = match g.delimiter() {
                    proc_macro2::Delimiter::Parenthesis => ("(", ")"),
                    proc_macro2::Delimiter::Brace => ("{", "}"),
                    proc_macro2::Delimiter::Bracket => ("[", "]"),
                    proc_macro2::Delimiter::None => ("", ""),
                };
                out.push_str(open);
                out.push_str(&tokens_compact(g.stream()));
                out.push_str(close);
            }
            other => out.push_str(&other.to_string()),
        }
        last_word = word;
    }
    out
}

/// The first path in `ty` that names an interior-mutable type exactly:
/// through std (`std::sync::Mutex`, `core::cell::Cell`) or a crate known for
/// such types (`parking_lot::RwLock`). A bare `Mutex` may be anyone's: see
/// [`bare_interior_mutability`].
pub(crate) fn interior_mutability(ty: &Type) -> Option<&syn::Path> {
    let mut found = None;
    visit_paths(ty, &mut |path| {
        let mut idents = path.segments.iter().map(|s| &s.ident);
        let (Some(first), Some(last)) = (idents.next(), path.segments.last()) else {
            return;
        };
        let name = last.ident.to_string();
        if found.is_none()
            && path.segments.len() > 1
            && INTERIOR_MUTABILITY_CRATES.iter().any(|c| first == c)
            && (STD_INTERIOR_MUTABILITY.contains(&name.as_str())
                || OTHER_INTERIOR_MUTABILITY.contains(&name.as_str()))
        {
            found = Some(path);
        }
    });
    found
}

/// Every type in `ty` written as a bare name of one of std's interior-mutable
/// types (`Cell<u8>`, `AtomicU64`): std's, or a type of the user's that has
/// the same name. Only the compiler can tell which.
pub(crate) fn bare_interior_mutability(ty: &Type) -> Vec<&Type> {
    let mut found = Vec::new();
    visit_types(ty, &mut |ty| {
        if let Type::Path(p) = ty {
            if p.qself.is_none() && p.path.leading_colon.is_none() && p.path.segments.len() == 1 {
                let name = p.path.segments[0].ident.to_string();
                if STD_INTERIOR_MUTABILITY.contains(&name.as_str()) {
                    found.push(ty);
                }
            }
        }
    });
    found
}

/// A path as written: `std::sync::Mutex`.
pub(crate) fn path_name(path: &syn::Path) -> String {
    let mut out = String::new();
    if path.leading_colon.is_some() {
        out.push_str("::");
    }
    let idents: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
    out.push_str(&idents.join("::"));
    out
}

/// For an unsized field type (`[T]`, `str`, `dyn Trait`), the sized type
/// to store instead.
pub(crate) fn unsized_owned(ty: &Type) -> Option<String> {
    match ty {
        Type::Slice(s) => Some(format!("Vec<{}>", schema_name(&s.elem))),
        Type::TraitObject(_) => Some(format!("Box<{}>", schema_name(ty))),
        Type::Path(p) if p.qself.is_none() && p.path.is_ident("str") => Some("String".to_owned()),
        Type::Paren(p) => unsized_owned(&p.elem),
        Type::Group(g) => unsized_owned(&g.elem),
        _ => None,
    }
}

/// Calls `f` on `ty` and every type inside it, except inside `PhantomData`
/// (which holds no value) and macros (which the derive cannot read).
pub(crate) fn visit_types<'a>(ty: &'a Type, f: &mut dyn FnMut(&'a Type)) {
    f(ty);
    match ty {
        // `<T as Trait>::Assoc` is one type: what `T` is does not matter
        Type::Path(p) if p.qself.is_some() => {}
        Type::Path(p) => {
            if p.path
                .segments
                .last()
                .is_some_and(|s| s.ident == "PhantomData")
            {
                return;
            }
            for segment in &p.path.segments {
                visit_arguments(&segment.arguments, f);
            }
        }
        Type::Reference(r) => visit_types(&r.elem, f),
        Type::Ptr(r) => visit_types(&r.elem, f),
        Type::Array(a) => visit_types(&a.elem, f),
        Type::Slice(s) => visit_types(&s.elem, f),
        Type::Tuple(t) => t.elems.iter().for_each(|t| visit_types(t, f)),
        Type::Paren(p) => visit_types(&p.elem, f),
        Type::Group(g) => visit_types(&g.elem, f),
        Type::FnPtr(fp) => {
            fp.inputs.iter().for_each(|a| visit_types(&a.ty, f));
            if let ReturnType::Type(_, ty) = &fp.output {
                visit_types(ty, f);
            }
        }
        Type::TraitObject(t) => visit_bounds(t.bounds.iter(), f),
        Type::ImplTrait(t) => visit_bounds(t.bounds.iter(), f),
        _ => {}
    }
}

fn visit_arguments<'a>(arguments: &'a PathArguments, f: &mut dyn FnMut(&'a Type)) {
    match arguments {
        PathArguments::None => {}
        PathArguments::AngleBracketed(args) => {
            for arg in &args.args {
                match arg {
                    GenericArgument::Type(ty) => visit_types(ty, f),
                    GenericArgument::AssocType(a) => visit_types(&a.ty, f),
                    _ => {}
                }
            }
        }
        PathArguments::Parenthesized(args) => {
            args.inputs.iter().for_each(|a| visit_types(&a.ty, f));
            if let ReturnType::Type(_, ty) = &args.output {
                visit_types(ty, f);
            }
        }
    }
}

fn visit_bounds<'a>(bounds: impl Iterator<Item = &'a TypeParamBound>, f: &mut dyn FnMut(&'a Type)) {
    for bound in bounds {
        if let TypeParamBound::Trait(t) = bound {
            for segment in &t.path.segments {
                visit_arguments(&segment.arguments, f);
            }
        }
    }
}

/// Calls `f` on the path of every path type in `ty`, as [`visit_types`].
fn visit_paths<'a>(ty: &'a Type, f: &mut dyn FnMut(&'a syn::Path)) {
    visit_types(ty, &mut |ty| {
        if let Type::Path(p) = ty {
            f(&p.path);
        }
    });
}

/// The first reference type in `ty` outside `PhantomData`: a value that
/// borrows cannot be restored from bytes (it is not `DeserializeOwned`).
pub(crate) fn borrowed(ty: &Type) -> Option<&syn::TypeReference> {
    match ty {
        Type::Reference(r) => Some(r),
        Type::Path(p) => {
            let last = p.path.segments.last()?;
            if last.ident == "PhantomData" {
                return None;
            }
            p.path
                .segments
                .iter()
                .find_map(|segment| match &segment.arguments {
                    PathArguments::AngleBracketed(args) => {
                        args.args.iter().find_map(|arg| match arg {
                            GenericArgument::Type(ty) => borrowed(ty),
                            _ => None,
                        })
                    }
                    _ => None,
                })
        }
        Type::Tuple(t) => t.elems.iter().find_map(borrowed),
        Type::Array(a) => borrowed(&a.elem),
        Type::Slice(s) => borrowed(&s.elem),
        Type::Paren(p) => borrowed(&p.elem),
        Type::Group(g) => borrowed(&g.elem),
        _ => None,
    }
}

/// Adds every identifier `ty` mentions to `out`.
pub(crate) fn idents(ty: &Type, out: &mut Vec<String>) {
    fn walk(tokens: TokenStream, out: &mut Vec<String>) {
        for tt in tokens {
            match tt {
                TokenTree::Ident(ident) => out.push(ident.to_string()),
                TokenTree::Group(g) => walk(g.stream(), out),
                _ => {}
            }
        }
    }
    walk(ty.to_token_stream(), out);
}

#[cfg(test)]
mod tests {
    use super::*;
    use syn::parse_quote;

    fn name(ty: Type) -> String {
        schema_name(&ty)
    }

    #[test]
    fn trims_paths_and_spacing() {
        assert_eq!(
            name(parse_quote!(std::collections::HashMap<u64, usize>)),
            "HashMap<u64, usize>"
        );
        assert_eq!(name(parse_quote!(Vec<T>)), "Vec<T>");
        assert_eq!(
            name(parse_quote!((u64, ::std::string::String))),
            "(u64, String)"
        );
        assert_eq!(name(parse_quote!([u8; 32])), "[u8; 32]");
        assert_eq!(name(parse_quote!(&'a str)), "&'a str");
        assert_eq!(name(parse_quote!(&mut [T])), "&mut [T]");
        assert_eq!(
            name(parse_quote!(Option<Box<crate::a::T>>)),
            "Option<Box<T>>"
        );
        assert_eq!(
            name(parse_quote!(std::borrow::Cow<'a, str>)),
            "Cow<'a, str>"
        );
        assert_eq!(name(parse_quote!((u8,))), "(u8,)");
        assert_eq!(name(parse_quote!(())), "()");
        assert_eq!(name(parse_quote!([u8; N + 1])), "[u8; N+1]");
        assert_eq!(
            name(parse_quote!(Box<dyn Fn(u8) -> u16 + Send>)),
            "Box<dyn Fn(u8) -> u16 + Send>"
        );
        assert_eq!(
            name(parse_quote!(<T as Iterator>::Item)),
            "<T as Iterator>::Item"
        );
        assert_eq!(name(parse_quote!(fn(u8) -> bool)), "fn(u8) -> bool");
    }

    #[test]
    fn finds_interior_mutability_by_exact_path() {
        let found = |ty: Type| interior_mutability(&ty).map(path_name);
        assert_eq!(
            found(parse_quote!(std::sync::Mutex<u64>)),
            Some("std::sync::Mutex".into())
        );
        assert_eq!(
            found(parse_quote!(Vec<::core::sync::atomic::AtomicU64>)),
            Some("::core::sync::atomic::AtomicU64".into())
        );
        assert_eq!(
            found(parse_quote!((u8, [std::cell::Cell<u8>; 4]))),
            Some("std::cell::Cell".into())
        );
        assert_eq!(
            found(parse_quote!(Arc<parking_lot::RwLock<String>>)),
            Some("parking_lot::RwLock".into())
        );
        assert_eq!(found(parse_quote!(PhantomData<std::cell::Cell<u8>>)), None);
        assert_eq!(found(parse_quote!(Mutex<u8>)), None);
        assert_eq!(found(parse_quote!(crate::cells::Cell)), None);
        assert_eq!(found(parse_quote!(std::sync::atomic::AtomicCommit)), None);
    }

    #[test]
    fn finds_bare_names_of_std_types() {
        let found = |ty: Type| -> Vec<String> {
            bare_interior_mutability(&ty)
                .into_iter()
                .map(schema_name)
                .collect()
        };
        assert_eq!(
            found(parse_quote!(HashMap<u8, (Cell<u8>, Vec<AtomicU64>)>)),
            ["Cell<u8>", "AtomicU64"]
        );
        assert!(found(parse_quote!(AtomicCommit)).is_empty());
        assert!(found(parse_quote!(self::Cell<u8>)).is_empty());
        assert!(found(parse_quote!(Cellar)).is_empty());
        assert!(found(parse_quote!(PhantomData<Cell<u8>>)).is_empty());
    }

    #[test]
    fn unsized_types_get_an_owned_suggestion() {
        let owned = |ty: Type| unsized_owned(&ty);
        assert_eq!(owned(parse_quote!([u8])), Some("Vec<u8>".into()));
        assert_eq!(owned(parse_quote!(str)), Some("String".into()));
        assert_eq!(owned(parse_quote!(Box<[u8]>)), None);
    }

    #[test]
    fn finds_borrows_outside_phantom_data() {
        let found = |ty: Type| borrowed(&ty).map(|r| schema_name(&Type::Reference(r.clone())));
        assert_eq!(found(parse_quote!(&'a str)), Some("&'a str".into()));
        assert_eq!(
            found(parse_quote!(Vec<(u8, &'static [u8])>)),
            Some("&'static [u8]".into())
        );
        assert_eq!(
            found(parse_quote!(Option<[&'a u8; 2]>)),
            Some("&'a u8".into())
        );
        assert_eq!(found(parse_quote!(PhantomData<&'a T>)), None);
        assert_eq!(found(parse_quote!(Cow<'a, str>)), None);
    }
}
