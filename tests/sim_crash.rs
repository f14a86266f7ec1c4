//! Crash-point exploration on the simulated disk (docs/RELIABILITY.md): run a workload, then for
//! crash points after every disk mutation (small workload) or at random (larger ones) build crash
//! images — synced data only, the last write torn, unsynced sectors reordered, a flipped bit —
//! reopen each, and check it against reference states: no acknowledged batch lost, no batch
//! half-applied, state equal to the reference at the recovered LSN, `verify` clean.
//!
//! `FOLIO_SIM_SEED` replays a run; `FOLIO_SIM_POINTS` sets the random crash points of the larger
//! workloads (CI: the default; long mode: e.g. 1000000).

mod harness;

use folio::io::sim::{CrashKind, SimFs, SplitMix};
use harness::*;

/// Images per crash point and kind (the torn and reordered images differ by seed).
const IMAGES: [(CrashKind, u64); 4] = [
    (CrashKind::Synced, 1),
    (CrashKind::Torn, 2),
    (CrashKind::Reordered, 2),
    (CrashKind::BitFlip, 1),
];

struct Tally {
    points: u64,
    images: u64,
    violations: Vec<String>,
}

fn explore(seed: u64, batches: usize, buffered: bool, points: Option<u64>, tally: &mut Tally) {
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
    let mut rng = SplitMix::new(seed ^ 0xC0FFEE);
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
    let mut workload_seed = SplitMix::new(seed);
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

#[test]
#[ignore]
fn debug_journal() {
    let seed = seed("debug");
    let w = workload(seed, 24);
    let sim = SimFs::new();
    let dir = scratch();
    let run = run(&sim, &db_path(&dir), &w);
    eprintln!("acks: {:?}", run.acks);
    for line in sim.journal(0..60) {
        eprintln!("{line}");
    }
}
