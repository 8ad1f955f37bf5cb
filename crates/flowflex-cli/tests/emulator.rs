//! `flowflex emulator` as a separate process: its announcement, and the
//! control API and inspector driven by the CLI and by curl, as a developer
//! or a test in another language would. (The library's own tests cover each
//! field in depth; crates/flowflex-emulator/tests/control.)
#![cfg(unix)]

mod common;

use common::{Served, asset, curl, run};
use serde_json::{Value, json};

#[test]
fn it_prints_the_inspector_url_on_start() {
    let served = Served::start(&["--port", "0", "-q"], true);
    let inspector = served.inspector.clone().expect("an inspector line");
    assert_eq!(inspector, format!("{}/", served.base_url));
    assert_eq!(
        served.announced[4],
        format!(
            "Inspector: {inspector} (events and files as they arrive; control API under {inspector}_emulator/)"
        )
    );
    let page = curl(&[&inspector]);
    assert_eq!(page.status, 200);
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert!(
        page.header("content-security-policy")
            .is_some_and(|p| p.contains("script-src 'self'"))
    );
    assert!(String::from_utf8_lossy(&page.body).contains("<title>FlowFlex emulator</title>"));
}

#[test]
fn what_the_cli_sends_curl_reads_from_the_control_api() {
    let served = Served::start(&["--port", "0", "-q", "--api-key", "cik_ctl"], true);
    let r = run(served
        .flowflex()
        .args(["send", "order.shipped", "--idempotency-key", "ctl-1"])
        .args(["--data", r#"{"customer": {"name": "Ada"}}"#])
        .args(["--attach", "invoice=examples/assets/invoice.pdf"])
        .args(["--attach", "gallery[]=examples/assets/photo.jpg"])
        .args(["--attach", "order.receipt=examples/assets/label.png"]));
    assert_eq!(r.code, 0, "{r:#?}");
    let sent = r.json();

    let listed =
        curl(&[&served.url("/_emulator/events?event=order.shipped&count=1&wait_ms=10000")]);
    assert_eq!(listed.status, 200);
    assert_eq!(listed.header("content-type"), Some("application/json"));
    assert_eq!(listed.header("x-content-type-options"), Some("nosniff"));
    let events = listed.json()["events"].clone();
    assert_eq!(events.as_array().map(Vec::len), Some(1), "{events}");
    let event = &events[0];
    assert_eq!(event["id"], sent["response"]["eventId"]);
    assert_eq!(event["event"], "order.shipped");
    assert_eq!(event["idempotency_key"], "ctl-1");
    assert_eq!(event["payload"]["customer"], json!({"name": "Ada"}));
    assert_eq!(event["assets"], sent["uploaded_assets"]);
    let paths: Vec<&String> = event["assets"]
        .as_object()
        .expect("assets")
        .keys()
        .collect();
    assert_eq!(paths, ["gallery[0]", "invoice", "order.receipt"]);
    assert!(
        event["received_at"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z'))
    );

    let id = event["id"].as_str().expect("id");
    assert_eq!(
        &curl(&[&served.url(&format!("/_emulator/events/{id}"))]).json(),
        event
    );

    let invoice = event["assets"]["invoice"].as_str().expect("invoice id");
    let file = curl(&[&served.url(&format!("/_emulator/assets/{invoice}"))]).json();
    assert_eq!(file["filename"], "invoice.pdf");
    assert_eq!(file["mime"], "application/pdf");
    assert_eq!(file["size"], 596);
    assert_eq!(file["uploaded"], true);
    let bytes = curl(&[&served.url(&format!("/_emulator/assets/{invoice}/content"))]);
    assert_eq!(bytes.status, 200);
    assert_eq!(bytes.header("content-type"), Some("application/pdf"));
    assert_eq!(bytes.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(
        bytes.body,
        std::fs::read(asset("invoice.pdf")).expect("read")
    );
    let all = curl(&[&served.url("/_emulator/assets")]).json();
    assert_eq!(all["assets"].as_array().map(Vec::len), Some(3));

    // A fault from curl makes the next send fail, as the CLI reports.
    let fault = curl(&[
        "-X",
        "POST",
        "-H",
        "content-type: application/json",
        "-d",
        r#"{"on": "events", "status": 503, "times": 4}"#,
        &served.url("/_emulator/faults"),
    ]);
    assert_eq!(
        fault.status,
        201,
        "{:?}",
        String::from_utf8_lossy(&fault.body)
    );
    let listed = curl(&[&served.url("/_emulator/faults")]).json();
    assert_eq!(listed["faults"][0]["on"], "events");
    let r = run(served
        .flowflex()
        .args(["send", "order.placed", "--timeout", "5"]));
    assert_ne!(r.code, 0, "{r:#?}");
    assert!(r.stderr.contains("503"), "{r:#?}");
    let cleared = curl(&["-X", "DELETE", &served.url("/_emulator/faults")]);
    assert_eq!(cleared.status, 204);
    assert_eq!(
        curl(&[&served.url("/_emulator/faults")]).json(),
        json!({"faults": []})
    );

    let clock = curl(&[
        "-X",
        "POST",
        "-H",
        "content-type: application/json",
        "-d",
        r#"{"advance_secs": 3600}"#,
        &served.url("/_emulator/clock"),
    ]);
    assert_eq!(clock.json()["advanced_secs"], 3600);

    let reset = curl(&["-X", "POST", &served.url("/_emulator/reset")]);
    assert_eq!(reset.status, 204);
    assert_eq!(
        curl(&[&served.url("/_emulator/events")]).json(),
        json!({"events": []})
    );
    assert_eq!(
        curl(&[&served.url("/_emulator/assets")]).json(),
        json!({"assets": []})
    );
}

#[test]
fn off_loopback_only_inspector_serves_the_page_and_the_api() {
    let served = Served::start(&["--host", "0.0.0.0", "--port", "0"], false);
    assert!(served.base_url.starts_with("http://0.0.0.0:"));
    for path in ["/", "/_emulator/events"] {
        let refused = curl(&[&served.url(path)]);
        assert_eq!(refused.status, 403, "{path}");
        assert_eq!(refused.json()["code"], "INSPECTOR_OFF");
    }
    // FlowFlex's API is served all the same.
    let r = run(served.flowflex().args(["send", "order.placed"]));
    assert_eq!(r.code, 0, "{r:#?}");
    let stderr = served.stop();
    assert!(
        stderr.contains(
            "inspector: off, as 0.0.0.0 is not a loopback address (--inspector serves it and /_emulator/ there)"
        ),
        "{stderr}"
    );

    let served = Served::start(&["--host", "0.0.0.0", "--port", "0", "--inspector"], true);
    let inspector = served.inspector.clone().expect("announced");
    assert!(inspector.starts_with("http://0.0.0.0:"), "{inspector}");
    assert_eq!(curl(&[&served.url("/")]).status, 200);
    let events: Value = curl(&[&served.url("/_emulator/events")]).json();
    assert_eq!(events, json!({"events": []}));
}
