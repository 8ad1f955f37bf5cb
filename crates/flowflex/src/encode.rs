//! The wire body of an event, written once: the payload is serialized
//! straight to bytes with a marker where each attachment stands, and after
//! the uploads the asset ids are spliced in at the markers.
//!
//! The markers come from a [`serde_json::ser::Formatter`] that recognises an
//! attachment's token (see `payload.rs`) as serde_json writes it and puts a
//! raw NUL byte and the attachment's index in its place. serde_json escapes
//! every control character inside strings, so a raw NUL in its output is
//! always one of ours.

use std::collections::HashMap;
use std::io;

use bytes::Bytes;
use serde::Serialize;
use serde_json::ser::{CharEscape, CompactFormatter, Formatter};

use crate::api::AssetId;
use crate::attachment::Attachment;
use crate::error::{Error, Result};
use crate::payload::{
    KeyIndex, Payload, Slot, check_paths_distinct, collecting, distinct, hex_key, unknown_token,
};
use crate::visit::{Visit, Visitor};

/// A marker: NUL, then the attachment's index in 8 hex digits.
const MARKER_LEN: usize = 9;

/// An event body waiting for its asset ids, with what it needs uploaded.
#[derive(Debug, Clone)]
pub(crate) struct Encoded {
    /// The JSON, with a marker where each attachment stands.
    template: Bytes,
    /// The files to upload, each once; a marker holds an index into it.
    pub(crate) attachments: Vec<Attachment>,
    /// Every place an attachment stands, with its flow path.
    pub(crate) slots: Vec<Slot>,
}

impl Encoded {
    /// A payload's body.
    pub(crate) fn from_payload(payload: Payload) -> Result<Encoded> {
        let slots = payload.slots()?;
        let (value, attachments) = payload.into_parts();
        let index = KeyIndex::new(&attachments);
        let (template, marks) = write(&value, &index, attachments.len())?;
        if !marks.unknown.is_empty() {
            // The walk above found every token; a serializer that disagrees
            // is a bug, refused rather than sent.
            return Err(unknown_token(""));
        }
        Ok(Encoded {
            template,
            attachments,
            slots,
        })
    }

    /// A derived event's body: the derive's walk gives each attachment with
    /// its path and field rules, and the struct is serialized once.
    pub(crate) fn from_event<T: Serialize + Visit + ?Sized>(event: &T) -> Result<Encoded> {
        let mut visitor = Visitor::default();
        event.__flowflex_visit(&mut visitor);
        let found = visitor.into_found();
        let mut attachments: Vec<Attachment> = Vec::with_capacity(found.len());
        let mut slots = Vec::with_capacity(found.len());
        // Few attachments: a scan of the ones so far beats hashing.
        let mut keys: Option<HashMap<u64, usize>> = None;
        for f in found {
            let key = f.attachment.key();
            let seen = match &keys {
                Some(map) => map.get(&key).copied(),
                None => attachments.iter().position(|a| a.key() == key),
            };
            let index = seen.unwrap_or_else(|| {
                attachments.push(f.attachment.clone());
                attachments.len() - 1
            });
            if keys.is_none() && attachments.len() > 8 {
                keys = Some(
                    attachments
                        .iter()
                        .enumerate()
                        .map(|(i, a)| (a.key(), i))
                        .collect(),
                );
            } else if let Some(map) = &mut keys {
                map.entry(key).or_insert(index);
            }
            slots.push(Slot {
                path: f.path,
                index,
                rules: f.rules,
            });
        }
        let index = KeyIndex::new(&attachments);
        // Recording too: an attachment inside a field whose type does not
        // derive `FlowFlexEvent` (an enum, a foreign type) is still sent.
        let (written, recorded) = collecting(|| write(event, &index, attachments.len()));
        let (template, marks) = written?;
        let mut encoded = Encoded {
            template,
            attachments,
            slots,
        };
        if !marks.unknown.is_empty() {
            encoded.adopt(event, recorded, &marks.unknown)?;
        }
        encoded.drop_unused(&marks.count);
        check_paths_distinct(&encoded.slots)?;
        Ok(encoded)
    }

    /// The slow path of [`from_event`](Self::from_event): attachments the
    /// derive's walk could not see, found by serializing to a tree.
    fn adopt<T: Serialize + ?Sized>(
        &mut self,
        event: &T,
        recorded: Vec<Attachment>,
        unknown: &[u64],
    ) -> Result<()> {
        let recorded = distinct(recorded);
        let first_new = self.attachments.len();
        for key in unknown {
            let a = recorded
                .iter()
                .find(|a| a.key() == *key)
                .ok_or_else(|| unknown_token(""))?;
            self.attachments.push(a.clone());
        }
        let payload = Payload::from_serialize(event)?;
        let all = payload.slots()?;
        let (_, held) = payload.into_parts();
        for slot in all {
            let key = held[slot.index].key();
            if let Some(pos) = unknown.iter().position(|k| *k == key) {
                self.slots.push(Slot {
                    path: slot.path,
                    index: first_new + pos,
                    rules: Vec::new(),
                });
            }
        }
        Ok(())
    }

    /// Forgets attachments the body does not hold (a walk that saw a field
    /// serde skipped): nothing is uploaded that the event would not carry.
    fn drop_unused(&mut self, count: &[u32]) {
        let used = |i: usize| count.get(i).is_some_and(|n| *n > 0);
        if (0..self.attachments.len()).all(used) {
            return;
        }
        self.slots.retain(|s| used(s.index));
    }

    /// A stored body with its attachments and slots (the outbox).
    pub(crate) fn from_parts(
        template: Bytes,
        attachments: Vec<Attachment>,
        slots: Vec<Slot>,
    ) -> Encoded {
        Encoded {
            template,
            attachments,
            slots,
        }
    }

    /// The body with its markers.
    pub(crate) fn template(&self) -> &Bytes {
        &self.template
    }

    /// Whether the attachment at `index` stands anywhere in the body.
    pub(crate) fn is_used(&self, index: usize) -> bool {
        self.slots.iter().any(|s| s.index == index)
    }

    /// The first flow path of the attachment at `index`.
    pub(crate) fn first_path(&self, index: usize) -> &str {
        self.slots
            .iter()
            .find(|s| s.index == index)
            .map(|s| s.path.as_str())
            .unwrap_or_default()
    }

    /// The body with each asset id in its place; `ids[i]` is the id of
    /// `attachments[i]`.
    pub(crate) fn body(&self, ids: &[Option<AssetId>]) -> Result<Bytes> {
        if self.slots.is_empty() {
            return Ok(self.template.clone());
        }
        let template = &self.template[..];
        let mut out = Vec::with_capacity(template.len() + ids.len() * 32);
        let mut rest = template;
        while let Some(at) = memchr::memchr(0, rest) {
            out.extend_from_slice(&rest[..at]);
            let index = rest
                .get(at + 1..at + MARKER_LEN)
                .and_then(|hex| std::str::from_utf8(hex).ok())
                .and_then(|hex| usize::from_str_radix(hex, 16).ok());
            let id = index
                .and_then(|i| ids.get(i))
                .and_then(Option::as_ref)
                .ok_or_else(|| Error::payload("an attachment has no asset id"))?;
            serde_json::to_writer(&mut out, id.as_str())
                .map_err(|e| Error::payload(e.to_string()))?;
            rest = &rest[at + MARKER_LEN..];
        }
        out.extend_from_slice(rest);
        Ok(Bytes::from(out))
    }
}

/// What the formatter saw.
struct Marks {
    /// How many markers each index got.
    count: Vec<u32>,
    /// Tokens whose key was not in the index, in the order they got their
    /// indexes (after the known ones).
    unknown: Vec<u64>,
}

fn write<T: Serialize + ?Sized>(
    value: &T,
    index: &KeyIndex,
    known: usize,
) -> Result<(Bytes, Marks)> {
    let mut out = Vec::with_capacity(256);
    let mut formatter = Marking {
        index,
        known,
        state: Str::Idle,
        in_key: false,
        marks: Marks {
            count: vec![0; known],
            unknown: Vec::new(),
        },
    };
    let mut ser = serde_json::Serializer::with_formatter(&mut out, &mut formatter);
    value.serialize(&mut ser).map_err(|e| {
        Error::payload(format!(
            "it does not serialize to JSON ({e}); attachments can only be values, never map keys"
        ))
    })?;
    Ok((Bytes::from(out), formatter.marks))
}

/// Where the formatter is inside a string.
enum Str {
    Idle,
    /// A string began; its opening quote is held back.
    Open,
    /// It began with an escaped NUL.
    Nul,
    /// It began with NUL and 16 hex digits: a token, if it ends here.
    Token(u64),
}

struct Marking<'a> {
    index: &'a KeyIndex,
    known: usize,
    state: Str,
    in_key: bool,
    marks: Marks,
}

impl Marking<'_> {
    /// Writes what was held back, as serde_json would have written it.
    fn flush<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        match std::mem::replace(&mut self.state, Str::Idle) {
            Str::Idle => Ok(()),
            Str::Open => w.write_all(b"\""),
            Str::Nul => w.write_all(b"\"\\u0000"),
            Str::Token(key) => write!(w, "\"\\u0000{key:016x}"),
        }
    }

    fn marker<W: ?Sized + io::Write>(&mut self, w: &mut W, key: u64) -> io::Result<()> {
        let index = match self.index.get(key) {
            Some(i) => i,
            None => match self.marks.unknown.iter().position(|k| *k == key) {
                Some(i) => self.known + i,
                None => {
                    self.marks.unknown.push(key);
                    self.known + self.marks.unknown.len() - 1
                }
            },
        };
        if let Some(n) = self.marks.count.get_mut(index) {
            *n += 1;
        }
        write!(w, "\0{index:08x}")
    }
}

/// Formatter methods that write a value: a map key that is a number or a
/// bool is written between the string's quotes, so the held-back quote goes
/// out first.
macro_rules! flush_then {
    ($($method:ident($($arg:ident: $ty:ty),*);)+) => {$(
        fn $method<W: ?Sized + io::Write>(&mut self, w: &mut W $(, $arg: $ty)*) -> io::Result<()> {
            self.flush(w)?;
            CompactFormatter.$method(w $(, $arg)*)
        }
    )+};
}

impl Formatter for &mut Marking<'_> {
    flush_then! {
        write_null();
        write_bool(value: bool);
        write_i8(value: i8);
        write_i16(value: i16);
        write_i32(value: i32);
        write_i64(value: i64);
        write_i128(value: i128);
        write_u8(value: u8);
        write_u16(value: u16);
        write_u32(value: u32);
        write_u64(value: u64);
        write_u128(value: u128);
        write_f32(value: f32);
        write_f64(value: f64);
        write_number_str(value: &str);
        write_raw_fragment(fragment: &str);
    }

    fn begin_string<W: ?Sized + io::Write>(&mut self, _: &mut W) -> io::Result<()> {
        self.state = Str::Open;
        Ok(())
    }

    fn end_string<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        match std::mem::replace(&mut self.state, Str::Idle) {
            Str::Token(key) if !self.in_key => self.marker(w, key),
            Str::Token(_) => Err(io::Error::other(
                "an attachment is used as a map key: attachments can only be values",
            )),
            held => {
                self.state = held;
                self.flush(w)?;
                w.write_all(b"\"")
            }
        }
    }

    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        if let Str::Nul = self.state {
            if let Some(key) = hex_key(fragment) {
                self.state = Str::Token(key);
                return Ok(());
            }
        }
        self.flush(w)?;
        w.write_all(fragment.as_bytes())
    }

    fn write_char_escape<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        escape: CharEscape,
    ) -> io::Result<()> {
        if let (Str::Open, CharEscape::AsciiControl(0)) = (&self.state, &escape) {
            self.state = Str::Nul;
            return Ok(());
        }
        self.flush(w)?;
        CompactFormatter.write_char_escape(w, escape)
    }

    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.in_key = true;
        CompactFormatter.begin_object_key(w, first)
    }

    fn end_object_key<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.in_key = false;
        CompactFormatter.end_object_key(w)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> Option<AssetId> {
        Some(AssetId::new(s))
    }

    #[test]
    fn ids_replace_tokens_and_nothing_else() {
        let a = Attachment::from_bytes(&b"x"[..], "a.txt");
        let b = Attachment::from_bytes(&b"y"[..], "b.txt");
        let payload = crate::json!({
            "a": a.clone(),
            "again": [a],
            "b": b,
            "nul": "\u{0}",
            "nul_short": "\u{0}0123456789abcde",
            "quote\"key": "tab\there",
        });
        let encoded = Encoded::from_payload(payload).unwrap();
        assert_eq!(encoded.attachments.len(), 2);
        let body = encoded.body(&[id("asset_a"), id("asset_\"b")]).unwrap();
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "a": "asset_a", "again": ["asset_a"], "b": "asset_\"b",
                "nul": "\u{0}", "nul_short": "\u{0}0123456789abcde",
                "quote\"key": "tab\there",
            })
        );
    }

    #[test]
    fn a_token_the_payload_does_not_hold_is_refused() {
        let a = Attachment::from_bytes(&b"x"[..], "a.txt");
        // A plain serde_json value: the token is text with no file behind it.
        let plain = serde_json::json!({ "a": a });
        let err = Encoded::from_payload(Payload::from_serialize(&plain).unwrap()).unwrap_err();
        assert!(err.to_string().contains("flowflex::json!"), "{err}");
        // Text from outside that reads like a token names nothing either.
        let forged = crate::json!({ "x": "\u{0}0123456789abcdef" });
        let err = Encoded::from_payload(forged).unwrap_err();
        assert!(err.to_string().contains("at `x`"), "{err}");
    }
}
