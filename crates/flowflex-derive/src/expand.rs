//! The generated code of `#[derive(FlowFlexEvent)]`.
//!
//! For each struct: an impl of the runtime's hidden `Visit` trait (which
//! finds the attachments of a value with their wire paths and field rules,
//! and lists the path templates of the type), `FlowFlexEvent`, and for a
//! struct with an event name, `NamedEvent` plus the inherent `EVENT`, `send`,
//! `attachment_paths` and `preview`. Everything sits in `const _: () = {..}`
//! and names the runtime by full paths, so it needs no import.

use proc_macro2::{Literal, Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::spanned::Spanned as _;

use crate::ast::{Container, Data, Field, Style};
use crate::attr::Rules;
use crate::bound;
use crate::ctxt::Ctxt;

pub(crate) fn derive(input: &syn::DeriveInput) -> TokenStream {
    let cx = Ctxt::new();
    let cont = Container::from_ast(&cx, input);
    crate::valid::check(&cx, &cont);
    match cx.check() {
        Ok(()) => impl_container(&cont),
        Err(errors) => {
            let errors = errors.to_compile_error();
            let stub = fallback(&cont);
            quote! {
                #errors
                #stub
            }
        }
    }
}

/// Where a field's value sits relative to its struct.
enum Segment<'a> {
    /// An object key: named fields.
    Key(&'a str),
    /// An array index: tuple structs.
    Index(usize),
    /// The struct's own place: flattened fields, newtype and transparent
    /// structs.
    Same,
}

fn impl_container(cont: &Container<'_>) -> TokenStream {
    let krate = cont.attrs.krate();
    let ident = cont.ident;
    let visit_generics = bound::with_visit_bound(cont, &krate);
    let (impl_generics, ty_generics, visit_where) = visit_generics.split_for_impl();
    let event_generics = bound::with_serialize_bound(&visit_generics, cont, &krate);
    let (_, _, event_where) = event_generics.split_for_impl();

    let fields: Vec<(&Field<'_>, Segment<'_>)> = segments(cont);
    let visits = fields
        .iter()
        .map(|(field, segment)| visit_field(field, segment, &krate));
    let templates = fields
        .iter()
        .map(|(field, segment)| template_field(field, segment, &krate));
    // Whether two of this type's places can have one path: a field in its
    // parent's place, two fields under one name, a name that reads like
    // nesting. Otherwise the encode need not compare paths.
    let merging = {
        let mut keys = std::collections::HashSet::new();
        fields.iter().any(|(_, segment)| match segment {
            Segment::Same => true,
            Segment::Key(key) => key.contains(['.', '[']) || !keys.insert(*key),
            Segment::Index(_) => false,
        })
    };
    let may_merge = merging.then(|| quote!(__visitor.may_merge();));
    let probes = if fields.is_empty() {
        quote!()
    } else {
        quote!(use #krate::__private::{ViaNothing as _, ViaVisit as _};)
    };
    let named = cont
        .attrs
        .event
        .as_ref()
        .map(|event| impl_named(cont, &event.value, &event_generics, &krate));

    quote! {
        #[doc(hidden)]
        #[allow(non_upper_case_globals, unused_attributes, unused_qualifications)]
        const _: () = {
            #probes

            #[automatically_derived]
            impl #impl_generics #krate::__private::Visit for #ident #ty_generics #visit_where {
                fn __flowflex_visit<'__flowflex>(
                    &'__flowflex self,
                    __visitor: &mut #krate::__private::Visitor<'__flowflex>,
                ) {
                    #may_merge
                    #(#visits)*
                }

                fn __flowflex_templates(__templates: &mut #krate::__private::Templates) {
                    if __templates.enter_type(::core::any::type_name::<Self>()) {
                        #(#templates)*
                        __templates.leave_type();
                    }
                }
            }

            #[automatically_derived]
            impl #impl_generics #krate::FlowFlexEvent for #ident #ty_generics #event_where {}

            #named
        };
    }
}

/// The visited fields, each with its place in the JSON.
fn segments<'c, 'a>(cont: &'c Container<'a>) -> Vec<(&'c Field<'a>, Segment<'c>)> {
    let style = cont.style();
    let mut index = 0;
    let mut out = Vec::new();
    for field in cont.fields() {
        if !field.serialized() {
            continue;
        }
        // A tuple struct's array holds the serialized fields only.
        let position = index;
        index += 1;
        if !field.visited() {
            continue;
        }
        let segment = if field.attrs.serde.flatten.is_some() || cont.attrs.serde.transparent {
            Segment::Same
        } else {
            match style {
                Some(Style::Struct) => Segment::Key(&field.attrs.name),
                Some(Style::Tuple) => Segment::Index(position),
                _ => Segment::Same,
            }
        };
        out.push((field, segment));
    }
    out
}

fn rules_expr(rules: Option<&Rules>, krate: &TokenStream) -> TokenStream {
    let Some(rules) = rules else {
        return quote!(::core::option::Option::None);
    };
    let mimes = rules.mimes.iter().map(|m| {
        let variant = syn::Ident::new(m.variant_name(), Span::call_site());
        quote!(#krate::Mime::#variant)
    });
    let max_size = match rules.max_size {
        Some(bytes) => {
            let bytes = Literal::u64_suffixed(bytes);
            quote!(::core::option::Option::Some(#bytes))
        }
        None => quote!(::core::option::Option::None),
    };
    quote! {
        ::core::option::Option::Some(#krate::__private::FieldRules {
            mimes: &[#(#mimes),*],
            max_size: #max_size,
        })
    }
}

fn visit_field(field: &Field<'_>, segment: &Segment<'_>, krate: &TokenStream) -> TokenStream {
    let member = &field.member;
    let ty = field.ty;
    // Spanned on the type: a type error lands on the field.
    let probe = quote_spanned! {ty.span()=>
        (&#krate::__private::Probe::<#ty>::new())
            .__flowflex_probe_visit(&self.#member, __visitor)
    };
    let rules = field.attrs.rules.as_ref();
    let enter = match segment {
        Segment::Key(key) => {
            let rules = rules_expr(rules, krate);
            Some(quote!(__visitor.enter_key(#key, #rules)))
        }
        Segment::Index(index) => {
            let rules = rules_expr(rules, krate);
            let index = Literal::usize_unsuffixed(*index);
            Some(quote!(__visitor.enter_index(#index, #rules)))
        }
        Segment::Same if rules.is_some() => {
            let rules = rules_expr(rules, krate);
            Some(quote!(__visitor.enter_rules(#rules)))
        }
        Segment::Same => None,
    };
    // A field whose type holds nothing (a `String`, a number) is skipped:
    // the check is a constant, so the branch compiles away.
    let holds_nothing = quote_spanned! {ty.span()=>
        (&#krate::__private::Probe::<#ty>::new()).__flowflex_probe_holds_nothing()
    };
    let body = match enter {
        Some(enter) => quote! {{
            if !#holds_nothing {
                let __mark = #enter;
                #probe;
                __visitor.leave(__mark);
            }
        }},
        None => quote! {
            #probe;
        },
    };
    match &field.attrs.serde.skip_if {
        Some(predicate) => quote_spanned! {predicate.span()=>
            if !#predicate(&self.#member) #body
        },
        None => body,
    }
}

fn template_field(field: &Field<'_>, segment: &Segment<'_>, krate: &TokenStream) -> TokenStream {
    let ty = field.ty;
    let probe = quote_spanned! {ty.span()=>
        (&#krate::__private::Probe::<#ty>::new()).__flowflex_probe_templates(__templates)
    };
    let enter = match segment {
        Segment::Key(key) => quote!(__templates.enter_key(#key)),
        Segment::Index(index) => {
            let index = Literal::usize_unsuffixed(*index);
            quote!(__templates.enter_index(#index))
        }
        Segment::Same => return quote!(#probe;),
    };
    quote! {{
        let __mark = #enter;
        #probe;
        __templates.leave(__mark);
    }}
}

/// `NamedEvent` and the inherent API of a struct with an event name.
fn impl_named(
    cont: &Container<'_>,
    event: &str,
    generics: &syn::Generics,
    krate: &TokenStream,
) -> TokenStream {
    let ident = cont.ident;
    let (impl_generics, ty_generics, where_clause) = generics.split_for_impl();
    let event_doc = format!("The event name: `{event}`.");
    let send_doc = format!(
        "Sends this `{event}` event: checks every attachment (its type, its bytes, the size cap, and each field's \
         `#[flowflex(..)]` limits) before any request, uploads them, then posts the event with the asset ids in their place.\n\n\
         The same builder as `Client::send_event`: set `.idempotency_key(..)` or `.on_progress(..)`, then `.await` it."
    );
    let paths_doc = "The payload paths of this event's attachments, as a flow reads them \
         (`{{trigger.<path>}}`): `[]` stands for any array index, `*` for any map key, `**` for the paths \
         of a recursive type again.";
    let preview_doc = "The payload as JSON, each attachment shown as \
         `{\"$attachment\": {\"filename\", \"mime\", \"size\"}}`: for snapshot tests; nothing is sent.\n\n\
         # Errors\n\nIf the payload does not serialize to JSON.";
    quote! {
        #[automatically_derived]
        impl #impl_generics #krate::NamedEvent for #ident #ty_generics #where_clause {
            const EVENT: &'static str = #event;
        }

        #[automatically_derived]
        impl #impl_generics #ident #ty_generics #where_clause {
            #[doc = #event_doc]
            pub const EVENT: &'static str = #event;

            #[doc = #send_doc]
            pub fn send(&self, client: &#krate::Client) -> #krate::SendEvent {
                #krate::__private::send(client, Self::EVENT, self)
            }

            #[doc = #paths_doc]
            #[must_use]
            pub fn attachment_paths() -> ::std::vec::Vec<::std::string::String> {
                #krate::__private::attachment_paths::<Self>()
            }

            #[doc = #preview_doc]
            pub fn preview(&self) -> #krate::Result<#krate::__private::serde_json::Value> {
                <Self as #krate::FlowFlexEvent>::preview(self)
            }
        }
    }
}

/// What is emitted beside the errors: the impls with empty bodies, so the
/// rest of the crate (`x.send(..)`, `T::EVENT`, `FlowFlexEvent` bounds)
/// still type-checks and the errors above are the only ones.
fn fallback(cont: &Container<'_>) -> TokenStream {
    if let Data::Union(_) = cont.data {
        // serde cannot serialize a union, so a stub would only add errors.
        return TokenStream::new();
    }
    let krate = cont.attrs.krate();
    let ident = cont.ident;
    let (impl_generics, ty_generics, where_clause) = cont.generics.split_for_impl();
    let event_generics = bound::with_serialize_bound(cont.generics, cont, &krate);
    let (_, _, event_where) = event_generics.split_for_impl();
    let named = cont.attrs.event.as_ref().map(|event| {
        let event = &event.value;
        quote! {
            impl #impl_generics #krate::NamedEvent for #ident #ty_generics #event_where {
                const EVENT: &'static str = #event;
            }

            impl #impl_generics #ident #ty_generics #event_where {
                pub const EVENT: &'static str = #event;

                pub fn send(&self, client: &#krate::Client) -> #krate::SendEvent {
                    ::core::unreachable!()
                }

                pub fn attachment_paths() -> ::std::vec::Vec<::std::string::String> {
                    ::core::unreachable!()
                }

                pub fn preview(&self) -> #krate::Result<#krate::__private::serde_json::Value> {
                    ::core::unreachable!()
                }
            }
        }
    });
    quote! {
        #[doc(hidden)]
        #[allow(unused_variables, unreachable_code)]
        const _: () = {
            impl #impl_generics #krate::__private::Visit for #ident #ty_generics #where_clause {
                fn __flowflex_visit<'__flowflex>(
                    &'__flowflex self,
                    __visitor: &mut #krate::__private::Visitor<'__flowflex>,
                ) {
                    ::core::unreachable!()
                }

                fn __flowflex_templates(__templates: &mut #krate::__private::Templates) {
                    ::core::unreachable!()
                }
            }

            impl #impl_generics #krate::FlowFlexEvent for #ident #ty_generics #event_where {}

            #named
        };
    }
}
