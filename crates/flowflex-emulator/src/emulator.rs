//! The handle tests hold, and its builder.

use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::state::{Config, Shared, lock};
use crate::{DEFAULT_MAX_FILE_BYTES, Endpoint, Fault, RecordedEvent, RecordedRequest, StoredAsset};

/// The default API key of an emulator.
pub const DEFAULT_API_KEY: &str = "cik_emulator";
/// The default API secret of an emulator.
pub const DEFAULT_API_SECRET: &str = "emulator-secret";
/// The default integration code of an emulator.
pub const DEFAULT_INTEGRATION_CODE: &str = "ic_emulator";

/// A running emulator: a FlowFlex API and its presigned storage on loopback.
///
/// Cheap to clone: every clone is a handle on the same server. The server
/// stops on [`shutdown`](Emulator::shutdown), or when the last handle is
/// dropped. It runs on the Tokio runtime that started it.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> std::io::Result<()> {
/// use flowflex_emulator::Emulator;
///
/// let emulator = Emulator::builder().integration_code("ic_orders").start().await?;
/// assert!(emulator.base_url().starts_with("http://127.0.0.1:"));
/// assert_eq!(emulator.integration_code(), "ic_orders");
/// // ... point the client under test at emulator.base_url() ...
/// assert!(emulator.events().is_empty());
/// emulator.shutdown().await;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Emulator {
    inner: Arc<Inner>,
}

struct Inner {
    shared: Arc<Shared>,
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.stop.send_replace(true);
    }
}

/// Shows where it listens and the public credentials, never the secret nor
/// the recorded state.
impl fmt::Debug for Emulator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Emulator")
            .field("base_url", &self.inner.shared.config.base_url)
            .field("api_key", &self.api_key())
            .field("integration_code", &self.integration_code())
            .finish_non_exhaustive()
    }
}

impl Emulator {
    /// Starts an emulator on 127.0.0.1, on a free port, with the default
    /// credentials ([`DEFAULT_API_KEY`], [`DEFAULT_API_SECRET`],
    /// [`DEFAULT_INTEGRATION_CODE`]).
    pub async fn start() -> io::Result<Emulator> {
        Emulator::builder().start().await
    }

    /// A builder to choose credentials, address and limits.
    pub fn builder() -> EmulatorBuilder {
        EmulatorBuilder::default()
    }

    /// `http://HOST:PORT`, without a trailing slash.
    #[must_use]
    pub fn base_url(&self) -> String {
        self.inner.shared.config.base_url.clone()
    }

    /// The address the emulator listens on.
    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        self.inner.addr
    }

    /// The API key the emulator accepts.
    #[must_use]
    pub fn api_key(&self) -> &str {
        &self.inner.shared.config.api_key
    }

    /// The API secret the emulator accepts.
    #[must_use]
    pub fn api_secret(&self) -> &str {
        &self.inner.shared.config.api_secret
    }

    /// The integration code the emulator knows.
    #[must_use]
    pub fn integration_code(&self) -> &str {
        &self.inner.shared.config.integration_code
    }

    /// The largest file storage accepts, in bytes.
    #[must_use]
    pub fn max_file_bytes(&self) -> u64 {
        self.inner.shared.config.max_file_bytes
    }

    /// The events accepted so far, in arrival order (replays not repeated).
    #[must_use]
    pub fn events(&self) -> Vec<RecordedEvent> {
        self.inner.shared.events()
    }

    /// Every asset created by `upload-url`, uploaded or not, in creation order.
    #[must_use]
    pub fn assets(&self) -> Vec<StoredAsset> {
        self.inner.shared.assets()
    }

    /// One asset by id.
    #[must_use]
    pub fn asset(&self, asset_id: &str) -> Option<StoredAsset> {
        self.inner.shared.asset(asset_id)
    }

    /// Every request received since the start (or the last
    /// [`clear_requests`](Emulator::clear_requests)), in arrival order,
    /// including rejected and faulted ones.
    #[must_use]
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.inner.shared.requests()
    }

    /// Forgets the requests recorded so far.
    pub fn clear_requests(&self) {
        self.inner.shared.clear_requests();
    }

    /// Moves the emulator's clock forward, for upload-token
    /// ([`UPLOAD_TOKEN_TTL`](crate::UPLOAD_TOKEN_TTL)) and asset
    /// ([`ASSET_TTL`](crate::ASSET_TTL)) expiry. Real time keeps running too.
    pub fn advance_clock(&self, by: Duration) {
        self.inner.shared.advance_clock(by);
    }

    /// Waits until at least `count` events were accepted (replays not
    /// counted) or `within` has passed, woken by each new event rather than
    /// by polling; returns the events accepted by then, in arrival order.
    /// Stops waiting when the emulator shuts down.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> std::io::Result<()> {
    /// # use std::time::Duration;
    /// # let emulator = flowflex_emulator::Emulator::start().await?;
    /// // ... a service under test sends in the background ...
    /// let events = emulator.wait_for_events(1, Duration::from_millis(10)).await;
    /// # assert!(events.is_empty());
    /// # Ok(()) }
    /// ```
    pub async fn wait_for_events(&self, count: usize, within: Duration) -> Vec<RecordedEvent> {
        let shared = &self.inner.shared;
        shared
            .wait_until(within, |state| (state.events.len() >= count, ()))
            .await;
        shared.events()
    }

    /// Forgets every event, asset, idempotency answer and fault, as
    /// `POST /_emulator/reset` does; the address, credentials, clock and
    /// recorded requests stay.
    pub fn reset(&self) {
        self.inner.shared.reset();
    }

    /// `http://HOST:PORT/`, where the inspector page is served, or `None`
    /// when it is not: on a non-loopback address without
    /// [`EmulatorBuilder::inspector`].
    #[must_use]
    pub fn inspector_url(&self) -> Option<String> {
        let config = &self.inner.shared.config;
        config.inspector.then(|| format!("{}/", config.base_url))
    }

    /// What a server prints on stdout once it is ready: where it listens,
    /// the settings a client needs as `NAME=value` lines (the secret is
    /// never among them), then the inspector's address when it is served.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> std::io::Result<()> {
    /// let emulator = flowflex_emulator::Emulator::start().await?;
    /// let text = emulator.announcement();
    /// assert!(text.starts_with("FlowFlex emulator listening on http://127.0.0.1:"));
    /// assert!(text.contains("FLOWFLEX_API_KEY=cik_emulator\n"));
    /// assert!(text.contains(&format!("Inspector: {}/ ", emulator.base_url())));
    /// assert!(!text.contains(emulator.api_secret()));
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn announcement(&self) -> String {
        let base_url = self.base_url();
        let mut text = format!(
            "FlowFlex emulator listening on {base_url}\nFLOWFLEX_BASE_URL={base_url}\nFLOWFLEX_API_KEY={}\nFLOWFLEX_INTEGRATION_CODE={}\n",
            self.api_key(),
            self.integration_code()
        );
        if let Some(url) = self.inspector_url() {
            text.push_str(&format!(
                "Inspector: {url} (events and files as they arrive; control API under {url}_emulator/)\n"
            ));
        }
        text
    }

    /// Queues a fault; see [`Fault`].
    pub fn inject(&self, fault: Fault) {
        self.inner.shared.inject(fault);
    }

    /// Removes every queued or permanent fault.
    pub fn clear_faults(&self) {
        self.inner.shared.clear_faults();
    }

    /// TCP connections accepted since the start.
    #[must_use]
    pub fn connections_opened(&self) -> u64 {
        self.inner.shared.connections_opened()
    }

    /// TCP connections open now.
    #[must_use]
    pub fn connections_open(&self) -> u64 {
        self.inner.shared.connections_open()
    }

    /// The most TCP connections open at the same time since the start: how a
    /// load test sees that a client's connections stay bounded.
    #[must_use]
    pub fn peak_connections_open(&self) -> u64 {
        self.inner.shared.peak_connections_open()
    }

    /// Requests to `endpoint` being handled now (a delayed or hanging one
    /// counts until its client goes away): how a test sees that nothing is
    /// left running after a send failed or was cancelled.
    #[must_use]
    pub fn in_flight(&self, endpoint: Endpoint) -> u64 {
        self.inner.shared.in_flight(endpoint)
    }

    /// The most requests to `endpoint` handled at the same time since the
    /// emulator started: how a test sees that uploads ran in parallel, and
    /// that their concurrency stayed within its bound.
    #[must_use]
    pub fn peak_in_flight(&self, endpoint: Endpoint) -> u64 {
        self.inner.shared.peak_in_flight(endpoint)
    }

    /// Stops accepting connections, lets in-flight requests finish (for up to
    /// 5 s; hanging ones are cut at once) and returns when the server is gone.
    /// Other handles stay usable for inspection.
    pub async fn shutdown(self) {
        self.inner.stop.send_replace(true);
        let task = lock(&self.inner.task).take();
        if let Some(task) = task {
            let _ = task.await;
        }
    }
}

/// Configures and starts an [`Emulator`].
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> std::io::Result<()> {
/// let emulator = flowflex_emulator::Emulator::builder()
///     .api_key("cik_test")
///     .api_secret("s3cret")
///     .max_file_bytes(1024)
///     .start()
///     .await?;
/// assert_eq!(emulator.api_key(), "cik_test");
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
#[must_use = "a builder does nothing until .start() is awaited"]
pub struct EmulatorBuilder {
    api_key: String,
    api_secret: String,
    integration_code: String,
    host: IpAddr,
    port: u16,
    max_file_bytes: u64,
    retain_bytes: bool,
    inspector: bool,
}

impl fmt::Debug for EmulatorBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmulatorBuilder")
            .field("api_key", &self.api_key)
            .field("api_secret", &"<redacted>")
            .field("integration_code", &self.integration_code)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("max_file_bytes", &self.max_file_bytes)
            .field("retain_bytes", &self.retain_bytes)
            .field("inspector", &self.inspector)
            .finish()
    }
}

impl Default for EmulatorBuilder {
    fn default() -> Self {
        EmulatorBuilder {
            api_key: DEFAULT_API_KEY.to_owned(),
            api_secret: DEFAULT_API_SECRET.to_owned(),
            integration_code: DEFAULT_INTEGRATION_CODE.to_owned(),
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 0,
            max_file_bytes: DEFAULT_MAX_FILE_BYTES,
            retain_bytes: true,
            inspector: false,
        }
    }
}

impl EmulatorBuilder {
    /// The API key to accept (default [`DEFAULT_API_KEY`]); must not contain `:`.
    pub fn api_key(mut self, api_key: impl Into<String>) -> Self {
        self.api_key = api_key.into();
        self
    }

    /// The API secret to accept (default [`DEFAULT_API_SECRET`]).
    pub fn api_secret(mut self, api_secret: impl Into<String>) -> Self {
        self.api_secret = api_secret.into();
        self
    }

    /// The integration code to know (default [`DEFAULT_INTEGRATION_CODE`]).
    pub fn integration_code(mut self, integration_code: impl Into<String>) -> Self {
        self.integration_code = integration_code.into();
        self
    }

    /// The address to listen on (default 127.0.0.1).
    pub fn host(mut self, host: IpAddr) -> Self {
        self.host = host;
        self
    }

    /// The port to listen on (default 0: a free one).
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// The largest file accepted, in bytes (default
    /// [`DEFAULT_MAX_FILE_BYTES`], 25 MiB).
    pub fn max_file_bytes(mut self, max_file_bytes: u64) -> Self {
        self.max_file_bytes = max_file_bytes;
        self
    }

    /// Whether stored files keep their bytes (default `true`). With `false`
    /// only each file's size and SHA-256 are kept ([`StoredAsset::bytes`] is
    /// empty), so a long load test measures the client's memory, not the
    /// files the emulator holds.
    pub fn retain_bytes(mut self, retain: bool) -> Self {
        self.retain_bytes = retain;
        self
    }

    /// Serve the inspector page (`/`) and the `/_emulator/` control API on a
    /// non-loopback [`host`](EmulatorBuilder::host) too (default `false`:
    /// they answer only when the emulator listens on loopback, as they show
    /// every event and file and can reset them). On loopback they are
    /// always served.
    pub fn inspector(mut self, serve_off_loopback: bool) -> Self {
        self.inspector = serve_off_loopback;
        self
    }

    /// Binds the port and starts serving on the current Tokio runtime.
    ///
    /// Fails with [`io::ErrorKind::InvalidInput`] for an empty credential or
    /// an API key containing `:`, and with the bind error otherwise.
    pub async fn start(self) -> io::Result<Emulator> {
        let invalid = |what: &str| io::Error::new(io::ErrorKind::InvalidInput, what.to_owned());
        if self.api_key.is_empty() || self.api_key.contains(':') {
            return Err(invalid(
                "api_key must be non-empty and must not contain ':'",
            ));
        }
        if self.api_secret.is_empty() {
            return Err(invalid("api_secret must be non-empty"));
        }
        if self.integration_code.is_empty() {
            return Err(invalid("integration_code must be non-empty"));
        }
        let listener = TcpListener::bind((self.host, self.port)).await?;
        let addr = listener.local_addr()?;
        let loopback = addr.ip().is_loopback();
        let (stop, stopped) = watch::channel(false);
        let shared = Arc::new(Shared::new(
            Config {
                api_key: self.api_key,
                api_secret: self.api_secret,
                integration_code: self.integration_code,
                max_file_bytes: self.max_file_bytes,
                base_url: format!("http://{addr}"),
                retain_bytes: self.retain_bytes,
                inspector: loopback || self.inspector,
                loopback,
            },
            stopped.clone(),
        ));
        let task = tokio::spawn(crate::server::run(listener, Arc::clone(&shared), stopped));
        tracing::debug!(%addr, "emulator listening");
        Ok(Emulator {
            inner: Arc::new(Inner {
                shared,
                addr,
                stop,
                task: Mutex::new(Some(task)),
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_secret() {
        let builder = Emulator::builder().api_secret("hunter2");
        let shown = format!("{builder:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("<redacted>"), "{shown}");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn emulator_debug_is_short_and_secret_free() {
        let emulator = Emulator::builder()
            .api_secret("hunter2")
            .start()
            .await
            .expect("start");
        let shown = format!("{emulator:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains(&emulator.base_url()), "{shown}");
    }
}
