//! `flowflex outbox`: status, dead letters, requeue and drain of a real
//! SQLite outbox, delivering to a real emulator.

mod common;

use common::{Local, asset, flowflex, run};

/// Runs `f` on the SQLite outbox at `path`, opened by the library, on a
/// runtime of its own (the tests themselves are synchronous).
fn with_outbox<F: std::future::Future<Output = ()>>(
    path: &std::path::Path,
    f: impl FnOnce(flowflex_outbox::Outbox) -> F,
) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let outbox = flowflex_outbox::Outbox::open_sqlite(path)
            .await
            .expect("outbox");
        f(outbox).await;
    });
}

fn enqueue(path: &std::path::Path, n: usize) {
    for i in 0..n {
        enqueue_one(path, &format!("cli-{i}"));
    }
}

fn enqueue_one(path: &std::path::Path, key: &str) {
    with_outbox(path, |outbox| async move {
        outbox
            .enqueue(
                "order.shipped",
                flowflex::json!({
                    "key": key,
                    "invoice": flowflex::Attachment::from_path(asset("invoice.pdf")),
                }),
            )
            .idempotency_key(key)
            .await
            .expect("enqueued");
    });
}

/// Makes every delivered event of the outbox at `path` look delivered long
/// ago (at the Unix epoch).
fn age_delivered(path: &std::path::Path) {
    with_outbox(path, |outbox| async move {
        let pool = outbox.sqlite_pool().expect("a SQLite outbox");
        sqlx::query(
            "UPDATE flowflex_outbox_events SET finished_at = 0, next_attempt_at = 0 \
             WHERE status = 'delivered'",
        )
        .execute(pool)
        .await
        .expect("aged");
    });
}

#[test]
fn status_drain_dead_and_requeue() {
    let local = Local::start();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("outbox.db");
    let db_arg = db.to_str().unwrap();
    enqueue(&db, 3);

    let r = run(flowflex().args(["outbox", "status", "--sqlite", db_arg]));
    assert_eq!(r.code, 0, "{r:#?}");
    assert!(r.stdout.starts_with("pending: 3 ("), "{r:#?}");
    assert!(r.stdout.contains("delivered: 0\ndead: 0"), "{r:#?}");

    // Wrong credentials: FlowFlex answers 401, a permanent failure.
    let r = run(local
        .flowflex()
        .args(["outbox", "drain", "--sqlite", db_arg, "--max-wait", "20"])
        .env("FLOWFLEX_API_SECRET", "wrong"));
    assert_eq!(r.code, 0, "{r:#?}");
    assert!(r.stderr.contains("draining:"), "progress on stderr: {r:#?}");
    assert!(r.stdout.contains("drained: 0 delivered, 3 dead"), "{r:#?}");
    assert!(
        !r.stderr.contains("wrong") && !r.stdout.contains("wrong"),
        "{r:#?}"
    );

    let r = run(flowflex().args(["outbox", "dead", "--sqlite", db_arg]));
    assert_eq!(r.code, 0, "{r:#?}");
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{r:#?}");
    assert!(
        lines[0].contains("cli-0") && lines[0].contains("HTTP 401"),
        "{r:#?}"
    );
    let first_id = lines[0].split('\t').next().unwrap();

    let r = run(flowflex().args(["outbox", "requeue", first_id, "--sqlite", db_arg]));
    assert_eq!(
        (r.code, r.stdout.trim()),
        (0, format!("requeued {first_id}").as_str()),
        "{r:#?}"
    );
    let r = run(flowflex().args(["outbox", "requeue", first_id, "--sqlite", db_arg]));
    assert_eq!(r.code, 2, "not dead any more: {r:#?}");
    assert!(r.stderr.contains("not dead"), "{r:#?}");

    let r = run(local
        .flowflex()
        .args(["outbox", "drain", "--sqlite", db_arg]));
    assert_eq!(r.code, 0, "{r:#?}");
    assert!(r.stdout.contains("drained: 1 delivered, 2 dead"), "{r:#?}");
    assert_eq!(local.emulator.events().len(), 1);

    let r = run(flowflex().args(["outbox", "status", "--sqlite", db_arg]));
    assert!(
        r.stdout.contains("pending: 0") && r.stdout.contains("delivered: 1\ndead: 2"),
        "{r:#?}"
    );

    // A delivered event older than any service would keep it: a drain from
    // the CLI deletes nothing (how long they stay is the services' setting).
    age_delivered(&db);
    enqueue_one(&db, "cli-late");
    let r = run(local
        .flowflex()
        .args(["outbox", "drain", "--sqlite", db_arg]));
    assert!(r.stdout.contains("drained: 1 delivered"), "{r:#?}");
    let r = run(flowflex().args(["outbox", "status", "--sqlite", db_arg]));
    assert!(r.stdout.contains("delivered: 2\ndead: 2"), "{r:#?}");
}

#[test]
fn outbox_needs_one_store() {
    let r = run(flowflex().args(["outbox", "status"]));
    assert_eq!(r.code, 2, "{r:#?}");
    assert!(
        r.stderr.contains("--sqlite PATH or --postgres URL"),
        "{r:#?}"
    );
    let r = run(flowflex().args(["outbox", "status", "--sqlite", "/nonexistent/outbox.db"]));
    assert_eq!(r.code, 2, "{r:#?}");
    assert!(r.stderr.contains("no database at"), "{r:#?}");
}

/// `flowflex outbox status --json`, parsed.
fn status_json(db: &str) -> serde_json::Value {
    let r = run(flowflex().args(["outbox", "status", "--json", "--sqlite", db]));
    assert_eq!(r.code, 0, "{r:#?}");
    serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {r:#?}"))
}

/// Runs `status --json` until `condition` holds of it (30 s at most).
fn status_until(db: &str, what: &str, condition: impl Fn(&serde_json::Value) -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let status = status_json(db);
        if condition(&status) {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}: {status:#}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// A relay named `cli-relay` on the outbox at `path`, in a thread of its
/// own, until the returned sender is dropped.
fn relay_thread(
    path: &std::path::Path,
    local: &Local,
) -> (std::sync::mpsc::Sender<()>, std::thread::JoinHandle<()>) {
    let (stop, stopped) = std::sync::mpsc::channel::<()>();
    let path = path.to_owned();
    let client = flowflex::Client::builder()
        .api_key(local.emulator.api_key())
        .api_secret(common::SECRET)
        .integration_code(local.emulator.integration_code())
        .base_url(local.emulator.base_url())
        .build()
        .expect("client");
    let thread = std::thread::spawn(move || {
        with_outbox(&path, |outbox| async move {
            let relay = outbox.relay(client).name("cli-relay").spawn();
            // Until the test drops the sender.
            let _ = tokio::task::spawn_blocking(move || stopped.recv())
                .await
                .expect("the wait ran");
            relay.shutdown().await;
        });
    });
    (stop, thread)
}

#[test]
fn status_shows_live_relays_and_says_when_nothing_delivers_and_since_when() {
    let local = Local::start();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("outbox.db");
    let db_arg = db.to_str().unwrap();
    enqueue(&db, 2);

    // Pending, and no relay has ever run.
    let r = run(flowflex().args(["outbox", "status", "--sqlite", db_arg]));
    assert_eq!(r.code, 0, "{r:#?}");
    assert!(
        r.stdout.contains(
            "nothing delivers the 2 pending events: no relay has ever run on this outbox"
        ),
        "{r:#?}"
    );
    let status = status_json(db_arg);
    assert_eq!(status["pending"], 2, "{status:#}");
    assert_eq!(status["live_relays"], 0, "{status:#}");
    assert_eq!(status["stalled"], true, "{status:#}");
    assert_eq!(status["last_relay_seen"], serde_json::Value::Null);

    // A relay runs (in this process) and delivers them.
    let (stop, thread) = relay_thread(&db, &local);
    status_until(db_arg, "the relay to deliver both", |s| {
        s["delivered"] == 2 && s["live_relays"] == 1
    });
    let status = status_json(db_arg);
    assert_eq!(status["relays"][0]["name"], "cli-relay", "{status:#}");
    assert_eq!(status["relays"][0]["pid"], std::process::id(), "{status:#}");
    assert_eq!(status["stalled"], false, "{status:#}");
    let r = run(flowflex().args(["outbox", "status", "--sqlite", db_arg]));
    assert!(
        r.stdout.contains("relays: 1 alive\n  cli-relay on "),
        "{r:#?}"
    );
    assert!(!r.stdout.contains("nothing delivers"), "{r:#?}");

    // It shuts down; the outbox remembers when it was last seen.
    drop(stop);
    thread.join().expect("the relay thread");
    let status = status_json(db_arg);
    assert_eq!(status["live_relays"], 0, "{status:#}");
    let seen = status["last_relay_seen"]
        .as_str()
        .expect("a time")
        .to_owned();
    let r = run(flowflex().args(["outbox", "status", "--sqlite", db_arg]));
    assert!(
        r.stdout
            .contains(&format!("relays: no relay alive since {seen} (")),
        "{r:#?}"
    );
    enqueue_one(&db, "after-the-relay");
    let r = run(flowflex().args(["outbox", "status", "--sqlite", db_arg]));
    assert!(
        r.stdout.contains(&format!(
            "nothing delivers the 1 pending event: no relay alive since {seen} ("
        )),
        "{r:#?}"
    );
    assert_eq!(status_json(db_arg)["stalled"], true);
}

/// The first `n` lines `cmd` prints (30 s at most), then it is killed.
fn first_lines(cmd: &mut std::process::Command, n: usize) -> Vec<String> {
    use std::io::BufRead as _;
    let mut child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("flowflex starts");
    let stdout = child.stdout.take().expect("piped");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            if tx.send(line.expect("utf-8")).is_err() {
                return;
            }
        }
    });
    let lines: Vec<String> = (0..n)
        .map(|i| {
            rx.recv_timeout(std::time::Duration::from_secs(30))
                .unwrap_or_else(|e| panic!("line {i} of --watch: {e}"))
        })
        .collect();
    child.kill().expect("killed");
    child.wait().expect("reaped");
    lines
}

#[test]
fn status_watch_prints_every_second_as_lines_or_json() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("outbox.db");
    let db_arg = db.to_str().unwrap();
    enqueue(&db, 1);

    let frames = first_lines(
        flowflex().args(["outbox", "status", "--watch", "--json", "--sqlite", db_arg]),
        2,
    );
    let frames: Vec<serde_json::Value> = frames
        .iter()
        .map(|f| serde_json::from_str(f).unwrap_or_else(|e| panic!("{e}: {f}")))
        .collect();
    for f in &frames {
        assert_eq!(
            (f["pending"].as_u64(), f["dead"].as_u64()),
            (Some(1), Some(0)),
            "{f:#}"
        );
        assert_eq!(f["stalled"], true, "{f:#}");
        assert!(f["oldest_pending_seconds"].is_number(), "{f:#}");
    }
    // A rate needs two readings: none in the first frame, 0 in the next
    // (nothing delivers).
    assert_eq!(frames[0]["delivered_per_second"], serde_json::Value::Null);
    assert_eq!(frames[1]["delivered_per_second"], 0.0);

    // Into a pipe, one line per second.
    let lines = first_lines(
        flowflex().args(["outbox", "status", "--watch", "--sqlite", db_arg]),
        2,
    );
    for line in &lines {
        assert!(
            line.contains(" pending 1, dead 0, oldest ")
                && line.contains(", relays 0, delivered/s "),
            "{line}"
        );
        assert!(
            line.contains(
                "| nothing delivers the 1 pending event: no relay has ever run on this outbox"
            ),
            "{line}"
        );
    }
    assert!(lines[0].contains("delivered/s - |"), "{}", lines[0]);
    assert!(lines[1].contains("delivered/s 0.0 |"), "{}", lines[1]);
}
