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

pub mod follow;
pub mod pool;
mod stripe;

pub use follow::{read_segments, LogFollower, ShippedFrame};
pub use pool::{
    Balancing, BreakerState, Consistency, NodeStatus, PoolOptions, PoolRead, PoolStatus, ReadPool,
};

use crate::codec::record::{self, LogOp};
use crate::db::Snapshot;
use crate::error::{CorruptionKind, Error, ReplicaError, Result};
use crate::model::Lsn;
use crate::state::apply::Side;
use crate::state::{Applier, EntryIndex, State};
use parking_lot::{Condvar, Mutex};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Groups of at least this many operations apply balances on a second thread.
const PARALLEL_APPLY_OPS: usize = 256;
/// A group waits at most this many times a replica's flow-control bound for it.
const FLOW_WAIT_FACTOR: u32 = 4;
/// Payload bytes a replica reads and applies at once.
const APPLY_CHUNK_BYTES: usize = 256 << 10;
/// Commit times remembered for lag-in-time (one per group commit).
const COMMIT_TIMES: usize = 1 << 16;

/// Frames decoded and checked, ready to apply.
pub(crate) type Decoded = Vec<(Lsn, crate::codec::record::LogBatch)>;

/// Decodes frames; a bad archive or a wrong operation count is a corruption naming the frame.
pub(crate) fn decode_frames(frames: &[ShippedFrame]) -> Result<Decoded> {
    let mut batches = Vec::with_capacity(frames.len());
    for f in frames {
        let corrupt = |kind| Error::corruption(&f.file, f.offset, kind);
        let batch =
            record::decode(&f.payload).map_err(|e| corrupt(CorruptionKind::InvalidArchive(e)))?;
        if batch.ops.len() != f.op_count as usize {
            return Err(corrupt(CorruptionKind::InvalidValue(
                "operation count differs from header".into(),
            )));
        }
        batches.push((Lsn(f.lsn), batch));
    }
    Ok(batches)
}

/// Applies decoded batches as one group; `at` names the first frame for errors.
pub(crate) fn apply_decoded(
    state: &mut State,
    side: Side<'_>,
    batches: &Decoded,
    at: &ShippedFrame,
) -> Result<()> {
    let refs: Vec<(Lsn, &[LogOp])> = batches
        .iter()
        .map(|(lsn, b)| (*lsn, b.ops.as_slice()))
        .collect();
    let ops: usize = refs.iter().map(|r| r.1.len()).sum();
    state
        .apply_group_with(&refs, ops >= PARALLEL_APPLY_OPS, side)
        .map_err(|e| Error::corruption(&at.file, at.offset, CorruptionKind::InconsistentOp(e)))
}

/// Decodes frames and applies them as one group. Decoding finishes before anything is applied,
/// so a bad archive leaves the state untouched.
pub(crate) fn apply_frames(
    state: &mut State,
    applier: &mut Applier,
    frames: &[ShippedFrame],
) -> Result<()> {
    let Some(first) = frames.first() else {
        return Ok(());
    };
    let batches = decode_frames(frames)?;
    apply_decoded(state, Side::Full(applier), &batches, first)
}

/// The primary's commit progress: the last applied LSN, a wake-up for followers, and the time of
/// recent group commits (for lag in time).
pub(crate) struct Progress {
    lsn: Mutex<u64>,
    cv: Condvar,
    commits: Mutex<VecDeque<(u64, Instant)>>,
    /// Replicas that asked the committer to wait for them ([`ReplicaOptions::flow_control`]).
    gated: Mutex<Vec<Weak<ReplicaInner>>>,
}

impl Progress {
    pub(crate) fn new(lsn: u64) -> Progress {
        Progress {
            lsn: Mutex::new(lsn),
            cv: Condvar::new(),
            commits: Mutex::new(VecDeque::new()),
            gated: Mutex::new(Vec::new()),
        }
    }

    /// Flow control, called by the committer before each group: while a replica under flow
    /// control lags more than its bound, wait for it to apply — but never for a replica that is
    /// stalled, failed or not applying, and never longer than [`FLOW_WAIT_FACTOR`] × its bound
    /// per group, so a broken replica cannot hold the primary.
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
        *self.lsn.lock() = lsn;
        self.cv.notify_all();
    }

    pub(crate) fn lsn(&self) -> u64 {
        *self.lsn.lock()
    }

    /// Waits until the LSN passes `after` or `timeout` elapses; returns the LSN.
    pub(crate) fn wait_past(&self, after: u64, timeout: Duration) -> u64 {
        let mut lsn = self.lsn.lock();
        if *lsn <= after {
            self.cv.wait_for(&mut lsn, timeout);
        }
        *lsn
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
    /// The published copy: readers load it without a lock (no lock word shared by readers).
    state: arc_swap::ArcSwap<State>,
    applied: AtomicU64,
    source: Arc<Progress>,
    health: Mutex<Health>,
    /// Mirrors `Health::apply_failed` so the read path needs no lock.
    apply_failed: AtomicBool,
    applied_cv: (Mutex<()>, Condvar),
    stop: AtomicBool,
    stalled: AtomicBool,
    failing_reads: AtomicBool,
    /// Fault injection: microseconds to sleep before each apply (a slow replica).
    apply_delay_us: AtomicU64,
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
        let give_up = started + bound * FLOW_WAIT_FACTOR;
        let mut waited = false;
        loop {
            if self.stop.load(Ordering::Relaxed)
                || self.stalled.load(Ordering::Relaxed)
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
            if now >= give_up
                || self.health.lock().last_progress.elapsed() > bound * FLOW_WAIT_FACTOR
            {
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

/// How an in-process replica follows its primary.
#[derive(Clone, Copy, Debug, Default)]
pub struct ReplicaOptions {
    /// Flow control: when set, the primary's committer delays its next group commit while this
    /// replica lags more than this (in time), so the replica keeps up at the cost of ingest rate.
    /// A replica that is stalled, failed or not applying is never waited for, and no group waits
    /// more than 4 × the bound. `None` (the default): the primary never waits.
    pub flow_control: Option<Duration>,
}

/// An in-process read replica of a [`crate::Db`]: a follower with its own copy-on-write state,
/// applying the primary's log frames (checksums, LSN continuity and the checksum chain verified)
/// a whole group at a time. Readers see whole batches only.
pub struct Replica {
    inner: Arc<ReplicaInner>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Replica {
    /// Starts applying after `state` with `follower` positioned right after its LSN.
    pub(crate) fn start(
        name: String,
        state: Arc<State>,
        entries: EntryIndex,
        follower: LogFollower,
        source: Arc<Progress>,
        options: ReplicaOptions,
    ) -> Replica {
        debug_assert_eq!(follower.next_lsn(), state.lsn.0 + 1);
        let lsn = state.lsn.0;
        let inner = Arc::new(ReplicaInner {
            name,
            state: arc_swap::ArcSwap::new(state),
            applied: AtomicU64::new(lsn),
            source,
            health: Mutex::new(Health {
                last_error: None,
                apply_failed: false,
                last_progress: Instant::now(),
            }),
            apply_failed: AtomicBool::new(false),
            applied_cv: (Mutex::new(()), Condvar::new()),
            stop: AtomicBool::new(false),
            stalled: AtomicBool::new(false),
            failing_reads: AtomicBool::new(false),
            apply_delay_us: AtomicU64::new(0),
            queries: stripe::Counter::default(),
            options,
            throttled: AtomicU64::new(0),
            throttled_ns: AtomicU64::new(0),
        });
        if options.flow_control.is_some() {
            inner.source.gated.lock().push(Arc::downgrade(&inner));
        }
        let thread = {
            let inner = inner.clone();
            std::thread::Builder::new()
                .name(format!("folio-replica-{}", inner.name))
                .spawn(move || run(inner, follower, entries))
                .expect("spawn replica thread")
        };
        Replica {
            inner,
            thread: Mutex::new(Some(thread)),
        }
    }

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

    /// A snapshot at the replica's applied LSN. Fails when reads are failing (see
    /// [`Replica::inject_read_failures`]).
    pub fn snapshot(&self) -> Result<Snapshot> {
        if self.inner.failing_reads.load(Ordering::Relaxed) {
            return Err(ReplicaError::Failed {
                name: self.inner.name.clone(),
                why: "injected read failure".into(),
            }
            .into());
        }
        if self.inner.apply_failed.load(Ordering::Acquire) {
            let health = self.inner.health.lock();
            return Err(ReplicaError::Failed {
                name: self.inner.name.clone(),
                why: health.last_error.clone().unwrap_or_default(),
            }
            .into());
        }
        self.inner.queries.add(1);
        // Applying happens on the other copy: the published one is only ever swapped.
        Ok(Snapshot::of(self.inner.state.load_full()))
    }

    /// Waits up to `timeout` for the replica to apply `lsn`; true when it has.
    pub fn wait_for(&self, lsn: Lsn, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let (lock, cv) = &self.inner.applied_cv;
        let mut guard = lock.lock();
        while self.applied_lsn() < lsn {
            if cv.wait_until(&mut guard, deadline).timed_out() {
                return self.applied_lsn() >= lsn;
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

    /// Queries served through [`Replica::snapshot`].
    pub fn queries(&self) -> u64 {
        self.inner.queries.sum()
    }

    /// Fault injection for drills and tests: stop (or resume) applying.
    pub fn inject_stall(&self, stalled: bool) {
        self.inner.stalled.store(stalled, Ordering::Relaxed);
    }

    /// Fault injection for drills and tests: make every read fail (or succeed again).
    pub fn inject_read_failures(&self, failing: bool) {
        self.inner.failing_reads.store(failing, Ordering::Relaxed);
    }

    /// Fault injection for drills and tests: sleep this long before applying each step of
    /// frames (a slow replica); zero turns it off.
    pub fn inject_apply_delay(&self, delay: Duration) {
        let us = u64::try_from(delay.as_micros()).unwrap_or(u64::MAX);
        self.inner.apply_delay_us.store(us, Ordering::Relaxed);
    }

    /// Stops the applier thread.
    pub fn stop(&self) {
        self.inner.stop.store(true, Ordering::Relaxed);
        if let Some(handle) = self.thread.lock().take() {
            let _ = handle.join();
        }
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        self.stop();
    }
}

/// How long the applier waits for readers to let go of the spare copy before copying what it
/// changes instead (a pool read holds a copy for microseconds; a long-held snapshot should not
/// stall the replica).
const DRAIN_WAIT: Duration = Duration::from_micros(500);

/// The spare copy, writable: waits up to [`DRAIN_WAIT`] for readers that still hold it from
/// when it was published, then shares it copy-on-write (cost bounded by what the apply touches).
fn writable(spare: &mut Arc<State>) -> &mut State {
    let deadline = Instant::now() + DRAIN_WAIT;
    // Readers reach only the published copy, so this count can only fall.
    while Arc::strong_count(spare) > 1 && Instant::now() < deadline {
        std::thread::yield_now();
    }
    Arc::make_mut(spare)
}

/// The applier loop. Two copies of the state take turns (a left-right scheme): readers see the
/// published one while new frames are applied to the other, which is then published. Right after
/// a swap, before looking for new frames, the copy readers just left replays the groups it
/// missed, so a new group waits for one apply only. Each group is applied twice, but no node is
/// copied and no reader ever waits for an apply. The entry map is kept once, by the first apply
/// of a group; the replay only reads it. Nothing is tracked for checkpoints.
fn run(inner: Arc<ReplicaInner>, mut follower: LogFollower, mut entries: EntryIndex) {
    let mut spare = inner.state.load_full();
    // Groups the published copy has and the spare lacks, with their first frame (for errors).
    let mut behind: Option<(Decoded, ShippedFrame)> = None;
    while !inner.stop.load(Ordering::Relaxed) {
        let applied = inner.applied.load(Ordering::Acquire);
        if inner.stalled.load(Ordering::Relaxed) || inner.apply_failed.load(Ordering::Acquire) {
            std::thread::sleep(Duration::from_millis(2));
            continue;
        }
        if let Some((missed, at)) = behind.take() {
            if let Err(e) =
                apply_decoded(writable(&mut spare), Side::Replay(&entries), &missed, &at)
            {
                fail(&inner, e);
                continue;
            }
        }
        let frames = match follower.poll(APPLY_CHUNK_BYTES) {
            Ok(frames) => {
                inner.health.lock().last_error = None;
                frames
            }
            Err(e) => {
                // The source is unreachable or refused: keep serving what is applied, retry.
                inner.health.lock().last_error = Some(e.to_string());
                std::thread::sleep(Duration::from_millis(10));
                continue;
            }
        };
        if frames.is_empty() {
            if applied >= inner.source.lsn() {
                inner.health.lock().last_progress = Instant::now();
            }
            inner.source.wait_past(applied, Duration::from_millis(20));
            continue;
        }
        let delay = inner.apply_delay_us.load(Ordering::Relaxed);
        if delay > 0 {
            std::thread::sleep(Duration::from_micros(delay));
        }
        let last = frames[frames.len() - 1].lsn;
        // A failed apply leaves the spare part-applied; it is never published: the replica is
        // marked failed and refuses reads until it is rebuilt.
        let result = decode_frames(&frames).and_then(|batches| {
            let side = Side::Register(&mut entries);
            apply_decoded(writable(&mut spare), side, &batches, &frames[0])?;
            Ok(batches)
        });
        match result {
            Ok(batches) => {
                spare = inner.state.swap(spare);
                behind = Some((batches, frames[0].clone()));
                inner.applied.store(last, Ordering::Release);
                inner.health.lock().last_progress = Instant::now();
                let _guard = inner.applied_cv.0.lock();
                inner.applied_cv.1.notify_all();
            }
            Err(e) => fail(&inner, e),
        }
    }
}

/// Marks the replica failed: its state can no longer be trusted and reads are refused.
fn fail(inner: &ReplicaInner, e: Error) {
    let mut health = inner.health.lock();
    health.last_error = Some(e.to_string());
    health.apply_failed = true;
    inner.apply_failed.store(true, Ordering::Release);
}
