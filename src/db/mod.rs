//! The database handle: opening and recovery, the write path and the read API.

mod commit;
pub mod edge;
mod freeze;
mod gate;
#[cfg(test)]
mod freeze_tests;
mod info;
mod lazy;
#[cfg(test)]
mod lock_tests;
mod memory;
mod open;
mod options;
mod pressure;
pub(crate) mod recovery_log;
mod replicas;
mod salvage;
mod verify;

pub use edge::CheckpointInfo;
pub use freeze::{FreezeReport, FreezerStats, FrozenMonthReport, MonthStatus};
pub use info::{DbInfo, LogInfo, PartitionInfo};
pub use memory::{MemoryReport, MemoryUsage};
pub use open::RecoveryReport;
pub use options::{Durability, Options};
pub use salvage::{accept_loss, LossReport, Salvaged};
pub use verify::VerifyReport;

use crate::error::{BatchError, Error, Result};
use crate::model::{Batch, BusinessDay, Lsn, Month, Org, OrgId, Timestamp};
use crate::query::{
    DailyReport, LedgerLine, MonthlyReport, PendingLine, ReadKind, Scope, Snapshot, StateRef, TopLine,
};
use crate::state::balance::ReadCost;
use crate::state::read::{DayBalance, LedgerEntry};
use crate::state::State;
use crate::store::{CheckpointStats, Store};
use commit::Command;
use crossbeam::channel::{Receiver, Sender};
use parking_lot::{Mutex, RwLock};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

/// The published state and what changed since the last checkpoint took it.
pub(crate) struct Current {
    /// The state at the last applied LSN. Snapshots clone the `Arc`; the committer applies in
    /// place through `Arc::make_mut`, which copies only what a live snapshot still shares.
    pub(crate) state: Arc<State>,
    /// Dirty keys and the entry map: the committer's alone, never shared with snapshots.
    pub(crate) applier: crate::state::Applier,
    /// Checksum of the log frame at `state.lsn`: where a follower's chain continues.
    pub(crate) log_crc: u32,
}

/// State shared by the handle, the committer and the checkpointer.
pub(crate) struct Shared {
    pub(crate) path: PathBuf,
    pub(crate) state: RwLock<Current>,
    /// Commit progress: wakes in-process replicas, remembers commit times.
    pub(crate) progress: Arc<crate::replica::Progress>,
    /// Set for a read-only replica directory (made by `checkpoint_to`).
    pub(crate) replica_of: Option<u64>,
    /// Opened with `Options::read_only`: no committer, every write refused.
    read_only: bool,
    /// `None` only after a compaction that could not reopen the store (checkpoints then fail;
    /// the log holds everything and the next open recovers). Taken under `checkpoint_lock`.
    store: Mutex<Option<Store>>,
    /// A read-only open's private copy of the store (dropped after `store`).
    _scratch: Option<open::Scratch>,
    /// The loader of the orgs the open has not loaded yet ([`lazy`]); `None` once every org
    /// is loaded (at once when the store holds none).
    lazy: Mutex<Option<lazy::Lazy>>,
    vfs: std::sync::Arc<dyn crate::io::Vfs>,
    db_id: u64,
    shards: u32,
    poisoned: Mutex<Option<String>>,
    pub(crate) checkpoint_lock: Mutex<()>,
    /// Index creations and drops run one at a time.
    index_lock: Mutex<()>,
    /// Freezes run one at a time.
    freeze_lock: Mutex<()>,
    /// Set while files the background freezer put in force wait for the checkpoint naming them
    /// and `frozen/` aligned with it (`Shared::settle_frozen`). Changed under `freeze_lock`.
    frozen_unsettled: AtomicBool,
    /// When the last checkpoint landed (or the database opened).
    last_checkpoint: Mutex<std::time::Instant>,
    /// What installs of frozen files have cost (`Db::freezer_stats`).
    freezer_stats: Mutex<freeze::FreezerStats>,
    /// The thread freeing what the last install replaced (`Shared::release`).
    releasing: Mutex<Option<std::thread::JoinHandle<()>>>,
    /// The gate writers wait at while the freezer falls behind under the budget.
    pressure: pressure::Pressure,
    /// `Options::memory_budget`, and the sled cache it gave the store.
    memory_budget: u64,
    store_cache: u64,
    /// `Options::store_compaction_floor` and `store_compaction_dead_percent`.
    store_compaction: crate::store::compact::Due,
    ops_since_checkpoint: AtomicU64,
    checkpoint_every_ops: u64,
    checkpoint_wake: Sender<()>,
    /// The last LSN the committer has fsynced: a checkpoint never covers more than this.
    synced: AtomicU64,
    /// The writer's frame boundaries after its last groups (none when read-only): a checkpoint
    /// records the one at or before its LSN in the durable mark.
    log_marks: Option<std::sync::Arc<crate::wal::LogMarks>>,
    /// The committer's queue, for a checkpoint that must make the log durable first.
    commands: Sender<Command>,
    /// Set by the committer when it stops (after its last sync).
    committer_done: std::sync::atomic::AtomicBool,
    _lock_file: Option<File>,
    /// A writer's read gate: held while it changes the files read-only opens read whole
    /// (`gate`). None when read-only.
    gate: Option<gate::ReadGate>,
}

impl Shared {
    /// Paces a batch of `ops` operations and waits at the writers' gate ([`pressure`]);
    /// counts both.
    fn hold_back(&self, ops: usize) {
        let paced = self.pressure.pace(ops);
        if !paced.is_zero() {
            std::thread::sleep(paced);
            let mut stats = self.freezer_stats.lock();
            stats.writer_paces += 1;
            stats.writers_paced += paced;
        }
        let waited = self.pressure.wait(|| {
            let _ = self.checkpoint_wake.try_send(());
        });
        if !waited.is_zero() {
            let mut stats = self.freezer_stats.lock();
            stats.writer_waits += 1;
            stats.writers_waited += waited;
        }
    }

    /// Poisons the database (every later write is refused); the first time, also a `tracing`
    /// error with the reason.
    fn poison(&self, reason: String) {
        {
            let mut p = self.poisoned.lock();
            if p.is_some() {
                return;
            }
            *p = Some(reason.clone());
        }
        tracing::error!(
            path = %self.path.display(),
            reason = %reason,
            "database poisoned: writes are refused until it is reopened"
        );
    }

    fn poison_reason(&self) -> Option<String> {
        self.poisoned.lock().clone()
    }

    /// Why the committer stopped answering: poisoned, else closed.
    fn closed_or_poisoned(&self) -> Error {
        self.poison_reason().map_or(Error::Closed, Error::Poisoned)
    }

    /// Makes the log durable up to `lsn` (a no-op unless buffered durability left it behind).
    /// The background checkpointer may ask while the database shuts down: a request the
    /// committer will never read is given up once the committer has stopped (it syncs before it
    /// stops, so `synced` then tells).
    fn make_log_durable(&self, lsn: Lsn) -> Result<()> {
        use crossbeam::channel::{RecvTimeoutError, SendTimeoutError};
        const LOOK_AGAIN: std::time::Duration = std::time::Duration::from_millis(20);
        let durable = || match self.synced.load(Ordering::Acquire) >= lsn.0 {
            true => Ok(()),
            false => Err(self.closed_or_poisoned()),
        };
        if durable().is_ok() {
            return Ok(());
        }
        let (reply, answer) = crossbeam::channel::bounded(1);
        let mut command = Command::Sync(reply);
        loop {
            match self.commands.send_timeout(command, LOOK_AGAIN) {
                Ok(()) => break,
                Err(SendTimeoutError::Timeout(c))
                    if !self.committer_done.load(Ordering::Acquire) =>
                {
                    command = c
                }
                Err(_) => return durable(),
            }
        }
        loop {
            match answer.recv_timeout(LOOK_AGAIN) {
                Ok(answer) => {
                    answer?;
                    return durable();
                }
                Err(RecvTimeoutError::Timeout) if !self.committer_done.load(Ordering::Acquire) => {}
                Err(_) => return durable(),
            }
        }
    }

    /// Writes every value changed since the last checkpoint to the store, then its LSN. The log
    /// is made durable up to that LSN first: the store is never ahead of the durable log, so
    /// recovery can take a log that ends before the store's checkpoint for lost data.
    ///
    /// The state lock is held only to take the dirty keys and pin a snapshot of the state: both
    /// describe the same LSN. Packing and writing run on the snapshot while group commits and
    /// reads go on (the committer copies what it changes meanwhile, as for any snapshot), a group
    /// of values at a time, so the packed values in memory stay bounded whatever the state's
    /// size.
    fn checkpoint(&self) -> Result<CheckpointStats> {
        if self.read_only {
            return Err(Error::ReadOnly {
                path: self.path.clone(),
            });
        }
        let _one_at_a_time = self.checkpoint_lock.lock();
        self.ops_since_checkpoint.store(0, Ordering::Relaxed);
        let (keys, pinned) = {
            let mut current = self.state.write();
            let keys = std::mem::take(&mut current.applier.dirty);
            (keys, current.state.clone())
        };
        let writing = std::time::Instant::now();
        #[cfg(test)]
        crate::test_hooks::reached(crate::test_hooks::Point::Pack);
        // The log first: the store is never ahead of the durable log. Then the values, packed
        // and written a group at a time from the pinned state (only one group's packed values
        // in memory), then the checkpoint LSN.
        let covers = pinned.lsn;
        let written = self
            .make_log_durable(covers)
            .and_then(|()| {
                let position = self.log_marks.as_ref().and_then(|m| m.at_or_before(covers.0));
                crate::store::durable::write(&*self.vfs, &self.path, self.db_id, covers.0, position)
            })
            .and_then(|()| self.with_store(|store| store.write_state(&pinned, &keys)));
        drop(pinned);
        let write_time = writing.elapsed();
        if write_time >= crate::limits::SLOW_CHECKPOINT {
            tracing::warn!(
                lsn = covers.0,
                keys = keys.len(),
                write_ms = write_time.as_millis() as u64,
                ok = written.is_ok(),
                "slow checkpoint"
            );
        }
        match written {
            Ok(stats) => {
                tracing::debug!(
                    lsn = covers.0,
                    keys = keys.len(),
                    orgs = stats.org_values,
                    ledgers = stats.ledger_values,
                    balances = stats.balance_values,
                    patches = stats.patch_values,
                    bytes = stats.bytes,
                    write_ms = write_time.as_millis() as u64,
                    "checkpoint"
                );
                *self.last_checkpoint.lock() = std::time::Instant::now();
                Ok(CheckpointStats {
                    compacted: self.compact_store_if_due(self.store_compaction),
                    ..stats
                })
            }
            Err(e) => {
                // Not persisted: keep them dirty so a later checkpoint writes them.
                self.state.write().applier.dirty.extend(keys);
                Err(e)
            }
        }
    }
}

impl Shared {
    /// Closes the read gate (`gate`) until the guard drops; a no-op when read-only.
    fn hold_gate(&self) -> Result<Option<gate::GateHold<'_>>> {
        self.gate.as_ref().map(gate::ReadGate::hold).transpose()
    }

    /// Runs `f` on the store, with the read gate closed; `Error::Store` when a failed
    /// compaction left none.
    fn with_store<T>(&self, f: impl FnOnce(&Store) -> Result<T>) -> Result<T> {
        let _gate = self.hold_gate()?;
        match &*self.store.lock() {
            Some(store) => f(store),
            None => Err(Error::Store(format!(
                "{}: the store could not be reopened after a compaction",
                self.path.display()
            ))),
        }
    }

    /// After a checkpoint (the caller holds `checkpoint_lock`): compacts the store when `due`
    /// says sled's leftovers have made it large (`store::compact`), so a long-running writer's
    /// store stays within about twice its values, as a reopen's does.
    fn compact_store_if_due(
        &self,
        due: crate::store::compact::Due,
    ) -> Option<crate::store::compact::Compaction> {
        // Not due is decided under the gate too: it reads sled's files' sizes only, but a
        // compaction swaps the directory readers copy.
        let _gate = match self.hold_gate() {
            Ok(hold) => hold,
            Err(e) => {
                tracing::warn!(path = %self.path.display(), error = %e, "store compaction skipped");
                return None;
            }
        };
        let mut slot = self.store.lock();
        let store = slot.take()?;
        match crate::store::compact::compact_if_due(
            store,
            &self.path,
            self.store_cache,
            due,
        ) {
            Ok((store, done)) => {
                *slot = Some(store);
                done
            }
            Err(e) => {
                // The swap stopped half way: finish or undo it as an open would, and go on with
                // whichever store that leaves.
                let reopened = crate::store::compact::recover(&self.path).and_then(|()| {
                    Store::open_cached(&self.path.join(crate::format::STORE_DIR), self.store_cache)
                });
                tracing::warn!(path = %self.path.display(), error = %e, reopened = reopened.is_ok(), "store compaction failed");
                *slot = reopened.ok();
                None
            }
        }
    }
}

/// An open Folio database. Cheap to share across threads behind an `Arc`; all methods take `&self`.
pub struct Db {
    shared: Arc<Shared>,
    tx: Sender<Command>,
    committer: Option<JoinHandle<()>>,
    checkpointer: Option<(Sender<()>, JoinHandle<()>)>,
    recovery: RecoveryReport,
}

/// A batch in flight (see [`Db::submit`]).
pub struct Ticket {
    answer: Receiver<Result<Lsn, BatchError>>,
    shared: Arc<Shared>,
}

impl Ticket {
    /// Waits until the batch is durable or rejected.
    /// Returns the batch's LSN once durable (per the database's [`Durability`]).
    ///
    /// # Errors
    /// What [`Db::record`] would return: [`Error::Rejected`] when validation refused the batch
    /// (nothing of it was applied or logged), [`Error::Poisoned`] when the log write or fsync
    /// failed, [`Error::Closed`] when the database closed before answering.
    pub fn wait(self) -> Result<Lsn> {
        self.wait_op().map_err(|e| e.error)
    }

    /// As [`Ticket::wait`], and a rejection names the operation of the batch at fault
    /// ([`BatchError::op_index`]), so that a loader can point at the input it came from.
    ///
    /// # Errors
    /// As [`Ticket::wait`], in a [`BatchError`]: its `error` is what `wait` returns, and its
    /// `op_index` the position in the batch of the operation an [`Error::Rejected`] is about.
    pub fn wait_op(self) -> Result<Lsn, BatchError> {
        match self.answer.recv() {
            Ok(result) => result,
            Err(_) => Err(self.shared.closed_or_poisoned().into()),
        }
    }
}


impl Db {
    /// Opens the database at `path`, creating it with default options when missing.
    ///
    /// # Errors
    /// As [`Db::open_with`].
    pub fn open(path: impl AsRef<Path>) -> Result<Db> {
        Db::open_with(path, Options::default())
    }

    /// Opens (or creates) the database at `path`: checks the log against what is known durable,
    /// opens the last checkpoint, replays the log after it, cuts a torn tail that was never
    /// acknowledged (see [`RecoveryReport`]), and starts the committer. With
    /// [`Options::read_only`] nothing on disk changes and no committer starts.
    ///
    /// Orgs are loaded from the checkpoint as something first needs them: the log tail's orgs
    /// as it replays, one org's chunk of 64 ids for a read of that org or a batch naming it,
    /// every org for a scan, a writer's snapshot, a freeze or an index change (a step of 256
    /// chunks at a time; docs/ARCHITECTURE.md). A store value found damaged then is
    /// `Error::Store` to that read (a writer poisons itself); reopening rebuilds the store from
    /// the log.
    ///
    /// # Errors
    /// - [`Error::NotADatabase`] when `path` holds no database and none may be created (read-only,
    ///   or [`Options::create_if_missing`] off), or holds files of something else.
    /// - [`Error::InvalidArgument`] when creating with a shard count outside
    ///   `1..=`[`crate::limits::MAX_SHARDS`].
    /// - [`Error::Locked`] when opening to write and another writer holds the database (or, in a
    ///   directory without the read gate `LOCK.read`, readers do); when a read-only open or a
    ///   writer's open waited [`crate::limits::READ_GATE_WAIT`] at the read gate.
    /// - [`Error::Corruption`] when acknowledged data is damaged or missing: a damaged frame at or
    ///   below the LSN known durable, a log that ends before the store's checkpoint, a missing log
    ///   directory, a damaged identity file. Nothing is changed; see [`crate::accept_loss`].
    /// - [`Error::FormatVersion`] for files of another on-disk format version.
    /// - [`Error::Replica`] ([`crate::ReplicaError::BadCheckpoint`]) for a checkpoint directory
    ///   that fails its manifest check, or a replica directory whose store cannot give back the
    ///   state up to its base.
    /// - [`Error::Io`] when a file cannot be read, written or synced; [`Error::Store`] when the
    ///   store cannot be rebuilt.
    pub fn open_with(path: impl AsRef<Path>, options: Options) -> Result<Db> {
        open::open(path.as_ref(), options)
    }

    /// Records a batch: validated whole, applied whole. Returns the batch's LSN once it is durable
    /// (per the chosen [`Durability`]). A batch whose every operation repeats an identical earlier
    /// one changes nothing and returns the LSN visible after it. With the background freezer on
    /// ([`crate::Options::auto_freeze`]) and the engine over its memory budget, a batch is first
    /// delayed in proportion to its operations once the rows in memory near what the freezer
    /// lets gather (at most a second), and waits for the freezer to spill once they pass it (at
    /// most five seconds); [`Db::freezer_stats`] counts both.
    ///
    /// # Errors
    /// - [`Error::Rejected`] when validation refuses the batch (see [`crate::Rejection`]): nothing
    ///   of it is applied or logged.
    /// - [`Error::ReadOnly`] on a database opened read-only; [`Error::Replica`]
    ///   ([`crate::ReplicaError::ReadOnly`]) on a replica directory.
    /// - [`Error::Poisoned`] when this or an earlier log write or fsync failed: reopen the
    ///   database.
    /// - [`Error::Closed`] when the database is closing.
    /// - [`Error::InvalidArgument`] for a batch the log cannot encode.
    pub fn record(&self, batch: Batch) -> Result<Lsn> {
        self.refuse_if_replica()?;
        if let Some(reason) = self.shared.poison_reason() {
            return Err(Error::Poisoned(reason));
        }
        self.shared.hold_back(batch.ops.len());
        let (reply, answer) = crossbeam::channel::bounded(1);
        self.tx
            .send(Command::Record(batch, reply))
            .map_err(|_| Error::Closed)?;
        answer
            .recv()
            .map_err(|_| Error::Closed)?
            .map_err(|e| e.error)
    }

    /// Queues a batch without waiting for it to commit: the returned ticket yields what
    /// [`Db::record`] would. Keeping several batches in flight lets one thread fill a group
    /// commit. Under memory pressure the batch is paced or held back before it is queued, as
    /// for [`Db::record`].
    ///
    /// # Errors
    /// [`Error::ReadOnly`], [`Error::Replica`] ([`crate::ReplicaError::ReadOnly`]),
    /// [`Error::Poisoned`] or [`Error::Closed`], as for [`Db::record`], at once; a rejection or a
    /// failed write comes through the ticket.
    pub fn submit(&self, batch: Batch) -> Result<Ticket> {
        self.refuse_if_replica()?;
        if let Some(reason) = self.shared.poison_reason() {
            return Err(Error::Poisoned(reason));
        }
        self.shared.hold_back(batch.ops.len());
        let (reply, answer) = crossbeam::channel::bounded(1);
        self.tx
            .send(Command::Record(batch, reply))
            .map_err(|_| Error::Closed)?;
        Ok(Ticket {
            answer,
            shared: self.shared.clone(),
        })
    }

    /// Creates a secondary index and backfills it from the existing rows, one partition at a
    /// time: writers wait for one partition's backfill at most, never for the whole creation.
    /// Queries use the index once this returns. `progress(done, total)` counts partitions.
    ///
    /// # Errors
    /// - [`Error::Rejected`]: [`crate::Rejection::InvalidIndex`] for a definition
    ///   [`crate::IndexDef::validate`] refuses or while another index is being built,
    ///   [`crate::Rejection::IndexExists`] for a name in use.
    /// - [`Error::ReadOnly`] or [`Error::Replica`] ([`crate::ReplicaError::ReadOnly`]), as for
    ///   [`Db::record`]; [`Error::Poisoned`] when the log write failed; [`Error::Closed`].
    pub fn create_index(
        &self,
        def: crate::state::index::IndexDef,
        mut progress: impl FnMut(usize, usize),
    ) -> Result<Lsn> {
        self.refuse_if_replica()?;
        // The backfill reads every org's rows.
        self.shared.ensure(Scope::All)?;
        let _one_at_a_time = self.shared.index_lock.lock();
        let lsn = self.send_index(def.record(true))?;
        // The in-memory ledgers only: a frozen month's merged ledgers get every index of the
        // catalog as they are read, and its overlay is in memory like an open month.
        let partitions: Vec<crate::state::ledger::PartitionId> = self
            .shared
            .state
            .read()
            .state
            .ledgers
            .keys()
            .filter(|p| p.kind == def.table)
            .copied()
            .collect();
        for (done, pid) in partitions.iter().enumerate() {
            Arc::make_mut(&mut self.shared.state.write().state).backfill_partition(*pid);
            progress(done + 1, partitions.len());
        }
        // Partitions created meanwhile; cheap for the ones already done.
        Arc::make_mut(&mut self.shared.state.write().state).finish_index_build();
        Ok(lsn)
    }

    /// Drops a secondary index.
    ///
    /// # Errors
    /// - [`Error::Rejected`] ([`crate::Rejection::UnknownIndex`]) when no index has the name.
    /// - [`Error::ReadOnly`] or [`Error::Replica`] ([`crate::ReplicaError::ReadOnly`]), as for
    ///   [`Db::record`]; [`Error::Poisoned`] when the log write failed; [`Error::Closed`].
    pub fn drop_index(&self, name: &str) -> Result<Lsn> {
        self.refuse_if_replica()?;
        self.shared.ensure(Scope::All)?;
        let _one_at_a_time = self.shared.index_lock.lock();
        let def = self
            .shared
            .state
            .read()
            .state
            .catalog
            .find(name)
            .map(|(_, d)| d.clone());
        let def = def.ok_or_else(|| {
            Error::Rejected(crate::error::Rejection::UnknownIndex(name.to_string()))
        })?;
        self.send_index(def.record(false))
    }

    fn send_index(&self, record: crate::codec::record::IndexRecord) -> Result<Lsn> {
        if let Some(reason) = self.shared.poison_reason() {
            return Err(Error::Poisoned(reason));
        }
        let (reply, answer) = crossbeam::channel::bounded(1);
        self.tx
            .send(Command::Index(record, reply))
            .map_err(|_| Error::Closed)?;
        answer
            .recv()
            .unwrap_or_else(|_| Err(self.shared.closed_or_poisoned()))
    }

    /// Registers one org (a batch of one operation).
    ///
    /// # Errors
    /// As [`Db::record`]; the rejections of a registration are
    /// [`crate::Rejection::OrgConflict`], [`crate::Rejection::InvalidOrg`] and
    /// [`crate::Rejection::UnknownCurrency`].
    pub fn register_org(&self, org: Org) -> Result<Lsn> {
        self.record(Batch::new().register_org(org))
    }

    /// Makes everything recorded so far durable (useful with [`Durability::Buffered`]).
    ///
    /// # Errors
    /// [`Error::ReadOnly`] on a database opened read-only; [`Error::Poisoned`] when the fsync
    /// fails (or a write failed earlier); [`Error::Closed`] when the database is closing.
    pub fn sync(&self) -> Result<Lsn> {
        self.refuse_if_read_only()?;
        let (reply, answer) = crossbeam::channel::bounded(1);
        self.tx
            .send(Command::Sync(reply))
            .map_err(|_| Error::Closed)?;
        answer.recv().map_err(|_| Error::Closed)?
    }

    /// A snapshot pinned at the last applied LSN (see [`Snapshot`]): no copy, no lock held.
    ///
    /// A writer loads every org first (its snapshot stays at its LSN while later batches
    /// change orgs); if that fails, every read of orgs through the snapshot returns the
    /// `Error::Store` saying why. A read-only open's snapshot loads orgs as its reads need them,
    /// as the open does.
    pub fn snapshot(&self) -> Snapshot {
        // A read-only open's state never moves: its snapshots load orgs as it does. A writer's
        // snapshot is pinned at its LSN while later batches change the orgs: every org is
        // loaded first.
        let loading = self.shared.read_only && self.shared.lazy.lock().is_some();
        if loading {
            let state = self.shared.state.read().state.clone();
            return Snapshot::loading(state, self.shared.clone());
        }
        let loaded = self.shared.ensure(Scope::All);
        let state = self.shared.state.read().state.clone();
        match loaded {
            Ok(()) => Snapshot::of(state),
            Err(e) => Snapshot::incomplete(state, e.to_string()),
        }
    }

    /// The current state for one read of `kind` (see [`ReadKind`]).
    pub(crate) fn state_for(&self, kind: ReadKind) -> StateRef<'_> {
        StateRef::of(kind, self.shared.state.read(), |c| &c.state)
    }

    /// [`Db::state_for`] if the committer is not applying a group right now.
    pub(crate) fn try_state_for(&self, kind: ReadKind) -> Option<StateRef<'_>> {
        let guard = self.shared.state.try_read()?;
        Some(StateRef::of(kind, guard, |c| &c.state))
    }

    /// Runs one read of `kind` on the current state (a read of no org: the open may not have
    /// loaded them all).
    pub(crate) fn with_state<T>(&self, kind: ReadKind, read: impl FnOnce(&State) -> T) -> T {
        read(&self.state_for(kind))
    }

    /// Runs one read of `kind` that needs `scope` of the orgs, loading them first when the open
    /// has not loaded them yet.
    fn read_in<T>(
        &self,
        scope: Scope,
        kind: ReadKind,
        read: impl FnOnce(&State) -> Result<T>,
    ) -> Result<T> {
        self.shared.ensure(scope)?;
        read(&self.state_for(kind))
    }

    crate::query::state_reads!(without_lsn);

    /// LSN of the last applied (and, with `Durability::Sync`, durable) batch.
    pub fn visible_lsn(&self) -> Lsn {
        self.with_state(ReadKind::Point, |s| s.lsn)
    }

    /// Writes changed values to the materialized store now.
    /// Returns what was written. Values a failed checkpoint did not write stay marked changed,
    /// and a later checkpoint writes them (the log holds everything meanwhile).
    ///
    /// # Errors
    /// [`Error::ReadOnly`] on a database opened read-only; [`Error::Poisoned`] or
    /// [`Error::Closed`] when the log cannot first be made durable up to the checkpoint;
    /// [`Error::Io`] when the durable mark cannot be written; [`Error::Store`] when sled fails.
    pub fn checkpoint(&self) -> Result<CheckpointStats> {
        self.shared.checkpoint()
    }

    /// What recovery cut, rebuilt or an operator accepted to lose in this and earlier opens
    /// (the database's `recovery.log`), oldest first, one line each.
    pub fn recovery_history(&self) -> Vec<String> {
        recovery_log::read(&*self.shared.vfs, &self.shared.path)
    }

    /// Whether the database was opened with [`Options::read_only`].
    pub fn is_read_only(&self) -> bool {
        self.shared.read_only
    }

    pub(crate) fn refuse_if_read_only(&self) -> Result<()> {
        match self.shared.read_only {
            true => Err(Error::ReadOnly {
                path: self.shared.path.clone(),
            }),
            false => Ok(()),
        }
    }

    /// What opening found and did.
    pub fn recovery(&self) -> &RecoveryReport {
        &self.recovery
    }

    /// The database directory, as given to [`Db::open`].
    pub fn path(&self) -> &Path {
        &self.shared.path
    }

    /// Stops the committer (after the batches already queued), makes the log durable, writes a
    /// final checkpoint and flushes the store.
    ///
    /// # Errors
    /// [`Error::Poisoned`] when the database was poisoned (writes since then were refused:
    /// reopen it to recover from the log); [`Error::Io`] or [`Error::Store`] when the final
    /// checkpoint fails (the log holds everything, and the next open replays it).
    pub fn close(mut self) -> Result<()> {
        self.shutdown()
    }

    fn shutdown(&mut self) -> Result<()> {
        let Some(committer) = self.committer.take() else {
            return Ok(());
        };
        let _ = self.tx.send(Command::Shutdown);
        let _ = committer.join();
        if let Some((stop, handle)) = self.checkpointer.take() {
            drop(stop);
            let _ = handle.join();
        }
        if let Some(reason) = self.shared.poison_reason() {
            return Err(Error::Poisoned(reason));
        }
        // The last checkpoint, and `frozen/` aligned with it when the freezer left files unsettled.
        let _one_at_a_time = self.shared.freeze_lock.lock();
        let settled = self.shared.settle_frozen();
        // The close leaves a compact store for the opens that follow (a read-only one copies
        // it) at a smaller share of dropped values than a running writer waits for: paid once,
        // with no writer waiting (`store::compact`). Its reopen left sled a fresh snapshot.
        let compacted = match settled {
            Ok(()) => {
                let _one = self.shared.checkpoint_lock.lock();
                self.shared
                    .compact_store_if_due(self.shared.store_compaction.at_close())
                    .is_some()
            }
            Err(_) => false,
        };
        // sled flushes as its store closes: readers wait at the gate meanwhile.
        let gate = self.shared.hold_gate();
        if let Some(store) = self.shared.store.lock().take() {
            let min_bytes = match compacted {
                true => u64::MAX,
                false => crate::limits::STORE_SNAPSHOT_AT_CLOSE_BYTES,
            };
            if let Err(e) = store.close_with_snapshot(min_bytes) {
                tracing::debug!(path = %self.shared.path.display(), error = %e, "store snapshot at close");
            }
        }
        drop(gate);
        settled
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        let _ = self.shutdown();
    }
}

/// The background checkpointer: runs when woken by the committer or every `interval`.
fn run_checkpointer(
    shared: Arc<Shared>,
    wake: Receiver<()>,
    stop: Receiver<()>,
    interval: std::time::Duration,
    freeze: bool,
) {
    // The freezer looks for work at least every second; checkpoints keep their own interval.
    let poll = match freeze {
        true => interval.min(std::time::Duration::from_secs(1)),
        false => interval,
    };
    let mut last = std::time::Instant::now();
    // Set while the freezer's last step found more months than it took: the next step runs at
    // once (still one step at a time, between checks for `stop`).
    // (The first step runs at once: the budget is checked as the database opens.)
    let mut behind = freeze;
    // The budget's verdict, taken again once `next_check` is reached (a walk over the state).
    let mut over_budget = false;
    let mut next_check = std::time::Instant::now();
    loop {
        let wait = match (behind, freeze && over_budget) {
            (true, _) => std::time::Duration::ZERO,
            (false, true) => poll.min(freeze::PRESSURE_POLL),
            (false, false) => poll,
        };
        let woken = crossbeam::select! {
            recv(wake) -> _ => true,
            recv(stop) -> _ => {
                shared.pressure.set_over_budget(false);
                shared.wait_released();
                return;
            }
            default(wait) => false,
        };
        // Woken by the committer once enough operations gathered, or by a writer held back at
        // the gate (`pressure`), which wants the freezer, not a checkpoint.
        let enough_ops =
            shared.ops_since_checkpoint.load(Ordering::Relaxed) >= shared.checkpoint_every_ops;
        // (The freezer's checkpoints count too: the interval runs from the last of either.)
        let quiet = last.elapsed().min(shared.last_checkpoint.lock().elapsed());
        let due = (woken && enough_ops) || quiet >= interval;
        let dirty = !shared.state.read().applier.dirty.is_empty();
        if due && dirty && shared.poison_reason().is_none() {
            last = std::time::Instant::now();
            // A failed checkpoint keeps its values dirty; the log still holds everything.
            let _ = shared.checkpoint();
        }
        if freeze && shared.poison_reason().is_none() {
            // A few months per step (one checkpoint for them); a failure leaves the month open
            // (nothing is lost) and the next step tries again.
            if std::time::Instant::now() >= next_check {
                let walk = std::time::Instant::now();
                over_budget = shared.memory().over_budget();
                next_check = std::time::Instant::now() + freeze::budget_check_after(walk.elapsed());
            }
            // Writers wait while the engine is over its budget with more rows in memory than
            // the freezer lets gather (`pressure`); a failed step lets them go on.
            shared.pressure.set_over_budget(over_budget);
            match shared.freeze_step(over_budget, freeze::Settle::WhenDue) {
                Ok(report) => behind = report.frozen.len() >= freeze::STEP_MONTHS,
                Err(e) => {
                    behind = false;
                    shared.pressure.set_over_budget(false);
                    tracing::warn!(path = %shared.path.display(), error = %e, "freezing failed");
                }
            }
        }
    }
}
