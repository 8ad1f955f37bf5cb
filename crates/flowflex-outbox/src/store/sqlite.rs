//! SQLite: rows in the database (WAL, `synchronous = FULL`), attachment
//! content in a spool directory beside it (`PATH.spool/`), each file
//! written and fsynced before the row naming it commits.
//!
//! One writer task owns the only connection that writes: enqueues from
//! many tasks and the relays' turns share its commits (group commit: one
//! fsync for a batch, and no two writers racing for SQLite's write lock).
//! It runs its transactions with plain `BEGIN IMMEDIATE` / `COMMIT`
//! statements and, after any failed batch, closes its connection and opens
//! a fresh one for the next: a commit refused for lack of space (SQLite
//! then rolls back by itself) can never leave a connection that believes a
//! transaction is still open, so the outbox serves again as soon as there
//! is room.

use std::path::{Path, PathBuf};
use std::time::Duration;

use futures_util::StreamExt as _;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{ConnectOptions as _, Connection as _, SqlitePool};
use tokio::io::AsyncWriteExt as _;
use tokio::sync::{mpsc, oneshot};

use super::{
    AttachmentRow, Backend, Caps, Claim, ClaimedRow, Ids, LocalFile, NewEvent, Outcomes,
    PendingRow, Settled, Status, Turn, Turned, TxConn, sql,
};
use crate::error::{Error, Result};

/// The most jobs one commit carries.
const MAX_BATCH: usize = 512;

/// Spool files younger than this are never taken for orphans: an enqueue
/// may be between its copy and its commit.
const ORPHAN_AGE: Duration = Duration::from_secs(3600);

/// A SQLite outbox: its pool (reads, the caller's transactions), its spool
/// directory and its writer.
#[derive(Debug)]
pub(crate) struct SqliteStore {
    pub(crate) pool: SqlitePool,
    pub(crate) spool: PathBuf,
    /// The database file, for messages.
    path: PathBuf,
    writer: mpsc::Sender<Job>,
}

/// Opens (creating and migrating) the outbox at `path` and starts its
/// writer on the current runtime.
pub(crate) async fn open(path: &Path, migrate: bool) -> Result<SqliteStore> {
    let options = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(migrate)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .busy_timeout(Duration::from_secs(30))
        .foreign_keys(true);
    let pool = SqlitePoolOptions::new()
        .max_connections(4)
        .connect_with(options.clone())
        .await
        .map_err(|e| match e {
            sqlx::Error::Database(_) if !migrate && !path.exists() => Error::NoOutbox {
                found: format!("no database at {}", path.display()),
            },
            e => Error::db("opening the SQLite outbox")(e),
        })?;
    let mut migrator = sqlx::migrate!("./migrations/sqlite");
    // The caller's own sqlx migrations may share the database.
    migrator.set_ignore_missing(true);
    if migrate {
        migrator.run(&pool).await.map_err(Error::Migrate)?;
    } else {
        let mut conn = pool
            .acquire()
            .await
            .map_err(Error::db("opening the SQLite outbox"))?;
        super::check_migrated(&mut conn, &migrator, &format!("{}", path.display())).await?;
    }
    let mut spool = path.as_os_str().to_owned();
    spool.push(".spool");
    let spool = PathBuf::from(spool);
    if migrate {
        tokio::fs::create_dir_all(&spool)
            .await
            .map_err(|e| Error::io_at("creating the spool directory beside", path)(e))?;
    }
    let (writer, jobs) = mpsc::channel(4096);
    tokio::spawn(
        Writer {
            options,
            spool: spool.clone(),
            conn: None,
        }
        .run(jobs),
    );
    let store = SqliteStore {
        pool,
        spool,
        path: path.to_owned(),
        writer,
    };
    if migrate {
        store.collect_orphans(crate::clock::wall_ms()).await?;
    }
    Ok(store)
}

/// An event with its spool files (one per used attachment), ready for
/// its rows.
#[derive(Debug)]
pub(crate) struct Spooled {
    event: NewEvent,
    blobs: Vec<Option<String>>,
}

/// A write waiting for the next group commit.
#[derive(Debug)]
enum Job {
    /// Events to store, all or nothing: answered with their ids.
    Enqueue {
        events: Vec<Spooled>,
        caps: Caps,
        reply: oneshot::Sender<Result<Ids>>,
    },
    /// A relay's turn: answered with what it claimed once that commits.
    Turn {
        turn: Turn,
        reply: oneshot::Sender<Result<Turned>>,
    },
}

impl SqliteStore {
    /// Copies the used attachments of `events` into new spool files,
    /// fsynced, and the directory after them; on failure removes what it
    /// wrote.
    async fn spool_all(&self, events: Vec<NewEvent>) -> Result<Vec<Spooled>> {
        let mut spooled = Vec::with_capacity(events.len());
        let mut any = false;
        for event in events {
            let mut blobs = Vec::with_capacity(event.files.len());
            for file in &event.files {
                let Some(source) = &file.source else {
                    blobs.push(None);
                    continue;
                };
                match self.spool(source, file).await {
                    Ok(name) => {
                        any = true;
                        blobs.push(Some(name));
                    }
                    Err(e) => {
                        self.remove_blobs(blobs.into_iter().flatten()).await;
                        for s in spooled {
                            self.remove_spooled(&s).await;
                        }
                        return Err(e);
                    }
                }
            }
            spooled.push(Spooled { event, blobs });
        }
        if any {
            if let Err(e) = self.sync_dir().await {
                for s in &spooled {
                    self.remove_spooled(s).await;
                }
                return Err(e);
            }
        }
        Ok(spooled)
    }

    /// Copies one attachment into a new spool file, fsynced; its name.
    /// Streams: memory stays flat whatever the size.
    async fn spool(&self, source: &flowflex::Attachment, file: &super::NewFile) -> Result<String> {
        let (_, mut stream) = flowflex::__outbox::open(source, file.cap).await?;
        let name = uuid::Uuid::new_v4().simple().to_string();
        let part = self.spool.join(format!("{name}.part"));
        let copying = format!(
            "copying `{}` ({}) into the outbox",
            file.path, file.filename
        );
        let copied = async {
            let mut out = tokio::fs::File::create(&part).await?;
            while let Some(chunk) = stream.next().await {
                out.write_all(&chunk?).await?;
            }
            out.flush().await?;
            out.sync_all().await?;
            drop(out);
            tokio::fs::rename(&part, self.spool.join(&name)).await
        }
        .await;
        if let Err(e) = copied {
            let _ = tokio::fs::remove_file(&part).await;
            return Err(Error::file(copying, &self.path, e));
        }
        Ok(name)
    }

    /// Makes the spool directory's new entries durable.
    async fn sync_dir(&self) -> Result<()> {
        let dir = self.spool.clone();
        tokio::task::spawn_blocking(move || std::fs::File::open(&dir).and_then(|d| d.sync_all()))
            .await
            .map_err(std::io::Error::other)
            .and_then(|r| r)
            .map_err(|e| Error::file("syncing the outbox's spool directory".into(), &self.path, e))
    }

    async fn remove_blobs(&self, names: impl Iterator<Item = String>) {
        remove_files(&self.spool, names.collect()).await;
    }

    async fn remove_spooled(&self, spooled: &Spooled) {
        self.remove_blobs(spooled.blobs.iter().flatten().cloned())
            .await;
    }

    /// Hands a job to the writer and waits for its answer.
    async fn write<T>(
        &self,
        doing: &'static str,
        job: impl FnOnce(oneshot::Sender<Result<T>>) -> Job,
    ) -> Result<T> {
        let (reply, answer) = oneshot::channel();
        self.writer
            .send(job(reply))
            .await
            .map_err(|_| super::writer::stopped(doing))?;
        answer.await.map_err(|_| super::writer::stopped(doing))?
    }
}

impl Backend for SqliteStore {
    async fn enqueue(&self, events: Vec<NewEvent>, caps: Caps) -> Result<Ids> {
        let (n, bytes) = super::weight(events.iter());
        if events
            .iter()
            .any(|e| e.files.iter().any(super::NewFile::used))
        {
            // Refuse early rather than copy files only to refuse them.
            super::check_caps(&self.pending_now().await?, n, bytes, caps)?;
        }
        let spooled = self.spool_all(events).await?;
        self.write("enqueueing", |reply| Job::Enqueue {
            events: spooled,
            caps,
            reply,
        })
        .await
    }

    async fn enqueue_in(&self, conn: TxConn<'_>, events: Vec<NewEvent>, caps: Caps) -> Result<Ids> {
        let TxConn::Sqlite(conn) = conn else {
            return Err(Error::WrongTransaction {
                outbox: "SQLite",
                transaction: "PostgreSQL",
            });
        };
        let (n, bytes) = super::weight(events.iter());
        let spooled = self.spool_all(events).await?;
        let stored = insert_checked(conn, &spooled, n, bytes, caps).await;
        // The files stay only for the events this transaction stored; the
        // rest (refused, or keys stored already) go now. A rollback later
        // leaves files no row names, which `collect_orphans` removes.
        let keep: Vec<bool> = match &stored {
            Ok(ids) => ids.iter().map(|(_, new)| *new).collect(),
            Err(_) => vec![false; spooled.len()],
        };
        for (s, keep) in spooled.iter().zip(keep) {
            if !keep {
                self.remove_spooled(s).await;
            }
        }
        stored
    }

    async fn turn(&self, turn: Turn) -> Result<Turned> {
        self.write("recording deliveries", |reply| Job::Turn { turn, reply })
            .await
    }

    async fn local_file(&self, id: i64, row: &AttachmentRow) -> Result<LocalFile> {
        let name = row.blob.as_deref().ok_or_else(|| Error::Corrupt {
            id: crate::OutboxId(id),
            message: format!("the stored copy of `{}` is missing", row.filename),
        })?;
        Ok(LocalFile {
            path: self.spool.join(name),
            temporary: false,
        })
    }

    /// Removes spool files no row names and older than an hour before
    /// `before`.
    async fn collect_orphans(&self, before: i64) -> Result<u64> {
        let known: Vec<(String,)> =
            sqlx::query_as("SELECT blob FROM flowflex_outbox_attachments WHERE blob IS NOT NULL")
                .fetch_all(&self.pool)
                .await
                .map_err(Error::db("listing spool files"))?;
        let known: std::collections::HashSet<String> = known.into_iter().map(|(b,)| b).collect();
        let cutoff = crate::store::from_millis(before) - ORPHAN_AGE;
        let mut dir = tokio::fs::read_dir(&self.spool)
            .await
            .map_err(|e| Error::file("listing the spool directory".into(), &self.path, e))?;
        let mut removed = 0;
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
                .is_some_and(|t| t < cutoff);
            if old && tokio::fs::remove_file(entry.path()).await.is_ok() {
                removed += 1;
            }
        }
        Ok(removed)
    }
}

impl SqliteStore {
    async fn pending_now(&self) -> Result<PendingRow> {
        sqlx::query_as(sql::PENDING)
            .fetch_one(&self.pool)
            .await
            .map_err(Error::db("counting pending events"))
    }
}

/// The pending count as `conn` sees it.
async fn pending(conn: &mut SqliteConnection) -> Result<PendingRow> {
    sqlx::query_as(sql::PENDING)
        .fetch_one(&mut *conn)
        .await
        .map_err(Error::db("counting pending events"))
}

/// Inserts an event and its attachment rows on `conn`; `(id, false)` if
/// its idempotency key was stored already.
async fn insert(conn: &mut SqliteConnection, s: &Spooled) -> Result<(i64, bool)> {
    let event = &s.event;
    let id: Option<(i64,)> = sqlx::query_as(sql::SQLITE_INSERT_EVENT)
        .bind(&event.event)
        .bind(&event.key)
        .bind(&event.body)
        .bind(&event.slots)
        .bind(event.bytes)
        .bind(i32::try_from(event.files.len()).unwrap_or(i32::MAX))
        .bind(event.now)
        .bind(Status::Pending.as_str())
        .bind(event.ordering_key.as_deref())
        .fetch_optional(&mut *conn)
        .await
        .map_err(Error::db("storing an event"))?;
    let Some((id,)) = id else {
        let (id,): (i64,) = sqlx::query_as(sql::EXISTING_KEY)
            .bind(&event.key)
            .fetch_one(&mut *conn)
            .await
            .map_err(Error::db("finding an idempotency key"))?;
        return Ok((id, false));
    };
    for (idx, (file, blob)) in event.files.iter().zip(&s.blobs).enumerate() {
        sqlx::query(sql::SQLITE_INSERT_ATTACHMENT)
            .bind(id)
            .bind(i32::try_from(idx).unwrap_or(i32::MAX))
            .bind(&file.filename)
            .bind(&file.mime)
            .bind(file.size)
            .bind(file.used())
            .bind(blob.as_deref())
            .execute(&mut *conn)
            .await
            .map_err(Error::db("storing an attachment"))?;
    }
    Ok((id, true))
}

/// Inserts `events` in the caller's own transaction, checked against the
/// caps: the inserts come first, so the write lock is held before the
/// count is read (a read first could not always be upgraded, SQLITE_BUSY),
/// and events over a cap are deleted again in the same transaction (the
/// trigger puts the count back) before `Error::Full` is returned.
async fn insert_checked(
    conn: &mut SqliteConnection,
    events: &[Spooled],
    n: u64,
    bytes: i64,
    caps: Caps,
) -> Result<Vec<(i64, bool)>> {
    let mut stored = Vec::with_capacity(events.len());
    for s in events {
        stored.push(insert(conn, s).await?);
    }
    let new: Vec<(i64, i64)> = stored
        .iter()
        .zip(events)
        .filter(|((_, new), _)| *new)
        .map(|((id, _), s)| (*id, s.event.bytes))
        .collect();
    if new.is_empty() {
        return Ok(stored);
    }
    let after = pending(conn).await?;
    let added: i64 = new.iter().map(|(_, b)| *b).sum();
    let before = PendingRow {
        n: after.n - i64::try_from(new.len()).unwrap_or(0),
        bytes: after.bytes - added,
    };
    if let Err(full) = super::check_caps(&before, n, bytes, caps) {
        for (id, _) in new {
            sqlx::query(sql::SQLITE_TAKE_BACK)
                .bind(id)
                .execute(&mut *conn)
                .await
                .map_err(Error::db("taking back events over the caps"))?;
        }
        return Err(full);
    }
    Ok(stored)
}

/// Records a turn's outcomes on `conn`: retries and dead letters a
/// statement each, delivered marks in one, their attachment rows freed in
/// another (only for events that have any). Returns the spool files to
/// remove once it commits.
async fn settle(conn: &mut SqliteConnection, settled: &[&Settled]) -> Result<Vec<String>> {
    let outcomes = Outcomes::sort(settled.iter().copied());
    for failed in outcomes.failed {
        super::record_failed!(conn, failed, std::borrow::Cow::Borrowed);
    }
    if outcomes.delivered.is_empty() {
        return Ok(Vec::new());
    }
    let pairs = serde_json::to_string(&outcomes.delivered).unwrap_or_default();
    sqlx::query(sql::SQLITE_DELIVERED)
        .bind(pairs)
        .bind(Status::Delivered.as_str())
        .execute(&mut *conn)
        .await
        .map_err(Error::db("marking delivered"))?;
    if outcomes.with_files.is_empty() {
        return Ok(Vec::new());
    }
    let ids = serde_json::to_string(&outcomes.with_files).unwrap_or_default();
    let blobs: Vec<(Option<String>,)> = sqlx::query_as(sql::SQLITE_FREE_ATTACHMENTS)
        .bind(ids)
        .fetch_all(&mut *conn)
        .await
        .map_err(Error::db("freeing attachments"))?;
    Ok(blobs.into_iter().filter_map(|(b,)| b).collect())
}

/// Claims due events on `conn`, and reads the attachment rows of those
/// that have any in one more statement; when it finds none, also when the
/// next event not yet due will be.
async fn claim(conn: &mut SqliteConnection, claim: &Claim) -> Result<Turned> {
    let rows: Vec<ClaimedRow> = sqlx::query_as(sql::CLAIM)
        .bind(claim.lease_until)
        .bind(&*claim.relay)
        .bind(claim.now)
        .bind(crate::clock::wall_ms())
        .bind(i64::try_from(claim.n).unwrap_or(i64::MAX))
        .bind(Status::Pending.as_str())
        .bind(Status::Dead.as_str())
        .fetch_all(&mut *conn)
        .await
        .map_err(Error::db("claiming due events"))?;
    let next_due = if rows.is_empty() {
        next_due(conn, claim.now).await?
    } else {
        None
    };
    let with_files: Vec<i64> = rows
        .iter()
        .filter(|r| r.attachments > 0)
        .map(|r| r.id)
        .collect();
    let attachments: Vec<AttachmentRow> = if with_files.is_empty() {
        Vec::new()
    } else {
        sqlx::query_as(sql::SQLITE_ATTACHMENTS)
            .bind(serde_json::to_string(&with_files).unwrap_or_default())
            .fetch_all(&mut *conn)
            .await
            .map_err(Error::db("reading attachments"))?
    };
    Ok(Turned {
        claimed: super::attach(rows, attachments),
        next_due,
    })
}

async fn next_due(conn: &mut SqliteConnection, now: i64) -> Result<Option<i64>> {
    let (due,): (Option<i64>,) = sqlx::query_as(sql::NEXT_DUE)
        .bind(Status::Pending.as_str())
        .bind(now)
        .fetch_one(&mut *conn)
        .await
        .map_err(Error::db("finding the next due event"))?;
    Ok(due)
}

/// The group-commit writer and its connection (opened on first use, and
/// again after a failed batch).
struct Writer {
    options: SqliteConnectOptions,
    spool: PathBuf,
    conn: Option<SqliteConnection>,
}

/// What one group commit answers, job by job, and the spool files (names
/// in the spool directory) to remove once it has committed.
struct Written {
    answers: Vec<Answer>,
    remove: Vec<String>,
}

enum Answer {
    Enqueued(Result<Ids>),
    Turned(Turned),
}

/// Where a batch failed: before its commit (nothing was written), or at
/// it (it may have been written).
enum Failed {
    Before(Error),
    AtCommit(Error),
}

impl Writer {
    /// Takes every write waiting, does them in one transaction, answers
    /// each. Ends when the outbox is dropped.
    async fn run(mut self, mut jobs: mpsc::Receiver<Job>) {
        while let Some(batch) = super::writer::next_batch(&mut jobs, MAX_BATCH, false).await {
            let outcome = self.write(&batch).await;
            match outcome {
                Ok(written) => {
                    remove_files(&self.spool, written.remove).await;
                    for (job, answer) in batch.into_iter().zip(written.answers) {
                        match (job, answer) {
                            (Job::Enqueue { reply, .. }, Answer::Enqueued(ids)) => {
                                let _ = reply.send(ids);
                            }
                            (Job::Turn { reply, .. }, Answer::Turned(turned)) => {
                                let _ = reply.send(Ok(turned));
                            }
                            (Job::Enqueue { reply, .. }, Answer::Turned(_)) => {
                                let _ = reply.send(Err(super::writer::stopped("enqueueing")));
                            }
                            (Job::Turn { reply, .. }, Answer::Enqueued(_)) => {
                                let _ =
                                    reply.send(Err(super::writer::stopped("recording deliveries")));
                            }
                        }
                    }
                }
                Err(failed) => {
                    // A fresh connection for the next batch: this one may
                    // believe a transaction is open that SQLite rolled back.
                    if let Some(conn) = self.conn.take() {
                        let _ = conn.close().await;
                    }
                    let (error, written) = match failed {
                        Failed::Before(e) => (e, false),
                        Failed::AtCommit(e) => (e, true),
                    };
                    tracing::warn!(target: "flowflex_outbox", error = %error, "a group commit failed");
                    for job in batch {
                        match job {
                            Job::Enqueue { events, reply, .. } => {
                                // Rolled back for sure: the files go. A
                                // failed commit may have written the rows:
                                // they stay, for the orphan collection to
                                // judge once the rows can be read.
                                if !written {
                                    let names = events.into_iter().flat_map(|s| s.blobs).flatten();
                                    remove_files(&self.spool, names.collect()).await;
                                }
                                let _ = reply.send(Err(error.again()));
                            }
                            Job::Turn { reply, .. } => {
                                let _ = reply.send(Err(error.again()));
                            }
                        }
                    }
                }
            }
        }
    }

    /// One group commit: the relays' outcomes, then the enqueues in their
    /// order, then the relays' claims (which may take what was just
    /// enqueued).
    async fn write(&mut self, batch: &[Job]) -> std::result::Result<Written, Failed> {
        let conn = match &mut self.conn {
            Some(conn) => conn,
            None => {
                let conn = self
                    .options
                    .connect()
                    .await
                    .map_err(|e| Failed::Before(Error::db("opening the outbox's writer")(e)))?;
                self.conn.insert(conn)
            }
        };
        // IMMEDIATE: take the write lock now, so that the reads below are
        // never upgraded (which SQLite may refuse at once with SQLITE_BUSY).
        sqlx::Executor::execute(&mut *conn, "BEGIN IMMEDIATE")
            .await
            .map_err(|e| Failed::Before(Error::db("starting a group commit")(e)))?;
        match body(conn, batch).await {
            Ok(written) => match sqlx::Executor::execute(&mut *conn, "COMMIT").await {
                Ok(_) => Ok(written),
                Err(e) => Err(Failed::AtCommit(Error::db("committing")(e))),
            },
            Err(e) => {
                let _ = sqlx::Executor::execute(&mut *conn, "ROLLBACK").await;
                Err(Failed::Before(e))
            }
        }
    }
}

/// The statements of one group commit, inside its transaction.
async fn body(conn: &mut SqliteConnection, batch: &[Job]) -> Result<Written> {
    // Outcomes first: the events they finish no longer count against the
    // caps the enqueues below are checked with.
    let settled: Vec<&Settled> = batch
        .iter()
        .filter_map(|job| match job {
            Job::Turn { turn, .. } => Some(&turn.settled),
            Job::Enqueue { .. } => None,
        })
        .flatten()
        .collect();
    let mut remove = settle(conn, &settled).await?;
    let mut answers = Vec::with_capacity(batch.len());
    let mut counted: Option<PendingRow> = None;
    for job in batch {
        let Job::Enqueue { events, caps, .. } = job else {
            answers.push(None);
            continue;
        };
        let counted = match &mut counted {
            Some(p) => p,
            None => counted.insert(pending(conn).await?),
        };
        let (n, bytes) = super::weight(events.iter().map(|s| &s.event));
        if let Err(full) = super::check_caps(counted, n, bytes, *caps) {
            remove.extend(
                events
                    .iter()
                    .flat_map(|s| s.blobs.iter().flatten().cloned()),
            );
            answers.push(Some(Answer::Enqueued(Err(full))));
            continue;
        }
        let mut ids = Vec::with_capacity(events.len());
        for s in events {
            let (id, new) = insert(conn, s).await?;
            if new {
                counted.n += 1;
                counted.bytes = counted.bytes.saturating_add(s.event.bytes);
            } else {
                // The key was stored already: its files are not needed.
                remove.extend(s.blobs.iter().flatten().cloned());
            }
            ids.push((id, new));
        }
        answers.push(Some(Answer::Enqueued(Ok(ids))));
    }
    let mut out = Vec::with_capacity(batch.len());
    for (job, answer) in batch.iter().zip(answers) {
        out.push(match (job, answer) {
            (_, Some(answer)) => answer,
            (Job::Turn { turn, .. }, None) => Answer::Turned(match &turn.claim {
                Some(ask) => claim(conn, ask).await?,
                None => Turned::default(),
            }),
            (Job::Enqueue { .. }, None) => Answer::Turned(Turned::default()),
        });
    }
    Ok(Written {
        answers: out,
        remove,
    })
}

async fn remove_files(spool: &Path, names: Vec<String>) {
    let paths: Vec<PathBuf> = names.into_iter().map(|n| spool.join(n)).collect();
    for path in paths {
        if let Err(e) = tokio::fs::remove_file(path).await {
            tracing::debug!(target: "flowflex_outbox", error = %e, "spool file not removed");
        }
    }
}
