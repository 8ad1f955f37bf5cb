//! The payload of `flowflex send`: `--data`, with each `--attach` put at its
//! path.

use std::fmt;
use std::io::Read as _;

use flowflex::Attachment;
use serde_json::{Map, Value};

use crate::args::AttachSpec;

/// A payload path as the flow reads it: `invoice`, `order.receipt`, or
/// `gallery[]` (append to the list `gallery`).
///
/// ```
/// let path: flowflex_cli::PayloadPath = "order.receipt".parse().unwrap();
/// assert_eq!(path.to_string(), "order.receipt");
/// assert!("gallery[]".parse::<flowflex_cli::PayloadPath>().is_ok());
/// assert!("a..b".parse::<flowflex_cli::PayloadPath>().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayloadPath {
    keys: Vec<String>,
    append: bool,
}

impl std::str::FromStr for PayloadPath {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let (body, append) = match text.strip_suffix("[]") {
            Some(body) => (body, true),
            None => (text, false),
        };
        let keys: Vec<String> = body.split('.').map(str::to_owned).collect();
        let bad = |why: &str| {
            Err(format!(
                "`{text}` is not a payload path ({why}): use keys joined by dots, e.g. invoice, order.receipt, or gallery[] to append to a list"
            ))
        };
        if keys.iter().any(String::is_empty) {
            return bad("an empty key");
        }
        if keys
            .iter()
            .any(|k| k.contains(['[', ']']) || k.chars().any(char::is_control))
        {
            return bad("[] only at the end, no control characters");
        }
        Ok(PayloadPath { keys, append })
    }
}

impl fmt::Display for PayloadPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.keys.join("."))?;
        if self.append {
            f.write_str("[]")?;
        }
        Ok(())
    }
}

/// Reads `--data`: inline JSON, `@FILE`, or `@-` for stdin. Must be an object.
pub(crate) fn read_data(data: Option<&str>) -> Result<Map<String, Value>, String> {
    let Some(data) = data else {
        return Ok(Map::new());
    };
    let (text, origin) = match data.strip_prefix('@') {
        Some("-") => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|e| format!("--data @-: cannot read stdin: {e}"))?;
            (text, "stdin".to_owned())
        }
        Some(file) => {
            let text = std::fs::read_to_string(file)
                .map_err(|e| format!("--data @{file}: cannot read the file: {e}"))?;
            (text, file.to_owned())
        }
        None => (data.to_owned(), "--data".to_owned()),
    };
    match serde_json::from_str::<Value>(&text) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(other) => Err(format!(
            "{origin} holds {}, but an event payload is a JSON object: wrap it, e.g. {{\"value\": ...}}",
            kind(&other)
        )),
        Err(e) => Err(format!("{origin} is not valid JSON ({e})")),
    }
}

/// The payload to send: `data` with each attachment at its path. The same
/// file attached at several paths (with the same type and name) is one
/// attachment, uploaded once.
pub(crate) fn attach(
    mut data: Map<String, Value>,
    specs: &[AttachSpec],
) -> Result<flowflex::Payload, String> {
    let mut failed = None;
    // The attachments serialized inside `flowflex::json!` belong to the payload.
    let payload = flowflex::json!(place_all(&mut data, specs, &mut failed));
    match failed {
        Some(why) => Err(why),
        None => Ok(payload),
    }
}

fn place_all(
    data: &mut Map<String, Value>,
    specs: &[AttachSpec],
    failed: &mut Option<String>,
) -> Value {
    let mut files: Vec<(&AttachSpec, Attachment)> = Vec::new();
    for spec in specs {
        let same = files
            .iter()
            .find(|(s, _)| {
                s.file == spec.file && s.mime == spec.mime && s.filename == spec.filename
            })
            .map(|(_, a)| a.clone());
        let attachment = same.unwrap_or_else(|| {
            let mut attachment = Attachment::from_path(&spec.file);
            if let Some(mime) = spec.mime {
                attachment = attachment.with_mime(mime);
            }
            if let Some(name) = &spec.filename {
                attachment = attachment.with_filename(name.clone());
            }
            files.push((spec, attachment.clone()));
            attachment
        });
        let token = match serde_json::to_value(&attachment) {
            Ok(token) => token,
            Err(e) => {
                *failed = Some(format!("{}: {e}", spec.file.display()));
                break;
            }
        };
        if let Err(why) = put(data, &spec.path, token) {
            *failed = Some(why);
            break;
        }
    }
    Value::Object(std::mem::take(data))
}

fn put(root: &mut Map<String, Value>, path: &PayloadPath, value: Value) -> Result<(), String> {
    let conflict = |at: usize, what: &str| {
        Err(format!(
            "--attach {path}: `{}` {what}, so the file cannot go there: choose another path or change --data",
            path.keys[..=at].join(".")
        ))
    };
    let last = path.keys.len() - 1;
    let mut map = root;
    for (i, key) in path.keys[..last].iter().enumerate() {
        let slot = map
            .entry(key.clone())
            .or_insert_with(|| Value::Object(Map::new()));
        map = match slot {
            Value::Object(inner) => inner,
            other => return conflict(i, &format!("is {} in the payload", kind(other))),
        };
    }
    let key = &path.keys[last];
    if path.append {
        match map
            .entry(key.clone())
            .or_insert_with(|| Value::Array(Vec::new()))
        {
            Value::Array(list) => list.push(value),
            other => return conflict(last, &format!("is {}, not a list", kind(other))),
        }
    } else if map.contains_key(key) {
        return conflict(last, "is already set (by --data or another --attach)");
    } else {
        map.insert(key.clone(), value);
    }
    Ok(())
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn placed(data: Value, paths: &[&str]) -> Result<Value, String> {
        let Value::Object(mut map) = data else {
            unreachable!()
        };
        for (i, p) in paths.iter().enumerate() {
            put(&mut map, &p.parse()?, json!(i))?;
        }
        Ok(Value::Object(map))
    }

    #[test]
    fn paths_build_the_shape_the_flow_reads() {
        let got = placed(
            json!({"note": "hi", "order": {"id": 1}, "gallery": ["x"]}),
            &[
                "invoice",
                "order.receipt",
                "gallery[]",
                "gallery[]",
                "a.b.c[]",
            ],
        )
        .unwrap();
        assert_eq!(
            got,
            json!({
                "note": "hi",
                "invoice": 0,
                "order": {"id": 1, "receipt": 1},
                "gallery": ["x", 2, 3],
                "a": {"b": {"c": [4]}},
            })
        );
    }

    #[test]
    fn conflicts_are_refused_with_the_path() {
        for (data, path, says) in [
            (json!({"note": "hi"}), "note.x", "`note` is a string"),
            (json!({"invoice": 1}), "invoice", "already set"),
            (json!({"gallery": {}}), "gallery[]", "not a list"),
        ] {
            let err = placed(data, &[path]).unwrap_err();
            assert!(err.contains(says), "{err}");
        }
        assert!(placed(json!({}), &["a", "a"]).is_err());
    }

    #[test]
    fn data_must_be_a_json_object() {
        assert_eq!(read_data(None).unwrap(), Map::new());
        assert_eq!(read_data(Some(r#"{"a": 1}"#)).unwrap()["a"], 1);
        assert!(read_data(Some("[1]")).unwrap_err().contains("a list"));
        assert!(read_data(Some("{")).unwrap_err().contains("not valid JSON"));
        let err = read_data(Some("@/nonexistent/x.json")).unwrap_err();
        assert!(err.contains("cannot read"), "{err}");
    }
}
