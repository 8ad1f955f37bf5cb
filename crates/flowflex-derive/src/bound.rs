//! Where clauses for generic structs, inferred as serde infers its own.

use std::collections::BTreeSet;

use proc_macro2::TokenStream;
use quote::ToTokens;
use syn::visit::{self, Visit};

use crate::ast::Container;

/// The struct's generics plus a `Visit` bound for each type parameter a
/// visited field uses (outside `PhantomData`), or the `bound = ".."` given.
pub(crate) fn with_visit_bound(cont: &Container<'_>, krate: &TokenStream) -> syn::Generics {
    let mut generics = cont.generics.clone();
    let predicates: Vec<syn::WherePredicate> = match &cont.attrs.bound {
        Some(bound) => bound.clone(),
        None => bounded_types(cont)
            .into_iter()
            .map(|ty| syn::parse_quote!(#ty: #krate::__private::Visit))
            .collect(),
    };
    if !predicates.is_empty() {
        generics.make_where_clause().predicates.extend(predicates);
    }
    generics
}

/// `generics` plus `Self: Serialize` for a generic struct, which
/// `FlowFlexEvent` requires and serde's derive provides under its own bounds.
pub(crate) fn with_serialize_bound(
    generics: &syn::Generics,
    cont: &Container<'_>,
    krate: &TokenStream,
) -> syn::Generics {
    let mut generics = generics.clone();
    if !cont.generics.params.is_empty() {
        let ident = cont.ident;
        let (_, ty_generics, _) = cont.generics.split_for_impl();
        generics
            .make_where_clause()
            .predicates
            .push(syn::parse_quote!(#ident #ty_generics: #krate::__private::serde::Serialize));
    }
    generics
}

/// The types that need a bound: each type parameter used directly, and
/// each associated type of one (`T::Item`), in order of first use.
fn bounded_types(cont: &Container<'_>) -> Vec<syn::Type> {
    let params: BTreeSet<String> = cont
        .generics
        .type_params()
        .map(|p| p.ident.to_string())
        .collect();
    if params.is_empty() {
        return Vec::new();
    }
    let mut find = FindParams {
        params: &params,
        found: Vec::new(),
    };
    for field in cont.fields().iter().filter(|f| f.visited()) {
        find.visit_type(field.ty);
    }
    let mut seen = BTreeSet::new();
    find.found
        .into_iter()
        .filter(|ty| seen.insert(ty.to_token_stream().to_string()))
        .collect()
}

struct FindParams<'p> {
    params: &'p BTreeSet<String>,
    found: Vec<syn::Type>,
}

impl<'ast> Visit<'ast> for FindParams<'_> {
    fn visit_type_path(&mut self, ty: &'ast syn::TypePath) {
        if ty.qself.is_none() {
            if let Some(first) = ty.path.segments.first() {
                if ty.path.leading_colon.is_none() && self.params.contains(&first.ident.to_string())
                {
                    let param = &first.ident;
                    self.found.push(if ty.path.segments.len() == 1 {
                        syn::parse_quote!(#param)
                    } else {
                        syn::Type::Path(ty.clone())
                    });
                }
            }
            // `PhantomData<T>` holds no `T`.
            if ty
                .path
                .segments
                .last()
                .is_some_and(|s| s.ident == "PhantomData")
            {
                return;
            }
        }
        visit::visit_type_path(self, ty);
    }

    // Types inside macros and bare fns are not values the struct holds.
    fn visit_type_bare_fn(&mut self, _: &'ast syn::TypeBareFn) {}
    fn visit_macro(&mut self, _: &'ast syn::Macro) {}
}

#[cfg(test)]
mod tests {
    use quote::quote;

    use super::*;
    use crate::ctxt::Ctxt;

    fn shown(generics: &syn::Generics) -> String {
        let where_clause = &generics.where_clause;
        quote!(#where_clause).to_string()
    }

    fn bounds(input: syn::DeriveInput) -> String {
        let cx = Ctxt::new();
        let cont = Container::from_ast(&cx, &input);
        cx.check().unwrap();
        shown(&with_visit_bound(&cont, &quote!(::flowflex)))
    }

    #[test]
    fn params_used_by_visited_fields() {
        let got = bounds(syn::parse_quote! {
            struct W<T, U, V, X: Iterator> {
                a: Vec<T>,
                #[serde(skip)]
                b: U,
                c: std::marker::PhantomData<V>,
                d: X::Item,
                e: Option<T>,
            }
        });
        assert_eq!(
            got,
            "where T : :: flowflex :: __private :: Visit , X :: Item : :: flowflex :: __private :: Visit"
        );
    }

    #[test]
    fn explicit_bound_replaces_inferred() {
        let got = bounds(syn::parse_quote! {
            #[flowflex(bound = "")]
            struct W<T> { a: T }
        });
        assert_eq!(got, "");
    }
}
