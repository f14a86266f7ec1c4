//! Daily cash balances: hash-sharded by org; per org, one packed value per month of day rows,
//! plus a Fenwick tree of month nets for bounded closing-balance reads.

use super::fenwick::MonthFenwick;
use super::PMap;
use crate::model::{BusinessDay, Lsn, Month, OrgId};
use std::sync::Arc;

/// Totals of one org and business day.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DayRow {
    pub day: BusinessDay,
    /// Revenue postings minus revenue reversals, minor units.
    pub revenue: i64,
    /// Expense postings minus expense reversals, minor units.
    pub expense: i64,
    /// Revenue rows (postings and reversals).
    pub revenue_count: u64,
    pub expense_count: u64,
    /// Net of this month's days up to and including this one (derived, not stored): a closing
    /// read takes one row instead of summing the month's rows before it.
    pub through: i64,
}

impl DayRow {
    pub fn net(&self) -> Option<i64> {
        self.revenue.checked_sub(self.expense)
    }
}

/// The day rows of one org and month: one physical value.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MonthBalances {
    /// Sorted by day, one row per day with activity.
    pub days: Vec<DayRow>,
    /// Sum of the day nets.
    pub net: i64,
    /// LSN of the checkpoint this value was last written at (0 = never).
    pub persisted: Lsn,
}

/// All balances of one org.
#[derive(Clone, Debug, Default)]
pub struct OrgBalances {
    /// Month values behind `Arc`s: copying an org's balances for a snapshot copies pointers.
    pub months: super::month_map::MonthMap<Arc<MonthBalances>>,
    pub prefix: MonthFenwick,
}

impl OrgBalances {
    /// Bytes of the org's balances and what they own (month values, day rows, prefix sums).
    pub fn heap_bytes(&self) -> usize {
        use std::mem::size_of;
        size_of::<Self>()
            + self.months.heap_bytes()
            + self
                .months
                .values()
                .map(|m| 16 + size_of::<MonthBalances>() + m.days.capacity() * size_of::<DayRow>())
                .sum::<usize>()
            + self.prefix.heap_bytes()
    }
}

/// One hash shard of the balances.
#[derive(Clone, Debug, Default)]
pub struct BalanceShard {
    pub orgs: PMap<OrgId, Arc<OrgBalances>>,
}

/// Which shard an org's balances live in (the SplitMix64 hash of the id, modulo the shard
/// count). Part of the on-disk format: the store keys balance values by shard.
pub fn shard_of(org: OrgId, shards: u32) -> usize {
    (crate::rng::SplitMix64::hash(org.0) % shards as u64) as usize
}

/// What a closing-balance read cost: Fenwick nodes and day rows read (bounded by design).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReadCost {
    /// Nodes of the org's month prefix-sum (Fenwick) tree read for the months before the day's.
    pub fenwick_nodes: u32,
    /// Month values read: 1 when the org has day rows in the day's month, else 0.
    pub month_values: u32,
    /// Day rows read: 0 or 1, the last row of the month at or before the day (found by binary
    /// search), which holds the month's net up to it.
    pub day_rows: u32,
    /// Frozen file blocks read: 0 when no month from the day's on is frozen; else the block of
    /// the day's month and, for an org without one there, a few before it or the later ones.
    pub frozen_blocks: u32,
}

impl MonthBalances {
    /// Adds to the day's row; `None` on overflow.
    pub fn add(
        &mut self,
        day: BusinessDay,
        revenue: i64,
        expense: i64,
        rows: (u64, u64),
    ) -> Option<i64> {
        let at = match self.days.binary_search_by_key(&day, |r| r.day) {
            Ok(at) => at,
            Err(at) => {
                let through = at
                    .checked_sub(1)
                    .map_or(0, |before| self.days[before].through);
                super::memory::reserve_one(&mut self.days);
                self.days.insert(
                    at,
                    DayRow {
                        day,
                        through,
                        ..DayRow::default()
                    },
                );
                at
            }
        };
        let row = &mut self.days[at];
        row.revenue = row.revenue.checked_add(revenue)?;
        row.expense = row.expense.checked_add(expense)?;
        row.revenue_count = row.revenue_count.checked_add(rows.0)?;
        row.expense_count = row.expense_count.checked_add(rows.1)?;
        let delta = revenue.checked_sub(expense)?;
        self.net = self.net.checked_add(delta)?;
        for later in &mut self.days[at..] {
            later.through = later.through.checked_add(delta)?;
        }
        Some(delta)
    }

    /// Sum of nets of days `<= day` in this month, and rows read (the last such day's running
    /// net: one row, found by binary search).
    pub fn net_through(&self, day: BusinessDay) -> Option<(i64, u32)> {
        let at = self.days.partition_point(|r| r.day <= day);
        Some(match at.checked_sub(1) {
            Some(last) => (self.days[last].through, 1),
            None => (0, 0),
        })
    }

    pub fn row(&self, day: BusinessDay) -> Option<&DayRow> {
        self.days
            .binary_search_by_key(&day, |r| r.day)
            .ok()
            .map(|at| &self.days[at])
    }
}

impl OrgBalances {
    /// Adds an entry's effect; keeps the Fenwick tree in step. `None` on overflow.
    pub fn add(
        &mut self,
        day: BusinessDay,
        revenue: i64,
        expense: i64,
        rows: (u64, u64),
    ) -> Option<()> {
        let month = day.month();
        let delta = Arc::make_mut(self.months.get_or_insert_default(month))
            .add(day, revenue, expense, rows)?;
        if !self.prefix.covers(month) {
            self.rebuild_prefix(month)?;
        } else {
            self.prefix.add(month, delta)?;
        }
        Some(())
    }

    /// Rebuilds the Fenwick tree from the month values (after loading them).
    pub fn reindex(&mut self, month: Month) -> Option<()> {
        self.prefix = MonthFenwick::default();
        self.rebuild_prefix(month)
    }

    /// Rebuilds the Fenwick tree with a window holding `month` and every stored month. The window
    /// at least doubles towards the side that grew, so rebuilds are amortized O(1) per month.
    fn rebuild_prefix(&mut self, month: Month) -> Option<()> {
        let first = self
            .months
            .keys()
            .next()
            .copied()
            .unwrap_or(month)
            .min(month);
        let last = self
            .months
            .keys()
            .next_back()
            .copied()
            .unwrap_or(month)
            .max(month);
        let (first, last) = (i64::from(first.index()), i64::from(last.index()));
        // Month indexes are bounded (`Month::MIN..=Month::MAX`) and so is the window
        // (`MonthFenwick::build` refuses a larger one): this arithmetic cannot overflow.
        let (lo, hi) = if self.prefix.is_empty() {
            (first, last)
        } else {
            let (base, end) = self.prefix.window();
            let width = (end - base + 1) * 2;
            if first < base {
                let hi = end.max(last);
                (first.min(hi - width + 1), hi)
            } else {
                (base, last.max(base + width - 1))
            }
        };
        let nets = self.months.iter().map(|(m, v)| (*m, v.net));
        self.prefix = MonthFenwick::build(lo, hi, nets)?;
        Some(())
    }

    /// Net of every day `<= day` (opening balance not included), with the read cost.
    pub fn net_through(&self, day: BusinessDay) -> Option<(i64, ReadCost)> {
        let month = day.month();
        let (before, nodes) = self.prefix.sum_before(month)?;
        let mut cost = ReadCost {
            fenwick_nodes: nodes,
            ..ReadCost::default()
        };
        let within = match self.months.get(&month) {
            Some(value) => {
                cost.month_values = 1;
                let (sum, rows) = value.net_through(day)?;
                cost.day_rows = rows;
                sum
            }
            None => 0,
        };
        Some((before.checked_add(within)?, cost))
    }

    pub fn row(&self, day: BusinessDay) -> Option<&DayRow> {
        self.months.get(&day.month())?.row(day)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closing_reads_stay_bounded_over_a_century() {
        let mut b = OrgBalances::default();
        let first = BusinessDay::from_ymd(1925, 1, 1).unwrap();
        // One posting every 10 days for a century, inserted newest first (every one back-dated).
        let days: Vec<BusinessDay> = (0..3653)
            .map(|i| first.checked_add_days(i * 10).unwrap())
            .collect();
        for d in days.iter().rev() {
            b.add(*d, 100, 30, (1, 1)).unwrap();
        }
        for (i, d) in days.iter().enumerate() {
            let (net, cost) = b.net_through(*d).unwrap();
            assert_eq!(net, 70 * (i as i64 + 1));
            assert!(cost.fenwick_nodes <= 11, "{cost:?}");
            assert!(cost.month_values <= 1 && cost.day_rows <= 1);
        }
    }

    proptest::proptest! {
        #[test]
        fn closing_matches_brute_force_in_any_insert_order(
            adds in proptest::collection::vec((-40_000i32..40_000, -1_000i64..1_000), 1..80),
            probes in proptest::collection::vec(-41_000i32..41_000, 1..20),
        ) {
            let mut b = OrgBalances::default();
            for &(day, amount) in &adds {
                b.add(BusinessDay::from_days(day).unwrap(), amount, 0, (1, 0)).unwrap();
            }
            for probe in probes {
                let expected: i64 = adds.iter().filter(|a| a.0 <= probe).map(|a| a.1).sum();
                let (net, cost) = b.net_through(BusinessDay::from_days(probe).unwrap()).unwrap();
                proptest::prop_assert_eq!(net, expected);
                proptest::prop_assert!(cost.fenwick_nodes <= 13 && cost.day_rows <= 1);
            }
        }

        /// Many postings on the days of three months, back-dated in any order: every day's
        /// running net stays exact.
        #[test]
        fn closing_matches_brute_force_within_busy_months(
            adds in proptest::collection::vec((19_700i32..19_790, -1_000i64..1_000, -500i64..500), 1..300),
            probes in proptest::collection::vec(19_690i32..19_800, 1..40),
        ) {
            let mut b = OrgBalances::default();
            for &(day, revenue, expense) in &adds {
                b.add(BusinessDay::from_days(day).unwrap(), revenue, expense, (1, 1)).unwrap();
            }
            for probe in probes {
                let expected: i64 = adds
                    .iter()
                    .filter(|a| a.0 <= probe)
                    .map(|a| a.1 - a.2)
                    .sum();
                let (net, cost) = b.net_through(BusinessDay::from_days(probe).unwrap()).unwrap();
                proptest::prop_assert_eq!(net, expected);
                proptest::prop_assert!(cost.day_rows <= 1);
            }
        }
    }

    #[test]
    fn shards_spread_orgs() {
        let mut counts = [0u32; 16];
        for org in 1..=16_000 {
            counts[shard_of(OrgId(org), 16)] += 1;
        }
        assert!(
            counts.iter().all(|&c| (800..1200).contains(&c)),
            "{counts:?}"
        );
    }
}
