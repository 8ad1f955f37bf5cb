//! Every shell command in the README and docs/*.md (code blocks marked
//! ```sh) is run here, or checked:
//!
//! - `flowflex ...`: parsed with the CLI's own parser, then run for real:
//!   `send` and `check` against an emulator, `emulator` until it announces
//!   itself (on a free port instead of the documented one);
//! - `cargo ...`: must be run by `.ci/run` as written; or, for the long or
//!   networked runs CI leaves out, be checked against what it names: a
//!   `cargo install --locked --path` of a crate with a binary, `cargo install` of a
//!   known tool, a `cargo test --test T -- --ignored` whose test file holds
//!   an ignored test, a `cargo run -p P` of a package CI also runs, a
//!   `cargo fuzz run T` of a target of `fuzz/` (and its dictionaries), a
//!   `cargo deny check K` of a section of `deny.toml`. `NAME=value` words
//!   before `cargo` are allowed;
//! - `export ...`: only the variables `flowflex` reads, with the values the
//!   same page's `flowflex emulator` command serves;
//! - `curl ...` of the emulator's control API or inspector
//!   (`http://127.0.0.1:8080/...`, the address the docs' `flowflex emulator
//!   --port 8080` serves): run against the test's emulator, in page order,
//!   and must succeed (`--fail-with-body`: an error answer fails).
//!
//! Anything else fails the test: a new kind of command needs a rule here.
//! Relative links between these pages must lead to files that exist.

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::Stdio;

use clap::Parser as _;
use common::{Local, flowflex, run, workspace_root};
use flowflex_cli::{Cli, Command};

/// One command line of a ```sh block.
#[derive(Debug)]
struct Doc {
    at: String,
    line: String,
    words: Vec<String>,
}

fn pages() -> Vec<PathBuf> {
    let root = workspace_root();
    let mut pages = vec![root.join("README.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root.join("docs"))
        .expect("docs/")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    pages.extend(docs);
    pages
}

fn commands(page: &Path) -> Vec<Doc> {
    let text = std::fs::read_to_string(page).expect("read page");
    let name = page
        .strip_prefix(workspace_root())
        .unwrap_or(page)
        .display()
        .to_string();
    let mut out = Vec::new();
    let mut in_sh = false;
    let mut pending = String::new();
    for (n, raw) in text.lines().enumerate() {
        let trimmed = raw.trim();
        if trimmed.starts_with("```") {
            in_sh = !in_sh && trimmed == "```sh";
            continue;
        }
        if !in_sh {
            continue;
        }
        if let Some(head) = trimmed.strip_suffix('\\') {
            pending.push_str(head);
            pending.push(' ');
            continue;
        }
        pending.push_str(trimmed);
        let line = std::mem::take(&mut pending);
        let (words, code) = split(&line);
        if words.is_empty() {
            continue;
        }
        out.push(Doc {
            at: format!("{name}:{}", n + 1),
            line: code.to_owned(),
            words,
        });
    }
    out
}

/// The words of a command line as a POSIX shell splits them (quotes and
/// backslashes; no expansions), and the line up to its `#` comment.
fn split(line: &str) -> (Vec<String>, &str) {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut started = false;
    let mut chars = line.char_indices();
    let mut end = line.len();
    while let Some((at, c)) = chars.next() {
        match c {
            '\'' => {
                started = true;
                word.extend(chars.by_ref().map(|(_, c)| c).take_while(|&c| c != '\''));
            }
            '"' => {
                started = true;
                while let Some((_, c)) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => word.extend(chars.next().map(|(_, c)| c)),
                        c => word.push(c),
                    }
                }
            }
            '\\' => {
                started = true;
                word.extend(chars.next().map(|(_, c)| c));
            }
            '#' if !started => {
                end = at;
                break;
            }
            c if c.is_whitespace() => {
                if started {
                    words.push(std::mem::take(&mut word));
                    started = false;
                }
            }
            c => {
                started = true;
                word.push(c);
            }
        }
    }
    if started {
        words.push(word);
    }
    (words, line[..end].trim())
}

#[test]
fn lines_split_like_a_shell() {
    let line = r#"flowflex send e --data '{"a": 1}' --attach "g[]=a b.jpg" x\ y#z  # note"#;
    let (words, code) = split(line);
    assert_eq!(
        words,
        [
            "flowflex",
            "send",
            "e",
            "--data",
            r#"{"a": 1}"#,
            "--attach",
            "g[]=a b.jpg",
            "x y#z"
        ]
    );
    assert_eq!(code, &line[..line.len() - "  # note".len()]);
    let (_, code) = split("cargo test --workspace           # runs every test");
    assert_eq!(code, "cargo test --workspace");
}

#[test]
fn every_documented_command_is_run_or_checked() {
    let ci = std::fs::read_to_string(workspace_root().join(".ci/run")).expect(".ci/run");
    let local = Local::start();
    let mut seen = 0;
    for page in pages() {
        let docs = commands(&page);
        let served = emulator_settings(&docs);
        for doc in &docs {
            seen += 1;
            match doc.words[0].as_str() {
                "flowflex" => run_flowflex(&local, doc),
                "cargo" => check_cargo(doc, &ci),
                w if w.contains('=') && doc.words.iter().any(|w| w == "cargo") => {
                    check_cargo(doc, &ci);
                }
                "export" => check_export(doc, served.as_ref()),
                "curl" => run_curl(&local, doc),
                other => panic!(
                    "{}: `{other}` is neither run nor checked by crates/flowflex-cli/tests/docs.rs: add a rule there, or leave the command out",
                    doc.at
                ),
            }
        }
    }
    assert!(
        seen >= 10,
        "found only {seen} commands: is the parser broken?"
    );
}

fn run_flowflex(local: &Local, doc: &Doc) {
    let cli = Cli::try_parse_from(&doc.words)
        .unwrap_or_else(|e| panic!("{}: `{}` does not parse:\n{e}", doc.at, doc.line));
    match cli.command {
        Command::Send(_) | Command::Check(_) => {
            let r = run(local.flowflex().args(&doc.words[1..]));
            assert_eq!(r.code, 0, "{}: `{}` failed: {r:#?}", doc.at, doc.line);
            if matches!(cli.command, Command::Send(_)) {
                let out = r.json();
                assert!(out["response"]["eventId"].is_string(), "{}: {out}", doc.at);
            }
        }
        // Parsed only: they need an outbox of the reader's
        // (crates/flowflex-cli/tests/outbox.rs runs each subcommand).
        Command::Outbox(_) => {}
        Command::Emulator(args) => {
            let mut words = doc.words[1..].to_vec();
            if let Some(i) = words.iter().position(|w| w == "--port") {
                words[i + 1] = "0".to_owned();
            }
            let mut child = flowflex()
                .args(&words)
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn");
            let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
            let mut announced = Vec::new();
            for _ in 0..4 {
                announced.push(lines.next().expect("a line").expect("utf-8"));
            }
            child.kill().expect("kill");
            child.wait().expect("wait");
            assert!(
                announced[0].starts_with("FlowFlex emulator listening on http://127.0.0.1:"),
                "{}: {announced:?}",
                doc.at
            );
            assert_eq!(announced[2], format!("FLOWFLEX_API_KEY={}", args.api_key));
            assert_eq!(
                announced[3],
                format!("FLOWFLEX_INTEGRATION_CODE={}", args.integration_code)
            );
        }
    }
}

/// What may follow an install of the tool: `--no-default-features` (the
/// tool without `flowflex outbox`), a feature the crate has.
fn check_install_flags(doc: &Doc, rest: &[&str]) {
    let manifest = std::fs::read_to_string(workspace_root().join("crates/flowflex-cli/Cargo.toml"))
        .expect("the CLI's manifest");
    let mut words = rest.iter();
    while let Some(word) = words.next() {
        match *word {
            "--no-default-features" => {}
            "--features" => {
                let feature = words
                    .next()
                    .unwrap_or_else(|| panic!("{}: --features what?", doc.at));
                assert!(
                    manifest.contains(&format!("\n{feature} = ")),
                    "{}: flowflex-cli has no feature {feature}",
                    doc.at
                );
            }
            other => panic!(
                "{}: `{other}` after cargo install, which no rule here knows",
                doc.at
            ),
        }
    }
}

fn check_cargo(doc: &Doc, ci: &str) {
    if ci.lines().any(|l| l.contains(&doc.line)) {
        return;
    }
    let root = workspace_root();
    let words: Vec<&str> = doc
        .words
        .iter()
        .map(String::as_str)
        .skip_while(|w| w.contains('=') && !w.starts_with('-'))
        .collect();
    let flag = |name: &str| {
        words
            .iter()
            .position(|w| *w == name)
            .and_then(|i| words.get(i + 1).copied())
    };
    match words.as_slice() {
        ["cargo", "install", "--path", dir] => panic!(
            "{}: install with `cargo install --locked --path {dir}`, so the tool builds with the tested Cargo.lock",
            doc.at
        ),
        ["cargo", "install", "--locked", "--path", dir, rest @ ..] => {
            let manifest = std::fs::read_to_string(root.join(dir).join("Cargo.toml"))
                .unwrap_or_else(|e| panic!("{}: no crate at {dir}: {e}", doc.at));
            assert!(
                manifest.contains("[[bin]]") && manifest.contains("name = \"flowflex\""),
                "{}: {dir} has no `flowflex` binary to install",
                doc.at
            );
            check_install_flags(doc, rest);
        }
        [
            "cargo",
            "install",
            "--locked",
            "--git",
            url,
            package,
            rest @ ..,
        ] => {
            let workspace = std::fs::read_to_string(root.join("Cargo.toml")).expect("Cargo.toml");
            assert!(
                workspace.contains(&format!("repository = \"{url}\"")),
                "{}: {url} is not the workspace's repository",
                doc.at
            );
            assert_eq!(
                *package, "flowflex-cli",
                "{}: the package with the `flowflex` binary is flowflex-cli",
                doc.at
            );
            check_install_flags(doc, rest);
        }
        ["cargo", "install", tool, ..] => assert!(
            ["cargo-fuzz", "cargo-deny"].contains(tool),
            "{}: installs `{tool}`, which no rule here knows",
            doc.at
        ),
        ["cargo", "test", ..] => {
            let package =
                flag("-p").unwrap_or_else(|| panic!("{}: name the package with -p", doc.at));
            let test =
                flag("--test").unwrap_or_else(|| panic!("{}: name the test with --test", doc.at));
            assert!(
                words.contains(&"--ignored"),
                "{}: a cargo test CI does not run must be an --ignored one",
                doc.at
            );
            let file = member_dir(package).join("tests").join(format!("{test}.rs"));
            let source = std::fs::read_to_string(&file)
                .unwrap_or_else(|e| panic!("{}: no test file {}: {e}", doc.at, file.display()));
            assert!(
                source.contains("#[ignore"),
                "{}: {} has no ignored test",
                doc.at,
                file.display()
            );
        }
        ["cargo", "run", ..] => {
            let package =
                flag("-p").unwrap_or_else(|| panic!("{}: name the package with -p", doc.at));
            assert!(
                ci.contains(&format!("cargo run -p {package}")),
                "{}: .ci/run never runs {package}, so this command is not known to work",
                doc.at
            );
        }
        ["cargo", "fuzz", "run", ..] => {
            let dir = root.join(flag("--fuzz-dir").unwrap_or("fuzz"));
            let target = words[3..]
                .iter()
                .scan(false, |skip, w| {
                    let take = !*skip && !w.starts_with('-');
                    *skip = *w == "--fuzz-dir";
                    Some((take, *w))
                })
                .find_map(|(take, w)| take.then_some(w))
                .unwrap_or_else(|| panic!("{}: which fuzz target?", doc.at));
            let manifest =
                std::fs::read_to_string(dir.join("Cargo.toml")).expect("fuzz/Cargo.toml");
            assert!(
                manifest.contains(&format!("name = \"{target}\"")),
                "{}: fuzz/ has no target `{target}`",
                doc.at
            );
            for dict in words.iter().filter_map(|w| w.strip_prefix("-dict=")) {
                assert!(root.join(dict).exists(), "{}: no dictionary {dict}", doc.at);
            }
        }
        ["cargo", "deny", "check", kinds @ ..] => {
            let config = std::fs::read_to_string(root.join("deny.toml")).expect("deny.toml");
            for kind in kinds {
                assert!(
                    config.contains(&format!("[{kind}]")),
                    "{}: deny.toml has no [{kind}] section",
                    doc.at
                );
            }
        }
        _ => panic!(
            "{}: `{}` is not run by .ci/run: run it there as written, or leave it out",
            doc.at, doc.line
        ),
    }
}

/// Runs a documented `curl` of the emulator at 127.0.0.1:8080 against the
/// test's own emulator.
fn run_curl(local: &Local, doc: &Doc) {
    const DOCUMENTED: &str = "http://127.0.0.1:8080";
    assert!(
        doc.words
            .iter()
            .any(|w| w.starts_with(&format!("{DOCUMENTED}/"))),
        "{}: a documented curl calls the emulator at {DOCUMENTED}/...",
        doc.at
    );
    let words: Vec<String> = doc.words[1..]
        .iter()
        .map(|w| w.replace(DOCUMENTED, &local.emulator.base_url()))
        .collect();
    let out = std::process::Command::new("curl")
        .args(["--fail-with-body", "--max-time", "30"])
        .args(&words)
        .stdin(Stdio::null())
        .output()
        .expect("curl runs (it is installed by .ci/run)");
    assert!(
        out.status.success(),
        "{}: `{}` failed: {}{}",
        doc.at,
        doc.line,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The directory of a workspace member, by package name.
fn member_dir(package: &str) -> PathBuf {
    let root = workspace_root();
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).expect("Cargo.toml");
    manifest
        .lines()
        .filter_map(|l| l.trim().strip_prefix('"')?.split('"').next())
        .map(|member| root.join(member))
        .find(|dir| {
            std::fs::read_to_string(dir.join("Cargo.toml"))
                .is_ok_and(|m| m.contains(&format!("name = \"{package}\"")))
        })
        .unwrap_or_else(|| panic!("no workspace member is the package {package}"))
}

/// What the page's `flowflex emulator` command serves, as the variables
/// that reach it.
fn emulator_settings(docs: &[Doc]) -> Option<BTreeMap<String, String>> {
    let doc = docs
        .iter()
        .find(|d| d.words.get(1).is_some_and(|w| w == "emulator"))?;
    let Command::Emulator(args) = Cli::try_parse_from(&doc.words).ok()?.command else {
        return None;
    };
    let secret = args
        .api_secret
        .unwrap_or_else(|| "emulator-secret".to_owned());
    Some(BTreeMap::from([
        (
            "FLOWFLEX_BASE_URL".to_owned(),
            format!("http://{}:{}", args.host, args.port),
        ),
        ("FLOWFLEX_API_KEY".to_owned(), args.api_key),
        ("FLOWFLEX_API_SECRET".to_owned(), secret),
        (
            "FLOWFLEX_INTEGRATION_CODE".to_owned(),
            args.integration_code,
        ),
    ]))
}

fn check_export(doc: &Doc, served: Option<&BTreeMap<String, String>>) {
    let served = served.unwrap_or_else(|| {
        panic!(
            "{}: exports FlowFlex settings without a `flowflex emulator` command on the page to match",
            doc.at
        )
    });
    for assignment in &doc.words[1..] {
        let (name, value) = assignment
            .split_once('=')
            .unwrap_or_else(|| panic!("{}: `{assignment}` is not NAME=VALUE", doc.at));
        let expected = served
            .get(name)
            .unwrap_or_else(|| panic!("{}: flowflex does not read {name}", doc.at));
        assert_eq!(
            value, expected,
            "{}: {name} does not reach the emulator the page starts",
            doc.at
        );
    }
}

#[test]
fn links_between_the_guides_lead_somewhere() {
    let mut broken = Vec::new();
    for page in pages() {
        let text = std::fs::read_to_string(&page).expect("read");
        let dir = page.parent().expect("dir");
        for (_, rest) in text.match_indices("](").map(|(i, _)| ((), &text[i + 2..])) {
            let Some(end) = rest.find(')') else { continue };
            let target = &rest[..end];
            if target.contains("://") || target.starts_with('#') || target.starts_with("mailto:") {
                continue;
            }
            let file = target.split('#').next().unwrap_or_default();
            if !dir.join(file).exists() {
                broken.push(format!("{}: {target}", page.display()));
            }
        }
    }
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}
