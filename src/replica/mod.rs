//! Read replicas: followers that materialize the state from the primary's log and serve the
//! typed query API at their applied LSN.
//!
//! - [`Replica`]: an in-process replica. It starts from a snapshot of the primary (no copy) and
//!   tails the primary's log files, woken by each group commit.
//! - Edge replicas: a database directory made by [`crate::Db::checkpoint_to`], opened as a
//!   read-only [`crate::Db`] and caught up with [`crate::Db::follow`] (a log directory) or
//!   [`crate::Db::apply_segments`] (shipped segment files); see `docs/REPLICAS.md`.
//! - [`ReadPool`]: read handles over the primary and its replicas with load balancing, health
//!   checks, failover and circuit breaking.

mod faults;
pub mod pool;
mod stripe;

pub use pool::{
    Balancing, BreakerState, Consistency, NodeStatus, PoolOptions, PoolStatus, ReadPool,
};

use crate::query::{ReadKind, Snapshot, StateRef};
use crate::error::{Error, ReplicaError, Result};
use crate::io::Vfs;
use crate::model::Lsn;
use crate::state::apply::Side;
use crate::state::replay::{apply_decoded, decode_frames};
use crate::state::{EntryIndex, State};
use crate::wal::{LogFollower, ShippedFrame};
use crossbeam::utils::CachePadded;
use parking_lot::{Condvar, Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::limits::FLOW_WAIT_FACTOR;
use crate::limits::MAX_OPS_PER_LOCK;
use crate::limits::APPLY_CHUNK_BYTES;
use crate::limits::COMMIT_TIMES;

/// What an in-process replica takes from its primary when it starts. The database fills it
/// (`Db::replica_with`), so this layer never names the database.
pub(crate) struct Source {
    /// The primary's state at its visible LSN (shared, not copied) and a copy of its entry map.
    pub(crate) state: Arc<State>,
    pub(crate) entries: EntryIndex,
    /// Checksum of the log frame at `state.lsn`: where the replica's checksum chain continues.
    pub(crate) log_crc: u32,
    /// The primary's log directory, the file system it is on, and the database id (every segment
    /// header carries it).
    pub(crate) log_dir: PathBuf,
    pub(crate) vfs: Arc<dyn Vfs>,
    pub(crate) db_id: u64,
    /// The primary's commit progress: durable-LSN wake-ups, commit times, flow control.
    pub(crate) progress: Arc<Progress>,
}

/// The primary's commit progress: the last durable and the last visible LSN, a wake-up for
/// followers, and the time of recent group commits (for lag in time).
pub(crate) struct Progress {
    lsn: Mutex<Lsns>,
    cv: Condvar,
    commits: Mutex<VecDeque<(u64, Instant)>>,
    /// Replicas that asked the committer to wait for them ([`ReplicaOptions::flow_control`]).
    gated: Mutex<Vec<Weak<ReplicaInner>>>,
    /// In-process replicas applying this log now.
    pub(crate) followers: AtomicUsize,
    /// Cores this process may use.
    cores: usize,
}

/// How far the primary's log is durable and how far its state is visible (`visible <= durable`).
#[derive(Clone, Copy, Debug)]
struct Lsns {
    /// The last frame written with the primary's durability policy (fsynced, unless the policy
    /// says otherwise): in-process replicas may apply up to here.
    durable: u64,
    /// The last batch applied to the primary's state and visible to its readers.
    visible: u64,
}

impl Progress {
    pub(crate) fn new(lsn: u64) -> Progress {
        Progress {
            lsn: Mutex::new(Lsns {
                durable: lsn,
                visible: lsn,
            }),
            cv: Condvar::new(),
            commits: Mutex::new(VecDeque::new()),
            gated: Mutex::new(Vec::new()),
            followers: AtomicUsize::new(0),
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        }
    }

    /// Whether the committer should split a large group's apply over two threads: only when it
    /// and every in-process replica can each have two cores. Replicas apply on two threads
    /// whenever they can; when the cores are short, the primary's helper thread only competes
    /// with them, and a replica finishes a group long after the primary does.
    pub(crate) fn primary_may_split(&self) -> bool {
        (self.followers.load(Ordering::Relaxed) + 1) * 2 <= self.cores
    }

    /// Flow control, called by the committer before each group: while a replica under flow
    /// control lags more than its bound, wait for it to apply — but never for a replica that is
    /// stalled, failed or not applying (no step applied for [`FLOW_WAIT_FACTOR`] × its bound),
    /// and never longer than that per group, so a broken replica cannot hold the primary.
    pub(crate) fn throttle(&self) {
        let gated: Vec<Arc<ReplicaInner>> = {
            let mut gated = self.gated.lock();
            if gated.is_empty() {
                return; // the usual case: no allocation on the commit path
            }
            gated.retain(|w| w.strong_count() > 0);
            gated.iter().filter_map(Weak::upgrade).collect()
        };
        for replica in gated {
            replica.hold_back(self);
        }
    }

    pub(crate) fn publish(&self, lsn: u64) {
        {
            let mut commits = self.commits.lock();
            if commits.len() == COMMIT_TIMES {
                commits.pop_front();
            }
            commits.push_back((lsn, Instant::now()));
        }
        {
            let mut lsns = self.lsn.lock();
            lsns.visible = lsn;
            lsns.durable = lsns.durable.max(lsn);
        }
        self.cv.notify_all();
    }

    /// Called by the committer once the frames up to `lsn` are written under the durability
    /// policy, before it applies them: in-process replicas start applying them now, alongside
    /// the primary's own apply, instead of after it.
    pub(crate) fn durable(&self, lsn: u64) {
        {
            let mut lsns = self.lsn.lock();
            lsns.durable = lsns.durable.max(lsn);
        }
        self.cv.notify_all();
    }

    /// The last visible LSN.
    pub(crate) fn lsn(&self) -> u64 {
        self.lsn.lock().visible
    }

    /// The last durable LSN (never behind the visible one).
    pub(crate) fn durable_lsn(&self) -> u64 {
        self.lsn.lock().durable
    }

    /// Waits until the durable LSN passes `after` or `timeout` elapses; returns it.
    pub(crate) fn wait_durable_past(&self, after: u64, timeout: Duration) -> u64 {
        let mut lsns = self.lsn.lock();
        if lsns.durable <= after {
            self.cv.wait_for(&mut lsns, timeout);
        }
        lsns.durable
    }

    /// How long ago the oldest commit after `applied` became visible on the primary (zero when
    /// nothing is missing).
    pub(crate) fn lag_after(&self, applied: u64) -> Duration {
        let commits = self.commits.lock();
        let at = commits.partition_point(|(lsn, _)| *lsn <= applied);
        match commits.get(at) {
            Some((_, when)) => when.elapsed(),
            None => Duration::ZERO,
        }
    }
}

/// Health of a replica as its applier sees it.
#[derive(Clone, Debug)]
struct Health {
    last_error: Option<String>,
    /// An apply failed part-way: the state is no longer trusted and reads are refused.
    apply_failed: bool,
    /// When the applied LSN last moved (or the replica last found nothing to apply).
    last_progress: Instant,
}

pub(crate) struct ReplicaInner {
    name: String,
    /// The replica's one copy of the state. The applier holds the write lock for the apply of a
    /// group (readers see all of it or none of it); a pool read holds the read lock for one
    /// engine call (never while code of the caller runs); a snapshot clones the `Arc`, and the
    /// applier then copies what it changes while it is held.
    /// On a cache line of its own: every read writes the lock word, and the flags the read path
    /// checks before locking would otherwise share that line and cost a second transfer.
    state: CachePadded<RwLock<Arc<State>>>,
    applied: AtomicU64,
    source: Arc<Progress>,
    health: Mutex<Health>,
    /// Mirrors `Health::apply_failed` so the read path needs no lock.
    apply_failed: AtomicBool,
    /// Held back by [`Replica::pause`]: applies nothing until resumed.
    paused: AtomicBool,
    applied_cv: (Mutex<()>, Condvar),
    stop: AtomicBool,
    /// Injected faults: empty, and every check a constant, without `fault-injection`.
    faults: faults::Faults,
    queries: stripe::Counter,
    options: ReplicaOptions,
    /// Group commits the primary delayed for this replica, and for how long in all.
    throttled: AtomicU64,
    throttled_ns: AtomicU64,
}

impl ReplicaInner {
    /// Waits (the committer, before a group) while this replica lags beyond its flow-control
    /// bound and is making progress.
    fn hold_back(&self, source: &Progress) {
        let Some(bound) = self.options.flow_control else {
            return;
        };
        let started = Instant::now();
        // A bound too long to add up never holds the primary back.
        let Some(patience) = bound.checked_mul(FLOW_WAIT_FACTOR) else {
            return;
        };
        let Some(give_up) = started.checked_add(patience) else {
            return;
        };
        let mut waited = false;
        loop {
            if self.stop.load(Ordering::Relaxed)
                || self.paused.load(Ordering::Relaxed)
                || self.faults.stalled()
                || self.apply_failed.load(Ordering::Acquire)
            {
                break;
            }
            let applied = self.applied.load(Ordering::Acquire);
            if source.lag_after(applied) <= bound {
                break;
            }
            let now = Instant::now();
            // Not applying (source errors, a long copy): flow control does not hold the primary.
            if now >= give_up || self.health.lock().last_progress.elapsed() > patience {
                break;
            }
            let (lock, cv) = &self.applied_cv;
            let mut guard = lock.lock();
            if self.applied.load(Ordering::Acquire) == applied {
                cv.wait_for(&mut guard, (give_up - now).min(bound / 4));
            }
            waited = true;
        }
        if waited {
            self.throttled.fetch_add(1, Ordering::Relaxed);
            self.throttled_ns
                .fetch_add(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
        }
    }
}

pub use crate::limits::DEFAULT_FLOW_CONTROL;

/// How an in-process replica follows its primary: [`ReplicaOptions::default`] and the setters.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct ReplicaOptions {
    /// Flow control: when set, the primary's committer delays its next group commit while this
    /// replica lags more than this (in time), so the replica keeps up when replicas and primary
    /// compete for the same cores. A replica that is stalled, failed or not applying is never
    /// waited for, and no group waits more than 4 × the bound. Default
    /// [`DEFAULT_FLOW_CONTROL`] (3 ms); `None`: the primary never waits, and a replica short of
    /// CPU trails it.
    pub flow_control: Option<Duration>,
}

setters!(ReplicaOptions {
    /// Flow control bound (see [`ReplicaOptions::flow_control`]); `None` turns it off.
    flow_control: Option<Duration>,
});

impl Default for ReplicaOptions {
    fn default() -> ReplicaOptions {
        ReplicaOptions {
            flow_control: Some(DEFAULT_FLOW_CONTROL),
        }
    }
}

/// An in-process read replica of a [`crate::Db`]: a follower with its own copy-on-write state,
/// applying the primary's log frames (checksums, LSN continuity and the checksum chain verified)
/// a whole group at a time. Readers see whole batches only. It is woken as soon as the
/// primary's log holds a group durably and applies it alongside the primary's own apply, so it
/// may be a group ahead of the primary's readers for a moment, never ahead of the primary's log.
pub struct Replica {
    inner: Arc<ReplicaInner>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Replica {
    /// Starts applying the primary's log after the state of `source`.
    pub(crate) fn start(name: String, source: Source, options: ReplicaOptions) -> Result<Replica> {
        let Source {
            state,
            entries,
            log_crc,
            log_dir,
            vfs,
            db_id,
            progress: source,
        } = source;
        let lsn = state.lsn.0;
        let follower = LogFollower::new(vfs, &log_dir, db_id, lsn, log_crc);
        debug_assert_eq!(follower.next_lsn(), lsn + 1);
        let inner = Arc::new(ReplicaInner {
            name,
            state: CachePadded::new(RwLock::new(state)),
            applied: AtomicU64::new(lsn),
            source,
            health: Mutex::new(Health {
                last_error: None,
                apply_failed: false,
                last_progress: Instant::now(),
            }),
            apply_failed: AtomicBool::new(false),
            paused: AtomicBool::new(false),
            applied_cv: (Mutex::new(()), Condvar::new()),
            stop: AtomicBool::new(false),
            faults: faults::Faults::new(),
            queries: stripe::Counter::default(),
            options,
            throttled: AtomicU64::new(0),
            throttled_ns: AtomicU64::new(0),
        });
        if options.flow_control.is_some() {
            inner.source.gated.lock().push(Arc::downgrade(&inner));
        }
        inner.source.followers.fetch_add(1, Ordering::Relaxed);
        let name = format!("folio-replica-{}", inner.name);
        let spawned = {
            let inner = inner.clone();
            std::thread::Builder::new()
                .name(name.clone())
                .spawn(move || run(inner, follower, entries))
        };
        match spawned {
            Ok(thread) => Ok(Replica {
                inner,
                thread: Mutex::new(Some(thread)),
            }),
            Err(source) => {
                // Not following after all (its flow-control entry dies with `inner`).
                inner.source.followers.fetch_sub(1, Ordering::Relaxed);
                Err(Error::Thread { name, source })
            }
        }
    }

    /// The name given at [`crate::Db::replica`] (in pool status and errors).
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// LSN of the last batch applied.
    pub fn applied_lsn(&self) -> Lsn {
        Lsn(self.inner.applied.load(Ordering::Acquire))
    }

    /// Batches the primary has made visible that this replica has not applied yet.
    pub fn lag_lsn(&self) -> u64 {
        self.inner.source.lsn().saturating_sub(self.applied_lsn().0)
    }

    /// How long the oldest batch this replica misses has been visible on the primary.
    pub fn lag_time(&self) -> Duration {
        self.inner.source.lag_after(self.applied_lsn().0)
    }

    /// The error that stopped the applier, if one did.
    pub fn last_error(&self) -> Option<String> {
        self.inner.health.lock().last_error.clone()
    }

    /// How long since the applied LSN last moved while batches were waiting.
    pub fn stalled_for(&self) -> Duration {
        if self.lag_lsn() == 0 {
            return Duration::ZERO;
        }
        self.inner.health.lock().last_progress.elapsed()
    }

    /// Why reads are refused now, if they are: an apply that failed part-way (the state is no
    /// longer trusted), or injected read failures (`fault-injection` builds only).
    fn refusal(&self) -> Option<Error> {
        let why = if self.inner.faults.failing_reads() {
            "injected read failure".to_string()
        } else if self.inner.apply_failed.load(Ordering::Acquire) {
            self.inner
                .health
                .lock()
                .last_error
                .clone()
                .unwrap_or_default()
        } else {
            return None;
        };
        Some(
            ReplicaError::Failed {
                name: self.inner.name.clone(),
                why,
            }
            .into(),
        )
    }

    /// Whether reads are served now (not failing, no failed apply).
    pub fn serves_reads(&self) -> bool {
        !self.inner.faults.failing_reads() && !self.inner.apply_failed.load(Ordering::Acquire)
    }

    /// [`Replica::snapshot`] without waiting: `Ok(None)` while the applier is applying a group.
    ///
    /// # Errors
    /// [`Error::Replica`] ([`crate::ReplicaError::Failed`]) when the replica refuses reads: an
    /// apply failed part-way (or, in `fault-injection` builds, reads fail on purpose).
    pub fn try_snapshot(&self) -> Result<Option<Snapshot>> {
        Ok(self
            .try_lock_state()?
            .map(|locked| Snapshot::of(locked.0.clone())))
    }

    /// The state under the read lock, for one engine read (the pool's): no copy, and the applier
    /// copies nothing for it. Never handed to the caller's code: a thread that held it and read
    /// this replica again would wait behind the applier's queued write lock for ever.
    pub(crate) fn lock_state(&self) -> Result<Locked<'_>> {
        self.lock_state_with(|lock| Some(lock.read()))
            .and_then(|locked| locked.ok_or(Error::Closed))
    }

    /// [`Replica::lock_state`] without waiting: `Ok(None)` while the applier is applying a group.
    pub(crate) fn try_lock_state(&self) -> Result<Option<Locked<'_>>> {
        self.lock_state_with(|lock| lock.try_read())
    }

    fn lock_state_with<'a>(
        &'a self,
        lock: impl FnOnce(&'a RwLock<Arc<State>>) -> Option<RwLockReadGuard<'a, Arc<State>>>,
    ) -> Result<Option<Locked<'a>>> {
        if let Some(e) = self.refusal() {
            return Err(e);
        }
        let Some(guard) = lock(&self.inner.state) else {
            return Ok(None);
        };
        // Checked again under the lock: a failed apply sets the flag before it lets go of the
        // write lock, so a part-applied state is never read.
        if self.inner.apply_failed.load(Ordering::Acquire) {
            drop(guard);
            return Err(self.refusal().unwrap_or(Error::Closed));
        }
        self.inner.queries.add(1);
        Ok(Some(Locked(guard)))
    }

    /// A snapshot at the replica's applied LSN: a view pinned there however long it is held,
    /// owned, holding no lock (taking one clones an `Arc` under the read lock, which is let go
    /// at once). While it is held the applier copies each value it changes once (as the primary
    /// does for its own snapshots). Waits while a group is being applied. Fails when reads are
    /// refused (a failed apply).
    ///
    /// # Errors
    /// [`Error::Replica`] ([`crate::ReplicaError::Failed`]) when the replica refuses reads: an
    /// apply failed part-way (or, in `fault-injection` builds, reads fail on purpose).
    pub fn snapshot(&self) -> Result<Snapshot> {
        let locked = self.lock_state()?;
        Ok(Snapshot::of(locked.0.clone()))
    }

    /// Waits up to `timeout` for the replica to apply `lsn`; true when it has.
    pub fn wait_for(&self, lsn: Lsn, timeout: Duration) -> bool {
        // A timeout too long for a deadline is no deadline.
        let deadline = Instant::now().checked_add(timeout);
        let (lock, cv) = &self.inner.applied_cv;
        let mut guard = lock.lock();
        while self.applied_lsn() < lsn {
            match deadline {
                Some(deadline) => {
                    if cv.wait_until(&mut guard, deadline).timed_out() {
                        return self.applied_lsn() >= lsn;
                    }
                }
                None => cv.wait(&mut guard),
            }
        }
        true
    }

    /// Group commits the primary delayed for this replica (flow control) and the time spent.
    pub fn throttled(&self) -> (u64, Duration) {
        (
            self.inner.throttled.load(Ordering::Relaxed),
            Duration::from_nanos(self.inner.throttled_ns.load(Ordering::Relaxed)),
        )
    }

    /// Reads served: snapshots taken and pool reads answered.
    pub fn queries(&self) -> u64 {
        self.inner.queries.sum()
    }

    /// Holds the replica at its applied LSN: it applies nothing until [`Replica::resume`], and
    /// reads keep seeing that LSN. The primary never waits for a paused replica (flow control
    /// skips it) and a pool takes it out of rotation once it lags beyond the pool's bounds, as
    /// for any replica that stands still. For a stable view to copy or audit from, or to measure
    /// how fast a replica catches up.
    pub fn pause(&self) {
        self.inner.paused.store(true, Ordering::Relaxed);
    }

    /// Lets a paused replica apply again: it catches up from where it stopped.
    pub fn resume(&self) {
        self.inner.paused.store(false, Ordering::Relaxed);
    }

    /// Fault injection for drills and tests (`fault-injection` feature only): stop (or resume)
    /// applying.
    #[cfg(feature = "fault-injection")]
    pub fn inject_stall(&self, stalled: bool) {
        self.inner.faults.set_stalled(stalled);
    }

    /// Fault injection for drills and tests (`fault-injection` feature only): make every read
    /// fail (or succeed again).
    #[cfg(feature = "fault-injection")]
    pub fn inject_read_failures(&self, failing: bool) {
        self.inner.faults.set_failing_reads(failing);
    }

    /// Fault injection for drills and tests (`fault-injection` feature only): sleep this long
    /// before applying each step of frames (a slow replica); zero turns it off.
    #[cfg(feature = "fault-injection")]
    pub fn inject_apply_delay(&self, delay: Duration) {
        self.inner.faults.set_apply_delay(delay);
    }

    /// Fault injection for drills and tests (`fault-injection` feature only): keep the write
    /// lock this much longer on every apply (a long apply that readers would have to wait for);
    /// zero turns it off.
    #[cfg(feature = "fault-injection")]
    pub fn inject_apply_hold(&self, hold: Duration) {
        self.inner.faults.set_apply_hold(hold);
    }

    /// Stops the applier thread.
    pub fn stop(&self) {
        self.inner.stop.store(true, Ordering::Relaxed);
        if let Some(handle) = self.thread.lock().take() {
            let _ = handle.join();
            self.inner.source.followers.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The state of a replica for one engine read (see [`Replica::lock_state`]): holds its read
/// lock. Crate-internal: no public read hands out a lock.
pub(crate) struct Locked<'a>(RwLockReadGuard<'a, Arc<State>>);

impl std::ops::Deref for Locked<'_> {
    type Target = State;
    fn deref(&self) -> &State {
        &self.0
    }
}

impl<'a> Locked<'a> {
    /// The state for one read of `kind`: this read lock kept for a point read, a snapshot pinned
    /// under it (and the lock let go) for a scan, so that the applier goes on meanwhile.
    pub(crate) fn state_for(self, kind: ReadKind) -> StateRef<'a> {
        StateRef::of(kind, self.0, |state| state)
    }
}

/// The applier loop: one copy of the state, each group applied once. Frames are read and decoded
/// before the write lock is taken; the lock is held for the apply only (readers see a whole group
/// or none of it, as on the primary). The entry map is the replica's own; nothing is tracked for
/// checkpoints (an in-process replica never writes one).
fn run(inner: Arc<ReplicaInner>, mut follower: LogFollower, mut entries: EntryIndex) {
    while !inner.stop.load(Ordering::Relaxed) {
        let applied = inner.applied.load(Ordering::Acquire);
        if inner.paused.load(Ordering::Relaxed)
            || inner.faults.stalled()
            || inner.apply_failed.load(Ordering::Acquire)
        {
            std::thread::sleep(Duration::from_millis(2));
            continue;
        }
        // Frames the primary has made durable, whether or not its own apply has finished: a
        // replica may be ahead of the primary's readers, never ahead of its log.
        let durable = inner.source.durable_lsn();
        let Some(frames) = poll(&inner, &mut follower, durable) else {
            std::thread::sleep(Duration::from_millis(10));
            continue;
        };
        if frames.is_empty() {
            if applied >= inner.source.lsn() {
                inner.health.lock().last_progress = Instant::now();
            }
            inner
                .source
                .wait_durable_past(applied.max(durable), Duration::from_millis(20));
            continue;
        }
        let delay = inner.faults.apply_delay();
        if !delay.is_zero() {
            std::thread::sleep(delay);
        }
        let last = frames[frames.len() - 1].lsn;
        let batches = match decode_frames(&frames) {
            Ok(batches) => batches,
            Err(e) => {
                fail(&inner, e);
                continue;
            }
        };
        if apply_in_steps(&inner, &mut entries, &batches, &frames) {
            debug_assert_eq!(inner.applied.load(Ordering::Acquire), last.0);
        }
    }
}

/// Frames the source has up to `durable`: `None` when it cannot be read (unreachable, or it
/// refuses to continue this replica's log), said once as a `tracing` warning; the replica keeps
/// serving what it applied and tries again.
fn poll(inner: &ReplicaInner, follower: &mut LogFollower, durable: u64) -> Option<Vec<ShippedFrame>> {
    match follower.poll_until(APPLY_CHUNK_BYTES, durable) {
        Ok(frames) => {
            if inner.health.lock().last_error.take().is_some() {
                tracing::info!(replica = %inner.name, "replica reads its source again");
            }
            Some(frames)
        }
        Err(e) => {
            let error = e.to_string();
            let new = inner.health.lock().last_error.replace(error.clone()) != Some(error);
            if new {
                tracing::warn!(
                    replica = %inner.name,
                    error = %e,
                    "replica cannot read its source: serving what it applied, retrying"
                );
            }
            None
        }
    }
}

/// Applies decoded batches in steps of whole batches, a bounded number of operations per hold
/// of the write lock, so a replica catching up never keeps its readers waiting for more than
/// about one group's apply. False when a step failed (the replica is failed).
fn apply_in_steps(
    inner: &ReplicaInner,
    entries: &mut EntryIndex,
    batches: &[(Lsn, crate::codec::record::LogBatch)],
    frames: &[ShippedFrame],
) -> bool {
    let mut start = 0;
    while start < batches.len() {
        let mut end = start;
        let mut ops = 0;
        while end < batches.len() && (end == start || ops < MAX_OPS_PER_LOCK) {
            ops += batches[end].1.ops.len();
            end += 1;
        }
        if !apply_step(inner, entries, &batches[start..end], &frames[start]) {
            return false;
        }
        // Progress per step, not per poll: a replica working through a long chunk is not
        // stalled (health checks and flow control read this).
        inner.health.lock().last_progress = Instant::now();
        start = end;
    }
    true
}

/// Applies batches under the write lock; false (and the replica failed) when the apply failed.
fn apply_step(
    inner: &ReplicaInner,
    entries: &mut EntryIndex,
    batches: &[(Lsn, crate::codec::record::LogBatch)],
    first: &ShippedFrame,
) -> bool {
    let mut state = inner.state.write();
    match apply_decoded(
        Arc::make_mut(&mut state),
        Side::Register(entries),
        batches,
        first,
    ) {
        Ok(()) => {
            let last = batches[batches.len() - 1].0;
            inner.applied.store(last.0, Ordering::Release);
            let hold = inner.faults.apply_hold();
            if !hold.is_zero() {
                std::thread::sleep(hold);
            }
            // Hand the lock to readers parked on it rather than letting the next step barge in.
            RwLockWriteGuard::unlock_fair(state);
            let _guard = inner.applied_cv.0.lock();
            inner.applied_cv.1.notify_all();
            true
        }
        // The state is part-applied: it is marked failed before the lock is released, so no read
        // ever sees it, and the replica refuses reads until it is rebuilt.
        Err(e) => {
            fail(inner, e);
            drop(state);
            false
        }
    }
}

/// Marks the replica failed: its state can no longer be trusted and reads are refused. Also a
/// `tracing` error.
fn fail(inner: &ReplicaInner, e: Error) {
    {
        let mut health = inner.health.lock();
        health.last_error = Some(e.to_string());
        health.apply_failed = true;
        inner.apply_failed.store(true, Ordering::Release);
    }
    tracing::error!(
        replica = %inner.name,
        applied_lsn = inner.applied.load(Ordering::Acquire),
        error = %e,
        "replica apply failed: it refuses reads until it is rebuilt"
    );
}
