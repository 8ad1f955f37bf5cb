//! Magic-byte checks: does a file's content agree with the MIME type it claims?
//!
//! The runtime runs [`check`] on every file it sends; `include_attachment!`
//! runs the same check when it compiles, so a file it accepts is one a send
//! accepts.
//!
//! Signatures come from `infer` where its matcher is exact for our purpose
//! (PDF, PNG, JPEG, Ogg, OOXML sub-types, OLE2 sub-types); the container-level
//! rules (an OOXML file is a ZIP, MP4 and 3GPP share the ISO `ftyp` box) are
//! ours, because FlowFlex distinguishes types `infer` lumps together or misses.

use crate::Mime;

/// How many leading bytes are read to check a file's type. OOXML sub-type
/// detection looks a few kilobytes into the ZIP directory.
pub const SNIFF_LEN: usize = 16 * 1024;

/// Why a file's bytes do not match its declared type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// What the bytes look like instead, when recognisable.
    pub detected: Option<Detected>,
    /// Whether there were no bytes at all.
    pub empty: bool,
}

/// A recognised content type: one of ours, or something else by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detected {
    /// One of the 16 accepted types.
    Accepted(Mime),
    /// Something else, by its human name ("a GIF image").
    Other(&'static str),
}

impl std::fmt::Display for Detected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Detected::Accepted(m) => write!(f, "a {} ({})", m.label(), m.as_str()),
            Detected::Other(name) => write!(f, "{name}"),
        }
    }
}

const OLE2: &[u8] = &[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];
const ZIP: &[u8] = b"PK\x03\x04";
const PNG: &[u8] = b"\x89PNG\r\n\x1a\n";

/// Checks `head` (the first [`SNIFF_LEN`] bytes, or the whole file if shorter)
/// against `mime`.
pub fn check(mime: Mime, head: &[u8]) -> Result<(), Mismatch> {
    let ok = match mime {
        Mime::Txt => !looks_binary(head),
        _ if head.is_empty() => false,
        Mime::Pdf => infer::archive::is_pdf(head),
        Mime::Doc | Mime::Xls | Mime::Ppt => {
            head.starts_with(OLE2) && ole2_kind(head).is_none_or(|k| k == mime)
        }
        Mime::Docx | Mime::Xlsx | Mime::Pptx => {
            head.starts_with(ZIP) && ooxml_kind(head).is_none_or(|k| k == mime)
        }
        Mime::Jpeg => head.starts_with(&[0xFF, 0xD8, 0xFF]),
        Mime::Png => head.starts_with(PNG),
        Mime::Mp4 => ftyp_brand(head).is_some_and(|b| !b.starts_with(b"3g")),
        Mime::ThreeGpp => ftyp_brand(head).is_some_and(|b| b.starts_with(b"3g")),
        Mime::Aac => is_adts(head) || head.starts_with(b"ADIF"),
        Mime::Amr => head.starts_with(b"#!AMR"),
        Mime::Mpeg => head.starts_with(b"ID3") || is_mpeg_audio_frame(head),
        Mime::Ogg => infer::audio::is_ogg(head),
    };
    if ok {
        Ok(())
    } else {
        Err(Mismatch {
            detected: detect(head).filter(|d| *d != Detected::Accepted(mime)),
            empty: head.is_empty(),
        })
    }
}

/// What `head` looks like, for messages and suggestions.
#[must_use]
pub fn detect(head: &[u8]) -> Option<Detected> {
    use Detected::{Accepted, Other};
    if head.is_empty() {
        return None;
    }
    let accepted = if head.starts_with(PNG) {
        Some(Mime::Png)
    } else if head.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(Mime::Jpeg)
    } else if head.starts_with(b"%PDF") {
        Some(Mime::Pdf)
    } else if head.starts_with(ZIP) {
        ooxml_kind(head)
    } else if head.starts_with(OLE2) {
        ole2_kind(head)
    } else if let Some(brand) = ftyp_brand(head) {
        Some(if brand.starts_with(b"3g") {
            Mime::ThreeGpp
        } else {
            Mime::Mp4
        })
    } else if head.starts_with(b"OggS") {
        Some(Mime::Ogg)
    } else if head.starts_with(b"#!AMR") {
        Some(Mime::Amr)
    } else if head.starts_with(b"ID3") || is_mpeg_audio_frame(head) {
        Some(Mime::Mpeg)
    } else if is_adts(head) || head.starts_with(b"ADIF") {
        Some(Mime::Aac)
    } else {
        None
    };
    if let Some(m) = accepted {
        return Some(Accepted(m));
    }
    if head.starts_with(ZIP) {
        return Some(Other("a ZIP archive"));
    }
    if head.starts_with(OLE2) {
        return Some(Other("an OLE2 compound file"));
    }
    infer::get(head)
        .filter(|t| t.matcher_type() != infer::MatcherType::Text)
        .map(|t| Other(describe_infer(t.mime_type())))
}

/// A text file must not carry another format's signature: a PNG renamed to
/// `.txt` is still a PNG.
fn looks_binary(head: &[u8]) -> bool {
    const STRONG: &[&[u8]] = &[
        PNG,
        &[0xFF, 0xD8, 0xFF],
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
    STRONG.iter().any(|sig| head.starts_with(sig)) || ftyp_brand(head).is_some()
}

fn describe_infer(mime: &'static str) -> &'static str {
    match mime {
        "image/gif" => "a GIF image",
        "image/webp" => "a WebP image",
        "image/bmp" => "a BMP image",
        "image/heif" | "image/heic" => "a HEIC image",
        "application/x-executable" | "application/vnd.microsoft.portable-executable" => {
            "an executable"
        }
        "application/gzip" => "a gzip archive",
        "audio/x-wav" => "a WAV file",
        other => other,
    }
}

fn ftyp_brand(head: &[u8]) -> Option<&[u8]> {
    (head.len() >= 12 && &head[4..8] == b"ftyp").then(|| &head[8..12])
}

/// ADTS frame sync: 12 set bits, then MPEG version, then layer `00`.
fn is_adts(head: &[u8]) -> bool {
    head.len() >= 2 && head[0] == 0xFF && head[1] & 0xF6 == 0xF0
}

/// MPEG-1/2 audio frame sync: 11 set bits, a valid version and a non-zero
/// layer (layer `00` is ADTS/AAC).
fn is_mpeg_audio_frame(head: &[u8]) -> bool {
    head.len() >= 3
        && head[0] == 0xFF
        && head[1] & 0xE0 == 0xE0
        && (head[1] >> 3) & 0b11 != 0b01
        && (head[1] >> 1) & 0b11 != 0
        && head[2] >> 4 != 0b1111
}

fn ooxml_kind(head: &[u8]) -> Option<Mime> {
    if infer::doc::is_docx(head) {
        Some(Mime::Docx)
    } else if infer::doc::is_xlsx(head) {
        Some(Mime::Xlsx)
    } else if infer::doc::is_pptx(head) {
        Some(Mime::Pptx)
    } else {
        None
    }
}

fn ole2_kind(head: &[u8]) -> Option<Mime> {
    if infer::doc::is_doc(head) {
        Some(Mime::Doc)
    } else if infer::doc::is_xls(head) {
        Some(Mime::Xls)
    } else if infer::doc::is_ppt(head) {
        Some(Mime::Ppt)
    } else {
        None
    }
}

#[cfg(test)]
mod samples {
    //! The smallest byte strings that carry each type's signature.
    use crate::Mime;

    pub(super) fn sample(mime: Mime) -> Vec<u8> {
        let mut v: Vec<u8> = match mime {
            Mime::Pdf => b"%PDF-1.7\n%\xE2\xE3\xCF\xD3\n".to_vec(),
            Mime::Doc | Mime::Xls | Mime::Ppt => super::OLE2.to_vec(),
            Mime::Docx | Mime::Xlsx | Mime::Pptx => {
                let dir: &[u8] = match mime {
                    Mime::Docx => b"word/document.xml",
                    Mime::Xlsx => b"xl/workbook.xml",
                    _ => b"ppt/presentation.xml",
                };
                let mut v = b"PK\x03\x04".to_vec();
                v.resize(0x1E, 0);
                v.extend_from_slice(dir);
                v
            }
            Mime::Txt => b"hello, world\n".to_vec(),
            Mime::Jpeg => vec![0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10, b'J', b'F', b'I', b'F'],
            Mime::Png => super::PNG.to_vec(),
            Mime::Mp4 => b"\0\0\0\x20ftypisom\0\0\x02\0".to_vec(),
            Mime::ThreeGpp => b"\0\0\0\x14ftyp3gp4\0\0\0\0".to_vec(),
            Mime::Aac => vec![0xFF, 0xF1, 0x50, 0x80],
            Mime::Amr => b"#!AMR\n\x3c\0\0\0\0\0".to_vec(),
            Mime::Mpeg => b"ID3\x04\0\0\0\0\0\0".to_vec(),
            Mime::Ogg => b"OggS\0\x02\0\0\0\0\0\0\0\0".to_vec(),
        };
        v.extend_from_slice(&[0u8; 32]);
        v
    }
}

#[cfg(test)]
mod tests {
    use super::samples::sample;
    use super::*;

    #[test]
    fn every_type_accepts_its_own_signature() {
        for m in Mime::ALL {
            assert_eq!(check(m, &sample(m)), Ok(()), "{m}");
        }
    }

    #[test]
    fn every_signed_type_rejects_every_other_types_signature() {
        for m in Mime::ALL {
            for other in Mime::ALL {
                // MP3 and AAC frame syncs are two bytes: too weak to call a
                // text file binary.
                if other == m || (m == Mime::Txt && matches!(other, Mime::Mpeg | Mime::Aac)) {
                    continue;
                }
                let same_container = matches!(
                    (m, other),
                    (
                        Mime::Doc | Mime::Xls | Mime::Ppt,
                        Mime::Doc | Mime::Xls | Mime::Ppt
                    )
                );
                // A bare OLE2 header cannot say which Office format it holds:
                // the container is the most we can check in the first bytes.
                if same_container {
                    continue;
                }
                // Text has no signature: any other text file is text.
                if other == Mime::Txt && m != Mime::Txt {
                    assert!(check(m, &sample(other)).is_err(), "{m} accepted text");
                    continue;
                }
                assert!(
                    check(m, &sample(other)).is_err(),
                    "{m} accepted a {other} signature"
                );
            }
        }
    }

    #[test]
    fn mismatch_says_what_the_bytes_are() {
        let err = check(Mime::Pdf, &sample(Mime::Png)).unwrap_err();
        assert_eq!(err.detected, Some(Detected::Accepted(Mime::Png)));
        let err = check(Mime::Docx, &sample(Mime::Xlsx)).unwrap_err();
        assert_eq!(err.detected, Some(Detected::Accepted(Mime::Xlsx)));
        let err = check(Mime::Txt, b"GIF89a....").unwrap_err();
        assert_eq!(err.detected, Some(Detected::Other("a GIF image")));
    }

    #[test]
    fn empty_files_are_only_text() {
        assert_eq!(check(Mime::Txt, b""), Ok(()));
        for m in Mime::ALL.into_iter().filter(|m| *m != Mime::Txt) {
            let err = check(m, b"").unwrap_err();
            assert!(err.empty, "{m}");
        }
    }

    #[test]
    fn mp3_and_aac_frame_syncs_are_told_apart() {
        assert!(is_mpeg_audio_frame(&[0xFF, 0xFB, 0x90]));
        assert!(!is_adts(&[0xFF, 0xFB, 0x90]));
        assert!(is_adts(&[0xFF, 0xF1, 0x50]));
        assert!(!is_mpeg_audio_frame(&[0xFF, 0xF1, 0x50]));
        assert_eq!(check(Mime::Mpeg, &[0xFF, 0xF3, 0x40, 0]), Ok(()));
    }

    /// The cases the derive's own copy of the check was tested with, before
    /// `include_attachment!` ran this one.
    #[test]
    fn short_heads() {
        assert_eq!(check(Mime::Png, b"\x89PNG\r\n\x1a\n...."), Ok(()));
        assert!(check(Mime::Png, b"GIF89a").is_err());
        assert_eq!(check(Mime::Pdf, b"%PDF-1.7"), Ok(()));
        assert_eq!(check(Mime::Jpeg, &[0xFF, 0xD8, 0xFF, 0xE0]), Ok(()));
        assert_eq!(check(Mime::Txt, b"hello"), Ok(()));
        assert!(check(Mime::Txt, b"%PDF-1.7").is_err());
        assert_eq!(check(Mime::Mp4, b"\0\0\0\x18ftypisom"), Ok(()));
        assert_eq!(check(Mime::ThreeGpp, b"\0\0\0\x18ftyp3gp5"), Ok(()));
        assert!(check(Mime::Mp4, b"\0\0\0\x18ftyp3gp5").is_err());
        assert_eq!(check(Mime::Mpeg, b"ID3\x04"), Ok(()));
        assert_eq!(check(Mime::Aac, &[0xFF, 0xF1, 0x50]), Ok(()));
        assert!(check(Mime::Mpeg, &[0xFF, 0xF1, 0x50]).is_err());
        assert_eq!(detect(b"GIF89a.."), Some(Detected::Other("a GIF image")));
        assert_eq!(detect(b"plain"), None);
        assert_eq!(detect(b""), None);
    }

    #[test]
    fn detected_reads_as_a_noun() {
        assert_eq!(
            Detected::Accepted(Mime::Png).to_string(),
            "a PNG image (image/png)"
        );
        assert_eq!(Detected::Other("a GIF image").to_string(), "a GIF image");
    }

    #[test]
    fn plain_text_that_merely_starts_like_a_weak_signature_is_text() {
        assert_eq!(check(Mime::Txt, b"ID3 tags are metadata\n"), Ok(()));
        assert_eq!(check(Mime::Txt, b"MZ is a prefix\n"), Ok(()));
        assert!(check(Mime::Txt, &sample(Mime::Mp4)).is_err());
    }
}
