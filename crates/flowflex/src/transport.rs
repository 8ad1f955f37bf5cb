//! The request loop: one HTTP exchange at a time, its reply read within
//! bounds, transient failures retried by the policy. Knows nothing of the
//! FlowFlex API (`api.rs` builds the requests).

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use bytes::{Bytes, BytesMut};
use serde_json::Value;

use crate::error::{Endpoint, Error, Result};
use crate::redact::Scrubber;
use crate::retry::{Backoff, RetryConfig, is_retryable_status, parse_retry_after};

/// Longest error body read (the rest is dropped).
const MAX_ERROR_BODY: usize = 64 * 1024;
/// Longest success body read.
const MAX_SUCCESS_BODY: usize = 4 * 1024 * 1024;

/// What went wrong with a body while it was being streamed: the request
/// fails, and this says why.
pub(crate) type BodyFault = Arc<Mutex<Option<Error>>>;

/// A response read whole (within limits).
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) body: Bytes,
}

/// What the request loop needs to know about one request.
pub(crate) struct Call<'a> {
    pub(crate) endpoint: Endpoint,
    pub(crate) rewindable: bool,
    pub(crate) fault: Option<&'a BodyFault>,
    pub(crate) scrubber: &'a Scrubber,
}

/// The HTTP client with its deadline and retry policy.
pub(crate) struct Transport {
    pub(crate) http: reqwest::Client,
    pub(crate) timeout: Duration,
    pub(crate) retry: RetryConfig,
}

impl Transport {
    /// The request loop: sends, reads the reply, retries what the policy
    /// allows. `build` makes a fresh request (and body) for each attempt.
    pub(crate) async fn execute<F, Fut>(&self, call: &Call<'_>, mut build: F) -> Result<Reply>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<reqwest::RequestBuilder>>,
    {
        let mut backoff = Backoff::new(&self.retry);
        let max_attempts = if call.rewindable {
            self.retry.get_max_retries().saturating_add(1)
        } else {
            1
        };
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let request = build().await?.timeout(self.timeout);
            let outcome = match request.send().await {
                Ok(response) => self.read_reply(call, response, attempt).await,
                Err(e) => Err(self.transport_error(call, &e, attempt)),
            };
            if let Some(fault) = call.fault {
                if let Some(err) = fault
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .take()
                {
                    return Err(err);
                }
            }
            let err = match outcome {
                Ok(reply) => return Ok(reply),
                Err(err) => err,
            };
            if attempt >= max_attempts || !err.is_retryable() {
                return Err(err);
            }
            let wait = backoff.next(err.retry_after());
            crate::metrics::retried(call.endpoint);
            tracing::warn!(
                endpoint = ?call.endpoint,
                attempt,
                status = err.status(),
                wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                "retrying after a transient failure"
            );
            tokio::time::sleep(wait).await;
        }
    }

    async fn read_reply(
        &self,
        call: &Call<'_>,
        mut response: reqwest::Response,
        attempt: u32,
    ) -> Result<Reply> {
        let status = response.status().as_u16();
        let success = response.status().is_success();
        let limit = if success {
            MAX_SUCCESS_BODY
        } else {
            MAX_ERROR_BODY
        };
        let retry_after = parse_retry_after(response.headers(), SystemTime::now());
        let mut body = BytesMut::new();
        let mut truncated = false;
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    let room = limit - body.len();
                    if chunk.len() > room {
                        body.extend_from_slice(&chunk[..room]);
                        truncated = true;
                        break;
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(e) => return Err(self.transport_error(call, &e, attempt)),
            }
        }
        if success {
            if truncated {
                return Err(Error::InvalidResponse {
                    endpoint: call.endpoint,
                    status,
                    message: format!("the response body is over {MAX_SUCCESS_BODY} bytes"),
                    idempotency_key: None,
                });
            }
            return Ok(Reply {
                status,
                body: body.freeze(),
            });
        }
        Err(api_error(
            call,
            status,
            &body,
            truncated,
            retry_after,
            attempt,
        ))
    }

    fn transport_error(&self, call: &Call<'_>, e: &reqwest::Error, attempt: u32) -> Error {
        if e.is_timeout() {
            return Error::Timeout {
                endpoint: call.endpoint,
                after: self.timeout,
                attempts: attempt,
                idempotency_key: None,
            };
        }
        let what = if e.is_connect() {
            "could not connect"
        } else if e.is_body() {
            "the request body failed"
        } else {
            "the connection failed (closed or reset)"
        };
        let mut detail = String::new();
        let mut source: Option<&dyn std::error::Error> = std::error::Error::source(e);
        while let Some(s) = source {
            detail = s.to_string();
            source = s.source();
        }
        let message = if detail.is_empty() {
            what.to_owned()
        } else {
            format!("{what}: {}", call.scrubber.show(&detail, 300))
        };
        let retryable = e.is_connect() || e.is_request() || e.is_body();
        Error::Network {
            endpoint: call.endpoint,
            message,
            attempts: attempt,
            retryable,
            source: Some(Box::new(RedactedSource(
                call.scrubber.scrub(&e.to_string()),
            ))),
            idempotency_key: None,
        }
    }
}

/// A transport error's text with URLs and secrets removed; reqwest's own
/// error prints the request URL, which for storage holds the token.
#[derive(Debug)]
struct RedactedSource(String);

impl fmt::Display for RedactedSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for RedactedSource {}

fn api_error(
    call: &Call<'_>,
    status: u16,
    body: &[u8],
    truncated: bool,
    retry_after: Option<Duration>,
    attempts: u32,
) -> Error {
    let (json, body): (Option<Value>, &[u8]) = if truncated {
        // A secret straddling the read limit would escape the scrubber.
        (None, call.scrubber.drop_cut_secret(body))
    } else {
        (
            serde_json::from_slice(body).ok().filter(Value::is_object),
            body,
        )
    };
    // Every text is scrubbed before it is cut (`Scrubber::show`).
    let pick = |keys: [&str; 2], max: usize| {
        json.as_ref().and_then(|j| {
            keys.iter()
                .find_map(|k| j.get(*k).and_then(Value::as_str).filter(|s| !s.is_empty()))
                .map(|s| call.scrubber.show(s, max))
        })
    };
    let message = pick(["error", "message"], 500).unwrap_or_else(|| {
        let text = String::from_utf8_lossy(body);
        let text = text.trim();
        if text.is_empty() {
            format!("no error message (HTTP {status})")
        } else {
            format!("non-JSON error body: \"{}\"", call.scrubber.show(text, 200))
        }
    });
    let code = pick(["code", "name"], 64);
    let details = json.map(|mut j| {
        call.scrubber.scrub_json(&mut j);
        Box::new(j)
    });
    if !is_retryable_status(status) || attempts > 1 {
        tracing::debug!(status, code = ?code, "request failed");
    }
    Error::Api {
        endpoint: call.endpoint,
        status,
        code,
        message,
        retry_after,
        attempts,
        details,
        idempotency_key: None,
    }
}
