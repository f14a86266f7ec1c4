//! Writer backpressure: while the engine is over its memory budget and holds more rows in
//! memory than the whole budget would hold ([`throttle_rows`]: at 256 bytes a row, eight spills'
//! worth), a writer wakes the freezer and waits for it to spill before its batch is queued.
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
    gate: Mutex<()>,
    opened: Condvar,
}

impl Pressure {
    pub(super) fn new(budget: u64) -> Pressure {
        Pressure {
            over_budget: AtomicBool::new(false),
            rows: AtomicU64::new(0),
            limit: throttle_rows(budget),
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

    /// The rows in memory now.
    pub(super) fn set_rows(&self, rows: u64) {
        self.rows.store(rows, Ordering::Release);
        self.changed();
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
}
