//! The engine's log events that take injected faults to provoke: a poisoned database (a failed
//! fsync on the simulated disk) and replicas leaving and rejoining a pool's rotation (stalled,
//! failing reads). These are emitted on the engine's own threads (the committer, the pool's
//! health checker), so the capturing subscriber is this test binary's global one and each test
//! picks its events by path or replica name. Needs the `fault-injection` feature.

#![allow(clippy::unwrap_used)]
mod log_capture;

use folio::io::sim::{FaultKind, FaultPlan};
use folio::io::SimFs;
use folio::PoolOptions;
use folio::{Batch, Category, Consistency, Currency, Db, Entry, EntryId, Error, Money, Options};
use folio::{Org, OrgId, PaymentMethod, ReadPool};
use log_capture::{Capture, Captured};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};
use tracing::Level;

/// The process-wide capturing subscriber (installed once).
fn capture() -> &'static Capture {
    static CAPTURE: OnceLock<Capture> = OnceLock::new();
    CAPTURE.get_or_init(|| {
        let capture = Capture::default();
        tracing::subscriber::set_global_default(capture.clone()).unwrap();
        capture
    })
}

/// Waits up to 10 s for an event `matching`.
fn wait_for_event(what: &str, matching: impl Fn(&Captured) -> bool) -> Captured {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(e) = capture().events().into_iter().find(|e| matching(e)) {
            return e;
        }
        assert!(Instant::now() < deadline, "no event: {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn posting(n: u64) -> Batch {
    Batch::new().post(Entry::revenue(
        OrgId(1),
        EntryId(n),
        1_704_103_200 + n as i64,
        Money(100),
        Category::Rooms,
        PaymentMethod::Card,
    ))
}

/// A failed fsync poisons the database: one ERROR event naming the database and the reason the
/// refused writes give, however many writes are refused after it.
#[test]
fn poisoning_emits_one_error_with_the_reason() {
    capture();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    // The log and the metadata on the simulated disk; the lock and the store on the real one.
    std::fs::create_dir_all(&dir).unwrap();
    let sim = SimFs::new();
    let options = Options::default().vfs(Arc::new(sim.clone()));
    let db = Db::open_with(&dir, options).unwrap();
    db.register_org(Org::new(OrgId(1), "Seaside Inn", Currency::EUR))
        .unwrap();
    sim.set_fault(Some(FaultPlan {
        at: sim.ops(),
        kind: FaultKind::Eio,
        persistent: true,
    }));
    let reason = match db.record(posting(1)) {
        Err(Error::Poisoned(reason)) => reason,
        other => panic!("expected a poisoned database, got {other:?}"),
    };
    assert!(matches!(db.record(posting(2)), Err(Error::Poisoned(_))));
    let path = dir.display().to_string();
    let e = wait_for_event("poisoned", |e| e.field("path") == Some(path.as_str()));
    assert_eq!(e.level, Level::ERROR, "{e:?}");
    assert_eq!(e.field("reason"), Some(reason.as_str()), "{e:?}");
    assert!(e.message().contains("poisoned"), "{e:?}");
    drop(db);
    let ours = capture()
        .events()
        .into_iter()
        .filter(|e| e.field("path") == Some(path.as_str()) && e.level == Level::ERROR)
        .count();
    assert_eq!(ours, 1, "poisoning is said once");
}

/// A stalled replica leaving the rotation is one WARN event (replica, reason), its return one
/// INFO event; a replica whose reads fail opens its breaker: one WARN event.
#[test]
fn a_replica_out_of_rotation_and_back_emits_events() {
    capture();
    let tmp = tempfile::tempdir().unwrap();
    let db = Arc::new(Db::open(tmp.path().join("db")).unwrap());
    db.register_org(Org::new(OrgId(1), "Seaside Inn", Currency::EUR))
        .unwrap();
    let stalled = Arc::new(db.replica("events-stalled").expect("replica"));
    let failing = Arc::new(db.replica("events-failing").expect("replica"));
    let pool = ReadPool::new(
        db.clone(),
        vec![stalled.clone(), failing.clone()],
        PoolOptions::default()
            .health_interval(Duration::from_millis(10))
            .max_lag_lsn(5)
            .breaker_failures(2)
            .breaker_cooldown(Duration::from_millis(50)),
    )
    .expect("pool");
    let of = |name: &'static str, level: Level, text: &'static str| {
        move |e: &Captured| {
            e.field("replica") == Some(name) && e.level == level && e.message().contains(text)
        }
    };

    stalled.inject_stall(true);
    for n in 1..=20 {
        db.record(posting(n)).unwrap();
    }
    let e = wait_for_event(
        "stalled replica unhealthy",
        of("events-stalled", Level::WARN, "unhealthy"),
    );
    // Behind by more than `max_lag_lsn`, or (on a slow disk) stalled for longer than
    // `stall_after`: the reason the pool's status gives.
    let reason = e.field("reason").unwrap();
    assert!(
        reason.contains("behind") || reason.contains("stalled"),
        "{e:?}"
    );
    assert!(e.field("lag_lsn").is_some(), "{e:?}");
    stalled.inject_stall(false);
    assert!(stalled.wait_for(db.visible_lsn(), Duration::from_secs(10)));
    wait_for_event(
        "stalled replica healthy again",
        of("events-stalled", Level::INFO, "healthy again"),
    );

    failing.inject_read_failures(true);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !capture()
        .events()
        .iter()
        .any(of("events-failing", Level::WARN, "breaker open"))
    {
        assert!(Instant::now() < deadline, "the breaker never opened");
        // Reads routed to the failing replica fail over (and count against its breaker).
        let read = pool.read(Consistency::Any).unwrap();
        assert_ne!(read.node(), "events-failing");
    }
    let e = wait_for_event(
        "breaker open",
        of("events-failing", Level::WARN, "breaker open"),
    );
    assert_eq!(e.field("failures"), Some("2"), "{e:?}");
    failing.inject_read_failures(false);
}
