//! Every read of `Db`, `Snapshot`, an in-process `Replica` and a `ReadPool`.

use crate::calendar::*;
use crate::checking::*;
use crate::fixture::*;
use crate::inputs::*;
use crate::runner;
use folio::{Balancing, PoolOptions, ReplicaOptions};
use folio::{Currency, Db, Lsn, Org, OrgId, ReadPool, Replica, Snapshot};
use proptest::prelude::*;
use std::sync::Arc;
use std::time::Duration;

/// Every read of `Db` and `Snapshot`.
#[test]
fn reads_of_db_and_snapshot_never_panic() {
    let f = fixture();
    let db = &f.db;
    runner(256)
        .run(&prop::collection::vec(any_read(), 1..12), |reads| {
            let snapshot = db.snapshot();
            for read in &reads {
                run_read!(&snapshot, read);
                // The `Db`'s own reads.
                match read {
                    Read::Balance(org, d) => {
                        if let Some(d) = day(*d) {
                            answer("Db::balance", db.balance(*org, d));
                        }
                    }
                    Read::Balances(org, a, b) => {
                        if let (Some(a), Some(b)) = (day(*a), day(*b)) {
                            answer("Db::balances", db.balances(*org, a, b));
                        }
                    }
                    Read::Entries(org, a, b) => {
                        answer("Db::entries", db.entries(*org, *a, *b));
                    }
                    Read::Org(org) => {
                        let _ = db.org(*org);
                    }
                    Read::Query(spec) => {
                        if let Some(q) = spec.build() {
                            answer("Db::query", db.query(&q));
                        }
                    }
                    Read::Explain(spec) => {
                        if let Some(q) = spec.build() {
                            answer("Db::explain", db.explain(&q));
                        }
                    }
                    Read::Indexes => {
                        let _ = (db.indexes(), db.visible_lsn(), db.snapshot().lsn());
                    }
                    _ => {}
                }
            }
            Ok(())
        })
        .unwrap();
}

/// Flow-control bounds at the extremes hold the primary back a little or not at all; a write
/// goes through either way.
fn flow_control_at_the_extremes(db: &Db) {
    for bound in [
        Some(Duration::MAX),
        Some(Duration::ZERO),
        Some(Duration::from_nanos(1)),
        None,
    ] {
        let gated = db
            .replica_with("gated", ReplicaOptions::default().flow_control(bound))
            .unwrap();
        answer(
            "register_org",
            db.register_org(Org::new(OrgId(9), "Gated", Currency::EUR)),
        );
        gated.stop();
    }
}

/// Every read of `replica` and of `pool` (each consistency, keyed and not).
fn replica_and_pool_reads(replica: &Replica, pool: &ReadPool) {
    let strategy = (
        prop::collection::vec(any_read(), 1..6),
        any_consistency(),
        proptest::option::of(any_org()),
        prop_oneof![0..8u64, any::<u64>()],
        any_duration(),
    );
    runner(128)
        .run(&strategy, |(reads, consistency, org, lsn, wait)| {
            // The replica itself.
            let _ = (replica.name(), replica.applied_lsn(), replica.lag_lsn());
            let _ = (
                replica.lag_time(),
                replica.last_error(),
                replica.stalled_for(),
            );
            let _ = (
                replica.serves_reads(),
                replica.throttled(),
                replica.queries(),
            );
            if Lsn(lsn) <= replica.applied_lsn() {
                assert!(replica.wait_for(Lsn(lsn), wait));
            }
            if let Some(Some(state)) = answer("Replica::try_snapshot", replica.try_snapshot()) {
                let _ = state.entry_count();
            }
            let snapshot: Option<Snapshot> = answer("Replica::snapshot", replica.snapshot());
            // The pool.
            pool.check_health();
            let _ = pool.status();
            let read = match org {
                Some(org) => pool.read_for(org, consistency),
                None => pool.read(consistency),
            };
            let read = answer("ReadPool::read", read);
            for r in &reads {
                if let Some(snapshot) = &snapshot {
                    run_read!(snapshot, r);
                }
                if let Some(read) = &read {
                    run_read!(read, r);
                }
                if let Read::Query(spec) = r {
                    if let Some(q) = spec.build() {
                        answer("ReadPool::query", pool.query(&q, consistency));
                    }
                }
            }
            if let Some(read) = &read {
                let _ = (read.node(), read.snapshot().lsn());
            }
            Ok(())
        })
        .unwrap();
}

/// Pools with extreme options: no handle, one handle, a huge number of them.
fn pools_with_extreme_options(db: &Arc<Db>, replica: &Arc<Replica>) {
    runner(12)
        .run(
            &(
                prop_oneof![Just(0usize), Just(1), Just(usize::MAX), 0..64usize],
                any_duration(),
                any_consistency(),
                any::<bool>(),
            ),
            |(handles, timeout, consistency, least_lag)| {
                let pool = pool_of(
                    db,
                    vec![replica.clone()],
                    PoolOptions::default()
                        .min_handles(handles)
                        .max_handles(handles)
                        .acquire_timeout(timeout)
                        .balancing(if least_lag {
                            Balancing::LeastLag
                        } else {
                            Balancing::RoundRobin
                        })
                        .health_interval(Duration::from_millis(20))
                        .affinity_reads(handles),
                );
                if let Some(read) = answer("ReadPool::read", pool.read(consistency)) {
                    answer(
                        "PoolRead::balance",
                        read.balance(OrgId(1), day(19_723).unwrap()),
                    );
                }
                let _ = pool.status();
                Ok(())
            },
        )
        .unwrap();
}

/// Every read of an in-process `Replica` and of a `ReadPool` (each consistency, keyed and not),
/// and pools built with extreme options.
#[test]
fn replica_and_pool_reads_never_panic() {
    let f = fixture();
    let db = &f.db;
    flow_control_at_the_extremes(db);
    let replica = replica_of(db, "r1");
    assert!(replica.wait_for(db.visible_lsn(), Duration::from_secs(10)));
    let pool = pool_of(
        db,
        vec![replica.clone()],
        PoolOptions::default().health_interval(Duration::from_millis(20)),
    );
    replica_and_pool_reads(&replica, &pool);
    drop(pool);
    pools_with_extreme_options(db, &replica);
}
