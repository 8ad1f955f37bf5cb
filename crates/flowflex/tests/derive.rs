//! `#[derive(FlowFlexEvent)]` without a server: the paths the derive computes
//! are the paths the JSON has, for every shape and serde attribute; path
//! templates; previews; field limits (checked before any request).

use std::collections::{BTreeMap, HashMap};
use std::marker::PhantomData;

use flowflex::{Attachment, AttachmentErrorKind, Client, Error, FlowFlexEvent, Mime, NamedEvent};
use serde::Serialize;
use serde_json::Value;

#[path = "support/templates.rs"]
mod templates;
use templates::matches_template;

// ------------------------------------------------------------ helpers

fn pdf(name: &str) -> Attachment {
    Attachment::from_bytes(&b"%PDF-1.7\n"[..], name)
}

fn png(name: &str) -> Attachment {
    Attachment::from_bytes(&b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"[..], name)
}

fn txt(name: &str) -> Attachment {
    Attachment::from_bytes(&b"plain text"[..], name)
}

/// Where the JSON of `value` holds attachments: the paths of the preview's
/// placeholders, written as the runtime's payload walker writes them.
fn wire_paths<T: Serialize>(value: &T) -> Vec<String> {
    fn walk(v: &Value, path: &mut String, out: &mut Vec<String>) {
        match v {
            Value::Object(map) if map.len() == 1 && map.contains_key("$attachment") => {
                out.push(path.clone());
            }
            Value::Object(map) => {
                for (key, child) in map {
                    let len = path.len();
                    if !path.is_empty() {
                        path.push('.');
                    }
                    path.push_str(key);
                    walk(child, path, out);
                    path.truncate(len);
                }
            }
            Value::Array(items) => {
                for (i, child) in items.iter().enumerate() {
                    let len = path.len();
                    path.push_str(&format!("[{i}]"));
                    walk(child, path, out);
                    path.truncate(len);
                }
            }
            _ => {}
        }
    }
    let preview = flowflex::preview(value).expect("serializes");
    let mut out = Vec::new();
    walk(&preview, &mut String::new(), &mut out);
    out.sort();
    out
}

fn derive_paths<T: FlowFlexEvent>(value: &T) -> Vec<String> {
    let mut paths: Vec<String> = value.attachments().into_iter().map(|(p, _)| p).collect();
    paths.sort();
    paths
}

/// Asserts the derive's paths are the JSON's, and that each matches one of
/// the type's templates; returns them.
#[track_caller]
fn same_paths<T: FlowFlexEvent>(value: &T) -> Vec<String> {
    let derived = derive_paths(value);
    assert_eq!(derived, wire_paths(value), "derive paths vs JSON paths");
    let templates = T::attachment_paths();
    for path in &derived {
        assert!(
            templates.iter().any(|t| matches_template(t, path)),
            "{path} matches none of {templates:?}"
        );
    }
    derived
}

fn offline_client() -> Client {
    // Port 9 (discard) on loopback: nothing listens, so a test that got as
    // far as a request would fail with a network error, not pass.
    Client::builder()
        .api_key("key")
        .api_secret("secret")
        .integration_code("int_test")
        .base_url("http://127.0.0.1:9")
        .max_retries(0)
        .build()
        .expect("client builds")
}

// ------------------------------------------------------------ the example

#[derive(Serialize, FlowFlexEvent)]
struct Order {
    receipt: Attachment,
}

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

fn order_shipped() -> OrderShipped {
    OrderShipped {
        invoice_file: pdf("invoice.pdf"),
        label: pdf("label.pdf"),
        gallery: vec![png("a.png"), png("b.png")],
        order: Order {
            receipt: pdf("receipt.pdf"),
        },
        extra: None,
        note: "fragile".into(),
    }
}

#[test]
fn the_example_has_its_paths_and_name() {
    assert_eq!(OrderShipped::EVENT, "order.shipped");
    assert_eq!(<OrderShipped as NamedEvent>::EVENT, "order.shipped");
    assert_eq!(
        OrderShipped::attachment_paths(),
        [
            "invoiceFile",
            "shippingLabel",
            "gallery[]",
            "order.receipt",
            "extra"
        ]
    );
    assert_eq!(Order::attachment_paths(), ["receipt"]);
    let mut event = order_shipped();
    assert_eq!(
        same_paths(&event),
        [
            "gallery[0]",
            "gallery[1]",
            "invoiceFile",
            "order.receipt",
            "shippingLabel"
        ]
    );
    event.extra = Some(txt("extra.txt"));
    assert!(same_paths(&event).contains(&"extra".to_owned()));
}

#[test]
fn attachments_are_the_values_themselves() {
    let event = order_shipped();
    let found = event.attachments();
    assert_eq!(found[0].0, "invoiceFile");
    assert!(found[0].1.same_file(&event.invoice_file));
    assert!(found[3].1.same_file(&event.gallery[1]));
}

#[test]
fn preview_shows_placeholders() {
    let event = order_shipped();
    insta::assert_json_snapshot!("order_shipped_preview", event.preview().unwrap());
    // The trait method and the inherent one agree.
    assert_eq!(
        FlowFlexEvent::preview(&event).unwrap(),
        event.preview().unwrap()
    );
}

// ------------------------------------------------------------ shapes

#[derive(Serialize, FlowFlexEvent)]
struct Flat {
    flat_file: Attachment,
    flat_list: Vec<Attachment>,
}

// Serde never writes the skipped fields: the compiler sees them unread.
#[allow(dead_code)]
#[derive(Serialize, FlowFlexEvent)]
struct Pair(#[serde(skip)] u8, Attachment, Option<Attachment>);

#[derive(Serialize, FlowFlexEvent)]
struct Scan(Attachment);

#[derive(Serialize, FlowFlexEvent)]
struct Nothing;

#[derive(Serialize, FlowFlexEvent)]
#[serde(transparent)]
struct Transparent {
    inner: Vec<Attachment>,
}

#[derive(Serialize, FlowFlexEvent)]
struct Wrapper<T> {
    inner: T,
}

#[derive(Serialize, FlowFlexEvent)]
struct Borrowed<'a> {
    file: &'a Attachment,
    files: &'a [Attachment],
}

/// Not deriving FlowFlexEvent: its attachment is still in the JSON, but the
/// derive does not see it.
#[derive(Serialize)]
struct Opaque {
    hidden: Attachment,
}

fn is_false(b: &bool) -> bool {
    !*b
}

// `Option<Vec<Box<Attachment>>>` is a shape the derive must see through.
#[allow(dead_code, clippy::vec_box)]
#[derive(Serialize, FlowFlexEvent)]
#[flowflex(event = "everything")]
struct Everything {
    nested_options: Option<Vec<Box<Attachment>>>,
    orders_by_region: BTreeMap<String, Vec<Order>>,
    photos: HashMap<String, Attachment>,
    numbered: BTreeMap<u32, Attachment>,
    pair: [Attachment; 2],
    grid: Vec<Vec<Attachment>>,
    boxed: Box<Order>,
    shared: Vec<Attachment>,
    counted: Box<Option<Attachment>>,
    #[serde(skip)]
    skipped: Option<Attachment>,
    #[serde(skip_serializing)]
    not_serialized: Option<Attachment>,
    #[serde(skip_serializing_if = "Option::is_none")]
    maybe: Option<Attachment>,
    #[serde(skip_serializing_if = "is_false")]
    flag: bool,
    #[serde(flatten)]
    flat: Flat,
    #[serde(flatten)]
    extra: BTreeMap<String, Attachment>,
    #[serde(flatten)]
    maybe_flat: Option<Order>,
    tuple: Pair,
    newtype: Scan,
    unit: Nothing,
    transparent: Transparent,
    wrapped_list: Wrapper<Vec<Attachment>>,
    wrapped_order: Wrapper<Order>,
    wrapped_text: Wrapper<String>,
    r#type: Attachment,
    #[serde(rename(serialize = "renamedForOutput", deserialize = "ignored"))]
    renamed: Attachment,
    tags: Vec<String>,
    marker: PhantomData<u8>,
    tuple_field: (Attachment, String, Option<Order>),
}

fn everything() -> Everything {
    let shared = pdf("shared.pdf");
    Everything {
        nested_options: Some(vec![Box::new(pdf("n0.pdf")), Box::new(pdf("n1.pdf"))]),
        orders_by_region: [
            (
                "eu".to_owned(),
                vec![
                    Order {
                        receipt: pdf("eu0.pdf"),
                    },
                    Order {
                        receipt: pdf("eu1.pdf"),
                    },
                ],
            ),
            ("us".to_owned(), vec![]),
        ]
        .into_iter()
        .collect(),
        photos: [
            ("front".to_owned(), png("f.png")),
            ("back".to_owned(), png("b.png")),
        ]
        .into_iter()
        .collect(),
        numbered: [(7, txt("seven.txt"))].into_iter().collect(),
        pair: [pdf("p0.pdf"), pdf("p1.pdf")],
        grid: vec![vec![], vec![png("g10.png"), png("g11.png")]],
        boxed: Box::new(Order {
            receipt: pdf("boxed.pdf"),
        }),
        // The same file twice: two paths, one upload.
        shared: vec![shared.clone(), shared],
        counted: Box::new(Some(txt("counted.txt"))),
        skipped: Some(pdf("skipped.pdf")),
        not_serialized: Some(pdf("not-serialized.pdf")),
        maybe: None,
        flag: false,
        flat: Flat {
            flat_file: pdf("flat.pdf"),
            flat_list: vec![pdf("fl0.pdf")],
        },
        extra: [("loose".to_owned(), txt("loose.txt"))]
            .into_iter()
            .collect(),
        maybe_flat: Some(Order {
            receipt: pdf("mf.pdf"),
        }),
        tuple: Pair(1, pdf("t1.pdf"), Some(pdf("t2.pdf"))),
        newtype: Scan(pdf("scan.pdf")),
        unit: Nothing,
        transparent: Transparent {
            inner: vec![txt("tr.txt")],
        },
        wrapped_list: Wrapper {
            inner: vec![pdf("w0.pdf")],
        },
        wrapped_order: Wrapper {
            inner: Order {
                receipt: pdf("wo.pdf"),
            },
        },
        wrapped_text: Wrapper {
            inner: "text".into(),
        },
        r#type: pdf("type.pdf"),
        renamed: pdf("renamed.pdf"),
        tags: vec!["a".into()],
        marker: PhantomData,
        tuple_field: (
            pdf("tf0.pdf"),
            "text".into(),
            Some(Order {
                receipt: pdf("tf2.pdf"),
            }),
        ),
    }
}

#[test]
fn every_shape_has_the_paths_of_its_json() {
    let value = everything();
    let paths = same_paths(&value);
    for expected in [
        "nested_options[1]",
        "orders_by_region.eu[1].receipt",
        "photos.front",
        "numbered.7",
        "pair[1]",
        "grid[1][0]",
        "boxed.receipt",
        "shared[0]",
        "shared[1]",
        "counted",
        "flat_file",
        "flat_list[0]",
        "loose",
        "receipt",
        "tuple[0]",
        "tuple[1]",
        "newtype",
        "transparent[0]",
        "wrapped_list.inner[0]",
        "wrapped_order.inner.receipt",
        "type",
        "renamedForOutput",
        "tuple_field[0]",
        "tuple_field[2].receipt",
    ] {
        assert!(
            paths.contains(&expected.to_owned()),
            "{expected} in {paths:?}"
        );
    }
    assert!(
        !paths
            .iter()
            .any(|p| p.contains("skipped") || p.contains("not_serialized"))
    );
    assert!(!paths.contains(&"maybe".to_owned()));
    assert_eq!(paths.len(), 29, "{paths:?}");
}

#[test]
fn skip_serializing_if_is_followed_at_run_time() {
    let mut value = everything();
    value.maybe = Some(pdf("maybe.pdf"));
    assert!(same_paths(&value).contains(&"maybe".to_owned()));
}

#[test]
fn templates_of_every_shape() {
    insta::assert_debug_snapshot!("everything_templates", Everything::attachment_paths());
    assert_eq!(Pair::attachment_paths(), ["[0]", "[1]"]);
    assert_eq!(Scan::attachment_paths(), [""]);
    assert!(Nothing::attachment_paths().is_empty());
    assert_eq!(
        <Wrapper<Vec<Order>>>::attachment_paths(),
        ["inner[].receipt"]
    );
    assert!(<Wrapper<u64>>::attachment_paths().is_empty());
}

#[test]
fn generic_and_borrowing_structs() {
    let files = [pdf("a.pdf"), pdf("b.pdf")];
    let borrowed = Borrowed {
        file: &files[0],
        files: &files,
    };
    assert_eq!(same_paths(&borrowed), ["file", "files[0]", "files[1]"]);
    assert_eq!(Borrowed::attachment_paths(), ["file", "files[]"]);
    let wrapped = Wrapper {
        inner: Wrapper {
            inner: BTreeMap::from([("k".to_owned(), pdf("k.pdf"))]),
        },
    };
    assert_eq!(same_paths(&wrapped), ["inner.inner.k"]);
}

#[test]
fn types_without_the_derive_are_invisible_but_still_sent() {
    #[derive(Serialize, FlowFlexEvent)]
    struct WithOpaque {
        seen: Attachment,
        opaque: Opaque,
    }
    let value = WithOpaque {
        seen: pdf("seen.pdf"),
        opaque: Opaque {
            hidden: pdf("hidden.pdf"),
        },
    };
    assert_eq!(derive_paths(&value), ["seen"]);
    assert_eq!(wire_paths(&value), ["opaque.hidden", "seen"]);
}

#[derive(Serialize, FlowFlexEvent)]
struct Node {
    file: Option<Attachment>,
    children: Vec<Node>,
}

#[test]
fn recursive_types() {
    assert_eq!(Node::attachment_paths(), ["file", "children[].**"]);
    let tree = Node {
        file: None,
        children: vec![
            Node {
                file: Some(txt("a.txt")),
                children: vec![],
            },
            Node {
                file: None,
                children: vec![Node {
                    file: Some(txt("b.txt")),
                    children: vec![],
                }],
            },
        ],
    };
    assert_eq!(
        same_paths(&tree),
        ["children[0].file", "children[1].children[0].file"]
    );
}

// ------------------------------------------------------------ serde's rename rules

macro_rules! rename_rule {
    ($($name:ident => $rule:literal, $expected:literal;)+) => {$(
        #[derive(Serialize, FlowFlexEvent)]
        #[serde(rename_all = $rule)]
        struct $name {
            invoice_file_2: Attachment,
            #[serde(rename = "kept")]
            other_file: Attachment,
            plain: Option<Attachment>,
        }

        impl $name {
            fn sample() -> Self {
                $name {
                    invoice_file_2: pdf("i.pdf"),
                    other_file: pdf("o.pdf"),
                    plain: Some(pdf("p.pdf")),
                }
            }
        }
    )+

    #[test]
    fn rename_all_follows_serde_for_every_rule() {
        $(
            let paths = same_paths(&$name::sample());
            assert!(paths.contains(&$expected.to_owned()), "{}: {paths:?}", $rule);
            assert!(paths.contains(&"kept".to_owned()), "{}: {paths:?}", $rule);
            assert_eq!($name::attachment_paths()[0], $expected);
        )+
    }
    };
}

rename_rule! {
    Lower => "lowercase", "invoice_file_2";
    Upper => "UPPERCASE", "INVOICE_FILE_2";
    Pascal => "PascalCase", "InvoiceFile2";
    Camel => "camelCase", "invoiceFile2";
    Snake => "snake_case", "invoice_file_2";
    ScreamingSnake => "SCREAMING_SNAKE_CASE", "INVOICE_FILE_2";
    Kebab => "kebab-case", "invoice-file-2";
    ScreamingKebab => "SCREAMING-KEBAB-CASE", "INVOICE-FILE-2";
}

#[derive(Serialize, FlowFlexEvent)]
#[serde(rename_all(serialize = "kebab-case", deserialize = "snake_case"))]
struct SerializeOnlyRule {
    some_file: Attachment,
}

#[test]
fn rename_all_serialize_form() {
    let value = SerializeOnlyRule {
        some_file: pdf("s.pdf"),
    };
    assert_eq!(same_paths(&value), ["some-file"]);
}

// ------------------------------------------------------------ event names

/// Inner spaces are part of the agreed rule (`flowflex_core::check_event_name`),
/// as the service and the Python SDK accept them.
#[derive(Serialize, FlowFlexEvent)]
#[flowflex(event = "order shipped")]
struct Spaced {
    file: Attachment,
}

#[test]
fn an_event_name_may_hold_inner_spaces() {
    assert_eq!(Spaced::EVENT, "order shipped");
    assert_eq!(<Spaced as NamedEvent>::EVENT, "order shipped");
}

// ------------------------------------------------------------ the MIME table

/// Each of the 16 essences, given to `mime = ..`, allows exactly that type.
macro_rules! every_mime {
    ($($name:ident: $essence:literal;)+) => {
        $(
            #[derive(Serialize, FlowFlexEvent)]
            #[flowflex(event = "mime.check")]
            struct $name {
                #[flowflex(mime = $essence)]
                file: Attachment,
            }
        )+

        #[tokio::test]
        async fn each_essence_allows_its_type_only() {
            let client = offline_client();
            let essences = [$($essence),+];
            assert_eq!(essences.len(), 16);
            for (essence, mime) in essences.iter().zip(Mime::ALL) {
                assert_eq!(*essence, mime.as_str());
            }
            $(
                let wrong = $name { file: txt("t.txt").with_mime(Mime::Txt) };
                let err = wrong.send(&client).await.unwrap_err();
                if $essence == "text/plain" {
                    // Allowed: the send got as far as the network.
                    assert!(err.attachment_kind().is_none(), "{err}");
                } else {
                    assert_eq!(err.attachment_kind(), Some(AttachmentErrorKind::TypeNotAllowed), "{err}");
                    assert!(err.to_string().contains($essence), "{err}");
                }
            )+
        }
    };
}

every_mime! {
    MimePdf: "application/pdf";
    MimeDoc: "application/msword";
    MimeDocx: "application/vnd.openxmlformats-officedocument.wordprocessingml.document";
    MimeXls: "application/vnd.ms-excel";
    MimeXlsx: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
    MimePpt: "application/vnd.ms-powerpoint";
    MimePptx: "application/vnd.openxmlformats-officedocument.presentationml.presentation";
    MimeTxt: "text/plain";
    MimeJpeg: "image/jpeg";
    MimePng: "image/png";
    MimeMp4: "video/mp4";
    MimeThreeGpp: "video/3gpp";
    MimeAac: "audio/aac";
    MimeAmr: "audio/amr";
    MimeMpeg: "audio/mpeg";
    MimeOgg: "audio/ogg";
}

// ------------------------------------------------------------ field limits, offline

#[derive(Serialize, FlowFlexEvent)]
#[flowflex(event = "limits")]
struct Limits {
    #[flowflex(mime = "image/*")]
    images: Vec<Attachment>,
    #[flowflex(max_size = 16)]
    small: Option<Attachment>,
    #[flowflex(mime = "application/pdf")]
    wrapped: Wrapper<Attachment>,
    nested: Nested,
}

#[derive(Serialize, FlowFlexEvent)]
struct Nested {
    #[flowflex(mime = "text/plain", max_size = "1 KB")]
    notes: BTreeMap<String, Attachment>,
}

fn limits() -> Limits {
    Limits {
        images: vec![png("a.png"), png("b.png")],
        small: Some(txt("small.txt")),
        wrapped: Wrapper {
            inner: pdf("w.pdf"),
        },
        nested: Nested {
            notes: BTreeMap::from([("first".to_owned(), txt("n.txt"))]),
        },
    }
}

async fn refused(event: &Limits) -> (String, AttachmentErrorKind) {
    let err = event
        .send(&offline_client())
        .await
        .expect_err("a limit is exceeded");
    match &err {
        Error::Attachment { path, kind, .. } => (path.clone().expect("a path"), *kind),
        other => panic!("expected an attachment error, got {other}"),
    }
}

#[tokio::test]
async fn field_limits_name_the_offending_path() {
    let mut event = limits();
    event.images.push(pdf("not-an-image.pdf"));
    assert_eq!(
        refused(&event).await,
        ("images[2]".to_owned(), AttachmentErrorKind::TypeNotAllowed)
    );

    let mut event = limits();
    event.small = Some(Attachment::from_bytes(vec![b'x'; 17], "seventeen.txt"));
    assert_eq!(
        refused(&event).await,
        ("small".to_owned(), AttachmentErrorKind::TooLarge)
    );

    let mut event = limits();
    event.wrapped.inner = png("w.png");
    assert_eq!(
        refused(&event).await,
        (
            "wrapped.inner".to_owned(),
            AttachmentErrorKind::TypeNotAllowed
        )
    );

    let mut event = limits();
    event.nested.notes.insert(
        "second".into(),
        Attachment::from_bytes(vec![b'x'; 1001], "big.txt"),
    );
    assert_eq!(
        refused(&event).await,
        (
            "nested.notes.second".to_owned(),
            AttachmentErrorKind::TooLarge
        )
    );
}

/// Nothing is refused locally: the send gets as far as asking for its first
/// upload URL, which fails only because nothing listens there.
#[tokio::test]
async fn within_limits_the_send_fails_only_at_its_first_request() {
    let err = limits().send(&offline_client()).await.unwrap_err();
    assert!(err.attachment_kind().is_none(), "{err}");
    let failed = match &err {
        Error::Upload { source, .. } => &**source,
        other => other,
    };
    assert!(
        matches!(
            failed,
            Error::Network {
                endpoint: flowflex::Endpoint::UploadUrl,
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn the_trait_send_applies_the_same_limits() {
    async fn send_generic<E: NamedEvent>(event: &E) -> flowflex::Result<flowflex::SendEventResult> {
        event.send(&offline_client()).await
    }
    let mut event = limits();
    event.images.push(txt("x.txt"));
    let err = send_generic(&event).await.unwrap_err();
    assert_eq!(err.path(), Some("images[2]"));
}

// ------------------------------------------------------------ include_attachment!

#[test]
fn include_attachment_embeds_the_file() {
    let logo = flowflex::include_attachment!("tests/fixtures/logo.png");
    assert_eq!(logo.mime(), Some(Mime::Png));
    assert_eq!(logo.filename(), Some("logo.png"));
    assert_eq!(
        logo.size_hint(),
        Some(include_bytes!("fixtures/logo.png").len() as u64)
    );
    let terms = flowflex::include_attachment!("tests/fixtures/terms.txt",);
    assert_eq!(terms.mime(), Some(Mime::Txt));
    let preview = flowflex::preview(&flowflex::json!({ "logo": logo })).unwrap();
    assert_eq!(preview["logo"]["$attachment"]["mime"], "image/png");
}

// ------------------------------------------------- one path, two files

/// A derived event's send: the refusal if it is refused before any request,
/// `None` if it got as far as the network.
async fn refusal(send: flowflex::SendEvent) -> Option<String> {
    match send.await {
        Err(err @ Error::Payload { .. }) => Some(err.to_string()),
        Err(err) => {
            assert!(err.is_retryable() || err.status().is_none(), "{err}");
            None
        }
        Ok(sent) => panic!("nothing listens on port 9: {sent:?}"),
    }
}

#[tokio::test]
async fn two_files_on_one_path_are_refused_however_the_derive_gets_there() {
    #[derive(Serialize, FlowFlexEvent)]
    struct Inner {
        b: Attachment,
    }
    // A name that reads like nesting.
    #[derive(Serialize, FlowFlexEvent)]
    #[flowflex(event = "t.dotted")]
    struct Dotted {
        #[serde(rename = "a.b")]
        dotted: Attachment,
        a: Inner,
    }
    // A flattened field beside a field of the same name.
    #[derive(Serialize, FlowFlexEvent)]
    #[flowflex(event = "t.flat")]
    struct Flat {
        b: Attachment,
        #[serde(flatten)]
        inner: Inner,
    }
    // Two fields under one name.
    #[derive(Serialize, FlowFlexEvent)]
    #[flowflex(event = "t.twice")]
    struct Twice {
        #[serde(rename = "x")]
        first: Attachment,
        #[serde(rename = "x")]
        second: Attachment,
    }
    // Map keys that read like nesting, at two depths.
    #[derive(Serialize, FlowFlexEvent)]
    #[flowflex(event = "t.keys")]
    struct Keys {
        m: BTreeMap<String, BTreeMap<String, Attachment>>,
    }
    let client = offline_client();
    let refused = |refusal: Option<String>, path: &str| {
        let err = refusal.expect("two files on one path are refused");
        assert!(err.contains(&format!("same flow path `{path}`")), "{err}");
    };
    let dotted = Dotted {
        dotted: pdf("1.pdf"),
        a: Inner { b: pdf("2.pdf") },
    };
    refused(refusal(dotted.send(&client)).await, "a.b");
    let flat = Flat {
        b: pdf("1.pdf"),
        inner: Inner { b: pdf("2.pdf") },
    };
    refused(refusal(flat.send(&client)).await, "b");
    let twice = Twice {
        first: pdf("1.pdf"),
        second: pdf("2.pdf"),
    };
    refused(refusal(twice.send(&client)).await, "x");
    let inner = |key: &str, file| BTreeMap::from([(key.to_owned(), file)]);
    let keys = Keys {
        m: BTreeMap::from([
            ("a".to_owned(), inner("b.c", pdf("1.pdf"))),
            ("a.b".to_owned(), inner("c", pdf("2.pdf"))),
        ]),
    };
    refused(refusal(keys.send(&client)).await, "m.a.b.c");
    // One file on one path twice is no conflict: the send goes on.
    let same = pdf("1.pdf");
    let twice = Twice {
        first: same.clone(),
        second: same,
    };
    assert_eq!(refusal(twice.send(&client)).await, None);
}
