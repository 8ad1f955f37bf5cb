//! The shape both writers share: take every job waiting (up to a bound),
//! write them in one transaction, answer each.

use tokio::sync::mpsc;

/// The next batch: waits for one job, then takes what else is waiting, up
/// to `max` in all; `None` once every sender is gone.
///
/// With `linger`, it then lets the runtime run the other tasks a few times
/// over and takes what they sent meanwhile, until a round brings nothing:
/// callers that were just answered are preparing their next job, and a
/// batch that leaves them behind costs them a whole commit more. A lone
/// caller loses a few yields, not a timer tick.
pub(crate) async fn next_batch<J>(
    jobs: &mut mpsc::Receiver<J>,
    max: usize,
    linger: bool,
) -> Option<Vec<J>> {
    let first = jobs.recv().await?;
    let mut batch = Vec::with_capacity(max.min(64));
    batch.push(first);
    take_waiting(jobs, &mut batch, max);
    if linger {
        let mut quiet = 0;
        while batch.len() < max && quiet < LINGER_ROUNDS {
            tokio::task::yield_now().await;
            let before = batch.len();
            take_waiting(jobs, &mut batch, max);
            quiet = if batch.len() == before { quiet + 1 } else { 0 };
        }
    }
    Some(batch)
}

/// Rounds without a new job after which a lingering batch goes.
const LINGER_ROUNDS: usize = 2;

fn take_waiting<J>(jobs: &mut mpsc::Receiver<J>, batch: &mut Vec<J>, max: usize) {
    while batch.len() < max {
        match jobs.try_recv() {
            Ok(job) => batch.push(job),
            Err(_) => break,
        }
    }
}

/// The error a caller sees when the writer task is gone (its runtime shut
/// down).
pub(crate) fn stopped(doing: &'static str) -> crate::Error {
    crate::Error::Database {
        doing,
        message: "the outbox's writer has stopped (was its Tokio runtime shut down?)".into(),
        source: None,
    }
}
