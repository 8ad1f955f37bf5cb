//! `Outbox::enqueue`: check as a send would, copy the attachments into the
//! store, commit; durable once it returns.

use std::future::{Future, IntoFuture};
use std::pin::Pin;

use flowflex::__outbox::Template;
use sqlx::postgres::PgConnection;
use sqlx::sqlite::SqliteConnection;
use tokio::sync::oneshot;

use crate::clock::millis;
use crate::error::{Error, Result};
use crate::store::{self, NewAttachment, NewEvent, Store, pg, sqlite};
use crate::{Outbox, OutboxId};

/// The longest idempotency key accepted.
const MAX_KEY_LEN: usize = 255;

/// A caller's open transaction an event can be enqueued in:
/// `sqlx::Transaction` on PostgreSQL or SQLite. Sealed.
pub trait OutboxTransaction: sealed::Sealed + Send {
    #[doc(hidden)]
    fn __connection(&mut self) -> TxConn<'_>;
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for sqlx::Transaction<'_, sqlx::Postgres> {}
    impl Sealed for sqlx::Transaction<'_, sqlx::Sqlite> {}
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
    tx: Option<TxConn<'t>>,
}

impl std::fmt::Debug for Enqueue<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Enqueue")
            .field("event", &self.event)
            .field("idempotency_key", &self.key)
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
            tx: None,
        }
    }

    /// The idempotency key FlowFlex sees on every delivery attempt (default:
    /// a fresh UUID). Enqueueing a key already in the outbox stores nothing
    /// new and returns the stored event's id.
    pub fn idempotency_key(mut self, key: impl Into<String>) -> Self {
        self.key = Some(key.into());
        self
    }

    /// Stores the event in the caller's open transaction: it exists if and
    /// only if that transaction commits. On SQLite the transaction must be
    /// on the outbox's database (see [`Outbox::sqlite_pool`]).
    ///
    /// ```no_run
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
            tx: Some(tx.__connection()),
        }
    }

    async fn run(self) -> Result<OutboxId> {
        let Enqueue {
            outbox,
            event,
            template,
            key,
            tx,
        } = self;
        let inner = &outbox.inner;
        flowflex::__outbox::check_event_name(&event)?;
        let template = template?;
        let key = match key {
            Some(key) => {
                check_key(&key)?;
                key
            }
            None => uuid::Uuid::new_v4().to_string(),
        };
        let max_file = inner.config.max_file_bytes;
        let infos = template.check(max_file).await?;
        let body = template.marked_body().to_vec();
        let slots = serde_json::to_string(&template.slots())
            .map_err(|e| Error::Config(format!("slots do not serialize: {e}")))?;
        let content: u64 = infos.iter().flatten().map(|i| i.size).sum();
        let bytes = i64::try_from(content + body.len() as u64).unwrap_or(i64::MAX);
        let caps = (
            inner.config.max_pending_events,
            inner.config.max_pending_bytes,
        );
        let attachments = template.attachments();
        let new = NewEvent {
            event,
            key,
            body,
            slots,
            bytes,
            attachments: i32::try_from(attachments.len()).unwrap_or(i32::MAX),
            now: millis(inner.config.clock.now()),
        };
        let rows = |blob: &dyn Fn(usize) -> Option<String>| -> Vec<NewAttachment> {
            attachments
                .iter()
                .zip(&infos)
                .enumerate()
                .map(|(i, (a, info))| NewAttachment {
                    filename: info
                        .as_ref()
                        .map(|i| i.filename.clone())
                        .or_else(|| a.filename().map(str::to_owned))
                        .unwrap_or_default(),
                    mime: info
                        .as_ref()
                        .map(|i| i.mime.to_string())
                        .or_else(|| a.mime().map(|m| m.to_string()))
                        .unwrap_or_default(),
                    size: info
                        .as_ref()
                        .map_or(0, |i| i64::try_from(i.size).unwrap_or(i64::MAX)),
                    used: info.is_some(),
                    blob: blob(i),
                })
                .collect()
        };

        let (id, _) = match &inner.store {
            Store::Sqlite(store) => {
                if tx
                    .as_ref()
                    .is_some_and(|t| matches!(t, TxConn::Postgres(_)))
                {
                    return Err(Error::Config(
                        "a PostgreSQL transaction cannot hold a SQLite outbox's event".into(),
                    ));
                }
                if content > 0 {
                    // Refuse early rather than copy a file only to refuse it.
                    store::check_caps(&inner.store.pending().await?, bytes, caps)?;
                }
                let mut spooled: Vec<Option<String>> = Vec::with_capacity(attachments.len());
                for (a, info) in attachments.iter().zip(&infos) {
                    if info.is_none() {
                        spooled.push(None);
                        continue;
                    }
                    match store.spool(a, max_file).await {
                        Ok((_, name)) => spooled.push(Some(name)),
                        Err(e) => {
                            store.remove_blobs(spooled.into_iter().flatten()).await;
                            return Err(e);
                        }
                    }
                }
                if spooled.iter().any(Option::is_some) {
                    store.sync_dir().await?;
                }
                let rows = rows(&|i| spooled[i].clone());
                match tx {
                    Some(TxConn::Sqlite(conn)) => {
                        let result = sqlite::insert_checked(conn, &new, &rows, caps).await;
                        if !matches!(result, Ok((_, true))) {
                            store
                                .remove_blobs(rows.into_iter().filter_map(|r| r.blob))
                                .await;
                        }
                        result?
                    }
                    _ => {
                        let writer = inner.writer.as_ref().ok_or_else(|| {
                            Error::Config("the SQLite outbox has no writer".into())
                        })?;
                        let (reply, answer) = oneshot::channel();
                        writer
                            .send(sqlite::Job::Enqueue(new, rows, reply))
                            .await
                            .map_err(|_| Error::Database {
                                doing: "enqueueing",
                                message: "the outbox's writer has stopped".into(),
                                source: None,
                            })?;
                        let stored = answer.await.map_err(|_| Error::Database {
                            doing: "enqueueing",
                            message: "the outbox's writer has stopped".into(),
                            source: None,
                        })??;
                        inner.wake.notify_waiters();
                        stored
                    }
                }
            }
            Store::Postgres(store) => {
                let rows = rows(&|_| None);
                let sources: Vec<_> = rows
                    .into_iter()
                    .zip(attachments)
                    .map(|(r, a)| {
                        let used = r.used;
                        (r, used.then_some(a))
                    })
                    .collect();
                match tx {
                    Some(TxConn::Postgres(conn)) => {
                        pg::insert(conn, &new, &sources, max_file, caps).await?
                    }
                    Some(TxConn::Sqlite(_)) => {
                        return Err(Error::Config(
                            "a SQLite transaction cannot hold a PostgreSQL outbox's event".into(),
                        ));
                    }
                    None => {
                        let mut tx = store.pool.begin().await.map_err(Error::db("enqueueing"))?;
                        let stored = pg::insert(&mut tx, &new, &sources, max_file, caps).await?;
                        tx.commit()
                            .await
                            .map_err(Error::db("committing an enqueue"))?;
                        inner.wake.notify_waiters();
                        stored
                    }
                }
            }
        };
        Ok(OutboxId(id))
    }
}

impl<'t> IntoFuture for Enqueue<'t> {
    type Output = Result<OutboxId>;
    type IntoFuture = Pin<Box<dyn Future<Output = Result<OutboxId>> + Send + 't>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.run())
    }
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
