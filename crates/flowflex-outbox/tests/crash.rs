//! Crash tests: relays in child processes (this test binary, re-run with
//! `FLOWFLEX_OUTBOX_CRASH_CHILD` set) are SIGKILLed at random moments while
//! the emulator, in this process, refuses, drops connections and stalls
//! storage. At the end FlowFlex holds each event exactly once, every file
//! whole. `FLOWFLEX_OUTBOX_CRASH_EVENTS` scales the event count (default 500).

mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::{PgSchema, pdf, sha256};
use flowflex::Attachment;
use flowflex_emulator::{Emulator, Endpoint, Fault};
use flowflex_outbox::Outbox;
use tokio::process::{Child, Command};

const CHILD: &str = "FLOWFLEX_OUTBOX_CRASH_CHILD";

fn events() -> usize {
    std::env::var("FLOWFLEX_OUTBOX_CRASH_EVENTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(500)
}

/// The child: a relay on the outbox `FLOWFLEX_OUTBOX_CRASH_CHILD` names
/// (`sqlite:PATH` or `postgres:URL`), delivering to the emulator at
/// `FLOWFLEX_OUTBOX_CRASH_EMULATOR` until killed. Without the variable (a
/// plain test run) it returns at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_child_relay() {
    let Ok(store) = std::env::var(CHILD) else {
        return;
    };
    let url = std::env::var("FLOWFLEX_OUTBOX_CRASH_EMULATOR").expect("emulator url");
    let builder = Outbox::builder()
        .initial_backoff(Duration::from_millis(20))
        .max_backoff(Duration::from_millis(300));
    let outbox = if let Some(path) = store.strip_prefix("sqlite:") {
        builder.open_sqlite(path).await
    } else {
        builder
            .connect_postgres(store.strip_prefix("postgres:").expect("postgres:URL"))
            .await
    }
    .expect("the child opens the outbox");
    let client = common::client_for(
        &url,
        flowflex_emulator::DEFAULT_API_KEY,
        flowflex_emulator::DEFAULT_API_SECRET,
        flowflex_emulator::DEFAULT_INTEGRATION_CODE,
    );
    let _relay = outbox
        .relay(client)
        .concurrency(8)
        .poll_interval(Duration::from_millis(20))
        .lease(Duration::from_millis(1500))
        .spawn();
    // Until SIGKILL: not a wait, the child's way of doing nothing else.
    loop {
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
}

fn spawn_child(store: &str, emulator: &Emulator) -> Child {
    Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "--exact",
            "crash_child_relay",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, store)
        .env("FLOWFLEX_OUTBOX_CRASH_EMULATOR", emulator.base_url())
        .stdout(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("child starts")
}

/// An emulator that refuses, drops and stalls a share of requests.
async fn hostile_emulator() -> Emulator {
    let emulator = Emulator::start().await.expect("emulator");
    emulator.inject(Fault::on(Endpoint::Events).status(503).rate(0.15).seed(1));
    // Processed, then the answer is lost: the relay must not double it.
    emulator.inject(
        Fault::on(Endpoint::Events)
            .drop_after_processing()
            .rate(0.05)
            .seed(2),
    );
    emulator.inject(
        Fault::on(Endpoint::Storage)
            .drop_connection()
            .rate(0.05)
            .seed(3),
    );
    emulator.inject(
        Fault::on(Endpoint::Storage)
            .delay(Duration::from_millis(80))
            .rate(0.2)
            .seed(4),
    );
    emulator.inject(
        Fault::on(Endpoint::UploadUrl)
            .status(503)
            .rate(0.05)
            .seed(5),
    );
    emulator
}

/// Enqueues `n` events, each with its own file, from 16 tasks; returns each
/// key's file hash.
async fn enqueue_all(outbox: &Outbox, n: usize) -> HashMap<String, String> {
    let mut tasks = tokio::task::JoinSet::new();
    for t in 0..16 {
        let outbox = outbox.clone();
        tasks.spawn(async move {
            let mut sums = Vec::new();
            for i in (t..n).step_by(16) {
                let bytes = pdf(i as u64, 1000 + (i * 37) % 20_000);
                let key = format!("crash-{i}");
                outbox
                    .enqueue(
                        "crash.test",
                        flowflex::json!({
                            "i": i,
                            "doc": Attachment::from_bytes(bytes.clone(), format!("doc-{i}.pdf")),
                        }),
                    )
                    .idempotency_key(key.clone())
                    .await
                    .expect("enqueued");
                sums.push((key, sha256(&bytes)));
            }
            sums
        });
    }
    let mut all = HashMap::new();
    while let Some(sums) = tasks.join_next().await {
        all.extend(sums.expect("enqueue task"));
    }
    all
}

async fn wait_drained(outbox: &Outbox, secs: u64) {
    let deadline = std::time::Instant::now() + Duration::from_secs(secs);
    loop {
        let stats = outbox.stats().await.expect("stats");
        if stats.pending == 0 {
            assert_eq!(
                stats.dead,
                0,
                "no event died: {:?}",
                outbox.dead_letters().await
            );
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not drained: {stats:?}"
        );
        // Not a wait for the drain: the pause between two looks at it.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Exactly one event per key at the emulator, each file whole.
fn assert_exactly_once(emulator: &Emulator, sums: &HashMap<String, String>) {
    let events = emulator.events();
    let mut seen = HashMap::new();
    for event in &events {
        let key = event
            .idempotency_key
            .clone()
            .expect("every event has its key");
        *seen.entry(key.clone()).or_insert(0) += 1;
        let id = event.payload["doc"].as_str().expect("an asset id");
        let asset = emulator.asset(id).expect("the asset exists");
        assert_eq!(Some(&asset.sha256), sums.get(&key), "{key}: file whole");
    }
    assert_eq!(events.len(), sums.len(), "one event per enqueue");
    assert!(seen.values().all(|&n| n == 1), "no key twice");
    assert_eq!(seen.len(), sums.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_relay_killed_at_ten_random_moments_delivers_each_event_once() {
    if std::env::var_os(CHILD).is_some() {
        return;
    }
    let emulator = hostile_emulator().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("outbox.db");
    let outbox = Outbox::open_sqlite(&path).await.expect("outbox");
    let sums = enqueue_all(&outbox, events()).await;
    let store = format!("sqlite:{}", path.display());
    let mut rng = fastrand::Rng::with_seed(11);
    for _ in 0..10 {
        let mut child = spawn_child(&store, &emulator);
        // Not a wait: a random moment to kill it at, wherever it then is.
        tokio::time::sleep(Duration::from_millis(rng.u64(200..1200))).await;
        child.kill().await.expect("SIGKILL");
    }
    let mut last = spawn_child(&store, &emulator);
    wait_drained(&outbox, 90).await;
    last.kill().await.expect("SIGKILL");
    assert_exactly_once(&emulator, &sums);
    assert_eq!(outbox.stats().await.unwrap().delivered, sums.len() as u64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_four_relays_killed_and_restarted_deliver_each_event_once() {
    if std::env::var_os(CHILD).is_some() {
        return;
    }
    let Some(schema) = PgSchema::create().await else {
        return;
    };
    let emulator = hostile_emulator().await;
    let url = schema.schema_url();
    let outbox = Outbox::connect_postgres(&url).await.expect("outbox");
    let sums = enqueue_all(&outbox, events()).await;
    let store = format!("postgres:{url}");
    let mut children: Vec<Child> = (0..4).map(|_| spawn_child(&store, &emulator)).collect();
    let mut rng = fastrand::Rng::with_seed(12);
    for _ in 0..10 {
        // Not a wait: a random moment to kill one at, wherever it then is.
        tokio::time::sleep(Duration::from_millis(rng.u64(150..700))).await;
        let victim = rng.usize(..children.len());
        children[victim].kill().await.expect("SIGKILL");
        children[victim] = spawn_child(&store, &emulator);
    }
    wait_drained(&outbox, 90).await;
    for child in &mut children {
        child.kill().await.expect("SIGKILL");
    }
    assert_exactly_once(&emulator, &sums);
    drop(outbox);
    schema.drop_schema().await;
}
