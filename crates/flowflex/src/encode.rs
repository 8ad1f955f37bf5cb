//! The wire body of an event, written once: the payload is serialized
//! straight to compact JSON, each attachment as its token (a string of an
//! escaped NUL and 16 hex digits, see `payload.rs`); one pass over the
//! output finds where the tokens stand, and after the uploads the asset ids
//! are spliced in there.
//!
//! serde_json writes a NUL inside a string as `\u0000`, so a string that
//! begins with one starts `"\u0000`. The scan looks only at backslashes
//! (rare in JSON) and checks the rest of the token around each.

use std::collections::HashMap;

use bytes::Bytes;
use serde::Serialize;

use crate::api::AssetId;
use crate::attachment::Attachment;
use crate::error::{Error, Result};
use crate::payload::{KeyIndex, Payload, Slot, check_paths_distinct, hex_key, unknown_token};
use crate::visit::{Visit, Visitor};

/// A token as serde_json writes it: `"\u0000`, 16 hex digits, `"`.
const TOKEN_LEN: usize = 24;

/// An event body waiting for its asset ids, with what it needs uploaded.
#[derive(Debug, Clone)]
pub(crate) struct Encoded {
    /// The JSON, each attachment as its token.
    template: Vec<u8>,
    /// Where each token starts (its opening quote) and the index of its
    /// attachment, in order.
    marks: Vec<(usize, usize)>,
    /// The files to upload, each once.
    pub(crate) attachments: Vec<Attachment>,
    /// Every place an attachment stands, with its flow path.
    pub(crate) slots: Vec<Slot>,
}

impl Encoded {
    /// A payload's body.
    pub(crate) fn from_payload(payload: Payload) -> Result<Encoded> {
        let slots = payload.slots()?;
        let (value, attachments) = payload.into_parts();
        let template = write(&value)?;
        let index = KeyIndex::new(&attachments);
        let marks = scan(&template, |key| index.get(key), attachments.len())?;
        if !marks.unknown.is_empty() {
            // The walk above found every token; a scan that disagrees is a
            // bug, refused rather than sent.
            return Err(unknown_token(""));
        }
        Ok(Encoded {
            template,
            marks: marks.places,
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
        let template = write(event)?;
        let index = KeyIndex::new(&attachments);
        let marks = scan(&template, |key| index.get(key), attachments.len())?;
        let mut encoded = Encoded {
            template,
            marks: marks.places,
            attachments,
            slots,
        };
        if !marks.unknown.is_empty() {
            // An attachment inside a field whose type does not derive
            // `FlowFlexEvent` (an enum, a foreign type) is still sent.
            encoded.adopt(event, &marks.unknown)?;
        }
        encoded.drop_unused(&marks.used);
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

    /// Forgets places whose attachment the body does not hold (a walk that
    /// saw a field serde skipped): nothing is uploaded that the event would
    /// not carry.
    fn drop_unused(&mut self, used: &Used) {
        if (0..self.attachments.len()).all(|i| used.is(i)) {
            return;
        }
        self.slots.retain(|s| used.is(s.index));
    }

    /// A stored body (the outbox), its tokens naming attachments by index
    /// (as [`indexed`](Self::indexed) wrote them).
    pub(crate) fn from_parts(
        template: Vec<u8>,
        attachments: Vec<Attachment>,
        slots: Vec<Slot>,
    ) -> Result<Encoded> {
        let n = attachments.len();
        let marks = scan(
            &template,
            |key| usize::try_from(key).ok().filter(|i| *i < n),
            n,
        )?;
        if !marks.unknown.is_empty() {
            return Err(Error::payload("a stored body names no such attachment"));
        }
        Ok(Encoded {
            template,
            marks: marks.places,
            attachments,
            slots,
        })
    }

    /// The body with each token naming its attachment by index instead of
    /// by key, to store: keys live as long as the process, indexes survive
    /// a restart.
    pub(crate) fn indexed(&self) -> Bytes {
        let written = self.splice(|out, index| {
            out.extend_from_slice(format!("\"\\u0000{index:016x}\"").as_bytes());
            Ok(())
        });
        written.unwrap_or_else(|_| Bytes::copy_from_slice(&self.template))
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
        self.splice(|out, index| {
            let id = ids
                .get(index)
                .and_then(Option::as_ref)
                .ok_or_else(|| Error::payload("an attachment has no asset id"))?;
            // Ids hold no control characters (api.rs checks them), so only
            // `"` and `\` need escaping.
            let id = id.as_str().as_bytes();
            out.push(b'"');
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
            out.push(b'"');
            Ok(())
        })
    }

    /// The template with `put` writing each token's replacement.
    fn splice(&self, mut put: impl FnMut(&mut Vec<u8>, usize) -> Result<()>) -> Result<Bytes> {
        if self.marks.is_empty() {
            return Ok(Bytes::copy_from_slice(&self.template));
        }
        let template = &self.template[..];
        let mut out = Vec::with_capacity(template.len() + self.marks.len() * 16);
        let mut at = 0;
        for &(start, index) in &self.marks {
            out.extend_from_slice(&template[at..start]);
            put(&mut out, index)?;
            at = start + TOKEN_LEN;
        }
        out.extend_from_slice(&template[at..]);
        Ok(Bytes::from(out))
    }
}

fn write<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>> {
    // Most events fit: one allocation, no regrowth.
    let mut out = Vec::with_capacity(1024);
    serde_json::to_writer(&mut out, value).map_err(|e| {
        Error::payload(format!(
            "it does not serialize to JSON ({e}); attachments can only be values, never map keys"
        ))
    })?;
    Ok(out)
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
}

/// What a scan found.
struct Marks {
    /// Each token's start and index, in order.
    places: Vec<(usize, usize)>,
    used: Used,
    /// Keys `lookup` did not know, in the order they got their indexes
    /// (after the `known` ones).
    unknown: Vec<u64>,
}

/// Finds every token in `json`, naming its attachment with `lookup`.
fn scan(json: &[u8], lookup: impl Fn(u64) -> Option<usize>, known: usize) -> Result<Marks> {
    let mut marks = Marks {
        places: Vec::with_capacity(known),
        used: Used::default(),
        unknown: Vec::new(),
    };
    for slash in memchr::memchr_iter(b'\\', json) {
        // `"\u0000` opening a string: the quote right before the backslash
        // opens it unless it is itself escaped.
        let Some(start) = slash.checked_sub(1) else {
            continue;
        };
        if json[start] != b'"'
            || json.get(slash..slash + 6) != Some(&b"\\u0000"[..])
            || json.get(start + TOKEN_LEN - 1) != Some(&b'"')
            || escaped(json, start)
        {
            continue;
        }
        let Some(key) = json.get(slash + 6..slash + 22).and_then(hex_key) else {
            continue;
        };
        if json.get(start + TOKEN_LEN) == Some(&b':') {
            return Err(Error::payload(
                "an attachment is used as a map key: attachments can only be values, never map keys",
            ));
        }
        let index = match lookup(key) {
            Some(i) => i,
            None => match marks.unknown.iter().position(|k| *k == key) {
                Some(i) => known + i,
                None => {
                    marks.unknown.push(key);
                    known + marks.unknown.len() - 1
                }
            },
        };
        marks.used.set(index);
        marks.places.push((start, index));
    }
    Ok(marks)
}

/// Whether the quote at `at` is escaped: an odd run of backslashes before it.
fn escaped(json: &[u8], at: usize) -> bool {
    json[..at].iter().rev().take_while(|b| **b == b'\\').count() % 2 == 1
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
        let encoded = Encoded::from_payload(payload).unwrap();
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
    fn stored_bodies_name_attachments_by_index() {
        let a = Attachment::from_bytes(&b"x"[..], "a.txt");
        let b = Attachment::from_bytes(&b"y"[..], "b.txt");
        let encoded = Encoded::from_payload(crate::json!({"b": b, "a": [a.clone(), a]})).unwrap();
        let stored = encoded.indexed();
        let text = std::str::from_utf8(&stored).unwrap();
        assert!(text.contains("0000000000000001"), "{text}");
        // Rebuilt in another process: new attachments, new keys, same order.
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
            serde_json::json!({"b": "asset_b", "a": ["asset_a", "asset_a"]})
        );
        // A stored body naming a missing attachment is refused.
        let err =
            Encoded::from_parts(encoded.indexed().to_vec(), Vec::new(), Vec::new()).unwrap_err();
        assert!(err.to_string().contains("no such attachment"), "{err}");
    }

    #[test]
    fn an_attachment_as_a_map_key_is_refused() {
        let a = Attachment::from_bytes(&b"x"[..], "a.txt");
        let mut map = std::collections::BTreeMap::new();
        map.insert(a.token().to_owned(), 1);
        let template = write(&map).unwrap();
        let err = scan(&template, |_| Some(0), 1).err().expect("refused");
        assert!(err.to_string().contains("map key"), "{err}");
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
