//! The real `flowflex` binary against a real emulator: results on stdout,
//! problems on stderr as one line plus a hint, an exit code per kind of
//! failure, and never a secret.

mod common;

use std::io::{BufRead as _, BufReader, Write as _};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{Local, Run, SECRET, asset, flowflex, run};
use serde_json::{Value, json};

/// Each failure is exactly `error: ...` then `hint: ...`, with nothing on
/// stdout and no secret, panic or backtrace anywhere.
fn assert_clean_failure(r: &Run, code: i32, says: &str) {
    assert_eq!(r.code, code, "{r:#?}");
    let lines: Vec<&str> = r.stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{r:#?}");
    assert!(lines[0].starts_with("error: "), "{r:#?}");
    assert!(lines[1].starts_with("hint: "), "{r:#?}");
    assert!(lines[0].contains(says), "expected {says:?} in {r:#?}");
    assert!(r.stdout.is_empty(), "{r:#?}");
    assert_no_leak(r);
}

fn assert_no_leak(r: &Run) {
    for text in [&r.stdout, &r.stderr] {
        assert!(!text.contains(SECRET), "the secret leaked: {r:#?}");
        assert!(!text.contains("token="), "a presigned token leaked: {r:#?}");
        assert!(!text.contains("panicked"), "{r:#?}");
        assert!(!text.contains("backtrace"), "{r:#?}");
    }
}

#[test]
fn help_lists_the_commands_and_the_exit_codes() {
    let r = run(flowflex().arg("--help"));
    assert_eq!(r.code, 0);
    insta::assert_snapshot!(r.stdout);
}

/// The usage line marks no credential flag as required: each has a
/// variable to fall back to, and the emulator has defaults.
#[test]
fn the_usage_line_requires_no_credential_flag() {
    for (args, usage) in [
        (
            &["send", "--help"][..],
            "Usage: flowflex send [OPTIONS] <EVENT>",
        ),
        (
            &["outbox", "drain", "--help"],
            "Usage: flowflex outbox drain [OPTIONS]",
        ),
        (
            &["emulator", "--help"],
            "Usage: flowflex emulator [OPTIONS]",
        ),
    ] {
        for with_env in [false, true] {
            let mut cmd = flowflex();
            cmd.args(args);
            if with_env {
                cmd.env("FLOWFLEX_API_KEY", "cik_x")
                    .env("FLOWFLEX_API_SECRET", SECRET)
                    .env("FLOWFLEX_INTEGRATION_CODE", "ic_x");
            }
            let r = run(&mut cmd);
            assert_eq!(r.code, 0, "{r:#?}");
            let line = r.stdout.lines().find(|l| l.starts_with("Usage: "));
            assert_eq!(line, Some(usage), "{args:?} env {with_env}");
            assert_no_leak(&r);
        }
    }
}

#[test]
fn help_never_shows_the_secret_from_the_environment() {
    for sub in ["send", "emulator"] {
        let r = run(flowflex()
            .args([sub, "--help"])
            .env("FLOWFLEX_API_SECRET", SECRET));
        assert_eq!(r.code, 0, "{r:#?}");
        assert!(r.stdout.contains("FLOWFLEX_API_SECRET"), "{}", r.stdout);
        assert_no_leak(&r);
    }
}

#[test]
fn send_uploads_each_file_and_prints_the_result() {
    let local = Local::start();
    let r = run(local.flowflex().args([
        "send",
        "order.shipped",
        "--data",
        r#"{"note": "back door", "order": {"id": "ord_42"}}"#,
        "--attach",
        "invoice=examples/assets/invoice.pdf",
        "--attach",
        "gallery[]=examples/assets/photo.jpg",
        "--attach",
        "gallery[]=examples/assets/label.png",
        "--attach",
        "order.receipt=examples/assets/notes.txt",
        "--idempotency-key",
        "order-42-shipped",
    ]));
    assert_eq!(r.code, 0, "{r:#?}");
    assert!(
        r.stderr.is_empty(),
        "no bars nor logs off a terminal: {r:#?}"
    );
    let out = r.json();
    assert_eq!(out["idempotency_key"], "order-42-shipped");
    let ids = out["uploaded_assets"].as_object().expect("uploaded_assets");
    let paths: Vec<&str> = ids.keys().map(String::as_str).collect();
    assert_eq!(
        paths,
        ["gallery[0]", "gallery[1]", "invoice", "order.receipt"]
    );

    let events = local.emulator.events();
    assert_eq!(events.len(), 1);
    let event = &events[0];
    assert_eq!(out["response"]["eventId"], event.event_id.as_str());
    assert_eq!(event.event, "order.shipped");
    assert_eq!(event.idempotency_key.as_deref(), Some("order-42-shipped"));
    assert_eq!(
        event.payload,
        json!({
            "note": "back door",
            "invoice": ids["invoice"],
            "gallery": [ids["gallery[0]"], ids["gallery[1]"]],
            "order": {"id": "ord_42", "receipt": ids["order.receipt"]},
        })
    );
    for (path, file) in [
        ("invoice", "invoice.pdf"),
        ("gallery[0]", "photo.jpg"),
        ("gallery[1]", "label.png"),
        ("order.receipt", "notes.txt"),
    ] {
        let id = ids[path].as_str().expect("id");
        let stored = local.emulator.asset(id).expect("stored");
        assert_eq!(stored.filename, file);
        assert_eq!(
            stored.bytes.as_ref(),
            std::fs::read(asset(file)).expect("read").as_slice(),
            "{path}"
        );
    }
}

#[test]
fn data_comes_from_a_file_or_stdin() {
    let local = Local::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("payload.json");
    std::fs::write(&file, r#"{"from": "file"}"#).expect("write");
    let r = run(local
        .flowflex()
        .args(["send", "a"])
        .arg(format!("--data=@{}", file.display())));
    assert_eq!(r.code, 0, "{r:#?}");

    let mut child = local
        .flowflex()
        .args(["send", "b", "--data", "@-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(br#"{"from": "stdin"}"#)
        .expect("write stdin");
    assert!(child.wait().expect("wait").success());

    let payloads: Vec<Value> = local
        .emulator
        .events()
        .into_iter()
        .map(|e| e.payload)
        .collect();
    assert_eq!(
        payloads,
        [json!({"from": "file"}), json!({"from": "stdin"})]
    );
}

#[test]
fn each_kind_of_failure_has_its_exit_code_one_line_and_a_hint() {
    let local = Local::start();
    let refused = "http://127.0.0.1:1";
    let cases: &[(&[&str], i32, &str)] = &[
        (&["send", "x", "--data", "[1]"], 2, "holds a list"),
        (&["send", "x", "--data", "{"], 2, "not valid JSON"),
        (
            &[
                "send",
                "x",
                "--data",
                r#"{"a": 1}"#,
                "--attach",
                "a.b=x.pdf",
            ],
            2,
            "`a` is a number",
        ),
        (
            &["send", "x", "--attach", "invoice=does-not-exist.pdf"],
            4,
            "does not exist",
        ),
        (&["send", "x", "--attach", "c=Cargo.toml"], 4, "MIME type"),
        (&["send", "bad\u{1}name"], 3, "control characters"),
        (
            &["send", "x", "--base-url", "http://example.com"],
            3,
            "https",
        ),
        (
            &["send", "x", "--api-secret", "wrong-secret"],
            5,
            "HTTP 401",
        ),
        (
            &["send", "x", "--base-url", refused, "--timeout", "5"],
            6,
            "could not connect",
        ),
    ];
    for (args, code, says) in cases {
        let r = run(local.flowflex().args(*args));
        assert_clean_failure(&r, *code, says);
    }
    // An attachment problem is found before any request.
    let refusals = local
        .emulator
        .requests()
        .iter()
        .filter(|r| r.status != Some(401))
        .count();
    assert_eq!(refusals, 0, "{:#?}", local.emulator.requests());

    let r = run(flowflex().args(["send", "x"]));
    assert_clean_failure(&r, 3, "no API key: pass --api-key or set FLOWFLEX_API_KEY");
    let r = run(flowflex().args([
        "send",
        "x",
        "--api-key",
        "cik_x",
        "--integration-code",
        "ic",
    ]));
    assert_clean_failure(&r, 3, "no API secret");
}

/// Messages and hints in the command's terms: `--attach` syntax, not the
/// SDK's Rust, and a hint about what actually went wrong.
#[test]
fn failures_speak_the_command_line() {
    let local = Local::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let fake = dir.path().join("scan.pdf");
    std::fs::copy(asset("label.png"), &fake).expect("copy");
    let r = run(local
        .flowflex()
        .args(["send", "x", "--attach"])
        .arg(format!("invoice={}", fake.display())));
    assert_clean_failure(&r, 4, "declared as PDF");
    assert_eq!(
        r.stderr.replace(&dir.path().display().to_string(), "DIR"),
        "error: attachment at `invoice` (DIR/scan.pdf): declared as PDF document (application/pdf) but its bytes are a PNG image (image/png); if it really is PNG image, name it .png or add `;type=image/png` to its --attach\n\
         hint: `flowflex check FILE` tells what FlowFlex makes of a file\n"
    );

    let r = run(local.flowflex().args(["send", " order.shipped"]));
    assert_clean_failure(&r, 3, "event name");
    assert_eq!(
        r.stderr.lines().nth(1),
        Some(
            "hint: an event name is what your flow's trigger listens for, e.g. order.shipped: ASCII, at most 256 bytes, no control characters or surrounding blanks"
        ),
        "{r:#?}"
    );

    let r = run(local
        .flowflex()
        .args(["send", "x", "--base-url", "http://example.com"]));
    assert_clean_failure(&r, 3, "--base-url must use https");
    assert!(
        r.stderr
            .contains("hint: --base-url (or FLOWFLEX_BASE_URL) takes https://"),
        "{r:#?}"
    );

    let r = run(local.flowflex().args([
        "send",
        "x",
        "--attach",
        "scan=examples/assets/label.png;filename=a/b.png",
    ]));
    assert_clean_failure(
        &r,
        4,
        "give a plain name with `;filename=NAME` on its --attach",
    );
}

/// `;filename=` stores the file under another name, `;type=` gives its
/// type; the same file attached twice alike is uploaded once.
#[test]
fn attach_takes_a_type_and_a_file_name() {
    let local = Local::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let scan = dir.path().join("scan-7f3a");
    std::fs::copy(asset("label.png"), &scan).expect("copy");
    let spec = format!("{};type=image/png;filename=scan.png", scan.display());
    let r = run(local.flowflex().args([
        "send",
        "scan.done",
        "--attach",
        &format!("scan={spec}"),
        "--attach",
        &format!("copies[]={spec}"),
        "--attach",
        "invoice=examples/assets/invoice.pdf;filename=Invoice-2026.pdf",
    ]));
    assert_eq!(r.code, 0, "{r:#?}");
    let ids = r.json()["uploaded_assets"].clone();
    assert_eq!(ids["scan"], ids["copies[0]"], "one upload for both paths");
    let stored = local
        .emulator
        .asset(ids["scan"].as_str().expect("id"))
        .expect("stored");
    assert_eq!(
        (
            stored.filename.as_str(),
            stored.mime.as_str(),
            stored.put_count
        ),
        ("scan.png", "image/png", 1)
    );
    let invoice = local
        .emulator
        .asset(ids["invoice"].as_str().expect("id"))
        .expect("stored");
    assert_eq!(invoice.filename, "Invoice-2026.pdf");
    assert_eq!(
        local.emulator.assets().len(),
        2,
        "{:#?}",
        local.emulator.assets()
    );
}

#[test]
fn usage_errors_exit_2_from_clap() {
    for args in [
        &["send"][..],
        &["send", "x", "--attach", "no-equals-sign"],
        &["sned"],
    ] {
        let r = run(flowflex().args(args));
        assert_eq!(r.code, 2, "{r:#?}");
        assert!(r.stderr.starts_with("error: "), "{r:#?}");
        assert!(r.stdout.is_empty(), "{r:#?}");
    }
    let r = run(flowflex().arg("sned"));
    assert!(r.stderr.contains("send"), "suggests the near miss: {r:#?}");
}

#[test]
fn verbose_logs_the_send_without_secrets() {
    let local = Local::start();
    let r = run(local.flowflex().args([
        "--verbose",
        "send",
        "order.shipped",
        "--attach",
        "invoice=examples/assets/invoice.pdf",
    ]));
    assert_eq!(r.code, 0, "{r:#?}");
    assert!(r.stderr.contains("flowflex.send"), "{}", r.stderr);
    assert!(r.stderr.contains("event sent"), "{}", r.stderr);
    assert_no_leak(&r);

    let r = run(local
        .flowflex()
        .args(["-v", "send", "x", "--api-secret", "wrong-secret"]));
    assert_eq!(r.code, 5, "{r:#?}");
    assert!(!r.stderr.contains("wrong-secret"), "{}", r.stderr);
    assert_no_leak(&r);
}

#[test]
fn check_tells_each_file_type_and_why_not() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fake = dir.path().join("fake.pdf");
    std::fs::copy(asset("label.png"), &fake).expect("copy");
    let gif = dir.path().join("anim.gif");
    std::fs::write(&gif, b"GIF89a....").expect("write");
    let r = run(flowflex()
        .args([
            "check",
            "examples/assets/invoice.pdf",
            "examples/assets/photo.jpg",
        ])
        .arg(&fake)
        .arg(&gif)
        .arg("missing.mp3"));
    assert_eq!(r.code, 4, "{r:#?}");
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines.len(), 5, "{r:#?}");
    assert_eq!(
        lines[0],
        "examples/assets/invoice.pdf: ok: PDF document (application/pdf), 596 bytes, within the 25 MiB (26,214,400 bytes) limit"
    );
    assert!(
        lines[1].contains(": ok: JPEG image (image/jpeg)"),
        "{}",
        lines[1]
    );
    assert!(
        lines[2].contains("fake.pdf: refused: declared as PDF"),
        "{}",
        lines[2]
    );
    assert!(lines[2].contains("PNG image"), "{}", lines[2]);
    assert!(
        lines[3].contains("anim.gif: refused: cannot tell its MIME type"),
        "{}",
        lines[3]
    );
    assert!(
        lines[4].starts_with("missing.mp3: refused: the file does not exist"),
        "{}",
        lines[4]
    );

    let r = run(flowflex().args(["check", "examples/assets/notes.txt"]));
    assert_eq!(r.code, 0, "{r:#?}");
}

/// The subcommand serves until SIGTERM, announces where it listens and the
/// settings a client needs, and records what it accepted.
#[cfg(unix)]
#[test]
fn the_emulator_subcommand_serves_sends_and_records() {
    let dir = tempfile::tempdir().expect("tempdir");
    let record = dir.path().join("events.jsonl");
    let mut child = flowflex()
        .args([
            "emulator",
            "--port",
            "0",
            "--api-key",
            "cik_sub",
            "--api-secret",
            SECRET,
            "--integration-code",
            "ic_sub",
        ])
        .arg("--record")
        .arg(&record)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut announced = Vec::new();
    for _ in 0..4 {
        announced.push(lines.next().expect("a line").expect("utf-8"));
    }
    let base_url = announced[0]
        .strip_prefix("FlowFlex emulator listening on ")
        .expect("first line names the URL")
        .to_owned();
    assert!(base_url.starts_with("http://127.0.0.1:"), "{base_url}");
    assert_eq!(
        announced[1..],
        [
            format!("FLOWFLEX_BASE_URL={base_url}"),
            "FLOWFLEX_API_KEY=cik_sub".to_owned(),
            "FLOWFLEX_INTEGRATION_CODE=ic_sub".to_owned(),
        ]
    );

    let r = run(flowflex()
        .args([
            "send",
            "order.shipped",
            "--attach",
            "invoice=examples/assets/invoice.pdf",
        ])
        .args(["--idempotency-key", "sub-1"])
        .env("FLOWFLEX_BASE_URL", &base_url)
        .env("FLOWFLEX_API_KEY", "cik_sub")
        .env("FLOWFLEX_API_SECRET", SECRET)
        .env("FLOWFLEX_INTEGRATION_CODE", "ic_sub"));
    assert_eq!(r.code, 0, "{r:#?}");
    let id = r.json()["uploaded_assets"]["invoice"].clone();

    let line = wait_for_line(&record);
    let recorded: Value = serde_json::from_str(&line).expect("a JSON line");
    assert_eq!(recorded["event"], "order.shipped");
    assert_eq!(recorded["idempotency_key"], "sub-1");
    assert_eq!(recorded["integration_code"], "ic_sub");
    assert_eq!(recorded["payload"], json!({"invoice": id}));
    let file = &recorded["assets"][id.as_str().expect("id")];
    assert_eq!(file["filename"], "invoice.pdf");
    assert_eq!(file["mime"], "application/pdf");
    assert_eq!(file["size"], 596);

    let status = stop(&mut child, "-TERM");
    assert!(status.success(), "a clean exit on SIGTERM: {status:?}");
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().expect("stderr"), &mut stderr)
        .expect("read stderr");
    let event_id = recorded["event_id"].as_str().expect("event id");
    assert_eq!(
        stderr.lines().collect::<Vec<_>>(),
        [
            "api secret: the value you passed".to_owned(),
            format!(
                "upload {} invoice.pdf (application/pdf, 596 bytes)",
                id.as_str().expect("id")
            ),
            format!("event order.shipped {event_id} key sub-1 (1 asset)"),
        ],
        "one line per upload and per event, and never the secret"
    );
}

/// Sends `signal` to `child` with kill(1), and waits for it to exit. A
/// child still running after 60 s is killed and the test fails: that
/// deadline catches a hang, not a slow exit (how long an exit takes is
/// measured by the benchmarks, docs/performance.md).
#[cfg(unix)]
fn stop(child: &mut std::process::Child, signal: &str) -> std::process::ExitStatus {
    let sent = std::process::Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(sent.success());
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            panic!("still running 60 s after {signal}");
        }
        // Not a wait for the exit: the pause between two looks at it.
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `--quiet` silences the activity lines; SIGINT (Ctrl-C) stops it as fast
/// as SIGTERM, with a connection still open.
#[cfg(unix)]
#[test]
fn the_emulator_subcommand_is_quiet_with_q_and_stops_on_ctrl_c() {
    let mut child = flowflex()
        .args(["emulator", "-q"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let base_url = lines
        .next()
        .expect("a line")
        .expect("utf-8")
        .strip_prefix("FlowFlex emulator listening on ")
        .expect("first line names the URL")
        .to_owned();
    let r = run(flowflex()
        .args(["send", "quiet.please"])
        .env("FLOWFLEX_BASE_URL", &base_url)
        .env("FLOWFLEX_API_KEY", "cik_emulator")
        .env("FLOWFLEX_API_SECRET", "emulator-secret")
        .env("FLOWFLEX_INTEGRATION_CODE", "ic_emulator"));
    assert_eq!(r.code, 0, "{r:#?}");
    // An idle keep-alive connection must not hold the exit up: one that
    // the emulator has accepted and answered on, and that stays open.
    let _open = idle_keep_alive(base_url.trim_start_matches("http://"));
    let status = stop(&mut child, "-INT");
    assert!(status.success(), "a clean exit on SIGINT: {status:?}");
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().expect("stderr"), &mut stderr)
        .expect("read stderr");
    assert_eq!(stderr, "", "--quiet prints nothing on stderr");
}

/// A connection to `addr` on which one request was answered, left open
/// and idle (HTTP/1.1 keeps it alive): the server has surely accepted it.
#[cfg(unix)]
fn idle_keep_alive(addr: &str) -> std::net::TcpStream {
    let mut stream = std::net::TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .expect("read timeout");
    write!(stream, "GET /v1/health HTTP/1.1\r\nHost: {addr}\r\n\r\n").expect("write");
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    let mut status = String::new();
    reader.read_line(&mut status).expect("an answer");
    assert!(status.starts_with("HTTP/1.1 "), "{status:?}");
    stream
}

fn wait_for_line(path: &std::path::Path) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(text) = std::fs::read_to_string(path) {
            if let Some(line) = text.lines().next() {
                return line.to_owned();
            }
        }
        assert!(Instant::now() < deadline, "nothing recorded in {path:?}");
        // Not a wait for the line: the pause between two looks at the file.
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Under a terminal (a pty from `script`), each file gets a bar on stderr;
/// off a terminal there are none (see `send_uploads_each_file_...`).
#[cfg(target_os = "linux")]
#[test]
fn progress_bars_show_under_a_terminal() {
    let has_script = std::process::Command::new("script")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_script {
        eprintln!("skipped: `script` (util-linux) is not installed, so no pty to test under");
        return;
    }
    let local = Local::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let big = dir.path().join("big.pdf");
    let mut bytes = std::fs::read(asset("invoice.pdf")).expect("read");
    bytes.resize(3 * 1024 * 1024, b' ');
    std::fs::write(&big, bytes).expect("write");
    let inner = format!(
        "'{}' send order.shipped --attach 'invoice={}' --attach 'gallery[]=examples/assets/photo.jpg'",
        env!("CARGO_BIN_EXE_flowflex"),
        big.display()
    );
    let mut script = std::process::Command::new("script");
    common::isolate(&mut script);
    local.configure(&mut script);
    let r = run(script
        .args(["-qec", &inner, "/dev/null"])
        .env("TERM", "xterm")
        .env("COLUMNS", "120"));
    assert_eq!(r.code, 0, "{r:#?}");
    assert!(r.stdout.contains("invoice (big.pdf) ["), "{}", r.stdout);
    assert!(
        r.stdout.contains("gallery[0] (photo.jpg) ["),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("3.00 MiB/3.00 MiB"), "{}", r.stdout);
    assert!(r.stdout.contains("uploaded"), "{}", r.stdout);
    assert_no_leak(&r);
}
