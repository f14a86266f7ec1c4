//! `folio compare`: hotel-ledger-v1 on Folio, PostgreSQL (the partitioned schema of the seed
//! system) and SQLite, in one run on one machine: ingest rates, query latencies, bytes on disk,
//! and every checked answer compared exactly.
//!
//! Each engine sits behind [`Engine`]; the driver feeds all of them the same events in the same
//! phases (batches of `batch`, then `singles` events one per transaction, then `concurrent`
//! events one per transaction from `writers` threads), then times the same query instances and
//! compares the first `check` instances of every kind plus every (org, day) balance row.

mod folio_engine;
mod memory;
mod pg;
mod report;
mod sqlite;

pub use report::{CompareReport, EngineFigures};

use crate::{Error, Result};
use folio_workload::{instances, Generator, Params, QueryInstance, WorkloadEvent};
use serde_json::Value;
use std::path::PathBuf;
use std::time::Instant;

/// What `folio compare` runs.
#[derive(Clone, Debug)]
pub struct CompareOptions {
    pub params: Params,
    /// PostgreSQL connection string (`host=… port=… user=…`), when PostgreSQL takes part.
    pub postgres: Option<String>,
    /// Database PostgreSQL's side is created in (must not exist; dropped at the end).
    pub pg_database: String,
    pub sqlite: bool,
    pub batch: usize,
    /// Events ingested one per transaction by one writer (after the batches).
    pub singles: u64,
    /// Events ingested one per transaction by `writers` concurrent writers (after the singles).
    pub concurrent: u64,
    pub writers: usize,
    /// Timed instances of Q1–Q4 (Q5: a hundredth of it, at least 1).
    pub timed: usize,
    /// Instances of every kind whose answers are compared.
    pub check: usize,
    /// Working directory (Folio's and SQLite's files); must not exist.
    pub dir: PathBuf,
    /// Folio runs its background freezer (`Options::auto_freeze`).
    pub freeze: bool,
    /// Folio's memory budget (`Options::memory_budget`); the engine's default when `None`.
    pub memory_budget: Option<u64>,
}

impl CompareOptions {
    pub fn validate(&self) -> Result<()> {
        self.params
            .validate()
            .map_err(|e| Error::InvalidArgument(e.to_string()))?;
        let tail = self.singles.saturating_add(self.concurrent);
        if tail > self.params.events {
            return Err(Error::InvalidArgument(format!(
                "--singles + --concurrent ({tail}) exceed --events ({})",
                self.params.events
            )));
        }
        if self.batch == 0 || self.writers == 0 {
            return Err(Error::InvalidArgument(
                "--batch and --writers must be at least 1".into(),
            ));
        }
        if self.dir.exists() {
            return Err(folio::Error::AlreadyExists {
                path: self.dir.clone(),
            }
            .into());
        }
        Ok(())
    }
}

/// One (org, day) row of daily totals: (org, day number, revenue, expense, revenue count,
/// expense count).
pub type BalanceRow = (u64, i32, i64, i64, i64, i64);

/// One engine under comparison.
pub(crate) trait Engine: Send {
    fn name(&self) -> &'static str;
    /// Records events in one transaction.
    fn ingest(&mut self, events: &[WorkloadEvent]) -> Result<()>;
    /// Records `events` one per transaction from `writers` threads; `None` when the engine has a
    /// single writer only.
    fn ingest_concurrent(&mut self, events: &[WorkloadEvent], writers: usize)
        -> Result<Option<()>>;
    /// Work the engine does between the ingest and the queries, untimed (Folio with its
    /// freezer on: freezes every month before the freezer's horizon the run has not yet frozen,
    /// so the queries read frozen files as a long-running database would). Returns the months
    /// the engine then holds frozen, when it freezes months at all.
    fn settle(&mut self) -> Result<Option<u64>> {
        Ok(None)
    }
    /// What reads the engine's resident memory while it runs (`None`: not measured).
    fn memory_probe(&mut self) -> Option<memory::Probe> {
        None
    }
    fn answer(&mut self, q: &QueryInstance) -> Result<Value>;
    /// Every daily row with at least one entry, ordered by (org, day).
    fn balances(&mut self) -> Result<Vec<BalanceRow>>;
    /// (bytes of data, bytes of write-ahead log counted separately).
    fn disk(&mut self) -> Result<(u64, u64)>;
    /// Releases everything it created (PostgreSQL: drops its database).
    fn finish(&mut self) -> Result<()>;
}

/// The error of `backend` at `step`.
pub(crate) fn failed(backend: &'static str, step: &str, why: impl std::fmt::Display) -> Error {
    Error::Backend {
        backend,
        step: step.to_string(),
        why: why.to_string(),
    }
}

/// UTC bounds `[start, end)` (epoch seconds) of hotel-ledger-v1 month number `m`, the
/// `(m − 1)`-th calendar month after 2024-01 (1 = 2024-01, 13 = 2025-01): the `occurred_at`
/// range of Q2 and Q5 on the SQL side. Computed with chrono rather than Folio's calendar, which
/// is what the comparison checks.
pub(crate) fn month_bounds(m: u32) -> (i64, i64) {
    (month_start(m), month_start(m.saturating_add(1)))
}

/// Start of month number `m` (`1..`), UTC epoch seconds (0 beyond chrono's calendar).
fn month_start(m: u32) -> i64 {
    let after = m.saturating_sub(1);
    let (year, month) = (2024 + (after / 12) as i32, after % 12 + 1);
    chrono::NaiveDate::from_ymd_opt(year, month, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map_or(0, |t| t.and_utc().timestamp())
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Runs the comparison. Disagreements are in the report (the CLI exits non-zero on any).
pub fn run(options: &CompareOptions, progress: &dyn Fn(&str)) -> Result<CompareReport> {
    options.validate()?;
    let mut engines: Vec<Box<dyn Engine>> = Vec::new();
    // Fail fast on an unreachable server, before anything is written.
    if let Some(conn) = &options.postgres {
        engines.push(Box::new(pg::Postgres::create(conn, &options.pg_database)?));
    }
    let result = std::fs::create_dir_all(&options.dir)
        .map_err(|e| Error::io(&options.dir, e))
        .and_then(|()| run_engines(options, &mut engines, progress));
    // The working directory is scratch: removed whatever happened.
    let _ = std::fs::remove_dir_all(&options.dir);
    let mut cleanup = Ok(());
    for e in &mut engines {
        if let Err(err) = e.finish() {
            cleanup = Err(err);
        }
    }
    let report = result?;
    cleanup?;
    Ok(report)
}

fn run_engines(
    options: &CompareOptions,
    external: &mut Vec<Box<dyn Engine>>,
    progress: &dyn Fn(&str),
) -> Result<CompareReport> {
    let events: Vec<WorkloadEvent> = Generator::new(options.params)?.collect();
    let phases = Phases::split(&events, options);
    let queries: Vec<Vec<QueryInstance>> = (1..=5u8)
        .map(|kind| {
            let count = options.timed_of(kind).max(options.check);
            instances(kind, &options.params, count)
        })
        .collect::<Result<_, _>>()?;

    // Folio first, so its peak memory is measured before anything else grows the process.
    let mut folio = folio_engine::FolioEngine::create(&options.dir.join("folio"), options)?;
    let mut sqlite_engine = if options.sqlite {
        Some(sqlite::Sqlite::create(&options.dir.join("sqlite.db"))?)
    } else {
        None
    };
    let mut all: Vec<&mut dyn Engine> = vec![&mut folio];
    for e in external.iter_mut() {
        all.push(e.as_mut());
    }
    if let Some(s) = sqlite_engine.as_mut() {
        all.push(s);
    }
    let mut runs = Vec::new();
    for engine in all {
        runs.push(run_engine(engine, &phases, &queries, options, progress)?);
    }
    let (compared, disagreements) = compare_runs(&runs, &queries);
    Ok(CompareReport {
        orgs: options.params.orgs,
        events: options.params.events,
        seed: options.params.seed,
        years: options.params.years,
        batch: options.batch,
        singles: options.singles,
        concurrent: options.concurrent,
        writers: options.writers,
        timed: options.timed,
        checked_per_kind: options.check,
        balance_rows: runs[0].balances.len(),
        compared,
        engines: runs.into_iter().map(|r| r.figures).collect(),
        disagreements,
    })
}

/// The events of the three ingest phases, in the order they are recorded.
struct Phases<'a> {
    /// In batches of `batch`.
    batched: &'a [WorkloadEvent],
    /// One per transaction, one writer.
    singles: &'a [WorkloadEvent],
    /// One per transaction, `writers` writers.
    concurrent: &'a [WorkloadEvent],
}

impl<'a> Phases<'a> {
    fn split(events: &'a [WorkloadEvent], options: &CompareOptions) -> Phases<'a> {
        let tail = (options.singles + options.concurrent) as usize;
        let (batched, rest) = events.split_at(events.len() - tail);
        let (singles, concurrent) = rest.split_at(options.singles as usize);
        Phases {
            batched,
            singles,
            concurrent,
        }
    }
}

impl CompareOptions {
    /// Timed instances of query kind `kind` (1..=5): `timed`, and a hundredth of it (at least 1)
    /// for Q5.
    fn timed_of(&self, kind: u8) -> usize {
        if kind == 5 {
            (self.timed / 100).max(1)
        } else {
            self.timed
        }
    }
}

/// What one engine did: its figures, the answers of the first `check` instances of every query
/// kind, and its daily balance rows.
struct EngineRun {
    figures: EngineFigures,
    answers: Vec<Vec<Value>>,
    balances: Vec<BalanceRow>,
}

/// Ingests the phases' events into `engine`, then times the queries and reads back what is
/// compared.
fn run_engine(
    engine: &mut dyn Engine,
    phases: &Phases<'_>,
    queries: &[Vec<QueryInstance>],
    options: &CompareOptions,
    progress: &dyn Fn(&str),
) -> Result<EngineRun> {
    let name = engine.name();
    let probe = engine.memory_probe();
    let (ran, peak_anon) = memory::around(probe, || {
        let rates = ingest(engine, phases, options, progress)?;
        let frozen_months = engine.settle()?;
        let peak_rss = if name == "folio" {
            peak_rss_bytes()
        } else {
            None
        };
        progress(&format!("{name}: queries"));
        let mut latency = Vec::new();
        let mut answers = Vec::new();
        for (kind, list) in (1..=5u8).zip(queries) {
            let (timing, checked) = answer(engine, list, options.timed_of(kind), options.check)?;
            latency.push(timing);
            answers.push(checked);
        }
        Ok::<_, Error>((rates, frozen_months, peak_rss, latency, answers))
    });
    let (rates, frozen_months, peak_rss, latency, answers) = ran?;
    let balances = engine.balances()?;
    let (data, wal) = engine.disk()?;
    Ok(EngineRun {
        figures: EngineFigures {
            engine: name.to_string(),
            ingest_batch_events_per_sec: rates.batch,
            ingest_single_events_per_sec: rates.single,
            ingest_concurrent_events_per_sec: rates.concurrent,
            query_us: latency,
            disk_bytes: data,
            wal_bytes: wal,
            peak_rss_bytes: peak_rss,
            peak_anon_bytes: peak_anon,
            frozen_months,
        },
        answers,
        balances,
    })
}

/// Events per second of the three ingest phases.
struct IngestRates {
    batch: f64,
    single: f64,
    /// `None` for an engine with a single writer only.
    concurrent: Option<f64>,
}

/// Records the phases' events in `engine`, timing each phase.
fn ingest(
    engine: &mut dyn Engine,
    phases: &Phases<'_>,
    options: &CompareOptions,
    progress: &dyn Fn(&str),
) -> Result<IngestRates> {
    let name = engine.name();
    let Phases {
        batched,
        singles,
        concurrent,
    } = *phases;
    progress(&format!(
        "{name}: ingest {} events in batches of {}",
        batched.len(),
        options.batch
    ));
    let t = Instant::now();
    for chunk in batched.chunks(options.batch) {
        engine.ingest(chunk)?;
    }
    let batch = batched.len() as f64 / t.elapsed().as_secs_f64();
    progress(&format!(
        "{name}: {} events one per transaction",
        singles.len()
    ));
    let t = Instant::now();
    ingest_one_by_one(engine, singles)?;
    let single = singles.len() as f64 / t.elapsed().as_secs_f64().max(1e-9);
    progress(&format!(
        "{name}: {} more events one per transaction ({} writers where the engine has them)",
        concurrent.len(),
        options.writers
    ));
    let t = Instant::now();
    let concurrent = match engine.ingest_concurrent(concurrent, options.writers)? {
        Some(()) => Some(concurrent.len() as f64 / t.elapsed().as_secs_f64().max(1e-9)),
        None => {
            // Single writer only: the same events one per transaction, so the final state
            // is the same everywhere.
            ingest_one_by_one(engine, concurrent)?;
            None
        }
    };
    Ok(IngestRates {
        batch,
        single,
        concurrent,
    })
}

/// Records `events` one per transaction.
fn ingest_one_by_one(engine: &mut dyn Engine, events: &[WorkloadEvent]) -> Result<()> {
    for e in events {
        engine.ingest(std::slice::from_ref(e))?;
    }
    Ok(())
}

/// Answers the instances of one query kind: times the first `timed` ones and keeps the answers
/// of the first `check` ones. (p50 µs, p99 µs, instances timed) and the answers kept.
fn answer(
    engine: &mut dyn Engine,
    list: &[QueryInstance],
    timed: usize,
    check: usize,
) -> Result<((f64, f64, usize), Vec<Value>)> {
    let mut times = Vec::with_capacity(timed);
    let mut checked = Vec::with_capacity(check);
    for (i, q) in list.iter().enumerate() {
        if i >= timed && i >= check {
            break;
        }
        let t = Instant::now();
        let a = engine.answer(q)?;
        let us = t.elapsed().as_secs_f64() * 1e6;
        if i < timed {
            times.push(us);
        }
        if i < check {
            checked.push(a);
        }
    }
    times.sort_by(f64::total_cmp);
    let timing = (
        percentile(&times, 50.0),
        percentile(&times, 99.0),
        times.len(),
    );
    Ok((timing, checked))
}

/// Every engine's answers and balance rows against Folio's (the first run's): how many were
/// compared, and every disagreement.
fn compare_runs(runs: &[EngineRun], queries: &[Vec<QueryInstance>]) -> (u64, Vec<String>) {
    let mut disagreements = Vec::new();
    let mut compared = 0u64;
    let folio = &runs[0];
    for other in runs.iter().skip(1) {
        let engine = &other.figures.engine;
        for (kind, list) in other.answers.iter().enumerate() {
            for (i, a) in list.iter().enumerate() {
                compared += 1;
                if *a != folio.answers[kind][i] {
                    disagreements.push(format!(
                        "{} vs folio on {}: {} ≠ {}",
                        engine,
                        queries[kind][i].to_json_line(),
                        a,
                        folio.answers[kind][i]
                    ));
                }
            }
        }
        compared += other.balances.len() as u64;
        if other.balances != folio.balances {
            disagreements.push(format!(
                "{} vs folio: daily balances differ, first: {}",
                engine,
                first_difference(&other.balances, &folio.balances)
            ));
        }
    }
    (compared, disagreements)
}

/// The first pair of rows that differ, or the row counts when one list is a prefix of the other.
fn first_difference(rows: &[BalanceRow], folio: &[BalanceRow]) -> String {
    rows.iter()
        .zip(folio)
        .find(|(a, b)| a != b)
        .map(|(a, b)| format!("{a:?} ≠ {b:?}"))
        .unwrap_or_else(|| format!("{} rows ≠ {} rows", rows.len(), folio.len()))
}

/// The process's peak resident set (VmHWM), when the platform reports it.
fn peak_rss_bytes() -> Option<u64> {
    crate::bench::proc_status_bytes("VmHWM:")
}
