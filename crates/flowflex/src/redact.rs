//! Keeping secrets out of `Debug`, `Display`, logs and errors.

use std::fmt;

/// A string that never shows itself: `Debug` and `Display` print `<redacted>`.
#[derive(Clone, PartialEq, Eq, Default)]
pub(crate) struct Secret(String);

impl Secret {
    pub(crate) fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    pub(crate) fn expose(&self) -> &str {
        &self.0
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_empty() {
            "<unset>"
        } else {
            "<redacted>"
        })
    }
}

/// A URL shown without its query and fragment, where presigned tokens live.
pub(crate) fn url_without_query(url: &url::Url) -> String {
    let mut shown = url.clone();
    let had_query = shown.query().is_some();
    shown.set_query(None);
    shown.set_fragment(None);
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    if had_query {
        format!("{shown}?<redacted>")
    } else {
        shown.to_string()
    }
}

/// A URL's text with everything between its scheme and its last `@` (its
/// user name and password, if it has any) shown as `<redacted>`; for URL
/// text that may not parse, so it is done on the text. Without a
/// `scheme://` prefix, everything before the last `@` goes. An `@` in a path
/// or query hides more than the credentials, never less.
pub(crate) fn without_userinfo(raw: &str) -> String {
    let Some(at) = raw.rfind('@') else {
        return raw.to_owned();
    };
    let start = raw
        .find("://")
        .filter(|&i| i < at && is_scheme(&raw[..i]))
        .map_or(0, |i| i + "://".len());
    format!("{}<redacted>{}", &raw[..start], &raw[at..])
}

fn is_scheme(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_alphabetic())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

/// `s` made safe to print in one line: control characters escaped, cut to
/// `max` characters (one rule with the derive's messages, in flowflex-core).
pub(crate) use flowflex_core::printable;

/// Removes every occurrence of the given secrets from server-provided text
/// before it goes into an error (a server may echo request headers back).
///
/// Only whole occurrences can be recognised, so text is scrubbed before it
/// is cut ([`show`](Scrubber::show)): a cut made first could leave all but
/// the last characters of a secret, which no longer match.
#[derive(Clone, Default)]
pub(crate) struct Scrubber {
    needles: Vec<String>,
}

impl Scrubber {
    pub(crate) fn new(secrets: impl IntoIterator<Item = String>) -> Self {
        Scrubber {
            needles: secrets.into_iter().filter(|s| s.len() >= 4).collect(),
        }
    }

    pub(crate) fn add(&mut self, secret: &str) {
        if secret.len() >= 4 {
            self.needles.push(secret.to_owned());
        }
    }

    pub(crate) fn scrub(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for needle in &self.needles {
            if out.contains(needle.as_str()) {
                out = out.replace(needle.as_str(), "<redacted>");
            }
        }
        out
    }

    /// Server text as an error shows it: scrubbed, then made printable and
    /// cut to `max` characters.
    pub(crate) fn show(&self, text: &str, max: usize) -> String {
        printable(&self.scrub(text), max)
    }

    /// `body` without a tail that could be the start of a secret: for a body
    /// cut at a size limit, where a secret may straddle the cut and so
    /// escape [`scrub`](Scrubber::scrub).
    pub(crate) fn drop_cut_secret<'a>(&self, body: &'a [u8]) -> &'a [u8] {
        let cut = self
            .needles
            .iter()
            .filter_map(|needle| {
                let needle = needle.as_bytes();
                (1..needle.len())
                    .rev()
                    .find(|&n| body.ends_with(&needle[..n]))
            })
            .max()
            .unwrap_or(0);
        &body[..body.len() - cut]
    }

    /// Scrubs every string of a JSON value, object keys included.
    pub(crate) fn scrub_json(&self, value: &mut serde_json::Value) {
        match value {
            serde_json::Value::String(s) => {
                let clean = self.scrub(s);
                if clean != *s {
                    *s = clean;
                }
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(|v| self.scrub_json(v)),
            serde_json::Value::Object(map) => {
                *map = std::mem::take(map)
                    .into_iter()
                    .map(|(key, mut v)| {
                        self.scrub_json(&mut v);
                        (self.scrub(&key), v)
                    })
                    .collect();
            }
            _ => {}
        }
    }
}

impl fmt::Debug for Scrubber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Scrubber({} secrets)", self.needles.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_never_prints() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?}"), "<redacted>");
        assert_eq!(s.expose(), "hunter2");
        assert!(!s.is_empty());
        let unset = Secret::default();
        assert!(unset.is_empty());
        assert_eq!(format!("{unset:?}"), "<unset>");
    }

    #[test]
    fn url_query_is_hidden() {
        let url = url::Url::parse("https://u:p@store.example/a/b?token=abc&x=1#f").unwrap();
        let shown = url_without_query(&url);
        assert_eq!(shown, "https://store.example/a/b?<redacted>");
    }

    #[test]
    fn userinfo_is_hidden_in_url_text() {
        for (raw, shown) in [
            ("https://u:p@h.example/x", "https://<redacted>@h.example/x"),
            ("https://u:p@bad host", "https://<redacted>@bad host"),
            ("https://tok_1234@h", "https://<redacted>@h"),
            ("https://u:p/q@h", "https://<redacted>@h"),
            ("https://u:p@q@h", "https://<redacted>@h"),
            ("u:p@h.example", "<redacted>@h.example"),
            ("https:u:p@h", "<redacted>@h"),
            (" https://u:p@h", "<redacted>@h"),
            ("https://h.example/x", "https://h.example/x"),
            ("not a url", "not a url"),
            ("https://h/@x", "https://<redacted>@x"),
            ("@", "<redacted>@"),
            // Letter-led, but no scheme (a space, an underscore): nothing
            // before the `@` is shown.
            ("user name://u:p@h", "<redacted>@h"),
            ("my_app://u:p@h", "<redacted>@h"),
            ("1http://u:p@h", "<redacted>@h"),
            ("svn+ssh://u:p@h", "svn+ssh://<redacted>@h"),
            ("x-y.z://u:p@h", "x-y.z://<redacted>@h"),
        ] {
            assert_eq!(without_userinfo(raw), shown, "{raw}");
        }
    }

    #[test]
    fn printable_escapes_and_truncates() {
        assert_eq!(printable("a\r\nb", 10), "a\\r\\nb");
        assert_eq!(printable("abcdef", 3), "abc…");
    }

    #[test]
    fn scrubber_removes_secrets_in_text_and_json() {
        let s = Scrubber::new(["s3cret-value".to_owned(), "ab".to_owned()]);
        assert_eq!(
            s.scrub("got s3cret-value twice s3cret-value"),
            "got <redacted> twice <redacted>"
        );
        let mut v = serde_json::json!({"echo": ["Basic s3cret-value"], "ab": "ab"});
        s.scrub_json(&mut v);
        assert_eq!(
            v,
            serde_json::json!({"echo": ["Basic <redacted>"], "ab": "ab"})
        );
        let mut v = serde_json::json!({"s3cret-value": {"k s3cret-value": 1}});
        s.scrub_json(&mut v);
        assert_eq!(v, serde_json::json!({"<redacted>": {"k <redacted>": 1}}));
    }

    #[test]
    fn secrets_added_later_are_scrubbed_and_short_ones_ignored() {
        let mut s = Scrubber::new(Vec::<String>::new());
        s.add("tok_1234");
        s.add("abc");
        assert_eq!(s.scrub("abc tok_1234 abc"), "abc <redacted> abc");
        assert_eq!(format!("{s:?}"), "Scrubber(1 secrets)");
        assert!(!format!("{s:?}").contains("tok_1234"));
    }

    #[test]
    fn scrubbing_comes_before_the_cut() {
        let s = Scrubber::new(["s3cret-value".to_owned()]);
        for at in 0..=20 {
            let text = format!("{}s3cret-value tail", "~".repeat(at));
            let shown = s.show(&text, 16);
            assert!(!shown.contains("s3cr"), "{at}: {shown}");
        }
        assert_eq!(s.show("x s3cret-value y", 12), "x <redacted>…");
    }

    #[test]
    fn a_secret_cut_at_the_end_of_a_body_is_dropped() {
        let s = Scrubber::new(["s3cret-value".to_owned(), "Basic dG9rZW4=".to_owned()]);
        assert_eq!(s.drop_cut_secret(b"abc s3cret-va"), b"abc ");
        assert_eq!(s.drop_cut_secret(b"abc Basic dG"), b"abc ");
        assert_eq!(s.drop_cut_secret(b"abc s"), b"abc ");
        // A whole secret is left to the scrubber; other text is kept.
        assert_eq!(s.drop_cut_secret(b"abc s3cret-value"), b"abc s3cret-value");
        assert_eq!(s.drop_cut_secret(b"abc x"), b"abc x");
        assert_eq!(s.drop_cut_secret(b""), b"");
    }
}
