//! Matching a payload path against a path template of `attachment_paths()`.
//! Shared by the derive tests of `crates/flowflex` and of `tests/`.

/// Whether `path` (`orders.eu[0].receipt`) matches `template`
/// (`orders.*[].receipt`): `[]` matches an index, `*` one key, `**` anything.
pub(crate) fn matches_template(template: &str, path: &str) -> bool {
    if let Some(rest) = template.strip_prefix("**") {
        return (0..=path.len())
            .any(|i| path.is_char_boundary(i) && matches_template(rest, &path[i..]));
    }
    if let Some(rest) = template.strip_prefix("[]") {
        let Some(after) = path.strip_prefix('[') else {
            return false;
        };
        let digits = after.chars().take_while(char::is_ascii_digit).count();
        return digits > 0
            && after[digits..].starts_with(']')
            && matches_template(rest, &after[digits + 1..]);
    }
    if let Some(rest) = template.strip_prefix('*') {
        let key = path.find(['.', '[']).unwrap_or(path.len());
        return key > 0 && matches_template(rest, &path[key..]);
    }
    match (template.chars().next(), path.chars().next()) {
        (None, None) => true,
        (Some(a), Some(b)) if a == b => {
            matches_template(&template[a.len_utf8()..], &path[b.len_utf8()..])
        }
        _ => false,
    }
}

#[test]
fn templates_match_what_they_say() {
    assert!(matches_template("gallery[]", "gallery[12]"));
    assert!(!matches_template("gallery[]", "gallery[]"));
    assert!(!matches_template("gallery[]", "gallery"));
    assert!(matches_template("photos.*", "photos.front"));
    assert!(!matches_template("photos.*", "photos."));
    assert!(matches_template(
        "orders.*[].receipt",
        "orders.eu[0].receipt"
    ));
    assert!(!matches_template(
        "orders.*[].receipt",
        "orders.eu[0].invoice"
    ));
    assert!(matches_template(
        "children[].**",
        "children[0].children[1].file"
    ));
    assert!(matches_template("*", "loose"));
}
