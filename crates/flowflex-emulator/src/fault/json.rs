//! Faults as JSON, for `POST /_emulator/faults` and the list of faults in
//! force: the [`Fault`] builder's names as fields
//! (`{"on": "events", "status": 503, "retry_after_secs": 2, "times": 1}`).
//! JSON has no call order, so where the builder keeps the last of two
//! actions, the JSON form refuses the pair.

use std::collections::BTreeMap;
use std::time::Duration;

use http::{HeaderName, HeaderValue};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{Action, Fault, Schedule};
use crate::model::Endpoint;

/// The longest `delay_ms` accepted: a client gives up long before.
const MAX_DELAY: Duration = Duration::from_secs(600);

/// A fault as posted. Unknown fields are refused (serde names the valid
/// ones), so a typo never injects a different fault than meant.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FaultSpec {
    on: String,
    status: Option<u16>,
    retry_after_secs: Option<u64>,
    retry_after_date: Option<String>,
    body: Option<String>,
    content_type: Option<String>,
    code: Option<String>,
    respond_json: Option<Value>,
    headers: Option<BTreeMap<String, HeaderValues>>,
    #[serde(default)]
    echo_auth: bool,
    redirect: Option<String>,
    delay_ms: Option<u64>,
    #[serde(default)]
    answer_before_body: bool,
    #[serde(default)]
    drop_connection: bool,
    #[serde(default)]
    drop_after_processing: bool,
    #[serde(default)]
    hang: bool,
    #[serde(default)]
    hang_after_processing: bool,
    times: Option<u32>,
    every: Option<u32>,
    rate: Option<f64>,
    seed: Option<u64>,
}

/// One header value, or several for a header sent more than once.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum HeaderValues {
    One(String),
    Many(Vec<String>),
}

impl FaultSpec {
    /// The fault this asks for, or what is wrong with it (in the JSON's terms).
    pub(crate) fn into_fault(self) -> Result<Fault, String> {
        let endpoint = match self.on.as_str() {
            "events" => Endpoint::Events,
            "upload_url" => Endpoint::UploadUrl,
            "storage" => Endpoint::Storage,
            other => {
                return Err(format!(
                    "\"on\": {other:?} is not an endpoint; expected one of \"events\", \"upload_url\", \"storage\""
                ));
            }
        };
        let mut fault = Fault::on(endpoint);

        let answer_fields: Vec<&str> = [
            ("status", self.status.is_some()),
            ("retry_after_secs", self.retry_after_secs.is_some()),
            ("retry_after_date", self.retry_after_date.is_some()),
            ("body", self.body.is_some()),
            ("content_type", self.content_type.is_some()),
            ("code", self.code.is_some()),
            ("respond_json", self.respond_json.is_some()),
            ("headers", self.headers.is_some()),
            ("echo_auth", self.echo_auth),
            ("redirect", self.redirect.is_some()),
            ("answer_before_body", self.answer_before_body),
        ]
        .into_iter()
        .filter_map(|(name, set)| set.then_some(name))
        .collect();
        let silent: Vec<&str> = [
            ("drop_connection", self.drop_connection),
            ("drop_after_processing", self.drop_after_processing),
            ("hang", self.hang),
            ("hang_after_processing", self.hang_after_processing),
        ]
        .into_iter()
        .filter_map(|(name, set)| set.then_some(name))
        .collect();
        match (silent.as_slice(), answer_fields.first()) {
            ([first, second, ..], _) => {
                return Err(format!(
                    "\"{first}\" and \"{second}\" are two different outcomes; a fault has one"
                ));
            }
            ([action], Some(field)) => {
                return Err(format!(
                    "\"{field}\" shapes an injected answer, and \"{action}\" sends none; keep one"
                ));
            }
            _ => {}
        }
        if let Some(status) = self.status.filter(|s| !(100..=599).contains(s)) {
            return Err(format!(
                "\"status\": {status} is not an HTTP status; use 100 to 599"
            ));
        }
        if let Some(location) = self.redirect {
            if let Some(other) = answer_fields.iter().find(|f| {
                !matches!(
                    **f,
                    "redirect" | "headers" | "echo_auth" | "retry_after_secs" | "retry_after_date"
                )
            }) {
                return Err(format!(
                    "\"redirect\" answers 307 with an empty body; \"{other}\" cannot change that"
                ));
            }
            fault = fault.redirect(location);
        }
        if let Some(value) = self.respond_json {
            let Some(status) = self.status else {
                return Err("\"respond_json\" needs a \"status\" to answer with".to_owned());
            };
            if self.body.is_some() || self.content_type.is_some() {
                return Err(
                    "\"respond_json\" is the body (as application/json): leave out \"body\" and \"content_type\""
                        .to_owned(),
                );
            }
            fault = fault.respond_json(status, value);
        } else if let Some(status) = self.status {
            fault = fault.status(status);
        }
        if let Some(secs) = self.retry_after_secs {
            if self.retry_after_date.is_some() {
                return Err(
                    "give \"retry_after_secs\" or \"retry_after_date\", not both".to_owned(),
                );
            }
            fault = fault.retry_after_secs(secs);
        }
        if let Some(date) = self.retry_after_date {
            let at = crate::time::parse(&date).ok_or_else(|| {
                format!(
                    "\"retry_after_date\": {date:?} is neither RFC 3339 (2026-05-04T09:30:00Z) nor an HTTP date (Mon, 04 May 2026 09:30:00 GMT)"
                )
            })?;
            fault = fault.retry_after_date(at);
        }
        if let Some(body) = self.body {
            fault = fault.body(body);
        }
        if let Some(content_type) = self.content_type {
            HeaderValue::from_str(&content_type)
                .map_err(|_| format!("\"content_type\": {content_type:?} is not a header value"))?;
            fault = fault.content_type(content_type);
        }
        if let Some(code) = self.code {
            fault = fault.code(code);
        }
        for (name, values) in self.headers.unwrap_or_default() {
            if HeaderName::from_bytes(name.as_bytes()).is_err() {
                return Err(format!("\"headers\": {name:?} is not a header name"));
            }
            let values = match values {
                HeaderValues::One(value) => vec![value],
                HeaderValues::Many(values) => values,
            };
            for value in values {
                if HeaderValue::from_str(&value).is_err() {
                    return Err(format!(
                        "\"headers\": the value of {name:?} is not a header value"
                    ));
                }
                fault = fault.header(name.clone(), value);
            }
        }
        if self.echo_auth {
            fault = fault.echo_auth();
        }
        if self.answer_before_body {
            fault = fault.answer_before_body();
        }
        if self.drop_connection {
            fault = fault.drop_connection();
        }
        if self.drop_after_processing {
            fault = fault.drop_after_processing();
        }
        if self.hang {
            fault = fault.hang();
        }
        if self.hang_after_processing {
            fault = fault.hang_after_processing();
        }
        if let Some(ms) = self.delay_ms {
            let delay = Duration::from_millis(ms);
            if delay > MAX_DELAY {
                return Err(format!(
                    "\"delay_ms\": {ms} is over the longest delay, {} ms",
                    MAX_DELAY.as_millis()
                ));
            }
            fault = fault.delay(delay);
        }

        let schedules: Vec<&str> = [
            ("times", self.times.is_some()),
            ("every", self.every.is_some()),
            ("rate", self.rate.is_some()),
        ]
        .into_iter()
        .filter_map(|(name, set)| set.then_some(name))
        .collect();
        if let [first, second, ..] = schedules.as_slice() {
            return Err(format!(
                "\"{first}\" and \"{second}\" are two schedules; a fault has one"
            ));
        }
        match (self.times, self.every, self.rate) {
            (Some(0), _, _) => {
                return Err("\"times\" must be at least 1 (leave it out for once)".to_owned());
            }
            (Some(n), _, _) => fault = fault.times(n),
            (_, Some(0), _) => return Err("\"every\" must be at least 1".to_owned()),
            (_, Some(n), _) => fault = fault.every(n),
            (_, _, Some(p)) if !(0.0..=1.0).contains(&p) => {
                return Err(format!("\"rate\": {p} is not a probability from 0 to 1"));
            }
            (_, _, Some(p)) => fault = fault.rate(p),
            _ => {}
        }
        if let Some(seed) = self.seed {
            if self.rate.is_none() {
                return Err("\"seed\" seeds \"rate\"; give a rate too".to_owned());
            }
            fault = fault.seed(seed);
        }
        Ok(fault)
    }
}

impl Fault {
    /// This fault in the JSON form, as `POST /_emulator/faults` takes it
    /// (the answer-shaping shorthands written out: `redirect` as its status
    /// and `location` header, `respond_json` as status, body and type).
    pub(crate) fn to_json(&self) -> Value {
        let mut out = Map::new();
        let on = match self.endpoint {
            Endpoint::Events => "events",
            Endpoint::UploadUrl => "upload_url",
            Endpoint::Storage => "storage",
            Endpoint::Other => "other",
        };
        out.insert("on".into(), on.into());
        let response = &self.response;
        match self.action {
            Action::Proceed => {}
            Action::Respond | Action::RespondEarly => {
                let status = response.status.unwrap_or(503);
                out.insert("status".into(), status.into());
                if self.action == Action::RespondEarly {
                    out.insert("answer_before_body".into(), true.into());
                }
            }
            Action::DropConnection => {
                out.insert("drop_connection".into(), true.into());
            }
            Action::DropAfterProcessing => {
                out.insert("drop_after_processing".into(), true.into());
            }
            Action::Hang => {
                out.insert("hang".into(), true.into());
            }
            Action::HangAfterProcessing => {
                out.insert("hang_after_processing".into(), true.into());
            }
        }
        if matches!(self.action, Action::Respond | Action::RespondEarly) {
            if let Some(retry_after) = &response.retry_after {
                match retry_after.parse::<u64>() {
                    Ok(secs) => out.insert("retry_after_secs".into(), secs.into()),
                    Err(_) => out.insert("retry_after_date".into(), retry_after.clone().into()),
                };
            }
            let fields = [
                ("body", &response.body),
                ("content_type", &response.content_type),
                ("code", &response.code),
            ];
            for (name, value) in fields {
                if let Some(value) = value {
                    out.insert(name.into(), value.clone().into());
                }
            }
            if !response.headers.is_empty() {
                let mut headers: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
                for (name, value) in &response.headers {
                    headers.entry(name).or_default().push(value);
                }
                let headers: Map<String, Value> = headers
                    .into_iter()
                    .map(|(name, values)| {
                        let value = match values.as_slice() {
                            [one] => json!(one),
                            many => json!(many),
                        };
                        (name.to_owned(), value)
                    })
                    .collect();
                out.insert("headers".into(), headers.into());
            }
            if response.echo_auth {
                out.insert("echo_auth".into(), true.into());
            }
        }
        if let Some(delay) = self.delay {
            let ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
            out.insert("delay_ms".into(), ms.into());
        }
        match self.schedule {
            Schedule::Times(n) => {
                out.insert("times".into(), n.into());
            }
            Schedule::Every(n) => {
                out.insert("every".into(), n.into());
            }
            Schedule::Rate(p) => {
                out.insert("rate".into(), p.into());
                out.insert("seed".into(), self.seed.into());
            }
        }
        Value::Object(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(value: Value) -> Result<Fault, String> {
        serde_json::from_value::<FaultSpec>(value)
            .map_err(|e| e.to_string())?
            .into_fault()
    }

    #[track_caller]
    fn round_trip(value: Value) {
        let fault = parse(value.clone()).expect("a valid fault");
        assert_eq!(fault.to_json(), value);
        let again = parse(fault.to_json()).expect("its JSON parses");
        assert_eq!(again.to_json(), value);
    }

    #[test]
    fn each_builder_name_round_trips() {
        round_trip(json!({"on": "events", "status": 503, "retry_after_secs": 2, "times": 3}));
        round_trip(
            json!({"on": "upload_url", "status": 429, "body": "slow down", "content_type": "text/plain", "times": 1}),
        );
        round_trip(
            json!({"on": "events", "status": 401, "code": "NOPE", "headers": {"x-a": ["1", "2"], "x-b": "3"}, "echo_auth": true, "every": 2}),
        );
        round_trip(json!({"on": "storage", "status": 200, "answer_before_body": true, "times": 1}));
        round_trip(json!({"on": "storage", "drop_connection": true, "rate": 0.5, "seed": 7}));
        round_trip(json!({"on": "events", "drop_after_processing": true, "times": 1}));
        round_trip(json!({"on": "events", "hang": true, "times": 2}));
        round_trip(json!({"on": "events", "hang_after_processing": true, "times": 1}));
        round_trip(json!({"on": "upload_url", "delay_ms": 250, "times": 1}));
        round_trip(
            json!({"on": "events", "status": 503, "retry_after_date": "Mon, 04 May 2026 09:30:00 GMT", "times": 1}),
        );
    }

    #[test]
    fn shorthands_are_written_out() {
        let fault = parse(json!({"on": "events", "redirect": "http://127.0.0.2:9/x"})).expect("ok");
        assert_eq!(
            fault.to_json(),
            json!({"on": "events", "status": 307, "body": "", "headers": {"location": "http://127.0.0.2:9/x"}, "times": 1})
        );
        let fault =
            parse(json!({"on": "upload_url", "status": 200, "respond_json": {"assetId": "x"}}))
                .expect("ok");
        assert_eq!(
            fault.to_json(),
            json!({"on": "upload_url", "status": 200, "body": "{\"assetId\":\"x\"}", "content_type": "application/json", "times": 1})
        );
        let fault =
            parse(json!({"on": "events", "retry_after_date": "2026-05-04T09:30:00Z"})).expect("ok");
        assert_eq!(
            fault.to_json()["retry_after_date"],
            "Mon, 04 May 2026 09:30:00 GMT"
        );
        assert_eq!(fault.to_json()["status"], 503);
    }

    #[test]
    fn mistakes_are_named() {
        let says = |value: Value, what: &str| {
            let err = parse(value).expect_err("refused");
            assert!(err.contains(what), "{err:?} should say {what:?}");
        };
        says(
            json!({"on": "event", "status": 503}),
            "expected one of \"events\", \"upload_url\", \"storage\"",
        );
        says(json!({"status": 503}), "missing field `on`");
        says(
            json!({"on": "events", "stauts": 503}),
            "unknown field `stauts`",
        );
        says(json!({"on": "events", "status": 1000}), "use 100 to 599");
        says(
            json!({"on": "events", "hang": true, "drop_connection": true}),
            "\"drop_connection\" and \"hang\"",
        );
        says(
            json!({"on": "events", "hang": true, "body": "x"}),
            "\"body\" shapes an injected answer, and \"hang\" sends none",
        );
        says(
            json!({"on": "events", "times": 2, "every": 3}),
            "two schedules",
        );
        says(json!({"on": "events", "times": 0}), "at least 1");
        says(json!({"on": "events", "every": 0}), "at least 1");
        says(json!({"on": "events", "rate": 1.5}), "not a probability");
        says(json!({"on": "events", "seed": 1}), "give a rate too");
        says(
            json!({"on": "events", "respond_json": {}}),
            "needs a \"status\"",
        );
        says(
            json!({"on": "events", "redirect": "/x", "status": 302}),
            "\"status\" cannot change that",
        );
        says(
            json!({"on": "events", "headers": {"bad name": "1"}}),
            "not a header name",
        );
        says(
            json!({"on": "events", "headers": {"x": "a\nb"}}),
            "not a header value",
        );
        says(
            json!({"on": "events", "retry_after_date": "soon"}),
            "neither RFC 3339",
        );
        says(
            json!({"on": "events", "retry_after_secs": 1, "retry_after_date": "2026-05-04T09:30:00Z"}),
            "not both",
        );
        says(
            json!({"on": "events", "delay_ms": 600_001}),
            "over the longest delay",
        );
    }
}
