//! Load under faults: thousands of events from one `Client`, 64 in flight,
//! while the emulator fails about a tenth of the requests to every endpoint
//! (error statuses, connections cut before and mid-body, answers lost after
//! the event was recorded). Nothing may be lost or duplicated, every file must
//! be stored whole, connections and memory must stay bounded.
//!
//! `cargo test` sends 2 000 events, client and emulator in one process. The
//! run in a child process puts the client in a process of its own, so that
//! its memory and descriptors are measured alone: `.ci/run` runs it with
//! 2 000 events of up to 16 KiB; with 20 000 events of up to 64 KiB (its
//! default) it prints the figures quoted in docs/reliability.md:
//!
//! ```sh
//! cargo test -p tests --release --test load -- --ignored --nocapture
//! FLOWFLEX_LOAD_EVENTS=2000 FLOWFLEX_LOAD_FILE_BYTES=16384 cargo test -p tests --test load -- --ignored
//! ```

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use flowflex::{Attachment, Client, ClientBuilder, Mime, RetryConfig};
use flowflex_emulator::{Emulator, Endpoint, Fault};
use futures_util::StreamExt as _;
use tests::{builder_for, eventually, sha256_file};

/// Marks the child process that runs the client side of the long run.
const CHILD: &str = "FLOWFLEX_LOAD_CHILD";

/// Faults on about 10 % of the requests to each endpoint, of every kind a
/// network and a rate-limited service produce. Faults are consulted in
/// order, so each later rate is raised to keep the shares even.
fn inject_faults(e: &Emulator) {
    let faults = [
        Fault::on(Endpoint::UploadUrl).status(429).rate(0.05),
        Fault::on(Endpoint::UploadUrl)
            .drop_connection()
            .rate(0.0526),
        Fault::on(Endpoint::Storage).status(500).rate(0.05),
        // Cut mid-body, after about half of the file arrived.
        Fault::on(Endpoint::Storage).drop_connection().rate(0.0526),
        Fault::on(Endpoint::Events).status(503).rate(0.0333),
        Fault::on(Endpoint::Events).drop_connection().rate(0.0345),
        // The event is recorded, then its answer lost: the retry must replay.
        Fault::on(Endpoint::Events)
            .drop_after_processing()
            .rate(0.0357),
    ];
    for (seed, fault) in (1..).zip(faults) {
        e.inject(fault.seed(seed));
    }
}

/// Enough retries that a tenth failing cannot exhaust them by chance
/// (0.1^11 per request), short waits so the run measures the client.
fn with_load_retries(builder: ClientBuilder) -> ClientBuilder {
    builder.retry(
        RetryConfig::default()
            .max_retries(10)
            .initial_backoff(Duration::from_millis(5))
            .max_backoff(Duration::from_millis(100)),
    )
}

/// What the client side measured.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct ClientSide {
    elapsed_ms: u64,
    failed: usize,
    first_failures: Vec<String>,
    peak_fds: usize,
    peak_rss_mib: u64,
    /// Resident memory before, after a quarter of the sends, at the end.
    rss_mib: [u64; 3],
}

/// Sends `events` events from `client`, `in_flight` at once, event `i`
/// carrying `files[i % len]`, while sampling descriptors and memory.
async fn drive(client: Client, files: &[PathBuf], events: usize, in_flight: usize) -> ClientSide {
    let rss_before = tests::rss_kib().unwrap_or(0) / 1024;
    let done = Arc::new(AtomicUsize::new(0));
    let rss_at_quarter = Arc::new(AtomicU64::new(0));
    let sampling = Arc::new(AtomicBool::new(true));
    let peak_fds = Arc::new(AtomicUsize::new(0));
    let sampler = tokio::spawn({
        let (sampling, peak_fds) = (Arc::clone(&sampling), Arc::clone(&peak_fds));
        let (done, rss_at_quarter) = (Arc::clone(&done), Arc::clone(&rss_at_quarter));
        async move {
            while sampling.load(Ordering::Relaxed) {
                peak_fds.fetch_max(tests::open_fds().unwrap_or(0), Ordering::Relaxed);
                if done.load(Ordering::Relaxed) >= events / 4
                    && rss_at_quarter.load(Ordering::Relaxed) == 0
                {
                    let rss = tests::rss_kib().unwrap_or(0) / 1024;
                    rss_at_quarter.store(rss, Ordering::Relaxed);
                }
                // Not a wait for anything: the interval between two samples.
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    });

    let started = Instant::now();
    let failures: Vec<String> = futures_util::stream::iter(0..events)
        .map(|i| {
            let client = client.clone();
            let file = files[i % files.len()].clone();
            let done = Arc::clone(&done);
            tokio::spawn(async move {
                let result = client
                    .send_event(
                        "load.test",
                        flowflex::json!({"i": i, "doc": Attachment::from_path(file)}),
                    )
                    .idempotency_key(format!("load-{i}"))
                    .await;
                done.fetch_add(1, Ordering::Relaxed);
                // Keep nothing of a success: memory must not grow per event.
                result.err().map(|e| e.to_string())
            })
        })
        .buffer_unordered(in_flight)
        .filter_map(|r| async move { r.expect("no send panicked") })
        .collect()
        .await;
    let elapsed = started.elapsed();
    sampling.store(false, Ordering::Relaxed);
    sampler.await.expect("the sampler");
    ClientSide {
        elapsed_ms: u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX),
        failed: failures.len(),
        first_failures: failures.into_iter().take(5).collect(),
        peak_fds: peak_fds.load(Ordering::Relaxed),
        peak_rss_mib: tests::peak_rss_kib().unwrap_or(0) / 1024,
        rss_mib: [
            rss_before,
            rss_at_quarter.load(Ordering::Relaxed),
            tests::rss_kib().unwrap_or(0) / 1024,
        ],
    }
}

/// What the emulator recorded.
#[derive(Debug)]
struct ServerSide {
    recorded: usize,
    lost: usize,
    duplicated: usize,
    assets_whole: usize,
    requests: usize,
    faults: usize,
    by_endpoint: Vec<(Endpoint, usize, usize)>,
    connections_opened: u64,
    peak_connections_open: u64,
    uploaded_mib: u64,
}

/// Checks every recorded event and its asset, and counts what happened.
fn audit(emulator: &Emulator, hashes: &[String], events: usize) -> ServerSide {
    let recorded = emulator.events();
    let mut per_key: HashMap<String, usize> = HashMap::new();
    let mut assets_whole = 0;
    for event in &recorded {
        let key = event
            .idempotency_key
            .clone()
            .expect("every event has a key");
        let i = usize::try_from(event.payload["i"].as_u64().expect("i")).expect("an index");
        assert_eq!(key, format!("load-{i}"), "payload and key belong together");
        *per_key.entry(key).or_default() += 1;
        let id = event.payload["doc"].as_str().expect("an asset id");
        let asset = emulator.asset(id).expect("the asset exists");
        assert!(asset.uploaded, "event {i}'s asset was uploaded");
        let want = &hashes[i % hashes.len()];
        assert_eq!(&asset.sha256, want, "event {i}'s file is whole");
        assets_whole += 1;
    }
    let requests = emulator.requests();
    let faulted = |r: &flowflex_emulator::RecordedRequest| !matches!(r.status, Some(200 | 202));
    ServerSide {
        recorded: recorded.len(),
        lost: (0..events)
            .filter(|i| !per_key.contains_key(&format!("load-{i}")))
            .count(),
        duplicated: per_key.values().map(|n| n - 1).sum(),
        assets_whole,
        requests: requests.len(),
        faults: requests.iter().filter(|r| faulted(r)).count(),
        by_endpoint: [Endpoint::UploadUrl, Endpoint::Storage, Endpoint::Events]
            .into_iter()
            .map(|e| {
                let of: Vec<_> = requests.iter().filter(|r| r.endpoint == e).collect();
                (e, of.len(), of.iter().filter(|r| faulted(r)).count())
            })
            .collect(),
        connections_opened: emulator.connections_opened(),
        peak_connections_open: emulator.peak_connections_open(),
        uploaded_mib: emulator.assets().iter().map(|a| a.size).sum::<u64>() / (1024 * 1024),
    }
}

/// The emulator (keeping hashes, not bytes) with faults, and 16 files of six
/// types, up to `file_bytes` long.
async fn setup(file_bytes: usize) -> (Emulator, tempfile::TempDir, Vec<PathBuf>, Vec<String>) {
    let emulator = Emulator::builder()
        .retain_bytes(false)
        .start()
        .await
        .expect("the emulator starts");
    let dir = tempfile::tempdir().expect("a temp dir");
    let kinds = [
        Mime::Pdf,
        Mime::Png,
        Mime::Jpeg,
        Mime::Mp4,
        Mime::Txt,
        Mime::Ogg,
    ];
    let files: Vec<PathBuf> = (0..16)
        .map(|i| {
            let mime = kinds[i % kinds.len()];
            let path = dir.path().join(format!("f{i}.{}", mime.extension()));
            std::fs::write(&path, tests::sample(mime, file_bytes / 16 * (i + 1)))
                .expect("a fixture file");
            path
        })
        .collect();
    let hashes = files.iter().map(|f| sha256_file(f)).collect();
    inject_faults(&emulator);
    (emulator, dir, files, hashes)
}

// The figures are this test's output, for docs/reliability.md.
#[allow(clippy::print_stdout)]
fn report(events: usize, in_flight: usize, file_bytes: usize, c: &ClientSide, s: &ServerSide) {
    println!("events sent:              {events}");
    println!("in flight:                {in_flight}");
    println!("file per event:           up to {file_bytes} bytes");
    println!(
        "wall time:                {:.1} s",
        c.elapsed_ms as f64 / 1000.0
    );
    println!("sends failed:             {}", c.failed);
    println!("events recorded:          {}", s.recorded);
    println!("lost:                     {}", s.lost);
    println!("duplicated:               {}", s.duplicated);
    println!("assets stored whole:      {}", s.assets_whole);
    println!("bytes uploaded:           {} MiB", s.uploaded_mib);
    println!("requests (attempts):      {}", s.requests);
    println!("faults injected:          {}", s.faults);
    for (endpoint, requests, faults) in &s.by_endpoint {
        println!(
            "  {:<10} {requests:>7} requests, {faults:>6} faulted",
            endpoint.as_str()
        );
    }
    println!("connections opened:       {}", s.connections_opened);
    println!("peak connections open:    {}", s.peak_connections_open);
    println!("peak open fds:            {}", c.peak_fds);
    println!("peak RSS (VmHWM):         {} MiB", c.peak_rss_mib);
    let [before, quarter, end] = c.rss_mib;
    println!("RSS before / 25% / end:   {before} / {quarter} / {end} MiB");
}

fn check(events: usize, in_flight: usize, c: &ClientSide, s: &ServerSide) {
    assert_eq!(c.failed, 0, "sends failed: {:?}", c.first_failures);
    assert_eq!(s.lost, 0, "lost events");
    assert_eq!(s.duplicated, 0, "duplicated events");
    assert_eq!(s.recorded, events);
    assert_eq!(s.assets_whole, events);
    // The faults really fired, on every endpoint (about a tenth each).
    for (endpoint, requests, faults) in &s.by_endpoint {
        assert!(
            *faults * 100 >= *requests * 5,
            "{endpoint}: only {faults} of {requests} faulted"
        );
    }
    // One connection per request in flight, plus those being replaced after
    // a cut: bounded by the concurrency, not by the number of events.
    assert!(
        s.peak_connections_open <= 2 * in_flight as u64,
        "{} connections open at once",
        s.peak_connections_open
    );
    assert!(c.peak_fds < 4 * in_flight + 64, "{} fds open", c.peak_fds);
}

/// Connections do not leak: dropping the client closes every one.
async fn connections_close(emulator: &Emulator) {
    eventually("the client's connections to close", || {
        emulator.connections_open() == 0
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_thousand_events_64_in_flight_a_tenth_failing_none_lost_none_duplicated() {
    let (events, in_flight, file_bytes) = (2_000, 64, 16 * 1024);
    let (emulator, _dir, files, hashes) = setup(file_bytes).await;
    let client = with_load_retries(builder_for(&emulator)).build().unwrap();
    let client_side = drive(client, &files, events, in_flight).await;
    let server_side = audit(&emulator, &hashes, events);
    report(events, in_flight, file_bytes, &client_side, &server_side);
    check(events, in_flight, &client_side, &server_side);
    // Generous: this process holds the emulator and its request log too.
    assert!(client_side.peak_rss_mib < 512, "{client_side:?}");
    connections_close(&emulator).await;
}

/// A size from the environment, or `default`.
fn size_from_env(name: &str, default: usize) -> usize {
    std::env::var(name).map_or(default, |v| {
        v.parse()
            .unwrap_or_else(|_| panic!("{name}={v:?} is not a number"))
    })
}

/// The client in a child process (this test binary, running
/// [`load_client_process`]), the emulator here: 20 000 events of up to
/// 64 KiB, or `FLOWFLEX_LOAD_EVENTS` of up to `FLOWFLEX_LOAD_FILE_BYTES`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "long: .ci/run runs it small; the figures need --release --ignored --nocapture (docs/reliability.md)"]
async fn events_from_a_client_process_under_faults_none_lost_none_duplicated() {
    let events = size_from_env("FLOWFLEX_LOAD_EVENTS", 20_000);
    let file_bytes = size_from_env("FLOWFLEX_LOAD_FILE_BYTES", 64 * 1024);
    let in_flight = 64;
    let (emulator, _dir, files, hashes) = setup(file_bytes).await;
    let files_env = std::env::join_paths(&files).unwrap();
    let mut child = std::process::Command::new(std::env::current_exe().unwrap());
    child
        .args(["load_client_process", "--exact", "--ignored", "--nocapture"])
        .env(CHILD, format!("{events} {in_flight}"))
        .env("FLOWFLEX_LOAD_FILES", files_env)
        .env("FLOWFLEX_BASE_URL", emulator.base_url())
        .env("FLOWFLEX_API_KEY", emulator.api_key())
        .env("FLOWFLEX_API_SECRET", emulator.api_secret())
        .env("FLOWFLEX_INTEGRATION_CODE", emulator.integration_code());
    let output = tokio::task::spawn_blocking(move || child.output())
        .await
        .unwrap()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "client process failed:\n{stdout}");
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("LOAD-FIGURES "))
        .unwrap_or_else(|| panic!("no figures from the client process:\n{stdout}"));
    let client_side: ClientSide = serde_json::from_str(line).unwrap();
    let server_side = audit(&emulator, &hashes, events);
    report(events, in_flight, file_bytes, &client_side, &server_side);
    println!("(peak fds and RSS are the client process's alone)");
    check(events, in_flight, &client_side, &server_side);
    connections_close(&emulator).await;
}

/// The client side of the long run; does nothing unless started by it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "started by events_from_a_client_process_under_faults_none_lost_none_duplicated"]
async fn load_client_process() {
    let Ok(spec) = std::env::var(CHILD) else {
        return;
    };
    let (events, in_flight) = spec.split_once(' ').unwrap();
    let files: Vec<PathBuf> =
        std::env::split_paths(&std::env::var_os("FLOWFLEX_LOAD_FILES").unwrap()).collect();
    let client = with_load_retries(Client::builder().from_env())
        .build()
        .unwrap();
    let figures = drive(
        client,
        &files,
        events.parse().unwrap(),
        in_flight.parse().unwrap(),
    )
    .await;
    println!("LOAD-FIGURES {}", serde_json::to_string(&figures).unwrap());
}
