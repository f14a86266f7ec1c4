//! `folio bench-checkpoints`: what checkpoints cost the batches committed while they run.
//!
//! Loads a hotel-ledger-v1 dataset, then writer threads keep recording batches of a second
//! stream of the same workload while one thread takes checkpoints (`Db::checkpoint`) one after
//! the other, `pause` apart. Every batch's commit latency (submit to durable acknowledgement) is
//! kept with its interval, and the batches whose interval overlaps a checkpoint's are reported
//! apart from the others.

use super::memory::{proc_status_bytes, Rss};
use super::{pace, percentile, register_orgs};
use crate::{Error, Result};
use folio::{Batch, Db, Durability, Op, Options};
use folio_workload::ingest::entry_of;
use folio_workload::{Generator, Params};
use parking_lot::Mutex;
use std::collections::VecDeque;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Settings of [`checkpoints`].
#[derive(Clone, Copy, Debug)]
pub struct CheckpointBench {
    /// The dataset loaded before the measured phase.
    pub params: Params,
    /// Events per batch in the measured phase (the load uses batches of 1,000).
    pub batch: usize,
    /// Writer threads of the measured phase, one batch in flight each.
    pub writers: usize,
    /// Events per second over all writers; 0 = as fast as the database goes.
    pub rate: u64,
    /// Time between the end of one checkpoint and the start of the next.
    pub pause: Duration,
    /// Longest measured phase; it also ends when the second stream (as many events as the
    /// dataset) is recorded.
    pub seconds: u64,
}

/// Latencies of one set of batches or checkpoints, in milliseconds.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Latency {
    pub count: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
}

impl Latency {
    fn of(mut ms: Vec<f64>) -> Latency {
        ms.sort_by(f64::total_cmp);
        Latency {
            count: ms.len(),
            p50_ms: percentile(&ms, 50.0),
            p99_ms: percentile(&ms, 99.0),
            p999_ms: percentile(&ms, 99.9),
            max_ms: ms.last().copied().unwrap_or(0.0),
        }
    }
}

/// Figures of `folio bench-checkpoints`.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct CheckpointBenchReport {
    pub orgs: u64,
    pub events: u64,
    pub seed: u64,
    pub batch: usize,
    pub writers: usize,
    pub rate_limit: u64,
    pub pause_ms: u64,
    /// Loading the dataset (batches of 1,000, no checkpoint) and the checkpoint after it.
    pub load_seconds: f64,
    pub load_checkpoint_ms: f64,
    /// The measured phase: events recorded, its length and rate.
    pub measured_events: u64,
    pub measured_seconds: f64,
    pub measured_events_per_sec: f64,
    /// Checkpoints taken during the measured phase: wall time of each `Db::checkpoint`.
    pub checkpoints: Latency,
    /// Values the measured phase's checkpoints wrote (median per checkpoint).
    pub checkpoint_values_p50: usize,
    /// Commit latency of the batches whose [submit, acknowledgement] interval overlaps a
    /// checkpoint's, and of the others.
    pub overlapping: Latency,
    pub not_overlapping: Latency,
    /// Largest RssAnon of the process, sampled every 20 ms: over the whole run, and over the
    /// measured phase alone.
    pub peak_rss_anon_bytes: u64,
    pub measured_peak_rss_anon_bytes: u64,
    /// The kernel's peak resident set (VmHWM, file-backed pages included).
    pub vm_hwm_bytes: u64,
}

/// Runs the benchmark in a temporary directory, removed afterwards.
pub fn checkpoints(config: &CheckpointBench) -> Result<CheckpointBenchReport> {
    config
        .params
        .validate()
        .map_err(|e| Error::InvalidArgument(e.to_string()))?;
    if config.batch == 0 || config.writers == 0 || config.seconds == 0 {
        return Err(Error::InvalidArgument(
            "batch, writers and seconds must be at least 1".into(),
        ));
    }
    let dir = std::env::temp_dir().join(format!("folio-bench-checkpoints-{}", std::process::id()));
    if dir.exists() {
        return Err(folio::Error::AlreadyExists { path: dir }.into());
    }
    let rss = Rss::default();
    let result = std::thread::scope(|scope| {
        scope.spawn(|| rss.sample_until_stopped());
        let result = run_in(config, &dir, &rss);
        rss.stop.store(true, Ordering::Relaxed);
        result
    });
    let _ = std::fs::remove_dir_all(&dir);
    let mut report = result?;
    report.peak_rss_anon_bytes = rss.whole.load(Ordering::Relaxed);
    report.vm_hwm_bytes = proc_status_bytes("VmHWM:").unwrap_or(0);
    Ok(report)
}

/// One measured batch: submitted and acknowledged, seconds since the phase started.
struct Commit {
    submitted: f64,
    acked: f64,
}

/// One checkpoint of the measured phase.
struct Taken {
    started: f64,
    ended: f64,
    values: usize,
}

fn run_in(config: &CheckpointBench, dir: &Path, rss: &Rss) -> Result<CheckpointBenchReport> {
    // Only the benchmark's own checkpoints run.
    let options = Options::default()
        .durability(Durability::Sync)
        .checkpoint_every_ops(u64::MAX)
        .checkpoint_interval(Duration::from_secs(86_400));
    let db = Db::open_with(dir, options)?;
    let loaded = load_dataset(&db, &config.params)?;
    let measured = measure(&db, config, rss)?;
    db.close()?;
    Ok(report(config, &loaded, &measured))
}

/// The load before the measured phase: its wall time and the checkpoint's after it.
struct Loaded {
    seconds: f64,
    checkpoint_ms: f64,
}

/// Registers the orgs, loads the dataset and checkpoints once.
fn load_dataset(db: &Db, params: &Params) -> Result<Loaded> {
    register_orgs(db, params.orgs)?;
    let loading = Instant::now();
    load(db, Generator::new(*params)?)?;
    let seconds = loading.elapsed().as_secs_f64();
    let at = Instant::now();
    db.checkpoint()?;
    let checkpoint_ms = at.elapsed().as_secs_f64() * 1e3;
    Ok(Loaded {
        seconds,
        checkpoint_ms,
    })
}

/// What the measured phase recorded.
struct Measured {
    commits: Vec<Commit>,
    taken: Vec<Taken>,
    /// Events taken from the second stream.
    events: u64,
    seconds: f64,
    /// The phase's largest RssAnon.
    peak_rss_anon: u64,
}

/// The measured phase: the writers record a second stream of the same workload, with entry ids
/// after the dataset's, while checkpoints are taken one after the other.
fn measure(db: &Db, config: &CheckpointBench, rss: &Rss) -> Result<Measured> {
    let params = config.params;
    let second = Params {
        seed: params.seed.wrapping_add(1),
        ..params
    };
    let stream = Mutex::new(Generator::new(second)?);
    rss.restart_phase();
    let started = Instant::now();
    let sent = AtomicU64::new(0);
    let shared = Shared {
        stream: &stream,
        offset: params.events,
        sent: &sent,
        started,
        deadline: started + Duration::from_secs(config.seconds),
    };
    let (commits, taken) = write_while_checkpointing(db, &shared, config)?;
    let seconds = started.elapsed().as_secs_f64();
    let peak_rss_anon = rss.phase.load(Ordering::Relaxed);
    Ok(Measured {
        commits,
        taken,
        events: sent.load(Ordering::Relaxed),
        seconds,
        peak_rss_anon,
    })
}

/// Runs the writers and the checkpoint thread until the writers are done; every batch the
/// writers committed and every checkpoint taken meanwhile.
fn write_while_checkpointing(
    db: &Db,
    shared: &Shared<'_>,
    config: &CheckpointBench,
) -> Result<(Vec<Commit>, Vec<Taken>)> {
    let writing = AtomicBool::new(true);
    std::thread::scope(|scope| {
        let checkpointer =
            scope.spawn(|| take_checkpoints(db, &writing, shared.started, config.pause));
        let writers: Vec<_> = (0..config.writers)
            .map(|_| scope.spawn(|| writer(db, shared, config)))
            .collect();
        let mut commits = Vec::new();
        let mut failed = None;
        for w in writers {
            match w.join() {
                Ok(Ok(mine)) => commits.extend(mine),
                Ok(Err(e)) => failed = Some(e),
                Err(_) => failed = Some(Error::InvalidArgument("writer thread panicked".into())),
            }
        }
        writing.store(false, Ordering::Relaxed);
        let taken = checkpointer
            .join()
            .map_err(|_| Error::InvalidArgument("checkpoint thread panicked".into()))?;
        match failed {
            Some(e) => Err(e),
            None => Ok((commits, taken?)),
        }
    })
}

/// The report of a run, its RSS figures of the whole run and VmHWM left 0.
fn report(config: &CheckpointBench, loaded: &Loaded, measured: &Measured) -> CheckpointBenchReport {
    let (mut overlapping, mut not_overlapping) = (Vec::new(), Vec::new());
    for c in &measured.commits {
        let ms = (c.acked - c.submitted) * 1e3;
        match overlaps(&measured.taken, c) {
            true => overlapping.push(ms),
            false => not_overlapping.push(ms),
        }
    }
    let taken = &measured.taken;
    let mut values: Vec<usize> = taken.iter().map(|t| t.values).collect();
    values.sort_unstable();
    let params = config.params;
    CheckpointBenchReport {
        orgs: params.orgs,
        events: params.events,
        seed: params.seed,
        batch: config.batch,
        writers: config.writers,
        rate_limit: config.rate,
        pause_ms: config.pause.as_millis() as u64,
        load_seconds: loaded.seconds,
        load_checkpoint_ms: loaded.checkpoint_ms,
        measured_events: measured.events,
        measured_seconds: measured.seconds,
        measured_events_per_sec: measured.events as f64 / measured.seconds,
        checkpoints: Latency::of(taken.iter().map(|t| (t.ended - t.started) * 1e3).collect()),
        checkpoint_values_p50: values.get(values.len() / 2).copied().unwrap_or(0),
        overlapping: Latency::of(overlapping),
        not_overlapping: Latency::of(not_overlapping),
        peak_rss_anon_bytes: 0,
        measured_peak_rss_anon_bytes: measured.peak_rss_anon,
        vm_hwm_bytes: 0,
    }
}

/// Whether a batch's [submit, acknowledgement] interval meets a checkpoint's. Checkpoints run one
/// after the other, so the first one ending after the submit is the only one that can have
/// started before the acknowledgement.
fn overlaps(taken: &[Taken], c: &Commit) -> bool {
    let next = taken.partition_point(|t| t.ended <= c.submitted);
    taken.get(next).is_some_and(|t| t.started < c.acked)
}

/// Records the dataset in batches of 1,000, four in flight.
fn load(db: &Db, events: Generator) -> Result<()> {
    let mut in_flight = VecDeque::new();
    let mut ops = Vec::with_capacity(1000);
    let mut events = events.peekable();
    while let Some(event) = events.next() {
        ops.push(Op::Post(entry_of(&event)));
        if ops.len() == 1000 || events.peek().is_none() {
            in_flight.push_back(db.submit(Batch::from(std::mem::take(&mut ops)))?);
            if in_flight.len() >= 4 {
                if let Some(ticket) = in_flight.pop_front() {
                    ticket.wait()?;
                }
            }
        }
    }
    for ticket in in_flight {
        ticket.wait()?;
    }
    Ok(())
}

/// Takes checkpoints one after the other, `pause` apart, while the writers run.
fn take_checkpoints(
    db: &Db,
    writing: &AtomicBool,
    started: Instant,
    pause: Duration,
) -> Result<Vec<Taken>> {
    let mut taken = Vec::new();
    while writing.load(Ordering::Relaxed) {
        std::thread::sleep(pause);
        if !writing.load(Ordering::Relaxed) {
            break;
        }
        let at = started.elapsed().as_secs_f64();
        let stats = db.checkpoint()?;
        taken.push(Taken {
            started: at,
            ended: started.elapsed().as_secs_f64(),
            values: stats.org_values + stats.ledger_values + stats.balance_values,
        });
    }
    Ok(taken)
}

/// What the writers of the measured phase share.
struct Shared<'a> {
    stream: &'a Mutex<Generator>,
    /// Added to the second stream's entry ids.
    offset: u64,
    /// Events taken from the stream so far (for pacing and the report).
    sent: &'a AtomicU64,
    started: Instant,
    deadline: Instant,
}

/// Records batches of the second stream until it ends or the deadline passes.
fn writer(db: &Db, shared: &Shared<'_>, config: &CheckpointBench) -> Result<Vec<Commit>> {
    let mut commits = Vec::new();
    while Instant::now() < shared.deadline {
        let ops: Vec<Op> = {
            let mut stream = shared.stream.lock();
            stream
                .by_ref()
                .take(config.batch)
                .map(|mut event| {
                    event.entry_id += shared.offset;
                    Op::Post(entry_of(&event))
                })
                .collect()
        };
        if ops.is_empty() {
            break;
        }
        let before = shared.sent.fetch_add(ops.len() as u64, Ordering::Relaxed);
        pace(config.rate, shared.started, before);
        let submitted = shared.started.elapsed().as_secs_f64();
        db.submit(Batch::from(ops))?.wait()?;
        commits.push(Commit {
            submitted,
            acked: shared.started.elapsed().as_secs_f64(),
        });
    }
    Ok(commits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_overlaps_exactly_the_checkpoints_its_interval_meets() {
        let taken = |started, ended| Taken {
            started,
            ended,
            values: 0,
        };
        let checkpoints = [taken(1.0, 2.0), taken(3.0, 3.5), taken(5.0, 9.0)];
        let cases = [
            (0.0, 0.5, false),
            (0.5, 1.0, false),
            (0.5, 1.1, true),
            (1.2, 1.8, true),
            (1.9, 3.1, true),
            (2.0, 3.0, false),
            (3.5, 4.9, false),
            (4.0, 10.0, true),
            (9.0, 9.5, false),
        ];
        for (submitted, acked, want) in cases {
            let c = Commit { submitted, acked };
            assert_eq!(overlaps(&checkpoints, &c), want, "{submitted}..{acked}");
        }
        assert!(!overlaps(
            &[],
            &Commit {
                submitted: 0.0,
                acked: 1.0
            }
        ));
    }

    #[test]
    fn latencies_report_their_percentiles() {
        let l = Latency::of((1..=1000).rev().map(f64::from).collect());
        assert_eq!(l.count, 1000);
        assert_eq!(
            (l.p50_ms, l.p99_ms, l.p999_ms, l.max_ms),
            (500.0, 990.0, 999.0, 1000.0)
        );
        assert_eq!(Latency::of(Vec::new()).max_ms, 0.0);
    }
}
