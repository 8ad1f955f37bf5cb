//! `curl --upload-file`: the loopback yardstick for one upload.

use std::path::Path;
use std::process::Command;

use crate::BoxError;

/// A working `curl`.
#[derive(Debug, Clone)]
pub(crate) struct Curl {
    pub(crate) version: String,
}

impl Curl {
    /// Finds `curl` on the `PATH`; the error says how to get it.
    pub(crate) fn detect() -> Result<Curl, String> {
        let output = Command::new("curl")
            .arg("--version")
            .output()
            .map_err(|e| format!("curl missing ({e}): apt-get install -y curl"))?;
        let version = String::from_utf8_lossy(&output.stdout)
            .lines()
            .next()
            .unwrap_or_default()
            .to_owned();
        if output.status.success() {
            Ok(Curl { version })
        } else {
            Err("curl missing (curl --version failed): apt-get install -y curl".to_owned())
        }
    }

    /// PUTs `file` to a presigned `url`, returning curl's own
    /// `time_total` in seconds (its process start is not counted).
    pub(crate) fn upload(&self, file: &Path, url: &str, mime: &str) -> Result<f64, BoxError> {
        let output = Command::new("curl")
            .args(["-sS", "-o", "/dev/null", "-w", "%{http_code} %{time_total}"])
            // No `Expect: 100-continue` round trip: curl at its fastest.
            .args(["-H", "Expect:"])
            .arg("-H")
            .arg(format!("Content-Type: {mime}"))
            .arg("-T")
            .arg(file)
            .arg(url)
            .output()?;
        let text = String::from_utf8_lossy(&output.stdout);
        let mut parts = text.split_whitespace();
        let status = parts.next().unwrap_or_default();
        if !output.status.success() || status != "200" {
            return Err(format!(
                "curl upload failed (HTTP {status}): {}",
                String::from_utf8_lossy(&output.stderr).trim()
            )
            .into());
        }
        Ok(parts.next().unwrap_or_default().parse()?)
    }
}
