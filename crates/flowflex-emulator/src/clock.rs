//! The emulator's own clock: real elapsed time plus whatever tests added.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::state::lock;

/// A monotonic clock that tests can move forward without sleeping.
///
/// Readings are durations since the emulator started, so expiry checks are
/// plain subtractions and never depend on the wall clock.
#[derive(Debug)]
pub(crate) struct Clock {
    started: Instant,
    offset: Mutex<Duration>,
}

impl Clock {
    pub(crate) fn new() -> Self {
        Clock {
            started: Instant::now(),
            offset: Mutex::new(Duration::ZERO),
        }
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
    }
}
