//! `flowflex outbox`: inspect, requeue and drain a `flowflex-outbox` store.

mod status;

use std::io::Write as _;
use std::time::{Duration, Instant};

use flowflex_outbox::{Outbox, OutboxId};

use crate::args::{OutboxArgs, OutboxCommand};
use crate::exit;
use crate::report::Failure;

pub(crate) fn run(args: &OutboxArgs) -> Result<u8, Failure> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Failure::Other {
            message: format!("cannot start the async runtime: {e}"),
            hint: "check the process's thread and file limits".to_owned(),
        })?;
    // The CLI's client is the blocking one, which owns a runtime: build it
    // here, outside the async runtime, and hand its async half to the relay.
    let blocking = match &args.command {
        OutboxCommand::Drain(drain) => Some(crate::send::client(&drain.config)?),
        _ => None,
    };
    let client = blocking.as_ref().map(|c| c.as_async().clone());
    let code = runtime.block_on(run_async(args, client));
    drop(runtime);
    drop(blocking);
    code
}

/// The hint of every `flowflex outbox` usage failure.
const HELP: &str = "see `flowflex outbox --help` for the subcommands and flags";

fn usage(message: impl Into<String>) -> Failure {
    Failure::Outbox {
        message: message.into(),
        hint: HELP.to_owned(),
    }
}

fn failed(e: &flowflex_outbox::Error) -> Failure {
    match e {
        flowflex_outbox::Error::NotFound(_) | flowflex_outbox::Error::NotDead { .. } => {
            Failure::Outbox {
                message: e.to_string(),
                hint: "`flowflex outbox dead` lists the dead letters and their ids".to_owned(),
            }
        }
        flowflex_outbox::Error::NoOutbox { found } => Failure::Outbox {
            message: format!("{found}: flowflex outbox creates and migrates nothing"),
            hint: "check --sqlite PATH, or --postgres URL (FLOWFLEX_OUTBOX_POSTGRES) and --schema; the service that uses the outbox creates it and brings it to its version when it opens it".to_owned(),
        },
        _ => Failure::Other {
            message: e.to_string(),
            hint: "check --sqlite PATH or --postgres URL (FLOWFLEX_OUTBOX_POSTGRES) and that the database is reachable".to_owned(),
        },
    }
}

/// The CLI creates, migrates and prunes nothing: the outbox must exist at
/// this version (`create(false)`), and how long delivered events stay (and
/// their keys deduplicate) is for the services that own it to set (a
/// `drain` with the library's default would prune by that instead).
fn keeping(args: &OutboxArgs) -> flowflex_outbox::OutboxBuilder {
    let builder = Outbox::builder()
        .keep_delivered(Duration::MAX)
        .create(false);
    match &args.store.schema {
        Some(schema) => builder.schema(schema.clone()),
        None => builder,
    }
}

async fn open(args: &OutboxArgs) -> Result<Outbox, Failure> {
    let opened = match (&args.store.sqlite, &args.store.postgres) {
        (Some(_), Some(_)) | (None, None) => {
            return Err(usage(
                "say which outbox: --sqlite PATH or --postgres URL (one of them)",
            ));
        }
        (Some(_), None) if args.store.schema.is_some() => {
            return Err(usage("--schema is for a PostgreSQL outbox (--postgres)"));
        }
        (Some(path), None) => keeping(args).open_sqlite(path).await,
        (None, Some(url)) => keeping(args).connect_postgres(url).await,
    };
    opened.map_err(|e| failed(&e))
}

fn out(line: &str) -> Result<(), Failure> {
    writeln!(std::io::stdout().lock(), "{line}").map_err(|e| Failure::Other {
        message: format!("cannot write to stdout: {e}"),
        hint: "check where the output goes".to_owned(),
    })
}

/// `3m 20s`, `2h 5m`, `45s`.
fn human(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m {}s", s / 60, s % 60),
        _ => format!("{}h {}m", s / 3600, (s % 3600) / 60),
    }
}

async fn run_async(args: &OutboxArgs, client: Option<flowflex::Client>) -> Result<u8, Failure> {
    let outbox = open(args).await?;
    match &args.command {
        OutboxCommand::Status(status) => status::run(&outbox, status).await,
        OutboxCommand::Dead => {
            let dead = outbox.dead_letters().await.map_err(|e| failed(&e))?;
            if dead.is_empty() {
                out("no dead letters")?;
            }
            for d in dead {
                let key = d
                    .ordering_key
                    .map_or_else(String::new, |k| format!("\tholds back {k}"));
                out(&format!(
                    "{}\t{}\t{}\t{} attempts\t{}{key}",
                    d.id, d.event, d.idempotency_key, d.attempts, d.error
                ))?;
            }
            Ok(exit::OK)
        }
        OutboxCommand::Discard { id } => {
            let parsed: OutboxId = id
                .parse()
                .map_err(|_| usage(format!("{id:?} is not an outbox id (a number)")))?;
            outbox.discard(parsed).await.map_err(|e| failed(&e))?;
            out(&format!("discarded {parsed}"))?;
            Ok(exit::OK)
        }
        OutboxCommand::Requeue { id } => {
            let parsed: OutboxId = id
                .parse()
                .map_err(|_| usage(format!("{id:?} is not an outbox id (a number)")))?;
            outbox.requeue(parsed).await.map_err(|e| failed(&e))?;
            out(&format!("requeued {parsed}"))?;
            Ok(exit::OK)
        }
        OutboxCommand::Drain(drain) => {
            let client = client.ok_or_else(|| usage("drain needs a client"))?;
            let relay = outbox.relay(client).spawn();
            let started = Instant::now();
            let deadline = started + Duration::from_secs(drain.max_wait);
            let first = outbox.stats().await.map_err(|e| failed(&e))?;
            loop {
                let s = outbox.stats().await.map_err(|e| failed(&e))?;
                eprintln!(
                    "draining: {} pending, {} delivered, {} dead ({})",
                    s.pending,
                    s.delivered - first.delivered.min(s.delivered),
                    s.dead,
                    human(started.elapsed())
                );
                if s.pending == s.held_back {
                    relay.shutdown().await;
                    let held = if s.held_back > 0 {
                        format!(
                            ", {} held back by a dead letter of their ordering key",
                            s.held_back
                        )
                    } else {
                        String::new()
                    };
                    out(&format!(
                        "drained: {} delivered, {} dead{held}",
                        s.delivered - first.delivered.min(s.delivered),
                        s.dead
                    ))?;
                    return Ok(exit::OK);
                }
                if Instant::now() >= deadline {
                    relay.shutdown().await;
                    return Err(Failure::Other {
                        message: format!(
                            "{} events still pending after {}s",
                            s.pending, drain.max_wait
                        ),
                        hint: "run `flowflex outbox dead` and check FlowFlex is reachable; raise --max-wait for a long backlog".to_owned(),
                    });
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
}
