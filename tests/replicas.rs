//! Snapshots, in-process replicas, the read pool, and edge replicas built from checkpoints.

#![allow(clippy::unwrap_used)]
use folio::replica::{Balancing, BreakerState, PoolOptions};
use folio::{
    Batch, BusinessDay, Category, Consistency, Currency, Db, Entry, EntryId, Error, Lsn, Money,
    Org, OrgId, PaymentMethod, ReadPool, ReplicaError, Snapshot,
};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const ORGS: u64 = 8;
const DAY0: i64 = 1_704_067_200; // 2024-01-01T00:00:00Z

/// Batch `n`: four postings over the orgs, revenues and expenses, spread over 40 days.
fn batch(n: u64) -> (Batch, Vec<(OrgId, i64)>) {
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

fn setup(dir: &std::path::Path) -> Db {
    let db = Db::open(dir).unwrap();
    for o in 1..=ORGS {
        db.register_org(Org::new(OrgId(o), format!("Hotel {o}"), Currency::EUR))
            .unwrap();
    }
    db
}

/// The model: per LSN, the net effect per org.
type Model = BTreeMap<Lsn, Vec<(OrgId, i64)>>;

fn model_at(model: &Model, lsn: Lsn) -> BTreeMap<OrgId, i64> {
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
fn check_view(view: &Snapshot, model: &Model) {
    let lsn = view.lsn();
    let check = view.state().verify(None);
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
fn writer(
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

#[test]
fn snapshots_stay_pinned_while_writers_go_on() {
    let dir = tempfile::tempdir().unwrap();
    let db = Arc::new(setup(&dir.path().join("db")));
    let model = Arc::new(parking_lot::Mutex::new(Model::new()));
    let done = Arc::new(AtomicBool::new(false));
    let w = writer(db.clone(), model.clone(), 0..400, done.clone());
    let mut held: Vec<Snapshot> = Vec::new();
    while !done.load(Ordering::SeqCst) {
        let snap = {
            let _m = model.lock();
            db.snapshot()
        };
        held.push(snap);
        std::thread::sleep(Duration::from_millis(2));
    }
    w.join().unwrap();
    let model = model.lock().clone();
    assert!(held.len() > 3);
    // However many writes followed, each snapshot still shows exactly its prefix.
    for snap in &held {
        check_view(snap, &model);
    }
    check_view(&db.snapshot(), &model);
}

#[test]
fn replicas_converge_and_never_show_half_a_batch() {
    let dir = tempfile::tempdir().unwrap();
    let db = Arc::new(setup(&dir.path().join("db")));
    let replica = db.replica("r1").expect("replica");
    let model = Arc::new(parking_lot::Mutex::new(Model::new()));
    let done = Arc::new(AtomicBool::new(false));
    let w = writer(db.clone(), model.clone(), 0..300, done.clone());
    let mut views = Vec::new();
    while !done.load(Ordering::SeqCst) {
        views.push(replica.snapshot().unwrap());
        std::thread::sleep(Duration::from_millis(3));
    }
    w.join().unwrap();
    let model = model.lock().clone();
    for v in &views {
        check_view(v, &model);
    }
    let head = db.visible_lsn();
    assert!(replica.wait_for(head, Duration::from_secs(10)));
    let final_view = replica.snapshot().unwrap();
    assert_eq!(final_view.lsn(), head);
    check_view(&final_view, &model);
    assert_eq!(replica.lag_lsn(), 0);
    assert!(replica.last_error().is_none());
}

fn fast_pool(db: Arc<Db>, replicas: Vec<Arc<folio::Replica>>) -> ReadPool {
    ReadPool::new(
        db,
        replicas,
        PoolOptions {
            health_interval: Duration::from_millis(20),
            stall_after: Duration::from_millis(100),
            max_lag_time: Duration::from_millis(300),
            breaker_failures: 2,
            breaker_cooldown: Duration::from_millis(200),
            affinity_reads: 1,
            ..PoolOptions::default()
        },
    )
    .expect("pool")
}

#[test]
fn failover_takes_a_stalled_or_failing_replica_out_and_back() {
    let dir = tempfile::tempdir().unwrap();
    let db = Arc::new(setup(&dir.path().join("db")));
    let r1 = Arc::new(db.replica("r1").expect("replica"));
    let r2 = Arc::new(db.replica("r2").expect("replica"));
    let pool = fast_pool(db.clone(), vec![r1.clone(), r2.clone()]);

    // A stalled replica falls behind and leaves the rotation within the health interval.
    r1.inject_stall(true);
    for n in 0..20 {
        db.record(batch(n).0).unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while pool.status().nodes[1].healthy && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    let status = pool.status();
    assert!(!status.nodes[1].healthy, "{status:?}");
    for _ in 0..50 {
        let read = pool.read(Consistency::Any).unwrap();
        assert_ne!(read.node(), "r1");
    }
    // Resumed, it catches up and returns.
    r1.inject_stall(false);
    assert!(r1.wait_for(db.visible_lsn(), Duration::from_secs(5)));
    let deadline = Instant::now() + Duration::from_secs(5);
    while !pool.status().nodes[1].healthy && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(pool.status().nodes[1].healthy);
    let served: Vec<String> = (0..20)
        .map(|_| pool.read(Consistency::Any).unwrap().node().to_string())
        .collect();
    assert!(served.iter().any(|n| n == "r1"), "{served:?}");

    // A replica whose reads fail opens its breaker; reads keep succeeding elsewhere.
    r2.inject_read_failures(true);
    for _ in 0..40 {
        let read = pool.read(Consistency::Any).unwrap();
        assert_ne!(read.node(), "r2");
    }
    assert_eq!(pool.status().nodes[2].breaker, BreakerState::Open);
    assert!(pool.status().nodes[2].failovers > 0);
    r2.inject_read_failures(false);
    std::thread::sleep(Duration::from_millis(250));
    let served: Vec<String> = (0..20)
        .map(|_| pool.read(Consistency::Any).unwrap().node().to_string())
        .collect();
    assert!(served.iter().any(|n| n == "r2"), "{served:?}");
    assert_eq!(pool.status().nodes[2].breaker, BreakerState::Closed);
}

#[test]
fn consistency_levels_route_reads() {
    let dir = tempfile::tempdir().unwrap();
    let db = Arc::new(setup(&dir.path().join("db")));
    let r1 = Arc::new(db.replica("r1").expect("replica"));
    let pool = ReadPool::new(
        db.clone(),
        vec![r1.clone()],
        PoolOptions {
            balancing: Balancing::LeastLag,
            ..PoolOptions::default()
        },
    )
    .expect("pool");
    // Read-your-writes through a stalled replica: the pool waits, then reads the primary.
    r1.inject_stall(true);
    let lsn = db.record(batch(1).0).unwrap();
    let read = pool
        .read(Consistency::AtLeast(lsn, Duration::from_millis(50)))
        .unwrap();
    assert!(read.lsn() >= lsn);
    assert_eq!(read.node(), "primary");
    drop(read);
    r1.inject_stall(false);
    let read = pool
        .read(Consistency::AtLeast(lsn, Duration::from_secs(5)))
        .unwrap();
    assert!(read.lsn() >= lsn);
    drop(read);
    assert_eq!(
        pool.read(Consistency::Latest).unwrap().lsn(),
        db.visible_lsn()
    );
    let bounded = pool
        .read(Consistency::BoundedStaleness(Duration::from_secs(5)))
        .unwrap();
    assert!(bounded.lsn() <= db.visible_lsn());
    drop(bounded);
    // An LSN the primary has not reached is a typed error.
    let ahead = Lsn(db.visible_lsn().0 + 10);
    match pool.read(Consistency::AtLeast(ahead, Duration::from_millis(10))) {
        Err(Error::Replica(ReplicaError::AheadOfSource { .. })) => {}
        other => panic!("expected AheadOfSource, got {:?}", other.map(|r| r.lsn())),
    }
    // The handle cap holds: max handles in use, the next waits then fails.
    let small = ReadPool::new(
        db.clone(),
        vec![],
        PoolOptions {
            min_handles: 1,
            max_handles: 2,
            acquire_timeout: Duration::from_millis(20),
            ..PoolOptions::default()
        },
    )
    .expect("pool");
    let a = small.read(Consistency::Any).unwrap();
    let b = small.read(Consistency::Any).unwrap();
    assert!(matches!(
        small.read(Consistency::Any),
        Err(Error::Replica(ReplicaError::NoneAvailable(_)))
    ));
    drop((a, b));
    assert!(small.read(Consistency::Any).is_ok());
}

fn answers(db: &Db) -> Vec<(OrgId, Money, usize)> {
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

#[test]
fn an_edge_replica_from_a_checkpoint_follows_and_refuses_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let primary_dir = dir.path().join("primary");
    let db = Arc::new(setup(&primary_dir));
    for n in 0..50 {
        db.record(batch(n).0).unwrap();
    }
    // A checkpoint taken while a writer runs is consistent at its own LSN.
    let model = Arc::new(parking_lot::Mutex::new(Model::new()));
    let done = Arc::new(AtomicBool::new(false));
    let w = writer(db.clone(), model.clone(), 50..150, done.clone());
    std::thread::sleep(Duration::from_millis(5));
    let cp = dir.path().join("cp");
    let info = db.checkpoint_to(&cp).unwrap();
    w.join().unwrap();
    assert!(info.lsn > 0);

    // A damaged checkpoint is refused; the replica directory is not created.
    let bad = dir.path().join("bad");
    copy_dir(&cp, &bad);
    let victim = bad.join("FOLIO");
    let mut bytes = std::fs::read(&victim).unwrap();
    bytes[20] ^= 0x40;
    std::fs::write(&victim, bytes).unwrap();
    let target = dir.path().join("never");
    assert!(folio::db::edge::seed_from_checkpoint(&bad, &target).is_err());
    assert!(!target.exists());
    assert!(Db::open(&bad).is_err());

    // A seeding cut short leaves only its hidden sibling (half a copy), never `edge` itself; the
    // next seeding removes it and starts over.
    let edge = dir.path().join("edge");
    let stale = dir.path().join(".edge.seeding");
    copy_dir(&cp, &stale);
    std::fs::remove_file(stale.join("MANIFEST.json")).unwrap();
    std::fs::write(stale.join("FOLIO"), b"half").unwrap();
    folio::db::edge::seed_from_checkpoint(&cp, &edge).unwrap();
    assert!(!stale.exists());
    let replica = Db::open(&edge).unwrap();
    assert!(replica.is_replica());
    assert_eq!(replica.visible_lsn(), Lsn(info.lsn));
    assert!(replica.verify().is_ok());
    // Read-only, and locked against a second opener.
    assert!(matches!(
        replica.record(batch(999).0),
        Err(Error::Replica(ReplicaError::ReadOnly { .. }))
    ));
    assert!(matches!(Db::open(&edge), Err(Error::Locked { .. })));

    // Catch up from the primary's log: answers equal the primary's.
    let wal = primary_dir.join("wal");
    replica.follow(&wal).unwrap();
    assert_eq!(replica.visible_lsn(), db.visible_lsn());
    assert_eq!(answers(&replica), answers(&db));
    assert!(replica.verify().is_ok());

    // A foreign database's segments are refused, data unchanged.
    let other_dir = dir.path().join("other");
    let other = setup(&other_dir);
    other.record(batch(0).0).unwrap();
    other.close().unwrap();
    let before = answers(&replica);
    let lsn_before = replica.visible_lsn();
    let foreign: Vec<_> = segments(&other_dir.join("wal"));
    assert!(matches!(
        replica.apply_segments(&foreign),
        Err(Error::Replica(ReplicaError::ForeignLog { .. }))
    ));
    assert!(matches!(
        replica.follow(&other_dir.join("wal")),
        Err(Error::Replica(ReplicaError::ForeignLog { .. }))
    ));
    assert_eq!(replica.visible_lsn(), lsn_before);
    assert_eq!(answers(&replica), before);
    replica.close().unwrap();
}

#[test]
fn shipped_segments_apply_in_order_and_gaps_or_overlaps_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let primary_dir = dir.path().join("primary");
    let db = Db::open_with(
        &primary_dir,
        folio::Options {
            segment_target_bytes: 4096,
            ..folio::Options::default()
        },
    )
    .unwrap();
    for o in 1..=ORGS {
        db.register_org(Org::new(OrgId(o), format!("Hotel {o}"), Currency::EUR))
            .unwrap();
    }
    let cp = dir.path().join("cp");
    db.checkpoint_to(&cp).unwrap();
    for n in 0..200 {
        db.record(batch(n).0).unwrap();
    }
    let segs = segments(&primary_dir.join("wal"));
    assert!(segs.len() >= 4, "{} segments", segs.len());
    let edge = dir.path().join("edge");
    folio::db::edge::seed_from_checkpoint(&cp, &edge).unwrap();
    let replica = Db::open(&edge).unwrap();
    let start = replica.visible_lsn();
    // A gap (a middle segment missing) is refused with nothing applied.
    let mut gapped = segs.clone();
    gapped.remove(2);
    assert!(matches!(
        replica.apply_segments(&gapped),
        Err(Error::Replica(ReplicaError::Gap { .. }))
    ));
    // Overlapping segments (the same one twice) are refused too.
    let mut twice = segs.clone();
    twice.push(segs[1].clone());
    assert!(matches!(
        replica.apply_segments(&twice),
        Err(Error::Replica(ReplicaError::Overlap { .. }))
    ));
    assert_eq!(replica.visible_lsn(), start);
    // Shipped out of order, all of them: applied in LSN order.
    let mut shuffled = segs.clone();
    shuffled.reverse();
    replica.apply_segments(&shuffled).unwrap();
    assert_eq!(replica.visible_lsn(), db.visible_lsn());
    assert_eq!(answers(&replica), answers(&db));
    // Shipping them again changes nothing.
    replica.apply_segments(&segs).unwrap();
    assert_eq!(replica.visible_lsn(), db.visible_lsn());
    // After a restart the replica still answers the same.
    replica.close().unwrap();
    let replica = Db::open(&edge).unwrap();
    assert_eq!(answers(&replica), answers(&db));
}

/// `replica::sync_status` (what `folio replica status --log` reports) tells a replica that is
/// caught up, behind, ahead of its source, or diverged from it — never a lag of 0 for the last two.
#[test]
fn sync_status_tells_caught_up_behind_ahead_and_diverged() {
    use folio::replica::{sync_status, SyncState};
    let dir = tempfile::tempdir().unwrap();
    let primary_dir = dir.path().join("primary");
    let db = setup(&primary_dir);
    for n in 0..20 {
        db.record(batch(n).0).unwrap();
    }
    let cp = dir.path().join("cp");
    let info = db.checkpoint_to(&cp).unwrap();
    db.close().unwrap();
    // A copy of the primary as it is now: its log ends at the checkpoint (`old`), and a fork
    // of the same database that goes on with other batches (`fork`).
    let old = dir.path().join("old");
    copy_dir(&primary_dir, &old);
    let fork_dir = dir.path().join("fork");
    copy_dir(&primary_dir, &fork_dir);
    let db = Db::open(&primary_dir).unwrap();
    let fork = Db::open(&fork_dir).unwrap();
    for n in 500..515 {
        fork.record(batch(n).0).unwrap();
    }
    fork.close().unwrap();

    let edge = dir.path().join("edge");
    folio::db::edge::seed_from_checkpoint(&cp, &edge).unwrap();
    let replica = Db::open(&edge).unwrap();
    let wal = primary_dir.join("wal");
    let status = |log: &std::path::Path| {
        sync_status(
            log,
            replica.db_id(),
            replica.visible_lsn().0,
            replica.log_crc(),
        )
        .unwrap()
    };

    let s = status(&wal);
    assert_eq!(
        (s.state, s.lag_lsn, s.source_lsn),
        (SyncState::CaughtUp, Some(0), Some(info.lsn))
    );
    for n in 100..110 {
        db.record(batch(n).0).unwrap();
    }
    let s = status(&wal);
    assert_eq!(
        (s.state, s.lag_lsn, s.source_lsn),
        (SyncState::Behind, Some(10), Some(info.lsn + 10))
    );
    replica.follow(&wal).unwrap();
    assert_eq!(status(&wal).state, SyncState::CaughtUp);

    // An older copy of the log ends before the replica: ahead, no lag.
    let s = status(&old.join("wal"));
    assert_eq!(
        (s.state, s.lag_lsn, s.source_lsn),
        (SyncState::Ahead, None, Some(info.lsn))
    );
    // The fork has other frames at the replica's LSN: diverged.
    let s = status(&fork_dir.join("wal"));
    assert_eq!((s.state, s.lag_lsn), (SyncState::Diverged, None), "{s:?}");
    assert_eq!(s.source_lsn, Some(info.lsn + 15));
    // Another database's log: diverged too.
    let other_dir = dir.path().join("other");
    let other = setup(&other_dir);
    other.record(batch(0).0).unwrap();
    other.close().unwrap();
    let s = status(&other_dir.join("wal"));
    assert_eq!(
        (s.state, s.lag_lsn, s.source_lsn),
        (SyncState::Diverged, None, None)
    );
    replica.close().unwrap();
    db.close().unwrap();
}

fn segments(wal: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(wal)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    v.sort();
    v
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
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

#[test]
fn flow_control_holds_the_primary_for_a_slow_replica_but_never_for_a_stalled_one() {
    use folio::ReplicaOptions;
    let dir = tempfile::tempdir().unwrap();
    let db = Arc::new(setup(&dir.path().join("db")));
    let bound = Duration::from_millis(5);
    let gated = db
        .replica_with(
            "gated",
            ReplicaOptions {
                flow_control: Some(bound),
            },
        )
        .expect("replica");
    let free = db
        .replica_with("free", ReplicaOptions { flow_control: None })
        .expect("replica");
    let mut model = Model::new();
    let mut n = 0u64;
    let mut write = |count: u64, model: &mut Model| {
        for _ in 0..count {
            let (b, effects) = batch(n);
            n += 1;
            model.insert(db.record(b).unwrap(), effects);
        }
    };

    // A slow replica (every apply step sleeps 20 ms, four times the bound): the committer waits
    // (writes go on until it has, however fast the disk is).
    gated.inject_apply_delay(Duration::from_millis(20));
    free.inject_apply_delay(Duration::from_millis(20));
    let deadline = Instant::now() + Duration::from_secs(10);
    while gated.throttled().0 == 0 && Instant::now() < deadline {
        write(5, &mut model);
    }
    write(20, &mut model);
    let (groups, waited) = gated.throttled();
    assert!(groups > 0, "no group commit waited for the slow replica");
    assert!(waited > Duration::ZERO);
    // A replica without flow control never holds the primary, slow or not.
    assert_eq!(free.throttled(), (0, Duration::ZERO));

    // A stalled replica is never waited for: writes go on at full speed.
    gated.inject_apply_delay(Duration::ZERO);
    free.inject_apply_delay(Duration::ZERO);
    assert!(gated.wait_for(db.visible_lsn(), Duration::from_secs(10)));
    gated.inject_stall(true);
    let before = gated.throttled().0;
    write(200, &mut model);
    assert_eq!(gated.throttled().0, before, "waited for a stalled replica");
    assert!(gated.lag_lsn() >= 200);

    // Resumed, both converge exactly.
    gated.inject_stall(false);
    let head = db.visible_lsn();
    for r in [&gated, &free] {
        assert!(r.wait_for(head, Duration::from_secs(10)));
        let view = r.snapshot().unwrap();
        assert_eq!(view.lsn(), head);
        check_view(&view, &model);
    }
}

/// Pool reads run per call on the chosen node's current state: under a concurrent writer, every
/// call sees a whole prefix of batches (each org's closing equals the model at one LSN).
#[test]
fn pool_reads_per_call_see_whole_batches_under_a_writer() {
    let dir = tempfile::tempdir().unwrap();
    let db = Arc::new(setup(&dir.path().join("db")));
    let r1 = Arc::new(db.replica("r1").expect("replica"));
    let r2 = Arc::new(db.replica("r2").expect("replica"));
    let pool = fast_pool(db.clone(), vec![r1, r2]);
    let model = Arc::new(parking_lot::Mutex::new(Model::new()));
    let done = Arc::new(AtomicBool::new(false));
    let w = writer(db.clone(), model.clone(), 0..400, done.clone());
    let last = BusinessDay::parse("2024-03-31").unwrap();
    let query = folio::query::BalanceQuery::new(last, last);
    let mut seen = Vec::new();
    while !done.load(Ordering::SeqCst) {
        let read = pool.read(Consistency::Any).unwrap();
        let closings: BTreeMap<OrgId, i64> = read
            .query_balances(&query)
            .unwrap()
            .into_iter()
            .map(|b| (b.org, b.closing.0))
            .collect();
        seen.push((read.node().to_string(), closings));
    }
    w.join().unwrap();
    let model = model.lock().clone();
    // The closings of every LSN a read could have seen (the prefix up to it, per org).
    let mut prefixes: Vec<BTreeMap<OrgId, i64>> = vec![BTreeMap::new()];
    for lsn in model.keys() {
        prefixes.push(model_at(&model, *lsn));
    }
    let full = |m: &BTreeMap<OrgId, i64>| -> BTreeMap<OrgId, i64> {
        (1..=ORGS)
            .map(|o| (OrgId(o), *m.get(&OrgId(o)).unwrap_or(&0)))
            .collect()
    };
    let prefixes: Vec<_> = prefixes.iter().map(full).collect();
    assert!(seen.len() > 10, "only {} reads", seen.len());
    for (node, closings) in &seen {
        assert!(
            prefixes.contains(&full(closings)),
            "a read on {node} saw no whole prefix of batches: {closings:?}"
        );
    }
    assert!(seen.iter().any(|(n, _)| n != "primary"));
}

/// A read whose replica is in the middle of a long apply does not wait for it: another replica
/// or the primary answers at once; with `spill_to_primary` off and no other replica, it waits.
#[test]
fn a_read_skips_a_replica_that_is_applying() {
    let dir = tempfile::tempdir().unwrap();
    let db = Arc::new(setup(&dir.path().join("db")));
    let busy = Arc::new(db.replica("busy").expect("replica"));
    let idle = Arc::new(db.replica("idle").expect("replica"));
    let lsn = db.record(batch(0).0).unwrap();
    assert!(busy.wait_for(lsn, Duration::from_secs(5)));
    assert!(idle.wait_for(lsn, Duration::from_secs(5)));
    let hold = Duration::from_millis(600);
    busy.inject_apply_hold(hold);
    // Applied up to `lsn` and no apply under way.
    let settle = |replica: &folio::Replica, lsn: Lsn| {
        let deadline = Instant::now() + hold * 4;
        while replica.applied_lsn() < lsn || replica.try_read().unwrap().is_none() {
            assert!(Instant::now() < deadline, "the replica never settled");
            std::thread::sleep(Duration::from_millis(2));
        }
    };
    let mid_apply = |replica: &folio::Replica| {
        let deadline = Instant::now() + Duration::from_secs(5);
        while replica.try_read().unwrap().is_some() {
            assert!(
                Instant::now() < deadline,
                "the replica never started applying"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
    };

    // Two replicas: round robin chooses `busy` every other read; `idle` answers those.
    let pool = ReadPool::new(
        db.clone(),
        vec![busy.clone(), idle.clone()],
        PoolOptions {
            affinity_reads: 1,
            ..PoolOptions::default()
        },
    )
    .expect("pool");
    let lsn = db.record(batch(1).0).unwrap();
    assert!(idle.wait_for(lsn, Duration::from_secs(5)));
    mid_apply(&busy);
    let started = Instant::now();
    for _ in 0..4 {
        let read = pool.read(Consistency::Any).unwrap();
        assert!(read.lsn() >= lsn);
    }
    assert!(started.elapsed() < hold / 3, "{:?}", started.elapsed());
    let status = pool.status();
    assert!(status.nodes[2].busy_reroutes >= 1, "{status:?}");
    // Read-your-writes is kept when rerouting: `idle` has the LSN, so it may answer.
    let read = pool
        .read(Consistency::AtLeast(lsn, Duration::from_millis(10)))
        .unwrap();
    assert!(read.lsn() >= lsn);
    drop(read);
    drop(pool);
    settle(&busy, lsn);

    // One replica, busy: the primary answers at once, or (spill off) the read waits.
    let only_busy = |spill_to_primary| {
        ReadPool::new(
            db.clone(),
            vec![busy.clone()],
            PoolOptions {
                spill_to_primary,
                ..PoolOptions::default()
            },
        )
        .expect("pool")
    };
    let spilling = only_busy(true);
    let lsn = db.record(batch(2).0).unwrap();
    mid_apply(&busy);
    let started = Instant::now();
    let read = spilling.read(Consistency::Any).unwrap();
    assert_eq!(read.node(), "busy");
    assert_eq!(read.lsn(), lsn);
    assert!(started.elapsed() < hold / 3, "{:?}", started.elapsed());
    drop(read);
    assert!(
        spilling.status().nodes[0].busy_reroutes >= 1,
        "the primary answered"
    );
    settle(&busy, lsn);

    let waiting = only_busy(false);
    let lsn = db.record(batch(3).0).unwrap();
    mid_apply(&busy);
    let started = Instant::now();
    let read = waiting.read(Consistency::Any).unwrap();
    assert_eq!(
        read.lsn(),
        lsn,
        "the replica answered once its apply was done"
    );
    assert!(started.elapsed() >= hold / 4, "{:?}", started.elapsed());
    assert_eq!(waiting.status().nodes[0].busy_reroutes, 0);
    busy.inject_apply_hold(Duration::ZERO);
}

/// `ReadPool::read_for`: every read of an org goes to the same replica, the orgs spread over
/// all of them, a failing replica's orgs fail over to another node and come back, and the
/// answers are the primary's.
#[test]
fn reads_by_org_stay_on_one_replica_per_org_and_fail_over() {
    let dir = tempfile::tempdir().unwrap();
    let db = Arc::new(setup(&dir.path().join("db")));
    let r1 = Arc::new(db.replica("r1").expect("replica"));
    let r2 = Arc::new(db.replica("r2").expect("replica"));
    let pool = fast_pool(db.clone(), vec![r1.clone(), r2.clone()]);
    for n in 0..50 {
        db.record(batch(n).0).unwrap();
    }
    let head = db.visible_lsn();
    assert!(r1.wait_for(head, Duration::from_secs(10)));
    assert!(r2.wait_for(head, Duration::from_secs(10)));
    let day = BusinessDay::parse("2024-03-31").unwrap();
    let node_of = |org: OrgId| -> String {
        let read = pool.read_for(org, Consistency::Any).unwrap();
        assert_eq!(
            read.balance(org, day).unwrap(),
            db.balance(org, day).unwrap()
        );
        read.node().to_string()
    };
    let mut home = BTreeMap::new();
    for o in 1..=ORGS {
        let first = node_of(OrgId(o));
        for _ in 0..5 {
            assert_eq!(node_of(OrgId(o)), first, "org {o} moved between replicas");
        }
        home.insert(o, first);
    }
    let mut counts = BTreeMap::new();
    for node in home.values() {
        *counts.entry(node.clone()).or_insert(0) += 1;
    }
    assert_eq!(counts.keys().collect::<Vec<_>>(), ["r1", "r2"], "{home:?}");

    // r1 refuses reads: its orgs go elsewhere, r2's stay put.
    r1.inject_read_failures(true);
    for (o, node) in &home {
        let now = node_of(OrgId(*o));
        assert_ne!(now, "r1", "org {o} read on a failing replica");
        if node == "r2" {
            assert_eq!(now, "r2");
        }
    }
    // Healthy again (after the breaker's cool-down): every org back on its replica.
    r1.inject_read_failures(false);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        std::thread::sleep(Duration::from_millis(50));
        if home.iter().all(|(o, node)| node_of(OrgId(*o)) == *node) {
            break;
        }
        assert!(Instant::now() < deadline, "orgs did not return to r1");
    }
}
