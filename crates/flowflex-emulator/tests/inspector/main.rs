//! The inspector page at `/` and its live stream, read as HTML and as
//! server-sent events by a plain client. (A real browser drives it in
//! crates/flowflex-cli/tests/inspector_browser.rs.)

mod page;
mod stream;

#[path = "../common/mod.rs"]
mod common;

pub(crate) use common::{Ctx, PDF, PNG};

/// A payload that tries every way to become markup.
pub(crate) fn hostile() -> serde_json::Value {
    serde_json::json!({
        "customer": {"name": "<script>window.pwned = 1</script>"},
        "note": "\"><img src=x onerror=\"window.pwned = 2\">",
        "<b>key</b>": "it's & \"quoted\"",
    })
}
