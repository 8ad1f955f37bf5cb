//! What a field's type says, read from its tokens (before type checking).

use syn::visit::{self, Visit};

/// Whether the type names `Attachment` anywhere (`Attachment`,
/// `Option<Vec<flowflex::Attachment>>`, `Wrapper<Attachment>`). The rule for
/// where `mime` and `max_size` may go: a type alias hides it, and then the
/// rule is refused rather than guessed.
pub(crate) fn mentions_attachment(ty: &syn::Type) -> bool {
    struct Find(bool);
    impl<'ast> Visit<'ast> for Find {
        fn visit_path_segment(&mut self, segment: &'ast syn::PathSegment) {
            self.0 |= segment.ident == "Attachment";
            visit::visit_path_segment(self, segment);
        }
    }
    let mut find = Find(false);
    find.visit_type(ty);
    find.0
}

/// The last path segment's name: `Vec` for `std::vec::Vec<T>`.
fn last_ident(ty: &syn::Type) -> Option<&syn::Ident> {
    match ungroup(ty) {
        syn::Type::Path(path) if path.qself.is_none() => {
            path.path.segments.last().map(|s| &s.ident)
        }
        _ => None,
    }
}

/// The first type argument of a path type: `T` of `Option<T>`.
fn first_argument(ty: &syn::Type) -> Option<&syn::Type> {
    let syn::Type::Path(path) = ungroup(ty) else {
        return None;
    };
    let syn::PathArguments::AngleBracketed(args) = &path.path.segments.last()?.arguments else {
        return None;
    };
    args.args.iter().find_map(|arg| match arg {
        syn::GenericArgument::Type(ty) => Some(ty),
        _ => None,
    })
}

fn ungroup(mut ty: &syn::Type) -> &syn::Type {
    loop {
        match ty {
            syn::Type::Group(group) => ty = &group.elem,
            syn::Type::Paren(paren) => ty = &paren.elem,
            _ => return ty,
        }
    }
}

/// The type under `Option`, `Box`, `Rc`, `Arc` and references: how serde
/// sees it when flattening.
fn peel(mut ty: &syn::Type) -> &syn::Type {
    loop {
        ty = ungroup(ty);
        if let syn::Type::Reference(reference) = ty {
            ty = &reference.elem;
            continue;
        }
        match last_ident(ty) {
            Some(ident) if ["Option", "Box", "Rc", "Arc"].iter().any(|w| ident == w) => {
                match first_argument(ty) {
                    Some(inner) => ty = inner,
                    None => return ty,
                }
            }
            _ => return ty,
        }
    }
}

/// Why serde cannot flatten this type into the enclosing object, if it
/// visibly cannot: an attachment, or a sequence.
pub(crate) fn unflattenable(ty: &syn::Type) -> Option<&'static str> {
    let ty = peel(ty);
    if matches!(ty, syn::Type::Array(_) | syn::Type::Slice(_)) {
        return Some("an array");
    }
    match last_ident(ty) {
        Some(ident) if ident == "Attachment" => Some("an attachment"),
        Some(ident) if ident == "Vec" || ident == "VecDeque" => Some("a sequence"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use syn::parse_quote;

    use super::*;

    #[test]
    fn mentions() {
        for ty in [
            parse_quote!(Attachment),
            parse_quote!(flowflex::Attachment),
            parse_quote!(Option<Vec<Box<Attachment>>>),
            parse_quote!(BTreeMap<String, [Attachment; 2]>),
            parse_quote!(&'a Attachment),
            parse_quote!(Wrapper<Attachment>),
        ] {
            assert!(mentions_attachment(&ty), "{}", quote::quote!(#ty));
        }
        for ty in [
            parse_quote!(String),
            parse_quote!(Order),
            parse_quote!(Vec<Order>),
            parse_quote!(Attachments),
        ] {
            let ty: syn::Type = ty;
            assert!(!mentions_attachment(&ty), "{}", quote::quote!(#ty));
        }
    }

    #[test]
    fn flatten() {
        let ty: syn::Type = parse_quote!(Option<Box<Attachment>>);
        assert_eq!(unflattenable(&ty), Some("an attachment"));
        let ty: syn::Type = parse_quote!(Vec<Order>);
        assert_eq!(unflattenable(&ty), Some("a sequence"));
        let ty: syn::Type = parse_quote!([Attachment; 2]);
        assert_eq!(unflattenable(&ty), Some("an array"));
        let ty: syn::Type = parse_quote!(Option<Order>);
        assert_eq!(unflattenable(&ty), None);
        let ty: syn::Type = parse_quote!(HashMap<String, Attachment>);
        assert_eq!(unflattenable(&ty), None);
    }
}
