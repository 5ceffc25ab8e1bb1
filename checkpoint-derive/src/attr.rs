//! `#[checkpoint(...)]` and `#[derived(...)]` parsed into typed options.
//!
//! Each attribute position has a table of the keys it accepts; a key is
//! added by adding it to the table and to the `match` of its parser.

use proc_macro2::Span;
use syn::meta::ParseNestedMeta;
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Attribute, Expr, LitStr, Path, Token, Type, WherePredicate};

use crate::ctxt::Ctxt;

/// Keys of `#[checkpoint(...)]` on a struct or enum.
const CONTAINER_KEYS: &[&str] = &["name", "removed", "check", "context", "bound"];
/// Keys of `#[checkpoint(...)]` on an enum variant.
const VARIANT_KEYS: &[&str] = &[];
/// Keys of `#[checkpoint(...)]` on a field.
const FIELD_KEYS: &[&str] = &[
    "allow_interior_mutability",
    "default",
    "alias",
    "was",
    "convert",
    "bound",
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
    /// `#[checkpoint(bound = "...")]`: the impls' where-predicates instead of
    /// the inferred ones.
    pub(crate) bound: Option<Bound>,
}

/// The where-predicates of `bound = "T: Trait, U: Other"` (possibly none).
pub(crate) type Bound = Punctuated<WherePredicate, Token![,]>;

/// Options of an enum variant (none yet).
#[derive(Default)]
pub(crate) struct Variant {}

/// Options of a field.
pub(crate) struct Field {
    /// Whether the field is stored or rebuilt, and with what.
    pub(crate) role: Role,
    /// `#[checkpoint(allow_interior_mutability)]`.
    pub(crate) allow_interior_mutability: Option<Span>,
    /// `#[checkpoint(alias = "...")]`, repeatable: former names.
    pub(crate) aliases: Vec<LitStr>,
    /// `#[checkpoint(was = OldType)]`, with the key's span.
    pub(crate) was: Option<(Span, Type)>,
    /// `#[checkpoint(convert = PATH)]`, with the key's span.
    pub(crate) convert: Option<(Span, Path)>,
    /// `#[checkpoint(bound = "...")]`: the where-predicates this field needs,
    /// instead of the ones inferred from its type.
    pub(crate) bound: Option<Bound>,
}

/// What a field is to a checkpoint.
pub(crate) enum Role {
    /// Serialized; a checkpoint that lacks it does not restore.
    Stored,
    /// Serialized; `#[checkpoint(default = EXPR)]` fills it when a
    /// checkpoint lacks it.
    Defaulted(Expr),
    /// `#[derived(from = EXPR)]`: never serialized, rebuilt on restore.
    Derived(Expr),
    /// A `#[derived]` that is wrong (the error is recorded): not stored, so
    /// no rule for serialized fields adds follow-on errors to it.
    BrokenDerived,
}

impl Role {
    /// Whether the field's value is in every checkpoint.
    pub(crate) fn is_stored(&self) -> bool {
        matches!(self, Role::Stored | Role::Defaulted(_))
    }
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
                    "bound" => out.bound = Some(bound_value(meta)?),
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
        let mut out = Field {
            role: Role::Stored,
            allow_interior_mutability: None,
            aliases: Vec::new(),
            was: None,
            convert: None,
            bound: None,
        };
        let mut default: Option<(Span, Expr)> = None;
        let mut derived: Option<Option<Expr>> = None;
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
                            let expr = expr_value(meta, "checkpoint", key, field)?;
                            default = Some((meta.path.span(), expr));
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
                        "bound" => out.bound = Some(bound_value(meta)?),
                        _ => unreachable!("key table and parser disagree"),
                    }
                    Ok(())
                });
            } else if attr.path().is_ident("derived") {
                if derived.is_some() {
                    cx.error_spanned_by(
                        attr,
                        format_args!("field `{field}` has `#[derived(...)]` twice: keep one"),
                    );
                    continue;
                }
                derived = Some(parse_derived(cx, attr, field));
            }
        }
        out.role = match (derived, default) {
            (Some(from), default) => {
                if let Some((span, _)) = default {
                    cx.syn_error(syn::Error::new(
                        span,
                        format_args!(
                            "field `{field}` has both `#[derived(from = ...)]` and `#[checkpoint(default = ...)]`: \
                             a derived field is never stored, so it is always rebuilt; keep one"
                        ),
                    ));
                }
                from.map_or(Role::BrokenDerived, Role::Derived)
            }
            (None, Some((_, expr))) => Role::Defaulted(expr),
            (None, None) => Role::Stored,
        };
        out
    }
}

fn parse_derived(cx: &mut Ctxt, attr: &Attribute, field: &str) -> Option<Expr> {
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
            "from" => from = Some(expr_value(meta, "derived", key, field)?),
            _ => unreachable!("key table and parser disagree"),
        }
        Ok(())
    });
    // a misspelt `from` is reported as such, not as a missing one
    if from.is_none() && clean {
        cx.error_spanned_by(attr, missing);
    }
    from
}

/// The expression of `from = EXPR` in `#[derived(...)]` or of
/// `default = EXPR` in `#[checkpoint(...)]`.
fn expr_value(
    meta: &ParseNestedMeta,
    attr_name: &str,
    key: &str,
    field: &str,
) -> syn::Result<Expr> {
    let purpose = match key {
        "from" => format!("rebuilds field `{field}` on restore"),
        _ => format!("fills field `{field}` when a checkpoint lacks it"),
    };
    if !meta.input.peek(Token![=]) {
        return Err(meta.error(format_args!(
            "`{key}` needs a value: `#[{attr_name}({key} = EXPR)]` {purpose}"
        )));
    }
    meta.value()?.parse().map_err(|e| {
        syn::Error::new(
            e.span(),
            format_args!(
                "malformed expression in `#[{attr_name}({key} = ...)]` of field `{field}`: {e}"
            ),
        )
    })
}

/// The where-predicates of `bound = "T: Trait"`.
fn bound_value(meta: &ParseNestedMeta) -> syn::Result<Bound> {
    let lit: LitStr = meta.value()?.parse().map_err(|e| {
        syn::Error::new(
            e.span(),
            "expected a string of where-predicates: `#[checkpoint(bound = \"T: Trait\")]`",
        )
    })?;
    lit.parse_with(Bound::parse_terminated).map_err(|e| {
        syn::Error::new(
            lit.span(),
            format_args!("malformed where-predicates in `#[checkpoint(bound = \"...\")]`: {e}"),
        )
    })
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
            "unknown key `frobnicate` in `#[checkpoint(...)]`: the keys are `name`, `removed`, `check`, `context`, `bound`"
        );
    }

    #[test]
    fn parses_derived_from() {
        let (f, r) = field(vec![parse_quote!(#[derived(from = build_index(&log))])]);
        assert!(r.is_ok());
        let Role::Derived(from) = f.role else {
            panic!("not derived")
        };
        assert_eq!(quote::quote!(#from).to_string(), "build_index (& log)");
    }

    #[test]
    fn derived_accepts_any_expression() {
        let (f, r) = field(vec![parse_quote!(
            #[derived(from = HashMap::<u64, usize>::new())]
        )]);
        assert!(r.is_ok());
        assert!(matches!(f.role, Role::Derived(_)));
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
        assert!(matches!(f.role, Role::BrokenDerived));
        assert_eq!(r.unwrap_err().into_iter().count(), 1);
    }

    #[test]
    fn derived_twice_is_an_error() {
        let (f, r) = field(vec![
            parse_quote!(#[derived(from = 1)]),
            parse_quote!(#[derived(from = 2)]),
        ]);
        assert!(matches!(f.role, Role::Derived(_)));
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
