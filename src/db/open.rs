//! Opening a database: identity and lock, the materialized store, log replay, threads.

use super::commit::{self, Command};
use super::{run_checkpointer, Db, Durability, Options, Shared};
use crate::codec::record;
use crate::error::{CorruptionKind, Error, Result};
use crate::limits::{COMMIT_QUEUE_DEPTH, MAX_SHARDS};
use crate::model::Lsn;
use crate::state::State;
use crate::store::meta::{new_db_id, Meta, META_FILE};
use crate::store::Store;
use crate::wal::{recover, LogWriter, WAL_DIR};
use parking_lot::{Mutex, RwLock};
use std::fs::File;
use std::path::Path;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

/// Sub-directory holding the sled store.
pub const STORE_DIR: &str = "state";
const LOCK_FILE: &str = "LOCK";

/// What opening found and did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecoveryReport {
    pub created: bool,
    /// LSN of the checkpoint the state was loaded from.
    pub checkpoint_lsn: Lsn,
    /// Log frames replayed on top of it.
    pub frames_replayed: u64,
    /// Bytes of a torn log tail that were cut off.
    pub truncated_bytes: u64,
    /// Why the store was rebuilt from the whole log, when it was.
    pub rebuilt: Option<String>,
    pub lsn: Lsn,
}

pub fn open(path: &Path, options: Options) -> Result<Db> {
    let vfs = options.vfs.clone();
    let mut report = RecoveryReport::default();
    if !vfs.exists(&path.join(META_FILE)) && !options.create_if_missing {
        return Err(Error::NotADatabase {
            path: path.to_path_buf(),
        });
    }
    if !vfs.exists(&path.join(META_FILE)) && vfs.exists(path) {
        // Refuse a foreign directory before leaving anything (a LOCK file) in it.
        check_leftovers(&*vfs, path)?;
    }
    vfs.create_dir_all(path).map_err(|e| Error::io(path, e))?;
    // Locked before creating, so two processes never create (or open) the same database at once.
    let lock_file = lock(path)?;
    if !vfs.exists(&path.join(META_FILE)) {
        create(&*vfs, path, options.shards)?;
        report.created = true;
    }
    if path.join(super::edge::MANIFEST_FILE).exists() {
        // A checkpoint directory opened for the first time: check every file, then it becomes a
        // live replica directory (opening changes the store's files).
        super::edge::verify_checkpoint(path)?;
        let manifest = path.join(super::edge::MANIFEST_FILE);
        std::fs::remove_file(&manifest).map_err(|e| Error::io(&manifest, e))?;
        vfs.sync_dir(path).map_err(|e| Error::io(path, e))?;
    }
    let base = super::edge::Base::read(path)?;
    let meta = Meta::read(&*vfs, path)?;
    let wal_dir = path.join(WAL_DIR);
    vfs.create_dir_all(&wal_dir)
        .map_err(|e| Error::io(&wal_dir, e))?;

    let (store, mut state, mut applier) = load_store(path, meta.shards, &mut report)?;
    if report.checkpoint_lsn.0 > crate::limits::MAX_LSN {
        // A checksummed but impossible checkpoint LSN: the store is not trusted, rebuild it.
        report.rebuilt = Some(format!(
            "store checkpoint LSN {} is out of range",
            report.checkpoint_lsn
        ));
        store.wipe()?;
        state = State::new(meta.shards);
        applier = crate::state::Applier::default();
        report.checkpoint_lsn = Lsn(0);
    }
    let replay = |state: &mut State, applier: &mut crate::state::Applier, from: Lsn| {
        recover(&*vfs, &wal_dir, meta.db_id, from.0 + 1, true, |frame| {
            let corrupt = |kind| Error::corruption(frame.file, frame.offset, kind);
            let batch = record::decode(frame.payload)
                .map_err(|e| corrupt(CorruptionKind::InvalidArchive(e)))?;
            if batch.ops.len() != frame.op_count as usize {
                return Err(corrupt(CorruptionKind::InvalidValue(
                    "operation count differs from header".into(),
                )));
            }
            state
                .apply(Lsn(frame.lsn), &batch.ops, applier)
                .map_err(|e| corrupt(CorruptionKind::InconsistentOp(e)))
        })
    };
    let mut tail = replay(&mut state, &mut applier, report.checkpoint_lsn)?;
    if let Some(base) = base {
        if tail.end.active.is_none() && tail.end.next_lsn <= base.lsn + 1 {
            // A replica whose own log has not started yet continues from its base.
            tail.end.next_lsn = base.lsn + 1;
            tail.end.prev_crc = base.crc;
        }
    }
    if tail.end.next_lsn <= report.checkpoint_lsn.0 {
        // The store is ahead of the durable log (possible only after a power loss with buffered
        // durability). The log is the truth: rebuild from it.
        report.rebuilt = Some(format!(
            "store checkpoint at LSN {} is ahead of the log (ends at {})",
            report.checkpoint_lsn,
            tail.end.next_lsn - 1
        ));
        store.wipe()?;
        state = State::new(meta.shards);
        applier = crate::state::Applier::default();
        report.checkpoint_lsn = Lsn(0);
        let cut_before = tail.truncated_bytes;
        tail = replay(&mut state, &mut applier, Lsn(0))?;
        tail.truncated_bytes += cut_before;
    }
    if let Some(base) = base {
        if state.lsn.0 < base.lsn {
            // A replica's own log starts after its base: without a readable store the state up
            // to the base is gone, and opening empty would silently lose it.
            return Err(crate::error::ReplicaError::BadCheckpoint {
                path: path.to_path_buf(),
                why: format!(
                    "state reaches LSN {} but the directory continues from LSN {} ({})",
                    state.lsn.0,
                    base.lsn,
                    report.rebuilt.as_deref().unwrap_or("store behind its base")
                ),
            }
            .into());
        }
    }
    if state.catalog.building.is_some() {
        // An index creation was logged but its backfill did not finish: complete it.
        state.finish_index_build();
    }
    report.frames_replayed = tail.frames_replayed;
    report.truncated_bytes = tail.truncated_bytes;
    report.lsn = state.lsn;
    let log_crc = tail.end.prev_crc;
    let visible = state.lsn.0;

    let writer = LogWriter::open(
        vfs.clone(),
        &wal_dir,
        meta.db_id,
        tail.end,
        options.segment_target_bytes,
    )
    .map_err(|e| Error::io(&wal_dir, e))?;
    let (wake_tx, wake_rx) = crossbeam::channel::bounded(1);
    let shared = Arc::new(Shared {
        path: path.to_path_buf(),
        state: RwLock::new(super::Current {
            state: Arc::new(state),
            applier,
            log_crc,
        }),
        progress: Arc::new(crate::replica::Progress::new(visible)),
        replica_of: base.map(|b| b.lsn),
        store,
        vfs: vfs.clone(),
        db_id: meta.db_id,
        shards: meta.shards,
        poisoned: Mutex::new(None),
        checkpoint_lock: Mutex::new(()),
        index_lock: Mutex::new(()),
        ops_since_checkpoint: AtomicU64::new(0),
        checkpoint_every_ops: options.checkpoint_every_ops,
        checkpoint_wake: wake_tx,
        _lock_file: lock_file,
    });
    let (tx, rx) = crossbeam::channel::bounded::<Command>(COMMIT_QUEUE_DEPTH);
    let sync_each = options.durability == Durability::Sync;
    let committer = {
        let shared = shared.clone();
        std::thread::Builder::new()
            .name("folio-commit".into())
            .spawn(move || commit::run(shared, rx, writer, sync_each))
            .map_err(|e| Error::io(path, e))?
    };
    let (stop_tx, stop_rx) = crossbeam::channel::bounded::<()>(0);
    let checkpointer = {
        let shared = shared.clone();
        let interval = options.checkpoint_interval;
        std::thread::Builder::new()
            .name("folio-checkpoint".into())
            .spawn(move || run_checkpointer(shared, wake_rx, stop_rx, interval))
            .map_err(|e| Error::io(path, e))?
    };
    Ok(Db {
        shared,
        tx,
        committer: Some(committer),
        checkpointer: Some((stop_tx, checkpointer)),
        recovery: report,
    })
}

/// Creates the database files in `path` (locked by the caller). Leftovers of a creation that
/// crashed before `FOLIO` was in place (an empty `wal/`, `FOLIO.tmp`) are taken over; any other
/// content means the directory is not ours.
fn create(vfs: &dyn crate::io::Vfs, path: &Path, shards: u32) -> Result<()> {
    if shards == 0 || shards > MAX_SHARDS {
        return Err(Error::InvalidArgument(format!(
            "shard count must be 1..={MAX_SHARDS}, got {shards}"
        )));
    }
    let wal_dir = path.join(WAL_DIR);
    let tmp_meta = path.join(META_FILE).with_extension("tmp");
    check_leftovers(vfs, path)?;
    if vfs.exists(&tmp_meta) {
        vfs.remove_file(&tmp_meta)
            .map_err(|e| Error::io(&tmp_meta, e))?;
    }
    vfs.create_dir_all(&wal_dir)
        .map_err(|e| Error::io(&wal_dir, e))?;
    Meta {
        db_id: new_db_id(),
        shards,
    }
    .write(vfs, path)
}

/// Fails unless `path` holds only what an interrupted creation leaves: `LOCK`, `FOLIO.tmp`, an
/// empty `wal/`.
fn check_leftovers(vfs: &dyn crate::io::Vfs, path: &Path) -> Result<()> {
    let wal_dir = path.join(WAL_DIR);
    let tmp_meta = path.join(META_FILE).with_extension("tmp");
    for name in vfs.list(path).map_err(|e| Error::io(path, e))? {
        let leftover = name.as_os_str() == LOCK_FILE
            || path.join(&name) == tmp_meta
            || (path.join(&name) == wal_dir
                && vfs.list(&wal_dir).map(|l| l.is_empty()).unwrap_or(false));
        if !leftover {
            return Err(Error::NotADatabase {
                path: path.to_path_buf(),
            });
        }
    }
    Ok(())
}

fn lock(path: &Path) -> Result<File> {
    let lock_path = path.join(LOCK_FILE);
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| Error::io(&lock_path, e))?;
    // A lock (`flock`) is shared with any child a thread of this process forks until the child
    // execs, so a database just closed can look locked for a moment while another thread spawns
    // a process: look again for up to `LOCK_WAIT` before reporting another holder.
    let started = std::time::Instant::now();
    let mut pause = std::time::Duration::from_millis(1);
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(file),
            Err(std::fs::TryLockError::WouldBlock) if started.elapsed() < LOCK_WAIT => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(std::time::Duration::from_millis(50));
            }
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(Error::Locked {
                    path: path.to_path_buf(),
                })
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(Error::io(&lock_path, e)),
        }
    }
}

/// How long opening waits for a database lock held for a moment (see `lock`).
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_millis(500);

/// Opens the store and loads its state; on any failure rebuilds the store from scratch (the log
/// replay that follows restores everything).
fn load_store(
    path: &Path,
    shards: u32,
    report: &mut RecoveryReport,
) -> Result<(Store, State, crate::state::Applier)> {
    let store_path = path.join(STORE_DIR);
    let loaded = Store::open(&store_path).and_then(|store| {
        let lsn = store.checkpoint_lsn()?;
        let (mut state, entries) = store.load(shards)?;
        state.lsn = lsn;
        Ok((store, state, entries))
    });
    match loaded {
        Ok((store, state, entries)) => {
            report.checkpoint_lsn = state.lsn;
            let applier = crate::state::Applier {
                entries,
                ..Default::default()
            };
            Ok((store, state, applier))
        }
        // A lock that stays held is not damage: never wipe a store another holder still has.
        Err(e @ Error::Locked { .. }) => Err(e),
        Err(e) => {
            report.rebuilt = Some(e.to_string());
            if store_path.exists() {
                std::fs::remove_dir_all(&store_path).map_err(|e| Error::io(&store_path, e))?;
            }
            Ok((
                Store::open(&store_path)?,
                State::new(shards),
                crate::state::Applier::default(),
            ))
        }
    }
}
