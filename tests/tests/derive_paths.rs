//! The paths `#[derive(FlowFlexEvent)]` computes are the paths a real send
//! reports (`SendEventResult::uploaded_assets`), for every supported shape
//! and serde attribute, and they match the type's path templates.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use flowflex::{Attachment, FlowFlexEvent, Mime, NamedEvent};
use serde::Serialize;
use tests::{Harness, sample};

#[path = "../../crates/flowflex/tests/support/templates.rs"]
mod templates;
use templates::matches_template;

fn file(mime: Mime, name: &str) -> Attachment {
    Attachment::from_bytes(sample(mime, name.len()), name)
}

/// Sends `event` and checks that the derive's paths are the uploaded ones;
/// returns them.
async fn sent_paths<E: NamedEvent>(h: &Harness, event: &E) -> BTreeSet<String> {
    let sent = event.send(&h.client).await.expect("send succeeds");
    let wire: BTreeSet<String> = sent.uploaded_assets.keys().cloned().collect();
    let derived: BTreeSet<String> = event.attachments().into_iter().map(|(p, _)| p).collect();
    assert_eq!(derived, wire, "derive paths vs wire paths");
    let templates = E::attachment_paths();
    for path in &wire {
        assert!(
            templates.iter().any(|t| matches_template(t, path)),
            "{path} matches none of {templates:?}"
        );
    }
    wire
}

#[derive(Serialize, FlowFlexEvent)]
struct Order {
    receipt: Attachment,
}

#[derive(Serialize, FlowFlexEvent)]
struct Pair(Attachment, Option<Attachment>);

#[derive(Serialize, FlowFlexEvent)]
struct Scan(Attachment);

#[derive(Serialize, FlowFlexEvent)]
#[serde(rename_all = "SCREAMING-KEBAB-CASE")]
struct Flat {
    flat_file: Attachment,
}

#[derive(Serialize, FlowFlexEvent)]
struct Wrapper<T> {
    inner: T,
}

#[derive(Serialize, FlowFlexEvent)]
struct Node {
    file: Option<Attachment>,
    children: Vec<Node>,
}

// `Option<Vec<Box<Attachment>>>` is a shape the derive must see through.
#[allow(clippy::vec_box)]
#[derive(Serialize, FlowFlexEvent)]
#[flowflex(event = "shapes.all")]
#[serde(rename_all = "camelCase")]
struct Shapes {
    nested_options: Option<Vec<Box<Attachment>>>,
    orders_by_region: BTreeMap<String, Vec<Order>>,
    photos: HashMap<String, Attachment>,
    numbered: BTreeMap<u16, Attachment>,
    pair_of_files: [Attachment; 2],
    grid: Vec<Vec<Attachment>>,
    #[serde(skip)]
    #[allow(dead_code)]
    local_only: Option<Attachment>,
    #[serde(skip_serializing_if = "Option::is_none")]
    maybe: Option<Attachment>,
    #[serde(flatten)]
    flat: Flat,
    #[serde(flatten)]
    loose: BTreeMap<String, Attachment>,
    tuple: Pair,
    newtype: Scan,
    wrapped: Wrapper<Vec<Order>>,
    tree: Node,
    #[serde(rename = "RenamedField")]
    renamed: Attachment,
    r#type: Attachment,
    note: String,
}

#[tokio::test]
async fn every_shape_sends_at_the_derived_paths() {
    let h = Harness::start().await;
    let shared = file(Mime::Png, "shared.png");
    let event = Shapes {
        nested_options: Some(vec![
            Box::new(file(Mime::Pdf, "n0.pdf")),
            Box::new(shared.clone()),
        ]),
        orders_by_region: BTreeMap::from([
            (
                "eu-west".to_owned(),
                vec![
                    Order {
                        receipt: file(Mime::Pdf, "eu0.pdf"),
                    },
                    Order {
                        receipt: file(Mime::Pdf, "eu1.pdf"),
                    },
                ],
            ),
            ("empty".to_owned(), vec![]),
        ]),
        photos: HashMap::from([
            ("front".to_owned(), file(Mime::Jpeg, "front.jpg")),
            ("back".to_owned(), shared.clone()),
        ]),
        numbered: BTreeMap::from([(42, file(Mime::Txt, "n42.txt"))]),
        pair_of_files: [file(Mime::Mp4, "clip.mp4"), file(Mime::Ogg, "voice.ogg")],
        grid: vec![
            vec![],
            vec![file(Mime::Png, "g10.png"), file(Mime::Png, "g11.png")],
        ],
        local_only: Some(file(Mime::Pdf, "local.pdf")),
        maybe: None,
        flat: Flat {
            flat_file: file(Mime::Docx, "flat.docx"),
        },
        loose: BTreeMap::from([("looseFile".to_owned(), file(Mime::Xlsx, "loose.xlsx"))]),
        tuple: Pair(file(Mime::Mpeg, "t0.mp3"), Some(file(Mime::Aac, "t1.aac"))),
        newtype: Scan(file(Mime::Pdf, "scan.pdf")),
        wrapped: Wrapper {
            inner: vec![Order {
                receipt: file(Mime::Pdf, "w.pdf"),
            }],
        },
        tree: Node {
            file: None,
            children: vec![Node {
                file: Some(file(Mime::Amr, "leaf.amr")),
                children: vec![],
            }],
        },
        renamed: file(Mime::Pptx, "deck.pptx"),
        r#type: file(Mime::ThreeGpp, "clip.3gp"),
        note: "plain".into(),
    };
    let paths = sent_paths(&h, &event).await;
    let expected: BTreeSet<String> = [
        "nestedOptions[0]",
        "nestedOptions[1]",
        "ordersByRegion.eu-west[0].receipt",
        "ordersByRegion.eu-west[1].receipt",
        "photos.front",
        "photos.back",
        "numbered.42",
        "pairOfFiles[0]",
        "pairOfFiles[1]",
        "grid[1][0]",
        "grid[1][1]",
        "FLAT-FILE",
        "looseFile",
        "tuple[0]",
        "tuple[1]",
        "newtype",
        "wrapped.inner[0].receipt",
        "tree.children[0].file",
        "RenamedField",
        "type",
    ]
    .map(String::from)
    .into();
    assert_eq!(paths, expected);
    // The shared file was uploaded once, for its two places.
    let uploaded = h
        .emulator
        .assets()
        .into_iter()
        .filter(|a| a.uploaded)
        .count();
    assert_eq!(uploaded, expected.len() - 1);
}

#[tokio::test]
async fn skip_serializing_if_present() {
    #[derive(Serialize, FlowFlexEvent)]
    #[flowflex(event = "maybe")]
    struct Maybe {
        #[serde(skip_serializing_if = "Option::is_none")]
        file: Option<Attachment>,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        files: Vec<Attachment>,
    }

    let h = Harness::start().await;
    let some = Maybe {
        file: Some(file(Mime::Pdf, "a.pdf")),
        files: vec![file(Mime::Pdf, "b.pdf")],
    };
    assert_eq!(
        sent_paths(&h, &some).await,
        BTreeSet::from(["file".to_owned(), "files[0]".to_owned()])
    );
    let none = Maybe {
        file: None,
        files: vec![],
    };
    assert!(sent_paths(&h, &none).await.is_empty());
}
