//! Entry points into private code for the fuzz targets in `fuzz/` and the
//! property tests in `tests/tests/properties.rs`. Not public API: hidden from
//! the docs, no stability promise, may change in any release.

use std::collections::BTreeMap;

use serde_json::Value;
use url::Url;

use crate::error::Result;
use crate::mime::Mime;

/// What a file's first bytes look like, as `sniff` tells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detected {
    /// One of the 16 accepted types.
    Accepted(Mime),
    /// Something else, by its human name ("a GIF image").
    Other(&'static str),
}

impl From<crate::sniff::Detected> for Detected {
    fn from(d: crate::sniff::Detected) -> Self {
        match d {
            crate::sniff::Detected::Accepted(m) => Detected::Accepted(m),
            crate::sniff::Detected::Other(name) => Detected::Other(name),
        }
    }
}

/// Why `head` failed [`sniff_check`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mismatch {
    /// What the bytes look like instead, when recognisable.
    pub detected: Option<Detected>,
    /// Whether `head` was empty.
    pub empty: bool,
}

/// How many leading bytes of a file the type check reads.
#[must_use]
pub fn sniff_len() -> usize {
    crate::sniff::SNIFF_LEN
}

/// The magic-byte check a send runs on a file's first [`sniff_len`] bytes.
pub fn sniff_check(mime: Mime, head: &[u8]) -> std::result::Result<(), Mismatch> {
    crate::sniff::check(mime, head).map_err(|m| Mismatch {
        detected: m.detected.map(Detected::from),
        empty: m.empty,
    })
}

/// What the bytes look like, for error messages and suggestions.
#[must_use]
pub fn sniff_detect(head: &[u8]) -> Option<Detected> {
    crate::sniff::detect(head).map(Detected::from)
}

/// The URLs a client built with this base URL and integration code sends to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    /// The base URL as checked (`/api` and trailing `/` removed).
    pub base: Url,
    /// `POST <base>/v1/assets/upload-url`.
    pub upload_url: Url,
    /// `POST <base>/v1/events/<integration_code>`.
    pub events: Url,
}

/// Checks `base_url` and `integration_code` as `ClientBuilder::build` does
/// and joins the endpoints.
pub fn endpoints(base_url: &str, integration_code: &str) -> Result<Endpoints> {
    let base = crate::builder::parse_base_url(base_url)?;
    crate::builder::check_integration_code(integration_code)?;
    Ok(Endpoints {
        upload_url: crate::builder::join(&base, &["v1", "assets", "upload-url"]),
        events: crate::builder::join(&base, &["v1", "events", integration_code]),
        base,
    })
}

/// One place an attachment stands in a payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slot {
    /// The flow path (`invoice`, `gallery[0]`, `order.receipt`).
    pub path: String,
    /// The JSON pointer of the same place (`/order/receipt`).
    pub pointer: String,
    /// Which distinct attachment stands there (index in order of first use).
    pub unique: usize,
}

/// A payload as a send sees it before uploading.
#[derive(Debug)]
pub struct Walked {
    /// The payload as JSON, attachments still as tokens.
    pub value: Value,
    /// Every place an attachment stands, in document order.
    pub slots: Vec<Slot>,
    /// How many distinct attachments there are.
    pub unique: usize,
}

/// Serializes `payload` and finds its attachments, as a send does. In
/// `value` each attachment is its token: a string of NUL and 16 hex digits.
pub fn walk<T: serde::Serialize + ?Sized>(payload: &T) -> Result<Walked> {
    let payload = crate::Payload::from_serialize(payload)?;
    let slots = payload.slots()?;
    let value = payload.value().clone();
    let mut pointers = Vec::with_capacity(slots.len());
    pointers_of(&value, &mut String::new(), &mut pointers, 0);
    Ok(Walked {
        slots: slots
            .iter()
            .zip(pointers)
            .map(|(s, pointer)| Slot {
                path: s.path.to_owned(),
                pointer,
                unique: s.index,
            })
            .collect(),
        unique: payload.attachments().len(),
        value,
    })
}

/// The JSON pointer of every token, in document order (as the slots).
fn pointers_of(v: &Value, pointer: &mut String, out: &mut Vec<String>, depth: usize) {
    if depth > crate::formatter::MAX_DEPTH {
        return;
    }
    match v {
        Value::String(s) if crate::token::key_of(s).is_some() => out.push(pointer.clone()),
        Value::Object(map) => {
            for (key, child) in map {
                let mark = pointer.len();
                pointer.push('/');
                pointer.push_str(&key.replace('~', "~0").replace('/', "~1"));
                pointers_of(child, pointer, out, depth + 1);
                pointer.truncate(mark);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                let mark = pointer.len();
                pointer.push('/');
                pointer.push_str(&i.to_string());
                pointers_of(child, pointer, out, depth + 1);
                pointer.truncate(mark);
            }
        }
        _ => {}
    }
}

/// The payload as a send would post it if the `i`th distinct attachment got
/// the asset id `asset_fuzz<i>`, and the path map a send returns.
pub fn substitute<T: serde::Serialize + ?Sized>(
    payload: &T,
) -> Result<(Value, BTreeMap<String, String>)> {
    encoded_with_ids(crate::encode::Encoded::from_serialize(payload)?)
}

/// [`substitute`] for a derived event, through the derive's walk: the body
/// its `send` would post.
pub fn substitute_event<T: crate::FlowFlexEvent + ?Sized>(
    event: &T,
) -> Result<(Value, BTreeMap<String, String>)> {
    encoded_with_ids(crate::encode::Encoded::from_event(event)?)
}

/// What a send's serializer makes of a value that is not a derived event
/// (serde_json's, with the formatter of formatter.rs that notes paths):
/// meant to be `serde_json::to_vec`'s bytes exactly.
///
/// # Errors
///
/// What `value`'s `Serialize` reports, or a map key JSON cannot hold, as
/// text.
pub fn written_json<T: serde::Serialize + ?Sized>(
    value: &T,
) -> std::result::Result<Vec<u8>, String> {
    crate::formatter::write_noting(value)
        .map(|(json, _)| json)
        .map_err(|e| e.to_string())
}

/// How often, on this thread since the last call, a [`Payload`](crate::Payload)
/// was serialized and a value was copied into a payload's tree
/// (`Payload::from_serialize`): a send does the first once and the second
/// never.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Copies {
    /// `Payload`'s `Serialize` ran.
    pub payload_serializations: usize,
    /// A value became a tree (`serde_json::to_value`).
    pub value_trees: usize,
}

/// The counts of [`Copies`] since the last call on this thread, reset.
#[must_use]
pub fn take_copies() -> Copies {
    use crate::payload::counts::{PAYLOAD_SERIALIZATIONS, VALUE_TREES};
    Copies {
        payload_serializations: PAYLOAD_SERIALIZATIONS.with(|n| n.replace(0)),
        value_trees: VALUE_TREES.with(|n| n.replace(0)),
    }
}

/// The body a derived event's send posts, `ids[i]` standing for the `i`th
/// file the derive's walk meets: what the encode benchmark times (the walk,
/// the one serialization, the splice).
pub fn encode_event<T: crate::FlowFlexEvent + ?Sized>(
    event: &T,
    ids: &[Option<crate::AssetId>],
) -> Result<bytes::Bytes> {
    crate::encode::Encoded::from_event(event)?.take_body(ids)
}

fn fuzz_ids(n: usize) -> Vec<Option<crate::AssetId>> {
    (0..n)
        .map(|i| Some(crate::AssetId::new(format!("asset_fuzz{i}"))))
        .collect()
}

fn encoded_with_ids(
    mut encoded: crate::encode::Encoded,
) -> Result<(Value, BTreeMap<String, String>)> {
    let ids = fuzz_ids(encoded.attachments.len());
    let copied = encoded.body(&ids)?;
    let body = encoded.take_body(&ids)?;
    if body != copied {
        return Err(crate::Error::payload(
            "the body made in place differs from the one copied",
        ));
    }
    let value = serde_json::from_slice(&body)
        .map_err(|e| crate::Error::payload(format!("the body is not JSON: {e}")))?;
    let map = encoded
        .slots
        .iter()
        .map(|s| (s.path.to_owned(), format!("asset_fuzz{}", s.index)))
        .collect();
    Ok((value, map))
}
