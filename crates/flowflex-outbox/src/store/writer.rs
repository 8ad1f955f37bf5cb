//! The shape both writers share: take every job waiting (up to a bound),
//! write them in one transaction, answer each.

use tokio::sync::mpsc;

/// The next batch: waits for one job, then takes what else is waiting, up
/// to `max` in all; `None` once every sender is gone.
pub(crate) async fn next_batch<J>(jobs: &mut mpsc::Receiver<J>, max: usize) -> Option<Vec<J>> {
    let first = jobs.recv().await?;
    let mut batch = Vec::with_capacity(max.min(64));
    batch.push(first);
    while batch.len() < max {
        match jobs.try_recv() {
            Ok(job) => batch.push(job),
            Err(_) => break,
        }
    }
    Some(batch)
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
