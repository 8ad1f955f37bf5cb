//! Checks that need the whole input: where attributes may go, and serde
//! features whose output the derive cannot follow.

use quote::ToTokens;

use crate::ast::{Container, Data, Field, Style};
use crate::ctxt::Ctxt;
use crate::ty;

pub(crate) fn check(cx: &Ctxt, cont: &Container<'_>) {
    check_shape(cx, cont);
    check_event(cx, cont);
    check_serde_into(cx, cont);
    for field in cont.fields() {
        check_rules(cx, field);
        check_custom_serializer(cx, field);
        check_flatten(cx, field);
        check_tuple_skip_if(cx, cont, field);
    }
}

fn check_shape(cx: &Ctxt, cont: &Container<'_>) {
    match &cont.data {
        Data::Struct(..) => {}
        Data::Enum(data) => cx.error_spanned_by(
            {
                let (enum_token, ident) = (data.enum_token, &cont.original.ident);
                quote::quote!(#enum_token #ident)
            },
            format!(
                "FlowFlexEvent cannot be derived for the enum `{}`: the derive follows serde's struct layout only; \
                 use a struct (one `Option<..>` field per case works), and derive FlowFlexEvent on the structs inside the variants",
                cont.ident
            ),
        ),
        Data::Union(data) => cx.error_spanned_by(
            data.union_token,
            "FlowFlexEvent cannot be derived for a union: use a struct",
        ),
    }
}

fn check_event(cx: &Ctxt, cont: &Container<'_>) {
    let Some(event) = &cont.attrs.event else {
        return;
    };
    let written_as = match cont.style() {
        Some(Style::Tuple) => "a tuple struct, which serde writes as a JSON array",
        Some(Style::Newtype) => "a newtype struct, which serde writes as its one field",
        Some(Style::Unit) => "a unit struct, which serde writes as `null`",
        Some(Style::Struct) | None => return,
    };
    cx.error_spanned_by(
        &event.original,
        format!(
            "an event is sent as a JSON object, but `{}` is {written_as}: give it named fields \
             (or leave out `event` and use it as a field of an event)",
            cont.ident
        ),
    );
}

fn check_serde_into(cx: &Ctxt, cont: &Container<'_>) {
    if let Some(into) = &cont.attrs.serde.into {
        cx.error_spanned_by(
            into,
            format!(
                "`#[serde(into = ..)]` makes serde write another type, so the attachment paths of `{}` would be guesses: \
                 derive FlowFlexEvent on the type it converts into instead",
                cont.ident
            ),
        );
    }
}

fn field_name(field: &Field<'_>) -> String {
    match (&field.original.ident, &field.member) {
        (Some(ident), _) => format!("`{ident}`"),
        (None, syn::Member::Unnamed(index)) => format!("field {}", index.index),
        (None, syn::Member::Named(ident)) => format!("`{ident}`"),
    }
}

fn check_rules(cx: &Ctxt, field: &Field<'_>) {
    let Some(rules) = &field.attrs.rules else {
        return;
    };
    let Some(key) = rules.keys.first() else {
        return;
    };
    let key_name = key.to_token_stream();
    if let Some(skip) = &field.attrs.serde.skip {
        cx.error_spanned_by(
            key,
            format!(
                "{} is never sent (`#[serde({})]`), so `{key_name}` would limit nothing: remove one of them",
                field_name(field),
                skip.to_token_stream()
            ),
        );
    } else if !ty::mentions_attachment(field.ty) {
        let ty = field.ty.to_token_stream().to_string();
        cx.error_spanned_by(
            key,
            format!(
                "`{key_name}` limits attachments, but {} has type `{ty}`, which holds no `Attachment`: \
                 put `{key_name}` on the attachment fields of that type instead \
                 (the type must name `Attachment`, e.g. `Option<Vec<Attachment>>`; an alias hides it)",
                field_name(field),
            ),
        );
    }
}

fn check_custom_serializer(cx: &Ctxt, field: &Field<'_>) {
    let Some(with) = &field.attrs.serde.with else {
        return;
    };
    if field.attrs.serde.skip.is_none() && ty::mentions_attachment(field.ty) {
        cx.error_spanned_by(
            with,
            format!(
                "{} holds attachments but is written by a custom serializer (`{}`), so FlowFlexEvent cannot tell where they end up: \
                 remove it, or convert the value into a field type serde writes itself",
                field_name(field),
                with.to_token_stream()
            ),
        );
    }
}

fn check_flatten(cx: &Ctxt, field: &Field<'_>) {
    let Some(flatten) = &field.attrs.serde.flatten else {
        return;
    };
    if let Some(what) = ty::unflattenable(field.ty) {
        cx.error_spanned_by(
            flatten,
            format!(
                "{} is {what}; serde can flatten only structs and maps into the enclosing object: remove `flatten`",
                field_name(field)
            ),
        );
    }
}

fn check_tuple_skip_if(cx: &Ctxt, cont: &Container<'_>, field: &Field<'_>) {
    if cont.style() != Some(Style::Tuple) {
        return;
    }
    if let Some(predicate) = &field.attrs.serde.skip_if {
        cx.error_spanned_by(
            predicate,
            "`skip_serializing_if` in a tuple struct moves the fields after it to other array indexes at run time, \
             which FlowFlexEvent does not track: use named fields",
        );
    }
}
