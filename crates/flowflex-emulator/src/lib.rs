//! A faithful local stand-in for the FlowFlex API and its presigned file
//! storage, for tests, examples and development.
//!
//! It serves, on loopback:
//!
//! - `POST /v1/assets/upload-url` (Basic auth): creates an asset and answers
//!   `{"assetId", "uploadUrl", "token"}`;
//! - `PUT /storage/{assetId}?token=...`: the presigned upload, checked like a
//!   real object store (no `Authorization`, exact `Content-Length`, matching
//!   `Content-Type`, 2 h token lifetime);
//! - `POST /v1/events/{integration_code}` (Basic auth): accepts an event once
//!   every `asset_...` string in its payload names an uploaded asset, with
//!   idempotent replay per `x-idempotency-key`;
//!
//! the API routes also under `/api`. Errors are JSON
//! `{"error": "...", "code": "..."}`.
//!
//! Tests in Rust inspect what arrived ([`Emulator::events`],
//! [`Emulator::wait_for_events`], [`Emulator::assets`],
//! [`Emulator::requests`]), move the emulator's clock
//! ([`Emulator::advance_clock`]) and script failures ([`Emulator::inject`]
//! with a [`Fault`]). Tests in any language do the same over HTTP, through
//! the control API under `/_emulator/` (`GET /_emulator/events?count=1&wait_ms=5000`,
//! `POST /_emulator/faults`, ...), and people watch events and open their
//! files in the inspector page at `/` ([`Emulator::inspector_url`]). Both
//! answer only on a loopback bind unless [`EmulatorBuilder::inspector`]
//! says otherwise; docs/emulator.md describes them.
//!
//! To run the emulator as a server, use `flowflex emulator` (the
//! `flowflex-cli` crate); this library has no command-line parser, so a
//! crate that starts it in its tests compiles none.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> std::io::Result<()> {
//! use flowflex_emulator::{Emulator, Endpoint, Fault};
//!
//! let emulator = Emulator::start().await?;
//! // The client under test uses emulator.base_url(), emulator.api_key(), ...
//! emulator.inject(Fault::on(Endpoint::Events).status(503).retry_after_secs(1));
//! // ... run the client, then inspect:
//! assert!(emulator.events().is_empty());
//! # Ok(())
//! # }
//! ```
#![warn(missing_docs)]

mod api;
mod clock;
mod control;
mod emulator;
mod error;
mod fault;
mod guard;
mod headers;
mod inspector;
mod mime;
mod model;
mod paths;
mod server;
mod state;
mod time;

use std::time::Duration;

pub use emulator::{
    DEFAULT_API_KEY, DEFAULT_API_SECRET, DEFAULT_INTEGRATION_CODE, Emulator, EmulatorBuilder,
};
pub use fault::Fault;
pub use mime::ALLOWED_MIME_TYPES;
pub use model::{Endpoint, RecordedEvent, RecordedRequest, StoredAsset};

/// The default largest file, in bytes: 25 MiB, as the FlowFlex API.
pub const DEFAULT_MAX_FILE_BYTES: u64 = 25 * 1024 * 1024;

/// How long a presigned upload URL stays valid, on the emulator's clock.
pub const UPLOAD_TOKEN_TTL: Duration = Duration::from_secs(2 * 60 * 60);

/// How long an uploaded asset can be referenced by events, on the emulator's
/// clock, from its (last) upload.
pub const ASSET_TTL: Duration = Duration::from_secs(48 * 60 * 60);

/// Compiles the README's examples.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
