//! The tables, behind one face for both databases. Statements are written
//! once where SQLite and PostgreSQL agree (`$n` parameters, `RETURNING`,
//! `ON CONFLICT`) and per database where they do not (claims, blobs,
//! batches).

use std::path::PathBuf;
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::{DeadLetter, OutboxId, Stats};

pub(crate) mod pg;
pub(crate) mod sqlite;

/// Runs `$body` with `$pool` bound to whichever pool the store has: one
/// text, type-checked once per database.
macro_rules! both {
    ($store:expr, |$pool:ident| $body:expr) => {
        match $store {
            $crate::store::Store::Sqlite(s) => {
                let $pool = &s.pool;
                $body
            }
            $crate::store::Store::Postgres(s) => {
                let $pool = &s.pool;
                $body
            }
        }
    };
}

/// Where an outbox keeps its rows.
#[derive(Debug, Clone)]
pub(crate) enum Store {
    Sqlite(sqlite::SqliteStore),
    Postgres(pg::PgStore),
}

/// An event as stored at enqueue.
#[derive(Debug)]
pub(crate) struct NewEvent {
    pub(crate) event: String,
    pub(crate) key: String,
    pub(crate) body: Vec<u8>,
    pub(crate) slots: String,
    pub(crate) bytes: i64,
    /// How many attachment rows go with it.
    pub(crate) attachments: i32,
    pub(crate) now: i64,
}

/// One attachment's row, as stored at enqueue.
#[derive(Debug)]
pub(crate) struct NewAttachment {
    pub(crate) filename: String,
    pub(crate) mime: String,
    pub(crate) size: i64,
    pub(crate) used: bool,
    /// The spool file (SQLite); PostgreSQL keeps chunks instead.
    pub(crate) blob: Option<String>,
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
}

/// A claimed event with its attachment rows, read in the claim's batch.
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
    pub(crate) relay: String,
}

/// How a delivery attempt ended, to be recorded with others in one
/// transaction.
#[derive(Debug)]
pub(crate) enum Settled {
    /// FlowFlex accepted it at `at`; `attachments`: whether it has rows to
    /// free.
    Delivered { id: i64, at: i64, attachments: bool },
    /// Another attempt at `next_at`.
    Retry {
        id: i64,
        holder: Arc<str>,
        next_at: i64,
        error: String,
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
/// rows to free, and the retries and dead letters, one statement each.
#[derive(Debug, Default)]
pub(crate) struct Outcomes<'a> {
    pub(crate) delivered: Vec<(i64, i64)>,
    pub(crate) with_files: Vec<i64>,
    pub(crate) failed: Vec<Failed<'a>>,
}

/// A retry or a dead letter: `sql` binds `time`, `error`, `id`, `holder`
/// (the same statements on both backends). Each applies only while the
/// relay that made the attempt still holds the event's claim (lapsed or
/// not): one whose claim another relay took must not release or bury the
/// new holder's.
#[derive(Debug)]
pub(crate) struct Failed<'a> {
    pub(crate) sql: &'static str,
    pub(crate) time: i64,
    pub(crate) error: &'a str,
    pub(crate) id: i64,
    /// The running relay that made the attempt (`claimed_by`).
    pub(crate) holder: &'a str,
    /// What the statement does, for its error.
    pub(crate) doing: &'static str,
}

impl<'a> Failed<'a> {
    /// The statement with its parameters bound in its order, for either
    /// backend.
    pub(crate) fn query<DB>(
        &self,
    ) -> sqlx::query::Query<'a, DB, <DB as sqlx::Database>::Arguments<'a>>
    where
        DB: sqlx::Database,
        i64: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
        &'a str: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    {
        sqlx::query(self.sql)
            .bind(self.time)
            .bind(self.error)
            .bind(self.id)
            .bind(self.holder)
    }
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
                } => {
                    out.delivered.push((*id, *at));
                    if *attachments {
                        out.with_files.push(*id);
                    }
                }
                Settled::Retry {
                    id,
                    holder,
                    next_at,
                    error,
                } => out.failed.push(Failed {
                    sql: RETRY_SQL,
                    time: *next_at,
                    error,
                    id: *id,
                    holder,
                    doing: "scheduling a retry",
                }),
                Settled::Dead {
                    id,
                    holder,
                    at,
                    error,
                } => out.failed.push(Failed {
                    sql: DEAD_SQL,
                    time: *at,
                    error,
                    id: *id,
                    holder,
                    doing: "moving to dead letters",
                }),
            }
        }
        out
    }
}

/// An attachment of a claimed event.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct AttachmentRow {
    pub(crate) event_id: i64,
    pub(crate) idx: i32,
    pub(crate) filename: String,
    pub(crate) mime: String,
    pub(crate) size: i64,
    pub(crate) used: bool,
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
}

/// The pending events and bytes, as the triggers keep them (one row on
/// SQLite, 64 on PostgreSQL): never a read of the queue itself.
pub(crate) const PENDING_SQL: &str = "SELECT CAST(COALESCE(SUM(events), 0) AS BIGINT) AS n, \
     CAST(COALESCE(SUM(bytes), 0) AS BIGINT) AS bytes FROM flowflex_outbox_pending";

pub(crate) const INSERT_EVENT_SQL: &str = "INSERT INTO flowflex_outbox_events \
     (event, idempotency_key, body, slots, bytes, attachments, status, attempts, created_at, \
      next_attempt_at) \
     VALUES ($1, $2, $3, $4, $5, $6, 'pending', 0, $7, $7) \
     ON CONFLICT (idempotency_key) DO NOTHING RETURNING id";

/// What every claim returns: all a delivery needs but the attachment rows.
pub(crate) const CLAIMED_COLUMNS: &str =
    "id, event, idempotency_key, body, slots, attempts, created_at, attachments";

pub(crate) const ATTACHMENT_COLUMNS: &str =
    "event_id, idx, filename, mime, size, used, blob, asset_id, uploaded_at";

pub(crate) const RETRY_SQL: &str = "UPDATE flowflex_outbox_events SET next_attempt_at = $1, \
     last_error = $2, claimed_until = NULL, claimed_by = NULL \
     WHERE id = $3 AND claimed_by = $4 AND status = 'pending'";

pub(crate) const DEAD_SQL: &str = "UPDATE flowflex_outbox_events SET status = 'dead', \
     finished_at = $1, last_error = $2, claimed_until = NULL, claimed_by = NULL \
     WHERE id = $3 AND claimed_by = $4 AND status = 'pending'";

/// Refuses an event of `size` bytes if it would take the queue past a cap.
pub(crate) fn check_caps(
    pending: &PendingRow,
    size: i64,
    (max_events, max_bytes): (u64, u64),
) -> Result<()> {
    let events = u64::try_from(pending.n).unwrap_or(0);
    let bytes = u64::try_from(pending.bytes).unwrap_or(0);
    let size = u64::try_from(size).unwrap_or(0);
    if events.saturating_add(1) > max_events || bytes.saturating_add(size) > max_bytes {
        return Err(Error::Full {
            pending_events: events,
            pending_bytes: bytes,
            max_events,
            max_bytes,
        });
    }
    Ok(())
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

pub(crate) const EXISTING_KEY_SQL: &str =
    "SELECT id FROM flowflex_outbox_events WHERE idempotency_key = $1";

pub(crate) const INSERT_ATTACHMENT_SQL: &str = "INSERT INTO flowflex_outbox_attachments \
     (event_id, idx, filename, mime, size, used, blob) VALUES ($1, $2, $3, $4, $5, $6, $7)";

impl Store {
    /// Extends `holder`'s claim, or takes a lapsed one up again if no other
    /// relay has claimed the event since; `false` if another has.
    pub(crate) async fn renew(&self, id: i64, holder: &str, lease_until: i64) -> Result<bool> {
        let done = both!(self, |pool| sqlx::query(
            "UPDATE flowflex_outbox_events SET claimed_until = $1 \
             WHERE id = $2 AND claimed_by = $3 AND status = 'pending'"
        )
        .bind(lease_until)
        .bind(id)
        .bind(holder)
        .execute(pool)
        .await
        .map(|r| r.rows_affected())
        .map_err(Error::db("renewing a claim")))?;
        Ok(done == 1)
    }

    /// Gives claims back (at shutdown), so another relay need not wait.
    pub(crate) async fn release(&self, relay: &str) -> Result<()> {
        both!(self, |pool| sqlx::query(
            "UPDATE flowflex_outbox_events SET claimed_until = NULL, claimed_by = NULL \
             WHERE claimed_by = $1 AND status = 'pending'"
        )
        .bind(relay)
        .execute(pool)
        .await
        .map(drop)
        .map_err(Error::db("releasing claims")))
    }

    /// Records an upload, so a later attempt reuses it while it is fresh.
    pub(crate) async fn set_asset(
        &self,
        id: i64,
        idx: i32,
        asset_id: &str,
        uploaded_at: i64,
    ) -> Result<()> {
        both!(self, |pool| sqlx::query(
            "UPDATE flowflex_outbox_attachments SET asset_id = $1, uploaded_at = $2 \
             WHERE event_id = $3 AND idx = $4"
        )
        .bind(asset_id)
        .bind(uploaded_at)
        .bind(id)
        .bind(idx)
        .execute(pool)
        .await
        .map(drop)
        .map_err(Error::db("recording an upload")))
    }

    /// Forgets an event's uploads (the service said one is gone).
    pub(crate) async fn clear_assets(&self, id: i64) -> Result<()> {
        both!(self, |pool| sqlx::query(
            "UPDATE flowflex_outbox_attachments SET asset_id = NULL, uploaded_at = NULL \
             WHERE event_id = $1"
        )
        .bind(id)
        .execute(pool)
        .await
        .map(drop)
        .map_err(Error::db("forgetting uploads")))
    }

    pub(crate) async fn pending(&self) -> Result<PendingRow> {
        both!(self, |pool| sqlx::query_as::<_, PendingRow>(PENDING_SQL)
            .fetch_one(pool)
            .await
            .map_err(Error::db("counting pending events")))
    }

    /// Deletes up to `limit` delivered events that finished before
    /// `cutoff`, oldest first; how many it deleted. (A delivered event's
    /// `next_attempt_at` is at most its `finished_at`: the redundant bound
    /// lets the due index find them.)
    pub(crate) async fn prune_delivered(&self, cutoff: i64, limit: i64) -> Result<u64> {
        both!(self, |pool| sqlx::query(
            "DELETE FROM flowflex_outbox_events WHERE id IN (SELECT id FROM flowflex_outbox_events \
             WHERE status = 'delivered' AND next_attempt_at < $1 AND finished_at < $1 \
             ORDER BY next_attempt_at LIMIT $2)"
        )
        .bind(cutoff)
        .bind(limit)
        .execute(pool)
        .await
        .map(|r| r.rows_affected())
        .map_err(Error::db("deleting delivered events")))
    }

    pub(crate) async fn stats(&self, now: i64) -> Result<Stats> {
        let rows = both!(self, |pool| sqlx::query_as::<_, StatusRow>(
            "SELECT status, COUNT(*) AS n, CAST(COALESCE(SUM(bytes), 0) AS BIGINT) AS bytes, \
             MIN(created_at) AS oldest FROM flowflex_outbox_events GROUP BY status"
        )
        .fetch_all(pool)
        .await
        .map_err(Error::db("reading stats")))?;
        let mut stats = Stats::default();
        for row in rows {
            let n = u64::try_from(row.n).unwrap_or(0);
            match row.status.as_str() {
                "pending" => {
                    stats.pending = n;
                    stats.pending_bytes = u64::try_from(row.bytes).unwrap_or(0);
                    stats.oldest_pending_age = row.oldest.map(|t| {
                        std::time::Duration::from_millis(u64::try_from(now - t).unwrap_or(0))
                    });
                }
                "delivered" => stats.delivered = n,
                "dead" => stats.dead = n,
                _ => {}
            }
        }
        Ok(stats)
    }

    pub(crate) async fn dead_letters(&self) -> Result<Vec<DeadLetter>> {
        let rows = both!(self, |pool| sqlx::query_as::<_, DeadRow>(
            "SELECT id, event, idempotency_key, attempts, created_at, finished_at, last_error \
             FROM flowflex_outbox_events WHERE status = 'dead' ORDER BY id"
        )
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
            })
            .collect())
    }

    /// Puts a dead letter back in the queue, due now, its age counted anew.
    /// Writes first and reads only on a miss: SQLite never has to upgrade
    /// a read to a write.
    pub(crate) async fn requeue(&self, id: OutboxId, now: i64) -> Result<()> {
        let updated = both!(self, |pool| sqlx::query(
            "UPDATE flowflex_outbox_events SET status = 'pending', attempts = 0, \
             created_at = $1, next_attempt_at = $1, finished_at = NULL, \
             claimed_until = NULL, claimed_by = NULL WHERE id = $2 AND status = 'dead'"
        )
        .bind(now)
        .bind(id.0)
        .execute(pool)
        .await
        .map(|r| r.rows_affected())
        .map_err(Error::db("requeueing")))?;
        if updated == 1 {
            return Ok(());
        }
        let status: Option<(String,)> = both!(self, |pool| sqlx::query_as(
            "SELECT status FROM flowflex_outbox_events WHERE id = $1"
        )
        .bind(id.0)
        .fetch_optional(pool)
        .await
        .map_err(Error::db("requeueing")))?;
        match status {
            None => Err(Error::NotFound(id)),
            Some((status,)) => Err(Error::NotDead { id, status }),
        }
    }

    /// A local file holding an attachment's content: the spool file itself
    /// (SQLite), or a temporary copy streamed from the chunks (PostgreSQL).
    pub(crate) async fn local_file(&self, id: i64, row: &AttachmentRow) -> Result<LocalFile> {
        match self {
            Store::Sqlite(s) => s.local_file(id, row),
            Store::Postgres(s) => s.local_file(id, row).await,
        }
    }
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

pub(crate) fn from_millis(ms: i64) -> std::time::SystemTime {
    std::time::UNIX_EPOCH + std::time::Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}
