//! The published Python SDK (`flowflex==0.1.0` from PyPI), in a virtualenv
//! under `target/bench-venv`, running the scripts in `benches/python`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::BoxError;

/// The Python SDK version measured against.
pub(crate) const SDK: &str = "flowflex==0.1.0";

/// A virtualenv with the Python SDK installed.
#[derive(Debug, Clone)]
pub(crate) struct Python {
    interpreter: PathBuf,
    /// `3.11.7`.
    pub(crate) version: String,
}

impl Python {
    /// Creates the virtualenv and installs the SDK, unless already done.
    /// The error says why Python is left out.
    pub(crate) fn setup(base_interpreter: &str) -> Result<Python, String> {
        let target = crate::data::target_dir().map_err(|e| e.to_string())?;
        let venv = target.join("bench-venv");
        let interpreter = venv.join("bin").join("python");
        if !interpreter.exists() {
            eprintln!("creating {} ...", venv.display());
            run_quiet(
                Command::new(base_interpreter)
                    .args(["-m", "venv"])
                    .arg(&venv),
            )
            .map_err(|e| format!("no virtualenv ({base_interpreter} -m venv: {e})"))?;
        }
        let (_, want) = SDK.split_once("==").unwrap_or_default();
        let installed = output(
            Command::new(&interpreter).args(["-c", "import flowflex; print(flowflex.__version__)"]),
        );
        if installed.as_deref().ok() != Some(want) {
            eprintln!("installing {SDK} into {} ...", venv.display());
            run_quiet(
                Command::new(&interpreter)
                    .args([
                        "-m",
                        "pip",
                        "install",
                        "--quiet",
                        "--disable-pip-version-check",
                    ])
                    .arg(SDK),
            )
            .map_err(|e| format!("{SDK} could not be installed (pip: {e})"))?;
        }
        let version = output(
            Command::new(&interpreter).args(["-c", "import sys; print(sys.version.split()[0])"]),
        )
        .map_err(|e| format!("the virtualenv's python does not run ({e})"))?;
        Ok(Python {
            interpreter,
            version,
        })
    }

    /// Runs `benches/python/<script>` against the emulator at `base_url`
    /// and returns the JSON object it prints last.
    pub(crate) fn run(
        &self,
        script: &str,
        args: &[String],
        base_url: &str,
    ) -> Result<Value, BoxError> {
        let path = scripts_dir().join(script);
        let out = Command::new(&self.interpreter)
            .arg(&path)
            .args(args)
            .envs(crate::server::env(base_url))
            .stdin(Stdio::null())
            .output()?;
        if !out.status.success() {
            return Err(format!(
                "{script} failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )
            .into());
        }
        let stdout = String::from_utf8_lossy(&out.stdout);
        let last = stdout.lines().last().unwrap_or_default();
        serde_json::from_str(last)
            .map_err(|e| format!("{script} printed no JSON ({e}): {stdout:?}").into())
    }
}

fn scripts_dir() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/python"))
}

fn run_quiet(command: &mut Command) -> Result<(), String> {
    let out = command
        .stdin(Stdio::null())
        .output()
        .map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(())
    } else {
        let stderr = String::from_utf8_lossy(&out.stderr);
        Err(stderr.lines().last().unwrap_or("failed").trim().to_owned())
    }
}

fn output(command: &mut Command) -> Result<String, String> {
    let out = command
        .stdin(Stdio::null())
        .output()
        .map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_owned())
    }
}
