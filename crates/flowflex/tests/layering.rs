//! The runtime's modules depend one way, as the table of layers in
//! `src/lib.rs` says (docs/architecture.md quotes it). Every file is parsed
//! with `syn`, and every path in it is resolved to the module it names:
//! `use` trees however nested, paths in types, expressions and patterns,
//! paths inside macro calls (`format!("{}", crate::redact::printable(..))`),
//! relative paths to child modules, `super::` from inline and file modules,
//! root re-exports (`crate::Attachment`) and `__private`'s. A path into the
//! crate that resolves to nothing known fails the check instead of passing.
//!
//! The self-test plants upward imports in a scratch copy of the sources and
//! sees the check fail on each.

// The helpers read the crate's own sources: a read that fails is the test failing.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use proc_macro2::{TokenStream, TokenTree};
use syn::visit::Visit;

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

// ------------------------------------------------------------------ table

/// The table's lines as lib.rs writes them, without the `// ` comment mark:
/// the header, its rule and each row.
fn table_lines(lib: &str) -> Vec<String> {
    lib.lines()
        .filter_map(|l| l.trim_start().strip_prefix("// |"))
        .map(|rest| format!("|{rest}"))
        .collect()
}

/// Module to layer, from the table's rows (`| 7 | `a`, `b` | ... |`).
fn layers(lib: &str) -> Result<BTreeMap<String, u32>, String> {
    let mut out = BTreeMap::new();
    for line in table_lines(lib).iter().skip(2) {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let (Some(layer), Some(modules)) = (cells.get(1), cells.get(2)) else {
            return Err(format!("a row without a layer and modules: {line}"));
        };
        let layer: u32 = layer
            .parse()
            .map_err(|_| format!("not a layer number: {line}"))?;
        for module in modules.split(',') {
            let module = module.trim().trim_matches('`');
            if out.insert(module.to_owned(), layer).is_some() {
                return Err(format!("{module} stands twice in the table"));
            }
        }
    }
    if out.is_empty() {
        return Err("lib.rs holds no table of layers (`// | layer | modules | ...`)".to_owned());
    }
    Ok(out)
}

// ---------------------------------------------------------------- sources

/// Each module's file: `send.rs` is `send`, `attachment/body.rs` is
/// `attachment::body`.
fn files(src: &Path) -> BTreeMap<String, PathBuf> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(src).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            let parent = path.file_name().unwrap().to_str().unwrap().to_owned();
            for file in std::fs::read_dir(&path).unwrap() {
                let file = file.unwrap().path();
                let name = file.file_stem().unwrap().to_str().unwrap();
                out.insert(format!("{parent}::{name}"), file);
            }
        } else if path.extension().is_some_and(|e| e == "rs") {
            let name = path.file_stem().unwrap().to_str().unwrap().to_owned();
            if name != "lib" {
                out.insert(name, path);
            }
        }
    }
    out
}

/// What a name at the crate's root stands for.
#[derive(Debug, Clone)]
enum Root {
    /// A module (`mod send;`, `#[path = "fuzzing.rs"] pub mod __fuzz;`).
    Module(String),
    /// Re-exported: the path it comes from.
    Use(Vec<String>),
    /// Defined in lib.rs itself (`MAX_FILE_BYTES`), or another crate.
    Leaf,
}

/// The names at the crate's root, read from lib.rs (and `#[macro_export]`
/// macros, which live there too).
#[derive(Debug, Default)]
struct Crate {
    root: BTreeMap<String, Root>,
    /// `__private`'s names.
    private: BTreeMap<String, Root>,
    /// Modules with files, as [`files`] names them.
    modules: BTreeSet<String>,
}

/// Every path a `use` tree names, each as its segments.
fn use_paths(tree: &syn::UseTree, prefix: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    match tree {
        syn::UseTree::Path(p) => {
            prefix.push(p.ident.to_string());
            use_paths(&p.tree, prefix, out);
            prefix.pop();
        }
        syn::UseTree::Name(n) => {
            let mut path = prefix.clone();
            path.push(n.ident.to_string());
            out.push(path);
        }
        syn::UseTree::Rename(r) => {
            let mut path = prefix.clone();
            path.push(r.ident.to_string());
            out.push(path);
        }
        syn::UseTree::Glob(_) => out.push(prefix.clone()),
        syn::UseTree::Group(g) => {
            for item in &g.items {
                use_paths(item, prefix, out);
            }
        }
    }
}

/// The name a `use` tree binds for each path (the last segment, or the rename).
fn use_bindings(
    tree: &syn::UseTree,
    prefix: &mut Vec<String>,
    out: &mut Vec<(String, Vec<String>)>,
) {
    match tree {
        syn::UseTree::Path(p) => {
            prefix.push(p.ident.to_string());
            use_bindings(&p.tree, prefix, out);
            prefix.pop();
        }
        syn::UseTree::Name(n) => {
            let mut path = prefix.clone();
            path.push(n.ident.to_string());
            out.push((n.ident.to_string(), path));
        }
        syn::UseTree::Rename(r) => {
            let mut path = prefix.clone();
            path.push(r.ident.to_string());
            out.push((r.rename.to_string(), path));
        }
        syn::UseTree::Glob(_) => {}
        syn::UseTree::Group(g) => {
            for item in &g.items {
                use_bindings(item, prefix, out);
            }
        }
    }
}

fn read_crate(src: &Path) -> Crate {
    let lib: syn::File =
        syn::parse_file(&std::fs::read_to_string(src.join("lib.rs")).unwrap()).unwrap();
    let mut krate = Crate {
        modules: files(src).into_keys().collect(),
        ..Crate::default()
    };
    for item in &lib.items {
        match item {
            syn::Item::Mod(m) => {
                let name = m.ident.to_string();
                let file = m.attrs.iter().find_map(|a| match &a.meta {
                    syn::Meta::NameValue(nv) if nv.path.is_ident("path") => match &nv.value {
                        syn::Expr::Lit(syn::ExprLit {
                            lit: syn::Lit::Str(s),
                            ..
                        }) => Some(s.value().trim_end_matches(".rs").to_owned()),
                        _ => None,
                    },
                    _ => None,
                });
                match (&m.content, file) {
                    (Some((_, items)), _) => {
                        // An inline module (`__private`): its re-exports.
                        for item in items {
                            if let syn::Item::Use(u) = item {
                                let mut bound = Vec::new();
                                use_bindings(&u.tree, &mut Vec::new(), &mut bound);
                                for (name, path) in bound {
                                    krate.private.insert(name, Root::Use(path));
                                }
                            }
                        }
                        krate.root.insert(name, Root::Leaf);
                    }
                    (None, Some(file)) => {
                        krate.root.insert(name, Root::Module(file));
                    }
                    (None, None) => {
                        krate.root.insert(name.clone(), Root::Module(name));
                    }
                }
            }
            syn::Item::Use(u) => {
                let mut bound = Vec::new();
                use_bindings(&u.tree, &mut Vec::new(), &mut bound);
                for (name, path) in bound {
                    // A name bound twice (the trait `FlowFlexEvent` and the
                    // derive of the same name) keeps its first, ours.
                    krate.root.entry(name).or_insert(Root::Use(path));
                }
            }
            syn::Item::Const(c) => {
                krate.root.insert(c.ident.to_string(), Root::Leaf);
            }
            _ => {}
        }
    }
    // `#[macro_export]` macros stand at the root, defined in their module.
    for (module, file) in files(src) {
        let parsed = syn::parse_file(&std::fs::read_to_string(file).unwrap()).unwrap();
        for item in parsed.items {
            if let syn::Item::Macro(m) = item {
                let exported = m.attrs.iter().any(|a| a.path().is_ident("macro_export"));
                if let (true, Some(name)) = (exported, m.ident) {
                    krate
                        .root
                        .insert(name.to_string(), Root::Module(module.clone()));
                }
            }
        }
    }
    krate
}

impl Crate {
    /// The module a path from the crate's root names (`None`: another
    /// crate, or an item of lib.rs), or why it names nothing known.
    fn resolve(&self, path: &[String], depth: usize) -> Result<Option<String>, String> {
        let Some(first) = path.first() else {
            return Ok(None);
        };
        if depth > 8 {
            return Err(format!("re-exports go round: crate::{}", path.join("::")));
        }
        let named = if first == "__private" {
            match path.get(1) {
                Some(second) => self.private.get(second).cloned().ok_or_else(|| {
                    format!("crate::__private::{second} names nothing in __private")
                })?,
                None => Root::Leaf,
            }
        } else {
            self.root.get(first).cloned().ok_or_else(|| {
                format!(
                    "crate::{} names nothing at the crate's root",
                    path.join("::")
                )
            })?
        };
        match named {
            Root::Leaf => Ok(None),
            Root::Module(module) => Ok(Some(self.within(&module, &path[1..]))),
            Root::Use(from) => match from.first().map(String::as_str) {
                Some("crate") => self.resolve(&from[1..], depth + 1),
                // Relative to the root: a module of this crate, or another crate.
                Some(first) if self.root.contains_key(first) => self.resolve(&from, depth + 1),
                _ => Ok(None),
            },
        }
    }

    /// `module`, or its submodule when `rest` starts with one.
    fn within(&self, module: &str, rest: &[String]) -> String {
        match rest.first() {
            Some(next) if self.modules.contains(&format!("{module}::{next}")) => {
                format!("{module}::{next}")
            }
            _ => module.to_owned(),
        }
    }
}

// ------------------------------------------------------------------ paths

/// Collects the paths of one file, each with where it starts from.
struct Paths<'a> {
    krate: &'a Crate,
    /// The file's module (`send`, `attachment::body`).
    module: &'a str,
    /// Inline modules entered (`mod tests`), for `super::`.
    inline: usize,
    /// The modules the file uses, with the path that shows it.
    used: Vec<(String, String)>,
    unresolved: Vec<String>,
}

impl Paths<'_> {
    fn path(&mut self, segments: &[String]) {
        let Some(first) = segments.first() else {
            return;
        };
        let shown = segments.join("::");
        let resolved = match first.as_str() {
            "crate" => self.krate.resolve(&segments[1..], 0),
            "super" => {
                let supers = segments.iter().take_while(|s| *s == "super").count();
                if supers <= self.inline {
                    // Inside this file.
                    return;
                }
                let mut module: Vec<&str> = self.module.split("::").collect();
                for _ in 0..supers - self.inline {
                    module.pop();
                }
                let rest = &segments[supers..];
                if module.is_empty() {
                    self.krate.resolve(rest, 0)
                } else {
                    Ok(Some(self.krate.within(&module.join("::"), rest)))
                }
            }
            // A child module of this file's (`mod body;` in attachment.rs).
            child
                if self
                    .krate
                    .modules
                    .contains(&format!("{}::{child}", self.module)) =>
            {
                Ok(Some(format!("{}::{child}", self.module)))
            }
            _ => return,
        };
        match resolved {
            Ok(Some(module)) => self.used.push((module, shown)),
            Ok(None) => {}
            Err(why) => self.unresolved.push(why),
        }
    }

    /// Paths inside a macro call's tokens: `crate :: a :: b`, `super :: a`,
    /// `$crate :: a`.
    fn tokens(&mut self, tokens: TokenStream) {
        let tokens: Vec<TokenTree> = tokens.into_iter().collect();
        let mut i = 0;
        while i < tokens.len() {
            match &tokens[i] {
                TokenTree::Group(g) => self.tokens(g.stream()),
                TokenTree::Ident(id) if *id == "crate" || *id == "super" => {
                    let mut segments = vec![id.to_string()];
                    let mut j = i + 1;
                    while let (
                        Some(TokenTree::Punct(a)),
                        Some(TokenTree::Punct(b)),
                        Some(TokenTree::Ident(next)),
                    ) = (tokens.get(j), tokens.get(j + 1), tokens.get(j + 2))
                    {
                        if a.as_char() != ':' || b.as_char() != ':' {
                            break;
                        }
                        segments.push(next.to_string());
                        j += 3;
                    }
                    if segments.len() > 1 {
                        self.path(&segments);
                    }
                    i = j.max(i + 1);
                    continue;
                }
                _ => {}
            }
            i += 1;
        }
    }
}

impl<'ast> Visit<'ast> for Paths<'_> {
    fn visit_item_use(&mut self, u: &'ast syn::ItemUse) {
        let mut paths = Vec::new();
        use_paths(&u.tree, &mut Vec::new(), &mut paths);
        for path in paths {
            self.path(&path);
        }
    }

    fn visit_path(&mut self, p: &'ast syn::Path) {
        let segments: Vec<String> = p.segments.iter().map(|s| s.ident.to_string()).collect();
        self.path(&segments);
        syn::visit::visit_path(self, p);
    }

    fn visit_macro(&mut self, m: &'ast syn::Macro) {
        self.tokens(m.tokens.clone());
        syn::visit::visit_macro(self, m);
    }

    fn visit_item_mod(&mut self, m: &'ast syn::ItemMod) {
        self.inline += 1;
        syn::visit::visit_item_mod(self, m);
        self.inline -= 1;
    }
}

// ------------------------------------------------------------------ check

/// Every import in `src` that the table of layers forbids or that names
/// nothing known, as messages.
fn violations(src: &Path) -> Vec<String> {
    check(src).1
}

/// Every use of one module by another in `src` (module, module used), and
/// the violations.
fn check(src: &Path) -> (BTreeSet<(String, String)>, Vec<String>) {
    let lib = std::fs::read_to_string(src.join("lib.rs")).unwrap();
    let layers = match layers(&lib) {
        Ok(layers) => layers,
        Err(why) => return (BTreeSet::new(), vec![why]),
    };
    let mut edges = BTreeSet::new();
    let krate = read_crate(src);
    let mut out = Vec::new();
    for module in layers.keys() {
        if !krate.modules.contains(module) {
            out.push(format!("the table names {module}, which has no file"));
        }
    }
    for (module, file) in files(src) {
        let shown = file.strip_prefix(src).unwrap().display().to_string();
        let Some(&own) = layers.get(&module) else {
            out.push(format!(
                "{shown} ({module}): not in the table of layers in lib.rs; give it a row"
            ));
            continue;
        };
        let parsed = match syn::parse_file(&std::fs::read_to_string(&file).unwrap()) {
            Ok(parsed) => parsed,
            Err(e) => {
                out.push(format!("{shown}: does not parse: {e}"));
                continue;
            }
        };
        let mut paths = Paths {
            krate: &krate,
            module: &module,
            inline: 0,
            used: Vec::new(),
            unresolved: Vec::new(),
        };
        paths.visit_file(&parsed);
        for why in paths.unresolved {
            out.push(format!("{shown} ({module}): {why}"));
        }
        for (used, path) in paths.used {
            edges.insert((module.clone(), used.clone()));
            // Itself, or its parent: Rust puts a type in the parent's file
            // and its methods in the children.
            if used == module || module.strip_prefix(&format!("{used}::")).is_some() {
                continue;
            }
            match layers.get(&used) {
                Some(&theirs) if theirs < own => {}
                Some(&theirs) => out.push(format!(
                    "{shown} ({module}, layer {own}) uses {used} (layer {theirs}), which is not below it: {path}"
                )),
                None => out.push(format!("{shown} ({module}) uses {used}, which is not in the table: {path}")),
            }
        }
    }
    (edges, out)
}

#[test]
fn modules_import_only_from_lower_layers() {
    let (edges, found) = check(&src());
    assert!(found.is_empty(), "{}", found.join("\n"));
    // The check sees the imports there are, each way of writing one.
    for (from, to) in [
        ("send", "encode"),                         // use crate::encode::Encoded
        ("event", "payload"),                       // crate::payload::preview(self)
        ("attachment::check", "attachment::body"),  // use super::body::{..}
        ("attachment", "attachment::body"),         // pub(crate) use body::{..}
        ("attachment::body", "attachment::reader"), // super::reader::stalled(..)
        ("fuzzing", "event"),                       // crate::FlowFlexEvent
        ("encode", "payload"),                      // crate::json! in its tests
    ] {
        assert!(
            edges.contains(&(from.to_owned(), to.to_owned())),
            "{from} -> {to} not seen: {edges:?}"
        );
    }
}

#[test]
fn every_module_has_one_row_and_the_docs_quote_the_table() {
    let lib = std::fs::read_to_string(src().join("lib.rs")).unwrap();
    let layers = layers(&lib).unwrap();
    let files: BTreeSet<String> = files(&src()).into_keys().collect();
    let rows: BTreeSet<String> = layers.keys().cloned().collect();
    assert_eq!(rows, files, "the table's modules are the files of src/");
    let table = table_lines(&lib);
    let docs = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/architecture.md"),
    )
    .unwrap();
    let quoted: Vec<String> = docs
        .lines()
        .skip_while(|l| !l.starts_with(&table[0]))
        .take_while(|l| l.starts_with('|'))
        .map(str::to_owned)
        .collect();
    assert_eq!(
        quoted, table,
        "docs/architecture.md quotes lib.rs's table as it is"
    );
}

/// A scratch copy of `src/` with `plant` appended to (or, for a `use`, put
/// before the first item of) the file of `module`.
fn planted(module: &str, plant: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, file) in files(&src()) {
        let to = dir.path().join(file.strip_prefix(src()).unwrap());
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        let mut text = std::fs::read_to_string(&file).unwrap();
        if name == module {
            text.push('\n');
            text.push_str(plant);
            text.push('\n');
        }
        std::fs::write(to, text).unwrap();
    }
    std::fs::copy(src().join("lib.rs"), dir.path().join("lib.rs")).unwrap();
    dir
}

#[test]
fn the_check_fails_on_each_planted_upward_import() {
    // The copy as it is passes: what fails below is the plant.
    assert_eq!(
        violations(planted("token", "").path()),
        Vec::<String>::new()
    );
    let cases = [
        // A `use` of a module above.
        ("api", "use crate::client::Client;", "uses client"),
        // A nested group, the upward one after a lower one and a `}`.
        (
            "api",
            "use crate::{error::{Error, Result}, send::{SendEvent}};",
            "uses send",
        ),
        // A path in a type, through a root re-export.
        (
            "token",
            "fn _planted(_: Option<&crate::Payload>) {}",
            "uses payload",
        ),
        // A path in an expression inside a macro call.
        (
            "slots",
            "fn _planted() -> String { format!(\"{:?}\", crate::encode::IntoPayload::__into_encoded) }",
            "uses encode",
        ),
        // `super` from a submodule to a sibling above it.
        (
            "attachment::reader",
            "use super::check::Unused;",
            "uses attachment::check",
        ),
        // Through `__private`.
        (
            "visit",
            "type _Planted = crate::__private::send;",
            "uses event",
        ),
        // A path into the crate that names nothing.
        ("mime", "use crate::nowhere::Thing;", "names nothing"),
    ];
    for (module, plant, expected) in cases {
        let found = violations(planted(module, plant).path());
        assert!(
            found.iter().any(|v| v.contains(expected)),
            "{plant} in {module}: expected a violation with {expected:?}, got {found:#?}"
        );
    }
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
