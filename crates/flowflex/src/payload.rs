//! Payloads: a JSON value and the attachments it holds, owned together.
//!
//! An [`Attachment`] serializes to a *token* (token.rs), a string naming the
//! attachment's random key. The token names a file only to the payload that
//! holds the attachment itself; text that reads like a token but whose key
//! the payload does not hold is refused, so JSON from outside can never
//! name a local file or memory to upload.
//!
//! While a payload is being built (`flowflex::json!`, [`Payload::from_serialize`],
//! a send's encode), serialization runs inside [`collecting`], which records
//! each attachment serialized on this thread, for the length of that one
//! synchronous call. Of the records, the files the JSON names move into the
//! [`Payload`] (one serialized and then overwritten is dropped); nothing
//! stays behind on the thread or in the process, and dropping the payload
//! frees every file, buffer and reader it held.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::fmt;

use serde::ser::{Serialize, Serializer};
use serde_json::{Map, Value};

use crate::attachment::Attachment;
use crate::error::{Error, Result};
use crate::formatter;
use crate::mime::Mime;
use crate::slots::{Keys, Slots};
use crate::token;

/// The key of a preview placeholder.
const PLACEHOLDER: &str = "$attachment";

// ------------------------------------------------------------------ tokens

thread_local! {
    static COLLECTING: RefCell<Option<Vec<Attachment>>> = const { RefCell::new(None) };
    /// Whether `COLLECTING` holds a recording: a plain flag, cheaper to
    /// read on every attachment serialized than the `RefCell`.
    static RECORDING: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f`, recording every attachment serialized on this thread while it
/// runs. Nested calls each record their own; the previous recording is put
/// back when `f` returns or panics.
pub(crate) fn collecting<R>(f: impl FnOnce() -> R) -> (R, Vec<Attachment>) {
    struct Restore(Option<Vec<Attachment>>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let previous = self.0.take();
            RECORDING.with(|r| r.set(previous.is_some()));
            COLLECTING.with(|c| *c.borrow_mut() = previous);
        }
    }
    let restore = Restore(COLLECTING.with(|c| c.borrow_mut().replace(Vec::new())));
    RECORDING.with(|r| r.set(true));
    let out = f();
    let found = COLLECTING
        .with(|c| c.borrow_mut().take())
        .unwrap_or_default();
    drop(restore);
    (out, found)
}

/// Whether a recording is running on this thread (tests of the cleanup).
#[cfg(test)]
pub(crate) fn is_collecting() -> bool {
    COLLECTING.with(|c| c.borrow().is_some())
}

impl Serialize for Attachment {
    /// Writes the attachment's token. Never fails: inside a plain
    /// `serde_json::json!` the token is inert text, refused by a send with a
    /// message naming `flowflex::json!`.
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        if RECORDING.with(Cell::get) {
            COLLECTING.with(|c| {
                if let Ok(mut c) = c.try_borrow_mut() {
                    if let Some(found) = c.as_mut() {
                        found.push(self.clone());
                    }
                }
            });
        }
        // A send's formatter knows it by its text (formatter.rs).
        serializer.serialize_str(self.token())
    }
}

/// The attachments of `found` that `value` names, each file once, in the
/// order `value` first names them: a file serialized and then overwritten
/// (`{"a": file, "a": null}`) is not held.
fn referenced(value: &Value, found: Vec<Attachment>) -> Vec<Attachment> {
    if found.is_empty() {
        return found;
    }
    let mut found: HashMap<u64, Attachment> = found.into_iter().map(|a| (a.key(), a)).collect();
    keys_in(value)
        .into_iter()
        .filter_map(|key| found.remove(&key))
        .collect()
}

// ----------------------------------------------------------------- payload

/// An event payload: a JSON object and the attachments in it, owned
/// together. Build one with [`flowflex::json!`](crate::json), as you would a
/// `serde_json::json!` value:
///
/// ```
/// use flowflex::Attachment;
///
/// let invoice = Attachment::from_bytes(&b"%PDF-1.7 ..."[..], "invoice.pdf");
/// let payload = flowflex::json!({
///     "invoice": invoice,
///     "gallery": [
///         Attachment::from_bytes(&b"\xff\xd8\xff\xe0...."[..], "a.jpg"),
///         Attachment::from_bytes(&b"\xff\xd8\xff\xe0...."[..], "b.jpg"),
///     ],
///     "note": "passes through",
/// });
/// assert_eq!(payload.attachment_paths().unwrap(), ["gallery[0]", "gallery[1]", "invoice"]);
/// // Debug and Display show each file as a placeholder, never its bytes:
/// assert_eq!(
///     payload.to_string(),
///     r#"{"gallery":[{"$attachment":{"filename":"a.jpg","mime":"image/jpeg","size":8}},{"$attachment":{"filename":"b.jpg","mime":"image/jpeg","size":8}}],"invoice":{"$attachment":{"filename":"invoice.pdf","mime":"application/pdf","size":12}},"note":"passes through"}"#
/// );
/// ```
///
/// A payload can be sent any number of times, each send uploading afresh:
/// files and bytes always; a reader until an upload has streamed it.
/// Bytes are shared, never copied ([`bytes::Bytes`]); dropping the payload
/// frees them.
#[derive(Clone)]
pub struct Payload {
    value: Value,
    /// Each file `value` names, once, in the order it first names them.
    attachments: Vec<Attachment>,
}

impl Payload {
    /// An empty object, `{}`.
    ///
    /// ```
    /// let mut payload = flowflex::Payload::new();
    /// payload.insert("order_id", 42).unwrap();
    /// assert_eq!(payload.to_string(), r#"{"order_id":42}"#);
    /// ```
    #[must_use]
    pub fn new() -> Payload {
        Payload {
            value: Value::Object(Map::new()),
            attachments: Vec::new(),
        }
    }

    /// Any `Serialize` value (a struct, a map, a `serde_json::Value`, a
    /// [`Payload`]), with the attachments inside it.
    ///
    /// ```
    /// use flowflex::{Attachment, Payload};
    ///
    /// #[derive(serde::Serialize)]
    /// struct Shipped { label: Attachment, order_id: u64 }
    ///
    /// let payload = Payload::from_serialize(&Shipped {
    ///     label: Attachment::from_bytes(&b"\x89PNG\r\n\x1a\n"[..], "label.png"),
    ///     order_id: 42,
    /// }).unwrap();
    /// assert_eq!(payload.attachment_paths().unwrap(), ["label"]);
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::Payload`] if the value does not serialize to JSON (a map
    /// with non-string keys, a `Serialize` impl that fails).
    pub fn from_serialize<T: Serialize + ?Sized>(value: &T) -> Result<Payload> {
        #[cfg(feature = "fuzzing")]
        counts::VALUE_TREES.with(|n| n.set(n.get() + 1));
        let (value, found) = collecting(|| serde_json::to_value(value));
        let value = value.map_err(|e| {
            Error::payload(format!(
                "it does not serialize to JSON ({e}); attachments can only be values, never map keys"
            ))
        })?;
        Ok(Payload {
            attachments: referenced(&value, found),
            value,
        })
    }

    /// Used by `flowflex::json!`: the value `build` makes, with the
    /// attachments serialized while making it.
    #[doc(hidden)]
    pub fn __from_json(build: impl FnOnce() -> Value) -> Payload {
        let (value, found) = collecting(build);
        Payload {
            attachments: referenced(&value, found),
            value,
        }
    }

    /// Sets `key` to `value` (any `Serialize`, attachments included), as a
    /// Python dict's `payload[key] = value`. A payload that is not an object
    /// becomes one.
    ///
    /// ```
    /// use flowflex::{Attachment, Payload};
    ///
    /// let mut payload = Payload::new();
    /// payload.insert("invoice", Attachment::from_bytes(&b"%PDF-1.7"[..], "invoice.pdf"))?;
    /// payload.insert("customer_id", "cust_123")?;
    /// assert_eq!(payload.attachment_paths()?, ["invoice"]);
    /// # Ok::<(), flowflex::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::Payload`] if `value` does not serialize to JSON.
    pub fn insert(
        &mut self,
        key: impl Into<String>,
        value: impl Serialize,
    ) -> Result<&mut Payload> {
        let part = Payload::from_serialize(&value)?;
        if !self.value.is_object() {
            self.value = Value::Object(Map::new());
        }
        if let Value::Object(map) = &mut self.value {
            map.insert(key.into(), part.value);
        }
        self.attachments.extend(part.attachments);
        // A replaced key may have held the only use of a file.
        self.attachments = referenced(&self.value, std::mem::take(&mut self.attachments));
        Ok(self)
    }

    /// The attachments: each file the JSON names, once, in the order the
    /// JSON first names them. A file serialized and then overwritten is not
    /// held, however the payload was built.
    ///
    /// ```
    /// let invoice = flowflex::Attachment::from_bytes(&b"%PDF-1.7"[..], "invoice.pdf");
    /// let payload = flowflex::json!({"a": invoice.clone(), "b": invoice.clone()});
    /// assert_eq!(payload.attachments().len(), 1); // one file, used twice
    /// let replaced = flowflex::json!({"a": invoice, "a": null});
    /// assert!(replaced.attachments().is_empty());
    /// ```
    #[must_use]
    pub fn attachments(&self) -> &[Attachment] {
        &self.attachments
    }

    /// The flow path of every attachment (`invoice`, `gallery[0]`,
    /// `order.receipt`), as a send reports them in
    /// [`uploaded_assets`](crate::SendEventResult::uploaded_assets).
    ///
    /// # Errors
    ///
    /// [`Error::Payload`] if the payload cannot be sent: not a JSON object,
    /// too deep, two attachments at one path, or an attachment it does not
    /// hold (one put in a plain `serde_json::json!`).
    pub fn attachment_paths(&self) -> Result<Vec<String>> {
        Ok(self.slots()?.iter().map(|s| s.path.to_owned()).collect())
    }

    /// The payload as JSON, each attachment shown as the placeholder
    /// `{"$attachment": {"filename", "mime", "size"}}`: for snapshot tests
    /// and logs; no id, no local path, no content.
    ///
    /// ```
    /// let payload = flowflex::json!({
    ///     "label": flowflex::Attachment::from_bytes(&b"\x89PNG\r\n\x1a\n"[..], "label.png"),
    /// });
    /// assert_eq!(payload.preview()["label"]["$attachment"]["mime"], "image/png");
    /// ```
    #[must_use]
    pub fn preview(&self) -> Value {
        let index: Keys = self.attachments.iter().map(Attachment::key).collect();
        let mut value = self.value.clone();
        replace_tokens(&mut value, &|key| {
            index.get(key).map(|i| placeholder(&self.attachments[i]))
        });
        value
    }

    /// The JSON, each attachment as its token.
    #[cfg(feature = "fuzzing")]
    pub(crate) fn value(&self) -> &Value {
        &self.value
    }

    /// Where each attachment stands: its flow path and its index in
    /// `attachments`, in document order. Checks that the payload can be
    /// sent, as a send writes it.
    pub(crate) fn slots(&self) -> Result<Slots> {
        let (_, noted) = formatter::write_payload(&self.value)?;
        // The payload holds each file its JSON names, in the order named:
        // the `i`th key written is the `i`th file, unless a token names a
        // file the payload does not hold.
        for (i, key) in noted.keys.as_slice().iter().enumerate() {
            if self.attachments.get(i).map(Attachment::key) != Some(*key) {
                let path = noted.slots.iter().find(|s| s.index == i).map(|s| s.path);
                return Err(unknown_token(path.unwrap_or_default()));
            }
        }
        Ok(noted.slots)
    }
}

impl Default for Payload {
    fn default() -> Self {
        Payload::new()
    }
}

impl Serialize for Payload {
    /// The JSON with tokens: inside `flowflex::json!` (or any payload being
    /// built) the attachments come along.
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        #[cfg(feature = "fuzzing")]
        counts::PAYLOAD_SERIALIZATIONS.with(|n| n.set(n.get() + 1));
        COLLECTING.with(|c| {
            if let Ok(mut c) = c.try_borrow_mut() {
                if let Some(found) = c.as_mut() {
                    found.extend(self.attachments.iter().cloned());
                }
            }
        });
        self.value.serialize(serializer)
    }
}

impl fmt::Debug for Payload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Payload({})", self.preview())
    }
}

impl fmt::Display for Payload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.preview(), f)
    }
}

/// Builds a [`Payload`] from JSON syntax, as `serde_json::json!` does, with
/// every [`Attachment`](crate::Attachment) in it owned by the payload.
///
/// ```
/// use flowflex::Attachment;
///
/// let pdf = std::fs::read("tests/fixtures/invoice.pdf").unwrap_or_else(|_| b"%PDF-1.7".to_vec());
/// let payload = flowflex::json!({
///     "invoice": Attachment::from_bytes(pdf, "invoice.pdf"),
///     "order": {"id": 42, "items": ["book", "pen"]},
/// });
/// assert_eq!(payload.attachment_paths().unwrap(), ["invoice"]);
/// ```
///
/// Attachments in a plain `serde_json::json!` value cannot be sent: the
/// value holds only their tokens, and a send refuses it with a message
/// pointing here.
#[macro_export]
macro_rules! json {
    ($($json:tt)+) => {
        $crate::Payload::__from_json(|| $crate::__private::serde_json::json!($($json)+))
    };
}

// ------------------------------------------------------------------- walk

/// The error for a token whose attachment the payload does not hold.
pub(crate) fn unknown_token(path: &str) -> Error {
    Error::payload(format!(
        "the value at `{}` is an attachment this payload does not hold: an Attachment put in a plain serde_json::json! value is only text, so build the payload with flowflex::json!(..) (same syntax) or Payload::from_serialize; JSON from outside can never name a file to upload",
        crate::redact::printable(path, 200)
    ))
}

/// Every token key in `v`, in document order (repeats included).
fn keys_in(v: &Value) -> Vec<u64> {
    fn go(v: &Value, out: &mut Vec<u64>) {
        match v {
            Value::String(s) => out.extend(token::key_of(s)),
            Value::Object(map) => map.values().for_each(|c| go(c, out)),
            Value::Array(items) => items.iter().for_each(|c| go(c, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    go(v, &mut out);
    out
}

/// Replaces each token `shown` knows with what it returns.
fn replace_tokens(v: &mut Value, shown: &dyn Fn(u64) -> Option<Value>) {
    fn go(v: &mut Value, shown: &dyn Fn(u64) -> Option<Value>, depth: usize) {
        if depth > formatter::MAX_DEPTH {
            return;
        }
        match v {
            Value::String(s) => {
                if let Some(replacement) = token::key_of(s).and_then(shown) {
                    *v = replacement;
                }
            }
            Value::Object(map) => map.values_mut().for_each(|c| go(c, shown, depth + 1)),
            Value::Array(items) => items.iter_mut().for_each(|c| go(c, shown, depth + 1)),
            _ => {}
        }
    }
    go(v, shown, 0);
}

fn placeholder(a: &Attachment) -> Value {
    let size = a.size_hint().or_else(|| {
        a.path()
            .and_then(|p| std::fs::metadata(p).ok())
            .map(|m| m.len())
    });
    serde_json::json!({
        PLACEHOLDER: {
            "filename": a.filename(),
            "mime": a.mime().map(Mime::as_str),
            "size": size,
        }
    })
}

/// The payload as JSON, each attachment shown as a stable placeholder
/// `{"$attachment": {"filename", "mime", "size"}}`: no id, no local path.
///
/// Made for snapshot tests of event shapes:
///
/// ```
/// use flowflex::Attachment;
///
/// let preview = flowflex::preview(&flowflex::json!({
///     "invoice": Attachment::from_bytes(&b"%PDF-1.7"[..], "invoice.pdf"),
/// })).unwrap();
/// assert_eq!(preview["invoice"]["$attachment"]["mime"], "application/pdf");
/// assert_eq!(preview["invoice"]["$attachment"]["size"], 8);
/// ```
///
/// # Errors
///
/// [`Error::Payload`] if the value does not serialize to JSON, or holds an
/// attachment put in a plain `serde_json::json!` (use `flowflex::json!`).
pub fn preview<T: Serialize + ?Sized>(payload: &T) -> Result<Value> {
    let payload = Payload::from_serialize(payload)?;
    // The same checks as a send, so a preview that passes is sendable.
    payload.slots()?;
    Ok(payload.preview())
}

/// How often a payload's JSON was serialized, or a tree built from a
/// value, on this thread: for the tests that prove a send does each once.
#[cfg(feature = "fuzzing")]
pub(crate) mod counts {
    use std::cell::Cell;

    thread_local! {
        pub(crate) static PAYLOAD_SERIALIZATIONS: Cell<usize> = const { Cell::new(0) };
        pub(crate) static VALUE_TREES: Cell<usize> = const { Cell::new(0) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_payload_holds_the_files_its_json_names_however_built() {
        let a = Attachment::from_bytes(&b"x"[..], "a.txt");
        let b = Attachment::from_bytes(&b"y"[..], "b.txt");
        let keys = |p: &Payload| {
            p.attachments()
                .iter()
                .map(Attachment::key)
                .collect::<Vec<_>>()
        };
        // Replaced while building, by the macro or by a value's Serialize.
        let json =
            crate::json!({"": a.clone(), "": null, "z": b.clone(), "y": [b.clone(), a.clone()]});
        assert_eq!(
            keys(&json),
            [b.key(), a.key()],
            "in the order the JSON names them"
        );
        struct Twice<'a>(&'a Attachment);
        impl Serialize for Twice<'_> {
            fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
                use serde::ser::SerializeMap as _;
                let mut map = s.serialize_map(None)?;
                map.serialize_entry("k", self.0)?;
                map.serialize_entry("k", &())?;
                map.end()
            }
        }
        assert!(
            Payload::from_serialize(&Twice(&a))
                .unwrap()
                .attachments()
                .is_empty()
        );
        let mut inserted = Payload::new();
        inserted.insert("k", &a).unwrap().insert("k", 1).unwrap();
        assert!(inserted.attachments().is_empty());
        // A payload inside a payload brings only what it names.
        let outer = crate::json!({"inner": json, "other": null});
        assert_eq!(keys(&outer), [b.key(), a.key()]);
        assert_eq!(
            outer.attachment_paths().unwrap(),
            ["inner.y[0]", "inner.y[1]", "inner.z"]
        );
    }

    #[test]
    fn collecting_cleans_up_after_a_panic_and_nests() {
        let a = Attachment::from_bytes(&b"x"[..], "a.txt");
        let caught = std::panic::catch_unwind(|| {
            collecting(|| {
                let _ = serde_json::to_value(&a);
                panic!("a user's Serialize impl panics");
            })
        });
        assert!(caught.is_err());
        assert!(!is_collecting(), "a panic leaves no recording behind");
        let ((inner, found_inner), found_outer) = collecting(|| {
            let _ = serde_json::to_value(&a);
            collecting(|| serde_json::to_value(&a))
        });
        assert!(inner.is_ok());
        assert_eq!((found_inner.len(), found_outer.len()), (1, 1));
        assert!(!is_collecting());
        // Outside a recording, serializing records nothing anywhere.
        let _ = serde_json::to_value(&a);
        assert!(!is_collecting());
    }
}
