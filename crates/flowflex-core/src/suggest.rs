//! "Did you mean ..?" for near misses: the derive's attribute keys and MIME
//! types, and the units of a size.

/// The Levenshtein distance between `a` and `b`, by characters, ignoring
/// ASCII case.
fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().map(|c| c.to_ascii_lowercase()).collect();
    let b: Vec<char> = b.chars().map(|c| c.to_ascii_lowercase()).collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = if ca == cb {
                diagonal
            } else {
                1 + diagonal.min(above).min(row[j])
            };
            diagonal = above;
        }
    }
    row[b.len()]
}

/// The candidate nearest to `input`, if it is near enough to be a typo:
/// at most one edit per `per` characters of `input` (at least one edit).
#[must_use]
pub fn nearest<'a>(
    input: &str,
    per: usize,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let limit = (input.chars().count() / per).max(1);
    candidates
        .into_iter()
        .map(|c| (distance(input, c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances() {
        assert_eq!(distance("image/jpg", "image/jpeg"), 1);
        assert_eq!(distance("mime", "mime"), 0);
        assert_eq!(distance("", "abc"), 3);
        assert_eq!(distance("kitten", "sitting"), 3);
        assert_eq!(distance("MAX_SIZE", "max_size"), 0);
    }

    #[test]
    fn nearest_is_a_typo_only() {
        assert_eq!(nearest("mim", 3, ["mime", "max_size"]), Some("mime"));
        assert_eq!(
            nearest("maxsize", 3, ["mime", "max_size"]),
            Some("max_size")
        );
        assert_eq!(
            nearest("max_szie", 3, ["mime", "max_size"]),
            Some("max_size")
        );
        assert_eq!(nearest("colour", 3, ["mime", "max_size"]), None);
    }

    /// One edit per `per` characters: six characters allow two at `per` 3,
    /// one at `per` 4 or more.
    #[test]
    fn longer_inputs_allow_more_edits() {
        assert_eq!(distance("mxsize", "max_size"), 2);
        assert_eq!(nearest("mxsize", 3, ["max_size"]), Some("max_size"));
        assert_eq!(nearest("mxsize", 4, ["max_size"]), None);
        assert_eq!(nearest("mxsize", 7, ["max_size"]), None);
    }
}
