//! SQLite: rows in the database (WAL, `synchronous = FULL`), attachment
//! content in a spool directory beside it (`PATH.spool/`), each file written
//! and fsynced before the row naming it commits. Enqueues from many tasks,
//! and the relay's claims and outcomes, share commits (group commit): one
//! writer, one fsync for a batch, and no two writers racing for SQLite's
//! write lock.

use std::path::{Path, PathBuf};
use std::time::Duration;

use futures_util::StreamExt as _;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{QueryBuilder, Sqlite, SqlitePool};
use tokio::io::AsyncWriteExt as _;
use tokio::sync::{mpsc, oneshot};

use super::{
    AttachmentRow, Claim, Claimed, ClaimedRow, LocalFile, NewAttachment, NewEvent, PendingRow,
    Settled, Store,
};
use crate::error::{Error, Result};

/// Claims, without `SKIP LOCKED`: SQLite runs one writer at a time.
const CLAIM_SQL: &str = "UPDATE flowflex_outbox_events \
     SET claimed_until = $1, claimed_by = $2, attempts = attempts + 1 \
     WHERE id IN (SELECT id FROM flowflex_outbox_events WHERE status = 'pending' \
       AND next_attempt_at <= $3 AND (claimed_until IS NULL OR claimed_until < $4) \
       ORDER BY next_attempt_at, id LIMIT $5) \
     RETURNING ";

/// The most jobs one commit carries.
const MAX_BATCH: usize = 512;

/// The most events one batch statement names: SQLite binds at most 32 766
/// parameters.
const MAX_IDS: usize = 4096;

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
    /// A relay's turn: record these outcomes, then claim (if asked);
    /// answered with the claimed events once that commits.
    Relay(
        Vec<Settled>,
        Option<Claim>,
        oneshot::Sender<Result<Vec<Claimed>>>,
    ),
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

/// The pending count as the caller's transaction on `conn` sees it.
pub(crate) async fn pending(conn: &mut SqliteConnection) -> Result<PendingRow> {
    sqlx::query_as(super::PENDING_SQL)
        .fetch_one(&mut *conn)
        .await
        .map_err(Error::db("counting pending events"))
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
        .bind(event.attachments)
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

/// [`insert`] in the caller's own transaction, checked against the caps:
/// the insert comes first, so the write lock is held before the count is
/// read (a read first could not always be upgraded, SQLITE_BUSY), and an
/// event over a cap is deleted again in the same transaction (its
/// trigger puts the count back) before `Error::Full` is returned.
pub(crate) async fn insert_checked(
    conn: &mut SqliteConnection,
    event: &NewEvent,
    attachments: &[NewAttachment],
    caps: (u64, u64),
) -> Result<(i64, bool)> {
    let (id, new) = insert(conn, event, attachments).await?;
    if !new {
        return Ok((id, false));
    }
    let after = pending(conn).await?;
    let before = PendingRow {
        n: after.n - 1,
        bytes: after.bytes - event.bytes,
    };
    if let Err(full) = super::check_caps(&before, event.bytes, caps) {
        sqlx::query("DELETE FROM flowflex_outbox_attachments WHERE event_id = $1")
            .bind(id)
            .execute(&mut *conn)
            .await
            .map_err(Error::db("taking back an event over the caps"))?;
        sqlx::query("DELETE FROM flowflex_outbox_events WHERE id = $1")
            .bind(id)
            .execute(&mut *conn)
            .await
            .map_err(Error::db("taking back an event over the caps"))?;
        return Err(full);
    }
    Ok((id, true))
}

/// Records a batch of delivery outcomes on `conn`, in the writer's
/// transaction: delivered marks in one statement per [`MAX_IDS`] events,
/// their attachment rows freed in another (only for events that have any).
/// Returns the spool files to remove once it commits.
async fn settle(conn: &mut SqliteConnection, settled: &[&Settled]) -> Result<Vec<String>> {
    let outcomes = super::Outcomes::sort(settled.iter().copied());
    for f in &outcomes.failed {
        f.query()
            .execute(&mut *conn)
            .await
            .map_err(Error::db(f.doing))?;
    }
    let (delivered, with_files) = (outcomes.delivered, outcomes.with_files);
    for chunk in delivered.chunks(MAX_IDS) {
        let mut update = QueryBuilder::<Sqlite>::new(
            "UPDATE flowflex_outbox_events SET status = 'delivered', finished_at = d.column2, \
             claimed_until = NULL, last_error = NULL FROM (",
        );
        update.push_values(chunk, |mut row, (id, at)| {
            row.push_bind(*id).push_bind(*at);
        });
        update.push(") AS d WHERE flowflex_outbox_events.id = d.column1");
        update
            .build()
            .execute(&mut *conn)
            .await
            .map_err(Error::db("marking delivered"))?;
    }
    let mut freed = Vec::new();
    for chunk in with_files.chunks(MAX_IDS) {
        let mut free = QueryBuilder::<Sqlite>::new(
            "DELETE FROM flowflex_outbox_attachments WHERE event_id IN (",
        );
        let mut ids = free.separated(", ");
        for id in chunk {
            ids.push_bind(*id);
        }
        free.push(") RETURNING blob");
        let blobs: Vec<(Option<String>,)> = free
            .build_query_as()
            .fetch_all(&mut *conn)
            .await
            .map_err(Error::db("freeing attachments"))?;
        freed.extend(blobs.into_iter().filter_map(|(b,)| b));
    }
    Ok(freed)
}

/// Claims due events on `conn`, in the writer's transaction, and reads the
/// attachment rows of those that have any in one more statement.
async fn claim(conn: &mut SqliteConnection, claim: &Claim) -> Result<Vec<Claimed>> {
    let wall = crate::clock::wall_ms();
    let rows: Vec<ClaimedRow> = sqlx::query_as(&format!("{CLAIM_SQL}{}", super::CLAIMED_COLUMNS))
        .bind(claim.lease_until)
        .bind(&claim.relay)
        .bind(claim.now)
        .bind(wall)
        .bind(i64::try_from(claim.n).unwrap_or(i64::MAX))
        .fetch_all(&mut *conn)
        .await
        .map_err(Error::db("claiming due events"))?;
    let with_files: Vec<i64> = rows
        .iter()
        .filter(|r| r.attachments > 0)
        .map(|r| r.id)
        .collect();
    let mut attachments = Vec::new();
    for chunk in with_files.chunks(MAX_IDS) {
        let mut select = QueryBuilder::<Sqlite>::new(format!(
            "SELECT {} FROM flowflex_outbox_attachments WHERE event_id IN (",
            super::ATTACHMENT_COLUMNS
        ));
        let mut ids = select.separated(", ");
        for id in chunk {
            ids.push_bind(*id);
        }
        select.push(") ORDER BY event_id, idx");
        let found: Vec<AttachmentRow> = select
            .build_query_as()
            .fetch_all(&mut *conn)
            .await
            .map_err(Error::db("reading attachments"))?;
        attachments.extend(found);
    }
    Ok(super::attach(rows, attachments))
}

/// What one group commit answers: each enqueue's outcome and each relay
/// turn's claimed events, in the order of their jobs.
struct Written {
    enqueued: Vec<Result<(i64, bool)>>,
    claimed: Vec<Vec<Claimed>>,
    freed: Vec<String>,
}

/// The group-commit writer: takes every write waiting (enqueues, and the
/// relays' outcomes and claims), does them in one transaction (one fsync),
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
            Ok(written) => {
                store.remove_blobs(written.freed.into_iter()).await;
                let mut enqueued = written.enqueued.into_iter();
                let mut claimed = written.claimed.into_iter();
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
                        Job::Relay(_, _, reply) => {
                            let _ = reply.send(Ok(claimed.next().unwrap_or_default()));
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
                        Job::Relay(_, _, reply) => {
                            let _ = reply.send(Err(failed("recording deliveries")));
                        }
                    }
                }
            }
        }
    }
}

/// One group commit: the relays' outcomes, then the enqueues in their
/// order, then the relays' claims (which may take what was just enqueued).
async fn write_batch(pool: &SqlitePool, caps: (u64, u64), batch: &[Job]) -> Result<Written> {
    // IMMEDIATE: take the write lock now, so the read below never has to
    // be upgraded (which SQLite may refuse at once with SQLITE_BUSY).
    let mut tx = pool
        .begin_with("BEGIN IMMEDIATE")
        .await
        .map_err(Error::db("starting a group commit"))?;
    // Outcomes first: the events they finish no longer count against the
    // caps the enqueues below are checked with.
    let settled: Vec<&Settled> = batch
        .iter()
        .filter_map(|job| match job {
            Job::Relay(settled, _, _) => Some(settled),
            Job::Enqueue(..) => None,
        })
        .flatten()
        .collect();
    let freed = settle(&mut tx, &settled).await?;
    let mut enqueued = Vec::new();
    let mut pending: Option<PendingRow> = None;
    for job in batch {
        let Job::Enqueue(event, attachments, _) = job else {
            continue;
        };
        let counted = match &mut pending {
            Some(p) => p,
            None => pending.insert(self::pending(&mut tx).await?),
        };
        if let Err(full) = super::check_caps(counted, event.bytes, caps) {
            enqueued.push(Err(full));
            continue;
        }
        let stored = insert(&mut tx, event, attachments).await?;
        if stored.1 {
            counted.n += 1;
            counted.bytes = counted.bytes.saturating_add(event.bytes);
        }
        enqueued.push(Ok(stored));
    }
    let mut claimed = Vec::new();
    for job in batch {
        if let Job::Relay(_, ask, _) = job {
            claimed.push(match ask {
                Some(ask) => claim(&mut tx, ask).await?,
                None => Vec::new(),
            });
        }
    }
    tx.commit()
        .await
        .map_err(Error::db("committing enqueued events"))?;
    Ok(Written {
        enqueued,
        claimed,
        freed,
    })
}
