//! The derive's expansion compiles without a warning in a crate with strict
//! lints (`cargo clippy` checks the pedantic group too), with nothing
//! imported but what the struct definitions need.
#![deny(
    warnings,
    missing_docs,
    unreachable_pub,
    unused_qualifications,
    unused_results,
    rust_2018_idioms,
    unsafe_code,
    clippy::all,
    clippy::pedantic
)]

use std::collections::{BTreeMap, HashMap};

use flowflex::{Attachment, FlowFlexEvent};
use serde::Serialize;

/// A part.
#[derive(Debug, Serialize, FlowFlexEvent)]
pub struct Order {
    /// The receipt.
    pub receipt: Attachment,
}

/// The example.
#[derive(Debug, Serialize, FlowFlexEvent)]
#[flowflex(event = "order.shipped")]
#[serde(rename_all = "camelCase")]
pub struct OrderShipped {
    /// A PDF up to 10 MB.
    #[flowflex(mime = "application/pdf", max_size = "10 MB")]
    pub invoice_file: Attachment,
    /// Renamed.
    #[serde(rename = "shippingLabel")]
    pub label: Attachment,
    /// Images.
    #[flowflex(mime("image/jpeg", "image/png"))]
    pub gallery: Vec<Attachment>,
    /// Nested.
    pub order: Order,
    /// Optional.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extra: Option<Attachment>,
    /// Not an attachment.
    pub note: String,
}

/// Generic, borrowing, flattened, mapped, tuple and unit shapes.
#[derive(Debug, Serialize, FlowFlexEvent)]
#[flowflex(event = "everything")]
pub struct Everything<'a, T> {
    /// A type parameter.
    pub inner: T,
    /// Borrowed.
    pub borrowed: &'a Attachment,
    /// Deeply nested.
    #[flowflex(max_size = 1_000)]
    pub deep: Option<Vec<Box<Attachment>>>,
    /// A map.
    pub photos: HashMap<String, Attachment>,
    /// Flattened.
    #[serde(flatten)]
    pub rest: BTreeMap<String, Vec<Order>>,
    /// A tuple struct.
    pub pair: Pair,
    /// A unit struct.
    pub unit: Unit,
    /// Skipped.
    #[serde(skip)]
    pub skipped: u8,
}

/// A tuple struct.
#[derive(Debug, Serialize, FlowFlexEvent)]
pub struct Pair(pub Attachment, #[flowflex(mime = "text/*")] pub Attachment);

/// A unit struct.
#[derive(Debug, Serialize, FlowFlexEvent)]
pub struct Unit;

/// A client that is never sent through.
fn client() -> flowflex::Client {
    flowflex::Client::builder()
        .api_key("key")
        .api_secret("secret")
        .integration_code("int_lints")
        .build()
        .expect("client builds")
}

/// The items the derive adds, used without importing anything.
#[test]
fn generated_items_are_usable() {
    let file = flowflex::include_attachment!("tests/fixtures/invoice.pdf");
    let event = Everything {
        inner: 7_u32,
        borrowed: &file,
        deep: None,
        photos: HashMap::new(),
        rest: BTreeMap::new(),
        pair: Pair(file.clone(), file.clone()),
        unit: Unit,
        skipped: 0,
    };
    assert_eq!(<Everything<'_, u32>>::EVENT, "everything");
    assert_eq!(event.skipped, 0);
    assert_eq!(
        <Everything<'_, u32>>::attachment_paths(),
        [
            "borrowed",
            "deep[]",
            "photos.*",
            "*[].receipt",
            "pair[0]",
            "pair[1]"
        ]
    );
    assert!(event.preview().is_ok());
    assert_eq!(OrderShipped::EVENT, "order.shipped");
    let client = client();
    let pending: flowflex::SendEvent = event.send(&client);
    assert!(format!("{pending:?}").contains("\"everything\""));
    assert_eq!(Order::attachment_paths(), ["receipt"]);
}

/// Nothing imported: the derive named by path, the inherent items used bare.
mod no_imports {
    #[derive(serde::Serialize, flowflex::FlowFlexEvent)]
    #[flowflex(event = "bare")]
    pub(crate) struct Bare {
        #[flowflex(mime = "application/pdf")]
        pub(crate) file: flowflex::Attachment,
    }

    #[test]
    fn inherent_items_need_no_import() {
        let bare = Bare {
            file: flowflex::include_attachment!("tests/fixtures/invoice.pdf"),
        };
        assert_eq!(Bare::EVENT, "bare");
        assert_eq!(Bare::attachment_paths(), ["file"]);
        assert!(bare.preview().is_ok());
        let client = super::client();
        let pending = bare.send(&client).idempotency_key("bare-1");
        assert!(format!("{pending:?}").contains("bare-1"));
    }
}
