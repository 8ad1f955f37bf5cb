//! `flowflex-bench`: the SDK's performance, side by side with the published
//! Python SDK, curl and the targets of `docs/performance.md`, in one run
//! against the emulator on loopback.
//!
//! ```text
//! cargo run --release -p benches -- --json target/bench.json   # the measurement
//! cargo run -p benches -- --quick                              # CI: small sizes, seconds
//! ```
//!
//! The emulator runs in its own process (this binary, `emulator`
//! subcommand), and memory is measured in child processes (`probe`
//! subcommand), so that neither the stored uploads nor the harness count
//! against the client.
// A benchmark's job is to print its table.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod curl;
mod data;
mod encode;
mod fleet;
mod machine;
mod outbox;
mod probe;
mod python;
mod report;
mod server;
mod stats;
mod workloads;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};

/// Measures the FlowFlex Rust SDK against the Python SDK and curl.
#[derive(Debug, Parser)]
#[command(name = "flowflex-bench", about)]
struct Args {
    /// Small sizes and short runs: checks that the harness works (CI), the
    /// figures mean nothing.
    #[arg(long)]
    quick: bool,
    /// Also write the results as JSON to this file.
    #[arg(long, value_name = "PATH")]
    json: Option<PathBuf>,
    /// Leave out the Python SDK.
    #[arg(long)]
    no_python: bool,
    /// The interpreter that creates the Python SDK's virtualenv
    /// (`target/bench-venv`).
    #[arg(long, value_name = "PROGRAM", default_value = "python3")]
    python: String,
    /// Runs of each timed workload; the median is reported (default 5, 1
    /// with --quick).
    #[arg(long, value_name = "N")]
    runs: Option<usize>,
    /// Run only these workloads (for profiling one), e.g. `--only encode`.
    #[arg(long, value_enum, value_delimiter = ',', value_name = "WORKLOAD")]
    only: Vec<Workload>,
    #[command(subcommand)]
    internal: Option<Internal>,
}

/// The harness's own child processes.
#[derive(Debug, Subcommand)]
enum Internal {
    /// Serves the emulator until stdin closes.
    #[command(hide = true)]
    Emulator {
        /// Delay every storage upload by this long.
        #[arg(long, default_value_t = 0)]
        storage_latency_ms: u64,
    },
    /// Sends one event (with `--file` attached, if given) and prints the
    /// process's peak memory as JSON.
    #[command(hide = true)]
    Probe {
        #[arg(long)]
        base_url: String,
        #[arg(long)]
        file: Option<PathBuf>,
    },
    /// Enqueues one event (with `--file` attached, if given) into a SQLite
    /// outbox at `--db`, delivers it with a relay, and prints the process's
    /// peak memory as JSON.
    #[command(hide = true)]
    OutboxProbe {
        #[arg(long)]
        base_url: String,
        #[arg(long)]
        db: PathBuf,
        #[arg(long)]
        file: Option<PathBuf>,
    },
    /// Runs a relay (the SDK's defaults) on the PostgreSQL outbox at
    /// `--postgres`, delivering to `--base-url`, until stdin closes.
    #[command(hide = true)]
    OutboxRelay {
        #[arg(long)]
        postgres: String,
        #[arg(long)]
        base_url: String,
    },
}

/// The workloads, as `--only` names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Workload {
    /// 1. Peak memory of a send with the large file.
    Memory,
    /// 2. Throughput of one large upload.
    Upload,
    /// 3. Many files with storage latency.
    Fanout,
    /// 4. Events per second.
    Events,
    /// 5. The cost of finding attachments.
    Encode,
    /// 6. The durable outbox: enqueue rate, relay, PostgreSQL, memory.
    Outbox,
    /// Workload 7, the outbox for fleets: enqueue-to-POST latency, enqueue
    /// rates, database work per delivered event.
    Fleet,
    /// Workload 8, how long the emulator takes to stop with an idle
    /// connection and a held request (what `flowflex emulator` does on
    /// SIGTERM or Ctrl-C).
    Stop,
}

/// Sizes and durations of one run.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub(crate) quick: bool,
    /// The single large upload (the service's limit, 25 MiB).
    pub(crate) big_file: u64,
    /// Files of the fan-out send.
    pub(crate) fan_files: usize,
    pub(crate) fan_file_size: u64,
    /// Storage latency injected for the fan-out.
    pub(crate) latency: Duration,
    /// Runs of each timed workload.
    pub(crate) runs: usize,
    /// How long each run of an events-per-second workload lasts.
    pub(crate) event_duration: Duration,
    /// Iterations of one encode measurement.
    pub(crate) encode_iterations: usize,
    /// Events of the outbox's backlog, delivered by a relay (and sent
    /// directly to compare), and on PostgreSQL.
    pub(crate) outbox_events: usize,
    /// Events already pending in the third enqueue measurement.
    pub(crate) outbox_backlog: usize,
    /// The workloads to run (all when empty).
    pub(crate) only: Vec<Workload>,
}

impl Plan {
    fn new(args: &Args) -> Plan {
        let mut plan = if args.quick {
            Plan {
                quick: true,
                big_file: 1024 * 1024,
                fan_files: 16,
                fan_file_size: 64 * 1024,
                latency: Duration::from_millis(20),
                runs: 1,
                event_duration: Duration::from_millis(300),
                encode_iterations: 2_000,
                outbox_events: 100,
                outbox_backlog: 200,
                only: Vec::new(),
            }
        } else {
            Plan {
                quick: false,
                big_file: flowflex::MAX_FILE_BYTES,
                fan_files: 16,
                fan_file_size: 1024 * 1024,
                latency: Duration::from_millis(100),
                runs: 5,
                event_duration: Duration::from_secs(1),
                encode_iterations: 50_000,
                outbox_events: 5_000,
                outbox_backlog: 20_000,
                only: Vec::new(),
            }
        };
        if let Some(runs) = args.runs {
            plan.runs = runs.max(1);
        }
        plan.only.clone_from(&args.only);
        plan
    }

    /// Batches of the encode measurement: short ones, many, so that a noisy
    /// neighbour spoils few.
    pub(crate) fn encode_runs(&self) -> usize {
        self.runs * 3
    }

    /// Whether `workload` is to run.
    pub(crate) fn runs(&self, workload: Workload) -> bool {
        self.only.is_empty() || self.only.contains(&workload)
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    let outcome = match args.internal {
        Some(Internal::Emulator { storage_latency_ms }) => {
            server::serve(Duration::from_millis(storage_latency_ms))
        }
        Some(Internal::Probe { base_url, file }) => probe::run(&base_url, file.as_deref()),
        Some(Internal::OutboxProbe { base_url, db, file }) => {
            outbox::probe(&base_url, &db, file.as_deref())
        }
        Some(Internal::OutboxRelay { postgres, base_url }) => {
            fleet::relay_process(&postgres, &base_url)
        }
        None => run(&args),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("flowflex-bench: {err}");
            ExitCode::FAILURE
        }
    }
}

pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn run(args: &Args) -> Result<(), BoxError> {
    let plan = Plan::new(args);
    let machine = machine::Machine::detect();
    eprintln!("{}", machine.summary());
    if plan.quick {
        eprintln!("--quick: small sizes, one run; the figures are not measurements");
    }
    let files = data::prepare(&plan)?;
    let python = if args.no_python {
        Err("left out (--no-python)".to_owned())
    } else {
        python::Python::setup(&args.python)
    };
    if let Err(why) = &python {
        eprintln!("Python SDK: {why}");
    }
    let curl = curl::Curl::detect();
    if let Err(why) = &curl {
        eprintln!("curl: {why}");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let results = workloads::all(
        &runtime,
        &plan,
        &files,
        python.as_ref().ok(),
        curl.as_ref().ok(),
    );
    let report = report::Report::new(&plan, &machine, &results, &python, &curl);
    println!("{}", report.table());
    if let Some(path) = &args.json {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(path, serde_json::to_vec_pretty(&report.json())?)?;
        eprintln!("wrote {}", path.display());
    }
    // A missing Python or curl is reported, not fatal; a workload that
    // broke is (CI runs `--quick` to catch that).
    let errors = results.errors();
    if !errors.is_empty() {
        return Err(format!(
            "{} workload(s) failed:\n  {}",
            errors.len(),
            errors.join("\n  ")
        )
        .into());
    }
    Ok(())
}
