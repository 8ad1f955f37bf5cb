//! The sniffing rules against real files (tests/samples/README.md says
//! what made each): the hand-made signatures in `sniff.rs` cannot tell an
//! old Office format from another, put an OOXML part name past the first
//! KiB, or carry a real MPEG audio frame header.

use flowflex_core::Mime;
use flowflex_core::sniff::{Detected, SNIFF_LEN, check, detect};

fn sample(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/samples/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// What the runtime and the derive look at: the first `SNIFF_LEN` bytes.
fn head(file: &[u8]) -> &[u8] {
    &file[..file.len().min(SNIFF_LEN)]
}

const OLD_OFFICE: [Mime; 3] = [Mime::Doc, Mime::Xls, Mime::Ppt];

#[test]
fn a_real_doc_and_xls_are_what_they_are_and_neither_of_the_other_two() {
    for (name, mime) in [
        ("libreoffice.doc", Mime::Doc),
        ("libreoffice.xls", Mime::Xls),
    ] {
        let file = sample(name);
        assert!(file.len() <= SNIFF_LEN, "{name} fits in the sniffed head");
        assert_eq!(
            detect(head(&file)),
            Some(Detected::Accepted(mime)),
            "{name}"
        );
        assert_eq!(check(mime, head(&file)), Ok(()), "{name}");
        for other in OLD_OFFICE.into_iter().filter(|m| *m != mime) {
            let err = check(other, head(&file)).expect_err(name);
            assert_eq!(
                err.detected,
                Some(Detected::Accepted(mime)),
                "{name} as {other}"
            );
            assert!(!err.empty);
        }
    }
}

/// A .ppt's OLE2 directory sits at its end, so the sniffed head of a real
/// one shows the container only (accepted as any of the three); the whole
/// file is told apart.
#[test]
fn a_real_ppt_is_a_ppt_when_its_directory_is_read() {
    let file = sample("libreoffice.ppt");
    assert!(file.len() > SNIFF_LEN);
    assert_eq!(detect(&file), Some(Detected::Accepted(Mime::Ppt)));
    assert_eq!(check(Mime::Ppt, &file), Ok(()));
    for other in [Mime::Doc, Mime::Xls] {
        let err = check(other, &file).expect_err("a .ppt is no .doc or .xls");
        assert_eq!(err.detected, Some(Detected::Accepted(Mime::Ppt)));
    }
    assert_eq!(
        detect(head(&file)),
        Some(Detected::Other("an OLE2 compound file"))
    );
    assert_eq!(check(Mime::Ppt, head(&file)), Ok(()));
}

#[test]
fn a_docx_whose_part_names_start_past_the_first_kib_is_told_apart_within_the_head() {
    let file = sample("late-parts.docx");
    // Where each ZIP local file header's name starts (30 bytes in).
    let names: Vec<(usize, &[u8])> = (0..file.len().saturating_sub(30))
        .filter(|&at| file[at..].starts_with(b"PK\x03\x04"))
        .map(|at| {
            let len = usize::from(u16::from_le_bytes([file[at + 26], file[at + 27]]));
            (at + 30, &file[at + 30..at + 30 + len])
        })
        .collect();
    let (first_word_part, _) = names
        .iter()
        .find(|(_, name)| name.starts_with(b"word/"))
        .expect("a word/ part");
    assert!(
        *first_word_part > 2048,
        "the sample still puts its part names late: {first_word_part}"
    );
    assert!(*first_word_part < SNIFF_LEN / 2, "and well inside the head");
    let head = head(&file);
    assert_eq!(detect(head), Some(Detected::Accepted(Mime::Docx)));
    assert_eq!(check(Mime::Docx, head), Ok(()));
    for other in [Mime::Xlsx, Mime::Pptx] {
        let err = check(other, head).expect_err("a .docx is no .xlsx or .pptx");
        assert_eq!(
            err.detected,
            Some(Detected::Accepted(Mime::Docx)),
            "{other}"
        );
    }
}

/// The first frame header of a real MP3 (LAME, MPEG-2 Layer III), then
/// each field set to every value: the reserved version (`01`) and the
/// forbidden bitrate index (`1111`) are not MPEG audio; layer `00` is ADTS
/// (AAC) when the version bits make it so, and nothing otherwise.
#[test]
fn mpeg_audio_frame_headers_with_reserved_fields_are_refused() {
    let file = sample("lame.mp3");
    assert_eq!(&file[..2], [0xFF, 0xF3], "a bare frame, no ID3 tag");
    assert_eq!(detect(&file), Some(Detected::Accepted(Mime::Mpeg)));
    assert_eq!(check(Mime::Mpeg, &file), Ok(()));
    assert!(check(Mime::Aac, &file).is_err());
    assert!(
        check(Mime::Txt, &file).is_ok(),
        "two bytes of sync are too weak to call text binary"
    );

    let with = |byte: usize, mask: u8, value: u8| {
        let mut frame = file[..4].to_vec();
        frame[byte] = (frame[byte] & !mask) | value;
        frame
    };
    // Version: bits 4-3 of the second byte.
    for (bits, valid) in [(0b00, true), (0b01, false), (0b10, true), (0b11, true)] {
        let frame = with(1, 0b0001_1000, bits << 3);
        assert_eq!(
            check(Mime::Mpeg, &frame).is_ok(),
            valid,
            "version {bits:02b}"
        );
        let detected = detect(&frame);
        assert_eq!(
            detected == Some(Detected::Accepted(Mime::Mpeg)),
            valid,
            "version {bits:02b}: {detected:?}"
        );
    }
    // Layer: bits 2-1 of the second byte; `00` is not MPEG audio.
    for (bits, valid) in [(0b00, false), (0b01, true), (0b10, true), (0b11, true)] {
        let frame = with(1, 0b0000_0110, bits << 1);
        assert_eq!(check(Mime::Mpeg, &frame).is_ok(), valid, "layer {bits:02b}");
    }
    // Bitrate index: the high nibble of the third byte; `1111` is invalid.
    for index in 0..16u8 {
        let frame = with(2, 0xF0, index << 4);
        assert_eq!(
            check(Mime::Mpeg, &frame).is_ok(),
            index != 0b1111,
            "bitrate {index:04b}"
        );
    }
    // Frame sync: eleven set bits; any cleared one is no frame.
    for bit in 5..8 {
        let frame = with(1, 1 << bit, 0);
        assert!(check(Mime::Mpeg, &frame).is_err(), "sync bit {bit} cleared");
        assert_eq!(detect(&frame), None, "sync bit {bit} cleared");
    }
    assert!(check(Mime::Mpeg, &with(0, 0xFF, 0xFE)).is_err());
}

#[test]
fn adts_and_adif_are_detected_as_aac() {
    // MPEG-4 ADTS, AAC LC, 44.1 kHz, stereo: as ffmpeg writes it.
    let adts = [0xFF, 0xF1, 0x50, 0x80, 0x02, 0x1F, 0xFC];
    assert_eq!(detect(&adts), Some(Detected::Accepted(Mime::Aac)));
    assert_eq!(detect(b"ADIF\0\0\0\0"), Some(Detected::Accepted(Mime::Aac)));
    assert_eq!(
        detect(b"ID3\x04\0\0\0\0\0\0"),
        Some(Detected::Accepted(Mime::Mpeg))
    );
}
