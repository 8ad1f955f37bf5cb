//! What encoding a derived event costs: a typical event with attachments
//! through the runtime's send path (the derive's walk for paths and rules,
//! one serialization by `serde_json` with each attachment as its token, the
//! tokens found, the asset ids spliced in), against `serde_json::to_vec` of
//! the same struct with the ids as strings.

use std::hint::black_box;
use std::time::Instant;

use flowflex::{Attachment, FlowFlexEvent as _};
use serde::Serialize;
use serde_json::{Value, json};

use crate::BoxError;

/// The event every workload sends: an order, as a shop would post it.
pub(crate) fn order_json() -> Value {
    serde_json::to_value(order(String::new(), String::new(), Vec::new()))
        .map(|mut v| {
            if let Some(map) = v.as_object_mut() {
                map.retain(|k, _| !matches!(k.as_str(), "invoice" | "label" | "gallery"));
            }
            v
        })
        .unwrap_or_else(|_| json!({}))
}

#[derive(Debug, Serialize)]
struct Customer {
    id: &'static str,
    name: &'static str,
    email: &'static str,
    phone: &'static str,
}

#[derive(Debug, Serialize)]
struct Item {
    sku: &'static str,
    title: &'static str,
    quantity: u32,
    price_cents: u64,
}

/// The order event; `F` is a file: an [`Attachment`], or its asset id.
#[derive(Debug, Serialize, flowflex::FlowFlexEvent)]
#[flowflex(event = "order.shipped")]
struct Order<F> {
    order_id: &'static str,
    customer: Customer,
    items: Vec<Item>,
    total_cents: u64,
    currency: &'static str,
    shipped_at: &'static str,
    note: &'static str,
    invoice: F,
    label: F,
    gallery: Vec<F>,
}

fn order<F>(invoice: F, label: F, gallery: Vec<F>) -> Order<F> {
    Order {
        order_id: "ord_7f3a9c",
        customer: Customer {
            id: "cust_123",
            name: "Ada Lovelace",
            email: "ada@example.com",
            phone: "+44 20 7946 0958",
        },
        items: vec![
            Item {
                sku: "BOOK-001",
                title: "Notes on the Analytical Engine",
                quantity: 1,
                price_cents: 2499,
            },
            Item {
                sku: "PEN-042",
                title: "Fountain pen",
                quantity: 2,
                price_cents: 1250,
            },
            Item {
                sku: "INK-007",
                title: "Blue ink, 50 ml",
                quantity: 3,
                price_cents: 599,
            },
        ],
        total_cents: 6796,
        currency: "EUR",
        shipped_at: "2025-11-22T06:30:00Z",
        note: "Leave at the door",
        invoice,
        label,
        gallery,
    }
}

/// Nanoseconds per event, one sample of each per run, interleaved.
#[derive(Debug, Clone, Default)]
pub(crate) struct Encoded {
    /// The runtime's path, as the derived `send` takes it.
    pub(crate) runtime: Vec<f64>,
    /// `serde_json::to_vec` of the struct with the ids in place.
    pub(crate) plain: Vec<f64>,
    /// A prototype of writing the body directly (see [`Direct`]).
    pub(crate) direct: Vec<f64>,
    /// The derive's walk alone (`FlowFlexEvent::attachments`), part of both
    /// the runtime's path and the prototype.
    pub(crate) walk: Vec<f64>,
}

pub(crate) fn measure(runs: usize, iterations: usize) -> Result<Encoded, BoxError> {
    let with_files = order(
        Attachment::from_path("invoice.pdf"),
        Attachment::from_path("label.png"),
        vec![
            Attachment::from_path("photo-1.jpg"),
            Attachment::from_path("photo-2.jpg"),
        ],
    );
    // The ids the runtime's entry point puts in (numbered in the order the
    // derive's walk meets the files), so both write the same bytes.
    let with_ids = order(
        "asset_fuzz0".to_owned(),
        "asset_fuzz1".to_owned(),
        vec!["asset_fuzz2".to_owned(), "asset_fuzz3".to_owned()],
    );
    let ids: Vec<Option<flowflex::AssetId>> = (0..4)
        .map(|i| serde_json::from_value(Value::from(format!("asset_fuzz{i}"))).map(Some))
        .collect::<Result<_, _>>()?;
    let runtime_path = || -> Result<usize, BoxError> {
        // What the derived `send` does to the body: walk the fields for
        // their paths and rules, serialize once with markers, splice the
        // asset ids in.
        Ok(black_box(flowflex::__fuzz::encode_event(
            black_box(&with_files),
            &ids,
        )?)
        .len())
    };
    let plain = || -> Result<usize, BoxError> {
        Ok(black_box(serde_json::to_vec(black_box(&with_ids))?).len())
    };
    // Same bytes on the wire, or the comparison is void.
    let body = flowflex::__fuzz::encode_event(&with_files, &ids)?;
    if body[..] != serde_json::to_vec(&with_ids)?[..] {
        return Err("the runtime's body differs from the plain struct's".into());
    }
    let expected: Value = serde_json::to_value(&with_ids)?;
    let prototype = Direct::new();
    if serde_json::from_slice::<Value>(&prototype.body(&with_files)?)? != expected {
        return Err("the prototype's payload differs from the plain struct's".into());
    }
    let mut out = Encoded::default();
    for _ in 0..runs {
        out.plain.push(time(iterations, plain)?);
        out.runtime.push(time(iterations, runtime_path)?);
        out.direct
            .push(time(iterations, || Ok(prototype.body(&with_files)?.len()))?);
        out.walk.push(time(iterations, || {
            Ok(black_box(black_box(&with_files).attachments()).len())
        })?);
    }
    Ok(out)
}

/// A prototype of the design that would meet the target, to measure it: the
/// derive's walk gives each attachment's path (no JSON walk); the struct is
/// serialized once, straight to bytes, each attachment written as a string
/// token holding a per-send nonce and its index; after the uploads the ids
/// are spliced in where the tokens are. Here the tokens are strings put in
/// by hand: what `Attachment::serialize` would write.
#[derive(Debug)]
struct Direct {
    with_tokens: Order<String>,
    finder: memchr::memmem::Finder<'static>,
    ids: Vec<String>,
}

/// A token: `ff:`, the 32 hex digits of the send's nonce, `:`, the index.
/// No text a user sends holds the nonce, and nothing in it needs escaping.
const TOKEN_PREFIX: &str = "ff:5f3a9c0e1d2b4a6f8e7d6c5b4a392817:";

impl Direct {
    fn new() -> Direct {
        let token = |i: usize| format!("{TOKEN_PREFIX}{i}");
        Direct {
            with_tokens: order(token(2), token(3), vec![token(0), token(1)]),
            finder: memchr::memmem::Finder::new(TOKEN_PREFIX.as_bytes()).into_owned(),
            ids: (0..4).map(|i| format!("asset_fuzz{i}")).collect(),
        }
    }

    fn body(&self, with_files: &Order<Attachment>) -> Result<Vec<u8>, BoxError> {
        let paths = black_box(with_files).attachments();
        let tokens = serde_json::to_vec(black_box(&self.with_tokens))?;
        // The prototype numbered the files in sorted-key order.
        let ids = [&self.ids[2], &self.ids[3], &self.ids[0], &self.ids[1]];
        let mut body = Vec::with_capacity(tokens.len());
        let mut rest = &tokens[..];
        let mut found = 0;
        while let Some(at) = self.finder.find(rest) {
            body.extend_from_slice(&rest[..at]);
            let digits = &rest[at + TOKEN_PREFIX.len()..];
            let end = digits
                .iter()
                .position(|b| *b == b'"')
                .ok_or("unterminated token")?;
            let index: usize = std::str::from_utf8(&digits[..end])?.parse()?;
            body.extend_from_slice(ids.get(index).ok_or("no such id")?.as_bytes());
            rest = &digits[end..];
            found += 1;
        }
        body.extend_from_slice(rest);
        if found != paths.len() {
            return Err("the walk and the tokens disagree".into());
        }
        Ok(body)
    }
}

fn time(
    iterations: usize,
    mut f: impl FnMut() -> Result<usize, BoxError>,
) -> Result<f64, BoxError> {
    for _ in 0..iterations / 10 {
        f()?;
    }
    let start = Instant::now();
    for _ in 0..iterations {
        f()?;
    }
    #[allow(clippy::cast_precision_loss)]
    Ok(start.elapsed().as_nanos() as f64 / iterations as f64)
}
