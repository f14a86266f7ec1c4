//! A Fenwick (binary indexed) tree of month nets per org: the prefix sum of every month before a
//! given one in O(log span) reads and updates, however long the org's history.

use crate::model::Month;

/// Prefix sums over a window of months `[base, base + tree.len())`; the window doubles (and the
/// tree is rebuilt from the month nets) when a month outside it arrives.
#[derive(Clone, Debug, Default)]
pub struct MonthFenwick {
    base: i32,
    tree: Vec<i64>,
}

impl MonthFenwick {
    /// Builds a tree holding `nets` (month, net), with room for `lo..=hi`.
    pub fn build(
        lo: Month,
        hi: Month,
        nets: impl Iterator<Item = (Month, i64)>,
    ) -> Option<MonthFenwick> {
        let span = (hi.0 - lo.0 + 1).max(1) as usize;
        let mut f = MonthFenwick {
            base: lo.0,
            tree: vec![0; span.next_power_of_two()],
        };
        for (month, net) in nets {
            f.add(month, net)?;
        }
        Some(f)
    }

    pub fn is_empty(&self) -> bool {
        self.tree.is_empty()
    }

    pub fn covers(&self, month: Month) -> bool {
        month.0 >= self.base && ((month.0 - self.base) as usize) < self.tree.len()
    }

    /// The first and last month the tree has room for.
    pub fn window(&self) -> (Month, Month) {
        (
            Month(self.base),
            Month(self.base + self.tree.len() as i32 - 1),
        )
    }

    /// Adds `delta` to `month`'s net. The caller rebuilds first when `!covers(month)`.
    /// `None` on overflow (validation rules it out; see `state::validate`).
    pub fn add(&mut self, month: Month, delta: i64) -> Option<()> {
        debug_assert!(self.covers(month), "month outside the Fenwick window");
        if !self.covers(month) {
            return None;
        }
        let mut i = (month.0 - self.base) as usize + 1;
        while i <= self.tree.len() {
            self.tree[i - 1] = self.tree[i - 1].checked_add(delta)?;
            i += i & i.wrapping_neg();
        }
        Some(())
    }

    /// Sum of the nets of every month strictly before `month`, and the number of nodes read.
    pub fn sum_before(&self, month: Month) -> Option<(i64, u32)> {
        if month.0 <= self.base {
            return Some((0, 0));
        }
        let mut i = ((month.0 - self.base) as usize).min(self.tree.len());
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
            let f = MonthFenwick::build(Month(lo), Month(hi), adds.iter().map(|&(m, d)| (Month(m), d))).unwrap();
            let expected: i64 = adds.iter().filter(|a| a.0 < probe).map(|a| a.1).sum();
            let (sum, reads) = f.sum_before(Month(probe)).unwrap();
            prop_assert_eq!(sum, expected);
            prop_assert!(reads as usize <= f.tree.len().trailing_zeros() as usize + 1);
        }
    }
}
