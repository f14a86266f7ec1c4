//! No panic from public input: every public read and write method of `Db`, `Snapshot`,
//! `Replica` and `ReadPool` (and the calendar and cursor types their arguments are built from),
//! driven with arbitrary arguments — days, months, ranges, limits, cursors, org ids, amounts and
//! timestamps at their extremes. Each call must return `Ok` or a typed `Err`; a panic fails the
//! property (proptest catches it and shrinks the input). Answers stay within their limits, and
//! the database stays usable: no call may leave it closed or poisoned.
//!
//! CI runs this test twice: with the test profile's overflow checks, and with them off
//! (`CARGO_PROFILE_TEST_OVERFLOW_CHECKS=false`, which reaches the engine library too) as an
//! embedder's release build may have them, where an unchecked overflow would wrap silently
//! instead of panicking.
//!
//! * `calendar.rs`: the calendar types; `inputs.rs`: arbitrary arguments and calls;
//!   `checking.rs`: what an answer must be; `fixture.rs`: the database every case starts from;
//! * the cases: `reads.rs`, `writes.rs`, `shipped.rs`.

#![allow(clippy::unwrap_used)]

mod calendar;
#[macro_use]
mod checking;
mod fixture;
mod inputs;
mod reads;
mod shipped;
mod writes;

use proptest::test_runner::{Config, TestRunner};

/// 2024-01-01T00:00:00Z.
const T0: i64 = 1_704_067_200;
const DAY: i64 = 86_400;

fn runner(cases: u32) -> TestRunner {
    TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    })
}
