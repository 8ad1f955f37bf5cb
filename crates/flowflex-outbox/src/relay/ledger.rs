//! The events a relay holds, each in one stage of its life in the relay:
//!
//! ```text
//! claimed ──► Ready ──start──► InFlight ──ended──► Settled ──record──► Recording ──recorded──► (gone)
//!                                  │                   ▲                    │
//!                                  └──left (no outcome)─┴──── not_recorded ──┘
//! ```
//!
//! An event is held from the turn that claims it to the turn that records
//! its outcome. A turn may claim one of them again (its lease lapsed while
//! it waited or while a renewal was late, and nobody else took it, so it is
//! still this relay's claim): that is the same claim, extended, never a
//! second delivery. An outcome whose turn failed is recorded by the next
//! turn instead: the relay never posts an event twice for want of writing
//! down that it did.

use std::collections::{HashMap, VecDeque};
use std::time::Instant;

use crate::store::{Claimed, Settled};

/// Where a held event is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stage {
    /// Claimed, waiting for a delivery slot.
    Ready,
    /// Being delivered.
    InFlight,
    /// Delivered, retried or buried; waiting for a turn to record it.
    Settled,
    /// In the turn now running.
    Recording,
}

/// A claimed event waiting for a slot, with when its lease started (at the
/// latest).
#[derive(Debug)]
pub(crate) struct Ready {
    pub(crate) claimed: Claimed,
    pub(crate) leased_at: Instant,
}

/// The relay's holdings.
#[derive(Debug, Default)]
pub(crate) struct Ledger {
    stages: HashMap<i64, Stage>,
    ready: VecDeque<Ready>,
    /// Outcomes not yet in a turn, in the order they ended.
    settled: Vec<Settled>,
    /// The outcomes of the turn now running.
    recording: Vec<Settled>,
}

impl Ledger {
    /// A turn claimed these events, with leases from `leased_at`: new ones
    /// become ready; ones already held are extensions, not new work. How
    /// many were new.
    pub(crate) fn claimed(&mut self, claimed: Vec<Claimed>, leased_at: Instant) -> usize {
        let mut new = 0;
        for c in claimed {
            if self.stages.contains_key(&c.row.id) {
                continue;
            }
            self.stages.insert(c.row.id, Stage::Ready);
            self.ready.push_back(Ready {
                claimed: c,
                leased_at,
            });
            new += 1;
        }
        new
    }

    /// The next ready event, now in flight.
    pub(crate) fn start(&mut self) -> Option<Ready> {
        let next = self.ready.pop_front()?;
        self.stages.insert(next.claimed.row.id, Stage::InFlight);
        Some(next)
    }

    /// A delivery of `id` ended: with an outcome to record, or without one
    /// (its claim was lost to another relay, or could not be renewed), in
    /// which case the event is no longer this relay's.
    pub(crate) fn ended(&mut self, id: i64, outcome: Option<Settled>) {
        if self.stages.get(&id) != Some(&Stage::InFlight) {
            return;
        }
        match outcome {
            Some(outcome) => {
                self.stages.insert(id, Stage::Settled);
                self.settled.push(outcome);
            }
            None => {
                self.stages.remove(&id);
            }
        }
    }

    /// The outcomes for the next turn (none while a turn is recording).
    pub(crate) fn record(&mut self) -> Vec<Settled> {
        if !self.recording.is_empty() {
            return Vec::new();
        }
        for s in &self.settled {
            self.stages.insert(s.id(), Stage::Recording);
        }
        self.recording = std::mem::take(&mut self.settled);
        self.recording.clone()
    }

    /// The turn committed: its events are no longer held. The outcomes it
    /// recorded.
    pub(crate) fn recorded(&mut self) -> Vec<Settled> {
        for s in &self.recording {
            self.stages.remove(&s.id());
        }
        std::mem::take(&mut self.recording)
    }

    /// The turn failed: its outcomes wait for the next one.
    pub(crate) fn not_recorded(&mut self) {
        for s in &self.recording {
            self.stages.insert(s.id(), Stage::Settled);
        }
        let mut again = std::mem::take(&mut self.recording);
        again.append(&mut self.settled);
        self.settled = again;
    }

    /// Where `id` is, if held.
    #[cfg(test)]
    pub(crate) fn stage(&self, id: i64) -> Option<Stage> {
        self.stages.get(&id).copied()
    }

    /// Events held, in any stage.
    #[cfg(test)]
    pub(crate) fn held(&self) -> usize {
        self.stages.len()
    }

    /// Events claimed and waiting for a slot.
    pub(crate) fn ready(&self) -> usize {
        self.ready.len()
    }

    /// Outcomes not recorded yet (waiting, or in the turn now running).
    pub(crate) fn unrecorded(&self) -> usize {
        self.settled.len() + self.recording.len()
    }

    /// Whether outcomes wait for a turn.
    pub(crate) fn has_outcomes(&self) -> bool {
        !self.settled.is_empty()
    }

    /// Whether nothing is held.
    #[cfg(test)]
    pub(crate) fn is_idle(&self) -> bool {
        self.stages.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::store::ClaimedRow;

    fn claimed(id: i64) -> Claimed {
        Claimed {
            row: ClaimedRow {
                id,
                event: "e".into(),
                idempotency_key: format!("k{id}"),
                body: Vec::new(),
                slots: "[]".into(),
                attempts: 1,
                created_at: 0,
                attachments: 0,
                body_format: 0,
            },
            attachments: Vec::new(),
        }
    }

    fn delivered(id: i64) -> Settled {
        Settled::Delivered {
            id,
            at: 1,
            attachments: false,
            enqueued_at: 0,
        }
    }

    fn retry(id: i64) -> Settled {
        Settled::Retry {
            id,
            holder: Arc::from("r#1"),
            next_at: 5,
            error: "503".into(),
            uploads: Vec::new(),
        }
    }

    #[test]
    fn an_event_goes_from_claimed_to_recorded_through_each_stage() {
        let mut ledger = Ledger::default();
        let now = Instant::now();
        assert_eq!(ledger.claimed(vec![claimed(1), claimed(2)], now), 2);
        assert_eq!((ledger.held(), ledger.ready()), (2, 2));
        assert_eq!(ledger.stage(1), Some(Stage::Ready));

        let first = ledger.start().expect("one is ready");
        assert_eq!(first.claimed.row.id, 1, "first claimed, first started");
        assert_eq!(ledger.stage(1), Some(Stage::InFlight));
        assert_eq!(ledger.ready(), 1);

        ledger.ended(1, Some(delivered(1)));
        assert_eq!(ledger.stage(1), Some(Stage::Settled));
        assert!(ledger.has_outcomes());

        assert_eq!(ledger.record(), vec![delivered(1)]);
        assert_eq!(ledger.stage(1), Some(Stage::Recording));
        assert!(!ledger.has_outcomes());
        ledger.recorded();
        assert_eq!(ledger.stage(1), None);
        assert_eq!(ledger.held(), 1, "2 is still ready");
    }

    #[test]
    fn a_claim_of_an_event_already_held_extends_it_and_is_not_new_work() {
        let mut ledger = Ledger::default();
        let now = Instant::now();
        ledger.claimed(vec![claimed(1)], now);
        ledger.start();
        // Its lease lapsed in flight and the relay's next turn claimed it.
        assert_eq!(ledger.claimed(vec![claimed(1), claimed(3)], now), 1);
        assert_eq!(ledger.ready(), 1, "only 3 is ready");
        assert_eq!(ledger.stage(1), Some(Stage::InFlight));
        // Held while its outcome waits to be recorded, too.
        ledger.ended(1, Some(retry(1)));
        assert_eq!(ledger.claimed(vec![claimed(1)], now), 0);
        let _ = ledger.record();
        assert_eq!(ledger.claimed(vec![claimed(1)], now), 0);
    }

    #[test]
    fn outcomes_of_a_failed_turn_are_recorded_by_the_next() {
        let mut ledger = Ledger::default();
        let now = Instant::now();
        ledger.claimed(vec![claimed(1), claimed(2)], now);
        ledger.start();
        ledger.start();
        ledger.ended(1, Some(delivered(1)));
        assert_eq!(ledger.record(), vec![delivered(1)]);
        // While that turn runs, another outcome arrives; no second turn
        // starts with it.
        ledger.ended(2, Some(retry(2)));
        assert!(ledger.record().is_empty());
        ledger.not_recorded();
        assert_eq!(ledger.stage(1), Some(Stage::Settled));
        assert_eq!(ledger.record(), vec![delivered(1), retry(2)]);
        ledger.recorded();
        assert!(ledger.is_idle());
    }

    #[test]
    fn a_delivery_that_ends_without_an_outcome_lets_the_event_go() {
        let mut ledger = Ledger::default();
        ledger.claimed(vec![claimed(7)], Instant::now());
        ledger.start();
        ledger.ended(7, None);
        assert_eq!(ledger.stage(7), None);
        assert!(!ledger.has_outcomes());
        assert!(ledger.is_idle());
        // An end reported twice, or for an event not in flight, changes
        // nothing.
        ledger.ended(7, Some(delivered(7)));
        assert!(!ledger.has_outcomes());
    }
}
