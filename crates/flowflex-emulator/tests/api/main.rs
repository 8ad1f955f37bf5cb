//! The emulator's protocol, checked over real HTTP with a plain client.

mod accounting;
mod events;
mod faults;
mod storage;
mod upload_url;

#[path = "../common/mod.rs"]
mod common;

pub(crate) use common::{Ctx, assert_error, eventually};
