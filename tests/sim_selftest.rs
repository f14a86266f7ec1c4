//! Harness self-test (docs/RELIABILITY.md): builds of the engine with a deliberately planted
//! durability bug must each be caught by the crash and fault harness. The bugs are switched on
//! at run time through `folio::planted` (one at a time, process-wide: this file holds a single
//! test so nothing else runs beside it).

mod harness;

use folio::planted::{plant, Planted};
use harness::*;

/// Runs the parts of the harness that should catch `bug`; returns their violations.
fn hunt(bug: Planted, seed: u64) -> Tally {
    let mut tally = Tally::default();
    match bug {
        Planted::RetryFailedFsync => {
            let w = workload(seed, 10);
            let refs = references(&w);
            fault_matrix(seed, &w, &refs, &mut tally);
        }
        _ => {
            explore(seed, 24, false, None, &mut tally);
            let mut s = folio::SplitMix64::new(seed);
            explore(s.next_u64(), 80, false, Some(300), &mut tally);
        }
    }
    tally
}

#[test]
fn every_planted_durability_bug_is_caught() {
    let seed = seed("sim_selftest");
    // The harness finds nothing in the engine as shipped...
    plant(Planted::None);
    let baseline = hunt(Planted::None, seed);
    assert!(baseline.violations.is_empty(), "{:#?}", baseline.violations);
    // ...and something for every planted bug.
    let mut missed = Vec::new();
    for bug in Planted::BUGS {
        plant(bug);
        let tally = hunt(bug, seed);
        plant(Planted::None);
        eprintln!(
            "sim_selftest: {bug:?}: {} points, {} images, {}{} violations, e.g. {:?}",
            tally.points,
            tally.images,
            tally.violations.len(),
            if tally.violations.len() == 10 {
                "+"
            } else {
                ""
            },
            tally.violations.first()
        );
        if tally.violations.is_empty() {
            missed.push(bug);
        }
    }
    assert!(
        missed.is_empty(),
        "planted bugs the harness missed: {missed:?}"
    );
}
