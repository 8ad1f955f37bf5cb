//! The emulator's own clock: real elapsed time plus whatever tests added.

use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use crate::state::lock;

/// A monotonic clock that tests can move forward without sleeping.
///
/// Readings are durations since the emulator started, so expiry checks are
/// plain subtractions and never depend on the wall clock. Times shown to
/// people ([`Clock::wall`]) are the wall clock at start plus a reading, so
/// they move forward with [`Clock::advance`] too.
#[derive(Debug)]
pub(crate) struct Clock {
    started: Instant,
    started_wall: SystemTime,
    offset: Mutex<Duration>,
}

impl Clock {
    pub(crate) fn new() -> Self {
        Clock {
            started: Instant::now(),
            started_wall: SystemTime::now(),
            offset: Mutex::new(Duration::ZERO),
        }
    }

    /// The wall-clock time of a reading.
    pub(crate) fn wall(&self, at: Duration) -> SystemTime {
        self.started_wall + at
    }

    /// How far tests moved the clock forward, in all.
    pub(crate) fn advanced(&self) -> Duration {
        *lock(&self.offset)
    }

    /// Emulator time now.
    pub(crate) fn now(&self) -> Duration {
        self.started.elapsed() + *lock(&self.offset)
    }

    pub(crate) fn advance(&self, by: Duration) {
        let mut offset = lock(&self.offset);
        *offset = offset.saturating_add(by);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advance_moves_now_forward() {
        let clock = Clock::new();
        let before = clock.now();
        clock.advance(Duration::from_secs(7200));
        assert!(clock.now() >= before + Duration::from_secs(7200));
        assert_eq!(clock.advanced(), Duration::from_secs(7200));
        let shown = clock.wall(clock.now());
        assert!(shown >= SystemTime::now() + Duration::from_secs(7199));
    }
}
