//! One org's block of a frozen month file (format 3): an rkyv archive of [`BlockRec`] holding
//! the org's ledger rows of the month (both kinds, 24 bytes a row: the time from the month's
//! start, the business day as a difference from the UTC day, marks as flags), the rare parts of
//! rows (reversal targets, reversals, payment times, references) apart, roll-ups of kinds with
//! many rows, index parts, day rows (the days a bitmap names; running nets summed on read), and
//! the entry-id order of a block with many rows. Built from an [`OrgMonthInput`]; checked in
//! full ([`check`]) the first time a reader uses it (after its CRC32), and by the writer on the
//! bytes it is about to write. Blocks of format 2 are read by [`super::block_v2`].

use crate::error::{Error, Result};
use crate::limits::{MAX_KEY_COLUMNS, MAX_REFERENCE_BYTES};
use crate::model::{BusinessDay, Category, Currency, Kind, Month, OrgId, PaymentMethod};
use crate::state::ledger::Row;
use rkyv::{Archive, Serialize};

/// Category codes are 1..=10; slot 0 is unused (as in the state's roll-ups).
pub const CATEGORY_SLOTS: usize = 11;
/// Most rows of one kind in one block (both kinds' ordinals fit a u32).
pub const MAX_KIND_ROWS: usize = (1 << 31) - 1;

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


/// A row as archived: 24 bytes.
#[derive(Archive, Serialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct RowRec {
    pub entry_id: u64,
    pub amount: i64,
    /// `occurred_at` minus the month's first second.
    pub at: u32,
    /// The business day minus the UTC day of `occurred_at` (-1, 0 or 1).
    pub day_delta: i8,
    pub category: u8,
    pub payment_method: u8,
    /// Bits 0–1: posted status; [`REVERSAL`], [`REVERSED`], [`PAID`], [`REFERENCE`]: the row
    /// has that part, in its [`ExtraRec`].
    pub flags: u8,
}

/// Bits 0–1 of a row's flags: its posted status.
pub const STATUS_BITS: u8 = 0b11;
/// The row is a reversal (its extra part names the entry it reverses).
pub const REVERSAL: u8 = 1 << 2;
/// The row was reversed (its extra part names the reversal).
pub const REVERSED: u8 = 1 << 3;
/// The row carries a payment mark (its extra part holds `paid_at`).
pub const PAID: u8 = 1 << 4;
/// The row has a non-empty reference (in its extra part).
pub const REFERENCE: u8 = 1 << 5;
/// The flags that give a row an extra part.
pub const EXTRA_FLAGS: u8 = REVERSAL | REVERSED | PAID | REFERENCE;

/// The rare parts of a row whose flags name any: 0 where its flag is clear.
#[derive(Archive, Serialize, Debug, Clone, PartialEq, Eq)]
pub struct ExtraRec {
    /// The row's position in the block's rows.
    pub row: u32,
    pub reverses: u64,
    pub reversed_by: u64,
    pub paid_at: i64,
    pub reference: String,
}

/// An index part: parallel arrays sorted by (key, row ordinal within its kind).
#[derive(Archive, Serialize, Debug)]
pub struct IndexRec {
    pub slot: u32,
    pub keys: Vec<[i64; MAX_KEY_COLUMNS]>,
    /// Ordinals into the kind's rows.
    pub rows: Vec<u32>,
}

/// An index part of one kind's table (kind 0 revenue, 1 expense).
#[derive(Archive, Serialize, Debug)]
pub struct KindIndexRec {
    pub kind: u8,
    pub part: IndexRec,
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
    fn rollups(&self) -> impl Iterator<Item = CategorySum> + '_ {
        self.0.iter().map(|&(sum, count)| CategorySum { sum, count })
    }
}

/// A kind with at least this many rows in a block stores its per-category roll-ups; one with
/// fewer has none (a read sums them from its rows).
pub const ROLLUP_MIN_ROWS: usize = 64;

/// A block with at least this many rows stores its entry-id order; one with fewer is searched
/// row by row.
pub const BY_ID_MIN_ROWS: usize = 16;

/// One business day's totals (its day is the block's `day_mask`'s bit of the same rank).
#[derive(Archive, Serialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayRec {
    pub revenue: i64,
    pub expense: i64,
    pub revenue_count: u32,
    pub expense_count: u32,
}

/// The archived root of an org block: 64 bytes.
#[derive(Archive, Serialize, Debug, Default)]
pub struct BlockRec {
    /// Revenue rows, then expense rows, each kind in (occurred_at, entry id) order.
    pub rows: Vec<RowRec>,
    /// How many of `rows` are revenues.
    pub revenue_rows: u32,
    /// Bit `i` set: the org has a day row for the month's business day `i` (0 = the 1st).
    pub day_mask: u32,
    /// The org's file-net prefix ([`OrgMonthInput::anchor`]).
    pub anchor: i64,
    /// One per bit of `day_mask`, in day order.
    pub days: Vec<DayRec>,
    /// The extra parts of the rows whose flags name any, by row position.
    pub extras: Vec<ExtraRec>,
    /// Per category code (slot 0 unused), [`CATEGORY_SLOTS`] sums for revenues when they have
    /// at least [`ROLLUP_MIN_ROWS`] rows, then as many for expenses when they do.
    pub by_category: Vec<CategorySum>,
    /// In (kind, slot) order.
    pub indexes: Vec<KindIndexRec>,
    /// Positions of `rows` in entry-id order, when the block has at least [`BY_ID_MIN_ROWS`]
    /// rows; else empty.
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

/// A kind's code in an index part.
pub fn kind_code(kind: Kind) -> u8 {
    match kind {
        Kind::Revenue => 0,
        Kind::Expense => 1,
    }
}

fn row_parts(org: OrgId, month_start: i64, frozen: &FrozenRow, at: usize) -> Result<(RowRec, Option<ExtraRec>)> {
    let row = &frozen.row;
    let delta = frozen.occurred_at.checked_sub(month_start);
    let Some(since) = delta.and_then(|d| u32::try_from(d).ok()) else {
        return Err(invalid(org, format!("row {} outside the month", frozen.entry_id)));
    };
    let utc_day = frozen.occurred_at.div_euclid(86_400);
    let day_delta = i64::from(row.day.days())
        .checked_sub(utc_day)
        .and_then(|d| i8::try_from(d).ok())
        .ok_or_else(|| invalid(org, format!("row {}: business day far from occurred_at", frozen.entry_id)))?;
    if row.posted_status > STATUS_BITS {
        return Err(invalid(org, format!("row {}: posted status", frozen.entry_id)));
    }
    let mut flags = row.posted_status;
    flags |= if row.reverses != 0 { REVERSAL } else { 0 };
    flags |= if row.reversed_by != 0 { REVERSED } else { 0 };
    flags |= if row.paid_at.is_some() { PAID } else { 0 };
    flags |= if row.reference.is_empty() { 0 } else { REFERENCE };
    let rec = RowRec {
        entry_id: frozen.entry_id,
        amount: row.amount,
        at: since,
        day_delta,
        category: row.category.code(),
        payment_method: row.payment_method.code(),
        flags,
    };
    let extra = (flags & EXTRA_FLAGS != 0).then(|| ExtraRec {
        row: at as u32,
        reverses: row.reverses,
        reversed_by: row.reversed_by,
        paid_at: row.paid_at.unwrap_or(0),
        reference: row.reference.to_string(),
    });
    Ok((rec, extra))
}

fn index_rec(org: OrgId, part: &FrozenIndexPart, rows: &[&FrozenRow]) -> Result<IndexRec> {
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

/// Builds an org's block record of `month` from its input: rows sorted, roll-ups and the id
/// order derived. Rows outside the month, roll-ups that overflow and counts a block cannot hold
/// are `InvalidArgument`; everything else the file's checks refuse (totals and running nets
/// that overflow among it) is found by [`check`] on the encoded bytes, which the writer runs
/// on every block before it writes it.
pub fn build(input: &OrgMonthInput, month: Month) -> Result<BlockRec> {
    let org = input.org;
    let mut sorted: Vec<&FrozenRow> = input.rows.iter().collect();
    sorted.sort_by_key(|r| (r.kind, r.occurred_at, r.entry_id));
    let revenue_rows = sorted.partition_point(|r| r.kind == Kind::Revenue);
    if revenue_rows > MAX_KIND_ROWS || sorted.len() - revenue_rows > MAX_KIND_ROWS {
        return Err(invalid(org, "too many rows"));
    }
    let month_start = month.start_utc();
    let mut rec = BlockRec {
        revenue_rows: revenue_rows as u32,
        anchor: input.anchor,
        ..BlockRec::default()
    };
    rec.rows.reserve_exact(sorted.len());
    for range in [0..revenue_rows, revenue_rows..sorted.len()] {
        for (at, row) in sorted[range.clone()].iter().enumerate() {
            let (row_rec, extra) = row_parts(org, month_start, row, range.start + at)?;
            rec.rows.push(row_rec);
            rec.extras.extend(extra);
        }
        if range.len() >= ROLLUP_MIN_ROWS {
            let mut sums = CategorySums::default();
            for row in &sorted[range] {
                sums.add(row.row.category.code(), row.signed_amount())
                    .ok_or_else(|| invalid(org, "category total overflows"))?;
            }
            rec.by_category.extend(sums.rollups());
        }
    }
    let mut parts: Vec<&FrozenIndexPart> = input.indexes.iter().collect();
    parts.sort_by_key(|p| (p.kind, p.slot));
    for part in parts {
        let (kind, rows) = match part.kind {
            Some(Kind::Revenue) => (Kind::Revenue, &sorted[..revenue_rows]),
            Some(Kind::Expense) => (Kind::Expense, &sorted[revenue_rows..]),
            None => return Err(invalid(org, "index part without a kind")),
        };
        let part = index_rec(org, part, rows)?;
        rec.indexes.push(KindIndexRec {
            kind: kind_code(kind),
            part,
        });
    }
    let mut days: Vec<&FrozenDay> = input.days.iter().collect();
    days.sort_by_key(|d| d.day);
    let first = month.first_day();
    for d in days {
        let bit = first.days_until(d.day);
        if !(0..month.days() as i32).contains(&bit) || rec.day_mask & (1 << bit) != 0 {
            return Err(invalid(org, format!("day row {} outside the month or repeated", d.day)));
        }
        rec.day_mask |= 1 << bit;
        let count = |n: u64| u32::try_from(n).map_err(|_| invalid(org, "day row count too large"));
        rec.days.push(DayRec {
            revenue: d.revenue,
            expense: d.expense,
            revenue_count: count(d.revenue_count)?,
            expense_count: count(d.expense_count)?,
        });
    }
    if sorted.len() >= BY_ID_MIN_ROWS {
        let mut by_id: Vec<(u64, u32)> = (0..sorted.len())
            .map(|i| (rec.rows[i].entry_id, i as u32))
            .collect();
        by_id.sort_unstable();
        rec.by_id = by_id.into_iter().map(|(_, at)| at).collect();
    }
    Ok(rec)
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

/// The rows of `kind` of a block: their range in its rows.
pub fn kind_range(block: &ArchivedBlockRec, kind: Kind) -> std::ops::Range<usize> {
    let split = (block.revenue_rows.to_native() as usize).min(block.rows.len());
    match kind {
        Kind::Revenue => 0..split,
        Kind::Expense => split..block.rows.len(),
    }
}

/// Whether a block stores `kind`'s roll-ups, and where they start in `by_category`.
pub fn rollups_at(block: &ArchivedBlockRec, kind: Kind) -> Option<usize> {
    let revenue = kind_range(block, Kind::Revenue).len() >= ROLLUP_MIN_ROWS;
    match kind {
        Kind::Revenue => revenue.then_some(0),
        Kind::Expense => (kind_range(block, Kind::Expense).len() >= ROLLUP_MIN_ROWS)
            .then_some(if revenue { CATEGORY_SLOTS } else { 0 }),
    }
}

/// The extra part of row `at`, when its flags name one.
pub fn extra_of(block: &ArchivedBlockRec, at: usize) -> Option<&ArchivedExtraRec> {
    let extras = &block.extras[..];
    let i = super::reader::partition_point(extras.len(), |i| (extras[i].row.to_native() as usize) < at);
    extras.get(i).filter(|e| e.row.to_native() as usize == at)
}

/// Checks everything one block of `month` says about itself: each row's fields (codes, flags,
/// the time within the month, the business day within a day of it), the rows' order, the extra
/// parts against the flags, the roll-ups against the rows, the day rows against the month and
/// their running nets (no overflow), the id order (a permutation of the rows, strictly
/// increasing ids; distinct ids in a block without one), the index parts' order and ordinals.
/// Returns what the directory and the file-wide parts must agree with.
pub fn check(block: &ArchivedBlockRec, month: Month) -> std::result::Result<BlockSummary, String> {
    let rows = &block.rows[..];
    if block.revenue_rows.to_native() as usize > rows.len() {
        return Err(format!("{} revenue rows of {}", block.revenue_rows, rows.len()));
    }
    let (start, len) = (month.start_utc(), month.end_utc() - month.start_utc());
    let mut revenue_total = 0;
    let mut stored_rollups = 0;
    let mut flagged = 0usize;
    for kind in [Kind::Revenue, Kind::Expense] {
        let range = kind_range(block, kind);
        let mut total = 0i64;
        let mut sums = CategorySums::default();
        let mut last: Option<(u32, u64)> = None;
        for at in range.clone() {
            let row = &rows[at];
            let key = (row.at.to_native(), row.entry_id.to_native());
            if last.is_some_and(|l| l >= key) {
                return Err(format!("{kind} rows out of order at {key:?}"));
            }
            last = Some(key);
            let extra = check_row(block, at, kind, start, len)?;
            flagged += usize::from(extra);
            let amount = row.amount.to_native();
            let signed = if row.flags & REVERSAL != 0 { -amount } else { amount };
            total = total.checked_add(signed).ok_or("total overflows")?;
            sums.add(row.category, signed).ok_or("category overflows")?;
        }
        if let Some(from) = rollups_at(block, kind) {
            stored_rollups += CATEGORY_SLOTS;
            let stored = block.by_category.get(from..from + CATEGORY_SLOTS).ok_or("roll-ups missing")?;
            for (slot, (s, sum)) in stored.iter().zip(sums.0).enumerate() {
                if (s.sum.to_native(), s.count.to_native()) != sum {
                    return Err(format!("{kind} roll-up of category {slot} is not Σ rows"));
                }
            }
        }
        if kind == Kind::Revenue {
            revenue_total = total;
        }
    }
    if block.by_category.len() != stored_rollups {
        return Err(format!("{} roll-ups where {stored_rollups} belong", block.by_category.len()));
    }
    let mut last_extra = None;
    for e in block.extras.iter() {
        let at = e.row.to_native();
        if last_extra.is_some_and(|l| l >= at) || at as usize >= rows.len() {
            return Err(format!("extra part of row {at} out of order or range"));
        }
        last_extra = Some(at);
    }
    if flagged != block.extras.len() {
        return Err(format!("{} extra parts for {flagged} rows that have one", block.extras.len()));
    }
    let mut last_part: Option<(u8, u32)> = None;
    for index in block.indexes.iter() {
        let key = (index.kind, index.part.slot.to_native());
        let kind = match index.kind {
            0 => Kind::Revenue,
            1 => Kind::Expense,
            _ => return Err(format!("index part of kind {}", index.kind)),
        };
        if last_part.is_some_and(|l| l >= key) {
            return Err(format!("index parts out of order at {key:?}"));
        }
        last_part = Some(key);
        check_index(&index.part, kind_range(block, kind).len())?;
    }
    check_days(block, month)?;
    let (id_min, id_max) = check_ids(block)?;
    Ok(BlockSummary {
        rows: u32::try_from(rows.len()).map_err(|_| "too many rows")?,
        id_min,
        id_max,
        revenue_rows: kind_range(block, Kind::Revenue).len(),
        revenue_total,
    })
}

/// Checks row `at` of `kind` and its extra part; returns whether it has one.
fn check_row(block: &ArchivedBlockRec, at: usize, kind: Kind, start: i64, len: i64) -> std::result::Result<bool, String> {
    let row = &block.rows[at];
    let id = row.entry_id.to_native();
    let fail = |what: &str| Err(format!("{kind} row {id}: {what}"));
    let since = i64::from(row.at.to_native());
    if since >= len {
        return fail("occurred_at outside the month");
    }
    if id == 0 || row.amount.to_native() <= 0 {
        return fail("zero id or non-positive amount");
    }
    let utc_day = (start + since).div_euclid(86_400);
    if !(-1..=1).contains(&row.day_delta) || BusinessDay::from_days((utc_day + i64::from(row.day_delta)) as i32).is_err() {
        return fail("business day more than a day from occurred_at, or out of range");
    }
    let flags = row.flags;
    if flags & !(STATUS_BITS | EXTRA_FLAGS) != 0 {
        return fail("unknown flags");
    }
    let reversal = flags & REVERSAL != 0;
    let status = flags & STATUS_BITS;
    if let Err(what) = check_codes(kind, row.category, row.payment_method, reversal, status) {
        return fail(what);
    }
    if flags & PAID != 0 && (kind != Kind::Expense || reversal) {
        return fail("paid mark");
    }
    if flags & EXTRA_FLAGS == 0 {
        return Ok(false);
    }
    let Some(extra) = extra_of(block, at) else {
        return fail("flags name an extra part it lacks");
    };
    let reference = extra.reference.as_str();
    let agrees = (extra.reverses != 0) == reversal
        && (extra.reversed_by != 0) == (flags & REVERSED != 0)
        && (flags & PAID != 0 || extra.paid_at == 0)
        && reference.is_empty() != (flags & REFERENCE != 0);
    if !agrees {
        return fail("extra part disagrees with the flags");
    }
    if reference.len() > MAX_REFERENCE_BYTES {
        return fail("reference too long");
    }
    Ok(true)
}

/// The codes of a row of `kind` (both formats): a category allowed for the kind, a known
/// payment method, and a posted status that fits the kind and whether the row is a reversal.
pub(super) fn check_codes(
    kind: Kind,
    category: u8,
    payment_method: u8,
    reversal: bool,
    status: u8,
) -> std::result::Result<(), &'static str> {
    match Category::from_code(category) {
        Some(c) if c.allowed_for(kind) => {}
        _ => return Err("category code"),
    }
    if PaymentMethod::from_code(payment_method).is_none() {
        return Err("payment method code");
    }
    let status_ok = match (kind, reversal) {
        (Kind::Expense, false) => matches!(status, 1 | 2),
        _ => status == 0,
    };
    if !status_ok {
        return Err("posted status");
    }
    Ok(())
}

/// An index part's arrays: equal lengths, entries strictly increasing, ordinals below `rows`.
pub(super) fn check_index(index: &ArchivedIndexRec, rows: usize) -> std::result::Result<(), String> {
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
    let mask = block.day_mask.to_native();
    if u64::from(mask) >> month.days() != 0 || mask.count_ones() as usize != block.days.len() {
        return Err(format!("day mask {mask:#x} does not fit the month or its {} day rows", block.days.len()));
    }
    let mut through = 0i64;
    for d in block.days.iter() {
        through = add_day_net(through, d.revenue.to_native(), d.expense.to_native())?;
    }
    Ok(())
}

/// A running net through one more day row (both formats); an overflow is an error.
pub(super) fn add_day_net(through: i64, revenue: i64, expense: i64) -> std::result::Result<i64, &'static str> {
    revenue
        .checked_sub(expense)
        .and_then(|net| through.checked_add(net))
        .ok_or("running net overflows")
}

/// The id order: with one, a permutation of the rows by strictly increasing id; without, a
/// block of few rows with distinct ids. Returns the smallest and largest id.
fn check_ids(block: &ArchivedBlockRec) -> std::result::Result<(u64, u64), String> {
    let rows = &block.rows[..];
    if rows.len() < BY_ID_MIN_ROWS {
        if !block.by_id.is_empty() {
            return Err("an id order in a block of few rows".into());
        }
        let mut ids: Vec<u64> = rows.iter().map(|r| r.entry_id.to_native()).collect();
        ids.sort_unstable();
        if ids.windows(2).any(|w| w[0] == w[1]) {
            return Err("entry ids repeated".into());
        }
        return Ok((ids.first().copied().unwrap_or(0), ids.last().copied().unwrap_or(0)));
    }
    if block.by_id.len() != rows.len() {
        return Err(format!("{} ids for {} rows", block.by_id.len(), rows.len()));
    }
    let mut last = 0u64;
    for at in block.by_id.iter() {
        let row = rows.get(at.to_native() as usize).ok_or("id order names no row")?;
        let id = row.entry_id.to_native();
        if id <= last {
            return Err(format!("entry ids out of order or repeated at {id}"));
        }
        last = id;
    }
    let id_at = |i: Option<&rkyv::rend::u32_le>| i.and_then(|at| rows.get(at.to_native() as usize)).map_or(0, |r| r.entry_id.to_native());
    Ok((id_at(block.by_id.first()), id_at(block.by_id.last())))
}

#[cfg(all(test, feature = "internals"))]
mod tests {
    use super::*;
    use crate::rng::SplitMix64;

    /// The block of an org-month input, encoded, accessed and checked.
    fn checked(rec: &BlockRec, month: Month) -> std::result::Result<BlockSummary, String> {
        let bytes = encode(rec).map_err(|e| e.to_string())?;
        let block = access(&bytes)?;
        check(block, month)
    }

    /// A kind with 64 rows or more stores its roll-ups, one with fewer none; either way they
    /// must be what the rows sum to, and a stored set of another length is refused.
    #[test]
    fn roll_ups_are_stored_for_many_rows_only_and_checked_against_them() {
        let month = Month::new(2024, 3).expect("month");
        let mut rng = SplitMix64::new(11);
        for rows in [0, 1, 15, 16, 63, 64, 65, 200] {
            let input = crate::frozen::sample::org_month(&mut rng, OrgId(5), month, rows, false);
            let rec = build(&input, month).expect("build");
            checked(&rec, month).expect("a built block checks");
            assert_eq!(rec.by_id.len(), if rows >= BY_ID_MIN_ROWS { rows } else { 0 });
            let mut want = Vec::new();
            for kind in [Kind::Revenue, Kind::Expense] {
                let mut summed = CategorySums::default();
                for r in input.rows.iter().filter(|r| r.kind == kind) {
                    summed.add(r.row.category.code(), r.signed_amount()).expect("fits");
                }
                let n = input.rows.iter().filter(|r| r.kind == kind).count();
                if n >= ROLLUP_MIN_ROWS {
                    want.extend(summed.rollups());
                }
            }
            assert_eq!(rec.by_category, want, "{rows} rows");
            // A roll-up changed, a set added to a block with few rows, or one removed from a
            // block with many: each refused.
            let mut damaged = build(&input, month).expect("build");
            match damaged.by_category.first_mut() {
                Some(_) if rng.below(2) == 0 => damaged.by_category[1].count += 1,
                Some(_) => damaged.by_category.clear(),
                None => damaged.by_category = vec![CategorySum::default(); CATEGORY_SLOTS],
            }
            assert!(checked(&damaged, month).is_err(), "{rows} rows");
        }
    }

    /// Rows of 24 bytes and a root of 64: the sizes the format's byte count rests on.
    #[test]
    fn rows_day_rows_and_the_root_have_their_documented_sizes() {
        assert_eq!(std::mem::size_of::<ArchivedRowRec>(), 24);
        assert_eq!(std::mem::size_of::<ArchivedDayRec>(), 24);
        assert_eq!(std::mem::size_of::<ArchivedBlockRec>(), 64);
        assert_eq!(std::mem::size_of::<ArchivedExtraRec>(), 40);
    }

    /// A kind total or a running net that overflows is refused on the encoded block (the
    /// writer checks every block it writes), even where no stored roll-up overflows.
    #[test]
    fn totals_and_running_nets_that_overflow_are_refused() {
        use crate::model::Category;
        let month = Month::new(2024, 3).expect("month");
        let mut rng = SplitMix64::new(3);
        let mut input = crate::frozen::sample::org_month(&mut rng, OrgId(4), month, 0, false);
        let day = month.first_day();
        for (id, category) in [(1, Category::Rooms), (2, Category::FoodBeverage)] {
            let mut row = crate::frozen::sample::org_month(&mut rng, OrgId(4), month, 1, false).rows[0].clone();
            row.kind = Kind::Revenue;
            row.entry_id = id;
            row.occurred_at = month.start_utc() + 3_600;
            row.row = Row { amount: i64::MAX / 2 + 1, day, category, posted_status: 0, paid_at: None, reverses: 0, reversed_by: 0, reference: "".into(), ..row.row };
            input.rows.push(row);
        }
        input.days.clear();
        let rec = build(&input, month).expect("few rows: no roll-ups to overflow");
        assert!(checked(&rec, month).unwrap_err().contains("total overflows"));
        input.rows.clear();
        for d in [day, day.next().expect("a day")] {
            input.days.push(FrozenDay { day: d, revenue: i64::MAX, expense: 0, revenue_count: 1, expense_count: 0 });
        }
        let rec = build(&input, month).expect("day rows are checked on the bytes");
        assert!(checked(&rec, month).unwrap_err().contains("running net overflows"));
    }

    /// Flags and extra parts must agree: a flag without its part, a part without a flag, or a
    /// part whose fields contradict the flags is refused.
    #[test]
    fn flags_and_extra_parts_must_agree() {
        let month = Month::new(2024, 3).expect("month");
        let mut rng = SplitMix64::new(5);
        let input = crate::frozen::sample::org_month(&mut rng, OrgId(9), month, 40, true);
        let rec = build(&input, month).expect("build");
        assert!(!rec.extras.is_empty(), "the sample has marked rows");
        checked(&rec, month).expect("a built block checks");
        let plain = rec.rows.iter().position(|r| r.flags & EXTRA_FLAGS == 0).expect("a plain row");
        let damages: [&dyn Fn(&mut BlockRec); 4] = [
            &|b| b.rows[plain].flags |= REFERENCE,
            &|b| { b.extras.remove(0); },
            &|b| b.extras[0].reverses ^= 1 << 40,
            &|b| b.extras[0].reference = "x".repeat(MAX_REFERENCE_BYTES + 1),
        ];
        for (n, damage) in damages.iter().enumerate() {
            let mut b = build(&input, month).expect("build");
            damage(&mut b);
            assert!(checked(&b, month).is_err(), "damage {n}");
        }
    }
}
