//! Workload 7, the outbox as a fleet runs it: how long an event waits from
//! `enqueue` to its POST at FlowFlex (PostgreSQL with the relay in another
//! process, as a replica would run it; SQLite with the relay in the
//! enqueuing process), how fast PostgreSQL stores events next to SQLite,
//! and how much database work a delivered event costs on each, counted
//! rather than timed (statements and rows, which do not depend on the
//! machine).
//!
//! Arrivals and statements are observed through `tracing`: the emulator
//! (in this process) logs every event it records, and sqlx logs every
//! statement with the rows it changed. [`Probe`] is a layer that listens to
//! exactly those two and nothing else, so the rest of the process pays
//! nothing for it.

use std::collections::HashMap;
use std::io::{BufRead as _, BufReader, Read as _};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use flowflex::{Attachment, Client};
use flowflex_emulator::Emulator;
use flowflex_outbox::Outbox;
use tokio::runtime::Runtime;
use tokio::sync::Notify;
use tracing::field::{Field, Visit};
use tracing::subscriber::Interest;
use tracing::{Event, Metadata, Subscriber};
use tracing_subscriber::layer::{Context, Layer};

use crate::workloads::{Outcome, Results};
use crate::{BoxError, Plan};

/// Events enqueued one at a time in the latency measurement, and the time
/// between them.
pub(crate) const LATENCY_EVENTS: usize = 60;
pub(crate) const LATENCY_SPACING: Duration = Duration::from_millis(50);
/// Tasks enqueueing at once in the rate measurements.
pub(crate) const ENQUEUE_TASKS: usize = 64;
/// Events in one `enqueue_many` call.
pub(crate) const BATCH: usize = 1000;
/// Deliveries in flight while database work is counted.
const IN_FLIGHT: usize = 64;

/// The prefix of the latency events' names: each event's name says which
/// one it is, so its arrival can be matched to its enqueue.
const LATENCY_EVENT: &str = "bench.latency.";

// ------------------------------------------------------------------ probe

/// What the tracing layer has seen.
#[derive(Debug, Default)]
pub(crate) struct Probe {
    /// Whether sqlx's statements are counted now.
    counting: AtomicBool,
    statements: AtomicU64,
    rows: AtomicU64,
    /// Statements and rows by the statement's first words, when
    /// `FLOWFLEX_BENCH_STATEMENTS` is set (printed after each count).
    by_statement: Mutex<HashMap<String, (u64, u64)>>,
    /// When each latency event reached the emulator, by name.
    arrivals: Mutex<HashMap<String, Instant>>,
    arrived: Notify,
    detailed: bool,
    /// The relays' claims (their "claimed" events), and those that found
    /// nothing.
    claims: AtomicU64,
    empty_claims: AtomicU64,
}

impl Probe {
    /// The process's probe, installed as the global subscriber on first
    /// use (a benchmark's process, not a library's data path).
    pub(crate) fn get() -> Arc<Probe> {
        static PROBE: OnceLock<Arc<Probe>> = OnceLock::new();
        Arc::clone(PROBE.get_or_init(|| {
            use tracing_subscriber::layer::SubscriberExt as _;
            let probe = Arc::new(Probe {
                detailed: std::env::var_os("FLOWFLEX_BENCH_STATEMENTS").is_some(),
                ..Probe::default()
            });
            let subscriber = tracing_subscriber::registry().with(ProbeLayer(Arc::clone(&probe)));
            if tracing::subscriber::set_global_default(subscriber).is_err() {
                eprintln!("  (a tracing subscriber was already set: arrivals are not seen)");
            }
            probe
        }))
    }

    /// Counts statements from now on, from zero.
    fn count(&self) {
        self.statements.store(0, Ordering::SeqCst);
        self.rows.store(0, Ordering::SeqCst);
        self.counting.store(true, Ordering::SeqCst);
    }

    /// Stops counting; the statements and rows changed since [`Probe::count`].
    fn counted(&self) -> (u64, u64) {
        self.counting.store(false, Ordering::SeqCst);
        let mut by: Vec<_> = std::mem::take(
            &mut *self
                .by_statement
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        )
        .into_iter()
        .collect();
        by.sort_by_key(|entry| std::cmp::Reverse(entry.1));
        for (statement, (n, rows)) in by {
            eprintln!("    {n:>8} statements {rows:>8} rows  {statement}");
        }
        (
            self.statements.load(Ordering::SeqCst),
            self.rows.load(Ordering::SeqCst),
        )
    }

    fn arrival(&self, name: &str) -> Option<Instant> {
        self.arrivals
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(name)
            .copied()
    }

    /// Waits until every name has arrived, or `within` has passed.
    async fn arrived(&self, names: &[String], within: Duration) -> Result<Vec<Instant>, BoxError> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let notified = self.arrived.notified();
            let seen: Vec<Instant> = names.iter().filter_map(|n| self.arrival(n)).collect();
            if seen.len() == names.len() {
                return Ok(seen);
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return Err(format!(
                    "{} of {} events reached the emulator within {within:?}",
                    seen.len(),
                    names.len()
                )
                .into());
            }
        }
    }
}

struct ProbeLayer(Arc<Probe>);

/// The emulator's targets start with this; its "event recorded" line names
/// the event.
const EMULATOR: &str = "flowflex_emulator";
const SQLX: &str = "sqlx::query";
const OUTBOX: &str = "flowflex_outbox";

impl<S: Subscriber> Layer<S> for ProbeLayer {
    fn register_callsite(&self, m: &'static Metadata<'static>) -> Interest {
        if m.target() == SQLX
            || (m.is_event() && (m.target().starts_with(EMULATOR) || m.target() == OUTBOX))
        {
            Interest::sometimes()
        } else {
            Interest::never()
        }
    }

    fn enabled(&self, m: &Metadata<'_>, _: Context<'_, S>) -> bool {
        if m.target() == SQLX {
            self.0.counting.load(Ordering::Relaxed)
        } else {
            m.target().starts_with(EMULATOR) || m.target() == OUTBOX
        }
    }

    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        let at = Instant::now();
        let mut fields = Fields::default();
        event.record(&mut fields);
        if event.metadata().target() == SQLX {
            // Transaction control is not a statement of the outbox's (and
            // SQLite reports the previous statement's changes for it).
            let control = ["\"BEGIN", "\"COMMIT", "\"ROLLBACK"]
                .iter()
                .any(|c| fields.message.starts_with(c));
            if control {
                return;
            }
            // Rows written: what INSERT, UPDATE and DELETE changed (a
            // SELECT's count is rows read).
            let text = if fields.statement.trim().is_empty() {
                fields.message.trim_matches('"')
            } else {
                fields.statement.as_str()
            };
            let verb = text
                .lines()
                .map(str::trim)
                .find(|l| !l.is_empty() && !l.starts_with("--"))
                .and_then(|l| l.split_whitespace().next())
                .unwrap_or_default()
                .to_ascii_uppercase();
            let writes = ["INSERT", "UPDATE", "DELETE", "WITH"].contains(&verb.as_str());
            let written = if writes { fields.rows_affected } else { 0 };
            self.0.statements.fetch_add(1, Ordering::Relaxed);
            self.0.rows.fetch_add(written, Ordering::Relaxed);
            if self.0.detailed {
                let mut by = self
                    .0
                    .by_statement
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                let entry = by.entry(fields.message).or_default();
                entry.0 += 1;
                entry.1 += written;
            }
        } else if event.metadata().target() == OUTBOX {
            if fields.message == "claimed" {
                self.0.claims.fetch_add(1, Ordering::Relaxed);
                if fields.claimed == 0 {
                    self.0.empty_claims.fetch_add(1, Ordering::Relaxed);
                }
            }
        } else if fields.message == "event recorded" && fields.event.starts_with(LATENCY_EVENT) {
            self.0
                .arrivals
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(fields.event, at);
            self.0.arrived.notify_waiters();
        }
    }
}

#[derive(Default)]
struct Fields {
    message: String,
    event: String,
    /// sqlx's statement text (`db.statement`; empty when the summary is
    /// the whole statement).
    statement: String,
    rows_affected: u64,
    claimed: u64,
}

impl Visit for Fields {
    fn record_u64(&mut self, field: &Field, value: u64) {
        match field.name() {
            "rows_affected" => self.rows_affected = value,
            "claimed" => self.claimed = value,
            _ => {}
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "db.statement" {
            value.clone_into(&mut self.statement);
        } else {
            self.record_debug(field, &value);
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        match field.name() {
            // sqlx names its statement's first words `summary`.
            "message" | "summary" => self.message = format!("{value:?}"),
            "event" => self.event = format!("{value:?}").trim_matches('"').to_owned(),
            _ => {}
        }
    }
}

// ------------------------------------------------------------------ runs

/// Runs every fleet measurement into `r`.
/// The parts of the workload `FLOWFLEX_BENCH_FLEET` names (a comma-separated
/// list of `latency`, `enqueue`, `fleet`, `work`), or all of them.
fn part(name: &str) -> bool {
    std::env::var("FLOWFLEX_BENCH_FLEET")
        .map_or(true, |parts| parts.split(',').any(|p| p.trim() == name))
}

pub(crate) fn run(runtime: &Runtime, plan: &Plan, r: &mut Results) {
    let probe = Probe::get();
    let pg = runtime.block_on(crate::outbox::PgServer::connect());
    if let Err(why) = &pg {
        eprintln!("  PostgreSQL: n/a ({why})");
        r.fleet_pg_unavailable = Some(why.clone());
    }

    if part("latency") {
        eprintln!(
            "7. fleet: enqueue to POST, {LATENCY_EVENTS} events {} ms apart: PostgreSQL (relay in another process), SQLite (relay in this one)",
            LATENCY_SPACING.as_millis()
        );
        if let Ok(pg) = &pg {
            r.fleet_latency_pg = Outcome::of(runtime.block_on(latency_pg(plan, pg, &probe)));
        }
        r.fleet_latency_sqlite = Outcome::of(runtime.block_on(latency_sqlite(plan, &probe)));
    }

    if part("enqueue") {
        eprintln!(
            "7. fleet: enqueues/s from {ENQUEUE_TASKS} tasks, SQLite and PostgreSQL, alternated"
        );
        let (sqlite, postgres) =
            crate::workloads::split(runtime.block_on(enqueue_rates(plan, &pg)));
        (r.fleet_enqueue_sqlite, r.fleet_enqueue_pg) = (sqlite, postgres);
        if let Ok(pg) = &pg {
            eprintln!("7. fleet: enqueues/s through enqueue_many of {BATCH} (PostgreSQL)");
            r.fleet_enqueue_many = Outcome::of(runtime.block_on(enqueue_many_rate(plan, pg)));
        }
    }

    if let (Ok(pg), true) = (&pg, part("fleet")) {
        let n = if plan.quick { 2_000 } else { 100_000 };
        eprintln!(
            "7. fleet: {FLEET} relays (a pool each) draining {n} events from one PostgreSQL outbox"
        );
        r.fleet_32 = Some(runtime.block_on(fleet(pg, n, &probe)).map_err(|e| {
            eprintln!("  failed: {e}");
            e.to_string()
        }));
    }
    if !part("work") {
        if let Ok(pg) = pg {
            runtime.block_on(pg.close());
        }
        return;
    }
    eprintln!("7. fleet: database work per delivered event, without and with a file");
    for (files, sqlite, postgres) in [
        (false, &mut r.fleet_work_sqlite, &mut r.fleet_work_pg),
        (
            true,
            &mut r.fleet_work_sqlite_file,
            &mut r.fleet_work_pg_file,
        ),
    ] {
        *sqlite = work(runtime.block_on(work_sqlite(plan, files, &probe)));
        if let Ok(pg) = &pg {
            *postgres = work(runtime.block_on(work_pg(plan, pg, files, &probe)));
        }
    }
    if let Ok(pg) = pg {
        runtime.block_on(pg.close());
    }
}

fn work(result: Result<Work, BoxError>) -> Option<Result<Work, String>> {
    Some(result.map_err(|e| {
        eprintln!("  failed: {e}");
        e.to_string()
    }))
}

/// Database work per delivered event.
#[derive(Debug, Clone, Default)]
pub(crate) struct Work {
    /// Statements sqlx ran (as it logs them).
    pub(crate) statements: f64,
    /// Rows those statements inserted, updated or deleted (triggers' rows
    /// not included).
    pub(crate) rows: f64,
    /// PostgreSQL only: tuples written in the outbox's tables, triggers
    /// included (`pg_stat_user_tables`), transactions committed, and WAL
    /// bytes.
    pub(crate) tuples: Option<f64>,
    pub(crate) commits: Option<f64>,
    pub(crate) wal_bytes: Option<f64>,
    /// PostgreSQL only: CPU the server's processes spent per delivered
    /// event (µs), and per enqueued event with its tuples and WAL bytes
    /// (the enqueues from 16 tasks before).
    pub(crate) pg_cpu_us: Option<f64>,
    pub(crate) enqueue: Option<Phase>,
}

/// PostgreSQL's work per enqueued event.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Phase {
    pub(crate) tuples: f64,
    pub(crate) wal_bytes: f64,
    pub(crate) pg_cpu_us: f64,
}

/// CPU seconds so far of every PostgreSQL process on this machine, by pid
/// (`/proc/PID/stat`, in the kernel's 100 Hz ticks).
fn postgres_cpu() -> HashMap<u32, f64> {
    let mut cpu = HashMap::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return cpu;
    };
    for entry in dir.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        let Some((name, rest)) = stat.split_once(") ") else {
            continue;
        };
        if !name.ends_with("(postgres") {
            continue;
        }
        // After the name: state is field 3; utime and stime are 14 and 15.
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let ticks = |i: usize| fields.get(i - 3).and_then(|f| f.parse::<f64>().ok());
        if let (Some(user), Some(system)) = (ticks(14), ticks(15)) {
            cpu.insert(pid, (user + system) / 100.0);
        }
    }
    cpu
}

/// CPU seconds PostgreSQL spent between two [`postgres_cpu`] readings
/// (processes started since count whole; ones that ended are lost).
fn cpu_since(before: &HashMap<u32, f64>) -> f64 {
    postgres_cpu()
        .iter()
        .map(|(pid, now)| now - before.get(pid).copied().unwrap_or(0.0))
        .filter(|d| *d > 0.0)
        .sum()
}

/// The latency measurement: `LATENCY_EVENTS` events enqueued through
/// `outbox` on a fixed schedule, each under its own name; milliseconds
/// from the call to `enqueue` to the event's arrival at the emulator.
async fn enqueue_on_schedule(
    outbox: &Outbox,
    probe: &Probe,
    tag: &str,
    warm: usize,
) -> Result<Vec<f64>, BoxError> {
    // Warm: connections, the relay's first turns, the emulator's first
    // request; each waited for.
    for i in 0..warm {
        let name = format!("{LATENCY_EVENT}{tag}.warm{i}");
        outbox
            .enqueue(name.clone(), serde_json::json!({"i": i}))
            .await?;
        probe.arrived(&[name], Duration::from_secs(30)).await?;
    }
    let mut names = Vec::with_capacity(LATENCY_EVENTS);
    let mut started = Vec::with_capacity(LATENCY_EVENTS);
    let mut tick = tokio::time::interval(LATENCY_SPACING);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    for i in 0..LATENCY_EVENTS {
        tick.tick().await;
        let name = format!("{LATENCY_EVENT}{tag}.{i}");
        let t0 = Instant::now();
        outbox
            .enqueue(name.clone(), serde_json::json!({"i": i}))
            .await?;
        names.push(name);
        started.push(t0);
    }
    let arrived = probe.arrived(&names, Duration::from_secs(60)).await?;
    Ok(arrived
        .iter()
        .zip(&started)
        .map(|(a, t0)| a.saturating_duration_since(*t0).as_secs_f64() * 1000.0)
        .collect())
}

/// PostgreSQL, with a relay (the SDK's defaults) in a child process.
async fn latency_pg(
    plan: &Plan,
    pg: &crate::outbox::PgServer,
    probe: &Probe,
) -> Result<Vec<f64>, BoxError> {
    let emulator = Emulator::start().await?;
    let mut samples = Vec::new();
    for run in 0..plan.runs.min(3) {
        let schema = pg.schema().await?;
        let measured = async {
            let outbox = Outbox::connect_postgres(&schema.url).await?;
            let relay = RelayProcess::start(&schema.url, emulator.base_url().as_str())?;
            let measured = enqueue_on_schedule(&outbox, probe, &format!("pg{run}"), 5).await;
            drop(relay);
            crate::outbox::close(outbox).await;
            measured
        }
        .await;
        schema.drop_schema(pg).await?;
        samples.extend(measured?);
    }
    emulator.shutdown().await;
    Ok(samples)
}

/// SQLite, with the relay in this process (the SDK's defaults).
async fn latency_sqlite(plan: &Plan, probe: &Probe) -> Result<Vec<f64>, BoxError> {
    let emulator = Emulator::start().await?;
    let client = crate::server::client(emulator.base_url().as_str())?;
    let mut samples = Vec::new();
    for run in 0..plan.runs.min(3) {
        let scratch = crate::outbox::Scratch::new("latency")?;
        let outbox = Outbox::open_sqlite(scratch.db()).await?;
        let relay = outbox.relay(client.clone()).spawn();
        let measured = enqueue_on_schedule(&outbox, probe, &format!("sqlite{run}"), 5).await;
        relay.shutdown().await;
        crate::outbox::close(outbox).await;
        samples.extend(measured?);
    }
    emulator.shutdown().await;
    Ok(samples)
}

/// A relay in a child process (`flowflex-bench outbox-relay`); killed when
/// dropped.
struct RelayProcess(Child);

impl RelayProcess {
    fn start(postgres: &str, base_url: &str) -> Result<RelayProcess, BoxError> {
        let mut child = Command::new(std::env::current_exe()?)
            .args([
                "outbox-relay",
                "--postgres",
                postgres,
                "--base-url",
                base_url,
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        let stdout = child.stdout.take().ok_or("the relay has no stdout")?;
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line)?;
        if line.trim() != "ready" {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("the relay process did not start (it said {line:?})").into());
        }
        Ok(RelayProcess(child))
    }
}

impl Drop for RelayProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The `outbox-relay` subcommand: a relay with the SDK's defaults on the
/// PostgreSQL outbox at `postgres`, delivering to `base_url`, until stdin
/// closes.
pub(crate) fn relay_process(postgres: &str, base_url: &str) -> Result<(), BoxError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let outbox = Outbox::connect_postgres(postgres).await?;
        let relay = outbox.relay(crate::server::client(base_url)?).spawn();
        println!("ready");
        tokio::task::spawn_blocking(|| {
            let mut sink = Vec::new();
            let _ = std::io::stdin().read_to_end(&mut sink);
        })
        .await?;
        relay.shutdown().await;
        Ok(())
    })
}

// ---------------------------------------------------------------- enqueue

/// Durable enqueues per second from [`ENQUEUE_TASKS`] tasks for
/// `plan.event_duration`: SQLite and PostgreSQL, alternated run by run.
async fn enqueue_rates(
    plan: &Plan,
    pg: &Result<crate::outbox::PgServer, String>,
) -> Result<(Vec<f64>, Vec<f64>), BoxError> {
    let (mut sqlite, mut postgres) = (Vec::new(), Vec::new());
    for _ in 0..plan.runs {
        let scratch = crate::outbox::Scratch::new("rate")?;
        let outbox = Outbox::open_sqlite(scratch.db()).await?;
        sqlite.push(timed_enqueues(&outbox, plan.event_duration).await?);
        crate::outbox::close(outbox).await;
        if let Ok(pg) = pg {
            let schema = pg.schema().await?;
            let measured = async {
                let outbox = Outbox::connect_postgres(&schema.url).await?;
                let rate = timed_enqueues(&outbox, plan.event_duration).await;
                crate::outbox::close(outbox).await;
                rate
            }
            .await;
            schema.drop_schema(pg).await?;
            postgres.push(measured?);
        }
    }
    Ok((sqlite, postgres))
}

/// Events per second stored by `enqueue_many` calls of [`BATCH`] events, one
/// after another, for `plan.event_duration`, on a fresh schema each run.
async fn enqueue_many_rate(
    plan: &Plan,
    pg: &crate::outbox::PgServer,
) -> Result<Vec<f64>, BoxError> {
    let payload = crate::encode::order_json();
    let mut rates = Vec::new();
    for _ in 0..plan.runs {
        let schema = pg.schema().await?;
        let measured = async {
            let outbox = Outbox::connect_postgres(&schema.url).await?;
            let batch = || (0..BATCH).map(|_| outbox.enqueue("bench.many", &payload));
            outbox.enqueue_many(batch()).await?;
            let start = Instant::now();
            let mut stored = 0usize;
            while start.elapsed() < plan.event_duration {
                stored += outbox.enqueue_many(batch()).await?.len();
            }
            let elapsed = start.elapsed().as_secs_f64();
            let pending = outbox.stats().await?.pending;
            crate::outbox::close(outbox).await;
            if pending != (stored + BATCH) as u64 {
                return Err(format!(
                    "{} events enqueued but {pending} are pending",
                    stored + BATCH
                )
                .into());
            }
            #[allow(clippy::cast_precision_loss)]
            Ok::<_, BoxError>(stored as f64 / elapsed)
        }
        .await;
        schema.drop_schema(pg).await?;
        rates.push(measured?);
    }
    Ok(rates)
}

/// Events per second stored by [`ENQUEUE_TASKS`] tasks for `duration`.
async fn timed_enqueues(outbox: &Outbox, duration: Duration) -> Result<f64, BoxError> {
    let payload = crate::encode::order_json();
    for _ in 0..10 {
        outbox.enqueue("bench.rate", &payload).await?;
    }
    let stored = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let deadline = start + duration;
    let workers: Vec<_> = (0..ENQUEUE_TASKS)
        .map(|_| {
            let (outbox, payload, stored) = (outbox.clone(), payload.clone(), Arc::clone(&stored));
            tokio::spawn(async move {
                while Instant::now() < deadline {
                    outbox.enqueue("bench.rate", &payload).await?;
                    stored.fetch_add(1, Ordering::Relaxed);
                }
                Ok::<_, BoxError>(())
            })
        })
        .collect();
    for worker in workers {
        worker.await??;
    }
    let elapsed = start.elapsed().as_secs_f64();
    let stored = stored.load(Ordering::Relaxed);
    let pending = outbox.stats().await?.pending;
    if pending != stored + 10 {
        return Err(format!("{} events enqueued but {pending} are pending", stored + 10).into());
    }
    #[allow(clippy::cast_precision_loss)]
    Ok(stored as f64 / elapsed)
}

// ------------------------------------------------------------------ fleet

/// Relays in the fleet measurement.
pub(crate) const FLEET: usize = 32;

/// What the fleet measurement found.
#[derive(Debug, Clone)]
pub(crate) struct Fleet {
    pub(crate) events: usize,
    /// Events per second from the relays' start to the last delivery.
    pub(crate) per_second: f64,
    /// Claims made, and those that found nothing.
    pub(crate) claims: u64,
    pub(crate) empty_claims: u64,
    /// Relays.
    pub(crate) relays: usize,
}

/// [`FLEET`] relays, each on an outbox with a pool of its own (one
/// connection, as replicas with small pools), drain `n` events stored by
/// `enqueue_many`; each must reach the emulator exactly once.
#[allow(clippy::cast_precision_loss)]
async fn fleet(pg: &crate::outbox::PgServer, n: usize, probe: &Probe) -> Result<Fleet, BoxError> {
    let emulator = Emulator::start().await?;
    let client = crate::server::client(emulator.base_url().as_str())?;
    let schema = pg.schema().await?;
    let measured = async {
        let service = Outbox::connect_postgres(&schema.url).await?;
        let payload = crate::encode::order_json();
        for chunk in 0..n.div_ceil(BATCH) {
            let size = BATCH.min(n - chunk * BATCH);
            service
                .enqueue_many((0..size).map(|_| service.enqueue("bench.fleet", &payload)))
                .await?;
        }
        let mut replicas = Vec::with_capacity(FLEET);
        for _ in 0..FLEET {
            let pool = sqlx::postgres::PgPoolOptions::new()
                .max_connections(1)
                .connect(&schema.url)
                .await?;
            replicas.push(Outbox::from_pg_pool(pool).await?);
        }
        let (claims, empty) = (
            probe.claims.load(Ordering::Relaxed),
            probe.empty_claims.load(Ordering::Relaxed),
        );
        let start = Instant::now();
        let relays: Vec<_> = replicas
            .iter()
            .enumerate()
            .map(|(i, o)| {
                o.relay(client.clone())
                    .name(format!("fleet-{i:02}"))
                    .spawn()
            })
            .collect();
        let deadline = start + Duration::from_secs(600);
        while emulator.events().len() < n && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let elapsed = start.elapsed().as_secs_f64();
        let flushed = relays[0].flush(Duration::from_secs(60)).await;
        for relay in relays {
            relay.shutdown().await;
        }
        flushed?;
        let (claims, empty) = (
            probe.claims.load(Ordering::Relaxed) - claims,
            probe.empty_claims.load(Ordering::Relaxed) - empty,
        );
        let mut posts: HashMap<String, usize> = HashMap::with_capacity(n);
        for r in emulator.requests() {
            if let Some(key) = r.header("x-idempotency-key") {
                *posts.entry(key.to_owned()).or_insert(0) += 1;
            }
        }
        let stats = service.stats().await?;
        if posts.len() != n || posts.values().any(|&c| c != 1) || stats.delivered != n as u64 {
            return Err(format!(
                "{} keys posted (some more than once: {}), {} delivered, of {n}",
                posts.len(),
                posts.values().filter(|&&c| c > 1).count(),
                stats.delivered
            )
            .into());
        }
        let relays = replicas.len();
        for o in replicas {
            crate::outbox::close(o).await;
        }
        crate::outbox::close(service).await;
        Ok::<_, BoxError>(Fleet {
            events: n,
            per_second: n as f64 / elapsed,
            claims,
            empty_claims: empty,
            relays,
        })
    }
    .await;
    schema.drop_schema(pg).await?;
    emulator.shutdown().await;
    measured
}

// ------------------------------------------------------------------- work

/// How many events the work measurement delivers.
fn work_events(plan: &Plan) -> usize {
    if plan.quick { 64 } else { 2000 }
}

/// Stores `n` events (each with a small PDF if `files`) from 16 tasks.
async fn store_events(outbox: &Outbox, n: usize, files: bool) -> Result<(), BoxError> {
    let next = Arc::new(AtomicU64::new(0));
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let (outbox, next) = (outbox.clone(), Arc::clone(&next));
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n as u64 {
                        return Ok::<_, BoxError>(());
                    }
                    let payload = if files {
                        let pdf = format!("%PDF-1.7\n% event {i}\n").into_bytes();
                        flowflex::json!({"i": i, "invoice": Attachment::from_bytes(pdf, "invoice.pdf")})
                    } else {
                        flowflex::json!({"i": i})
                    };
                    outbox.enqueue("bench.work", payload).await?;
                }
            })
        })
        .collect();
    for task in tasks {
        task.await??;
    }
    Ok(())
}

/// Delivers everything pending with one relay of [`IN_FLIGHT`] slots;
/// waits by watching the emulator, so that the wait adds no statement.
async fn deliver_all(
    outbox: &Outbox,
    emulator: &Emulator,
    client: &Client,
    n: usize,
) -> Result<(), BoxError> {
    let relay = outbox.relay(client.clone()).concurrency(IN_FLIGHT).spawn();
    let deadline = Instant::now() + Duration::from_secs(300);
    while emulator.events().len() < n && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let flushed = relay.flush(Duration::from_secs(300)).await;
    relay.shutdown().await;
    flushed?;
    let stats = outbox.stats().await?;
    if stats.delivered != n as u64 {
        return Err(format!("{} of {n} events delivered ({stats:?})", stats.delivered).into());
    }
    Ok(())
}

#[allow(clippy::cast_precision_loss)]
async fn work_sqlite(plan: &Plan, files: bool, probe: &Probe) -> Result<Work, BoxError> {
    let emulator = Emulator::start().await?;
    let client = crate::server::client(emulator.base_url().as_str())?;
    let n = work_events(plan);
    let scratch = crate::outbox::Scratch::new("work")?;
    let outbox = Outbox::open_sqlite(scratch.db()).await?;
    store_events(&outbox, n, files).await?;
    probe.count();
    let delivered = deliver_all(&outbox, &emulator, &client, n).await;
    let (statements, rows) = probe.counted();
    delivered?;
    crate::outbox::close(outbox).await;
    emulator.shutdown().await;
    Ok(Work {
        statements: statements as f64 / n as f64,
        rows: rows as f64 / n as f64,
        ..Work::default()
    })
}

#[allow(clippy::cast_precision_loss)]
async fn work_pg(
    plan: &Plan,
    pg: &crate::outbox::PgServer,
    files: bool,
    probe: &Probe,
) -> Result<Work, BoxError> {
    let emulator = Emulator::start().await?;
    let client = crate::server::client(emulator.base_url().as_str())?;
    let n = work_events(plan);
    let schema = pg.schema().await?;
    let measured = async {
        let per = |a: i64, b: i64| (a - b) as f64 / n as f64;
        let outbox = Outbox::connect_postgres(&schema.url).await?;
        let empty = pg.activity(&schema.name).await?;
        let cpu = postgres_cpu();
        store_events(&outbox, n, files).await?;
        let enqueue_cpu = cpu_since(&cpu);
        crate::outbox::close(outbox).await;
        let before = pg.activity(&schema.name).await?;
        let enqueue = Phase {
            tuples: per(before.tuples, empty.tuples),
            wal_bytes: per(before.wal, empty.wal),
            pg_cpu_us: (enqueue_cpu * 1e6 / n as f64).max(0.0),
        };
        let outbox = Outbox::connect_postgres(&schema.url).await?;
        probe.count();
        let cpu = postgres_cpu();
        let delivered = deliver_all(&outbox, &emulator, &client, n).await;
        let deliver_cpu = cpu_since(&cpu);
        let (statements, rows) = probe.counted();
        crate::outbox::close(outbox).await;
        delivered?;
        let after = pg.activity(&schema.name).await?;
        Ok::<_, BoxError>(Work {
            statements: statements as f64 / n as f64,
            rows: rows as f64 / n as f64,
            tuples: Some(per(after.tuples, before.tuples)),
            commits: Some(per(after.commits, before.commits)),
            wal_bytes: Some(per(after.wal, before.wal)),
            pg_cpu_us: Some(deliver_cpu * 1e6 / n as f64),
            enqueue: Some(enqueue),
        })
    }
    .await;
    schema.drop_schema(pg).await?;
    emulator.shutdown().await;
    measured
}

/// A fresh PostgreSQL schema for one measurement.
pub(crate) struct Schema {
    pub(crate) name: String,
    pub(crate) url: String,
}

impl Schema {
    pub(crate) async fn drop_schema(self, pg: &crate::outbox::PgServer) -> Result<(), BoxError> {
        pg.drop_schema(&self.name).await
    }
}

/// PostgreSQL's own count of the work done: tuples written in `schema`'s
/// tables (as the statistics collector has them), transactions committed in
/// the database, and the WAL position.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Activity {
    pub(crate) tuples: i64,
    pub(crate) commits: i64,
    pub(crate) wal: i64,
}
