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
