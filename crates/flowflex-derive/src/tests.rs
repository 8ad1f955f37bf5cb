//! Expansion snapshots: the derive run on `parse_quote!` input, pretty
//! printed, pinned with insta (`src/snapshots/`).

use syn::parse_quote;

fn expand(input: syn::DeriveInput) -> String {
    let tokens = crate::expand::derive(&input);
    let file: syn::File = syn::parse2(tokens).expect("the expansion is valid Rust");
    prettyplease::unparse(&file)
}

#[test]
fn nestable_struct() {
    insta::assert_snapshot!(expand(parse_quote! {
        #[derive(Serialize, FlowFlexEvent)]
        struct Order {
            receipt: Attachment,
            total_cents: u64,
        }
    }));
}

#[test]
fn event_with_rules_and_renames() {
    insta::assert_snapshot!(expand(parse_quote! {
        #[derive(Serialize, FlowFlexEvent)]
        #[flowflex(event = "order.shipped")]
        #[serde(rename_all = "camelCase")]
        struct OrderShipped {
            #[flowflex(mime = "application/pdf", max_size = "10 MB")]
            invoice_file: Attachment,
            #[serde(rename = "shippingLabel")]
            label: Attachment,
            #[flowflex(mime("image/jpeg", "image/png"))]
            gallery: Vec<Attachment>,
            order: Order,
            extra: Option<Attachment>,
            note: String,
        }
    }));
}

#[test]
fn serde_skips_and_flatten() {
    insta::assert_snapshot!(expand(parse_quote! {
        #[derive(Serialize, FlowFlexEvent)]
        #[flowflex(event = "media.posted")]
        struct Posted {
            #[serde(skip)]
            cache: Attachment,
            #[serde(skip_serializing_if = "Option::is_none")]
            #[flowflex(mime = "image/*")]
            cover: Option<Attachment>,
            #[serde(flatten)]
            #[flowflex(max_size = 1_000_000)]
            extra: BTreeMap<String, Attachment>,
            #[serde(serialize_with = "as_iso8601")]
            at: Timestamp,
        }
    }));
}

#[test]
fn generic_struct() {
    insta::assert_snapshot!(expand(parse_quote! {
        #[derive(Serialize, FlowFlexEvent)]
        #[flowflex(event = "wrapped")]
        struct Wrapper<'a, T, U: Clone> where U: Default {
            inner: T,
            borrowed: &'a Attachment,
            #[serde(skip)]
            hidden: U,
            marker: PhantomData<U>,
        }
    }));
}

#[test]
fn tuple_struct() {
    insta::assert_snapshot!(expand(parse_quote! {
        #[derive(Serialize, FlowFlexEvent)]
        struct Pair(#[serde(skip)] u8, Attachment, #[flowflex(mime = "text/plain")] Attachment);
    }));
}

#[test]
fn newtype_struct() {
    insta::assert_snapshot!(expand(parse_quote! {
        #[derive(Serialize, FlowFlexEvent)]
        struct Scan(#[flowflex(mime = "application/pdf")] Attachment);
    }));
}

#[test]
fn unit_struct() {
    insta::assert_snapshot!(expand(parse_quote! {
        #[derive(Serialize, FlowFlexEvent)]
        struct Nothing;
    }));
}

#[test]
fn enum_is_refused_with_a_stub() {
    insta::assert_snapshot!(expand(parse_quote! {
        #[derive(Serialize, FlowFlexEvent)]
        enum Media {
            Photo(Attachment),
        }
    }));
}

#[test]
fn crate_path() {
    insta::assert_snapshot!(expand(parse_quote! {
        #[derive(Serialize, FlowFlexEvent)]
        #[flowflex(event = "renamed", crate = "reexports::flowflex")]
        struct Renamed {
            file: Attachment,
        }
    }));
}

#[test]
fn errors_come_with_a_stub() {
    insta::assert_snapshot!(expand(parse_quote! {
        #[derive(Serialize, FlowFlexEvent)]
        #[flowflex(event = " order shipped")]
        struct Broken {
            #[flowflex(mime = "image/jpg", max_size = "30 MB")]
            photo: Attachment,
            #[flowflex(mime = "text/plain")]
            note: String,
        }
    }));
}
