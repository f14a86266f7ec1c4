//! The reliability harness shared by tests/sim_crash.rs, tests/sim_faults.rs and
//! tests/sim_selftest.rs: a seeded workload (orgs in several time zones, postings, reversals,
//! payments, rejected batches, checkpoints, small log segments so they rotate, dates crossing
//! month ends), a run of it on the simulated disk, reference states for every log prefix, and
//! the check of one crash image against them.
#![allow(dead_code)]

use folio::io::sim::{CrashKind, FaultKind, FaultPlan, Image, SimFs};
use folio::SplitMix64;
use folio::{
    Batch, BusinessDay, Category, Currency, DayBalance, Db, Entry, EntryId, Error, ExpenseStatus,
    LedgerEntry, Money, Op, Options, Org, OrgId, PayExpense, PaymentMethod, Reversal,
};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Log segments of the harness: small, so a workload rotates several times.
pub const SEGMENT_BYTES: u64 = 512;
const DAY: i64 = 86_400;
/// 2024-01-20T00:00:00Z: postings start here and cross several month ends.
const START: i64 = 1_705_708_800;

const ORGS: [(u64, &str, i64); 3] = [
    (1, "UTC", 0),
    (2, "America/New_York", 125_000),
    (3, "Asia/Kolkata", -4_000),
];

/// What the harness runs: batches in order (some meant to be rejected), and after which of them
/// a checkpoint is taken.
#[derive(Clone, Debug)]
pub struct Workload {
    pub batches: Vec<Batch>,
    pub checkpoint_after: BTreeSet<usize>,
    /// Run with `Durability::Buffered`: `record` acknowledges before fsync, and only what an
    /// explicit `Db::sync` (taken with every checkpoint) covered must survive a power loss — but
    /// the database must still open to a whole-batch prefix.
    pub buffered: bool,
}

/// A seeded workload of `n` batches after the one that registers the orgs.
pub fn workload(seed: u64, n: usize) -> Workload {
    let mut rng = SplitMix64::new(seed);
    let mut batches = vec![Batch::from(
        ORGS.iter()
            .map(|&(id, tz, opening)| {
                Op::RegisterOrg(
                    Org::new(OrgId(id), format!("Hotel {id}"), Currency::EUR)
                        .with_time_zone(tz)
                        .with_opening_balance(Money(opening))
                        .with_created_at(START - 40 * DAY),
                )
            })
            .collect::<Vec<_>>(),
    )];
    let mut next_id = 1u64;
    let mut posted: Vec<(u64, u64, bool)> = Vec::new(); // (org, id, pending expense)
    let mut reversed: BTreeSet<(u64, u64)> = BTreeSet::new();
    for b in 0..n {
        let now = START + b as i64 * 2 * DAY + rng.below(DAY as u64) as i64;
        let mut ops = Vec::new();
        let count = 1 + rng.below(6);
        for _ in 0..count {
            let org = 1 + rng.below(ORGS.len() as u64);
            let roll = rng.below(10);
            if roll < 7 || posted.is_empty() {
                let id = next_id;
                next_id += 1;
                let ts = now - rng.below(3 * DAY as u64) as i64;
                let amount = Money(1 + rng.below(50_000) as i64);
                let entry = if rng.below(3) == 0 {
                    posted.push((org, id, true));
                    Entry::expense(
                        OrgId(org),
                        EntryId(id),
                        ts,
                        amount,
                        Category::Maintenance,
                        PaymentMethod::BankTransfer,
                        ExpenseStatus::Pending,
                    )
                } else {
                    posted.push((org, id, false));
                    Entry::revenue(
                        OrgId(org),
                        EntryId(id),
                        ts,
                        amount,
                        Category::Rooms,
                        PaymentMethod::Card,
                    )
                };
                ops.push(Op::Post(entry.with_reference(format!("ref {id} ü"))));
            } else if roll < 9 {
                let (org, target, _) = posted[rng.below(posted.len() as u64) as usize];
                if reversed.insert((org, target)) {
                    let id = next_id;
                    next_id += 1;
                    ops.push(Op::Reverse(Reversal {
                        org: OrgId(org),
                        id: EntryId(id),
                        reverses: EntryId(target),
                        occurred_at: now,
                        reference: format!("undo {target}"),
                    }));
                }
            } else if let Some(at) = posted.iter().position(|p| p.2) {
                let (org, id, _) = posted.remove(at);
                if !reversed.contains(&(org, id)) {
                    ops.push(Op::Pay(PayExpense {
                        org: OrgId(org),
                        entry: EntryId(id),
                        paid_at: now,
                    }));
                }
            }
        }
        if ops.is_empty() {
            continue;
        }
        if rng.below(12) == 0 {
            // A batch that must be rejected whole: valid postings, then one for an unknown org.
            let mut bad = ops.clone();
            bad.push(Op::Post(Entry::revenue(
                OrgId(99),
                EntryId(1),
                now,
                Money(1),
                Category::Rooms,
                PaymentMethod::Cash,
            )));
            batches.push(Batch::from(bad));
        }
        batches.push(Batch::from(ops));
    }
    let checkpoint_after = (0..batches.len()).filter(|i| i % 7 == 6).collect();
    Workload {
        batches,
        checkpoint_after,
        buffered: false,
    }
}

/// Options of every harness database on `vfs`.
pub fn options(vfs: &SimFs) -> Options {
    options_with(vfs, false)
}

pub fn options_with(vfs: &SimFs, buffered: bool) -> Options {
    Options::default()
        .durability(if buffered {
            folio::Durability::Buffered
        } else {
            folio::Durability::Sync
        })
        .shards(4)
        .segment_target_bytes(SEGMENT_BYTES)
        .checkpoint_every_ops(u64::MAX)
        .checkpoint_interval(std::time::Duration::from_secs(86_400))
        .vfs(Arc::new(vfs.clone()))
}

/// A scratch directory for a database: the simulated disk holds its log and identity file, the
/// real directory (on tmpfs when there is one) its lock file and checkpoint store.
pub fn scratch() -> tempfile::TempDir {
    let shm = Path::new("/dev/shm");
    if shm.is_dir() {
        if let Ok(dir) = tempfile::tempdir_in(shm) {
            return dir;
        }
    }
    tempfile::tempdir().expect("temp dir")
}

/// The database path inside a scratch directory.
pub fn db_path(scratch: &tempfile::TempDir) -> PathBuf {
    let path = scratch.path().join("db");
    std::fs::create_dir_all(&path).expect("scratch db dir");
    path
}

/// What one run of a workload did.
#[derive(Debug, Default)]
pub struct Run {
    /// For every acknowledged batch in order: its LSN, and how many disk mutations had happened
    /// when `record` returned (with buffered durability: when `sync` returned).
    pub acks: Vec<(u64, u64)>,
    /// Every batch `record` accepted (LSN, mutations), durable or not.
    pub accepted: Vec<(u64, u64)>,
    /// Batches `record` rejected as invalid (they must leave no trace).
    pub rejected: usize,
    /// The first error other than a rejection (the run stops there).
    pub stopped: Option<String>,
    /// Whether `record` succeeded after an I/O error (it must not: the database poisons).
    pub acked_after_error: bool,
}

/// Runs `w` on `sim` at `path` (created), then closes the database.
pub fn run(sim: &SimFs, path: &Path, w: &Workload) -> Run {
    let mut out = Run::default();
    let db = match Db::open_with(path, options_with(sim, w.buffered)) {
        Ok(db) => db,
        Err(e) => {
            out.stopped = Some(format!("open: {e}"));
            return out;
        }
    };
    for (i, batch) in w.batches.iter().enumerate() {
        match db.record(batch.clone()) {
            Ok(lsn) => {
                out.accepted.push((lsn.0, sim.mutations()));
                if !w.buffered {
                    out.acks.push((lsn.0, sim.mutations()));
                }
            }
            Err(Error::Rejected(_)) => out.rejected += 1,
            Err(e) => {
                out.stopped = Some(format!("batch {i}: {e}"));
                // A database that failed a write must refuse the next one, not acknowledge it.
                if let Some(next) = w.batches.get(i + 1) {
                    if let Ok(lsn) = db.record(next.clone()) {
                        out.acked_after_error = true;
                        out.acks.push((lsn.0, sim.mutations()));
                    }
                }
                break;
            }
        }
        if w.checkpoint_after.contains(&i) {
            if w.buffered {
                match db.sync() {
                    Ok(lsn) => out.acks.push((lsn.0, sim.mutations())),
                    Err(e) => {
                        out.stopped = Some(format!("sync after batch {i}: {e}"));
                        break;
                    }
                }
            }
            let _ = db.checkpoint();
        }
    }
    if let Err(e) = db.close() {
        if out.stopped.is_none() {
            out.stopped = Some(format!("close: {e}"));
        }
    }
    out
}

/// Everything a caller can observe of the harness orgs.
#[derive(Clone, Debug, PartialEq)]
pub struct Fingerprint {
    pub lsn: u64,
    pub orgs: Vec<Option<Org>>,
    pub entries: Vec<Option<Vec<LedgerEntry>>>,
    pub balances: Vec<Option<Vec<DayBalance>>>,
}

pub fn fingerprint(db: &Db) -> Fingerprint {
    let from = BusinessDay::from_days(((START - 45 * DAY) / DAY) as i32).expect("day");
    let to = BusinessDay::from_days(((START + 400 * DAY) / DAY) as i32).expect("day");
    let ids: Vec<OrgId> = ORGS.iter().map(|o| OrgId(o.0)).collect();
    Fingerprint {
        lsn: db.visible_lsn().0,
        orgs: ids.iter().map(|o| db.org(*o).expect("org")).collect(),
        entries: ids
            .iter()
            .map(|o| db.entries(*o, i64::MIN / 4, i64::MAX / 4).ok())
            .collect(),
        balances: ids.iter().map(|o| db.balances(*o, from, to).ok()).collect(),
    }
}

/// The observable state after every prefix of accepted batches (index = LSN), from a clean run.
pub fn references(w: &Workload) -> Vec<Fingerprint> {
    let sim = SimFs::new();
    let dir = scratch();
    let db = Db::open_with(db_path(&dir), options(&sim)).expect("reference open");
    let mut refs = vec![fingerprint(&db)];
    for batch in &w.batches {
        if db.record(batch.clone()).is_ok() {
            refs.push(fingerprint(&db));
        }
    }
    db.close().expect("reference close");
    refs
}

/// The highest acknowledged LSN at crash point `k` (after `k` mutations).
pub fn acked_at(run: &Run, k: u64) -> usize {
    run.acks
        .iter()
        .filter(|a| a.1 <= k)
        .map(|a| a.0 as usize)
        .max()
        .unwrap_or(0)
}

/// The highest LSN accepted (durable or not) at crash point `k`.
pub fn accepted_at(run: &Run, k: u64) -> usize {
    run.accepted
        .iter()
        .filter(|a| a.1 <= k)
        .map(|a| a.0 as usize)
        .max()
        .unwrap_or(0)
}

/// The highest LSN acknowledged in the whole run.
pub fn acked_total(run: &Run) -> usize {
    run.accepted.iter().map(|a| a.0 as usize).max().unwrap_or(0)
}

/// Opens `image` on a fresh disk and checks it: it opens (unless it holds a flipped bit, which
/// may instead be reported as corruption), every one of the `acked` batches is there, at most
/// the one in flight beyond them, the state equals the reference at its LSN, and `verify` passes.
/// `image` was taken of a database at `origin`.
pub fn check(
    image: &Image,
    origin: &Path,
    kind: CrashKind,
    acked: usize,
    high: usize,
    refs: &[Fingerprint],
) -> Result<(), String> {
    let dir = scratch();
    let path = db_path(&dir);
    let image = &image.rebased(origin, &path);
    let sim = SimFs::from_image(image);
    let db = match Db::open_with(&path, options(&sim)) {
        Ok(db) => db,
        Err(e @ Error::Corruption { .. }) if kind == CrashKind::BitFlip => {
            let text = e.to_string();
            return if text.contains("wal") || text.contains("FOLIO") || text.contains("DURABLE") {
                Ok(())
            } else {
                Err(format!("{}: corruption without a file: {text}", image.note))
            };
        }
        Err(e) => return Err(format!("{}: open failed: {e}", image.note)),
    };
    let n = db.visible_lsn().0 as usize;
    let cut = db.recovery().truncated_bytes > 0;
    // Batch 1 registers the orgs; every LSN is one batch.
    let low = if kind == CrashKind::BitFlip && cut {
        acked.saturating_sub(1)
    } else {
        acked
    };
    let result = if n < low || n > high + 1 || n >= refs.len() {
        Err(format!(
            "{}: {n} batches after recovery, {acked} were acknowledged",
            image.note
        ))
    } else if fingerprint(&db) != refs[n] {
        Err(format!(
            "{}: state at LSN {n} differs from the reference",
            image.note
        ))
    } else {
        let report = db.verify();
        if report.problems.is_empty() {
            Ok(())
        } else {
            Err(format!("{}: verify: {:?}", image.note, report.problems))
        }
    };
    let _ = db.close();
    result
}

/// Seed from `FOLIO_SIM_SEED` when set (to replay a failure), else fresh; printed either way.
pub fn seed(test: &str) -> u64 {
    let seed = std::env::var("FOLIO_SIM_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1)
        });
    eprintln!("{test}: seed {seed} (replay with FOLIO_SIM_SEED={seed})");
    seed
}

/// A number from the environment, or `default`.
pub fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// Images per crash point and kind (the torn and reordered images differ by seed).
pub const IMAGES: [(CrashKind, u64); 4] = [
    (CrashKind::Synced, 1),
    (CrashKind::Torn, 2),
    (CrashKind::Reordered, 2),
    (CrashKind::BitFlip, 1),
];

#[derive(Debug, Default)]
pub struct Tally {
    pub points: u64,
    pub images: u64,
    pub violations: Vec<String>,
}

/// Runs a workload once, then checks crash images at every mutation (`points: None`) or at
/// `points` random ones.
pub fn explore(seed: u64, batches: usize, buffered: bool, points: Option<u64>, tally: &mut Tally) {
    let mut w = workload(seed, batches);
    w.buffered = buffered;
    let refs = references(&w);
    let sim = SimFs::new();
    let dir = scratch();
    let origin = db_path(&dir);
    let run = run(&sim, &origin, &w);
    assert!(
        run.stopped.is_none(),
        "seed {seed}: clean run failed: {:?}",
        run.stopped
    );
    assert_eq!(
        acked_total(&run) + 1,
        refs.len(),
        "seed {seed}: nondeterministic run"
    );
    let total = sim.mutations();
    let mut rng = SplitMix64::new(seed ^ 0xC0FFEE);
    let ks: Vec<u64> = match points {
        None => (0..=total).collect(),
        Some(n) => (0..n).map(|_| rng.below(total + 1)).collect(),
    };
    for k in ks {
        tally.points += 1;
        let acked = acked_at(&run, k);
        let high = accepted_at(&run, k);
        for (kind, copies) in IMAGES {
            for copy in 0..copies {
                let image_seed = seed ^ k.wrapping_mul(0x9E37_79B9) ^ copy;
                let image = sim.image(k, kind, image_seed);
                tally.images += 1;
                if let Err(v) = check(&image, &origin, kind, acked, high, &refs) {
                    if tally.violations.len() < 10 {
                        tally.violations.push(format!("workload seed {seed}: {v}"));
                    }
                }
            }
        }
    }
}

/// The injected errors of the fault matrix.
pub const FAULT_KINDS: [FaultKind; 3] = [FaultKind::Eio, FaultKind::NoSpace, FaultKind::ShortWrite];

/// Runs `w` once per (operation index, error kind, once or for good) with that fault injected,
/// and checks each run: nothing acknowledged after an error, every acknowledged batch durable
/// (the synced image after the run opens with it), state equal to the reference, `verify` clean.
/// Returns the number of runs in `tally.points`.
pub fn fault_matrix(seed: u64, w: &Workload, refs: &[Fingerprint], tally: &mut Tally) {
    let clean = SimFs::new();
    let dir = scratch();
    let _ = run(&clean, &db_path(&dir), w);
    let total_ops = clean.ops();
    for at in 0..total_ops {
        for kind in FAULT_KINDS {
            for persistent in [false, true] {
                let sim = SimFs::new();
                sim.set_fault(Some(FaultPlan {
                    at,
                    kind,
                    persistent,
                }));
                let dir = scratch();
                let origin = db_path(&dir);
                let r = run(&sim, &origin, w);
                tally.points += 1;
                let what = format!(
                    "seed {seed}, fault {kind:?} at operation {at}{}",
                    if persistent { " and after" } else { " once" }
                );
                let mut fail = |v: String| {
                    if tally.violations.len() < 10 {
                        tally.violations.push(format!("{what}: {v}"));
                    }
                };
                if r.acked_after_error {
                    fail(format!(
                        "acknowledged a batch after an error ({:?})",
                        r.stopped
                    ));
                }
                if sim.faults_hit() > 0 && r.stopped.is_none() && acked_total(&r) + 1 < refs.len() {
                    fail("an I/O error was swallowed: the run neither stopped nor finished".into());
                }
                // Power loss right after: what was acknowledged must be on the disk.
                let image = sim.image(sim.mutations(), CrashKind::Synced, 0);
                tally.images += 1;
                let acked = acked_at(&r, u64::MAX);
                let high = accepted_at(&r, u64::MAX);
                if let Err(v) = check(&image, &origin, CrashKind::Synced, acked, high, refs) {
                    fail(v);
                }
            }
        }
    }
}

/// Opens the database on `start` (a disk image) with a fault at every operation of the opening,
/// each kind, once or for good: the open fails or yields the reference state; afterwards the
/// same disk (whatever the failed recovery left) opens cleanly to the same state, and so does
/// its synced crash image.
pub fn recovery_faults(
    start: &Image,
    origin: &Path,
    expect: usize,
    refs: &[Fingerprint],
    tally: &mut Tally,
) {
    let dir = scratch();
    let path = db_path(&dir);
    let probe = SimFs::from_image(&start.rebased(origin, &path));
    drop(Db::open_with(&path, options(&probe)).map(|db| db.close()));
    let open_ops = probe.ops();
    for at in 0..open_ops {
        for kind in FAULT_KINDS {
            for persistent in [false, true] {
                tally.points += 1;
                let what = format!(
                    "recovery fault {kind:?} at operation {at}{} ({})",
                    if persistent { " and after" } else { " once" },
                    start.note
                );
                let mut fail = |v: String| {
                    if tally.violations.len() < 10 {
                        tally.violations.push(format!("{what}: {v}"));
                    }
                };
                let dir2 = scratch();
                let path2 = db_path(&dir2);
                let sim = SimFs::from_image(&start.rebased(origin, &path2));
                sim.set_fault(Some(FaultPlan {
                    at,
                    kind,
                    persistent,
                }));
                if let Ok(db) = Db::open_with(&path2, options(&sim)) {
                    if fingerprint(&db) != refs[expect] {
                        fail("opened despite the fault with a different state".into());
                    }
                    let _ = db.close();
                }
                sim.set_fault(None);
                tally.images += 1;
                match Db::open_with(&path2, options(&sim)) {
                    Ok(db) => {
                        if fingerprint(&db) != refs[expect] {
                            fail(format!(
                                "after the failed recovery: LSN {} instead of {expect}",
                                db.visible_lsn().0
                            ));
                        } else if !db.verify().problems.is_empty() {
                            fail(format!("verify: {:?}", db.verify().problems));
                        }
                        let _ = db.close();
                    }
                    Err(e) => fail(format!("does not open after the failed recovery: {e}")),
                }
                tally.images += 1;
                let crashed = sim.image(sim.mutations(), CrashKind::Synced, at);
                if let Err(v) = check(&crashed, &path2, CrashKind::Synced, expect, expect, refs) {
                    fail(v);
                }
            }
        }
    }
}

/// A revenue posting of org 1, `id` hours into 2024 (for small log-shaped workloads).
pub fn hourly_revenue(id: u64) -> Entry {
    Entry::revenue(
        OrgId(1),
        EntryId(id),
        1_704_067_200 + id as i64 * 3_600,
        Money(1_000 + id as i64),
        Category::Rooms,
        PaymentMethod::Card,
    )
}
