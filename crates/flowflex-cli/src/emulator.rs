//! `flowflex emulator`: the `flowflex-emulator` library as a server, with
//! its announcement (where it listens, the settings a client needs, the
//! inspector's URL), a line on stderr for each upload and event it accepts
//! (unless `--quiet`), and an optional event record.

use std::io::Write as _;
use std::path::Path;
use std::time::Duration;

use flowflex_core::size::describe;
use flowflex_emulator::{DEFAULT_API_SECRET, Emulator, RecordedEvent};
use serde_json::{Map, Value, json};

use crate::args::EmulatorArgs;
use crate::exit;
use crate::report::Failure;

/// How often new uploads and events are looked for, for the activity lines
/// and `--record`.
const WATCH_EVERY: Duration = Duration::from_millis(25);

/// How long, after a stop signal, work still running may take before the
/// process exits anyway.
const EXIT_GRACE: Duration = Duration::from_millis(100);

pub(crate) fn run(args: &EmulatorArgs) -> Result<u8, Failure> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| failure("cannot start the async runtime", &e))?;
    let outcome = runtime.block_on(serve(args));
    // Dropping a runtime waits for its blocking threads; a stop signal must
    // not wait on them.
    runtime.shutdown_timeout(EXIT_GRACE);
    outcome
}

async fn serve(args: &EmulatorArgs) -> Result<u8, Failure> {
    let emulator = Emulator::builder()
        .host(args.host)
        .port(args.port)
        .api_key(&args.api_key)
        .api_secret(args.api_secret.as_deref().unwrap_or(DEFAULT_API_SECRET))
        .integration_code(&args.integration_code)
        .max_file_bytes(args.max_file_bytes)
        .inspector(args.inspector)
        .start()
        .await
        .map_err(|e| Failure::Other {
            message: format!("the emulator cannot start: {e}"),
            hint: "pick another --port (0 takes a free one), or check --host".to_owned(),
        })?;
    let mut record = match &args.record {
        Some(path) => Some(Record::open(path)?),
        None => None,
    };
    // Listen for signals before announcing readiness, so that a supervisor
    // that stops us right after reading the address gets a clean exit.
    let mut stop =
        std::pin::pin!(stop_signal().map_err(|e| failure("cannot listen for stop signals", &e))?);

    // stderr says which secret is in force, before stdout announces
    // readiness; the secret itself is never printed, not even the default
    // (`--help` and the docs name that one).
    if !args.quiet {
        eprintln_line(if args.api_secret.is_some() {
            "api secret: the value you passed"
        } else {
            "api secret: the default (flowflex emulator --help names it)"
        });
        if emulator.inspector_url().is_none() {
            eprintln_line(&format!(
                "inspector: off, as {} is not a loopback address (--inspector serves it and /_emulator/ there)",
                args.host
            ));
        }
    }
    let announcement = emulator.announcement();
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(announcement.as_bytes())
        .and_then(|()| stdout.flush())
        .map_err(|e| failure("cannot write to stdout", &e))?;
    drop(stdout);

    let mut activity = (!args.quiet).then(Activity::default);
    let watching = record.is_some() || activity.is_some();
    let mut tick = tokio::time::interval(WATCH_EVERY);
    loop {
        tokio::select! {
            () = &mut stop => break,
            _ = tick.tick(), if watching => {
                if let Some(activity) = &mut activity {
                    activity.catch_up(&emulator);
                }
                if let Some(record) = &mut record {
                    record.catch_up(&emulator)?;
                }
            }
        }
    }
    if let Some(activity) = &mut activity {
        activity.catch_up(&emulator);
    }
    if let Some(record) = &mut record {
        record.catch_up(&emulator)?;
    }
    emulator.shutdown().await;
    Ok(exit::OK)
}

/// One line on stderr per file stored and per event accepted, as they
/// happen: what a developer watching the emulator wants to see.
#[derive(Default)]
struct Activity {
    /// Each asset's id and the number of `PUT`s already shown.
    puts: std::collections::HashMap<String, u32>,
    events: usize,
}

impl Activity {
    fn catch_up(&mut self, emulator: &Emulator) {
        let mut lines = String::new();
        for asset in emulator.assets() {
            let shown = self.puts.entry(asset.asset_id.clone()).or_insert(0);
            if asset.put_count > *shown {
                *shown = asset.put_count;
                lines.push_str(&upload_line(&asset));
                lines.push('\n');
            }
        }
        let events = emulator.events();
        for event in events.iter().skip(self.events) {
            lines.push_str(&event_line(event));
            lines.push('\n');
        }
        self.events = events.len();
        if !lines.is_empty() {
            let _ = std::io::stderr().lock().write_all(lines.as_bytes());
        }
    }
}

/// `upload asset_… invoice.pdf (application/pdf, 596 bytes)`.
fn upload_line(asset: &flowflex_emulator::StoredAsset) -> String {
    format!(
        "upload {} {} ({}, {})",
        asset.asset_id,
        flowflex_core::printable(&asset.filename, 100),
        asset.mime,
        describe(asset.size)
    )
}

/// `event order.shipped evt_… key order-42 (2 assets)`.
fn event_line(event: &RecordedEvent) -> String {
    let assets = event.assets().len();
    format!(
        "event {} {} key {} ({assets} asset{})",
        flowflex_core::printable(&event.event, 100),
        event.event_id,
        event
            .idempotency_key
            .as_deref()
            .map_or_else(|| "(none)".to_owned(), |k| flowflex_core::printable(k, 100)),
        if assets == 1 { "" } else { "s" }
    )
}

/// `--record FILE`: every accepted event, one JSON line each, in order.
struct Record {
    file: std::fs::File,
    written: usize,
}

impl Record {
    fn open(path: &Path) -> Result<Record, Failure> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| failure(&format!("cannot open --record {}", path.display()), &e))?;
        Ok(Record { file, written: 0 })
    }

    /// Appends the events accepted since the last call.
    fn catch_up(&mut self, emulator: &Emulator) -> Result<(), Failure> {
        let events = emulator.events();
        let mut lines = String::new();
        for event in events.iter().skip(self.written) {
            lines.push_str(&record_line(emulator, event).to_string());
            lines.push('\n');
        }
        if lines.is_empty() {
            return Ok(());
        }
        self.file
            .write_all(lines.as_bytes())
            .and_then(|()| self.file.flush())
            .map_err(|e| failure("cannot write the --record file", &e))?;
        self.written = events.len();
        Ok(())
    }
}

/// An event as recorded: what arrived, and the files its asset ids name.
fn record_line(emulator: &Emulator, event: &RecordedEvent) -> Value {
    let assets: Map<String, Value> = event
        .assets()
        .into_values()
        .filter_map(|id| {
            let asset = emulator.asset(&id)?;
            let file = json!({
                "filename": asset.filename,
                "mime": asset.mime,
                "size": asset.size,
                "sha256": asset.sha256,
            });
            Some((id, file))
        })
        .collect();
    json!({
        "event": event.event,
        "integration_code": event.integration_code,
        "idempotency_key": event.idempotency_key,
        "event_id": event.event_id,
        "payload": event.payload,
        "assets": assets,
    })
}

/// A future that resolves on Ctrl-C, or SIGTERM on Unix. Installed before
/// the announcement, so that a supervisor that stops the server right
/// after reading its address gets a clean exit.
fn stop_signal() -> std::io::Result<impl Future<Output = ()>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut interrupt = signal(SignalKind::interrupt())?;
        let mut terminate = signal(SignalKind::terminate())?;
        Ok(async move {
            tokio::select! {
                _ = interrupt.recv() => {}
                _ = terminate.recv() => {}
            }
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            let _ = tokio::signal::ctrl_c().await;
        })
    }
}

fn eprintln_line(line: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

fn failure(what: &str, e: &std::io::Error) -> Failure {
    Failure::Other {
        message: format!("{what}: {e}"),
        hint: "check the machine's resources, and that --record names a writable file".to_owned(),
    }
}
