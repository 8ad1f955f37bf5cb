//! The command line, as clap parses it.

use std::net::IpAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use flowflex_emulator::{DEFAULT_API_KEY, DEFAULT_INTEGRATION_CODE, DEFAULT_MAX_FILE_BYTES};

use crate::payload::PayloadPath;

/// Send FlowFlex events with files, check files, run a local FlowFlex.
#[derive(Debug, Parser)]
#[command(
    name = "flowflex",
    version,
    about,
    propagate_version = true,
    after_help = crate::exit::HELP
)]
pub struct Cli {
    /// Log what the SDK does (uploads, requests, retries) to stderr. Never
    /// logs a secret. RUST_LOG, when set, chooses what is logged.
    #[arg(long, short, global = true)]
    pub verbose: bool,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Send an event; files given with --attach are uploaded first and their
    /// asset ids put in the payload. Prints the result as JSON.
    Send(SendArgs),
    /// Run a local FlowFlex (API and presigned storage) until Ctrl-C; prints
    /// its URL and the settings to reach it.
    Emulator(EmulatorArgs),
    /// Tell what MIME type each file is, and whether FlowFlex would accept it
    /// (type, content, size) and why not. Sends nothing anywhere.
    Check(CheckArgs),
    /// Inspect a flowflex-outbox store (SQLite or PostgreSQL), requeue its
    /// dead letters, or drain it.
    Outbox(OutboxArgs),
}

/// `flowflex outbox`.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  flowflex outbox status --sqlite outbox.db
  flowflex outbox status --watch --postgres postgres://app@db/app
  flowflex outbox dead --postgres postgres://app@db/app
  flowflex outbox requeue 42 --sqlite outbox.db
  flowflex outbox discard 43 --sqlite outbox.db
  flowflex outbox drain --sqlite outbox.db   (reads FLOWFLEX_API_KEY, ...)")]
pub struct OutboxArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: OutboxCommand,

    /// Which outbox.
    #[command(flatten)]
    pub store: OutboxStore,
}

/// Where the outbox is: one of the two.
#[derive(Debug, Args)]
pub struct OutboxStore {
    /// A SQLite outbox file.
    #[arg(long, global = true, value_name = "PATH")]
    pub sqlite: Option<PathBuf>,

    /// A PostgreSQL outbox. Prefer the environment variable: a URL may hold
    /// a password. Never printed.
    #[arg(
        long,
        global = true,
        env = "FLOWFLEX_OUTBOX_POSTGRES",
        hide_env_values = true,
        value_name = "URL"
    )]
    pub postgres: Option<String>,

    /// The PostgreSQL schema that holds the outbox, when the service gives
    /// it one (`OutboxBuilder::schema`).
    #[arg(long, global = true, value_name = "NAME")]
    pub schema: Option<String>,
}

/// The `flowflex outbox` subcommands.
#[derive(Debug, Subcommand)]
pub enum OutboxCommand {
    /// Pending (with bytes and the oldest's age), delivered and dead
    /// counts, and the live relays; says so when events are pending and
    /// no relay is alive, and since when.
    Status(StatusArgs),
    /// The dead letters, one per line: id, event, key, attempts, error.
    Dead,
    /// Put a dead letter back in the queue.
    Requeue {
        /// The dead letter's id, as `dead` prints it.
        id: String,
    },
    /// Delete a dead letter for good (the later events of its ordering key
    /// go on).
    Discard {
        /// The dead letter's id, as `dead` prints it.
        id: String,
    },
    /// Deliver everything pending, printing progress on stderr, then stop.
    Drain(DrainArgs),
}

/// `flowflex outbox status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Redraw every second (pending, dead, oldest age, live relays,
    /// delivered per second) until Ctrl-C.
    #[arg(long)]
    pub watch: bool,

    /// One JSON object, for scripts (with --watch: one per line, every
    /// second).
    #[arg(long)]
    pub json: bool,
}

/// `flowflex outbox drain`.
#[derive(Debug, Args)]
pub struct DrainArgs {
    /// Give up after this many seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 300)]
    pub max_wait: u64,

    /// Where to deliver, and with which credentials.
    #[command(flatten)]
    pub config: ConfigArgs,
}

/// `flowflex send`.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  flowflex send order.placed --data '{\"order_id\": \"ord_42\"}'
  flowflex send order.shipped --attach invoice=invoice.pdf --attach 'gallery[]=a.jpg' --attach 'gallery[]=b.jpg'
  flowflex send invoice.created --data @payload.json --attach order.receipt=receipt.pdf --idempotency-key inv-42

A PATH is where the file's asset id goes in the payload, as the flow reads it:
`invoice` is {{trigger.invoice}}, `order.receipt` is {{trigger.order.receipt}},
`gallery[]` appends to the list `gallery` ({{trigger.gallery[0]}}, ...).")]
pub struct SendArgs {
    /// The event name, e.g. order.shipped.
    pub event: String,

    /// The payload: a JSON object, or @FILE to read one from a file (@- reads
    /// stdin). Default: {}.
    #[arg(long, value_name = "JSON|@FILE")]
    pub data: Option<String>,

    /// Attach FILE at payload PATH (invoice, order.receipt, gallery[]).
    /// Repeat for more files. Add ;type=MIME for a file whose name does not
    /// tell its type, ;filename=NAME to upload it under another name
    /// (scan=./scan-7f3a;type=image/png;filename=scan.png).
    #[arg(long = "attach", value_name = "PATH=FILE[;type=MIME][;filename=NAME]")]
    pub attach: Vec<AttachSpec>,

    /// The idempotency key: FlowFlex fires the flow once per key. Default: a
    /// fresh UUID, printed in the result.
    #[arg(long, value_name = "KEY")]
    pub idempotency_key: Option<String>,

    /// Where to send, and with which credentials.
    #[command(flatten)]
    pub config: ConfigArgs,
}

/// Where to send and with which credentials; each flag falls back to its
/// environment variable.
#[derive(Debug, Args)]
pub struct ConfigArgs {
    /// The custom integration's API key (cik_...).
    #[arg(long, env = "FLOWFLEX_API_KEY", value_name = "KEY")]
    pub api_key: Option<String>,

    /// The custom integration's API secret. Prefer the environment variable:
    /// a flag is visible to other users of the machine. Never printed.
    #[arg(
        long,
        env = "FLOWFLEX_API_SECRET",
        hide_env_values = true,
        value_name = "SECRET"
    )]
    pub api_secret: Option<String>,

    /// The integration code: the CODE in /v1/events/CODE.
    #[arg(long, env = "FLOWFLEX_INTEGRATION_CODE", value_name = "CODE")]
    pub integration_code: Option<String>,

    /// The FlowFlex host; https, or http on loopback (an emulator).
    #[arg(
        long,
        env = "FLOWFLEX_BASE_URL",
        value_name = "URL",
        default_value = flowflex::DEFAULT_BASE_URL
    )]
    pub base_url: String,

    /// The timeout of each request, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 30)]
    pub timeout: u64,
}

/// `flowflex emulator`.
#[derive(Debug, Args)]
#[command(after_help = "\
The emulator keeps everything in memory and forgets it when stopped. Point
`flowflex send` or your code at it with the printed FLOWFLEX_* values and the
API secret you chose. Open the printed inspector URL to see each event and
its files as they arrive; tests in any language read them from the control
API under /_emulator/ (docs/emulator.md).")]
pub struct EmulatorArgs {
    /// The address to listen on.
    #[arg(long, env = "FLOWFLEX_EMULATOR_HOST", default_value = "127.0.0.1")]
    pub host: IpAddr,

    /// The port to listen on (0 picks a free one).
    #[arg(long, env = "FLOWFLEX_EMULATOR_PORT", default_value_t = 0)]
    pub port: u16,

    /// The API key to accept.
    #[arg(long, env = "FLOWFLEX_API_KEY", default_value = DEFAULT_API_KEY)]
    pub api_key: String,

    /// The API secret to accept (never printed). Default: emulator-secret.
    #[arg(long, env = "FLOWFLEX_API_SECRET", hide_env_values = true)]
    pub api_secret: Option<String>,

    /// The integration code to accept events for.
    #[arg(long, env = "FLOWFLEX_INTEGRATION_CODE", default_value = DEFAULT_INTEGRATION_CODE)]
    pub integration_code: String,

    /// The largest file storage accepts, in bytes.
    #[arg(long, env = "FLOWFLEX_MAX_FILE_BYTES", default_value_t = DEFAULT_MAX_FILE_BYTES)]
    pub max_file_bytes: u64,

    /// Append each event the emulator accepts to FILE, one JSON object a line
    /// (event, idempotency key, payload, and the files its asset ids name).
    #[arg(long, value_name = "FILE")]
    pub record: Option<PathBuf>,

    /// Print nothing on stderr but errors: no line per upload and per event.
    #[arg(long, short)]
    pub quiet: bool,

    /// Serve the inspector page (/) and the /_emulator/ control API on a
    /// non-loopback --host too; on loopback they are always served.
    #[arg(long)]
    pub inspector: bool,
}

/// `flowflex check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The files to check.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
}

/// One `--attach PATH=FILE`, with `;type=MIME` (as curl's `-F`) for a file
/// whose name does not tell its type, and `;filename=NAME` to upload it
/// under another name, in either order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachSpec {
    /// Where in the payload the asset id goes.
    pub path: PayloadPath,
    /// The file to upload.
    pub file: PathBuf,
    /// The MIME type, when given with `;type=`.
    pub mime: Option<flowflex::Mime>,
    /// The name FlowFlex stores the file under, when given with
    /// `;filename=` (default: the file's own name).
    pub filename: Option<String>,
}

impl std::str::FromStr for AttachSpec {
    type Err = String;

    fn from_str(spec: &str) -> Result<Self, String> {
        let (path, mut file) = spec.split_once('=').ok_or_else(|| {
            "expected PATH=FILE, e.g. invoice=./invoice.pdf or 'gallery[]=a.jpg'".to_owned()
        })?;
        let mut mime = None;
        let mut filename = None;
        // Parameters are taken from the end, so a file name may hold `;`.
        while let Some((head, param)) = file.rsplit_once(';') {
            if let Some(essence) = param.strip_prefix("type=") {
                if mime.is_some() {
                    return Err("`;type=` is given twice: give it once".to_owned());
                }
                mime = Some(essence.parse::<flowflex::Mime>().map_err(|e| {
                    format!(
                        "`;type={essence}`: {}",
                        e.to_string().trim_start_matches("invalid configuration: ")
                    )
                })?);
            } else if let Some(name) = param.strip_prefix("filename=") {
                if filename.is_some() {
                    return Err("`;filename=` is given twice: give it once".to_owned());
                }
                if name.trim().is_empty() {
                    return Err(
                        "`;filename=` is empty: give the name to store the file under, e.g. ;filename=invoice.pdf"
                            .to_owned(),
                    );
                }
                filename = Some(name.to_owned());
            } else {
                break;
            }
            file = head;
        }
        if file.is_empty() {
            return Err(format!("no file after `{path}=`: give PATH=FILE"));
        }
        Ok(AttachSpec {
            path: path.parse()?,
            file: PathBuf::from(file),
            mime,
            filename,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory as _;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn attach_specs() {
        let spec: AttachSpec = "gallery[]=photos/a=b.jpg".parse().unwrap();
        assert_eq!(spec.path.to_string(), "gallery[]");
        assert_eq!(spec.file, PathBuf::from("photos/a=b.jpg"));
        assert_eq!(spec.mime, None);
        let typed: AttachSpec = "scan=./scan-7f3a;type=image/png".parse().unwrap();
        assert_eq!(typed.file, PathBuf::from("./scan-7f3a"));
        assert_eq!(typed.mime, Some(flowflex::Mime::Png));
        assert_eq!(typed.filename, None);
        for both in [
            "scan=./scan-7f3a;type=image/png;filename=scan.png",
            "scan=./scan-7f3a;filename=scan.png;type=image/png",
        ] {
            let spec: AttachSpec = both.parse().unwrap();
            assert_eq!(spec.file, PathBuf::from("./scan-7f3a"), "{both}");
            assert_eq!(spec.mime, Some(flowflex::Mime::Png), "{both}");
            assert_eq!(spec.filename.as_deref(), Some("scan.png"), "{both}");
        }
        let odd: AttachSpec = "a=x;y.pdf;filename=z.pdf".parse().unwrap();
        assert_eq!(odd.file, PathBuf::from("x;y.pdf"));
        assert_eq!(odd.filename.as_deref(), Some("z.pdf"));
        for (bad, says) in [
            ("a=x;filename=", "`;filename=` is empty"),
            ("a=x;type=image/png;type=image/png", "given twice"),
            ("a=x;filename=a;filename=b", "given twice"),
            ("a=;filename=b.pdf", "no file after `a=`"),
        ] {
            let err = bad.parse::<AttachSpec>().unwrap_err();
            assert!(err.contains(says), "{bad}: {err}");
        }
        let err = "scan=./scan;type=image/gif"
            .parse::<AttachSpec>()
            .unwrap_err();
        assert!(
            err.contains("image/gif") && err.contains("image/png"),
            "{err}"
        );
        for bad in [
            "invoice.pdf",
            "invoice=",
            "=a.pdf",
            "a..b=x.pdf",
            "x[]y=a.pdf",
        ] {
            assert!(bad.parse::<AttachSpec>().is_err(), "{bad}");
        }
    }
}
