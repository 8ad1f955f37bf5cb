//! Sizes as people write them (`"10 MB"`, `"1.5 MiB"`, `"2048"`), for the
//! derive's `max_size`: parsed with [`parse`], then held to what FlowFlex
//! stores with [`check`]; and sizes as every message shows them
//! ([`describe`], [`MAX_FILE_SIZE`]).

use std::fmt;

use crate::MAX_FILE_BYTES;
use crate::suggest;

/// FlowFlex's limit as every message words it: `25 MiB (26,214,400 bytes)`,
/// the same as [`describe`]`(MAX_FILE_BYTES)`. (The service's own messages
/// say "25 MB" and mean this.)
pub const MAX_FILE_SIZE: &str = "25 MiB (26,214,400 bytes)";

/// A size as messages show it: `596 bytes`; `25 MiB (26,214,400 bytes)`;
/// `10 MB (10,000,000 bytes)` (a whole number of a decimal unit is shown in
/// it); `12.0 KiB (12,300 bytes)`. Always with the exact byte count, so
/// that no one has to guess which megabyte is meant.
///
/// ```
/// use flowflex_core::size::{MAX_FILE_SIZE, describe};
///
/// assert_eq!(describe(flowflex_core::MAX_FILE_BYTES), MAX_FILE_SIZE);
/// assert_eq!(describe(10_000_000), "10 MB (10,000,000 bytes)");
/// assert_eq!(describe(596), "596 bytes");
/// ```
#[must_use]
pub fn describe(bytes: u64) -> String {
    if bytes < 1000 {
        return format!("{bytes} bytes");
    }
    let exact = |unit: u64| bytes % unit == 0;
    let shown = [
        (1 << 30, "GiB"),
        (1_000_000_000, "GB"),
        (1 << 20, "MiB"),
        (1_000_000, "MB"),
        (1 << 10, "KiB"),
        (1000, "KB"),
    ]
    .iter()
    .find(|(unit, _)| exact(*unit) && bytes >= *unit)
    .map(|(unit, name)| format!("{} {name}", bytes / unit))
    .unwrap_or_else(|| {
        #[allow(clippy::cast_precision_loss)] // One decimal is shown.
        let value = bytes as f64;
        let (unit, name) = [(1u64 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")]
            .into_iter()
            .find(|(unit, _)| bytes >= *unit)
            .unwrap_or((1, "bytes"));
        #[allow(clippy::cast_precision_loss)]
        let scaled = value / unit as f64;
        format!("{scaled:.1} {name}")
    });
    format!("{shown} ({} bytes)", grouped(bytes))
}

/// `26,214,400`: digits in groups of three, for byte counts in messages.
///
/// ```
/// assert_eq!(flowflex_core::size::grouped(26_214_401), "26,214,401");
/// assert_eq!(flowflex_core::size::grouped(999), "999");
/// ```
#[must_use]
pub fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Units, lowercase, with their size in bytes. Decimal units are powers of
/// 1000 (the service's "25 MB" is the exception: it means 25 MiB).
const UNITS: [(&str, &str, u64); 8] = [
    ("b", "B", 1),
    ("bytes", "bytes", 1),
    ("kb", "KB", 1000),
    ("mb", "MB", 1000 * 1000),
    ("gb", "GB", 1000 * 1000 * 1000),
    ("kib", "KiB", 1024),
    ("mib", "MiB", 1024 * 1024),
    ("gib", "GiB", 1024 * 1024 * 1024),
];

const UNIT_NAMES: &str =
    "the units are B, KB, MB, GB (powers of 1000) and KiB, MiB, GiB (powers of 1024)";

const HOW: &str = "write a size like \"10 MB\", \"512 KiB\", \"1.5 MiB\", or an integer number of bytes; the units are B, KB, MB, GB (powers of 1000) and KiB, MiB, GiB (powers of 1024)";

/// Why a size was refused. The message says what is wrong and how to write
/// it instead.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SizeError {
    /// `text` is not a number with an optional unit.
    NotASize {
        /// The text as written.
        text: String,
    },
    /// The number is followed by something that is not a unit.
    UnknownUnit {
        /// The text as written.
        text: String,
        /// The part after the number.
        unit: String,
        /// The unit it most likely meant.
        suggestion: Option<&'static str>,
    },
    /// The size has a fraction of a byte (`"0.5 B"`).
    NotWholeBytes {
        /// The text as written.
        text: String,
    },
    /// The size is zero: no file would fit.
    Zero {
        /// The size as written.
        shown: String,
    },
    /// The size is over [`MAX_FILE_BYTES`].
    TooLarge {
        /// The size as written.
        shown: String,
        /// The size in bytes (`u64::MAX` when it does not even fit in a `u64`).
        bytes: u64,
    },
}

impl fmt::Display for SizeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SizeError::NotASize { text } => write!(f, "`{text}` is not a size: {HOW}"),
            SizeError::UnknownUnit {
                text,
                unit,
                suggestion,
            } => {
                write!(f, "unknown unit `{unit}` in `{text}`")?;
                if let Some(near) = suggestion {
                    write!(f, " (did you mean `{near}`?)")?;
                }
                write!(f, "; {UNIT_NAMES}")
            }
            SizeError::NotWholeBytes { text } => {
                write!(f, "`{text}` is not a whole number of bytes; {HOW}")
            }
            SizeError::Zero { shown } => write!(
                f,
                "max_size `{shown}` allows no file at all: give at least 1 byte, or remove max_size"
            ),
            SizeError::TooLarge { shown, bytes } => write!(
                f,
                "max_size `{shown}` is {} bytes, over the {MAX_FILE_SIZE} FlowFlex stores at most; every file is held to that already: use a smaller max_size, or remove it",
                grouped(*bytes)
            ),
        }
    }
}

impl std::error::Error for SizeError {}

/// Parses `"10 MB"`, `"1.5MiB"`, `"2048"` into bytes; the result is then
/// [`check`]ed.
pub fn parse(text: &str) -> Result<u64, SizeError> {
    let not_a_size = || SizeError::NotASize {
        text: text.to_owned(),
    };
    let trimmed = text.trim();
    let split = trimmed
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '_'))
        .unwrap_or(trimmed.len());
    let (number, unit) = trimmed.split_at(split);
    let number = number.replace('_', "");
    let unit = unit.trim();
    let (whole, fraction) = number.split_once('.').unwrap_or((&number, ""));
    let valid_number = !whole.is_empty()
        && whole.len() <= 20
        && fraction.len() <= 9
        && fraction.chars().all(|c| c.is_ascii_digit())
        && (fraction.is_empty() != number.contains('.'));
    if !valid_number {
        return Err(not_a_size());
    }
    let multiplier = if unit.is_empty() {
        1
    } else {
        let lower = unit.to_ascii_lowercase();
        match UNITS.iter().find(|(name, _, _)| *name == lower) {
            Some((_, _, bytes)) => *bytes,
            None => {
                return Err(SizeError::UnknownUnit {
                    text: text.to_owned(),
                    unit: unit.to_owned(),
                    suggestion: suggest::nearest(unit, 3, UNITS.iter().map(|(_, shown, _)| *shown)),
                });
            }
        }
    };
    let scale = 10u128.pow(u32::try_from(fraction.len()).unwrap_or(9));
    let whole: u128 = whole.parse().map_err(|_| not_a_size())?;
    let fraction: u128 = if fraction.is_empty() {
        0
    } else {
        fraction.parse().map_err(|_| not_a_size())?
    };
    let scaled = (whole * scale + fraction) * u128::from(multiplier);
    if scaled % scale != 0 {
        return Err(SizeError::NotWholeBytes {
            text: text.to_owned(),
        });
    }
    u64::try_from(scaled / scale).map_err(|_| SizeError::TooLarge {
        shown: text.to_owned(),
        bytes: u64::MAX,
    })
}

/// A size limit must allow something and stay within what FlowFlex stores.
/// `shown` is the size as written, for the message.
pub fn check(bytes: u64, shown: &str) -> Result<u64, SizeError> {
    if bytes == 0 {
        return Err(SizeError::Zero {
            shown: shown.to_owned(),
        });
    }
    if bytes > MAX_FILE_BYTES {
        return Err(SizeError::TooLarge {
            shown: shown.to_owned(),
            bytes,
        });
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units() {
        for (text, bytes) in [
            ("10 MB", 10_000_000),
            ("10MB", 10_000_000),
            ("10 mb", 10_000_000),
            ("512 KiB", 524_288),
            ("1.5 MiB", 1_572_864),
            ("25 MiB", MAX_FILE_BYTES),
            ("2048", 2048),
            ("2_048 B", 2048),
            ("7 bytes", 7),
            ("0.5 KB", 500),
            ("0.001 GB", 1_000_000),
            (" 1 KB ", 1000),
            ("1 GiB", 1 << 30),
        ] {
            assert_eq!(parse(text), Ok(bytes), "{text}");
        }
    }

    #[test]
    fn malformed() {
        for text in [
            "", "MB", "ten MB", "1.2.3 MB", "1. MB", ".5 MB", "-1 MB", "1e6",
        ] {
            let err = parse(text).unwrap_err();
            assert!(
                matches!(
                    err,
                    SizeError::NotASize { .. } | SizeError::UnknownUnit { .. }
                ),
                "{text}: {err}"
            );
        }
        assert_eq!(
            parse("ten MB").unwrap_err().to_string(),
            "`ten MB` is not a size: write a size like \"10 MB\", \"512 KiB\", \"1.5 MiB\", or an integer number of bytes; the units are B, KB, MB, GB (powers of 1000) and KiB, MiB, GiB (powers of 1024)"
        );
        assert_eq!(
            parse("0.5 B").unwrap_err(),
            SizeError::NotWholeBytes {
                text: "0.5 B".into()
            }
        );
        assert_eq!(
            parse("10 MBs").unwrap_err().to_string(),
            "unknown unit `MBs` in `10 MBs` (did you mean `MB`?); the units are B, KB, MB, GB (powers of 1000) and KiB, MiB, GiB (powers of 1024)"
        );
        assert_eq!(
            parse("10 parsecs").unwrap_err().to_string(),
            "unknown unit `parsecs` in `10 parsecs`; the units are B, KB, MB, GB (powers of 1000) and KiB, MiB, GiB (powers of 1024)"
        );
        let err = parse("10 TB").unwrap_err().to_string();
        assert!(err.starts_with("unknown unit `TB` in `10 TB`"), "{err}");
    }

    #[test]
    fn sizes_read_the_same_in_every_message() {
        assert_eq!(describe(MAX_FILE_BYTES), MAX_FILE_SIZE);
        for (bytes, shown) in [
            (0, "0 bytes"),
            (596, "596 bytes"),
            (1000, "1 KB (1,000 bytes)"),
            (1024, "1 KiB (1,024 bytes)"),
            (12_300, "12.0 KiB (12,300 bytes)"),
            (10_000_000, "10 MB (10,000,000 bytes)"),
            (3 * 1024 * 1024, "3 MiB (3,145,728 bytes)"),
            (MAX_FILE_BYTES + 1, "25.0 MiB (26,214,401 bytes)"),
            (1 << 30, "1 GiB (1,073,741,824 bytes)"),
        ] {
            assert_eq!(describe(bytes), shown, "{bytes}");
        }
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(100_000), "100,000");
        assert_eq!(grouped(u64::MAX), "18,446,744,073,709,551,615");
    }

    #[test]
    fn range() {
        assert_eq!(check(MAX_FILE_BYTES, "25 MiB"), Ok(MAX_FILE_BYTES));
        assert_eq!(check(1, "1 B"), Ok(1));
        assert_eq!(
            check(MAX_FILE_BYTES + 1, "x").unwrap_err().to_string(),
            "max_size `x` is 26,214,401 bytes, over the 25 MiB (26,214,400 bytes) FlowFlex stores at most; every file is held to that already: use a smaller max_size, or remove it"
        );
        assert_eq!(
            check(0, "0 MB").unwrap_err().to_string(),
            "max_size `0 MB` allows no file at all: give at least 1 byte, or remove max_size"
        );
        assert!(matches!(
            parse("99999999999999999999 GiB"),
            Err(SizeError::TooLarge {
                bytes: u64::MAX,
                ..
            })
        ));
    }
}
