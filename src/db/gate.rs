//! The read gate (`<db>/LOCK.read`): how a read-only open in another process takes a consistent
//! view of a database that a writer has open, without the writer's lock.
//!
//! A writer holds `LOCK` exclusively for as long as it is open; read-only opens do not take it.
//! What they need instead is a moment in which the writer changes none of the files they read
//! whole: sled's files under `state/` (copied privately, since sled writes to the files it
//! opens), the `DURABLE` mark, and the frozen files the store's checkpoint names (mapped; a
//! settle removes replaced versions). The log needs no such moment: it is only appended to while
//! a writer runs, and a reader reads complete frames, checksums checked, up to where it ends.
//!
//! So the writer holds the gate exclusively while it changes those files — its open (recovery,
//! compaction, `frozen/` aligned), every access to its store (a checkpoint's writes, a
//! compaction's swap, the store's close), and every removal of frozen files — and a read-only
//! open holds it shared for its whole open: identity files, the store's copy and load (which maps
//! the frozen files), the log's replay. Writers' commits never wait at the gate; the writer's
//! checkpoints wait for a reader's open to finish (bounded by [`READ_GATE_WAIT`]) and readers for
//! a checkpoint to finish. Once open, a reader holds nothing: a writer may open, checkpoint,
//! compact and remove files while it reads its private copy and its mappings.
//!
//! The gate is a second file because `flock` locks belong to an open file description: the
//! writer's `LOCK` must stay exclusive while the gate is taken and given back many times. A
//! database whose directory has no gate file (written by an earlier build, or on media where it
//! cannot be created) has readers take `LOCK` shared instead, as before: they exclude a writer.

use crate::error::{Error, Result};
use crate::format::{LOCK_FILE, READ_GATE_FILE};
use crate::limits::READ_GATE_WAIT;
use super::open::{create_lock_file, open_lock_file, wait_for_lock};
use parking_lot::Mutex;
use std::fs::{File, TryLockError};
use std::path::{Path, PathBuf};

/// The writer's side of the gate: held exclusively by [`ReadGate::hold`] guards, which may
/// overlap across the writer's threads (the file lock is taken by the first and given back by
/// the last).
pub(crate) struct ReadGate {
    path: PathBuf,
    db: PathBuf,
    file: File,
    holders: Mutex<u32>,
}

/// Keeps the gate closed to readers until dropped.
pub(crate) struct GateHold<'a> {
    gate: &'a ReadGate,
}

impl ReadGate {
    /// The gate of the database at `db` (its lock held by the caller), the file created if
    /// missing.
    pub(crate) fn for_writer(db: &Path) -> Result<ReadGate> {
        let path = db.join(READ_GATE_FILE);
        let file = create_lock_file(&path)?;
        Ok(ReadGate {
            path,
            db: db.to_path_buf(),
            file,
            holders: Mutex::new(0),
        })
    }

    /// Closes the gate to readers (waiting up to [`READ_GATE_WAIT`] for their opens to finish)
    /// until the guard drops.
    ///
    /// # Errors
    /// [`Error::Locked`] when readers kept it open that long; [`Error::Io`] when the lock fails.
    pub(crate) fn hold(&self) -> Result<GateHold<'_>> {
        let mut holders = self.holders.lock();
        if *holders == 0 {
            wait_for_lock(&self.db, &self.path, READ_GATE_WAIT, || self.file.try_lock())?;
        }
        *holders += 1;
        Ok(GateHold { gate: self })
    }
}

impl Drop for GateHold<'_> {
    fn drop(&mut self) {
        let mut holders = self.gate.holders.lock();
        *holders -= 1;
        if *holders == 0 {
            // Closing the file would release it too; an unlock that fails leaves it held until
            // then (readers wait, nothing is read inconsistently).
            let _ = self.gate.file.unlock();
        }
    }
}

/// What a read-only open holds while it opens, and after.
pub(crate) enum ReaderLock {
    /// The gate, shared, until the open has finished (then dropped: nothing is held after).
    /// `writer` says whether a writer held the database when the open began.
    Gate { _file: File, writer: bool },
    /// `LOCK` shared for as long as the database is open: a directory without a gate file.
    Shared(File),
    /// Neither file can be opened (read-only media): there is no writer.
    None,
}

impl ReaderLock {
    /// Takes what a read-only open of `db` needs (see the module's documentation).
    pub(crate) fn take(db: &Path) -> Result<ReaderLock> {
        let gate_path = db.join(READ_GATE_FILE);
        match open_lock_file(&gate_path)? {
            Some(gate) => {
                wait_for_lock(db, &gate_path, READ_GATE_WAIT, || gate.try_lock_shared())?;
                // Under the gate a writer cannot be in its open: is one running?
                let lock_path = db.join(LOCK_FILE);
                let writer = match open_lock_file(&lock_path)? {
                    Some(lock) => match lock.try_lock_shared() {
                        Ok(()) => false,
                        Err(TryLockError::WouldBlock) => true,
                        Err(TryLockError::Error(e)) => return Err(Error::io(&lock_path, e)),
                    },
                    None => false,
                };
                Ok(ReaderLock::Gate {
                    _file: gate,
                    writer,
                })
            }
            None => Ok(match super::open::lock_shared(db)? {
                Some(file) => ReaderLock::Shared(file),
                None => ReaderLock::None,
            }),
        }
    }

    /// A writer held the database when the open began: its log may end in a frame it is still
    /// appending, which is no torn tail.
    pub(crate) fn beside_writer(&self) -> bool {
        matches!(self, ReaderLock::Gate { writer: true, .. })
    }

    /// What the open database keeps: `LOCK` shared when that is how the open excluded a writer.
    pub(crate) fn into_kept(self) -> Option<File> {
        match self {
            ReaderLock::Shared(file) => Some(file),
            ReaderLock::Gate { .. } | ReaderLock::None => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether a reader's shared lock on the gate would be granted now.
    fn reader_gets_in(db: &Path) -> bool {
        let file = File::open(db.join(READ_GATE_FILE)).expect("gate file");
        file.try_lock_shared().is_ok()
    }

    #[test]
    fn overlapping_holds_keep_readers_out_until_the_last_one_drops() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let gate = ReadGate::for_writer(tmp.path()).expect("gate");
        assert!(reader_gets_in(tmp.path()));
        let first = gate.hold().expect("hold");
        assert!(!reader_gets_in(tmp.path()));
        let second = gate.hold().expect("second hold");
        drop(first);
        assert!(!reader_gets_in(tmp.path()), "released while a hold remains");
        drop(second);
        assert!(reader_gets_in(tmp.path()));
    }

    #[test]
    fn a_reader_at_the_gate_holds_the_writer_and_knows_it_is_beside_one() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let db = tmp.path();
        // No gate file yet: the old rule, `LOCK` shared (none here: read-only media).
        assert!(matches!(ReaderLock::take(db).expect("take"), ReaderLock::None));
        let gate = ReadGate::for_writer(db).expect("gate");
        let reader = ReaderLock::take(db).expect("take");
        assert!(!reader.beside_writer(), "no LOCK held: no writer");
        // While the reader opens, a writer cannot close the gate.
        let writer_file = File::options()
            .write(true)
            .open(db.join(READ_GATE_FILE))
            .expect("gate file");
        assert!(writer_file.try_lock().is_err());
        assert!(reader.into_kept().is_none(), "a reader at the gate keeps nothing");
        assert!(writer_file.try_lock().is_ok());
        writer_file.unlock().expect("unlock");
        // A writer holding `LOCK`: the next reader opens beside it.
        let lock = super::super::open::lock(db).expect("lock");
        let reader = ReaderLock::take(db).expect("take");
        assert!(reader.beside_writer());
        drop((reader, lock, gate));
    }
}
