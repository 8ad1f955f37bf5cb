//! One delivery: renew the claim while it runs, reuse fresh uploads,
//! upload the rest, post the event with its fixed idempotency key, and say
//! what to record.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use flowflex::Attachment;
use tracing::Instrument as _;

use super::{Relay, paths};
use crate::OutboxId;
use crate::clock::{millis, ms, wall_ms};
use crate::error::Error;
use crate::store::{AttachmentRow, BodyFormat, Claimed, ClaimedRow, Settled};

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
                | flowflex::Error::EventName { .. }
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

/// What an attempt did before it ended: the uploads it made, which a retry
/// reuses while they are fresh.
#[derive(Default)]
struct Made {
    uploads: Vec<(i32, String, i64)>,
}

/// Delivers one claimed event; the outcome, for a turn to record, or
/// `None` if the claim was lost to another relay (after it lapsed) or
/// could not be renewed before starting. `leased_at` is when the claim's
/// lease started, at the latest.
pub(super) async fn deliver(
    relay: Arc<Relay>,
    claimed: Claimed,
    leased_at: Instant,
) -> Option<Settled> {
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
        if leased_at.elapsed() >= relay.lease / 3 {
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
        let mut made = Made::default();
        let outcome = tokio::select! {
            outcome = attempt(&relay, &row, body, &attachments, &mut made) => outcome,
            () = renew => {
                tracing::warn!("claim lost (lease lapsed); leaving the event to its new holder");
                return None;
            }
        };
        Some(settle(&relay, &row, outcome, made))
    }
    .instrument(span)
    .await
}

/// What to record of an attempt's outcome.
fn settle(relay: &Relay, row: &ClaimedRow, outcome: Result<(), Failure>, made: Made) -> Settled {
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
                enqueued_at: row.created_at,
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
                uploads: made.uploads,
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
    made: &mut Made,
) -> Result<(), Failure> {
    let store = &relay.outbox.inner.store;
    let body = if row.attachments == 0 {
        // Stored without attachments, the body holds no token: it is the
        // request as it is, moved rather than copied.
        Bytes::from(body)
    } else {
        with_assets(relay, row, body, attachments, made).await?
    };
    match flowflex::__outbox::post_event(&relay.client, &row.event, &row.idempotency_key, body)
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if e.code() == Some("ASSET_FILE_MISSING") => {
            // FlowFlex no longer has an upload this event names: upload
            // afresh next time.
            store.clear_assets(row.id).await?;
            made.uploads.clear();
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
    made: &mut Made,
) -> Result<Bytes, Failure> {
    let config = &relay.outbox.inner.config;
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
    let slots: Vec<(String, usize)> =
        serde_json::from_str(&row.slots).map_err(|e| corrupt(row.id, e))?;
    let fresh_for = ms(config.asset_lifetime.saturating_sub(config.asset_margin));
    let mut ids = Vec::with_capacity(attachments.len());
    for (i, a) in attachments.iter().enumerate() {
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
                let path = slots
                    .iter()
                    .find(|(_, index)| *index == i)
                    .map_or("", |(path, _)| path.as_str());
                let id = upload(relay, row.id, a, path).await?;
                made.uploads.push((a.idx, id.as_str().to_owned(), now));
                ids.push(Some(id));
            }
        }
    }
    match BodyFormat::of(row.body_format) {
        Some(BodyFormat::Template) => {
            let placeholders = attachments
                .iter()
                .map(|a| Attachment::from_bytes(Vec::new(), a.filename.clone()))
                .collect();
            let template =
                flowflex::__outbox::Template::from_parts(Bytes::from(body), placeholders, slots)
                    .map_err(|e| corrupt(row.id, e))?;
            template.body(&ids).map_err(|e| corrupt(row.id, e))
        }
        Some(BodyFormat::Json) => {
            // Enqueued through SQL: each asset id goes at its file's path.
            let mut json: serde_json::Value =
                serde_json::from_slice(&body).map_err(|e| corrupt(row.id, e))?;
            for (path, index) in &slots {
                let Some(Some(id)) = ids.get(*index) else {
                    return Err(corrupt(row.id, format!("no upload for `{path}`")));
                };
                paths::set(&mut json, path, serde_json::Value::from(id.as_str()))
                    .map_err(|e| permanent(format!("the payload has no place for a file: {e}")))?;
            }
            serde_json::to_vec(&json)
                .map(Bytes::from)
                .map_err(|e| corrupt(row.id, e))
        }
        None => Err(corrupt(
            row.id,
            format!("unknown body format {}", row.body_format),
        )),
    }
}

/// Uploads one stored attachment. Its errors name it as the payload did
/// (`invoice`, `invoice.pdf`), never by the outbox's copy of it.
async fn upload(
    relay: &Relay,
    id: i64,
    a: &AttachmentRow,
    path: &str,
) -> Result<flowflex::AssetId, Failure> {
    let store = &relay.outbox.inner.store;
    let mime: flowflex::Mime = a.mime.parse().map_err(|e| corrupt(id, e))?;
    let local = store.local_file(id, a).await?;
    let attachment = Attachment::from_path(&local.path)
        .with_filename(a.filename.clone())
        .with_mime(mime);
    let uploaded = relay.client.upload(&attachment).await;
    drop(local);
    uploaded.map_err(|mut e| {
        in_user_terms(&mut e, path, &a.filename);
        failure(&e)
    })
}

/// Names the attachment of an error by its payload path and file name.
fn in_user_terms(e: &mut flowflex::Error, at: &str, filename: &str) {
    if let flowflex::Error::Upload { path, file, .. }
    | flowflex::Error::Attachment { path, file, .. } = e
    {
        *path = (!at.is_empty()).then(|| at.to_owned());
        filename.clone_into(file);
    }
}

/// A failure no retry can mend: straight to the dead letters.
fn permanent(message: String) -> Failure {
    Failure {
        message,
        retry_after: None,
        permanent: true,
        soon: false,
    }
}

fn corrupt(id: i64, e: impl std::fmt::Display) -> Failure {
    Failure::from(Error::Corrupt {
        id: OutboxId(id),
        message: e.to_string(),
    })
}
