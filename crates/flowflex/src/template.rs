//! The JSON writer a send serializes its payload with. Its output is
//! `serde_json`'s compact output byte for byte (numbers are written by
//! `serde_json`'s own formatter, strings escaped by the same table), plus
//! two things `serde_json` cannot give:
//!
//! - where each attachment's token stands, noted as it is written, so
//!   nothing scans the output for them afterwards. `Attachment`'s
//!   `Serialize` wraps its token in a newtype named [`ATTACHMENT`]; every
//!   other serializer writes the token as a plain string, this one notes
//!   the position and the token text's address (which attachment wrote it).
//!   A token-shaped string from anywhere else (a `serde_json::Value`, text
//!   from outside) is noted too, without an address, for the caller to
//!   resolve by its key or refuse;
//! - strings that need no escaping (nearly all) checked eight bytes at a
//!   time and copied whole, where `serde_json` looks at each byte.
//!
//! `serde_json` keeps its writer's position to itself, hence a writer of
//! our own rather than a wrapper around its serializer.

use std::fmt::{self, Display};

use serde::Serialize;
use serde::ser::{self, Error as _, Impossible};
use serde_json::ser::{CompactFormatter, Formatter as _};
use smallvec::SmallVec;

type Error = serde_json::Error;
type Result<T> = std::result::Result<T, Error>;

/// The newtype name `Attachment`'s `Serialize` writes its token under.
pub(crate) const ATTACHMENT: &str = "$flowflex::Attachment";

/// The struct names `serde_json` writes raw (its `arbitrary_precision`
/// numbers and `RawValue`, when another crate turns those features on).
const NUMBER: &str = "$serde_json::private::Number";
const RAW_VALUE: &str = "$serde_json::private::RawValue";

/// What an attachment used as a map key gets.
pub(crate) const MAP_KEY: &str =
    "an attachment is used as a map key: attachments can only be values, never map keys";

/// Whether `s` is a token.
fn is_token(s: &[u8]) -> bool {
    std::str::from_utf8(s)
        .ok()
        .and_then(crate::token::key_of)
        .is_some()
}

/// A value written as JSON, with where its tokens stand.
#[derive(Debug)]
pub(crate) struct Template {
    pub(crate) json: Vec<u8>,
    /// Each token in the order written: where its opening quote stands, and
    /// the address of the text it was written from (an attachment's own
    /// token), or 0 for a token-shaped string from elsewhere.
    pub(crate) tokens: SmallVec<[(usize, usize); 8]>,
    /// Whether the error, if any, is an attachment used as a map key.
    key_attachment: bool,
}

/// Writes `value` as compact JSON.
///
/// # Errors
///
/// What `value`'s `Serialize` reports; a map key that is not a string, a
/// number or a boolean; an attachment used as a map key ([`MAP_KEY`]).
pub(crate) fn write<T: Serialize + ?Sized>(value: &T) -> std::result::Result<Template, String> {
    let mut t = Template {
        // Most events fit: one allocation, no regrowth.
        json: Vec::with_capacity(1024),
        tokens: SmallVec::new(),
        key_attachment: false,
    };
    match value.serialize(&mut t) {
        Ok(()) => Ok(t),
        Err(_) if t.key_attachment => Err(MAP_KEY.to_owned()),
        Err(e) => Err(e.to_string()),
    }
}

const fn escapes() -> [u8; 256] {
    let mut table = [0u8; 256];
    let mut b = 0;
    while b < 0x20 {
        table[b] = b'u';
        b += 1;
    }
    table[0x08] = b'b';
    table[0x09] = b't';
    table[0x0a] = b'n';
    table[0x0c] = b'f';
    table[0x0d] = b'r';
    table[b'"' as usize] = b'"';
    table[b'\\' as usize] = b'\\';
    table
}

/// `serde_json`'s escapes: `\"`, `\\`, the short ones for control
/// characters that have them, `\u00XX` for the rest below 0x20.
static ESCAPE: [u8; 256] = escapes();

/// Whether no byte of `s` needs escaping: it can be written between
/// quotes as it is.
#[inline]
pub(crate) fn clean(s: &[u8]) -> bool {
    #[inline]
    fn word(chunk: &[u8]) -> u64 {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        u64::from_le_bytes(word)
    }
    if s.len() < 8 {
        return s.iter().all(|&b| ESCAPE[usize::from(b)] == 0);
    }
    let mut chunks = s.chunks_exact(8);
    for chunk in &mut chunks {
        if special(word(chunk)) {
            return false;
        }
    }
    // The last bytes as one word, overlapping the one before.
    chunks.remainder().is_empty() || !special(word(&s[s.len() - 8..]))
}

/// Whether a byte of `w` is below 0x20, a `"` or a `\`.
#[inline]
fn special(w: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    #[inline]
    fn zero_byte(w: u64) -> bool {
        w.wrapping_sub(ONES) & !w & HIGH != 0
    }
    w.wrapping_sub(ONES * 0x20) & !w & HIGH != 0
        || zero_byte(w ^ (ONES * u64::from(b'"')))
        || zero_byte(w ^ (ONES * u64::from(b'\\')))
}

/// Appends `s` escaped, without quotes.
#[cold]
#[inline(never)]
fn escape_into(out: &mut Vec<u8>, s: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut start = 0;
    for (i, &b) in s.iter().enumerate() {
        let escape = ESCAPE[usize::from(b)];
        if escape == 0 {
            continue;
        }
        out.extend_from_slice(&s[start..i]);
        if escape == b'u' {
            out.extend_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(b >> 4)],
                HEX[usize::from(b & 0xf)],
            ]);
        } else {
            out.extend_from_slice(&[b'\\', escape]);
        }
        start = i + 1;
    }
    out.extend_from_slice(&s[start..]);
}

/// Appends `s` escaped, without quotes: whole if it needs nothing.
#[inline(always)]
pub(crate) fn contents(out: &mut Vec<u8>, s: &[u8]) {
    if clean(s) {
        out.extend_from_slice(s);
    } else {
        escape_into(out, s);
    }
}

impl Template {
    #[inline(always)]
    fn string(&mut self, s: &str) {
        let s = s.as_bytes();
        self.json.reserve(s.len() + 2);
        self.json.push(b'"');
        contents(&mut self.json, s);
        self.json.push(b'"');
    }

    /// A string value: a token-shaped one is noted, with no address.
    #[inline(always)]
    fn value_string(&mut self, s: &str) {
        if s.as_bytes().first() == Some(&0) && is_token(s.as_bytes()) {
            self.tokens.push((self.json.len(), 0));
        }
        self.string(s);
    }

    /// `{"variant":`, opening an enum variant's value.
    fn open_variant(&mut self, variant: &str) {
        self.json.push(b'{');
        self.string(variant);
        self.json.push(b':');
    }
}

fn io(e: std::io::Error) -> Error {
    Error::io(e)
}

/// Calls `$mac` with each integer method, its type and its formatter
/// method.
macro_rules! with_integers {
    ($mac:ident) => {
        $mac!(
            serialize_i8(i8) write_i8,
            serialize_i16(i16) write_i16,
            serialize_i32(i32) write_i32,
            serialize_i64(i64) write_i64,
            serialize_i128(i128) write_i128,
            serialize_u8(u8) write_u8,
            serialize_u16(u16) write_u16,
            serialize_u32(u32) write_u32,
            serialize_u64(u64) write_u64,
            serialize_u128(u128) write_u128,
        );
    };
}

/// Integers, written by `serde_json`'s formatter.
macro_rules! integers {
    ($($method:ident($ty:ty) $write:ident),+ $(,)?) => {$(
        #[inline]
        fn $method(self, v: $ty) -> Result<()> {
            CompactFormatter.$write(&mut self.json, v).map_err(io)
        }
    )+};
}

impl<'a> ser::Serializer for &'a mut Template {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = Compound<'a>;
    type SerializeTuple = Compound<'a>;
    type SerializeTupleStruct = Compound<'a>;
    type SerializeTupleVariant = Compound<'a>;
    type SerializeMap = Compound<'a>;
    type SerializeStruct = Compound<'a>;
    type SerializeStructVariant = Compound<'a>;

    #[inline]
    fn serialize_bool(self, v: bool) -> Result<()> {
        self.json
            .extend_from_slice(if v { b"true" } else { b"false" });
        Ok(())
    }

    with_integers!(integers);

    fn serialize_f32(self, v: f32) -> Result<()> {
        if v.is_finite() {
            CompactFormatter.write_f32(&mut self.json, v).map_err(io)
        } else {
            self.serialize_unit()
        }
    }

    fn serialize_f64(self, v: f64) -> Result<()> {
        if v.is_finite() {
            CompactFormatter.write_f64(&mut self.json, v).map_err(io)
        } else {
            self.serialize_unit()
        }
    }

    fn serialize_char(self, v: char) -> Result<()> {
        self.value_string(v.encode_utf8(&mut [0; 4]));
        Ok(())
    }

    #[inline]
    fn serialize_str(self, v: &str) -> Result<()> {
        self.value_string(v);
        Ok(())
    }

    fn serialize_bytes(self, v: &[u8]) -> Result<()> {
        CompactFormatter
            .write_byte_array(&mut self.json, v)
            .map_err(io)
    }

    #[inline]
    fn serialize_none(self) -> Result<()> {
        self.serialize_unit()
    }

    #[inline]
    fn serialize_some<T: ?Sized + Serialize>(self, value: &T) -> Result<()> {
        value.serialize(self)
    }

    #[inline]
    fn serialize_unit(self) -> Result<()> {
        self.json.extend_from_slice(b"null");
        Ok(())
    }

    fn serialize_unit_struct(self, _: &'static str) -> Result<()> {
        self.serialize_unit()
    }

    fn serialize_unit_variant(self, _: &'static str, _: u32, variant: &'static str) -> Result<()> {
        self.value_string(variant);
        Ok(())
    }

    #[inline]
    fn serialize_newtype_struct<T: ?Sized + Serialize>(
        self,
        name: &'static str,
        value: &T,
    ) -> Result<()> {
        if name == ATTACHMENT {
            let at = self.json.len();
            let address = value.serialize(TokenWriter(self))?;
            self.tokens.push((at, address));
            return Ok(());
        }
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: ?Sized + Serialize>(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<()> {
        self.open_variant(variant);
        value.serialize(&mut *self)?;
        self.json.push(b'}');
        Ok(())
    }

    #[inline]
    fn serialize_seq(self, len: Option<usize>) -> Result<Compound<'a>> {
        self.json.push(b'[');
        if len == Some(0) {
            self.json.push(b']');
            return Ok(Compound::new(self, State::Empty));
        }
        Ok(Compound::new(self, State::First))
    }

    fn serialize_tuple(self, len: usize) -> Result<Compound<'a>> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_struct(self, _: &'static str, len: usize) -> Result<Compound<'a>> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Compound<'a>> {
        self.open_variant(variant);
        self.serialize_seq(Some(len))
    }

    #[inline]
    fn serialize_map(self, len: Option<usize>) -> Result<Compound<'a>> {
        self.json.push(b'{');
        if len == Some(0) {
            self.json.push(b'}');
            return Ok(Compound::new(self, State::Empty));
        }
        Ok(Compound::new(self, State::First))
    }

    #[inline]
    fn serialize_struct(self, name: &'static str, len: usize) -> Result<Compound<'a>> {
        if name == NUMBER || name == RAW_VALUE {
            return Ok(Compound::new(self, State::Raw));
        }
        self.serialize_map(Some(len))
    }

    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Compound<'a>> {
        self.open_variant(variant);
        self.serialize_map(Some(len))
    }

    fn collect_str<T: ?Sized + Display>(self, value: &T) -> Result<()> {
        struct Escaping<'b>(&'b mut Vec<u8>);
        impl fmt::Write for Escaping<'_> {
            fn write_str(&mut self, s: &str) -> fmt::Result {
                contents(self.0, s.as_bytes());
                Ok(())
            }
        }
        self.json.push(b'"');
        let start = self.json.len();
        fmt::Write::write_fmt(&mut Escaping(&mut self.json), format_args!("{value}"))
            .map_err(|_| Error::custom("a Display implementation returned an error"))?;
        self.json.push(b'"');
        if self.json.len() - start + 1 == crate::token::WRITTEN_LEN
            && crate::token::written_at(&self.json, start - 1).is_some()
        {
            // Written whole, the text would have been token-shaped.
            self.tokens.push((start - 1, 0));
        }
        Ok(())
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    /// Opened and closed already (a known empty length).
    Empty,
    First,
    Rest,
    /// `serde_json`'s raw struct: its one field is written as it is.
    Raw,
}

/// An array, object or variant being written.
pub(crate) struct Compound<'a> {
    t: &'a mut Template,
    state: State,
}

impl<'a> Compound<'a> {
    fn new(t: &'a mut Template, state: State) -> Self {
        Compound { t, state }
    }

    #[inline]
    fn comma(&mut self) {
        if self.state == State::First {
            self.state = State::Rest;
        } else {
            self.t.json.push(b',');
        }
    }

    #[inline]
    fn element<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<()> {
        self.comma();
        value.serialize(&mut *self.t)
    }

    /// A struct's field: its name as the key.
    #[inline(always)]
    fn field<T: ?Sized + Serialize>(&mut self, key: &'static str, value: &T) -> Result<()> {
        if self.state == State::Raw {
            return value.serialize(RawWriter(self.t));
        }
        self.comma();
        self.t.string(key);
        self.t.json.push(b':');
        value.serialize(&mut *self.t)
    }

    fn close(&mut self, end: u8) {
        if !matches!(self.state, State::Empty | State::Raw) {
            self.t.json.push(end);
        }
    }
}

/// The array-like compounds: elements after commas, `]` at the end (then
/// the `}` of a variant's object).
macro_rules! array {
    ($($trait:ident::$method:ident $(then $after:literal)?),+) => {$(
        impl ser::$trait for Compound<'_> {
            type Ok = ();
            type Error = Error;

            #[inline]
            fn $method<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<()> {
                self.element(value)
            }

            #[inline]
            fn end(mut self) -> Result<()> {
                self.close(b']');
                $(self.t.json.push($after);)?
                Ok(())
            }
        }
    )+};
}

array!(
    SerializeSeq::serialize_element,
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field,
    SerializeTupleVariant::serialize_field then b'}'
);

impl ser::SerializeMap for Compound<'_> {
    type Ok = ();
    type Error = Error;

    fn serialize_key<T: ?Sized + Serialize>(&mut self, key: &T) -> Result<()> {
        self.comma();
        key.serialize(KeyWriter(&mut *self.t))
    }

    fn serialize_value<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<()> {
        self.t.json.push(b':');
        value.serialize(&mut *self.t)
    }

    fn end(mut self) -> Result<()> {
        self.close(b'}');
        Ok(())
    }
}

/// The struct-like compounds: named fields, `}` at the end (then the `}`
/// of a variant's object).
macro_rules! fields {
    ($($trait:ident $(then $after:literal)?),+) => {$(
        impl ser::$trait for Compound<'_> {
            type Ok = ();
            type Error = Error;

            #[inline]
            fn serialize_field<T: ?Sized + Serialize>(
                &mut self,
                key: &'static str,
                value: &T,
            ) -> Result<()> {
                self.field(key, value)
            }

            #[inline]
            fn end(mut self) -> Result<()> {
                self.close(b'}');
                $(self.t.json.push($after);)?
                Ok(())
            }
        }
    )+};
}

fields!(SerializeStruct, SerializeStructVariant then b'}');

/// The methods of a serializer that takes only what its `$ok` arm says:
/// each other one fails with `$err`.
macro_rules! refuse {
    ($ok:ty, $err:expr; $($method:ident($($arg:ty),*)),* $(,)?) => {$(
        fn $method(self, $(_: $arg),*) -> Result<$ok> {
            Err($err(self))
        }
    )*};
}

/// Every scalar, refused with `$err`: for a serializer that takes a string
/// only.
macro_rules! refuse_scalars {
    ($ok:ty, $err:expr) => {
        refuse!($ok, $err;
            serialize_bool(bool), serialize_i8(i8), serialize_i16(i16), serialize_i32(i32),
            serialize_i64(i64), serialize_i128(i128), serialize_u8(u8), serialize_u16(u16),
            serialize_u32(u32), serialize_u64(u64), serialize_u128(u128), serialize_f32(f32),
            serialize_f64(f64), serialize_char(char), serialize_bytes(&[u8]), serialize_unit(),
            serialize_unit_struct(&'static str),
        );
    };
}

/// The rest of the `Serializer` methods, refused with `$err`.
macro_rules! refuse_compound {
    ($ok:ty, $err:expr) => {
        type SerializeSeq = Impossible<$ok, Error>;
        type SerializeTuple = Impossible<$ok, Error>;
        type SerializeTupleStruct = Impossible<$ok, Error>;
        type SerializeTupleVariant = Impossible<$ok, Error>;
        type SerializeMap = Impossible<$ok, Error>;
        type SerializeStruct = Impossible<$ok, Error>;
        type SerializeStructVariant = Impossible<$ok, Error>;

        fn serialize_none(self) -> Result<$ok> {
            Err($err(self))
        }
        fn serialize_newtype_variant<T: ?Sized + Serialize>(
            self,
            _: &'static str,
            _: u32,
            _: &'static str,
            _: &T,
        ) -> Result<$ok> {
            Err($err(self))
        }
        fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq> {
            Err($err(self))
        }
        fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple> {
            Err($err(self))
        }
        fn serialize_tuple_struct(
            self,
            _: &'static str,
            _: usize,
        ) -> Result<Self::SerializeTupleStruct> {
            Err($err(self))
        }
        fn serialize_tuple_variant(
            self,
            _: &'static str,
            _: u32,
            _: &'static str,
            _: usize,
        ) -> Result<Self::SerializeTupleVariant> {
            Err($err(self))
        }
        fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap> {
            Err($err(self))
        }
        fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeStruct> {
            Err($err(self))
        }
        fn serialize_struct_variant(
            self,
            _: &'static str,
            _: u32,
            _: &'static str,
            _: usize,
        ) -> Result<Self::SerializeStructVariant> {
            Err($err(self))
        }
    };
}

/// Map keys written between quotes by `serde_json`'s formatter.
macro_rules! quoted_keys {
    ($($method:ident($ty:ty) $write:ident),+ $(,)?) => {$(
        fn $method(self, v: $ty) -> Result<()> {
            self.quoted(|out| CompactFormatter.$write(out, v))
        }
    )+};
}

/// Writes a map key as `serde_json` does: strings as they are; numbers and
/// booleans quoted; anything else refused.
struct KeyWriter<'a>(&'a mut Template);

fn key_must_be_a_string(_: KeyWriter<'_>) -> Error {
    Error::custom("key must be a string")
}

impl KeyWriter<'_> {
    /// `"`, what `write` writes, `"`.
    fn quoted(self, write: impl FnOnce(&mut Vec<u8>) -> std::io::Result<()>) -> Result<()> {
        self.0.json.push(b'"');
        write(&mut self.0.json).map_err(io)?;
        self.0.json.push(b'"');
        Ok(())
    }
}

impl ser::Serializer for KeyWriter<'_> {
    type Ok = ();
    type Error = Error;

    refuse_compound!((), key_must_be_a_string);
    refuse!((), key_must_be_a_string;
        serialize_bytes(&[u8]),
        serialize_unit(),
        serialize_unit_struct(&'static str),
    );

    fn serialize_str(self, v: &str) -> Result<()> {
        if is_token(v.as_bytes()) {
            self.0.key_attachment = true;
            return Err(Error::custom(MAP_KEY));
        }
        self.0.string(v);
        Ok(())
    }

    fn serialize_char(self, v: char) -> Result<()> {
        self.serialize_str(v.encode_utf8(&mut [0; 4]))
    }

    fn serialize_unit_variant(self, _: &'static str, _: u32, variant: &'static str) -> Result<()> {
        self.serialize_str(variant)
    }

    fn serialize_newtype_struct<T: ?Sized + Serialize>(
        self,
        name: &'static str,
        value: &T,
    ) -> Result<()> {
        if name == ATTACHMENT {
            self.0.key_attachment = true;
            return Err(Error::custom(MAP_KEY));
        }
        value.serialize(self)
    }

    with_integers!(quoted_keys);
    quoted_keys!(serialize_bool(bool) write_bool);

    fn serialize_f32(self, v: f32) -> Result<()> {
        if !v.is_finite() {
            return Err(Error::custom(
                "float key must be finite (got NaN or +/-inf)",
            ));
        }
        self.quoted(|out| CompactFormatter.write_f32(out, v))
    }

    fn serialize_f64(self, v: f64) -> Result<()> {
        if !v.is_finite() {
            return Err(Error::custom(
                "float key must be finite (got NaN or +/-inf)",
            ));
        }
        self.quoted(|out| CompactFormatter.write_f64(out, v))
    }

    fn serialize_some<T: ?Sized + Serialize>(self, value: &T) -> Result<()> {
        value.serialize(self)
    }

    fn collect_str<T: ?Sized + Display>(self, value: &T) -> Result<()> {
        self.serialize_str(&value.to_string())
    }
}

/// Writes the one field of `serde_json`'s raw structs as it is.
struct RawWriter<'a>(&'a mut Template);

fn not_raw(_: RawWriter<'_>) -> Error {
    Error::custom("expected RawValue")
}

impl ser::Serializer for RawWriter<'_> {
    type Ok = ();
    type Error = Error;

    refuse_compound!((), not_raw);
    refuse_scalars!((), not_raw);

    fn serialize_str(self, v: &str) -> Result<()> {
        self.0.json.extend_from_slice(v.as_bytes());
        Ok(())
    }

    fn serialize_unit_variant(self, _: &'static str, _: u32, _: &'static str) -> Result<()> {
        Err(not_raw(self))
    }

    fn serialize_newtype_struct<T: ?Sized + Serialize>(self, _: &'static str, _: &T) -> Result<()> {
        Err(not_raw(self))
    }

    fn serialize_some<T: ?Sized + Serialize>(self, _: &T) -> Result<()> {
        Err(not_raw(self))
    }
}

/// Writes an attachment's token, returning the address of its text.
struct TokenWriter<'a>(&'a mut Template);

fn not_a_token(_: TokenWriter<'_>) -> Error {
    Error::custom("an attachment wrote something other than its token")
}

impl ser::Serializer for TokenWriter<'_> {
    type Ok = usize;
    type Error = Error;

    refuse_compound!(usize, not_a_token);
    refuse_scalars!(usize, not_a_token);

    #[inline]
    fn serialize_str(self, v: &str) -> Result<usize> {
        let bytes = v.as_bytes();
        // Whether the digits are a key is for the caller to find out (from
        // the address, most often); here only that they need no escaping.
        if bytes.len() != 17 || bytes[0] != 0 || !clean(&bytes[1..]) {
            return Err(not_a_token(self));
        }
        // As `serde_json` writes it: the NUL escaped, the digits as they are.
        self.0.json.extend_from_slice(b"\"\\u0000");
        self.0.json.extend_from_slice(&bytes[1..]);
        self.0.json.push(b'"');
        Ok(v.as_ptr() as usize)
    }

    fn serialize_unit_variant(self, _: &'static str, _: u32, _: &'static str) -> Result<usize> {
        Err(not_a_token(self))
    }

    fn serialize_newtype_struct<T: ?Sized + Serialize>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<usize> {
        value.serialize(self)
    }

    fn serialize_some<T: ?Sized + Serialize>(self, _: &T) -> Result<usize> {
        Err(not_a_token(self))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn same<T: Serialize + ?Sized>(value: &T) {
        let ours = write(value).map(|t| t.json);
        let theirs = serde_json::to_vec(value).map_err(|e| e.to_string());
        assert_eq!(
            ours.as_deref().map(String::from_utf8_lossy),
            theirs.as_deref().map(String::from_utf8_lossy)
        );
    }

    #[test]
    fn strings_are_escaped_as_serde_json_escapes_them() {
        let mut all = String::new();
        for c in (0u32..0x80).chain([0xe9, 0x2028, 0x1f600]) {
            all.push(char::from_u32(c).unwrap());
        }
        same(&all);
        for len in 0..40 {
            for special in ['"', '\\', '\n', '\u{1f}', '\u{0}', 'é', '\u{7f}'] {
                for at in 0..len {
                    let s: String = (0..len)
                        .map(|i| if i == at { special } else { 'a' })
                        .collect();
                    same(&s);
                }
            }
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
        struct Unit;
        #[derive(Serialize)]
        struct Tuple(u8, char);
        #[derive(Serialize)]
        #[serde(tag = "kind")]
        enum Tagged {
            A { x: u32 },
        }
        #[derive(Serialize)]
        #[serde(untagged)]
        enum Untagged {
            S(String),
        }
        #[derive(Serialize)]
        struct Flat {
            a: u8,
            #[serde(flatten)]
            rest: BTreeMap<String, i64>,
        }
        same(&serde_json::json!({
            "n": [0, -1, 1.5, 1e300, -0.0, 12345678901234567890u64, i64::MIN],
            "s": "x\ty", "b": [true, false], "z": null, "o": {}, "a": [],
            "nested": {"deep": [[{"k": "v"}]]},
        }));
        same(&[f64::NAN, f64::INFINITY, 0.1, 1.0 / 3.0]);
        same(&[f32::NAN, 0.1f32, 16_777_216.0]);
        same(&(u128::MAX, i128::MIN, 'c', "str", b"bytes".as_slice()));
        same(&[
            E::Unit,
            E::New(7),
            E::Tuple(-3, 2.5),
            E::Struct { a: None, b: () },
        ]);
        same(&(
            Unit,
            Tuple(1, '"'),
            Tagged::A { x: 1 },
            Untagged::S("u".into()),
        ));
        let mut rest = BTreeMap::new();
        rest.insert("r\"k".to_owned(), 5);
        same(&Flat { a: 1, rest });
        same(&Vec::<u8>::new());
        let keys: BTreeMap<i64, u8> = [(-1, 1), (2, 2)].into_iter().collect();
        same(&keys);
        let keys: BTreeMap<bool, u8> = [(true, 1)].into_iter().collect();
        same(&keys);
        let keys: BTreeMap<char, u8> = [('\n', 1)].into_iter().collect();
        same(&keys);
        let keys: BTreeMap<(u8, u8), u8> = [((1, 2), 1)].into_iter().collect();
        same(&keys);
        let keys: std::collections::HashMap<Option<u8>, u8> = [(None, 1)].into_iter().collect();
        same(&keys);
        same(&std::net::Ipv4Addr::new(10, 0, 0, 1));
        same(&std::time::Duration::from_millis(1500));
        same(&std::path::Path::new("/a\\b"));
    }

    #[test]
    fn tokens_are_noted_where_they_stand() {
        let a = crate::Attachment::from_bytes(&b"x"[..], "a.txt");
        let t = write(&serde_json::json!({"k": "v"})).unwrap();
        assert!(t.tokens.is_empty());
        #[derive(Serialize)]
        struct S<'a> {
            name: &'a str,
            file: &'a crate::Attachment,
            text: String,
        }
        let s = S {
            name: "n",
            file: &a,
            text: a.token().to_owned(),
        };
        let t = write(&s).unwrap();
        assert_eq!(t.json, serde_json::to_vec(&s).unwrap());
        let [(first, address), (second, none)] = t.tokens[..] else {
            panic!("{:?}", t.tokens)
        };
        assert_eq!(address, a.token().as_ptr() as usize);
        assert_eq!(none, 0);
        for at in [first, second] {
            assert_eq!(&t.json[at..at + 7], b"\"\\u0000");
            assert_eq!(t.json[at + 23], b'"');
        }
        // As a map key, refused with its own message.
        let mut map = std::collections::BTreeMap::new();
        map.insert(a.token().to_owned(), 1);
        assert_eq!(write(&map).unwrap_err(), MAP_KEY);
    }
}
