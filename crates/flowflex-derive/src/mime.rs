//! The 16 types FlowFlex accepts, as the macros see them.
//!
//! A copy of the runtime's table (`flowflex::Mime`): the runtime re-exports
//! this crate, so this crate cannot depend on it. `__mime_table!` emits this
//! table as Rust, and a test of the `flowflex` crate proves the two agree.

use crate::suggest;

#[derive(Debug)]
pub(crate) struct MimeInfo {
    /// The essence, as on the wire.
    pub(crate) essence: &'static str,
    /// The `flowflex::Mime` variant.
    pub(crate) variant: &'static str,
    /// Lowercase extensions, canonical first.
    pub(crate) extensions: &'static [&'static str],
    /// A short human name.
    pub(crate) label: &'static str,
}

const fn info(
    essence: &'static str,
    variant: &'static str,
    extensions: &'static [&'static str],
    label: &'static str,
) -> MimeInfo {
    MimeInfo {
        essence,
        variant,
        extensions,
        label,
    }
}

/// In the service's order, as `Mime::ALL`.
pub(crate) static TABLE: [MimeInfo; 16] = [
    info("application/pdf", "Pdf", &["pdf"], "PDF document"),
    info(
        "application/msword",
        "Doc",
        &["doc"],
        "Word 97-2003 document",
    ),
    info(
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "Docx",
        &["docx"],
        "Word document",
    ),
    info(
        "application/vnd.ms-excel",
        "Xls",
        &["xls"],
        "Excel 97-2003 workbook",
    ),
    info(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "Xlsx",
        &["xlsx"],
        "Excel workbook",
    ),
    info(
        "application/vnd.ms-powerpoint",
        "Ppt",
        &["ppt"],
        "PowerPoint 97-2003 presentation",
    ),
    info(
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "Pptx",
        &["pptx"],
        "PowerPoint presentation",
    ),
    info("text/plain", "Txt", &["txt"], "plain text file"),
    info("image/jpeg", "Jpeg", &["jpg", "jpeg"], "JPEG image"),
    info("image/png", "Png", &["png"], "PNG image"),
    info("video/mp4", "Mp4", &["mp4"], "MP4 video"),
    info("video/3gpp", "ThreeGpp", &["3gp", "3gpp"], "3GPP video"),
    info("audio/aac", "Aac", &["aac"], "AAC audio"),
    info("audio/amr", "Amr", &["amr"], "AMR audio"),
    info("audio/mpeg", "Mpeg", &["mp3"], "MP3 audio"),
    info("audio/ogg", "Ogg", &["ogg"], "Ogg audio"),
];

/// The top-level types that have members in [`TABLE`], for `type/*`.
const FAMILIES: [&str; 5] = ["application", "text", "image", "video", "audio"];

/// The table entry for a file extension (case-insensitive, no dot).
pub(crate) fn by_extension(ext: &str) -> Option<&'static MimeInfo> {
    TABLE
        .iter()
        .find(|m| m.extensions.iter().any(|e| e.eq_ignore_ascii_case(ext)))
}

/// Every accepted extension, for messages.
pub(crate) fn all_extensions() -> String {
    TABLE
        .iter()
        .flat_map(|m| m.extensions.iter().copied())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The entries `text` names: one essence (ASCII case ignored, as the
/// runtime's `Mime::from_str`) or a family such as `image/*` (or `*/*`).
///
/// The error says what is wrong and what would be right.
pub(crate) fn lookup(text: &str) -> Result<Vec<&'static MimeInfo>, String> {
    if let Some(family) = text.strip_suffix("/*") {
        let members: Vec<_> = TABLE
            .iter()
            .filter(|m| family == "*" || m.essence.split('/').next() == Some(family))
            .collect();
        if members.is_empty() {
            return Err(format!(
                "`{text}` matches none of the types FlowFlex accepts; the families are {}",
                FAMILIES.map(|f| format!("`{f}/*`")).join(", ")
            ));
        }
        return Ok(members);
    }
    if let Some(m) = TABLE.iter().find(|m| m.essence.eq_ignore_ascii_case(text)) {
        return Ok(vec![m]);
    }
    if let Some(near) = near_miss(text) {
        return Err(format!(
            "`{text}` is not a MIME type FlowFlex accepts; did you mean `{}`?",
            near.essence
        ));
    }
    Err(format!(
        "`{text}` is not a MIME type FlowFlex accepts; expected one of: {}; or a family: {}",
        TABLE
            .iter()
            .map(|m| format!("`{}`", m.essence))
            .collect::<Vec<_>>()
            .join(", "),
        FAMILIES.map(|f| format!("`{f}/*`")).join(", ")
    ))
}

/// The entry `text` most likely meant: one whose extension `text` names
/// (`image/jpg`, `audio/mp3`, `pdf`), else the nearest essence by edits.
fn near_miss(text: &str) -> Option<&'static MimeInfo> {
    let last = text.rsplit(['/', '.', '-', '+']).next().unwrap_or(text);
    by_extension(last)
        .or_else(|| by_extension(text.trim_start_matches('.')))
        .or_else(|| {
            let essence = suggest::nearest(text, 5, TABLE.iter().map(|m| m.essence))?;
            TABLE.iter().find(|m| m.essence == essence)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn variants(text: &str) -> Vec<&'static str> {
        lookup(text).unwrap().iter().map(|m| m.variant).collect()
    }

    #[test]
    fn exact_and_case_insensitive() {
        assert_eq!(variants("image/png"), ["Png"]);
        assert_eq!(variants("Application/PDF"), ["Pdf"]);
        for m in &TABLE {
            assert_eq!(variants(m.essence), [m.variant]);
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
