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
//! for a turn. With one ready event per slot the relay ran dry during
//! every turn and delivered 0.63x what `send_event` does; with seven it
//! stays fed.
//!
//! An idle relay wakes for: an enqueue through its own `Outbox` (at once),
//! a notice from another process's enqueue (PostgreSQL; `presence`), the
//! earliest retry it knows is due, and otherwise its poll, the safety net.
//! Each event's life in the relay is a [`ledger::Ledger`] stage.

mod deliver;
mod ledger;
mod paths;
mod presence;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use flowflex::Client;
use tokio::sync::{Notify, watch};
use tokio::task::{JoinHandle, JoinSet};

use crate::clock::{millis, ms, wall_ms};
use crate::error::{Error, Result};
use crate::store::{Claim, Settled, Turn, Turned};
use crate::{DeadLetter, Outbox};

use ledger::Ledger;

/// Claims a relay holds per delivery slot: one in flight, the rest ready
/// to start the moment a slot frees (see the module's notes).
const CLAIMED_PER_SLOT: usize = 8;

/// How often a relay deletes the delivered events past
/// `keep_delivered` and content no event names (and once when it starts).
const PRUNE_EVERY: Duration = Duration::from_secs(60);

/// After a failed turn, the wait before the next: doubling from the first
/// to the last, so that a database that is down (or a full disk) is asked
/// again promptly but not in a tight loop.
const TURN_RETRY_FIRST: Duration = Duration::from_millis(10);
const TURN_RETRY_LAST: Duration = Duration::from_secs(1);

/// Failed turns in a row after which a relay that is shutting down stops
/// trying to record its last outcomes.
const SHUTDOWN_TRIES: u32 = 3;

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
            poll_interval: Duration::from_secs(5),
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

    /// How often the outbox is polled for due events when nothing else
    /// wakes the relay (default 5 s): the safety net. Enqueues through the
    /// same [`Outbox`] wake it at once; on PostgreSQL so do other
    /// processes' enqueues (LISTEN/NOTIFY), and a relay sleeps no longer
    /// than until the earliest retry it knows is due.
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
        let delivered = Arc::new(AtomicU64::new(0));
        let state = Arc::new(self);
        let task = tokio::spawn(run(state, stopped, Arc::clone(&delivered)));
        RelayHandle {
            outbox,
            stop,
            task,
            delivered,
        }
    }
}

/// A running relay. Dropping it leaves the relay running in the background
/// until the runtime ends; [`shutdown`](RelayHandle::shutdown) stops it.
#[derive(Debug)]
pub struct RelayHandle {
    outbox: Outbox,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
    /// Events this relay has recorded as delivered.
    delivered: Arc<AtomicU64>,
}

/// What happened while [`RelayHandle::flush`] waited: what this relay
/// delivered, the events that became dead letters (by any relay), and what
/// is still pending (only events held back by a dead letter of their
/// ordering key, when `flush` returns `Ok`).
///
/// ```no_run
/// # async fn demo(relay: flowflex_outbox::RelayHandle) -> flowflex_outbox::Result<()> {
/// use std::time::Duration;
///
/// let report = relay.flush(Duration::from_secs(30)).await?;
/// for dead in &report.dead {
///     eprintln!("{} ({}) will not be delivered: {}", dead.event, dead.id, dead.error);
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct FlushReport {
    /// Events this relay delivered while `flush` waited.
    pub delivered: u64,
    /// Events that became dead letters while `flush` waited, oldest first.
    pub dead: Vec<DeadLetter>,
    /// Events still pending: held back by a dead letter of their ordering
    /// key (see [`Stats::held_back`](crate::Stats::held_back)).
    pub pending: u64,
}

impl RelayHandle {
    /// Waits until no event is pending but those held back by a dead letter
    /// of their ordering key, up to `timeout`, and says what happened
    /// meanwhile: delivered, died, still pending. Wakes the relay first, so
    /// due events go now. A dead letter is not an error here: `?` still
    /// works, and the report lists it.
    ///
    /// # Errors
    ///
    /// [`Error::FlushTimeout`] with the number still pending; or a database
    /// error.
    pub async fn flush(&self, timeout: Duration) -> Result<FlushReport> {
        let deadline = tokio::time::Instant::now() + timeout;
        let inner = &self.outbox.inner;
        // In stored milliseconds: one that died in the millisecond the
        // flush began is this flush's (the clock's finer `now` is later).
        let since = millis(inner.config.clock.now());
        let delivered = self.delivered.load(Ordering::SeqCst);
        loop {
            inner.wake.send_modify(|n| *n = n.wrapping_add(1));
            let pending = u64::try_from(inner.store.pending().await?.n).unwrap_or(0);
            let held = if pending > 0 {
                inner.store.held_back().await?
            } else {
                0
            };
            if pending == held {
                let mut dead = inner.store.dead_letters().await?;
                dead.retain(|d| millis(d.died_at) >= since);
                return Ok(FlushReport {
                    delivered: self.delivered.load(Ordering::SeqCst) - delivered,
                    dead,
                    pending,
                });
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(Error::FlushTimeout {
                    after: timeout,
                    pending,
                });
            }
            // Looks again when a relay of this outbox records outcomes, or
            // after 20 ms (relays elsewhere, or none).
            let _ = tokio::time::timeout_at(
                deadline.min(tokio::time::Instant::now() + Duration::from_millis(20)),
                inner.turned.notified(),
            )
            .await;
        }
    }

    /// Stops claiming, lets deliveries in flight finish, records their
    /// outcomes, gives the rest of its claims back, removes its record, and
    /// returns when the relay has stopped. Pending events stay in the
    /// outbox for the next relay. Should the database refuse the last
    /// outcomes three times in a row (a full disk, an outage), it stops
    /// anyway: those events are posted again by the next relay, under
    /// their idempotency keys.
    pub async fn shutdown(self) {
        self.stop.send_replace(true);
        let _ = self.task.await;
    }
}

async fn run(relay: Arc<Relay>, mut stop: watch::Receiver<bool>, delivered: Arc<AtomicU64>) {
    let inner = &relay.outbox.inner;
    let n = relay.concurrency;
    let wake = Arc::new(Notify::new());
    let presence = presence::Presence::start(
        inner.store.clone(),
        Arc::clone(&inner.config.clock),
        presence::info(&relay.name, &relay.holder),
        relay.lease,
        Arc::clone(&wake),
    );
    let mut enqueued = inner.wake.subscribe();
    let mut ledger = Ledger::default();
    // Deliveries in flight, and the event each delivers.
    let mut tasks: JoinSet<Option<Settled>> = JoinSet::new();
    let mut delivering: HashMap<tokio::task::Id, i64> = HashMap::with_capacity(n);
    // The turn in flight (at most one): its result, how many it asked for,
    // and when its claims' leases started.
    let mut turns: JoinSet<(Result<Turned>, usize, Instant)> = JoinSet::new();
    // Whether to claim: not after a claim found fewer events than it asked
    // for, until a delivery ends, a wake-up comes or a poll is due.
    let mut claim_more = true;
    // Whether something woke the relay while a turn was running: that
    // turn's claim may have started before the cause (an enqueue's commit,
    // a freed slot), so its finding too few is no reason to stop claiming.
    let mut nudged = false;
    // When to look again without a wake-up: the poll, or sooner the
    // earliest retry known to be due (outbox clock, ms).
    let mut next_due: Option<i64> = None;
    let mut failed_turns = 0u32;
    let mut turn_after = Instant::now();
    // Deleting old delivered events: beside the rest, at most one at once.
    let mut prunes: JoinSet<()> = JoinSet::new();
    let mut prune_at = Instant::now();
    loop {
        let stopping = *stop.borrow();
        while prunes.try_join_next().is_some() {}
        if !stopping && prunes.is_empty() && Instant::now() >= prune_at {
            prune_at = Instant::now() + PRUNE_EVERY;
            prunes.spawn(maintain(relay.outbox.clone()));
        }
        while let Some(done) = tasks.try_join_next_with_id() {
            ended(done, &mut delivering, &mut ledger, &mut next_due);
        }
        if !stopping {
            while tasks.len() < n {
                let Some(ready) = ledger.start() else { break };
                let id = ready.claimed.row.id;
                let task = tasks.spawn(deliver::deliver(
                    Arc::clone(&relay),
                    ready.claimed,
                    ready.leased_at,
                ));
                delivering.insert(task.id(), id);
            }
        }
        if stopping && turns.is_empty() && tasks.is_empty() && failed_turns >= SHUTDOWN_TRIES {
            // Shutting down while the database refuses (a full disk, an
            // outage): the outcomes not recorded are left. Their claims
            // lapse and the next relay posts those events again under the
            // same idempotency keys, which FlowFlex answers with its record.
            tracing::warn!(
                target: "flowflex_outbox",
                relay = %relay.name,
                unrecorded = ledger.unrecorded(),
                "shutting down with outcomes the database did not take",
            );
            break;
        }
        if turns.is_empty() && Instant::now() >= turn_after {
            let want = if stopping || !claim_more {
                0
            } else if tasks.is_empty() && ledger.ready() == 0 {
                // Idle: a smaller first claim starts deliveries sooner;
                // the turns beside them fill up the rest.
                2 * n
            } else {
                (CLAIMED_PER_SLOT * n).saturating_sub(tasks.len() + ledger.ready())
            };
            if want > 0 || ledger.has_outcomes() {
                // Read before the lease's end is: a claim's age counts from
                // here, not from when the turn's commit came back, so a
                // slow turn cannot make a lapsed claim look fresh.
                let leased_at = Instant::now();
                let claim = (want > 0).then(|| Claim {
                    n: want,
                    now: millis(inner.config.clock.now()),
                    lease_until: wall_ms() + ms(relay.lease),
                    relay: Arc::clone(&relay.holder),
                });
                let settled = ledger.record();
                let turn = Turn { settled, claim };
                let outbox = relay.outbox.clone();
                nudged = false;
                turns.spawn(async move { (outbox.inner.store.turn(turn).await, want, leased_at) });
            } else if stopping && tasks.is_empty() {
                break;
            }
        }
        let sleep = wait(&relay, next_due, turn_after);
        tokio::select! {
            Some(done) = turns.join_next() => {
                match done {
                    Ok((Ok(turned), want, leased_at)) => {
                        if want > 0 {
                            tracing::debug!(
                                target: "flowflex_outbox",
                                relay = %relay.name,
                                asked = want,
                                claimed = turned.claimed.len(),
                                "claimed",
                            );
                        }
                        // Outcomes count once their turn has committed.
                        let recorded = ledger.recorded();
                        let n = recorded
                            .iter()
                            .filter(|s| matches!(s, Settled::Delivered { .. }))
                            .count() as u64;
                        delivered.fetch_add(n, Ordering::SeqCst);
                        crate::metrics::recorded(&recorded);
                        failed_turns = 0;
                        // Outcomes are recorded: a `flush` waiting looks again.
                        inner.turned.notify_waiters();
                        claim_more = nudged || (want > 0 && turned.claimed.len() == want);
                        if want > 0 {
                            next_due = turned.next_due;
                        }
                        ledger.claimed(turned.claimed, leased_at);
                    }
                    Ok((Err(e), _, _)) => {
                        turn_failed(&relay, &mut ledger, &mut failed_turns, &mut turn_after, &e);
                        claim_more = true;
                    }
                    Err(e) => {
                        let e = Error::Config(format!("a relay turn panicked: {e}"));
                        turn_failed(&relay, &mut ledger, &mut failed_turns, &mut turn_after, &e);
                        claim_more = true;
                    }
                }
            }
            Some(done) = tasks.join_next_with_id() => {
                ended(done, &mut delivering, &mut ledger, &mut next_due);
                (claim_more, nudged) = (true, true);
            }
            () = sleep, if !stopping => (claim_more, nudged) = (true, true),
            () = wake.notified(), if !stopping => (claim_more, nudged) = (true, true),
            Ok(()) = enqueued.changed(), if !stopping => (claim_more, nudged) = (true, true),
            _ = stop.changed(), if !stopping => {}
            // Not reached (stopping with nothing in flight breaks above);
            // here so that select! cannot panic.
            else => break,
        }
    }
    // Events claimed but not started go back with the rest of the claims.
    if let Err(e) = inner.store.release(&relay.holder).await {
        tracing::warn!(target: "flowflex_outbox", relay = %relay.name, error = %e, "releasing claims failed");
    }
    presence.stop().await;
}

/// Until when an idle relay sleeps: its poll, or sooner the earliest retry
/// it knows is due, or the end of a failed turn's wait.
fn wait(relay: &Relay, next_due: Option<i64>, turn_after: Instant) -> tokio::time::Sleep {
    let now = Instant::now();
    let mut until = now + relay.poll_interval;
    if let Some(due) = next_due {
        let in_ms = due - millis(relay.outbox.inner.config.clock.now());
        let due_in = Duration::from_millis(u64::try_from(in_ms).unwrap_or(0));
        until = until.min(now + due_in);
    }
    if turn_after > now {
        until = until.min(turn_after);
    }
    tokio::time::sleep_until(until.into())
}

/// A delivery ended: its outcome waits for the next turn, and a retry it
/// schedules may be the next thing due.
fn ended(
    done: std::result::Result<(tokio::task::Id, Option<Settled>), tokio::task::JoinError>,
    delivering: &mut HashMap<tokio::task::Id, i64>,
    ledger: &mut Ledger,
    next_due: &mut Option<i64>,
) {
    let (task, outcome) = match done {
        Ok(done) => done,
        Err(e) => {
            // A delivery task panicked: its event is left for its claim to
            // lapse (another attempt follows, under the same key).
            tracing::warn!(target: "flowflex_outbox", error = %e, "a delivery task failed");
            (e.id(), None)
        }
    };
    let Some(id) = delivering.remove(&task) else {
        return;
    };
    if let Some(Settled::Retry { next_at, .. }) = &outcome {
        *next_due = Some(next_due.map_or(*next_at, |due| due.min(*next_at)));
    }
    ledger.ended(id, outcome);
}

/// A turn failed: nothing of it was written. Its outcomes wait for the
/// next turn, after a wait that doubles with each failure in a row.
fn turn_failed(
    relay: &Relay,
    ledger: &mut Ledger,
    failed: &mut u32,
    after: &mut Instant,
    e: &Error,
) {
    ledger.not_recorded();
    *failed = failed.saturating_add(1);
    let wait = TURN_RETRY_FIRST
        .saturating_mul(1 << (*failed - 1).min(10))
        .min(TURN_RETRY_LAST);
    *after = Instant::now() + wait;
    tracing::warn!(
        target: "flowflex_outbox",
        relay = %relay.name,
        error = %e,
        retry_in_ms = ms(wait),
        "claiming or recording failed",
    );
}

/// Every minute: delivered events past `keep_delivered`, and content no
/// event names.
async fn maintain(outbox: Outbox) {
    match outbox.prune().await {
        Ok(0) => {}
        Ok(n) => {
            tracing::debug!(target: "flowflex_outbox", deleted = n, "old delivered events deleted")
        }
        Err(e) => {
            tracing::warn!(target: "flowflex_outbox", error = %e, "deleting old delivered events failed")
        }
    }
    match outbox.inner.store.collect_orphans(wall_ms()).await {
        Ok(0) => {}
        Ok(n) => {
            tracing::debug!(target: "flowflex_outbox", removed = n, "content no event names removed")
        }
        Err(e) => {
            tracing::warn!(target: "flowflex_outbox", error = %e, "removing content no event names failed")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Claimed, Store};

    /// `holder` claims every due event, with a lease that ends at `until`.
    async fn claim(outbox: &Outbox, holder: &str, until: i64) -> Vec<Claimed> {
        let claim = Claim {
            n: 8,
            now: millis(outbox.inner.config.clock.now()),
            lease_until: until,
            relay: Arc::from(holder),
        };
        let turn = Turn {
            settled: Vec::new(),
            claim: Some(claim),
        };
        outbox.inner.store.turn(turn).await.unwrap().claimed
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

    async fn record(outbox: &Outbox, settled: Vec<Settled>) {
        let turn = Turn {
            settled,
            claim: None,
        };
        outbox.inner.store.turn(turn).await.unwrap();
    }

    #[tokio::test]
    async fn relays_gone_leave_their_last_sighting_and_a_later_one_stays() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = Outbox::open_sqlite(dir.path().join("o.db")).await.unwrap();
        let store = &outbox.inner.store;
        assert_eq!(outbox.stats().await.unwrap().last_relay_seen, None);
        let Store::Sqlite(s) = store else {
            unreachable!()
        };
        // A relay killed two days ago, and one killed an hour ago.
        for (holder, seen) in [("old#1", 1_000i64), ("recent#2", 9_000)] {
            sqlx::query(
                "INSERT INTO flowflex_outbox_relays \
                 (holder, name, host, pid, started_at, last_seen, lease_ms) \
                 VALUES ($1, 'r', 'h', 1, 0, $2, 60000)",
            )
            .bind(holder)
            .bind(seen)
            .execute(&s.pool)
            .await
            .unwrap();
        }
        let seen = |ms| Some(crate::store::from_millis(ms));
        assert_eq!(outbox.stats().await.unwrap().last_relay_seen, seen(9_000));
        // Forgetting the old one keeps the later sighting.
        store.forget_relays(5_000).await.unwrap();
        assert_eq!(outbox.stats().await.unwrap().last_relay_seen, seen(9_000));
        // Forgetting the other leaves its sighting behind.
        store.forget_relays(10_000).await.unwrap();
        let stats = outbox.stats().await.unwrap();
        assert_eq!((stats.relays, stats.last_relay_seen), (0, seen(9_000)));
        // An earlier sighting never replaces it; a later one does.
        store.unregister("nobody#3", 2_000).await.unwrap();
        assert_eq!(outbox.stats().await.unwrap().last_relay_seen, seen(9_000));
        store.unregister("nobody#3", 12_000).await.unwrap();
        assert_eq!(outbox.stats().await.unwrap().last_relay_seen, seen(12_000));
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
                    uploads: Vec::new(),
                }
            }
        };
        record(&outbox, vec![stale(false), stale(true)]).await;
        assert_eq!(holder(&outbox).await.as_deref(), Some("b"));
        assert_eq!(outbox.stats().await.unwrap().pending, 1);
        // The holder's own outcome is recorded.
        let live = Settled::Retry {
            id,
            holder: Arc::from("b"),
            next_at: 0,
            error: "soon".into(),
            uploads: Vec::new(),
        };
        record(&outbox, vec![live]).await;
        assert_eq!(holder(&outbox).await, None);
    }
}
