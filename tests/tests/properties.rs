//! Properties of payload path naming, over random payload trees: every
//! attachment is found once, its flow path (`a.b[0]`) names exactly the
//! place its asset id lands (the path round-trips to the JSON pointer of the
//! value), and paths are unique: two different attachments that would share
//! a path are refused, never silently merged.

use std::collections::{BTreeMap, BTreeSet};

use flowflex::__fuzz::{self, Walked};
use flowflex::{Attachment, Error};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::Value;

/// A payload tree; `Att` is a fresh attachment, `Shared(n)` the `n`th of a
/// few attachments used in several places.
#[derive(Debug, Clone)]
enum Node {
    Scalar(i64),
    Text(String),
    Att,
    Shared(usize),
    Arr(Vec<Node>),
    Obj(BTreeMap<String, Node>),
}

/// Keys with every character that means something in a flow path or a
/// JSON pointer, or nothing at all.
fn any_key() -> BoxedStrategy<String> {
    // A small vocabulary, so that `{"a.b": x, "a": {"b": y}}` comes up often.
    let clashing = prop::sample::select(vec!["a", "b", "a.b", "b.a", "a[0]", "[0]", "", "0"]);
    prop_oneof![
        3 => clashing.prop_map(str::to_owned),
        1 => "[a-z0-9._\\[\\]/~ ]{0,5}",
        1 => "\\PC{1,3}",
    ]
    .boxed()
}

/// Keys that cannot be mistaken for path syntax.
fn plain_key() -> BoxedStrategy<String> {
    "[A-Za-z0-9_ -]{1,6}".boxed()
}

/// Payload trees with keys from `key`; with `clashes`, also subtrees
/// `{"a.b": x, "a": {"b": y}}` where one flow path names two places.
fn tree(key: BoxedStrategy<String>, clashes: bool) -> impl Strategy<Value = Node> {
    let leaf = prop_oneof![
        1 => any::<i64>().prop_map(Node::Scalar),
        1 => "[a-z_]{0,8}".prop_map(Node::Text),
        3 => Just(Node::Att),
        1 => (0..3usize).prop_map(Node::Shared),
    ];
    leaf.prop_recursive(5, 48, 5, move |inner| {
        let arr = prop::collection::vec(inner.clone(), 0..5).prop_map(Node::Arr);
        let obj = prop::collection::btree_map(key.clone(), inner.clone(), 0..5).prop_map(Node::Obj);
        if !clashes {
            return prop_oneof![1 => arr, 3 => obj].boxed();
        }
        let clash = (inner.clone(), inner).prop_map(|(x, y)| {
            let nested = Node::Obj(BTreeMap::from([("b".to_owned(), y)]));
            Node::Obj(BTreeMap::from([
                ("a.b".to_owned(), x),
                ("a".to_owned(), nested),
            ]))
        });
        prop_oneof![1 => arr, 3 => obj, 1 => clash].boxed()
    })
    // A payload is an object.
    .prop_map(|n| match n {
        Node::Obj(_) => n,
        other => Node::Obj(BTreeMap::from([("root".to_owned(), other)])),
    })
}

/// The tree with real attachments, serializable as a payload.
struct Payload {
    root: Node,
    fresh: Vec<Attachment>,
    shared: Vec<Attachment>,
}

impl Payload {
    fn new(root: Node) -> Payload {
        let mut fresh = 0;
        count_fresh(&root, &mut fresh);
        Payload {
            root,
            fresh: (0..fresh)
                .map(|i| Attachment::from_bytes(format!("{i}\n").into_bytes(), format!("{i}.txt")))
                .collect(),
            shared: (0..3)
                .map(|i| Attachment::from_bytes(&b"shared\n"[..], format!("s{i}.txt")))
                .collect(),
        }
    }

    fn to_json(&self, node: &Node, next: &mut usize) -> Value {
        match node {
            Node::Scalar(n) => Value::from(*n),
            Node::Text(s) => Value::from(s.clone()),
            Node::Att => {
                *next += 1;
                serde_json::to_value(&self.fresh[*next - 1]).expect("a token")
            }
            Node::Shared(i) => serde_json::to_value(&self.shared[*i]).expect("a token"),
            Node::Arr(items) => items.iter().map(|n| self.to_json(n, next)).collect(),
            Node::Obj(map) => map
                .iter()
                .map(|(k, n)| (k.clone(), self.to_json(n, next)))
                .collect::<serde_json::Map<_, _>>()
                .into(),
        }
    }

    /// As `flowflex::json!` builds it: the JSON with each attachment's
    /// token, and the attachments themselves.
    fn value(&self) -> flowflex::Payload {
        flowflex::json!(self.to_json(&self.root, &mut 0))
    }
}

fn count_fresh(node: &Node, n: &mut usize) {
    match node {
        Node::Att => *n += 1,
        Node::Arr(items) => items.iter().for_each(|c| count_fresh(c, n)),
        Node::Obj(map) => map.values().for_each(|c| count_fresh(c, n)),
        _ => {}
    }
}

/// The flow path of each attachment place, by the naming rule, with which
/// attachment stands there (`None` for a fresh one).
fn expected_places(node: &Node, path: &str, out: &mut Vec<(String, Option<usize>)>) {
    match node {
        Node::Att => out.push((path.to_owned(), None)),
        Node::Shared(i) => out.push((path.to_owned(), Some(*i))),
        Node::Arr(items) => {
            for (i, c) in items.iter().enumerate() {
                expected_places(c, &format!("{path}[{i}]"), out);
            }
        }
        Node::Obj(map) => {
            for (k, c) in map {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                expected_places(c, &p, out);
            }
        }
        _ => {}
    }
}

/// The flow path of the place a JSON pointer names in `value`.
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
            other => panic!("pointer {pointer} goes through {other}"),
        }
    }
    path
}

/// The JSON pointer a flow path of plain keys names.
fn pointer_of_plain_path(path: &str) -> String {
    let mut pointer = String::new();
    for part in path.split('.') {
        let (key, indexes) = part.split_once('[').unwrap_or((part, ""));
        pointer.push('/');
        pointer.push_str(key);
        for index in indexes.split('[').filter(|i| !i.is_empty()) {
            pointer.push('/');
            pointer.push_str(index.trim_end_matches(']'));
        }
    }
    pointer
}

/// An attachment's token: NUL and 16 hex digits.
fn is_marker(v: &Value) -> bool {
    v.as_str().is_some_and(|s| {
        s.len() == 17 && s.starts_with('\0') && s[1..].bytes().all(|b| b.is_ascii_hexdigit())
    })
}

fn holds_marker(v: &Value) -> bool {
    is_marker(v)
        || match v {
            Value::Array(items) => items.iter().any(holds_marker),
            Value::Object(map) => map.values().any(holds_marker),
            _ => false,
        }
}

/// The properties, for one tree.
fn check(root: &Node) -> Result<(), TestCaseError> {
    let payload = Payload::new(root.clone());
    let value = payload.value();
    let mut expected = Vec::new();
    expected_places(root, "", &mut expected);
    // Two different attachments at one path must be refused.
    let mut owner: BTreeMap<&str, BTreeSet<Option<usize>>> = BTreeMap::new();
    for (path, who) in &expected {
        owner.entry(path).or_default().insert(*who);
    }
    let clash = expected
        .iter()
        .any(|(path, who)| who.is_none() && expected.iter().filter(|(p, _)| p == path).count() > 1)
        || owner.values().any(|w| w.len() > 1);

    let walked: Walked = match __fuzz::walk(&value) {
        Ok(w) => w,
        Err(Error::Payload { message }) if clash => {
            prop_assert!(message.contains("same flow path"), "{message}");
            return Ok(());
        }
        Err(e) => return Err(TestCaseError::fail(format!("refused: {e}"))),
    };
    prop_assert!(
        !clash,
        "two attachments share a path but the payload was accepted"
    );

    // Every attachment found once, where the naming rule says.
    let found: Vec<&str> = walked.slots.iter().map(|s| s.path.as_str()).collect();
    let mut want: Vec<&str> = expected.iter().map(|(p, _)| p.as_str()).collect();
    let mut got = found.clone();
    want.sort_unstable();
    got.sort_unstable();
    prop_assert_eq!(got, want);
    let shared_used: BTreeSet<usize> = expected.iter().filter_map(|(_, w)| *w).collect();
    prop_assert_eq!(walked.unique, payload.fresh.len() + shared_used.len());

    // A path names one attachment (the same one may stand at it twice), and
    // each path is the path of its pointer.
    let mut named: BTreeMap<&str, usize> = BTreeMap::new();
    for slot in &walked.slots {
        let first = *named.entry(&slot.path).or_insert(slot.unique);
        prop_assert_eq!(
            first,
            slot.unique,
            "one path, two attachments: {}",
            slot.path
        );
    }
    for slot in &walked.slots {
        prop_assert!(is_marker(
            walked
                .value
                .pointer(&slot.pointer)
                .expect("the pointer resolves")
        ));
        prop_assert_eq!(&path_of_pointer(&walked.value, &slot.pointer), &slot.path);
    }

    // After substitution, each path's id stands at its pointer; no marker is left.
    let (sent, ids) = __fuzz::substitute(&value).expect("substitutes");
    prop_assert!(!holds_marker(&sent));
    prop_assert_eq!(ids.len(), named.len());
    for slot in &walked.slots {
        prop_assert_eq!(
            sent.pointer(&slot.pointer).and_then(Value::as_str),
            Some(ids[&slot.path].as_str())
        );
    }
    let distinct_ids: BTreeSet<&String> = ids.values().collect();
    prop_assert_eq!(distinct_ids.len(), walked.unique);
    Ok(())
}

fn runner(cases: u32) -> TestRunner {
    TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    })
}

#[test]
fn paths_are_unique_and_name_where_each_asset_id_lands() {
    runner(512)
        .run(&tree(any_key(), true), |root| check(&root))
        .unwrap();
}

#[test]
fn plain_paths_round_trip_to_json_pointers() {
    runner(256)
        .run(&tree(plain_key(), false), |root| {
            let payload = Payload::new(root);
            let walked = __fuzz::walk(&payload.value())
                .map_err(|e| TestCaseError::fail(format!("plain keys cannot clash: {e}")))?;
            for slot in &walked.slots {
                prop_assert_eq!(&pointer_of_plain_path(&slot.path), &slot.pointer);
            }
            Ok(())
        })
        .unwrap();
}

/// End to end on a few trees: the event the emulator recorded holds each
/// `uploaded_assets` id at the place its path names.
#[test]
fn sent_events_hold_each_id_at_its_path() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let h = runtime.block_on(tests::Harness::start());
    runner(12)
        .run(&tree(plain_key(), false), |root| {
            let payload = Payload::new(root);
            runtime.block_on(async {
                h.emulator.clear_requests();
                let before = h.emulator.events().len();
                let sent = h.client.send_event("prop", payload.value()).await.unwrap();
                let events = h.emulator.events();
                prop_assert_eq!(events.len(), before + 1);
                let recorded = &events[before].payload;
                for (path, id) in &sent.uploaded_assets {
                    let at = recorded.pointer(&pointer_of_plain_path(path));
                    prop_assert_eq!(at.and_then(Value::as_str), Some(id.as_str()), "{}", path);
                    prop_assert!(h.emulator.asset(id.as_str()).unwrap().uploaded);
                }
                Ok(())
            })
        })
        .unwrap();
}

/// Any JSON value: every character in strings and keys (controls, quotes,
/// backslashes, astral planes), integers at both ends, finite floats.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter_map("finite", serde_json::Number::from_f64)
            .prop_map(Value::Number),
        any::<String>().prop_map(Value::String),
        "[\\\"\u{0}-\u{1f}a\u{7f}\u{2028}]{0,24}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(any::<String>(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A send writes its body with serde_json's serializer through a formatter
/// of its own (it notes where each attachment's token stands): the bytes
/// must be `serde_json::to_vec`'s.
#[test]
fn the_send_writer_writes_what_serde_json_writes() {
    #[derive(serde::Serialize)]
    struct Mixed {
        text: String,
        chars: Vec<char>,
        floats: Vec<f32>,
        keys: BTreeMap<i64, Option<u8>>,
        bytes: Vec<u8>,
        unit: (),
    }
    runner(1024)
        .run(&any_json(), |value| {
            let ours = __fuzz::written_json(&value).map_err(TestCaseError::fail)?;
            let theirs = serde_json::to_vec(&value).unwrap();
            prop_assert_eq!(
                String::from_utf8_lossy(&ours),
                String::from_utf8_lossy(&theirs)
            );
            Ok(())
        })
        .unwrap();
    let mixed = (
        any::<String>(),
        prop::collection::vec(any::<char>(), 0..4),
        prop::collection::vec(any::<f32>(), 0..4),
        prop::collection::btree_map(any::<i64>(), any::<Option<u8>>(), 0..4),
        prop::collection::vec(any::<u8>(), 0..4),
    );
    runner(512)
        .run(&mixed, |(text, chars, floats, keys, bytes)| {
            let value = Mixed {
                text,
                chars,
                floats,
                keys,
                bytes,
                unit: (),
            };
            let ours = __fuzz::written_json(&value).map_err(TestCaseError::fail)?;
            prop_assert_eq!(ours, serde_json::to_vec(&value).unwrap());
            Ok(())
        })
        .unwrap();
}
