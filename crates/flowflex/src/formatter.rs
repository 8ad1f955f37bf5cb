//! How a send writes JSON: always `serde_json`'s own serializer, so the
//! bytes are `serde_json::to_vec`'s exactly, and every attachment's token
//! is found in them afterwards by `token::find`.
//!
//! A derived event needs nothing more: the derive's walk knows each
//! attachment's path. Any other value (a [`Payload`](crate::Payload), a
//! struct, a map) is written through [`Noting`], a formatter of ours that
//! passes every call on to `CompactFormatter` and follows the writing to
//! note, for each token, its key and flow path (from the object keys and
//! array indexes written around it), refusing what cannot be sent: a token
//! as a map key, nesting deeper than [`MAX_DEPTH`], a value that is not an
//! object, two attachments at one path.
//!
//! Why the positions come from a scan rather than from the formatter
//! counting what it writes: counting every write cost more than the scan
//! (docs/architecture.md has the measurement).

use std::io::{self, Write};

use serde::Serialize;
use serde_json::ser::{CharEscape, CompactFormatter, Formatter};
use smallvec::SmallVec;

use crate::error::{Error, Result};
use crate::redact::printable;
use crate::slots::{Keys, Slots};
use crate::token::{self, Reading, WRITTEN_LEN};

/// Deeper payloads are refused rather than risk the stack.
pub(crate) const MAX_DEPTH: usize = 256;

/// What an attachment used as a map key gets.
const MAP_KEY: &str = "attachments can only be values, never map keys";

/// What [`write_payload`] noted besides the bytes.
#[derive(Debug, Default)]
pub(crate) struct Noted {
    /// Each token in order: where its opening quote stands, its index into
    /// `keys`.
    pub(crate) tokens: SmallVec<[(usize, usize); 8]>,
    /// Where each token stands, indexes into `keys`.
    pub(crate) slots: Slots,
    /// Each key once, in the order first written.
    pub(crate) keys: Keys,
}

/// `value` as compact JSON: `token::candidates` finds where its tokens
/// may stand.
///
/// # Errors
///
/// [`Error::Payload`]: what `value`'s `Serialize` reports, or a map key
/// JSON cannot hold.
pub(crate) fn write<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>> {
    // Most events fit: one allocation, no regrowth.
    let mut json = Vec::with_capacity(1024);
    serde_json::to_writer(&mut json, value).map_err(not_json)?;
    Ok(json)
}

/// Refuses a token used as a map key: a token is followed by `,`, `}` or
/// `]`, or, as a key, by `:`.
///
/// # Errors
///
/// [`Error::Payload`] if one of the tokens at `places` is a key.
pub(crate) fn refuse_token_keys(json: &[u8], places: &[(usize, usize)]) -> Result<()> {
    if places
        .iter()
        .any(|(at, _)| json.get(at + WRITTEN_LEN) == Some(&b':'))
    {
        return Err(Error::payload(format!(
            "an attachment is used as a map key: {MAP_KEY}"
        )));
    }
    Ok(())
}

fn not_json(e: serde_json::Error) -> Error {
    Error::payload(format!("it does not serialize to JSON ({e}); {MAP_KEY}"))
}

/// A payload (any value but a derived event) as compact JSON, with where
/// its tokens stand and the flow path of each; checked as a send checks it.
///
/// # Errors
///
/// [`Error::Payload`] if it cannot be sent: see the module's docs.
pub(crate) fn write_payload<T: Serialize + ?Sized>(value: &T) -> Result<(Vec<u8>, Noted)> {
    let (json, noted) = write_noting(value)?;
    match json.first() {
        Some(b'{') => {}
        Some(b'"') if noted.tokens.first().is_some_and(|t| t.0 == 0) => {
            return Err(Error::payload(
                "the payload itself is an attachment: put it under a key, e.g. flowflex::json!({\"file\": attachment})",
            ));
        }
        first => {
            let kind = match first {
                Some(b'n') => "null",
                Some(b't' | b'f') => "a boolean",
                Some(b'"') => "a string",
                Some(b'[') => "an array",
                _ => "a number",
            };
            return Err(Error::payload(format!(
                "an event payload must be a JSON object (a struct or a map), got {kind}: wrap the value in an object, e.g. flowflex::json!({{\"value\": ..}})"
            )));
        }
    }
    noted.slots.check_distinct()?;
    Ok((json, noted))
}

/// Any value as compact JSON through [`Noting`], with where its tokens
/// stand and the flow path of each; only what [`Noting`] refuses is refused.
///
/// # Errors
///
/// [`Error::Payload`]: a value that does not serialize, a token as a map
/// key, nesting deeper than [`MAX_DEPTH`].
pub(crate) fn write_noting<T: Serialize + ?Sized>(value: &T) -> Result<(Vec<u8>, Noted)> {
    let mut refused = None;
    let mut noting = Noting {
        reading: Reading::No,
        key: false,
        frames: Vec::new(),
        slots: Slots::for_event(),
        keys: Keys::default(),
        written: SmallVec::new(),
        refused: &mut refused,
    };
    let mut ser = serde_json::Serializer::with_formatter(Vec::with_capacity(1024), &mut noting);
    if let Err(e) = value.serialize(&mut ser) {
        return Err(refused.unwrap_or_else(|| not_json(e)));
    }
    let json = ser.into_inner();
    // The scan finds what the formatter read, in the same order, unless raw
    // JSON (serde_json's `RawValue`) holds text that reads like a token.
    let mut tokens = SmallVec::new();
    let mut written = noting.written.iter();
    let raw = || {
        Error::payload(
            "it holds raw JSON that reads like an attachment: attachments can only be serialized values",
        )
    };
    for (at, key) in token::find(&json) {
        match written.next() {
            Some(&(index, noted)) if noted == key => tokens.push((at, index)),
            _ => return Err(raw()),
        }
    }
    if written.next().is_some() {
        return Err(raw());
    }
    Ok((
        json,
        Noted {
            tokens,
            slots: noting.slots,
            keys: noting.keys,
        },
    ))
}

/// An open array or object: where its path ends, and the index of the
/// element being written.
#[derive(Debug, Clone, Copy)]
struct Frame {
    mark: usize,
    index: usize,
}

/// The formatter: `CompactFormatter`'s bytes, with paths and tokens noted.
struct Noting<'a> {
    /// What the string being written reads as so far.
    reading: Reading,
    /// Whether an object key is being written.
    key: bool,
    /// The open arrays and objects.
    frames: Vec<Frame>,
    /// Every place a token stands, its index into `keys`.
    slots: Slots,
    keys: Keys,
    /// Each token read, in order: its index and key.
    written: SmallVec<[(usize, u64); 8]>,
    /// Why the write stopped, when it was us.
    refused: &'a mut Option<Error>,
}

impl Noting<'_> {
    fn refuse(&mut self, error: Error) -> io::Error {
        let message = error.to_string();
        *self.refused = Some(error);
        io::Error::other(message)
    }

    /// Where the path being written stands, for messages.
    fn at_path(&self) -> String {
        let path = self.slots.walking_path();
        if path.is_empty() {
            String::new()
        } else {
            format!(" at `{}`", printable(path, 200))
        }
    }

    /// Starts an element or a key of the innermost array or object:
    /// refused past [`MAX_DEPTH`].
    fn enter(&mut self, first: bool) -> io::Result<Frame> {
        if self.frames.len() > MAX_DEPTH {
            let error = Error::payload(format!(
                "it is nested deeper than {MAX_DEPTH} levels{}: flatten it",
                self.at_path()
            ));
            return Err(self.refuse(error));
        }
        let Some(frame) = self.frames.last_mut() else {
            return Err(io::Error::other("an element outside any array or object"));
        };
        if !first {
            frame.index += 1;
        }
        let frame = *frame;
        self.slots.leave(frame.mark);
        Ok(frame)
    }

    /// A token ended.
    fn token(&mut self, key: u64) -> io::Result<()> {
        if self.key {
            // Named by the object it is a key of: the key is no one's text.
            if let Some(frame) = self.frames.last() {
                self.slots.leave(frame.mark);
            }
            let error = Error::payload(format!(
                "an attachment is used as a map key{}: {MAP_KEY}",
                self.at_path()
            ));
            return Err(self.refuse(error));
        }
        let index = self.keys.insert(key);
        self.written.push((index, key));
        self.slots.record(index, &[]);
        Ok(())
    }

    /// Writes what `write` makes of a scalar; in a key, its text joins the path.
    fn scalar<W: ?Sized + Write>(
        &mut self,
        w: &mut W,
        write: impl FnOnce(&mut io::Cursor<&mut [u8]>) -> io::Result<()>,
    ) -> io::Result<()> {
        // The longest scalar `CompactFormatter` writes: an i128, 40 bytes.
        let mut buf = [0u8; 48];
        let mut cursor = io::Cursor::new(&mut buf[..]);
        write(&mut cursor)?;
        let len = usize::try_from(cursor.position()).unwrap_or(buf.len());
        if self.key {
            self.slots.key_bytes(&buf[..len]);
        }
        w.write_all(&buf[..len])
    }
}

/// Scalars, written as `CompactFormatter` writes them.
macro_rules! scalars {
    ($($method:ident($ty:ty)),+ $(,)?) => {$(
        fn $method<W: ?Sized + Write>(&mut self, w: &mut W, v: $ty) -> io::Result<()> {
            self.scalar(w, |out| CompactFormatter.$method(out, v))
        }
    )+};
}

impl Formatter for &mut Noting<'_> {
    scalars!(
        write_bool(bool),
        write_i8(i8),
        write_i16(i16),
        write_i32(i32),
        write_i64(i64),
        write_i128(i128),
        write_u8(u8),
        write_u16(u16),
        write_u32(u32),
        write_u64(u64),
        write_u128(u128),
        write_f32(f32),
        write_f64(f64),
    );

    fn begin_string<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.reading = Reading::Start;
        CompactFormatter.begin_string(w)
    }

    fn end_string<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        CompactFormatter.end_string(w)?;
        match std::mem::replace(&mut self.reading, Reading::No).key() {
            Some(key) => self.token(key),
            None => Ok(()),
        }
    }

    fn write_string_fragment<W: ?Sized + Write>(&mut self, w: &mut W, v: &str) -> io::Result<()> {
        self.reading.fragment(v.as_bytes());
        if self.key {
            self.slots.key_bytes(v.as_bytes());
        }
        CompactFormatter.write_string_fragment(w, v)
    }

    fn write_char_escape<W: ?Sized + Write>(&mut self, w: &mut W, c: CharEscape) -> io::Result<()> {
        let byte = match c {
            CharEscape::Quote => b'"',
            CharEscape::ReverseSolidus => b'\\',
            CharEscape::Solidus => b'/',
            CharEscape::Backspace => 0x08,
            CharEscape::FormFeed => 0x0c,
            CharEscape::LineFeed => b'\n',
            CharEscape::CarriageReturn => b'\r',
            CharEscape::Tab => b'\t',
            CharEscape::AsciiControl(byte) => byte,
        };
        self.reading.escape(byte);
        if self.key {
            // A key's path holds the character, not its escape.
            self.slots.key_bytes(&[byte]);
        }
        CompactFormatter.write_char_escape(w, c)
    }

    fn begin_array<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        let mark = self.slots.mark();
        self.frames.push(Frame { mark, index: 0 });
        CompactFormatter.begin_array(w)
    }

    fn end_array<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        if let Some(frame) = self.frames.pop() {
            self.slots.leave(frame.mark);
        }
        CompactFormatter.end_array(w)
    }

    fn begin_array_value<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        let frame = self.enter(first)?;
        self.slots.enter_index(frame.index);
        CompactFormatter.begin_array_value(w, first)
    }

    fn begin_object<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        let mark = self.slots.mark();
        self.frames.push(Frame { mark, index: 0 });
        CompactFormatter.begin_object(w)
    }

    fn end_object<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        if let Some(frame) = self.frames.pop() {
            self.slots.leave(frame.mark);
        }
        CompactFormatter.end_object(w)
    }

    fn begin_object_key<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        self.enter(first)?;
        self.slots.begin_key();
        self.key = true;
        CompactFormatter.begin_object_key(w, first)
    }

    fn end_object_key<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.key = false;
        CompactFormatter.end_object_key(w)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn same<T: Serialize + ?Sized>(value: &T) {
        let ours = write_noting(value)
            .map(|(json, _)| json)
            .map_err(|e| e.to_string());
        let theirs = serde_json::to_vec(value).map_err(|e| e.to_string());
        match (ours, theirs) {
            (Ok(ours), Ok(theirs)) => assert_eq!(
                String::from_utf8_lossy(&ours),
                String::from_utf8_lossy(&theirs)
            ),
            (Err(ours), Err(theirs)) => assert!(ours.contains(&theirs), "{ours} / {theirs}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn values_of_every_kind_come_out_as_serde_json_writes_them() {
        use std::collections::BTreeMap;

        #[derive(Serialize)]
        enum E {
            Unit,
            New(u8),
            Tuple(i32, f64),
            Struct { a: Option<String>, b: () },
        }
        #[derive(Serialize)]
        struct Flat {
            a: u8,
            #[serde(flatten)]
            rest: BTreeMap<String, i64>,
        }
        same(&serde_json::json!({
            "n": [0, -1, 1.5, 1e300, -0.0, 12345678901234567890u64, i64::MIN],
            "s": "x\ty\u{0}\u{1f}\"\\é", "b": [true, false], "z": null, "o": {}, "a": [],
        }));
        same(&[f64::NAN, f64::INFINITY, 0.1, 1.0 / 3.0]);
        same(&(u128::MAX, i128::MIN, 'c', "str", b"bytes".as_slice()));
        same(&[
            E::Unit,
            E::New(7),
            E::Tuple(-3, 2.5),
            E::Struct { a: None, b: () },
        ]);
        let mut rest = BTreeMap::new();
        rest.insert("r\"k".to_owned(), 5);
        same(&Flat { a: 1, rest });
        let keys: BTreeMap<i128, u8> = [(i128::MIN, 1), (2, 2)].into_iter().collect();
        same(&keys);
        let keys: BTreeMap<(u8, u8), u8> = [((1, 2), 1)].into_iter().collect();
        same(&keys);
        same(&std::path::Path::new("/a\\b"));
        same(&format_args!("{}{}", '\u{0}', "0123456789abcdef"));
    }

    #[test]
    fn tokens_are_noted_where_they_stand_with_their_paths() {
        let a = crate::Attachment::from_bytes(&b"x"[..], "a.txt");
        let b = crate::Attachment::from_bytes(&b"y"[..], "b.txt");
        let value = serde_json::json!({
            "k\"ey": [1, {"deep": a.token()}],
            "m": {"3": b.token(), "x": a.token()},
            "text": format!("{}!", a.token()),
        });
        let (json, noted) = write_payload(&value).unwrap();
        assert_eq!(json, serde_json::to_vec(&value).unwrap());
        let indexes: Vec<_> = noted.tokens.iter().map(|t| t.1).collect();
        assert_eq!(indexes, [0, 1, 0]);
        assert_eq!(noted.keys.as_slice(), [a.key(), b.key()]);
        for (at, index) in &noted.tokens {
            let key = noted.keys.as_slice()[*index];
            assert_eq!(crate::token::written_at(&json, *at), Some(key));
        }
        let places: Vec<_> = noted.slots.iter().map(|s| (s.path, s.index)).collect();
        assert_eq!(places, [("k\"ey[1].deep", 0), ("m.3", 1), ("m.x", 0)]);
        // Without paths, the same bytes, and the tokens among the candidates.
        let plain = write(&value).unwrap();
        assert_eq!(plain, json);
        let at: Vec<_> = noted.tokens.iter().map(|t| t.0).collect();
        assert_eq!(crate::token::candidates(&plain).collect::<Vec<_>>(), at);
    }

    #[test]
    fn what_cannot_be_sent_is_refused_with_where() {
        let a = crate::Attachment::from_bytes(&b"x"[..], "a.txt");
        let refused = |value: serde_json::Value| write_payload(&value).unwrap_err().to_string();
        let key = refused(serde_json::json!({"m": {a.token(): 1}}));
        assert!(key.contains("map key at `m`"), "{key}");
        let json = write(&serde_json::json!({"m": {a.token(): 1}})).unwrap();
        let key = refuse_token_keys(&json, &[(6, 0)]).unwrap_err();
        assert!(key.to_string().contains("map key"), "{key}");
        let mut deep = serde_json::json!(1);
        for _ in 0..=MAX_DEPTH {
            deep = serde_json::json!([deep]);
        }
        let deep = refused(serde_json::json!({ "d": deep }));
        assert!(deep.contains("deeper than 256 levels at `d[0]"), "{deep}");
        assert!(refused(serde_json::json!([1])).contains("got an array"));
        assert!(refused(serde_json::json!(a.token())).contains("itself is an attachment"));
        let b = crate::Attachment::from_bytes(&b"y"[..], "b.txt");
        let two = refused(serde_json::json!({"x.y": a.token(), "x": {"y": b.token()}}));
        assert!(two.contains("same flow path `x.y`"), "{two}");
        // A number or bool key stands in a path as its text.
        let (_, noted) =
            write_payload(&std::collections::BTreeMap::from([(7, a.clone())])).unwrap();
        assert_eq!(noted.slots.iter().next().map(|s| s.path), Some("7"));
    }
}
