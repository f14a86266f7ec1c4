//! Replicas under injected faults: stalled, slow, long-applying and failing replicas — health
//! checks, failover, circuit breaking, flow control and reads that skip a busy replica. Needs
//! the `fault-injection` feature (`Replica::inject_*`); see Cargo.toml.

#![allow(clippy::unwrap_used)]
mod replica_common;

use folio::{BreakerState, PoolOptions};
use folio::{BusinessDay, Consistency, Lsn, OrgId, ReadPool};
use replica_common::*;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

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

/// Read-your-writes through a stalled replica: the pool waits up to the timeout, then reads the
/// primary; resumed, the replica serves it.
#[test]
fn read_your_writes_through_a_stalled_replica_falls_back_to_the_primary() {
    let dir = tempfile::tempdir().unwrap();
    let db = Arc::new(setup(&dir.path().join("db")));
    let (r1, pool) = least_lag_pool(&db);
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
    assert_eq!(read.node(), "r1");
}

#[test]
fn flow_control_holds_the_primary_for_a_slow_replica_but_never_for_a_stalled_one() {
    use folio::ReplicaOptions;
    let dir = tempfile::tempdir().unwrap();
    let db = Arc::new(setup(&dir.path().join("db")));
    let bound = Duration::from_millis(5);
    let gated = db
        .replica_with("gated", ReplicaOptions::default().flow_control(Some(bound)))
        .expect("replica");
    let free = db
        .replica_with("free", ReplicaOptions::default().flow_control(None))
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
        while replica.applied_lsn() < lsn || replica.try_snapshot().unwrap().is_none() {
            assert!(Instant::now() < deadline, "the replica never settled");
            std::thread::sleep(Duration::from_millis(2));
        }
    };
    let mid_apply = |replica: &folio::Replica| {
        let deadline = Instant::now() + Duration::from_secs(5);
        while replica.try_snapshot().unwrap().is_some() {
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
        PoolOptions::default().affinity_reads(1),
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
            PoolOptions::default().spill_to_primary(spill_to_primary),
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
