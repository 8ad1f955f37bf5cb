//! Headless Chromium driven over the DevTools protocol on a pipe
//! (`--remote-debugging-pipe`: JSON messages ended by NUL on the child's
//! fds 3 and 4), so a test needs no WebSocket client nor driver binary.
//! Each call has a deadline; the browser is killed when dropped.

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// How long one protocol call may take.
const CALL_DEADLINE: Duration = Duration::from_secs(30);

/// The Chromium binary: `$FLOWFLEX_CHROMIUM`, or Debian's `chromium`.
pub(crate) fn find() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("FLOWFLEX_CHROMIUM") {
        return Some(PathBuf::from(path));
    }
    ["chromium", "chromium-browser"]
        .into_iter()
        .find_map(|name| {
            std::env::var_os("PATH").and_then(|paths| {
                std::env::split_paths(&paths)
                    .map(|dir| dir.join(name))
                    .find(|path| path.is_file())
            })
        })
}

pub(crate) struct Browser {
    child: Child,
    to_browser: ChildStdin,
    from_browser: Receiver<Value>,
    next_id: u64,
    session: Option<String>,
    _profile: tempfile::TempDir,
    log: PathBuf,
}

impl Browser {
    /// Starts headless Chromium with a fresh profile and attaches to its
    /// page. Its stderr goes to `log`, shown when a call fails.
    pub(crate) fn start(binary: &Path, log: &Path) -> Browser {
        let profile = tempfile::tempdir().expect("profile dir");
        // The shell hands our pipes to the browser as fds 3 (commands in)
        // and 4 (answers out), as --remote-debugging-pipe expects.
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(r#"exec "$0" "$@" 3<&0 4>&1 0</dev/null 1>/dev/null"#)
            .arg(binary)
            .args([
                "--headless",
                "--remote-debugging-pipe",
                // Root in a container has no user namespaces to sandbox with;
                // the page under test is our own, on loopback.
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-extensions",
                "--disable-background-networking",
                "--hide-scrollbars",
                "--mute-audio",
                "--window-size=1280,1100",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(log).expect("browser log"))
            .spawn()
            .expect("chromium starts");
        let to_browser = child.stdin.take().expect("stdin");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, from_browser) = channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut message = Vec::new();
            while reader.read_until(0, &mut message).is_ok_and(|n| n > 0) {
                if message.last() == Some(&0) {
                    message.pop();
                }
                let parsed = serde_json::from_slice::<Value>(&message);
                if parsed.is_ok_and(|value| tx.send(value).is_err()) {
                    break;
                }
                message.clear();
            }
        });
        let mut browser = Browser {
            child,
            to_browser,
            from_browser,
            next_id: 0,
            session: None,
            _profile: profile,
            log: log.to_path_buf(),
        };
        let targets = browser.call("Target.getTargets", json!({}));
        let page = targets["targetInfos"]
            .as_array()
            .and_then(|t| t.iter().find(|t| t["type"] == "page"))
            .and_then(|t| t["targetId"].as_str())
            .expect("a page target")
            .to_owned();
        let attached = browser.call(
            "Target.attachToTarget",
            json!({"targetId": page, "flatten": true}),
        );
        browser.session = attached["sessionId"].as_str().map(str::to_owned);
        browser.call("Page.enable", json!({}));
        browser
    }

    fn fail(&self, what: &str) -> ! {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(20).collect();
        panic!(
            "{what}\nchromium's last lines:\n{}",
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        );
    }

    /// Sends one command (to the page once attached) and returns its result.
    pub(crate) fn call(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut message = json!({"id": id, "method": method, "params": params});
        if let Some(session) = &self.session {
            message["sessionId"] = json!(session);
        }
        let mut bytes = serde_json::to_vec(&message).expect("JSON");
        bytes.push(0);
        if self.to_browser.write_all(&bytes).is_err() {
            self.fail(&format!("chromium went away before {method}"));
        }
        let answer = self.wait_for(method, |m| m["id"] == id);
        if let Some(error) = answer.get("error") {
            self.fail(&format!("{method} failed: {error}"));
        }
        answer["result"].clone()
    }

    /// The next message that `wanted` accepts (events included).
    pub(crate) fn wait_for(&mut self, what: &str, wanted: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + CALL_DEADLINE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.from_browser.recv_timeout(left) {
                Ok(message) if wanted(&message) => return message,
                Ok(_) => {}
                Err(RecvTimeoutError::Timeout) => {
                    self.fail(&format!("no answer to {what} in {CALL_DEADLINE:?}"))
                }
                Err(RecvTimeoutError::Disconnected) => {
                    self.fail(&format!("chromium went away waiting for {what}"))
                }
            }
        }
    }

    /// Opens `url` and returns once its load event fired.
    pub(crate) fn open(&mut self, url: &str) {
        self.call("Page.navigate", json!({"url": url}));
        self.wait_for("the page to load", |m| m["method"] == "Page.loadEventFired");
    }

    /// Evaluates `expression` in the page (a promise is awaited) and
    /// returns its value; a thrown error fails the test.
    pub(crate) fn eval(&mut self, expression: &str) -> Value {
        let result = self.call(
            "Runtime.evaluate",
            json!({"expression": expression, "awaitPromise": true, "returnByValue": true}),
        );
        if let Some(exception) = result.get("exceptionDetails") {
            self.fail(&format!("the page threw: {exception}"));
        }
        result["result"]["value"].clone()
    }

    /// Waits until the JavaScript `condition` is truthy, re-checked on each
    /// change to the page (a MutationObserver, no polling), for up to 20 s;
    /// returns its value.
    pub(crate) fn wait_until(&mut self, condition: &str) -> Value {
        let script = format!(
            r#"new Promise((resolve, reject) => {{
                const test = () => {{ try {{ return ({condition}); }} catch (e) {{ return false; }} }};
                const done = (value) => {{ observer.disconnect(); clearTimeout(timer); resolve(value); }};
                const observer = new MutationObserver(() => {{ const v = test(); if (v) done(v); }});
                observer.observe(document, {{subtree: true, childList: true, attributes: true, characterData: true}});
                const timer = setTimeout(() => {{ observer.disconnect(); reject(new Error("timed out waiting for: " + {quoted})); }}, 20000);
                const now = test(); if (now) done(now);
            }})"#,
            quoted = serde_json::to_string(condition).expect("JSON"),
        );
        self.eval(&script)
    }

    /// A PNG of the whole page.
    pub(crate) fn screenshot(&mut self) -> Vec<u8> {
        use base64::Engine as _;
        let shot = self.call(
            "Page.captureScreenshot",
            json!({"format": "png", "captureBeyondViewport": true}),
        );
        base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().expect("data"))
            .expect("base64")
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
