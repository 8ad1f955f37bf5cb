//! Magic bytes: does a file's content agree with its extension's type?
//!
//! A minimal copy of the runtime's check (`flowflex`'s `sniff.rs`), enough
//! to refuse an included file that a send would refuse. The runtime still
//! checks every file again when it is sent (including the OOXML and OLE2
//! sub-types, which need a ZIP or compound-file reader).

const OLE2: &[u8] = &[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];
const ZIP: &[u8] = b"PK\x03\x04";
const PNG: &[u8] = b"\x89PNG\r\n\x1a\n";
const JPEG: &[u8] = &[0xFF, 0xD8, 0xFF];

/// Whether `bytes` look like the `flowflex::Mime` variant named `variant`.
pub(crate) fn matches(variant: &str, bytes: &[u8]) -> bool {
    match variant {
        "Txt" => !looks_binary(bytes),
        _ if bytes.is_empty() => false,
        "Pdf" => bytes.starts_with(b"%PDF"),
        "Doc" | "Xls" | "Ppt" => bytes.starts_with(OLE2),
        "Docx" | "Xlsx" | "Pptx" => bytes.starts_with(ZIP),
        "Jpeg" => bytes.starts_with(JPEG),
        "Png" => bytes.starts_with(PNG),
        "Mp4" => ftyp_brand(bytes).is_some_and(|b| !b.starts_with(b"3g")),
        "ThreeGpp" => ftyp_brand(bytes).is_some_and(|b| b.starts_with(b"3g")),
        "Aac" => is_adts(bytes) || bytes.starts_with(b"ADIF"),
        "Amr" => bytes.starts_with(b"#!AMR"),
        "Mpeg" => bytes.starts_with(b"ID3") || is_mpeg_audio_frame(bytes),
        "Ogg" => bytes.starts_with(b"OggS"),
        _ => false,
    }
}

/// What the bytes look like, when recognisable, for the error message.
pub(crate) fn describe(bytes: &[u8]) -> Option<&'static str> {
    const KNOWN: &[(&[u8], &str)] = &[
        (PNG, "a PNG image"),
        (JPEG, "a JPEG image"),
        (b"%PDF", "a PDF document"),
        (ZIP, "a ZIP archive (or an Office document)"),
        (OLE2, "an OLE2 compound file (or a legacy Office document)"),
        (b"OggS", "an Ogg file"),
        (b"#!AMR", "an AMR audio file"),
        (b"ID3", "an MP3 file"),
        (b"GIF87a", "a GIF image"),
        (b"GIF89a", "a GIF image"),
        (b"RIFF", "a RIFF file (WebP, WAV or AVI)"),
        (b"\x7fELF", "an executable"),
        (&[0x1F, 0x8B, 0x08], "a gzip archive"),
    ];
    if bytes.is_empty() {
        return Some("an empty file");
    }
    if let Some((_, name)) = KNOWN.iter().find(|(sig, _)| bytes.starts_with(sig)) {
        return Some(name);
    }
    ftyp_brand(bytes).map(|_| "an MP4/3GPP video")
}

/// A text file must not carry another format's signature.
fn looks_binary(bytes: &[u8]) -> bool {
    const STRONG: &[&[u8]] = &[
        PNG,
        JPEG,
        b"%PDF-",
        ZIP,
        OLE2,
        b"OggS",
        b"#!AMR\n",
        b"GIF87a",
        b"GIF89a",
        b"\x7fELF",
        b"RIFF",
        &[0x1F, 0x8B, 0x08],
        b"7z\xBC\xAF\x27\x1C",
    ];
    STRONG.iter().any(|sig| bytes.starts_with(sig)) || ftyp_brand(bytes).is_some()
}

fn ftyp_brand(bytes: &[u8]) -> Option<&[u8]> {
    (bytes.len() >= 12 && &bytes[4..8] == b"ftyp").then(|| &bytes[8..12])
}

/// ADTS frame sync: 12 set bits, then MPEG version, then layer `00`.
fn is_adts(bytes: &[u8]) -> bool {
    bytes.len() >= 2 && bytes[0] == 0xFF && bytes[1] & 0xF6 == 0xF0
}

/// MPEG-1/2 audio frame sync with a valid version and a non-zero layer.
fn is_mpeg_audio_frame(bytes: &[u8]) -> bool {
    bytes.len() >= 3
        && bytes[0] == 0xFF
        && bytes[1] & 0xE0 == 0xE0
        && (bytes[1] >> 3) & 0b11 != 0b01
        && (bytes[1] >> 1) & 0b11 != 0
        && bytes[2] >> 4 != 0b1111
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures() {
        assert!(matches("Png", b"\x89PNG\r\n\x1a\n...."));
        assert!(!matches("Png", b"GIF89a"));
        assert!(matches("Pdf", b"%PDF-1.7"));
        assert!(matches("Jpeg", &[0xFF, 0xD8, 0xFF, 0xE0]));
        assert!(matches("Txt", b"hello"));
        assert!(matches("Txt", b""));
        assert!(!matches("Txt", b"%PDF-1.7"));
        assert!(!matches("Pdf", b""));
        assert!(matches("Mp4", b"\0\0\0\x18ftypisom"));
        assert!(matches("ThreeGpp", b"\0\0\0\x18ftyp3gp5"));
        assert!(!matches("Mp4", b"\0\0\0\x18ftyp3gp5"));
        assert!(matches("Mpeg", b"ID3\x04"));
        assert!(matches("Aac", &[0xFF, 0xF1, 0x50]));
        assert!(!matches("Mpeg", &[0xFF, 0xF1, 0x50]));
        assert_eq!(describe(b"GIF89a.."), Some("a GIF image"));
        assert_eq!(describe(b"plain"), None);
    }
}
