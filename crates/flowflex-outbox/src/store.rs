//! The tables, behind one face for both databases. Statements are written
//! once where SQLite and PostgreSQL agree (`$n` parameters, `RETURNING`,
//! `ON CONFLICT`) and per database where they do not (claims, blobs).

use std::path::PathBuf;

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
}

/// An attachment of a claimed event.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct AttachmentRow {
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

pub(crate) const PENDING_SQL: &str = "SELECT COUNT(*) AS n, CAST(COALESCE(SUM(bytes), 0) AS BIGINT) AS bytes \
     FROM flowflex_outbox_events WHERE status = 'pending'";

pub(crate) const INSERT_EVENT_SQL: &str = "INSERT INTO flowflex_outbox_events \
     (event, idempotency_key, body, slots, bytes, status, attempts, created_at, next_attempt_at) \
     VALUES ($1, $2, $3, $4, $5, 'pending', 0, $6, $6) \
     ON CONFLICT (idempotency_key) DO NOTHING RETURNING id";

pub(crate) const EXISTING_KEY_SQL: &str =
    "SELECT id FROM flowflex_outbox_events WHERE idempotency_key = $1";

pub(crate) const INSERT_ATTACHMENT_SQL: &str = "INSERT INTO flowflex_outbox_attachments \
     (event_id, idx, filename, mime, size, used, blob) VALUES ($1, $2, $3, $4, $5, $6, $7)";

impl Store {
    /// Claims up to `n` due events for `relay` until `lease_until` (wall ms).
    pub(crate) async fn claim(
        &self,
        n: usize,
        now: i64,
        lease_until: i64,
        relay: &str,
    ) -> Result<Vec<ClaimedRow>> {
        let limit = i64::try_from(n).unwrap_or(i64::MAX);
        let wall = crate::clock::wall_ms();
        let sql = match self {
            Store::Sqlite(_) => sqlite::CLAIM_SQL,
            Store::Postgres(_) => pg::CLAIM_SQL,
        };
        both!(self, |pool| sqlx::query_as::<_, ClaimedRow>(sql)
            .bind(lease_until)
            .bind(relay)
            .bind(now)
            .bind(wall)
            .bind(limit)
            .fetch_all(pool)
            .await
            .map_err(Error::db("claiming due events")))
    }

    /// Extends a claim; `false` if this relay no longer holds it.
    pub(crate) async fn renew(&self, id: i64, relay: &str, lease_until: i64) -> Result<bool> {
        let done = both!(self, |pool| sqlx::query(
            "UPDATE flowflex_outbox_events SET claimed_until = $1 \
             WHERE id = $2 AND claimed_by = $3 AND status = 'pending'"
        )
        .bind(lease_until)
        .bind(id)
        .bind(relay)
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

    pub(crate) async fn attachments(&self, id: i64) -> Result<Vec<AttachmentRow>> {
        both!(self, |pool| sqlx::query_as::<_, AttachmentRow>(
            "SELECT idx, filename, mime, size, used, blob, asset_id, uploaded_at \
             FROM flowflex_outbox_attachments WHERE event_id = $1 ORDER BY idx"
        )
        .bind(id)
        .fetch_all(pool)
        .await
        .map_err(Error::db("reading attachments")))
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

    /// Marks an event delivered and frees its attachments, in a
    /// transaction of its own. (A SQLite outbox's relay has its writer do
    /// this in a group commit instead: `sqlite::mark_delivered`.)
    pub(crate) async fn mark_delivered(&self, id: i64, now: i64) -> Result<()> {
        let blobs = both!(self, |pool| {
            let mut tx = pool.begin().await.map_err(Error::db("marking delivered"))?;
            sqlx::query(
                "UPDATE flowflex_outbox_events SET status = 'delivered', finished_at = $1, \
                 claimed_until = NULL, last_error = NULL WHERE id = $2",
            )
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(Error::db("marking delivered"))?;
            let blobs: Vec<(Option<String>,)> = sqlx::query_as(
                "DELETE FROM flowflex_outbox_attachments WHERE event_id = $1 RETURNING blob",
            )
            .bind(id)
            .fetch_all(&mut *tx)
            .await
            .map_err(Error::db("freeing attachments"))?;
            tx.commit().await.map_err(Error::db("marking delivered"))?;
            blobs
        });
        if let Store::Sqlite(s) = self {
            s.remove_blobs(blobs.into_iter().filter_map(|(b,)| b)).await;
        }
        Ok(())
    }

    /// Schedules another attempt.
    pub(crate) async fn mark_retry(&self, id: i64, next_at: i64, error: &str) -> Result<()> {
        both!(self, |pool| sqlx::query(
            "UPDATE flowflex_outbox_events SET next_attempt_at = $1, last_error = $2, \
             claimed_until = NULL, claimed_by = NULL WHERE id = $3 AND status = 'pending'"
        )
        .bind(next_at)
        .bind(error)
        .bind(id)
        .execute(pool)
        .await
        .map(drop)
        .map_err(Error::db("scheduling a retry")))
    }

    /// Moves an event to the dead letters, with the error that killed it.
    /// Its attachments stay, for a requeue.
    pub(crate) async fn mark_dead(&self, id: i64, now: i64, error: &str) -> Result<()> {
        both!(self, |pool| sqlx::query(
            "UPDATE flowflex_outbox_events SET status = 'dead', finished_at = $1, last_error = $2, \
             claimed_until = NULL, claimed_by = NULL WHERE id = $3 AND status = 'pending'"
        )
        .bind(now)
        .bind(error)
        .bind(id)
        .execute(pool)
        .await
        .map(drop)
        .map_err(Error::db("moving to dead letters")))
    }

    pub(crate) async fn pending(&self) -> Result<PendingRow> {
        both!(self, |pool| sqlx::query_as::<_, PendingRow>(PENDING_SQL)
            .fetch_one(pool)
            .await
            .map_err(Error::db("counting pending events")))
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
