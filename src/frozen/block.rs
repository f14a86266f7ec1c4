//! One org's block of a frozen month file: an rkyv archive of [`BlockRec`] holding the org's
//! ledger rows of the month (both kinds), their roll-ups, index parts, day rows with running
//! nets, and its entry ids in id order. Built from an [`OrgMonthInput`]; checked in full
//! ([`check`]) the first time a reader uses it (after its CRC32), and by the writer on the bytes
//! it is about to write.

use crate::error::{Error, Result};
use crate::limits::{MAX_KEY_COLUMNS, MAX_REFERENCE_BYTES};
use crate::model::{BusinessDay, Category, Currency, Kind, Month, OrgId, PaymentMethod};
use crate::state::ledger::Row;
use rkyv::{Archive, Serialize};

/// Category codes are 1..=10; slot 0 is unused (as in the state's roll-ups).
pub const CATEGORY_SLOTS: usize = 11;
/// Bit of a `by_id` item telling an expense row; the other bits are the row's ordinal.
pub const EXPENSE_BIT: u32 = 1 << 31;
/// Most rows of one kind in one block (the ordinals fit below [`EXPENSE_BIT`]).
pub const MAX_KIND_ROWS: usize = (EXPENSE_BIT - 1) as usize;

/// One ledger row as given to the writer: the engine's ledger row with its kind and key
/// (`occurred_at`, entry id), as a ledger partition holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FrozenRow {
    pub kind: Kind,
    pub occurred_at: i64,
    pub entry_id: u64,
    pub row: Row,
}

impl FrozenRow {
    /// Signed effect on its ledger's total: a reversal counts negative.
    pub fn signed_amount(&self) -> i64 {
        self.row.signed_amount()
    }
}

/// One org's totals for one business day of the month (the running net is derived by the
/// writer).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrozenDay {
    pub day: BusinessDay,
    pub revenue: i64,
    pub expense: i64,
    pub revenue_count: u64,
    pub expense_count: u64,
}

/// The entries of one index (catalog slot `slot` of a kind's table) for this org and month:
/// declared key values and the row they point to.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FrozenIndexPart {
    pub kind: Option<Kind>,
    pub slot: u32,
    /// (key values, occurred_at, entry id) of each entry, any order.
    pub entries: Vec<([i64; MAX_KEY_COLUMNS], i64, u64)>,
}

/// What the writer takes per org: the org's rows whose `occurred_at` falls in the month (any
/// order), its day rows of the month's business days (any order, one per day), and its index
/// parts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrgMonthInput {
    pub org: OrgId,
    /// The org's currency (from its record): required when it has revenue rows, whose month
    /// total is ranked in that currency's top list.
    pub currency: Option<Currency>,
    pub rows: Vec<FrozenRow>,
    pub days: Vec<FrozenDay>,
    pub indexes: Vec<FrozenIndexPart>,
    /// The org's *file-net prefix*: Σ of its month nets in the database's frozen files of the
    /// months before this one, when this file was written (see `state::frozen_set`).
    pub anchor: i64,
}

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

/// An index part: parallel arrays sorted by (key, row ordinal).
#[derive(Archive, Serialize, Debug)]
pub struct IndexRec {
    pub slot: u32,
    pub keys: Vec<[i64; MAX_KEY_COLUMNS]>,
    /// Ordinals into the kind's rows.
    pub rows: Vec<u32>,
}

/// Σ signed amounts and row count of one category.
#[derive(Archive, Serialize, Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CategorySum {
    pub sum: i64,
    pub count: u64,
}

/// Per-category roll-ups being summed from a kind's rows: where a block is written, where it is
/// checked, and where a read sums those a small kind does not store.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CategorySums(pub [(i64, u64); CATEGORY_SLOTS]);

impl CategorySums {
    /// Adds a row of category `code` and signed amount `signed`; `None` when its category's
    /// sum would overflow (nothing added).
    pub fn add(&mut self, code: u8, signed: i64) -> Option<()> {
        let slot = &mut self.0[usize::from(code) % CATEGORY_SLOTS];
        slot.0 = slot.0.checked_add(signed)?;
        slot.1 += 1;
        Some(())
    }

    /// As stored in a block.
    fn rollups(&self) -> Vec<CategorySum> {
        self.0
            .iter()
            .map(|&(sum, count)| CategorySum { sum, count })
            .collect()
    }
}

/// A kind with at least this many rows in a block stores its per-category roll-ups; one with
/// fewer has none (a read sums them from its rows: stored, they took 176 bytes a kind in every
/// block, most of a one-row org's block).
pub const ROLLUP_MIN_ROWS: usize = 64;

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
    /// The org's file-net prefix ([`OrgMonthInput::anchor`]).
    pub anchor: i64,
    /// Every row of the block in entry-id order: [`EXPENSE_BIT`] for an expense, | ordinal.
    pub by_id: Vec<u32>,
}

/// What a checked block tells its directory entry and the file-wide parts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BlockSummary {
    pub rows: u32,
    /// Smallest and largest entry id; (0, 0) for a block without rows.
    pub id_min: u64,
    pub id_max: u64,
    pub revenue_rows: usize,
    pub revenue_total: i64,
}

fn invalid(org: OrgId, why: impl std::fmt::Display) -> Error {
    Error::InvalidArgument(format!("frozen month input of org {}: {why}", org.0))
}

fn row_rec(frozen: &FrozenRow) -> RowRec {
    let row = &frozen.row;
    RowRec {
        occurred_at: frozen.occurred_at,
        entry_id: frozen.entry_id,
        amount: row.amount,
        reverses: row.reverses,
        reversed_by: row.reversed_by,
        paid_at: row.paid_at.unwrap_or(0),
        day: row.day.days(),
        category: row.category.code(),
        payment_method: row.payment_method.code(),
        posted_status: row.posted_status,
        paid: u8::from(row.paid_at.is_some()),
        reference: row.reference.to_string(),
    }
}

fn kind_rec(org: OrgId, rows: Vec<&FrozenRow>) -> Result<KindRec> {
    let mut rec = KindRec::default();
    let mut by_category = CategorySums::default();
    for row in rows {
        let signed = row.signed_amount();
        rec.total = rec
            .total
            .checked_add(signed)
            .ok_or_else(|| invalid(org, "total overflows"))?;
        by_category
            .add(row.row.category.code(), signed)
            .ok_or_else(|| invalid(org, "category total overflows"))?;
        rec.rows.push(row_rec(row));
    }
    if rec.rows.len() >= ROLLUP_MIN_ROWS {
        rec.by_category = by_category.rollups();
    }
    Ok(rec)
}

fn index_rec(org: OrgId, part: &FrozenIndexPart, rows: &[RowRec]) -> Result<IndexRec> {
    let mut items = Vec::with_capacity(part.entries.len());
    for (key, at, id) in &part.entries {
        let ord = rows
            .binary_search_by(|r| (r.occurred_at, r.entry_id).cmp(&(*at, *id)))
            .map_err(|_| invalid(org, format!("index entry for a missing row ({at}, {id})")))?;
        items.push((*key, ord as u32));
    }
    items.sort_unstable();
    Ok(IndexRec {
        slot: part.slot,
        keys: items.iter().map(|(k, _)| *k).collect(),
        rows: items.iter().map(|(_, o)| *o).collect(),
    })
}

/// Builds an org's block record from its input: rows sorted, roll-ups, running nets and the
/// id order derived. Overflowing sums are `InvalidArgument`; everything else the file's checks
/// refuse is found by [`check`] on the encoded bytes.
pub fn build(input: &OrgMonthInput) -> Result<BlockRec> {
    let org = input.org;
    let mut sorted: Vec<&FrozenRow> = input.rows.iter().collect();
    sorted.sort_by_key(|r| (r.kind, r.occurred_at, r.entry_id));
    let (revenues, expenses): (Vec<&FrozenRow>, Vec<&FrozenRow>) =
        sorted.into_iter().partition(|r| r.kind == Kind::Revenue);
    if revenues.len() > MAX_KIND_ROWS || expenses.len() > MAX_KIND_ROWS {
        return Err(invalid(org, "too many rows"));
    }
    let mut revenue = kind_rec(org, revenues)?;
    let mut expense = kind_rec(org, expenses)?;
    let mut by_id: Vec<(u64, u32)> = Vec::with_capacity(input.rows.len());
    by_id.extend((0..revenue.rows.len()).map(|i| (revenue.rows[i].entry_id, i as u32)));
    by_id.extend(
        (0..expense.rows.len()).map(|i| (expense.rows[i].entry_id, EXPENSE_BIT | i as u32)),
    );
    by_id.sort_unstable();
    let mut parts: Vec<&FrozenIndexPart> = input.indexes.iter().collect();
    parts.sort_by_key(|p| (p.kind, p.slot));
    for part in parts {
        match part.kind {
            Some(Kind::Revenue) => {
                let rec = index_rec(org, part, &revenue.rows)?;
                revenue.indexes.push(rec);
            }
            Some(Kind::Expense) => {
                let rec = index_rec(org, part, &expense.rows)?;
                expense.indexes.push(rec);
            }
            None => return Err(invalid(org, "index part without a kind")),
        }
    }
    let mut days_in: Vec<FrozenDay> = input.days.clone();
    days_in.sort_by_key(|d| d.day);
    let mut days = Vec::with_capacity(days_in.len());
    let mut through = 0i64;
    for d in days_in {
        let net = d.revenue.checked_sub(d.expense);
        through = net
            .and_then(|n| through.checked_add(n))
            .ok_or_else(|| invalid(org, "running net overflows"))?;
        days.push(DayRec {
            day: d.day.days(),
            revenue: d.revenue,
            expense: d.expense,
            revenue_count: d.revenue_count,
            expense_count: d.expense_count,
            through,
        });
    }
    Ok(BlockRec {
        org: org.0,
        revenue,
        expense,
        days,
        month_net: through,
        anchor: input.anchor,
        by_id: by_id.into_iter().map(|(_, loc)| loc).collect(),
    })
}

/// Encodes a block record.
pub fn encode(rec: &BlockRec) -> Result<rkyv::util::AlignedVec> {
    rkyv::to_bytes::<rkyv::rancor::Error>(rec)
        .map_err(|e| Error::InvalidArgument(format!("frozen block does not encode: {e}")))
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
    match Category::from_code(row.category) {
        Some(c) if c.allowed_for(kind) => {}
        _ => return fail("category code"),
    }
    if PaymentMethod::from_code(row.payment_method).is_none() {
        return fail("payment method code");
    }
    let reversal = row.reverses != 0;
    let status_ok = match (kind, reversal) {
        (Kind::Expense, false) => matches!(row.posted_status, 1 | 2),
        _ => row.posted_status == 0,
    };
    if !status_ok {
        return fail("posted status");
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

fn check_index(index: &ArchivedIndexRec, rows: usize) -> std::result::Result<(), String> {
    if index.keys.len() != index.rows.len() {
        return Err("index part arrays differ in length".into());
    }
    let mut last: Option<([i64; MAX_KEY_COLUMNS], u32)> = None;
    for (key, ord) in index.keys.iter().zip(index.rows.iter()) {
        let item = ((*key).map(|k| k.to_native()), ord.to_native());
        if item.1 as usize >= rows || last.is_some_and(|l| l >= item) {
            return Err(format!("index part entry {item:?} out of order or range"));
        }
        last = Some(item);
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
        through = d
            .revenue
            .to_native()
            .checked_sub(d.expense.to_native())
            .and_then(|net| through.checked_add(net))
            .ok_or("running net overflows")?;
        if d.through.to_native() != through {
            return Err(format!("running net of day {day} is not Σ day nets"));
        }
    }
    if block.month_net.to_native() != through {
        return Err("month net is not Σ day nets".into());
    }
    Ok(())
}

#[cfg(all(test, feature = "internals"))]
mod tests {
    use super::*;
    use crate::rng::SplitMix64;

    /// The block of an org-month input, encoded, accessed and checked.
    fn checked(rec: &BlockRec, month: Month) -> std::result::Result<BlockSummary, String> {
        let bytes = encode(rec).map_err(|e| e.to_string())?;
        let block = access(&bytes)?;
        check(block, rec.org, month)
    }

    /// A kind with 64 rows or more stores its roll-ups, one with fewer none; either way they
    /// must be what the rows sum to, and a stored set of another length is refused.
    #[test]
    fn roll_ups_are_stored_for_many_rows_only_and_checked_against_them() {
        let month = Month::new(2024, 3).expect("month");
        let mut rng = SplitMix64::new(11);
        for rows in [0, 1, 63, 64, 65, 200] {
            let input = crate::frozen::sample::org_month(&mut rng, OrgId(5), month, rows, false);
            let rec = build(&input).expect("build");
            checked(&rec, month).expect("a built block checks");
            for (kind, k) in [(Kind::Revenue, &rec.revenue), (Kind::Expense, &rec.expense)] {
                let want = match k.rows.len() >= ROLLUP_MIN_ROWS {
                    true => CATEGORY_SLOTS,
                    false => 0,
                };
                assert_eq!(k.by_category.len(), want, "{kind} with {} rows", k.rows.len());
                let mut summed = [CategorySum::default(); CATEGORY_SLOTS];
                for r in input.rows.iter().filter(|r| r.kind == kind) {
                    let slot = &mut summed[usize::from(r.row.category.code())];
                    slot.sum += r.signed_amount();
                    slot.count += 1;
                }
                if want > 0 {
                    assert_eq!(k.by_category, summed.to_vec(), "{kind}");
                }
            }
            // A roll-up changed, a set added to a kind with few rows, or one removed from a
            // kind with many: each refused.
            let mut damaged = build(&input).expect("build");
            let kind = match damaged.revenue.rows.len() >= damaged.expense.rows.len() {
                true => &mut damaged.revenue,
                false => &mut damaged.expense,
            };
            match kind.by_category.first_mut() {
                Some(_) if rng.below(2) == 0 => kind.by_category[1].count += 1,
                Some(_) => kind.by_category.clear(),
                None => kind.by_category = vec![CategorySum::default(); CATEGORY_SLOTS],
            }
            assert!(checked(&damaged, month).is_err(), "{rows} rows");
        }
    }
}
