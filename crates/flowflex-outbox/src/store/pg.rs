//! PostgreSQL: rows and attachment content (bytea chunks) in the database,
//! so any replica can deliver any event; claims with `FOR UPDATE SKIP
//! LOCKED` and a lease that a dead relay's claim outlives only briefly.

use futures_util::StreamExt as _;
use sqlx::PgPool;
use sqlx::postgres::PgConnection;
use tokio::io::AsyncWriteExt as _;

use super::{
    AttachmentRow, Claim, Claimed, ClaimedRow, LocalFile, NewAttachment, NewEvent, PendingRow,
    Settled, Store,
};
use crate::error::{Error, Result};

/// Claims: `SKIP LOCKED` lets relays claim side by side without waiting on
/// each other or taking the same row.
const CLAIM_SQL: &str = "UPDATE flowflex_outbox_events \
     SET claimed_until = $1, claimed_by = $2, attempts = attempts + 1 \
     WHERE id IN (SELECT id FROM flowflex_outbox_events WHERE status = 'pending' \
       AND next_attempt_at <= $3 AND (claimed_until IS NULL OR claimed_until < $4) \
       ORDER BY next_attempt_at, id LIMIT $5 FOR UPDATE SKIP LOCKED) \
     RETURNING ";

/// Attachment content is stored in chunks of this size.
const CHUNK: usize = 1 << 20;

/// A PostgreSQL outbox's pool.
#[derive(Debug, Clone)]
pub(crate) struct PgStore {
    pub(crate) pool: PgPool,
}

pub(crate) async fn open(pool: PgPool) -> Result<Store> {
    let mut migrator = sqlx::migrate!("./migrations/postgres");
    // The service's own sqlx migrations may share the schema.
    migrator.set_ignore_missing(true);
    migrator.run(&pool).await.map_err(Error::Migrate)?;
    Ok(Store::Postgres(PgStore { pool }))
}

/// Inserts an event, its attachment rows and their content (streamed from
/// each attachment in chunks) on `conn`, inside a transaction the caller
/// commits; `(id, false)` if the idempotency key was already stored.
pub(crate) async fn insert(
    conn: &mut PgConnection,
    event: &NewEvent,
    attachments: &[(NewAttachment, Option<&flowflex::Attachment>)],
    max_file_bytes: u64,
    caps: (u64, u64),
) -> Result<(i64, bool)> {
    // The triggers' count, as committed (plus this transaction's own):
    // enqueues in flight elsewhere are not in it, so concurrent ones may
    // overshoot a cap by their number.
    let pending: PendingRow = sqlx::query_as(super::PENDING_SQL)
        .fetch_one(&mut *conn)
        .await
        .map_err(Error::db("counting pending events"))?;
    super::check_caps(&pending, event.bytes, caps)?;
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
    for (idx, (a, source)) in attachments.iter().enumerate() {
        let idx = i32::try_from(idx).unwrap_or(i32::MAX);
        sqlx::query(super::INSERT_ATTACHMENT_SQL)
            .bind(id)
            .bind(idx)
            .bind(&a.filename)
            .bind(&a.mime)
            .bind(a.size)
            .bind(a.used)
            .bind(&a.blob)
            .execute(&mut *conn)
            .await
            .map_err(Error::db("storing an attachment"))?;
        if let Some(source) = source {
            copy_in(conn, id, idx, source, max_file_bytes).await?;
        }
    }
    Ok((id, true))
}

/// Streams an attachment into chunk rows: at most two chunks in memory.
async fn copy_in(
    conn: &mut PgConnection,
    id: i64,
    idx: i32,
    source: &flowflex::Attachment,
    max_file_bytes: u64,
) -> Result<()> {
    let (_, mut stream) = flowflex::__outbox::open(source, max_file_bytes).await?;
    let mut buf = Vec::with_capacity(CHUNK);
    let mut seq = 0i32;
    loop {
        let next = stream.next().await;
        let done = next.is_none();
        if let Some(chunk) = next {
            let chunk = chunk.map_err(Error::io("reading attachment", source_name(source)))?;
            buf.extend_from_slice(&chunk);
        }
        while buf.len() >= CHUNK || (done && !buf.is_empty()) {
            let rest = if buf.len() > CHUNK {
                buf.split_off(CHUNK)
            } else {
                Vec::new()
            };
            sqlx::query(
                "INSERT INTO flowflex_outbox_chunks (event_id, idx, seq, data) VALUES ($1, $2, $3, $4)",
            )
            .bind(id)
            .bind(idx)
            .bind(seq)
            .bind(&buf)
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

/// A relay's turn in one transaction: record `settled`, then claim (if
/// asked) and read the claimed events' attachment rows.
pub(crate) async fn turn(
    pool: &PgPool,
    settled: &[Settled],
    claim: Option<&Claim>,
) -> Result<Vec<Claimed>> {
    let mut tx = pool
        .begin()
        .await
        .map_err(Error::db("recording deliveries"))?;
    let outcomes = super::Outcomes::sort(settled);
    for f in &outcomes.failed {
        f.query()
            .execute(&mut *tx)
            .await
            .map_err(Error::db(f.doing))?;
    }
    let with_files = outcomes.with_files;
    let (delivered, delivered_at): (Vec<i64>, Vec<i64>) = outcomes.delivered.into_iter().unzip();
    if !delivered.is_empty() {
        sqlx::query(
            "UPDATE flowflex_outbox_events e SET status = 'delivered', finished_at = d.at, \
             claimed_until = NULL, last_error = NULL \
             FROM UNNEST($1::BIGINT[], $2::BIGINT[]) AS d(id, at) WHERE e.id = d.id",
        )
        .bind(&delivered)
        .bind(&delivered_at)
        .execute(&mut *tx)
        .await
        .map_err(Error::db("marking delivered"))?;
    }
    if !with_files.is_empty() {
        // The chunks go with them (ON DELETE CASCADE).
        sqlx::query("DELETE FROM flowflex_outbox_attachments WHERE event_id = ANY($1)")
            .bind(&with_files)
            .execute(&mut *tx)
            .await
            .map_err(Error::db("freeing attachments"))?;
    }
    let mut claimed = Vec::new();
    if let Some(claim) = claim {
        let rows: Vec<ClaimedRow> =
            sqlx::query_as(&format!("{CLAIM_SQL}{}", super::CLAIMED_COLUMNS))
                .bind(claim.lease_until)
                .bind(&claim.relay)
                .bind(claim.now)
                .bind(crate::clock::wall_ms())
                .bind(i64::try_from(claim.n).unwrap_or(i64::MAX))
                .fetch_all(&mut *tx)
                .await
                .map_err(Error::db("claiming due events"))?;
        let with_files: Vec<i64> = rows
            .iter()
            .filter(|r| r.attachments > 0)
            .map(|r| r.id)
            .collect();
        let attachments: Vec<AttachmentRow> = if with_files.is_empty() {
            Vec::new()
        } else {
            sqlx::query_as(&format!(
                "SELECT {} FROM flowflex_outbox_attachments WHERE event_id = ANY($1) \
                 ORDER BY event_id, idx",
                super::ATTACHMENT_COLUMNS
            ))
            .bind(&with_files)
            .fetch_all(&mut *tx)
            .await
            .map_err(Error::db("reading attachments"))?
        };
        claimed = super::attach(rows, attachments);
    }
    tx.commit()
        .await
        .map_err(Error::db("recording deliveries"))?;
    Ok(claimed)
}

fn source_name(a: &flowflex::Attachment) -> String {
    a.filename().unwrap_or("attachment").to_owned()
}

impl PgStore {
    /// Streams an attachment's chunks into a temporary file for one upload.
    pub(crate) async fn local_file(&self, id: i64, row: &AttachmentRow) -> Result<LocalFile> {
        let path =
            std::env::temp_dir().join(format!("flowflex-outbox-{}", uuid::Uuid::new_v4().simple()));
        let local = LocalFile {
            path,
            temporary: true,
        };
        let mut file = tokio::fs::File::create(&local.path)
            .await
            .map_err(Error::io("creating", local.path.display()))?;
        let mut written = 0i64;
        let mut seq = 0i32;
        loop {
            let chunk: Option<(Vec<u8>,)> = sqlx::query_as(
                "SELECT data FROM flowflex_outbox_chunks WHERE event_id = $1 AND idx = $2 AND seq = $3",
            )
            .bind(id)
            .bind(row.idx)
            .bind(seq)
            .fetch_optional(&self.pool)
            .await
            .map_err(Error::db("reading attachment content"))?;
            let Some((data,)) = chunk else { break };
            written += i64::try_from(data.len()).unwrap_or(i64::MAX);
            file.write_all(&data)
                .await
                .map_err(Error::io("writing", local.path.display()))?;
            seq += 1;
        }
        file.flush()
            .await
            .map_err(Error::io("writing", local.path.display()))?;
        if written != row.size {
            return Err(Error::Corrupt {
                id: crate::OutboxId(id),
                message: format!(
                    "attachment {} holds {written} bytes, {} were stored",
                    row.idx, row.size
                ),
            });
        }
        Ok(local)
    }
}
