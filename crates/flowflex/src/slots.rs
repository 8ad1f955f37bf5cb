//! Where a payload's attachments stand: every place, with its flow path
//! (`invoice`, `gallery[0]`, `order.receipt`), the index of its attachment
//! and the limits of the derived fields around it.
//!
//! Kept flat: the paths one after another in one buffer, the rules in one
//! list. Recording a place allocates nothing of its own, so encoding an
//! event costs the same few allocations however many files it holds. The
//! path being walked lives at the end of the same buffer, after the
//! recorded ones; recording a place copies it there once more and walks on
//! from the copy.

use std::collections::HashMap;

use smallvec::SmallVec;

use crate::error::{Error, Result};
use crate::mime::Mime;

/// Limits a `#[flowflex(..)]` field puts on its attachments. Used by the
/// derive; not part of the stable API.
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldRules {
    /// The allowed types; empty means any of the 16.
    pub mimes: &'static [Mime],
    /// The largest size allowed, in bytes.
    pub max_size: Option<u64>,
}

/// Every place an attachment stands in one payload.
#[derive(Debug, Clone, Default)]
pub(crate) struct Slots {
    /// A typical event's fit inline.
    places: SmallVec<[Place; 4]>,
    /// The recorded paths, then (from `walking`) the path being walked.
    /// Only whole `&str`s and ASCII are ever pushed, and cuts fall between
    /// pushes, so every range a place names is UTF-8.
    paths: Vec<u8>,
    walking: usize,
    rules: Vec<FieldRules>,
}

#[derive(Debug, Clone, Copy)]
struct Place {
    path: (usize, usize),
    rules: (usize, usize),
    index: usize,
}

/// One place, as [`Slots::iter`] yields it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Slot<'a> {
    /// The flow path.
    pub(crate) path: &'a str,
    /// Index into the payload's attachments.
    pub(crate) index: usize,
    /// The limits of every derived field it sits in.
    pub(crate) rules: &'a [FieldRules],
}

impl Slots {
    /// Room for a typical event's paths: no regrowth while walking it.
    pub(crate) fn for_event() -> Slots {
        Slots {
            paths: Vec::with_capacity(96),
            ..Slots::default()
        }
    }

    /// The length of the path being walked: give it back to [`leave`](Self::leave).
    #[inline]
    pub(crate) fn mark(&self) -> usize {
        self.paths.len() - self.walking
    }

    /// Walks into an object key.
    #[inline]
    pub(crate) fn enter_key(&mut self, key: &str) {
        self.begin_key();
        self.key_bytes(key.as_bytes());
    }

    /// Walks into an object key given in parts: this, then
    /// [`key_bytes`](Self::key_bytes) for each part.
    #[inline]
    pub(crate) fn begin_key(&mut self) {
        if self.paths.len() > self.walking {
            self.paths.push(b'.');
        }
    }

    /// A part of the key begun last: whole UTF-8 characters only.
    #[inline]
    pub(crate) fn key_bytes(&mut self, part: &[u8]) {
        self.paths.extend_from_slice(part);
    }

    /// Walks into an array element.
    #[inline]
    pub(crate) fn enter_index(&mut self, index: usize) {
        self.paths.push(b'[');
        let mut digits = [0u8; 20];
        let mut at = digits.len();
        let mut rest = index;
        loop {
            at -= 1;
            digits[at] = b'0' + (rest % 10) as u8;
            rest /= 10;
            if rest == 0 {
                break;
            }
        }
        self.paths.extend_from_slice(&digits[at..]);
        self.paths.push(b']');
    }

    /// Walks back out to a [`mark`](Self::mark).
    #[inline]
    pub(crate) fn leave(&mut self, mark: usize) {
        self.paths.truncate(self.walking + mark);
    }

    /// The path being walked, for messages.
    pub(crate) fn walking_path(&self) -> &str {
        std::str::from_utf8(&self.paths[self.walking..]).unwrap_or_default()
    }

    /// Records the attachment at `index` as standing at the path being
    /// walked, inside fields with `rules`.
    #[inline]
    pub(crate) fn record(&mut self, index: usize, rules: &[FieldRules]) {
        let path = (self.walking, self.paths.len());
        let first_rule = self.rules.len();
        self.rules.extend_from_slice(rules);
        self.places.push(Place {
            path,
            rules: (first_rule, self.rules.len()),
            index,
        });
        // The walk goes on from a copy of the path just recorded.
        self.paths.extend_from_within(path.0..path.1);
        self.walking = path.1;
    }

    /// Records a place whose path is known whole (a stored event).
    pub(crate) fn push(&mut self, path: &str, index: usize, rules: &[FieldRules]) {
        let mark = self.mark();
        self.paths.extend_from_slice(path.as_bytes());
        self.record(index, rules);
        self.leave(mark);
    }

    /// How many places.
    #[cfg(any(test, feature = "fuzzing"))]
    pub(crate) fn len(&self) -> usize {
        self.places.len()
    }

    /// The attachment index of the `n`th place.
    #[inline]
    pub(crate) fn index_of(&self, n: usize) -> Option<usize> {
        self.places.get(n).map(|p| p.index)
    }

    /// Every place, in the order recorded.
    pub(crate) fn iter(&self) -> impl Iterator<Item = Slot<'_>> + '_ {
        self.places.iter().map(|p| self.slot(p))
    }

    fn slot(&self, place: &Place) -> Slot<'_> {
        Slot {
            path: self.path_of(place),
            index: place.index,
            rules: &self.rules[place.rules.0..place.rules.1],
        }
    }

    fn path_of(&self, place: &Place) -> &str {
        // Always UTF-8 (see `paths`); an empty path is the safe reading if
        // that were ever broken.
        std::str::from_utf8(&self.paths[place.path.0..place.path.1]).unwrap_or_default()
    }

    fn path_bytes(&self, place: &Place) -> &[u8] {
        &self.paths[place.path.0..place.path.1]
    }

    /// Whether the attachment at `index` stands anywhere.
    pub(crate) fn is_used(&self, index: usize) -> bool {
        self.places.iter().any(|p| p.index == index)
    }

    /// The first flow path of the attachment at `index`.
    pub(crate) fn first_path(&self, index: usize) -> &str {
        self.places
            .iter()
            .find(|p| p.index == index)
            .map(|p| self.path_of(p))
            .unwrap_or_default()
    }

    /// Keeps only the places whose attachment index passes `keep`.
    pub(crate) fn retain(&mut self, mut keep: impl FnMut(usize) -> bool) {
        self.places.retain(|p| keep(p.index));
    }

    /// Two different attachments at the same flow path (`{"x.y": a, "x":
    /// {"y": b}}`) would be one entry of `uploaded_assets` and one
    /// `{{trigger.x.y}}`: refused rather than silently losing one.
    pub(crate) fn check_distinct(&self) -> Result<()> {
        let places = &self.places[..];
        if places.len() < 2 {
            return Ok(());
        }
        if places.len() <= 8 {
            // A handful: comparing each pair is cheaper than hashing, and
            // most pairs differ in length.
            for (i, a) in places.iter().enumerate() {
                let (start, end) = a.path;
                for b in &places[i + 1..] {
                    if b.path.1 - b.path.0 == end - start
                        && b.index != a.index
                        && self.paths[b.path.0..b.path.1] == self.paths[start..end]
                    {
                        return Err(same_path(self.path_of(b)));
                    }
                }
            }
            return Ok(());
        }
        let mut seen: HashMap<&[u8], usize> = HashMap::with_capacity(places.len());
        for place in places {
            match seen.insert(self.path_bytes(place), place.index) {
                Some(other) if other != place.index => return Err(same_path(self.path_of(place))),
                _ => {}
            }
        }
        Ok(())
    }
}

/// Attachment keys, each once, in the order first met, and the index of
/// each: a handful scanned inline (the common event), more in a map.
#[derive(Debug, Clone, Default)]
pub(crate) struct Keys {
    order: SmallVec<[u64; 8]>,
    many: Option<HashMap<u64, usize>>,
}

/// Past this many keys, a map finds the ones already met.
const SCAN: usize = 8;

impl Keys {
    /// The index of `key`, if met.
    #[inline]
    pub(crate) fn get(&self, key: u64) -> Option<usize> {
        match &self.many {
            Some(map) => map.get(&key).copied(),
            None => self.order.iter().position(|k| *k == key),
        }
    }

    /// The index of `key`, added if new.
    #[inline]
    pub(crate) fn insert(&mut self, key: u64) -> usize {
        if let Some(index) = self.get(key) {
            return index;
        }
        self.order.push(key);
        let index = self.order.len() - 1;
        if let Some(map) = &mut self.many {
            map.insert(key, index);
        } else if self.order.len() > SCAN {
            self.many = Some(
                self.order
                    .iter()
                    .enumerate()
                    .map(|(i, k)| (*k, i))
                    .collect(),
            );
        }
        index
    }

    /// The keys, in the order first met.
    pub(crate) fn as_slice(&self) -> &[u64] {
        &self.order
    }
}

impl FromIterator<u64> for Keys {
    fn from_iter<I: IntoIterator<Item = u64>>(keys: I) -> Self {
        let mut out = Keys::default();
        for key in keys {
            out.insert(key);
        }
        out
    }
}

fn same_path(path: &str) -> Error {
    Error::payload(format!(
        "two different attachments have the same flow path `{}` (a key containing '.' or '[' reads like nesting): rename one of the keys",
        crate::redact::printable(path, 200)
    ))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Rules with only a size limit.
    pub(crate) fn rules(max: u64) -> FieldRules {
        FieldRules {
            mimes: &[],
            max_size: Some(max),
        }
    }

    #[test]
    fn paths_are_recorded_as_walked() {
        let mut s = Slots::default();
        let top = s.mark();
        s.enter_key("gallery");
        let item = s.mark();
        s.enter_index(2);
        s.record(0, &[rules(5)]);
        s.leave(item);
        s.enter_index(12);
        s.record(1, &[]);
        s.leave(top);
        s.enter_key("photos");
        s.enter_key("front");
        s.record(0, &[rules(7), rules(8)]);
        s.leave(top);
        s.record(2, &[]);
        s.push("stored[0]", 1, &[]);
        let got: Vec<_> = s
            .iter()
            .map(|p| {
                let max: Vec<_> = p.rules.iter().map(|r| r.max_size).collect();
                (p.path, p.index, max)
            })
            .collect();
        assert_eq!(
            got,
            [
                ("gallery[2]", 0, vec![Some(5)]),
                ("gallery[12]", 1, vec![]),
                ("photos.front", 0, vec![Some(7), Some(8)]),
                ("", 2, vec![]),
                ("stored[0]", 1, vec![]),
            ]
        );
        assert_eq!(s.first_path(1), "gallery[12]");
        assert!(s.is_used(2) && !s.is_used(3));
        s.retain(|i| i != 0);
        assert_eq!(s.len(), 3);
        assert_eq!(s.index_of(0), Some(1));
    }

    #[test]
    fn keys_keep_the_order_first_met() {
        for n in [3u64, 30] {
            let mut keys = Keys::default();
            for k in (0..n).chain(0..n).map(|k| k * 7919) {
                keys.insert(k);
            }
            assert_eq!(keys.as_slice().len() as u64, n);
            assert_eq!(keys.get(7919 * 2), Some(2));
            assert_eq!(keys.get(1), None);
        }
    }

    #[test]
    fn one_path_for_two_attachments_is_refused() {
        for n in [2, 20] {
            let mut s = Slots::default();
            for i in 0..n {
                s.push(&format!("p{i}"), i, &[]);
            }
            // The same attachment twice at one path is fine.
            s.push("p0", 0, &[]);
            s.check_distinct().unwrap();
            s.push("p1", 0, &[]);
            let err = s.check_distinct().unwrap_err();
            assert!(err.to_string().contains("same flow path `p1`"), "{err}");
        }
    }
}
