//! Configuration: the builder's settings and every check on them.

use std::fmt;
use std::time::Duration;

use base64::Engine as _;
use http::HeaderValue;
use url::Url;

use crate::api::{Api, is_loopback};
use crate::error::{Error, Result};
use crate::redact::{Scrubber, Secret, printable, without_userinfo};
use crate::retry::RetryConfig;
use crate::transport::Transport;

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

/// Builds a [`Client`](crate::Client). Every setter is optional until [`build`](Self::build),
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
            .field("base_url", &self.base_url.as_deref().map(without_userinfo))
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
    /// timeout. Start from [`http_client_builder`](crate::http_client_builder),
    /// which has the SDK's TLS and its redirects off, and keep them off.
    ///
    /// ```
    /// let http = flowflex::http_client_builder()
    ///     .unwrap()
    ///     .connect_timeout(std::time::Duration::from_secs(5))
    ///     .build()
    ///     .unwrap();
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

    /// Checks the configuration; the shared state of a client.
    pub(crate) fn into_api(self) -> Result<Api> {
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
        let retry = self.retry.unwrap_or_default();
        if let Some(problem) = retry.problem() {
            return Err(Error::config(problem));
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
            None => http_client_builder()?
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
        Ok(Api {
            transport: Transport {
                http,
                timeout,
                retry,
            },
            api_key: api_key.to_owned(),
            auth,
            integration_code: integration_code.to_owned(),
            base_url,
            upload_url_endpoint,
            events_endpoint,
            max_file_bytes,
            max_concurrent_uploads,
            scrubber,
        })
    }
}

/// A `reqwest::ClientBuilder` set up as the SDK's own HTTP client is: its
/// TLS (with the default `rustls` feature: rustls with the program's
/// installed crypto provider, or *ring*; see docs/security.md) and no
/// redirects, so credentials never follow one to another host. Add what
/// you need (a proxy, timeouts, root certificates), build it, and pass it
/// to [`ClientBuilder::http_client`].
///
/// Start from this rather than `reqwest::Client::builder()`: with the
/// `rustls` feature, reqwest is built without a crypto provider of its own,
/// and a plain `reqwest::Client::builder().build()` panics unless the
/// program installed one (or enabled reqwest's `rustls` feature, which
/// brings aws-lc-rs).
///
/// ```
/// let http = flowflex::http_client_builder()?
///     .proxy(reqwest::Proxy::https("http://proxy.internal:3128")?)
///     .connect_timeout(std::time::Duration::from_secs(5))
///     .build()?;
/// let client = flowflex::Client::builder().http_client(http);
/// # let _ = client;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
///
/// [`Error::Config`] if the platform's certificate verifier cannot be set
/// up.
pub fn http_client_builder() -> Result<reqwest::ClientBuilder> {
    Ok(crate::tls::configure(reqwest::Client::builder())?
        .redirect(reqwest::redirect::Policy::none()))
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

/// Parses and checks a base URL: trailing `/api` and `/` stripped, `http(s)`,
/// a host, no credentials, query or fragment, https off loopback.
pub(crate) fn parse_base_url(raw: &str) -> Result<Url> {
    // Credentials are hidden before the text is cut, so that no cut can
    // leave a password's head without the `@` that marks it.
    let shown = printable(&without_userinfo(raw), 120);
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
