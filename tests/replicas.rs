//! Snapshots, in-process replicas, the read pool, and edge replicas built from checkpoints.
//! (What needs injected faults — stalled, slow or failing replicas — is in
//! tests/replica_faults.rs, built with the `fault-injection` feature only.)

#![allow(clippy::unwrap_used)]
mod replica_common;

use folio::PoolOptions;
use folio::{
    Batch, BusinessDay, Category, Consistency, Currency, Db, Entry, EntryId, Error, Lsn, Money,
    Org, OrgId, PaymentMethod, ReadPool, ReplicaError, Snapshot,
};
use replica_common::*;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

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

#[test]
fn consistency_levels_route_reads() {
    let dir = tempfile::tempdir().unwrap();
    let db = Arc::new(setup(&dir.path().join("db")));
    let (_r1, pool) = least_lag_pool(&db);
    // Read-your-writes: a replica that has (or reaches) the LSN serves it (through a stalled
    // replica: tests/replica_faults.rs).
    let lsn = db.record(batch(1).0).unwrap();
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
        PoolOptions::default()
            .min_handles(1)
            .max_handles(2)
            .acquire_timeout(Duration::from_millis(20)),
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
    assert!(info.lsn > Lsn(0));

    // A damaged checkpoint is refused; the replica directory is not created.
    let bad = dir.path().join("bad");
    copy_dir(&cp, &bad);
    let victim = bad.join("FOLIO");
    let mut bytes = std::fs::read(&victim).unwrap();
    bytes[20] ^= 0x40;
    std::fs::write(&victim, bytes).unwrap();
    let target = dir.path().join("never");
    assert!(folio::seed_from_checkpoint(&bad, &target).is_err());
    assert!(!target.exists());
    assert!(Db::open(&bad).is_err());

    // A seeding cut short leaves only its hidden sibling (half a copy), never `edge` itself; the
    // next seeding removes it and starts over.
    let edge = dir.path().join("edge");
    let stale = dir.path().join(".edge.seeding");
    copy_dir(&cp, &stale);
    std::fs::remove_file(stale.join("MANIFEST.json")).unwrap();
    std::fs::write(stale.join("FOLIO"), b"half").unwrap();
    folio::seed_from_checkpoint(&cp, &edge).unwrap();
    assert!(!stale.exists());
    let replica = Db::open(&edge).unwrap();
    assert!(replica.is_replica());
    assert_eq!(replica.visible_lsn(), info.lsn);
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
        folio::Options::default().segment_target_bytes(4096),
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
    folio::seed_from_checkpoint(&cp, &edge).unwrap();
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

/// A shipped frame whose bytes do not give the checksum it carries (a flipped checksum, a
/// flipped payload byte, a changed op count) or whose payload cannot be a frame (empty, over the
/// limit) is refused as `Corruption` naming its file and offset, with nothing applied and no
/// byte of the replica's files changed; the intact frames apply afterwards.
#[test]
fn a_damaged_shipped_frame_is_refused_with_nothing_written() {
    let dir = tempfile::tempdir().unwrap();
    let (db, primary_dir, cp) = primary_after_checkpoint(dir.path(), 20);
    let frames = folio::read_segments(&segments(&primary_dir.join("wal")), db.db_id()).unwrap();
    let edge = dir.path().join("edge");
    folio::seed_from_checkpoint(&cp, &edge).unwrap();
    let replica = Db::open(&edge).unwrap();
    let start = replica.visible_lsn();
    let fresh: Vec<_> = frames.into_iter().filter(|f| f.lsn > start).collect();
    assert!(fresh.len() >= 10, "{} frames to ship", fresh.len());
    let files = tree_bytes(&edge);
    let victim = 3;
    type Damage = fn(&mut folio::ShippedFrame);
    let damages: [(&str, Damage, bool); 5] = [
        ("checksum", |f| f.crc ^= 1, true),
        ("payload byte", |f| f.payload[0] ^= 0x10, true),
        ("op count", |f| f.op_count += 1, true),
        ("empty payload", |f| f.payload.clear(), false),
        (
            "payload over the limit",
            |f| {
                f.payload
                    .resize(folio::limits::MAX_FRAME_PAYLOAD_BYTES + 1, 0)
            },
            false,
        ),
    ];
    for (what, damage, checksum) in damages {
        let mut shipped = fresh.clone();
        damage(&mut shipped[victim]);
        let err = replica.replicate(shipped).unwrap_err();
        let Error::Corruption { file, offset, kind } = &err else {
            panic!("{what}: {err:?}");
        };
        assert_eq!(
            (file, *offset),
            (&fresh[victim].file, fresh[victim].offset),
            "{what}"
        );
        if checksum {
            assert!(
                matches!(kind, folio::CorruptionKind::ChecksumMismatch { .. }),
                "{what}: {kind:?}"
            );
        } else {
            assert!(
                matches!(kind, folio::CorruptionKind::BadLength(_)),
                "{what}: {kind:?}"
            );
        }
        assert_eq!(replica.visible_lsn(), start, "{what}: nothing applied");
        assert!(
            tree_bytes(&edge) == files,
            "{what}: the replica's files changed"
        );
    }
    assert_eq!(replica.replicate(fresh).unwrap(), db.visible_lsn());
    assert_eq!(answers(&replica), answers(&db));
    replica.close().unwrap();
    // Reopened, the replica shows the intact frames only.
    let replica = Db::open(&edge).unwrap();
    assert_eq!(replica.visible_lsn(), db.visible_lsn());
    assert_eq!(answers(&replica), answers(&db));
}

/// `folio::sync_status` (what `folio replica status --log` reports) tells a replica that is
/// caught up, behind, ahead of its source, or diverged from it — never a lag of 0 for the last two.
#[test]
fn sync_status_tells_caught_up_behind_ahead_and_diverged() {
    use folio::{sync_status, SyncState};
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
    folio::seed_from_checkpoint(&cp, &edge).unwrap();
    let replica = Db::open(&edge).unwrap();
    let wal = primary_dir.join("wal");
    let status = |log: &std::path::Path| {
        sync_status(
            log,
            replica.db_id(),
            replica.visible_lsn(),
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
        (SyncState::Behind, Some(10), Some(Lsn(info.lsn.0 + 10)))
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
    assert_eq!(s.source_lsn, Some(Lsn(info.lsn.0 + 15)));
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
    let query = folio::BalanceQuery::new(last, last);
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

/// Runs `body` on a thread of its own and fails the test if it has not finished within `limit`
/// (a thread blocked for ever stays behind; the test binary exits anyway).
fn within<T: Send + 'static>(
    limit: Duration,
    what: &str,
    body: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(body());
    });
    match rx.recv_timeout(limit) {
        Ok(value) => value,
        Err(_) => panic!("{what} did not finish within {limit:?}: deadlocked"),
    }
}

/// No public read hands out a lock: a thread holding a replica read across the applier's group
/// can read the same replica again (directly, as a snapshot, through a pool routed to it) and the
/// applier is not held up. With a read that held the replica's read lock the second read waited
/// behind the applier's queued write lock, which waited for the first read: a deadlock.
#[test]
fn a_second_read_while_holding_a_replica_read_does_not_deadlock() {
    let dir = tempfile::tempdir().unwrap();
    let db = Arc::new(setup(&dir.path().join("db")));
    let replica = Arc::new(db.replica("r1").expect("replica"));
    // One replica and no spilling: a pool read goes to it and waits for it when it is busy.
    let pool = ReadPool::new(
        db.clone(),
        vec![replica.clone()],
        PoolOptions::default().spill_to_primary(false),
    )
    .expect("pool");
    let day = BusinessDay::parse("2024-03-31").unwrap();
    let (held, lsn, applied, second, third, pooled) = within(
        Duration::from_secs(20),
        "a second read while holding a replica read",
        move || {
            let held = replica.snapshot().unwrap();
            let lsn = db.record(batch(0).0).unwrap();
            // The applier takes up the group while the first read is held.
            let applied = replica.wait_for(lsn, Duration::from_secs(5));
            let second = replica.snapshot().unwrap();
            let third = replica.snapshot().unwrap();
            let read = pool.read(Consistency::Any).unwrap();
            let pooled = (
                read.node().to_string(),
                read.lsn(),
                read.balance(OrgId(1), day),
            );
            drop(read);
            (held.lsn(), lsn, applied, second.lsn(), third.lsn(), pooled)
        },
    );
    assert!(applied, "the applier waited for a held read");
    assert!(held < lsn, "the held read moved: {held} -> {lsn}");
    assert_eq!((second, third), (lsn, lsn));
    assert_eq!(pooled.0, "r1");
    assert_eq!(pooled.1, lsn);
    assert!(pooled.2.is_ok(), "{:?}", pooled.2);
}

/// The reported reproduction: one thread records 200 single-entry batches while the replica
/// follows; another takes a replica read, a snapshot while holding it, and lets go, in a loop.
#[test]
fn nested_replica_reads_under_a_writer_never_hang() {
    let dir = tempfile::tempdir().unwrap();
    let db = Arc::new(setup(&dir.path().join("db")));
    let replica = Arc::new(db.replica("r1").expect("replica"));
    let done = Arc::new(AtomicBool::new(false));
    let writer = {
        let (db, done) = (db.clone(), done.clone());
        std::thread::spawn(move || {
            for n in 0..200u64 {
                let entry = Entry::revenue(
                    OrgId(1 + n % ORGS),
                    EntryId(n + 1),
                    DAY0 + n as i64 * 60,
                    Money(100),
                    Category::Rooms,
                    PaymentMethod::Card,
                );
                db.record(Batch::new().post(entry)).unwrap();
            }
            done.store(true, Ordering::SeqCst);
        })
    };
    let rounds = within(Duration::from_secs(60), "nested replica reads", {
        let (replica, done) = (replica.clone(), done.clone());
        move || {
            let mut rounds = 0u64;
            while !done.load(Ordering::SeqCst) {
                let g = replica.snapshot().unwrap();
                let inner = replica.snapshot().unwrap();
                assert!(inner.lsn() >= g.lsn());
                drop(g);
                rounds += 1;
            }
            rounds
        }
    });
    writer.join().unwrap();
    assert!(rounds > 0);
    assert!(replica.wait_for(db.visible_lsn(), Duration::from_secs(10)));
}

/// Dropping a pool stops its health checker at once, however long the checker's interval: the
/// drop does not sleep out the interval.
#[test]
fn dropping_a_pool_does_not_wait_for_the_health_interval() {
    let dir = tempfile::tempdir().unwrap();
    let db = Arc::new(setup(&dir.path().join("db")));
    let replica = Arc::new(db.replica("r1").expect("replica"));
    let pool = ReadPool::new(
        db.clone(),
        vec![replica],
        PoolOptions::default().health_interval(Duration::from_secs(3600)),
    )
    .expect("pool");
    assert!(pool.read(Consistency::Any).is_ok());
    within(Duration::from_secs(30), "dropping the pool", move || {
        drop(pool)
    });
}
