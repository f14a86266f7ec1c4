//! Counters that many reader threads touch on every read, split into cache-line stripes with
//! each thread on its own stripe, so a read moves no cache line between cores.

use crossbeam::utils::CachePadded;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

pub(crate) const STRIPES: usize = 8;

thread_local! {
    static STRIPE: usize = {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        NEXT.fetch_add(1, Ordering::Relaxed) % STRIPES
    };
}

/// This thread's stripe.
pub(crate) fn home() -> usize {
    STRIPE.with(|&i| i)
}

/// A sum of per-stripe counts.
#[derive(Default)]
pub(crate) struct Counter([CachePadded<AtomicU64>; STRIPES]);

impl Counter {
    pub(crate) fn add(&self, n: u64) {
        self.0[home()].fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn sum(&self) -> u64 {
        self.0.iter().map(|c| c.load(Ordering::Relaxed)).sum()
    }
}

/// One stripe of a [`Slots`]: slots in use and the most ever in use at once.
#[derive(Default)]
struct Stripe {
    used: AtomicUsize,
    peak: AtomicUsize,
}

/// A bounded number of slots (the read pool's handles), split over the stripes: a thread takes
/// from its own stripe first and from the others when that one is full, so the total never
/// exceeds the bound and an uncontended take touches one cache line.
pub(crate) struct Slots {
    stripes: [CachePadded<Stripe>; STRIPES],
    caps: [usize; STRIPES],
}

impl Slots {
    pub(crate) fn new(max: usize) -> Slots {
        let caps = std::array::from_fn(|i| max / STRIPES + usize::from(i < max % STRIPES));
        Slots {
            stripes: Default::default(),
            caps,
        }
    }

    /// Takes a slot; the stripe it came from (to give back), or `None` when all are in use.
    pub(crate) fn take(&self) -> Option<usize> {
        let home = home();
        (0..STRIPES)
            .map(|k| (home + k) % STRIPES)
            .find(|&i| self.take_from(i))
    }

    fn take_from(&self, i: usize) -> bool {
        let stripe = &self.stripes[i];
        let taken = stripe
            .used
            .fetch_update(Ordering::AcqRel, Ordering::Relaxed, |n| {
                (n < self.caps[i]).then_some(n + 1)
            });
        match taken {
            Ok(before) => {
                stripe.peak.fetch_max(before + 1, Ordering::Relaxed);
                true
            }
            Err(_) => false,
        }
    }

    pub(crate) fn give_back(&self, stripe: usize) {
        let before = self.stripes[stripe].used.fetch_sub(1, Ordering::AcqRel);
        debug_assert!(before > 0, "slot given back twice");
    }

    pub(crate) fn in_use(&self) -> usize {
        self.stripes
            .iter()
            .map(|s| s.used.load(Ordering::Relaxed))
            .sum()
    }

    /// Σ over stripes of the most slots each ever had in use at once.
    pub(crate) fn opened(&self) -> usize {
        self.stripes
            .iter()
            .map(|s| s.peak.load(Ordering::Relaxed))
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_never_exceed_the_bound_and_come_back() {
        for max in [1, 2, 5, 8, 9, 50] {
            let slots = Slots::new(max);
            let taken: Vec<usize> = std::iter::from_fn(|| slots.take()).take(100).collect();
            assert_eq!(taken.len(), max, "max {max}");
            assert_eq!(slots.in_use(), max);
            assert!(slots.take().is_none());
            slots.give_back(taken[0]);
            assert_eq!(slots.in_use(), max - 1);
            assert!(slots.take().is_some());
            assert_eq!(slots.opened(), max);
        }
    }

    #[test]
    fn counters_sum_their_stripes_across_threads() {
        let c = std::sync::Arc::new(Counter::default());
        let threads: Vec<_> = (0..12)
            .map(|_| {
                let c = c.clone();
                std::thread::spawn(move || (0..1000).for_each(|_| c.add(1)))
            })
            .collect();
        threads.into_iter().for_each(|t| t.join().expect("thread"));
        assert_eq!(c.sum(), 12_000);
    }
}
