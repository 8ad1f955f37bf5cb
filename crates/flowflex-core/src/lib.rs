//! The rules that [`flowflex`](https://docs.rs/flowflex) applies when it sends
//! and that `flowflex-derive` applies when it compiles, kept in one place so
//! the two can never disagree: the 16 MIME types FlowFlex accepts ([`Mime`]),
//! the magic-byte check of a file's content ([`sniff`]), `max_size` sizes
//! ([`size`]) and the event-name rule ([`check_event_name`]).
//!
//! This crate is an implementation detail of `flowflex` and `flowflex-derive`,
//! with no stability promise: any release may change it. Use `flowflex`,
//! which re-exports what is meant for you (`flowflex::Mime`,
//! `flowflex::MAX_FILE_BYTES`).
#![deny(missing_docs)]

mod event_name;
mod mime;
pub mod size;
pub mod sniff;
#[doc(hidden)]
pub mod suggest;

pub use event_name::{EVENT_NAME_MAX_BYTES, EventNameError, check_event_name};
pub use mime::{Mime, ParseMimeError};

/// The largest file FlowFlex stores: 25 MiB (26,214,400 bytes).
pub const MAX_FILE_BYTES: u64 = 25 * 1024 * 1024;

/// `text` for a message: control characters escaped, cut after `max`
/// characters, so a hostile or huge input cannot flood or break the message.
#[doc(hidden)]
#[must_use]
pub fn printable(text: &str, max: usize) -> String {
    let mut out = String::new();
    for (i, c) in text.chars().enumerate() {
        if i == max {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn printable_escapes_and_cuts() {
        assert_eq!(super::printable("a\r\nb", 10), "a\\r\\nb");
        assert_eq!(super::printable("abcdef", 3), "abc…");
        assert_eq!(super::printable("envïado", 80), "envïado");
    }
}
