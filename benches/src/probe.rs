//! The `probe` subcommand: one send in a fresh process, and its peak memory.

use std::path::Path;

use flowflex::Attachment;
use serde_json::json;

use crate::BoxError;

/// Sends one event, with `file` attached if given, and prints
/// `{"hwm_kib": .., "rss_kib": ..}` read from `/proc/self/status`.
pub(crate) fn run(base_url: &str, file: Option<&Path>) -> Result<(), BoxError> {
    // The runtime a service would use: multi-threaded, one worker per core.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let client = crate::server::client(base_url)?;
        let payload = match file {
            Some(path) => {
                flowflex::json!({"order_id": "ord_1", "invoice": Attachment::from_path(path)})
            }
            None => flowflex::json!({"order_id": "ord_1", "invoice": null}),
        };
        client.send_event("bench.memory", payload).await?;
        Ok::<_, BoxError>(())
    })?;
    let memory = Memory::current()?;
    println!(
        "{}",
        json!({"hwm_kib": memory.hwm_kib, "rss_kib": memory.rss_kib})
    );
    Ok(())
}

/// A process's resident memory, from `/proc/self/status`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Memory {
    /// Peak resident set size (`VmHWM`).
    pub(crate) hwm_kib: u64,
    /// Resident set size now (`VmRSS`).
    pub(crate) rss_kib: u64,
}

impl Memory {
    pub(crate) fn current() -> Result<Memory, BoxError> {
        let status = std::fs::read_to_string("/proc/self/status").map_err(|e| {
            format!("cannot read /proc/self/status ({e}): memory is measured on Linux only")
        })?;
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
                .ok_or_else(|| format!("no {name} in /proc/self/status"))
        };
        Ok(Memory {
            hwm_kib: field("VmHWM:")?,
            rss_kib: field("VmRSS:")?,
        })
    }
}
