//! `Outbox::enqueue` and `Outbox::enqueue_many`: check as a send would,
//! then hand the events to the store; durable once the future resolves.

use std::future::{Future, IntoFuture};
use std::pin::Pin;

use flowflex::__outbox::Template;
use sqlx::postgres::PgConnection;
use sqlx::sqlite::SqliteConnection;

use crate::clock::millis;
use crate::error::{Error, Result};
use crate::store::{Caps, NewEvent, NewFile};
use crate::{Outbox, OutboxId};

/// The longest idempotency key accepted.
const MAX_KEY_LEN: usize = 255;

/// Where the caller's own writes are, for an enqueue to join them:
/// a `sqlx::Transaction` (PostgreSQL or SQLite), or a plain `PgConnection`
/// or `SqliteConnection` (a pooled one as `&mut *conn`), of the sqlx this
/// crate re-exports ([`crate::sqlx`]: 0.8 by default, 0.9 with the
/// `sqlx-0_9` feature). On a plain connection the event joins whatever
/// transaction is open on it (one you began with `BEGIN`, as diesel or a
/// hand-written `BEGIN` would); with none open, it is stored when the call
/// returns. Other clients (diesel, tokio-postgres, another language) call
/// the SQL function `flowflex_outbox_enqueue` instead (docs/outbox.md).
/// Sealed.
pub trait OutboxTransaction: sealed::Sealed + Send {
    #[doc(hidden)]
    fn __connection(&mut self) -> TxConn<'_>;
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for sqlx::Transaction<'_, sqlx::Postgres> {}
    impl Sealed for sqlx::Transaction<'_, sqlx::Sqlite> {}
    impl Sealed for sqlx::PgConnection {}
    impl Sealed for sqlx::SqliteConnection {}
}

/// A borrowed connection inside the caller's transaction. Not public API.
#[doc(hidden)]
#[derive(Debug)]
pub enum TxConn<'a> {
    #[doc(hidden)]
    Postgres(&'a mut PgConnection),
    #[doc(hidden)]
    Sqlite(&'a mut SqliteConnection),
}

impl OutboxTransaction for sqlx::Transaction<'_, sqlx::Postgres> {
    fn __connection(&mut self) -> TxConn<'_> {
        TxConn::Postgres(self)
    }
}

impl OutboxTransaction for sqlx::Transaction<'_, sqlx::Sqlite> {
    fn __connection(&mut self) -> TxConn<'_> {
        TxConn::Sqlite(self)
    }
}

impl OutboxTransaction for sqlx::PgConnection {
    fn __connection(&mut self) -> TxConn<'_> {
        TxConn::Postgres(self)
    }
}

impl OutboxTransaction for sqlx::SqliteConnection {
    fn __connection(&mut self) -> TxConn<'_> {
        TxConn::Sqlite(self)
    }
}

/// An enqueue being set up: add an
/// [`idempotency_key`](Enqueue::idempotency_key) or a
/// [transaction](Enqueue::in_transaction), then `.await` it.
///
/// ```no_run
/// # async fn demo(outbox: flowflex_outbox::Outbox) -> flowflex_outbox::Result<()> {
/// let id = outbox
///     .enqueue("order.shipped", flowflex::json!({
///         "invoice": flowflex::Attachment::from_path("./invoice.pdf"),
///     }))
///     .idempotency_key("order-42-shipped")
///     .await?;
/// println!("stored as {id}");
/// # Ok(()) }
/// ```
#[must_use = "an enqueue does nothing until awaited"]
pub struct Enqueue<'t> {
    outbox: Outbox,
    event: String,
    template: flowflex::Result<Template>,
    key: Option<String>,
    ordering: Option<String>,
    tx: Option<TxConn<'t>>,
}

impl std::fmt::Debug for Enqueue<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Enqueue")
            .field("event", &self.event)
            .field("idempotency_key", &self.key)
            .field("ordering_key", &self.ordering)
            .field("in_transaction", &self.tx.is_some())
            .finish_non_exhaustive()
    }
}

impl<'t> Enqueue<'t> {
    pub(crate) fn new(outbox: Outbox, event: String, template: flowflex::Result<Template>) -> Self {
        Enqueue {
            outbox,
            event,
            template,
            key: None,
            ordering: None,
            tx: None,
        }
    }

    /// The idempotency key FlowFlex sees on every delivery attempt (default:
    /// a fresh UUID, version 7: time-ordered). Enqueueing a key already in the outbox stores nothing
    /// new and returns the stored event's id.
    pub fn idempotency_key(mut self, key: impl Into<String>) -> Self {
        self.key = Some(key.into());
        self
    }

    /// The event's ordering key: events with one key are delivered one at a
    /// time, in enqueue order (an enqueue that starts after another
    /// returned comes after it), across relays and restarts; events without
    /// a key, or with other keys, go side by side. A dead letter holds back
    /// the later events of its key until it is
    /// [requeued](Outbox::requeue) or [discarded](Outbox::discard).
    ///
    /// ```no_run
    /// # async fn demo(outbox: flowflex_outbox::Outbox) -> flowflex_outbox::Result<()> {
    /// outbox.enqueue("order.placed", flowflex::json!({"order": 42})).ordering_key("order-42").await?;
    /// outbox.enqueue("order.shipped", flowflex::json!({"order": 42})).ordering_key("order-42").await?;
    /// // "placed" reaches FlowFlex before "shipped", whichever relay takes them.
    /// # Ok(()) }
    /// ```
    pub fn ordering_key(mut self, key: impl Into<String>) -> Self {
        self.ordering = Some(key.into());
        self
    }

    /// Stores the event in the caller's open transaction: it exists if and
    /// only if that transaction commits. On SQLite the transaction must be
    /// on the outbox's database (see [`Outbox::sqlite_pool`]).
    ///
    /// ```no_run
    /// # use flowflex_outbox::sqlx;
    /// # async fn demo(outbox: flowflex_outbox::Outbox, pool: sqlx::PgPool) -> Result<(), Box<dyn std::error::Error>> {
    /// let mut tx = pool.begin().await?;
    /// sqlx::query("UPDATE orders SET status = 'shipped' WHERE id = $1").bind(42).execute(&mut *tx).await?;
    /// outbox
    ///     .enqueue("order.shipped", flowflex::json!({"order_id": 42}))
    ///     .in_transaction(&mut tx)
    ///     .await?;
    /// tx.commit().await?; // the event is stored if and only if this commits
    /// # Ok(()) }
    /// ```
    pub fn in_transaction<'u>(self, tx: &'u mut impl OutboxTransaction) -> Enqueue<'u> {
        Enqueue {
            outbox: self.outbox,
            event: self.event,
            template: self.template,
            key: self.key,
            ordering: self.ordering,
            tx: Some(tx.__connection()),
        }
    }

    async fn run(self) -> Result<OutboxId> {
        let Enqueue {
            outbox,
            event,
            template,
            key,
            ordering,
            tx,
        } = self;
        let new = prepare(&outbox, event, template, key, ordering).await?;
        let ids = store(&outbox, vec![new], tx).await?;
        ids.first()
            .copied()
            .ok_or_else(|| Error::Config("the store returned no id for the event".into()))
    }
}

impl<'t> IntoFuture for Enqueue<'t> {
    type Output = Result<OutboxId>;
    type IntoFuture = Pin<Box<dyn Future<Output = Result<OutboxId>> + Send + 't>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.run())
    }
}

/// Several events stored at once, all or nothing: from
/// [`Outbox::enqueue_many`], optionally [in a
/// transaction](EnqueueMany::in_transaction), then `.await`ed for their
/// ids in order.
///
/// ```no_run
/// # async fn demo(outbox: flowflex_outbox::Outbox) -> flowflex_outbox::Result<()> {
/// let orders = [41, 42, 43];
/// let ids = outbox
///     .enqueue_many(orders.iter().map(|id| {
///         outbox
///             .enqueue("order.placed", flowflex::json!({"order_id": id}))
///             .idempotency_key(format!("order-{id}-placed"))
///     }))
///     .await?;
/// assert_eq!(ids.len(), 3);
/// # Ok(()) }
/// ```
#[must_use = "an enqueue does nothing until awaited"]
pub struct EnqueueMany<'t> {
    outbox: Outbox,
    events: Vec<Enqueue<'static>>,
    tx: Option<TxConn<'t>>,
}

impl std::fmt::Debug for EnqueueMany<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnqueueMany")
            .field("events", &self.events.len())
            .field("in_transaction", &self.tx.is_some())
            .finish_non_exhaustive()
    }
}

impl EnqueueMany<'_> {
    pub(crate) fn new(outbox: Outbox, events: Vec<Enqueue<'static>>) -> Self {
        EnqueueMany {
            outbox,
            events,
            tx: None,
        }
    }

    /// Stores the events in the caller's open transaction, as
    /// [`Enqueue::in_transaction`] does.
    pub fn in_transaction<'u>(self, tx: &'u mut impl OutboxTransaction) -> EnqueueMany<'u> {
        EnqueueMany {
            outbox: self.outbox,
            events: self.events,
            tx: Some(tx.__connection()),
        }
    }

    async fn run(self) -> Result<Vec<OutboxId>> {
        let EnqueueMany { outbox, events, tx } = self;
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let mut prepared = Vec::with_capacity(events.len());
        for e in events {
            if e.tx.is_some() {
                return Err(Error::Config(
                    "an event given to enqueue_many has its own transaction: call in_transaction on enqueue_many instead".into(),
                ));
            }
            prepared.push(prepare(&outbox, e.event, e.template, e.key, e.ordering).await?);
        }
        store(&outbox, prepared, tx).await
    }
}

impl<'t> IntoFuture for EnqueueMany<'t> {
    type Output = Result<Vec<OutboxId>>;
    type IntoFuture = Pin<Box<dyn Future<Output = Result<Vec<OutboxId>>> + Send + 't>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.run())
    }
}

/// Hands checked events to the store, in the caller's transaction or not,
/// and wakes this process's relays.
async fn store(
    outbox: &Outbox,
    events: Vec<NewEvent>,
    tx: Option<TxConn<'_>>,
) -> Result<Vec<OutboxId>> {
    let inner = &outbox.inner;
    let caps = Caps {
        events: inner.config.max_pending_events,
        bytes: inner.config.max_pending_bytes,
    };
    let ids = match tx {
        Some(conn) => inner.store.enqueue_in(conn, events, caps).await?,
        None => {
            let ids = inner.store.enqueue(events, caps).await?;
            inner.wake.send_modify(|n| *n = n.wrapping_add(1));
            ids
        }
    };
    // Counted once stored (in the caller's transaction: once written
    // there; a rollback after it is not seen here).
    crate::metrics::enqueued(ids.iter().filter(|(_, new)| *new).count());
    Ok(ids.into_iter().map(|(id, _)| OutboxId(id)).collect())
}

/// Every check a send runs before its first request (event name, payload,
/// each file's type, content, size and field rules), then the event as
/// the store takes it.
async fn prepare(
    outbox: &Outbox,
    event: String,
    template: flowflex::Result<Template>,
    key: Option<String>,
    ordering_key: Option<String>,
) -> Result<NewEvent> {
    let config = &outbox.inner.config;
    flowflex::__outbox::check_event_name(&event)?;
    let template = template?;
    let key = match key {
        Some(key) => {
            check_key(&key)?;
            key
        }
        // Time-ordered (UUIDv7): the unique index on keys grows at its
        // end instead of at random pages, which a large outbox feels.
        None => uuid::Uuid::now_v7().to_string(),
    };
    if let Some(ordering) = &ordering_key {
        check_key(ordering)?;
    }
    let infos = template.check(config.max_file_bytes).await?;
    let body = template.marked_body().to_vec();
    let slots = template.slots();
    let content: u64 = infos.iter().flatten().map(|i| i.size).sum();
    let bytes = i64::try_from(content + body.len() as u64).unwrap_or(i64::MAX);
    let files = template
        .attachments()
        .iter()
        .zip(infos)
        .enumerate()
        .map(|(i, (a, info))| {
            let path = slots
                .iter()
                .find(|(_, index)| *index == i)
                .map(|(path, _)| path.clone())
                .unwrap_or_default();
            match info {
                Some(info) => NewFile {
                    cap: config.max_file_bytes,
                    filename: info.filename,
                    mime: info.mime.to_string(),
                    size: i64::try_from(info.size).unwrap_or(i64::MAX),
                    path,
                    source: Some(a.clone()),
                },
                None => NewFile {
                    cap: config.max_file_bytes,
                    filename: a.filename().map(str::to_owned).unwrap_or_default(),
                    mime: a.mime().map(|m| m.to_string()).unwrap_or_default(),
                    size: 0,
                    path,
                    source: None,
                },
            }
        })
        .collect();
    let slots = serde_json::to_string(&slots)
        .map_err(|e| Error::Config(format!("slots do not serialize: {e}")))?;
    Ok(NewEvent {
        event,
        key,
        body,
        slots,
        bytes,
        files,
        now: millis(config.clock.now()),
        ordering_key,
    })
}

/// An idempotency key travels as an HTTP header: printable ASCII, bounded.
fn check_key(key: &str) -> Result<()> {
    if key.trim().is_empty()
        || key.len() > MAX_KEY_LEN
        || !key.bytes().all(|b| (0x20..0x7f).contains(&b))
    {
        return Err(Error::Config(format!(
            "an idempotency key must be 1 to {MAX_KEY_LEN} printable ASCII characters"
        )));
    }
    Ok(())
}
