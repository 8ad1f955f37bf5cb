//! `#[flowflex(..)]` and the `#[serde(..)]` keys that move fields in the JSON.
//!
//! Values are checked as they are parsed (a MIME type must be one FlowFlex
//! accepts, a size must parse), each error at the user's token; checks that
//! need the whole input are in `valid.rs`.

use proc_macro2::TokenStream;
use quote::ToTokens;
use syn::ext::IdentExt as _;
use syn::meta::ParseNestedMeta;
use syn::punctuated::Punctuated;
use syn::{Expr, ExprLit, Lit, LitStr, Token};

use flowflex_core::{Mime, size, suggest};

use crate::case::RenameRule;
use crate::ctxt::Ctxt;
use crate::mime;
use crate::symbol::{
    BOUND, CONTAINER_KEYS, CRATE, EVENT, FIELD_KEYS, FLATTEN, FLOWFLEX, INTO, MAX_SIZE, MIME,
    RENAME, RENAME_ALL, SERDE, SERIALIZE, SERIALIZE_WITH, SKIP, SKIP_SERIALIZING,
    SKIP_SERIALIZING_IF, Symbol, TRANSPARENT, WITH,
};

/// One `#[flowflex(key = ..)]` value, remembering the key that set it so a
/// second one is reported at its own key.
struct Attr<'c, T> {
    cx: &'c Ctxt,
    name: Symbol,
    value: Option<T>,
}

impl<'c, T> Attr<'c, T> {
    fn none(cx: &'c Ctxt, name: Symbol) -> Self {
        Attr {
            cx,
            name,
            value: None,
        }
    }

    fn set<A: ToTokens>(&mut self, key: A, value: T) {
        if self.value.is_some() {
            self.cx.error_spanned_by(
                key,
                format!("duplicate flowflex attribute `{}`: give it once", self.name),
            );
        } else {
            self.value = Some(value);
        }
    }

    fn get(self) -> Option<T> {
        self.value
    }
}

/// The event name, and the literal it came from.
pub(crate) struct EventName {
    pub(crate) value: String,
    pub(crate) original: LitStr,
}

/// Attributes of the struct.
pub(crate) struct Container {
    /// `event = ".."`; without it the type is nestable but not sendable.
    pub(crate) event: Option<EventName>,
    /// `bound = ".."`: replaces the inferred `T: Visit` bounds.
    pub(crate) bound: Option<Vec<syn::WherePredicate>>,
    /// `crate = ".."`: the path of the `flowflex` crate.
    pub(crate) krate: Option<syn::Path>,
    pub(crate) serde: SerdeContainer,
}

/// What serde's container attributes do to field paths.
#[derive(Default)]
pub(crate) struct SerdeContainer {
    pub(crate) rename_all: RenameRule,
    pub(crate) transparent: bool,
    /// `into = ".."`: serde serializes another type, whose shape the derive
    /// cannot see.
    pub(crate) into: Option<syn::Path>,
}

impl Container {
    pub(crate) fn from_ast(cx: &Ctxt, item: &syn::DeriveInput) -> Self {
        let mut event = Attr::none(cx, EVENT);
        let mut bound = Attr::none(cx, BOUND);
        let mut krate = Attr::none(cx, CRATE);
        for attr in flowflex_attrs(&item.attrs) {
            let parsed = attr.parse_nested_meta(|meta| {
                if meta.path == EVENT {
                    if let Some(lit) = string_value(cx, &meta, "event = \"order.shipped\"")? {
                        let value = lit.value();
                        if let Err(err) = flowflex_core::check_event_name(&value) {
                            cx.error_spanned_by(&lit, err.to_string());
                        }
                        event.set(
                            &meta.path,
                            EventName {
                                value,
                                original: lit,
                            },
                        );
                    }
                } else if meta.path == BOUND {
                    if let Some(lit) = string_value(cx, &meta, "bound = \"T: MyTrait\"")? {
                        match lit.parse_with(
                            Punctuated::<syn::WherePredicate, Token![,]>::parse_terminated,
                        ) {
                            Ok(predicates) => bound.set(&meta.path, predicates.into_iter().collect()),
                            Err(err) => cx.error_spanned_by(
                                &lit,
                                format!("`bound` must be where-clause predicates, e.g. \"T: MyTrait\": {err}"),
                            ),
                        }
                    }
                } else if meta.path == CRATE {
                    if let Some(lit) = string_value(cx, &meta, "crate = \"my_reexport::flowflex\"")? {
                        match lit.parse::<syn::Path>() {
                            Ok(path) => krate.set(&meta.path, path),
                            Err(_) => cx.error_spanned_by(
                                &lit,
                                "`crate` must be the path of the flowflex crate, e.g. \"my_reexport::flowflex\"",
                            ),
                        }
                    }
                } else {
                    unknown_key(cx, &meta, Place::Container);
                    skip_value(&meta)?;
                }
                Ok(())
            });
            if let Err(err) = parsed {
                cx.syn_error(err);
            }
        }
        Container {
            event: event.get(),
            bound: bound.get(),
            krate: krate.get(),
            serde: SerdeContainer::from_attrs(&item.attrs),
        }
    }

    /// The path generated code names the runtime by.
    pub(crate) fn krate(&self) -> TokenStream {
        match &self.krate {
            Some(path) => path.to_token_stream(),
            None => quote::quote!(::flowflex),
        }
    }
}

impl SerdeContainer {
    fn from_attrs(attrs: &[syn::Attribute]) -> Self {
        let mut out = SerdeContainer::default();
        for attr in attrs.iter().filter(|a| a.path() == SERDE) {
            // A malformed serde attribute is serde's to report.
            let _ = attr.parse_nested_meta(|meta| {
                if meta.path == RENAME_ALL {
                    if let Some(rule) =
                        serialize_name(&meta)?.and_then(|lit| RenameRule::from_str(&lit.value()))
                    {
                        out.rename_all = rule;
                    }
                } else if meta.path == TRANSPARENT {
                    out.transparent = true;
                } else if meta.path == INTO {
                    out.into = Some(meta.path.clone());
                    skip_value(&meta)?;
                } else {
                    skip_value(&meta)?;
                }
                Ok(())
            });
        }
        out
    }
}

/// `#[flowflex(mime = .., max_size = ..)]` of a field.
pub(crate) struct Rules {
    /// The allowed types; empty when no `mime` was given (or it was invalid).
    pub(crate) mimes: Vec<Mime>,
    pub(crate) max_size: Option<u64>,
    /// The keys given, for errors about the rules as a whole.
    pub(crate) keys: Vec<syn::Path>,
}

/// Attributes of a field.
pub(crate) struct Field {
    /// The key serde writes (named fields): `rename`, else `rename_all`
    /// applied to the field's name.
    pub(crate) name: String,
    pub(crate) rules: Option<Rules>,
    pub(crate) serde: SerdeField,
}

/// What serde's field attributes do to the field's path.
#[derive(Default)]
pub(crate) struct SerdeField {
    pub(crate) rename: Option<String>,
    /// `skip` or `skip_serializing`: never in the JSON.
    pub(crate) skip: Option<syn::Path>,
    /// `skip_serializing_if = ".."`: the predicate.
    pub(crate) skip_if: Option<syn::ExprPath>,
    pub(crate) flatten: Option<syn::Path>,
    /// `with` or `serialize_with`: a custom serializer decides the shape.
    pub(crate) with: Option<syn::Path>,
}

impl Field {
    pub(crate) fn from_ast(
        cx: &Ctxt,
        index: usize,
        field: &syn::Field,
        rename_all: RenameRule,
    ) -> Self {
        let serde = SerdeField::from_attrs(&field.attrs);
        let name = match (&serde.rename, &field.ident) {
            (Some(rename), _) => rename.clone(),
            (None, Some(ident)) => rename_all.apply_to_field(&ident.unraw().to_string()),
            (None, None) => index.to_string(),
        };
        Field {
            name,
            rules: parse_rules(cx, &field.attrs),
            serde,
        }
    }
}

fn parse_rules(cx: &Ctxt, attrs: &[syn::Attribute]) -> Option<Rules> {
    let mut mimes: Attr<'_, Vec<Mime>> = Attr::none(cx, MIME);
    let mut max_size = Attr::none(cx, MAX_SIZE);
    let mut keys = Vec::new();
    for attr in flowflex_attrs(attrs) {
        let parsed = attr.parse_nested_meta(|meta| {
            if meta.path == MIME {
                keys.push(meta.path.clone());
                let allowed = parse_mimes(cx, &meta)?;
                mimes.set(&meta.path, allowed);
            } else if meta.path == MAX_SIZE {
                keys.push(meta.path.clone());
                if let Some(bytes) = parse_max_size(cx, &meta)? {
                    max_size.set(&meta.path, bytes);
                }
            } else {
                unknown_key(cx, &meta, Place::Field);
                skip_value(&meta)?;
            }
            Ok(())
        });
        if let Err(err) = parsed {
            cx.syn_error(err);
        }
    }
    (!keys.is_empty()).then(|| Rules {
        mimes: mimes.get().unwrap_or_default(),
        max_size: max_size.get(),
        keys,
    })
}

/// `mime = ".."` or `mime("..", ..)`: each a type or a `type/*` family.
fn parse_mimes(cx: &Ctxt, meta: &ParseNestedMeta<'_>) -> syn::Result<Vec<Mime>> {
    let exprs: Vec<Expr> = if meta.input.peek(Token![=]) {
        vec![meta.value()?.parse()?]
    } else if meta.input.peek(syn::token::Paren) {
        let content;
        syn::parenthesized!(content in meta.input);
        let list = Punctuated::<Expr, Token![,]>::parse_terminated(&content)?;
        if list.is_empty() {
            cx.error_spanned_by(
                &meta.path,
                "`mime()` lists no type: give at least one, e.g. `mime(\"image/jpeg\", \"image/png\")`",
            );
        }
        list.into_iter().collect()
    } else {
        cx.error_spanned_by(
            &meta.path,
            "`mime` needs a value: `mime = \"application/pdf\"` or `mime(\"image/jpeg\", \"image/png\")`",
        );
        return Ok(Vec::new());
    };
    let mut allowed: Vec<Mime> = Vec::new();
    for expr in exprs {
        let Some(lit) = as_lit_str(&expr) else {
            cx.error_spanned_by(
                &expr,
                "expected a MIME type in quotes, e.g. `\"application/pdf\"` or `\"image/*\"`",
            );
            continue;
        };
        match mime::lookup(&lit.value()) {
            Ok(members) => {
                if let Some(again) = members.iter().find(|m| allowed.contains(m)) {
                    cx.error_spanned_by(
                        lit,
                        format!(
                            "`{again}` is already allowed by an earlier entry: list each type once"
                        ),
                    );
                    continue;
                }
                allowed.extend(members);
            }
            Err(msg) => cx.error_spanned_by(lit, msg),
        }
    }
    Ok(allowed)
}

/// `max_size = "10 MB"` or `max_size = 10_000_000`.
fn parse_max_size(cx: &Ctxt, meta: &ParseNestedMeta<'_>) -> syn::Result<Option<u64>> {
    const EXAMPLE: &str = "`max_size = \"10 MB\"`, or a number of bytes: `max_size = 10_000_000`";
    if !meta.input.peek(Token![=]) {
        cx.error_spanned_by(&meta.path, format!("`max_size` needs a value: {EXAMPLE}"));
        skip_value(meta)?;
        return Ok(None);
    }
    let expr: Expr = meta.value()?.parse()?;
    let (parsed, shown) = match ungroup(&expr) {
        Expr::Lit(ExprLit {
            lit: Lit::Str(lit), ..
        }) => (
            size::parse(&lit.value()).map_err(|err| err.to_string()),
            lit.value(),
        ),
        Expr::Lit(ExprLit {
            lit: Lit::Int(lit), ..
        }) => (
            lit.base10_parse::<u64>()
                .map_err(|_| format!("`{lit}` is not a number of bytes FlowFlex can take")),
            lit.base10_digits().to_owned(),
        ),
        _ => {
            cx.error_spanned_by(&expr, format!("expected a size: {EXAMPLE}"));
            return Ok(None);
        }
    };
    match parsed.and_then(|bytes| size::check(bytes, &shown).map_err(|err| err.to_string())) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(msg) => {
            cx.error_spanned_by(&expr, msg);
            Ok(None)
        }
    }
}

fn flowflex_attrs(attrs: &[syn::Attribute]) -> impl Iterator<Item = &syn::Attribute> {
    attrs.iter().filter(|a| a.path() == FLOWFLEX)
}

/// `key = "string"`; `None` (with an error) for anything else.
fn string_value(
    cx: &Ctxt,
    meta: &ParseNestedMeta<'_>,
    example: &str,
) -> syn::Result<Option<LitStr>> {
    if !meta.input.peek(Token![=]) {
        let key = meta.path.to_token_stream();
        cx.error_spanned_by(&meta.path, format!("`{key}` needs a value: `{example}`"));
        skip_value(meta)?;
        return Ok(None);
    }
    let expr: Expr = meta.value()?.parse()?;
    match as_lit_str(&expr) {
        Some(lit) => Ok(Some(lit.clone())),
        None => {
            cx.error_spanned_by(&expr, format!("expected a string: `{example}`"));
            Ok(None)
        }
    }
}

/// A literal, seen through the invisible groups `macro_rules!` wraps
/// `$x:literal` and `$x:expr` fragments in.
fn ungroup(mut expr: &Expr) -> &Expr {
    while let Expr::Group(group) = expr {
        expr = &group.expr;
    }
    expr
}

fn as_lit_str(expr: &Expr) -> Option<&LitStr> {
    match ungroup(expr) {
        Expr::Lit(ExprLit {
            lit: Lit::Str(lit), ..
        }) => Some(lit),
        _ => None,
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Place {
    Container,
    Field,
}

fn unknown_key(cx: &Ctxt, meta: &ParseNestedMeta<'_>, place: Place) {
    let key = meta.path.to_token_stream().to_string().replace(' ', "");
    let (here, there) = match place {
        Place::Container => (CONTAINER_KEYS, FIELD_KEYS),
        Place::Field => (FIELD_KEYS, CONTAINER_KEYS),
    };
    let msg = if there.iter().any(|s| s.0 == key) {
        match place {
            Place::Container => format!(
                "`{key}` is a field attribute: put `#[flowflex({key} = ..)]` on the attachment field it limits"
            ),
            Place::Field => format!(
                "`{key}` is a struct attribute: put `#[flowflex({key} = ..)]` above the struct"
            ),
        }
    } else {
        let expected = here
            .iter()
            .map(|s| format!("`{s}`"))
            .collect::<Vec<_>>()
            .join(", ");
        match suggest::nearest(&key, 3, here.iter().map(|s| s.0)) {
            Some(near) => format!(
                "unknown flowflex attribute `{key}`; did you mean `{near}`? (expected one of {expected})"
            ),
            None => format!("unknown flowflex attribute `{key}`; expected one of {expected}"),
        }
    };
    cx.error_spanned_by(&meta.path, msg);
}

/// Consumes the value of a key the parser does not use.
fn skip_value(meta: &ParseNestedMeta<'_>) -> syn::Result<()> {
    if meta.input.peek(Token![=]) {
        meta.value()?.parse::<Expr>()?;
    } else if meta.input.peek(syn::token::Paren) {
        let content;
        syn::parenthesized!(content in meta.input);
        content.parse::<TokenStream>()?;
    }
    Ok(())
}

/// serde's `rename = ".."` / `rename(serialize = "..")`: the serializing name.
fn serialize_name(meta: &ParseNestedMeta<'_>) -> syn::Result<Option<LitStr>> {
    if meta.input.peek(Token![=]) {
        return Ok(as_lit_str(&meta.value()?.parse()?).cloned());
    }
    let mut name = None;
    if meta.input.peek(syn::token::Paren) {
        meta.parse_nested_meta(|inner| {
            if inner.path == SERIALIZE {
                name = as_lit_str(&inner.value()?.parse()?).cloned();
            } else {
                skip_value(&inner)?;
            }
            Ok(())
        })?;
    }
    Ok(name)
}

impl SerdeField {
    fn from_attrs(attrs: &[syn::Attribute]) -> Self {
        let mut out = SerdeField::default();
        for attr in attrs.iter().filter(|a| a.path() == SERDE) {
            // A malformed serde attribute is serde's to report.
            let _ = attr.parse_nested_meta(|meta| {
                if meta.path == RENAME {
                    if let Some(lit) = serialize_name(&meta)? {
                        out.rename = Some(lit.value());
                    }
                } else if meta.path == SKIP || meta.path == SKIP_SERIALIZING {
                    out.skip = Some(meta.path.clone());
                } else if meta.path == SKIP_SERIALIZING_IF {
                    if let Some(lit) = as_lit_str(&meta.value()?.parse()?) {
                        out.skip_if = lit.parse().ok();
                    }
                } else if meta.path == FLATTEN {
                    out.flatten = Some(meta.path.clone());
                } else if meta.path == WITH || meta.path == SERIALIZE_WITH {
                    out.with = Some(meta.path.clone());
                    skip_value(&meta)?;
                } else {
                    skip_value(&meta)?;
                }
                Ok(())
            });
        }
        out
    }
}
