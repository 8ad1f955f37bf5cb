//! The inspector page in a real browser: headless Chromium (Debian's
//! `chromium`, which .ci/run installs) opens the page served by a separate
//! `flowflex emulator`, events sent by the SDK appear without a reload,
//! newest first, with their flow names and file previews, payload markup
//! stays text, and the flow template fills from the selected event. A
//! screenshot is saved as target/inspector.png for people to look at.
//!
//! Without Chromium the test says "skipped" and passes, unless
//! FLOWFLEX_REQUIRE_CHROMIUM=1 (as in CI).
#![cfg(unix)]

mod common;

#[path = "common/browser.rs"]
mod browser;

use std::io::Write as _;

use browser::Browser;
use common::{Served, asset, target_dir};
use flowflex::Attachment;
use serde_json::Value;

#[test]
fn events_appear_live_with_flow_names_and_previews_and_markup_stays_text() {
    let Some(chromium) = browser::find() else {
        assert!(
            std::env::var_os("FLOWFLEX_REQUIRE_CHROMIUM").is_none_or(|v| v != "1"),
            "FLOWFLEX_REQUIRE_CHROMIUM=1 but no chromium on PATH (apt-get install chromium)"
        );
        // Straight to stderr, past the test harness's capture, so that the
        // line shows in a passing run.
        let _ = writeln!(
            std::io::stderr(),
            "skipped: chromium is not installed (apt-get install chromium), so the inspector page was not tested in a browser"
        );
        return;
    };
    let served = Served::start(&["--port", "0", "-q"], true);
    let inspector = served.inspector.clone().expect("the inspector URL");
    let client = served.client();

    let log = target_dir().join("inspector-chromium.log");
    let mut browser = Browser::start(&chromium, &log);
    browser.open(&inspector);
    browser.wait_until("document.getElementById('live').classList.contains('on')");
    assert_eq!(
        browser.eval("document.querySelectorAll('article.event').length"),
        0
    );
    // Set on this document: still there later means no reload happened.
    browser.eval("window.sameDocument = 'yes'");

    let hostile = client
        .send_event(
            "support.ticket",
            flowflex::json!({
                "customer": {"name": "<script>window.pwned = 1</script>"},
                "note": "\"><img src=x onerror=\"window.pwned = 2\">",
            }),
        )
        .send()
        .expect("sent")
        .response;
    let hostile_id = hostile["eventId"].as_str().expect("eventId").to_owned();
    browser.wait_until(&format!(
        "document.querySelector('article.event[data-id=\"{hostile_id}\"]')"
    ));

    let shipped = client
        .send_event(
            "order.shipped",
            flowflex::json!({
                "invoice": Attachment::from_path(asset("invoice.pdf")),
                "label": Attachment::from_path(asset("label.png")),
                "gallery": [Attachment::from_path(asset("photo.jpg"))],
                "customer": {"name": "Ada Lovelace"},
                "order_id": "ord_42",
            }),
        )
        .idempotency_key("order-42-shipped")
        .send()
        .expect("sent");
    let shipped_id = shipped.response["eventId"]
        .as_str()
        .expect("eventId")
        .to_owned();
    let invoice_id = shipped.uploaded_assets["invoice"].as_str().to_owned();
    browser.wait_until(&format!(
        "document.querySelector('article.event[data-id=\"{shipped_id}\"]')"
    ));

    let seen = browser.eval(&format!(
        r#"(async () => {{
            const card = document.querySelector('article.event[data-id="{shipped_id}"]');
            const hostile = document.querySelector('article.event[data-id="{hostile_id}"]');
            const label = card.querySelector('img.preview[alt="label.png"]');
            await label.decode();
            return {{
                same: window.sameDocument,
                pwned: typeof window.pwned,
                scripts: document.scripts.length,
                order: [...document.querySelectorAll('article.event')].map(c => c.dataset.id),
                flows: [...card.querySelectorAll('button.flow')].map(b => b.textContent),
                files: [...card.querySelectorAll('.file .fname')].map(e => e.textContent),
                types: [...card.querySelectorAll('.file .mime')].map(e => e.textContent),
                labelWidth: label.naturalWidth,
                pdfPreviews: card.querySelectorAll('iframe.preview').length,
                downloads: card.querySelectorAll('a.download[download]').length,
                hostileText: hostile.querySelector('.tree').textContent,
                hostileElements: hostile.querySelectorAll('.tree img, .tree script').length,
                hostileName: hostile.querySelector('h3').textContent,
                selected: document.querySelector('article.event.selected').dataset.id,
                filled: document.getElementById('filled').textContent,
                counts: document.getElementById('counts').textContent,
            }};
        }})()"#
    ));
    assert_eq!(seen["same"], "yes", "the page reloaded: {seen:#}");
    assert_eq!(seen["pwned"], "undefined", "payload markup ran: {seen:#}");
    assert_eq!(seen["scripts"], 1, "only app.js: {seen:#}");
    assert_eq!(
        seen["order"],
        serde_json::json!([shipped_id, hostile_id]),
        "newest first"
    );
    for flow in [
        "{{trigger.invoice}}",
        "{{trigger.label}}",
        "{{trigger.gallery}}",
        "{{trigger.gallery[0]}}",
        "{{trigger.customer.name}}",
        "{{trigger.order_id}}",
    ] {
        assert!(
            seen["flows"]
                .as_array()
                .is_some_and(|f| f.contains(&Value::from(flow))),
            "{flow} missing: {seen:#}"
        );
    }
    assert_eq!(
        seen["files"],
        serde_json::json!(["photo.jpg", "invoice.pdf", "label.png"])
    );
    assert_eq!(
        seen["types"],
        serde_json::json!(["image/jpeg", "application/pdf", "image/png"])
    );
    assert_eq!(seen["labelWidth"], png_width(&asset("label.png")));
    assert_eq!(seen["pdfPreviews"], 1);
    assert_eq!(seen["downloads"], 3);
    let hostile_text = seen["hostileText"].as_str().expect("text");
    assert!(
        hostile_text.contains("<script>window.pwned = 1</script>"),
        "{hostile_text}"
    );
    assert!(
        hostile_text.contains("<img src=x onerror="),
        "{hostile_text}"
    );
    assert_eq!(seen["hostileElements"], 0);
    assert_eq!(seen["hostileName"], "support.ticket");
    // The newest event is selected, and the template box fills from it.
    assert_eq!(seen["selected"], shipped_id.as_str());
    assert_eq!(
        seen["filled"],
        format!("Invoice {invoice_id} for Ada Lovelace")
    );
    assert_eq!(seen["counts"], "2 events, 3 files");

    // Selecting the other event fills the template from it: the markup is
    // text there too, and a path it lacks stays as written.
    let filled = browser.eval(&format!(
        r#"(() => {{
            document.querySelector('article.event[data-id="{hostile_id}"] h3').click();
            return {{filled: document.getElementById('filled').textContent,
                     missing: document.querySelectorAll('#filled .missing').length,
                     pwned: typeof window.pwned}};
        }})()"#
    ));
    assert_eq!(
        filled["filled"],
        "Invoice {{trigger.invoice}} for <script>window.pwned = 1</script>"
    );
    assert_eq!(filled["missing"], 1);
    assert_eq!(filled["pwned"], "undefined");

    // For people: the newest event selected, at the top.
    browser.eval(&format!(
        "document.querySelector('article.event[data-id=\"{shipped_id}\"] h3').click()"
    ));
    let shot = browser.screenshot();
    assert!(shot.starts_with(b"\x89PNG\r\n\x1a\n"), "a PNG");
    let path = target_dir().join("inspector.png");
    std::fs::write(&path, &shot).expect("write the screenshot");
    eprintln!("screenshot of the inspector: {}", path.display());
}

/// The width in a PNG's IHDR.
fn png_width(path: &std::path::Path) -> u32 {
    let bytes = std::fs::read(path).expect("read");
    u32::from_be_bytes(bytes[16..20].try_into().expect("four bytes"))
}
