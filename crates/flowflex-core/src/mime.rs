//! The closed set of file types FlowFlex storage accepts: the one table the
//! runtime checks files against and the derive checks `mime = ".."` against.
//!
//! The examples are written as users read them, through `flowflex`'s
//! re-export; here they run against this crate under that name.

use std::fmt;
use std::str::FromStr;

macro_rules! mimes {
    ($(
        $(#[$doc:meta])*
        $variant:ident => $essence:literal, [$($ext:literal),+], $label:literal;
    )+) => {
        /// One of the 16 MIME types FlowFlex storage accepts.
        ///
        /// Anything else is refused by the service (`MIME_NOT_ALLOWED`), so the
        /// SDK refuses it first, before any byte leaves the machine.
        ///
        /// ```
        /// # use flowflex_core as flowflex;
        /// use flowflex::Mime;
        ///
        /// assert_eq!(Mime::Pdf.as_str(), "application/pdf");
        /// assert_eq!("image/png".parse::<Mime>().unwrap(), Mime::Png);
        /// assert_eq!(Mime::from_extension("JPG"), Some(Mime::Jpeg));
        /// ```
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum Mime {
            $( $(#[$doc])* $variant, )+
        }

        impl Mime {
            /// Every accepted type, in the service's order.
            ///
            /// ```
            /// # use flowflex_core as flowflex;
            /// use flowflex::Mime;
            ///
            /// assert_eq!(Mime::ALL.len(), 16);
            /// assert_eq!(Mime::ALL[0], Mime::Pdf);
            /// assert!(Mime::ALL.contains(&Mime::Ogg));
            /// ```
            pub const ALL: [Mime; 16] = [$(Mime::$variant),+];

            /// The MIME essence as sent on the wire, e.g. `"application/pdf"`.
            ///
            /// ```
            /// # use flowflex_core as flowflex;
            /// use flowflex::Mime;
            ///
            /// assert_eq!(Mime::Jpeg.as_str(), "image/jpeg");
            /// assert_eq!(Mime::Mpeg.as_str(), Mime::Mpeg.to_string());
            /// ```
            #[must_use]
            pub const fn as_str(self) -> &'static str {
                match self { $(Mime::$variant => $essence,)+ }
            }

            /// The file extensions (lowercase, without the dot) that map to this type;
            /// the first is the canonical one.
            ///
            /// ```
            /// # use flowflex_core as flowflex;
            /// use flowflex::Mime;
            ///
            /// assert_eq!(Mime::Jpeg.extensions(), ["jpg", "jpeg"]);
            /// assert_eq!(Mime::Pdf.extensions(), ["pdf"]);
            /// ```
            #[must_use]
            pub const fn extensions(self) -> &'static [&'static str] {
                match self { $(Mime::$variant => &[$($ext),+],)+ }
            }

            /// A short human name for messages ("PDF document", "PNG image").
            ///
            /// ```
            /// # use flowflex_core as flowflex;
            /// use flowflex::Mime;
            ///
            /// assert_eq!(Mime::Png.label(), "PNG image");
            /// assert_eq!(Mime::Docx.label(), "Word document");
            /// ```
            #[must_use]
            pub const fn label(self) -> &'static str {
                match self { $(Mime::$variant => $label,)+ }
            }

            /// The variant's name (`"Pdf"`, `"ThreeGpp"`): the derive writes
            /// `flowflex::Mime::<name>` into the code it generates.
            #[doc(hidden)]
            #[must_use]
            pub const fn variant_name(self) -> &'static str {
                match self { $(Mime::$variant => stringify!($variant),)+ }
            }
        }
    };
}

mimes! {
    /// `application/pdf`
    Pdf => "application/pdf", ["pdf"], "PDF document";
    /// `application/msword` (legacy Word)
    Doc => "application/msword", ["doc"], "Word 97-2003 document";
    /// `application/vnd.openxmlformats-officedocument.wordprocessingml.document`
    Docx => "application/vnd.openxmlformats-officedocument.wordprocessingml.document", ["docx"],
        "Word document";
    /// `application/vnd.ms-excel` (legacy Excel)
    Xls => "application/vnd.ms-excel", ["xls"], "Excel 97-2003 workbook";
    /// `application/vnd.openxmlformats-officedocument.spreadsheetml.sheet`
    Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", ["xlsx"],
        "Excel workbook";
    /// `application/vnd.ms-powerpoint` (legacy PowerPoint)
    Ppt => "application/vnd.ms-powerpoint", ["ppt"], "PowerPoint 97-2003 presentation";
    /// `application/vnd.openxmlformats-officedocument.presentationml.presentation`
    Pptx => "application/vnd.openxmlformats-officedocument.presentationml.presentation", ["pptx"],
        "PowerPoint presentation";
    /// `text/plain`
    Txt => "text/plain", ["txt"], "plain text file";
    /// `image/jpeg`
    Jpeg => "image/jpeg", ["jpg", "jpeg"], "JPEG image";
    /// `image/png`
    Png => "image/png", ["png"], "PNG image";
    /// `video/mp4`
    Mp4 => "video/mp4", ["mp4"], "MP4 video";
    /// `video/3gpp`
    ThreeGpp => "video/3gpp", ["3gp", "3gpp"], "3GPP video";
    /// `audio/aac`
    Aac => "audio/aac", ["aac"], "AAC audio";
    /// `audio/amr`
    Amr => "audio/amr", ["amr"], "AMR audio";
    /// `audio/mpeg` (MP3)
    Mpeg => "audio/mpeg", ["mp3"], "MP3 audio";
    /// `audio/ogg`
    Ogg => "audio/ogg", ["ogg"], "Ogg audio";
}

impl Mime {
    /// The type for a file extension (case-insensitive, with or without the dot).
    ///
    /// Returns `None` for an extension FlowFlex does not accept.
    ///
    /// ```
    /// # use flowflex_core as flowflex;
    /// use flowflex::Mime;
    ///
    /// assert_eq!(Mime::from_extension("JPG"), Some(Mime::Jpeg));
    /// assert_eq!(Mime::from_extension(".pdf"), Some(Mime::Pdf));
    /// assert_eq!(Mime::from_extension("gif"), None);
    /// ```
    #[must_use]
    pub fn from_extension(ext: &str) -> Option<Mime> {
        let ext = ext.strip_prefix('.').unwrap_or(ext);
        Mime::ALL.into_iter().find(|m| {
            m.extensions()
                .iter()
                .any(|candidate| candidate.eq_ignore_ascii_case(ext))
        })
    }

    /// The type for a file name, from its extension.
    ///
    /// ```
    /// # use flowflex_core as flowflex;
    /// use flowflex::Mime;
    ///
    /// assert_eq!(Mime::from_filename("Invoice.PDF"), Some(Mime::Pdf));
    /// assert_eq!(Mime::from_filename("backup.tar.mp3"), Some(Mime::Mpeg));
    /// assert_eq!(Mime::from_filename("README"), None);
    /// ```
    #[must_use]
    pub fn from_filename(name: &str) -> Option<Mime> {
        let (_, ext) = name.rsplit_once('.')?;
        Mime::from_extension(ext)
    }

    /// The type whose essence is exactly `essence`, ASCII case ignored (no
    /// blanks, no parameters): what `mime = ".."` in the derive accepts, and
    /// what [`FromStr`] matches once it has removed blanks and parameters.
    #[doc(hidden)]
    #[must_use]
    pub fn from_essence(essence: &str) -> Option<Mime> {
        Mime::ALL
            .into_iter()
            .find(|m| m.as_str().eq_ignore_ascii_case(essence))
    }

    /// The canonical extension, e.g. `"pdf"` or `"jpg"`.
    ///
    /// ```
    /// # use flowflex_core as flowflex;
    /// use flowflex::Mime;
    ///
    /// assert_eq!(Mime::Jpeg.extension(), "jpg");
    /// assert_eq!(Mime::ThreeGpp.extension(), "3gp");
    /// ```
    #[must_use]
    pub fn extension(self) -> &'static str {
        self.extensions()[0]
    }
}

impl fmt::Display for Mime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Mime {
    type Err = ParseMimeError;

    /// Parses a MIME essence, ignoring case, surrounding blanks and parameters
    /// (`"text/plain; charset=utf-8"` is [`Mime::Txt`]).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let essence = s.split(';').next().unwrap_or_default().trim();
        Mime::from_essence(essence).ok_or_else(|| ParseMimeError {
            shown: crate::printable(s, 80),
        })
    }
}

/// Text that is not one of the 16 MIME types FlowFlex accepts: the error of
/// `"image/gif".parse::<Mime>()`. Its message names the text and lists the
/// accepted types.
///
/// ```
/// # use flowflex_core as flowflex;
/// use flowflex::Mime;
///
/// let err = "image/gif".parse::<Mime>().unwrap_err();
/// assert!(err.to_string().starts_with("\"image/gif\" is not a MIME type FlowFlex accepts"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseMimeError {
    /// The text as the message shows it (escaped, cut).
    shown: String,
}

impl fmt::Display for ParseMimeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "\"{}\" is not a MIME type FlowFlex accepts; use one of: {}",
            self.shown,
            Mime::ALL.map(Mime::as_str).join(", ")
        )
    }
}

impl std::error::Error for ParseMimeError {}

#[cfg(feature = "serde")]
impl serde::Serialize for Mime {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for Mime {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The whole table, row by row: a changed essence, extension or label
    /// must change this test too.
    #[test]
    fn the_table() {
        let rows: Vec<_> = Mime::ALL
            .iter()
            .map(|m| (m.variant_name(), m.as_str(), m.extensions(), m.label()))
            .collect();
        assert_eq!(
            rows,
            [
                ("Pdf", "application/pdf", &["pdf"][..], "PDF document"),
                (
                    "Doc",
                    "application/msword",
                    &["doc"],
                    "Word 97-2003 document"
                ),
                (
                    "Docx",
                    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                    &["docx"],
                    "Word document"
                ),
                (
                    "Xls",
                    "application/vnd.ms-excel",
                    &["xls"],
                    "Excel 97-2003 workbook"
                ),
                (
                    "Xlsx",
                    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    &["xlsx"],
                    "Excel workbook"
                ),
                (
                    "Ppt",
                    "application/vnd.ms-powerpoint",
                    &["ppt"],
                    "PowerPoint 97-2003 presentation"
                ),
                (
                    "Pptx",
                    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
                    &["pptx"],
                    "PowerPoint presentation"
                ),
                ("Txt", "text/plain", &["txt"], "plain text file"),
                ("Jpeg", "image/jpeg", &["jpg", "jpeg"], "JPEG image"),
                ("Png", "image/png", &["png"], "PNG image"),
                ("Mp4", "video/mp4", &["mp4"], "MP4 video"),
                ("ThreeGpp", "video/3gpp", &["3gp", "3gpp"], "3GPP video"),
                ("Aac", "audio/aac", &["aac"], "AAC audio"),
                ("Amr", "audio/amr", &["amr"], "AMR audio"),
                ("Mpeg", "audio/mpeg", &["mp3"], "MP3 audio"),
                ("Ogg", "audio/ogg", &["ogg"], "Ogg audio"),
            ]
        );
        for m in Mime::ALL {
            assert_eq!(format!("{m:?}"), m.variant_name());
        }
    }

    #[test]
    fn round_trips_every_type() {
        for m in Mime::ALL {
            assert_eq!(m.as_str().parse::<Mime>().unwrap(), m);
            assert_eq!(m.as_str().to_uppercase().parse::<Mime>().unwrap(), m);
            assert_eq!(Mime::from_essence(m.as_str()), Some(m));
            assert_eq!(m.to_string(), m.as_str());
            assert_eq!(m.extension(), m.extensions()[0]);
            for ext in m.extensions() {
                assert_eq!(Mime::from_extension(ext), Some(m), "{ext}");
                assert_eq!(Mime::from_extension(&format!(".{ext}")), Some(m));
                assert_eq!(Mime::from_extension(&ext.to_uppercase()), Some(m));
                assert_eq!(Mime::from_filename(&format!("file.{ext}")), Some(m));
            }
        }
        let distinct: std::collections::BTreeSet<_> =
            Mime::ALL.iter().map(|m| m.as_str()).collect();
        assert_eq!(distinct.len(), 16);
        let extensions: Vec<_> = Mime::ALL.iter().flat_map(|m| m.extensions()).collect();
        let distinct: std::collections::BTreeSet<_> = extensions.iter().collect();
        assert_eq!(
            distinct.len(),
            extensions.len(),
            "an extension maps to one type"
        );
    }

    #[test]
    fn parses_parameters_and_rejects_others() {
        assert_eq!(
            " text/plain ; charset=utf-8".parse::<Mime>().unwrap(),
            Mime::Txt
        );
        assert_eq!(
            Mime::from_essence(" text/plain"),
            None,
            "exact essence only"
        );
        assert_eq!(Mime::from_essence("text/plain; charset=utf-8"), None);
        let err = "image/gif".parse::<Mime>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "\"image/gif\" is not a MIME type FlowFlex accepts; use one of: application/pdf, \
             application/msword, \
             application/vnd.openxmlformats-officedocument.wordprocessingml.document, \
             application/vnd.ms-excel, \
             application/vnd.openxmlformats-officedocument.spreadsheetml.sheet, \
             application/vnd.ms-powerpoint, \
             application/vnd.openxmlformats-officedocument.presentationml.presentation, \
             text/plain, image/jpeg, image/png, video/mp4, video/3gpp, audio/aac, audio/amr, \
             audio/mpeg, audio/ogg"
        );
        assert!("".parse::<Mime>().is_err());
        assert!("image/png/extra".parse::<Mime>().is_err());
        let err = "a\r\nb".parse::<Mime>().unwrap_err();
        assert!(err.to_string().starts_with("\"a\\r\\nb\" is not"), "{err}");
    }

    #[test]
    fn extension_lookup() {
        assert_eq!(Mime::from_filename("Invoice.PDF"), Some(Mime::Pdf));
        assert_eq!(Mime::from_filename("a.tar.mp3"), Some(Mime::Mpeg));
        assert_eq!(Mime::from_filename("noext"), None);
        assert_eq!(Mime::from_filename("x.gif"), None);
        assert_eq!(Mime::from_extension("3GP"), Some(Mime::ThreeGpp));
        assert_eq!(Mime::from_extension(""), None);
    }
}
