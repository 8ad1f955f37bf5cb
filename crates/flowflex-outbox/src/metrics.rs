//! What the outbox reports through the `metrics` facade (feature `metrics`;
//! docs/operations.md). Counters and the histogram count what this process
//! did; the gauges are read from the database by every running relay at
//! each heartbeat (at least every 5 s), so every replica reports the same
//! queue. Without the feature each function is empty and no gauge query
//! runs. No label carries a payload value, a key or a name.

use crate::store::{Gauges, Settled};

/// Whether the gauges are worth reading from the database.
pub(crate) const ENABLED: bool = cfg!(feature = "metrics");

/// The names, as docs/operations.md lists them.
#[cfg(feature = "metrics")]
mod names {
    /// Events stored (a repeated idempotency key stores nothing new).
    pub(super) const ENQUEUED: &str = "flowflex_outbox_enqueued_total";
    /// Delivery attempts recorded, by `outcome`: `delivered`, `retry`,
    /// `dead`.
    pub(super) const ATTEMPTS: &str = "flowflex_outbox_attempts_total";
    /// From enqueue (or requeue) to FlowFlex's acceptance.
    pub(super) const DELIVERY_SECONDS: &str = "flowflex_outbox_delivery_seconds";
    /// Events waiting for delivery.
    pub(super) const PENDING: &str = "flowflex_outbox_pending";
    /// Dead letters.
    pub(super) const DEAD: &str = "flowflex_outbox_dead";
    /// How long the oldest pending event has waited (0 with none).
    pub(super) const OLDEST_PENDING_SECONDS: &str = "flowflex_outbox_oldest_pending_seconds";
    /// Live relays.
    pub(super) const RELAYS: &str = "flowflex_outbox_relays";
}
#[cfg(feature = "metrics")]
use names::*;

/// `n` new events were stored.
pub(crate) fn enqueued(n: usize) {
    #[cfg(feature = "metrics")]
    if n > 0 {
        metrics::counter!(ENQUEUED).increment(n as u64);
    }
    #[cfg(not(feature = "metrics"))]
    let _ = n;
}

/// A relay's turn committed these outcomes.
pub(crate) fn recorded(outcomes: &[Settled]) {
    #[cfg(feature = "metrics")]
    for s in outcomes {
        let outcome = match s {
            Settled::Delivered {
                at, enqueued_at, ..
            } => {
                let ms = u64::try_from(at - enqueued_at).unwrap_or(0);
                metrics::histogram!(DELIVERY_SECONDS).record(ms as f64 / 1000.0);
                "delivered"
            }
            Settled::Retry { .. } => "retry",
            Settled::Dead { .. } => "dead",
        };
        metrics::counter!(ATTEMPTS, "outcome" => outcome).increment(1);
    }
    #[cfg(not(feature = "metrics"))]
    let _ = outcomes;
}

/// The queue as the database has it now.
pub(crate) fn queue(g: &Gauges) {
    #[cfg(feature = "metrics")]
    {
        metrics::gauge!(PENDING).set(g.pending as f64);
        metrics::gauge!(DEAD).set(g.dead as f64);
        let oldest = g.oldest_pending.unwrap_or_default();
        metrics::gauge!(OLDEST_PENDING_SECONDS).set(oldest.as_secs_f64());
    }
    #[cfg(not(feature = "metrics"))]
    let _ = g;
}

/// The relays alive now.
pub(crate) fn relays(n: usize) {
    #[cfg(feature = "metrics")]
    metrics::gauge!(RELAYS).set(n as f64);
    #[cfg(not(feature = "metrics"))]
    let _ = n;
}

/// Tells the recorder what each metric is: at every relay's start, so a
/// recorder installed before it learns them (no process-wide flag).
pub(crate) fn describe() {
    #[cfg(feature = "metrics")]
    {
        use metrics::Unit;
        metrics::describe_counter!(ENQUEUED, "Events stored in the outbox by this process");
        metrics::describe_counter!(
            ATTEMPTS,
            "Delivery attempts recorded by this process's relays, by outcome (delivered, retry, dead)"
        );
        metrics::describe_histogram!(
            DELIVERY_SECONDS,
            Unit::Seconds,
            "Time from enqueue (or requeue) to delivery, of the events this process's relays delivered"
        );
        metrics::describe_gauge!(
            PENDING,
            "Events waiting for delivery in the outbox (read from the database)"
        );
        metrics::describe_gauge!(DEAD, "Dead letters in the outbox (read from the database)");
        metrics::describe_gauge!(
            OLDEST_PENDING_SECONDS,
            Unit::Seconds,
            "How long the oldest pending event has waited; 0 with none pending"
        );
        metrics::describe_gauge!(
            RELAYS,
            "Relays alive on the outbox, in any process (read from the database)"
        );
    }
}
