//! `#[checkpoint(...)]` and `#[derived(...)]` parsed into typed options.
//!
//! Each attribute position has a table of the keys it accepts; a key is
//! added by adding it to the table and to the `match` of its parser.

use proc_macro2::Span;
use syn::meta::ParseNestedMeta;
use syn::spanned::Spanned;
use syn::{Attribute, Expr, LitStr, Path, Token, Type};

use crate::ctxt::Ctxt;

/// Keys of `#[checkpoint(...)]` on a struct or enum.
const CONTAINER_KEYS: &[&str] = &["name", "removed", "check", "context"];
/// Keys of `#[checkpoint(...)]` on an enum variant.
const VARIANT_KEYS: &[&str] = &[];
/// Keys of `#[checkpoint(...)]` on a field.
const FIELD_KEYS: &[&str] = &[
    "allow_interior_mutability",
    "default",
    "alias",
    "was",
    "convert",
];
/// Keys that may be given more than once.
const REPEATABLE_KEYS: &[&str] = &["removed", "alias"];
/// Keys of `#[derived(...)]`.
const DERIVED_KEYS: &[&str] = &["from"];

/// Options of a struct or enum.
#[derive(Default)]
pub(crate) struct Container {
    /// `#[checkpoint(name = "...")]`: the schema name instead of the identifier.
    pub(crate) name: Option<LitStr>,
    /// `#[checkpoint(removed = "...")]`, repeatable: fields dropped on purpose.
    pub(crate) removed: Vec<LitStr>,
    /// `#[checkpoint(check = PATH)]`: runs after every restore.
    pub(crate) check: Option<Path>,
    /// `#[checkpoint(context = Type)]`: what derived and default expressions
    /// see as `ctx`.
    pub(crate) context: Option<Type>,
}

/// Options of an enum variant (none yet).
#[derive(Default)]
pub(crate) struct Variant {}

/// Options of a field.
#[derive(Default)]
pub(crate) struct Field {
    /// `#[derived(from = EXPR)]`.
    pub(crate) derived: Option<Derived>,
    /// `#[checkpoint(allow_interior_mutability)]`.
    pub(crate) allow_interior_mutability: Option<Span>,
    /// Whether the field carries `#[derived]` at all, even a malformed one,
    /// so no rule for serialized fields adds follow-on errors to it.
    pub(crate) marked_derived: bool,
    /// `#[checkpoint(default = EXPR)]`, with the key's span.
    pub(crate) default: Option<(Span, Expr)>,
    /// `#[checkpoint(alias = "...")]`, repeatable: former names.
    pub(crate) aliases: Vec<LitStr>,
    /// `#[checkpoint(was = OldType)]`, with the key's span.
    pub(crate) was: Option<(Span, Type)>,
    /// `#[checkpoint(convert = PATH)]`, with the key's span.
    pub(crate) convert: Option<(Span, Path)>,
}

/// A field rebuilt on restore instead of stored.
pub(crate) struct Derived {
    /// What rebuilds it.
    pub(crate) from: Expr,
}

impl Container {
    pub(crate) fn from_attrs(cx: &mut Ctxt, attrs: &[Attribute]) -> Self {
        let mut out = Container::default();
        for attr in attrs.iter().filter(|a| a.path().is_ident("checkpoint")) {
            parse_keys(cx, attr, "checkpoint", CONTAINER_KEYS, |cx, key, meta| {
                match key {
                    "name" => {
                        let lit: LitStr = meta.value()?.parse().map_err(|e| {
                            syn::Error::new(
                                e.span(),
                                "expected a string: `#[checkpoint(name = \"...\")]`",
                            )
                        })?;
                        if lit.value().is_empty() {
                            cx.error_spanned_by(&lit, "the checkpoint name cannot be empty");
                        }
                        out.name = Some(lit);
                    }
                    "removed" => {
                        let lit = string_value(meta, "removed", "field")?;
                        if lit.value().is_empty() {
                            cx.error_spanned_by(&lit, "the removed field's name cannot be empty");
                        }
                        out.removed.push(lit);
                    }
                    "check" => out.check = Some(path_value(meta, "check")?),
                    "context" => {
                        out.context = Some(meta.value()?.parse().map_err(|e| {
                            syn::Error::new(
                                e.span(),
                                "expected a type: `#[checkpoint(context = Type)]`",
                            )
                        })?);
                    }
                    _ => unreachable!("key table and parser disagree"),
                }
                Ok(())
            });
        }
        out
    }
}

impl Variant {
    pub(crate) fn from_attrs(cx: &mut Ctxt, attrs: &[Attribute]) -> Self {
        for attr in attrs.iter().filter(|a| a.path().is_ident("checkpoint")) {
            parse_keys(cx, attr, "checkpoint", VARIANT_KEYS, |_, _, _| Ok(()));
        }
        Variant {}
    }
}

impl Field {
    /// `field` names the field in messages.
    pub(crate) fn from_attrs(cx: &mut Ctxt, attrs: &[Attribute], field: &str) -> Self {
        let mut out = Field::default();
        for attr in attrs {
            if attr.path().is_ident("checkpoint") {
                parse_keys(cx, attr, "checkpoint", FIELD_KEYS, |_, key, meta| {
                    match key {
                        "allow_interior_mutability" => {
                            // the intent is clear even with a stray value
                            out.allow_interior_mutability = Some(meta.path.span());
                            no_value(meta, "checkpoint", key)?;
                        }
                        "default" => {
                            if !meta.input.peek(Token![=]) {
                                return Err(meta.error(format_args!(
                                    "`default` needs a value: `#[checkpoint(default = EXPR)]` fills field `{field}` when a checkpoint lacks it"
                                )));
                            }
                            let expr: Expr = meta.value()?.parse().map_err(|e| {
                                syn::Error::new(
                                    e.span(),
                                    format_args!(
                                        "malformed expression in `#[checkpoint(default = ...)]` of field `{field}`: {e}"
                                    ),
                                )
                            })?;
                            out.default = Some((meta.path.span(), expr));
                        }
                        "alias" => out.aliases.push(string_value(meta, "alias", "old_name")?),
                        "was" => {
                            let ty: Type = meta.value()?.parse().map_err(|e| {
                                syn::Error::new(
                                    e.span(),
                                    "expected a type: `#[checkpoint(was = OldType, convert = PATH)]`",
                                )
                            })?;
                            out.was = Some((meta.path.span(), ty));
                        }
                        "convert" => {
                            out.convert = Some((meta.path.span(), path_value(meta, "convert")?))
                        }
                        _ => unreachable!("key table and parser disagree"),
                    }
                    Ok(())
                });
            } else if attr.path().is_ident("derived") {
                if out.marked_derived {
                    cx.error_spanned_by(
                        attr,
                        format_args!("field `{field}` has `#[derived(...)]` twice: keep one"),
                    );
                    continue;
                }
                out.marked_derived = true;
                out.derived = parse_derived(cx, attr, field);
            }
        }
        out
    }
}

fn parse_derived(cx: &mut Ctxt, attr: &Attribute, field: &str) -> Option<Derived> {
    let missing = format!(
        "`#[derived]` on field `{field}` needs `from`: write `#[derived(from = EXPR)]` with the expression that rebuilds it on restore"
    );
    if attr.meta.require_list().is_err() {
        cx.error_spanned_by(attr, missing);
        return None;
    }
    let mut from = None;
    let clean = parse_keys(cx, attr, "derived", DERIVED_KEYS, |_, key, meta| {
        match key {
            "from" => {
                if !meta.input.peek(Token![=]) {
                    return Err(meta.error(format_args!(
                        "`from` needs a value: `#[derived(from = EXPR)]` rebuilds field `{field}` on restore"
                    )));
                }
                let expr: Expr = meta.value()?.parse().map_err(|e| {
                    syn::Error::new(
                        e.span(),
                        format_args!(
                            "malformed expression in `#[derived(from = ...)]` of field `{field}`: {e}"
                        ),
                    )
                })?;
                from = Some(expr);
            }
            _ => unreachable!("key table and parser disagree"),
        }
        Ok(())
    });
    match from {
        Some(from) => Some(Derived { from }),
        None => {
            // a misspelt `from` is reported as such, not as a missing one
            if clean {
                cx.error_spanned_by(attr, missing);
            }
            None
        }
    }
}

/// Parses `#[attr(key, key = value, ...)]`, calling `on_key` for each known
/// key once. Unknown and repeated keys are recorded and skipped, so every
/// mistake in the attribute is reported. Returns whether the attribute was
/// free of mistakes.
fn parse_keys(
    cx: &mut Ctxt,
    attr: &Attribute,
    attr_name: &str,
    keys: &[&str],
    mut on_key: impl FnMut(&mut Ctxt, &str, &ParseNestedMeta) -> syn::Result<()>,
) -> bool {
    if let Err(e) = attr.meta.require_list() {
        cx.syn_error(e);
        return false;
    }
    let errors_before = cx.error_count();
    let mut seen: Vec<String> = Vec::new();
    let result = attr.parse_nested_meta(|meta| {
        let key = meta
            .path
            .get_ident()
            .map(ToString::to_string)
            .unwrap_or_else(|| path_to_string(&meta.path));
        if seen.contains(&key) && !REPEATABLE_KEYS.contains(&key.as_str()) {
            cx.error_spanned_by(
                &meta.path,
                format_args!("duplicate key `{key}` in `#[{attr_name}(...)]`: keep one"),
            );
            return skip_value(&meta);
        }
        seen.push(key.clone());
        match keys.iter().find(|k| **k == key) {
            Some(known) => on_key(cx, known, &meta),
            None => {
                cx.error_spanned_by(&meta.path, unknown_key_message(&key, attr_name, keys));
                skip_value(&meta)
            }
        }
    });
    if let Err(e) = result {
        cx.syn_error(e);
    }
    cx.error_count() == errors_before
}

/// The string of `key = "..."`.
fn string_value(meta: &ParseNestedMeta, key: &str, placeholder: &str) -> syn::Result<LitStr> {
    meta.value()?.parse().map_err(|e| {
        syn::Error::new(
            e.span(),
            format_args!("expected a string: `#[checkpoint({key} = \"{placeholder}\")]`"),
        )
    })
}

/// The path of `key = path::to::function`.
fn path_value(meta: &ParseNestedMeta, key: &str) -> syn::Result<Path> {
    meta.value()?.parse().map_err(|e| {
        syn::Error::new(
            e.span(),
            format_args!(
                "expected the path of a function: `#[checkpoint({key} = path::to::function)]`"
            ),
        )
    })
}

fn no_value(meta: &ParseNestedMeta, attr_name: &str, key: &str) -> syn::Result<()> {
    if meta.input.is_empty() || meta.input.peek(Token![,]) {
        Ok(())
    } else {
        Err(meta.error(format_args!(
            "`{key}` takes no value: write `#[{attr_name}({key})]`"
        )))
    }
}

fn skip_value(meta: &ParseNestedMeta) -> syn::Result<()> {
    if meta.input.peek(Token![=]) {
        meta.value()?.parse::<Expr>()?;
    } else if !meta.input.is_empty() && !meta.input.peek(Token![,]) {
        meta.input.parse::<proc_macro2::TokenTree>()?;
    }
    Ok(())
}

fn path_to_string(path: &syn::Path) -> String {
    path.segments
        .iter()
        .map(|s| s.ident.to_string())
        .collect::<Vec<_>>()
        .join("::")
}

/// "unknown key `frm` in `#[derived(...)]`, did you mean `from`?"
pub(crate) fn unknown_key_message(key: &str, attr_name: &str, keys: &[&str]) -> String {
    let mut message = format!("unknown key `{key}` in `#[{attr_name}(...)]`");
    match closest(key, keys) {
        Some(near) => message.push_str(&format!(", did you mean `{near}`?")),
        None if keys.is_empty() => message.push_str(": it accepts no keys in this position"),
        None => {
            let list = keys
                .iter()
                .map(|k| format!("`{k}`"))
                .collect::<Vec<_>>()
                .join(", ");
            message.push_str(&format!(": the keys are {list}"));
        }
    }
    message
}

/// The valid key nearest to `key`, if it is close enough to be a typo.
pub(crate) fn closest<'k>(key: &str, keys: &[&'k str]) -> Option<&'k str> {
    let limit = (key.chars().count() / 3).max(1);
    keys.iter()
        .map(|k| (edit_distance(key, k), *k))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

/// Edit distance counting an insertion, a deletion, a substitution or a
/// swap of two neighbours as one edit (`nmae` is one edit from `name`).
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use syn::parse_quote;

    fn field(attrs: Vec<Attribute>) -> (Field, Result<(), syn::Error>) {
        let mut cx = Ctxt::default();
        let f = Field::from_attrs(&mut cx, &attrs, "index");
        (f, cx.finish())
    }

    #[test]
    fn edit_distance_counts_edits() {
        assert_eq!(edit_distance("frm", "from"), 1);
        assert_eq!(edit_distance("from", "from"), 0);
        assert_eq!(edit_distance("", "name"), 4);
        assert_eq!(edit_distance("nmae", "name"), 1);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn suggests_near_keys_only() {
        assert_eq!(closest("frm", DERIVED_KEYS), Some("from"));
        assert_eq!(closest("nam", CONTAINER_KEYS), Some("name"));
        assert_eq!(closest("default", DERIVED_KEYS), None);
        assert_eq!(
            unknown_key_message("frm", "derived", DERIVED_KEYS),
            "unknown key `frm` in `#[derived(...)]`, did you mean `from`?"
        );
        assert_eq!(
            unknown_key_message("frobnicate", "checkpoint", CONTAINER_KEYS),
            "unknown key `frobnicate` in `#[checkpoint(...)]`: the keys are `name`, `removed`, `check`, `context`"
        );
    }

    #[test]
    fn parses_derived_from() {
        let (f, r) = field(vec![parse_quote!(#[derived(from = build_index(&log))])]);
        assert!(r.is_ok());
        let from = f.derived.expect("derived").from;
        assert_eq!(quote::quote!(#from).to_string(), "build_index (& log)");
    }

    #[test]
    fn derived_accepts_any_expression() {
        let (f, r) = field(vec![parse_quote!(
            #[derived(from = HashMap::<u64, usize>::new())]
        )]);
        assert!(r.is_ok());
        assert!(f.derived.is_some());
        let (_, r) = field(vec![parse_quote!(#[derived(from = { let x = 1; x + 1 })])]);
        assert!(r.is_ok());
    }

    #[test]
    fn derived_errors() {
        let cases: Vec<(Attribute, &str)> = vec![
            (parse_quote!(#[derived]), "needs `from`"),
            (parse_quote!(#[derived()]), "needs `from`"),
            (parse_quote!(#[derived(from)]), "`from` needs a value"),
            (parse_quote!(#[derived(frm = 1)]), "did you mean `from`?"),
            (
                parse_quote!(#[derived(from = 1, default = 2)]),
                "the keys are `from`",
            ),
            (
                parse_quote!(#[derived(from = 1, from = 2)]),
                "duplicate key `from`",
            ),
            (parse_quote!(#[derived(from = )]), "malformed expression"),
        ];
        for (attr, expected) in cases {
            let (_, r) = field(vec![attr]);
            let message = r.expect_err(expected).to_string();
            assert!(message.contains(expected), "{message:?} lacks {expected:?}");
        }
    }

    #[test]
    fn misspelt_from_is_one_error() {
        let (f, r) = field(vec![parse_quote!(#[derived(frm = 1)])]);
        assert!(f.derived.is_none());
        assert_eq!(r.unwrap_err().into_iter().count(), 1);
    }

    #[test]
    fn derived_twice_is_an_error() {
        let (f, r) = field(vec![
            parse_quote!(#[derived(from = 1)]),
            parse_quote!(#[derived(from = 2)]),
        ]);
        assert!(f.derived.is_some());
        assert!(r.unwrap_err().to_string().contains("twice"));
    }

    #[test]
    fn field_allows_interior_mutability() {
        let (f, r) = field(vec![parse_quote!(#[checkpoint(allow_interior_mutability)])]);
        assert!(r.is_ok());
        assert!(f.allow_interior_mutability.is_some());
        let (_, r) = field(vec![
            parse_quote!(#[checkpoint(allow_interior_mutability = true)]),
        ]);
        assert!(r.unwrap_err().to_string().contains("takes no value"));
    }

    #[test]
    fn all_errors_of_an_attribute_are_kept() {
        let mut cx = Ctxt::default();
        let attrs: Vec<Attribute> =
            vec![parse_quote!(#[checkpoint(nme = "a", default, name = "B")])];
        let c = Container::from_attrs(&mut cx, &attrs);
        assert_eq!(c.name.map(|n| n.value()).as_deref(), Some("B"));
        let errors: Vec<String> = cx
            .finish()
            .unwrap_err()
            .into_iter()
            .map(|e| e.to_string())
            .collect();
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(errors[0].contains("did you mean `name`?"));
        assert!(errors[1].contains("unknown key `default`"));
    }
}
