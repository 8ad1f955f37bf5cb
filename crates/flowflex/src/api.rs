//! The FlowFlex API: the upload-URL and events endpoints, the storage PUT,
//! and their wire types. Builds requests and hands them to the transport.

use std::fmt;
use std::future::Future;

use bytes::Bytes;
use http::HeaderValue;
use serde_json::Value;
use url::Url;

use crate::error::{Endpoint, Error, Result};
use crate::mime::Mime;
use crate::redact::{Scrubber, Secret, printable, url_without_query};
use crate::transport::{BodyFault, Call, Reply, Transport};

/// The opaque id of an uploaded file, as it appears in the event payload
/// (`"asset_..."`). It expires 48 h after upload: never store it to reuse.
///
/// ```
/// use flowflex::AssetId;
///
/// let id: AssetId = serde_json::from_str(r#""asset_7f3a""#).unwrap();
/// assert_eq!(id, "asset_7f3a");
/// assert_eq!(serde_json::to_string(&id).unwrap(), r#""asset_7f3a""#);
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AssetId {
    id: String,
    /// Whether the id can stand between JSON quotes as it is (no `"`, `\\`
    /// or control character): known once, not at every splice.
    plain: bool,
}

impl AssetId {
    pub(crate) fn new(id: impl Into<String>) -> Self {
        let id = id.into();
        let plain = !id.bytes().any(|b| b == b'"' || b == b'\\' || b < 0x20);
        AssetId { id, plain }
    }

    /// Whether the id needs no escaping in JSON.
    pub(crate) fn is_plain(&self) -> bool {
        self.plain
    }

    /// The id as a string slice.
    ///
    /// ```
    /// let id: flowflex::AssetId = serde_json::from_str(r#""asset_7f3a""#).unwrap();
    /// assert_eq!(id.as_str(), "asset_7f3a");
    /// ```
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.id
    }

    /// The id as an owned string.
    ///
    /// ```
    /// let id: flowflex::AssetId = serde_json::from_str(r#""asset_7f3a""#).unwrap();
    /// let owned: String = id.into_string();
    /// assert_eq!(owned, "asset_7f3a");
    /// ```
    #[must_use]
    pub fn into_string(self) -> String {
        self.id
    }
}

impl serde::Serialize for AssetId {
    fn serialize<S: serde::Serializer>(
        &self,
        serializer: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.id)
    }
}

impl<'de> serde::Deserialize<'de> for AssetId {
    fn deserialize<D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> std::result::Result<Self, D::Error> {
        String::deserialize(deserializer).map(AssetId::new)
    }
}

impl fmt::Display for AssetId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.id)
    }
}

impl fmt::Debug for AssetId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.id, f)
    }
}

impl AsRef<str> for AssetId {
    fn as_ref(&self) -> &str {
        &self.id
    }
}

impl PartialEq<str> for AssetId {
    fn eq(&self, other: &str) -> bool {
        self.id == other
    }
}

impl PartialEq<&str> for AssetId {
    fn eq(&self, other: &&str) -> bool {
        self.id == *other
    }
}

/// A presigned upload URL, from [`Client::create_upload_url`](crate::Client::create_upload_url).
///
/// Its URL carries a token that lets anyone upload: `Debug` and `Display`
/// hide the query.
///
/// ```no_run
/// # async fn demo(client: flowflex::Client) -> flowflex::Result<()> {
/// let ticket = client.create_upload_url("invoice.pdf", flowflex::Mime::Pdf, 48_213).await?;
/// println!("{ticket:?}"); // the asset id and the URL, without the token
/// println!("upload {} to {}", ticket.asset_id, ticket.upload_url);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct UploadTicket {
    /// The id the file will have once uploaded.
    pub asset_id: AssetId,
    /// Where to `PUT` the bytes (valid 2 h).
    pub upload_url: UploadUrl,
    pub(crate) token: Secret,
}

impl UploadTicket {
    /// The upload token. Secret: keep it out of logs.
    ///
    /// ```no_run
    /// # async fn demo(client: flowflex::Client) -> flowflex::Result<()> {
    /// let ticket = client.create_upload_url("invoice.pdf", flowflex::Mime::Pdf, 48_213).await?;
    /// assert!(format!("{ticket:?}").contains("token: <redacted>"));
    /// let token: &str = ticket.expose_token(); // the real value
    /// # let _ = token; Ok(()) }
    /// ```
    #[must_use]
    pub fn expose_token(&self) -> &str {
        self.token.expose()
    }
}

impl fmt::Debug for UploadTicket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UploadTicket")
            .field("asset_id", &self.asset_id)
            .field("upload_url", &self.upload_url)
            .field("token", &self.token)
            .finish()
    }
}

/// A presigned URL; shown without its query (the token).
///
/// ```no_run
/// # async fn demo(client: flowflex::Client) -> flowflex::Result<()> {
/// let ticket = client.create_upload_url("invoice.pdf", flowflex::Mime::Pdf, 48_213).await?;
/// println!("uploading to {}", ticket.upload_url); // `https://host/path?<redacted>`
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct UploadUrl {
    pub(crate) url: Url,
}

impl UploadUrl {
    /// The full URL, token included. Secret: keep it out of logs.
    ///
    /// ```no_run
    /// # async fn demo(client: flowflex::Client) -> flowflex::Result<()> {
    /// let ticket = client.create_upload_url("invoice.pdf", flowflex::Mime::Pdf, 48_213).await?;
    /// // Your own PUT, to the full URL:
    /// let http = flowflex::http_client_builder()?.build().expect("an HTTP client");
    /// let request = http.put(ticket.upload_url.expose().clone());
    /// # let _ = request; Ok(()) }
    /// ```
    #[must_use]
    pub fn expose(&self) -> &Url {
        &self.url
    }
}

impl fmt::Debug for UploadUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "UploadUrl({:?})", url_without_query(&self.url))
    }
}

impl fmt::Display for UploadUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&url_without_query(&self.url))
    }
}

/// The client's shared state: credentials, endpoints, limits, the HTTP
/// stack. A `Client` and every send it starts hold it by `Arc`.
pub(crate) struct Api {
    pub(crate) transport: Transport,
    pub(crate) api_key: String,
    pub(crate) auth: HeaderValue,
    pub(crate) integration_code: String,
    pub(crate) base_url: Url,
    pub(crate) upload_url_endpoint: Url,
    pub(crate) events_endpoint: Url,
    pub(crate) max_file_bytes: u64,
    pub(crate) max_concurrent_uploads: usize,
    pub(crate) scrubber: Scrubber,
}

impl Api {
    /// Asks for a presigned upload URL.
    pub(crate) async fn create_upload_url(
        &self,
        filename: &str,
        mime: Mime,
        size: u64,
    ) -> Result<UploadTicket> {
        let body = serde_json::json!({ "filename": filename, "mime": mime.as_str(), "size": size });
        let body =
            Bytes::from(serde_json::to_vec(&body).map_err(|e| Error::payload(e.to_string()))?);
        let reply = self
            .post_json(Endpoint::UploadUrl, &self.upload_url_endpoint, &[], body)
            .await?;
        parse_ticket(&reply, &self.scrubber)
    }

    /// PUTs a file's bytes to its presigned URL; `body` makes a fresh body
    /// for each attempt.
    pub(crate) async fn put<F, Fut>(
        &self,
        ticket: &UploadTicket,
        mime: Mime,
        size: u64,
        rewindable: bool,
        fault: &BodyFault,
        mut body: F,
    ) -> Result<()>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<reqwest::Body>>,
    {
        let mut scrubber = self.scrubber.clone();
        scrubber.add(ticket.token.expose());
        if let Some(query) = ticket.upload_url.url.query() {
            scrubber.add(query);
        }
        let call = Call {
            endpoint: Endpoint::Storage,
            rewindable,
            fault: Some(fault),
            scrubber: &scrubber,
        };
        let http = &self.transport.http;
        let url = &ticket.upload_url.url;
        self.transport
            .execute(&call, || {
                let body = body();
                async move {
                    Ok(http
                        .put(url.clone())
                        .header(http::header::CONTENT_TYPE, mime.as_str())
                        .header(http::header::CONTENT_LENGTH, size)
                        .body(body.await?))
                }
            })
            .await
            .map(|_| ())
    }

    /// Posts an event payload (already holding asset ids).
    pub(crate) async fn post_event(
        &self,
        event: &str,
        idempotency_key: &str,
        body: Bytes,
    ) -> Result<Value> {
        let headers = [
            ("x-event", header_value(event)?),
            ("x-idempotency-key", header_value(idempotency_key)?),
        ];
        let reply = self
            .post_json(Endpoint::Event, &self.events_endpoint, &headers, body)
            .await?;
        Ok(parse_body(&reply.body))
    }

    /// An authenticated JSON POST to one of the API's endpoints, retried as
    /// the policy allows (the same body on every attempt).
    async fn post_json(
        &self,
        endpoint: Endpoint,
        url: &Url,
        headers: &[(&'static str, HeaderValue)],
        body: Bytes,
    ) -> Result<Reply> {
        let call = Call {
            endpoint,
            rewindable: true,
            fault: None,
            scrubber: &self.scrubber,
        };
        self.transport
            .execute(&call, || async {
                let mut request = self
                    .transport
                    .http
                    .post(url.clone())
                    .header(http::header::AUTHORIZATION, self.auth.clone())
                    .header(http::header::CONTENT_TYPE, "application/json");
                for (name, value) in headers {
                    request = request.header(*name, value.clone());
                }
                Ok(request.body(body.clone()))
            })
            .await
    }
}

fn header_value(value: &str) -> Result<HeaderValue> {
    HeaderValue::from_bytes(value.as_bytes()).map_err(|_| {
        Error::config(format!(
            "\"{}\" cannot be sent as a header",
            printable(value, 80)
        ))
    })
}

fn parse_body(body: &[u8]) -> Value {
    if body.is_empty() {
        return Value::Null;
    }
    serde_json::from_slice(body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()))
}

fn parse_ticket(reply: &Reply, scrubber: &Scrubber) -> Result<UploadTicket> {
    let invalid = |message: String| Error::InvalidResponse {
        endpoint: Endpoint::UploadUrl,
        status: reply.status,
        message,
        idempotency_key: None,
    };
    let json: Value = serde_json::from_slice(&reply.body)
        .map_err(|_| invalid("the body is not JSON".to_owned()))?;
    let text = |key: &str| {
        json.get(key)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    };
    let asset_id =
        text("assetId").ok_or_else(|| invalid("no \"assetId\" in the body".to_owned()))?;
    if asset_id.chars().any(char::is_control) || asset_id.len() > 256 {
        return Err(invalid("the \"assetId\" is malformed".to_owned()));
    }
    let raw_url =
        text("uploadUrl").ok_or_else(|| invalid("no \"uploadUrl\" in the body".to_owned()))?;
    let token = text("token").unwrap_or_default();
    // A malformed URL may hold its token outside the query: keep it out of
    // the messages below.
    let mut scrubber = scrubber.clone();
    scrubber.add(token);
    let url = Url::parse(raw_url).map_err(|_| {
        invalid(format!(
            "the \"uploadUrl\" is not a URL (\"{}\")",
            scrubber.show(raw_url.split('?').next().unwrap_or_default(), 100)
        ))
    })?;
    let secure = url.scheme() == "https" || (url.scheme() == "http" && is_loopback(&url));
    if !secure || url.host().is_none() {
        return Err(invalid(format!(
            "the \"uploadUrl\" ({}) is not https: the file would travel in clear text, so it was not sent",
            scrubber.scrub(&url_without_query(&url))
        )));
    }
    Ok(UploadTicket {
        asset_id: AssetId::new(asset_id),
        upload_url: UploadUrl { url },
        token: Secret::new(token),
    })
}

pub(crate) fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}
