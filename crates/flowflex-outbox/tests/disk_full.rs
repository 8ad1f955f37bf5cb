//! A full disk, for real: a SQLite outbox on a small tmpfs that the test
//! mounts (as root) and fills. While it is full, enqueues fail with
//! `Error::DiskFull` and nothing half-written stays; once there is room
//! again, enqueues and deliveries resume by themselves (no restart), and
//! every event accepted before, during and after is delivered exactly once.
//!
//! Where mounting is refused (not root, no tmpfs) the test prints one
//! "skipped" line, unless `FLOWFLEX_REQUIRE_TMPFS=1` (CI) makes that a
//! failure.
#![allow(clippy::print_stdout)]

mod common;

use std::collections::HashMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::{client, pdf, until};
use flowflex::Attachment;
use flowflex_emulator::{Emulator, Endpoint};
use flowflex_outbox::{Error, Outbox};

/// A tmpfs mounted on a fresh directory; unmounted when dropped.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Result<Tmpfs, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .output()
            .map_err(|e| format!("cannot run mount: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "mount -t tmpfs refused: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(Tmpfs { dir })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

/// Writes `path` until the disk refuses another byte.
fn fill(path: &Path) {
    let mut file = std::fs::File::create(path).expect("filler");
    let block = vec![0x5a_u8; 64 * 1024];
    for size in [block.len(), 4096, 512, 1] {
        loop {
            match file
                .write_all(&block[..size])
                .and_then(|()| file.sync_all())
            {
                Ok(()) => {}
                Err(e) => {
                    assert_eq!(e.raw_os_error(), Some(28), "ENOSPC, not {e}");
                    break;
                }
            }
        }
    }
}

async fn enqueue(outbox: &Outbox, key: &str, file: bool) -> Result<(), Error> {
    let payload = if file {
        let doc = Attachment::from_bytes(pdf(key.len() as u64, 50_000), "invoice.pdf");
        flowflex::json!({"key": key, "invoice": doc})
    } else {
        flowflex::json!({"key": key})
    };
    outbox
        .enqueue("disk.test", payload)
        .idempotency_key(key)
        .await
        .map(drop)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_fails_enqueues_with_disk_full_and_everything_resumes_once_there_is_room() {
    let fs = match Tmpfs::mount("16m") {
        Ok(fs) => fs,
        Err(why) => {
            if std::env::var("FLOWFLEX_REQUIRE_TMPFS").as_deref() == Ok("1") {
                panic!("FLOWFLEX_REQUIRE_TMPFS=1 but {why}");
            }
            println!("skipped: {why} (the full-disk test mounts a tmpfs as root)");
            return;
        }
    };
    let emulator = Emulator::start().await.expect("emulator");
    let path = fs.path().join("outbox.db");
    let outbox = Outbox::builder()
        .initial_backoff(Duration::from_millis(10))
        .max_backoff(Duration::from_millis(50))
        .open_sqlite(&path)
        .await
        .expect("outbox");
    let relay = outbox
        .relay(client(&emulator))
        .poll_interval(Duration::from_millis(10))
        .name("disk")
        .spawn();
    let mut accepted: Vec<String> = Vec::new();
    for i in 0..3 {
        let key = format!("before-{i}");
        enqueue(&outbox, &key, true).await.expect("room");
        accepted.push(key);
    }
    until("the first events", 30, || async {
        outbox.stats().await.expect("stats").delivered == 3
    })
    .await;

    let filler: PathBuf = fs.path().join("filler");
    fill(&filler);

    // A file cannot be copied in.
    let err = enqueue(&outbox, "full-file", true)
        .await
        .expect_err("no room for a file");
    assert!(matches!(err, Error::DiskFull { .. }), "{err:?}");
    assert!(err.to_string().contains("disk is full"), "{err}");
    // Events without files go in until a commit needs room it cannot get.
    let mut refused = None;
    for i in 0..5000 {
        let key = format!("during-{i}");
        match enqueue(&outbox, &key, false).await {
            Ok(()) => accepted.push(key),
            Err(e) => {
                refused = Some(e);
                break;
            }
        }
    }
    let refused = refused.expect("a commit refused for lack of space");
    assert!(matches!(refused, Error::DiskFull { .. }), "{refused:?}");
    println!(
        "the disk filled after {} events; refused with: {refused}",
        accepted.len() - 3
    );
    // Still full: still refused, still typed.
    let again = enqueue(&outbox, "still-full", false)
        .await
        .expect_err("still full");
    assert!(matches!(again, Error::DiskFull { .. }), "{again:?}");

    // Room again: no restart, no reopen.
    std::fs::remove_file(&filler).expect("filler removed");
    for i in 0..3 {
        let key = format!("after-{i}");
        enqueue(&outbox, &key, i % 2 == 0)
            .await
            .expect("enqueues resume once there is room");
        accepted.push(key);
    }
    let expected = accepted.len() as u64;
    until("every accepted event", 60, || async {
        let stats = outbox.stats().await.expect("stats");
        stats.pending == 0 && stats.delivered == expected
    })
    .await;
    relay.shutdown().await;

    let mut posts: HashMap<String, usize> = HashMap::new();
    for r in emulator.requests() {
        if r.endpoint == Endpoint::Events {
            if let Some(key) = r.header("x-idempotency-key") {
                *posts.entry(key.to_owned()).or_insert(0) += 1;
            }
        }
    }
    for key in &accepted {
        assert_eq!(posts.get(key), Some(&1), "{key} posted once");
    }
    assert_eq!(posts.len(), accepted.len(), "nothing refused was posted");
    // Nothing of the refused file stayed in the spool.
    let spool = fs.path().join("outbox.db.spool");
    let left: Vec<_> = std::fs::read_dir(&spool)
        .expect("spool")
        .filter_map(Result::ok)
        .map(|e| e.file_name())
        .collect();
    assert!(left.is_empty(), "spool files left: {left:?}");
    drop(outbox);
}
