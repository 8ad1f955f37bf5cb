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
//!     .send_event("order.shipped", flowflex::json!({
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
//!
//! # Features
//!
//! | feature | default | what it does |
//! | --- | --- | --- |
//! | `rustls` | yes | TLS through rustls with the *ring* crypto provider (or the process default provider, if the program installed one), and the platform's root certificates |
//! | `native-tls` | no | TLS through the platform's library (OpenSSL, Secure Transport, SChannel); wins over `rustls` when both are on |
//! | `blocking` | no | `blocking::Client`: the same API for code that is not async |
//! | `metrics` | no | counters and histograms of sends, uploads and retries through the [`metrics`](https://docs.rs/metrics) facade; the application installs the exporter |
//!
//! Why *ring* rather than rustls' default, aws-lc-rs: ring builds a few C
//! and assembly files with `cc`, where aws-lc-sys builds the whole AWS-LC
//! C library (about a minute on two cores), which also makes
//! cross-compiling heavier. To use aws-lc-rs (FIPS,
//! post-quantum key exchange), install it as the process default before
//! building a client, and the SDK uses it:
//! `rustls::crypto::aws_lc_rs::default_provider().install_default()`.
//! The SDK never installs a default itself, and never panics when a program
//! links both providers.
//!
//! # Your own HTTP client
//!
//! [`ClientBuilder::http_client`] takes a ready `reqwest::Client`: a proxy,
//! extra root certificates, a client shared with the rest of your program.
//! Start from [`http_client_builder`]: it has the SDK's TLS, and redirects
//! off, so credentials never follow one to another host.
//!
//! ```no_run
//! # fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let http = flowflex::http_client_builder()?
//!     .proxy(reqwest::Proxy::https("http://proxy.internal:3128")?)
//!     .build()?;
//! let client = flowflex::Client::builder()
//!     .http_client(http)
//!     .from_env()
//!     .build()?;
//! # let _ = client; Ok(()) }
//! ```
//!
//! # Progress
//!
//! [`SendEvent::on_progress`] reports each attachment's bytes as they go out
//! (the `flowflex` CLI draws its progress bars from it):
//!
//! ```no_run
//! # async fn demo(client: flowflex::Client) -> flowflex::Result<()> {
//! client
//!     .send_event("order.shipped", flowflex::json!({
//!         "video": flowflex::Attachment::from_path("./unboxing.mp4"),
//!     }))
//!     .on_progress(|p| eprintln!("{} ({}): {}/{} bytes", p.path, p.filename, p.sent, p.total))
//!     .await?;
//! # Ok(()) }
//! ```
//!
//! # Logging
//!
//! The SDK logs through [`tracing`](https://docs.rs/tracing), under the
//! target `flowflex`; install any subscriber to see it. A send is the span
//! `flowflex.send` (event name, idempotency key, number of attachments), each
//! upload the span `flowflex.upload` (file name, type, size); a retry logs a
//! `WARN` with the endpoint, attempt, status and wait. Nothing logged holds a
//! secret or a presigned URL's token.
//!
//! ```rust,ignore
//! // With tracing-subscriber and its env-filter feature:
//! tracing_subscriber::fmt().with_env_filter("flowflex=debug").init();
//! ```
//!
//! # Minimum supported Rust version
//!
//! Rust 1.85 (edition 2024), declared as `rust-version`; CI checks it with
//! clippy's `incompatible_msrv` lint (`msrv` in `clippy.toml`). Raising it
//! is a minor-version change.
#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(missing_docs)]

// The modules in layers, top first. A module uses only modules of lower
// layers (a submodule its parent too: the type lives there, its methods in
// the submodules), so no two modules import each other.
// tests/layering.rs parses every file with syn and checks every path
// against this table; docs/architecture.md quotes it.
//
// | layer | modules | hold |
// | ---: | --- | --- |
// | 20 | `fuzzing` | `flowflex::__fuzz`: hooks for the fuzz targets and property tests, with the `fuzzing` feature only |
// | 19 | `outbox`, `blocking` | `flowflex::__outbox`: what `flowflex-outbox` needs; `blocking::Client` |
// | 18 | `event` | the public traits of typed events |
// | 17 | `client` | `Client`: the handle users hold, and its calls |
// | 16 | `send` | `SendEvent`: checks, parallel uploads, the event POST |
// | 15 | `encode` | `IntoPayload`; the body written once, where its tokens stand, the splice |
// | 14 | `payload` | `Payload`, `flowflex::json!`, the recording of attachments |
// | 13 | `visit` | the derive's hidden walk: `Visit`, `Visitor`, path templates |
// | 12 | `formatter` | how a send writes JSON; the formatter that notes a payload's paths |
// | 11 | `slots` | where attachments stand: flow paths, places, field rules; keys in order |
// | 10 | `attachment` | `Attachment` and `FileInfo`, the public types |
// | 9 | `attachment::check` | every check before the first request: name, type, bytes, size |
// | 8 | `attachment::body` | a checked attachment and the streamed, length-checked body of an upload |
// | 7 | `attachment::reader` | a reader's state, reads with a deadline, what a failed read means |
// | 6 | `builder` | `ClientBuilder` and every configuration check |
// | 5 | `api` | the endpoints and their wire types |
// | 4 | `transport`, `tls` | the request loop (deadline, bounded reads, retries); TLS set-up |
// | 3 | `mime`, `metrics` | `Mime`, from `flowflex-core`; the `metrics` feature's counters |
// | 2 | `error` | `Error` and its kinds |
// | 1 | `redact`, `retry`, `sniff`, `token` | secrets kept out of text; `RetryConfig`; magic bytes; the attachment token |
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
#[path = "fuzzing.rs"]
pub mod __fuzz;
#[doc(hidden)]
#[path = "outbox.rs"]
pub mod __outbox;
mod api;
mod attachment;
#[cfg(feature = "blocking")]
#[cfg_attr(docsrs, doc(cfg(feature = "blocking")))]
pub mod blocking;
mod builder;
mod client;
mod encode;
mod error;
mod event;
mod formatter;
mod metrics;
mod mime;
mod payload;
mod redact;
mod retry;
mod send;
mod slots;
mod sniff;
mod tls;
mod token;
mod transport;
mod visit;

pub use api::{AssetId, UploadTicket, UploadUrl};
pub use attachment::{Attachment, FileInfo};
pub use builder::{
    ClientBuilder, DEFAULT_BASE_URL, DEFAULT_MAX_CONCURRENT_UPLOADS, DEFAULT_TIMEOUT,
    http_client_builder,
};
pub use client::Client;
pub use encode::IntoPayload;
pub use error::{AttachmentErrorKind, Endpoint, Error, Result};
pub use event::{FlowFlexEvent, NamedEvent};
pub use flowflex_derive::FlowFlexEvent;
/// A file compiled into the binary, as an [`Attachment`]: checked at compile
/// time (present, at most 25 MiB, one of the 16 [`Mime`] types by extension
/// and by content), read at compile time relative to the crate's
/// `Cargo.toml`, rebuilt when it changes.
///
/// ```
/// let logo: flowflex::Attachment = flowflex::include_attachment!("tests/fixtures/logo.png");
/// assert_eq!(logo.mime(), Some(flowflex::Mime::Png));
/// assert_eq!(logo.filename(), Some("logo.png"));
/// ```
pub use flowflex_derive::include_attachment;
pub use mime::{Mime, ParseMimeError};
pub use payload::{Payload, preview};
pub use retry::RetryConfig;
pub use send::{Progress, SendEvent, SendEventResult};

/// The largest file FlowFlex stores: 25 MiB (26,214,400 bytes).
///
/// ```
/// assert_eq!(flowflex::MAX_FILE_BYTES, 26_214_400);
/// let err = flowflex::Client::builder()
///     .api_key("cik_xxx")
///     .api_secret("yyy")
///     .integration_code("ic_abc123")
///     .max_file_bytes(flowflex::MAX_FILE_BYTES + 1)
///     .build()
///     .unwrap_err(); // no client accepts more
/// assert!(err.to_string().contains("max_file_bytes"));
/// ```
pub const MAX_FILE_BYTES: u64 = flowflex_core::MAX_FILE_BYTES;

// The README's examples compile: crates.io shows it.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

#[doc(hidden)]
pub mod __private {
    //! Support for the derive's generated code. Not public API.
    pub use crate::event::send;
    pub use crate::visit::{
        FieldRules, MapKey, Mark, Probe, Templates, ViaNothing, ViaVisit, Visit, Visitor,
        attachment_paths,
    };
    pub use serde;
    pub use serde_json;
}
