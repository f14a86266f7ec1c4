//! A Fenwick (binary indexed) tree of month nets per org: the prefix sum of every month before a
//! given one in O(log span) reads and updates, however long the org's history.

use crate::model::Month;

/// Prefix sums over a window of month indexes `[base, base + tree.len())`; the window doubles
/// (and the tree is rebuilt from the month nets) when a month outside it arrives. The window may
/// reach past [`Month::MIN`] or [`Month::MAX`], so it is kept in month indexes (`i64`: exact for
/// any window of months in range).
#[derive(Clone, Debug, Default)]
pub struct MonthFenwick {
    base: i64,
    tree: Vec<i64>,
}

/// Most slots a window holds: four times what a window over every month in range can grow to
/// (2^18: it doubles until it covers them, at most once past their 2^17). A larger one is
/// refused instead of allocated.
const MAX_SLOTS: u64 = 1 << 20;

impl MonthFenwick {
    /// Builds a tree holding `nets` (month, net), with room for month indexes `lo..=hi`. `None`
    /// on overflow or a window over [`MAX_SLOTS`] months.
    pub fn build(
        lo: i64,
        hi: i64,
        nets: impl Iterator<Item = (Month, i64)>,
    ) -> Option<MonthFenwick> {
        let span = u64::try_from(hi.checked_sub(lo)?.checked_add(1)?.max(1)).ok()?;
        let slots = span
            .checked_next_power_of_two()
            .filter(|&s| s <= MAX_SLOTS)?;
        let mut f = MonthFenwick {
            base: lo,
            tree: vec![0; usize::try_from(slots).ok()?],
        };
        for (month, net) in nets {
            f.add(month, net)?;
        }
        Some(f)
    }

    /// Heap bytes of the tree.
    pub fn heap_bytes(&self) -> usize {
        self.tree.capacity() * std::mem::size_of::<i64>()
    }

    pub fn is_empty(&self) -> bool {
        self.tree.is_empty()
    }

    /// The 1-based tree position of `month`, if the window holds it.
    fn slot(&self, month: Month) -> Option<usize> {
        let offset = usize::try_from(i64::from(month.index()) - self.base).ok()?;
        (offset < self.tree.len()).then_some(offset + 1)
    }

    pub fn covers(&self, month: Month) -> bool {
        self.slot(month).is_some()
    }

    /// The first and last month index the tree has room for.
    pub fn window(&self) -> (i64, i64) {
        (self.base, self.base + self.tree.len() as i64 - 1)
    }

    /// Adds `delta` to `month`'s net. The caller rebuilds first when `!covers(month)`.
    /// `None` on overflow (validation rules it out; see `state::validate`) or outside the window.
    pub fn add(&mut self, month: Month, delta: i64) -> Option<()> {
        debug_assert!(self.covers(month), "month outside the Fenwick window");
        let mut i = self.slot(month)?;
        while i <= self.tree.len() {
            self.tree[i - 1] = self.tree[i - 1].checked_add(delta)?;
            i += i & i.wrapping_neg();
        }
        Some(())
    }

    /// Sum of the nets of every month strictly before `month`, and the number of nodes read.
    pub fn sum_before(&self, month: Month) -> Option<(i64, u32)> {
        let before = i64::from(month.index()) - self.base;
        let mut i = usize::try_from(before.max(0))
            .unwrap_or(usize::MAX)
            .min(self.tree.len());
        let mut sum = 0i64;
        let mut reads = 0;
        while i > 0 {
            sum = sum.checked_add(self.tree[i - 1])?;
            reads += 1;
            i -= i & i.wrapping_neg();
        }
        Some((sum, reads))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn prefix_sums_match_brute_force(
            adds in proptest::collection::vec((0i32..300, -1_000_000i64..1_000_000), 1..60),
            probe in 0i32..320,
        ) {
            let lo = adds.iter().map(|a| a.0).min().unwrap();
            let hi = adds.iter().map(|a| a.0).max().unwrap();
            let month = |m: i32| Month::from_index(24_000 + m).unwrap();
            let f = MonthFenwick::build(
                i64::from(month(lo).index()),
                i64::from(month(hi).index()),
                adds.iter().map(|&(m, d)| (month(m), d)),
            )
            .unwrap();
            let expected: i64 = adds.iter().filter(|a| a.0 < probe).map(|a| a.1).sum();
            let (sum, reads) = f.sum_before(month(probe)).unwrap();
            prop_assert_eq!(sum, expected);
            prop_assert!(reads as usize <= f.tree.len().trailing_zeros() as usize + 1);
        }
    }

    #[test]
    fn windows_are_bounded() {
        let max = i64::from(Month::MAX.index());
        assert!(MonthFenwick::build(0, max, std::iter::empty()).is_some());
        assert!(MonthFenwick::build(0, MAX_SLOTS as i64, std::iter::empty()).is_none());
        assert!(MonthFenwick::build(i64::MIN, i64::MAX, std::iter::empty()).is_none());
    }
}
