//! `max_size = "10 MB"`: sizes parsed at compile time.

use crate::suggest;

/// The largest file FlowFlex stores: 25 MiB, as `flowflex::MAX_FILE_BYTES`.
pub(crate) const MAX_FILE_BYTES: u64 = 25 * 1024 * 1024;

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

/// Parses `"10 MB"`, `"1.5MiB"`, `"2048"`; the result is then [`check`]ed.
pub(crate) fn parse(text: &str) -> Result<u64, String> {
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
        return Err(format!("`{text}` is not a size: {HOW}"));
    }
    let multiplier = if unit.is_empty() {
        1
    } else {
        let lower = unit.to_ascii_lowercase();
        match UNITS.iter().find(|(name, _, _)| *name == lower) {
            Some((_, _, bytes)) => *bytes,
            None => {
                let hint = suggest::nearest(unit, 3, UNITS.iter().map(|(_, shown, _)| *shown))
                    .map(|u| format!(" (did you mean `{u}`?)"))
                    .unwrap_or_default();
                return Err(format!(
                    "unknown unit `{unit}` in `{text}`{hint}; {UNIT_NAMES}"
                ));
            }
        }
    };
    let scale = 10u128.pow(u32::try_from(fraction.len()).unwrap_or(9));
    let whole: u128 = whole
        .parse()
        .map_err(|_| format!("`{text}` is not a size: {HOW}"))?;
    let fraction: u128 = if fraction.is_empty() {
        0
    } else {
        fraction
            .parse()
            .map_err(|_| format!("`{text}` is not a size: {HOW}"))?
    };
    let scaled = (whole * scale + fraction) * u128::from(multiplier);
    if scaled % scale != 0 {
        return Err(format!("`{text}` is not a whole number of bytes; {HOW}"));
    }
    u64::try_from(scaled / scale).map_err(|_| too_large(text, u64::MAX))
}

/// A size must allow something and stay within what FlowFlex stores.
pub(crate) fn check(bytes: u64, shown: &str) -> Result<u64, String> {
    if bytes == 0 {
        return Err(format!(
            "max_size `{shown}` allows no file at all: give at least 1 byte, or remove max_size"
        ));
    }
    if bytes > MAX_FILE_BYTES {
        return Err(too_large(shown, bytes));
    }
    Ok(bytes)
}

fn too_large(shown: &str, bytes: u64) -> String {
    format!(
        "max_size `{shown}` is {bytes} bytes, over the 25 MiB ({MAX_FILE_BYTES} bytes) FlowFlex stores at most; every file is held to that already: use a smaller max_size, or remove it"
    )
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
                err.contains("is not a size") || err.contains("unknown unit"),
                "{text}: {err}"
            );
        }
        assert!(
            parse("0.5 B")
                .unwrap_err()
                .contains("whole number of bytes")
        );
        let err = parse("10 MBs").unwrap_err();
        assert!(err.contains("did you mean `MB`?"), "{err}");
        let err = parse("10 TB").unwrap_err();
        assert!(err.contains("unknown unit `TB`"), "{err}");
    }

    #[test]
    fn range() {
        assert_eq!(check(MAX_FILE_BYTES, "25 MiB"), Ok(MAX_FILE_BYTES));
        assert!(
            check(MAX_FILE_BYTES + 1, "x")
                .unwrap_err()
                .contains("26214400 bytes")
        );
        assert!(check(0, "0 MB").unwrap_err().contains("allows no file"));
        assert!(parse("99999999999999999999 GiB").is_err());
    }
}
