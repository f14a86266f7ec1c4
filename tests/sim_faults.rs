//! I/O error injection on the simulated disk (docs/RELIABILITY.md): every operation index of a
//! small workload × {EIO, ENOSPC, short write} × {fails once, keeps failing}, and the same for
//! every operation of recovery itself (from a cleanly closed disk and from a torn one). The
//! database must return the error or poison itself, never acknowledge what is not durable,
//! never take a retried fsync for durability, and reopen to a state that verifies.

mod harness;

use folio::io::sim::{CrashKind, SimFs};
use harness::*;

#[test]
fn every_io_operation_of_a_small_workload_fails_with_each_error_kind() {
    let seed = seed("sim_faults");
    let w = workload(seed, 14);
    let refs = references(&w);
    let mut tally = Tally::default();
    fault_matrix(seed, &w, &refs, &mut tally);
    eprintln!(
        "sim_faults: {} faulty runs, {} reopened images, {} violations",
        tally.points,
        tally.images,
        tally.violations.len()
    );
    assert!(tally.points > 100, "too few operations: {}", tally.points);
    assert!(tally.violations.is_empty(), "{:#?}", tally.violations);
}

#[test]
fn every_io_operation_of_recovery_fails_with_each_error_kind() {
    let seed = seed("sim_recovery_faults");
    let w = workload(seed, 14);
    let refs = references(&w);
    let sim = SimFs::new();
    let dir = scratch();
    let origin = db_path(&dir);
    let r = run(&sim, &origin, &w);
    assert!(r.stopped.is_none(), "{:?}", r.stopped);
    let last = acked_total(&r);
    let mut tally = Tally::default();
    // A cleanly closed disk.
    recovery_faults(&sim.live(), &origin, last, &refs, &mut tally);
    // A disk whose last write was torn: recovery truncates (a mutation that can fail too).
    let k = r.acks[r.acks.len() - 1].1 - 2;
    let torn = sim.image(k + 1, CrashKind::Torn, seed);
    let expect = acked_at(&r, k + 1);
    // The torn image may keep the whole frame: find out which state it holds.
    let probe_dir = scratch();
    let probe_path = db_path(&probe_dir);
    let probe = SimFs::from_image(&torn.rebased(&origin, &probe_path));
    let holds = folio::Db::open_with(&probe_path, options(&probe))
        .map(|db| {
            let n = db.visible_lsn().0 as usize;
            let _ = db.close();
            n
        })
        .expect("torn image opens");
    assert!(
        holds == expect || holds == expect + 1,
        "{holds} vs {expect}"
    );
    recovery_faults(&torn, &origin, holds, &refs, &mut tally);
    eprintln!(
        "sim_recovery_faults: {} faulty recoveries, {} reopens, {} violations",
        tally.points,
        tally.images,
        tally.violations.len()
    );
    assert!(tally.violations.is_empty(), "{:#?}", tally.violations);
}
