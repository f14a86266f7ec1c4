//! Views of one org's month in a frozen file, read in place from the checked archive: rows by
//! kind and time, roll-ups, day rows with running nets, entry ids, index parts.

use super::block::{
    locate, ArchivedBlockRec, ArchivedDayRec, ArchivedIndexRec, ArchivedKindRec, ArchivedRowRec,
    FrozenRow, CATEGORY_SLOTS,
};
use super::reader::partition_point;
use crate::limits::MAX_KEY_COLUMNS;
use crate::model::{BusinessDay, Category, ExpenseStatus, Kind, OrgId, PaymentMethod};
use crate::state::balance::DayRow;
use crate::state::index::def::status_of;
use crate::state::ledger::Row;

/// One org's month in a frozen file (its block, checked).
#[derive(Clone, Copy)]
pub struct OrgMonth<'a> {
    block: &'a ArchivedBlockRec,
}

impl<'a> OrgMonth<'a> {
    pub(super) fn new(block: &'a ArchivedBlockRec) -> OrgMonth<'a> {
        OrgMonth { block }
    }

    pub fn org(&self) -> OrgId {
        OrgId(self.block.org.to_native())
    }

    fn kind(&self, kind: Kind) -> &'a ArchivedKindRec {
        match kind {
            Kind::Revenue => &self.block.revenue,
            Kind::Expense => &self.block.expense,
        }
    }

    pub fn row_count(&self, kind: Kind) -> usize {
        self.kind(kind).rows.len()
    }

    /// The rows of one kind in (occurred_at, entry id) order.
    pub fn rows(&self, kind: Kind) -> impl DoubleEndedIterator<Item = RowRef<'a>> + 'a {
        self.kind(kind)
            .rows
            .iter()
            .map(move |rec| RowRef { kind, rec })
    }

    /// The rows of one kind with `from <= occurred_at < to`, in order.
    pub fn rows_between(
        &self,
        kind: Kind,
        from: i64,
        to: i64,
    ) -> impl DoubleEndedIterator<Item = RowRef<'a>> + 'a {
        let rows = &self.kind(kind).rows[..];
        let start = partition_point(rows.len(), |i| rows[i].occurred_at < from);
        let end = partition_point(rows.len(), |i| rows[i].occurred_at < to).max(start);
        rows[start..end].iter().map(move |rec| RowRef { kind, rec })
    }

    /// Σ signed amounts of one kind's rows.
    pub fn total(&self, kind: Kind) -> i64 {
        self.kind(kind).total.to_native()
    }

    /// Per category code (slot 0 unused): (Σ signed amounts, rows). Stored for a kind with
    /// many rows, else summed from its few rows.
    pub fn by_category(&self, kind: Kind) -> [(i64, u64); CATEGORY_SLOTS] {
        let mut out = [(0i64, 0u64); CATEGORY_SLOTS];
        let stored = &self.kind(kind).by_category;
        if !stored.is_empty() {
            for (slot, sum) in out.iter_mut().zip(stored.iter()) {
                *slot = (sum.sum.to_native(), sum.count.to_native());
            }
            return out;
        }
        let mut sums = super::block::CategorySums::default();
        for row in self.rows(kind) {
            // The block's check summed every category of these rows without overflow.
            let _ = sums.add(row.category().code(), row.signed_amount());
        }
        sums.0
    }

    /// The day rows of the month's business days, in day order (as the state's balances hold
    /// them: totals and the month's running net through the day).
    pub fn days(&self) -> impl DoubleEndedIterator<Item = DayRow> + 'a {
        self.block.days.iter().map(day_row)
    }

    /// The day row of `day`, if the org had activity that day.
    pub fn day(&self, day: BusinessDay) -> Option<DayRow> {
        let days = &self.block.days[..];
        let at = partition_point(days.len(), |i| days[i].day < day.days());
        days.get(at).filter(|d| d.day == day.days()).map(day_row)
    }

    /// Net of the month's days up to and including `day` (the running net of the last day row
    /// at or before it; 0 before the first).
    pub fn net_through(&self, day: BusinessDay) -> i64 {
        let days = &self.block.days[..];
        let at = partition_point(days.len(), |i| days[i].day <= day.days());
        at.checked_sub(1)
            .and_then(|i| days.get(i))
            .map_or(0, |d| d.through.to_native())
    }

    /// Net of the whole month.
    pub fn month_net(&self) -> i64 {
        self.block.month_net.to_native()
    }

    /// The org's file-net prefix when the file was written: Σ of its month nets in the frozen
    /// files of earlier months.
    pub fn anchor(&self) -> i64 {
        self.block.anchor.to_native()
    }

    /// The row of entry `entry_id` (either kind).
    pub fn entry(&self, entry_id: u64) -> Option<RowRef<'a>> {
        let block = self.block;
        let ids = &block.by_id[..];
        let id_at =
            |i: usize| locate(block, ids[i].to_native()).map_or(0, |(_, r)| r.entry_id.to_native());
        let at = partition_point(ids.len(), |i| id_at(i) < entry_id);
        let (kind, rec) = locate(block, ids.get(at)?.to_native())?;
        (rec.entry_id == entry_id).then_some(RowRef { kind, rec })
    }

    /// Entry ids of the block in increasing order.
    pub fn entry_ids(&self) -> impl Iterator<Item = u64> + 'a {
        let block = self.block;
        block
            .by_id
            .iter()
            .filter_map(move |l| locate(block, l.to_native()).map(|(_, r)| r.entry_id.to_native()))
    }

    /// The index part of catalog slot `slot` of `kind`'s table, if the file holds one.
    pub fn index(&self, kind: Kind, slot: u32) -> Option<IndexView<'a>> {
        let rec = self.kind(kind);
        let parts = &rec.indexes[..];
        let at = partition_point(parts.len(), |i| parts[i].slot < slot);
        let part = parts.get(at).filter(|p| p.slot == slot)?;
        Some(IndexView {
            kind,
            part,
            rows: rec,
        })
    }
}

/// One row of a frozen file, read in place.
#[derive(Clone, Copy)]
pub struct RowRef<'a> {
    kind: Kind,
    rec: &'a ArchivedRowRec,
}

impl<'a> RowRef<'a> {
    pub fn kind(self) -> Kind {
        self.kind
    }
    pub fn entry_id(self) -> u64 {
        self.rec.entry_id.to_native()
    }
    pub fn occurred_at(self) -> i64 {
        self.rec.occurred_at.to_native()
    }
    pub fn amount(self) -> i64 {
        self.rec.amount.to_native()
    }
    /// The business day (checked when the block was: a value in range).
    pub fn day(self) -> BusinessDay {
        BusinessDay::from_days(self.rec.day.to_native()).unwrap_or(BusinessDay::MIN)
    }
    /// The category (checked when the block was).
    pub fn category(self) -> Category {
        Category::from_code(self.rec.category).unwrap_or(Category::Other)
    }
    /// The payment method (checked when the block was).
    pub fn payment_method(self) -> PaymentMethod {
        PaymentMethod::from_code(self.rec.payment_method).unwrap_or(PaymentMethod::Cash)
    }
    pub fn posted_status(self) -> u8 {
        self.rec.posted_status
    }
    pub fn paid_at(self) -> Option<i64> {
        (self.rec.paid == 1).then(|| self.rec.paid_at.to_native())
    }
    pub fn reverses(self) -> u64 {
        self.rec.reverses.to_native()
    }
    pub fn reversed_by(self) -> u64 {
        self.rec.reversed_by.to_native()
    }
    pub fn reference(self) -> &'a str {
        self.rec.reference.as_str()
    }
    /// Signed effect on its ledger's total: a reversal counts negative.
    pub fn signed_amount(self) -> i64 {
        if self.reverses() != 0 {
            -self.amount()
        } else {
            self.amount()
        }
    }
    /// Current status: `None` for revenues and reversals, `Paid` once a payment mark is set.
    pub fn status(self) -> Option<ExpenseStatus> {
        status_of(self.posted_status(), self.rec.paid == 1)
    }

    /// The row as the writer took it.
    pub fn to_row(self) -> FrozenRow {
        FrozenRow {
            kind: self.kind,
            entry_id: self.entry_id(),
            occurred_at: self.occurred_at(),
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

fn day_row(d: &ArchivedDayRec) -> DayRow {
    DayRow {
        day: BusinessDay::from_days(d.day.to_native()).unwrap_or(BusinessDay::MIN),
        revenue: d.revenue.to_native(),
        expense: d.expense.to_native(),
        revenue_count: d.revenue_count.to_native(),
        expense_count: d.expense_count.to_native(),
        through: d.through.to_native(),
    }
}

/// An index part of a frozen month: entries in (key values, occurred_at, entry id) order.
#[derive(Clone, Copy)]
pub struct IndexView<'a> {
    kind: Kind,
    part: &'a ArchivedIndexRec,
    rows: &'a ArchivedKindRec,
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
        let (kind, rows) = (self.kind, self.rows);
        let start = start.min(self.len());
        self.part.keys[start..]
            .iter()
            .zip(self.part.rows[start..].iter())
            .filter_map(move |(k, o)| {
                let rec = rows.rows.get(o.to_native() as usize)?;
                Some(((*k).map(|v| v.to_native()), RowRef { kind, rec }))
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
