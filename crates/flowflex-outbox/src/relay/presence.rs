//! A relay's presence in the outbox, beside its deliveries: its heartbeat
//! (who runs, where, since when: `Outbox::relays`), with it the gauges of
//! the `metrics` feature read from the database, and on PostgreSQL its own
//! listening connection, which turns other processes' enqueues into
//! wake-ups within milliseconds.
//!
//! A notice names the first new event's id and how many there are. Each
//! relay knows the live relays (by holder, in order) and its own place
//! among them, and wakes only if one of the events falls to it (`id mod
//! relays`): one event wakes one relay, not the fleet; a batch of many
//! wakes as many as it can keep busy. A notice is a hint: a relay that
//! misses one (its view of the fleet is stale, its connection dropped)
//! still finds the event at its next poll, and after a dropped connection
//! it listens again and looks at once.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use sqlx::postgres::PgListener;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

use crate::RelayInfo;
use crate::clock::{Clock, millis, ms, wall_ms};
use crate::store::Store;
use crate::store::pg::RELAYS_CHANGED;

/// How often a relay says it is alive, reads the list of relays and (with
/// the `metrics` feature) the gauges: a third of its lease, and at least
/// every 5 s.
fn beat(lease: Duration) -> Duration {
    (lease / 3).min(Duration::from_secs(5))
}

/// A relay's place among the live relays.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct View {
    /// Its index in the relays by holder; `None` until it sees itself.
    rank: Option<usize>,
    relays: usize,
}

impl View {
    fn of(relays: &[RelayInfo], holder: &str) -> View {
        View {
            rank: relays.iter().position(|r| r.holder == holder),
            relays: relays.len(),
        }
    }

    /// Whether a notice (`"<first id> <count>"`) is this relay's to act
    /// on. Anything it cannot read, or a view without itself in it, wakes
    /// it: a missed wake-up costs a poll, a spare one an empty claim.
    pub(crate) fn wakes_for(self, notice: &str) -> bool {
        let (Some(rank), true) = (self.rank, self.relays > 0) else {
            return true;
        };
        let mut words = notice.split(' ');
        let (Some(Ok(first)), Some(Ok(count))) = (
            words.next().map(str::parse::<i64>),
            words.next().map(str::parse::<u64>),
        ) else {
            return true;
        };
        let relays = self.relays as u64;
        if count >= relays {
            return true;
        }
        (0..count).any(|j| {
            let id = first.wrapping_add(j as i64);
            id.rem_euclid(relays as i64) as usize == rank
        })
    }
}

/// A relay's presence task: started with the relay, stopped (and the
/// relay's record removed) at its shutdown.
#[derive(Debug)]
pub(super) struct Presence {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Presence {
    /// Records the relay and starts its heartbeat (and listener);
    /// `wake` is told when the relay should look for work now.
    pub(super) fn start(
        store: Store,
        clock: Arc<dyn Clock>,
        info: RelayInfo,
        lease: Duration,
        wake: Arc<Notify>,
    ) -> Presence {
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(run(store, clock, info, lease, wake, stopped));
        Presence { stop, task }
    }

    pub(super) async fn stop(self) {
        self.stop.send_replace(true);
        let _ = self.task.await;
    }
}

async fn run(
    store: Store,
    clock: Arc<dyn Clock>,
    mut info: RelayInfo,
    lease: Duration,
    wake: Arc<Notify>,
    mut stop: watch::Receiver<bool>,
) {
    let lease_ms = ms(lease);
    let mut listener = match &store {
        Store::Postgres(pg) => match pg.listen().await {
            Ok(listener) => Some(listener),
            Err(e) => {
                tracing::warn!(target: "flowflex_outbox", error = %e, "listening for enqueues failed; polling only until it works");
                None
            }
        },
        Store::Sqlite(_) => None,
    };
    info.listener = listener_pid(&mut listener).await;
    beat_once(&store, &info, lease_ms).await;
    announce(&store).await;
    let mut view = View::default();
    crate::metrics::describe();
    refresh(&store, &info, &mut view).await;
    report(&store, &*clock).await;
    // Whatever was enqueued before the listener listened.
    wake.notify_one();
    let mut ticks = tokio::time::interval(beat(lease));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_forget = wall_ms();
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            _ = ticks.tick() => {
                if listener.is_none() {
                    if let Store::Postgres(pg) = &store {
                        if let Ok(l) = pg.listen().await {
                            listener = Some(l);
                            info.listener = listener_pid(&mut listener).await;
                            wake.notify_one();
                        }
                    }
                }
                beat_once(&store, &info, lease_ms).await;
                refresh(&store, &info, &mut view).await;
                report(&store, &*clock).await;
                // Relays killed without a shutdown leave their record:
                // forgotten after a day.
                if wall_ms() - last_forget > 3_600_000 {
                    last_forget = wall_ms();
                    let _ = store.forget_relays(wall_ms() - 86_400_000).await;
                }
            }
            notice = next_notice(&mut listener) => match notice {
                Ok(Some(payload)) if payload == RELAYS_CHANGED => {
                    refresh(&store, &info, &mut view).await;
                }
                Ok(Some(payload)) => {
                    if view.wakes_for(&payload) {
                        wake.notify_one();
                    }
                }
                Ok(None) => {
                    // The connection dropped; notices sent meanwhile are
                    // lost. Listen again (the next call reconnects), say
                    // so with the new connection, and look at once.
                    tracing::warn!(target: "flowflex_outbox", relay = %info.name, "the listening connection dropped; listening again");
                    info.listener = listener_pid(&mut listener).await;
                    beat_once(&store, &info, lease_ms).await;
                    wake.notify_one();
                }
                Err(e) => {
                    tracing::warn!(target: "flowflex_outbox", error = %e, "listening for enqueues failed; polling until it works again");
                    listener = None;
                    info.listener = None;
                    beat_once(&store, &info, lease_ms).await;
                    wake.notify_one();
                }
            },
        }
    }
    if let Err(e) = store.unregister(&info.holder, wall_ms()).await {
        tracing::warn!(target: "flowflex_outbox", error = %e, "removing the relay's record failed");
    }
    announce(&store).await;
    // The gauge stays at its last value in this process: the relays left,
    // not this one too.
    if crate::metrics::ENABLED {
        if let Ok(relays) = store.relays(wall_ms()).await {
            crate::metrics::relays(relays.len());
        }
    }
}

/// The next notice, or pending forever without a listener.
async fn next_notice(listener: &mut Option<PgListener>) -> Result<Option<String>, sqlx::Error> {
    match listener {
        Some(l) => l
            .try_recv()
            .await
            .map(|n| n.map(|n| n.payload().to_owned())),
        None => std::future::pending().await,
    }
}

/// The backend pid of the listening connection (reconnecting it, and
/// listening again, if it dropped).
async fn listener_pid(listener: &mut Option<PgListener>) -> Option<u32> {
    let l = listener.as_mut()?;
    match sqlx::query_as::<_, (i32,)>("SELECT pg_backend_pid()")
        .fetch_one(&mut *l)
        .await
    {
        Ok((pid,)) => u32::try_from(pid).ok(),
        Err(e) => {
            tracing::warn!(target: "flowflex_outbox", error = %e, "the listening connection does not answer");
            None
        }
    }
}

async fn beat_once(store: &Store, info: &RelayInfo, lease_ms: i64) {
    if let Err(e) = store.heartbeat(info, lease_ms).await {
        tracing::warn!(target: "flowflex_outbox", error = %e, "recording the relay's heartbeat failed");
    }
}

async fn announce(store: &Store) {
    if let Store::Postgres(pg) = store {
        if let Err(e) = pg.announce().await {
            tracing::debug!(target: "flowflex_outbox", error = %e, "announcing the relay failed");
        }
    }
}

/// The queue's gauges (`metrics` feature), as the database has them now.
async fn report(store: &Store, clock: &dyn Clock) {
    if !crate::metrics::ENABLED {
        return;
    }
    match store.gauges(millis(clock.now())).await {
        Ok(gauges) => crate::metrics::queue(&gauges),
        Err(e) => {
            tracing::debug!(target: "flowflex_outbox", error = %e, "reading the gauges failed");
        }
    }
}

/// Reads the live relays again; says so when the relay's place changed.
async fn refresh(store: &Store, info: &RelayInfo, view: &mut View) {
    match store.relays(wall_ms()).await {
        Ok(relays) => {
            crate::metrics::relays(relays.len());
            let new = View::of(&relays, &info.holder);
            if new != *view {
                *view = new;
                tracing::debug!(
                    target: "flowflex_outbox",
                    relay = %info.name,
                    relays = new.relays,
                    rank = ?new.rank,
                    "relays changed",
                );
            }
        }
        Err(e) => {
            tracing::debug!(target: "flowflex_outbox", relay = %info.name, error = %e, "reading the relays failed");
        }
    }
}

/// What a relay records of itself.
pub(super) fn info(name: &str, holder: &str) -> RelayInfo {
    let now = SystemTime::now();
    RelayInfo {
        name: name.to_owned(),
        host: host(),
        pid: std::process::id(),
        started_at: now,
        last_seen: now,
        holder: holder.to_owned(),
        listener: None,
    }
}

/// This machine's name, as the kernel has it.
fn host() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| {
            std::fs::read_to_string("/proc/sys/kernel/hostname")
                .ok()
                .map(|h| h.trim().to_owned())
        })
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown".to_owned())
}

#[cfg(test)]
mod tests {
    use super::View;

    fn view(rank: usize, relays: usize) -> View {
        View {
            rank: Some(rank),
            relays,
        }
    }

    #[test]
    fn one_event_wakes_exactly_one_relay_of_many() {
        for id in [0i64, 1, 31, 32, 1_000_003, -5] {
            let woken = (0..32)
                .filter(|&r| view(r, 32).wakes_for(&format!("{id} 1")))
                .count();
            assert_eq!(woken, 1, "event {id}");
        }
    }

    #[test]
    fn a_batch_wakes_as_many_relays_as_it_has_events() {
        let woken = |notice: &str| (0..32).filter(|&r| view(r, 32).wakes_for(notice)).count();
        assert_eq!(woken("100 5"), 5);
        assert_eq!(woken("100 32"), 32);
        assert_eq!(woken("7 1000"), 32);
    }

    #[test]
    fn what_it_cannot_place_wakes_it() {
        assert!(View::default().wakes_for("1 1"), "no view yet");
        assert!(
            View {
                rank: None,
                relays: 3
            }
            .wakes_for("1 1"),
            "not in its own view"
        );
        assert!(view(0, 4).wakes_for("garbage"));
        assert!(view(0, 4).wakes_for(""));
        assert!(!view(0, 4).wakes_for("1 1"), "event 1 is relay 1's");
        assert!(view(1, 4).wakes_for("1 1"));
    }
}
