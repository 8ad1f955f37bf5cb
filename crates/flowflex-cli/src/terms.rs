//! The SDK words its advice for Rust code (`.with_mime(Mime::Png)`,
//! `set it on the builder`); a shell user needs the same advice in the
//! command's terms (`;type=image/png` on `--attach`, `--api-key`). Every
//! message the command shows from the SDK goes through [`cli_terms`].

use flowflex::Mime;

/// Fixed phrases of the SDK's messages and their command-line wording.
/// Longer phrases first: a later, shorter one must not cut into them.
const PHRASES: &[(&str, &str)] = &[
    (
        "set one with .with_mime(..) or give the file an accepted extension",
        "give one with `;type=MIME` on its --attach, or give the file an accepted extension",
    ),
    (
        "set the right type with Attachment::with_mime",
        "give the right type with `;type=MIME` on its --attach",
    ),
    (
        "set one with .with_filename(..)",
        "give one with `;filename=NAME` on its --attach",
    ),
    (
        "give one with .with_filename(..)",
        "give one with `;filename=NAME` on its --attach",
    ),
    (
        "give a plain name with .with_filename(..)",
        "give a plain name with `;filename=NAME` on its --attach",
    ),
    (
        "give a shorter one with .with_filename(..)",
        "give a shorter one with `;filename=NAME` on its --attach",
    ),
    (
        "put the file in the payload as an Attachment so each send uploads it afresh, and never reuse stored asset ids",
        "attach the file with --attach so each send uploads it afresh, and never put stored asset ids in --data",
    ),
    (
        ": copy it to a file or use Attachment::from_reader",
        ": copy it to a file first",
    ),
    (
        "set it on the builder or in FLOWFLEX_API_KEY",
        "pass --api-key or set FLOWFLEX_API_KEY",
    ),
    (
        "set it on the builder or in FLOWFLEX_API_SECRET",
        "pass --api-secret or set FLOWFLEX_API_SECRET",
    ),
    (
        "set it on the builder or in FLOWFLEX_INTEGRATION_CODE",
        "pass --integration-code or set FLOWFLEX_INTEGRATION_CODE",
    ),
    (
        "remove them and use api_key / api_secret",
        "remove them and use --api-key and --api-secret",
    ),
    (
        "Raise the client's timeout for slow networks or large files",
        "Raise --timeout for slow networks or large files",
    ),
    ("within the client's timeout", "within --timeout"),
    (
        "send again later or raise the client's retry limits",
        "send again later",
    ),
];

/// The builder's setting names, as the flags that set them.
const SETTINGS: &[(&str, &str)] = &[
    ("api_key", "--api-key"),
    ("api_secret", "--api-secret"),
    ("integration_code", "--integration-code"),
    ("base_url", "--base-url"),
    ("timeout must", "--timeout must"),
];

/// `message` with the SDK's Rust advice put in the command's terms.
pub(crate) fn cli_terms(message: &str) -> String {
    let mut text = message.to_owned();
    for m in Mime::ALL {
        let rust = format!("set .with_mime(Mime::{m:?})");
        if text.contains(&rust) {
            text = text.replace(&rust, &format!("add `;type={m}` to its --attach"));
        }
    }
    for (rust, cli) in PHRASES {
        if text.contains(rust) {
            text = text.replace(rust, cli);
        }
    }
    for (name, flag) in SETTINGS {
        text = replace_word(&text, name, flag);
    }
    text
}

/// Replaces `word` where it stands alone (not inside `FLOWFLEX_API_KEY` or
/// `max_api_key`).
fn replace_word(text: &str, word: &str, with: &str) -> String {
    let is_word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(word) {
        let before = rest[..at].chars().next_back();
        let after = rest[at + word.len()..].chars().next();
        out.push_str(&rest[..at]);
        if before.is_some_and(is_word) || after.is_some_and(is_word) {
            out.push_str(word);
        } else {
            out.push_str(with);
        }
        rest = &rest[at + word.len()..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use flowflex::Attachment;

    /// The SDK's own messages, from the SDK: if one is reworded, the
    /// translation must follow, and this fails until it does.
    fn sdk_messages() -> Vec<String> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let png = std::fs::read(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../examples/assets/label.png"),
        )
        .expect("label.png");
        let checks = [
            Attachment::from_bytes(png.clone(), "label.pdf"),
            Attachment::from_bytes(png.clone(), "label"),
            Attachment::from_bytes(b"???? not a known type".to_vec(), "data.bin"),
            Attachment::from_bytes(png.clone(), ""),
            Attachment::from_bytes(png.clone(), "a/b.png"),
            Attachment::from_bytes(png, "x".repeat(300) + ".png"),
        ];
        let mut out: Vec<String> = checks
            .into_iter()
            .map(|a| {
                runtime
                    .block_on(a.check(flowflex::MAX_FILE_BYTES))
                    .expect_err("refused")
                    .to_string()
            })
            .collect();
        for builder in [
            flowflex::Client::builder(),
            flowflex::Client::builder().api_key("cik_x"),
            flowflex::Client::builder()
                .api_key("cik_x")
                .api_secret("s")
                .integration_code("ic")
                .base_url("http://user:pw@127.0.0.1:1"),
        ] {
            out.push(builder.build().expect_err("refused").to_string());
        }
        out
    }

    #[test]
    fn no_rust_reaches_the_shell() {
        let translated: Vec<String> = sdk_messages().iter().map(|m| cli_terms(m)).collect();
        for text in &translated {
            for rust in ["with_", "Mime::", "Attachment::", "builder", "api_key"] {
                assert!(!text.contains(rust), "{rust} in {text}");
            }
        }
        insta::assert_snapshot!(translated.join("\n"));
    }

    #[test]
    fn every_type_is_named_by_its_essence() {
        for m in Mime::ALL {
            let text = cli_terms(&format!(
                "name it .{} or set .with_mime(Mime::{m:?})",
                m.extension()
            ));
            assert_eq!(
                text,
                format!(
                    "name it .{} or add `;type={m}` to its --attach",
                    m.extension()
                )
            );
        }
    }

    #[test]
    fn settings_are_replaced_only_as_words() {
        assert_eq!(
            cli_terms("base_url is empty; FLOWFLEX_BASE_URL and max_base_url stay"),
            "--base-url is empty; FLOWFLEX_BASE_URL and max_base_url stay"
        );
    }
}
