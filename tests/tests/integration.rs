//! The integration tests, one binary: each module is a file of this
//! directory (`bad_inputs.rs`, `send.rs`, ...), run against the emulator on
//! loopback. One binary links and monomorphizes the SDK, the emulator and
//! tokio once instead of once per file, which is most of what a first
//! `cargo test --workspace` spends here.
//!
//! Three files stay binaries of their own: `load.rs` (ignored, run by hand
//! with `--test load`), `payload_memory.rs` (no libtest harness: it measures
//! its own process) and `tracing_redaction.rs` (it installs the process's
//! tracing subscriber).

mod bad_inputs;
mod blocking;
mod derive_paths;
mod derive_send;
mod error_messages;
mod exact_bytes;
mod failures;
mod faults;
mod guide_testing_your_events;
mod hardening;
mod payload;
mod properties;
mod secrets;
mod send;
