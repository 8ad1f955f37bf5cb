//! `mime = ".."`: the types and families the attribute names, read from
//! `flowflex-core`'s table (the one `flowflex::Mime` is), with messages that
//! suggest the type a near miss meant.

use flowflex_core::Mime;
use flowflex_core::suggest;

/// A type's top-level type: `image` for `image/png`.
fn family(mime: Mime) -> &'static str {
    mime.as_str().split('/').next().unwrap_or_default()
}

/// The families with members, in the table's order, as `type/*` for messages.
fn families() -> String {
    let mut seen: Vec<&str> = Vec::new();
    for m in Mime::ALL {
        if !seen.contains(&family(m)) {
            seen.push(family(m));
        }
    }
    seen.iter()
        .map(|f| format!("`{f}/*`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Every accepted extension, for messages.
pub(crate) fn all_extensions() -> String {
    Mime::ALL
        .iter()
        .flat_map(|m| m.extensions().iter().copied())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The entries `text` names: one essence (ASCII case ignored, as the
/// runtime's `Mime::from_str`) or a family such as `image/*` (or `*/*`).
///
/// The error says what is wrong and what would be right.
pub(crate) fn lookup(text: &str) -> Result<Vec<Mime>, String> {
    if let Some(wanted) = text.strip_suffix("/*") {
        let members: Vec<_> = Mime::ALL
            .into_iter()
            .filter(|m| wanted == "*" || family(*m) == wanted)
            .collect();
        if members.is_empty() {
            return Err(format!(
                "`{text}` matches none of the types FlowFlex accepts; the families are {}",
                families()
            ));
        }
        return Ok(members);
    }
    if let Some(m) = Mime::from_essence(text) {
        return Ok(vec![m]);
    }
    if let Some(near) = near_miss(text) {
        return Err(format!(
            "`{text}` is not a MIME type FlowFlex accepts; did you mean `{near}`?"
        ));
    }
    Err(format!(
        "`{text}` is not a MIME type FlowFlex accepts; expected one of: {}; or a family: {}",
        Mime::ALL
            .iter()
            .map(|m| format!("`{m}`"))
            .collect::<Vec<_>>()
            .join(", "),
        families()
    ))
}

/// The type `text` most likely meant: one whose extension `text` names
/// (`image/jpg`, `audio/mp3`, `pdf`), else the nearest essence by edits.
fn near_miss(text: &str) -> Option<Mime> {
    let last = text.rsplit(['/', '.', '-', '+']).next().unwrap_or(text);
    Mime::from_extension(last).or_else(|| {
        let essence = suggest::nearest(text, 5, Mime::ALL.map(Mime::as_str))?;
        Mime::from_essence(essence)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn variants(text: &str) -> Vec<&'static str> {
        lookup(text)
            .unwrap()
            .into_iter()
            .map(Mime::variant_name)
            .collect()
    }

    #[test]
    fn exact_and_case_insensitive() {
        assert_eq!(variants("image/png"), ["Png"]);
        assert_eq!(variants("Application/PDF"), ["Pdf"]);
        for m in Mime::ALL {
            assert_eq!(variants(m.as_str()), [m.variant_name()]);
        }
    }

    #[test]
    fn families_expand() {
        assert_eq!(variants("image/*"), ["Jpeg", "Png"]);
        assert_eq!(variants("video/*"), ["Mp4", "ThreeGpp"]);
        assert_eq!(variants("audio/*"), ["Aac", "Amr", "Mpeg", "Ogg"]);
        assert_eq!(variants("text/*"), ["Txt"]);
        assert_eq!(lookup("application/*").unwrap().len(), 7);
        assert_eq!(lookup("*/*").unwrap().len(), 16);
        let err = lookup("font/*").unwrap_err();
        assert!(err.contains("`image/*`"), "{err}");
    }

    #[test]
    fn near_misses_suggest() {
        for (typo, meant) in [
            ("image/jpg", "image/jpeg"),
            ("audio/mp3", "audio/mpeg"),
            (
                "application/docx",
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            ),
            ("pdf", "application/pdf"),
            ("image/pnj", "image/png"),
            ("video/3gp", "video/3gpp"),
            ("application/pfd", "application/pdf"),
        ] {
            let err = lookup(typo).unwrap_err();
            assert!(
                err.contains(&format!("did you mean `{meant}`?")),
                "{typo}: {err}"
            );
        }
    }

    #[test]
    fn unknown_lists_the_valid_ones() {
        let err = lookup("image/gif").unwrap_err();
        assert!(err.contains("expected one of"), "{err}");
        assert!(err.contains("`audio/ogg`"), "{err}");
        assert!(err.contains("`image/*`"), "{err}");
    }
}
