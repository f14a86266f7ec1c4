//! All file I/O of the log and the metadata, of checkpoint directories and of log followers goes
//! through [`Vfs`], so tests can inject faults (the sled store does its own I/O; the `LOCK` file's
//! `flock` and `accept_loss`'s side copies use `std::fs`).
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

/// A file opened for positioned reads (a log segment a follower reads while its writer appends).
pub trait ReadFile: Send {
    /// The file's length now.
    fn size(&self) -> io::Result<u64>;
    /// Fills `buf` with the bytes at `offset`; fails when the file ends first.
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()>;
}

/// What a path names, a symbolic link not followed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    File,
    Dir,
    /// A symbolic link, a FIFO, a device...
    Other,
}

/// What [`Vfs::metadata`] tells about a path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Metadata {
    pub kind: FileKind,
    /// Length in bytes (of a file).
    pub len: u64,
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
    /// Opens a file for positioned reads.
    fn open_read(&self, path: &Path) -> io::Result<Box<dyn ReadFile>>;
    /// What `path` names (a symbolic link is not followed) and its length.
    fn metadata(&self, path: &Path) -> io::Result<Metadata>;
    /// Copies the file `from` to `to` (replacing it) and makes the copy's data durable (its name
    /// is durable once its directory is synced); returns the bytes copied.
    fn copy_file(&self, from: &Path, to: &Path) -> io::Result<u64>;
    /// Renames a file or a directory (durable once the directory it lands in is synced).
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// Removes a directory and everything under it.
    fn remove_dir_all(&self, path: &Path) -> io::Result<()>;
    /// Makes `to` a new name of the file `from` (durable once its directory is synced). A file
    /// system without hard links answers `Unsupported`: the caller copies instead.
    fn hard_link(&self, from: &Path, to: &Path) -> io::Result<()> {
        let _ = (from, to);
        Err(io::ErrorKind::Unsupported.into())
    }
}
