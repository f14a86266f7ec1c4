//! Opening a database: identity and lock, the materialized store, log replay, threads.

use super::commit::{self, Command};
use super::{run_checkpointer, Db, Durability, Options, Shared};
use crate::error::{CorruptionKind, Error, Result};
use crate::limits::COMMIT_QUEUE_DEPTH;
use crate::model::Lsn;
use crate::state::{replay, State};
use super::gate::{ReadGate, ReaderLock};
use crate::format::{
    LOCK_FILE, MANIFEST_FILE, META_FILE, READ_GATE_FILE, STORE_DIR, TMP_EXTENSION, WAL_DIR,
};
use crate::store::meta::{new_db_id, Meta};
use crate::store::Store;
use crate::wal::{cut_torn, recover, Expect, LogTail, LogWriter, TornTail};
use crate::io::Vfs;
use crossbeam::channel::Sender;
use parking_lot::{Mutex, RwLock};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::Arc;

/// What opening found and did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecoveryReport {
    /// The directory held no database and opening created one.
    pub created: bool,
    /// Opened read-only: nothing on disk was changed, a torn tail was only read around.
    pub read_only: bool,
    /// LSN of the checkpoint the state was loaded from.
    pub checkpoint_lsn: Lsn,
    /// Log frames replayed on top of it.
    pub frames_replayed: u64,
    /// Torn tails found beyond every LSN known durable (never acknowledged): cut off by a
    /// writable open, left in place by a read-only one. They are also a `tracing` warning
    /// (fields `path`, `bytes`, `frames`, `tails`, `lsn` — the first LSN cut — and `read_only`)
    /// and a line of the database's recovery log (`recovery.log`).
    pub torn: Vec<TornTail>,
    /// Bytes of the torn tails.
    pub truncated_bytes: u64,
    /// Frames (whole or in part) in the torn tails.
    pub truncated_frames: u64,
    /// Why the store was rebuilt from the whole log, when it was (an unreadable store). Also a
    /// `tracing` warning (fields `path`, `reason`, `lsn`, `frames`, `read_only`).
    pub rebuilt: Option<String>,
    /// LSN of the last batch recovered: the visible LSN when opening returned.
    pub lsn: Lsn,
    /// Opened read-only while another process (or handle) had the database open to write: the
    /// state is what its log held then, every complete frame; the frame it was still appending,
    /// if any, is not reported as torn.
    pub beside_writer: bool,
}

impl RecoveryReport {
    /// One line saying what recovery cut (or, read-only, would cut), if anything.
    pub fn warning(&self) -> Option<String> {
        if self.torn.is_empty() {
            return None;
        }
        let what: Vec<String> = self.torn.iter().map(|t| t.to_string()).collect();
        let verb = if self.read_only {
            "found a torn log tail (left in place: read-only)"
        } else {
            "cut a torn log tail"
        };
        Some(format!(
            "recovery {verb}: {} bytes, {} frame{} never acknowledged: {}",
            self.truncated_bytes,
            self.truncated_frames,
            if self.truncated_frames == 1 { "" } else { "s" },
            what.join("; ")
        ))
    }
}

/// The store as opening found it.
enum Loaded {
    Ok(Box<(Store, State, crate::state::Applier, Option<crate::store::load::Layout>)>),
    /// Unreadable (or an impossible checkpoint LSN): rebuilt from the log once every check has
    /// passed.
    Damaged(String),
}

pub fn open(path: &Path, options: Options) -> Result<Db> {
    open_holding(path, options, None)
}

/// Opens with the database lock already held by the caller (`held`, a handle on `LOCK`).
///
/// Nothing on disk changes until every check has passed: the identity files and the log are
/// checked against what is known durable before the store is opened, the log is replayed into
/// the loaded state, and only then are a damaged store rebuilt and a torn tail cut (never when
/// read-only).
pub(crate) fn open_holding(path: &Path, options: Options, held: Option<File>) -> Result<Db> {
    let vfs = options.vfs.clone();
    let writable = !options.read_only;
    let mut report = RecoveryReport {
        read_only: !writable,
        ..RecoveryReport::default()
    };
    let locks = lock_or_create(&*vfs, path, &options, held, &mut report)?;
    let recovered = {
        // A writer's open changes the files readers read whole: readers in other processes
        // wait at the gate meanwhile. A reader holds it shared until its open is done.
        let _hold = locks.gate.as_ref().map(ReadGate::hold).transpose()?;
        let beside_writer = locks.reader.as_ref().is_some_and(ReaderLock::beside_writer);
        // Orgs load as something first needs them (`lazy`); a store value that cannot be read
        // while the log replays is damage, which a whole load handles (it rebuilds the store,
        // or a read-only open's private copy of it, from the log).
        match recover_files(&*vfs, path, &options, (beside_writer, true), &mut report) {
            Err(Error::Store(why)) => {
                tracing::info!(path = %path.display(), reason = %why, "loading every org");
                recover_files(&*vfs, path, &options, (beside_writer, false), &mut report)?
            }
            recovered => recovered?,
        }
    };
    let Recovered {
        found,
        opened,
        tail,
        store,
    } = recovered;
    if let Some(warning) = report.warning() {
        tracing::warn!(
            path = %path.display(),
            bytes = report.truncated_bytes,
            frames = report.truncated_frames,
            tails = report.torn.len(),
            lsn = report.torn.first().map_or(0, |t| t.lsn.0),
            read_only = report.read_only,
            "{warning}"
        );
    }
    // A reader that opened at the gate holds nothing from here on.
    let lock_file = match locks.reader {
        Some(reader) => reader.into_kept(),
        None => locks.lock_file,
    };
    start(
        path,
        options,
        report,
        Started {
            vfs,
            wal_dir: found.wal_dir,
            meta: found.meta,
            base: found.base,
            tail,
            state: opened.state,
            applier: opened.applier,
            lazy: opened.lazy,
            store,
            scratch: opened.scratch,
            lock_file,
            gate: locks.gate,
        },
    )
}

/// What recovery made of the files.
struct Recovered {
    found: Found,
    opened: OpenedStore,
    tail: LogTail,
    store: Store,
}

/// Checks the identity files and the log, loads the store, replays the log, and repairs what
/// may be repaired (see [`open_holding`]). `beside_writer`: a read-only open while a writer
/// appends, whose log's end is no torn tail; `lazy`: load no org from the store but those the
/// replayed log touches ([`super::lazy`]).
fn recover_files(
    vfs: &dyn Vfs,
    path: &Path,
    options: &Options,
    (beside_writer, lazy): (bool, bool),
    report: &mut RecoveryReport,
) -> Result<Recovered> {
    let writable = !options.read_only;
    let found = Found::check(vfs, path, writable)?;
    if writable && found.is_checkpoint {
        // The checkpoint becomes a live replica directory before sled opens its store (sled
        // writes to the files it opens): a kill from here on must not leave a manifest that no
        // longer matches the store, which would refuse every later open.
        let manifest = path.join(MANIFEST_FILE);
        vfs.remove_file(&manifest)
            .map_err(|e| Error::io(&manifest, e))?;
        vfs.sync_dir(path).map_err(|e| Error::io(path, e))?;
    }
    let cache = options.store_cache_bytes();
    let mut opened = OpenedStore::open(
        vfs,
        path,
        writable,
        &found,
        (cache, options.store_compaction(), lazy),
        report,
    )?;
    let tail = replay_log(vfs, path, &found, &mut opened, beside_writer, report)?;
    let store = repair(vfs, path, writable, &found, &mut opened, &tail, report)?;
    Ok(Recovered {
        found,
        opened,
        tail,
        store,
    })
}

/// What an open holds: a writer's lock and read gate, or what a reader took.
struct Locks {
    lock_file: Option<File>,
    gate: Option<ReadGate>,
    reader: Option<ReaderLock>,
}

/// Refuses a directory that is no database (and may not become one), takes the lock (a writer
/// its lock and read gate; a reader the gate, or the lock shared where there is no gate:
/// [`super::gate`]), and creates the files of a new database.
fn lock_or_create(
    vfs: &dyn Vfs,
    path: &Path,
    options: &Options,
    held: Option<File>,
    report: &mut RecoveryReport,
) -> Result<Locks> {
    let writable = !options.read_only;
    let has_meta = vfs.exists(&path.join(META_FILE));
    let may_create = options.create_if_missing && writable;
    if !has_meta && !may_create {
        return Err(Error::NotADatabase {
            path: path.to_path_buf(),
        });
    }
    if !has_meta {
        // Refused before the directory is made: a bad option leaves nothing behind.
        options.check_create()?;
        if vfs.exists(path) {
            // Refuse a foreign directory before leaving anything (a LOCK file) in it.
            check_leftovers(vfs, path)?;
        }
        vfs.create_dir_all(path).map_err(|e| Error::io(path, e))?;
    }
    // Locked before creating, so two processes never create (or open) the same database at once.
    let locks = match (held, writable) {
        // The caller holds the lock exclusively: nobody else writes.
        (Some(file), false) => Locks {
            lock_file: Some(file),
            gate: None,
            reader: None,
        },
        (held, true) => {
            let lock_file = match held {
                Some(file) => file,
                None => lock(path)?,
            };
            Locks {
                lock_file: Some(lock_file),
                gate: Some(ReadGate::for_writer(path)?),
                reader: None,
            }
        }
        (None, false) => Locks {
            lock_file: None,
            gate: None,
            reader: Some(ReaderLock::take(path)?),
        },
    };
    if !vfs.exists(&path.join(META_FILE)) {
        let _hold = locks.gate.as_ref().map(ReadGate::hold).transpose()?;
        create(vfs, path, options.shards)?;
        report.created = true;
    }
    Ok(locks)
}

/// What opening learns from a database directory before it opens the store, every file checked.
struct Found {
    meta: Meta,
    /// A replica directory's base (its log continues from there).
    base: Option<super::edge::ReplicaBase>,
    /// A checkpoint directory (its manifest is still there).
    is_checkpoint: bool,
    wal_dir: PathBuf,
    /// Every LSN up to this one is known durable: the `DURABLE` mark or a replica's base.
    known: u64,
    /// The mark's log position (where the frame after it starts), for a read-only open: it
    /// reads the log from there. A writable open reads its last segment whole, every frame
    /// checked, before it continues it.
    position: Option<crate::wal::LogPosition>,
}

impl Found {
    /// Reads the identity files (a checkpoint directory's every file checked first) and checks
    /// the log against what is known durable. Changes nothing: a refused open leaves the files
    /// as they were.
    fn check(vfs: &dyn Vfs, path: &Path, writable: bool) -> Result<Found> {
        let is_checkpoint = vfs.exists(&path.join(MANIFEST_FILE));
        if is_checkpoint {
            // A checkpoint directory: every file is checked before first use.
            super::edge::verify_checkpoint_in(vfs, path)?;
        }
        let base = super::edge::ReplicaBase::read_in(vfs, path)?;
        let meta = Meta::read(vfs, path)?;
        // The log is checked before the store is opened (sled writes to the files it opens).
        let marked = crate::store::durable::read(vfs, path, meta.db_id)?;
        let found = Found {
            meta,
            base,
            is_checkpoint,
            wal_dir: path.join(WAL_DIR),
            known: marked.lsn.max(base.map_or(0, |b| b.lsn.0)),
            position: marked.position.filter(|_| !writable),
        };
        if !vfs.exists(&found.wal_dir) {
            let kind = CorruptionKind::MissingLog {
                from: Lsn(found.start_lsn()),
                to: Lsn(found.known),
            };
            return Err(Error::corruption(&found.wal_dir, 0, kind));
        }
        let expect = found.expect(marked.lsn + 1, found.known);
        recover(vfs, &found.wal_dir, found.meta.db_id, expect, |_| Ok(()))?;
        Ok(found)
    }

    /// The LSN the log starts at: 1, or a replica's base + 1.
    fn start_lsn(&self) -> u64 {
        self.base.map_or(1, |b| b.lsn.0 + 1)
    }

    /// What recovery may assume, handing it the frames from `from_lsn` on.
    fn expect(&self, from_lsn: u64, durable_lsn: u64) -> Expect {
        Expect {
            start_lsn: self.start_lsn(),
            start_crc: self.base.map_or(0, |b| b.crc),
            from_lsn,
            durable_lsn,
            hint: self.position,
        }
    }
}

/// The store as opening loaded it, and the state it holds.
struct OpenedStore {
    /// A read-only open's private copy of the store (sled writes to the files it opens).
    scratch: Option<Scratch>,
    /// Where the store is: in the database, or the private copy.
    path: PathBuf,
    /// sled's page cache, bytes (from the memory budget).
    cache: u64,
    /// None when the store was unreadable: rebuilt by [`repair`].
    store: Option<Store>,
    state: State,
    applier: crate::state::Applier,
    /// Set while the state holds only some orgs ([`super::lazy`]).
    lazy: Option<super::lazy::Lazy>,
}

impl OpenedStore {
    /// Opens the store (a writable open first finishes a compaction a crash interrupted, and
    /// compacts the store when `compaction` says it is due: `store::compact`) and loads its
    /// state. A damaged store is noted in the report and left for
    /// [`repair`], with an empty state to replay the whole log into; a replica directory's is
    /// refused (its log starts after its base, so the state up to the base would be gone).
    fn open(
        vfs: &dyn Vfs,
        path: &Path,
        writable: bool,
        found: &Found,
        (cache, compaction, lazy): (u64, crate::store::compact::Due, bool),
        report: &mut RecoveryReport,
    ) -> Result<OpenedStore> {
        let scratch = match writable {
            true => {
                crate::store::compact::recover(path)?;
                None
            }
            false => Some(Scratch::copy_of(&crate::store::compact::store_dir(path))?),
        };
        let store_path = scratch
            .as_ref()
            .map_or_else(|| path.join(STORE_DIR), |s| s.path.clone());
        let compaction = writable.then_some(compaction);
        let loaded = load_store(vfs, path, &store_path, &found.meta, (cache, lazy), compaction)?;
        let (store, state, applier, layout) = match loaded {
            Loaded::Ok(loaded) => {
                let (store, state, applier, layout) = *loaded;
                (Some(store), state, applier, layout)
            }
            Loaded::Damaged(why) => {
                if let Some(base) = found.base {
                    return Err(crate::error::ReplicaError::BadCheckpoint {
                        path: path.to_path_buf(),
                        why: format!(
                            "the store is unreadable ({why}) and the log starts after LSN {}",
                            base.lsn
                        ),
                    }
                    .into());
                }
                report.rebuilt = Some(why);
                (
                    None,
                    State::new(found.meta.shards),
                    crate::state::Applier::default(),
                    None,
                )
            }
        };
        Ok(OpenedStore {
            scratch,
            cache,
            path: store_path,
            store,
            state,
            applier,
            lazy: layout
                .filter(crate::store::load::Layout::has_orgs)
                .map(super::lazy::Lazy::new),
        })
    }
}

/// Replays the log after the store's checkpoint into the loaded state, finishes an index
/// creation the log began, and reports what it replayed and the torn tails it found.
fn replay_log(
    vfs: &dyn Vfs,
    path: &Path,
    found: &Found,
    opened: &mut OpenedStore,
    beside_writer: bool,
    report: &mut RecoveryReport,
) -> Result<LogTail> {
    let OpenedStore {
        state,
        applier,
        store,
        lazy,
        ..
    } = opened;
    report.checkpoint_lsn = state.lsn;
    // A store written before the durable mark existed may know more.
    let expect = found.expect(state.lsn.0 + 1, found.known.max(state.lsn.0));
    let tail = recover(vfs, &found.wal_dir, found.meta.db_id, expect, |frame| {
        let batch = replay::decode(&frame)?;
        // Loaded lazily: the orgs the batch touches are loaded before it applies.
        let all = match (lazy.as_mut(), store.as_ref()) {
            (Some(lazy), Some(store)) => lazy.before_batch(&batch.ops, store, state, applier)?,
            _ => false,
        };
        if all {
            *lazy = None;
        }
        replay::apply_batch(state, applier, &frame, &batch)
    })?;
    if let Some(base) = found.base {
        if state.lsn.0 < base.lsn.0 {
            return Err(crate::error::ReplicaError::BadCheckpoint {
                path: path.to_path_buf(),
                why: format!(
                    "state reaches LSN {} but the directory continues from LSN {}",
                    state.lsn.0, base.lsn
                ),
            }
            .into());
        }
    }
    if state.catalog.building.is_some() {
        // An index creation was logged but its backfill did not finish: complete it (over
        // every org).
        if let (Some(loading), Some(store)) = (lazy.as_mut(), store.as_ref()) {
            loading.load_all(store, state, applier)?;
            *lazy = None;
        }
        state.finish_index_build();
    }
    report.frames_replayed = tail.frames_replayed;
    report.lsn = state.lsn;
    report.beside_writer = beside_writer;
    if !beside_writer {
        // Beside a writer, a partial frame at the log's end is its append in progress.
        report.truncated_bytes = tail.truncated_bytes();
        report.truncated_frames = tail.truncated_frames();
        report.torn = tail.torn.clone();
    }
    Ok(tail)
}

/// Every check passed: only now does opening change files. A damaged store is rebuilt (a
/// read-only open rebuilds its private copy); a writable open cuts the torn tails and records
/// what it cut or rebuilt in the recovery log.
fn repair(
    vfs: &dyn Vfs,
    path: &Path,
    writable: bool,
    found: &Found,
    opened: &mut OpenedStore,
    tail: &LogTail,
    report: &RecoveryReport,
) -> Result<Store> {
    let store = match opened.store.take() {
        Some(store) => store,
        None => {
            let store = rebuild_store(path, &opened.path, opened.cache, report)?;
            let marker = path.join(crate::format::STORE_DAMAGED_FILE);
            if writable && vfs.exists(&marker) {
                // The rebuilt store holds no damaged value (it is empty, the whole log replayed;
                // a crash before its first checkpoint replays the whole log again).
                vfs.remove_file(&marker).map_err(|e| Error::io(&marker, e))?;
                vfs.sync_dir(path).map_err(|e| Error::io(path, e))?;
            }
            store
        }
    };
    if writable {
        cut_torn(vfs, &tail.torn)?;
        if !report.torn.is_empty() || report.rebuilt.is_some() {
            super::recovery_log::append(vfs, path, report)?;
        }
        align_frozen(vfs, path, found.meta.db_id, &opened.state, &store)?;
    }
    Ok(store)
}

/// The store's checkpoint names the frozen months in force (the authority): `frozen/` is brought
/// in line with it (its `MANIFEST` lists exactly that set; a file it does not name, left by a
/// freeze whose checkpoint never landed or superseded by one that did, is removed) and the
/// store's trees that set no longer reads are dropped. Writable opens only.
fn align_frozen(vfs: &dyn Vfs, path: &Path, db_id: u64, state: &State, store: &Store) -> Result<()> {
    let entries: Vec<crate::frozen::ManifestEntry> =
        state.frozen.months().values().map(|f| f.entry).collect();
    let (_, cleanup) = crate::frozen::FrozenDir::align(vfs, path, db_id, &entries)?;
    for removed in &cleanup.removed {
        tracing::info!(
            path = %path.display(),
            file = %removed.display(),
            "removed a frozen file the store's checkpoint does not name"
        );
    }
    // Also with no month frozen: the trees of a version whose checkpoint never landed go before
    // a new freeze can take that version number again.
    let in_force = entries.iter().map(|e| (e.month, e.version)).collect();
    store.drop_stale_trees(&in_force, Some(state))?;
    Ok(())
}

/// What [`start`] needs of a recovered database.
struct Started {
    vfs: Arc<dyn Vfs>,
    wal_dir: PathBuf,
    meta: Meta,
    base: Option<super::edge::ReplicaBase>,
    tail: LogTail,
    state: State,
    applier: crate::state::Applier,
    lazy: Option<super::lazy::Lazy>,
    store: Store,
    scratch: Option<Scratch>,
    lock_file: Option<File>,
    gate: Option<ReadGate>,
}

/// Starts the committer and the checkpointer of a recovered database (none when read-only).
fn start(path: &Path, options: Options, report: RecoveryReport, s: Started) -> Result<Db> {
    let writer = match options.read_only {
        false => Some(open_writer(&s, options.segment_target_bytes)?),
        true => None,
    };
    let (tx, rx) = crossbeam::channel::bounded::<Command>(COMMIT_QUEUE_DEPTH);
    let (wake_tx, wake_rx) = crossbeam::channel::bounded(1);
    let marks = writer.as_ref().map(LogWriter::marks);
    let shared = Arc::new(shared(path, &options, s, tx.clone(), wake_tx, marks));
    let Some(writer) = writer else {
        drop(rx);
        return Ok(Db {
            shared,
            tx,
            committer: None,
            checkpointer: None,
            recovery: report,
        });
    };
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
        let freeze = options.auto_freeze && shared.replica_of.is_none();
        std::thread::Builder::new()
            .name("folio-checkpoint".into())
            .spawn(move || run_checkpointer(shared, wake_rx, stop_rx, interval, freeze))
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

/// The log writer of a writable open, continuing the log where recovery found it ends.
fn open_writer(s: &Started, segment_target_bytes: u64) -> Result<LogWriter> {
    let mut writer = LogWriter::open(
        s.vfs.clone(),
        &s.wal_dir,
        s.meta.db_id,
        s.tail.end.clone(),
        segment_target_bytes,
    )
    .map_err(|e| Error::io(&s.wal_dir, e))?;
    // What recovery read may still be only in the page cache (a process killed under buffered
    // durability): durable before any checkpoint can cover it.
    writer
        .sync_recovered()
        .map_err(|e| Error::io(&s.wal_dir, e))?;
    Ok(writer)
}

/// The state shared by the handle, the committer and the checkpointer of a recovered database.
fn shared(
    path: &Path,
    options: &Options,
    s: Started,
    commands: Sender<Command>,
    checkpoint_wake: Sender<()>,
    log_marks: Option<Arc<crate::wal::LogMarks>>,
) -> Shared {
    let writable = !options.read_only;
    let visible = s.state.lsn.0;
    let pressure = super::pressure::Pressure::new(options.memory_budget);
    pressure.set_rows(s.applier.entries.len() as u64);
    Shared {
        path: path.to_path_buf(),
        state: RwLock::new(super::Current {
            state: Arc::new(s.state),
            applier: s.applier,
            log_crc: s.tail.end.prev_crc,
        }),
        progress: Arc::new(crate::replica::Progress::new(visible)),
        replica_of: s.base.map(|b| b.lsn.0),
        read_only: !writable,
        store: Mutex::new(Some(s.store)),
        _scratch: s.scratch,
        lazy: Mutex::new(s.lazy),
        vfs: s.vfs,
        db_id: s.meta.db_id,
        shards: s.meta.shards,
        poisoned: Mutex::new(None),
        checkpoint_lock: Mutex::new(()),
        index_lock: Mutex::new(()),
        freeze_lock: Mutex::new(()),
        frozen_unsettled: AtomicBool::new(false),
        last_checkpoint: Mutex::new(std::time::Instant::now()),
        freezer_stats: Mutex::new(Default::default()),
        releasing: Mutex::new(None),
        pressure,
        memory_budget: options.memory_budget,
        store_cache: options.store_cache_bytes(),
        store_compaction: options.store_compaction(),
        ops_since_checkpoint: AtomicU64::new(0),
        checkpoint_every_ops: options.checkpoint_every_ops,
        checkpoint_wake,
        synced: AtomicU64::new(s.tail.end.next_lsn - 1),
        log_marks,
        commands,
        committer_done: std::sync::atomic::AtomicBool::new(!writable),
        _lock_file: s.lock_file,
        gate: s.gate,
    }
}

/// Creates the database files in `path` (locked by the caller). Leftovers of a creation that
/// crashed before `FOLIO` was in place (an empty `wal/`, `FOLIO.tmp`) are taken over; any other
/// content means the directory is not ours.
/// The shard count was checked by the caller (`Options::check_create`).
fn create(vfs: &dyn Vfs, path: &Path, shards: u32) -> Result<()> {
    let wal_dir = path.join(WAL_DIR);
    let tmp_meta = path.join(META_FILE).with_extension(TMP_EXTENSION);
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

/// Fails unless `path` holds only what an interrupted creation leaves: `LOCK`, `LOCK.read`,
/// `FOLIO.tmp`, an empty `wal/`.
fn check_leftovers(vfs: &dyn Vfs, path: &Path) -> Result<()> {
    let wal_dir = path.join(WAL_DIR);
    let tmp_meta = path.join(META_FILE).with_extension(TMP_EXTENSION);
    for name in vfs.list(path).map_err(|e| Error::io(path, e))? {
        let leftover = name.as_os_str() == LOCK_FILE
            || name.as_os_str() == READ_GATE_FILE
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

pub(crate) fn lock(path: &Path) -> Result<File> {
    let lock_path = path.join(LOCK_FILE);
    let file = create_lock_file(&lock_path)?;
    wait_for_lock(path, &lock_path, LOCK_WAIT, || file.try_lock())?;
    Ok(file)
}

/// Opens the lock file `path` (`LOCK`, `LOCK.read`) to lock it, creating it if missing.
pub(super) fn create_lock_file(path: &Path) -> Result<File> {
    File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(|e| Error::io(path, e))
}

/// Opens the lock file `path` to lock it shared; `None` when it does not exist or cannot be
/// opened (read-only media).
pub(super) fn open_lock_file(path: &Path) -> Result<Option<File>> {
    match File::open(path) {
        Ok(file) => Ok(Some(file)),
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::PermissionDenied
            ) =>
        {
            Ok(None)
        }
        Err(e) => Err(Error::io(path, e)),
    }
}

/// A read-only open shares the lock with other readers and excludes a writer. A directory
/// without a `LOCK` file, or whose lock file cannot be opened (read-only media), has no writer.
pub(super) fn lock_shared(path: &Path) -> Result<Option<File>> {
    let lock_path = path.join(LOCK_FILE);
    let Some(file) = open_lock_file(&lock_path)? else {
        return Ok(None);
    };
    wait_for_lock(path, &lock_path, LOCK_WAIT, || file.try_lock_shared())?;
    Ok(Some(file))
}

/// A lock (`flock`) is shared with any child a thread of this process forks until the child
/// execs, so a database just closed can look locked for a moment while another thread spawns a
/// process: look again for up to `limit` before reporting another holder (the read gate waits
/// longer: `gate`).
pub(super) fn wait_for_lock(
    path: &Path,
    lock_path: &Path,
    limit: std::time::Duration,
    try_lock: impl Fn() -> std::result::Result<(), std::fs::TryLockError>,
) -> Result<()> {
    let started = std::time::Instant::now();
    let mut pause = std::time::Duration::from_millis(1);
    loop {
        match try_lock() {
            Ok(()) => return Ok(()),
            Err(std::fs::TryLockError::WouldBlock) if started.elapsed() < limit => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(std::time::Duration::from_millis(50));
            }
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(Error::Locked {
                    path: path.to_path_buf(),
                })
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(Error::io(lock_path, e)),
        }
    }
}

use crate::limits::LOCK_WAIT;

/// Opens the store and loads its state. Damage (an unreadable store, an impossible checkpoint
/// LSN) is reported as [`Loaded::Damaged`], not repaired: the caller rebuilds the store from the
/// log once every other check has passed. A lock that stays held is not damage.
///
/// A frozen month file the store's checkpoint names that is missing or damaged is no damage of
/// the store: it is returned as the typed error naming the file, and nothing is rebuilt.
fn load_store(
    vfs: &dyn Vfs,
    path: &Path,
    store_path: &Path,
    meta: &Meta,
    (cache, lazy): (u64, bool),
    compaction: Option<crate::store::compact::Due>,
) -> Result<Loaded> {
    let marker = path.join(crate::format::STORE_DAMAGED_FILE);
    if vfs.exists(&marker) {
        let why = vfs.read_file(&marker).map_err(|e| Error::io(&marker, e))?;
        return Ok(Loaded::Damaged(format!(
            "a load found a damaged value: {}",
            String::from_utf8_lossy(&why)
        )));
    }
    let loaded = Store::open_cached(store_path, cache).and_then(|store| {
        // A writable open compacts a store that sled's leftovers have made large (before it is
        // read: the load then reads the compacted one).
        let store = match compaction {
            Some(due) => crate::store::compact::compact_if_due(store, path, cache, due)?.0,
            None => store,
        };
        let lsn = store.checkpoint_lsn()?;
        if lsn.0 > crate::limits::MAX_LSN {
            return Err(Error::Store(format!(
                "store checkpoint LSN {lsn} is out of range"
            )));
        }
        let (mut state, entries, layout) = if lazy {
            let (state, entries, layout) = store.load_frame(
                vfs,
                path,
                meta.db_id,
                meta.shards,
                &crate::state::frozen_set::FrozenSet::default(),
            )?;
            (state, entries, Some(layout))
        } else {
            let (state, entries) = store.load(vfs, path, meta.db_id, meta.shards)?;
            (state, entries, None)
        };
        state.lsn = lsn;
        Ok((store, state, entries, layout))
    });
    match loaded {
        Ok((store, state, entries, layout)) => {
            let applier = crate::state::Applier {
                entries,
                ..Default::default()
            };
            Ok(Loaded::Ok(Box::new((store, state, applier, layout))))
        }
        Err(e @ Error::Store(_)) => Ok(Loaded::Damaged(e.to_string())),
        // A held lock, a frozen file missing or damaged: not the store's damage.
        Err(e) => Err(e),
    }
}

/// Replaces a damaged store with an empty one (the log replay restored everything); says so
/// as a `tracing` warning.
fn rebuild_store(
    path: &Path,
    store_path: &Path,
    cache: u64,
    report: &RecoveryReport,
) -> Result<Store> {
    if store_path.exists() {
        std::fs::remove_dir_all(store_path).map_err(|e| Error::io(store_path, e))?;
    }
    let store = Store::open_cached(store_path, cache)?;
    tracing::warn!(
        path = %path.display(),
        reason = report.rebuilt.as_deref().unwrap_or_default(),
        lsn = report.lsn.0,
        frames = report.frames_replayed,
        read_only = report.read_only,
        "the store was unreadable: rebuilt from the whole log"
    );
    Ok(store)
}

/// A private copy of a store for a read-only open, removed when the database closes.
pub(crate) struct Scratch {
    path: std::path::PathBuf,
}

/// Names of [`Scratch`] copies: this, the process id, `-`, a number.
const SCRATCH_PREFIX: &str = "folio-read-only-";

impl Scratch {
    fn copy_of(store: &Path) -> Result<Scratch> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name = format!("{SCRATCH_PREFIX}{}-{n}", std::process::id());
        let in_memory = match store.exists() {
            true => memory_scratch_dir(tree_bytes(store)),
            false => None,
        };
        let temp = std::env::temp_dir();
        sweep_stale_copies(&temp);
        if let Some(shm) = in_memory {
            sweep_stale_copies(&shm);
            // Into memory when it fits; should the copy fail there (the file system full), on
            // disk after all.
            if let Ok(scratch) = Scratch::copy_into(store, &shm, &name) {
                return Ok(scratch);
            }
        }
        Scratch::copy_into(store, &temp, &name)
    }

    /// Copies `store` (when it exists) to `dir/name`.
    fn copy_into(store: &Path, dir: &Path, name: &str) -> Result<Scratch> {
        let scratch = Scratch {
            path: dir.join(name),
        };
        if scratch.path.exists() {
            std::fs::remove_dir_all(&scratch.path).map_err(|e| Error::io(&scratch.path, e))?;
        }
        if store.exists() {
            // On an error `scratch` is dropped, which removes what was copied.
            copy_tree(store, &scratch.path, false)?;
        }
        Ok(scratch)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Where a read-only open copies a store of `bytes` when it may keep the copy in memory: the
/// shared-memory file system `/dev/shm`, when the process names no temporary directory of its
/// own (`TMPDIR`) and the copy takes at most an eighth of the memory the kernel says is
/// available (`/proc/meminfo`). Copying there spares the disk the copy's writes, and sled's
/// flush of the copy when the database closes; the copy lives only while the database is open.
fn memory_scratch_dir(bytes: u64) -> Option<PathBuf> {
    if std::env::var_os("TMPDIR").is_some() {
        return None;
    }
    let shm = Path::new("/dev/shm");
    if !shm.is_dir() {
        return None;
    }
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let available_kib: u64 = meminfo
        .lines()
        .find_map(|line| line.strip_prefix("MemAvailable:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    (bytes.saturating_mul(8) <= available_kib.saturating_mul(1024)).then(|| shm.to_path_buf())
}

/// Bytes of the regular files under `dir` (0 for what cannot be read).
fn tree_bytes(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|entry| match entry.file_type() {
            Ok(kind) if kind.is_dir() => tree_bytes(&entry.path()),
            Ok(kind) if kind.is_file() => entry.metadata().map_or(0, |m| m.len()),
            _ => 0,
        })
        .sum()
}

/// Removes the private copies that read-only opens of processes no longer running left in
/// `temp` (a process killed before it closed its database cannot remove its own): a
/// `folio-read-only-<pid>-<n>` directory with no process `<pid>`. Only where `/proc` says which
/// processes run (Linux; without `/proc/self` nothing is removed). A process id taken again by
/// a new process keeps its old copies until that one ends too. Failures are ignored: a copy
/// left behind costs space, never an answer.
fn sweep_stale_copies(temp: &Path) {
    let proc = Path::new("/proc");
    if !proc.join("self").exists() {
        return;
    }
    let Ok(entries) = std::fs::read_dir(temp) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let pid = name
            .to_str()
            .and_then(|n| n.strip_prefix(SCRATCH_PREFIX))
            .and_then(|rest| rest.split_once('-'))
            .filter(|(_, n)| n.parse::<u64>().is_ok())
            .and_then(|(pid, _)| pid.parse::<u32>().ok());
        let Some(pid) = pid else { continue };
        if pid == std::process::id() || proc.join(pid.to_string()).exists() {
            continue;
        }
        match std::fs::remove_dir_all(entry.path()) {
            Ok(()) => tracing::info!(path = %entry.path().display(), "removed the store copy of a read-only open whose process is gone"),
            Err(e) => tracing::debug!(path = %entry.path().display(), error = %e, "could not remove a stale store copy"),
        }
    }
}

/// Copies the directory tree `from` to `to` (regular files and directories), returning the
/// bytes copied. With `sync`, every copied file and directory is fsynced, so the copy is
/// durable before the caller removes the original.
pub(super) fn copy_tree(from: &Path, to: &Path, sync: bool) -> Result<u64> {
    std::fs::create_dir_all(to).map_err(|e| Error::io(to, e))?;
    let mut bytes = 0;
    for entry in std::fs::read_dir(from).map_err(|e| Error::io(from, e))? {
        let entry = entry.map_err(|e| Error::io(from, e))?;
        let (source, target) = (entry.path(), to.join(entry.file_name()));
        let kind = entry.file_type().map_err(|e| Error::io(&source, e))?;
        if kind.is_dir() {
            bytes += copy_tree(&source, &target, sync)?;
        } else if kind.is_file() {
            bytes += std::fs::copy(&source, &target).map_err(|e| Error::io(&source, e))?;
            if sync {
                File::open(&target)
                    .and_then(|f| f.sync_all())
                    .map_err(|e| Error::io(&target, e))?;
            }
        }
    }
    if sync {
        crate::io::StdFs
            .sync_dir(to)
            .map_err(|e| Error::io(to, e))?;
    }
    Ok(bytes)
}
