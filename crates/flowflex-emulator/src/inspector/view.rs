//! What the inspector's templates show, built from the state: each event
//! as a card whose payload is flattened into rows (so a template needs no
//! recursion), each asset id as its file, and the status panel. Every
//! value here is plain text; the templates escape it.

use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

use crate::control::Preview;
use crate::model::RecordedEvent;
use crate::paths::{flow_name, is_asset_id, with_index, with_key};
use crate::state::{Asset, Shared, State};

/// The most values shown for one event; the rest are counted, and the
/// event's JSON link has them all.
const MAX_ROWS: usize = 400;

#[derive(Debug, Serialize)]
pub(super) struct Card {
    id: String,
    event: String,
    idempotency_key: Option<String>,
    received_at: String,
    /// The payload as compact JSON, for the flow template box.
    payload: String,
    rows: Vec<Row>,
    hidden: usize,
}

/// One line of a payload: a container opening or closing, a value, or an
/// asset id with its file.
#[derive(Debug, Serialize)]
struct Row {
    kind: &'static str,
    key: Option<String>,
    flow: Option<String>,
    text: String,
    file: Option<FileView>,
}

#[derive(Debug, Serialize)]
struct FileView {
    asset_id: String,
    filename: String,
    mime: String,
    size: String,
    preview: &'static str,
    url: String,
    download_url: String,
}

#[derive(Debug, Serialize)]
pub(super) struct Status {
    base_url: String,
    api_key: String,
    integration_code: String,
    clock_now: String,
    clock_advanced: Option<String>,
    events: usize,
    assets: usize,
    faults: Vec<String>,
}

/// The newest `limit` events of `events` (given oldest first), newest first.
pub(super) fn cards(state: &State, events: &[RecordedEvent], limit: usize) -> Vec<Card> {
    events
        .iter()
        .rev()
        .take(limit)
        .map(|event| card(state, event))
        .collect()
}

fn card(state: &State, event: &RecordedEvent) -> Card {
    let mut flat = Flat {
        state,
        rows: Vec::new(),
        hidden: 0,
    };
    flat.walk(&event.payload, None, "");
    Card {
        id: event.event_id.clone(),
        event: event.event.clone(),
        idempotency_key: event.idempotency_key.clone(),
        received_at: crate::time::rfc3339(event.received_at),
        payload: event.payload.to_string(),
        rows: flat.rows,
        hidden: flat.hidden,
    }
}

struct Flat<'a> {
    state: &'a State,
    rows: Vec<Row>,
    hidden: usize,
}

impl Flat<'_> {
    fn walk(&mut self, value: &Value, key: Option<String>, path: &str) {
        if self.rows.len() >= MAX_ROWS {
            self.hidden += 1;
            return;
        }
        let flow = (!path.is_empty()).then(|| flow_name(path));
        let row = |kind, text: String, file| Row {
            kind,
            key: key.clone(),
            flow: flow.clone(),
            text,
            file,
        };
        match value {
            Value::Object(map) => {
                self.rows.push(row("open", "{".to_owned(), None));
                for (name, item) in map {
                    let quoted = Value::from(name.as_str()).to_string();
                    self.walk(item, Some(quoted), &with_key(path, name));
                }
                self.rows.push(row("close", "}".to_owned(), None));
            }
            Value::Array(items) => {
                self.rows.push(row("open", "[".to_owned(), None));
                for (index, item) in items.iter().enumerate() {
                    self.walk(item, None, &with_index(path, index));
                }
                self.rows.push(row("close", "]".to_owned(), None));
            }
            Value::String(s) if is_asset_id(s) => {
                let file = self.state.assets.get(s).map(file_view);
                self.rows.push(row("file", value.to_string(), file));
            }
            Value::String(_) => self.rows.push(row("string", value.to_string(), None)),
            _ => self.rows.push(row("value", value.to_string(), None)),
        }
    }
}

fn file_view(asset: &Asset) -> FileView {
    let url = format!("/_emulator/assets/{}/content", asset.id);
    FileView {
        asset_id: asset.id.clone(),
        filename: asset.filename.clone(),
        mime: asset.mime.clone(),
        size: asset
            .upload
            .as_ref()
            .map_or_else(|| "not uploaded".to_owned(), |u| describe_size(u.size)),
        preview: Preview::of(&asset.mime).as_str(),
        download_url: format!("{url}?download=1"),
        url,
    }
}

pub(super) fn status(shared: &Shared, state: &State) -> Status {
    let config = &shared.config;
    let advanced = shared.clock.advanced();
    Status {
        base_url: config.base_url.clone(),
        api_key: config.api_key.clone(),
        integration_code: config.integration_code.clone(),
        clock_now: crate::time::rfc3339(shared.clock.wall(shared.clock.now())),
        clock_advanced: (advanced >= Duration::from_secs(1)).then(|| {
            humantime::format_duration(Duration::from_secs(advanced.as_secs())).to_string()
        }),
        events: state.events.len(),
        assets: state.assets.len(),
        faults: state
            .faults
            .in_force()
            .iter()
            .map(Value::to_string)
            .collect(),
    }
}

/// `596 bytes`, `12.5 KiB`, `3.1 MiB`.
fn describe_size(bytes: u64) -> String {
    const KIB: u64 = 1024;
    #[allow(clippy::cast_precision_loss)] // One decimal is shown.
    let scaled = |unit: u64| bytes as f64 / unit as f64;
    match bytes {
        0..KIB => format!("{bytes} bytes"),
        KIB..0x10_0000 => format!("{:.1} KiB", scaled(KIB)),
        _ => format!("{:.1} MiB", scaled(KIB * KIB)),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn flatten(value: &Value) -> (Vec<String>, usize) {
        let state = State::default();
        let mut flat = Flat {
            state: &state,
            rows: Vec::new(),
            hidden: 0,
        };
        flat.walk(value, None, "");
        let rows = flat
            .rows
            .iter()
            .map(|row| {
                format!(
                    "{} {} {} {}",
                    row.kind,
                    row.key.as_deref().unwrap_or("-"),
                    row.text,
                    row.flow.as_deref().unwrap_or("-")
                )
            })
            .collect();
        (rows, flat.hidden)
    }

    #[test]
    fn rows_carry_each_value_with_its_flow_name() {
        let (rows, hidden) = flatten(&json!({"a\"b": 1, "list": ["<x>", "asset_Q"]}));
        assert_eq!(
            rows,
            [
                "open - { -",
                "value \"a\\\"b\" 1 {{trigger.a\"b}}",
                "open \"list\" [ {{trigger.list}}",
                "string - \"<x>\" {{trigger.list[0]}}",
                "file - \"asset_Q\" {{trigger.list[1]}}",
                "close \"list\" ] {{trigger.list}}",
                "close - } -",
            ]
        );
        assert_eq!(hidden, 0);
    }

    #[test]
    fn a_huge_payload_is_cut_with_its_containers_closed() {
        let many: Vec<u32> = (0..1000).collect();
        let (rows, hidden) = flatten(&json!({"many": many}));
        assert_eq!(rows.len(), MAX_ROWS + 2);
        assert_eq!(hidden, 1000 - (MAX_ROWS - 2));
        assert!(rows.last().is_some_and(|r| r.starts_with("close - }")));
        let opens = rows.iter().filter(|r| r.starts_with("open")).count();
        let closes = rows.iter().filter(|r| r.starts_with("close")).count();
        assert_eq!(opens, closes);
    }

    #[test]
    fn sizes_read_for_people() {
        assert_eq!(describe_size(596), "596 bytes");
        assert_eq!(describe_size(12_800), "12.5 KiB");
        assert_eq!(describe_size(3_250_586), "3.1 MiB");
    }
}
