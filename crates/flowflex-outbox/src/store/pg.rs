//! PostgreSQL: rows and attachment content (bytea chunks, by blob) in the
//! database, so any replica can deliver any event; claims with `FOR
//! UPDATE SKIP LOCKED` and a lease that a dead relay's claim outlives only
//! briefly.
//!
//! Enqueues outside a caller's transaction are gathered by a writer task
//! into one transaction and one statement per batch (each caller's future
//! resolves once its batch commits). An attachment's content is stored
//! first, in a transaction of its own, under a fresh blob id; the rows that
//! name it commit with the batch. Every enqueue notifies the outbox's
//! channel inside its transaction, so relays elsewhere wake the moment it
//! commits (and never for one that rolls back).

use std::collections::HashMap;

use futures_util::StreamExt as _;
use sqlx::PgPool;
use sqlx::postgres::{PgConnection, PgListener};
use tokio::io::AsyncWriteExt as _;
use tokio::sync::{mpsc, oneshot};

use super::{
    AttachmentRow, Backend, Caps, ClaimedRow, Ids, LocalFile, NewEvent, Outcomes, PendingRow,
    Status, Turn, Turned, TxConn, sql,
};
use crate::error::{Error, Result};

/// Attachment content is stored in chunks of this size.
const CHUNK: usize = 1 << 20;

/// The most enqueue calls one writer transaction carries.
const MAX_BATCH: usize = 256;

/// A PostgreSQL outbox: its pool, its notification channel and its writer.
#[derive(Debug)]
pub(crate) struct PgStore {
    pub(crate) pool: PgPool,
    /// How the statements name the outbox's tables.
    pub(crate) names: Names,
    /// The channel enqueues notify and relays listen on (one per schema).
    pub(crate) channel: String,
    writer: mpsc::Sender<Job>,
}

/// How the outbox's statements name its tables: as they are (the
/// connection's `search_path` finds them), or qualified with the schema
/// `OutboxBuilder::schema` gave, so that they are found from any
/// connection, the caller's transaction included.
#[derive(Debug, Clone, Default)]
pub(crate) struct Names {
    schema: Option<std::sync::Arc<str>>,
}

/// The outbox's tables, as the statements name them.
const TABLES: [&str; 6] = [
    "flowflex_outbox_events",
    "flowflex_outbox_attachments",
    "flowflex_outbox_chunks",
    "flowflex_outbox_pending",
    "flowflex_outbox_relays",
    "flowflex_outbox_relays_seen",
];

impl Names {
    pub(crate) fn in_schema(schema: Option<&str>) -> Names {
        Names {
            schema: schema.map(std::sync::Arc::from),
        }
    }

    /// `text` with each table name qualified by the schema, if any.
    pub(crate) fn qualify(&self, text: &'static str) -> std::borrow::Cow<'static, str> {
        let Some(schema) = &self.schema else {
            return std::borrow::Cow::Borrowed(text);
        };
        let quoted = format!("\"{}\".", schema.replace('"', "\"\""));
        let mut out = String::with_capacity(text.len() + 64);
        let mut rest = text;
        while let Some(at) = rest.find("flowflex_outbox_") {
            let (before, from) = rest.split_at(at);
            out.push_str(before);
            let table = TABLES.iter().find(|t| {
                from.starts_with(*t)
                    && !from[t.len()..].starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
            });
            // Already qualified, or a name in a comment: as it is.
            let qualified = before.ends_with('.') || before.ends_with('\'');
            match table {
                Some(t) if !qualified => {
                    out.push_str(&quoted);
                    out.push_str(t);
                    rest = &from[t.len()..];
                }
                _ => {
                    out.push_str("flowflex_outbox_");
                    rest = &from["flowflex_outbox_".len()..];
                }
            }
        }
        out.push_str(rest);
        std::borrow::Cow::Owned(out)
    }
}

#[cfg(test)]
mod tests {
    use super::Names;

    #[test]
    fn tables_are_qualified_and_nothing_else() {
        let names = Names::in_schema(Some("my \"odd\" schema"));
        let sql = "-- flowflex_outbox_events, said in a comment\n\
                   SELECT 'flowflex_outbox_' || x FROM flowflex_outbox_events e \
                   JOIN flowflex_outbox_attachments a ON true, flowflex_outbox_eventsx, \
                   \"s\".flowflex_outbox_relays";
        assert_eq!(
            names.qualify(sql),
            "-- \"my \"\"odd\"\" schema\".flowflex_outbox_events, said in a comment\n\
             SELECT 'flowflex_outbox_' || x FROM \"my \"\"odd\"\" schema\".flowflex_outbox_events e \
             JOIN \"my \"\"odd\"\" schema\".flowflex_outbox_attachments a ON true, flowflex_outbox_eventsx, \
             \"s\".flowflex_outbox_relays"
        );
        assert_eq!(Names::in_schema(None).qualify(sql), sql);
    }
}

/// Events whose content is stored, waiting for the writer's next batch.
#[derive(Debug)]
struct Job {
    events: Vec<Stored>,
    caps: Caps,
    reply: oneshot::Sender<Result<Ids>>,
}

/// An event and the blobs its used attachments' content is stored under.
#[derive(Debug)]
struct Stored {
    event: NewEvent,
    blobs: Vec<Option<String>>,
}

/// Migrates the outbox's tables (in `schema`, created if missing, or in
/// the pool's search path) and starts its writer.
pub(crate) async fn open(pool: PgPool, schema: Option<&str>, create: bool) -> Result<PgStore> {
    let names = Names::in_schema(schema);
    if create {
        migrate(&pool, schema).await?;
    } else {
        let mut migrator = sqlx::migrate!("./migrations/postgres");
        migrator.set_ignore_missing(true);
        let mut conn = pool
            .acquire()
            .await
            .map_err(Error::db("connecting to PostgreSQL"))?;
        let place = match schema {
            Some(schema) => format!("schema {schema:?}"),
            None => "the connection's search path".to_owned(),
        };
        super::check_migrated_pg(&mut conn, &migrator, schema, &place).await?;
    }
    let (channel,): (String,) = sqlx::query_as(sql::PG_CHANNEL)
        .bind(schema)
        .fetch_one(&pool)
        .await
        .map_err(Error::db("naming the notification channel"))?;
    let (writer, jobs) = mpsc::channel(4096);
    tokio::spawn(
        Writer {
            pool: pool.clone(),
            names: names.clone(),
            channel: channel.clone(),
            counted: std::sync::Mutex::new(None),
        }
        .run(jobs),
    );
    Ok(PgStore {
        pool,
        names,
        channel,
        writer,
    })
}

/// Runs the outbox's migrations: in the pool's search path, or in
/// `schema` (created if missing) on a connection of their own whose search
/// path is set to it, then closed, so that no connection of the pool keeps
/// that setting.
async fn migrate(pool: &PgPool, schema: Option<&str>) -> Result<()> {
    let mut migrator = sqlx::migrate!("./migrations/postgres");
    // The service's own sqlx migrations may share the schema.
    migrator.set_ignore_missing(true);
    let Some(schema) = schema else {
        return migrator.run(pool).await.map_err(Error::Migrate);
    };
    let quoted = format!("\"{}\"", schema.replace('"', "\"\""));
    let mut conn = pool
        .acquire()
        .await
        .map_err(Error::db("connecting to PostgreSQL"))?
        .detach();
    let create = format!("CREATE SCHEMA IF NOT EXISTS {quoted}");
    sqlx::Executor::execute(&mut conn, crate::store::sql::dynamic!(create))
        .await
        .map_err(Error::db("creating the outbox's schema"))?;
    let search = format!("SET search_path TO {quoted}");
    sqlx::Executor::execute(&mut conn, crate::store::sql::dynamic!(search))
        .await
        .map_err(Error::db("creating the outbox's schema"))?;
    let migrated = migrator.run(&mut conn).await.map_err(Error::Migrate);
    let _ = sqlx::Connection::close(conn).await;
    migrated
}

impl PgStore {
    /// A connection of its own (outside the outbox's pool, which may be
    /// the service's and small) listening on the outbox's channel.
    pub(crate) async fn listen(&self) -> Result<PgListener> {
        let own = sqlx::postgres::PgPoolOptions::new()
            .max_connections(1)
            .max_lifetime(None)
            .idle_timeout(None)
            .connect_lazy_with((*self.pool.connect_options()).clone());
        let mut listener = PgListener::connect_with(&own)
            .await
            .map_err(Error::db("listening for enqueues"))?;
        listener
            .listen(&self.channel)
            .await
            .map_err(Error::db("listening for enqueues"))?;
        Ok(listener)
    }

    /// Tells every relay to read the list of relays again (one started or
    /// stopped).
    pub(crate) async fn announce(&self) -> Result<()> {
        sqlx::query(sql::PG_NOTIFY)
            .bind(&self.channel)
            .bind(RELAYS_CHANGED)
            .execute(&self.pool)
            .await
            .map(drop)
            .map_err(Error::db("announcing a relay"))
    }

    /// Stores the used attachments' content of `events` in one transaction
    /// of its own, each under a fresh blob id.
    async fn store_content(&self, events: Vec<NewEvent>) -> Result<Vec<Stored>> {
        if !events
            .iter()
            .any(|e| e.files.iter().any(super::NewFile::used))
        {
            return Ok(events
                .into_iter()
                .map(|event| Stored {
                    blobs: vec![None; event.files.len()],
                    event,
                })
                .collect());
        }
        let mut tx = self
            .pool
            .begin()
            .await
            .map_err(Error::db("storing attachment content"))?;
        let stored = copy_in_all(&mut tx, &self.names, events).await?;
        tx.commit()
            .await
            .map_err(Error::db("storing attachment content"))?;
        Ok(stored)
    }
}

/// The notice that says the list of relays changed.
pub(crate) const RELAYS_CHANGED: &str = "relays";

impl Backend for PgStore {
    async fn enqueue(&self, events: Vec<NewEvent>, caps: Caps) -> Result<Ids> {
        let stored = self.store_content(events).await?;
        let (reply, answer) = oneshot::channel();
        self.writer
            .send(Job {
                events: stored,
                caps,
                reply,
            })
            .await
            .map_err(|_| super::writer::stopped("enqueueing"))?;
        answer
            .await
            .map_err(|_| super::writer::stopped("enqueueing"))?
    }

    async fn enqueue_in(&self, conn: TxConn<'_>, events: Vec<NewEvent>, caps: Caps) -> Result<Ids> {
        let TxConn::Postgres(conn) = conn else {
            return Err(Error::WrongTransaction {
                outbox: "PostgreSQL",
                transaction: "SQLite",
            });
        };
        // The caps as the caller's transaction sees them: enqueues in
        // flight elsewhere are not in it, so concurrent ones may overshoot
        // a cap by their number.
        let (n, bytes) = super::weight(events.iter());
        check_caps(conn, &self.names, n, bytes, caps).await?;
        let stored = copy_in_all(conn, &self.names, events).await?;
        let refs: Vec<&Stored> = stored.iter().collect();
        insert(conn, &self.names, &refs, &self.channel).await
    }

    async fn turn(&self, turn: Turn) -> Result<Turned> {
        if turn.settled.is_empty() {
            // A claim alone is one statement: no transaction around it.
            let Some(ask) = &turn.claim else {
                return Ok(Turned::default());
            };
            let mut conn = self
                .pool
                .acquire()
                .await
                .map_err(Error::db("claiming due events"))?;
            return claim(&mut conn, &self.names, ask).await;
        }
        let mut tx = self
            .pool
            .begin()
            .await
            .map_err(Error::db("recording deliveries"))?;
        let outcomes = Outcomes::sort(&turn.settled);
        for failed in outcomes.failed {
            super::record_failed!(tx, failed, |t| self.names.qualify(t));
        }
        if !outcomes.delivered.is_empty() {
            let (ids, at): (Vec<i64>, Vec<i64>) = outcomes.delivered.into_iter().unzip();
            sqlx::query(crate::store::sql::dynamic!(
                self.names.qualify(sql::PG_DELIVERED)
            ))
            .bind(&ids)
            .bind(&at)
            .bind(Status::Delivered.as_str())
            .execute(&mut *tx)
            .await
            .map_err(Error::db("marking delivered"))?;
        }
        if !outcomes.with_files.is_empty() {
            sqlx::query(crate::store::sql::dynamic!(
                self.names.qualify(sql::PG_FREE_ATTACHMENTS)
            ))
            .bind(&outcomes.with_files)
            .execute(&mut *tx)
            .await
            .map_err(Error::db("freeing attachments"))?;
        }
        let turned = match &turn.claim {
            Some(ask) => claim(&mut tx, &self.names, ask).await?,
            None => Turned::default(),
        };
        tx.commit()
            .await
            .map_err(Error::db("recording deliveries"))?;
        Ok(turned)
    }

    /// Streams an attachment's chunks into a temporary file for one upload.
    async fn local_file(&self, id: i64, row: &AttachmentRow) -> Result<LocalFile> {
        let blob = row.blob.as_deref().ok_or_else(|| Error::Corrupt {
            id: crate::OutboxId(id),
            message: format!("the stored copy of `{}` is missing", row.filename),
        })?;
        let dir = std::env::temp_dir();
        let local = LocalFile {
            path: dir.join(format!("flowflex-outbox-{}", uuid::Uuid::new_v4().simple())),
            temporary: true,
        };
        let doing = format!(
            "making a temporary copy of `{}` for its upload",
            row.filename
        );
        let mut file = tokio::fs::File::create(&local.path)
            .await
            .map_err(Error::io_at(&doing, &dir))?;
        let mut written = 0i64;
        let read = self.names.qualify(sql::PG_READ_CHUNKS);
        let mut chunks = sqlx::query_as::<_, (Vec<u8>,)>(crate::store::sql::dynamic!(read))
            .bind(blob)
            .fetch(&self.pool);
        while let Some(chunk) = chunks.next().await {
            let (data,) = chunk.map_err(Error::db("reading attachment content"))?;
            written += i64::try_from(data.len()).unwrap_or(i64::MAX);
            file.write_all(&data)
                .await
                .map_err(Error::io_at(&doing, &dir))?;
        }
        file.flush().await.map_err(Error::io_at(&doing, &dir))?;
        if written != row.size {
            return Err(Error::Corrupt {
                id: crate::OutboxId(id),
                message: format!(
                    "the stored copy of `{}` holds {written} bytes, {} were stored",
                    row.filename, row.size
                ),
            });
        }
        Ok(local)
    }

    async fn collect_orphans(&self, before: i64) -> Result<u64> {
        let cutoff = before - crate::clock::ms(std::time::Duration::from_secs(3600));
        sqlx::query(crate::store::sql::dynamic!(
            self.names.qualify(sql::PG_ORPHAN_CHUNKS)
        ))
        .bind(cutoff)
        .execute(&self.pool)
        .await
        .map(|r| r.rows_affected())
        .map_err(Error::db("removing content no event names"))
    }
}

/// Claims due events on `conn`, reads the attachment rows of those that
/// have any, and, when it finds none, when the next event not yet due will
/// be.
async fn claim(conn: &mut PgConnection, names: &Names, claim: &super::Claim) -> Result<Turned> {
    let rows: Vec<ClaimedRow> =
        sqlx::query_as(crate::store::sql::dynamic!(names.qualify(sql::pg_claim())))
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
    let mut turned = Turned::default();
    if rows.is_empty() {
        let (due,): (Option<i64>,) =
            sqlx::query_as(crate::store::sql::dynamic!(names.qualify(sql::NEXT_DUE)))
                .bind(Status::Pending.as_str())
                .bind(claim.now)
                .fetch_one(&mut *conn)
                .await
                .map_err(Error::db("finding the next due event"))?;
        turned.next_due = due;
        return Ok(turned);
    }
    let with_files: Vec<i64> = rows
        .iter()
        .filter(|r| r.attachments > 0)
        .map(|r| r.id)
        .collect();
    let attachments: Vec<AttachmentRow> = if with_files.is_empty() {
        Vec::new()
    } else {
        sqlx::query_as(crate::store::sql::dynamic!(
            names.qualify(sql::PG_ATTACHMENTS)
        ))
        .bind(&with_files)
        .fetch_all(&mut *conn)
        .await
        .map_err(Error::db("reading attachments"))?
    };
    turned.claimed = super::attach(rows, attachments);
    Ok(turned)
}

async fn check_caps(
    conn: &mut PgConnection,
    names: &Names,
    n: u64,
    bytes: i64,
    caps: Caps,
) -> Result<()> {
    let pending: PendingRow =
        sqlx::query_as(crate::store::sql::dynamic!(names.qualify(sql::PENDING)))
            .fetch_one(&mut *conn)
            .await
            .map_err(Error::db("counting pending events"))?;
    super::check_caps(&pending, n, bytes, caps)
}

/// Stores the used attachments of `events` in chunk rows on `conn`, each
/// under a fresh blob id: at most two chunks in memory.
async fn copy_in_all(
    conn: &mut PgConnection,
    names: &Names,
    events: Vec<NewEvent>,
) -> Result<Vec<Stored>> {
    let now = crate::clock::wall_ms();
    let mut stored = Vec::with_capacity(events.len());
    for event in events {
        let mut blobs = Vec::with_capacity(event.files.len());
        for file in &event.files {
            let Some(source) = &file.source else {
                blobs.push(None);
                continue;
            };
            let blob = uuid::Uuid::new_v4().simple().to_string();
            copy_in(conn, names, &blob, source, file, now).await?;
            blobs.push(Some(blob));
        }
        stored.push(Stored { event, blobs });
    }
    Ok(stored)
}

async fn copy_in(
    conn: &mut PgConnection,
    names: &Names,
    blob: &str,
    source: &flowflex::Attachment,
    file: &super::NewFile,
    now: i64,
) -> Result<()> {
    let (_, mut stream) = flowflex::__outbox::open(source, file.cap).await?;
    let mut buf = Vec::with_capacity(CHUNK.min(file.size.try_into().unwrap_or(CHUNK)));
    let mut seq = 0i32;
    loop {
        let next = stream.next().await;
        let done = next.is_none();
        if let Some(chunk) = next {
            let chunk = chunk.map_err(|e| {
                Error::file(
                    format!(
                        "reading `{}` ({}) into the outbox",
                        file.path, file.filename
                    ),
                    std::path::Path::new("the PostgreSQL outbox"),
                    e,
                )
            })?;
            buf.extend_from_slice(&chunk);
        }
        while buf.len() >= CHUNK || (done && !buf.is_empty()) {
            let rest = if buf.len() > CHUNK {
                buf.split_off(CHUNK)
            } else {
                Vec::new()
            };
            sqlx::query(crate::store::sql::dynamic!(
                names.qualify(sql::PG_INSERT_CHUNK)
            ))
            .bind(blob)
            .bind(seq)
            .bind(&buf)
            .bind(now)
            .execute(&mut *conn)
            .await
            .map_err(Error::db("storing attachment content"))?;
            seq += 1;
            buf = rest;
            buf.reserve(CHUNK.saturating_sub(buf.len()));
        }
        if done {
            return Ok(());
        }
    }
}

/// Inserts `events` (content stored) on `conn` in one statement that also
/// notifies the channel; each event's id and whether it is new. The first
/// of several events with one idempotency key is the one stored; an event
/// whose key is stored already gets that event's id, and its content is
/// deleted.
async fn insert(
    conn: &mut PgConnection,
    names: &Names,
    events: &[&Stored],
    channel: &str,
) -> Result<Ids> {
    // The first of each key in the batch, in order.
    let mut first: HashMap<&str, usize> = HashMap::with_capacity(events.len());
    let mut fresh: Vec<&Stored> = Vec::with_capacity(events.len());
    for (i, s) in events.iter().enumerate() {
        if let std::collections::hash_map::Entry::Vacant(slot) = first.entry(&s.event.key) {
            slot.insert(i);
            fresh.push(s);
        }
    }
    let mut columns = EventColumns::default();
    let mut files = AttachmentColumns::default();
    for s in &fresh {
        columns.push(&s.event);
        files.push(s);
    }
    let now = fresh.first().map_or(0, |s| s.event.now);
    let inserted: Vec<(i64, String, i64)> = sqlx::query_as(crate::store::sql::dynamic!(
        names.qualify(sql::PG_INSERT_EVENTS)
    ))
    .bind(&columns.event)
    .bind(&columns.key)
    .bind(&columns.body)
    .bind(&columns.slots)
    .bind(&columns.bytes)
    .bind(&columns.attachments)
    .bind(now)
    .bind(Status::Pending.as_str())
    .bind(&files.key)
    .bind(&files.idx)
    .bind(&files.filename)
    .bind(&files.mime)
    .bind(&files.size)
    .bind(&files.used)
    .bind(&files.blob)
    .bind(channel)
    .bind(&columns.ordering)
    .fetch_all(&mut *conn)
    .await
    .map_err(Error::db("storing events"))?;
    let mut ids: HashMap<String, (i64, bool)> = inserted
        .into_iter()
        .map(|(id, key, _)| (key, (id, true)))
        .collect();
    let missing: Vec<&str> = fresh
        .iter()
        .map(|s| s.event.key.as_str())
        .filter(|k| !ids.contains_key(*k))
        .collect();
    if !missing.is_empty() {
        let found: Vec<(i64, String)> = sqlx::query_as(crate::store::sql::dynamic!(
            names.qualify(sql::PG_EXISTING_KEYS)
        ))
        .bind(&missing)
        .fetch_all(&mut *conn)
        .await
        .map_err(Error::db("finding idempotency keys"))?;
        ids.extend(found.into_iter().map(|(id, key)| (key, (id, false))));
    }
    let mut unused: Vec<&str> = Vec::new();
    let mut out = Vec::with_capacity(events.len());
    for (i, s) in events.iter().enumerate() {
        let Some(&(id, new)) = ids.get(&s.event.key) else {
            return Err(Error::Database {
                doing: "storing events",
                message: format!("no event with the key {:?} after storing it", s.event.key),
                source: None,
            });
        };
        let stored_here = new && first.get(s.event.key.as_str()) == Some(&i);
        if !stored_here {
            unused.extend(s.blobs.iter().flatten().map(String::as_str));
        }
        out.push((id, stored_here));
    }
    if !unused.is_empty() {
        sqlx::query(crate::store::sql::dynamic!(
            names.qualify(sql::PG_DELETE_BLOBS)
        ))
        .bind(&unused)
        .execute(&mut *conn)
        .await
        .map_err(Error::db("deleting content not needed"))?;
    }
    Ok(out)
}

/// The events of one insert, column by column (`UNNEST`).
#[derive(Default)]
struct EventColumns<'a> {
    event: Vec<&'a str>,
    key: Vec<&'a str>,
    body: Vec<&'a [u8]>,
    slots: Vec<&'a str>,
    bytes: Vec<i64>,
    attachments: Vec<i32>,
    ordering: Vec<Option<&'a str>>,
}

impl<'a> EventColumns<'a> {
    fn push(&mut self, e: &'a NewEvent) {
        self.event.push(&e.event);
        self.key.push(&e.key);
        self.body.push(&e.body);
        self.slots.push(&e.slots);
        self.bytes.push(e.bytes);
        self.attachments
            .push(i32::try_from(e.files.len()).unwrap_or(i32::MAX));
        self.ordering.push(e.ordering_key.as_deref());
    }
}

/// Attachment rows, column by column, each with its event's key.
#[derive(Default)]
struct AttachmentColumns<'a> {
    key: Vec<&'a str>,
    idx: Vec<i32>,
    filename: Vec<&'a str>,
    mime: Vec<&'a str>,
    size: Vec<i64>,
    used: Vec<bool>,
    blob: Vec<Option<&'a str>>,
}

impl<'a> AttachmentColumns<'a> {
    fn push(&mut self, s: &'a Stored) {
        for (idx, (file, blob)) in s.event.files.iter().zip(&s.blobs).enumerate() {
            self.key.push(&s.event.key);
            self.idx.push(i32::try_from(idx).unwrap_or(i32::MAX));
            self.filename.push(&file.filename);
            self.mime.push(&file.mime);
            self.size.push(file.size);
            self.used.push(file.used());
            self.blob.push(blob.as_deref());
        }
    }
}

/// Gathers the enqueues made outside a caller's transaction into one
/// statement per batch, with up to [`WRITERS`] batches in flight at once
/// (each on a connection of the pool): while one commits, the next fills.
/// (More than two gain nothing: every batch notifies, and PostgreSQL
/// commits notifying transactions one at a time.)
struct Writer {
    pool: PgPool,
    names: Names,
    channel: String,
    /// The pending count last read, plus what was stored since, and when
    /// it was read.
    counted: std::sync::Mutex<Option<(PendingRow, std::time::Instant)>>,
}

/// How long a pending count read by the writer stands in for a fresh one,
/// while the queue is below half its caps.
const COUNT_FRESH_FOR: std::time::Duration = std::time::Duration::from_secs(1);

/// Batches written at once.
const WRITERS: usize = 2;

impl Writer {
    async fn run(self, mut jobs: mpsc::Receiver<Job>) {
        let writer = std::sync::Arc::new(self);
        let slots = std::sync::Arc::new(tokio::sync::Semaphore::new(WRITERS));
        // Lingers only when the last batch had company: a lone enqueue
        // (the latency case) goes at once.
        let mut busy = false;
        while let Some(batch) = super::writer::next_batch(&mut jobs, MAX_BATCH, busy).await {
            busy = batch.len() > 1;
            let Ok(slot) = std::sync::Arc::clone(&slots).acquire_owned().await else {
                return;
            };
            let writer = std::sync::Arc::clone(&writer);
            tokio::spawn(async move {
                writer.write_and_answer(batch).await;
                drop(slot);
            });
        }
    }

    async fn write_and_answer(&self, batch: Vec<Job>) {
        // A broken connection (a terminated backend, a restart) fails the
        // batch with nothing written, or with its commit unknown: again on
        // another connection is safe either way, as the idempotency keys
        // make a second insert of a stored event a lookup. Each try drops
        // one dead connection (the pool does not ping them first), so a
        // restarted server costs at most a pool's worth of tries; any
        // other failure is tried once more.
        let mut outcome = self.write(&batch).await;
        let mut tries = 1;
        while let Err(e) = &outcome {
            let again = if e.is_connection() {
                tries <= self.pool.options().get_max_connections()
            } else {
                tries == 1 && matches!(e, Error::Database { .. })
            };
            if !again {
                break;
            }
            tracing::warn!(target: "flowflex_outbox", error = %e, "an enqueue batch failed; trying again");
            self.forget_count();
            outcome = self.write(&batch).await;
            tries += 1;
        }
        match outcome {
            Ok(answers) => {
                for (job, answer) in batch.into_iter().zip(answers) {
                    let _ = job.reply.send(answer);
                }
            }
            Err(e) => {
                self.forget_count();
                for job in batch {
                    let _ = job.reply.send(Err(e.again()));
                }
            }
        }
    }

    fn forget_count(&self) {
        *self
            .counted
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = None;
    }

    /// The pending count to check `batch` against: the one last read while
    /// it is fresh and the queue far from its caps, else read now.
    async fn pending(&self, conn: &mut PgConnection, batch: &[Job]) -> Result<PendingRow> {
        let (n, bytes) = batch.iter().fold((0i64, 0i64), |(n, b), job| {
            let (jn, jb) = super::weight(job.events.iter().map(|s| &s.event));
            (
                n + i64::try_from(jn).unwrap_or(i64::MAX),
                b.saturating_add(jb),
            )
        });
        let caps = batch.first().map(|j| j.caps);
        let far = |row: &PendingRow| {
            caps.is_some_and(|caps| {
                u64::try_from(row.n + n).unwrap_or(u64::MAX) <= caps.events / 2
                    && u64::try_from(row.bytes.saturating_add(bytes)).unwrap_or(u64::MAX)
                        <= caps.bytes / 2
            })
        };
        {
            let counted = self
                .counted
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Some((row, at)) = &*counted {
                if at.elapsed() < COUNT_FRESH_FOR && far(row) {
                    return Ok(PendingRow {
                        n: row.n,
                        bytes: row.bytes,
                    });
                }
            }
        }
        let row: PendingRow = sqlx::query_as(crate::store::sql::dynamic!(
            self.names.qualify(sql::PENDING)
        ))
        .fetch_one(&mut *conn)
        .await
        .map_err(Error::db("counting pending events"))?;
        *self
            .counted
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some((
            PendingRow {
                n: row.n,
                bytes: row.bytes,
            },
            std::time::Instant::now(),
        ));
        Ok(row)
    }

    async fn write(&self, batch: &[Job]) -> Result<Vec<Result<Ids>>> {
        let mut conn = self.pool.acquire().await.map_err(Error::db("enqueueing"))?;
        let start = self.pending(&mut conn, batch).await?;
        let mut counted = PendingRow {
            n: start.n,
            bytes: start.bytes,
        };
        let mut accepted: Vec<&Stored> = Vec::new();
        let mut answers: Vec<Option<Result<Ids>>> = Vec::with_capacity(batch.len());
        for job in batch {
            let (n, bytes) = super::weight(job.events.iter().map(|s| &s.event));
            match super::check_caps(&counted, n, bytes, job.caps) {
                Ok(()) => {
                    counted.n += i64::try_from(n).unwrap_or(0);
                    counted.bytes = counted.bytes.saturating_add(bytes);
                    accepted.extend(&job.events);
                    answers.push(None);
                }
                Err(full) => answers.push(Some(Err(full))),
            }
        }
        let ids = if accepted.is_empty() {
            Vec::new()
        } else {
            insert(&mut conn, &self.names, &accepted, &self.channel).await?
        };
        let added = counted.n - start.n;
        let added_bytes = counted.bytes - start.bytes;
        if let Some((row, _)) = &mut *self
            .counted
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
        {
            // Only what this writer stored: deliveries elsewhere lower the
            // count, so this errs high, never low.
            row.n += added;
            row.bytes = row.bytes.saturating_add(added_bytes);
        }
        let mut ids = ids.into_iter();
        Ok(batch
            .iter()
            .zip(answers)
            .map(|(job, answer)| {
                answer.unwrap_or_else(|| Ok(ids.by_ref().take(job.events.len()).collect()))
            })
            .collect())
    }
}
