//! The derive input as typed data, each part keeping its original tokens so
//! errors point at what the user wrote.

use crate::attr;
use crate::ctxt::Ctxt;

pub(crate) struct Container<'a> {
    pub(crate) ident: &'a syn::Ident,
    pub(crate) attrs: attr::Container,
    pub(crate) data: Data<'a>,
    pub(crate) generics: &'a syn::Generics,
    pub(crate) original: &'a syn::DeriveInput,
}

pub(crate) enum Data<'a> {
    Struct(Style, Vec<Field<'a>>),
    /// Not supported: kept for the error and the stub.
    Enum(&'a syn::DataEnum),
    Union(&'a syn::DataUnion),
}

/// How serde writes a struct.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub(crate) enum Style {
    /// Named fields: a JSON object.
    Struct,
    /// Two or more unnamed fields: a JSON array.
    Tuple,
    /// One unnamed field: written as the field itself.
    Newtype,
    /// No fields: `null`.
    Unit,
}

pub(crate) struct Field<'a> {
    pub(crate) member: syn::Member,
    pub(crate) attrs: attr::Field,
    pub(crate) ty: &'a syn::Type,
    pub(crate) original: &'a syn::Field,
}

impl<'a> Container<'a> {
    pub(crate) fn from_ast(cx: &Ctxt, item: &'a syn::DeriveInput) -> Self {
        let attrs = attr::Container::from_ast(cx, item);
        let data = match &item.data {
            syn::Data::Struct(data) => {
                let style = match &data.fields {
                    syn::Fields::Named(_) => Style::Struct,
                    syn::Fields::Unnamed(fields) if fields.unnamed.len() == 1 => Style::Newtype,
                    syn::Fields::Unnamed(_) => Style::Tuple,
                    syn::Fields::Unit => Style::Unit,
                };
                let fields = data
                    .fields
                    .iter()
                    .enumerate()
                    .map(|(i, field)| Field::from_ast(cx, i, field, &attrs))
                    .collect();
                Data::Struct(style, fields)
            }
            syn::Data::Enum(data) => Data::Enum(data),
            syn::Data::Union(data) => Data::Union(data),
        };
        Container {
            ident: &item.ident,
            attrs,
            data,
            generics: &item.generics,
            original: item,
        }
    }

    /// The struct's fields; none for an enum or union.
    pub(crate) fn fields(&self) -> &[Field<'a>] {
        match &self.data {
            Data::Struct(_, fields) => fields,
            Data::Enum(_) | Data::Union(_) => &[],
        }
    }

    pub(crate) fn style(&self) -> Option<Style> {
        match &self.data {
            Data::Struct(style, _) => Some(*style),
            Data::Enum(_) | Data::Union(_) => None,
        }
    }
}

impl<'a> Field<'a> {
    fn from_ast(
        cx: &Ctxt,
        index: usize,
        field: &'a syn::Field,
        container: &attr::Container,
    ) -> Self {
        Field {
            member: match &field.ident {
                Some(ident) => syn::Member::Named(ident.clone()),
                None => syn::Member::Unnamed(index.into()),
            },
            attrs: attr::Field::from_ast(cx, index, field, container.serde.rename_all),
            ty: &field.ty,
            original: field,
        }
    }

    /// Whether serde writes this field at all.
    pub(crate) fn serialized(&self) -> bool {
        self.attrs.serde.skip.is_none()
    }

    /// Whether the derive looks inside: written by serde's own rules, not by
    /// a custom `serialize_with`.
    pub(crate) fn visited(&self) -> bool {
        self.serialized() && self.attrs.serde.with.is_none()
    }
}
