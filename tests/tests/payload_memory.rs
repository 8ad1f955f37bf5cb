//! Dropping a payload frees everything it held: no process-global state
//! outlives it.
//!
//! glibc keeps freed 64 KiB blocks in its heap for reuse (its mmap
//! threshold adapts upward once a mapped block is freed), so the resident
//! size after dropping `Vec` buffers says more about the allocator than
//! about us. The readers' bytes here are anonymous mappings instead
//! (memmap2): each is returned to the kernel the moment the reader holding
//! it is dropped, so what stays resident is what is still held. The test
//! has no libtest harness and runs in a fresh child process of its own, on
//! its main thread, so no other test's allocations move the figures; a
//! control workload (the same mappings, no payloads) gives the baseline.

use std::process::ExitCode;

use flowflex::Attachment;

const PAYLOADS: usize = 10_000;
const READER_BYTES: usize = 64 * 1024;
const CHILD: &str = "FLOWFLEX_PAYLOAD_MEMORY_CHILD";

fn mib(kib: u64) -> f64 {
    #[allow(clippy::cast_precision_loss)]
    let mib = kib as f64 / 1024.0;
    mib
}

/// 64 KiB of resident memory of its own: an anonymous mapping, written so
/// that every page is resident.
fn buffer(i: usize) -> memmap2::MmapMut {
    let mut map = memmap2::MmapMut::map_anon(READER_BYTES).expect("an anonymous mapping");
    map.fill(u8::try_from(i % 251).unwrap_or_default() | 1);
    map
}

/// Resident KiB before, while holding, and after dropping what `make` built.
fn measure<T>(mut make: impl FnMut(usize) -> T) -> Option<(u64, u64, u64)> {
    let before = tests::rss_kib()?;
    let held: Vec<T> = (0..PAYLOADS).map(&mut make).collect();
    let peak = tests::rss_kib()?;
    drop(held);
    Some((before, peak, tests::rss_kib()?))
}

fn payload(i: usize) -> flowflex::Payload {
    let reader = std::io::Cursor::new(buffer(i));
    let payload = flowflex::json!({
        "doc": Attachment::from_reader(reader, format!("doc-{i}.txt")),
        "n": i,
    });
    // Serializing a payload (to log it, say) registers nothing anywhere.
    let _ = serde_json::to_string(&payload);
    let _ = format!("{payload:?}");
    payload
}

// A harness-less test reports on stdout as libtest would.
#[allow(clippy::print_stdout)]
fn check() -> Result<(), String> {
    let name = "ten_thousand_unsent_payloads_holding_readers_free_everything_when_dropped";
    if tests::rss_kib().is_none() {
        println!("test {name} ... skipped: no /proc/self/status to read the resident size from");
        return Ok(());
    }
    if std::env::var_os(CHILD).is_none() {
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        let status = std::process::Command::new(exe)
            .env(CHILD, "1")
            .status()
            .map_err(|e| format!("the test cannot re-run itself: {e}"))?;
        return if status.success() {
            println!("test {name} ... ok");
            Ok(())
        } else {
            Err(format!("test {name} ... FAILED ({status})"))
        };
    }
    let unreadable = || "the resident size could not be read".to_owned();
    let control = measure(|i| (buffer(i), format!("doc-{i}.txt"))).ok_or_else(unreadable)?;
    let rounds: Vec<_> = (0..3)
        .map(|_| measure(payload).ok_or_else(unreadable))
        .collect::<Result<_, _>>()?;
    eprintln!(
        "control: {:.1} MiB before, {:.1} MiB holding {PAYLOADS} buffers, {:.1} MiB after",
        mib(control.0),
        mib(control.1),
        mib(control.2)
    );
    for (i, (before, peak, after)) in rounds.iter().enumerate() {
        eprintln!(
            "payloads, round {}: {:.1} MiB before, {:.1} MiB holding {PAYLOADS}, {:.1} MiB after dropping them",
            i + 1,
            mib(*before),
            mib(*peak),
            mib(*after)
        );
    }
    let first = rounds[0];
    // The payloads really held their readers (this test can fail)...
    if first.1 - first.0 < (PAYLOADS * READER_BYTES / 1024 / 2) as u64 {
        return Err("the payloads did not hold their readers".to_owned());
    }
    // ...dropping them gave every reader's bytes back: what stays is the
    // allocator's high-water mark of the payloads' small blocks (maps, names,
    // handles: about 1 KiB a payload), which the next round reuses...
    let residual = first.2.saturating_sub(control.2);
    if residual > 16 * 1024 {
        return Err(format!(
            "{:.1} MiB still held after dropping every payload",
            mib(residual)
        ));
    }
    // ...and nothing accumulates: each later round ends where the first did,
    // within a few MiB. A payload that kept its reader alive would leave
    // 625 MiB here.
    for (i, round) in rounds.iter().enumerate().skip(1) {
        let grew = round.2.saturating_sub(first.2);
        if grew > 3 * 1024 {
            return Err(format!(
                "round {} ended {:.1} MiB above the first: something outlives its payload",
                i + 1,
                mib(grew)
            ));
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    match check() {
        Ok(()) => ExitCode::SUCCESS,
        Err(why) => {
            eprintln!("{why}");
            ExitCode::FAILURE
        }
    }
}
