//! A durable outbox for [FlowFlex](https://flowflex.ai) events: store an
//! event (with its files) in SQLite or PostgreSQL, in your own transaction
//! if you like, and let a relay deliver it exactly once as FlowFlex sees it,
//! over outages, restarts and the 48 h asset lifetime.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use std::time::Duration;
//! use flowflex::{Attachment, Client};
//! use flowflex_outbox::Outbox;
//!
//! let outbox = Outbox::open_sqlite("outbox.db").await?;
//! let id = outbox
//!     .enqueue("order.shipped", flowflex::json!({
//!         "invoice": Attachment::from_path("./invoice.pdf"),
//!         "order_id": 42,
//!     }))
//!     .idempotency_key("order-42-shipped")
//!     .await?; // durable now: the PDF was copied into the outbox
//!
//! let relay = outbox.relay(Client::from_env()?).spawn();
//! relay.flush(Duration::from_secs(30)).await?;
//! relay.shutdown().await;
//!
//! let stats = outbox.stats().await?;
//! println!("{id}: {} pending, {} delivered, {} dead", stats.pending, stats.delivered, stats.dead);
//! # Ok(()) }
//! ```
//!
//! What it guarantees, and how (docs/outbox.md has the whole story):
//! - `enqueue` runs every check a send runs (event name, payload, file
//!   types, content, sizes, field rules) and fails with the same
//!   [`flowflex::Error`] ([`Error::Event`]); it returns once the event and
//!   its files are durable.
//! - The idempotency key is fixed at enqueue and sent on every attempt, by
//!   any relay: a crash at any moment ends with one event at FlowFlex.
//! - Failures are retried for hours (exponential backoff with jitter,
//!   `Retry-After` honoured) up to a maximum age; permanent ones (401/403,
//!   refused files, other 4xx but 408/429) go to the [dead
//!   letters](Outbox::dead_letters) at once, with their error.
//! - Uploads are reused only while fresh (48 h minus a margin); a later
//!   delivery uploads again.
//! - Caps on pending events and bytes: beyond them `enqueue` fails with
//!   [`Error::Full`], never a silent drop.
//!
//! SQLite is for one process at a time (its relay and its enqueues); use
//! PostgreSQL when replicas share a queue.
#![deny(missing_docs)]

#[cfg(all(feature = "sqlx-0_8", feature = "sqlx-0_9"))]
compile_error!(
    "flowflex-outbox: the features sqlx-0_8 (a default) and sqlx-0_9 exclude each other; \
     with sqlx 0.9 depend on it with `default-features = false, features = [\"sqlx-0_9\"]`"
);
#[cfg(not(any(feature = "sqlx-0_8", feature = "sqlx-0_9")))]
compile_error!(
    "flowflex-outbox needs one of its features sqlx-0_8 (the default) or sqlx-0_9: \
     the sqlx it is built on"
);
#[cfg(not(feature = "sqlx-0_9"))]
pub extern crate sqlx;
/// The sqlx this outbox is built on (0.8 by default, 0.9 with the
/// `sqlx-0_9` feature): its `Transaction` and `PgConnection` are the ones
/// [`Enqueue::in_transaction`] takes.
#[cfg(feature = "sqlx-0_9")]
pub extern crate sqlx09 as sqlx;

mod clock;
mod config;
mod enqueue;
mod error;
mod metrics;
mod relay;
mod store;

use std::fmt;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use flowflex::{Client, IntoPayload, NamedEvent};
use tokio::sync::{Notify, watch};

pub use clock::{Clock, ManualClock, SystemClock};
pub use config::{
    ASSET_LIFETIME, DEFAULT_KEEP_DELIVERED, DEFAULT_MAX_PENDING_BYTES, DEFAULT_MAX_PENDING_EVENTS,
    OutboxBuilder,
};
pub use enqueue::{Enqueue, EnqueueMany, OutboxTransaction, TxConn};
pub use error::{Error, Result};
pub use relay::{FlushReport, Relay, RelayHandle};

use config::Config;
use store::Store;

/// A durable queue of FlowFlex events. Cheap to clone: clones share the
/// store.
#[derive(Clone)]
pub struct Outbox {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    config: Config,
    /// Bumped by every enqueue through this handle (or its clones): wakes
    /// its relays at once, even one busy with a turn when it happens.
    wake: watch::Sender<u64>,
    /// Told when a relay of this handle has recorded outcomes (`flush`).
    turned: Notify,
    rng: Mutex<fastrand::Rng>,
}

impl fmt::Debug for Outbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Outbox")
            .field("backend", &self.inner.store.backend_name())
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl Outbox {
    /// A builder, to set caps, retry timing or the clock.
    pub fn builder() -> OutboxBuilder {
        OutboxBuilder::default()
    }

    /// Opens (creating and migrating if needed) a SQLite outbox at `path`
    /// (WAL mode), with attachment content in the directory `PATH.spool`
    /// beside it. One process at a time.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> flowflex_outbox::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// let outbox = flowflex_outbox::Outbox::open_sqlite(dir.path().join("outbox.db")).await?;
    /// assert_eq!(outbox.stats().await?.pending, 0);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::Database`], [`Error::Migrate`] or [`Error::Io`].
    pub async fn open_sqlite(path: impl AsRef<std::path::Path>) -> Result<Outbox> {
        Outbox::builder().open_sqlite(path).await
    }

    /// Connects to PostgreSQL; replicas of a service share one queue.
    ///
    /// # Errors
    ///
    /// [`Error::Database`] or [`Error::Migrate`].
    pub async fn connect_postgres(url: &str) -> Result<Outbox> {
        Outbox::builder().connect_postgres(url).await
    }

    /// An outbox in the service's own `sqlx::PgPool`.
    ///
    /// # Errors
    ///
    /// [`Error::Database`] or [`Error::Migrate`].
    pub async fn from_pg_pool(pool: sqlx::PgPool) -> Result<Outbox> {
        Outbox::builder().from_pg_pool(pool).await
    }

    pub(crate) fn new(store: Store, config: Config) -> Result<Outbox> {
        let rng = match config.jitter_seed {
            Some(seed) => fastrand::Rng::with_seed(seed),
            None => fastrand::Rng::new(),
        };
        Ok(Outbox {
            inner: Arc::new(Inner {
                store,
                config,
                wake: watch::Sender::new(0),
                turned: Notify::new(),
                rng: Mutex::new(rng),
            }),
        })
    }

    /// Stores an event for delivery: what `Client::send_event` takes (a
    /// `flowflex::json!` payload with attachments, or any `Serialize`).
    /// Durable once the returned future resolves.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> flowflex_outbox::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// let outbox = flowflex_outbox::Outbox::open_sqlite(dir.path().join("outbox.db")).await?;
    /// let notes = flowflex::Attachment::from_bytes(b"hello, flows".to_vec(), "notes.txt");
    /// let id = outbox
    ///     .enqueue("note.added", flowflex::json!({"notes": notes}))
    ///     .idempotency_key("note-1")
    ///     .await?;
    /// // The same key again stores nothing new.
    /// let again = outbox.enqueue("note.added", flowflex::json!({})).idempotency_key("note-1").await?;
    /// assert_eq!(id, again);
    /// assert_eq!(outbox.stats().await?.pending, 1);
    /// # Ok(()) }
    /// ```
    pub fn enqueue(&self, event: impl Into<String>, payload: impl IntoPayload) -> Enqueue<'static> {
        Enqueue::new(
            self.clone(),
            event.into(),
            flowflex::__outbox::Template::from_payload(payload),
        )
    }

    /// Stores a `#[derive(FlowFlexEvent)]` event under its name, with its
    /// field rules checked now.
    ///
    /// ```no_run
    /// # async fn demo(outbox: flowflex_outbox::Outbox) -> flowflex_outbox::Result<()> {
    /// use flowflex::{Attachment, FlowFlexEvent};
    ///
    /// #[derive(serde::Serialize, FlowFlexEvent)]
    /// #[flowflex(event = "invoice.created")]
    /// struct InvoiceCreated {
    ///     #[flowflex(mime = "application/pdf")]
    ///     invoice: Attachment,
    /// }
    ///
    /// outbox.enqueue_event(&InvoiceCreated { invoice: Attachment::from_path("inv.pdf") }).await?;
    /// # Ok(()) }
    /// ```
    pub fn enqueue_event<E: NamedEvent>(&self, event: &E) -> Enqueue<'static> {
        Enqueue::new(
            self.clone(),
            E::EVENT.to_owned(),
            flowflex::__outbox::Template::from_event(event),
        )
    }

    /// Stores several events at once, all or nothing, and returns their
    /// ids in order: each is checked as [`enqueue`](Outbox::enqueue) checks
    /// it, and none is stored unless all are. On PostgreSQL the batch is
    /// one transaction and one statement, far faster than as many
    /// enqueues.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> flowflex_outbox::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// let outbox = flowflex_outbox::Outbox::open_sqlite(dir.path().join("outbox.db")).await?;
    /// let ids = outbox
    ///     .enqueue_many((1..=3).map(|i| outbox.enqueue("order.placed", flowflex::json!({"order": i}))))
    ///     .await?;
    /// assert_eq!(ids.len(), 3);
    /// assert_eq!(outbox.stats().await?.pending, 3);
    /// # Ok(()) }
    /// ```
    pub fn enqueue_many(
        &self,
        events: impl IntoIterator<Item = Enqueue<'static>>,
    ) -> EnqueueMany<'static> {
        EnqueueMany::new(self.clone(), events.into_iter().collect())
    }

    /// A relay delivering this outbox's events through `client`; start it
    /// with [`Relay::spawn`].
    pub fn relay(&self, client: Client) -> Relay {
        Relay::new(self.clone(), client)
    }

    /// How many events are pending, delivered and dead, how old the oldest
    /// pending one is, and how many relays are alive.
    ///
    /// # Errors
    ///
    /// [`Error::Database`].
    pub async fn stats(&self) -> Result<Stats> {
        let now = clock::millis(self.inner.config.clock.now());
        self.inner.store.stats(now, clock::wall_ms()).await
    }

    /// Deletes the delivered events older than
    /// [`keep_delivered`](OutboxBuilder::keep_delivered), in batches of
    /// 1 000; how many. Relays do it on their own every minute.
    ///
    /// # Errors
    ///
    /// [`Error::Database`]; what was deleted before stays deleted.
    pub async fn prune(&self) -> Result<u64> {
        let config = &self.inner.config;
        let keep = clock::ms(config.keep_delivered);
        let cutoff = clock::millis(config.clock.now()).saturating_sub(keep);
        if cutoff <= 0 {
            // Nothing finished before the epoch (`Duration::MAX` keeps all):
            // no statement, so no write lock taken for nothing.
            return Ok(0);
        }
        let mut total = 0;
        loop {
            let n = self
                .inner
                .store
                .prune_delivered(cutoff, PRUNE_BATCH)
                .await?;
            total += n;
            if n < PRUNE_BATCH.unsigned_abs() {
                return Ok(total);
            }
        }
    }

    /// The events that will not be delivered without help, oldest first,
    /// each with the error that killed it.
    ///
    /// # Errors
    ///
    /// [`Error::Database`].
    pub async fn dead_letters(&self) -> Result<Vec<DeadLetter>> {
        self.inner.store.dead_letters().await
    }

    /// Puts a dead letter back in the queue, due now, with its attempts and
    /// age counted anew; same idempotency key.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`], [`Error::NotDead`] or [`Error::Database`].
    pub async fn requeue(&self, id: OutboxId) -> Result<()> {
        let now = clock::millis(self.inner.config.clock.now());
        self.inner.store.requeue(id, now).await?;
        self.inner.wake.send_modify(|n| *n = n.wrapping_add(1));
        Ok(())
    }

    /// Deletes a dead letter for good (its files with it). Later events of
    /// its ordering key, held back by it, go on.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`], [`Error::NotDead`] or [`Error::Database`].
    pub async fn discard(&self, id: OutboxId) -> Result<()> {
        self.inner.store.discard(id).await?;
        self.inner.wake.send_modify(|n| *n = n.wrapping_add(1));
        Ok(())
    }

    /// The SQLite pool, to run your own statements in the outbox's database
    /// and enqueue in the same transaction.
    #[must_use]
    pub fn sqlite_pool(&self) -> Option<&sqlx::SqlitePool> {
        self.inner.store.sqlite_pool()
    }

    /// The PostgreSQL pool.
    #[must_use]
    pub fn pg_pool(&self) -> Option<&sqlx::PgPool> {
        self.inner.store.pg_pool()
    }

    /// Reads the outbox's gauges from the database and reports them through
    /// the `metrics` facade now: what every running relay does at each
    /// heartbeat. For a process that runs no relay (a service that only
    /// enqueues), on a timer of its own, so that an outbox whose relays
    /// are all gone still has a reporter (docs/operations.md).
    ///
    /// ```no_run
    /// # async fn demo(outbox: flowflex_outbox::Outbox) {
    /// let mut every = tokio::time::interval(std::time::Duration::from_secs(15));
    /// loop {
    ///     every.tick().await;
    ///     if let Err(e) = outbox.report_metrics().await {
    ///         tracing::warn!(error = %e, "reading the outbox's gauges failed");
    ///     }
    /// }
    /// # }
    /// ```
    ///
    /// Only with the `metrics` feature.
    ///
    /// # Errors
    ///
    /// [`Error::Database`]; nothing is reported then.
    #[cfg(feature = "metrics")]
    pub async fn report_metrics(&self) -> Result<()> {
        let store = &self.inner.store;
        let gauges = store
            .gauges(clock::millis(self.inner.config.clock.now()))
            .await?;
        let relays = store.relays(clock::wall_ms()).await?;
        metrics::describe();
        metrics::queue(&gauges);
        metrics::relays(relays.len());
        Ok(())
    }

    /// The relays alive now (seen within their lease; on PostgreSQL, with
    /// their listening connection open), by name.
    ///
    /// # Errors
    ///
    /// [`Error::Database`].
    pub async fn relays(&self) -> Result<Vec<RelayInfo>> {
        let mut relays = self.inner.store.relays(clock::wall_ms()).await?;
        relays.sort_by(|a, b| (&a.name, &a.holder).cmp(&(&b.name, &b.holder)));
        Ok(relays)
    }
}

/// How many delivered events one statement of [`Outbox::prune`] deletes.
const PRUNE_BATCH: i64 = 1000;

/// An event's id in the outbox.
///
/// ```
/// let id: flowflex_outbox::OutboxId = "42".parse().unwrap();
/// assert_eq!(id.get(), 42);
/// assert_eq!(id.to_string(), "42");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OutboxId(pub(crate) i64);

impl OutboxId {
    /// The number.
    #[must_use]
    pub fn get(self) -> i64 {
        self.0
    }
}

impl From<i64> for OutboxId {
    fn from(id: i64) -> Self {
        OutboxId(id)
    }
}

impl fmt::Display for OutboxId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl FromStr for OutboxId {
    type Err = std::num::ParseIntError;

    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        s.trim().parse().map(OutboxId)
    }
}

/// What [`Outbox::stats`] counts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Events waiting for delivery (due or backing off).
    pub pending: u64,
    /// Bytes (bodies and attachments) of the pending events.
    pub pending_bytes: u64,
    /// Events FlowFlex accepted.
    pub delivered: u64,
    /// Dead letters.
    pub dead: u64,
    /// How long the oldest pending event has waited, on the outbox's clock.
    pub oldest_pending_age: Option<Duration>,
    /// Relays alive now: seen within their lease (and, on PostgreSQL, with
    /// their listening connection open).
    pub relays: u64,
    /// When a relay was last seen alive on this outbox (now or so while
    /// one runs; after the last has shut down or died, its last
    /// heartbeat); `None` if no relay has run here. With events pending
    /// and no relay alive, nothing delivers them: this says since when.
    pub last_relay_seen: Option<SystemTime>,
    /// Pending events held back by a dead letter of their ordering key:
    /// they wait until it is requeued or discarded.
    pub held_back: u64,
}

/// A running relay, as it records itself in the outbox ([`Outbox::relays`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RelayInfo {
    /// Its name ([`Relay::name`]).
    pub name: String,
    /// The host it runs on.
    pub host: String,
    /// Its process id.
    pub pid: u32,
    /// When it started.
    pub started_at: SystemTime,
    /// When it last said it was alive.
    pub last_seen: SystemTime,
    /// Its name plus a suffix drawn at spawn: unique among relays.
    pub(crate) holder: String,
    /// The backend pid of its listening connection (PostgreSQL).
    pub(crate) listener: Option<u32>,
}

/// An event that will not be delivered without help.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeadLetter {
    /// Its id, for [`Outbox::requeue`].
    pub id: OutboxId,
    /// The event name.
    pub event: String,
    /// The key FlowFlex sees on every attempt.
    pub idempotency_key: String,
    /// Delivery attempts made.
    pub attempts: u32,
    /// When it was enqueued (or last requeued).
    pub enqueued_at: SystemTime,
    /// When it died.
    pub died_at: SystemTime,
    /// The error that killed it.
    pub error: String,
    /// Its ordering key: later events of this key wait until it is
    /// requeued or discarded.
    pub ordering_key: Option<String>,
}
