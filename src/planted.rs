//! Deliberately planted faults, for the reliability harness's self-test only (docs/RELIABILITY.md).
//!
//! Each one is a classic durability bug. The self-test (tests/sim_selftest.rs) plants them one at a
//! time and requires the crash and fault harness to catch every one. This module exists only with
//! the `fault-injection` feature (test builds); there each check on the commit or recovery path
//! (the crate's `planted!` macro) is one relaxed atomic load, and without the feature it is the
//! constant `false`, so a shipped build can neither plant a bug nor pay for the check.

use std::sync::atomic::{AtomicU8, Ordering};

/// A planted durability bug.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Planted {
    /// Nothing planted: the engine as shipped.
    None = 0,
    /// The log writer never calls fdatasync.
    SkipFsync = 1,
    /// A group is acknowledged before its fdatasync (which happens with the next group).
    AckBeforeFsync = 2,
    /// A new log segment's directory entry is not synced.
    SkipDirSync = 3,
    /// Recovery cuts the log at a checksum error even when valid frames follow.
    TruncateMidLog = 4,
    /// A failed fdatasync is retried and the retry's success is taken as durability.
    RetryFailedFsync = 5,
}

impl Planted {
    pub const BUGS: [Planted; 5] = [
        Planted::SkipFsync,
        Planted::AckBeforeFsync,
        Planted::SkipDirSync,
        Planted::TruncateMidLog,
        Planted::RetryFailedFsync,
    ];
}

static PLANTED: AtomicU8 = AtomicU8::new(0);

/// Plants `bug` process-wide (`Planted::None` removes it).
pub fn plant(bug: Planted) {
    PLANTED.store(bug as u8, Ordering::SeqCst);
}

/// Whether `bug` is planted (the check sites use the crate's `planted!` macro).
#[inline]
pub(crate) fn is(bug: Planted) -> bool {
    PLANTED.load(Ordering::Relaxed) == bug as u8
}
