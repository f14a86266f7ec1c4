//! All file I/O of the log and the metadata goes through [`Vfs`], so tests can inject faults.
//!
//! The simulated disk (`sim`, `SimFs`) is the reliability harness's: it exists only with the
//! `fault-injection` feature, like the planted bugs and the replicas' fault injection.

#[cfg(feature = "fault-injection")]
pub mod sim;
mod std_fs;

#[cfg(feature = "fault-injection")]
pub use sim::SimFs;
pub use std_fs::StdFs;

use std::io;
use std::ops::Deref;
use std::path::{Path, PathBuf};

/// A file opened for appending (log segments).
pub trait AppendFile: Send {
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()>;
    /// Makes everything written so far durable (fdatasync).
    fn sync_data(&mut self) -> io::Result<()>;
}

/// A read-only view of a whole file: memory-mapped on real disks.
pub enum Mapped {
    #[allow(dead_code)]
    Map(memmap2::Mmap),
    Owned(Vec<u8>),
}

impl Deref for Mapped {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Mapped::Map(m) => m,
            Mapped::Owned(v) => v,
        }
    }
}

/// The file-system operations Folio needs.
pub trait Vfs: Send + Sync + 'static {
    fn create_dir_all(&self, path: &Path) -> io::Result<()>;
    /// Opens a file for appending; with `create_new` it must not exist yet.
    fn open_append(&self, path: &Path, create_new: bool) -> io::Result<Box<dyn AppendFile>>;
    /// Maps a whole file read-only.
    fn map(&self, path: &Path) -> io::Result<Mapped>;
    /// Lists the names of the files in a directory.
    fn list(&self, dir: &Path) -> io::Result<Vec<PathBuf>>;
    fn exists(&self, path: &Path) -> bool;
    /// Cuts a file to `len` bytes and syncs it.
    fn truncate(&self, path: &Path, len: u64) -> io::Result<()>;
    fn remove_file(&self, path: &Path) -> io::Result<()>;
    /// Makes the directory's entries (created, renamed, removed files) durable.
    fn sync_dir(&self, dir: &Path) -> io::Result<()>;
    fn read_file(&self, path: &Path) -> io::Result<Vec<u8>>;
    /// Replaces a file atomically: write a temporary, sync it, rename it over, sync the directory.
    fn write_atomic(&self, path: &Path, bytes: &[u8]) -> io::Result<()>;
}
