//! The payload walker on payload trees holding real attachments: each one is
//! found at its place, its flow path is the path of its JSON pointer, paths
//! are unique (or the payload is refused), and after substitution each id
//! stands where its path says and no token is left.
#![no_main]

use std::collections::BTreeSet;
use std::sync::OnceLock;

use arbitrary::Arbitrary;
use flowflex::__fuzz::{substitute, walk};
use flowflex::Attachment;
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value};

#[derive(Arbitrary, Debug)]
enum Node {
    Null,
    Bool(bool),
    Num(i32),
    Text(String),
    Att(u8),
    Arr(Vec<Node>),
    Obj(Vec<(String, Node)>),
}

/// A few attachments, made once: the same one may stand in several places.
fn attachments() -> &'static [Attachment] {
    static FILES: OnceLock<Vec<Attachment>> = OnceLock::new();
    FILES.get_or_init(|| {
        (0..4)
            .map(|i| Attachment::from_bytes(format!("{i}\n").into_bytes(), format!("{i}.txt")))
            .collect()
    })
}

/// Depth is capped above the walker's limit (256), under the stack's.
fn to_json(node: &Node, depth: usize, placed: &mut Vec<usize>) -> Value {
    if depth > 300 {
        return Value::Null;
    }
    match node {
        Node::Null => Value::Null,
        Node::Bool(b) => Value::Bool(*b),
        Node::Num(n) => Value::from(*n),
        Node::Text(s) => Value::from(s.clone()),
        Node::Att(i) => {
            let i = usize::from(*i) % 4;
            placed.push(i);
            // Inside flowflex::json! (below): the payload records it.
            serde_json::to_value(&attachments()[i]).expect("a token")
        }
        Node::Arr(items) => items
            .iter()
            .map(|n| to_json(n, depth + 1, placed))
            .collect(),
        Node::Obj(entries) => {
            let mut map = Map::new();
            for (k, n) in entries {
                // A repeated key replaces the earlier value, attachments too.
                let mut inner = Vec::new();
                let v = to_json(n, depth + 1, &mut inner);
                map.insert(k.clone(), v);
                placed.extend(inner);
            }
            Value::Object(map)
        }
    }
}

/// An attachment's token: NUL and 16 hex digits.
fn is_marker(v: &Value) -> bool {
    v.as_str().is_some_and(|s| {
        s.len() == 17 && s.starts_with('\0') && s[1..].bytes().all(|b| b.is_ascii_hexdigit())
    })
}

fn count_markers(v: &Value) -> usize {
    if is_marker(v) {
        return 1;
    }
    match v {
        Value::Array(items) => items.iter().map(count_markers).sum(),
        Value::Object(map) => map.values().map(count_markers).sum(),
        _ => 0,
    }
}

fn path_of_pointer(value: &Value, pointer: &str) -> String {
    let mut path = String::new();
    let mut at = value;
    for token in pointer.split('/').skip(1) {
        let token = token.replace("~1", "/").replace("~0", "~");
        match at {
            Value::Array(items) => {
                let i: usize = token.parse().expect("an index");
                path.push_str(&format!("[{i}]"));
                at = &items[i];
            }
            Value::Object(map) => {
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(&token);
                at = &map[&token];
            }
            _ => panic!("{pointer} goes through a scalar"),
        }
    }
    path
}

fuzz_target!(|root: Vec<(String, Node)>| {
    let mut placed = Vec::new();
    let payload = flowflex::json!(to_json(&Node::Obj(root), 0, &mut placed));
    let value = serde_json::to_value(&payload).expect("a payload serializes");
    let markers = count_markers(&value);
    let walked = match walk(&payload) {
        Ok(walked) => walked,
        Err(flowflex::Error::Payload { message }) => {
            assert!(
                message.contains("same flow path") || message.contains("deeper than"),
                "{message}"
            );
            return;
        }
        Err(other) => panic!("{other:?}"),
    };
    assert_eq!(walked.slots.len(), markers, "every attachment found once");
    let used: BTreeSet<_> = walked.slots.iter().map(|s| s.unique).collect();
    assert_eq!(used.len(), walked.unique);
    let mut by_path = std::collections::BTreeMap::new();
    for slot in &walked.slots {
        let at = walked
            .value
            .pointer(&slot.pointer)
            .expect("the pointer resolves");
        assert!(is_marker(at), "{} is a marker", slot.pointer);
        assert_eq!(path_of_pointer(&walked.value, &slot.pointer), slot.path);
        let previous = by_path.insert(slot.path.clone(), slot.unique);
        assert!(
            previous.is_none_or(|u| u == slot.unique),
            "two attachments share {}",
            slot.path
        );
    }
    let (sent, ids) = substitute(&payload).expect("walked once, walks again");
    assert_eq!(count_markers(&sent), 0, "no marker left");
    for slot in &walked.slots {
        assert_eq!(
            sent.pointer(&slot.pointer).and_then(Value::as_str),
            Some(ids[&slot.path].as_str())
        );
    }
});
