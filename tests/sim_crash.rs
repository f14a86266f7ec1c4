//! Crash-point exploration on the simulated disk (docs/RELIABILITY.md): run a workload, then for
//! crash points after every disk mutation (small workload) or at random (larger ones) build crash
//! images — synced data only, the last write torn, unsynced sectors reordered, a flipped bit —
//! reopen each, and check it against reference states: no acknowledged batch lost, no batch
//! half-applied, state equal to the reference at the recovered LSN, `verify` clean.
//!
//! `FOLIO_SIM_SEED` replays a run; `FOLIO_SIM_POINTS` sets the random crash points of the larger
//! workloads (CI: the default; long mode: e.g. 1000000).

mod harness;

use folio::SplitMix64;
use harness::*;

#[test]
fn every_crash_point_of_a_small_workload_and_random_points_of_larger_ones() {
    let seed = seed("sim_crash");
    let mut tally = Tally {
        points: 0,
        images: 0,
        violations: Vec::new(),
    };
    explore(seed, 24, false, None, &mut tally);
    explore(seed, 24, true, None, &mut tally);
    let exhaustive = tally.points;
    let random = env_number("FOLIO_SIM_POINTS", 10_000);
    let per_workload = 500;
    let mut workload_seed = SplitMix64::new(seed);
    let mut left = random;
    while left > 0 {
        let n = left.min(per_workload);
        let buffered = workload_seed.below(3) == 0;
        explore(workload_seed.next_u64(), 120, buffered, Some(n), &mut tally);
        left -= n;
    }
    eprintln!(
        "sim_crash: {} crash points ({exhaustive} exhaustive, {random} random), {} images, {} violations",
        tally.points,
        tally.images,
        tally.violations.len()
    );
    assert!(
        tally.violations.is_empty(),
        "seed {seed}: {} violations, first: {:#?}",
        tally.violations.len(),
        tally.violations
    );
}
