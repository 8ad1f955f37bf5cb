//! The runtime's modules depend one way: client → send → payload and
//! attachment → api → transport, leaves below. A module imports only from
//! modules below it, so no two modules import each other. Read from the
//! sources (`use crate::..` and inline `crate::..` paths, root re-exports
//! resolved to the module that defines them).

// The helpers read the crate's own sources: a read that fails is the test failing.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Lowest first; a module may use any module of a lower rank.
const LAYERS: &[&[&str]] = &[
    &["redact", "retry", "sniff", "token"],
    &["error"],
    &["mime", "metrics"],
    &["transport", "tls"],
    &["api"],
    &["builder"],
    &["attachment"],
    &["slots"],
    &["formatter"],
    &["visit"],
    &["payload"],
    &["encode"],
    &["send"],
    &["client"],
    &["event"],
    &["outbox", "blocking"],
    &["fuzzing"],
];

fn rank(module: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&module))
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Each module's files: `attachment.rs` and `attachment/*.rs` are `attachment`.
fn modules() -> BTreeMap<String, Vec<PathBuf>> {
    let mut out: BTreeMap<String, Vec<PathBuf>> = BTreeMap::new();
    for entry in std::fs::read_dir(src()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_str().unwrap().to_owned();
        if name == "lib" {
            continue;
        }
        if path.is_dir() {
            for file in std::fs::read_dir(&path).unwrap() {
                out.entry(name.clone())
                    .or_default()
                    .push(file.unwrap().path());
            }
        } else {
            out.entry(name).or_default().push(path);
        }
    }
    out
}

/// Root re-exports (`pub use client::Client;`), name to module.
fn reexports() -> BTreeMap<String, String> {
    let lib = std::fs::read_to_string(src().join("lib.rs")).unwrap();
    let mut out = BTreeMap::new();
    for statement in lib.split(';') {
        let statement = statement.trim();
        let Some(rest) = statement
            .rsplit("pub use ")
            .next()
            .filter(|_| statement.contains("pub use "))
        else {
            continue;
        };
        let Some((module, names)) = rest.split_once("::") else {
            continue;
        };
        let names = names.trim_start_matches('{').trim_end_matches('}');
        for name in names.split(',') {
            let name = name.trim().rsplit("::").next().unwrap().trim();
            if !name.is_empty() {
                out.insert(name.to_owned(), module.trim().to_owned());
            }
        }
    }
    out
}

/// The modules `text` refers to through `crate::`.
fn uses(text: &str, reexports: &BTreeMap<String, String>) -> Vec<String> {
    let mut out = Vec::new();
    let code: String = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    let mut rest = code.as_str();
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        if rest.starts_with('{') {
            // `use crate::{a::X, b::Y}`
            let group = &rest[1..rest.find('}').unwrap_or(rest.len())];
            for item in group.split(',') {
                let first = item.trim().split("::").next().unwrap_or_default();
                out.extend(resolve(first, reexports));
            }
            continue;
        }
        let first: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        out.extend(resolve(&first, reexports));
    }
    out
}

fn resolve(first: &str, reexports: &BTreeMap<String, String>) -> Option<String> {
    if rank(first).is_some() {
        return Some(first.to_owned());
    }
    match first {
        "__outbox" => Some("outbox".to_owned()),
        "__fuzz" => Some("fuzzing".to_owned()),
        // Items defined in lib.rs itself: constants with no imports.
        "MAX_FILE_BYTES" | "json" => None,
        // Re-exports of other crates (the derive, flowflex-core) are leaves.
        other => reexports.get(other).filter(|m| rank(m).is_some()).cloned(),
    }
}

#[test]
fn modules_import_only_from_lower_layers() {
    let reexports = reexports();
    assert!(reexports.contains_key("Client"), "{reexports:?}");
    let mut violations = Vec::new();
    for (module, files) in modules() {
        let Some(own) = rank(&module) else {
            violations.push(format!("{module}: not in LAYERS; give it a place"));
            continue;
        };
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap();
            for used in uses(&text, &reexports) {
                if used == module {
                    continue;
                }
                match rank(&used) {
                    Some(r) if r < own => {}
                    _ => violations.push(format!(
                        "{} ({module}) uses {used}, which is not below it",
                        file.strip_prefix(src()).unwrap().display()
                    )),
                }
            }
        }
    }
    assert!(violations.is_empty(), "{}", violations.join("\n"));
}

#[test]
fn the_checker_sees_a_cycle() {
    // The rule above can fail: an upward import is caught.
    let reexports = reexports();
    let found = uses(
        "use crate::client::Client;\nlet x = crate::Payload::new();",
        &reexports,
    );
    assert_eq!(found, ["client", "payload"]);
    assert!(rank("api") < rank("client"));
}

#[test]
fn fuzzing_hooks_exist_only_in_fuzzing_builds() {
    let lib = std::fs::read_to_string(src().join("lib.rs")).unwrap();
    let at = lib.find("pub mod __fuzz;").expect("the hooks module");
    let before: Vec<&str> = lib[..at].lines().rev().take(4).collect();
    assert!(
        before
            .iter()
            .any(|l| l.trim() == "#[cfg(feature = \"fuzzing\")]"),
        "__fuzz is behind the fuzzing feature: {before:?}"
    );
    let manifest =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml")).unwrap();
    let default = manifest
        .lines()
        .find(|l| l.starts_with("default ="))
        .expect("a default feature list");
    assert!(!default.contains("fuzzing"), "{default}");
}
