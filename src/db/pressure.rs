//! Writer backpressure, in two steps, both only while the engine is over its memory budget:
//! while the freezer has more whole months to freeze than one step takes (a backlog) and more
//! than [`pace_rows`] rows are in memory (two spills' worth), each batch is delayed in proportion
//! to its operations and to how far the rows have gone towards the gate ([`Pressure::pace`]),
//! so the freezer keeps level with the writers before they outrun it. (Not for the month that
//! takes the writes: paced writers make its spills smaller and more frequent, and each spill
//! costs the freezer work for every org, so pacing them slows the whole ingest.) Past
//! [`throttle_rows`] (what the whole
//! budget would hold at 256 bytes a row: eight spills' worth) a writer wakes the freezer and
//! waits for it to spill before its batch is queued.
//!
//! The rows in memory are the entry ids the applier holds, published by the committer after
//! each group and by each install, so a writer decides on the current count, and the freezer's
//! install lets waiting writers go the moment it brings the count under the threshold. The
//! budget verdict comes from the freezer's periodic account. The wait is bounded ([`MOST_WAIT`]
//! per batch), and a waiting writer holds no lock, so nothing the freezer or the committer does
//! can wait for it; a freezer that fails opens the gate until its next account. Only the
//! background freezer ([`crate::Options::auto_freeze`]) gives a verdict: without it writes are
//! never held back.

use parking_lot::{Condvar, Mutex};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The longest one batch waits for the freezer.
pub const MOST_WAIT: Duration = Duration::from_secs(5);

/// The delay per operation of a batch with the rows in memory at the gate ([`throttle_rows`]):
/// a writer paced all the way adds at most 50,000 operations a second, well under what the
/// freezer puts in files; at [`pace_rows`] the delay is zero, growing linearly between.
pub const MOST_PACE_PER_OP: Duration = Duration::from_micros(20);

/// The longest one batch is delayed by pacing (a batch of 50,000 operations at the gate).
pub const MOST_PACE: Duration = Duration::from_secs(1);

/// Rows in memory beyond which writers are paced while the engine is over `budget`: a quarter
/// of [`throttle_rows`], two spills' worth (the month that takes the writes gathers one spill's
/// worth before the freezer writes it out; the second covers the spill under way).
pub fn pace_rows(budget: u64) -> u64 {
    throttle_rows(budget) / 4
}

/// Rows in memory beyond which writers wait while the engine is over `budget`: as many as the
/// whole budget holds at [`super::freeze::SPILL_ROW_BYTES`] a row, eight times what the freezer
/// lets the month that takes the writes gather before it spills it (so the gate closes only
/// when the freezer has fallen well behind, not at every spill).
pub fn throttle_rows(budget: u64) -> u64 {
    super::freeze::spill_rows(budget).saturating_mul(8)
}

/// The gate writers wait at.
#[derive(Debug)]
pub(super) struct Pressure {
    /// The background freezer's last verdict: over the budget.
    over_budget: AtomicBool,
    /// Rows in memory (entry ids the applier holds), as last published.
    rows: AtomicU64,
    /// [`throttle_rows`] of the budget.
    limit: u64,
    /// [`pace_rows`] of the budget.
    pace_from: u64,
    /// The background freezer's last word: more whole months wait than one step takes.
    backlog: AtomicBool,
    gate: Mutex<()>,
    opened: Condvar,
}

impl Pressure {
    pub(super) fn new(budget: u64) -> Pressure {
        Pressure {
            over_budget: AtomicBool::new(false),
            rows: AtomicU64::new(0),
            limit: throttle_rows(budget),
            pace_from: pace_rows(budget),
            backlog: AtomicBool::new(false),
            gate: Mutex::new(()),
            opened: Condvar::new(),
        }
    }

    fn closed(&self) -> bool {
        self.over_budget.load(Ordering::Acquire) && self.pressed()
    }

    /// More rows in memory than writers may add to (whatever the budget's verdict).
    pub(super) fn pressed(&self) -> bool {
        self.rows.load(Ordering::Acquire) > self.limit
    }

    /// Wakes the writers when the gate opened.
    fn changed(&self) {
        if !self.closed() {
            let _gate = self.gate.lock();
            self.opened.notify_all();
        }
    }

    /// The freezer's verdict on the budget.
    pub(super) fn set_over_budget(&self, over: bool) {
        self.over_budget.store(over, Ordering::Release);
        self.changed();
    }

    /// The freezer's word on its backlog of whole months.
    pub(super) fn set_backlog(&self, backlog: bool) {
        self.backlog.store(backlog, Ordering::Release);
    }

    /// The rows in memory now.
    pub(super) fn set_rows(&self, rows: u64) {
        self.rows.store(rows, Ordering::Release);
        self.changed();
    }

    /// How long a batch of `ops` operations is delayed before it is queued (zero under the
    /// budget, without a backlog of whole months, or with at most [`pace_rows`] rows in
    /// memory): [`MOST_PACE_PER_OP`] per operation scaled by how far the rows have gone from
    /// [`pace_rows`] to [`throttle_rows`], at most [`MOST_PACE`].
    pub(super) fn pace(&self, ops: usize) -> Duration {
        if !self.over_budget.load(Ordering::Acquire) || !self.backlog.load(Ordering::Acquire) {
            return Duration::ZERO;
        }
        let rows = self.rows.load(Ordering::Acquire);
        if rows <= self.pace_from {
            return Duration::ZERO;
        }
        let span = self.limit.saturating_sub(self.pace_from).max(1);
        let into = (rows - self.pace_from).min(span);
        // At most 20,000 ns × the span: no overflow of u128.
        let per_op = MOST_PACE_PER_OP.as_nanos() * u128::from(into) / u128::from(span);
        let nanos = per_op.saturating_mul(ops as u128);
        Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX)).min(MOST_PACE)
    }

    /// Waits while the gate is closed, at most [`MOST_WAIT`], calling `wake` (the freezer)
    /// first; how long it waited (zero when open).
    pub(super) fn wait(&self, wake: impl FnOnce()) -> Duration {
        if !self.closed() {
            return Duration::ZERO;
        }
        wake();
        let started = Instant::now();
        let deadline = started + MOST_WAIT;
        let mut gate = self.gate.lock();
        while self.closed() {
            if self.opened.wait_until(&mut gate, deadline).timed_out() {
                break;
            }
        }
        started.elapsed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writers_wait_over_the_budget_with_too_many_rows_until_either_falls() {
        let pressure = std::sync::Arc::new(Pressure::new(1 << 20));
        let limit = throttle_rows(1 << 20);
        assert_eq!(limit, 32_768);
        let woken = std::sync::atomic::AtomicU32::new(0);
        let wake = || {
            woken.fetch_add(1, Ordering::Relaxed);
        };
        // Under the budget, or over it with few rows: no wait.
        pressure.set_rows(limit + 1);
        assert_eq!(pressure.wait(wake), Duration::ZERO);
        pressure.set_over_budget(true);
        pressure.set_rows(limit);
        assert_eq!(pressure.wait(wake), Duration::ZERO);
        assert_eq!(woken.load(Ordering::Relaxed), 0);
        // Over both: a writer waits until the rows fall.
        pressure.set_rows(limit + 1);
        let waiter = {
            let pressure = pressure.clone();
            std::thread::spawn(move || pressure.wait(|| {}))
        };
        std::thread::sleep(Duration::from_millis(50));
        pressure.set_rows(limit / 2);
        let waited = waiter.join().unwrap();
        assert!(waited >= Duration::from_millis(40), "{waited:?}");
        assert!(waited < MOST_WAIT, "{waited:?}");
        // Or until the verdict changes.
        pressure.set_rows(limit + 1);
        let waiter = {
            let pressure = pressure.clone();
            std::thread::spawn(move || pressure.wait(|| {}))
        };
        std::thread::sleep(Duration::from_millis(50));
        pressure.set_over_budget(false);
        assert!(waiter.join().unwrap() < MOST_WAIT);
        // Left closed, a writer goes on after the bound, having woken the freezer.
        pressure.set_over_budget(true);
        assert!(pressure.wait(wake) >= MOST_WAIT);
        assert_eq!(woken.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn batches_are_paced_over_the_budget_with_a_backlog_in_proportion_to_their_rows_and_to_the_rows_in_memory(
    ) {
        let pressure = Pressure::new(1 << 20);
        let (from, limit) = (pace_rows(1 << 20), throttle_rows(1 << 20));
        assert_eq!((from, limit), (8_192, 32_768));
        let span = limit - from;
        // Under the budget, or without a backlog of months: never paced, however many rows.
        pressure.set_rows(limit * 2);
        assert_eq!(pressure.pace(1_000), Duration::ZERO);
        pressure.set_over_budget(true);
        assert_eq!(pressure.pace(1_000), Duration::ZERO);
        pressure.set_backlog(true);
        // Over it: not up to `pace_rows`, then growing linearly to the gate, then flat.
        pressure.set_rows(from);
        assert_eq!(pressure.pace(1_000), Duration::ZERO);
        pressure.set_rows(from + span / 4);
        assert_eq!(pressure.pace(1_000), MOST_PACE_PER_OP * 1_000 / 4);
        assert_eq!(pressure.pace(2_000), MOST_PACE_PER_OP * 2_000 / 4);
        pressure.set_rows(from + span / 2);
        assert_eq!(pressure.pace(1_000), MOST_PACE_PER_OP * 1_000 / 2);
        assert_eq!(pressure.pace(0), Duration::ZERO);
        pressure.set_rows(limit);
        assert_eq!(pressure.pace(1_000), MOST_PACE_PER_OP * 1_000);
        pressure.set_rows(u64::MAX);
        assert_eq!(pressure.pace(1_000), MOST_PACE_PER_OP * 1_000);
        // A huge batch is delayed at most `MOST_PACE`.
        assert_eq!(pressure.pace(usize::MAX), MOST_PACE);
        // The freezer's verdicts lift it.
        pressure.set_backlog(false);
        assert_eq!(pressure.pace(1_000), Duration::ZERO);
        pressure.set_backlog(true);
        pressure.set_over_budget(false);
        assert_eq!(pressure.pace(1_000), Duration::ZERO);
    }
}
