//! `folio bench`: hotel-ledger-v1 on a fresh database, timed until the data is durable and the
//! background work it caused (the final checkpoint) has finished.

mod memory;
mod stall;
pub use memory::proc_status_bytes;
pub use stall::{checkpoints, CheckpointBench, CheckpointBenchReport, Latency};

use crate::{Error, Result};
use folio::{Batch, BusinessDay, Currency, Op, OrgId};
use folio::{Consistency, Db, Durability, Options, PoolOptions, ReadPool, Ticket};
use folio_workload::ingest::{auto_org, entry_of};
use folio_workload::{instances, Generator, Params, QueryInstance};
use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

#[derive(Clone, Debug)]
pub struct BenchConfig {
    pub params: Params,
    /// Events per batch.
    pub batch: usize,
    /// Threads recording concurrently.
    pub writers: usize,
    /// Batches each writer keeps in flight (1 = wait for each batch before sending the next).
    pub in_flight: usize,
    pub durability: Durability,
    /// Where the database goes; must not exist yet. A temporary directory when `None`.
    pub dir: Option<PathBuf>,
    /// Keep the database afterwards.
    pub keep: bool,
    /// Closing-balance reads to time after reopening.
    pub reads: usize,
    /// Run the background freezer (`Options::auto_freeze`) while recording and reading.
    pub freeze: bool,
    /// `Options::memory_budget`; the engine's default when `None`.
    pub memory_budget: Option<u64>,
}

impl Default for BenchConfig {
    fn default() -> BenchConfig {
        BenchConfig {
            params: Params::default(),
            batch: 1000,
            writers: 1,
            in_flight: 1,
            durability: Durability::Sync,
            dir: None,
            keep: false,
            freeze: false,
            memory_budget: None,
            reads: 10_000,
        }
    }
}

/// Measured figures.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct BenchReport {
    pub events: u64,
    pub orgs: u64,
    /// hotel-ledger-v1's years of history (1: the single-year stream).
    pub years: u64,
    pub batch: usize,
    pub writers: usize,
    pub in_flight: usize,
    pub durability: String,
    /// Recording every batch durably plus the final checkpoint.
    pub seconds: f64,
    pub events_per_sec: f64,
    /// Recording alone (acknowledged, durable), without the final checkpoint.
    pub record_seconds: f64,
    pub checkpoint_seconds: f64,
    pub bytes_on_disk: u64,
    pub log_bytes: u64,
    pub store_bytes: u64,
    pub bytes_per_event: f64,
    pub reopen_seconds: f64,
    /// After reopening: one org's closing balance read (which loads that org's chunk of the
    /// store), then a snapshot (which loads every other org).
    pub first_read_seconds: f64,
    pub load_all_seconds: f64,
    /// With `--freeze`: after reopening, the freezer's backlog worked off before the reads.
    pub freeze_catch_up_seconds: f64,
    /// With `--freeze`: files the background freezer put in force while the workload recorded,
    /// and the longest and mean time one of those installs held the state's write lock
    /// (writers and readers wait for it), milliseconds (`Db::freezer_stats`).
    pub freeze_installs: u64,
    pub freeze_lock_held_max_ms: f64,
    pub freeze_lock_held_mean_ms: f64,
    /// Batches that waited for the freezer to spill (writer backpressure) and their total
    /// wait, milliseconds.
    pub freeze_writer_waits: u64,
    pub freeze_writers_waited_ms: f64,
    /// Batches delayed before they were queued (writers paced as the rows in memory near the
    /// level where they wait) and their total delay, milliseconds.
    pub freeze_writer_paces: u64,
    pub freeze_writers_paced_ms: f64,
    /// Org blocks of the files put in force: built from rows, copied from the version before.
    pub freeze_blocks_built: u64,
    pub freeze_blocks_copied: u64,
    pub closing_read_p50_us: f64,
    pub closing_read_p99_us: f64,
    pub closing_read_max_us: f64,
    /// hotel-ledger-v1 Q1–Q5 after reopening (10,000 instances of Q1–Q4, 100 of Q5).
    pub queries: Vec<QueryTiming>,
    /// The same instances run again at once: the pages and frozen blocks they touch are warm
    /// and checked (`queries` is their first touch after reopening).
    pub queries_warm: Vec<QueryTiming>,
    pub data_dir: String,
    /// Largest RssAnon of the process over the run (generation, ingest, reopen, reads), sampled
    /// every 20 ms: the engine's own memory, without file-backed pages.
    pub peak_rss_anon_bytes: u64,
    /// The kernel's peak resident set of the process (VmHWM, file-backed pages included).
    pub vm_hwm_bytes: u64,
    /// Months frozen when the reads ran, their files' bytes, and rows still in memory.
    pub frozen_months: usize,
    pub frozen_bytes: u64,
    pub memory_rows: u64,
    /// The engine's account of its resident memory (`Db::memory`) when recording ended, and
    /// after the reads of the reopened database.
    pub engine_memory_ingest: EngineMemory,
    pub engine_memory_reads: EngineMemory,
    /// The process's RssAnon and RssFile (file-backed pages: mapped frozen files, the
    /// binary) after the reads.
    pub rss_anon_reads_bytes: u64,
    pub rss_file_reads_bytes: u64,
}

/// [`folio::MemoryReport`] in bytes by kind.
#[derive(Clone, Copy, Debug, Default, serde::Serialize)]
pub struct EngineMemory {
    pub orgs: u64,
    pub entry_ids: u64,
    pub rows: u64,
    pub balances: u64,
    pub frozen: u64,
    pub patches: u64,
    pub store_cache: u64,
    pub accounted: u64,
    pub budget: u64,
    pub rows_in_memory: u64,
    /// How long taking the account took (after the reads only), milliseconds.
    pub account_ms: f64,
}

impl From<folio::MemoryReport> for EngineMemory {
    fn from(m: folio::MemoryReport) -> EngineMemory {
        EngineMemory {
            orgs: m.engine.orgs,
            entry_ids: m.engine.entry_ids,
            rows: m.engine.rows,
            balances: m.engine.balances,
            frozen: m.engine.frozen,
            patches: m.engine.patches,
            store_cache: m.store_cache,
            accounted: m.accounted(),
            budget: m.budget,
            rows_in_memory: m.engine.row_count,
            account_ms: 0.0,
        }
    }
}

/// Latency of one query kind.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct QueryTiming {
    pub query: String,
    pub count: usize,
    pub p50_us: f64,
    pub p99_us: f64,
    pub max_us: f64,
}

/// Times the first `count` instances of query kind `kind`, one consistent view per query.
fn time_queries(db: &Db, params: &Params, kind: u8, count: usize) -> Result<QueryTiming> {
    let mut times = Vec::with_capacity(count);
    for q in instances(kind, params, count)? {
        let t = Instant::now();
        let view = db.snapshot();
        let answer = folio_workload::run::execute(&view, &q)?;
        drop(view);
        times.push(t.elapsed().as_secs_f64() * 1e6);
        std::hint::black_box(answer);
    }
    times.sort_by(f64::total_cmp);
    Ok(QueryTiming {
        query: format!("Q{kind}"),
        count,
        p50_us: percentile(&times, 50.0),
        p99_us: percentile(&times, 99.0),
        max_us: times.last().copied().unwrap_or(0.0),
    })
}

/// Total size of the regular files under `dir`.
pub fn dir_bytes(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_bytes(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

fn batches(params: &Params, batch: usize) -> Result<Vec<Batch>> {
    // A capacity hint only: the events are generated (and counted) below.
    let hint = usize::try_from(params.events / batch.max(1) as u64).unwrap_or(usize::MAX);
    let mut out = Vec::with_capacity(hint.min(1 << 20));
    let mut ops = Vec::with_capacity(batch);
    for event in Generator::new(*params)? {
        ops.push(Op::Post(entry_of(&event)));
        if ops.len() == batch {
            out.push(Batch::from(std::mem::replace(
                &mut ops,
                Vec::with_capacity(batch),
            )));
        }
    }
    if !ops.is_empty() {
        out.push(Batch::from(ops));
    }
    Ok(out)
}

/// The nearest-rank percentile `p` of sorted values (0 when there are none).
fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    // Less a hair, so that a rank that is whole but not exact in binary (99.9 % of 1,000 is
    // 999.0000000000001 in f64) is not rounded up to the next value.
    let rank = ((p / 100.0) * sorted.len() as f64 - 1e-9).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Runs the benchmark; `progress` is called with the number of events acknowledged so far.
pub fn run(config: &BenchConfig, progress: &(dyn Fn(u64) + Sync)) -> Result<BenchReport> {
    config
        .params
        .validate()
        .map_err(|e| Error::InvalidArgument(e.to_string()))?;
    if config.batch == 0 || config.writers == 0 || config.in_flight == 0 {
        return Err(Error::InvalidArgument(
            "batch, writers and in-flight must be at least 1".into(),
        ));
    }
    let dir = match &config.dir {
        Some(d) => d.clone(),
        None => std::env::temp_dir().join(format!("folio-bench-{}", std::process::id())),
    };
    if dir.exists() {
        return Err(folio::Error::AlreadyExists { path: dir }.into());
    }
    let (result, peak_rss_anon) = memory::Rss::around(|| run_in(config, &dir, progress));
    let result = result.map(|report| BenchReport {
        peak_rss_anon_bytes: peak_rss_anon,
        vm_hwm_bytes: memory::proc_status_bytes("VmHWM:").unwrap_or(0),
        ..report
    });
    if !config.keep {
        let _ = std::fs::remove_dir_all(&dir);
    }
    result
}

fn run_in(
    config: &BenchConfig,
    dir: &Path,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<BenchReport> {
    let mut options = Options::default()
        .durability(config.durability)
        .auto_freeze(config.freeze);
    if let Some(bytes) = config.memory_budget {
        options = options.memory_budget(bytes);
    }
    let db = Db::open_with(dir, options.clone())?;
    register_orgs(&db, config.params.orgs)?;
    db.checkpoint()?;
    let Recording {
        record_seconds,
        seconds,
        memory: engine_memory_ingest,
        freezer,
    } = record(db, config, progress)?;
    let log_bytes = dir_bytes(&dir.join(folio::WAL_DIR));
    let bytes_on_disk = dir_bytes(dir);
    let reads = time_reads(dir, options, config)?;
    let events = config.params.events;
    Ok(BenchReport {
        events,
        orgs: config.params.orgs,
        years: config.params.years,
        batch: config.batch,
        writers: config.writers,
        in_flight: config.in_flight,
        durability: format!("{:?}", config.durability),
        seconds,
        events_per_sec: events as f64 / seconds,
        record_seconds,
        checkpoint_seconds: seconds - record_seconds,
        bytes_on_disk,
        log_bytes,
        store_bytes: bytes_on_disk - log_bytes,
        bytes_per_event: bytes_on_disk as f64 / events.max(1) as f64,
        reopen_seconds: reads.reopen_seconds,
        first_read_seconds: reads.first_read_seconds,
        load_all_seconds: reads.load_all_seconds,
        freeze_catch_up_seconds: reads.freeze_catch_up_seconds,
        freeze_installs: freezer.installs,
        freeze_lock_held_max_ms: freezer.lock_held_max.as_secs_f64() * 1e3,
        freeze_lock_held_mean_ms: freezer.lock_held_total.as_secs_f64() * 1e3
            / freezer.installs.max(1) as f64,
        freeze_writer_waits: freezer.writer_waits,
        freeze_writers_waited_ms: freezer.writers_waited.as_secs_f64() * 1e3,
        freeze_writer_paces: freezer.writer_paces,
        freeze_writers_paced_ms: freezer.writers_paced.as_secs_f64() * 1e3,
        freeze_blocks_built: freezer.blocks_built,
        freeze_blocks_copied: freezer.blocks_copied,
        closing_read_p50_us: percentile(&reads.closing_us, 50.0),
        closing_read_p99_us: percentile(&reads.closing_us, 99.0),
        closing_read_max_us: reads.closing_us.last().copied().unwrap_or(0.0),
        queries: reads.queries,
        queries_warm: reads.queries_warm,
        data_dir: dir.display().to_string(),
        peak_rss_anon_bytes: 0,
        vm_hwm_bytes: 0,
        frozen_months: reads.months.iter().filter(|m| m.file.is_some()).count(),
        frozen_bytes: reads
            .months
            .iter()
            .filter_map(|m| m.file)
            .map(|f| f.2)
            .sum(),
        memory_rows: reads.months.iter().map(|m| m.memory_rows).sum(),
        engine_memory_ingest,
        engine_memory_reads: reads.memory,
        rss_anon_reads_bytes: reads.rss_anon,
        rss_file_reads_bytes: reads.rss_file,
    })
}

/// Registers orgs `1..=orgs` (UTC, opening balance 0, USD), 10,000 a batch.
pub fn register_orgs(db: &Db, orgs: u64) -> folio::Result<()> {
    let orgs: Vec<Op> = (1..=orgs)
        .map(|id| Op::RegisterOrg(auto_org(OrgId(id), Currency::USD)))
        .collect();
    for chunk in orgs.chunks(10_000) {
        db.record(Batch::from(chunk.to_vec()))?;
    }
    Ok(())
}

/// Wall times of recording the workload, from the first batch sent.
struct Recording {
    /// Until every batch is acknowledged (durable).
    record_seconds: f64,
    /// Until the database is closed (its final checkpoint written) as well.
    seconds: f64,
    /// The engine's account when every batch was acknowledged.
    memory: EngineMemory,
    /// What the background freezer's installs cost while the workload recorded.
    freezer: folio::FreezerStats,
}

/// Records the workload from `config.writers` threads, then closes the database.
///
/// The events are generated on the fly, by a producer thread a bounded queue ahead of the
/// writers (a few hundred batches), so the benchmark's own memory does not grow with the
/// stream: 100,000,000 events never sit in memory at once.
fn record(db: Db, config: &BenchConfig, progress: &(dyn Fn(u64) + Sync)) -> Result<Recording> {
    let mut generator = Generator::new(config.params)?;
    let (tx, work) = crossbeam::channel::bounded::<Batch>(AHEAD_BATCHES);
    let acked = AtomicUsize::new(0);
    let started = Instant::now();
    let stop = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|scope| -> Result<()> {
        let batch = config.batch;
        let stop = &stop;
        scope.spawn(move || {
            let mut ops = Vec::with_capacity(batch);
            for event in generator.by_ref() {
                if stop.load(Ordering::Relaxed) {
                    return;
                }
                ops.push(Op::Post(entry_of(&event)));
                if ops.len() == batch {
                    let full = std::mem::replace(&mut ops, Vec::with_capacity(batch));
                    if tx.send(Batch::from(full)).is_err() {
                        return;
                    }
                }
            }
            if !ops.is_empty() {
                let _ = tx.send(Batch::from(ops));
            }
        });
        let handles: Vec<_> = (0..config.writers)
            .map(|_| scope.spawn(|| writer(&db, &work, &acked, config, progress)))
            .collect();
        let joined: Vec<_> = handles.into_iter().map(|h| h.join()).collect();
        // A writer that failed leaves batches unsent: stop the producer and unblock it.
        stop.store(true, Ordering::Relaxed);
        while work.try_recv().is_ok() {}
        for result in joined {
            result.map_err(|_| Error::InvalidArgument("writer thread panicked".into()))??;
        }
        Ok(())
    })?;
    let record_seconds = started.elapsed().as_secs_f64();
    let memory = db.memory().into();
    let freezer = db.freezer_stats();
    db.close()?;
    let seconds = started.elapsed().as_secs_f64();
    Ok(Recording {
        record_seconds,
        seconds,
        memory,
        freezer,
    })
}

/// What reading the recorded database back measured.
struct Reads {
    reopen_seconds: f64,
    first_read_seconds: f64,
    load_all_seconds: f64,
    freeze_catch_up_seconds: f64,
    /// Closing-balance reads, sorted microseconds.
    closing_us: Vec<f64>,
    queries: Vec<QueryTiming>,
    queries_warm: Vec<QueryTiming>,
    months: Vec<folio::MonthStatus>,
    memory: EngineMemory,
    rss_anon: u64,
    rss_file: u64,
}

/// Reopens the database and times closing-balance reads and Q1–Q5.
fn time_reads(dir: &Path, options: Options, config: &BenchConfig) -> Result<Reads> {
    let reopen = Instant::now();
    let db = Db::open_with(dir, options)?;
    let reopen_seconds = reopen.elapsed().as_secs_f64();
    // Orgs load as reads need them: one org's read, then every org.
    let first = Instant::now();
    if let Some(QueryInstance::Q1 { org, day }) = instances(1, &config.params, 1)?.first() {
        std::hint::black_box(db.closing_with_cost(OrgId(*org), BusinessDay::from_days(*day)?)?);
    }
    let first_read_seconds = first.elapsed().as_secs_f64();
    let load_all = Instant::now();
    drop(db.snapshot());
    let load_all_seconds = load_all.elapsed().as_secs_f64();
    // With the freezer on, its backlog is worked off first (as the background freezer would,
    // step by step), so the reads measure the steady state, not reads racing the freezer for
    // the two cores and its write lock; how long that took is reported.
    let catch_up = Instant::now();
    if config.freeze {
        for _ in 0..FREEZE_CATCH_UP_STEPS {
            if db.freeze_step()?.frozen.is_empty() {
                break;
            }
        }
    }
    let freeze_catch_up_seconds = catch_up.elapsed().as_secs_f64();
    let mut closing_us = time_closing_reads(&db, config)?;
    let mut queries = Vec::new();
    let mut queries_warm = Vec::new();
    for kind in 1..=5u8 {
        let count = if kind == 5 {
            config.reads / 100
        } else {
            config.reads
        };
        queries.push(time_queries(&db, &config.params, kind, count.max(1))?);
        queries_warm.push(time_queries(&db, &config.params, kind, count.max(1))?);
    }
    let months = db.months()?;
    let account = Instant::now();
    let mut memory: EngineMemory = db.memory().into();
    memory.account_ms = account.elapsed().as_secs_f64() * 1e3;
    let rss_anon = memory::proc_status_bytes("RssAnon:").unwrap_or(0);
    let rss_file = memory::proc_status_bytes("RssFile:").unwrap_or(0);
    db.close()?;
    closing_us.sort_by(f64::total_cmp);
    Ok(Reads {
        reopen_seconds,
        first_read_seconds,
        load_all_seconds,
        freeze_catch_up_seconds,
        closing_us,
        queries,
        queries_warm,
        months,
        memory,
        rss_anon,
        rss_file,
    })
}

/// Times `config.reads` closing-balance reads (the Q1 instances), one snapshot each; unsorted
/// microseconds.
fn time_closing_reads(db: &Db, config: &BenchConfig) -> Result<Vec<f64>> {
    let mut reads = Vec::with_capacity(config.reads);
    for q in instances(1, &config.params, config.reads)? {
        if let QueryInstance::Q1 { org, day } = q {
            let t = Instant::now();
            let view = db.snapshot();
            let (closing, _) = view.closing_with_cost(OrgId(org), BusinessDay::from_days(day)?)?;
            drop(view);
            reads.push(t.elapsed().as_secs_f64() * 1e6);
            std::hint::black_box(closing);
        }
    }
    Ok(reads)
}

/// Most freezer steps run before the reads (each freezes up to four months).
const FREEZE_CATCH_UP_STEPS: usize = 64;

/// Batches the producer of [`record`] keeps ready ahead of the writers.
const AHEAD_BATCHES: usize = 256;

fn writer(
    db: &Db,
    work: &crossbeam::channel::Receiver<Batch>,
    acked: &AtomicUsize,
    config: &BenchConfig,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<()> {
    let mut in_flight: VecDeque<(Ticket, usize)> = VecDeque::new();
    loop {
        let batch = work.recv().ok();
        let done = batch.is_none();
        if let Some(batch) = batch {
            let events = batch.len();
            in_flight.push_back((db.submit(batch)?, events));
        }
        while in_flight.len() >= config.in_flight || (done && !in_flight.is_empty()) {
            let Some((ticket, events)) = in_flight.pop_front() else {
                break;
            };
            ticket.wait()?;
            let total = acked.fetch_add(events, Ordering::Relaxed) + events;
            progress(total as u64);
        }
        if done {
            return Ok(());
        }
    }
}

/// Figures of `folio bench-replicas`.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ReplicaBenchReport {
    pub events: u64,
    pub orgs: u64,
    pub batch: usize,
    pub replicas: usize,
    /// Ingest rate asked for in the lag phase (events/s); 0 = as fast as the primary goes.
    pub rate_limit: u64,
    /// Ingest rate asked for in the read phase (events/s); 0 = as fast as the primary goes.
    pub read_rate_limit: u64,
    /// Flow-control bound of every replica in milliseconds (0 = off).
    pub flow_control_ms: f64,
    /// `PoolOptions::spill_to_primary` of the pool the reads go through.
    pub spill_to_primary: bool,
    /// Whether pooled reads went through `ReadPool::read_for(org, ..)` (each org's reads on one
    /// replica) rather than `ReadPool::read` (this thread's round robin).
    pub pool_reads_by_org: bool,
    /// Group commits delayed by flow control during the whole run, and the time they waited.
    pub throttled_groups: u64,
    pub throttled_ms: f64,
    /// Primary ingest rate during the lag phase (replicas following, no readers).
    pub ingest_events_per_sec: f64,
    /// `Db::snapshot()` with no writer running.
    pub snapshot_idle_p50_ns: f64,
    pub snapshot_idle_p99_ns: f64,
    /// `Db::snapshot()` while the primary ingests.
    pub snapshot_ingest_p50_ns: f64,
    pub snapshot_ingest_p99_ns: f64,
    /// Lag phase (first half of the events, no readers): the age of the oldest batch any
    /// replica had not applied, sampled every 200 µs.
    pub lag_p50_ms: f64,
    pub lag_p99_ms: f64,
    pub lag_max_ms: f64,
    pub lag_samples: usize,
    /// The same, sampled during the read phase (readers compete for the cores).
    pub lag_with_readers_p99_ms: f64,
    /// Closing-balance reads per second during ingest (second half of the events), per
    /// reader-thread count: (threads, direct on the primary, through the pool with
    /// `Consistency::Any`). Direct and pooled slices alternate so both see the same load.
    pub reads_per_sec: Vec<(usize, f64, f64)>,
    /// Per reader-thread count: the share of pooled reads the primary answered (every replica
    /// that could was applying a group; see `PoolOptions::spill_to_primary`).
    pub pooled_primary_share: Vec<(usize, f64)>,
    /// Per reader-thread count: the primary's ingest rate (events/s) during the direct slices and
    /// during the pooled slices (readers and appliers share the cores, so the two differ).
    pub ingest_during_reads: Vec<(usize, f64, f64)>,
    /// Whether ingest was still running when the last read phase ended.
    pub reads_overlapped_ingest: bool,
    /// A replica held back for the whole run and then released, with nothing else running:
    /// events per second it applies while catching up (its apply capacity on this machine).
    /// Held back with `Replica::pause`.
    pub catch_up_events_per_sec: f64,
}

/// Settings of [`replicas`] (`folio bench-replicas`).
#[derive(Clone, Copy, Debug)]
pub struct ReplicaBench {
    /// Events per batch.
    pub batch: usize,
    /// In-process replicas following the primary.
    pub replicas: usize,
    /// Milliseconds per reader-thread count, split between direct and pooled slices.
    pub phase_ms: u64,
    /// Ingest rate of the lag phase in events/s; 0 = the primary's full rate.
    pub rate: u64,
    /// Ingest rate of the read phase in events/s; 0 = the primary's full rate. A fixed rate gives
    /// the direct and the pooled slices the same write load (at the full rate the two kinds of
    /// readers slow the committer differently, so each slice sees a different ingest rate).
    pub read_rate: u64,
    /// Flow-control bound of every replica (`ReplicaOptions::flow_control`).
    pub flow_control: Option<std::time::Duration>,
    /// `PoolOptions::spill_to_primary`.
    pub spill_to_primary: bool,
    /// Pooled reads through `ReadPool::read_for(org, ..)` instead of `ReadPool::read`.
    pub by_org: bool,
}

/// Replica lag, snapshot cost and pool read throughput while the primary ingests the workload
/// at its full batch rate (one writer, fsync per batch, `replicas` in-process replicas).
pub fn replicas(params: &Params, options: &ReplicaBench) -> Result<ReplicaBenchReport> {
    params
        .validate()
        .map_err(|e| Error::InvalidArgument(e.to_string()))?;
    if options.replicas == 0 {
        return Err(Error::InvalidArgument(
            "--replicas must be at least 1".into(),
        ));
    }
    let dir = std::env::temp_dir().join(format!("folio-bench-replicas-{}", std::process::id()));
    if dir.exists() {
        return Err(folio::Error::AlreadyExists { path: dir }.into());
    }
    let result = replicas_in(&dir, params, options);
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn replicas_in(dir: &Path, params: &Params, options: &ReplicaBench) -> Result<ReplicaBenchReport> {
    let rig = ReplicaRig::start(dir, params, options)?;
    let idle = time_snapshots(&rig.db, 200_000);
    let mut work = batches(params, options.batch)?;
    let second = work.split_off(work.len() / 2);
    let lag_events: usize = work.iter().map(|b| b.ops.len()).sum();
    let replayed = lag_events + second.iter().map(|b| b.ops.len()).sum::<usize>();
    let lag = rig.measure_lag(work, options.rate)?;
    let reads = rig.measure_reads(second, params, options)?;
    let catch_up_events_per_sec = rig.catch_up_rate(replayed)?;
    Ok(ReplicaBenchReport {
        events: params.events,
        orgs: params.orgs,
        batch: options.batch,
        replicas: options.replicas,
        rate_limit: options.rate,
        read_rate_limit: options.read_rate,
        flow_control_ms: options.flow_control.map_or(0.0, |d| d.as_secs_f64() * 1e3),
        spill_to_primary: options.spill_to_primary,
        pool_reads_by_org: options.by_org,
        throttled_groups: rig.nodes.iter().map(|r| r.throttled().0).sum(),
        throttled_ms: rig
            .nodes
            .iter()
            .map(|r| r.throttled().1.as_secs_f64() * 1e3)
            .sum(),
        ingest_events_per_sec: lag_events as f64 / lag.ingest_secs,
        snapshot_idle_p50_ns: percentile(&idle, 50.0),
        snapshot_idle_p99_ns: percentile(&idle, 99.0),
        snapshot_ingest_p50_ns: percentile(&lag.busy, 50.0),
        snapshot_ingest_p99_ns: percentile(&lag.busy, 99.0),
        lag_p50_ms: percentile(&lag.lag, 50.0),
        lag_p99_ms: percentile(&lag.lag, 99.0),
        lag_max_ms: lag.lag.last().copied().unwrap_or(0.0),
        lag_samples: lag.lag.len(),
        lag_with_readers_p99_ms: percentile(&reads.lag, 99.0),
        reads_per_sec: reads.reads_per_sec,
        pooled_primary_share: reads.pooled_primary_share,
        ingest_during_reads: reads.ingest_during_reads,
        reads_overlapped_ingest: reads.overlapped,
        catch_up_events_per_sec,
    })
}

/// The primary of `folio bench-replicas`, its replicas and the pool reading from them. The
/// fields drop in the reverse of the order they are created in.
struct ReplicaRig {
    /// Held back for the whole run, then released: its catch-up measures how fast a replica
    /// applies the log when it has the machine to itself.
    catch_up: folio::Replica,
    pool: ReadPool,
    nodes: Vec<Arc<folio::Replica>>,
    db: Arc<Db>,
}

/// The lag phase's figures.
struct LagPhase {
    /// Recording the phase's batches.
    ingest_secs: f64,
    /// Replica lag samples, sorted milliseconds.
    lag: Vec<f64>,
    /// `Db::snapshot()` while the primary ingests, sorted nanoseconds.
    busy: Vec<f64>,
}

/// The read phase's figures; the lists hold one item per reader-thread count (see
/// [`ReplicaBenchReport`]).
#[derive(Default)]
struct ReadPhase {
    /// Replica lag samples, sorted milliseconds.
    lag: Vec<f64>,
    reads_per_sec: Vec<(usize, f64, f64)>,
    pooled_primary_share: Vec<(usize, f64)>,
    ingest_during_reads: Vec<(usize, f64, f64)>,
    /// Whether ingest was still running when the last reads ended.
    overlapped: bool,
}

impl ReplicaRig {
    /// A new primary in `dir` with the workload's orgs, `options.replicas` replicas following
    /// it, the pool over them and the catch-up replica, paused.
    fn start(dir: &Path, params: &Params, options: &ReplicaBench) -> Result<ReplicaRig> {
        let db = Arc::new(Db::open(dir)?);
        register_orgs(&db, params.orgs)?;
        let nodes: Vec<Arc<folio::Replica>> = (1..=options.replicas)
            .map(|i| {
                let replica = folio::ReplicaOptions::default().flow_control(options.flow_control);
                db.replica_with(&format!("r{i}"), replica).map(Arc::new)
            })
            .collect::<folio::Result<_>>()?;
        let pool_options = PoolOptions::default().spill_to_primary(options.spill_to_primary);
        let pool = ReadPool::new(db.clone(), nodes.clone(), pool_options)?;
        let catch_up = db.replica("catch-up")?;
        catch_up.pause();
        Ok(ReplicaRig {
            catch_up,
            pool,
            nodes,
            db,
        })
    }

    /// Lag phase: ingests `work` with the replicas following, nothing else running.
    fn measure_lag(&self, work: Vec<Batch>, rate: u64) -> Result<LagPhase> {
        let done = AtomicBool::new(false);
        let (ingest_secs, lag, busy) = std::thread::scope(|s| {
            let ingest = s.spawn(|| self.ingest(work, rate, &done));
            let sampler = s.spawn(|| self.sample_lag(&done));
            std::thread::sleep(std::time::Duration::from_millis(50));
            let busy = time_snapshots(&self.db, 20_000);
            let secs = ingest.join().expect("ingest thread");
            (secs, sampler.join().expect("sampler thread"), busy)
        });
        Ok(LagPhase {
            ingest_secs: ingest_secs?,
            lag,
            busy,
        })
    }

    /// Read phase: ingests `work` while direct and pooled reads alternate, from 1, 2, 4 and 8
    /// reader threads in turn.
    fn measure_reads(
        &self,
        work: Vec<Batch>,
        params: &Params,
        options: &ReplicaBench,
    ) -> Result<ReadPhase> {
        let done = AtomicBool::new(false);
        let (result, phase) = std::thread::scope(|s| {
            let ingest = s.spawn(|| self.ingest(work, options.read_rate, &done));
            let sampler = s.spawn(|| self.sample_lag(&done));
            let mut phase = ReadPhase::default();
            for threads in [1usize, 2, 4, 8] {
                self.read_with(threads, params.orgs, options, &mut phase);
            }
            phase.overlapped = !done.load(Ordering::SeqCst);
            let result = ingest.join().expect("ingest thread");
            phase.lag = sampler.join().expect("sampler thread");
            (result, phase)
        });
        result?;
        Ok(phase)
    }

    /// Records `work` on the primary at `rate` events/s (0 = as fast as it goes), then sets
    /// `done` (also when a batch fails, so the lag sampler stops); the seconds it took.
    fn ingest(&self, work: Vec<Batch>, rate: u64, done: &AtomicBool) -> Result<f64> {
        let started = Instant::now();
        let mut sent = 0u64;
        let mut recorded = Ok(());
        for b in work {
            pace(rate, started, sent);
            sent += b.ops.len() as u64;
            recorded = self.db.record(b).map(drop);
            if recorded.is_err() {
                break;
            }
        }
        let secs = started.elapsed().as_secs_f64();
        done.store(true, Ordering::SeqCst);
        recorded?;
        Ok(secs)
    }

    /// The age of the oldest batch any replica has not applied, sampled every 200 µs until
    /// `done`; sorted milliseconds.
    fn sample_lag(&self, done: &AtomicBool) -> Vec<f64> {
        let mut lag = Vec::new();
        while !done.load(Ordering::SeqCst) {
            lag.push(
                self.nodes
                    .iter()
                    .map(|r| r.lag_time().as_secs_f64() * 1e3)
                    .fold(0.0, f64::max),
            );
            std::thread::sleep(std::time::Duration::from_micros(200));
        }
        lag.sort_by(f64::total_cmp);
        lag
    }

    /// Times direct and pooled reads from `threads` threads, alternating in slices over
    /// `options.phase_ms`, and adds the figures of this thread count to `phase`.
    fn read_with(&self, threads: usize, orgs: u64, options: &ReplicaBench, phase: &mut ReadPhase) {
        const SLICES: u64 = 4;
        let (db, pool, phase_ms) = (&self.db, &self.pool, options.phase_ms);
        let day = BusinessDay::parse("2024-06-30").expect("date");
        let (mut direct, mut pooled) = (0.0, 0.0);
        let before = self.served();
        let mut batches_during = (0u64, 0u64);
        for _ in 0..SLICES {
            let at = db.visible_lsn().0;
            direct += read_phase(threads, phase_ms / SLICES, orgs, |org| {
                db.balance(org, day).is_ok()
            });
            let mid = db.visible_lsn().0;
            pooled += read_phase(threads, phase_ms / SLICES, orgs, |org| {
                let read = if options.by_org {
                    pool.read_for(org, Consistency::Any)
                } else {
                    pool.read(Consistency::Any)
                };
                read.and_then(|r| r.balance(org, day)).is_ok()
            });
            batches_during.0 += mid - at;
            batches_during.1 += db.visible_lsn().0 - mid;
        }
        let reads = (threads, direct / SLICES as f64, pooled / SLICES as f64);
        phase.reads_per_sec.push(reads);
        let per_sec = |n: u64| (n * options.batch as u64) as f64 / (phase_ms as f64 / 1e3);
        phase.ingest_during_reads.push((
            threads,
            per_sec(batches_during.0),
            per_sec(batches_during.1),
        ));
        let delta: Vec<u64> = self
            .served()
            .iter()
            .zip(&before)
            .map(|(a, b)| a - b)
            .collect();
        let total: u64 = delta.iter().sum();
        let share = delta[0] as f64 / total.max(1) as f64;
        phase.pooled_primary_share.push((threads, share));
    }

    /// Queries each node of the pool has answered so far (the primary first).
    fn served(&self) -> Vec<u64> {
        self.pool.status().nodes.iter().map(|n| n.queries).collect()
    }

    /// Releases the held-back replica, `replayed` events behind the primary: the events per
    /// second it applies while catching up.
    fn catch_up_rate(&self, replayed: usize) -> Result<f64> {
        let target = self.db.visible_lsn();
        let from = self.catch_up.applied_lsn();
        let started = Instant::now();
        self.catch_up.resume();
        if !self
            .catch_up
            .wait_for(target, std::time::Duration::from_secs(600))
        {
            return Err(Error::InvalidArgument(format!(
                "the catch-up replica did not reach LSN {target} from {from} in 600 s"
            )));
        }
        Ok(replayed as f64 / started.elapsed().as_secs_f64())
    }
}

/// Sleeps until `sent` events are due at `rate` events/s since `started` (0 = no limit).
fn pace(rate: u64, started: Instant, sent: u64) {
    if rate > 0 {
        let due = std::time::Duration::from_secs_f64(sent as f64 / rate as f64);
        if let Some(wait) = due.checked_sub(started.elapsed()) {
            std::thread::sleep(wait);
        }
    }
}

/// Times `n` snapshot creations; sorted nanoseconds.
fn time_snapshots(db: &Db, n: usize) -> Vec<f64> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        let snap = db.snapshot();
        let ns = t.elapsed().as_nanos() as f64;
        std::hint::black_box(&snap);
        drop(snap);
        out.push(ns);
    }
    out.sort_by(f64::total_cmp);
    out
}

/// Reads per second over `threads` threads for `ms` milliseconds.
fn read_phase(threads: usize, ms: u64, orgs: u64, read: impl Fn(OrgId) -> bool + Sync) -> f64 {
    let deadline = Instant::now() + std::time::Duration::from_millis(ms);
    let total = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for t in 0..threads {
            let (read, total) = (&read, &total);
            s.spawn(move || {
                let mut n = 0usize;
                let mut org = 1 + t as u64;
                while Instant::now() < deadline {
                    for _ in 0..64 {
                        if read(OrgId(org)) {
                            n += 1;
                        }
                        org = org % orgs + 1;
                    }
                }
                total.fetch_add(n, Ordering::Relaxed);
            });
        }
    });
    total.load(Ordering::Relaxed) as f64 / (ms as f64 / 1e3)
}
