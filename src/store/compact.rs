//! Compaction of the store. sled 0.34 gives back the space of values written again under the
//! same key, but never that of dropped trees or removed keys: the ledger trees of every month
//! that froze, the overlay, patch and day trees of every replaced file version and the balance
//! values of frozen months stay in its files. Measured, a store holding 36 MB of values took
//! 556 MB after ten years of history at 1,000,000 orgs; every open reads sled's page table of
//! all of it and a read-only open copies all of it.
//!
//! So the store counts what it drops (`dropped_bytes` in the `meta` tree: the keys and values of
//! every tree it drops and balance value it removes, added as it drops them) and is compacted —
//! at a writable open, and after a checkpoint of a running writer — once sled's files exceed
//! `Options::store_compaction_floor` (default [`crate::limits::STORE_COMPACT_FLOOR_BYTES`]) and
//! what it dropped is at least `Options::store_compaction_dead_percent` of them (default
//! [`crate::limits::STORE_COMPACT_DEAD_PERCENT`]; a writer's close compacts at
//! [`crate::limits::STORE_COMPACT_DEAD_PERCENT_AT_CLOSE`]). A store that grows because it holds
//! more (every month open, new orgs) is never copied for nothing, and one that freezes month
//! after month is copied once its dead part is about as large as its live part, so the copying
//! costs at most about what it wins back: the values the store's checkpoint reads are copied
//! into a new sled database under `state.compact/` (trees the frozen set no longer reads and
//! balance values of frozen months are left behind), which is flushed and fsynced; then
//! `state/` is renamed to `state.old/`, `state.compact/` to `state/`, the parent directory
//! fsynced and `state.old/` removed. The rename of `state/` is what makes the copy the store:
//! [`recover`] (run by every writable open before the store is opened, and by a running writer
//! whose compaction failed) finishes a compaction a crash interrupted after it, and removes the
//! copy of one interrupted before it. A copy that fails leaves the store as it was. A running
//! writer compacts under its checkpoint lock and the store's lock: nothing else touches the
//! store meanwhile; writers and readers go on, except a read or a batch that must first load
//! orgs the open has not loaded yet (`db::lazy`), which waits for it.

use super::checkpoint::Store;
use crate::error::{Error, Result};
use crate::format::{STORE_COMPACT_DIR, STORE_DIR, STORE_OLD_DIR};
use crate::io::Vfs;
use std::path::{Path, PathBuf};

/// What a compaction did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Compaction {
    /// sled's files before, bytes.
    pub before: u64,
    /// sled's files after, bytes.
    pub after: u64,
    /// Values copied.
    pub values: u64,
    /// Bytes of keys and values copied.
    pub bytes: u64,
}

/// When a store is due for compaction: over `floor` bytes of files, of which what the store
/// dropped since its last compaction is at least `dead_percent` per cent (and something).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Due {
    pub floor: u64,
    pub dead_percent: u64,
}

impl Due {
    /// The rule at a writer's close: the same floor, at most
    /// [`crate::limits::STORE_COMPACT_DEAD_PERCENT_AT_CLOSE`] per cent dropped.
    pub fn at_close(self) -> Due {
        Due {
            dead_percent: self
                .dead_percent
                .min(crate::limits::STORE_COMPACT_DEAD_PERCENT_AT_CLOSE),
            ..self
        }
    }

    /// Whether a store of `size` bytes on disk that dropped `dropped` bytes of keys and values
    /// since its last compaction is due.
    pub fn at(self, size: u64, dropped: u64) -> bool {
        size > self.floor
            && dropped > 0
            && u128::from(dropped) * 100 >= u128::from(size) * u128::from(self.dead_percent)
    }
}

/// Compacts the store of database `db` when `due` says so; returns the store to use
/// (reopened after a compaction, with a page cache of `cache` bytes) and what was done (also
/// said as a `tracing` info event). A copy that fails is removed and the store returned as it
/// was (a `tracing` warning says why).
///
/// # Errors
/// [`Error::Io`] when the directories cannot be renamed or synced once the copy is complete
/// (the next writable open finishes the swap); `Error::Store` / [`Error::Locked`] when the
/// compacted store cannot be opened.
pub fn compact_if_due(
    store: Store,
    db: &Path,
    cache: u64,
    due: Due,
) -> Result<(Store, Option<Compaction>)> {
    let before = store.size_on_disk()?;
    if !due.at(before, store.dropped_bytes()) {
        return Ok((store, None));
    }
    let copy = db.join(STORE_COMPACT_DIR);
    let copied = remove_dir(&copy).and_then(|()| store.copy_live_into(&copy, cache));
    let (values, bytes) = match copied {
        Ok(done) => done,
        Err(e) => {
            let _ = remove_dir(&copy);
            tracing::warn!(path = %db.display(), error = %e, "could not compact the store");
            return Ok((store, None));
        }
    };
    // The copy is complete and durable; the store is closed before its directory moves (sled
    // writes to the files it opened until it is dropped).
    drop(store);
    let (live, old) = (db.join(STORE_DIR), db.join(STORE_OLD_DIR));
    rename(&live, &old)?;
    rename(&copy, &live)?;
    sync_dir(db)?;
    let store = Store::open_cached(&live, cache)?;
    let after = store.mark_compacted()?;
    if let Err(e) = remove_dir(&old) {
        tracing::warn!(path = %old.display(), error = %e, "could not remove the store a compaction replaced");
    }
    tracing::info!(path = %db.display(), before, after, values, "compacted the store");
    Ok((
        store,
        Some(Compaction {
            before,
            after,
            values,
            bytes,
        }),
    ))
}

/// Finishes or undoes a compaction of database `db`'s store that a crash interrupted: with
/// `state.old/` and `state.compact/` but no `state/`, the copy was complete and becomes the
/// store; a `state.compact/` beside `state/` was not, and is removed; a `state.old/` beside
/// `state/` was replaced, and is removed. Writable opens, before the store is opened.
///
/// # Errors
/// [`Error::Io`] when a directory cannot be renamed, removed or synced.
pub fn recover(db: &Path) -> Result<()> {
    let (live, copy, old) = (
        db.join(STORE_DIR),
        db.join(STORE_COMPACT_DIR),
        db.join(STORE_OLD_DIR),
    );
    if !live.exists() {
        match (copy.exists(), old.exists()) {
            (true, true) => rename(&copy, &live)?,
            // Not a state a compaction leaves; the store it replaced is the one to keep.
            (false, true) => rename(&old, &live)?,
            _ => {}
        }
        sync_dir(db)?;
    }
    if live.exists() {
        remove_dir(&copy)?;
        remove_dir(&old)?;
    }
    Ok(())
}

/// The store directory of database `db` as a read-only open sees it (which cannot finish an
/// interrupted compaction): `state/`, or the complete copy a crash left between the renames.
pub fn store_dir(db: &Path) -> PathBuf {
    let (live, copy, old) = (
        db.join(STORE_DIR),
        db.join(STORE_COMPACT_DIR),
        db.join(STORE_OLD_DIR),
    );
    match (live.exists(), copy.exists(), old.exists()) {
        (false, true, true) => copy,
        (false, false, true) => old,
        _ => live,
    }
}

fn rename(from: &Path, to: &Path) -> Result<()> {
    std::fs::rename(from, to).map_err(|e| Error::io(from, e))
}

fn remove_dir(dir: &Path) -> Result<()> {
    match std::fs::remove_dir_all(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::io(dir, e)),
        _ => Ok(()),
    }
}

fn sync_dir(dir: &Path) -> Result<()> {
    crate::io::StdFs
        .sync_dir(dir)
        .map_err(|e| Error::io(dir, e))
}
