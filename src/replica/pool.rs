//! A pool of read handles over the primary and its in-process replicas: load balancing (round
//! robin or least lag), health checks (lag in LSN and in time, apply errors, stalls), failover
//! to the next healthy replica or the primary, circuit breaking, and per-query consistency.

use super::Replica;
use crate::query::{ReadKind, Snapshot, StateRef};
use crate::error::{Error, ReplicaError, Result};
use crate::model::{BusinessDay, Lsn, Month, Org, OrgId, Timestamp};
use crate::query::{DailyReport, LedgerLine, MonthlyReport, PendingLine, TopLine};
use crate::state::balance::ReadCost;
use crate::state::read::{DayBalance, LedgerEntry};
use crate::state::State;
use parking_lot::{Condvar, Mutex};
use serde::Serialize;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

thread_local! {
    /// This thread's round-robin state: (its first node, reads it routed). Per thread, so reads
    /// share no counter.
    static ROUND_ROBIN: std::cell::Cell<(usize, usize)> = const { std::cell::Cell::new((usize::MAX, 0)) };
}

/// Spreads the threads' first nodes.
static NEXT_THREAD: AtomicUsize = AtomicUsize::new(0);

/// Where this thread's next round-robin pass starts: threads start on different nodes and move
/// on every `affinity` reads, so a thread's reads stay on one replica's copy (its cache) for a
/// while and the threads together spread over all of them.
fn next_round_robin(affinity: usize) -> usize {
    ROUND_ROBIN.with(|cell| {
        let (mut first, reads) = cell.get();
        if first == usize::MAX {
            first = NEXT_THREAD.fetch_add(1, Ordering::Relaxed);
        }
        cell.set((first, reads.wrapping_add(1)));
        first.wrapping_add(reads / affinity.max(1))
    })
}

/// What a read pool needs of its primary. The database (`crate::Db`, a layer above the replicas)
/// implements it; the pool holds its primary as `Arc<dyn PrimaryReads>`.
pub(crate) trait PrimaryReads: Send + Sync {
    /// A snapshot pinned at the primary's last applied LSN.
    fn snapshot(&self) -> Snapshot;
    /// The primary's state for one read of `kind` (see [`ReadKind`]).
    fn state_for(&self, kind: ReadKind) -> StateRef<'_>;
    /// [`PrimaryReads::state_for`] if the committer is not applying a group right now.
    fn try_state_for(&self, kind: ReadKind) -> Option<StateRef<'_>>;
    /// LSN of the last batch the primary made visible.
    fn visible_lsn(&self) -> Lsn;
    /// Loads what a read of `scope` needs (a read-only primary loads orgs as reads need them).
    fn ensure(&self, scope: crate::query::Scope) -> crate::error::Result<()>;
}

/// What a read needs to see.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Consistency {
    /// Everything committed: read the primary.
    Latest,
    /// Read-your-writes: at least this LSN. A replica that has it serves; otherwise wait up to
    /// `timeout` for one to catch up, then read the primary.
    AtLeast(Lsn, Duration),
    /// Data at most this old: a replica whose lag in time is within it, else the primary.
    BoundedStaleness(Duration),
    /// Any healthy node.
    Any,
}

/// How reads are spread over the healthy replicas.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Balancing {
    /// Each thread takes the replicas in turn, staying on one for
    /// [`PoolOptions::affinity_reads`] reads; reads about one org ([`ReadPool::read_for`]) start
    /// at a replica chosen by the org id.
    RoundRobin,
    /// The replica that has applied the most (highest applied LSN) first.
    LeastLag,
}

/// Pool settings: [`PoolOptions::default`] and the setters. Defaults follow the seed deployment:
/// 5 to 50 handles.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct PoolOptions {
    /// Handles kept ready.
    pub min_handles: usize,
    /// Handles in use at once; more readers wait up to `acquire_timeout`.
    pub max_handles: usize,
    /// How long a reader waits for a handle before [`crate::ReplicaError::NoneAvailable`].
    pub acquire_timeout: Duration,
    /// How reads are spread over the replicas.
    pub balancing: Balancing,
    /// How often the health checker looks at every replica.
    pub health_interval: Duration,
    /// A replica further behind than this many batches is out of rotation.
    pub max_lag_lsn: u64,
    /// A replica missing batches older than this is out of rotation.
    pub max_lag_time: Duration,
    /// A replica whose applied LSN has not moved for this long while behind is stalled.
    pub stall_after: Duration,
    /// Consecutive read failures that open a replica's breaker.
    pub breaker_failures: u32,
    /// How long an open breaker stays open before one trial read (half-open).
    pub breaker_cooldown: Duration,
    /// Round robin moves a thread to the next replica every this many reads (its reads meanwhile
    /// find that replica's data in the core's cache); threads start on different replicas. 1 =
    /// every read moves on.
    pub affinity_reads: usize,
    /// A read whose replica is applying a group, with no other replica free, goes to the primary
    /// when the primary can answer at once (else it waits for the replica's apply to finish).
    pub spill_to_primary: bool,
}

setters!(PoolOptions {
    /// Handles kept ready.
    min_handles: usize,
    /// Handles in use at once.
    max_handles: usize,
    /// How long a reader waits for a handle.
    acquire_timeout: Duration,
    /// How reads are spread over the replicas.
    balancing: Balancing,
    /// How often the health checker runs.
    health_interval: Duration,
    /// Lag, in batches, beyond which a replica leaves rotation.
    max_lag_lsn: u64,
    /// Lag, in time, beyond which a replica leaves rotation.
    max_lag_time: Duration,
    /// How long a behind replica may stand still before it counts as stalled.
    stall_after: Duration,
    /// Consecutive read failures that open a replica's breaker.
    breaker_failures: u32,
    /// How long an open breaker stays open before one trial read.
    breaker_cooldown: Duration,
    /// Reads a thread makes on one replica before round robin moves it on.
    affinity_reads: usize,
    /// Whether a read may go to the primary when every replica is busy applying.
    spill_to_primary: bool,
});

impl Default for PoolOptions {
    fn default() -> Self {
        PoolOptions {
            min_handles: 5,
            max_handles: 50,
            acquire_timeout: Duration::from_secs(1),
            balancing: Balancing::RoundRobin,
            health_interval: Duration::from_millis(100),
            max_lag_lsn: 10_000,
            max_lag_time: Duration::from_secs(2),
            stall_after: Duration::from_millis(500),
            breaker_failures: 3,
            breaker_cooldown: Duration::from_secs(1),
            affinity_reads: 16_384,
            spill_to_primary: true,
        }
    }
}

/// A replica's circuit breaker.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum BreakerState {
    /// Reads go through; failures are counted.
    Closed,
    /// [`PoolOptions::breaker_failures`] reads failed in a row (or the half-open trial failed):
    /// no read goes to the replica until [`PoolOptions::breaker_cooldown`] has passed.
    Open,
    /// The cooldown has passed: the next read is a trial; it closes the breaker if it succeeds
    /// and opens it again if it fails.
    HalfOpen,
}

#[derive(Debug)]
struct Breaker {
    state: BreakerState,
    failures: u32,
    opened_at: Option<Instant>,
}

struct Node {
    replica: Arc<Replica>,
    healthy: AtomicBool,
    why_unhealthy: Mutex<Option<String>>,
    breaker: Mutex<Breaker>,
    /// True while the breaker is closed with no failures counted: the read path then needs no lock.
    breaker_clean: AtomicBool,
    failovers: AtomicU64,
    /// Reads that came to this replica because the one chosen first was applying.
    busy_reroutes: super::stripe::Counter,
}

/// One replica's (or the primary's) figures.
#[derive(Clone, Debug, Serialize)]
pub struct NodeStatus {
    /// The replica's name, or `primary`.
    pub name: String,
    /// Whether this is the primary.
    pub primary: bool,
    /// The last LSN the node applied (the primary's visible LSN).
    pub applied_lsn: Lsn,
    /// Batches visible on the primary that the node has not applied (0 for the primary).
    pub lag_lsn: u64,
    /// How long the oldest batch the node misses has been visible on the primary, in
    /// milliseconds (0 for the primary).
    pub lag_ms: f64,
    /// Whether the health checker keeps the node in rotation (the primary always is).
    pub healthy: bool,
    /// Why the health checker took the node out of rotation (apply error, stall, lag).
    pub why_unhealthy: Option<String>,
    /// The node's circuit breaker (always closed for the primary).
    pub breaker: BreakerState,
    /// Reads the node served (a replica counts every read of its state, in or out of this pool).
    pub queries: u64,
    /// Of those, reads it took over because the node chosen first was applying a group.
    pub busy_reroutes: u64,
    /// Reads routed away from the node (unhealthy, breaker open, too stale, or failed).
    pub failovers: u64,
    /// Group commits the primary delayed for this replica (flow control).
    pub throttled_groups: u64,
    /// The error that stopped the replica's applier, if one did.
    pub last_error: Option<String>,
}

/// The pool's figures.
#[derive(Clone, Debug, Serialize)]
pub struct PoolStatus {
    /// The primary's visible LSN.
    pub primary_lsn: Lsn,
    /// Handles taken by readers now.
    pub handles_in_use: usize,
    /// Handles opened: at least `min_handles`, at most `max_handles`.
    pub handles_open: usize,
    /// [`PoolOptions::min_handles`].
    pub min_handles: usize,
    /// [`PoolOptions::max_handles`].
    pub max_handles: usize,
    /// How reads are spread over the replicas.
    pub balancing: Balancing,
    /// One entry per node: the primary first, then the replicas in the order given.
    pub nodes: Vec<NodeStatus>,
}

struct Inner {
    primary: Arc<dyn PrimaryReads>,
    nodes: Vec<Node>,
    options: PoolOptions,
    /// Handles, striped so readers on different cores share no counter; the lock below only
    /// serves waiters.
    handles: super::stripe::Slots,
    waiters: AtomicUsize,
    wait_lock: Mutex<()>,
    released: Condvar,
    primary_served: super::stripe::Counter,
    /// Reads the primary answered because every replica that could was applying.
    primary_spilled: super::stripe::Counter,
}

/// Read handles over a primary and its replicas. Cheap to share; every method takes `&self`.
pub struct ReadPool {
    inner: Arc<Inner>,
    /// Dropped to stop the health checker at once (it waits on the other end between checks).
    stop: Option<crossbeam::channel::Sender<()>>,
    checker: Option<JoinHandle<()>>,
}

use crate::limits::BUSY_ROUNDS;

/// A read handle on the node the pool chose. Each read through it runs on that node's current
/// state for that one call, as [`crate::Db`]'s own reads do: a point read under the node's read lock
/// (nothing is copied), a read whose cost grows with its answer on a snapshot pinned under it, so
/// that the node's committer or applier goes on meanwhile. A handle held for long blocks nobody.
/// Reads through one handle see the node's applied LSN as it moves (never below what the
/// consistency asked for); [`PoolRead::snapshot`] pins one view for several reads. A replica that
/// starts failing after it was chosen hands the read to the primary (and counts against its
/// breaker). A read never waits for a replica that is applying a group while another node that
/// meets the consistency can answer at once (another replica, then the primary unless
/// [`PoolOptions::spill_to_primary`] is off); when none can, it looks again a few times (yielding
/// the core to the appliers in between) and then waits for the chosen one. Dropping the handle
/// returns it to the pool.
pub struct PoolRead<'a> {
    node: Option<usize>,
    consistency: Consistency,
    pool: &'a Inner,
    /// The handle's stripe.
    handle: usize,
}

impl PoolRead<'_> {
    /// Which node serves it: a replica's name, or `primary`.
    pub fn node(&self) -> &str {
        match self.node {
            Some(i) => self.pool.nodes[i].replica.name(),
            None => "primary",
        }
    }

    /// A snapshot of the chosen node's state, pinned for as long as it is held (see
    /// [`Snapshot`] and [`Replica::snapshot`]).
    pub fn snapshot(&self) -> Snapshot {
        if let Some(i) = self.node {
            let node = &self.pool.nodes[i];
            match node.replica.snapshot() {
                Ok(snapshot) => return snapshot,
                Err(_) => self.pool.failed_read(node),
            }
        }
        self.pool.primary_served.add(1);
        self.pool.primary.snapshot()
    }

    /// Runs one read: on the chosen node if it can answer now, else on the first node that meets
    /// the consistency and can, else on the chosen node once its apply is done. A point read runs
    /// under the node's read lock, a scan on a snapshot taken under it ([`ReadKind`]).
    fn with_state<T>(&self, kind: ReadKind, read: impl FnOnce(&State) -> T) -> T {
        let pool = self.pool;
        let Some(chosen) = self.node else {
            return pool.read_primary(kind, read);
        };
        match pool.nodes[chosen].replica.try_lock_state() {
            Ok(Some(state)) => return read(&state.state_for(kind)),
            Ok(None) => {}
            Err(_) => {
                pool.failed_read(&pool.nodes[chosen]);
                return pool.read_primary(kind, read);
            }
        }
        // The chosen replica is applying: look for a node that can answer without waiting. When
        // every node is applying (they start on a group together), look again a few times,
        // giving the cores to the appliers in between: the first node done answers.
        let n = pool.nodes.len();
        let mut read = Some(read);
        for round in 0..=BUSY_ROUNDS {
            if round > 0 {
                std::thread::yield_now();
                if let Ok(Some(state)) = pool.nodes[chosen].replica.try_lock_state() {
                    return read.take().expect("read once")(&state.state_for(kind));
                }
            }
            for at in (1..n).map(|k| (chosen + k) % n) {
                let node = &pool.nodes[at];
                if !node.healthy.load(Ordering::Relaxed)
                    || !node.breaker_clean.load(Ordering::Acquire)
                    || !pool.fits(self.consistency, &node.replica)
                {
                    continue;
                }
                if let Ok(Some(state)) = node.replica.try_lock_state() {
                    node.busy_reroutes.add(1);
                    return read.take().expect("read once")(&state.state_for(kind));
                }
            }
            if pool.options.spill_to_primary {
                if let Some(state) = pool.primary.try_state_for(kind) {
                    pool.primary_served.add(1);
                    pool.primary_spilled.add(1);
                    return read.take().expect("read once")(&state);
                }
            }
        }
        let read = read.take().expect("read once");
        match pool.nodes[chosen].replica.lock_state() {
            Ok(state) => read(&state.state_for(kind)),
            Err(_) => {
                pool.failed_read(&pool.nodes[chosen]);
                pool.read_primary(kind, read)
            }
        }
    }

    /// Runs one read that needs `scope` of the orgs: the replicas hold every org; a read-only
    /// primary loads them first.
    fn read_in<T>(
        &self,
        scope: crate::query::Scope,
        kind: ReadKind,
        read: impl FnOnce(&State) -> crate::error::Result<T>,
    ) -> crate::error::Result<T> {
        self.pool.primary.ensure(scope)?;
        self.with_state(kind, read)
    }

    crate::query::state_reads!();
}

impl Drop for PoolRead<'_> {
    fn drop(&mut self) {
        self.pool.release(self.handle);
    }
}

impl ReadPool {
    /// A pool over `primary` and `replicas`; starts the health checker. (`ReadPool::new`, over a
    /// `Db`, is this over the database's reads.)
    pub(crate) fn over(
        primary: Arc<dyn PrimaryReads>,
        replicas: Vec<Arc<Replica>>,
        options: PoolOptions,
    ) -> Result<ReadPool> {
        let nodes = replicas
            .into_iter()
            .map(|replica| Node {
                replica,
                healthy: AtomicBool::new(true),
                why_unhealthy: Mutex::new(None),
                breaker: Mutex::new(Breaker {
                    state: BreakerState::Closed,
                    failures: 0,
                    opened_at: None,
                }),
                breaker_clean: AtomicBool::new(true),
                failovers: AtomicU64::new(0),
                busy_reroutes: Default::default(),
            })
            .collect();
        let handles = super::stripe::Slots::new(options.max_handles.max(1));
        let inner = Arc::new(Inner {
            primary,
            nodes,
            options,
            handles,
            waiters: AtomicUsize::new(0),
            wait_lock: Mutex::new(()),
            released: Condvar::new(),
            primary_served: Default::default(),
            primary_spilled: Default::default(),
        });
        inner.check_health();
        let name = "folio-pool-health";
        let (stop, stopped) = crossbeam::channel::bounded::<()>(0);
        let checker = {
            let inner = inner.clone();
            std::thread::Builder::new()
                .name(name.into())
                .spawn(move || {
                    // Nothing is ever sent: the wait ends with the interval, or at once when the
                    // pool drops the sender.
                    while let Err(crossbeam::channel::RecvTimeoutError::Timeout) =
                        stopped.recv_timeout(inner.options.health_interval)
                    {
                        inner.check_health();
                    }
                })
                .map_err(|source| Error::Thread {
                    name: name.into(),
                    source,
                })?
        };
        Ok(ReadPool {
            inner,
            stop: Some(stop),
            checker: Some(checker),
        })
    }

    /// A read handle meeting `consistency`, from a healthy node chosen by the balancing policy;
    /// failing nodes are skipped (failover) and the primary serves when no replica can.
    ///
    /// # Errors
    /// [`crate::Error::Replica`]: [`ReplicaError::NoneAvailable`] when no handle becomes free
    /// within [`PoolOptions::acquire_timeout`]; [`ReplicaError::AheadOfSource`] for
    /// [`Consistency::AtLeast`] an LSN the primary has not made visible yet.
    pub fn read(&self, consistency: Consistency) -> Result<PoolRead<'_>> {
        self.read_routed(None, consistency)
    }

    /// [`ReadPool::read`] for reads about one org: under round robin, the pass over the replicas
    /// starts at one chosen by the org id (not at this thread's position), so every read of an
    /// org goes to the same healthy replica and each replica's cache holds its share of the orgs
    /// instead of all of them. Failover, consistency and spilling are as for `read`; least-lag
    /// balancing ignores the org.
    ///
    /// # Errors
    /// As [`ReadPool::read`].
    pub fn read_for(&self, org: OrgId, consistency: Consistency) -> Result<PoolRead<'_>> {
        self.read_routed(Some(org), consistency)
    }

    fn read_routed(&self, org: Option<OrgId>, consistency: Consistency) -> Result<PoolRead<'_>> {
        let inner = &*self.inner;
        let handle = inner.acquire()?;
        match inner.route(org, consistency) {
            Ok(node) => Ok(PoolRead {
                node,
                consistency,
                pool: inner,
                handle,
            }),
            Err(e) => {
                inner.release(handle);
                Err(e)
            }
        }
    }

    /// Runs a typed query through the pool.
    ///
    /// # Errors
    /// What [`ReadPool::read`] returns, then what [`crate::Db::query`] returns.
    pub fn query(
        &self,
        query: &crate::query::Query,
        consistency: Consistency,
    ) -> Result<crate::query::QueryOutput> {
        self.read(consistency)?.query(query)
    }

    /// Runs the health checks now (the checker also runs them every `health_interval`).
    pub fn check_health(&self) {
        self.inner.check_health();
    }

    /// Figures per node and for the pool.
    pub fn status(&self) -> PoolStatus {
        let inner = &*self.inner;
        let primary_lsn = inner.primary.visible_lsn().0;
        let mut nodes = vec![NodeStatus {
            name: "primary".into(),
            primary: true,
            applied_lsn: Lsn(primary_lsn),
            lag_lsn: 0,
            lag_ms: 0.0,
            healthy: true,
            why_unhealthy: None,
            breaker: BreakerState::Closed,
            queries: inner.primary_served.sum(),
            busy_reroutes: inner.primary_spilled.sum(),
            failovers: 0,
            throttled_groups: 0,
            last_error: None,
        }];
        for node in &inner.nodes {
            let r = &node.replica;
            nodes.push(NodeStatus {
                name: r.name().to_string(),
                primary: false,
                applied_lsn: r.applied_lsn(),
                lag_lsn: r.lag_lsn(),
                lag_ms: r.lag_time().as_secs_f64() * 1e3,
                healthy: node.healthy.load(Ordering::Relaxed),
                why_unhealthy: node.why_unhealthy.lock().clone(),
                breaker: node.breaker.lock().state,
                queries: r.queries(),
                busy_reroutes: node.busy_reroutes.sum(),
                failovers: node.failovers.load(Ordering::Relaxed),
                throttled_groups: r.throttled().0,
                last_error: r.last_error(),
            });
        }
        PoolStatus {
            primary_lsn: Lsn(primary_lsn),
            handles_in_use: inner.handles.in_use(),
            handles_open: inner
                .handles
                .opened()
                .max(inner.options.min_handles)
                .min(inner.options.max_handles.max(1)),
            min_handles: inner.options.min_handles,
            max_handles: inner.options.max_handles,
            balancing: inner.options.balancing,
            nodes,
        }
    }
}

impl Drop for ReadPool {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(h) = self.checker.take() {
            let _ = h.join();
        }
    }
}

impl Inner {
    /// Takes a handle (its stripe); waits up to the acquire timeout when all `max_handles` are
    /// in use.
    fn acquire(&self) -> Result<usize> {
        if let Some(handle) = self.handles.take() {
            return Ok(handle);
        }
        // A timeout too long for a deadline is no deadline.
        let deadline = Instant::now().checked_add(self.options.acquire_timeout);
        let mut guard = self.wait_lock.lock();
        self.waiters.fetch_add(1, Ordering::SeqCst);
        let taken = loop {
            if let Some(handle) = self.handles.take() {
                break Some(handle);
            }
            match deadline {
                Some(deadline) => {
                    if self.released.wait_until(&mut guard, deadline).timed_out() {
                        break self.handles.take();
                    }
                }
                None => self.released.wait(&mut guard),
            }
        };
        self.waiters.fetch_sub(1, Ordering::SeqCst);
        taken.ok_or_else(|| {
            ReplicaError::NoneAvailable(format!(
                "all {} handles in use for {:?}",
                self.options.max_handles, self.options.acquire_timeout
            ))
            .into()
        })
    }

    fn release(&self, handle: usize) {
        self.handles.give_back(handle);
        if self.waiters.load(Ordering::SeqCst) > 0 {
            let _guard = self.wait_lock.lock();
            self.released.notify_one();
        }
    }

    fn check_health(&self) {
        let o = &self.options;
        for node in &self.nodes {
            let r = &node.replica;
            let why = if let Some(e) = r.last_error() {
                Some(format!("apply error: {e}"))
            } else if r.stalled_for() > o.stall_after {
                Some(format!("stalled for {:?}", r.stalled_for()))
            } else if r.lag_lsn() > o.max_lag_lsn {
                Some(format!("{} batches behind", r.lag_lsn()))
            } else if r.lag_time() > o.max_lag_time {
                Some(format!("{:?} behind", r.lag_time()))
            } else {
                None
            };
            let mut why_unhealthy = node.why_unhealthy.lock();
            let was_healthy = node.healthy.swap(why.is_none(), Ordering::Relaxed);
            match (&why, was_healthy) {
                (Some(reason), true) => tracing::warn!(
                    replica = r.name(),
                    reason = %reason,
                    lag_lsn = r.lag_lsn(),
                    "replica unhealthy: out of the pool's rotation"
                ),
                (None, false) => tracing::info!(
                    replica = r.name(),
                    "replica healthy again: back in the pool's rotation"
                ),
                _ => {}
            }
            *why_unhealthy = why;
        }
    }

    /// Whether the breaker lets a read through now (moving Open → HalfOpen after the cooldown).
    fn breaker_allows(&self, node: &Node) -> bool {
        if node.breaker_clean.load(Ordering::Acquire) {
            return true;
        }
        let mut b = node.breaker.lock();
        match b.state {
            BreakerState::Closed | BreakerState::HalfOpen => true,
            BreakerState::Open => {
                if b.opened_at
                    .is_some_and(|t| t.elapsed() >= self.options.breaker_cooldown)
                {
                    b.state = BreakerState::HalfOpen;
                    true
                } else {
                    false
                }
            }
        }
    }

    fn record_result(&self, node: &Node, ok: bool) {
        if ok && node.breaker_clean.load(Ordering::Acquire) {
            return;
        }
        let mut b = node.breaker.lock();
        if ok {
            if b.state != BreakerState::Closed {
                tracing::info!(
                    replica = node.replica.name(),
                    "replica reads succeed again: circuit breaker closed"
                );
            }
            b.state = BreakerState::Closed;
            b.failures = 0;
            b.opened_at = None;
            node.breaker_clean.store(true, Ordering::Release);
        } else {
            node.breaker_clean.store(false, Ordering::Release);
            b.failures = b.failures.saturating_add(1);
            if b.state == BreakerState::HalfOpen || b.failures >= self.options.breaker_failures {
                if b.state != BreakerState::Open {
                    tracing::warn!(
                        replica = node.replica.name(),
                        failures = b.failures,
                        cooldown_ms = self.options.breaker_cooldown.as_millis() as u64,
                        "replica reads failing: circuit breaker open"
                    );
                }
                b.state = BreakerState::Open;
                b.opened_at = Some(Instant::now());
            }
        }
    }

    /// Whether a node is in rotation (healthy, breaker letting reads through); a node that is
    /// not counts a failover.
    fn usable(&self, node: &Node) -> bool {
        let usable = node.healthy.load(Ordering::Relaxed) && self.breaker_allows(node);
        if !usable {
            node.failovers.fetch_add(1, Ordering::Relaxed);
        }
        usable
    }

    /// The read path of `Any` and `BoundedStaleness`: the first node in the policy's order that
    /// is in rotation and `fits`. Round robin needs no allocation and no shared counter (each
    /// thread keeps its own position).
    fn first_fit(&self, org: Option<OrgId>, fits: impl Fn(&Replica) -> bool) -> Option<usize> {
        match self.options.balancing {
            Balancing::RoundRobin => {
                let n = self.nodes.len();
                let start = self.round_robin_start(org);
                (0..n).find_map(|i| {
                    let at = start.wrapping_add(i) % n;
                    if !self.usable(&self.nodes[at]) {
                        return None;
                    }
                    self.try_nodes(&[at], &fits)
                })
            }
            Balancing::LeastLag => self.try_nodes(&self.candidates(org), fits),
        }
    }

    /// Replicas in rotation, in the order the balancing policy prefers.
    fn candidates(&self, org: Option<OrgId>) -> Vec<usize> {
        let n = self.nodes.len();
        let mut order: Vec<usize> = match self.options.balancing {
            Balancing::RoundRobin => {
                let start = self.round_robin_start(org);
                (0..n).map(|i| start.wrapping_add(i) % n.max(1)).collect()
            }
            Balancing::LeastLag => {
                let mut v: Vec<usize> = (0..n).collect();
                v.sort_by_key(|&i| std::cmp::Reverse(self.nodes[i].replica.applied_lsn()));
                v
            }
        };
        order.retain(|&i| self.usable(&self.nodes[i]));
        order
    }

    /// Where a round-robin pass starts: at the org's replica for a keyed read, else at this
    /// thread's position.
    fn round_robin_start(&self, org: Option<OrgId>) -> usize {
        match org {
            // The balance shards' hash: consecutive ids spread evenly over the replicas.
            Some(org) => crate::state::balance::shard_of(org, u32::MAX),
            None => next_round_robin(self.options.affinity_reads),
        }
    }

    /// One read on the primary (counted).
    fn read_primary<T>(&self, kind: ReadKind, read: impl FnOnce(&State) -> T) -> T {
        self.primary_served.add(1);
        read(&self.primary.state_for(kind))
    }

    /// Whether a replica meets a read's consistency now.
    fn fits(&self, consistency: Consistency, replica: &Replica) -> bool {
        match consistency {
            Consistency::Latest => false,
            Consistency::Any => true,
            Consistency::BoundedStaleness(bound) => replica.lag_time() <= bound,
            Consistency::AtLeast(lsn, _) => replica.applied_lsn() >= lsn,
        }
    }

    /// A read on a chosen replica failed: it counts against the breaker, and the read goes on
    /// elsewhere (a failover).
    fn failed_read(&self, node: &Node) {
        self.record_result(node, false);
        node.failovers.fetch_add(1, Ordering::Relaxed);
    }

    /// The first candidate that satisfies `fits` and serves reads; refusals count against
    /// breakers.
    fn try_nodes(&self, order: &[usize], fits: impl Fn(&Replica) -> bool) -> Option<usize> {
        for &i in order {
            let node = &self.nodes[i];
            if !fits(&node.replica) {
                node.failovers.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            if node.replica.serves_reads() {
                self.record_result(node, true);
                return Some(i);
            }
            self.failed_read(node);
        }
        None
    }

    /// The node a read goes to: a replica's index, or `None` for the primary (which serves when
    /// no replica can).
    fn route(&self, org: Option<OrgId>, consistency: Consistency) -> Result<Option<usize>> {
        match consistency {
            Consistency::Latest => Ok(None),
            Consistency::Any => match self.first_fit(org, |_| true) {
                Some(found) => Ok(Some(found)),
                None => Ok(None),
            },
            Consistency::BoundedStaleness(bound) => {
                match self.first_fit(org, |r| r.lag_time() <= bound) {
                    Some(found) => Ok(Some(found)),
                    None => Ok(None),
                }
            }
            Consistency::AtLeast(lsn, timeout) => {
                let primary_lsn = self.primary.visible_lsn();
                if lsn > primary_lsn {
                    return Err(Error::Replica(ReplicaError::AheadOfSource {
                        asked: lsn,
                        source_lsn: primary_lsn,
                    }));
                }
                let order = self.candidates(org);
                if let Some(found) = self.try_nodes(&order, |r| r.applied_lsn() >= lsn) {
                    return Ok(Some(found));
                }
                // Wait on the closest healthy replica, then fall back to the primary.
                if let Some(&best) = order
                    .iter()
                    .max_by_key(|&&i| self.nodes[i].replica.applied_lsn())
                {
                    if self.nodes[best].replica.wait_for(lsn, timeout) {
                        if let Some(found) = self.try_nodes(&[best], |r| r.applied_lsn() >= lsn) {
                            return Ok(Some(found));
                        }
                    }
                }
                Ok(None)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::next_round_robin;

    #[test]
    fn round_robin_keeps_a_thread_on_one_node_for_its_affinity_then_moves_on() {
        let starts: Vec<Vec<usize>> = (0..2)
            .map(|_| {
                std::thread::spawn(|| (0..12).map(|_| next_round_robin(4)).collect())
                    .join()
                    .unwrap()
            })
            .collect();
        for s in &starts {
            // Four reads per node, then the next one.
            assert_eq!(s[0], s[3]);
            assert_eq!(s[4], s[0].wrapping_add(1));
            assert_eq!(s[8], s[0].wrapping_add(2));
        }
        // Threads start on different nodes.
        assert_ne!(starts[0][0], starts[1][0]);
        // Affinity 1: every read moves on.
        let one: Vec<usize> = (0..3).map(|_| next_round_robin(1)).collect();
        assert_eq!(one[1], one[0].wrapping_add(1));
        assert_eq!(one[2], one[0].wrapping_add(2));
    }
}
