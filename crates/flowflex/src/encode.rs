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
use crate::payload::{KeyIndex, Payload, Slot, check_paths_distinct, hex_key, unknown_token};
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
        let (template, marks) = write(event, &index, attachments.len())?;
        let mut encoded = Encoded {
            template,
            attachments,
            slots,
        };
        if !marks.unknown.is_empty() {
            // An attachment inside a field whose type does not derive
            // `FlowFlexEvent` (an enum, a foreign type) is still sent.
            encoded.adopt(event, &marks.unknown)?;
        }
        encoded.drop_unused(&marks);
        check_paths_distinct(&encoded.slots)?;
        Ok(encoded)
    }

    /// The slow path of [`from_event`](Self::from_event): attachments the
    /// derive's walk could not see, found by serializing to a tree.
    fn adopt<T: Serialize + ?Sized>(&mut self, event: &T, unknown: &[u64]) -> Result<()> {
        let payload = Payload::from_serialize(event)?;
        let first_new = self.attachments.len();
        for key in unknown {
            let a = payload
                .attachments()
                .iter()
                .find(|a| a.key() == *key)
                .ok_or_else(|| unknown_token(""))?;
            self.attachments.push(a.clone());
        }
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
    fn drop_unused(&mut self, marks: &Marks) {
        let used = |i: usize| marks.is_used(i);
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
            let index = rest.get(at + 1..at + MARKER_LEN).and_then(|hex| {
                hex.iter().try_fold(0usize, |n, b| {
                    let digit = (*b as char).to_digit(16)?;
                    Some(n << 4 | digit as usize)
                })
            });
            let id = index
                .and_then(|i| ids.get(i))
                .and_then(Option::as_ref)
                .ok_or_else(|| Error::payload("an attachment has no asset id"))?;
            // The marker sits between the token's quotes: the id's
            // characters go there. Ids hold no control characters (api.rs
            // checks), so only `"` and `\` need escaping.
            let id = id.as_str().as_bytes();
            if memchr::memchr2(b'"', b'\\', id).is_none() {
                out.extend_from_slice(id);
            } else {
                for &b in id {
                    if matches!(b, b'"' | b'\\') {
                        out.push(b'\\');
                    }
                    out.push(b);
                }
            }
            rest = &rest[at + MARKER_LEN..];
        }
        out.extend_from_slice(rest);
        Ok(Bytes::from(out))
    }
}

impl Marks {
    fn mark(&mut self, index: usize) {
        if index < 64 {
            self.used |= 1 << index;
        } else {
            if self.used_more.len() <= index - 64 {
                self.used_more.resize(index - 63, false);
            }
            self.used_more[index - 64] = true;
        }
    }

    fn is_used(&self, index: usize) -> bool {
        if index < 64 {
            self.used & (1 << index) != 0
        } else {
            self.used_more.get(index - 64).copied().unwrap_or(false)
        }
    }
}

/// What the formatter saw.
struct Marks {
    /// Which indexes got a marker (bits 0..64).
    used: u64,
    /// Past the 64th, when there are that many.
    used_more: Vec<bool>,
    /// Tokens whose key was not in the index, in the order they got their
    /// indexes (after the known ones).
    unknown: Vec<u64>,
}

fn write<T: Serialize + ?Sized>(
    value: &T,
    index: &KeyIndex,
    known: usize,
) -> Result<(Bytes, Marks)> {
    // Most events fit: one allocation, no regrowth.
    let mut out = Vec::with_capacity(1024);
    let mut formatter = Marking {
        index,
        known,
        state: Str::Idle,
        in_key: false,
        marks: Marks {
            used: 0,
            used_more: Vec::new(),
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
#[derive(Clone, Copy)]
enum Str {
    Idle,
    /// A string began (its quote is out).
    Open,
    /// It began with an escaped NUL (not written yet).
    Nul,
    /// It began with NUL and 16 hex digits: a token, written as a marker.
    Marked,
}

struct Marking<'a> {
    index: &'a KeyIndex,
    known: usize,
    state: Str,
    in_key: bool,
    marks: Marks,
}

impl Marking<'_> {
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
        self.marks.mark(index);
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut marker = [0u8; MARKER_LEN];
        for (i, byte) in marker[1..].iter_mut().enumerate() {
            *byte = HEX[(index >> (28 - 4 * i)) & 0xf];
        }
        w.write_all(&marker)
    }

    /// What a string that began with NUL but is no token holds so far.
    fn unmark<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        if let Str::Nul = self.state {
            w.write_all(b"\\u0000")?;
        }
        self.state = Str::Idle;
        Ok(())
    }
}

fn split_token() -> io::Error {
    io::Error::other(
        "a string begins like an attachment's token (NUL and 16 hex digits) but goes on: such text cannot be sent",
    )
}

impl Formatter for &mut Marking<'_> {
    #[inline]
    fn begin_string<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.state = Str::Open;
        w.write_all(b"\"")
    }

    #[inline]
    fn end_string<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.unmark(w)?;
        w.write_all(b"\"")
    }

    #[inline]
    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        match self.state {
            Str::Idle => {}
            Str::Open => self.state = Str::Idle,
            Str::Nul => {
                if let Some(key) = hex_key(fragment) {
                    if self.in_key {
                        return Err(io::Error::other(
                            "an attachment is used as a map key: attachments can only be values",
                        ));
                    }
                    self.state = Str::Marked;
                    return self.marker(w, key);
                }
                self.unmark(w)?;
            }
            Str::Marked => {
                // More text after a token's 16 digits: not a token after
                // all. serde_json writes one fragment for a run of plain
                // characters, so this cannot follow the digits.
                return Err(split_token());
            }
        }
        w.write_all(fragment.as_bytes())
    }

    #[inline]
    fn write_char_escape<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        escape: CharEscape,
    ) -> io::Result<()> {
        match (self.state, &escape) {
            (Str::Open, CharEscape::AsciiControl(0)) => {
                self.state = Str::Nul;
                return Ok(());
            }
            (Str::Marked, _) => return Err(split_token()),
            _ => self.unmark(w)?,
        }
        CompactFormatter.write_char_escape(w, escape)
    }

    #[inline]
    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.in_key = true;
        CompactFormatter.begin_object_key(w, first)
    }

    #[inline]
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
