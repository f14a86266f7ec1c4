//! Peak anonymous memory of each engine while it runs, sampled every 50 ms.
//!
//! Folio: its process's `RssAnon` (without the file-backed pages of mapped files, which the
//! kernel reclaims). PostgreSQL on this machine: Σ `RssAnon` of the postmaster and its children
//! (backends, checkpointer, WAL writer, …) plus the largest `RssShmem` among them (the shared
//! buffers they have touched, counted once). Linux only; `None` elsewhere or for a server whose
//! processes this user cannot see.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

/// Reads an engine's current resident bytes.
pub(crate) type Probe = Box<dyn Fn() -> Option<u64> + Send + Sync>;

/// Fields of a `/proc/PID/status` in bytes (each `None` when absent).
fn status_bytes(pid: &str, fields: &[&str]) -> Vec<Option<u64>> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    fields
        .iter()
        .map(|field| {
            let line = status.lines().find(|l| l.starts_with(field))?;
            let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
            Some(kib * 1024)
        })
        .collect()
}

/// This process's `RssAnon`.
pub(crate) fn own_process() -> Probe {
    Box::new(|| status_bytes("self", &["RssAnon:"])[0])
}

/// The parent pid of a process (`/proc/PID/stat`'s fourth field, after the command name).
fn parent_of(pid: &str) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(1)?.parse().ok()
}

/// A PostgreSQL server's processes: the postmaster `postmaster` and its children.
pub(crate) fn server(postmaster: u32) -> Probe {
    Box::new(move || {
        let (mut anon, mut shmem) = (0u64, 0u64);
        let mut seen = false;
        for entry in std::fs::read_dir("/proc").ok()?.flatten() {
            let name = entry.file_name();
            let Some(pid) = name
                .to_str()
                .filter(|p| p.bytes().all(|b| b.is_ascii_digit()))
            else {
                continue;
            };
            let ours = pid.parse() == Ok(postmaster) || parent_of(pid) == Some(postmaster);
            if !ours {
                continue;
            }
            let fields = status_bytes(pid, &["RssAnon:", "RssShmem:"]);
            anon += fields[0].unwrap_or(0);
            shmem = shmem.max(fields[1].unwrap_or(0));
            seen = true;
        }
        seen.then_some(anon + shmem)
    })
}

/// Runs `body` while a thread samples `probe`; its result and the largest value seen (`None`
/// without a probe or when no sample succeeded).
pub(crate) fn around<T>(probe: Option<Probe>, body: impl FnOnce() -> T) -> (T, Option<u64>) {
    let Some(probe) = probe else {
        return (body(), None);
    };
    let (peak, any, stop) = (
        AtomicU64::new(0),
        AtomicBool::new(false),
        AtomicBool::new(false),
    );
    let sample = || {
        if let Some(now) = probe() {
            peak.fetch_max(now, Ordering::Relaxed);
            any.store(true, Ordering::Relaxed);
        }
    };
    let result = std::thread::scope(|scope| {
        scope.spawn(|| {
            while !stop.load(Ordering::Relaxed) {
                sample();
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        let result = body();
        stop.store(true, Ordering::Relaxed);
        result
    });
    sample();
    let seen = any.load(Ordering::Relaxed);
    (result, seen.then(|| peak.load(Ordering::Relaxed)))
}
