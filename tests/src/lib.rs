//! Shared fixtures for the integration tests: an emulator with a client
//! pointed at it, and small files of every accepted type.

use std::path::{Path, PathBuf};
use std::time::Duration;

use flowflex::{Client, ClientBuilder, Mime, RetryConfig};
use flowflex_emulator::Emulator;
use sha2::Digest as _;

/// An emulator on loopback and a client configured for it.
#[derive(Debug)]
pub struct Harness {
    /// The emulator; inspect what it received.
    pub emulator: Emulator,
    /// A client with fast, deterministic retries.
    pub client: Client,
    /// A scratch directory for files, removed on drop.
    pub dir: tempfile::TempDir,
}

/// A client builder for `emulator`, with quick retries (seeded jitter) so
/// fault tests run fast.
pub fn builder_for(emulator: &Emulator) -> ClientBuilder {
    Client::builder()
        .api_key(emulator.api_key())
        .api_secret(emulator.api_secret())
        .integration_code(emulator.integration_code())
        .base_url(emulator.base_url())
        .timeout(Duration::from_secs(10))
        .retry(
            RetryConfig::default()
                .initial_backoff(Duration::from_millis(10))
                .max_backoff(Duration::from_millis(50))
                .max_retry_after(Duration::from_secs(2))
                .jitter_seed(1),
        )
}

impl Harness {
    /// Starts an emulator with default settings.
    pub async fn start() -> Harness {
        Self::with(|b| b).await
    }

    /// Starts an emulator; `configure` adjusts the client.
    pub async fn with(configure: impl FnOnce(ClientBuilder) -> ClientBuilder) -> Harness {
        let emulator = Emulator::start().await.expect("emulator starts");
        let client = configure(builder_for(&emulator))
            .build()
            .expect("client builds");
        Harness {
            emulator,
            client,
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    /// Writes `bytes` to `name` in the scratch directory.
    pub fn file(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, bytes).expect("write fixture");
        path
    }

    /// Sends `{key: attachment}` and returns the asset the emulator stored
    /// for it.
    pub async fn send_one(
        &self,
        key: &str,
        attachment: flowflex::Attachment,
    ) -> flowflex::Result<flowflex_emulator::StoredAsset> {
        let sent = self
            .client
            .send_event("e", flowflex::json!({ key: attachment }))
            .await?;
        let id = sent.uploaded_assets[key].as_str();
        Ok(self
            .emulator
            .asset(id)
            .expect("the emulator holds the asset"))
    }

    /// Writes a valid file of `mime`, `extra` bytes long after its signature.
    pub fn sample_file(&self, name: &str, mime: Mime, extra: usize) -> PathBuf {
        self.file(name, &sample(mime, extra))
    }
}

/// The smallest valid-looking content of each type, padded with `extra`
/// pseudo-random bytes (different per call so files differ).
pub fn sample(mime: Mime, extra: usize) -> Vec<u8> {
    let mut v: Vec<u8> = match mime {
        Mime::Pdf => b"%PDF-1.7\n%\xE2\xE3\xCF\xD3\n".to_vec(),
        Mime::Doc | Mime::Xls | Mime::Ppt => vec![0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1],
        Mime::Docx | Mime::Xlsx | Mime::Pptx => {
            let dir: &[u8] = match mime {
                Mime::Docx => b"word/document.xml",
                Mime::Xlsx => b"xl/workbook.xml",
                _ => b"ppt/presentation.xml",
            };
            let mut v = b"PK\x03\x04".to_vec();
            v.resize(0x1E, 0);
            v.extend_from_slice(dir);
            v
        }
        Mime::Txt => b"hello from flowflex-rs\n".to_vec(),
        Mime::Jpeg => vec![0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10, b'J', b'F', b'I', b'F', 0],
        Mime::Png => b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec(),
        Mime::Mp4 => b"\0\0\0\x20ftypisom\0\0\x02\0".to_vec(),
        Mime::ThreeGpp => b"\0\0\0\x14ftyp3gp4\0\0\0\0".to_vec(),
        Mime::Aac => vec![0xFF, 0xF1, 0x50, 0x80],
        Mime::Amr => b"#!AMR\n\x3c\0\0\0\0\0".to_vec(),
        Mime::Mpeg => b"ID3\x04\0\0\0\0\0\0".to_vec(),
        Mime::Ogg => b"OggS\0\x02\0\0\0\0\0\0\0\0".to_vec(),
        _ => unreachable!("every accepted type has a sample"),
    };
    let filler = if mime == Mime::Txt {
        b'a'..=b'z'
    } else {
        0..=255
    };
    let mut rng = fastrand_seed(extra as u64 ^ v.len() as u64);
    v.extend((0..extra).map(|_| {
        rng = rng
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let span = u64::from(filler.end() - filler.start()) + 1;
        filler.start() + ((rng >> 33) % span) as u8
    }));
    v
}

fn fastrand_seed(seed: u64) -> u64 {
    seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1
}

/// Lowercase hex SHA-256, as the emulator reports stored assets.
pub fn sha256(bytes: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(bytes))
}

/// SHA-256 of a file's content.
pub fn sha256_file(path: &Path) -> String {
    sha256(&std::fs::read(path).expect("read fixture"))
}

/// How many recorded events carry this idempotency key.
pub fn events_with_key(emulator: &Emulator, key: &str) -> usize {
    emulator
        .events()
        .iter()
        .filter(|e| e.idempotency_key.as_deref() == Some(key))
        .count()
}

/// How long a test waits for something that must happen before it calls
/// it a hang: generous, so that a loaded machine never trips it. Tests
/// assert what happened, never how fast; speed is for the benchmarks.
pub const HANG: Duration = Duration::from_secs(60);

/// Waits for `condition`, polling every 10 ms; panics naming `what` if it
/// does not hold within [`HANG`].
pub async fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + HANG;
    while !condition() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what} did not happen within {HANG:?}"
        );
        // Not a wait for the condition: the pause between two looks at it.
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Runs `future` to its end; panics naming `what` if it takes longer than
/// [`HANG`] (a hang, not a slow machine).
pub async fn before_hang<F: std::future::Future>(what: &str, future: F) -> F::Output {
    match tokio::time::timeout(HANG, future).await {
        Ok(output) => output,
        Err(_) => panic!("{what} hung: not done within {HANG:?}"),
    }
}

/// An emulator serving from its own thread and Tokio runtime, so that the
/// test's runtime holds only the client's tasks (and a test can count them).
/// Stops when dropped.
#[derive(Debug)]
pub struct DetachedEmulator {
    /// The emulator; its handle works from any runtime.
    pub emulator: Emulator,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl DetachedEmulator {
    /// Starts the emulator on a fresh one-worker runtime in a new thread.
    pub fn start() -> DetachedEmulator {
        let (ready, started) = std::sync::mpsc::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .expect("emulator runtime");
            runtime.block_on(async move {
                let emulator = Emulator::start().await.expect("emulator starts");
                ready.send(emulator.clone()).expect("test is waiting");
                let _ = stopped.await;
                emulator.shutdown().await;
            });
        });
        let emulator = started.recv().expect("emulator thread started");
        DetachedEmulator {
            emulator,
            stop: Some(stop),
            thread: Some(thread),
        }
    }
}

impl Drop for DetachedEmulator {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The process's peak resident memory (`VmHWM` in `/proc/self/status`), in
/// KiB; `None` where there is no procfs.
pub fn peak_rss_kib() -> Option<u64> {
    proc_status_kib("VmHWM:")
}

/// The process's resident memory now (`VmRSS`), in KiB.
pub fn rss_kib() -> Option<u64> {
    proc_status_kib("VmRSS:")
}

fn proc_status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

/// Open file descriptors of this process (sockets included); `None` where
/// there is no procfs.
pub fn open_fds() -> Option<usize> {
    Some(std::fs::read_dir("/proc/self/fd").ok()?.count())
}

/// The longest one request can take under `retry` and `timeout`: every
/// attempt times out, and every wait is the longest the policy allows
/// (`max_backoff`, or `max_retry_after` when the server asks for longer).
pub fn request_bound(
    timeout: Duration,
    max_retries: u32,
    max_backoff: Duration,
    max_retry_after: Duration,
) -> Duration {
    timeout * (max_retries + 1) + max_backoff.max(max_retry_after) * max_retries
}

/// `http://127.0.0.1:PORT` where nothing listens: a port the OS just handed
/// out and that was closed again (a fixed port such as 1 may be in use).
pub fn closed_port_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    let addr = listener.local_addr().expect("its address");
    drop(listener);
    format!("http://{addr}")
}
