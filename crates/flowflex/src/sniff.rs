//! Magic-byte checks: does a file's content agree with the MIME type it claims?
//!
//! The check lives in `flowflex-core`, so `include_attachment!` runs the same
//! one at compile time; this module names it for the runtime.

pub(crate) use flowflex_core::sniff::{Detected, SNIFF_LEN, check, detect};
