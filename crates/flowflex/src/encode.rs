//! The wire body of an event, written once: the value is serialized
//! straight to compact JSON by `serde_json` with our formatter
//! (formatter.rs), which notes where each attachment's token stands as it
//! is written; after the uploads the asset ids are spliced in there. A
//! stored body (the outbox) is scanned for its tokens instead (token.rs).

use bytes::Bytes;
use serde::Serialize;
use smallvec::SmallVec;

use crate::api::AssetId;
use crate::attachment::Attachment;
use crate::error::{Error, Result};
use crate::formatter;
use crate::payload::{Payload, collecting, unknown_token};
use crate::slots::{Keys, Slots};
use crate::token::{self, WRITTEN_LEN as TOKEN_LEN};
use crate::visit::{Visit, Visitor};

/// What [`Client::send_event`](crate::Client::send_event) takes: a
/// [`Payload`] or any `Serialize` value that becomes a JSON object.
///
/// A send serializes it once, straight to the body it posts: a payload
/// (owned, borrowed or nested in your own type) is never copied into a
/// tree first.
pub trait IntoPayload {
    /// The payload, with the attachments inside it.
    ///
    /// # Errors
    ///
    /// [`Error::Payload`] if the value does not serialize to JSON.
    fn into_payload(self) -> Result<Payload>;

    /// The body a send posts. Not public API.
    #[doc(hidden)]
    fn __into_encoded(self) -> Result<EncodedPayload>
    where
        Self: Sized,
    {
        let payload = self.into_payload()?;
        Encoded::from_serialize(&payload).map(EncodedPayload)
    }
}

impl<T: Serialize> IntoPayload for T {
    fn into_payload(self) -> Result<Payload> {
        Payload::from_serialize(&self)
    }

    fn __into_encoded(self) -> Result<EncodedPayload> {
        Encoded::from_serialize(&self).map(EncodedPayload)
    }
}

/// A value encoded for a send, from [`IntoPayload`]. Not public API.
#[doc(hidden)]
#[derive(Debug)]
pub struct EncodedPayload(pub(crate) Encoded);

/// Where each token starts (its opening quote) and the index of its
/// attachment, in order; a typical event's fit inline.
type Marks = SmallVec<[(usize, usize); 8]>;

/// An event body waiting for its asset ids, with what it needs uploaded.
#[derive(Debug, Clone)]
pub(crate) struct Encoded {
    /// The JSON, each attachment as its token.
    template: Vec<u8>,
    marks: Marks,
    /// The files to upload, each once; a typical event's inline.
    pub(crate) attachments: SmallVec<[Attachment; 4]>,
    /// Every place an attachment stands, with its flow path.
    pub(crate) slots: Slots,
}

impl Encoded {
    /// Any value's body (a [`Payload`], a struct, a map): serialized once,
    /// the attachments recorded as they serialize, each token's path noted
    /// as it is written.
    pub(crate) fn from_serialize<T: Serialize + ?Sized>(value: &T) -> Result<Encoded> {
        let (written, found) = collecting(|| formatter::write_payload(value));
        let (template, noted) = written?;
        let mut attachments = SmallVec::with_capacity(noted.keys.as_slice().len());
        for (i, key) in noted.keys.as_slice().iter().enumerate() {
            let Some(a) = found.iter().find(|a| a.key() == *key) else {
                let path = noted.slots.iter().find(|s| s.index == i).map(|s| s.path);
                return Err(unknown_token(path.unwrap_or_default()));
            };
            attachments.push(a.clone());
        }
        Ok(Encoded {
            template,
            marks: noted.tokens,
            attachments,
            slots: noted.slots,
        })
    }

    /// A derived event's body: the derive's walk gives each attachment with
    /// its path and field rules, and the struct is serialized once.
    pub(crate) fn from_event<T: Serialize + Visit + ?Sized>(event: &T) -> Result<Encoded> {
        let mut visitor = Visitor::default();
        event.__flowflex_visit(&mut visitor);
        let (slots, found, merging) = visitor.finish();
        let attachments: SmallVec<[Attachment; 4]> = found.iter().map(|a| (*a).clone()).collect();
        let template = formatter::write(event)?;
        let mut keys: Option<Keys> = None;
        let found = resolve(token::candidates(&template), attachments.len(), |n, at| {
            // The `n`th token is most likely the file of the walk's `n`th
            // place (both in serde's order): its digits compared, not
            // parsed. Any other is looked up by its key.
            if let Some(i) = slots.index_of(n) {
                if attachments
                    .get(i)
                    .is_some_and(|a| token::written_as(&template, at, a.token()))
                {
                    return Some(Ok(i));
                }
            }
            let key = token::written_at(&template, at)?;
            let keys =
                keys.get_or_insert_with(|| attachments.iter().map(Attachment::key).collect());
            Some(keys.get(key).ok_or(key))
        });
        formatter::refuse_token_keys(&template, &found.places)?;
        let mut encoded = Encoded {
            template,
            marks: found.places,
            attachments,
            slots,
        };
        if !found.unknown.is_empty() {
            // An attachment inside a field whose type does not derive
            // `FlowFlexEvent` (an enum, a foreign type) is still sent.
            encoded.adopt(event, &found.unknown)?;
        }
        if !found.used.all(encoded.attachments.len()) {
            // A walk that saw a field serde skipped: nothing is uploaded
            // that the event would not carry.
            encoded.slots.retain(|i| found.used.is(i));
        }
        if merging || !found.unknown.is_empty() {
            // Otherwise the walk's paths are distinct by construction.
            encoded.slots.check_distinct()?;
        }
        Ok(encoded)
    }

    /// The slow path of [`from_event`](Self::from_event): attachments the
    /// derive's walk could not see, found with their paths by serializing
    /// the event again as any value.
    fn adopt<T: Serialize + ?Sized>(&mut self, event: &T, unknown: &[u64]) -> Result<()> {
        let seen = Encoded::from_serialize(event)?;
        for key in unknown {
            let index = seen
                .attachments
                .iter()
                .position(|a| a.key() == *key)
                .ok_or_else(|| unknown_token(""))?;
            self.attachments.push(seen.attachments[index].clone());
            let new = self.attachments.len() - 1;
            for slot in seen.slots.iter().filter(|s| s.index == index) {
                self.slots.push(slot.path, new, &[]);
            }
        }
        Ok(())
    }

    /// A stored body (the outbox), its tokens naming attachments by index
    /// (as [`indexed`](Self::indexed) wrote them).
    pub(crate) fn from_parts(
        template: Vec<u8>,
        attachments: Vec<Attachment>,
        slots: Slots,
    ) -> Result<Encoded> {
        let n = attachments.len();
        let found = resolve(token::candidates(&template), n, |_, at| {
            let index = token::written_at(&template, at)?;
            Some(usize::try_from(index).ok().filter(|i| *i < n).ok_or(index))
        });
        if found
            .places
            .iter()
            .any(|(at, _)| template.get(at + TOKEN_LEN) == Some(&b':'))
        {
            return Err(Error::payload(
                "a stored body uses an attachment as a map key",
            ));
        }
        if !found.unknown.is_empty() {
            return Err(Error::payload("a stored body names no such attachment"));
        }
        Ok(Encoded {
            template,
            marks: found.places,
            attachments: SmallVec::from_vec(attachments),
            slots,
        })
    }

    /// The body with each token naming its attachment by index instead of
    /// by key, to store: keys live as long as the process, indexes survive
    /// a restart.
    pub(crate) fn indexed(&self) -> Bytes {
        let mut out = Vec::with_capacity(self.template.len());
        let mut at = 0;
        for &(start, index) in &self.marks {
            out.extend_from_slice(&self.template[at..start]);
            out.extend_from_slice(&token::written(index as u64));
            at = start + TOKEN_LEN;
        }
        out.extend_from_slice(&self.template[at..]);
        Bytes::from(out)
    }

    /// Whether the attachment at `index` stands anywhere in the body.
    pub(crate) fn is_used(&self, index: usize) -> bool {
        self.slots.is_used(index)
    }

    /// The first flow path of the attachment at `index`.
    pub(crate) fn first_path(&self, index: usize) -> &str {
        self.slots.first_path(index)
    }

    /// The body with each asset id in its place; `ids[i]` is the id of
    /// `attachments[i]`.
    pub(crate) fn body(&self, ids: &[Option<AssetId>]) -> Result<Bytes> {
        let template = &self.template[..];
        if self.marks.is_empty() {
            return Ok(Bytes::copy_from_slice(template));
        }
        // Ids hold no control characters (api.rs checks them) and in
        // practice no `"` or `\\`: the length without escapes is exact, and
        // `Bytes` takes the buffer without another allocation. An id that
        // needs escaping is escaped as any string the writer writes.
        let mut len = template.len();
        for &(_, index) in &self.marks {
            let id = ids
                .get(index)
                .and_then(Option::as_ref)
                .ok_or_else(|| Error::payload("an attachment has no asset id"))?;
            len = len - TOKEN_LEN + id.as_str().len() + 2;
        }
        let mut out = Vec::with_capacity(len);
        let mut at = 0;
        for &(start, index) in &self.marks {
            out.extend_from_slice(&template[at..start]);
            // Checked above.
            let id = ids[index].as_ref().map(AssetId::as_str).unwrap_or_default();
            // Escaped as any string of the body; writing to memory cannot fail.
            serde_json::to_writer(&mut out, id).map_err(|e| Error::payload(e.to_string()))?;
            at = start + TOKEN_LEN;
        }
        out.extend_from_slice(&template[at..]);
        Ok(Bytes::from(out))
    }

    /// [`body`](Self::body), made in the template's own buffer: the ids
    /// are written over the tokens and the rest moved up or down, with no
    /// second buffer and no copy of the text before the first token. Leaves
    /// no template behind: a send takes its body once.
    pub(crate) fn take_body(&mut self, ids: &[Option<AssetId>]) -> Result<Bytes> {
        if self.marks.is_empty() {
            return Ok(Bytes::from(std::mem::take(&mut self.template)));
        }
        // Each token's id, and whether all are shorter than their tokens
        // (or all longer): then one pass moves every byte once.
        let (mut shorter, mut longer) = (false, false);
        let mut len = self.template.len();
        for &(_, index) in &self.marks {
            let id = ids
                .get(index)
                .and_then(Option::as_ref)
                .ok_or_else(|| Error::payload("an attachment has no asset id"))?;
            if !id.is_plain() {
                return self.body(ids);
            }
            let written = id.as_str().len() + 2;
            shorter |= written < TOKEN_LEN;
            longer |= written > TOKEN_LEN;
            len = len - TOKEN_LEN + written;
        }
        if shorter && longer {
            return self.body(ids);
        }
        let mut json = std::mem::take(&mut self.template);
        let marks = std::mem::take(&mut self.marks);
        // Checked above.
        let id = |index: usize| {
            ids[index]
                .as_ref()
                .map(AssetId::as_str)
                .unwrap_or_default()
                .as_bytes()
        };
        let put = |json: &mut [u8], at: usize, id: &[u8]| {
            json[at] = b'"';
            json[at + 1..at + 1 + id.len()].copy_from_slice(id);
            json[at + 1 + id.len()] = b'"';
        };
        if longer {
            // Back to front: each piece moves down by what the ids after
            // it add.
            let mut read = json.len();
            json.resize(len, 0);
            let mut write = len;
            for &(start, index) in marks.iter().rev() {
                let end = start + TOKEN_LEN;
                write -= read - end;
                json.copy_within(end..read, write);
                let id = id(index);
                write -= id.len() + 2;
                put(&mut json, write, id);
                read = start;
            }
        } else {
            // Front to back: each piece moves up by what the ids before it
            // save.
            let (mut read, mut write) = (0, 0);
            for &(start, index) in &marks {
                // The text before the first token stays where it is.
                if write != read {
                    json.copy_within(read..start, write);
                }
                write += start - read;
                let id = id(index);
                put(&mut json, write, id);
                write += id.len() + 2;
                read = start + TOKEN_LEN;
            }
            let end = json.len();
            if write != read {
                json.copy_within(read..end, write);
            }
            json.truncate(len);
        }
        Ok(Bytes::from(json))
    }
}

/// Which indexes stand somewhere (bits 0..64, then a list).
#[derive(Default)]
struct Used {
    bits: u64,
    more: Vec<bool>,
}

impl Used {
    fn set(&mut self, index: usize) {
        if index < 64 {
            self.bits |= 1 << index;
        } else {
            if self.more.len() <= index - 64 {
                self.more.resize(index - 63, false);
            }
            self.more[index - 64] = true;
        }
    }

    fn is(&self, index: usize) -> bool {
        if index < 64 {
            self.bits & (1 << index) != 0
        } else {
            self.more.get(index - 64).copied().unwrap_or(false)
        }
    }

    /// Whether every index below `n` is set.
    fn all(&self, n: usize) -> bool {
        if n <= 64 {
            let want = if n == 64 { u64::MAX } else { (1 << n) - 1 };
            return self.bits & want == want;
        }
        self.bits == u64::MAX && (64..n).all(|i| self.is(i))
    }
}

/// What a scan found.
struct Found {
    places: Marks,
    used: Used,
    /// Keys nobody knew, in the order they got their indexes (after the
    /// known ones).
    unknown: Vec<u64>,
}

/// Names each token among the `candidates` (where a token may start):
/// `name(n, at)` says whether the `n`th token stands at `at` and which
/// attachment index it names, or the key it names when that is no known
/// attachment, which then gets the next index after the `known` ones.
fn resolve(
    candidates: impl IntoIterator<Item = usize>,
    known: usize,
    mut name: impl FnMut(usize, usize) -> Option<std::result::Result<usize, u64>>,
) -> Found {
    let mut found = Found {
        places: Marks::new(),
        used: Used::default(),
        unknown: Vec::new(),
    };
    for at in candidates {
        let index = match name(found.places.len(), at) {
            None => continue,
            Some(Ok(i)) => i,
            Some(Err(key)) => match found.unknown.iter().position(|k| *k == key) {
                Some(i) => known + i,
                None => {
                    found.unknown.push(key);
                    known + found.unknown.len() - 1
                }
            },
        };
        found.used.set(index);
        found.places.push((at, index));
    }
    found
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
            "nul_long": "\u{0}0123456789abcdef0",
            "quote_then_nul": "\"\u{0}0123456789abcdef",
            "slash_u": "\\u00000123456789abcdef",
            "quote\"key": "tab\there",
        });
        let encoded = Encoded::from_serialize(&payload).unwrap();
        assert_eq!(encoded.attachments.len(), 2);
        let body = encoded.body(&[id("asset_a"), id("asset_\"b")]).unwrap();
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "a": "asset_a", "again": ["asset_a"], "b": "asset_\"b",
                "nul": "\u{0}", "nul_short": "\u{0}0123456789abcde",
                "nul_long": "\u{0}0123456789abcdef0",
                "quote_then_nul": "\"\u{0}0123456789abcdef",
                "slash_u": "\\u00000123456789abcdef",
                "quote\"key": "tab\there",
            })
        );
    }

    #[test]
    fn a_body_made_in_place_is_the_body_copied() {
        let a = Attachment::from_bytes(&b"x"[..], "a.txt");
        let b = Attachment::from_bytes(&b"y"[..], "b.txt");
        let payload = || {
            crate::json!({
                "first": a.clone(), "text": "between", "list": [b.clone(), a.clone()],
                "last": b.clone(), "after": {"n": 1}
            })
        };
        let long = "asset_".repeat(8);
        let cases: [[&str; 2]; 6] = [
            ["s", "t"],
            ["asset_0123456789abcdef", "asset_0123456789abcdeg"],
            [&long, &long],
            ["s", &long],
            [&long, "s"],
            ["quote\"d", "s"],
        ];
        for [x, y] in cases {
            let ids = [id(x), id(y)];
            let mut encoded = Encoded::from_serialize(&payload()).unwrap();
            let copied = encoded.body(&ids).unwrap();
            let json: serde_json::Value = serde_json::from_slice(&copied).unwrap();
            assert_eq!(json["list"], serde_json::json!([y, x]), "{x} {y}");
            assert_eq!(encoded.take_body(&ids).unwrap(), copied, "{x} {y}");
        }
        // With no attachment at all, the template is the body.
        let mut plain = Encoded::from_serialize(&crate::json!({"k": "v"})).unwrap();
        assert_eq!(&plain.take_body(&[]).unwrap()[..], br#"{"k":"v"}"#);
    }

    #[test]
    fn stored_bodies_name_attachments_by_index() {
        let a = Attachment::from_bytes(&b"x"[..], "a.txt");
        let b = Attachment::from_bytes(&b"y"[..], "b.txt");
        let encoded =
            Encoded::from_serialize(&crate::json!({"b": b, "c": [a.clone(), a]})).unwrap();
        let stored = encoded.indexed();
        let text = std::str::from_utf8(&stored).unwrap();
        assert!(text.contains("0000000000000001"), "{text}");
        // Rebuilt in another process: new attachments, new keys, same order
        // (the order the JSON first names them).
        let rebuilt = vec![
            Attachment::from_bytes(&b"y"[..], "b.txt"),
            Attachment::from_bytes(&b"x"[..], "a.txt"),
        ];
        let order: Vec<_> = encoded.attachments.iter().map(|a| a.filename()).collect();
        assert_eq!(order, [Some("b.txt"), Some("a.txt")]);
        let again = Encoded::from_parts(stored.to_vec(), rebuilt, encoded.slots.clone()).unwrap();
        let body = again.body(&[id("asset_b"), id("asset_a")]).unwrap();
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"b": "asset_b", "c": ["asset_a", "asset_a"]})
        );
        // A stored body naming a missing attachment is refused.
        let err = Encoded::from_parts(encoded.indexed().to_vec(), Vec::new(), Slots::default())
            .unwrap_err();
        assert!(err.to_string().contains("no such attachment"), "{err}");
    }

    #[test]
    fn an_attachment_as_a_map_key_is_refused() {
        let a = Attachment::from_bytes(&b"x"[..], "a.txt");
        let mut map = std::collections::BTreeMap::new();
        map.insert(a.token().to_owned(), 1);
        let stored = serde_json::to_vec(&map).unwrap();
        let err = Encoded::from_parts(stored, vec![a.clone()], Slots::default()).unwrap_err();
        assert!(err.to_string().contains("map key"), "{err}");
        let err = Encoded::from_serialize(&map).unwrap_err();
        assert!(err.to_string().contains("map key"), "{err}");
    }

    #[test]
    fn a_token_the_payload_does_not_hold_is_refused() {
        let a = Attachment::from_bytes(&b"x"[..], "a.txt");
        // A plain serde_json value: the token is text with no file behind it.
        let plain = serde_json::json!({ "a": a });
        let err = Encoded::from_serialize(&Payload::from_serialize(&plain).unwrap()).unwrap_err();
        assert!(err.to_string().contains("flowflex::json!"), "{err}");
        // Text from outside that reads like a token names nothing either.
        let forged = crate::json!({ "x": "\u{0}0123456789abcdef" });
        let err = Encoded::from_serialize(&forged).unwrap_err();
        assert!(err.to_string().contains("at `x`"), "{err}");
    }
}
