//! Everything the emulator remembers, behind one lock.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use http::StatusCode;
use tokio::sync::watch;

use crate::clock::Clock;
use crate::fault::{FaultQueue, Injection};
use crate::model::{Endpoint, RecordedEvent, RecordedRequest, StoredAsset};

/// Locks a mutex, carrying on after a panic elsewhere: the state stays usable
/// for the assertions that follow a failed test.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Fixed at start.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) api_key: String,
    pub(crate) api_secret: String,
    pub(crate) integration_code: String,
    pub(crate) max_file_bytes: u64,
    pub(crate) base_url: String,
    /// Whether stored files keep their bytes (or only their size and hash).
    pub(crate) retain_bytes: bool,
    /// Whether the inspector page and the `/_emulator/` control API answer:
    /// on a loopback bind, or when asked for.
    pub(crate) inspector: bool,
    /// Whether the emulator listens on a loopback address only, where the
    /// inspector also checks `Host` (against DNS rebinding).
    pub(crate) loopback: bool,
}

/// State shared by the server and every [`Emulator`](crate::Emulator) handle.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) config: Config,
    pub(crate) clock: Clock,
    state: Mutex<State>,
    /// Bumped after every change a watcher may want to see (an event, an
    /// upload, a fault added, fired or cleared, the clock, a reset): what the
    /// control API's waits and the inspector's live stream wait on.
    changes: watch::Sender<u64>,
    /// Turns true when the server stops, so that waits and streams end.
    stopped: watch::Receiver<bool>,
    connections_opened: AtomicU64,
    connections_open: AtomicU64,
    peak_connections_open: AtomicU64,
    /// Requests being handled now and the most seen at once, per endpoint.
    in_flight: Mutex<[(u64, u64); 4]>,
}

#[derive(Debug, Default)]
pub(crate) struct State {
    pub(crate) assets: HashMap<String, Asset>,
    asset_order: Vec<String>,
    pub(crate) events: Vec<RecordedEvent>,
    requests: Vec<RecordedRequest>,
    /// Sequence number of `requests[0]`, so that answers to requests recorded
    /// before `clear_requests` do not land on later entries.
    first_request: u64,
    pub(crate) replays: HashMap<(String, String), Replay>,
    pub(crate) faults: FaultQueue,
    /// How many resets happened, so that a watcher can tell a reset from
    /// new events.
    pub(crate) resets: u64,
}

/// An asset as the server holds it, with its secrets.
#[derive(Debug, Clone)]
pub(crate) struct Asset {
    pub(crate) id: String,
    pub(crate) filename: String,
    pub(crate) mime: String,
    pub(crate) declared_size: Option<u64>,
    pub(crate) token: String,
    pub(crate) token_issued_at: Duration,
    pub(crate) upload: Option<Upload>,
    pub(crate) put_count: u32,
}

#[derive(Debug, Clone)]
pub(crate) struct Upload {
    /// Empty when the emulator does not retain bytes.
    pub(crate) bytes: Bytes,
    pub(crate) size: u64,
    pub(crate) sha256: String,
    pub(crate) at: Duration,
}

/// The first successful answer to an idempotency key.
#[derive(Debug, Clone)]
pub(crate) struct Replay {
    pub(crate) status: StatusCode,
    pub(crate) body: Bytes,
}

impl Asset {
    fn snapshot(&self, clock: &Clock) -> StoredAsset {
        let (uploaded, size, bytes, sha256) = match &self.upload {
            Some(upload) => (
                true,
                upload.size,
                upload.bytes.clone(),
                upload.sha256.clone(),
            ),
            None => (false, 0, Bytes::new(), String::new()),
        };
        StoredAsset {
            asset_id: self.id.clone(),
            filename: self.filename.clone(),
            mime: self.mime.clone(),
            declared_size: self.declared_size,
            uploaded,
            size,
            sha256,
            bytes,
            put_count: self.put_count,
            created_at: clock.wall(self.token_issued_at),
            expires_at: self
                .upload
                .as_ref()
                .map(|upload| clock.wall(upload.at.saturating_add(crate::ASSET_TTL))),
        }
    }
}

impl State {
    pub(crate) fn insert_asset(&mut self, asset: Asset) {
        self.asset_order.push(asset.id.clone());
        self.assets.insert(asset.id.clone(), asset);
    }
}

impl Shared {
    pub(crate) fn new(config: Config, stopped: watch::Receiver<bool>) -> Self {
        Shared {
            config,
            clock: Clock::new(),
            state: Mutex::new(State::default()),
            changes: watch::Sender::new(0),
            stopped,
            connections_opened: AtomicU64::new(0),
            connections_open: AtomicU64::new(0),
            peak_connections_open: AtomicU64::new(0),
            in_flight: Mutex::new([(0, 0); 4]),
        }
    }

    pub(crate) fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    pub(crate) fn events(&self) -> Vec<RecordedEvent> {
        self.state().events.clone()
    }

    pub(crate) fn assets(&self) -> Vec<StoredAsset> {
        let state = self.state();
        state
            .asset_order
            .iter()
            .filter_map(|id| state.assets.get(id))
            .map(|asset| asset.snapshot(&self.clock))
            .collect()
    }

    pub(crate) fn asset(&self, asset_id: &str) -> Option<StoredAsset> {
        let state = self.state();
        state
            .assets
            .get(asset_id)
            .map(|asset| asset.snapshot(&self.clock))
    }

    /// Tells watchers that something changed.
    pub(crate) fn changed(&self) {
        self.changes
            .send_modify(|version| *version = version.wrapping_add(1));
    }

    /// A receiver that wakes on every later [`changed`](Shared::changed).
    pub(crate) fn watch_changes(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }

    /// A receiver that turns true when the server stops.
    pub(crate) fn watch_stop(&self) -> watch::Receiver<bool> {
        self.stopped.clone()
    }

    /// Waits, woken by each change, until `done` holds for the state, the
    /// time is up, or the server stops; returns what `done` saw last.
    pub(crate) async fn wait_until<T>(
        &self,
        within: Duration,
        mut done: impl FnMut(&State) -> (bool, T),
    ) -> T {
        let deadline = tokio::time::Instant::now() + within;
        let mut changes = self.watch_changes();
        let mut stopped = self.watch_stop();
        loop {
            // Subscribed before looking, so no change between the look and
            // the wait is missed.
            let (finished, seen) = done(&self.state());
            if finished || *stopped.borrow() {
                return seen;
            }
            tokio::select! {
                changed = changes.changed() => if changed.is_err() { return seen },
                () = tokio::time::sleep_until(deadline) => return done(&self.state()).1,
                _ = stopped.changed() => return seen,
            }
        }
    }

    /// Forgets every event, asset, idempotency answer and fault: a clean
    /// FlowFlex, on the same address and clock.
    pub(crate) fn reset(&self) {
        {
            let mut state = self.state();
            state.events.clear();
            state.assets.clear();
            state.asset_order.clear();
            state.replays.clear();
            state.faults.clear();
            state.resets += 1;
        }
        self.changed();
    }

    pub(crate) fn advance_clock(&self, by: Duration) {
        self.clock.advance(by);
        self.changed();
    }

    /// Records a request as it arrives; returns its sequence number.
    pub(crate) fn record_request(&self, request: RecordedRequest) -> u64 {
        let mut state = self.state();
        let seq = state.first_request + state.requests.len() as u64;
        state.requests.push(request);
        seq
    }

    /// Records the status answered to request `seq`.
    pub(crate) fn record_status(&self, seq: u64, status: u16) {
        let mut state = self.state();
        let first = state.first_request;
        let index = seq.checked_sub(first).and_then(|i| usize::try_from(i).ok());
        if let Some(request) = index.and_then(|i| state.requests.get_mut(i)) {
            request.status = Some(status);
        }
    }

    pub(crate) fn requests(&self) -> Vec<RecordedRequest> {
        self.state().requests.clone()
    }

    pub(crate) fn clear_requests(&self) {
        let mut state = self.state();
        state.first_request += state.requests.len() as u64;
        state.requests.clear();
    }

    pub(crate) fn inject(&self, fault: crate::Fault) {
        self.state().faults.push(fault);
        self.changed();
    }

    pub(crate) fn clear_faults(&self) {
        self.state().faults.clear();
        self.changed();
    }

    pub(crate) fn next_fault(&self, endpoint: Endpoint) -> Option<Injection> {
        let injection = self.state().faults.next(endpoint);
        if injection.is_some() {
            // A fault with a count left fewer to go, or went away.
            self.changed();
        }
        injection
    }

    pub(crate) fn connection_opened(&self) {
        self.connections_opened.fetch_add(1, Ordering::SeqCst);
        let open = self.connections_open.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak_connections_open.fetch_max(open, Ordering::SeqCst);
    }

    pub(crate) fn connection_closed(&self) {
        self.connections_open.fetch_sub(1, Ordering::SeqCst);
    }

    pub(crate) fn connections_opened(&self) -> u64 {
        self.connections_opened.load(Ordering::SeqCst)
    }

    pub(crate) fn connections_open(&self) -> u64 {
        self.connections_open.load(Ordering::SeqCst)
    }

    pub(crate) fn peak_connections_open(&self) -> u64 {
        self.peak_connections_open.load(Ordering::SeqCst)
    }

    pub(crate) fn request_started(&self, endpoint: Endpoint) {
        let mut counts = lock(&self.in_flight);
        let (now, peak) = &mut counts[slot(endpoint)];
        *now += 1;
        *peak = (*peak).max(*now);
    }

    pub(crate) fn request_finished(&self, endpoint: Endpoint) {
        let mut counts = lock(&self.in_flight);
        let (now, _) = &mut counts[slot(endpoint)];
        *now = now.saturating_sub(1);
    }

    pub(crate) fn peak_in_flight(&self, endpoint: Endpoint) -> u64 {
        lock(&self.in_flight)[slot(endpoint)].1
    }

    pub(crate) fn in_flight(&self, endpoint: Endpoint) -> u64 {
        lock(&self.in_flight)[slot(endpoint)].0
    }
}

fn slot(endpoint: Endpoint) -> usize {
    match endpoint {
        Endpoint::UploadUrl => 0,
        Endpoint::Storage => 1,
        Endpoint::Events => 2,
        Endpoint::Other => 3,
    }
}
