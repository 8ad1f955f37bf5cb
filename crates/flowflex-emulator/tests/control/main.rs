//! The control API under `/_emulator/`, over real HTTP with a plain client:
//! each path and field, the waits, faults, clock and reset, and who may
//! reach it.

mod assets;
mod clock_and_reset;
mod events;
mod faults;
mod guard;

#[path = "../common/mod.rs"]
mod common;

pub(crate) use common::{Ctx, PDF, PNG, assert_error};
