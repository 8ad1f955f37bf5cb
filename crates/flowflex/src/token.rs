//! The attachment token: what an [`Attachment`](crate::Attachment)
//! serializes to, and the one place that knows its layout.
//!
//! A token is a string: a NUL character, then the 16 lowercase hex digits of
//! the attachment's key (random, drawn when the attachment is made, shared
//! by its clones). `serde_json` writes it as `"\u0000` and the digits and
//! `"`: [`WRITTEN_LEN`] bytes, every one of them ASCII, none escaped but the
//! NUL. No text a user writes by accident reads like one, and none can name a
//! file: a token names an attachment only to the payload that holds it.
//!
//! A stored body (the outbox) writes the same form with an attachment's
//! index in place of its key ([`written`]), since keys live only as long as
//! the process.

/// A token as written in JSON: `"\u0000`, 16 hex digits, `"`.
pub(crate) const WRITTEN_LEN: usize = 24;

/// What opens a written token: the quote and the escaped NUL.
const WRITTEN_OPENING: &[u8; 7] = b"\"\\u0000";

const DIGITS: usize = 16;
const HEX: &[u8; 16] = b"0123456789abcdef";

/// A fresh key, from the OS's random source: no payload text can predict it.
pub(crate) fn new_key() -> u64 {
    uuid::Uuid::new_v4().as_u64_pair().1
}

/// The token of `key`: NUL and its 16 hex digits.
pub(crate) fn text(key: u64) -> Box<str> {
    let mut text = String::with_capacity(1 + DIGITS);
    text.push('\0');
    text.extend(digits(key).iter().map(|&d| char::from(d)));
    text.into_boxed_str()
}

/// The key a token names, if `s` is one.
pub(crate) fn key_of(s: &str) -> Option<u64> {
    s.strip_prefix('\0').and_then(|hex| parse(hex.as_bytes()))
}

/// `key` in 16 lowercase hex digits.
fn digits(key: u64) -> [u8; DIGITS] {
    let mut out = [0u8; DIGITS];
    for (i, d) in out.iter_mut().enumerate() {
        *d = HEX[((key >> (60 - 4 * i)) & 0xf) as usize];
    }
    out
}

/// 16 lowercase hex digits as their key.
fn parse(hex: &[u8]) -> Option<u64> {
    if hex.len() != DIGITS {
        return None;
    }
    let mut key = 0u64;
    for &b in hex {
        let digit = match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            _ => return None,
        };
        key = key << 4 | u64::from(digit);
    }
    Some(key)
}

/// The written form of a token naming `key` (a key, or a stored index).
pub(crate) fn written(key: u64) -> [u8; WRITTEN_LEN] {
    let mut out = [b'"'; WRITTEN_LEN];
    out[..WRITTEN_OPENING.len()].copy_from_slice(WRITTEN_OPENING);
    out[WRITTEN_OPENING.len()..WRITTEN_LEN - 1].copy_from_slice(&digits(key));
    out
}

/// The key of the token written at `at` in `json` (its opening quote), if
/// one stands there whole.
pub(crate) fn written_at(json: &[u8], at: usize) -> Option<u64> {
    parse(written_digits(json, at)?)
}

/// Whether the token written at `at` is `text` (a token made by [`text`]):
/// its digits compared, not parsed.
#[inline]
pub(crate) fn written_as(json: &[u8], at: usize, text: &str) -> bool {
    written_digits(json, at).is_some_and(|digits| text.as_bytes().get(1..) == Some(digits))
}

/// The 16 bytes between `"\u0000` and `"` at `at`, if that is what stands
/// there (digits or not).
#[inline]
fn written_digits(json: &[u8], at: usize) -> Option<&[u8]> {
    let token = json.get(at..at + WRITTEN_LEN)?;
    if !token.starts_with(WRITTEN_OPENING) || token[WRITTEN_LEN - 1] != b'"' {
        return None;
    }
    Some(&token[WRITTEN_OPENING.len()..WRITTEN_LEN - 1])
}

/// Every token written in `json` (compact JSON as `serde_json` writes it),
/// in order: where it starts and the key it names.
pub(crate) fn find(json: &[u8]) -> impl Iterator<Item = (usize, u64)> + '_ {
    candidates(json).filter_map(|at| written_at(json, at).map(|key| (at, key)))
}

/// Where a token may stand in `json`: each string of a NUL and 16 more
/// bytes, in order. [`written_as`] or [`written_at`] tell which are
/// tokens. Looks only at backslashes, rare in JSON.
pub(crate) fn candidates(json: &[u8]) -> impl Iterator<Item = usize> + '_ {
    memchr::memchr_iter(b'\\', json).filter_map(move |slash| {
        // `"\u0000` opening a string: the quote right before the backslash
        // opens it unless it is itself escaped (an odd run of backslashes
        // before it).
        let start = slash.checked_sub(1)?;
        let escaped = json[..start]
            .iter()
            .rev()
            .take_while(|b| **b == b'\\')
            .count()
            % 2
            == 1;
        (!escaped && written_digits(json, start).is_some()).then_some(start)
    })
}

/// Reads a string as `serde_json` hands it to a formatter (escapes and
/// fragments, in order) and tells whether it was a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reading {
    /// Nothing read yet.
    Start,
    /// The NUL, then `len` hex digits making `key` so far.
    Digits { key: u64, len: usize },
    /// Not a token.
    No,
}

impl Reading {
    /// An escaped character of the string.
    #[inline]
    pub(crate) fn escape(&mut self, byte: u8) {
        *self = match self {
            Reading::Start if byte == 0 => Reading::Digits { key: 0, len: 0 },
            _ => Reading::No,
        };
    }

    /// A run of the string's bytes that needs no escaping.
    #[inline]
    pub(crate) fn fragment(&mut self, bytes: &[u8]) {
        match self {
            Reading::No => {}
            Reading::Digits { key, len } if *len + bytes.len() <= DIGITS => {
                for &b in bytes {
                    let digit = match b {
                        b'0'..=b'9' => b - b'0',
                        b'a'..=b'f' => b - b'a' + 10,
                        _ => {
                            *self = Reading::No;
                            return;
                        }
                    };
                    *key = *key << 4 | u64::from(digit);
                }
                *len += bytes.len();
            }
            _ => *self = Reading::No,
        }
    }

    /// The key the string named, once it ended, if it was a token.
    #[inline]
    pub(crate) fn key(&self) -> Option<u64> {
        match *self {
            Reading::Digits { key, len: DIGITS } => Some(key),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_lookalikes_are_not_tokens() {
        for key in [0, 1, 0xdead_beef, u64::MAX, new_key()] {
            let text = text(key);
            assert_eq!(text.len(), 17);
            assert_eq!(key_of(&text), Some(key));
            let json = serde_json::to_vec(&*text).unwrap();
            assert_eq!(json, written(key));
            assert_eq!(written_at(&json, 0), Some(key));
            assert!(written_as(&json, 0, &text));
            assert!(!written_as(&json, 0, &self::text(key ^ 1)));
            assert_eq!(find(&json).collect::<Vec<_>>(), [(0, key)]);
        }
        for bad in [
            "",
            "\0",
            "0123456789abcdef",
            "\u{0}0123456789abcde",
            "\u{0}0123456789ABCDEF",
            "\u{0}0123456789abcdef0",
            "\0+123456789abcdef",
        ] {
            assert_eq!(key_of(bad), None, "{bad:?}");
            let json = serde_json::to_vec(bad).unwrap();
            assert_eq!(find(&json).count(), 0, "{bad:?}");
        }
    }

    #[test]
    fn a_token_inside_other_text_is_not_found() {
        let token = text(7);
        for s in [
            format!("\"{token}"),
            format!("\\{token}"),
            format!("x{token}"),
        ] {
            let json = serde_json::to_vec(&serde_json::json!({ "k": s })).unwrap();
            assert_eq!(find(&json).count(), 0, "{s:?}");
        }
        let json = serde_json::to_vec(&serde_json::json!({ "k": [&*token, "\\", &*token] }));
        let json = json.unwrap();
        assert_eq!(find(&json).map(|(_, k)| k).collect::<Vec<_>>(), [7, 7]);
    }

    #[test]
    fn reading_a_string_as_written_tells_a_token() {
        let read = |parts: &[Result<&str, u8>]| {
            let mut r = Reading::Start;
            for part in parts {
                match part {
                    Ok(s) => r.fragment(s.as_bytes()),
                    Err(b) => r.escape(*b),
                }
            }
            r.key()
        };
        assert_eq!(read(&[Err(0), Ok("00000000000000ff")]), Some(255));
        assert_eq!(read(&[Err(0), Ok("00000000"), Ok("000000ff")]), Some(255));
        for parts in [
            &[Err(0), Ok("00000000000000f")][..],
            &[Err(0), Ok("00000000000000ff0")],
            &[Ok("x"), Err(0), Ok("00000000000000ff")],
            &[Err(1), Ok("00000000000000ff")],
            &[Err(0), Ok("00000000"), Err(b'"'), Ok("0000000")],
            &[Err(0), Ok("0000000000000G0f")],
            &[],
        ] {
            assert_eq!(read(parts), None, "{parts:?}");
        }
    }
}
