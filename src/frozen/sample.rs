//! Random, self-consistent org-months for the frozen-file tests, the fuzz seeds and the bench
//! (feature `internals` only): rows of both kinds with postings, reversals, paid expenses and
//! references up to the limit, day rows summed from the rows (plus, on the month's first and
//! last day, amounts of rows that lie in a neighbouring month's file), and index parts.

use super::block::{FrozenDay, FrozenIndexPart, FrozenRow, OrgMonthInput};
use super::layout::FileId;
use super::manifest::ManifestEntry;
use super::writer::{FileMeta, FrozenWriter};
use crate::error::Result;
use crate::io::Vfs;
use crate::limits::MAX_REFERENCE_BYTES;
use crate::model::{BusinessDay, Category, Currency, Kind, Month, OrgId, PaymentMethod};
use crate::rng::SplitMix64;
use crate::state::ledger::Row;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// What to generate.
#[derive(Clone, Copy, Debug)]
pub struct Sample {
    pub month: Month,
    pub orgs: usize,
    /// Rows of an org are drawn from `0..=max_rows` (some orgs get none).
    pub max_rows: usize,
    /// Extreme values: ids near 1 and `u64::MAX`, amounts near their org's bound, the month's
    /// first and last second, long references.
    pub extremes: bool,
}

fn pick<T: Copy>(rng: &mut SplitMix64, items: &[T]) -> T {
    items[rng.below(items.len() as u64) as usize]
}

fn reference(rng: &mut SplitMix64, extremes: bool) -> String {
    let len = match rng.below(4) {
        0 => 0,
        1 if extremes => MAX_REFERENCE_BYTES,
        _ => rng.below(20) as usize,
    };
    let mut text = String::new();
    while text.len() < len {
        let c = if rng.below(8) == 0 {
            'é'
        } else {
            (b'a' + rng.below(26) as u8) as char
        };
        if text.len() + c.len_utf8() > len {
            break;
        }
        text.push(c);
    }
    text
}

fn row(rng: &mut SplitMix64, month: Month, id: u64, budget: i64, extremes: bool) -> FrozenRow {
    let kind = pick(rng, &[Kind::Revenue, Kind::Expense]);
    let (start, end) = (month.start_utc(), month.end_utc());
    let occurred_at = match rng.below(if extremes { 6 } else { 1000 }) {
        0 => start,
        1 => end - 1,
        _ => start + rng.below((end - start) as u64) as i64,
    };
    let utc_day = occurred_at.div_euclid(86_400) as i32;
    let shift = pick(rng, &[-1, 0, 0, 0, 1]);
    let day = BusinessDay::from_days(utc_day + shift)
        .or_else(|_| BusinessDay::from_days(utc_day))
        .unwrap_or(BusinessDay::MIN);
    let categories: Vec<Category> = Category::ALL
        .iter()
        .copied()
        .filter(|c| c.allowed_for(kind))
        .collect();
    let amount = if extremes && rng.below(4) == 0 {
        budget
    } else {
        1 + rng.below(budget as u64) as i64
    };
    let reversal = rng.below(6) == 0;
    let (posted_status, paid_at) = match (kind, reversal) {
        (Kind::Expense, false) => match rng.below(3) {
            0 => (2, None),
            1 => (1, Some(occurred_at + rng.below(1 << 20) as i64)),
            _ => (1, None),
        },
        _ => (0, None),
    };
    let row = Row {
        amount,
        day,
        category: pick(rng, &categories),
        payment_method: pick(rng, PaymentMethod::ALL),
        posted_status,
        paid_at,
        reverses: if reversal {
            1 + rng.below(u64::MAX - 1)
        } else {
            0
        },
        reversed_by: if !reversal && rng.below(8) == 0 {
            1 + rng.below(1 << 40)
        } else {
            0
        },
        reference: reference(rng, extremes).into(),
    };
    FrozenRow {
        kind,
        entry_id: id,
        occurred_at,
        row,
    }
}

fn days_of(rng: &mut SplitMix64, month: Month, rows: &[FrozenRow]) -> Vec<FrozenDay> {
    let mut days: BTreeMap<BusinessDay, FrozenDay> = BTreeMap::new();
    let blank = |day| FrozenDay {
        day,
        revenue: 0,
        expense: 0,
        revenue_count: 0,
        expense_count: 0,
    };
    for r in rows.iter().filter(|r| r.row.day.month() == month) {
        let d = days.entry(r.row.day).or_insert_with(|| blank(r.row.day));
        match r.kind {
            Kind::Revenue => (d.revenue += r.signed_amount(), d.revenue_count += 1),
            Kind::Expense => (d.expense += r.signed_amount(), d.expense_count += 1),
        };
    }
    // Rows of a neighbouring month's file that fall on this month's first or last day.
    for edge in [month.first_day(), month.last_day()] {
        if rng.below(4) == 0 {
            let d = days.entry(edge).or_insert_with(|| blank(edge));
            d.revenue += rng.below(1000) as i64;
            d.revenue_count += 1;
        }
    }
    days.into_values().collect()
}

fn indexes(rows: &[FrozenRow]) -> Vec<FrozenIndexPart> {
    let part = |kind, slot, key: &dyn Fn(&FrozenRow) -> Option<[i64; 3]>| FrozenIndexPart {
        kind: Some(kind),
        slot,
        entries: rows
            .iter()
            .filter(|r| r.kind == kind)
            .filter_map(|r| Some((key(r)?, r.occurred_at, r.entry_id)))
            .collect(),
    };
    vec![
        part(Kind::Revenue, 0, &|r| {
            Some([i64::from(r.row.category.code()), 0, 0])
        }),
        part(Kind::Expense, 1, &|r| {
            (r.row.posted_status == 1)
                .then(|| [i64::from(r.row.payment_method.code()), r.row.amount, 0])
        }),
    ]
}

/// The currencies sample orgs are in (by org id).
const CURRENCIES: [Currency; 3] = [Currency::EUR, Currency::USD, Currency::JPY];

/// One org's month with `rows` rows.
pub fn org_month(
    rng: &mut SplitMix64,
    org: OrgId,
    month: Month,
    rows: usize,
    extremes: bool,
) -> OrgMonthInput {
    let budget = (i64::MAX / (rows as i64 + 2)).max(1);
    let mut ids = BTreeSet::new();
    while ids.len() < rows {
        let id = match rng.below(if extremes { 4 } else { 1000 }) {
            0 => u64::MAX - rng.below(3),
            1 => 1 + rng.below(3),
            _ => 1 + rng.below(1 << 40),
        };
        ids.insert(id);
    }
    let rows: Vec<FrozenRow> = ids
        .into_iter()
        .map(|id| row(rng, month, id, budget, extremes))
        .collect();
    OrgMonthInput {
        org,
        currency: Some(CURRENCIES[(org.0 % CURRENCIES.len() as u64) as usize]),
        days: days_of(rng, month, &rows),
        indexes: if rng.below(3) == 0 {
            indexes(&rows)
        } else {
            Vec::new()
        },
        anchor: if extremes {
            rng.below(u64::MAX) as i64
        } else {
            rng.below(1 << 40) as i64 - (1 << 39)
        },
        rows,
    }
}

/// A month of `sample.orgs` orgs (sparse ids, in order), from `seed`.
pub fn month(seed: u64, sample: Sample) -> Vec<OrgMonthInput> {
    let mut rng = SplitMix64::new(seed);
    let mut org = if sample.extremes { 0 } else { rng.below(100) };
    (0..sample.orgs)
        .map(|_| {
            let rows = rng.below(sample.max_rows as u64 + 1) as usize;
            let input = org_month(&mut rng, OrgId(org), sample.month, rows, sample.extremes);
            let far = sample.extremes && org < 1 << 62 && rng.below(2) == 0;
            org += 1 + rng.below(if far { 1 << 58 } else { 10 });
            input
        })
        .collect()
}

/// Writes `inputs` as file `id` into `dir` (LSN range 1..=100).
///
/// # Errors
/// As [`FrozenWriter`].
pub fn write(
    vfs: &dyn Vfs,
    dir: &Path,
    id: FileId,
    inputs: &[OrgMonthInput],
) -> Result<ManifestEntry> {
    let meta = FileMeta {
        id,
        lsn_first: 1,
        lsn_last: 100,
        index_fingerprint: 0,
    };
    let ids = inputs.iter().map(|i| i.rows.len() as u64).sum();
    let mut writer = FrozenWriter::create(vfs, dir, meta, ids)?;
    for input in inputs {
        writer.push(input)?;
    }
    writer.finish()
}
