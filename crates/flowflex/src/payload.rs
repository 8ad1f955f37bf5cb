//! Finding attachments in any `Serialize` payload and putting asset ids in
//! their place.
//!
//! An [`Attachment`] serializes to a *marker*, a one-key JSON object, which the
//! walker below finds after the payload became a `serde_json::Value`:
//!
//! * Inside a send the payload is serialized on the current thread with a
//!   collector installed: the marker is an index into that collector plus a
//!   per-send random nonce, so the attachment itself (not a copy) is uploaded.
//! * Outside a send (`serde_json::json!` serializes its values right away) the
//!   marker describes the file itself, signed with a per-process HMAC key, so
//!   a `Value` stays self-contained and can be sent any number of times. The
//!   signature means a marker arriving from untrusted JSON cannot make the SDK
//!   upload a local file: only markers this process wrote are honoured.
//! * In a preview the marker is a stable placeholder (name, type, size).

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::{Mutex, OnceLock, PoisonError};

use base64::Engine as _;
use bytes::Bytes;
use hmac::{Hmac, Mac};
use serde::ser::{Error as _, SerializeMap, Serializer};
use serde_json::{Map, Value};
use sha2::Sha256;
use uuid::Uuid;

use crate::attachment::{Attachment, Source};
use crate::error::{Error, Result};
use crate::mime::Mime;

/// The key of a marker object.
const MARKER: &str = "$flowflex:attachment";
/// The key of a preview placeholder.
const PLACEHOLDER: &str = "$attachment";
/// Deeper payloads are refused rather than risk the stack.
const MAX_DEPTH: usize = 256;

enum Mode {
    Collect { nonce: u128, items: Vec<Attachment> },
    Preview,
}

thread_local! {
    static MODE: RefCell<Option<Mode>> = const { RefCell::new(None) };
}

/// Restores the previous mode when dropped, even if serialization panics.
struct ModeGuard(Option<Mode>);

impl ModeGuard {
    fn set(mode: Mode) -> Self {
        ModeGuard(MODE.with(|m| m.borrow_mut().replace(mode)))
    }

    fn finish(mut self) -> Option<Mode> {
        let previous = self.0.take();
        MODE.with(|m| std::mem::replace(&mut *m.borrow_mut(), previous))
    }
}

impl Drop for ModeGuard {
    fn drop(&mut self) {
        let previous = self.0.take();
        MODE.with(|m| *m.borrow_mut() = previous);
    }
}

impl serde::Serialize for Attachment {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        enum Emit {
            Collected(u128, usize),
            Preview,
            Detached,
        }
        let emit = MODE.with(|m| match &mut *m.borrow_mut() {
            Some(Mode::Collect { nonce, items }) => {
                items.push(self.clone());
                Emit::Collected(*nonce, items.len() - 1)
            }
            Some(Mode::Preview) => Emit::Preview,
            None => Emit::Detached,
        });
        let mut map = serializer.serialize_map(Some(1))?;
        match emit {
            Emit::Collected(nonce, index) => {
                let nonce = format!("{nonce:032x}");
                map.serialize_entry(
                    MARKER,
                    &CollectedMarker {
                        index,
                        nonce: &nonce,
                    },
                )?;
            }
            Emit::Preview => {
                map.serialize_entry(PLACEHOLDER, &placeholder(self))?;
            }
            Emit::Detached => {
                let marker = detached_marker(self).map_err(S::Error::custom)?;
                map.serialize_entry(MARKER, &marker)?;
            }
        }
        map.end()
    }
}

/// The marker of an attachment collected by a send (a struct, not `json!`:
/// this runs for every attachment of every send).
#[derive(serde::Serialize)]
struct CollectedMarker<'a> {
    #[serde(rename = "ref")]
    index: usize,
    nonce: &'a str,
}

fn placeholder(a: &Attachment) -> Value {
    let size = a.size_hint().or_else(|| {
        a.path()
            .and_then(|p| std::fs::metadata(p).ok())
            .map(|m| m.len())
    });
    serde_json::json!({
        "filename": a.filename(),
        "mime": a.mime().map(Mime::as_str),
        "size": size,
    })
}

// ---------------------------------------------------------------- detached

fn mac_key() -> &'static [u8; 32] {
    static KEY: OnceLock<[u8; 32]> = OnceLock::new();
    KEY.get_or_init(|| {
        let mut key = [0u8; 32];
        key[..16].copy_from_slice(Uuid::new_v4().as_bytes());
        key[16..].copy_from_slice(Uuid::new_v4().as_bytes());
        key
    })
}

/// Readers cannot be written into JSON: a detached reader marker names an
/// entry here, taken (once) by the send that resolves it.
fn readers() -> &'static Mutex<HashMap<Uuid, Attachment>> {
    static READERS: OnceLock<Mutex<HashMap<Uuid, Attachment>>> = OnceLock::new();
    READERS.get_or_init(Mutex::default)
}

/// The HMAC of a marker's fields, each length-prefixed so that no two field
/// lists hash alike.
fn mac_of(fields: &[&str]) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(mac_key()).expect("HMAC takes any key length");
    for field in fields {
        mac.update(&(field.len() as u64).to_le_bytes());
        mac.update(field.as_bytes());
    }
    mac
}

fn sign(fields: &[&str]) -> String {
    hex::encode(mac_of(fields).finalize().into_bytes())
}

fn verify(fields: &[&str], tag: &str) -> bool {
    hex::decode(tag).is_ok_and(|tag| mac_of(fields).verify_slice(&tag).is_ok())
}

fn detached_marker(a: &Attachment) -> std::result::Result<Value, String> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let (kind, data) = match a.source() {
        Source::Path(path) => match path.to_str() {
            Some(p) => ("path", p.to_owned()),
            None => ("path_b64", b64.encode(os_bytes(path)?)),
        },
        Source::Bytes(bytes) => ("bytes", b64.encode(bytes)),
        Source::Reader(_) => {
            readers()
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(a.id(), a.clone());
            ("reader", String::new())
        }
    };
    let (filename, mime, size) = a.explicit_parts();
    let id = a.id().to_string();
    let filename = filename.unwrap_or_default().to_owned();
    let mime = mime.map(Mime::as_str).unwrap_or_default();
    let size = size.map(|s| s.to_string()).unwrap_or_default();
    let tag = sign(&[&id, kind, &data, &filename, mime, &size]);
    Ok(serde_json::json!({
        "id": id, "kind": kind, "data": data,
        "filename": filename, "mime": mime, "size": size, "mac": tag,
    }))
}

#[cfg(unix)]
fn os_bytes(path: &std::path::Path) -> std::result::Result<Vec<u8>, String> {
    use std::os::unix::ffi::OsStrExt;
    Ok(path.as_os_str().as_bytes().to_vec())
}

#[cfg(not(unix))]
fn os_bytes(path: &std::path::Path) -> std::result::Result<Vec<u8>, String> {
    Err(format!(
        "the path {} is not valid Unicode: rename the file",
        path.display()
    ))
}

#[cfg(unix)]
fn path_from_bytes(bytes: Vec<u8>) -> Option<std::path::PathBuf> {
    use std::os::unix::ffi::OsStringExt;
    Some(std::ffi::OsString::from_vec(bytes).into())
}

#[cfg(not(unix))]
fn path_from_bytes(_: Vec<u8>) -> Option<std::path::PathBuf> {
    None
}

fn field<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    obj.get(key).and_then(Value::as_str)
}

fn resolve_detached(obj: &Map<String, Value>) -> Option<Attachment> {
    let id = field(obj, "id")?;
    let kind = field(obj, "kind")?;
    let data = field(obj, "data")?;
    let filename = field(obj, "filename")?;
    let mime = field(obj, "mime")?;
    let size = field(obj, "size")?;
    if !verify(&[id, kind, data, filename, mime, size], field(obj, "mac")?) {
        return None;
    }
    let id: Uuid = id.parse().ok()?;
    let b64 = base64::engine::general_purpose::STANDARD;
    let source = match kind {
        "path" => Source::Path(data.into()),
        "path_b64" => Source::Path(path_from_bytes(b64.decode(data).ok()?)?),
        "bytes" => Source::Bytes(Bytes::from(b64.decode(data).ok()?)),
        "reader" => {
            return readers()
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(&id);
        }
        _ => return None,
    };
    Some(Attachment::from_parts(
        id,
        source,
        (!filename.is_empty()).then(|| filename.to_owned()),
        mime.parse().ok(),
        size.parse().ok(),
    ))
}

// ------------------------------------------------------------------ walker

/// A payload as JSON, with the attachments it holds.
#[derive(Debug)]
pub(crate) struct Collected {
    pub(crate) value: Value,
    /// Every place an attachment stands, in document order.
    pub(crate) slots: Vec<Slot>,
    /// The distinct attachments (clones count once), in order of first use.
    pub(crate) unique: Vec<Attachment>,
}

#[derive(Debug)]
pub(crate) struct Slot {
    /// The flow path: `invoice`, `gallery[0]`, `order.receipt`.
    pub(crate) path: String,
    /// Where it is in `value`, as a JSON pointer.
    pub(crate) pointer: String,
    /// Index into [`Collected::unique`].
    pub(crate) unique: usize,
}

impl Collected {
    /// Serializes `payload` and finds its attachments.
    pub(crate) fn from_payload<T: serde::Serialize + ?Sized>(payload: &T) -> Result<Self> {
        let nonce = u128::from_le_bytes(*Uuid::new_v4().as_bytes());
        let guard = ModeGuard::set(Mode::Collect {
            nonce,
            items: Vec::new(),
        });
        let value = serde_json::to_value(payload);
        let items = match guard.finish() {
            Some(Mode::Collect { items, .. }) => items,
            _ => Vec::new(),
        };
        let value = value.map_err(|e| {
            Error::payload(format!(
                "it does not serialize to JSON ({e}); attachments can only be values, never map keys"
            ))
        })?;
        if !value.is_object() {
            return Err(Error::payload(format!(
                "an event payload must be a JSON object (a struct or a map), got {}: wrap the value in an object, e.g. {{\"value\": ..}}",
                kind_of(&value)
            )));
        }
        if marker_of(&value).is_some() {
            return Err(Error::payload(
                "the payload itself is an attachment: put it under a key, e.g. {\"file\": attachment}",
            ));
        }
        let mut walker = Walker {
            nonce: format!("{nonce:032x}"),
            items,
            slots: Vec::new(),
            unique: Vec::new(),
        };
        walker.walk(&value, &mut String::new(), &mut String::new(), 0)?;
        check_paths_distinct(&walker.slots)?;
        Ok(Collected {
            value,
            slots: walker.slots,
            unique: walker.unique,
        })
    }
}

/// Two different attachments at the same flow path (`{"x.y": a, "x": {"y": b}}`)
/// would be one entry of `uploaded_assets` and one `{{trigger.x.y}}`: refused
/// rather than silently losing one.
fn check_paths_distinct(slots: &[Slot]) -> Result<()> {
    let mut seen: HashMap<&str, usize> = HashMap::with_capacity(slots.len());
    for slot in slots {
        match seen.insert(&slot.path, slot.unique) {
            Some(other) if other != slot.unique => {
                return Err(Error::payload(format!(
                    "two different attachments have the same flow path `{}` (a key containing '.' or '[' reads like nesting): rename one of the keys",
                    crate::redact::printable(&slot.path, 200)
                )));
            }
            _ => {}
        }
    }
    Ok(())
}

/// Builds the list of distinct attachments while walking.
struct Walker {
    /// The send's nonce, as its markers write it.
    nonce: String,
    items: Vec<Attachment>,
    slots: Vec<Slot>,
    unique: Vec<Attachment>,
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn marker_of(v: &Value) -> Option<&Map<String, Value>> {
    match v {
        Value::Object(map) if map.len() == 1 => map.get(MARKER)?.as_object(),
        _ => None,
    }
}

impl Walker {
    fn walk(
        &mut self,
        v: &Value,
        path: &mut String,
        pointer: &mut String,
        depth: usize,
    ) -> Result<()> {
        if depth > MAX_DEPTH {
            return Err(Error::payload(format!(
                "it is nested deeper than {MAX_DEPTH} levels at `{path}`: flatten it"
            )));
        }
        if let Some(marker) = marker_of(v) {
            let attachment = self.resolve(marker, path)?;
            let unique = match self.unique.iter().position(|u| u.same_file(&attachment)) {
                Some(i) => i,
                None => {
                    self.unique.push(attachment);
                    self.unique.len() - 1
                }
            };
            self.slots.push(Slot {
                path: path.clone(),
                pointer: pointer.clone(),
                unique,
            });
            return Ok(());
        }
        match v {
            Value::Object(map) => {
                for (key, child) in map {
                    let (pl, ol) = (path.len(), pointer.len());
                    if !path.is_empty() {
                        path.push('.');
                    }
                    path.push_str(key);
                    pointer.push('/');
                    if key.contains(['~', '/']) {
                        pointer.push_str(&key.replace('~', "~0").replace('/', "~1"));
                    } else {
                        pointer.push_str(key);
                    }
                    self.walk(child, path, pointer, depth + 1)?;
                    path.truncate(pl);
                    pointer.truncate(ol);
                }
            }
            Value::Array(items) => {
                for (i, child) in items.iter().enumerate() {
                    let (pl, ol) = (path.len(), pointer.len());
                    let _ = write!(path, "[{i}]");
                    let _ = write!(pointer, "/{i}");
                    self.walk(child, path, pointer, depth + 1)?;
                    path.truncate(pl);
                    pointer.truncate(ol);
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn resolve(&self, marker: &Map<String, Value>, path: &str) -> Result<Attachment> {
        if let Some(index) = marker.get("ref").and_then(Value::as_u64) {
            let nonce_ok = field(marker, "nonce") == Some(self.nonce.as_str());
            return usize::try_from(index)
                .ok()
                .and_then(|i| self.items.get(i))
                .filter(|_| nonce_ok)
                .cloned()
                .ok_or_else(|| forged(path));
        }
        if field(marker, "kind") == Some("reader") {
            return resolve_detached(marker).ok_or_else(|| {
                Error::payload(format!(
                    "the reader attachment at `{path}` was already taken by an earlier send: a reader can be sent once; build the payload again, or use Attachment::from_path / from_bytes"
                ))
            });
        }
        resolve_detached(marker).ok_or_else(|| forged(path))
    }
}

fn forged(path: &str) -> Error {
    Error::payload(format!(
        "the value at `{path}` looks like an attachment marker but was not written by this process (markers are signed): build attachments with flowflex::Attachment, never from JSON input"
    ))
}

impl Collected {
    /// Puts each asset id where its attachment stood and returns the path map.
    pub(crate) fn substitute(
        &mut self,
        ids: &[crate::AssetId],
    ) -> BTreeMap<String, crate::AssetId> {
        let mut uploaded = BTreeMap::new();
        for slot in &self.slots {
            let id = &ids[slot.unique];
            if let Some(place) = self.value.pointer_mut(&slot.pointer) {
                *place = Value::String(id.as_str().to_owned());
            }
            uploaded.insert(slot.path.clone(), id.clone());
        }
        uploaded
    }
}

/// The payload as JSON, each attachment shown as a stable placeholder
/// `{"$attachment": {"filename", "mime", "size"}}`: no id, no local path.
///
/// Made for snapshot tests of event shapes:
///
/// ```
/// use flowflex::Attachment;
///
/// let payload = serde_json::json!({"note": "hi"});
/// let preview = flowflex::preview(&serde_json::json!({
///     "invoice": Attachment::from_bytes(&b"%PDF-1.7"[..], "invoice.pdf"),
/// })).unwrap();
/// assert_eq!(preview["invoice"]["$attachment"]["mime"], "application/pdf");
/// assert_eq!(preview["invoice"]["$attachment"]["size"], 8);
/// # let _ = payload;
/// ```
pub fn preview<T: serde::Serialize + ?Sized>(payload: &T) -> Result<Value> {
    let guard = ModeGuard::set(Mode::Preview);
    let value = serde_json::to_value(payload);
    drop(guard);
    let mut value =
        value.map_err(|e| Error::payload(format!("it does not serialize to JSON ({e})")))?;
    // Markers written earlier (by `json!`) become placeholders too.
    replace_detached(&mut value, 0);
    Ok(value)
}

fn replace_detached(v: &mut Value, depth: usize) {
    if depth > MAX_DEPTH {
        return;
    }
    if let Some(marker) = marker_of(v) {
        if let Some(a) = resolve_detached_peek(marker) {
            *v = serde_json::json!({ PLACEHOLDER: placeholder(&a) });
        }
        return;
    }
    match v {
        Value::Object(map) => map
            .values_mut()
            .for_each(|c| replace_detached(c, depth + 1)),
        Value::Array(items) => items
            .iter_mut()
            .for_each(|c| replace_detached(c, depth + 1)),
        _ => {}
    }
}

/// Like [`resolve_detached`] but leaves readers registered.
fn resolve_detached_peek(marker: &Map<String, Value>) -> Option<Attachment> {
    if field(marker, "kind") == Some("reader") {
        let id: Uuid = field(marker, "id")?.parse().ok()?;
        return readers()
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&id)
            .cloned();
    }
    resolve_detached(marker)
}
