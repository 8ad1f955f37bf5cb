//! What an outbox is configured with, and the builder that opens one.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::Outbox;
use crate::clock::{Clock, SystemClock};
use crate::error::{Error, Result};

/// The default cap on pending events: 100 000.
pub const DEFAULT_MAX_PENDING_EVENTS: u64 = 100_000;
/// The default cap on pending bytes (bodies and attachments): 8 GiB.
pub const DEFAULT_MAX_PENDING_BYTES: u64 = 8 << 30;
/// How long a delivered event is kept by default: 7 days.
pub const DEFAULT_KEEP_DELIVERED: Duration = Duration::from_secs(7 * 24 * 3600);

/// How long FlowFlex keeps an uploaded asset referenceable: 48 h.
pub const ASSET_LIFETIME: Duration = Duration::from_secs(48 * 3600);

/// The settings of an outbox, as [`OutboxBuilder`] sets them.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) max_pending_events: u64,
    pub(crate) max_pending_bytes: u64,
    pub(crate) max_file_bytes: u64,
    pub(crate) initial_backoff: Duration,
    pub(crate) max_backoff: Duration,
    pub(crate) max_age: Duration,
    pub(crate) keep_delivered: Duration,
    pub(crate) asset_lifetime: Duration,
    pub(crate) asset_margin: Duration,
    pub(crate) jitter_seed: Option<u64>,
    pub(crate) clock: Arc<dyn Clock>,
    /// PostgreSQL: the schema that holds the outbox's tables.
    pub(crate) schema: Option<String>,
    /// Whether opening creates and migrates the outbox (else it must exist
    /// at this version).
    pub(crate) create: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_pending_events: DEFAULT_MAX_PENDING_EVENTS,
            max_pending_bytes: DEFAULT_MAX_PENDING_BYTES,
            max_file_bytes: flowflex::MAX_FILE_BYTES,
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(3600),
            max_age: Duration::from_secs(72 * 3600),
            keep_delivered: DEFAULT_KEEP_DELIVERED,
            asset_lifetime: ASSET_LIFETIME,
            asset_margin: Duration::from_secs(3600),
            jitter_seed: None,
            clock: Arc::new(SystemClock),
            schema: None,
            create: true,
        }
    }
}

impl Config {
    /// The wait before attempt `attempts + 1`: exponential from
    /// `initial_backoff`, capped at `max_backoff`, with "equal jitter" (half
    /// fixed, half random) so a fleet that failed together does not retry
    /// together.
    pub(crate) fn backoff(&self, attempts: u32, rng: &mut fastrand::Rng) -> Duration {
        let exp = attempts.saturating_sub(1).min(40);
        let base = self
            .initial_backoff
            .saturating_mul(1u32 << exp.min(31))
            .min(self.max_backoff);
        let half = base / 2;
        let jitter =
            Duration::from_millis(rng.u64(0..=u64::try_from(half.as_millis()).unwrap_or(u64::MAX)));
        half + jitter
    }
}

/// Opens an outbox with settings other than the defaults.
///
/// ```no_run
/// # async fn demo() -> flowflex_outbox::Result<()> {
/// use std::time::Duration;
/// use flowflex_outbox::Outbox;
///
/// let outbox = Outbox::builder()
///     .max_pending_events(10_000)
///     .max_pending_bytes(2 << 30)
///     .max_age(Duration::from_secs(24 * 3600))
///     .open_sqlite("outbox.db")
///     .await?;
/// # let _ = outbox; Ok(()) }
/// ```
#[derive(Debug, Clone, Default)]
#[must_use = "a builder does nothing until opened"]
pub struct OutboxBuilder {
    config: Config,
}

impl OutboxBuilder {
    /// The most events pending at once (default
    /// [`DEFAULT_MAX_PENDING_EVENTS`]); an enqueue beyond it fails with
    /// [`Error::Full`].
    pub fn max_pending_events(mut self, n: u64) -> Self {
        self.config.max_pending_events = n;
        self
    }

    /// The most bytes (bodies and attachments) pending at once (default
    /// [`DEFAULT_MAX_PENDING_BYTES`]); an enqueue beyond it fails with
    /// [`Error::Full`].
    pub fn max_pending_bytes(mut self, n: u64) -> Self {
        self.config.max_pending_bytes = n;
        self
    }

    /// The largest attachment accepted at enqueue (default and most
    /// [`flowflex::MAX_FILE_BYTES`]). Use the relay client's
    /// `max_file_bytes` if it is lower.
    pub fn max_file_bytes(mut self, n: u64) -> Self {
        self.config.max_file_bytes = n.min(flowflex::MAX_FILE_BYTES);
        self
    }

    /// The wait after a first failed delivery (default 1 s); it doubles
    /// with each failure, up to [`max_backoff`](Self::max_backoff).
    pub fn initial_backoff(mut self, d: Duration) -> Self {
        self.config.initial_backoff = d;
        self
    }

    /// The longest wait between delivery attempts (default 1 h).
    pub fn max_backoff(mut self, d: Duration) -> Self {
        self.config.max_backoff = d;
        self
    }

    /// How long an event may stay undelivered before it becomes a dead
    /// letter (default 72 h), counted from its enqueue (or requeue).
    pub fn max_age(mut self, d: Duration) -> Self {
        self.config.max_age = d;
        self
    }

    /// How long a delivered event stays in the outbox (default
    /// [`DEFAULT_KEEP_DELIVERED`], 7 days), counted from its delivery on the
    /// outbox's clock; then relays delete it (every minute, and when they
    /// start), or [`Outbox::prune`] does. Its idempotency key is
    /// remembered as long: an enqueue with the key of an event delivered
    /// longer ago is a new event. Dead letters are kept until requeued.
    /// `Duration::MAX` keeps every delivered event.
    pub fn keep_delivered(mut self, d: Duration) -> Self {
        self.config.keep_delivered = d;
        self
    }

    /// How long before the end of the 48 h asset lifetime an upload stops
    /// being reused (default 1 h): a delivery later than that uploads again.
    pub fn asset_safety_margin(mut self, d: Duration) -> Self {
        self.config.asset_margin = d;
        self
    }

    /// Seeds the backoff jitter, for reproducible tests (default: random).
    pub fn jitter_seed(mut self, seed: u64) -> Self {
        self.config.jitter_seed = Some(seed);
        self
    }

    /// The clock for ages, backoff and asset freshness (default
    /// [`SystemClock`]); tests pass a [`ManualClock`](crate::ManualClock).
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.config.clock = Arc::new(clock);
        self
    }

    /// PostgreSQL: keeps the outbox's tables in their own schema, created
    /// if missing (default: the connection's `search_path`, usually
    /// `public`). Every statement names the tables with the schema, so the
    /// outbox is found from any connection, yours included (an enqueue in
    /// your transaction needs no `search_path`); its migrations, and their
    /// `_sqlx_migrations` table, go in it too. Call the SQL function as
    /// `"name".flowflex_outbox_enqueue(..)`.
    ///
    /// ```no_run
    /// # async fn demo() -> flowflex_outbox::Result<()> {
    /// let outbox = flowflex_outbox::Outbox::builder()
    ///     .schema("flowflex")
    ///     .connect_postgres("postgres://app@db/orders")
    ///     .await?;
    /// # let _ = outbox; Ok(()) }
    /// ```
    pub fn schema(mut self, name: impl Into<String>) -> Self {
        self.config.schema = Some(name.into());
        self
    }

    /// Whether opening creates and migrates the outbox (default `true`).
    /// With `false` nothing is created or changed: the outbox must exist
    /// at this version, else opening fails with [`Error::NoOutbox`] saying
    /// what it found. For tools that only look (`flowflex outbox status`).
    pub fn create(mut self, create: bool) -> Self {
        self.config.create = create;
        self
    }

    fn checked(self) -> Result<Config> {
        let c = self.config;
        if c.max_pending_events == 0 || c.max_pending_bytes == 0 || c.max_file_bytes == 0 {
            return Err(Error::Config(
                "max_pending_events, max_pending_bytes and max_file_bytes must be above 0".into(),
            ));
        }
        if c.initial_backoff.is_zero() || c.max_backoff < c.initial_backoff {
            return Err(Error::Config(
                "initial_backoff must be above 0 and at most max_backoff".into(),
            ));
        }
        if let Some(schema) = &c.schema {
            if schema.is_empty() || schema.len() > 63 || schema.contains('\0') {
                return Err(Error::Config(format!(
                    "schema({schema:?}): a PostgreSQL schema name is 1 to 63 bytes, without NUL"
                )));
            }
        }
        if c.asset_margin >= c.asset_lifetime {
            return Err(Error::Config(
                "asset_safety_margin must be shorter than the 48 h asset lifetime".into(),
            ));
        }
        Ok(c)
    }

    /// Opens (creating and migrating if needed) a SQLite outbox at `path`,
    /// with attachments in the spool directory `PATH.spool` beside it.
    ///
    /// # Errors
    ///
    /// [`Error::Database`], [`Error::Migrate`] or [`Error::Io`].
    pub async fn open_sqlite(self, path: impl AsRef<Path>) -> Result<Outbox> {
        let config = self.checked()?;
        let store = crate::store::sqlite::open(path.as_ref(), config.create).await?;
        Outbox::new(crate::store::Store::Sqlite(Arc::new(store)), config)
    }

    /// Connects to PostgreSQL at `url` and creates or migrates the outbox's
    /// tables (in the connection's `search_path`).
    ///
    /// # Errors
    ///
    /// [`Error::Database`] or [`Error::Migrate`].
    pub async fn connect_postgres(self, url: &str) -> Result<Outbox> {
        let config = self.checked()?;
        // No ping before each use (sqlx's default): it would cost every
        // writer batch and every claim a round trip. A connection that died
        // fails its statement instead; the writer tries a batch once more on
        // a fresh one, and a relay's turn is retried.
        // Generic plans: the outbox runs a handful of statements over and
        // over, whose plans do not depend on their parameters; planning
        // each execution again (PostgreSQL's custom plans) cost a batch of
        // enqueues as much as running it.
        let options: sqlx::postgres::PgConnectOptions = url
            .parse()
            .map_err(Error::db("reading the PostgreSQL URL"))?;
        let options = options.options([("plan_cache_mode", "force_generic_plan")]);
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(8)
            .test_before_acquire(false)
            .connect_with(options)
            .await
            .map_err(Error::db("connecting to PostgreSQL"))?;
        let store = crate::store::pg::open(pool, config.schema.as_deref(), config.create).await?;
        Outbox::new(crate::store::Store::Postgres(Arc::new(store)), config)
    }

    /// An outbox in the service's own pool; creates or migrates its tables.
    ///
    /// # Errors
    ///
    /// [`Error::Database`] or [`Error::Migrate`].
    pub async fn from_pg_pool(self, pool: sqlx::PgPool) -> Result<Outbox> {
        let config = self.checked()?;
        let store = crate::store::pg::open(pool, config.schema.as_deref(), config.create).await?;
        Outbox::new(crate::store::Store::Postgres(Arc::new(store)), config)
    }
}
