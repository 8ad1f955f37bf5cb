//! Scripted faults: what to do to the next matching requests instead of
//! (or besides) answering them normally.

mod json;

pub(crate) use json::FaultSpec;

use std::time::{Duration, SystemTime};

use axum::body::Body;
use axum::response::Response;
use base64::Engine as _;
use http::{HeaderMap, HeaderValue, StatusCode, header};

use crate::model::Endpoint;

/// Seed of the random source behind [`Fault::rate`] unless [`Fault::seed`] is given.
const DEFAULT_SEED: u64 = 0x5EED_F10F_1E70;

/// A scripted fault, injected with [`Emulator::inject`](crate::Emulator::inject).
///
/// Built from [`Fault::on`]; by default it applies to the next matching request
/// only ([`Fault::times`] widens that, [`Fault::every`] and [`Fault::rate`] make
/// it permanent until [`Emulator::clear_faults`](crate::Emulator::clear_faults)).
/// Faults are consulted in the order they were injected; the first one that
/// fires for a request is the one applied.
///
/// What happens is the last of [`status`](Fault::status) (and the answers
/// built on it: [`respond_json`](Fault::respond_json),
/// [`redirect`](Fault::redirect)),
/// [`drop_connection`](Fault::drop_connection),
/// [`drop_after_processing`](Fault::drop_after_processing),
/// [`hang`](Fault::hang) and
/// [`hang_after_processing`](Fault::hang_after_processing) called;
/// [`delay`](Fault::delay) combines with any of them, and on its own delays
/// normal handling.
///
/// ```
/// use std::time::Duration;
/// use flowflex_emulator::{Endpoint, Fault};
///
/// // The next two events are answered 503 with `Retry-After: 2`.
/// let busy = Fault::on(Endpoint::Events).status(503).retry_after_secs(2).times(2);
/// // One storage upload in ten is cut off mid-body, reproducibly.
/// let flaky = Fault::on(Endpoint::Storage).drop_connection().rate(0.1).seed(7);
/// # let _ = (busy, flaky, Duration::ZERO);
/// ```
#[must_use = "a fault does nothing until passed to Emulator::inject"]
#[derive(Debug, Clone)]
pub struct Fault {
    endpoint: Endpoint,
    delay: Option<Duration>,
    action: Action,
    response: InjectedResponse,
    schedule: Schedule,
    seed: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    /// Handle normally (possibly after a delay).
    Proceed,
    /// Answer the injected response without processing.
    Respond,
    /// Answer the injected response at once, before reading the request's
    /// body (then close the connection).
    RespondEarly,
    /// Close the connection without answering, before processing.
    DropConnection,
    /// Process, then close the connection without answering.
    DropAfterProcessing,
    /// Never answer.
    Hang,
    /// Process, then never answer.
    HangAfterProcessing,
}

#[derive(Debug, Clone, Default)]
struct InjectedResponse {
    status: Option<u16>,
    retry_after: Option<String>,
    body: Option<String>,
    content_type: Option<String>,
    code: Option<String>,
    headers: Vec<(String, String)>,
    echo_auth: bool,
}

#[derive(Debug, Clone, Copy)]
enum Schedule {
    Times(u32),
    Every(u32),
    Rate(f64),
}

impl Fault {
    /// A fault for requests to `endpoint`; on its own it does nothing but
    /// consume one request, so chain what should happen.
    pub fn on(endpoint: Endpoint) -> Fault {
        Fault {
            endpoint,
            delay: None,
            action: Action::Proceed,
            response: InjectedResponse::default(),
            schedule: Schedule::Times(1),
            seed: DEFAULT_SEED,
        }
    }

    /// Answer with this status without processing the request. The body is
    /// `{"error":"injected","code":"<REASON>"}` (e.g. `SERVICE_UNAVAILABLE` for
    /// 503) unless [`body`](Fault::body) replaces it. A number that is not a
    /// valid status code is answered as 500.
    pub fn status(mut self, status: u16) -> Fault {
        self.action = Action::Respond;
        self.response.status = Some(status);
        self
    }

    /// Add `Retry-After: <secs>` to the injected answer (status 503 unless set).
    pub fn retry_after_secs(mut self, secs: u64) -> Fault {
        self.respond_by_default();
        self.response.retry_after = Some(secs.to_string());
        self
    }

    /// Add `Retry-After: <HTTP date>` to the injected answer (status 503 unless set).
    pub fn retry_after_date(mut self, at: SystemTime) -> Fault {
        self.respond_by_default();
        self.response.retry_after = Some(httpdate::fmt_http_date(at));
        self
    }

    /// Send this raw body instead of the JSON error (status 503 unless set);
    /// its content type is `text/plain; charset=utf-8` unless
    /// [`content_type`](Fault::content_type) says otherwise.
    pub fn body(mut self, body: impl Into<String>) -> Fault {
        self.respond_by_default();
        self.response.body = Some(body.into());
        self
    }

    /// The `Content-Type` of the injected answer.
    pub fn content_type(mut self, content_type: impl Into<String>) -> Fault {
        self.respond_by_default();
        self.response.content_type = Some(content_type.into());
        self
    }

    /// The `code` of the injected JSON error, instead of one derived from the status.
    pub fn code(mut self, code: impl Into<String>) -> Fault {
        self.respond_by_default();
        self.response.code = Some(code.into());
        self
    }

    /// Answer with this status and JSON body, without processing the request:
    /// a success status scripts a malformed or hostile answer (say, an
    /// `upload-url` reply whose `uploadUrl` is plain http off loopback).
    ///
    /// ```
    /// use flowflex_emulator::{Endpoint, Fault};
    ///
    /// let hostile = Fault::on(Endpoint::UploadUrl).respond_json(
    ///     200,
    ///     serde_json::json!({"assetId": "asset_x", "uploadUrl": "http://example.com/put", "token": "t"}),
    /// );
    /// # let _ = hostile;
    /// ```
    pub fn respond_json(self, status: u16, body: serde_json::Value) -> Fault {
        self.status(status)
            .body(body.to_string())
            .content_type("application/json")
    }

    /// Add a header to the injected answer (status 503 unless set); may be
    /// called several times.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Fault {
        self.respond_by_default();
        self.response.headers.push((name.into(), value.into()));
        self
    }

    /// Echo the request's credentials in the injected answer, as a server or
    /// proxy that reflects request headers does (status 503 unless set). In
    /// its body and header values, `{authorization}` becomes the request's
    /// `Authorization` value as sent (`Basic <token>`), `{basic_credentials}`
    /// the decoded `key:secret`, and `{basic_secret}` the secret alone
    /// (each empty when the request has no such header). In a JSON answer
    /// ([`respond_json`](Fault::respond_json), or a `content_type` of
    /// `application/json`) they are JSON-escaped, so the answer stays valid.
    ///
    /// ```
    /// use flowflex_emulator::{Endpoint, Fault};
    ///
    /// // A 401 whose message repeats the credentials it was given.
    /// let echo = Fault::on(Endpoint::Events).respond_json(
    ///     401,
    ///     serde_json::json!({"error": "bad credentials {basic_credentials}", "code": "UNAUTHORIZED"}),
    /// ).echo_auth();
    /// # let _ = echo;
    /// ```
    pub fn echo_auth(mut self) -> Fault {
        self.respond_by_default();
        self.response.echo_auth = true;
        self
    }

    /// Answer `307 Temporary Redirect` to `location`, with an empty body,
    /// without processing the request: a client must not follow it with its
    /// credentials.
    pub fn redirect(self, location: impl Into<String>) -> Fault {
        self.status(307).body("").header("location", location)
    }

    /// Sleep this long before handling the request (normally, or as the rest
    /// of the fault says).
    pub fn delay(mut self, delay: Duration) -> Fault {
        self.delay = Some(delay);
        self
    }

    /// Answer at once (status 200 unless [`status`](Fault::status) says
    /// otherwise), before reading the request's body, then close the
    /// connection: a storage that says "stored" though the bytes never
    /// arrived. Nothing is stored.
    pub fn answer_before_body(mut self) -> Fault {
        if self.response.status.is_none() {
            self.response.status = Some(200);
        }
        self.action = Action::RespondEarly;
        self
    }

    /// Close the TCP connection without any answer, before processing. For a
    /// storage upload this happens after about half of the body was read, as
    /// if the network failed mid-upload; nothing is stored.
    pub fn drop_connection(mut self) -> Fault {
        self.action = Action::DropConnection;
        self
    }

    /// Process the request normally (the event is recorded, the asset stored)
    /// and then close the connection without sending the answer: the answer
    /// is lost.
    pub fn drop_after_processing(mut self) -> Fault {
        self.action = Action::DropAfterProcessing;
        self
    }

    /// Read the request and never answer, until the client gives up (or the
    /// emulator shuts down).
    pub fn hang(mut self) -> Fault {
        self.action = Action::Hang;
        self
    }

    /// Process the request normally (the event is recorded, the asset
    /// stored) and then never answer, until the client gives up (or the
    /// emulator shuts down): the client times out on a request that took
    /// effect.
    pub fn hang_after_processing(mut self) -> Fault {
        self.action = Action::HangAfterProcessing;
        self
    }

    /// Apply to the next `n` matching requests (the default is 1).
    pub fn times(mut self, n: u32) -> Fault {
        self.schedule = Schedule::Times(n);
        self
    }

    /// Apply to every `n`th matching request (the `n`th, `2n`th, ...) until
    /// the faults are cleared. `every(0)` is taken as `every(1)`.
    pub fn every(mut self, n: u32) -> Fault {
        self.schedule = Schedule::Every(n.max(1));
        self
    }

    /// Apply to each matching request with this probability (clamped to
    /// 0..=1) until the faults are cleared. The draw is deterministic for a
    /// given [`seed`](Fault::seed).
    pub fn rate(mut self, probability: f64) -> Fault {
        let probability = if probability.is_nan() {
            0.0
        } else {
            probability.clamp(0.0, 1.0)
        };
        self.schedule = Schedule::Rate(probability);
        self
    }

    /// Seed the random source of [`rate`](Fault::rate).
    pub fn seed(mut self, seed: u64) -> Fault {
        self.seed = seed;
        self
    }

    /// The endpoint this fault matches.
    #[must_use]
    pub fn endpoint(&self) -> Endpoint {
        self.endpoint
    }

    fn respond_by_default(&mut self) {
        if self.action == Action::Proceed {
            self.action = Action::Respond;
        }
    }
}

/// What the server does with one request that a fault fired for.
#[derive(Debug, Clone)]
pub(crate) struct Injection {
    pub(crate) delay: Option<Duration>,
    pub(crate) action: Action,
    response: InjectedResponse,
}

impl Injection {
    /// The injected answer to a request with these headers, for
    /// [`Action::Respond`].
    pub(crate) fn response(&self, request: &HeaderMap) -> Response {
        let status = self
            .response
            .status
            .and_then(|s| StatusCode::from_u16(s).ok())
            .unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
        let (body, content_type) = match &self.response.body {
            Some(body) => (body.clone(), "text/plain; charset=utf-8"),
            None => {
                let code = self
                    .response
                    .code
                    .clone()
                    .unwrap_or_else(|| code_for(status));
                let json = serde_json::json!({ "error": "injected", "code": code });
                (json.to_string(), "application/json")
            }
        };
        let content_type = self
            .response
            .content_type
            .as_deref()
            .unwrap_or(content_type);
        let echo = self.response.echo_auth.then(|| Echo::of(request));
        let json = content_type.starts_with("application/json");
        let body = match &echo {
            Some(echo) => echo.fill(&body, json),
            None => body,
        };
        let mut response = Response::new(Body::from(body));
        *response.status_mut() = status;
        let headers = response.headers_mut();
        if let Ok(value) = HeaderValue::from_str(content_type) {
            headers.insert(header::CONTENT_TYPE, value);
        }
        let retry_after = self.response.retry_after.as_deref();
        if let Some(value) = retry_after.and_then(|v| HeaderValue::from_str(v).ok()) {
            headers.insert(header::RETRY_AFTER, value);
        }
        for (name, value) in &self.response.headers {
            let name = http::HeaderName::from_bytes(name.as_bytes());
            let value = match &echo {
                Some(echo) => echo.fill(value, false),
                None => value.clone(),
            };
            if let (Ok(name), Ok(value)) = (name, HeaderValue::from_str(&value)) {
                headers.append(name, value);
            }
        }
        response
    }
}

/// The credentials of a request, for [`Fault::echo_auth`].
struct Echo {
    authorization: String,
    credentials: String,
    secret: String,
}

impl Echo {
    fn of(request: &HeaderMap) -> Echo {
        let authorization = request
            .get(header::AUTHORIZATION)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .unwrap_or_default();
        let credentials = authorization
            .split_once(' ')
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"))
            .and_then(|(_, token)| {
                base64::engine::general_purpose::STANDARD
                    .decode(token.trim())
                    .ok()
            })
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
            .unwrap_or_default();
        let secret = credentials
            .split_once(':')
            .map(|(_, secret)| secret.to_owned())
            .unwrap_or_default();
        Echo {
            authorization,
            credentials,
            secret,
        }
    }

    /// `template` with the placeholders replaced, JSON-escaped if `json`.
    fn fill(&self, template: &str, json: bool) -> String {
        let shown = |value: &str| {
            if json {
                let quoted = serde_json::Value::from(value).to_string();
                quoted[1..quoted.len() - 1].to_owned()
            } else {
                value.to_owned()
            }
        };
        template
            .replace("{authorization}", &shown(&self.authorization))
            .replace("{basic_credentials}", &shown(&self.credentials))
            .replace("{basic_secret}", &shown(&self.secret))
    }
}

/// `SERVICE_UNAVAILABLE` for 503: the canonical reason in upper snake case.
fn code_for(status: StatusCode) -> String {
    match status.canonical_reason() {
        Some(reason) => reason
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_uppercase()
                } else {
                    '_'
                }
            })
            .collect(),
        None => "INJECTED_FAULT".to_owned(),
    }
}

/// The injected faults, in injection order, with their progress.
#[derive(Debug, Default)]
pub(crate) struct FaultQueue {
    entries: Vec<Entry>,
}

#[derive(Debug)]
struct Entry {
    fault: Fault,
    matched: u64,
    rng: fastrand::Rng,
}

impl FaultQueue {
    pub(crate) fn push(&mut self, fault: Fault) {
        if matches!(fault.schedule, Schedule::Times(0)) {
            return;
        }
        let rng = fastrand::Rng::with_seed(fault.seed);
        self.entries.push(Entry {
            fault,
            matched: 0,
            rng,
        });
    }

    pub(crate) fn clear(&mut self) {
        self.entries.clear();
    }

    /// The faults in force, in the order they are consulted, each in its
    /// JSON form (a `times` fault with the count it has left).
    pub(crate) fn in_force(&self) -> Vec<serde_json::Value> {
        self.entries
            .iter()
            .map(|entry| entry.fault.to_json())
            .collect()
    }

    /// The injection for one request to `endpoint`, if a fault fires for it.
    pub(crate) fn next(&mut self, endpoint: Endpoint) -> Option<Injection> {
        let mut fired = None;
        for (index, entry) in self.entries.iter_mut().enumerate() {
            if entry.fault.endpoint != endpoint {
                continue;
            }
            entry.matched += 1;
            let fires = match &mut entry.fault.schedule {
                Schedule::Times(remaining) => {
                    *remaining -= 1;
                    true
                }
                Schedule::Every(n) => entry.matched % u64::from(*n) == 0,
                Schedule::Rate(p) => entry.rng.f64() < *p,
            };
            if fires {
                fired = Some(index);
                break;
            }
        }
        let index = fired?;
        let fault = &self.entries[index].fault;
        let injection = Injection {
            delay: fault.delay,
            action: fault.action,
            response: fault.response.clone(),
        };
        if matches!(fault.schedule, Schedule::Times(0)) {
            self.entries.remove(index);
        }
        Some(injection)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn actions(queue: &mut FaultQueue, endpoint: Endpoint, n: usize) -> Vec<Option<Action>> {
        (0..n)
            .map(|_| queue.next(endpoint).map(|i| i.action))
            .collect()
    }

    #[test]
    fn times_are_consumed_in_fifo_order_per_endpoint() {
        let mut queue = FaultQueue::default();
        queue.push(Fault::on(Endpoint::Events).status(503).times(2));
        queue.push(Fault::on(Endpoint::Storage).hang());
        queue.push(Fault::on(Endpoint::Events).drop_connection());
        assert_eq!(
            actions(&mut queue, Endpoint::Events, 4),
            [
                Some(Action::Respond),
                Some(Action::Respond),
                Some(Action::DropConnection),
                None
            ]
        );
        assert_eq!(
            actions(&mut queue, Endpoint::Storage, 2),
            [Some(Action::Hang), None]
        );
    }

    #[test]
    fn every_fires_on_each_nth_match_forever() {
        let mut queue = FaultQueue::default();
        queue.push(Fault::on(Endpoint::UploadUrl).status(500).every(3));
        let fired: Vec<bool> = (0..9)
            .map(|_| queue.next(Endpoint::UploadUrl).is_some())
            .collect();
        assert_eq!(
            fired,
            [false, false, true, false, false, true, false, false, true]
        );
    }

    #[test]
    fn rate_is_deterministic_for_a_seed_and_roughly_right() {
        let run = |seed| {
            let mut queue = FaultQueue::default();
            queue.push(
                Fault::on(Endpoint::Events)
                    .status(500)
                    .rate(0.25)
                    .seed(seed),
            );
            (0..1000)
                .map(|_| queue.next(Endpoint::Events).is_some())
                .collect::<Vec<_>>()
        };
        let first = run(42);
        assert_eq!(first, run(42));
        let count = first.iter().filter(|f| **f).count();
        assert!((150..350).contains(&count), "{count} of 1000 fired");
    }

    #[test]
    fn injected_response_defaults() {
        let injection = Injection {
            delay: None,
            action: Action::Respond,
            response: InjectedResponse {
                status: Some(429),
                ..InjectedResponse::default()
            },
        };
        let response = injection.response(&HeaderMap::new());
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(
            code_for(StatusCode::SERVICE_UNAVAILABLE),
            "SERVICE_UNAVAILABLE"
        );
        assert_eq!(code_for(StatusCode::TOO_MANY_REQUESTS), "TOO_MANY_REQUESTS");
    }

    #[test]
    fn json_answers_headers_and_redirects() {
        let json = Fault::on(Endpoint::UploadUrl).respond_json(200, serde_json::json!({"a": 1}));
        let injection = Injection {
            delay: None,
            action: json.action,
            response: json.response,
        };
        let response = injection.response(&HeaderMap::new());
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");

        let redirect = Fault::on(Endpoint::Events)
            .redirect("http://127.0.0.2:9/x")
            .header("x-extra", "1")
            .header("x-extra", "2");
        assert_eq!(redirect.action, Action::Respond);
        let injection = Injection {
            delay: None,
            action: redirect.action,
            response: redirect.response,
        };
        let response = injection.response(&HeaderMap::new());
        assert_eq!(response.status(), StatusCode::TEMPORARY_REDIRECT);
        assert_eq!(response.headers()[header::LOCATION], "http://127.0.0.2:9/x");
        assert_eq!(response.headers().get_all("x-extra").iter().count(), 2);
    }

    #[test]
    fn response_options_imply_an_answer() {
        let fault = Fault::on(Endpoint::Events).retry_after_secs(1);
        assert_eq!(fault.action, Action::Respond);
        let fault = Fault::on(Endpoint::Events).hang().body("x");
        assert_eq!(fault.action, Action::Hang);
    }
}
