//! What the derive reads from a field's type: its schema name, the
//! interior-mutability types it mentions, the type parameters it uses.

use proc_macro2::{Ident, TokenStream, TokenTree};
use quote::ToTokens;
use syn::{GenericArgument, PathArguments, ReturnType, Type, TypeParamBound};

/// Type names whose values change behind a shared reference.
const INTERIOR_MUTABILITY: &[&str] = &[
    "Mutex",
    "RwLock",
    "RefCell",
    "Cell",
    "OnceCell",
    "OnceLock",
    "UnsafeCell",
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

/// The first identifier in `ty` naming an interior-mutability type.
pub(crate) fn interior_mutability(ty: &Type) -> Option<Ident> {
    find_ident(ty.to_token_stream(), &|ident| {
        let name = ident.to_string();
        INTERIOR_MUTABILITY.contains(&name.as_str()) || name.starts_with("Atomic")
    })
}

/// Whether `ty` mentions `name` anywhere (a type parameter, `Self`).
pub(crate) fn mentions(ty: &Type, name: &Ident) -> bool {
    find_ident(ty.to_token_stream(), &|ident| ident == name).is_some()
}

fn find_ident(tokens: TokenStream, pred: &dyn Fn(&Ident) -> bool) -> Option<Ident> {
    for tt in tokens {
        match tt {
            TokenTree::Ident(ident) if pred(&ident) => return Some(ident),
            TokenTree::Group(g) => {
                if let Some(found) = find_ident(g.stream(), pred) {
                    return Some(found);
                }
            }
            _ => {}
        }
    }
    None
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
    fn finds_interior_mutability_anywhere() {
        let found = |ty: Type| interior_mutability(&ty).map(|i| i.to_string());
        assert_eq!(
            found(parse_quote!(std::sync::Mutex<u64>)),
            Some("Mutex".into())
        );
        assert_eq!(
            found(parse_quote!(Vec<AtomicU64>)),
            Some("AtomicU64".into())
        );
        assert_eq!(
            found(parse_quote!((u8, [Cell<u8>; 4]))),
            Some("Cell".into())
        );
        assert_eq!(found(parse_quote!(&'a RefCell<u8>)), Some("RefCell".into()));
        assert_eq!(
            found(parse_quote!(Arc<OnceLock<String>>)),
            Some("OnceLock".into())
        );
        assert_eq!(found(parse_quote!(HashMap<u64, Vec<String>>)), None);
        assert_eq!(found(parse_quote!(Cellar)), None);
    }

    #[test]
    fn finds_type_parameters() {
        let t: Ident = parse_quote!(T);
        assert!(mentions(&parse_quote!(Vec<(u8, T)>), &t));
        assert!(!mentions(&parse_quote!(Vec<Tee>), &t));
    }
}
