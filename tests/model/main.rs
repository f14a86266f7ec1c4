//! Model-based test: random sequences of batches (valid and invalid), groups of batches submitted
//! without waiting (one group commit), reopens with another requested shard count, checkpoints,
//! and checkpoint + close + reopen, run against Folio and against the reference model of
//! `tests/reference/` (BTreeMaps, business days from chrono-tz, no Folio validator or state code).
//! After every step the outcome (the LSN, or the rejection), the visible LSN, every org, every
//! balance row over the days touched (±2 days), random single days and the ledger listings (all
//! of them, and a random time window) must agree; a final reopen must give the same answers.
//! Cases vary the shard count (4, 1, 3, 16), the durability, eager background checkpoints, and
//! the org and entry ids (small, spread over 64-id store chunks, near u64::MAX).
//!
//! Where one operation has several defects, any of the matching rejections is accepted (the order
//! of checks inside one operation is not specified); across operations, the first bad operation
//! of a batch decides. The overflow rule modelled is documented in `tests/reference/mod.rs`
//! (stricter than "a running sum would leave i64" in one corner: see `cases.rs`).
//!
//! * `strategies.rs`: what a case is made of and how it is generated;
//! * `builder.rs`: generated steps turned into operations, against the model's contents;
//! * `driver.rs`: running a case against Folio and the model, comparing every read;
//! * `cases.rs`: fixed facts of the model and fixed regressions.
//!
//! Cases: 64 by default, `PROPTEST_CASES` overrides. Failures shrink to a minimal case and print
//! the step, the resolved batch and the first differing values.

#![allow(clippy::unwrap_used)] // unwrapping is how a test says "this must work"

#[path = "../common/mod.rs"]
mod common;
#[path = "../reference/mod.rs"]
mod reference;

mod builder;
mod cases;
mod driver;
mod strategies;

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64)
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: cases(),
        failure_persistence: None,
        max_shrink_iters: 2_000,
        max_shrink_time: 120_000,
        ..ProptestConfig::default()
    })]

    #[test]
    fn folio_matches_the_model(case in strategies::case_gen()) {
        driver::run_case(&case).map_err(TestCaseError::fail)?;
    }
}
