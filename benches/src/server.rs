//! The emulator, in a process of its own: it keeps every uploaded byte in
//! memory and uses CPU, and neither may count against the client measured.

use std::io::{BufRead as _, BufReader, Read as _};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use flowflex_emulator::{
    DEFAULT_API_KEY, DEFAULT_API_SECRET, DEFAULT_INTEGRATION_CODE, Emulator, Endpoint, Fault,
};

use crate::BoxError;

/// The `emulator` subcommand: serves until stdin closes (the harness exits
/// or drops its handle), delaying every storage upload by `latency`.
pub(crate) fn serve(latency: Duration) -> Result<(), BoxError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let emulator = Emulator::start().await?;
        if !latency.is_zero() {
            emulator.inject(Fault::on(Endpoint::Storage).delay(latency).every(1));
        }
        println!("FLOWFLEX_BASE_URL={}", emulator.base_url());
        tokio::task::spawn_blocking(|| {
            let mut sink = Vec::new();
            let _ = std::io::stdin().read_to_end(&mut sink);
        })
        .await?;
        emulator.shutdown().await;
        Ok(())
    })
}

/// A running emulator process; killed when dropped.
#[derive(Debug)]
pub(crate) struct Server {
    child: Child,
    base_url: String,
}

impl Server {
    /// Starts `flowflex-bench emulator` and waits until it listens.
    pub(crate) fn start(latency: Duration) -> Result<Server, BoxError> {
        let exe = std::env::current_exe()?;
        let mut child = Command::new(exe)
            .arg("emulator")
            .arg("--storage-latency-ms")
            .arg(latency.as_millis().to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        let stdout = child.stdout.take().ok_or("the emulator has no stdout")?;
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line)?;
        let Some(base_url) = line.trim().strip_prefix("FLOWFLEX_BASE_URL=") else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("the emulator did not start (it said {line:?})").into());
        };
        Ok(Server {
            base_url: base_url.to_owned(),
            child,
        })
    }

    pub(crate) fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The client under test, with the SDK's defaults.
    pub(crate) fn client(&self) -> Result<flowflex::Client, BoxError> {
        Ok(client(&self.base_url)?)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A client of the emulator at `base_url`, with the SDK's defaults.
pub(crate) fn client(base_url: &str) -> flowflex::Result<flowflex::Client> {
    flowflex::Client::builder()
        .api_key(DEFAULT_API_KEY)
        .api_secret(DEFAULT_API_SECRET)
        .integration_code(DEFAULT_INTEGRATION_CODE)
        .base_url(base_url)
        .build()
}

/// The emulator's credentials, as the Python SDK reads them.
pub(crate) fn env(base_url: &str) -> [(&'static str, String); 4] {
    [
        ("FLOWFLEX_BASE_URL", base_url.to_owned()),
        ("FLOWFLEX_API_KEY", DEFAULT_API_KEY.to_owned()),
        ("FLOWFLEX_API_SECRET", DEFAULT_API_SECRET.to_owned()),
        (
            "FLOWFLEX_INTEGRATION_CODE",
            DEFAULT_INTEGRATION_CODE.to_owned(),
        ),
    ]
}
