//! The process's memory as the benchmarks report it: the largest `RssAnon` (the engine's own
//! anonymous memory, without file-backed pages such as mapped files, which the kernel reclaims),
//! sampled while a run goes on, and the kernel's peak resident set (`VmHWM`).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

/// A field of `/proc/self/status` in bytes (`VmHWM:`, `RssAnon:`), where the platform has it.
pub fn proc_status_bytes(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// RssAnon maxima, sampled every 20 ms until `stop`: over the whole run and over the current
/// phase.
#[derive(Default)]
pub struct Rss {
    pub whole: AtomicU64,
    pub phase: AtomicU64,
    pub stop: AtomicBool,
}

impl Rss {
    pub fn sample_until_stopped(&self) {
        while !self.stop.load(Ordering::Relaxed) {
            let now = proc_status_bytes("RssAnon:").unwrap_or(0);
            self.whole.fetch_max(now, Ordering::Relaxed);
            self.phase.fetch_max(now, Ordering::Relaxed);
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Starts the phase maximum over from the current RssAnon.
    pub fn restart_phase(&self) {
        let now = proc_status_bytes("RssAnon:").unwrap_or(0);
        self.phase.store(now, Ordering::Relaxed);
    }

    /// Runs `body` while a thread samples; returns its result and the largest RssAnon seen.
    pub fn around<T>(body: impl FnOnce() -> T) -> (T, u64) {
        let rss = Rss::default();
        let result = std::thread::scope(|scope| {
            scope.spawn(|| rss.sample_until_stopped());
            let result = body();
            rss.stop.store(true, Ordering::Relaxed);
            result
        });
        let now = proc_status_bytes("RssAnon:").unwrap_or(0);
        (result, rss.whole.load(Ordering::Relaxed).max(now))
    }
}
