//! What the emulator records, as handed to tests.

use std::collections::BTreeMap;
use std::fmt;
use std::time::SystemTime;

use bytes::Bytes;

/// The endpoint a request was routed to, for [`RecordedRequest`] and [`Fault`](crate::Fault).
///
/// A route is recognised by its method and path (with or without the `/api` prefix);
/// anything that is not one of the three FlowFlex operations is [`Endpoint::Other`].
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// `POST /v1/assets/upload-url`.
    UploadUrl,
    /// `PUT /storage/{assetId}`: the presigned storage upload.
    Storage,
    /// `POST /v1/events/{integration_code}`.
    Events,
    /// Any other method or path.
    Other,
}

impl Endpoint {
    /// Classifies a request by method and path (the path without its query).
    #[must_use]
    pub fn classify(method: &str, path: &str) -> Endpoint {
        let api_path = path
            .strip_prefix("/api")
            .filter(|rest| rest.starts_with('/'));
        let api_path = api_path.unwrap_or(path);
        match method {
            "POST" if api_path == "/v1/assets/upload-url" => Endpoint::UploadUrl,
            "POST" if single_segment_after(api_path, "/v1/events/") => Endpoint::Events,
            "PUT" if single_segment_after(path, "/storage/") => Endpoint::Storage,
            _ => Endpoint::Other,
        }
    }

    /// A short stable name, as used in logs.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Endpoint::UploadUrl => "upload-url",
            Endpoint::Storage => "storage",
            Endpoint::Events => "events",
            Endpoint::Other => "other",
        }
    }
}

fn single_segment_after(path: &str, prefix: &str) -> bool {
    path.strip_prefix(prefix)
        .is_some_and(|rest| !rest.is_empty() && !rest.contains('/'))
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An event the emulator accepted (answered `202`), in arrival order.
///
/// Idempotent replays are not recorded again.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedEvent {
    /// The `x-event` header.
    pub event: String,
    /// The percent-decoded integration code from the path.
    pub integration_code: String,
    /// The `x-idempotency-key` header, if sent.
    pub idempotency_key: Option<String>,
    /// The JSON body.
    pub payload: serde_json::Value,
    /// The `eventId` the emulator answered with (`evt_...`).
    pub event_id: String,
    /// When it arrived, on the emulator's clock (so
    /// [`advance_clock`](crate::Emulator::advance_clock) moves it too).
    pub received_at: SystemTime,
}

impl RecordedEvent {
    /// Each payload path holding an asset id (`invoice`, `gallery[0]`,
    /// `order.receipt`, as a flow reads `{{trigger.gallery[0]}}`), with the
    /// id standing there.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> std::io::Result<()> {
    /// # let emulator = flowflex_emulator::Emulator::start().await?;
    /// for event in emulator.events() {
    ///     if let Some(asset_id) = event.assets().get("invoice") {
    ///         let file = emulator.asset(asset_id).expect("an accepted event names stored files");
    ///         assert_eq!(file.mime, "application/pdf");
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn assets(&self) -> BTreeMap<String, String> {
        crate::paths::asset_paths(&self.payload)
    }
}

/// An asset created by `POST /v1/assets/upload-url`, uploaded or not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredAsset {
    /// `asset_` followed by 24 alphanumerics.
    pub asset_id: String,
    /// The filename given when the upload URL was requested.
    pub filename: String,
    /// The MIME type given when the upload URL was requested.
    pub mime: String,
    /// The `size` given when the upload URL was requested, if any.
    pub declared_size: Option<u64>,
    /// Whether a `PUT` to storage succeeded.
    pub uploaded: bool,
    /// Number of stored bytes (0 until uploaded).
    pub size: u64,
    /// Lowercase hex SHA-256 of the stored bytes; empty until uploaded.
    pub sha256: String,
    /// The stored bytes (empty until uploaded, and always empty when the
    /// emulator was built with `retain_bytes(false)`).
    pub bytes: Bytes,
    /// Number of successful `PUT`s (a later one overwrites the bytes, like S3).
    pub put_count: u32,
    /// When its upload URL was issued, on the emulator's clock.
    pub created_at: SystemTime,
    /// Once uploaded, when events can no longer name it
    /// ([`ASSET_TTL`](crate::ASSET_TTL) after the last upload), on the
    /// emulator's clock; `None` until uploaded.
    pub expires_at: Option<SystemTime>,
}

/// One HTTP request the emulator received, whatever became of it.
///
/// Never holds the query string (presigned tokens live there) nor the
/// `Authorization` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    /// The method, e.g. `"PUT"`.
    pub method: String,
    /// The path only, never the query.
    pub path: String,
    /// The endpoint the request was routed to.
    pub endpoint: Endpoint,
    /// The status answered, or `None` if the connection was dropped (or the
    /// request is still in flight, or hangs).
    pub status: Option<u16>,
    /// Headers with lowercase names, in order; the `Authorization` value is
    /// replaced by `"<redacted>"`.
    pub headers: Vec<(String, String)>,
    /// The `Content-Length` header, if present and valid.
    pub content_length: Option<u64>,
    /// Whether the body was sent with `Transfer-Encoding: chunked`.
    pub chunked: bool,
}

impl RecordedRequest {
    /// The first value of a header, by case-insensitive name.
    #[must_use]
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}
