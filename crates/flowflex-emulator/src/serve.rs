//! What a program that serves the emulator needs: its announcement, and a
//! stop signal. Shared by the `flowflex-emulator` binary and `flowflex
//! emulator`.

use std::io;

use crate::Emulator;

impl Emulator {
    /// The four lines a server prints on stdout once it is ready: where it
    /// listens, then the settings a client needs as `NAME=value` lines (the
    /// secret is never among them).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> std::io::Result<()> {
    /// let emulator = flowflex_emulator::Emulator::start().await?;
    /// let text = emulator.announcement();
    /// assert!(text.starts_with("FlowFlex emulator listening on http://127.0.0.1:"));
    /// assert!(text.contains("FLOWFLEX_API_KEY=cik_emulator\n"));
    /// assert!(!text.contains(emulator.api_secret()));
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn announcement(&self) -> String {
        let base_url = self.base_url();
        format!(
            "FlowFlex emulator listening on {base_url}\nFLOWFLEX_BASE_URL={base_url}\nFLOWFLEX_API_KEY={}\nFLOWFLEX_INTEGRATION_CODE={}\n",
            self.api_key(),
            self.integration_code()
        )
    }
}

/// A future that resolves on Ctrl-C, or SIGTERM on Unix.
///
/// Install it before announcing readiness, so that a supervisor that stops
/// the server right after reading its address gets a clean exit.
///
/// # Errors
///
/// When the process cannot listen for signals.
pub fn stop_signal() -> io::Result<impl Future<Output = ()>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut interrupt = signal(SignalKind::interrupt())?;
        let mut terminate = signal(SignalKind::terminate())?;
        Ok(async move {
            tokio::select! {
                _ = interrupt.recv() => {}
                _ = terminate.recv() => {}
            }
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            let _ = tokio::signal::ctrl_c().await;
        })
    }
}
