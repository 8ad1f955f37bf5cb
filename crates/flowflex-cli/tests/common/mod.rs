//! Running the real `flowflex` binary against an emulator in the test's
//! process.

#![allow(dead_code, unreachable_pub)] // Each test file uses a part.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use flowflex_emulator::Emulator;

/// The secret of every test emulator: no output may ever contain it.
pub const SECRET: &str = "cli-test-secret-7f3a9c";

/// An emulator served by a runtime of its own, so that tests can run the
/// binary synchronously.
pub struct Local {
    pub emulator: Emulator,
    _runtime: tokio::runtime::Runtime,
}

impl Local {
    pub fn start() -> Local {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let emulator = runtime
            .block_on(
                Emulator::builder()
                    .api_key("cik_cli_test")
                    .api_secret(SECRET)
                    .integration_code("ic_cli_test")
                    .start(),
            )
            .expect("emulator starts");
        Local {
            emulator,
            _runtime: runtime,
        }
    }

    /// `flowflex` configured for this emulator through the environment.
    pub fn flowflex(&self) -> Command {
        let mut cmd = flowflex();
        self.configure(&mut cmd);
        cmd
    }

    /// Points `cmd` (or the `flowflex` it runs) at this emulator.
    pub fn configure(&self, cmd: &mut Command) {
        cmd.env("FLOWFLEX_BASE_URL", self.emulator.base_url())
            .env("FLOWFLEX_API_KEY", self.emulator.api_key())
            .env("FLOWFLEX_API_SECRET", SECRET)
            .env(
                "FLOWFLEX_INTEGRATION_CODE",
                self.emulator.integration_code(),
            );
    }
}

/// `flowflex` with none of the caller's FlowFlex settings, in the
/// workspace root (where the docs' paths start).
pub fn flowflex() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_flowflex"));
    isolate(&mut cmd);
    cmd
}

/// Removes the caller's FlowFlex settings from `cmd`'s environment and runs
/// it in the workspace root, with no stdin.
pub fn isolate(cmd: &mut Command) {
    for var in [
        "FLOWFLEX_BASE_URL",
        "FLOWFLEX_API_KEY",
        "FLOWFLEX_API_SECRET",
        "FLOWFLEX_INTEGRATION_CODE",
        "FLOWFLEX_EMULATOR_HOST",
        "FLOWFLEX_EMULATOR_PORT",
        "FLOWFLEX_MAX_FILE_BYTES",
        "RUST_LOG",
        "RUST_BACKTRACE",
    ] {
        cmd.env_remove(var);
    }
    cmd.current_dir(workspace_root()).stdin(Stdio::null());
}

/// What a run printed, and its exit code.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// The result JSON of `flowflex send`.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {self:#?}"))
    }
}

pub fn run(cmd: &mut Command) -> Run {
    let Output {
        status,
        stdout,
        stderr,
    } = cmd.output().expect("flowflex runs");
    Run {
        code: status.code().expect("exited, not killed"),
        stdout: String::from_utf8(stdout).expect("utf-8 stdout"),
        stderr: String::from_utf8(stderr).expect("utf-8 stderr"),
    }
}

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("workspace root")
}

/// A sample file shipped with the examples.
pub fn asset(name: &str) -> PathBuf {
    workspace_root().join("examples/assets").join(name)
}

/// The cargo target directory the binary was built in.
pub fn target_dir() -> PathBuf {
    let bin = Path::new(env!("CARGO_BIN_EXE_flowflex"));
    bin.parent()
        .and_then(Path::parent)
        .expect("target/<profile>/flowflex")
        .to_path_buf()
}

/// `flowflex emulator` in a process of its own, stopped with SIGTERM when
/// dropped, with what it announced.
#[cfg(unix)]
pub struct Served {
    pub child: std::process::Child,
    pub base_url: String,
    pub api_key: String,
    pub integration_code: String,
    /// The announcement's `Inspector:` URL, when it printed one.
    pub inspector: Option<String>,
    pub announced: Vec<String>,
}

#[cfg(unix)]
impl Served {
    /// Starts `flowflex emulator ARGS` with the test secret and reads its
    /// announcement: four lines, and a fifth when it serves the inspector
    /// (on loopback, or with `--inspector`).
    pub fn start(args: &[&str], inspector: bool) -> Served {
        use std::io::{BufRead as _, BufReader};
        let mut child = flowflex()
            .arg("emulator")
            .args(args)
            .env("FLOWFLEX_API_SECRET", SECRET)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("flowflex emulator starts");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let count = if inspector { 5 } else { 4 };
        let announced: Vec<String> = (0..count)
            .map(|_| lines.next().expect("announced").expect("utf-8"))
            .collect();
        let setting = |name: &str| {
            announced
                .iter()
                .find_map(|l| l.strip_prefix(&format!("{name}=")))
                .unwrap_or_else(|| panic!("{name} in {announced:?}"))
                .to_owned()
        };
        let inspector = announced.get(4).map(|line| {
            line.strip_prefix("Inspector: ")
                .and_then(|rest| rest.split(' ').next())
                .unwrap_or_else(|| panic!("the fifth line names the inspector: {line}"))
                .to_owned()
        });
        Served {
            base_url: setting("FLOWFLEX_BASE_URL"),
            api_key: setting("FLOWFLEX_API_KEY"),
            integration_code: setting("FLOWFLEX_INTEGRATION_CODE"),
            inspector,
            announced,
            child,
        }
    }

    /// The base URL as reached from here (an emulator on 0.0.0.0 is
    /// reached on 127.0.0.1).
    pub fn url(&self, path: &str) -> String {
        let base = self.base_url.replace("://0.0.0.0:", "://127.0.0.1:");
        format!("{base}{path}")
    }

    /// The SDK's blocking client, configured for this emulator.
    pub fn client(&self) -> flowflex::blocking::Client {
        flowflex::blocking::Client::builder()
            .api_key(&self.api_key)
            .api_secret(SECRET)
            .integration_code(&self.integration_code)
            .base_url(self.url(""))
            .build()
            .expect("a client for the emulator")
    }

    /// `flowflex` configured for this emulator through the environment.
    pub fn flowflex(&self) -> Command {
        let mut cmd = flowflex();
        cmd.env("FLOWFLEX_BASE_URL", self.url(""))
            .env("FLOWFLEX_API_KEY", &self.api_key)
            .env("FLOWFLEX_API_SECRET", SECRET)
            .env("FLOWFLEX_INTEGRATION_CODE", &self.integration_code);
        cmd
    }

    /// Stops it with SIGTERM and returns what it wrote on stderr.
    pub fn stop(mut self) -> String {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let mut stderr = String::new();
        if let Some(mut pipe) = self.child.stderr.take() {
            let _ = std::io::Read::read_to_string(&mut pipe, &mut stderr);
        }
        let _ = self.child.wait();
        stderr
    }
}

#[cfg(unix)]
impl Drop for Served {
    fn drop(&mut self) {
        if !matches!(self.child.try_wait(), Ok(None)) {
            return; // Stopped and reaped already: the pid may be another's now.
        }
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

/// One answer, as curl received it.
#[derive(Debug)]
pub struct Curled {
    pub status: u16,
    /// Lowercase names.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Curled {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
}

/// Runs `curl -sS -i ARGS` (a real HTTP client, as a shell script would
/// call the control API) and parses the answer.
pub fn curl(args: &[&str]) -> Curled {
    let out = Command::new("curl")
        .args(["-sS", "-i", "--max-time", "60"])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("curl runs (it is installed by .ci/run)");
    assert!(
        out.status.success(),
        "curl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = out.stdout;
    let split = text
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a head and a body");
    let head = String::from_utf8_lossy(&text[..split]).into_owned();
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .expect("a status line");
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Curled {
        status,
        headers,
        body: text[split + 4..].to_vec(),
    }
}
