//! Views of one org's month in a frozen file, read in place from the checked archive: rows by
//! kind and time, roll-ups, day rows with running nets, entry ids, index parts. One view over
//! both block formats: format 3 ([`super::block`], what this build writes) and format 2
//! ([`super::block_v2`], read until its month is frozen again).

use super::block::{self, ArchivedBlockRec, ArchivedIndexRec, CategorySums, CATEGORY_SLOTS};
use super::block_v2;
use super::reader::partition_point;
use crate::limits::MAX_KEY_COLUMNS;
use crate::model::{BusinessDay, Category, ExpenseStatus, Kind, Month, OrgId, PaymentMethod};
use crate::state::balance::DayRow;
use crate::state::index::def::status_of;
use crate::state::ledger::Row;

/// A checked block of either format.
#[derive(Clone, Copy)]
pub enum BlockRef<'a> {
    V2(&'a block_v2::ArchivedBlockRec),
    V3(&'a ArchivedBlockRec),
}

/// One org's month in a frozen file (its block, checked).
#[derive(Clone, Copy)]
pub struct OrgMonth<'a> {
    block: BlockRef<'a>,
    org: OrgId,
    month: Month,
}

impl<'a> OrgMonth<'a> {
    pub(super) fn new(block: BlockRef<'a>, org: OrgId, month: Month) -> OrgMonth<'a> {
        OrgMonth { block, org, month }
    }

    pub fn org(&self) -> OrgId {
        self.org
    }

    /// The month of the file the block is in.
    pub fn month(&self) -> Month {
        self.month
    }

    fn v2_kind(block: &'a block_v2::ArchivedBlockRec, kind: Kind) -> &'a block_v2::ArchivedKindRec {
        match kind {
            Kind::Revenue => &block.revenue,
            Kind::Expense => &block.expense,
        }
    }

    pub fn row_count(&self, kind: Kind) -> usize {
        match self.block {
            BlockRef::V2(b) => Self::v2_kind(b, kind).rows.len(),
            BlockRef::V3(b) => block::kind_range(b, kind).len(),
        }
    }

    /// Row `i` (in (occurred_at, entry id) order) of `kind`; `i < row_count(kind)`.
    fn row_at(&self, kind: Kind, i: usize) -> Option<RowRef<'a>> {
        match self.block {
            BlockRef::V2(b) => Self::v2_kind(b, kind).rows.get(i).map(|r| RowRef::v2(kind, r)),
            BlockRef::V3(b) => {
                let range = block::kind_range(b, kind);
                let at = range.start.checked_add(i).filter(|at| *at < range.end)?;
                Some(RowRef::v3(b, kind, at, self.month.start_utc()))
            }
        }
    }

    /// `occurred_at` of row `i` of `kind`.
    fn occurred_at(&self, kind: Kind, i: usize) -> i64 {
        match self.block {
            BlockRef::V2(b) => Self::v2_kind(b, kind).rows[i].occurred_at.to_native(),
            BlockRef::V3(b) => {
                let at = block::kind_range(b, kind).start + i;
                self.month.start_utc() + i64::from(b.rows[at].at.to_native())
            }
        }
    }

    /// The rows of one kind in (occurred_at, entry id) order.
    pub fn rows(&self, kind: Kind) -> impl DoubleEndedIterator<Item = RowRef<'a>> + 'a {
        let view = *self;
        (0..self.row_count(kind)).filter_map(move |i| view.row_at(kind, i))
    }

    /// Whether an expense row of the block is pending as the block records it (its status
    /// without the payments marked since, which the engine keeps as patches).
    pub fn has_pending(&self) -> bool {
        self.rows(Kind::Expense)
            .any(|row| row.status() == Some(ExpenseStatus::Pending))
    }

    /// The rows of one kind with `from <= occurred_at < to`, in order.
    pub fn rows_between(
        &self,
        kind: Kind,
        from: i64,
        to: i64,
    ) -> impl DoubleEndedIterator<Item = RowRef<'a>> + 'a {
        let n = self.row_count(kind);
        let start = partition_point(n, |i| self.occurred_at(kind, i) < from);
        let end = partition_point(n, |i| self.occurred_at(kind, i) < to).max(start);
        let view = *self;
        (start..end).filter_map(move |i| view.row_at(kind, i))
    }

    /// Σ signed amounts of one kind's rows.
    pub fn total(&self, kind: Kind) -> i64 {
        match self.block {
            BlockRef::V2(b) => Self::v2_kind(b, kind).total.to_native(),
            // Wrapping: the block's check summed the kind's total without overflow, so the
            // wrapping sum of the same amounts in any order is that total.
            BlockRef::V3(_) => self
                .by_category(kind)
                .iter()
                .fold(0i64, |sum, (s, _)| sum.wrapping_add(*s)),
        }
    }

    /// Per category code (slot 0 unused): (Σ signed amounts, rows). Stored for a kind with
    /// many rows, else summed from its few rows.
    pub fn by_category(&self, kind: Kind) -> [(i64, u64); CATEGORY_SLOTS] {
        let mut out = [(0i64, 0u64); CATEGORY_SLOTS];
        let stored = match self.block {
            BlockRef::V2(b) => Some(&Self::v2_kind(b, kind).by_category[..]).filter(|s| !s.is_empty()),
            BlockRef::V3(b) => block::rollups_at(b, kind)
                .and_then(|from| b.by_category.get(from..from + CATEGORY_SLOTS)),
        };
        if let Some(stored) = stored {
            for (slot, sum) in out.iter_mut().zip(stored.iter()) {
                *slot = (sum.sum.to_native(), sum.count.to_native());
            }
            return out;
        }
        let mut sums = CategorySums::default();
        for row in self.rows(kind) {
            // The block's check summed every category of these rows without overflow.
            let _ = sums.add(row.category().code(), row.signed_amount());
        }
        sums.0
    }

    /// The day rows of the month's business days, in day order (as the state's balances hold
    /// them: totals and the month's running net through the day).
    pub fn days(&self) -> impl DoubleEndedIterator<Item = DayRow> + 'a {
        let rows: Vec<DayRow> = match self.block {
            BlockRef::V2(b) => b.days.iter().map(v2_day_row).collect(),
            BlockRef::V3(b) => {
                let mut through = 0i64;
                v3_days(b, self.month)
                    .map(|(day, d)| {
                        // Wrapping: the block's check summed these nets without overflow.
                        through = through.wrapping_add(net(d));
                        v3_day_row(day, d, through)
                    })
                    .collect()
            }
        };
        rows.into_iter()
    }

    /// The day row of `day`, if the org had activity that day.
    pub fn day(&self, day: BusinessDay) -> Option<DayRow> {
        match self.block {
            BlockRef::V2(b) => {
                let days = &b.days[..];
                let at = partition_point(days.len(), |i| days[i].day < day.days());
                days.get(at).filter(|d| d.day == day.days()).map(v2_day_row)
            }
            BlockRef::V3(b) => {
                let bit = self.month.first_day().days_until(day);
                let mask = b.day_mask.to_native();
                if !(0..32).contains(&bit) || mask & (1 << bit) == 0 {
                    return None;
                }
                let below = mask & ((1u32 << bit) - 1);
                let through = self.net_through(day);
                let d = b.days.get(below.count_ones() as usize)?;
                Some(v3_day_row(day, d, through))
            }
        }
    }

    /// Net of the month's days up to and including `day` (the running net of the last day row
    /// at or before it; 0 before the first).
    pub fn net_through(&self, day: BusinessDay) -> i64 {
        match self.block {
            BlockRef::V2(b) => {
                let days = &b.days[..];
                let at = partition_point(days.len(), |i| days[i].day <= day.days());
                at.checked_sub(1)
                    .and_then(|i| days.get(i))
                    .map_or(0, |d| d.through.to_native())
            }
            BlockRef::V3(b) => v3_days(b, self.month)
                .take_while(|(d, _)| *d <= day)
                .fold(0i64, |sum, (_, d)| sum.wrapping_add(net(d))),
        }
    }

    /// Net of the whole month.
    pub fn month_net(&self) -> i64 {
        match self.block {
            BlockRef::V2(b) => b.month_net.to_native(),
            BlockRef::V3(b) => b.days.iter().fold(0i64, |sum, d| sum.wrapping_add(net(d))),
        }
    }

    /// The org's file-net prefix when the file was written: Σ of its month nets in the frozen
    /// files of earlier months.
    pub fn anchor(&self) -> i64 {
        match self.block {
            BlockRef::V2(b) => b.anchor.to_native(),
            BlockRef::V3(b) => b.anchor.to_native(),
        }
    }

    /// The row of entry `entry_id` (either kind).
    pub fn entry(&self, entry_id: u64) -> Option<RowRef<'a>> {
        match self.block {
            BlockRef::V2(b) => {
                let ids = &b.by_id[..];
                let id_at = |i: usize| {
                    block_v2::locate(b, ids[i].to_native()).map_or(0, |(_, r)| r.entry_id.to_native())
                };
                let at = partition_point(ids.len(), |i| id_at(i) < entry_id);
                let (kind, rec) = block_v2::locate(b, ids.get(at)?.to_native())?;
                (rec.entry_id == entry_id).then(|| RowRef::v2(kind, rec))
            }
            BlockRef::V3(b) => {
                let rows = &b.rows[..];
                let at = if b.by_id.is_empty() {
                    rows.iter().position(|r| r.entry_id == entry_id)?
                } else {
                    let ids = &b.by_id[..];
                    let id_at = |i: usize| {
                        rows.get(ids[i].to_native() as usize).map_or(0, |r| r.entry_id.to_native())
                    };
                    let i = partition_point(ids.len(), |i| id_at(i) < entry_id);
                    let at = ids.get(i)?.to_native() as usize;
                    (rows.get(at)?.entry_id == entry_id).then_some(at)?
                };
                let kind = match at < block::kind_range(b, Kind::Revenue).end {
                    true => Kind::Revenue,
                    false => Kind::Expense,
                };
                Some(RowRef::v3(b, kind, at, self.month.start_utc()))
            }
        }
    }

    /// Entry ids of the block in increasing order.
    pub fn entry_ids(&self) -> impl Iterator<Item = u64> + 'a {
        let ids: Vec<u64> = match self.block {
            BlockRef::V2(b) => b
                .by_id
                .iter()
                .filter_map(|l| block_v2::locate(b, l.to_native()).map(|(_, r)| r.entry_id.to_native()))
                .collect(),
            BlockRef::V3(b) if b.by_id.is_empty() => {
                let mut ids: Vec<u64> = b.rows.iter().map(|r| r.entry_id.to_native()).collect();
                ids.sort_unstable();
                ids
            }
            BlockRef::V3(b) => b
                .by_id
                .iter()
                .filter_map(|at| b.rows.get(at.to_native() as usize))
                .map(|r| r.entry_id.to_native())
                .collect(),
        };
        ids.into_iter()
    }

    /// The index part of catalog slot `slot` of `kind`'s table, if the file holds one.
    pub fn index(&self, kind: Kind, slot: u32) -> Option<IndexView<'a>> {
        let part = match self.block {
            BlockRef::V2(b) => {
                let parts = &Self::v2_kind(b, kind).indexes[..];
                let at = partition_point(parts.len(), |i| parts[i].slot < slot);
                parts.get(at).filter(|p| p.slot == slot)?
            }
            BlockRef::V3(b) => {
                let parts = &b.indexes[..];
                let key = (block::kind_code(kind), slot);
                let at = partition_point(parts.len(), |i| {
                    (parts[i].kind, parts[i].part.slot.to_native()) < key
                });
                let p = parts.get(at).filter(|p| (p.kind, p.part.slot.to_native()) == key)?;
                &p.part
            }
        };
        Some(IndexView {
            kind,
            part,
            month: *self,
        })
    }
}

fn net(d: &block::ArchivedDayRec) -> i64 {
    d.revenue.to_native().wrapping_sub(d.expense.to_native())
}

/// The day rows of a format-3 block with their days (the day mask's set bits, in order).
fn v3_days(
    b: &ArchivedBlockRec,
    month: Month,
) -> impl Iterator<Item = (BusinessDay, &block::ArchivedDayRec)> {
    let mask = b.day_mask.to_native();
    let first = month.first_day();
    (0..32u32)
        .filter(move |bit| mask & (1 << bit) != 0)
        .filter_map(move |bit| first.checked_add_days(i64::from(bit)))
        .zip(b.days.iter())
}

fn v3_day_row(day: BusinessDay, d: &block::ArchivedDayRec, through: i64) -> DayRow {
    DayRow {
        day,
        revenue: d.revenue.to_native(),
        expense: d.expense.to_native(),
        revenue_count: u64::from(d.revenue_count.to_native()),
        expense_count: u64::from(d.expense_count.to_native()),
        through,
    }
}

fn v2_day_row(d: &block_v2::ArchivedDayRec) -> DayRow {
    DayRow {
        day: BusinessDay::from_days(d.day.to_native()).unwrap_or(BusinessDay::MIN),
        revenue: d.revenue.to_native(),
        expense: d.expense.to_native(),
        revenue_count: d.revenue_count.to_native(),
        expense_count: d.expense_count.to_native(),
        through: d.through.to_native(),
    }
}

/// One row of a frozen file, read from its checked block.
#[derive(Clone, Copy)]
pub struct RowRef<'a> {
    kind: Kind,
    entry_id: u64,
    occurred_at: i64,
    amount: i64,
    day: i32,
    category: u8,
    payment_method: u8,
    posted_status: u8,
    paid_at: Option<i64>,
    reverses: u64,
    reversed_by: u64,
    reference: &'a str,
}

impl<'a> RowRef<'a> {
    fn v2(kind: Kind, r: &'a block_v2::ArchivedRowRec) -> RowRef<'a> {
        RowRef {
            kind,
            entry_id: r.entry_id.to_native(),
            occurred_at: r.occurred_at.to_native(),
            amount: r.amount.to_native(),
            day: r.day.to_native(),
            category: r.category,
            payment_method: r.payment_method,
            posted_status: r.posted_status,
            paid_at: (r.paid == 1).then(|| r.paid_at.to_native()),
            reverses: r.reverses.to_native(),
            reversed_by: r.reversed_by.to_native(),
            reference: r.reference.as_str(),
        }
    }

    fn v3(b: &'a ArchivedBlockRec, kind: Kind, at: usize, month_start: i64) -> RowRef<'a> {
        let r = &b.rows[at];
        let occurred_at = month_start + i64::from(r.at.to_native());
        let day = occurred_at.div_euclid(86_400) + i64::from(r.day_delta);
        let mut row = RowRef {
            kind,
            entry_id: r.entry_id.to_native(),
            occurred_at,
            amount: r.amount.to_native(),
            day: day as i32,
            category: r.category,
            payment_method: r.payment_method,
            posted_status: r.flags & block::STATUS_BITS,
            paid_at: None,
            reverses: 0,
            reversed_by: 0,
            reference: "",
        };
        if r.flags & block::EXTRA_FLAGS != 0 {
            if let Some(e) = block::extra_of(b, at) {
                row.reverses = e.reverses.to_native();
                row.reversed_by = e.reversed_by.to_native();
                row.paid_at = (r.flags & block::PAID != 0).then(|| e.paid_at.to_native());
                row.reference = e.reference.as_str();
            }
        }
        row
    }

    pub fn kind(self) -> Kind {
        self.kind
    }
    pub fn entry_id(self) -> u64 {
        self.entry_id
    }
    pub fn occurred_at(self) -> i64 {
        self.occurred_at
    }
    pub fn amount(self) -> i64 {
        self.amount
    }
    /// The business day (checked when the block was: a value in range).
    pub fn day(self) -> BusinessDay {
        BusinessDay::from_days(self.day).unwrap_or(BusinessDay::MIN)
    }
    /// The category (checked when the block was).
    pub fn category(self) -> Category {
        Category::from_code(self.category).unwrap_or(Category::Other)
    }
    /// The payment method (checked when the block was).
    pub fn payment_method(self) -> PaymentMethod {
        PaymentMethod::from_code(self.payment_method).unwrap_or(PaymentMethod::Cash)
    }
    pub fn posted_status(self) -> u8 {
        self.posted_status
    }
    pub fn paid_at(self) -> Option<i64> {
        self.paid_at
    }
    pub fn reverses(self) -> u64 {
        self.reverses
    }
    pub fn reversed_by(self) -> u64 {
        self.reversed_by
    }
    pub fn reference(self) -> &'a str {
        self.reference
    }
    /// Signed effect on its ledger's total: a reversal counts negative.
    pub fn signed_amount(self) -> i64 {
        if self.reverses != 0 {
            -self.amount
        } else {
            self.amount
        }
    }
    /// Current status: `None` for revenues and reversals, `Paid` once a payment mark is set.
    pub fn status(self) -> Option<ExpenseStatus> {
        status_of(self.posted_status, self.paid_at.is_some())
    }

    /// The row as the writer took it.
    pub fn to_row(self) -> super::block::FrozenRow {
        super::block::FrozenRow {
            kind: self.kind,
            entry_id: self.entry_id,
            occurred_at: self.occurred_at,
            row: self.ledger_row(),
        }
    }

    /// The row as the engine's ledger holds it.
    pub fn ledger_row(self) -> Row {
        Row {
            amount: self.amount(),
            day: self.day(),
            category: self.category(),
            payment_method: self.payment_method(),
            posted_status: self.posted_status(),
            paid_at: self.paid_at(),
            reverses: self.reverses(),
            reversed_by: self.reversed_by(),
            reference: self.reference().into(),
        }
    }
}

/// An index part of a frozen month: entries in (key values, occurred_at, entry id) order.
#[derive(Clone, Copy)]
pub struct IndexView<'a> {
    kind: Kind,
    part: &'a ArchivedIndexRec,
    month: OrgMonth<'a>,
}

impl<'a> IndexView<'a> {
    pub fn len(&self) -> usize {
        self.part.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every entry: its key values and its row.
    pub fn entries(&self) -> impl Iterator<Item = ([i64; MAX_KEY_COLUMNS], RowRef<'a>)> + 'a {
        self.entries_from(0)
    }

    fn entries_from(
        &self,
        start: usize,
    ) -> impl Iterator<Item = ([i64; MAX_KEY_COLUMNS], RowRef<'a>)> + 'a {
        let (kind, month) = (self.kind, self.month);
        let start = start.min(self.len());
        self.part.keys[start..]
            .iter()
            .zip(self.part.rows[start..].iter())
            .filter_map(move |(k, o)| {
                let row = month.row_at(kind, o.to_native() as usize)?;
                Some(((*k).map(|v| v.to_native()), row))
            })
    }

    /// The entries whose first `prefix.len()` key values equal `prefix`, in order.
    pub fn with_prefix(
        &self,
        prefix: &[i64],
    ) -> impl Iterator<Item = ([i64; MAX_KEY_COLUMNS], RowRef<'a>)> + 'a {
        let len = prefix.len().min(MAX_KEY_COLUMNS);
        let mut fixed = [0i64; MAX_KEY_COLUMNS];
        fixed[..len].copy_from_slice(&prefix[..len]);
        let keys = &self.part.keys[..];
        let head = |i: usize| {
            keys[i][..len]
                .iter()
                .map(|v| v.to_native())
                .lt(fixed[..len].iter().copied())
        };
        let start = partition_point(keys.len(), head);
        self.entries_from(start)
            .take_while(move |(k, _)| k[..len] == fixed[..len])
    }
}
