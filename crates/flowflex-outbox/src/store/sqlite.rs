//! SQLite: rows in the database (WAL, `synchronous = FULL`), attachment
//! content in a spool directory beside it (`PATH.spool/`), each file written
//! and fsynced before the row naming it commits. Enqueues from many tasks,
//! and the relay's delivered marks, share commits (group commit): one
//! fsync for a batch.

use std::path::{Path, PathBuf};
use std::time::Duration;

use futures_util::StreamExt as _;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{QueryBuilder, Sqlite, SqlitePool};
use tokio::io::AsyncWriteExt as _;
use tokio::sync::{mpsc, oneshot};

use super::{AttachmentRow, LocalFile, NewAttachment, NewEvent, PendingRow, Store};
use crate::error::{Error, Result};

/// Claims, without `SKIP LOCKED`: SQLite runs one writer at a time.
pub(crate) const CLAIM_SQL: &str = "UPDATE flowflex_outbox_events \
     SET claimed_until = $1, claimed_by = $2, attempts = attempts + 1 \
     WHERE id IN (SELECT id FROM flowflex_outbox_events WHERE status = 'pending' \
       AND next_attempt_at <= $3 AND (claimed_until IS NULL OR claimed_until < $4) \
       ORDER BY next_attempt_at, id LIMIT $5) \
     RETURNING id, event, idempotency_key, body, slots, attempts, created_at";

/// The most enqueues one commit carries.
const MAX_BATCH: usize = 512;

/// A SQLite outbox's pool and spool directory.
#[derive(Debug, Clone)]
pub(crate) struct SqliteStore {
    pub(crate) pool: SqlitePool,
    pub(crate) spool: PathBuf,
}

pub(crate) async fn open(path: &Path) -> Result<Store> {
    let options = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .busy_timeout(Duration::from_secs(30))
        .foreign_keys(true);
    let pool = SqlitePoolOptions::new()
        .max_connections(4)
        .connect_with(options)
        .await
        .map_err(Error::db("opening the SQLite outbox"))?;
    let mut migrator = sqlx::migrate!("./migrations/sqlite");
    // The caller's own sqlx migrations may share the database.
    migrator.set_ignore_missing(true);
    migrator.run(&pool).await.map_err(Error::Migrate)?;
    let mut spool = path.as_os_str().to_owned();
    spool.push(".spool");
    let spool = PathBuf::from(spool);
    tokio::fs::create_dir_all(&spool)
        .await
        .map_err(Error::io("creating the spool directory", spool.display()))?;
    let store = SqliteStore { pool, spool };
    store.collect_orphans().await?;
    Ok(Store::Sqlite(store))
}

/// A write waiting for the next group commit.
#[derive(Debug)]
pub(crate) enum Job {
    /// An enqueue: answered with the event's id and whether it was stored
    /// (`false`: its idempotency key already was).
    Enqueue(
        NewEvent,
        Vec<NewAttachment>,
        oneshot::Sender<Result<(i64, bool)>>,
    ),
    /// A delivery's end: the event (id, time) marked delivered and its
    /// attachments freed; answered once that commits.
    Delivered(i64, i64, oneshot::Sender<Result<()>>),
}

impl SqliteStore {
    /// Copies an attachment's bytes into a new spool file, fsynced.
    /// Streams: memory stays flat whatever the size.
    pub(crate) async fn spool(
        &self,
        attachment: &flowflex::Attachment,
        max_file_bytes: u64,
    ) -> Result<(flowflex::FileInfo, String)> {
        let (info, mut stream) = flowflex::__outbox::open(attachment, max_file_bytes).await?;
        let name = uuid::Uuid::new_v4().simple().to_string();
        let part = self.spool.join(format!("{name}.part"));
        let mut file = tokio::fs::File::create(&part)
            .await
            .map_err(Error::io("creating", part.display()))?;
        let copied = async {
            while let Some(chunk) = stream.next().await {
                file.write_all(&chunk?).await?;
            }
            file.flush().await?;
            file.sync_all().await
        }
        .await;
        drop(file);
        if let Err(e) = copied {
            let _ = tokio::fs::remove_file(&part).await;
            return Err(Error::io("copying an attachment into", part.display())(e));
        }
        let done = self.spool.join(&name);
        tokio::fs::rename(&part, &done)
            .await
            .map_err(Error::io("renaming", part.display()))?;
        Ok((info, name))
    }

    /// Makes the spool directory's new entries durable.
    pub(crate) async fn sync_dir(&self) -> Result<()> {
        let dir = self.spool.clone();
        tokio::task::spawn_blocking(move || std::fs::File::open(&dir).and_then(|d| d.sync_all()))
            .await
            .map_err(|e| Error::io("syncing", self.spool.display())(std::io::Error::other(e)))?
            .map_err(Error::io("syncing", self.spool.display()))
    }

    pub(crate) async fn remove_blobs(&self, names: impl Iterator<Item = String>) {
        for name in names {
            let path = self.spool.join(name);
            if let Err(e) = tokio::fs::remove_file(&path).await {
                tracing::debug!(path = %path.display(), error = %e, "spool file not removed");
            }
        }
    }

    pub(crate) fn local_file(&self, id: i64, row: &AttachmentRow) -> Result<LocalFile> {
        let name = row.blob.as_deref().ok_or_else(|| Error::Corrupt {
            id: crate::OutboxId(id),
            message: format!("attachment {} has no spool file", row.idx),
        })?;
        Ok(LocalFile {
            path: self.spool.join(name),
            temporary: false,
        })
    }

    /// Removes spool files no row names: left by a crash between the copy
    /// and the commit, or after a delivery's commit. Only files older than an
    /// hour, so an enqueue in flight elsewhere is never robbed.
    async fn collect_orphans(&self) -> Result<()> {
        let known: Vec<(String,)> =
            sqlx::query_as("SELECT blob FROM flowflex_outbox_attachments WHERE blob IS NOT NULL")
                .fetch_all(&self.pool)
                .await
                .map_err(Error::db("listing spool files"))?;
        let known: std::collections::HashSet<String> = known.into_iter().map(|(b,)| b).collect();
        let mut dir = tokio::fs::read_dir(&self.spool)
            .await
            .map_err(Error::io("listing", self.spool.display()))?;
        while let Ok(Some(entry)) = dir.next_entry().await {
            let name = entry.file_name().to_string_lossy().into_owned();
            if known.contains(&name) {
                continue;
            }
            let old = entry
                .metadata()
                .await
                .ok()
                .and_then(|m| m.modified().ok())
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age > Duration::from_secs(3600));
            if old {
                let _ = tokio::fs::remove_file(entry.path()).await;
            }
        }
        Ok(())
    }
}

/// Inserts an event and its attachment rows on `conn`, in the caller's
/// transaction; `(id, false)` if the idempotency key was already stored.
pub(crate) async fn insert(
    conn: &mut SqliteConnection,
    event: &NewEvent,
    attachments: &[NewAttachment],
) -> Result<(i64, bool)> {
    let id: Option<(i64,)> = sqlx::query_as(super::INSERT_EVENT_SQL)
        .bind(&event.event)
        .bind(&event.key)
        .bind(&event.body)
        .bind(&event.slots)
        .bind(event.bytes)
        .bind(event.now)
        .fetch_optional(&mut *conn)
        .await
        .map_err(Error::db("storing an event"))?;
    let Some((id,)) = id else {
        let (id,): (i64,) = sqlx::query_as(super::EXISTING_KEY_SQL)
            .bind(&event.key)
            .fetch_one(&mut *conn)
            .await
            .map_err(Error::db("finding an idempotency key"))?;
        return Ok((id, false));
    };
    for (idx, a) in attachments.iter().enumerate() {
        sqlx::query(super::INSERT_ATTACHMENT_SQL)
            .bind(id)
            .bind(i32::try_from(idx).unwrap_or(i32::MAX))
            .bind(&a.filename)
            .bind(&a.mime)
            .bind(a.size)
            .bind(a.used)
            .bind(&a.blob)
            .execute(&mut *conn)
            .await
            .map_err(Error::db("storing an attachment"))?;
    }
    Ok((id, true))
}

/// Marks a batch's delivered events (id, time) and frees their attachment
/// rows on `conn`, in the writer's transaction: two statements for the
/// lot. Returns the spool files to remove once it commits.
async fn mark_delivered(conn: &mut SqliteConnection, events: &[(i64, i64)]) -> Result<Vec<String>> {
    if events.is_empty() {
        return Ok(Vec::new());
    }
    let mut update = QueryBuilder::<Sqlite>::new(
        "UPDATE flowflex_outbox_events SET status = 'delivered', finished_at = d.column2, \
         claimed_until = NULL, last_error = NULL FROM (",
    );
    update.push_values(events, |mut row, (id, at)| {
        row.push_bind(*id).push_bind(*at);
    });
    update.push(") AS d WHERE flowflex_outbox_events.id = d.column1");
    update
        .build()
        .execute(&mut *conn)
        .await
        .map_err(Error::db("marking delivered"))?;
    let mut free =
        QueryBuilder::<Sqlite>::new("DELETE FROM flowflex_outbox_attachments WHERE event_id IN (");
    let mut ids = free.separated(", ");
    for (id, _) in events {
        ids.push_bind(*id);
    }
    free.push(") RETURNING blob");
    let blobs: Vec<(Option<String>,)> = free
        .build_query_as()
        .fetch_all(&mut *conn)
        .await
        .map_err(Error::db("freeing attachments"))?;
    Ok(blobs.into_iter().filter_map(|(b,)| b).collect())
}

/// The group-commit writer: takes every write waiting (enqueues, and the
/// relay's delivered marks), does them in one transaction (one fsync),
/// answers each. Ends when the outbox is dropped.
pub(crate) async fn writer(store: SqliteStore, caps: (u64, u64), mut jobs: mpsc::Receiver<Job>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = jobs.recv().await {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        match write_batch(&store.pool, caps, &batch).await {
            Ok((enqueued, freed)) => {
                store.remove_blobs(freed.into_iter()).await;
                let mut enqueued = enqueued.into_iter();
                for job in batch.drain(..) {
                    match job {
                        Job::Enqueue(_, atts, reply) => {
                            let result = enqueued.next().unwrap_or_else(|| {
                                Err(Error::Config("the group commit lost an enqueue".into()))
                            });
                            if !matches!(result, Ok((_, true))) {
                                store
                                    .remove_blobs(atts.into_iter().filter_map(|a| a.blob))
                                    .await;
                            }
                            let _ = reply.send(result);
                        }
                        Job::Delivered(_, _, reply) => {
                            let _ = reply.send(Ok(()));
                        }
                    }
                }
            }
            Err(e) => {
                let message = e.to_string();
                let failed = |doing| Error::Database {
                    doing,
                    message: message.clone(),
                    source: None,
                };
                for job in batch.drain(..) {
                    match job {
                        Job::Enqueue(_, atts, reply) => {
                            store
                                .remove_blobs(atts.into_iter().filter_map(|a| a.blob))
                                .await;
                            let _ = reply.send(Err(failed("committing enqueued events")));
                        }
                        Job::Delivered(_, _, reply) => {
                            let _ = reply.send(Err(failed("marking delivered")));
                        }
                    }
                }
            }
        }
    }
}

/// One group commit: the delivered marks, then the enqueues in their
/// order. Returns each enqueue's outcome, in order, and the spool files the
/// delivered events freed.
async fn write_batch(
    pool: &SqlitePool,
    (max_events, max_bytes): (u64, u64),
    batch: &[Job],
) -> Result<(Vec<Result<(i64, bool)>>, Vec<String>)> {
    // IMMEDIATE: take the write lock now, so the read below never has to
    // be upgraded (which SQLite may refuse at once with SQLITE_BUSY).
    let mut tx = pool
        .begin_with("BEGIN IMMEDIATE")
        .await
        .map_err(Error::db("starting a group commit"))?;
    // Delivered marks first: the events they finish no longer count
    // against the caps the enqueues below are checked with.
    let delivered: Vec<(i64, i64)> = batch
        .iter()
        .filter_map(|job| match job {
            Job::Delivered(id, now, _) => Some((*id, *now)),
            Job::Enqueue(..) => None,
        })
        .collect();
    let freed = mark_delivered(&mut tx, &delivered).await?;
    let enqueues = batch.len() - delivered.len();
    let mut results = Vec::with_capacity(enqueues);
    // The count reads every pending row: only when there are enqueues to
    // check against the caps.
    if enqueues > 0 {
        let pending: PendingRow = sqlx::query_as(super::PENDING_SQL)
            .fetch_one(&mut *tx)
            .await
            .map_err(Error::db("counting pending events"))?;
        let mut events = u64::try_from(pending.n).unwrap_or(0);
        let mut bytes = u64::try_from(pending.bytes).unwrap_or(0);
        for job in batch {
            let Job::Enqueue(event, attachments, _) = job else {
                continue;
            };
            let size = u64::try_from(event.bytes).unwrap_or(0);
            if events + 1 > max_events || bytes + size > max_bytes {
                results.push(Err(Error::Full {
                    pending_events: events,
                    pending_bytes: bytes,
                    max_events,
                    max_bytes,
                }));
                continue;
            }
            let stored = insert(&mut tx, event, attachments).await?;
            if stored.1 {
                events += 1;
                bytes += size;
            }
            results.push(Ok(stored));
        }
    }
    tx.commit()
        .await
        .map_err(Error::db("committing enqueued events"))?;
    Ok((results, freed))
}
