//! The outbox's error type.

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

    /// Reading or writing the outbox's own files failed: the spool
    /// directory beside a SQLite database, or a temporary copy of an
    /// attachment on its way to FlowFlex.
    #[error("{doing} failed: {source} (the outbox's files are beside {path})")]
    Io {
        /// What the outbox was doing, in the caller's terms (which
        /// attachment, at which payload path).
        doing: String,
        /// The outbox's database file or the temporary directory.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },

    /// The disk that holds the outbox (or the PostgreSQL server's) is full.
    /// Nothing of this call was stored, and what was stored before is kept:
    /// free space, and enqueues and deliveries resume by themselves.
    #[error(
        "the outbox's disk is full ({doing}: {message}): nothing was stored. Free space on the disk that holds {location}; enqueues and deliveries resume by themselves, and the events stored before are kept"
    )]
    DiskFull {
        /// What the outbox was doing.
        doing: String,
        /// Where the outbox is: its database file, or "the PostgreSQL server".
        location: String,
        /// The database's or the system's message.
        message: String,
    },

    /// [`OutboxBuilder::create(false)`](crate::OutboxBuilder::create) found
    /// no outbox, or one at an older version: nothing was created or
    /// migrated.
    #[error(
        "{found}: nothing was created or migrated (OutboxBuilder::create(false)); open it once with create(true), the default, to create or update it"
    )]
    NoOutbox {
        /// What was found instead.
        found: String,
    },

    /// `in_transaction` was given a transaction of the other database.
    #[error(
        "a {transaction} transaction cannot hold an event of a {outbox} outbox: enqueue in a transaction on the outbox's own database ({outbox})"
    )]
    WrongTransaction {
        /// The outbox's database.
        outbox: &'static str,
        /// The transaction's database.
        transaction: &'static str,
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

    /// A driver error while `doing`: [`Error::DiskFull`] when the database
    /// says it is out of space (SQLITE_FULL, PostgreSQL's `disk_full`, or
    /// ENOSPC), [`Error::Database`] otherwise.
    pub(crate) fn db(doing: &'static str) -> impl FnOnce(sqlx::Error) -> Error {
        move |source| {
            if is_disk_full(&source) {
                return Error::DiskFull {
                    doing: doing.to_owned(),
                    location: match &source {
                        sqlx::Error::Database(e)
                            if e.try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
                                .is_some() =>
                        {
                            "the PostgreSQL server's data".to_owned()
                        }
                        _ => "the outbox's database".to_owned(),
                    },
                    message: redact_db(&source),
                };
            }
            Error::Database {
                doing,
                message: redact_db(&source),
                source: Some(source),
            }
        }
    }

    /// An I/O error on the outbox's own files while `doing` (said in the
    /// caller's terms); `near`: the database file they are beside.
    pub(crate) fn file(doing: String, near: &std::path::Path, source: std::io::Error) -> Error {
        if source.kind() == std::io::ErrorKind::StorageFull || source.raw_os_error() == Some(28) {
            return Error::DiskFull {
                doing,
                location: format!("{}", near.display()),
                message: source.to_string(),
            };
        }
        Error::Io {
            doing,
            path: near.display().to_string(),
            source,
        }
    }

    /// [`Error::file`] as a closure, for `map_err`.
    pub(crate) fn io_at<'a>(
        doing: &'a str,
        near: &'a std::path::Path,
    ) -> impl FnOnce(std::io::Error) -> Error + 'a {
        move |source| Error::file(doing.to_owned(), near, source)
    }

    /// Whether the connection failed (dropped, reset, the backend
    /// terminated or the server shutting down), not the statement: another
    /// connection may well succeed.
    pub(crate) fn is_connection(&self) -> bool {
        let Error::Database {
            source: Some(source),
            ..
        } = self
        else {
            return false;
        };
        match source {
            sqlx::Error::Io(_) | sqlx::Error::Protocol(_) => true,
            sqlx::Error::Database(db) => db
                .code()
                .is_some_and(|c| c.starts_with("08") || c.starts_with("57P")),
            _ => false,
        }
    }

    /// The same error again, for every caller a failed group commit
    /// answers (without the driver's error as its source).
    pub(crate) fn again(&self) -> Error {
        match self {
            Error::DiskFull {
                doing,
                location,
                message,
            } => Error::DiskFull {
                doing: doing.clone(),
                location: location.clone(),
                message: message.clone(),
            },
            Error::Database { doing, message, .. } => Error::Database {
                doing,
                message: message.clone(),
                source: None,
            },
            other => Error::Database {
                doing: "writing to the outbox",
                message: other.to_string(),
                source: None,
            },
        }
    }
}

impl From<flowflex::Error> for Error {
    fn from(e: flowflex::Error) -> Self {
        Error::Event(e)
    }
}

/// Whether the database (or the system under it) says it is out of space.
fn is_disk_full(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(db) => matches!(db.code().as_deref(), Some("13" | "53100")),
        sqlx::Error::Io(io) => {
            io.kind() == std::io::ErrorKind::StorageFull || io.raw_os_error() == Some(28)
        }
        _ => false,
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
