//! The `flowflex-emulator` binary: what it prints and that it serves.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use serde_json::json;

const BIN: &str = env!("CARGO_BIN_EXE_flowflex-emulator");

/// Kills the child if a test fails before it exits.
struct Running(Option<Child>);

impl Running {
    fn child(&mut self) -> &mut Child {
        self.0.as_mut().expect("still running")
    }

    /// Kills the emulator and returns what it wrote.
    fn stop(mut self) -> Output {
        let mut child = self.0.take().expect("still running");
        let _ = child.kill();
        child.wait_with_output().expect("output")
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(child) = self.0.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn spawn(args: &[&str], env: &[(&str, &str)]) -> (Running, Vec<String>) {
    let mut command = Command::new(BIN);
    command
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for var in [
        "FLOWFLEX_API_KEY",
        "FLOWFLEX_API_SECRET",
        "FLOWFLEX_INTEGRATION_CODE",
        "FLOWFLEX_EMULATOR_PORT",
        "FLOWFLEX_EMULATOR_HOST",
        "FLOWFLEX_MAX_FILE_BYTES",
    ] {
        command.env_remove(var);
    }
    command.envs(env.iter().copied());
    let mut child = command.spawn().expect("binary starts");
    let stdout = child.stdout.take().expect("stdout");
    let running = Running(Some(child));
    let lines = BufReader::new(stdout)
        .lines()
        .take(4)
        .collect::<Result<Vec<_>, _>>()
        .expect("four lines on stdout");
    (running, lines)
}

fn base_url(lines: &[String]) -> String {
    lines[1]
        .strip_prefix("FLOWFLEX_BASE_URL=")
        .expect("base url line")
        .to_owned()
}

#[tokio::test]
async fn prints_where_it_listens_and_serves_with_the_given_credentials() {
    let (running, lines) = spawn(
        &[
            "--port",
            "0",
            "--api-key",
            "cik_cli",
            "--api-secret",
            "top-secret-value",
            "--integration-code",
            "ic_cli",
        ],
        &[],
    );
    let base_url = base_url(&lines);
    let port: u16 = base_url
        .strip_prefix("http://127.0.0.1:")
        .expect("loopback")
        .parse()
        .expect("port");
    assert_ne!(port, 0);
    assert_eq!(
        lines,
        [
            format!("FlowFlex emulator listening on {base_url}"),
            format!("FLOWFLEX_BASE_URL={base_url}"),
            "FLOWFLEX_API_KEY=cik_cli".to_owned(),
            "FLOWFLEX_INTEGRATION_CODE=ic_cli".to_owned(),
        ]
    );

    let http = http();
    let response = http
        .post(format!("{base_url}/v1/events/ic_cli"))
        .basic_auth("cik_cli", Some("top-secret-value"))
        .header("x-event", "cli.works")
        .json(&json!({}))
        .send()
        .await
        .expect("answer");
    assert_eq!(response.status(), 202);
    let response = http
        .post(format!("{base_url}/v1/events/ic_cli"))
        .basic_auth("cik_emulator", Some("emulator-secret"))
        .header("x-event", "cli.works")
        .json(&json!({}))
        .send()
        .await
        .expect("answer");
    assert_eq!(response.status(), 401);

    // The secret never reaches the output.
    let output = running.stop();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("top-secret-value"), "{stderr}");
    assert!(!stdout.contains("top-secret-value"), "{stdout}");
    assert!(!lines.iter().any(|l| l.contains("top-secret-value")));
    assert!(
        stderr.contains("api secret: the value you passed"),
        "{stderr}"
    );
}

#[tokio::test]
async fn takes_credentials_from_the_environment() {
    let (_running, lines) = spawn(
        &[],
        &[
            ("FLOWFLEX_API_KEY", "cik_env"),
            ("FLOWFLEX_API_SECRET", "env-secret"),
            ("FLOWFLEX_INTEGRATION_CODE", "ic_env"),
        ],
    );
    assert_eq!(lines[2], "FLOWFLEX_API_KEY=cik_env");
    assert_eq!(lines[3], "FLOWFLEX_INTEGRATION_CODE=ic_env");
    let response = http()
        .post(format!("{}/v1/events/ic_env", base_url(&lines)))
        .basic_auth("cik_env", Some("env-secret"))
        .header("x-event", "e")
        .json(&json!({}))
        .send()
        .await
        .expect("answer");
    assert_eq!(response.status(), 202);
}

#[tokio::test]
async fn defaults_to_the_default_credentials() {
    let (running, lines) = spawn(&[], &[]);
    assert_eq!(lines[2], "FLOWFLEX_API_KEY=cik_emulator");
    assert_eq!(lines[3], "FLOWFLEX_INTEGRATION_CODE=ic_emulator");
    let response = http()
        .post(format!("{}/v1/assets/upload-url", base_url(&lines)))
        .basic_auth("cik_emulator", Some("emulator-secret"))
        .json(&json!({"filename": "a.pdf", "mime": "application/pdf"}))
        .send()
        .await
        .expect("answer");
    assert_eq!(response.status(), 200);
    let stderr = String::from_utf8_lossy(&running.stop().stderr).into_owned();
    assert!(
        stderr.contains("api secret: the default (flowflex-emulator --help names it)"),
        "{stderr}"
    );
    assert!(!stderr.contains("emulator-secret"), "{stderr}");
}

#[cfg(unix)]
#[test]
fn exits_cleanly_on_sigterm() {
    let (mut running, _lines) = spawn(&[], &[]);
    let pid = running.child().id().to_string();
    let status = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill runs");
    assert!(status.success());
    for _ in 0..100 {
        if let Some(status) = running.child().try_wait().expect("try_wait") {
            assert!(status.success(), "exit status {status}");
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("still running 5 s after SIGTERM");
}

/// A plain reqwest client. In `cargo test --workspace`, `flowflex` turns on
/// reqwest's rustls without a crypto provider of its own (it hands one to
/// reqwest itself), so one is installed here first.
fn http() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}
