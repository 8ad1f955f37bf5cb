//! Compile errors of `#[derive(FlowFlexEvent)]` and `include_attachment!`,
//! one directory per topic, each with its reviewed `.stderr`. Regenerate
//! with `TRYBUILD=overwrite cargo test -p flowflex-ui-tests --test ui` and
//! review.

use std::io::Write as _;
use std::path::{Path, PathBuf};

#[test]
fn ui() {
    write_include_fixtures();
    // trybuild says nothing while it builds the dependencies of its cases;
    // say what takes the time. Written to stderr directly, as libtest
    // captures `eprintln!`.
    let _ = writeln!(
        std::io::stderr(),
        "ui: trybuild compiles the compile-fail cases in {}; the first run builds `flowflex` and its dependencies there (about a minute on 2 cores), later runs take seconds",
        trybuild_crate_dir().display()
    );
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*/*.rs");
}

/// trybuild compiles the cases as a crate in `target/tests/trybuild/flowflex`,
/// which is where `include_attachment!` resolves paths from: the files the
/// `include` cases name are written there.
fn write_include_fixtures() {
    let dir = trybuild_crate_dir().join("fixtures");
    std::fs::create_dir_all(&dir).expect("create fixtures dir");
    let write = |name: &str, bytes: &[u8]| std::fs::write(dir.join(name), bytes).expect("write");
    write("animation.gif", b"GIF89a\x01\x00\x01\x00");
    write("README", b"no extension");
    write("not-really.png", b"just some text");
    write("logo.pdf", include_bytes!("fixtures/logo.png"));
    write("empty.pdf", b"");
    // 25 MiB and one byte, sparse: no disk used.
    let huge = std::fs::File::create(dir.join("huge.pdf")).expect("create");
    huge.set_len(flowflex::MAX_FILE_BYTES + 1).expect("set_len");
}

fn trybuild_crate_dir() -> PathBuf {
    // `CARGO_TARGET_TMPDIR` is `<target dir>/tmp`; trybuild works in
    // `<target dir>/tests/trybuild/<package>`.
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("target dir")
        .join("tests")
        .join("trybuild")
        .join(env!("CARGO_PKG_NAME"))
}
