//! Month-bucketed ledgers: one partition per (kind, UTC month of `occurred_at`), created on
//! demand; inside, one packed value per org with its rows in (occurred_at, entry_id) order.

use super::index::part::INDEX_MIN_ROWS;
use super::index::{IndexCatalog, IndexEntry, IndexPart};
use crate::model::{BusinessDay, Category, Kind, Lsn, Month, OrgId, PaymentMethod};

/// One ledger row as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    pub amount: i64,
    pub day: BusinessDay,
    pub category: Category,
    pub payment_method: PaymentMethod,
    /// Status code as posted (`codec::record::STATUS_NONE` for revenues and reversals).
    pub posted_status: u8,
    /// Set once a pending expense is paid.
    pub paid_at: Option<i64>,
    /// Entry id this row reverses, 0 when it is a posting.
    pub reverses: u64,
    /// Entry id of the reversal of this row, 0 while not reversed.
    pub reversed_by: u64,
    pub reference: Box<str>,
}

impl Row {
    /// Signed effect on its ledger's total: a reversal counts negative.
    pub fn signed_amount(&self) -> i64 {
        if self.reverses != 0 {
            -self.amount
        } else {
            self.amount
        }
    }
}

/// Rows of one org in one partition: one physical value, with its index partitions.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OrgMonthLedger {
    pub rows: super::rows::Rows,
    /// LSN of the checkpoint this value was last written at (0 = never).
    pub persisted: Lsn,
    /// One part per index of this ledger's table, in catalog slot order (derived from `rows`).
    pub indexes: Vec<IndexPart>,
    /// Σ signed amounts of the rows (derived).
    pub total: i64,
    /// Roll-up per category code, (Σ signed amounts, rows), kept for a ledger of
    /// `INDEX_MIN_ROWS` rows or more (derived); a smaller one sums its rows when asked
    /// ([`OrgMonthLedger::by_category`]). At 1,000,000 orgs most org-months hold a row or two,
    /// and the 176 bytes of a roll-up in each were most of a ledger's own size.
    kept_by_category: Option<Box<CategoryRollup>>,
}

/// (Σ signed amounts, rows) per category code.
pub type CategoryRollup = [(i64, u64); CATEGORY_SLOTS];

/// Category codes are 1..=10; slot 0 is unused.
pub const CATEGORY_SLOTS: usize = 11;

impl OrgMonthLedger {
    /// Bytes of the ledger and what it owns (its rows and index parts).
    pub fn heap_bytes(&self) -> usize {
        std::mem::size_of::<Self>()
            + self
                .kept_by_category
                .as_ref()
                .map_or(0, |_| std::mem::size_of::<CategoryRollup>())
            + self.rows.heap_bytes()
            + self.indexes.capacity() * std::mem::size_of::<IndexPart>()
            + self.indexes.iter().map(IndexPart::heap_bytes).sum::<usize>()
    }

    /// Adds a row (not yet among `rows`) to the derived totals; `None`, changing nothing, when
    /// the total or its category's sum would overflow.
    fn add_totals(&mut self, row: &Row) -> Option<()> {
        let signed = row.signed_amount();
        let total = self.total.checked_add(signed)?;
        let code = row.category.code() as usize;
        match self.kept_by_category.as_deref_mut() {
            Some(by_category) => {
                let slot = &mut by_category[code];
                slot.0 = slot.0.checked_add(signed)?;
                slot.1 += 1;
            }
            // The category's sum so far fits (each earlier row was checked so), so its wrapping
            // sum is exact whatever the order.
            None => {
                let before = self
                    .rows
                    .values()
                    .filter(|r| r.category == row.category)
                    .fold(0i64, |acc, r| acc.wrapping_add(r.signed_amount()));
                before.checked_add(signed)?;
            }
        }
        self.total = total;
        Some(())
    }

    /// The roll-up per category code of the rows: (Σ signed amounts, rows), slot 0 unused.
    pub fn by_category(&self) -> CategoryRollup {
        match &self.kept_by_category {
            Some(by_category) => **by_category,
            None => sum_by_category(&self.rows),
        }
    }

    /// Keeps the roll-up once the ledger is large enough to keep it.
    fn keep_by_category(&mut self) {
        if self.kept_by_category.is_none() && self.rows.len() >= INDEX_MIN_ROWS {
            self.kept_by_category = Some(Box::new(sum_by_category(&self.rows)));
        }
    }
}

/// Σ signed amounts and rows per category code. Every category's sum fits (the ledger checked
/// each as it grew), so wrapping sums are exact.
pub(crate) fn sum_by_category(rows: &super::rows::Rows) -> CategoryRollup {
    let mut by_category = [(0i64, 0u64); CATEGORY_SLOTS];
    for row in rows.values() {
        let slot = &mut by_category[row.category.code() as usize];
        slot.0 = slot.0.wrapping_add(row.signed_amount());
        slot.1 += 1;
    }
    by_category
}

impl OrgMonthLedger {
    /// Inserts a new row and its index entries (materializing the index parts once the ledger
    /// reaches `INDEX_MIN_ROWS`). `None` when the key exists or the total overflows.
    pub fn insert_row(
        &mut self,
        catalog: &IndexCatalog,
        kind: Kind,
        key: (i64, u64),
        row: Row,
    ) -> Option<()> {
        if self.rows.contains_key(&key) {
            return None;
        }
        self.add_totals(&row)?;
        if self.indexes.is_empty() {
            self.rows.insert(key, row);
            self.keep_by_category();
            if self.rows.len() >= INDEX_MIN_ROWS {
                self.materialize(catalog, kind);
            }
            return Some(());
        }
        // Parts exist for every index but one still being backfilled into this ledger.
        for ((_, def), part) in catalog.of_table(kind).zip(self.indexes.iter_mut()) {
            if def.admits(&row) {
                part.insert(IndexEntry::of(def, key, &row));
            }
        }
        self.rows.insert(key, row);
        self.keep_by_category();
        Some(())
    }

    /// Builds the parts this ledger lacks (an index created after it was materialized).
    /// Returns whether it built any.
    pub fn backfill(&mut self, catalog: &IndexCatalog, kind: Kind) -> bool {
        if self.indexes.len() >= catalog.count(kind) {
            return false;
        }
        if !self.has_indexes() {
            // A large ledger without parts: its table had no index when it grew past the
            // threshold (every index dropped). It gets every part now.
            if self.rows.len() < INDEX_MIN_ROWS {
                return false;
            }
            self.materialize(catalog, kind);
            return true;
        }
        for (slot, def) in catalog.of_table(kind).skip(self.indexes.len()) {
            let mut part = IndexPart::default();
            for (key, row) in &self.rows {
                if def.admits(row) {
                    part.insert(IndexEntry::of(def, *key, row));
                }
            }
            debug_assert_eq!(slot, self.indexes.len());
            self.indexes.push(part);
        }
        true
    }

    /// Whether this ledger's index parts exist (else readers scan its clustered rows).
    pub fn has_indexes(&self) -> bool {
        !self.indexes.is_empty()
    }

    fn materialize(&mut self, catalog: &IndexCatalog, kind: Kind) {
        self.indexes = vec![IndexPart::default(); catalog.count(kind)];
        if self.indexes.is_empty() {
            // The table has no index: nothing to build (and no pass over the rows per insert).
            return;
        }
        for (key, row) in &self.rows {
            for (slot, def) in catalog.of_table(kind) {
                if def.admits(row) {
                    self.indexes[slot].insert(IndexEntry::of(def, *key, row));
                }
            }
        }
    }

    /// Changes a row in place (a payment or reversal mark), keeping every index exact (and its
    /// runs sorted).
    pub fn update_row(
        &mut self,
        catalog: &IndexCatalog,
        kind: Kind,
        key: (i64, u64),
        change: impl FnOnce(&mut Row),
    ) -> Option<()> {
        let row = self.rows.get_mut(&key)?;
        let before: Vec<Option<IndexEntry>> = catalog
            .of_table(kind)
            .map(|(_, def)| def.admits(row).then(|| IndexEntry::of(def, key, row)))
            .collect();
        change(row);
        if self.indexes.is_empty() {
            return Some(());
        }
        for ((slot, def), old) in catalog.of_table(kind).zip(before) {
            let new = def.admits(row).then(|| IndexEntry::of(def, key, row));
            if old != new && slot < self.indexes.len() {
                if let Some(old) = old {
                    self.indexes[slot].remove(&old);
                }
                if let Some(new) = new {
                    self.indexes[slot].insert(new);
                }
            }
        }
        Some(())
    }

    /// Rebuilds the derived parts (indexes, total) from the rows, e.g. after loading.
    pub fn rebuild(&mut self, catalog: &IndexCatalog, kind: Kind) -> Option<()> {
        // As the rows were added, in key order: every running sum checked.
        let mut total = 0i64;
        let mut by_category = [(0i64, 0u64); CATEGORY_SLOTS];
        for row in self.rows.values() {
            let signed = row.signed_amount();
            total = total.checked_add(signed)?;
            let slot = &mut by_category[row.category.code() as usize];
            slot.0 = slot.0.checked_add(signed)?;
            slot.1 += 1;
        }
        self.total = total;
        self.kept_by_category =
            (self.rows.len() >= INDEX_MIN_ROWS).then(|| Box::new(by_category));
        self.indexes.clear();
        if self.rows.len() >= INDEX_MIN_ROWS {
            self.materialize(catalog, kind);
        }
        Some(())
    }
}

/// One partition: a ledger (revenues or expenses) for one calendar month.
#[derive(Clone, Debug, Default)]
pub struct MonthBucket {
    pub orgs: super::PMap<OrgId, std::sync::Arc<OrgMonthLedger>>,
    /// Of a revenue partition, what Q5 of a frozen month needs to leave most overlay orgs
    /// unread ([`RevenueBound`]): kept by apply, rebuilt by a load and by installing a frozen
    /// file.
    pub revenue_bound: RevenueBound,
}

/// What Q5 needs of a month's revenue partition in memory to leave most of its orgs unread (an
/// open month's, or a frozen month's overlay): the orgs with the highest totals (exact) and a
/// bound of every other org's total.
/// Every change of an org's total passes through [`RevenueBound::note`],
/// so the bound holds whatever the order of postings and reversals.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RevenueBound {
    /// Up to [`REVENUE_LEADERS`] orgs with their totals as last noted (exact), in no order.
    pub leaders: Vec<(i64, OrgId)>,
    /// At least the total of every org with rows that is not a leader (`i64::MIN` while none).
    pub rest_max: i64,
}

/// How many orgs a [`RevenueBound`] keeps exactly: enough for Q5's top 10 of an open month to
/// come from the leaders alone while they stay ahead of the rest.
pub const REVENUE_LEADERS: usize = 32;

impl Default for RevenueBound {
    fn default() -> RevenueBound {
        RevenueBound {
            leaders: Vec::new(),
            rest_max: i64::MIN,
        }
    }
}

impl RevenueBound {
    /// Takes in an org's new total.
    pub fn note(&mut self, org: OrgId, total: i64) {
        if let Some(leader) = self.leaders.iter_mut().find(|(_, o)| *o == org) {
            leader.0 = total;
            return;
        }
        if self.leaders.len() < REVENUE_LEADERS {
            self.leaders.push((total, org));
            return;
        }
        let lowest = self
            .leaders
            .iter_mut()
            .min_by_key(|(t, _)| *t)
            .filter(|(t, _)| *t < total);
        match lowest {
            Some(leader) => {
                self.rest_max = self.rest_max.max(leader.0);
                *leader = (total, org);
            }
            None => self.rest_max = self.rest_max.max(total),
        }
    }
}

#[cfg(test)]
mod revenue_bound_tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// After any sequence of total changes, every leader's total is exact and every other
        /// org's total is at most `rest_max`.
        #[test]
        fn leaders_are_exact_and_the_rest_bounded(
            changes in proptest::collection::vec((0u64..30, -1_000i64..1_000), 0..300),
        ) {
            let mut bound = RevenueBound::default();
            let mut totals = std::collections::BTreeMap::new();
            for (org, delta) in changes {
                let total = totals.entry(org).or_insert(0i64);
                *total += delta;
                bound.note(OrgId(org), *total);
            }
            prop_assert!(bound.leaders.len() <= REVENUE_LEADERS);
            for (org, total) in &totals {
                match bound.leaders.iter().find(|(_, o)| o.0 == *org) {
                    Some((t, _)) => prop_assert_eq!(t, total),
                    None => prop_assert!(*total <= bound.rest_max),
                }
            }
        }
    }
}

#[cfg(test)]
mod rollup_tests {
    use super::*;
    use crate::model::{BusinessDay, Category, PaymentMethod};
    use proptest::prelude::*;

    fn row(category: u8, amount: i64, reversal: bool) -> Row {
        Row {
            amount,
            day: BusinessDay::from_days(19_723).expect("a day"),
            category: Category::from_code(category).expect("a category"),
            payment_method: PaymentMethod::Card,
            posted_status: 0,
            paid_at: None,
            reverses: u64::from(reversal),
            reversed_by: 0,
            reference: "".into(),
        }
    }

    /// The running sums in insertion order (the reference): `None` once one overflows.
    fn reference(rows: &[Row]) -> Option<(i64, CategoryRollup)> {
        let mut total = 0i64;
        let mut by_category = [(0i64, 0u64); CATEGORY_SLOTS];
        for r in rows {
            total = total.checked_add(r.signed_amount())?;
            let slot = &mut by_category[r.category.code() as usize];
            slot.0 = slot.0.checked_add(r.signed_amount())?;
            slot.1 += 1;
        }
        Some((total, by_category))
    }

    proptest! {
        /// Below and past `INDEX_MIN_ROWS` rows (the roll-up summed on demand, then kept), the
        /// ledger's total and roll-up equal the running sums, a row that would overflow its
        /// category's sum or the total is refused and changes nothing, and a rebuild from the
        /// rows gives the same ledger.
        #[test]
        fn the_rollup_is_the_rows_sums_kept_or_not(
            rows in proptest::collection::vec(
                (1u8..=3, prop_oneof![0i64..1_000, Just(i64::MAX / 2), Just(i64::MAX)], any::<bool>()),
                0..150,
            ),
        ) {
            let catalog = IndexCatalog::default();
            let mut ledger = OrgMonthLedger::default();
            let mut accepted: Vec<Row> = Vec::new();
            for (i, (category, amount, reversal)) in rows.into_iter().enumerate() {
                let r = row(category, amount, reversal);
                let mut with = accepted.clone();
                with.push(r.clone());
                let before = ledger.clone();
                let key = (i as i64, i as u64);
                match reference(&with) {
                    Some(_) => {
                        prop_assert!(ledger.insert_row(&catalog, Kind::Revenue, key, r).is_some());
                        accepted = with;
                    }
                    None => {
                        prop_assert!(ledger.insert_row(&catalog, Kind::Revenue, key, r).is_none());
                        prop_assert_eq!(&ledger, &before);
                    }
                }
                let (total, by_category) = reference(&accepted).expect("accepted rows fit");
                prop_assert_eq!(ledger.total, total);
                prop_assert_eq!(ledger.by_category(), by_category);
                prop_assert_eq!(
                    ledger.kept_by_category.is_some(),
                    accepted.len() >= INDEX_MIN_ROWS
                );
            }
            let mut rebuilt = ledger.clone();
            prop_assert!(rebuilt.rebuild(&catalog, Kind::Revenue).is_some());
            prop_assert_eq!(&rebuilt, &ledger);
        }
    }
}

/// Identifies a ledger partition.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PartitionId {
    /// The ledger: revenues or expenses.
    pub kind: Kind,
    /// The UTC calendar month of the rows' `occurred_at`.
    pub month: Month,
}

impl PartitionId {
    /// The partition of an entry; `Error::OutOfRange` for a timestamp without a month.
    pub fn of(kind: Kind, occurred_at: i64) -> crate::error::Result<PartitionId> {
        Ok(PartitionId {
            kind,
            month: Month::of_utc(occurred_at)?,
        })
    }

    /// Name of the partition's tree, e.g. `revenues/2024-03`.
    pub fn tree_name(&self) -> String {
        let table = match self.kind {
            Kind::Revenue => "revenues",
            Kind::Expense => "expenses",
        };
        format!("{table}/{}", self.month)
    }
}
