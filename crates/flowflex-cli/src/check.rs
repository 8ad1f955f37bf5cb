//! `flowflex check`: what FlowFlex would make of each file.
//!
//! Each file goes through exactly the checks a send makes before its first
//! request (name, type, magic bytes, size). Nothing is sent.

use std::io::Write as _;
use std::path::Path;

use flowflex::{Attachment, Error};

use crate::args::CheckArgs;
use crate::exit;
use crate::report::Failure;
use crate::terms::cli_terms;

pub(crate) fn run(args: &CheckArgs) -> Result<u8, Failure> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::Other {
            message: format!("cannot start the async runtime: {e}"),
            hint: "check the process's thread and file limits".to_owned(),
        })?;
    let mut out = std::io::stdout().lock();
    let mut refused = 0;
    for file in &args.files {
        let line = match runtime.block_on(check(file)) {
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

/// `Ok("PDF document (application/pdf), 596 bytes, ...")` or `Err(why not)`.
async fn check(file: &Path) -> Result<String, String> {
    match Attachment::from_path(file)
        .check(flowflex::MAX_FILE_BYTES)
        .await
    {
        Ok(info) => Ok(format!(
            "{} ({}), {}, within the {} limit",
            info.mime.label(),
            info.mime,
            human_size(info.size),
            human_size(flowflex::MAX_FILE_BYTES)
        )),
        Err(Error::Attachment { message, .. }) => Err(cli_terms(&message)),
        Err(other) => Err(cli_terms(&other.to_string())),
    }
}

/// `596 bytes`, `25 MiB (26,214,400 bytes)`: as the SDK's messages say it.
fn human_size(bytes: u64) -> String {
    flowflex_core::size::describe(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_like_the_service_limit() {
        assert_eq!(human_size(596), "596 bytes");
        assert_eq!(human_size(12_300), "12.0 KiB (12,300 bytes)");
        assert_eq!(
            human_size(flowflex::MAX_FILE_BYTES),
            "25 MiB (26,214,400 bytes)"
        );
    }
}
