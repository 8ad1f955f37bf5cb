//! The workloads, each against a fresh emulator process: the Rust SDK here,
//! the Python SDK through its scripts, curl as the loopback yardstick.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use flowflex::{Attachment, Client, Mime};
use serde_json::Value;
use tokio::runtime::Runtime;

use crate::curl::Curl;
use crate::data::{Files, size};
use crate::python::Python;
use crate::server::Server;
use crate::{BoxError, Plan, Workload};

/// Samples of one figure, or why there are none.
#[derive(Debug, Clone, Default)]
pub(crate) struct Outcome {
    pub(crate) samples: Vec<f64>,
    /// Why it could not be measured; `None` with no samples: not run.
    pub(crate) error: Option<String>,
}

impl Outcome {
    pub(crate) fn of(result: Result<Vec<f64>, BoxError>) -> Outcome {
        match result {
            Ok(samples) => Outcome {
                samples,
                error: None,
            },
            Err(err) => {
                eprintln!("  failed: {err}");
                Outcome {
                    samples: Vec::new(),
                    error: Some(err.to_string()),
                }
            }
        }
    }

    pub(crate) fn median(&self) -> Option<f64> {
        crate::stats::median(&self.samples)
    }
}

/// Every figure of one run. Units: MiB, seconds, events per second,
/// nanoseconds per event.
#[derive(Debug, Clone, Default)]
pub(crate) struct Results {
    /// Peak RSS of a send with the large file minus that of a send without.
    pub(crate) rss_rust: Outcome,
    pub(crate) rss_python: Outcome,
    /// Peak RSS of the send without a file (the baseline).
    pub(crate) rss_base_rust: Outcome,
    pub(crate) rss_base_python: Outcome,
    /// Seconds to upload the large file.
    pub(crate) upload_rust: Outcome,
    pub(crate) upload_python: Outcome,
    pub(crate) upload_curl: Outcome,
    /// Seconds to send an event with one fan-out file, and with all of them.
    pub(crate) single_rust: Outcome,
    pub(crate) single_python: Outcome,
    pub(crate) fan_rust: Outcome,
    pub(crate) fan_python: Outcome,
    /// Events per second without files.
    pub(crate) events1_rust: Outcome,
    pub(crate) events1_python: Outcome,
    pub(crate) events64_rust: Outcome,
    pub(crate) events64_python: Outcome,
    /// Nanoseconds to encode the typical event.
    pub(crate) encode_runtime: Outcome,
    pub(crate) encode_plain: Outcome,
    /// Nanoseconds of the prototype of a direct encoding (`encode::Direct`).
    pub(crate) encode_direct: Outcome,
    /// Nanoseconds of the derive's walk alone.
    pub(crate) encode_walk: Outcome,
    pub(crate) encode_python_sdk: Outcome,
    pub(crate) encode_python_plain: Outcome,
    /// Durable enqueues per second on SQLite, from 1 and from 64 tasks.
    pub(crate) outbox_enqueue1: Outcome,
    pub(crate) outbox_enqueue64: Outcome,
    /// The same with `Plan::outbox_backlog` events already pending.
    pub(crate) outbox_enqueue1_backlog: Outcome,
    pub(crate) outbox_enqueue64_backlog: Outcome,
    /// Events per second delivering a backlog: a relay from SQLite, and
    /// `send_event` of the same events at the same concurrency.
    pub(crate) outbox_relay: Outcome,
    pub(crate) outbox_direct: Outcome,
    /// PostgreSQL: enqueues per second from 64 tasks, events per second
    /// delivered by 1 relay and by 4.
    pub(crate) outbox_pg_enqueue: Outcome,
    pub(crate) outbox_pg1: Outcome,
    pub(crate) outbox_pg4: Outcome,
    /// Why PostgreSQL was not measured (no server): reported, not a failure.
    pub(crate) outbox_pg_unavailable: Option<String>,
    /// Peak RSS growth of enqueueing and delivering the large file, and the
    /// baseline without a file.
    pub(crate) outbox_rss: Outcome,
    pub(crate) outbox_rss_base: Outcome,
    /// Milliseconds from `enqueue` to the POST at the emulator: PostgreSQL
    /// with the relay in another process, SQLite with it in this one.
    pub(crate) fleet_latency_pg: Outcome,
    pub(crate) fleet_latency_sqlite: Outcome,
    /// Enqueues per second from 64 tasks, SQLite and PostgreSQL alternated,
    /// and through `enqueue_many` batches on PostgreSQL.
    pub(crate) fleet_enqueue_sqlite: Outcome,
    pub(crate) fleet_enqueue_pg: Outcome,
    pub(crate) fleet_enqueue_many: Outcome,
    /// Database work per delivered event, without a file and with one.
    pub(crate) fleet_work_sqlite: Option<Result<crate::fleet::Work, String>>,
    pub(crate) fleet_work_pg: Option<Result<crate::fleet::Work, String>>,
    pub(crate) fleet_work_sqlite_file: Option<Result<crate::fleet::Work, String>>,
    pub(crate) fleet_work_pg_file: Option<Result<crate::fleet::Work, String>>,
    /// Why PostgreSQL was not measured (no server).
    pub(crate) fleet_pg_unavailable: Option<String>,
    /// 32 relays draining one PostgreSQL outbox.
    pub(crate) fleet_32: Option<Result<crate::fleet::Fleet, String>>,
    /// Seconds for the emulator to stop with an idle keep-alive connection
    /// and a request held open by a `hang` fault.
    pub(crate) stop: Outcome,
}

impl Results {
    /// Every failure, as `name: error`.
    pub(crate) fn errors(&self) -> Vec<String> {
        let named = [
            ("memory, Rust", &self.rss_rust),
            ("memory, Python", &self.rss_python),
            ("upload, Rust", &self.upload_rust),
            ("upload, Python", &self.upload_python),
            ("upload, curl", &self.upload_curl),
            ("fan-out, Rust", &self.fan_rust),
            ("fan-out, Python", &self.fan_python),
            ("events 1, Rust", &self.events1_rust),
            ("events 1, Python", &self.events1_python),
            ("events 64, Rust", &self.events64_rust),
            ("events 64, Python", &self.events64_python),
            ("encode, Rust", &self.encode_runtime),
            ("encode, Python", &self.encode_python_sdk),
            ("outbox enqueue, 1 task", &self.outbox_enqueue1),
            ("outbox enqueue, 64 tasks", &self.outbox_enqueue64),
            (
                "outbox enqueue, 1 task, backlog",
                &self.outbox_enqueue1_backlog,
            ),
            (
                "outbox enqueue, 64 tasks, backlog",
                &self.outbox_enqueue64_backlog,
            ),
            ("outbox relay", &self.outbox_relay),
            ("outbox, direct sends", &self.outbox_direct),
            ("outbox, PostgreSQL", &self.outbox_pg1),
            ("outbox memory", &self.outbox_rss),
            ("fleet latency, PostgreSQL", &self.fleet_latency_pg),
            ("fleet latency, SQLite", &self.fleet_latency_sqlite),
            ("fleet enqueue, SQLite", &self.fleet_enqueue_sqlite),
            ("fleet enqueue, PostgreSQL", &self.fleet_enqueue_pg),
            ("fleet enqueue_many", &self.fleet_enqueue_many),
            ("emulator stop", &self.stop),
        ];
        let work = [
            ("fleet work, SQLite", &self.fleet_work_sqlite),
            ("fleet work, PostgreSQL", &self.fleet_work_pg),
            (
                "fleet work with a file, SQLite",
                &self.fleet_work_sqlite_file,
            ),
            (
                "fleet work with a file, PostgreSQL",
                &self.fleet_work_pg_file,
            ),
        ];
        named
            .iter()
            .filter_map(|(name, o)| o.error.as_ref().map(|e| format!("{name}: {e}")))
            .chain(work.iter().filter_map(|(name, w)| match w {
                Some(Err(e)) => Some(format!("{name}: {e}")),
                _ => None,
            }))
            .chain(match &self.fleet_32 {
                Some(Err(e)) => Some(format!("fleet of 32 relays: {e}")),
                _ => None,
            })
            .collect()
    }
}

/// Runs every workload.
pub(crate) fn all(
    runtime: &Runtime,
    plan: &Plan,
    files: &Files,
    python: Option<&Python>,
    curl: Option<&Curl>,
) -> Results {
    let mut r = Results::default();

    if plan.runs(Workload::Memory) {
        eprintln!("1. peak memory, sending {} vs no file", size(plan.big_file));
        let (growth, base) = split(memory_rust(plan, files));
        (r.rss_rust, r.rss_base_rust) = (growth, base);
        if let Some(p) = python {
            (r.rss_python, r.rss_base_python) = split(memory_python(plan, p, files));
        }
    }
    if plan.runs(Workload::Upload) {
        upload(runtime, plan, files, python, curl, &mut r);
    }
    if plan.runs(Workload::Fanout) {
        fan_out(runtime, plan, files, python, &mut r);
    }
    if plan.runs(Workload::Events) {
        events(runtime, plan, python, &mut r);
    }
    if plan.runs(Workload::Encode) {
        encode(plan, python, &mut r);
    }
    if plan.runs(Workload::Outbox) {
        crate::outbox::run(runtime, plan, files, &mut r);
    }
    if plan.runs(Workload::Fleet) {
        crate::fleet::run(runtime, plan, &mut r);
    }
    if plan.runs(Workload::Stop) {
        eprintln!("8. emulator stop, with an idle connection and a held request");
        r.stop = Outcome::of(runtime.block_on(async {
            let mut samples = Vec::with_capacity(plan.runs);
            for _ in 0..plan.runs {
                samples.push(stop_once().await?);
            }
            Ok(samples)
        }));
    }
    r
}

/// Seconds `Emulator::shutdown` takes with an idle keep-alive connection
/// (one answered request, left open) and a request a `hang` fault holds:
/// how promptly `flowflex emulator` stops on SIGTERM or Ctrl-C, which the
/// tests leave to a deadline that only catches a hang.
async fn stop_once() -> Result<f64, BoxError> {
    use flowflex_emulator::{Emulator, Endpoint, Fault};
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    let emulator = Emulator::start().await?;
    let mut idle = tokio::net::TcpStream::connect(emulator.addr()).await?;
    idle.write_all(b"GET /v1/health HTTP/1.1\r\nHost: bench\r\n\r\n")
        .await?;
    let mut answer = [0u8; 64];
    let n = tokio::time::timeout(Duration::from_secs(60), idle.read(&mut answer)).await??;
    if !answer[..n].starts_with(b"HTTP/1.1 ") {
        return Err("the idle connection got no HTTP answer".into());
    }
    emulator.inject(Fault::on(Endpoint::Events).hang());
    let client = Client::builder()
        .api_key(emulator.api_key())
        .api_secret(emulator.api_secret())
        .integration_code(emulator.integration_code())
        .base_url(emulator.base_url())
        .max_retries(0)
        .build()?;
    let held = tokio::spawn(async move { client.send_event("e", flowflex::json!({})).await });
    let deadline = Instant::now() + Duration::from_secs(60);
    while emulator.in_flight(Endpoint::Events) == 0 {
        if Instant::now() > deadline {
            return Err("the held request never arrived".into());
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let started = Instant::now();
    emulator.shutdown().await;
    let took = started.elapsed().as_secs_f64();
    held.abort();
    drop(idle);
    Ok(took)
}

fn py(python: Option<&Python>, f: impl FnOnce(&Python) -> Result<Vec<f64>, BoxError>) -> Outcome {
    python.map(|p| Outcome::of(f(p))).unwrap_or_default()
}

fn upload(
    runtime: &Runtime,
    plan: &Plan,
    files: &Files,
    python: Option<&Python>,
    curl: Option<&Curl>,
    r: &mut Results,
) {
    eprintln!("2. upload of {}", size(plan.big_file));
    let (rust, by_curl) = split(runtime.block_on(upload_rust(plan, files, curl)));
    (r.upload_rust, r.upload_curl) = (rust, by_curl);
    r.upload_python = py(python, |p| {
        let server = Server::start(Duration::ZERO)?;
        let out = p.run(
            "upload.py",
            &[path(&files.big), plan.runs.to_string()],
            server.base_url(),
        )?;
        floats(&out, "seconds")
    });
}

fn fan_out(
    runtime: &Runtime,
    plan: &Plan,
    files: &Files,
    python: Option<&Python>,
    r: &mut Results,
) {
    eprintln!(
        "3. fan-out of {} files of {} with {} ms storage latency",
        files.fan.len(),
        size(plan.fan_file_size),
        plan.latency.as_millis()
    );
    let (single, fan) = split(runtime.block_on(fan_out_rust(plan, files)));
    (r.single_rust, r.fan_rust) = (single, fan);
    if let Some(p) = python {
        (r.single_python, r.fan_python) = split((|| {
            let server = Server::start(plan.latency)?;
            let mut args = vec![plan.runs.to_string()];
            args.extend(files.fan.iter().map(|f| path(f)));
            let out = p.run("fanout.py", &args, server.base_url())?;
            Ok((floats(&out, "single")?, floats(&out, "fanout")?))
        })());
    }
}

fn events(runtime: &Runtime, plan: &Plan, python: Option<&Python>, r: &mut Results) {
    for (in_flight, rust, python_out) in [
        (1, &mut r.events1_rust, &mut r.events1_python),
        (64, &mut r.events64_rust, &mut r.events64_python),
    ] {
        eprintln!("4. events per second, {in_flight} in flight");
        *rust = Outcome::of(runtime.block_on(events_rust(plan, in_flight)));
        *python_out = py(python, |p| {
            let server = Server::start(Duration::ZERO)?;
            let out = p.run(
                "events.py",
                &[
                    plan.event_duration.as_secs_f64().to_string(),
                    in_flight.to_string(),
                    plan.runs.to_string(),
                ],
                server.base_url(),
            )?;
            floats(&out, "per_second")
        });
    }
}

fn encode(plan: &Plan, python: Option<&Python>, r: &mut Results) {
    eprintln!("5. encoding a typical event with 4 attachments");
    match crate::encode::measure(plan.encode_runs(), plan.encode_iterations) {
        Ok(encoded) => {
            r.encode_runtime = Outcome::of(Ok(encoded.runtime));
            r.encode_plain = Outcome::of(Ok(encoded.plain));
            r.encode_direct = Outcome::of(Ok(encoded.direct));
            r.encode_walk = Outcome::of(Ok(encoded.walk));
        }
        Err(err) => r.encode_runtime = Outcome::of(Err(err)),
    }
    if let Some(p) = python {
        (r.encode_python_sdk, r.encode_python_plain) = split((|| {
            let out = p.run(
                "encode.py",
                &[
                    plan.encode_runs().to_string(),
                    (plan.encode_iterations / 20).max(100).to_string(),
                ],
                "http://127.0.0.1:9",
            )?;
            Ok((floats(&out, "sdk_ns")?, floats(&out, "plain_ns")?))
        })());
    }
}

/// Two outcomes from one result (both fail together).
pub(crate) fn split(result: Result<(Vec<f64>, Vec<f64>), BoxError>) -> (Outcome, Outcome) {
    match result {
        Ok((a, b)) => (Outcome::of(Ok(a)), Outcome::of(Ok(b))),
        Err(err) => {
            let first = Outcome::of(Err(err));
            (first.clone(), first)
        }
    }
}

fn path(p: &Path) -> String {
    p.display().to_string()
}

fn number(v: &Value, key: &str) -> Result<f64, BoxError> {
    v.get(key)
        .and_then(Value::as_f64)
        .ok_or_else(|| format!("no number \"{key}\" in {v}").into())
}

fn floats(v: &Value, key: &str) -> Result<Vec<f64>, BoxError> {
    v.get(key)
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_f64).collect())
        .ok_or_else(|| format!("no list \"{key}\" in {v}").into())
}

// ------------------------------------------------------------------ memory

/// Growth of peak RSS (MiB) and the baseline peak (MiB), per run, each
/// send in a fresh `probe` process.
fn memory_rust(plan: &Plan, files: &Files) -> Result<(Vec<f64>, Vec<f64>), BoxError> {
    let server = Server::start(Duration::ZERO)?;
    let exe = std::env::current_exe()?;
    let probe = |file: Option<&Path>| -> Result<f64, BoxError> {
        let mut command = Command::new(&exe);
        command.args(["probe", "--base-url", server.base_url()]);
        if let Some(file) = file {
            command.arg("--file").arg(file);
        }
        let out = command.output()?;
        if !out.status.success() {
            return Err(format!(
                "the probe failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )
            .into());
        }
        let value: Value = serde_json::from_slice(&out.stdout)?;
        Ok(number(&value, "hwm_kib")? / 1024.0)
    };
    paired(plan.runs, || probe(None), || probe(Some(&files.big)))
}

fn memory_python(
    plan: &Plan,
    python: &Python,
    files: &Files,
) -> Result<(Vec<f64>, Vec<f64>), BoxError> {
    let server = Server::start(Duration::ZERO)?;
    let probe = |file: Option<&Path>| -> Result<f64, BoxError> {
        let args: Vec<String> = file.map(path).into_iter().collect();
        let value = python.run("rss.py", &args, server.base_url())?;
        Ok(number(&value, "hwm_kib")? / 1024.0)
    };
    paired(plan.runs, || probe(None), || probe(Some(&files.big)))
}

/// `runs` pairs of (baseline, with file), interleaved; returns the growths
/// and the baselines.
pub(crate) fn paired(
    runs: usize,
    base: impl Fn() -> Result<f64, BoxError>,
    with_file: impl Fn() -> Result<f64, BoxError>,
) -> Result<(Vec<f64>, Vec<f64>), BoxError> {
    let (mut growth, mut bases) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        let b = base()?;
        let f = with_file()?;
        growth.push(f - b);
        bases.push(b);
    }
    Ok((growth, bases))
}

// ------------------------------------------------------------------ upload

/// Seconds per upload of the large file: the SDK's `upload` (upload URL and
/// PUT), and curl's PUT alone, interleaved.
async fn upload_rust(
    plan: &Plan,
    files: &Files,
    curl: Option<&Curl>,
) -> Result<(Vec<f64>, Vec<f64>), BoxError> {
    let server = Server::start(Duration::ZERO)?;
    let client = server.client()?;
    // Warm: the connection pool, the page cache.
    client.upload(&Attachment::from_path(&files.big)).await?;
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for _ in 0..plan.runs {
        let start = Instant::now();
        client.upload(&Attachment::from_path(&files.big)).await?;
        ours.push(start.elapsed().as_secs_f64());
        if let Some(curl) = curl {
            let ticket = client
                .create_upload_url("big.pdf", Mime::Pdf, plan.big_file)
                .await?;
            let url = ticket.upload_url.expose().to_string();
            let file = files.big.clone();
            let curl = curl.clone();
            let seconds =
                tokio::task::spawn_blocking(move || curl.upload(&file, &url, Mime::Pdf.as_str()))
                    .await??;
            theirs.push(seconds);
        }
    }
    Ok((ours, theirs))
}

// ----------------------------------------------------------------- fan-out

/// Seconds per send: with one file, and with every fan-out file.
async fn fan_out_rust(plan: &Plan, files: &Files) -> Result<(Vec<f64>, Vec<f64>), BoxError> {
    let server = Server::start(plan.latency)?;
    let client = server.client()?;
    let send = |paths: &[std::path::PathBuf]| {
        let attachments: Vec<Attachment> = paths.iter().map(Attachment::from_path).collect();
        let client = client.clone();
        async move {
            let start = Instant::now();
            client
                .send_event("bench.fanout", flowflex::json!({ "files": attachments }))
                .await?;
            Ok::<_, BoxError>(start.elapsed().as_secs_f64())
        }
    };
    send(&files.fan[..1]).await?;
    let (mut single, mut fan) = (Vec::new(), Vec::new());
    for _ in 0..plan.runs {
        single.push(send(&files.fan[..1]).await?);
        fan.push(send(&files.fan).await?);
    }
    Ok((single, fan))
}

// ------------------------------------------------------------------ events

/// Events per second without files, `in_flight` sends at a time from one
/// client, one sample per run.
async fn events_rust(plan: &Plan, in_flight: usize) -> Result<Vec<f64>, BoxError> {
    let server = Server::start(Duration::ZERO)?;
    let client = server.client()?;
    let payload = crate::encode::order_json();
    for _ in 0..20 {
        client.send_event("bench.event", &payload).await?;
    }
    let mut rates = Vec::new();
    for _ in 0..plan.runs {
        let sent = Arc::new(AtomicU64::new(0));
        let start = Instant::now();
        let deadline = start + plan.event_duration;
        let workers: Vec<_> = (0..in_flight)
            .map(|_| {
                let (client, payload, sent) = (client.clone(), payload.clone(), Arc::clone(&sent));
                tokio::spawn(send_until(client, payload, sent, deadline))
            })
            .collect();
        for worker in workers {
            worker.await??;
        }
        let elapsed = start.elapsed().as_secs_f64();
        #[allow(clippy::cast_precision_loss)]
        rates.push(sent.load(Ordering::Relaxed) as f64 / elapsed);
    }
    Ok(rates)
}

async fn send_until(
    client: Client,
    payload: Value,
    sent: Arc<AtomicU64>,
    deadline: Instant,
) -> Result<(), BoxError> {
    while Instant::now() < deadline {
        client.send_event("bench.event", &payload).await?;
        sent.fetch_add(1, Ordering::Relaxed);
    }
    Ok(())
}
