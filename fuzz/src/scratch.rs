//! Scratch directories for harnesses that need a real file system.

use std::path::{Path, PathBuf};

/// A directory tree in memory: (path relative to its root, `Some(contents)` for a file, `None`
/// for a directory), sorted by path.
pub type Tree = Vec<(PathBuf, Option<Vec<u8>>)>;

/// A fresh temporary directory, removed on drop: in `$FOLIO_FUZZ_SCRATCH` when set
/// (`scripts/fuzz.sh` points it at a directory of its own and removes that at the end, so what a
/// crashing input leaves behind goes too), else on `/dev/shm` when it exists (fsync is free
/// there, which keeps executions fast), else in the system temporary directory.
pub fn tempdir() -> Option<tempfile::TempDir> {
    static BASE: std::sync::OnceLock<Option<PathBuf>> = std::sync::OnceLock::new();
    let base = BASE.get_or_init(|| {
        std::env::var_os("FOLIO_FUZZ_SCRATCH")
            .map(PathBuf::from)
            .or_else(|| Some(PathBuf::from("/dev/shm")).filter(|p| p.is_dir()))
    });
    let builder = || {
        let mut b = tempfile::Builder::new();
        b.prefix("folio-fuzz-");
        b
    };
    if let Some(base) = base {
        if let Ok(dir) = builder().tempdir_in(base) {
            return Some(dir);
        }
    }
    builder().tempdir().ok()
}

/// Everything below `root` (files and directories).
pub fn read_tree(root: &Path) -> std::io::Result<Tree> {
    fn walk(root: &Path, dir: &Path, out: &mut Tree) -> std::io::Result<()> {
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            let path = entry.path();
            let Ok(relative) = path.strip_prefix(root) else {
                continue;
            };
            if entry.file_type()?.is_dir() {
                out.push((relative.to_path_buf(), None));
                walk(root, &path, out)?;
            } else {
                out.push((relative.to_path_buf(), Some(std::fs::read(&path)?)));
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(root, root, &mut out)?;
    out.sort();
    Ok(out)
}

/// Recreates a tree read by [`read_tree`] below `root`.
pub fn write_tree(root: &Path, tree: &Tree) -> std::io::Result<()> {
    std::fs::create_dir_all(root)?;
    for (relative, contents) in tree {
        let path = root.join(relative);
        match contents {
            None => std::fs::create_dir_all(&path)?,
            Some(bytes) => {
                if let Some(parent) = path.parent() {
                    std::fs::create_dir_all(parent)?;
                }
                std::fs::write(&path, bytes)?;
            }
        }
    }
    Ok(())
}

/// Copies the directory tree `from` to `to`.
pub fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    write_tree(to, &read_tree(from)?)
}

/// Whether `FOLIO_FUZZ_TRACE` is set: harnesses then print what they did (for debugging seeds
/// and findings).
pub fn tracing() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| std::env::var_os("FOLIO_FUZZ_TRACE").is_some())
}
