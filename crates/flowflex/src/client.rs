//! The client: configuration, the request loop, and the two API calls.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use bytes::{Bytes, BytesMut};
use http::HeaderValue;
use serde_json::Value;
use tracing::Instrument as _;
use url::Url;

use crate::attachment::{Attachment, BodyFault, OnChunk, Prepared};
use crate::error::{Endpoint, Error, Result};
use crate::mime::Mime;
use crate::redact::{Scrubber, Secret, printable, url_without_query};
use crate::retry::{Backoff, RetryConfig, is_retryable_status, parse_retry_after};
use crate::send::{AssetId, SendEvent, UploadTicket};

/// The base URL used when none is configured.
///
/// ```
/// let client = flowflex::Client::builder()
///     .api_key("cik_xxx")
///     .api_secret("yyy")
///     .integration_code("ic_abc123")
///     .build()
///     .unwrap();
/// assert!(client.base_url().as_str().starts_with(flowflex::DEFAULT_BASE_URL));
/// ```
pub const DEFAULT_BASE_URL: &str = "https://api.flowflex.ai";

/// The default per-request timeout.
///
/// ```
/// use std::time::Duration;
///
/// assert_eq!(flowflex::DEFAULT_TIMEOUT, Duration::from_secs(30));
/// // Twice the default, for large files on a slow link:
/// let builder = flowflex::Client::builder().timeout(flowflex::DEFAULT_TIMEOUT * 2);
/// ```
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// The default number of uploads run at once for one send.
///
/// ```
/// assert_eq!(flowflex::DEFAULT_MAX_CONCURRENT_UPLOADS, 16);
/// // Fewer at once, for a narrow uplink:
/// let builder = flowflex::Client::builder().max_concurrent_uploads(4);
/// ```
pub const DEFAULT_MAX_CONCURRENT_UPLOADS: usize = 16;

/// Longest error body read (the rest is dropped).
const MAX_ERROR_BODY: usize = 64 * 1024;
/// Longest success body read.
const MAX_SUCCESS_BODY: usize = 4 * 1024 * 1024;

/// A FlowFlex custom-integration client.
///
/// Cheap to clone (an `Arc` inside); share one per process so connections
/// are pooled. `Debug` shows no secret.
///
/// ```no_run
/// # async fn demo() -> flowflex::Result<()> {
/// use std::time::Duration;
/// use flowflex::{Attachment, Client};
///
/// let client = Client::builder()
///     .api_key("cik_xxx")
///     .api_secret("yyy")
///     .integration_code("ic_abc123")
///     .base_url("https://api.flowflex.ai")
///     .timeout(Duration::from_secs(30))
///     .build()?;
///
/// let sent = client
///     .send_event("invoice.created", serde_json::json!({
///         "invoice": Attachment::from_path("./invoice.pdf"),
///         "customer_id": "cust_123",
///     }))
///     .await?;
/// println!("{:?}", sent.uploaded_assets);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    api_key: String,
    auth: HeaderValue,
    integration_code: String,
    base_url: Url,
    upload_url_endpoint: Url,
    events_endpoint: Url,
    timeout: Duration,
    max_file_bytes: u64,
    max_concurrent_uploads: usize,
    retry: RetryConfig,
    scrubber: Scrubber,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let i = &self.inner;
        f.debug_struct("Client")
            .field("base_url", &i.base_url.as_str())
            .field("api_key", &i.api_key)
            .field("api_secret", &"<redacted>")
            .field("integration_code", &i.integration_code)
            .field("timeout", &i.timeout)
            .field("max_file_bytes", &i.max_file_bytes)
            .field("max_concurrent_uploads", &i.max_concurrent_uploads)
            .field("retry", &i.retry)
            .finish_non_exhaustive()
    }
}

/// Builds a [`Client`]. Every setter is optional until [`build`](Self::build),
/// which checks the whole configuration and says what is missing.
///
/// ```
/// use flowflex::{ClientBuilder, RetryConfig};
///
/// let client = ClientBuilder::default()
///     .api_key("cik_xxx")
///     .api_secret("yyy")
///     .integration_code("ic_abc123")
///     .retry(RetryConfig::default().max_retries(5))
///     .build()
///     .unwrap();
/// assert_eq!(client.integration_code(), "ic_abc123");
/// ```
#[derive(Clone, Default)]
pub struct ClientBuilder {
    api_key: Option<String>,
    api_secret: Option<Secret>,
    integration_code: Option<String>,
    base_url: Option<String>,
    timeout: Option<Duration>,
    connect_timeout: Option<Duration>,
    max_file_bytes: Option<u64>,
    max_concurrent_uploads: Option<usize>,
    retry: Option<RetryConfig>,
    http_client: Option<reqwest::Client>,
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("api_key", &self.api_key)
            .field(
                "api_secret",
                &self.api_secret.as_ref().map(|_| "<redacted>"),
            )
            .field("integration_code", &self.integration_code)
            .field("base_url", &self.base_url)
            .field("timeout", &self.timeout)
            .field("max_file_bytes", &self.max_file_bytes)
            .field("max_concurrent_uploads", &self.max_concurrent_uploads)
            .field("retry", &self.retry)
            .field("http_client", &self.http_client.is_some())
            .finish_non_exhaustive()
    }
}

impl ClientBuilder {
    /// The custom integration's API key (`cik_...`).
    ///
    /// ```
    /// let builder = flowflex::Client::builder()
    ///     .api_secret("yyy")
    ///     .integration_code("ic_abc123");
    /// let err = builder.clone().build().unwrap_err();
    /// assert!(err.to_string().contains("api_key is missing"));
    /// assert!(builder.api_key("cik_xxx").build().is_ok());
    /// ```
    #[must_use]
    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = Some(key.into());
        self
    }

    /// The custom integration's API secret. Never printed or logged.
    ///
    /// ```
    /// let builder = flowflex::Client::builder().api_secret("very-secret-value");
    /// assert!(!format!("{builder:?}").contains("very-secret-value"));
    /// ```
    #[must_use]
    pub fn api_secret(mut self, secret: impl Into<String>) -> Self {
        self.api_secret = Some(Secret::new(secret));
        self
    }

    /// The integration code, the `<code>` in `/v1/events/<code>`.
    ///
    /// ```
    /// let builder = flowflex::Client::builder().api_key("cik_xxx").api_secret("yyy");
    /// let client = builder.clone().integration_code("ic_abc123").build().unwrap();
    /// assert_eq!(client.integration_code(), "ic_abc123");
    /// // Only ASCII letters, digits, '_', '-' and '.': no blanks.
    /// assert!(builder.integration_code("ic abc").build().is_err());
    /// ```
    #[must_use]
    pub fn integration_code(mut self, code: impl Into<String>) -> Self {
        self.integration_code = Some(code.into());
        self
    }

    /// The FlowFlex host (default [`DEFAULT_BASE_URL`]). A trailing `/api`
    /// and `/` are removed. Must be `https`, except on loopback
    /// (`localhost`, `127.0.0.0/8`, `::1`), so credentials never travel in
    /// clear text.
    ///
    /// ```
    /// let builder = flowflex::Client::builder()
    ///     .api_key("cik_xxx")
    ///     .api_secret("yyy")
    ///     .integration_code("ic_abc123");
    /// let client = builder.clone().base_url("https://ff.example.com/api/").build().unwrap();
    /// assert_eq!(client.base_url().as_str(), "https://ff.example.com/");
    /// assert!(builder.clone().base_url("http://localhost:8080").build().is_ok());
    /// assert!(builder.base_url("http://ff.example.com").build().is_err()); // not https
    /// ```
    #[must_use]
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = Some(url.into());
        self
    }

    /// The timeout of each request, including reading its response (default
    /// 30 s). A storage upload of a large file must fit in it.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let builder = flowflex::Client::builder()
    ///     .api_key("cik_xxx")
    ///     .api_secret("yyy")
    ///     .integration_code("ic_abc123");
    /// assert!(builder.clone().timeout(Duration::from_secs(120)).build().is_ok());
    /// assert!(builder.timeout(Duration::ZERO).build().is_err());
    /// ```
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The timeout for establishing a connection (default: the smaller of
    /// the request timeout and 10 s).
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let client = flowflex::Client::builder()
    ///     .api_key("cik_xxx")
    ///     .api_secret("yyy")
    ///     .integration_code("ic_abc123")
    ///     .connect_timeout(Duration::from_secs(3))
    ///     .build();
    /// assert!(client.is_ok());
    /// ```
    #[must_use]
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = Some(timeout);
        self
    }

    /// The largest file accepted, in bytes (default and maximum
    /// [`MAX_FILE_BYTES`](crate::MAX_FILE_BYTES), the service's limit).
    ///
    /// ```
    /// let builder = flowflex::Client::builder()
    ///     .api_key("cik_xxx")
    ///     .api_secret("yyy")
    ///     .integration_code("ic_abc123");
    /// let client = builder.clone().max_file_bytes(10 * 1024 * 1024).build().unwrap();
    /// assert_eq!(client.max_file_bytes(), 10_485_760);
    /// assert!(builder.max_file_bytes(flowflex::MAX_FILE_BYTES + 1).build().is_err());
    /// ```
    #[must_use]
    pub fn max_file_bytes(mut self, bytes: u64) -> Self {
        self.max_file_bytes = Some(bytes);
        self
    }

    /// How many uploads of one send run at once (default
    /// [`DEFAULT_MAX_CONCURRENT_UPLOADS`]).
    ///
    /// ```
    /// let builder = flowflex::Client::builder()
    ///     .api_key("cik_xxx")
    ///     .api_secret("yyy")
    ///     .integration_code("ic_abc123");
    /// assert!(builder.clone().max_concurrent_uploads(4).build().is_ok());
    /// assert!(builder.max_concurrent_uploads(0).build().is_err());
    /// ```
    #[must_use]
    pub fn max_concurrent_uploads(mut self, n: usize) -> Self {
        self.max_concurrent_uploads = Some(n);
        self
    }

    /// The retry policy (default [`RetryConfig::default`]).
    ///
    /// ```
    /// use flowflex::RetryConfig;
    ///
    /// let client = flowflex::Client::builder()
    ///     .api_key("cik_xxx")
    ///     .api_secret("yyy")
    ///     .integration_code("ic_abc123")
    ///     .retry(RetryConfig::disabled())
    ///     .build();
    /// assert!(client.is_ok());
    /// ```
    #[must_use]
    pub fn retry(mut self, retry: RetryConfig) -> Self {
        self.retry = Some(retry);
        self
    }

    /// Shorthand for `retry(RetryConfig::default().max_retries(n))` on the
    /// current policy.
    ///
    /// ```
    /// use std::time::Duration;
    /// use flowflex::RetryConfig;
    ///
    /// let builder = flowflex::Client::builder()
    ///     .retry(RetryConfig::default().max_backoff(Duration::from_secs(2)))
    ///     .max_retries(5); // keeps the 2 s cap, retries 5 times
    /// ```
    #[must_use]
    pub fn max_retries(mut self, n: u32) -> Self {
        self.retry = Some(self.retry.take().unwrap_or_default().max_retries(n));
        self
    }

    /// A ready `reqwest::Client` (proxies, custom TLS roots, ...). Its own
    /// timeouts and redirect policy apply; the SDK sets the per-request
    /// timeout. Keep redirects off (`reqwest::redirect::Policy::none()`), as
    /// the default client does.
    ///
    /// ```
    /// use reqwest::redirect::Policy;
    ///
    /// let http = reqwest::Client::builder().redirect(Policy::none()).build().unwrap();
    /// let client = flowflex::Client::builder()
    ///     .api_key("cik_xxx")
    ///     .api_secret("yyy")
    ///     .integration_code("ic_abc123")
    ///     .http_client(http)
    ///     .build();
    /// assert!(client.is_ok());
    /// ```
    #[must_use]
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http_client = Some(client);
        self
    }

    /// Fills unset values from `FLOWFLEX_API_KEY`, `FLOWFLEX_API_SECRET`,
    /// `FLOWFLEX_INTEGRATION_CODE` and `FLOWFLEX_BASE_URL`.
    ///
    /// ```no_run
    /// # fn main() -> flowflex::Result<()> {
    /// let client = flowflex::Client::builder()
    ///     .max_retries(5)
    ///     .from_env()
    ///     .build()?;
    /// # let _ = client; Ok(()) }
    /// ```
    #[must_use]
    pub fn from_env(mut self) -> Self {
        let var = |name| std::env::var(name).ok();
        self.api_key = self.api_key.or_else(|| var("FLOWFLEX_API_KEY"));
        self.api_secret = self
            .api_secret
            .or_else(|| var("FLOWFLEX_API_SECRET").map(Secret::new));
        self.integration_code = self
            .integration_code
            .or_else(|| var("FLOWFLEX_INTEGRATION_CODE"));
        self.base_url = self.base_url.or_else(|| var("FLOWFLEX_BASE_URL"));
        self
    }

    /// Checks the configuration and builds the client. Sends nothing.
    ///
    /// ```
    /// let err = flowflex::Client::builder()
    ///     .api_key("cik_xxx")
    ///     .api_secret("yyy")
    ///     .integration_code("ic_abc123")
    ///     .base_url("http://flowflex.example.com")
    ///     .build()
    ///     .unwrap_err();
    /// assert!(err.to_string().contains("must use https"));
    /// ```
    pub fn build(self) -> Result<Client> {
        let api_key = required(self.api_key.as_deref(), "api_key", "FLOWFLEX_API_KEY")?;
        if api_key.contains(':') {
            return Err(Error::config(
                "api_key contains ':', which Basic authentication cannot carry: check that the key was copied whole and alone",
            ));
        }
        let secret = self.api_secret.unwrap_or_default();
        let api_secret = required(
            Some(secret.expose()).filter(|_| !secret.is_empty()),
            "api_secret",
            "FLOWFLEX_API_SECRET",
        )?;
        let integration_code = required(
            self.integration_code.as_deref(),
            "integration_code",
            "FLOWFLEX_INTEGRATION_CODE",
        )?;
        check_integration_code(integration_code)?;
        let base_url = parse_base_url(self.base_url.as_deref().unwrap_or(DEFAULT_BASE_URL))?;
        let timeout = self.timeout.unwrap_or(DEFAULT_TIMEOUT);
        if timeout.is_zero() {
            return Err(Error::config("timeout must be longer than zero"));
        }
        let max_file_bytes = self.max_file_bytes.unwrap_or(crate::MAX_FILE_BYTES);
        if max_file_bytes == 0 || max_file_bytes > crate::MAX_FILE_BYTES {
            return Err(Error::config(format!(
                "max_file_bytes must be between 1 and {} (the service's limit), got {max_file_bytes}",
                crate::MAX_FILE_BYTES
            )));
        }
        let max_concurrent_uploads = self
            .max_concurrent_uploads
            .unwrap_or(DEFAULT_MAX_CONCURRENT_UPLOADS);
        if max_concurrent_uploads == 0 {
            return Err(Error::config("max_concurrent_uploads must be at least 1"));
        }

        let token =
            base64::engine::general_purpose::STANDARD.encode(format!("{api_key}:{api_secret}"));
        let mut auth = HeaderValue::from_str(&format!("Basic {token}")).map_err(|_| {
            Error::config("the API key or secret contains characters that cannot be sent")
        })?;
        auth.set_sensitive(true);
        let scrubber = Scrubber::new([
            api_secret.to_owned(),
            token,
            format!("{api_key}:{api_secret}"),
        ]);

        let http = match self.http_client {
            Some(client) => client,
            None => reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .connect_timeout(
                    self.connect_timeout
                        .unwrap_or(timeout.min(Duration::from_secs(10))),
                )
                .pool_idle_timeout(Duration::from_secs(60))
                .user_agent(concat!("flowflex-rs/", env!("CARGO_PKG_VERSION")))
                .build()
                .map_err(|e| Error::config(format!("the HTTP client could not be built: {e}")))?,
        };

        let upload_url_endpoint = join(&base_url, &["v1", "assets", "upload-url"]);
        let events_endpoint = join(&base_url, &["v1", "events", integration_code]);
        Ok(Client {
            inner: Arc::new(Inner {
                http,
                api_key: api_key.to_owned(),
                auth,
                integration_code: integration_code.to_owned(),
                base_url,
                upload_url_endpoint,
                events_endpoint,
                timeout,
                max_file_bytes,
                max_concurrent_uploads,
                retry: self.retry.unwrap_or_default(),
                scrubber,
            }),
        })
    }
}

fn required<'a>(value: Option<&'a str>, name: &str, env: &str) -> Result<&'a str> {
    match value {
        None => Err(Error::config(format!(
            "{name} is missing: set it on the builder or in {env}"
        ))),
        Some(v) if v.trim().is_empty() => Err(Error::config(format!(
            "{name} is empty or blank: set it on the builder or in {env}"
        ))),
        Some(v) if v.trim() != v => Err(Error::config(format!(
            "{name} has leading or trailing whitespace: copy it again without the blanks"
        ))),
        Some(v) if v.chars().any(char::is_control) => Err(Error::config(format!(
            "{name} contains control characters: copy it again"
        ))),
        Some(v) => Ok(v),
    }
}

pub(crate) fn check_integration_code(code: &str) -> Result<()> {
    let valid = code
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        && code != "."
        && code != "..";
    if valid && code.len() <= 128 {
        Ok(())
    } else {
        Err(Error::config(format!(
            "integration_code \"{}\" is not valid: it may contain only ASCII letters, digits, '_', '-' and '.' (like \"ic_abc123\"); copy it from the event URL /v1/events/<code>",
            printable(code, 60)
        )))
    }
}

/// `base`, plus path segments (percent-encoded).
pub(crate) fn join(base: &Url, segments: &[&str]) -> Url {
    let mut url = base.clone();
    if let Ok(mut path) = url.path_segments_mut() {
        path.pop_if_empty().extend(segments);
    }
    url
}

pub(crate) fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// Parses and checks a base URL: trailing `/api` and `/` stripped, `http(s)`,
/// a host, no credentials, query or fragment, https off loopback.
pub(crate) fn parse_base_url(raw: &str) -> Result<Url> {
    let shown = printable(raw, 120);
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Err(Error::config(format!(
            "base_url is empty: set it to the FlowFlex host, e.g. {DEFAULT_BASE_URL}"
        )));
    }
    let mut stripped = trimmed.trim_end_matches('/');
    if let Some(s) = stripped.strip_suffix("/api") {
        stripped = s.trim_end_matches('/');
    }
    let url = Url::parse(stripped).map_err(|e| {
        Error::config(format!(
            "base_url \"{shown}\" is not a valid URL ({e}): use a full URL such as {DEFAULT_BASE_URL}"
        ))
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(Error::config(format!(
            "base_url \"{shown}\" is not an http(s) URL with a host: use a full URL such as {DEFAULT_BASE_URL}"
        )));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Error::config(
            "base_url contains credentials: remove them and use api_key / api_secret",
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(Error::config(format!(
            "base_url \"{shown}\" has a query or fragment: give only the scheme, host and optional path"
        )));
    }
    if url.scheme() != "https" && !is_loopback(&url) {
        return Err(Error::config(format!(
            "base_url must use https (got \"{}://{}\"): Basic-auth credentials would otherwise travel in clear text; plain http is allowed only for localhost",
            url.scheme(),
            url.host_str().unwrap_or_default()
        )));
    }
    Ok(url)
}

/// A response read whole (within limits).
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) body: Bytes,
}

/// What the request loop needs to know about one request.
pub(crate) struct Call<'a> {
    pub(crate) endpoint: Endpoint,
    pub(crate) rewindable: bool,
    pub(crate) fault: Option<&'a BodyFault>,
    pub(crate) scrubber: &'a Scrubber,
}

impl Client {
    /// A builder with nothing set.
    ///
    /// ```
    /// let client = flowflex::Client::builder()
    ///     .api_key("cik_xxx")
    ///     .api_secret("yyy")
    ///     .integration_code("ic_abc123")
    ///     .base_url("http://127.0.0.1:8080")
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(client.base_url().as_str(), "http://127.0.0.1:8080/");
    /// ```
    #[must_use]
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// A client configured from `FLOWFLEX_API_KEY`, `FLOWFLEX_API_SECRET`,
    /// `FLOWFLEX_INTEGRATION_CODE` and `FLOWFLEX_BASE_URL` (default
    /// [`DEFAULT_BASE_URL`]).
    ///
    /// ```no_run
    /// # fn main() -> flowflex::Result<()> {
    /// let client = flowflex::Client::from_env()?;
    /// println!("sending to {}", client.integration_code());
    /// # Ok(()) }
    /// ```
    pub fn from_env() -> Result<Client> {
        ClientBuilder::default().from_env().build()
    }

    /// The base URL requests go to.
    ///
    /// ```
    /// let client = flowflex::Client::builder()
    ///     .api_key("cik_xxx")
    ///     .api_secret("yyy")
    ///     .integration_code("ic_abc123")
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(client.base_url().as_str(), "https://api.flowflex.ai/");
    /// ```
    #[must_use]
    pub fn base_url(&self) -> &Url {
        &self.inner.base_url
    }

    /// The integration code events are sent to.
    ///
    /// ```
    /// let client = flowflex::Client::builder()
    ///     .api_key("cik_xxx")
    ///     .api_secret("yyy")
    ///     .integration_code("ic_abc123")
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(client.integration_code(), "ic_abc123");
    /// ```
    #[must_use]
    pub fn integration_code(&self) -> &str {
        &self.inner.integration_code
    }

    /// The largest file this client accepts, in bytes.
    ///
    /// ```
    /// let client = flowflex::Client::builder()
    ///     .api_key("cik_xxx")
    ///     .api_secret("yyy")
    ///     .integration_code("ic_abc123")
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(client.max_file_bytes(), flowflex::MAX_FILE_BYTES);
    /// ```
    #[must_use]
    pub fn max_file_bytes(&self) -> u64 {
        self.inner.max_file_bytes
    }

    pub(crate) fn max_concurrent_uploads(&self) -> usize {
        self.inner.max_concurrent_uploads
    }

    /// Sends an event: uploads every [`Attachment`] in `payload`, then posts
    /// the payload with each attachment replaced by its asset id.
    ///
    /// `payload` is any `Serialize` value that becomes a JSON object: a
    /// `serde_json::json!` value, a map, or your own struct. Returns a
    /// builder: set [`idempotency_key`](SendEvent::idempotency_key) if you
    /// like, then `.await` it.
    ///
    /// ```no_run
    /// # async fn demo(client: flowflex::Client, pdf: Vec<u8>) -> flowflex::Result<()> {
    /// use flowflex::Attachment;
    ///
    /// let sent = client
    ///     .send_event("order.shipped", serde_json::json!({
    ///         "invoice": Attachment::from_path("./invoice.pdf"),
    ///         "gallery": [Attachment::from_path("a.jpg"), Attachment::from_path("b.jpg")],
    ///         "order": {"receipt": Attachment::from_bytes(pdf, "receipt.pdf")},
    ///         "note": "passes through",
    ///     }))
    ///     .idempotency_key("order-42-shipped")
    ///     .await?;
    /// assert!(sent.uploaded_assets.contains_key("gallery[1]"));
    /// # Ok(()) }
    /// ```
    pub fn send_event<T: serde::Serialize>(
        &self,
        event: impl Into<String>,
        payload: T,
    ) -> SendEvent<'_> {
        SendEvent::new(self, event.into(), &payload)
    }

    /// Asks for a presigned upload URL. Most callers never need this:
    /// [`send_event`](Self::send_event) and [`upload`](Self::upload) do it.
    ///
    /// ```no_run
    /// # async fn demo(client: flowflex::Client) -> flowflex::Result<()> {
    /// let ticket = client.create_upload_url("invoice.pdf", flowflex::Mime::Pdf, 48_213).await?;
    /// println!("PUT the bytes to {} for {}", ticket.upload_url, ticket.asset_id);
    /// # Ok(()) }
    /// ```
    pub async fn create_upload_url(
        &self,
        filename: &str,
        mime: Mime,
        size: u64,
    ) -> Result<UploadTicket> {
        let body = serde_json::json!({ "filename": filename, "mime": mime.as_str(), "size": size });
        let body =
            Bytes::from(serde_json::to_vec(&body).map_err(|e| Error::payload(e.to_string()))?);
        let call = Call {
            endpoint: Endpoint::UploadUrl,
            rewindable: true,
            fault: None,
            scrubber: &self.inner.scrubber,
        };
        let reply = self
            .execute(&call, || async {
                Ok(self
                    .inner
                    .http
                    .post(self.inner.upload_url_endpoint.clone())
                    .header(http::header::AUTHORIZATION, self.inner.auth.clone())
                    .header(http::header::CONTENT_TYPE, "application/json")
                    .body(body.clone()))
            })
            .await?;
        parse_ticket(&reply, &self.inner.scrubber)
    }

    /// Uploads one attachment and returns its asset id (valid for 48 h).
    ///
    /// The file is checked first (type, magic bytes, size), as in a send.
    ///
    /// ```no_run
    /// # async fn demo(client: flowflex::Client) -> flowflex::Result<()> {
    /// let id = client.upload(&flowflex::Attachment::from_path("./invoice.pdf")).await?;
    /// println!("{id}");
    /// # Ok(()) }
    /// ```
    pub async fn upload(&self, attachment: &Attachment) -> Result<AssetId> {
        let prepared = attachment.prepare(self.inner.max_file_bytes).await?;
        self.upload_prepared(&prepared, None).await
    }

    /// Uploads a checked attachment: upload URL, then the storage PUT.
    pub(crate) async fn upload_prepared(
        &self,
        prepared: &Prepared,
        progress: Option<OnChunk>,
    ) -> Result<AssetId> {
        let file = printable(&prepared.attachment.display_name(), 200);
        let span = tracing::debug_span!(
            "flowflex.upload",
            filename = %prepared.filename,
            mime = %prepared.mime,
            size = prepared.size,
        );
        async {
            let wrap = |source: Error, note| Error::Upload {
                path: None,
                file: file.clone(),
                note,
                source: Box::new(source),
            };
            let ticket = self
                .create_upload_url(&prepared.filename, prepared.mime, prepared.size)
                .await
                .map_err(|e| wrap(e, None))?;
            let mut scrubber = self.inner.scrubber.clone();
            scrubber.add(ticket.token.expose());
            if let Some(query) = ticket.upload_url.url.query() {
                scrubber.add(query);
            }
            let fault = BodyFault::default();
            let rewindable = prepared.rewindable();
            let call = Call {
                endpoint: Endpoint::Storage,
                rewindable,
                fault: Some(&fault),
                scrubber: &scrubber,
            };
            let result = self
                .execute(&call, || async {
                    let body = prepared.body(&fault, progress.clone()).await?;
                    Ok(self
                        .inner
                        .http
                        .put(ticket.upload_url.url.clone())
                        .header(http::header::CONTENT_TYPE, prepared.mime.as_str())
                        .header(http::header::CONTENT_LENGTH, prepared.size)
                        .body(body))
                })
                .await;
            match result {
                Ok(_) => {
                    tracing::debug!(asset_id = %ticket.asset_id, "uploaded");
                    Ok(ticket.asset_id)
                }
                Err(e @ Error::Attachment { .. }) => Err(e),
                Err(e) => {
                    let note = (!rewindable && e.is_retryable()).then_some(
                        "not retried: it streams from a one-shot reader; use Attachment::from_path or from_bytes, or from_reader without with_size, to get retries",
                    );
                    Err(wrap(e, note))
                }
            }
        }
        .instrument(span)
        .await
    }

    /// Posts an event payload (already holding asset ids).
    pub(crate) async fn post_event(
        &self,
        event: &str,
        idempotency_key: &str,
        body: Bytes,
    ) -> Result<Value> {
        let event_header = header_value(event)?;
        let key_header = header_value(idempotency_key)?;
        let call = Call {
            endpoint: Endpoint::Event,
            rewindable: true,
            fault: None,
            scrubber: &self.inner.scrubber,
        };
        let reply = self
            .execute(&call, || async {
                Ok(self
                    .inner
                    .http
                    .post(self.inner.events_endpoint.clone())
                    .header(http::header::AUTHORIZATION, self.inner.auth.clone())
                    .header(http::header::CONTENT_TYPE, "application/json")
                    .header("x-event", event_header.clone())
                    .header("x-idempotency-key", key_header.clone())
                    .body(body.clone()))
            })
            .await?;
        Ok(parse_body(&reply.body))
    }

    /// The request loop: sends, reads the reply, retries what the policy
    /// allows. `build` makes a fresh request (and body) for each attempt.
    pub(crate) async fn execute<F, Fut>(&self, call: &Call<'_>, mut build: F) -> Result<Reply>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<reqwest::RequestBuilder>>,
    {
        let mut backoff = Backoff::new(&self.inner.retry);
        let max_attempts = if call.rewindable {
            self.inner.retry.get_max_retries().saturating_add(1)
        } else {
            1
        };
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let request = build().await?.timeout(self.inner.timeout);
            let outcome = match request.send().await {
                Ok(response) => self.read_reply(call, response, attempt).await,
                Err(e) => Err(self.transport_error(call, &e, attempt)),
            };
            if let Some(fault) = call.fault {
                if let Some(err) = fault
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .take()
                {
                    return Err(err);
                }
            }
            let err = match outcome {
                Ok(reply) => return Ok(reply),
                Err(err) => err,
            };
            if attempt >= max_attempts || !err.is_retryable() {
                return Err(err);
            }
            let wait = backoff.next(err.retry_after());
            tracing::warn!(
                endpoint = ?call.endpoint,
                attempt,
                status = err.status(),
                wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                "retrying after a transient failure"
            );
            tokio::time::sleep(wait).await;
        }
    }

    async fn read_reply(
        &self,
        call: &Call<'_>,
        mut response: reqwest::Response,
        attempt: u32,
    ) -> Result<Reply> {
        let status = response.status().as_u16();
        let success = response.status().is_success();
        let limit = if success {
            MAX_SUCCESS_BODY
        } else {
            MAX_ERROR_BODY
        };
        let retry_after = parse_retry_after(response.headers(), SystemTime::now());
        let mut body = BytesMut::new();
        let mut truncated = false;
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    let room = limit - body.len();
                    if chunk.len() > room {
                        body.extend_from_slice(&chunk[..room]);
                        truncated = true;
                        break;
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(e) => return Err(self.transport_error(call, &e, attempt)),
            }
        }
        if success {
            if truncated {
                return Err(Error::InvalidResponse {
                    endpoint: call.endpoint,
                    status,
                    message: format!("the response body is over {MAX_SUCCESS_BODY} bytes"),
                });
            }
            return Ok(Reply {
                status,
                body: body.freeze(),
            });
        }
        Err(api_error(
            call,
            status,
            &body,
            truncated,
            retry_after,
            attempt,
        ))
    }

    fn transport_error(&self, call: &Call<'_>, e: &reqwest::Error, attempt: u32) -> Error {
        if e.is_timeout() {
            return Error::Timeout {
                endpoint: call.endpoint,
                after: self.inner.timeout,
                attempts: attempt,
            };
        }
        let what = if e.is_connect() {
            "could not connect"
        } else if e.is_body() {
            "the request body failed"
        } else {
            "the connection failed (closed or reset)"
        };
        let mut detail = String::new();
        let mut source: Option<&dyn std::error::Error> = std::error::Error::source(e);
        while let Some(s) = source {
            detail = s.to_string();
            source = s.source();
        }
        let message = if detail.is_empty() {
            what.to_owned()
        } else {
            format!("{what}: {}", call.scrubber.scrub(&printable(&detail, 300)))
        };
        let retryable = e.is_connect() || e.is_request() || e.is_body();
        Error::Network {
            endpoint: call.endpoint,
            message,
            attempts: attempt,
            retryable,
            source: Some(Box::new(RedactedSource(
                call.scrubber.scrub(&e.to_string()),
            ))),
        }
    }
}

/// A transport error's text with URLs and secrets removed; reqwest's own
/// error prints the request URL, which for storage holds the token.
#[derive(Debug)]
struct RedactedSource(String);

impl fmt::Display for RedactedSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for RedactedSource {}

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

fn api_error(
    call: &Call<'_>,
    status: u16,
    body: &[u8],
    truncated: bool,
    retry_after: Option<Duration>,
    attempts: u32,
) -> Error {
    let json: Option<Value> = if truncated {
        None
    } else {
        serde_json::from_slice(body).ok().filter(Value::is_object)
    };
    let pick = |keys: [&str; 2]| {
        json.as_ref().and_then(|j| {
            keys.iter()
                .find_map(|k| j.get(*k).and_then(Value::as_str).filter(|s| !s.is_empty()))
                .map(|s| call.scrubber.scrub(&printable(s, 500)))
        })
    };
    let message = pick(["error", "message"]).unwrap_or_else(|| {
        let text = String::from_utf8_lossy(body);
        let text = text.trim();
        if text.is_empty() {
            format!("no error message (HTTP {status})")
        } else {
            format!(
                "non-JSON error body: \"{}\"",
                call.scrubber.scrub(&printable(text, 200))
            )
        }
    });
    let code = pick(["code", "name"]).map(|c| printable(&c, 64));
    let details = json.map(|mut j| {
        call.scrubber.scrub_json(&mut j);
        Box::new(j)
    });
    if !is_retryable_status(status) || attempts > 1 {
        tracing::debug!(status, code = ?code, "request failed");
    }
    Error::Api {
        endpoint: call.endpoint,
        status,
        code,
        message,
        retry_after,
        attempts,
        details,
    }
}

fn parse_ticket(reply: &Reply, scrubber: &Scrubber) -> Result<UploadTicket> {
    let invalid = |message: String| Error::InvalidResponse {
        endpoint: Endpoint::UploadUrl,
        status: reply.status,
        message,
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
            scrubber.scrub(&printable(
                raw_url.split('?').next().unwrap_or_default(),
                100
            ))
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
        upload_url: crate::send::UploadUrl { url },
        token: Secret::new(token),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn builder() -> ClientBuilder {
        Client::builder()
            .api_key("cik_test")
            .api_secret("very-secret-value")
            .integration_code("ic_abc123")
    }

    #[test]
    fn base_url_rules() {
        let ok = |raw: &str| parse_base_url(raw).map(|u| u.to_string());
        assert_eq!(
            ok("https://api.flowflex.ai").unwrap(),
            "https://api.flowflex.ai/"
        );
        assert_eq!(
            ok("https://api.flowflex.ai/api").unwrap(),
            "https://api.flowflex.ai/"
        );
        assert_eq!(
            ok("https://api.flowflex.ai/api/").unwrap(),
            "https://api.flowflex.ai/"
        );
        assert_eq!(
            ok("https://h.example/x/api//").unwrap(),
            "https://h.example/x"
        );
        assert_eq!(
            ok("https://h.example/apix").unwrap(),
            "https://h.example/apix"
        );
        assert!(ok("http://localhost:8080").is_ok());
        assert!(ok("http://127.0.0.1:1").is_ok());
        assert!(ok("http://127.1.2.3").is_ok());
        assert!(ok("http://[::1]:9000").is_ok());
        for bad in [
            "http://api.flowflex.ai",
            "http://10.0.0.1",
            "http://localhost.evil.com",
            "ftp://localhost",
            "api.flowflex.ai",
            "https://",
            "",
            "   ",
            "https://user:pw@api.flowflex.ai",
            "https://api.flowflex.ai/?x=1",
            "https://api.flowflex.ai/#frag",
            "not a url",
        ] {
            let err = ok(bad).unwrap_err();
            assert!(matches!(err, Error::Config { .. }), "{bad}: {err}");
        }
        let err = ok("http://api.flowflex.ai").unwrap_err().to_string();
        assert!(err.contains("https") && err.contains("clear text"), "{err}");
    }

    #[test]
    fn endpoints_are_joined_and_encoded() {
        let client = builder()
            .base_url("https://h.example/prefix/api")
            .build()
            .unwrap();
        assert_eq!(
            client.inner.events_endpoint.as_str(),
            "https://h.example/prefix/v1/events/ic_abc123"
        );
        assert_eq!(
            client.inner.upload_url_endpoint.as_str(),
            "https://h.example/prefix/v1/assets/upload-url"
        );
    }

    #[test]
    fn credentials_and_codes_are_checked() {
        for (b, what) in [
            (builder().api_key(""), "api_key"),
            (builder().api_key("  "), "api_key"),
            (builder().api_key(" cik"), "api_key"),
            (builder().api_key("a:b"), "api_key"),
            (builder().api_secret(""), "api_secret"),
            (builder().api_secret("x\ny"), "api_secret"),
            (builder().integration_code(""), "integration_code"),
            (builder().integration_code("a/b"), "integration_code"),
            (builder().integration_code(".."), "integration_code"),
            (builder().integration_code("a%2F"), "integration_code"),
            (builder().integration_code("a?b"), "integration_code"),
            (builder().integration_code("códe"), "integration_code"),
            (builder().timeout(Duration::ZERO), "timeout"),
            (builder().max_file_bytes(0), "max_file_bytes"),
            (
                builder().max_file_bytes(crate::MAX_FILE_BYTES + 1),
                "max_file_bytes",
            ),
            (
                builder().max_concurrent_uploads(0),
                "max_concurrent_uploads",
            ),
        ] {
            let err = b.build().unwrap_err();
            assert!(matches!(err, Error::Config { .. }));
            assert!(err.to_string().contains(what), "{what}: {err}");
            assert!(!err.to_string().contains("very-secret-value"));
        }
        let missing = Client::builder().build().unwrap_err().to_string();
        assert!(missing.contains("FLOWFLEX_API_KEY"), "{missing}");
    }

    #[test]
    fn debug_shows_no_secret() {
        let b = builder();
        let client = b.clone().build().unwrap();
        let token = base64::engine::general_purpose::STANDARD.encode("cik_test:very-secret-value");
        for text in [
            format!("{b:?}"),
            format!("{client:?}"),
            format!("{client:#?}"),
        ] {
            assert!(!text.contains("very-secret-value"), "{text}");
            assert!(!text.contains(&token), "{text}");
            assert!(text.contains("<redacted>"), "{text}");
        }
    }
}
