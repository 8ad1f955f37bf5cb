//! The Rust SDK for [FlowFlex](https://flowflex.ai): fire custom-integration
//! events, with private files attached, from async Rust.
//!
//! An event is a JSON object. Any [`Attachment`] in it (a PDF invoice, a PNG
//! label) is uploaded to FlowFlex storage through a presigned URL first, and
//! the event carries the file's asset id in its place; a flow reads it by its
//! path (`{{trigger.invoice}}`, `{{trigger.gallery[0]}}`).
//!
//! ```no_run
//! # async fn demo() -> flowflex::Result<()> {
//! use flowflex::{Attachment, Client};
//!
//! let client = Client::from_env()?;
//! let sent = client
//!     .send_event("order.shipped", serde_json::json!({
//!         "invoice": Attachment::from_path("./invoice.pdf"),
//!         "gallery": [Attachment::from_path("a.jpg"), Attachment::from_path("b.jpg")],
//!         "note": "passes through",
//!     }))
//!     .await?;
//! println!("{}", sent.uploaded_assets["invoice"]);
//! # Ok(()) }
//! ```
//!
//! What the SDK guarantees:
//! - Every file is checked before the first request: its type is one of the
//!   16 FlowFlex accepts ([`Mime`]), its bytes match that type, it is within
//!   the size cap. A bad file fails the send with [`Error::Attachment`]
//!   naming its payload path, and nothing is sent.
//! - Files stream from disk; uploads run in parallel; the event is posted
//!   only once every upload succeeded.
//! - Transient failures are retried ([`RetryConfig`]); the event keeps its
//!   idempotency key across attempts, so it fires once.
//! - No secret (API secret, `Authorization` value, presigned URL token)
//!   appears in `Debug`, `Display`, logs or errors.
#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(missing_docs)]

mod attachment;
mod client;
mod error;
mod event;
mod mime;
mod payload;
mod redact;
mod retry;
mod send;
mod sniff;

pub use attachment::Attachment;
pub use client::{
    Client, ClientBuilder, DEFAULT_BASE_URL, DEFAULT_MAX_CONCURRENT_UPLOADS, DEFAULT_TIMEOUT,
};
pub use error::{AttachmentErrorKind, Endpoint, Error, Result};
pub use mime::Mime;
pub use payload::preview;
pub use retry::RetryConfig;
pub use send::{AssetId, Progress, SendEvent, SendEventResult, UploadTicket, UploadUrl};

/// The largest file FlowFlex stores: 25 MiB (26 214 400 bytes).
pub const MAX_FILE_BYTES: u64 = 25 * 1024 * 1024;

#[doc(hidden)]
pub mod __private {
    //! Support for the derive's generated code. Not public API.
    pub use crate::send::FieldRules;
    pub use serde;
    pub use serde_json;
}
