//! A replica's injected faults (`Replica::inject_*`): only with the `fault-injection` feature.
//! Without it [`Faults`] is empty and every check is a constant the compiler removes.

#[cfg(feature = "fault-injection")]
mod on {
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    use std::time::Duration;

    /// What the drills and tests switched on.
    #[derive(Default)]
    pub(crate) struct Faults {
        stalled: AtomicBool,
        failing_reads: AtomicBool,
        /// Microseconds to sleep before each apply step (a slow replica).
        apply_delay_us: AtomicU64,
        /// Microseconds each apply keeps the write lock after applying (a long apply).
        apply_hold_us: AtomicU64,
    }

    fn micros(d: Duration) -> u64 {
        u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
    }

    impl Faults {
        /// Nothing injected.
        pub(crate) fn new() -> Faults {
            Faults::default()
        }

        /// The applier applies nothing.
        #[inline]
        pub(crate) fn stalled(&self) -> bool {
            self.stalled.load(Ordering::Relaxed)
        }

        /// Every read is refused.
        #[inline]
        pub(crate) fn failing_reads(&self) -> bool {
            self.failing_reads.load(Ordering::Relaxed)
        }

        /// Slept before each apply step.
        #[inline]
        pub(crate) fn apply_delay(&self) -> Duration {
            Duration::from_micros(self.apply_delay_us.load(Ordering::Relaxed))
        }

        /// The write lock is kept this much longer on every apply.
        #[inline]
        pub(crate) fn apply_hold(&self) -> Duration {
            Duration::from_micros(self.apply_hold_us.load(Ordering::Relaxed))
        }

        pub(crate) fn set_stalled(&self, on: bool) {
            self.stalled.store(on, Ordering::Relaxed);
        }

        pub(crate) fn set_failing_reads(&self, on: bool) {
            self.failing_reads.store(on, Ordering::Relaxed);
        }

        pub(crate) fn set_apply_delay(&self, delay: Duration) {
            self.apply_delay_us.store(micros(delay), Ordering::Relaxed);
        }

        pub(crate) fn set_apply_hold(&self, hold: Duration) {
            self.apply_hold_us.store(micros(hold), Ordering::Relaxed);
        }
    }
}

#[cfg(not(feature = "fault-injection"))]
mod off {
    use std::time::Duration;

    /// No faults can be injected in this build.
    pub(crate) struct Faults;

    impl Faults {
        pub(crate) const fn new() -> Faults {
            Faults
        }

        #[inline(always)]
        pub(crate) const fn stalled(&self) -> bool {
            false
        }

        #[inline(always)]
        pub(crate) const fn failing_reads(&self) -> bool {
            false
        }

        #[inline(always)]
        pub(crate) const fn apply_delay(&self) -> Duration {
            Duration::ZERO
        }

        #[inline(always)]
        pub(crate) const fn apply_hold(&self) -> Duration {
            Duration::ZERO
        }
    }
}

#[cfg(not(feature = "fault-injection"))]
pub(crate) use off::Faults;
#[cfg(feature = "fault-injection")]
pub(crate) use on::Faults;
