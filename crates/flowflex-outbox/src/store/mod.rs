//! Where an outbox keeps its events: one type per database behind
//! [`Backend`], and [`Store`], the one face the rest of the crate sees.
//!
//! What differs between the databases is the backends' own: how content is
//! kept (a spool directory beside SQLite, chunks in PostgreSQL), how
//! writes are grouped (SQLite's single writer commits enqueues and relay
//! turns together; PostgreSQL's writer groups enqueues, and relays turn on
//! their own connections side by side), and how relays are woken. The
//! statements both run as they are (`sql/`) are bound once, here.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;

use crate::error::{Error, Result};
use crate::{DeadLetter, OutboxId, RelayInfo, Stats};

pub(crate) mod pg;
pub(crate) mod sql;
pub(crate) mod sqlite;
mod status;
mod writer;

pub(crate) use status::Status;

/// The caller's open transaction, for an enqueue in it.
pub(crate) use crate::enqueue::TxConn;

/// What each database does its own way.
pub(crate) trait Backend {
    /// Stores `events`, all or nothing, outside any caller's transaction,
    /// checked against `caps` as one; their ids in order (an event whose
    /// idempotency key is stored already gets the stored event's id).
    fn enqueue(
        &self,
        events: Vec<NewEvent>,
        caps: Caps,
    ) -> impl Future<Output = Result<Ids>> + Send;

    /// The same in the caller's open transaction: stored if and only if it
    /// commits.
    fn enqueue_in(
        &self,
        conn: TxConn<'_>,
        events: Vec<NewEvent>,
        caps: Caps,
    ) -> impl Future<Output = Result<Ids>> + Send;

    /// A relay's turn in one transaction: record its outcomes, then claim.
    fn turn(&self, turn: Turn) -> impl Future<Output = Result<Turned>> + Send;

    /// A local file holding an attachment's content for one upload.
    fn local_file(
        &self,
        id: i64,
        row: &AttachmentRow,
    ) -> impl Future<Output = Result<LocalFile>> + Send;

    /// Removes content that no row names and that is older than `before`
    /// (wall-clock ms): left by an enqueue that failed or crashed between
    /// storing it and committing its rows.
    fn collect_orphans(&self, before: i64) -> impl Future<Output = Result<u64>> + Send;
}

/// Where an outbox keeps its events.
#[derive(Debug, Clone)]
pub(crate) enum Store {
    Sqlite(Arc<sqlite::SqliteStore>),
    Postgres(Arc<pg::PgStore>),
}

/// Runs `$body` with `$pool` bound to whichever pool the store has and
/// `$q` to its way of naming the tables in a statement (PostgreSQL
/// qualifies them with the outbox's schema, when it has one): one text,
/// type-checked once per database.
macro_rules! both {
    ($store:expr, |$pool:ident, $q:ident| $body:expr) => {
        match $store {
            Store::Sqlite(s) => {
                let $pool = &s.pool;
                let $q = |text: &'static str| std::borrow::Cow::Borrowed(text);
                $body
            }
            Store::Postgres(s) => {
                let $pool = &s.pool;
                let $q = |text: &'static str| s.names.qualify(text);
                $body
            }
        }
    };
}

/// Dispatches a [`Backend`] method to the store's backend.
macro_rules! backend {
    ($store:expr, |$b:ident| $body:expr) => {
        match $store {
            Store::Sqlite($b) => $body,
            Store::Postgres($b) => $body,
        }
    };
}

/// Each enqueued event's id, and whether the enqueue stored it (`false`:
/// its idempotency key was stored already, by an earlier enqueue or an
/// earlier event of the same batch).
pub(crate) type Ids = Vec<(i64, bool)>;

/// The caps on pending events and bytes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Caps {
    pub(crate) events: u64,
    pub(crate) bytes: u64,
}

/// An event checked at enqueue, ready to store.
#[derive(Debug)]
pub(crate) struct NewEvent {
    pub(crate) event: String,
    pub(crate) key: String,
    pub(crate) body: Vec<u8>,
    pub(crate) slots: String,
    /// The body's and the used files' bytes, for the caps.
    pub(crate) bytes: i64,
    pub(crate) files: Vec<NewFile>,
    /// When it was enqueued, on the outbox's clock.
    pub(crate) now: i64,
    /// Events with one ordering key are delivered one at a time, in order.
    pub(crate) ordering_key: Option<String>,
}

/// One attachment of an event at enqueue.
#[derive(Debug)]
pub(crate) struct NewFile {
    /// The largest file the outbox takes (its `max_file_bytes`).
    pub(crate) cap: u64,
    pub(crate) filename: String,
    pub(crate) mime: String,
    pub(crate) size: i64,
    /// Where it first stands in the payload, for messages.
    pub(crate) path: String,
    /// Its content, when the body uses it (an attachment the JSON no
    /// longer references has a row but no content).
    pub(crate) source: Option<flowflex::Attachment>,
}

impl NewFile {
    fn used(&self) -> bool {
        self.source.is_some()
    }
}

/// An event a relay has claimed.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct ClaimedRow {
    pub(crate) id: i64,
    pub(crate) event: String,
    pub(crate) idempotency_key: String,
    pub(crate) body: Vec<u8>,
    pub(crate) slots: String,
    pub(crate) attempts: i32,
    pub(crate) created_at: i64,
    /// How many attachment rows it has: none to read when 0.
    pub(crate) attachments: i32,
    /// [`BodyFormat`] as stored.
    pub(crate) body_format: i16,
}

/// How a stored body holds its attachments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyFormat {
    /// As the SDK encoded it: a token where each attachment stands.
    Template,
    /// Plain JSON from `flowflex_outbox_enqueue`: each attachment's asset
    /// id goes at its payload path (in `slots`).
    Json,
}

impl BodyFormat {
    pub(crate) fn of(stored: i16) -> Option<BodyFormat> {
        match stored {
            0 => Some(BodyFormat::Template),
            1 => Some(BodyFormat::Json),
            _ => None,
        }
    }
}

/// A claimed event with its attachment rows, read in the claim's turn.
#[derive(Debug)]
pub(crate) struct Claimed {
    pub(crate) row: ClaimedRow,
    pub(crate) attachments: Vec<AttachmentRow>,
}

/// What a relay asks of a claim: up to `n` due events (on the outbox's
/// clock, `now`), held until `lease_until` (wall ms) by `relay`.
#[derive(Debug, Clone)]
pub(crate) struct Claim {
    pub(crate) n: usize,
    pub(crate) now: i64,
    pub(crate) lease_until: i64,
    pub(crate) relay: Arc<str>,
}

/// A relay's turn: the outcomes to record, then a claim (if any).
#[derive(Debug, Default)]
pub(crate) struct Turn {
    pub(crate) settled: Vec<Settled>,
    pub(crate) claim: Option<Claim>,
}

/// What a turn claimed, and, when it found none, when the next event not
/// yet due becomes due (outbox clock, ms).
#[derive(Debug, Default)]
pub(crate) struct Turned {
    pub(crate) claimed: Vec<Claimed>,
    pub(crate) next_due: Option<i64>,
}

/// How a delivery attempt ended, to be recorded with others in one
/// transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Settled {
    /// FlowFlex accepted it at `at`; `attachments`: whether it has rows to
    /// free; `enqueued_at`: when it was enqueued (or requeued), for the
    /// time it took.
    Delivered {
        id: i64,
        at: i64,
        attachments: bool,
        enqueued_at: i64,
    },
    /// Another attempt at `next_at`; `uploads` made on the way are kept for
    /// it (each attachment's index, asset id and upload time).
    Retry {
        id: i64,
        holder: Arc<str>,
        next_at: i64,
        error: String,
        uploads: Vec<(i32, String, i64)>,
    },
    /// A dead letter since `at`.
    Dead {
        id: i64,
        holder: Arc<str>,
        at: i64,
        error: String,
    },
}

impl Settled {
    pub(crate) fn id(&self) -> i64 {
        match self {
            Settled::Delivered { id, .. }
            | Settled::Retry { id, .. }
            | Settled::Dead { id, .. } => *id,
        }
    }
}

/// A turn's outcomes, sorted: the delivered events (each with when), which
/// each backend marks in bulk its own way, those of them with attachment
/// rows to free, and the retries and dead letters, a statement each.
#[derive(Debug, Default)]
pub(crate) struct Outcomes<'a> {
    pub(crate) delivered: Vec<(i64, i64)>,
    pub(crate) with_files: Vec<i64>,
    pub(crate) failed: Vec<&'a Settled>,
}

impl<'a> Outcomes<'a> {
    pub(crate) fn sort(settled: impl IntoIterator<Item = &'a Settled>) -> Outcomes<'a> {
        let mut out = Outcomes::default();
        for s in settled {
            match s {
                Settled::Delivered {
                    id,
                    at,
                    attachments,
                    ..
                } => {
                    out.delivered.push((*id, *at));
                    if *attachments {
                        out.with_files.push(*id);
                    }
                }
                Settled::Retry { .. } | Settled::Dead { .. } => out.failed.push(s),
            }
        }
        out
    }
}

/// Records a retry or a dead letter on `$conn` (either database): each
/// applies only while the relay that made the attempt still holds the
/// event's claim (lapsed or not), so one whose claim another relay took
/// never releases or buries the new holder's. A retry keeps the uploads
/// its attempt made. (Statements, not a function: `?` returns from the
/// caller, and no future holds the connection across lifetimes the
/// compiler cannot name.)
macro_rules! record_failed {
    ($conn:expr, $settled:expr, $q:expr) => {
        match $settled {
            crate::store::Settled::Retry {
                id,
                holder,
                next_at,
                error,
                uploads,
            } => {
                for (idx, asset, at) in uploads {
                    sqlx::query(crate::store::sql::dynamic!(($q)(
                        crate::store::sql::SET_ASSET
                    )))
                    .bind(asset.as_str())
                    .bind(*at)
                    .bind(*id)
                    .bind(*idx)
                    .execute(&mut *$conn)
                    .await
                    .map_err(crate::Error::db("recording an upload"))?;
                }
                sqlx::query(crate::store::sql::dynamic!(($q)(crate::store::sql::RETRY)))
                    .bind(*next_at)
                    .bind(error.as_str())
                    .bind(*id)
                    .bind(&**holder)
                    .bind(crate::store::Status::Pending.as_str())
                    .execute(&mut *$conn)
                    .await
                    .map_err(crate::Error::db("scheduling a retry"))?;
            }
            crate::store::Settled::Dead {
                id,
                holder,
                at,
                error,
            } => {
                sqlx::query(crate::store::sql::dynamic!(($q)(crate::store::sql::DEAD)))
                    .bind(*at)
                    .bind(error.as_str())
                    .bind(*id)
                    .bind(&**holder)
                    .bind(crate::store::Status::Pending.as_str())
                    .bind(crate::store::Status::Dead.as_str())
                    .execute(&mut *$conn)
                    .await
                    .map_err(crate::Error::db("moving to dead letters"))?;
            }
            crate::store::Settled::Delivered { .. } => {}
        }
    };
}
pub(crate) use record_failed;

/// An attachment of a claimed event.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct AttachmentRow {
    pub(crate) event_id: i64,
    pub(crate) idx: i32,
    pub(crate) filename: String,
    pub(crate) mime: String,
    pub(crate) size: i64,
    pub(crate) used: bool,
    /// Where its content is: a spool file's name (SQLite) or a blob's id
    /// (PostgreSQL chunks).
    pub(crate) blob: Option<String>,
    pub(crate) asset_id: Option<String>,
    pub(crate) uploaded_at: Option<i64>,
}

#[derive(Debug, sqlx::FromRow)]
struct StatusRow {
    status: String,
    n: i64,
    bytes: i64,
    oldest: Option<i64>,
}

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct PendingRow {
    pub(crate) n: i64,
    pub(crate) bytes: i64,
}

#[derive(Debug, sqlx::FromRow)]
struct DeadRow {
    id: i64,
    event: String,
    idempotency_key: String,
    attempts: i32,
    created_at: i64,
    finished_at: Option<i64>,
    last_error: Option<String>,
    ordering_key: Option<String>,
}

/// What the `metrics` feature's gauges show, read from the database so
/// that every replica reports the same.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Gauges {
    pub(crate) pending: u64,
    pub(crate) dead: u64,
    /// How long the oldest pending event has waited (outbox clock).
    pub(crate) oldest_pending: Option<std::time::Duration>,
}

#[derive(Debug, sqlx::FromRow)]
struct RelayRow {
    holder: String,
    name: String,
    host: String,
    pid: i64,
    started_at: i64,
    last_seen: i64,
    listener: Option<i32>,
}

/// Refuses `events` new events of `size` bytes in all if they would take
/// the queue past a cap.
pub(crate) fn check_caps(pending: &PendingRow, events: u64, size: i64, caps: Caps) -> Result<()> {
    let pending_events = u64::try_from(pending.n).unwrap_or(0);
    let pending_bytes = u64::try_from(pending.bytes).unwrap_or(0);
    let size = u64::try_from(size).unwrap_or(0);
    if pending_events.saturating_add(events) > caps.events
        || pending_bytes.saturating_add(size) > caps.bytes
    {
        return Err(Error::Full {
            pending_events,
            pending_bytes,
            max_events: caps.events,
            max_bytes: caps.bytes,
        });
    }
    Ok(())
}

/// The events' count and bytes, for [`check_caps`].
pub(crate) fn weight<'a>(events: impl Iterator<Item = &'a NewEvent>) -> (u64, i64) {
    events.fold((0, 0), |(n, bytes), e| {
        (n + 1, i64::saturating_add(bytes, e.bytes))
    })
}

/// Sorts `rows` (ordered by event id) into `claimed`, each event's in
/// `idx` order.
pub(crate) fn attach(claimed: Vec<ClaimedRow>, rows: Vec<AttachmentRow>) -> Vec<Claimed> {
    let mut by_event: std::collections::HashMap<i64, Vec<AttachmentRow>> =
        std::collections::HashMap::new();
    for row in rows {
        by_event.entry(row.event_id).or_default().push(row);
    }
    claimed
        .into_iter()
        .map(|row| Claimed {
            attachments: by_event.remove(&row.id).unwrap_or_default(),
            row,
        })
        .collect()
}

impl Store {
    /// The SQLite pool, if this is a SQLite outbox.
    pub(crate) fn sqlite_pool(&self) -> Option<&sqlx::SqlitePool> {
        match self {
            Store::Sqlite(s) => Some(&s.pool),
            Store::Postgres(_) => None,
        }
    }

    /// The PostgreSQL pool, if this is a PostgreSQL outbox.
    pub(crate) fn pg_pool(&self) -> Option<&sqlx::PgPool> {
        match self {
            Store::Postgres(s) => Some(&s.pool),
            Store::Sqlite(_) => None,
        }
    }

    /// "sqlite" or "postgres", for Debug.
    pub(crate) fn backend_name(&self) -> &'static str {
        match self {
            Store::Sqlite(_) => "sqlite",
            Store::Postgres(_) => "postgres",
        }
    }

    pub(crate) async fn enqueue(&self, events: Vec<NewEvent>, caps: Caps) -> Result<Ids> {
        backend!(self, |b| b.enqueue(events, caps).await)
    }

    pub(crate) async fn enqueue_in(
        &self,
        conn: TxConn<'_>,
        events: Vec<NewEvent>,
        caps: Caps,
    ) -> Result<Ids> {
        backend!(self, |b| b.enqueue_in(conn, events, caps).await)
    }

    pub(crate) async fn turn(&self, turn: Turn) -> Result<Turned> {
        backend!(self, |b| b.turn(turn).await)
    }

    pub(crate) async fn local_file(&self, id: i64, row: &AttachmentRow) -> Result<LocalFile> {
        backend!(self, |b| b.local_file(id, row).await)
    }

    pub(crate) async fn collect_orphans(&self, before: i64) -> Result<u64> {
        backend!(self, |b| b.collect_orphans(before).await)
    }

    /// Extends `holder`'s claim, or takes a lapsed one up again if no other
    /// relay has claimed the event since; `false` if another has.
    pub(crate) async fn renew(&self, id: i64, holder: &str, lease_until: i64) -> Result<bool> {
        let done = both!(self, |pool, q| sqlx::query(crate::store::sql::dynamic!(q(
            sql::RENEW
        )))
        .bind(lease_until)
        .bind(id)
        .bind(holder)
        .bind(Status::Pending.as_str())
        .execute(pool)
        .await
        .map(|r| r.rows_affected())
        .map_err(Error::db("renewing a claim")))?;
        Ok(done == 1)
    }

    /// Gives claims back (at shutdown), so another relay need not wait.
    pub(crate) async fn release(&self, relay: &str) -> Result<()> {
        both!(self, |pool, q| sqlx::query(crate::store::sql::dynamic!(q(
            sql::RELEASE
        )))
        .bind(relay)
        .bind(Status::Pending.as_str())
        .execute(pool)
        .await
        .map(drop)
        .map_err(Error::db("releasing claims")))
    }

    /// Forgets an event's uploads (the service said one is gone).
    pub(crate) async fn clear_assets(&self, id: i64) -> Result<()> {
        both!(self, |pool, q| sqlx::query(crate::store::sql::dynamic!(q(
            sql::CLEAR_ASSETS
        )))
        .bind(id)
        .execute(pool)
        .await
        .map(drop)
        .map_err(Error::db("forgetting uploads")))
    }

    pub(crate) async fn pending(&self) -> Result<PendingRow> {
        both!(self, |pool, q| sqlx::query_as::<_, PendingRow>(
            crate::store::sql::dynamic!(q(sql::PENDING))
        )
        .fetch_one(pool)
        .await
        .map_err(Error::db("counting pending events")))
    }

    /// Deletes up to `limit` delivered events that finished before
    /// `cutoff`, oldest first; how many it deleted.
    pub(crate) async fn prune_delivered(&self, cutoff: i64, limit: i64) -> Result<u64> {
        both!(self, |pool, q| sqlx::query(crate::store::sql::dynamic!(q(
            sql::PRUNE_DELIVERED
        )))
        .bind(cutoff)
        .bind(limit)
        .bind(Status::Delivered.as_str())
        .execute(pool)
        .await
        .map(|r| r.rows_affected())
        .map_err(Error::db("deleting delivered events")))
    }

    pub(crate) async fn stats(&self, now: i64, wall: i64) -> Result<Stats> {
        let rows = both!(self, |pool, q| sqlx::query_as::<_, StatusRow>(
            crate::store::sql::dynamic!(q(sql::STATS))
        )
        .fetch_all(pool)
        .await
        .map_err(Error::db("reading stats")))?;
        let mut stats = Stats::default();
        for row in rows {
            let n = u64::try_from(row.n).unwrap_or(0);
            match Status::parse(&row.status) {
                Some(Status::Pending) => {
                    stats.pending = n;
                    stats.pending_bytes = u64::try_from(row.bytes).unwrap_or(0);
                    stats.oldest_pending_age = row.oldest.map(|t| {
                        std::time::Duration::from_millis(u64::try_from(now - t).unwrap_or(0))
                    });
                }
                Some(Status::Delivered) => stats.delivered = n,
                Some(Status::Dead) => stats.dead = n,
                None => {}
            }
        }
        stats.relays = self.relays(wall).await?.len() as u64;
        stats.last_relay_seen = self.last_relay_seen().await?;
        if stats.dead > 0 && stats.pending > 0 {
            stats.held_back = self.held_back().await?;
        }
        Ok(stats)
    }

    pub(crate) async fn dead_letters(&self) -> Result<Vec<DeadLetter>> {
        let rows = both!(self, |pool, q| sqlx::query_as::<_, DeadRow>(
            crate::store::sql::dynamic!(q(sql::DEAD_LETTERS))
        )
        .bind(Status::Dead.as_str())
        .fetch_all(pool)
        .await
        .map_err(Error::db("listing dead letters")))?;
        Ok(rows
            .into_iter()
            .map(|r| DeadLetter {
                id: OutboxId(r.id),
                event: r.event,
                idempotency_key: r.idempotency_key,
                attempts: u32::try_from(r.attempts).unwrap_or(0),
                enqueued_at: from_millis(r.created_at),
                died_at: from_millis(r.finished_at.unwrap_or(r.created_at)),
                error: r.last_error.unwrap_or_default(),
                ordering_key: r.ordering_key,
            })
            .collect())
    }

    /// Puts a dead letter back in the queue, due now, its age counted anew.
    /// Writes first and reads only on a miss: SQLite never has to upgrade
    /// a read to a write.
    pub(crate) async fn requeue(&self, id: OutboxId, now: i64) -> Result<()> {
        let updated = both!(self, |pool, q| sqlx::query(crate::store::sql::dynamic!(q(
            sql::REQUEUE
        )))
        .bind(now)
        .bind(id.0)
        .bind(Status::Pending.as_str())
        .bind(Status::Dead.as_str())
        .execute(pool)
        .await
        .map(|r| r.rows_affected())
        .map_err(Error::db("requeueing")))?;
        self.dead_only(id, updated, "requeueing").await
    }

    /// After a statement that changes only a dead letter: `Ok` if it
    /// changed one, else why not (no such event, or not dead).
    async fn dead_only(&self, id: OutboxId, changed: u64, doing: &'static str) -> Result<()> {
        if changed == 1 {
            return Ok(());
        }
        let status: Option<(String,)> = both!(self, |pool, q| sqlx::query_as(
            crate::store::sql::dynamic!(q(sql::STATUS_OF))
        )
        .bind(id.0)
        .fetch_optional(pool)
        .await
        .map_err(Error::db(doing)))?;
        match status {
            None => Err(Error::NotFound(id)),
            Some((status,)) => Err(Error::NotDead { id, status }),
        }
    }

    /// Pending events held back by a dead letter of their ordering key.
    pub(crate) async fn held_back(&self) -> Result<u64> {
        let (held,): (i64,) = both!(self, |pool, q| sqlx::query_as(crate::store::sql::dynamic!(
            q(sql::HELD_BACK)
        ))
        .bind(Status::Pending.as_str())
        .bind(Status::Dead.as_str())
        .fetch_one(pool)
        .await
        .map_err(Error::db("counting held-back events")))?;
        Ok(u64::try_from(held).unwrap_or(0))
    }

    /// Deletes a dead letter.
    pub(crate) async fn discard(&self, id: OutboxId) -> Result<()> {
        let deleted = both!(self, |pool, q| sqlx::query(crate::store::sql::dynamic!(q(
            sql::DISCARD
        )))
        .bind(id.0)
        .bind(Status::Dead.as_str())
        .execute(pool)
        .await
        .map(|r| r.rows_affected())
        .map_err(Error::db("discarding a dead letter")))?;
        self.dead_only(id, deleted, "discarding a dead letter")
            .await
    }

    /// Says that relay `holder` is alive (at start, then with its leases).
    pub(crate) async fn heartbeat(&self, relay: &RelayInfo, lease_ms: i64) -> Result<()> {
        both!(self, |pool, q| sqlx::query(crate::store::sql::dynamic!(q(
            sql::HEARTBEAT
        )))
        .bind(&relay.holder)
        .bind(&relay.name)
        .bind(&relay.host)
        .bind(i64::from(relay.pid))
        .bind(crate::clock::millis(relay.started_at))
        .bind(lease_ms)
        .bind(relay.listener.and_then(|p| i32::try_from(p).ok()))
        .bind(crate::clock::wall_ms())
        .execute(pool)
        .await
        .map(drop)
        .map_err(Error::db("recording a relay's heartbeat")))
    }

    /// A relay that shuts down removes itself, and leaves when it was
    /// last seen (`wall`, ms).
    pub(crate) async fn unregister(&self, holder: &str, wall: i64) -> Result<()> {
        self.relays_gone(wall).await?;
        both!(self, |pool, q| sqlx::query(crate::store::sql::dynamic!(q(
            sql::UNREGISTER
        )))
        .bind(holder)
        .execute(pool)
        .await
        .map(drop)
        .map_err(Error::db("removing a relay")))
    }

    /// Keeps `seen` (wall ms) as the last sighting of a relay that has
    /// gone, unless a later one is kept.
    async fn relays_gone(&self, seen: i64) -> Result<()> {
        both!(self, |pool, q| sqlx::query(crate::store::sql::dynamic!(q(
            sql::RELAYS_GONE
        )))
        .bind(seen)
        .execute(pool)
        .await
        .map(drop)
        .map_err(Error::db("noting when a relay was last seen")))
    }

    /// When a relay was last seen alive (its heartbeat, or the last
    /// sighting of those gone); `None` if none has run here.
    pub(crate) async fn last_relay_seen(&self) -> Result<Option<SystemTime>> {
        let (seen,): (Option<i64>,) = both!(self, |pool, q| sqlx::query_as(
            crate::store::sql::dynamic!(q(sql::LAST_RELAY_SEEN))
        )
        .fetch_one(pool)
        .await
        .map_err(Error::db("reading when a relay was last seen")))?;
        Ok(seen.map(from_millis))
    }

    /// The outbox's gauges, from the database (see sql/gauges.sql); `now`
    /// on the outbox's clock. (The live relays are [`Store::relays`].)
    pub(crate) async fn gauges(&self, now: i64) -> Result<Gauges> {
        let (pending, dead, oldest): (i64, i64, Option<i64>) = both!(self, |pool, q| {
            sqlx::query_as(crate::store::sql::dynamic!(q(sql::GAUGES)))
                .bind(Status::Dead.as_str())
                .fetch_one(pool)
                .await
                .map_err(Error::db("reading the gauges"))
        })?;
        Ok(Gauges {
            pending: u64::try_from(pending).unwrap_or(0),
            dead: u64::try_from(dead).unwrap_or(0),
            oldest_pending: oldest
                .map(|t| std::time::Duration::from_millis(u64::try_from(now - t).unwrap_or(0))),
        })
    }

    /// Forgets relays not seen since `before` (killed without shutdown),
    /// keeping the last sighting among them.
    pub(crate) async fn forget_relays(&self, before: i64) -> Result<()> {
        let (seen,): (Option<i64>,) = both!(self, |pool, q| sqlx::query_as(
            crate::store::sql::dynamic!(q(sql::RELAYS_FORGOTTEN))
        )
        .bind(before)
        .fetch_one(pool)
        .await
        .map_err(Error::db("forgetting old relays")))?;
        let Some(seen) = seen else {
            return Ok(());
        };
        self.relays_gone(seen).await?;
        both!(self, |pool, q| sqlx::query(crate::store::sql::dynamic!(q(
            sql::FORGET_RELAYS
        )))
        .bind(before)
        .execute(pool)
        .await
        .map(drop)
        .map_err(Error::db("forgetting old relays")))
    }

    /// The relays alive at `wall` (ms), by holder.
    pub(crate) async fn relays(&self, wall: i64) -> Result<Vec<RelayInfo>> {
        let rows: Vec<RelayRow> = match self {
            Store::Sqlite(s) => {
                sqlx::query_as(sql::SQLITE_RELAYS)
                    .bind(wall)
                    .fetch_all(&s.pool)
                    .await
            }
            Store::Postgres(s) => {
                sqlx::query_as(crate::store::sql::dynamic!(s.names.qualify(sql::PG_RELAYS)))
                    .bind(wall)
                    .fetch_all(&s.pool)
                    .await
            }
        }
        .map_err(Error::db("listing relays"))?;
        Ok(rows
            .into_iter()
            .map(|r| RelayInfo {
                holder: r.holder,
                name: r.name,
                host: r.host,
                pid: u32::try_from(r.pid).unwrap_or(0),
                started_at: from_millis(r.started_at),
                last_seen: from_millis(r.last_seen),
                listener: r.listener.and_then(|p| u32::try_from(p).ok()),
            })
            .collect())
    }
}

/// Whether the database holds an outbox at this crate's version, without
/// changing anything: every migration of `migrator` applied (SQLite).
pub(crate) async fn check_migrated(
    conn: &mut sqlx::SqliteConnection,
    migrator: &sqlx::migrate::Migrator,
    place: &str,
) -> Result<()> {
    let table: Option<(String,)> = sqlx::query_as(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'",
    )
    .fetch_optional(&mut *conn)
    .await
    .map_err(Error::db("looking for the outbox"))?;
    let applied: Vec<(i64,)> = if table.is_some() {
        sqlx::query_as("SELECT version FROM _sqlx_migrations WHERE success ORDER BY version")
            .fetch_all(&mut *conn)
            .await
            .map_err(Error::db("looking for the outbox"))?
    } else {
        Vec::new()
    };
    compare_migrations(migrator, &applied, place)
}

/// The same on PostgreSQL, in `schema` or the search path.
pub(crate) async fn check_migrated_pg(
    conn: &mut sqlx::PgConnection,
    migrator: &sqlx::migrate::Migrator,
    schema: Option<&str>,
    place: &str,
) -> Result<()> {
    let table: Option<String> = sqlx::query_scalar(
        "SELECT to_regclass(CASE WHEN $1::TEXT IS NULL THEN '_sqlx_migrations' \
         ELSE quote_ident($1) || '._sqlx_migrations' END)::TEXT",
    )
    .bind(schema)
    .fetch_one(&mut *conn)
    .await
    .map_err(Error::db("looking for the outbox"))?;
    let applied: Vec<(i64,)> = match table {
        Some(table) => {
            let read = format!("SELECT version FROM {table} WHERE success ORDER BY version");
            sqlx::query_as(crate::store::sql::dynamic!(read))
                .fetch_all(&mut *conn)
                .await
                .map_err(Error::db("looking for the outbox"))?
        }
        None => Vec::new(),
    };
    compare_migrations(migrator, &applied, place)
}

/// What is missing of `migrator` in `applied`, as [`Error::NoOutbox`].
fn compare_migrations(
    migrator: &sqlx::migrate::Migrator,
    applied: &[(i64,)],
    place: &str,
) -> Result<()> {
    let ours: Vec<i64> = migrator.iter().map(|m| m.version).collect();
    let have: Vec<i64> = ours
        .iter()
        .copied()
        .filter(|v| applied.iter().any(|(a,)| a == v))
        .collect();
    if have.len() == ours.len() {
        return Ok(());
    }
    let newest = ours.last().copied().unwrap_or_default();
    Err(Error::NoOutbox {
        found: match have.last() {
            None => format!("no outbox in {place}"),
            Some(at) => format!(
                "the outbox in {place} is at migration {at}, and this version needs {newest}"
            ),
        },
    })
}

/// An attachment's content on local disk for one upload; a temporary copy
/// is removed on drop.
#[derive(Debug)]
pub(crate) struct LocalFile {
    pub(crate) path: PathBuf,
    pub(crate) temporary: bool,
}

impl Drop for LocalFile {
    fn drop(&mut self) {
        if self.temporary {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

pub(crate) fn from_millis(ms: i64) -> SystemTime {
    std::time::UNIX_EPOCH + std::time::Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}
