//! `flowflex check`: what FlowFlex would make of each file.
//!
//! Each file goes through exactly what a send does: the SDK's checks (name,
//! type, magic bytes, size), then an upload to an emulator inside this
//! process, which applies the service's rules. Nothing leaves the machine.

use std::io::Write as _;
use std::path::Path;

use flowflex::blocking::Client;
use flowflex::{Attachment, Error};
use flowflex_emulator::Emulator;

use crate::args::CheckArgs;
use crate::exit;
use crate::report::Failure;

pub(crate) fn run(args: &CheckArgs) -> Result<u8, Failure> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map_err(|e| cannot_start(&e))?;
    let mut out = std::io::stdout().lock();
    let mut refused = 0;
    for file in &args.files {
        // A fresh emulator per file: it keeps what it stores in memory.
        let emulator = runtime
            .block_on(Emulator::start())
            .map_err(|e| cannot_start(&e))?;
        let verdict = check(&emulator, file);
        runtime.block_on(emulator.shutdown());
        let line = match verdict {
            Ok(summary) => format!("{}: ok: {summary}", file.display()),
            Err(why) => {
                refused += 1;
                format!("{}: refused: {why}", file.display())
            }
        };
        writeln!(out, "{line}").map_err(|e| Failure::Other {
            message: format!("cannot write to stdout: {e}"),
            hint: "check where the output goes".to_owned(),
        })?;
    }
    Ok(if refused == 0 {
        exit::OK
    } else {
        exit::ATTACHMENT
    })
}

/// `Ok("PDF document (application/pdf), 596 B")` or `Err(why not)`.
fn check(emulator: &Emulator, file: &Path) -> Result<String, String> {
    let client = Client::builder()
        .api_key(emulator.api_key())
        .api_secret(emulator.api_secret())
        .integration_code(emulator.integration_code())
        .base_url(emulator.base_url())
        .max_retries(0)
        .build()
        .map_err(|e| e.to_string())?;
    let attachment = Attachment::from_path(file);
    match client.upload(&attachment) {
        Ok(_) => {
            let mime = attachment
                .mime()
                .map(|m| format!("{} ({m})", m.label()))
                .unwrap_or_default();
            let size = std::fs::metadata(file).map(|m| m.len()).unwrap_or(0);
            Ok(format!(
                "{mime}, {}, within the {} limit",
                human_size(size),
                human_size(flowflex::MAX_FILE_BYTES)
            ))
        }
        Err(Error::Attachment { message, .. }) => Err(message),
        Err(other) => Err(other.to_string()),
    }
}

fn cannot_start(e: &std::io::Error) -> Failure {
    Failure::Other {
        message: format!("cannot start the in-process emulator that checks files: {e}"),
        hint: "flowflex check needs a free port on 127.0.0.1".to_owned(),
    }
}

/// `596 B`, `1.2 MB`: decimal units, as the service's "25 MB".
fn human_size(bytes: u64) -> String {
    #[allow(clippy::cast_precision_loss)] // One decimal is shown.
    let value = bytes as f64;
    match bytes {
        0..1_000 => format!("{bytes} B"),
        1_000..1_000_000 => format!("{:.1} KB", value / 1e3),
        1_000_000..1_000_000_000 => format!("{:.1} MB", value / 1e6),
        _ => format!("{:.1} GB", value / 1e9),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_like_the_service_limit() {
        assert_eq!(human_size(596), "596 B");
        assert_eq!(human_size(12_300), "12.3 KB");
        assert_eq!(human_size(flowflex::MAX_FILE_BYTES), "26.2 MB");
    }
}
