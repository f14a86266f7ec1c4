//! Org blocks of frozen month files of format 2, read only: every row 64 bytes (its time and
//! business day in full, reversal and payment marks and the reference inline), roll-ups and
//! totals stored per kind, day rows with their running net, the entry-id order as
//! (kind, ordinal) items. Files of format 3 ([`super::block`]) are what this build writes; a
//! month of format 2 is read as it is until it is frozen again.

use super::block::{
    add_day_net, check_codes, check_index, BlockSummary, CategorySum, CategorySums, IndexRec, CATEGORY_SLOTS,
    ROLLUP_MIN_ROWS,
};
use crate::limits::MAX_REFERENCE_BYTES;
use crate::model::{BusinessDay, Kind, Month};
use rkyv::{Archive, Serialize};

/// Bit of a `by_id` item telling an expense row; the other bits are the row's ordinal.
pub const EXPENSE_BIT: u32 = 1 << 31;

/// A row as archived (64 bytes plus a reference longer than 8 bytes).
#[derive(Archive, Serialize, Debug)]
pub struct RowRec {
    pub occurred_at: i64,
    pub entry_id: u64,
    pub amount: i64,
    pub reverses: u64,
    pub reversed_by: u64,
    /// Meaningful when `paid == 1`; 0 otherwise.
    pub paid_at: i64,
    pub day: i32,
    pub category: u8,
    pub payment_method: u8,
    pub posted_status: u8,
    /// 1 when the row carries a `paid_at`.
    pub paid: u8,
    pub reference: String,
}

/// One kind's rows, ordered by (occurred_at, entry id), with their roll-ups and index parts.
#[derive(Archive, Serialize, Debug, Default)]
pub struct KindRec {
    pub rows: Vec<RowRec>,
    pub total: i64,
    /// By category code (slot 0 unused), [`CATEGORY_SLOTS`] of them when the kind has at least
    /// [`ROLLUP_MIN_ROWS`] rows; else empty.
    pub by_category: Vec<CategorySum>,
    pub indexes: Vec<IndexRec>,
}

/// One business day's totals with the month's running net through it.
#[derive(Archive, Serialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayRec {
    pub day: i32,
    pub revenue: i64,
    pub expense: i64,
    pub revenue_count: u64,
    pub expense_count: u64,
    pub through: i64,
}

/// The archived root of an org block.
#[derive(Archive, Serialize, Debug, Default)]
pub struct BlockRec {
    pub org: u64,
    pub revenue: KindRec,
    pub expense: KindRec,
    pub days: Vec<DayRec>,
    /// Σ day nets (the last day's running net).
    pub month_net: i64,
    /// The org's file-net prefix ([`super::block::OrgMonthInput::anchor`]).
    pub anchor: i64,
    /// Every row of the block in entry-id order: [`EXPENSE_BIT`] for an expense, | ordinal.
    pub by_id: Vec<u32>,
}

/// Validates the archive bytes of a block (16-aligned) with bytecheck.
pub fn access(bytes: &[u8]) -> std::result::Result<&ArchivedBlockRec, String> {
    rkyv::access::<ArchivedBlockRec, rkyv::rancor::Error>(bytes).map_err(|e| e.to_string())
}

/// The archive of a block that [`access`] accepted before, without validating it again: a
/// large org's block takes as long to bytecheck as to read, on every lookup.
///
/// # Safety
/// `bytes` must be the very bytes (same address, same length, unchanged since) for which a call
/// of [`access`] returned `Ok`.
#[allow(unsafe_code)]
pub unsafe fn access_again(bytes: &[u8]) -> &ArchivedBlockRec {
    // SAFETY: `access` validated these bytes (alignment, bounds, every relative pointer and
    // every value of the archive) and the caller guarantees they have not changed since, which
    // is all `access_unchecked` requires.
    unsafe { rkyv::access_unchecked::<ArchivedBlockRec>(bytes) }
}

/// The row an item of `by_id` names: its kind and its row.
pub fn locate(block: &ArchivedBlockRec, loc: u32) -> Option<(Kind, &ArchivedRowRec)> {
    let ord = (loc & !EXPENSE_BIT) as usize;
    if loc & EXPENSE_BIT != 0 {
        Some((Kind::Expense, block.expense.rows.get(ord)?))
    } else {
        Some((Kind::Revenue, block.revenue.rows.get(ord)?))
    }
}

/// Checks everything one block says about itself: the org, each row's fields (codes, ranges,
/// `occurred_at` in the month, the business day within a day of it), the rows' order, the
/// roll-ups against the rows, the day rows' order, month and running nets, the id order (a
/// permutation of the rows, strictly increasing ids), the index parts' order and ordinals.
/// Returns what the directory and the file-wide parts must agree with.
pub fn check(
    block: &ArchivedBlockRec,
    org: u64,
    month: Month,
) -> std::result::Result<BlockSummary, String> {
    if block.org.to_native() != org {
        return Err(format!(
            "block of org {} where org {org} was expected",
            block.org
        ));
    }
    let revenue_total = check_kind(&block.revenue, Kind::Revenue, month)?;
    check_kind(&block.expense, Kind::Expense, month)?;
    check_days(block, month)?;
    let rows = block.revenue.rows.len() + block.expense.rows.len();
    if block.by_id.len() != rows {
        return Err(format!("{} ids for {rows} rows", block.by_id.len()));
    }
    let mut last = 0u64;
    for loc in block.by_id.iter() {
        let (_, row) = locate(block, loc.to_native()).ok_or("id order names no row")?;
        let id = row.entry_id.to_native();
        if id <= last {
            return Err(format!("entry ids out of order or repeated at {id}"));
        }
        last = id;
    }
    let first_id = |loc: Option<u32>| {
        loc.and_then(|l| locate(block, l))
            .map_or(0, |(_, r)| r.entry_id.to_native())
    };
    Ok(BlockSummary {
        rows: u32::try_from(rows).map_err(|_| "too many rows")?,
        id_min: first_id(block.by_id.first().map(|l| l.to_native())),
        id_max: first_id(block.by_id.last().map(|l| l.to_native())),
        revenue_rows: block.revenue.rows.len(),
        revenue_total,
    })
}

fn check_kind(rec: &ArchivedKindRec, kind: Kind, month: Month) -> std::result::Result<i64, String> {
    let (start, end) = (month.start_utc(), month.end_utc());
    let mut total = 0i64;
    let mut by_category = CategorySums::default();
    let mut last: Option<(i64, u64)> = None;
    for row in rec.rows.iter() {
        let key = (row.occurred_at.to_native(), row.entry_id.to_native());
        if last.is_some_and(|l| l >= key) {
            return Err(format!("{kind} rows out of order at {key:?}"));
        }
        last = Some(key);
        check_row(row, kind, start..end)?;
        let amount = row.amount.to_native();
        let signed = if row.reverses != 0 { -amount } else { amount };
        total = total.checked_add(signed).ok_or("total overflows")?;
        // Every category's sum must fit, also where a read sums the roll-ups from the rows.
        by_category
            .add(row.category, signed)
            .ok_or("category overflows")?;
    }
    if rec.total.to_native() != total {
        return Err(format!("{kind} total {} is not Σ rows {total}", rec.total));
    }
    let stored = match rec.rows.len() >= ROLLUP_MIN_ROWS {
        true => CATEGORY_SLOTS,
        false => 0,
    };
    if rec.by_category.len() != stored {
        return Err(format!("{kind} has {} roll-ups for {} rows", rec.by_category.len(), rec.rows.len()));
    }
    for (slot, (stored, sum)) in rec.by_category.iter().zip(by_category.0).enumerate() {
        if (stored.sum.to_native(), stored.count.to_native()) != sum {
            return Err(format!("{kind} roll-up of category {slot} is not Σ rows"));
        }
    }
    let mut last_slot = None;
    for index in rec.indexes.iter() {
        let slot = index.slot.to_native();
        if last_slot.is_some_and(|l| l >= slot) {
            return Err(format!("{kind} index parts out of order at slot {slot}"));
        }
        last_slot = Some(slot);
        check_index(index, rec.rows.len())?;
    }
    Ok(total)
}

fn check_row(
    row: &ArchivedRowRec,
    kind: Kind,
    month: std::ops::Range<i64>,
) -> std::result::Result<(), String> {
    let at = row.occurred_at.to_native();
    let id = row.entry_id.to_native();
    let fail = |what: &str| Err(format!("{kind} row {id}: {what}"));
    if !month.contains(&at) {
        return fail("occurred_at outside the month");
    }
    if id == 0 || row.amount.to_native() <= 0 {
        return fail("zero id or non-positive amount");
    }
    let Ok(day) = BusinessDay::from_days(row.day.to_native()) else {
        return fail("business day out of range");
    };
    if (i64::from(day.days()) - at.div_euclid(86_400)).abs() > 1 {
        return fail("business day more than a day from occurred_at");
    }
    let reversal = row.reverses != 0;
    if let Err(what) = check_codes(kind, row.category, row.payment_method, reversal, row.posted_status) {
        return fail(what);
    }
    let paid_ok = match row.paid {
        0 => row.paid_at == 0,
        1 => kind == Kind::Expense && !reversal,
        _ => false,
    };
    if !paid_ok {
        return fail("paid mark");
    }
    if row.reference.len() > MAX_REFERENCE_BYTES {
        return fail("reference too long");
    }
    Ok(())
}

fn check_days(block: &ArchivedBlockRec, month: Month) -> std::result::Result<(), String> {
    let days = month.first_day().days()..=month.last_day().days();
    let mut through = 0i64;
    let mut last = None;
    for d in block.days.iter() {
        let day = d.day.to_native();
        if !days.contains(&day) || last.is_some_and(|l| l >= day) {
            return Err(format!("day row {day} out of the month or out of order"));
        }
        last = Some(day);
        through = add_day_net(through, d.revenue.to_native(), d.expense.to_native())?;
        if d.through.to_native() != through {
            return Err(format!("running net of day {day} is not Σ day nets"));
        }
    }
    if block.month_net.to_native() != through {
        return Err("month net is not Σ day nets".into());
    }
    Ok(())
}

