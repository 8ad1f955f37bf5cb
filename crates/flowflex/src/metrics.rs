//! What a client reports through the `metrics` facade (feature `metrics`;
//! docs/operations.md): sends, uploads, retries. Without the feature each
//! function is empty. Labels take a few fixed values only: never a payload
//! value, a key or a file name.

use std::time::Duration;

use crate::error::Endpoint;

/// The names, as docs/operations.md lists them.
#[cfg(feature = "metrics")]
mod names {
    /// Every `send_event` that ended, by `outcome` (`ok` | `error`).
    pub(super) const EVENTS_SENT: &str = "flowflex_events_sent_total";
    /// Every upload that ended (`send_event`'s, `Client::upload`'s, a
    /// relay's), by `outcome`.
    pub(super) const UPLOADS: &str = "flowflex_uploads_total";
    /// The bytes of the files uploaded.
    pub(super) const UPLOAD_BYTES: &str = "flowflex_upload_bytes_total";
    /// Requests sent again after a transient failure, by `endpoint`.
    pub(super) const RETRIES: &str = "flowflex_retries_total";
    /// How long each `send_event` took, from the call to its answer, by
    /// `outcome`.
    pub(super) const SEND_SECONDS: &str = "flowflex_send_seconds";
}
#[cfg(feature = "metrics")]
use names::*;

fn outcome(ok: bool) -> &'static str {
    if ok { "ok" } else { "error" }
}

/// The `endpoint` label of a request.
fn endpoint(e: Endpoint) -> &'static str {
    match e {
        Endpoint::UploadUrl => "upload_url",
        Endpoint::Storage => "storage",
        Endpoint::Event => "event",
    }
}

/// A send ended after `took`.
pub(crate) fn sent(ok: bool, took: Duration) {
    #[cfg(feature = "metrics")]
    {
        describe();
        metrics::counter!(EVENTS_SENT, "outcome" => outcome(ok)).increment(1);
        metrics::histogram!(SEND_SECONDS, "outcome" => outcome(ok)).record(took.as_secs_f64());
    }
    #[cfg(not(feature = "metrics"))]
    let _ = (outcome(ok), took);
}

/// An upload of a `size`-byte file ended.
pub(crate) fn uploaded(ok: bool, size: u64) {
    #[cfg(feature = "metrics")]
    {
        describe();
        metrics::counter!(UPLOADS, "outcome" => outcome(ok)).increment(1);
        if ok {
            metrics::counter!(UPLOAD_BYTES).increment(size);
        }
    }
    #[cfg(not(feature = "metrics"))]
    let _ = (outcome(ok), size);
}

/// A request to `e` is sent again.
pub(crate) fn retried(e: Endpoint) {
    #[cfg(feature = "metrics")]
    {
        describe();
        metrics::counter!(RETRIES, "endpoint" => endpoint(e)).increment(1);
    }
    #[cfg(not(feature = "metrics"))]
    let _ = endpoint(e);
}

/// Tells the recorder what each metric is. On every report, not once per
/// process: a recorder installed after the first send still learns them,
/// and no process-wide flag is kept (it costs a map write beside a
/// request).
#[cfg(feature = "metrics")]
fn describe() {
    use metrics::Unit;
    metrics::describe_counter!(EVENTS_SENT, "Events sent with send_event, by outcome");
    metrics::describe_counter!(UPLOADS, "Attachment uploads, by outcome");
    metrics::describe_counter!(UPLOAD_BYTES, Unit::Bytes, "Bytes of attachments uploaded");
    metrics::describe_counter!(
        RETRIES,
        "Requests sent again after a transient failure, by endpoint"
    );
    metrics::describe_histogram!(
        SEND_SECONDS,
        Unit::Seconds,
        "How long send_event took, from the call to FlowFlex's answer"
    );
}
