//! The closed set of file types FlowFlex storage accepts.

use std::fmt;
use std::str::FromStr;

use crate::error::Error;

macro_rules! mimes {
    ($( $(#[$doc:meta])* $variant:ident => $essence:literal, [$($ext:literal),+] ;)+) => {
        /// One of the 16 MIME types FlowFlex storage accepts.
        ///
        /// Anything else is refused by the service (`MIME_NOT_ALLOWED`), so the
        /// SDK refuses it first, before any byte leaves the machine.
        ///
        /// ```
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
            /// use flowflex::Mime;
            ///
            /// assert_eq!(Mime::Jpeg.extensions(), ["jpg", "jpeg"]);
            /// assert_eq!(Mime::Pdf.extensions(), ["pdf"]);
            /// ```
            #[must_use]
            pub const fn extensions(self) -> &'static [&'static str] {
                match self { $(Mime::$variant => &[$($ext),+],)+ }
            }
        }
    };
}

mimes! {
    /// `application/pdf`
    Pdf => "application/pdf", ["pdf"];
    /// `application/msword` (legacy Word)
    Doc => "application/msword", ["doc"];
    /// `application/vnd.openxmlformats-officedocument.wordprocessingml.document`
    Docx => "application/vnd.openxmlformats-officedocument.wordprocessingml.document", ["docx"];
    /// `application/vnd.ms-excel` (legacy Excel)
    Xls => "application/vnd.ms-excel", ["xls"];
    /// `application/vnd.openxmlformats-officedocument.spreadsheetml.sheet`
    Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", ["xlsx"];
    /// `application/vnd.ms-powerpoint` (legacy PowerPoint)
    Ppt => "application/vnd.ms-powerpoint", ["ppt"];
    /// `application/vnd.openxmlformats-officedocument.presentationml.presentation`
    Pptx => "application/vnd.openxmlformats-officedocument.presentationml.presentation", ["pptx"];
    /// `text/plain`
    Txt => "text/plain", ["txt"];
    /// `image/jpeg`
    Jpeg => "image/jpeg", ["jpg", "jpeg"];
    /// `image/png`
    Png => "image/png", ["png"];
    /// `video/mp4`
    Mp4 => "video/mp4", ["mp4"];
    /// `video/3gpp`
    ThreeGpp => "video/3gpp", ["3gp", "3gpp"];
    /// `audio/aac`
    Aac => "audio/aac", ["aac"];
    /// `audio/amr`
    Amr => "audio/amr", ["amr"];
    /// `audio/mpeg` (MP3)
    Mpeg => "audio/mpeg", ["mp3"];
    /// `audio/ogg`
    Ogg => "audio/ogg", ["ogg"];
}

impl Mime {
    /// The type for a file extension (case-insensitive, with or without the dot).
    ///
    /// Returns `None` for an extension FlowFlex does not accept.
    ///
    /// ```
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

    /// The canonical extension, e.g. `"pdf"` or `"jpg"`.
    ///
    /// ```
    /// use flowflex::Mime;
    ///
    /// assert_eq!(Mime::Jpeg.extension(), "jpg");
    /// assert_eq!(Mime::ThreeGpp.extension(), "3gp");
    /// ```
    #[must_use]
    pub fn extension(self) -> &'static str {
        self.extensions()[0]
    }

    /// A short human name for messages ("PDF document", "PNG image").
    ///
    /// ```
    /// use flowflex::Mime;
    ///
    /// assert_eq!(Mime::Png.label(), "PNG image");
    /// assert_eq!(Mime::Docx.label(), "Word document");
    /// ```
    #[must_use]
    pub const fn label(self) -> &'static str {
        match self {
            Mime::Pdf => "PDF document",
            Mime::Doc => "Word 97-2003 document",
            Mime::Docx => "Word document",
            Mime::Xls => "Excel 97-2003 workbook",
            Mime::Xlsx => "Excel workbook",
            Mime::Ppt => "PowerPoint 97-2003 presentation",
            Mime::Pptx => "PowerPoint presentation",
            Mime::Txt => "plain text file",
            Mime::Jpeg => "JPEG image",
            Mime::Png => "PNG image",
            Mime::Mp4 => "MP4 video",
            Mime::ThreeGpp => "3GPP video",
            Mime::Aac => "AAC audio",
            Mime::Amr => "AMR audio",
            Mime::Mpeg => "MP3 audio",
            Mime::Ogg => "Ogg audio",
        }
    }
}

impl fmt::Display for Mime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Mime {
    type Err = Error;

    /// Parses a MIME essence, ignoring case, surrounding blanks and parameters
    /// (`"text/plain; charset=utf-8"` is [`Mime::Txt`]).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let essence = s.split(';').next().unwrap_or_default().trim();
        Mime::ALL
            .into_iter()
            .find(|m| m.as_str().eq_ignore_ascii_case(essence))
            .ok_or_else(|| {
                Error::config(format!(
                    "\"{}\" is not a MIME type FlowFlex accepts; use one of: {}",
                    crate::redact::printable(s, 80),
                    Mime::ALL.map(Mime::as_str).join(", ")
                ))
            })
    }
}

impl serde::Serialize for Mime {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for Mime {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_type() {
        for m in Mime::ALL {
            assert_eq!(m.as_str().parse::<Mime>().unwrap(), m);
            assert_eq!(m.as_str().to_uppercase().parse::<Mime>().unwrap(), m);
            for ext in m.extensions() {
                assert_eq!(Mime::from_extension(ext), Some(m), "{ext}");
                assert_eq!(Mime::from_extension(&format!(".{ext}")), Some(m));
            }
        }
        let distinct: std::collections::BTreeSet<_> =
            Mime::ALL.iter().map(|m| m.as_str()).collect();
        assert_eq!(distinct.len(), 16);
    }

    #[test]
    fn parses_parameters_and_rejects_others() {
        assert_eq!(
            " text/plain ; charset=utf-8".parse::<Mime>().unwrap(),
            Mime::Txt
        );
        let err = "image/gif".parse::<Mime>().unwrap_err();
        assert!(err.to_string().contains("image/gif"), "{err}");
        assert!(err.to_string().contains("application/pdf"), "{err}");
        assert!("".parse::<Mime>().is_err());
        assert!("image/png/extra".parse::<Mime>().is_err());
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
