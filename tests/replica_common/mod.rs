//! Helpers shared by the replica tests (tests/replicas.rs, tests/replica_faults.rs,
//! cli/tests/edge_follow.rs): a batch
//! generator with its effect per org, the model of those effects per LSN, and the checks a read
//! view must pass.
#![allow(dead_code, clippy::unwrap_used)]

use folio::PoolOptions;
use folio::{
    Batch, BusinessDay, Category, Currency, Db, Entry, EntryId, Lsn, Money, Org, OrgId,
    PaymentMethod, ReadPool, Snapshot,
};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

pub const ORGS: u64 = 8;
pub const DAY0: i64 = 1_704_067_200; // 2024-01-01T00:00:00Z

/// The model: per LSN, the net effect per org.
pub type Model = BTreeMap<Lsn, Vec<(OrgId, i64)>>;

/// Batch `n`: four postings over the orgs, revenues and expenses, spread over 40 days.
pub fn batch(n: u64) -> (Batch, Vec<(OrgId, i64)>) {
    let mut b = Batch::new();
    let mut effects = Vec::new();
    for k in 0..4u64 {
        let org = OrgId(1 + (n * 4 + k) % ORGS);
        let id = EntryId(n * 4 + k + 1);
        let at = DAY0 + ((n * 7919 + k * 104_729) % (40 * 86_400)) as i64;
        let amount = 100 + ((n * 31 + k * 17) % 9_000) as i64;
        let entry = if (n + k).is_multiple_of(3) {
            Entry::expense(
                org,
                id,
                at,
                Money(amount),
                Category::Supplies,
                PaymentMethod::Card,
                folio::ExpenseStatus::Paid,
            )
        } else {
            Entry::revenue(
                org,
                id,
                at,
                Money(amount),
                Category::Rooms,
                PaymentMethod::Cash,
            )
        };
        let signed = if (n + k).is_multiple_of(3) {
            -amount
        } else {
            amount
        };
        effects.push((org, signed));
        b = b.post(entry);
    }
    (b, effects)
}

pub fn setup(dir: &std::path::Path) -> Db {
    let db = Db::open(dir).unwrap();
    for o in 1..=ORGS {
        db.register_org(Org::new(OrgId(o), format!("Hotel {o}"), Currency::EUR))
            .unwrap();
    }
    db
}

pub fn model_at(model: &Model, lsn: Lsn) -> BTreeMap<OrgId, i64> {
    let mut out = BTreeMap::new();
    for (_, effects) in model.range(..=lsn) {
        for (org, v) in effects {
            *out.entry(*org).or_insert(0) += v;
        }
    }
    out
}

/// Every check a read view must pass at its LSN: the state's own invariants (balances equal
/// their entries, indexes equal their tables) and closings equal to the model.
pub fn check_view(view: &Snapshot, model: &Model) {
    let lsn = view.lsn();
    let check = view.verify();
    assert!(check.problems.is_empty(), "at {lsn}: {:?}", check.problems);
    let want = model_at(model, lsn);
    let last = BusinessDay::parse("2024-03-31").unwrap();
    for o in 1..=ORGS {
        let got = view.balance(OrgId(o), last).unwrap().closing;
        assert_eq!(
            got,
            Money(*want.get(&OrgId(o)).unwrap_or(&0)),
            "org {o} at {lsn}"
        );
    }
    let rows: usize = (1..=ORGS)
        .map(|o| {
            view.entries(OrgId(o), DAY0 - 1, DAY0 + 100 * 86_400)
                .unwrap()
                .len()
        })
        .sum();
    let want_rows: usize = model.range(..=lsn).map(|(_, e)| e.len()).sum();
    assert_eq!(rows, want_rows, "rows at {lsn}");
}

/// Writes `batches` batches from a thread, recording each LSN's effects in the model.
pub fn writer(
    db: Arc<Db>,
    model: Arc<parking_lot::Mutex<Model>>,
    range: std::ops::Range<u64>,
    done: Arc<AtomicBool>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        for n in range {
            let (b, effects) = batch(n);
            // The model learns of the LSN before any reader can check a view at it.
            let mut m = model.lock();
            let lsn = db.record(b).unwrap();
            m.insert(lsn, effects);
        }
        done.store(true, Ordering::SeqCst);
    })
}

pub fn fast_pool(db: Arc<Db>, replicas: Vec<Arc<folio::Replica>>) -> ReadPool {
    ReadPool::new(
        db,
        replicas,
        PoolOptions::default()
            .health_interval(Duration::from_millis(20))
            .stall_after(Duration::from_millis(100))
            .max_lag_time(Duration::from_millis(300))
            .breaker_failures(2)
            .breaker_cooldown(Duration::from_millis(200))
            .affinity_reads(1),
    )
    .expect("pool")
}

/// A primary in `dir/primary` (see [`setup`]), checkpointed to `dir/cp` before `batches` of
/// [`batch`] are recorded; returns the primary, its directory and the checkpoint's.
pub fn primary_after_checkpoint(
    dir: &std::path::Path,
    batches: u64,
) -> (Db, std::path::PathBuf, std::path::PathBuf) {
    let primary_dir = dir.join("primary");
    let db = setup(&primary_dir);
    let cp = dir.join("cp");
    db.checkpoint_to(&cp).unwrap();
    for n in 0..batches {
        db.record(batch(n).0).unwrap();
    }
    (db, primary_dir, cp)
}

/// A pool over `db` and one replica "r1", balanced by least lag.
pub fn least_lag_pool(db: &Arc<Db>) -> (Arc<folio::Replica>, ReadPool) {
    let r1 = Arc::new(db.replica("r1").expect("replica"));
    let pool = ReadPool::new(
        db.clone(),
        vec![r1.clone()],
        PoolOptions::default().balancing(folio::Balancing::LeastLag),
    )
    .expect("pool");
    (r1, pool)
}

/// Per org: the closing balance of the last day the batches reach, and the number of entries.
pub fn answers(db: &Db) -> Vec<(OrgId, Money, usize)> {
    let last = BusinessDay::parse("2024-03-31").unwrap();
    (1..=ORGS)
        .map(|o| {
            (
                OrgId(o),
                db.balance(OrgId(o), last).unwrap().closing,
                db.entries(OrgId(o), DAY0 - 1, DAY0 + 100 * 86_400)
                    .unwrap()
                    .len(),
            )
        })
        .collect()
}

/// The primary's log segment files, in LSN order.
pub fn segments(wal: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(wal)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    v.sort();
    v
}

/// Copies a directory tree.
pub fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

/// Every file under `dir` with its bytes: what a refused input must leave unchanged.
pub fn tree_bytes(dir: &std::path::Path) -> BTreeMap<std::path::PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            out.extend(tree_bytes(&e.path()));
        } else if e.file_name() != "LOCK" {
            out.insert(e.path(), std::fs::read(e.path()).unwrap());
        }
    }
    out
}
