//! The relay: claims due events, uploads what needs uploading, posts each
//! event with its fixed idempotency key, and records the outcome.
//!
//! The relay's loop talks to the database in turns: each turn records the
//! outcomes of every delivery that ended since the last one and claims
//! events to refill the relay, in one transaction (on SQLite, in the
//! writer's group commit). Per event, the database sees a share of that
//! transaction and nothing else unless the event has attachments.
//!
//! Turns run beside the deliveries, never between them: the relay holds up
//! to `CLAIMED_PER_SLOT` claims per delivery slot (in flight and ready),
//! so a slot that frees starts its next event at once instead of waiting
//! for a turn. A turn is a handful of round trips to the database's thread
//! and a commit; on a busy machine each round trip waits for a core, and a
//! turn took 10 to 40 ms against a delivery's 5 to 10 ms (64 in flight, the
//! emulator on loopback). With one ready event per slot the relay ran dry
//! during every turn and delivered 0.63x what `send_event` does; with seven
//! it stays fed.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use flowflex::{Attachment, Client};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};
use tracing::Instrument as _;

use crate::clock::{millis, ms, wall_ms};
use crate::error::{Error, Result};
use crate::store::{AttachmentRow, Claim, Claimed, ClaimedRow, Settled, Store};
use crate::{Outbox, OutboxId};

/// Claims a relay holds per delivery slot: one in flight, the rest ready
/// to start the moment a slot frees (see the module's notes).
const CLAIMED_PER_SLOT: usize = 8;

/// How often a relay deletes the delivered events past
/// `keep_delivered` (and once when it starts).
const PRUNE_EVERY: Duration = Duration::from_secs(60);

/// How a relay runs; from [`Outbox::relay`], started with
/// [`spawn`](Relay::spawn).
///
/// ```no_run
/// # async fn demo(outbox: flowflex_outbox::Outbox, client: flowflex::Client) -> flowflex_outbox::Result<()> {
/// use std::time::Duration;
///
/// let relay = outbox
///     .relay(client)
///     .concurrency(8)
///     .lease(Duration::from_secs(60))
///     .spawn();
/// relay.flush(Duration::from_secs(30)).await?;
/// relay.shutdown().await;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
#[must_use = "a relay does nothing until spawned"]
pub struct Relay {
    outbox: Outbox,
    client: Client,
    concurrency: usize,
    poll_interval: Duration,
    lease: Duration,
    name: String,
    /// Who holds this relay's claims (`claimed_by`): its name and a
    /// random suffix drawn at [`spawn`](Relay::spawn), so that two relays
    /// spawned with one name, or a relay restarted under its old name,
    /// never take each other's claims for their own.
    holder: Arc<str>,
}

impl Relay {
    pub(crate) fn new(outbox: Outbox, client: Client) -> Self {
        Relay {
            outbox,
            client,
            concurrency: 8,
            poll_interval: Duration::from_millis(500),
            lease: Duration::from_secs(60),
            name: format!("relay-{}", uuid::Uuid::new_v4().simple()),
            holder: Arc::from(""),
        }
    }

    /// How many events are delivered at once (default 8).
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = n.max(1);
        self
    }

    /// How often the outbox is polled for due events when nothing wakes the
    /// relay (default 500 ms). Enqueues through the same [`Outbox`] wake it
    /// at once; other processes' enqueues are seen at the next poll.
    pub fn poll_interval(mut self, d: Duration) -> Self {
        self.poll_interval = d.max(Duration::from_millis(1));
        self
    }

    /// How long a claim lasts without renewal (default 60 s). The relay
    /// renews its claims every third of it while delivering; a relay that
    /// dies loses its claims when they lapse, and another relay takes over.
    pub fn lease(mut self, d: Duration) -> Self {
        self.lease = d.max(Duration::from_millis(30));
        self
    }

    /// The relay's name in claims and logs (default `relay-<uuid>`).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Starts delivering in a background task on the current Tokio runtime.
    ///
    /// # Panics
    ///
    /// Outside a Tokio runtime.
    pub fn spawn(mut self) -> RelayHandle {
        self.holder = format!("{}#{:016x}", self.name, fastrand::u64(..)).into();
        let (stop, stopped) = watch::channel(false);
        let outbox = self.outbox.clone();
        let state = Arc::new(self);
        let task = tokio::spawn(run(state, stopped));
        RelayHandle { outbox, stop, task }
    }
}

/// A running relay. Dropping it leaves the relay running in the background
/// until the runtime ends; [`shutdown`](RelayHandle::shutdown) stops it.
#[derive(Debug)]
pub struct RelayHandle {
    outbox: Outbox,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl RelayHandle {
    /// Waits until no event is pending (dead letters do not count), up to
    /// `timeout`. Wakes the relay first, so due events go now.
    ///
    /// # Errors
    ///
    /// [`Error::FlushTimeout`] with the number still pending; or a database
    /// error.
    pub async fn flush(&self, timeout: Duration) -> Result<()> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            self.outbox.inner.wake.notify_waiters();
            let pending = self.outbox.inner.store.pending().await?;
            if pending.n == 0 {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(Error::FlushTimeout {
                    after: timeout,
                    pending: u64::try_from(pending.n).unwrap_or(0),
                });
            }
            // Looks again when a relay of this outbox records outcomes, or
            // after 20 ms (relays elsewhere, or none).
            let _ = tokio::time::timeout_at(
                deadline.min(tokio::time::Instant::now() + Duration::from_millis(20)),
                self.outbox.inner.turned.notified(),
            )
            .await;
        }
    }

    /// Stops claiming, lets deliveries in flight finish, gives the rest of
    /// its claims back, and returns when the relay has stopped. Pending
    /// events stay in the outbox for the next relay.
    pub async fn shutdown(self) {
        self.stop.send_replace(true);
        let _ = self.task.await;
    }
}

async fn run(relay: Arc<Relay>, mut stop: watch::Receiver<bool>) {
    let inner = &relay.outbox.inner;
    let n = relay.concurrency;
    // Deliveries in flight, and the event each delivers.
    let mut tasks: JoinSet<Option<Settled>> = JoinSet::new();
    let mut delivering: HashMap<tokio::task::Id, i64> = HashMap::with_capacity(n);
    // Claimed, waiting for a slot (at most `(CLAIMED_PER_SLOT - 1) * n`),
    // with when their leases started.
    let mut ready: VecDeque<(Instant, Claimed)> = VecDeque::with_capacity(n);
    // The events this relay holds, ready or in flight, from the turn that
    // claims one until the turn that records its outcome. A turn may claim
    // one of them again: its lease lapsed while it waited for a slot or
    // while a renewal was late, and nobody else took it, so it is still
    // this relay's claim. That is the same claim, extended, never a second
    // delivery.
    let mut held: HashSet<i64> = HashSet::with_capacity(CLAIMED_PER_SLOT * n);
    // Outcomes not yet recorded (at most one per slot and per ready event).
    let mut settled = Vec::with_capacity(n);
    // The turn in flight (at most one): its result, how many it asked for,
    // and when its claims' leases started; and the events whose outcomes
    // it records.
    let mut turns: JoinSet<(Result<Vec<Claimed>>, usize, Instant)> = JoinSet::new();
    let mut recording: Vec<i64> = Vec::new();
    // Whether to claim: not after a claim found fewer events than it asked
    // for, until a delivery ends, a poll comes due or an enqueue wakes us.
    let mut claim_more = true;
    // Deleting old delivered events: beside the rest, at most one at once.
    let mut prunes: JoinSet<()> = JoinSet::new();
    let mut prune_at = Instant::now();
    loop {
        let stopping = *stop.borrow();
        while prunes.try_join_next().is_some() {}
        if !stopping && prunes.is_empty() && Instant::now() >= prune_at {
            prune_at = Instant::now() + PRUNE_EVERY;
            let outbox = relay.outbox.clone();
            prunes.spawn(async move {
                match outbox.prune().await {
                    Ok(0) => {}
                    Ok(n) => tracing::debug!(target: "flowflex_outbox", deleted = n, "old delivered events deleted"),
                    Err(e) => tracing::warn!(target: "flowflex_outbox", error = %e, "deleting old delivered events failed"),
                }
            });
        }
        while let Some(done) = tasks.try_join_next_with_id() {
            ended(done, &mut delivering, &mut held, &mut settled);
        }
        if !stopping {
            while tasks.len() < n {
                let Some((leased_at, claimed)) = ready.pop_front() else {
                    break;
                };
                let id = claimed.row.id;
                let task = tasks.spawn(deliver(Arc::clone(&relay), claimed, leased_at));
                delivering.insert(task.id(), id);
            }
        }
        if turns.is_empty() {
            let want = if stopping || !claim_more {
                0
            } else if tasks.is_empty() && ready.is_empty() {
                // Idle: a smaller first claim starts deliveries sooner;
                // the turns beside them fill up the rest.
                2 * n
            } else {
                (CLAIMED_PER_SLOT * n).saturating_sub(tasks.len() + ready.len())
            };
            if want > 0 || !settled.is_empty() {
                // Read before the lease's end is: a claim's age counts from
                // here, not from when the turn's commit came back, so a
                // slow turn cannot make a lapsed claim look fresh.
                let leased_at = Instant::now();
                let claim = (want > 0).then(|| Claim {
                    n: want,
                    now: millis(inner.config.clock.now()),
                    lease_until: wall_ms() + ms(relay.lease),
                    relay: relay.holder.to_string(),
                });
                recording.extend(settled.iter().map(Settled::id));
                let (outbox, settled) = (relay.outbox.clone(), std::mem::take(&mut settled));
                turns.spawn(async move { (turn(&outbox, settled, claim).await, want, leased_at) });
            } else if stopping && tasks.is_empty() {
                break;
            }
        }
        tokio::select! {
            Some(done) = turns.join_next() => {
                // Recorded (or, if the turn failed, lost with it: their
                // claims lapse and another attempt follows, under the same
                // key); either way no longer this relay's.
                for id in recording.drain(..) {
                    held.remove(&id);
                }
                match done {
                    Ok((Ok(claimed), want, leased_at)) => {
                        // Outcomes are recorded: a `flush` waiting looks again.
                        inner.turned.notify_waiters();
                        claim_more = want > 0 && claimed.len() == want;
                        for c in claimed {
                            if held.insert(c.row.id) {
                                ready.push_back((leased_at, c));
                            }
                        }
                    }
                    Ok((Err(e), _, _)) => {
                        claim_more = false;
                        tracing::warn!(target: "flowflex_outbox", error = %e, "claiming or recording failed");
                    }
                    Err(e) => {
                        claim_more = false;
                        tracing::warn!(target: "flowflex_outbox", error = %e, "claiming or recording failed");
                    }
                }
            }
            Some(done) = tasks.join_next_with_id() => {
                ended(done, &mut delivering, &mut held, &mut settled);
                claim_more = true;
            }
            () = tokio::time::sleep(relay.poll_interval), if !stopping => claim_more = true,
            () = inner.wake.notified(), if !stopping => claim_more = true,
            _ = stop.changed(), if !stopping => {}
            // Not reached (stopping with nothing in flight breaks above);
            // here so that select! cannot panic.
            else => break,
        }
    }
    // Events claimed but not started go back with the rest of the claims.
    if let Err(e) = inner.store.release(&relay.holder).await {
        tracing::warn!(target: "flowflex_outbox", error = %e, "releasing claims failed");
    }
}

/// A delivery ended: its outcome waits for the next turn; an event left
/// or lost (no outcome) is no longer this relay's.
fn ended(
    done: std::result::Result<(tokio::task::Id, Option<Settled>), tokio::task::JoinError>,
    delivering: &mut HashMap<tokio::task::Id, i64>,
    held: &mut HashSet<i64>,
    settled: &mut Vec<Settled>,
) {
    let (task, outcome) = match done {
        Ok((task, outcome)) => (task, outcome),
        Err(e) => (e.id(), None),
    };
    let id = delivering.remove(&task);
    match (outcome, id) {
        (Some(outcome), _) => settled.push(outcome),
        (None, Some(id)) => {
            held.remove(&id);
        }
        (None, None) => {}
    }
}

/// Records `settled` and claims (if asked), in one transaction: on SQLite
/// through the writer, with whatever else it commits.
async fn turn(
    outbox: &Outbox,
    settled: Vec<Settled>,
    claim: Option<Claim>,
) -> Result<Vec<Claimed>> {
    let inner = &outbox.inner;
    match (&inner.store, &inner.writer) {
        (Store::Sqlite(_), Some(writer)) => {
            let stopped = || Error::Database {
                doing: "recording deliveries",
                message: "the outbox's writer has stopped".into(),
                source: None,
            };
            let (reply, answer) = tokio::sync::oneshot::channel();
            writer
                .send(crate::store::sqlite::Job::Relay(settled, claim, reply))
                .await
                .map_err(|_| stopped())?;
            answer.await.map_err(|_| stopped())?
        }
        (Store::Postgres(s), _) => crate::store::pg::turn(&s.pool, &settled, claim.as_ref()).await,
        (Store::Sqlite(_), None) => Err(Error::Config("the SQLite outbox has no writer".into())),
    }
}

/// Why an attempt failed, and what follows from it.
struct Failure {
    message: String,
    retry_after: Option<Duration>,
    permanent: bool,
    /// The cause is already dealt with: try again after the shortest wait.
    soon: bool,
}

impl From<Error> for Failure {
    /// A store failure during delivery: retried; a corrupt row is not.
    fn from(e: Error) -> Self {
        Failure {
            permanent: matches!(e, Error::Corrupt { .. }),
            message: e.to_string(),
            retry_after: None,
            soon: false,
        }
    }
}

/// Whether FlowFlex could accept the event later without anything
/// changing: 408, 429, 5xx and network failures yes; 401/403, refused types
/// or sizes and other 4xx no; a file the relay cannot read no.
fn is_permanent(e: &flowflex::Error) -> bool {
    match e.status() {
        Some(408 | 429) => false,
        Some(s) if (400..500).contains(&s) => true,
        Some(_) => false,
        None => matches!(
            e,
            flowflex::Error::Attachment { .. }
                | flowflex::Error::Config { .. }
                | flowflex::Error::Payload { .. }
        ),
    }
}

fn failure(e: &flowflex::Error) -> Failure {
    Failure {
        message: e.to_string(),
        retry_after: e.retry_after(),
        permanent: is_permanent(e),
        soon: false,
    }
}

/// Delivers one claimed event; the outcome, for the loop to record, or
/// `None` if the claim was lost to another relay (after it lapsed) or
/// could not be renewed before starting. `leased_at` is when the claim's
/// lease started, at the latest.
async fn deliver(relay: Arc<Relay>, claimed: Claimed, leased_at: Instant) -> Option<Settled> {
    let Claimed {
        mut row,
        attachments,
    } = claimed;
    let span = tracing::info_span!(
        target: "flowflex_outbox",
        "flowflex_outbox.deliver",
        outbox_id = row.id,
        event = %row.event,
        idempotency_key = %row.idempotency_key,
        attempt = row.attempts,
        relay = %relay.name,
    );
    async {
        let store = &relay.outbox.inner.store;
        let body = std::mem::take(&mut row.body);
        let waited = leased_at.elapsed();
        if waited >= relay.lease / 3 {
            // It waited for a slot a renewal period or more, and its lease
            // may have lapsed: extend it, or take it up again if no other
            // relay claimed the event meanwhile; leave it if one did.
            let until = wall_ms() + ms(relay.lease);
            match store.renew(row.id, &relay.holder, until).await {
                Ok(true) => {}
                Ok(false) => {
                    tracing::warn!("claim lost while waiting for a slot; leaving the event");
                    return None;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "renewing the claim failed; leaving the event");
                    return None;
                }
            }
        }
        let renew = async {
            loop {
                tokio::time::sleep(relay.lease / 3).await;
                let until = wall_ms() + ms(relay.lease);
                match store.renew(row.id, &relay.holder, until).await {
                    Ok(true) => {}
                    Ok(false) => return,
                    Err(e) => tracing::warn!(error = %e, "renewing the claim failed"),
                }
            }
        };
        let outcome = tokio::select! {
            outcome = attempt(&relay, &row, body, &attachments) => outcome,
            () = renew => {
                tracing::warn!("claim lost (lease lapsed); leaving the event to its new holder");
                return None;
            }
        };
        Some(settle(&relay, &row, outcome))
    }
    .instrument(span)
    .await
}

/// What to record of an attempt's outcome.
fn settle(relay: &Relay, row: &ClaimedRow, outcome: Result<(), Failure>) -> Settled {
    let inner = &relay.outbox.inner;
    let config = &inner.config;
    let now = millis(config.clock.now());
    match outcome {
        Ok(()) => {
            tracing::info!("delivered");
            Settled::Delivered {
                id: row.id,
                at: now,
                attachments: row.attachments > 0,
            }
        }
        Err(f) if f.permanent => {
            tracing::warn!(error = %f.message, "permanent failure: moved to dead letters");
            Settled::Dead {
                id: row.id,
                holder: Arc::clone(&relay.holder),
                at: now,
                error: f.message,
            }
        }
        Err(f) => {
            let age = Duration::from_millis(u64::try_from(now - row.created_at).unwrap_or(0));
            if age >= config.max_age {
                let message = format!(
                    "undelivered after {} h (max age {} h); last error: {}",
                    age.as_secs() / 3600,
                    config.max_age.as_secs() / 3600,
                    f.message
                );
                tracing::warn!(error = %message, "too old: moved to dead letters");
                return Settled::Dead {
                    id: row.id,
                    holder: Arc::clone(&relay.holder),
                    at: now,
                    error: message,
                };
            }
            let attempts = u32::try_from(row.attempts).unwrap_or(1);
            let backoff = if f.soon {
                config.initial_backoff
            } else {
                let mut rng = inner
                    .rng
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                config.backoff(attempts, &mut rng)
            };
            let wait = backoff.max(f.retry_after.unwrap_or_default());
            tracing::warn!(error = %f.message, wait_ms = ms(wait), "delivery failed; will retry");
            Settled::Retry {
                id: row.id,
                holder: Arc::clone(&relay.holder),
                next_at: now + ms(wait),
                error: f.message,
            }
        }
    }
}

/// One delivery attempt: reuse fresh uploads, upload the rest, post.
async fn attempt(
    relay: &Relay,
    row: &ClaimedRow,
    body: Vec<u8>,
    attachments: &[AttachmentRow],
) -> Result<(), Failure> {
    let store = &relay.outbox.inner.store;
    let body = if row.attachments == 0 {
        // Stored without attachments, the body holds no token: it is the
        // request as it is, moved rather than copied.
        Bytes::from(body)
    } else {
        with_assets(relay, row, body, attachments).await?
    };
    match flowflex::__outbox::post_event(&relay.client, &row.event, &row.idempotency_key, body)
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if e.code() == Some("ASSET_FILE_MISSING") => {
            // FlowFlex no longer has an upload this event names: upload
            // afresh next time.
            store.clear_assets(row.id).await?;
            Err(Failure {
                message: e.to_string(),
                retry_after: None,
                permanent: false,
                soon: true,
            })
        }
        Err(e) => Err(failure(&e)),
    }
}

/// The body with each attachment's asset id in its place: uploads reused
/// while fresh, the rest uploaded now.
async fn with_assets(
    relay: &Relay,
    row: &ClaimedRow,
    body: Vec<u8>,
    attachments: &[AttachmentRow],
) -> Result<Bytes, Failure> {
    let config = &relay.outbox.inner.config;
    let store = &relay.outbox.inner.store;
    if usize::try_from(row.attachments).ok() != Some(attachments.len()) {
        return Err(corrupt(
            row.id,
            format!(
                "{} attachment rows found, {} were stored",
                attachments.len(),
                row.attachments
            ),
        ));
    }
    let fresh_for = ms(config.asset_lifetime.saturating_sub(config.asset_margin));
    let mut ids = Vec::with_capacity(attachments.len());
    for a in attachments {
        if !a.used {
            ids.push(None);
            continue;
        }
        let now = millis(config.clock.now());
        match (&a.asset_id, a.uploaded_at) {
            (Some(id), Some(at)) if now - at < fresh_for => {
                ids.push(Some(flowflex::__outbox::asset_id(id.clone())));
            }
            _ => {
                let id = upload(relay, store, row.id, a).await?;
                store.set_asset(row.id, a.idx, id.as_str(), now).await?;
                ids.push(Some(id));
            }
        }
    }
    let slots: Vec<(String, usize)> =
        serde_json::from_str(&row.slots).map_err(|e| corrupt(row.id, e))?;
    let placeholders = attachments
        .iter()
        .map(|a| Attachment::from_bytes(Vec::new(), a.filename.clone()))
        .collect();
    let template = flowflex::__outbox::Template::from_parts(Bytes::from(body), placeholders, slots)
        .map_err(|e| corrupt(row.id, e))?;
    template.body(&ids).map_err(|e| corrupt(row.id, e))
}

async fn upload(
    relay: &Relay,
    store: &Store,
    id: i64,
    a: &AttachmentRow,
) -> Result<flowflex::AssetId, Failure> {
    let mime: flowflex::Mime = a.mime.parse().map_err(|e| corrupt(id, e))?;
    let local = store.local_file(id, a).await?;
    let attachment = Attachment::from_path(&local.path)
        .with_filename(a.filename.clone())
        .with_mime(mime);
    let uploaded = relay.client.upload(&attachment).await;
    drop(local);
    uploaded.map_err(|e| failure(&e))
}

fn corrupt(id: i64, e: impl std::fmt::Display) -> Failure {
    Failure::from(Error::Corrupt {
        id: OutboxId(id),
        message: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `holder` claims every due event, with a lease that ends at `until`.
    async fn claim(outbox: &Outbox, holder: &str, until: i64) -> Vec<Claimed> {
        let claim = Claim {
            n: 8,
            now: millis(outbox.inner.config.clock.now()),
            lease_until: until,
            relay: holder.into(),
        };
        turn(outbox, Vec::new(), Some(claim)).await.unwrap()
    }

    async fn holder(outbox: &Outbox) -> Option<String> {
        let Store::Sqlite(s) = &outbox.inner.store else {
            unreachable!()
        };
        sqlx::query_scalar("SELECT claimed_by FROM flowflex_outbox_events")
            .fetch_one(&s.pool)
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn a_relay_whose_claim_was_taken_cannot_renew_release_or_bury_it() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = Outbox::open_sqlite(dir.path().join("o.db")).await.unwrap();
        outbox
            .enqueue("e", serde_json::json!({"i": 1}))
            .await
            .unwrap();
        let store = &outbox.inner.store;
        let later = wall_ms() + 60_000;
        // A claim that lapsed and nobody took is taken up again.
        let first = claim(&outbox, "a", wall_ms() - 1).await;
        assert_eq!(first.len(), 1);
        let id = first[0].row.id;
        assert!(store.renew(id, "a", wall_ms() - 1).await.unwrap());
        // Once another relay claims it, it is that relay's alone.
        assert_eq!(claim(&outbox, "b", later).await.len(), 1);
        assert!(!store.renew(id, "a", later).await.unwrap());
        assert!(store.renew(id, "b", later).await.unwrap());
        let stale = |dead| {
            let (holder, error) = (Arc::from("a"), "late".to_string());
            if dead {
                Settled::Dead {
                    id,
                    holder,
                    at: 0,
                    error,
                }
            } else {
                Settled::Retry {
                    id,
                    holder,
                    next_at: 0,
                    error,
                }
            }
        };
        turn(&outbox, vec![stale(false), stale(true)], None)
            .await
            .unwrap();
        assert_eq!(holder(&outbox).await.as_deref(), Some("b"));
        assert_eq!(outbox.stats().await.unwrap().pending, 1);
        // The holder's own outcome is recorded.
        let live = Settled::Retry {
            id,
            holder: Arc::from("b"),
            next_at: 0,
            error: "soon".into(),
        };
        turn(&outbox, vec![live], None).await.unwrap();
        assert_eq!(holder(&outbox).await, None);
    }
}
