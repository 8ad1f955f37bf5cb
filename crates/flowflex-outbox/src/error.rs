//! The outbox's error type.

use std::fmt;
use std::time::Duration;

use crate::OutboxId;

/// `Result` with the outbox's [`Error`] as the default error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong with the outbox.
///
/// No variant carries a database password, an API secret or a presigned
/// URL's token, in `Display` or in `Debug`.
///
/// ```
/// use flowflex_outbox::Error;
///
/// let err = Error::Full { pending_events: 10, pending_bytes: 0, max_events: 10, max_bytes: 1 << 30 };
/// assert!(err.to_string().starts_with("the outbox is full"));
/// assert!(err.as_event_error().is_none());
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The event was refused at enqueue, exactly as `Client::send_event`
    /// would refuse it (event name, payload, attachment type, content, size,
    /// field rules). Nothing was stored.
    #[error(transparent)]
    Event(flowflex::Error),

    /// Backpressure: storing the event would take the outbox over its cap on
    /// pending events or bytes. Nothing was stored; try again once the relay
    /// has caught up, or raise the caps.
    #[error(
        "the outbox is full: {pending_events} events and {pending_bytes} bytes pending, the caps are {max_events} events and {max_bytes} bytes. Let the relay catch up (is it running, is FlowFlex reachable?) or raise the caps"
    )]
    Full {
        /// Events pending when the event was refused.
        pending_events: u64,
        /// Bytes (bodies and attachments) pending when it was refused.
        pending_bytes: u64,
        /// The cap on pending events.
        max_events: u64,
        /// The cap on pending bytes.
        max_bytes: u64,
    },

    /// The database failed or refused a statement.
    #[error("outbox database error while {doing}: {message}")]
    Database {
        /// What the outbox was doing.
        doing: &'static str,
        /// The database's message.
        message: String,
        /// The driver's error.
        #[source]
        source: Option<sqlx::Error>,
    },

    /// The outbox's schema could not be created or migrated.
    #[error("migrating the outbox schema failed: {0}")]
    Migrate(#[source] sqlx::migrate::MigrateError),

    /// Reading or writing the attachment store (the spool directory beside a
    /// SQLite database, or a temporary file) failed.
    #[error("outbox file store: {doing} {path}: {source}")]
    Io {
        /// What the outbox was doing.
        doing: &'static str,
        /// The file or directory.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },

    /// [`RelayHandle::flush`](crate::RelayHandle::flush) gave up: events
    /// were still pending when the time was up.
    #[error(
        "flush timed out after {after:?} with {pending} events still pending (the oldest may be waiting out a backoff or a FlowFlex outage; see stats())"
    )]
    FlushTimeout {
        /// The time allowed.
        after: Duration,
        /// Events still pending.
        pending: u64,
    },

    /// No event has this id.
    #[error("no outbox event with id {0}")]
    NotFound(OutboxId),

    /// [`Outbox::requeue`](crate::Outbox::requeue) of an event that is not a
    /// dead letter.
    #[error("outbox event {id} is {status}, not dead: only dead letters can be requeued")]
    NotDead {
        /// The event.
        id: OutboxId,
        /// Its status.
        status: String,
    },

    /// The outbox configuration or an argument is invalid.
    #[error("invalid outbox configuration: {0}")]
    Config(String),

    /// A stored row cannot be read back (edited by hand, or written by an
    /// incompatible version).
    #[error("outbox event {id} cannot be read back: {message}")]
    Corrupt {
        /// The event.
        id: OutboxId,
        /// What is wrong.
        message: String,
    },
}

impl Error {
    /// The `flowflex::Error` an enqueue was refused with, as a send would
    /// have returned it.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> flowflex_outbox::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// let outbox = flowflex_outbox::Outbox::open_sqlite(dir.path().join("outbox.db")).await?;
    /// let fake = flowflex::Attachment::from_bytes(&b"\x89PNG\r\n\x1a\n...."[..], "invoice.pdf");
    /// let err = outbox.enqueue("order.shipped", flowflex::json!({"invoice": fake})).await.unwrap_err();
    /// assert_eq!(
    ///     err.as_event_error().and_then(|e| e.attachment_kind()),
    ///     Some(flowflex::AttachmentErrorKind::TypeMismatch),
    /// );
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn as_event_error(&self) -> Option<&flowflex::Error> {
        match self {
            Error::Event(e) => Some(e),
            _ => None,
        }
    }

    pub(crate) fn db(doing: &'static str) -> impl FnOnce(sqlx::Error) -> Error {
        move |source| Error::Database {
            doing,
            message: redact_db(&source),
            source: Some(source),
        }
    }

    pub(crate) fn io(
        doing: &'static str,
        path: impl fmt::Display,
    ) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.to_string();
        move |source| Error::Io {
            doing,
            path,
            source,
        }
    }
}

impl From<flowflex::Error> for Error {
    fn from(e: flowflex::Error) -> Self {
        Error::Event(e)
    }
}

/// A driver error's text, without a connection URL (which may hold a
/// password).
fn redact_db(e: &sqlx::Error) -> String {
    match e {
        sqlx::Error::Configuration(_) => "invalid connection settings".to_owned(),
        other => other.to_string(),
    }
}
