//! The files the workloads upload, written under `target/bench-data`.

use std::path::{Path, PathBuf};

use crate::{BoxError, Plan};

/// Paths of the files of one run.
#[derive(Debug, Clone)]
pub(crate) struct Files {
    /// The large file (`Plan::big_file` bytes).
    pub(crate) big: PathBuf,
    /// The fan-out's distinct files (`Plan::fan_files` of
    /// `Plan::fan_file_size` bytes).
    pub(crate) fan: Vec<PathBuf>,
}

/// The cargo target directory this binary was built into.
pub(crate) fn target_dir() -> Result<PathBuf, BoxError> {
    let exe = std::env::current_exe()?;
    // target/<profile>/flowflex-bench
    exe.parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .ok_or_else(|| format!("cannot find the target directory from {}", exe.display()).into())
}

/// Writes the files (random PDFs: a PDF header, then noise) and returns their paths.
pub(crate) fn prepare(plan: &Plan) -> Result<Files, BoxError> {
    let dir = target_dir()?.join("bench-data");
    std::fs::create_dir_all(&dir)?;
    let big = dir.join("big.pdf");
    write_pdf(&big, plan.big_file, 1)?;
    let fan = (0..plan.fan_files)
        .map(|i| {
            let path = dir.join(format!("fan-{i:02}.pdf"));
            write_pdf(&path, plan.fan_file_size, 100 + i as u64)?;
            Ok(path)
        })
        .collect::<Result<_, BoxError>>()?;
    Ok(Files { big, fan })
}

fn write_pdf(path: &Path, size: u64, seed: u64) -> Result<(), BoxError> {
    let mut bytes = vec![0u8; usize::try_from(size)?];
    fastrand::Rng::with_seed(seed).fill(&mut bytes);
    let header = b"%PDF-1.7\n";
    let n = header.len().min(bytes.len());
    bytes[..n].copy_from_slice(&header[..n]);
    std::fs::write(path, bytes)?;
    Ok(())
}

/// `25 MiB`, `64 KiB`.
pub(crate) fn size(bytes: u64) -> String {
    if bytes >= 1024 * 1024 && bytes % (1024 * 1024) == 0 {
        format!("{} MiB", bytes / (1024 * 1024))
    } else if bytes >= 1024 && bytes % 1024 == 0 {
        format!("{} KiB", bytes / 1024)
    } else {
        format!("{bytes} B")
    }
}
