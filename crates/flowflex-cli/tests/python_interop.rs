//! The published Python SDK and this one, against the same `flowflex
//! emulator`: the Python README's examples (tests/interop/python_readme.py)
//! and the same payloads sent from Rust must leave the same events, field
//! for field, with the same files behind their asset ids, as the emulator's
//! control API reports them (as a test in any language would read them).
//! Then docs/emulator.md's Python test runs as written.
//!
//! Needs python3 and PyPI (it installs `flowflex==0.1.0` into a virtualenv
//! under target/), so it is ignored by `cargo test --workspace`; `.ci/run`
//! runs it with `--ignored`. Without python3 it says so and passes.
#![cfg(unix)]

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::{SECRET, Served, asset, curl, target_dir, workspace_root};
use flowflex::{Attachment, Mime};
use serde_json::{Map, Value, json};

const PYTHON_SDK: &str = "flowflex==0.1.0";
const EVENTS: usize = 7;

#[test]
#[ignore = "installs the Python SDK from PyPI: run by .ci/run with --ignored"]
fn python_readme_examples_record_what_rust_records() {
    if Command::new("python3").arg("--version").output().is_err() {
        eprintln!("skipped: python3 is not installed, so the Python SDK cannot run");
        return;
    }
    let python = venv_with_python_sdk();
    let files = tempfile::tempdir().expect("tempdir");
    write_fixtures(files.path());
    let emulator = Served::start(
        &[
            "--port",
            "0",
            "-q",
            "--api-key",
            "cik_interop",
            "--integration-code",
            "ic_interop",
        ],
        true,
    );

    let out = Command::new(&python)
        .arg(script())
        .current_dir(files.path())
        .envs(env(&emulator))
        .stderr(Stdio::inherit())
        .output()
        .expect("python runs");
    assert!(out.status.success(), "the Python examples failed: {out:?}");
    let py: Value = serde_json::from_slice(&out.stdout).expect("the script prints JSON");

    let rs = send_from_rust(&emulator, files.path());

    let events = arrived(&emulator, 2 * EVENTS);
    let stored = stored_files(&emulator);
    for n in 1..=EVENTS {
        let from_py = &events[&format!("py-{n}")];
        let from_rs = &events[&format!("rs-{n}")];
        assert_eq!(
            normalize(from_py, &stored),
            normalize(from_rs, &stored),
            "example {n}: the emulator received different events\npython: {from_py:#}\nrust: {from_rs:#}"
        );
        // Each SDK's uploaded_assets is the emulator's path-to-id map.
        assert_eq!(
            py[n.to_string()]["uploaded_assets"],
            from_py["assets"],
            "example {n}: Python's uploaded_assets"
        );
        let rs_assets: Map<String, Value> = rs[n - 1]
            .iter()
            .map(|(path, id)| (path.clone(), json!(id.as_str())))
            .collect();
        assert_eq!(
            Value::Object(rs_assets),
            from_rs["assets"],
            "example {n}: Rust's uploaded_assets"
        );
        let py_response = py[n.to_string()]["response"].as_object().expect("response");
        assert_eq!(py_response["eventId"], from_py["id"]);
    }
    assert_eq!(
        py["helpers"]["create_upload_url"],
        json!(["assetId", "token", "uploadUrl"])
    );
    assert!(
        py["helpers"]["upload_file"]
            .as_str()
            .is_some_and(|id| id.starts_with("asset_"))
    );
    assert_eq!(py["errors"]["type"], "FlowFlexUploadError", "{py}");
    assert_eq!(events.len(), 2 * EVENTS, "an oversized file sent an event");

    // docs/emulator.md's Python test, as written, against the same server.
    let example = files.path().join("test_orders.py");
    std::fs::write(&example, docs_python_example()).expect("write the example");
    let out = Command::new(&python)
        .arg(&example)
        .current_dir(files.path())
        .envs(env(&emulator))
        .output()
        .expect("python runs");
    assert!(
        out.status.success() && out.stdout == b"ok\n",
        "docs/emulator.md's Python test failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let after = curl(&[&emulator.url("/_emulator/events")]).json();
    assert_eq!(
        after["events"].as_array().map(Vec::len),
        Some(1),
        "it reset, then sent one"
    );
}

/// The first ```python block of docs/emulator.md.
fn docs_python_example() -> String {
    let page = std::fs::read_to_string(workspace_root().join("docs/emulator.md")).expect("read");
    let start = page.find("```python\n").expect("a python block") + "```python\n".len();
    let end = start + page[start..].find("```").expect("its end");
    page[start..end].to_owned()
}

/// The settings the Python SDK reads, for this emulator.
fn env(emulator: &Served) -> [(&str, &str); 4] {
    [
        ("FLOWFLEX_BASE_URL", emulator.base_url.as_str()),
        ("FLOWFLEX_API_KEY", emulator.api_key.as_str()),
        ("FLOWFLEX_API_SECRET", SECRET),
        (
            "FLOWFLEX_INTEGRATION_CODE",
            emulator.integration_code.as_str(),
        ),
    ]
}

/// The events by idempotency key, once `count` have arrived: one call that
/// waits on the emulator, not a loop that sleeps.
fn arrived(emulator: &Served, count: usize) -> BTreeMap<String, Value> {
    let listed = curl(&[&emulator.url(&format!("/_emulator/events?count={count}&wait_ms=30000"))]);
    assert_eq!(listed.status, 200);
    let events = listed.json()["events"].as_array().expect("events").clone();
    assert_eq!(
        events.len(),
        count,
        "only {} of {count} events arrived",
        events.len()
    );
    events
        .into_iter()
        .map(|e| {
            (
                e["idempotency_key"].as_str().unwrap_or_default().to_owned(),
                e,
            )
        })
        .collect()
}

/// Each stored file by asset id: what the control API says of it.
fn stored_files(emulator: &Served) -> BTreeMap<String, Value> {
    let listed = curl(&[&emulator.url("/_emulator/assets")]).json();
    listed["assets"]
        .as_array()
        .expect("assets")
        .iter()
        .map(|a| {
            let file = json!({
                "filename": a["filename"],
                "mime": a["mime"],
                "size": a["size"],
                "sha256": a["sha256"],
                "uploaded": a["uploaded"],
            });
            (a["asset_id"].as_str().expect("id").to_owned(), file)
        })
        .collect()
}

/// The same payloads, from Rust, as `rs-<n>`; returns each send's paths.
fn send_from_rust(emulator: &Served, dir: &Path) -> Vec<BTreeMap<String, flowflex::AssetId>> {
    let client = emulator.client();
    let file = |name: &str| Attachment::from_path(dir.join(name));
    let pdf_bytes = std::fs::read(dir.join("invoice.pdf")).expect("read");
    let banner = file("banner.png");
    // flowflex::json!: the payload owns its attachments (a plain
    // serde_json::json! holding one is refused at send).
    let payloads = [
        (
            "order.placed",
            flowflex::json!({"name": "Ada", "order_id": "ord_42"}),
        ),
        (
            "invoice.created",
            flowflex::json!({"assetId": file("invoice.pdf"), "customer_id": "cust_123"}),
        ),
        (
            "order.shipped",
            flowflex::json!({
                "invoice": file("invoice.pdf"),
                "label":   file("label.png"),
                "gallery": [file("a.jpg"), file("b.jpg")],
                "order":   {"receipt": file("receipt.pdf")},
                "note":    "non-file values pass through untouched",
            }),
        ),
        (
            "promo.sent",
            flowflex::json!({"header": banner.clone(), "footer": banner}),
        ),
        (
            "invoice.created",
            flowflex::json!({"assetId": Attachment::from_bytes(pdf_bytes.clone(), "invoice.pdf").with_mime(Mime::Pdf)}),
        ),
        (
            "invoice.created",
            flowflex::json!({"assetId": Attachment::from_reader(std::io::Cursor::new(pdf_bytes), "invoice.pdf")}),
        ),
        (
            "invoice.created",
            flowflex::json!({"assetId": file("tmp-7f3a.pdf").with_filename("Invoice-2026.pdf")}),
        ),
    ];
    let sent: Vec<_> = payloads
        .into_iter()
        .enumerate()
        .map(|(i, (event, payload))| {
            client
                .send_event(event, payload)
                .idempotency_key(format!("rs-{}", i + 1))
                .send()
                .unwrap_or_else(|e| panic!("example {}: {e}", i + 1))
                .uploaded_assets
        })
        .collect();

    let ticket = client
        .create_upload_url("x.pdf", Mime::Pdf, 596)
        .expect("upload url");
    assert!(ticket.asset_id.as_str().starts_with("asset_"));
    assert!(client.upload(&file("x.pdf")).is_ok());
    let err = client
        .send_event(
            "invoice.created",
            flowflex::json!({"assetId": file("big.pdf")}),
        )
        .send()
        .expect_err("over the cap");
    assert_eq!(
        err.attachment_kind(),
        Some(flowflex::AttachmentErrorKind::TooLarge)
    );
    sent
}

/// An event with each asset id replaced by the file stored under it and
/// the order in which the id first appears (so one file used twice shows).
fn normalize(event: &Value, stored: &BTreeMap<String, Value>) -> Value {
    fn walk(v: &Value, assets: &BTreeMap<String, Value>, seen: &mut Vec<String>) -> Value {
        match v {
            Value::String(id) if assets.contains_key(id) => {
                let index = seen.iter().position(|s| s == id).unwrap_or_else(|| {
                    seen.push(id.clone());
                    seen.len() - 1
                });
                json!({"asset": index, "file": assets[id]})
            }
            Value::Array(items) => items.iter().map(|i| walk(i, assets, seen)).collect(),
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| (k.clone(), walk(v, assets, seen)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }
    // The files this event names, by id: every id in its `assets` map.
    let named: BTreeMap<String, Value> = event["assets"]
        .as_object()
        .expect("assets")
        .values()
        .filter_map(|id| id.as_str())
        .map(|id| {
            (
                id.to_owned(),
                stored.get(id).cloned().expect("a stored file"),
            )
        })
        .collect();
    json!({
        "event": event["event"],
        "integration_code": event["integration_code"],
        "payload": walk(&event["payload"], &named, &mut Vec::new()),
        "files": named.len(),
    })
}

/// The README's sample files: distinct contents, valid for their types.
fn write_fixtures(dir: &Path) {
    let padded = |source: &str, name: &str, pad: usize| {
        let mut bytes = std::fs::read(asset(source)).expect("read sample");
        bytes.extend(std::iter::repeat_n(b'\n', pad));
        std::fs::write(dir.join(name), bytes).expect("write fixture");
    };
    padded("invoice.pdf", "invoice.pdf", 0);
    padded("invoice.pdf", "receipt.pdf", 100);
    padded("invoice.pdf", "tmp-7f3a.pdf", 200);
    padded("invoice.pdf", "x.pdf", 300);
    padded("label.png", "label.png", 0);
    padded("label.png", "banner.png", 50);
    padded("photo.jpg", "a.jpg", 0);
    padded("photo.jpg", "b.jpg", 10);
    let big = std::fs::File::create(dir.join("big.pdf")).expect("create");
    big.set_len(flowflex::MAX_FILE_BYTES + 1).expect("size");
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/python_readme.py")
}

/// A virtualenv under target/ with the Python SDK, made once and reused.
fn venv_with_python_sdk() -> PathBuf {
    let venv = target_dir().join("python-interop").join("venv");
    let python = venv.join("bin/python");
    let has_sdk = || {
        Command::new(&python)
            .args([
                "-c",
                "import importlib.metadata as m; print(m.version('flowflex'))",
            ])
            .output()
            .is_ok_and(|o| o.status.success() && o.stdout.starts_with(b"0.1.0"))
    };
    if has_sdk() {
        return python;
    }
    let status = Command::new("python3")
        .args(["-m", "venv", "--clear"])
        .arg(&venv)
        .status()
        .expect("python3 runs");
    assert!(status.success(), "python3 -m venv {venv:?} failed");
    let status = Command::new(&python)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            PYTHON_SDK,
        ])
        .status()
        .expect("pip runs");
    assert!(
        status.success(),
        "pip install {PYTHON_SDK} failed: is PyPI reachable?"
    );
    assert!(
        has_sdk(),
        "{PYTHON_SDK} is not importable after installing it"
    );
    python
}
