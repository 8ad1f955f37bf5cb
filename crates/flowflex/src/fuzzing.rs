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
    let base = crate::client::parse_base_url(base_url)?;
    crate::client::check_integration_code(integration_code)?;
    Ok(Endpoints {
        upload_url: crate::client::join(&base, &["v1", "assets", "upload-url"]),
        events: crate::client::join(&base, &["v1", "events", integration_code]),
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
    /// The payload as JSON, attachments still as markers.
    pub value: Value,
    /// Every place an attachment stands, in document order.
    pub slots: Vec<Slot>,
    /// How many distinct attachments there are.
    pub unique: usize,
}

/// Serializes `payload` and finds its attachments, as a send does.
pub fn walk<T: serde::Serialize + ?Sized>(payload: &T) -> Result<Walked> {
    let collected = crate::payload::Collected::from_payload(payload)?;
    Ok(Walked {
        slots: collected
            .slots
            .iter()
            .map(|s| Slot {
                path: s.path.clone(),
                pointer: s.pointer.clone(),
                unique: s.unique,
            })
            .collect(),
        unique: collected.unique.len(),
        value: collected.value,
    })
}

/// The payload as a send would post it if the `i`th distinct attachment got
/// the asset id `asset_fuzz<i>`, and the path map a send returns.
pub fn substitute<T: serde::Serialize + ?Sized>(
    payload: &T,
) -> Result<(Value, BTreeMap<String, String>)> {
    let mut collected = crate::payload::Collected::from_payload(payload)?;
    let ids: Vec<_> = (0..collected.unique.len())
        .map(|i| crate::AssetId::new(format!("asset_fuzz{i}")))
        .collect();
    let map = collected
        .substitute(&ids)
        .into_iter()
        .map(|(path, id)| (path, id.into_string()))
        .collect();
    Ok((collected.value, map))
}
