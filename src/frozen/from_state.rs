//! The bridge from the in-memory state to a frozen month file: the writer's per-org inputs of
//! one month, read from a [`State`] one org at a time, and [`freeze_month`], which streams them
//! through a [`FrozenWriter`].
//!
//! # Which rows a month's file holds
//!
//! A file of month M holds, per org, two things that the state keys by two different months:
//!
//! - the org's **ledger rows whose `occurred_at` lies in the UTC month M** (the ledger
//!   partitions (revenues, M) and (expenses, M)), with their index parts, roll-ups and ids;
//! - the org's **day rows of the business days of M** (the balance month M of the org's
//!   balances: calendar days of M in the org's time zone), with running nets.
//!
//! Business days and UTC dates differ by less than a day (time zones run from UTC−12 to
//! UTC+14), so the two agree on every day of M but its first and last: the first business day
//! of M also counts entries of the last hours of UTC month M−1 (zones east of UTC, up to 14
//! hours), and its last business day entries of the first hours of UTC month M+1 (zones west of
//! UTC, up to 12 hours). Conversely the file's rows may lie on the last business day of M−1 or
//! the first of M+1, whose day rows are in the neighbouring files. Keeping day rows by business
//! month makes each file's month net the org's net of its business month, so closing balances
//! compose across files: the closing of day d of M is the org's closing at the end of M−1 (its
//! *balance anchor*) plus the running net of the last day row at or before d in M's file, and
//! the anchor of M+1 is the anchor of M plus M's month net.
//!
//! What it means for freezing: a file is exact at the LSN it is frozen at (its `lsn_last`),
//! both halves at the same LSN, because the state's balance month M already counts every entry
//! up to that LSN whatever its UTC month. An entry recorded after the freeze touches month M's
//! file when its UTC month is M (its row) **or** its business month is M (its day row): a
//! posting in the first hours of UTC month M+1 by an org west of UTC changes the day rows of
//! M's file while its row belongs to M+1. The overlay of a frozen month must therefore take
//! day-row changes by business month and row changes by UTC month. M's day rows stop changing
//! only when no more postings arrive for M+1's first hours (nor M−1's last ones), which is why
//! the freezer's default horizon keeps the month after a frozen one closed too (M is frozen
//! once the newest posting is in M+2 or later): late postings into those hours then come
//! through the overlay like any other late posting.

use super::block::{FrozenDay, FrozenIndexPart, FrozenRow, OrgMonthInput};
use super::layout::FileId;
use super::manifest::ManifestEntry;
use super::writer::{FileMeta, FrozenWriter};
use crate::error::{Error, Result};
use crate::io::Vfs;
use crate::model::{Kind, Month, OrgId};
use crate::state::balance::MonthBalances;
use crate::state::ledger::{OrgMonthLedger, PartitionId};
use crate::state::State;
use std::path::Path;
use std::sync::Arc;

/// One org of month M's file with what the state holds of it in memory: its ledgers of the
/// month (revenues, expenses: an open month's rows or a frozen month's overlay) and its day rows
/// of the business month. Found in one pass over each of the state's maps, so that writing the
/// file looks none of them up per org (at 1,000,000 orgs each look-up is a walk of a hashed
/// trie out of cache).
#[derive(Clone, Copy, Debug)]
pub struct MonthOrg<'s> {
    pub org: OrgId,
    ledgers: [Option<&'s Arc<OrgMonthLedger>>; 2],
    days: Option<&'s Arc<MonthBalances>>,
}

impl<'s> MonthOrg<'s> {
    /// The org with nothing in memory (yet).
    fn bare(org: OrgId) -> MonthOrg<'s> {
        MonthOrg {
            org,
            ledgers: [None, None],
            days: None,
        }
    }

    /// Whether nothing changed the org's block of frozen month `month` since its file was
    /// written ([`State::unchanged_but_memory`]).
    fn unchanged_since_file(&self, state: &State, month: Month) -> bool {
        let overlay = self.ledgers.iter().flatten().any(|l| !l.rows.is_empty());
        state.unchanged_but_memory(month, self.org, overlay || self.days.is_some())
    }
}

const KINDS: [Kind; 2] = [Kind::Revenue, Kind::Expense];

/// The orgs with anything in month M's file, in id order: a ledger row in UTC month M (in
/// memory, or in the month's file in force when it is frozen already) or a day row of a business
/// day of M ([`MonthOrg`]: 32 bytes per such org, the writer keeps 40 bytes per org anyway).
///
/// # Errors
/// [`Error::Corruption`] when the month's file in force fails a check.
pub fn month_orgs(state: &State, month: Month) -> Result<Vec<MonthOrg<'_>>> {
    let mut items: Vec<MonthOrg<'_>> = Vec::new();
    for (k, kind) in KINDS.into_iter().enumerate() {
        let Some(bucket) = state.ledgers.get(&PartitionId { kind, month }) else {
            continue;
        };
        for (org, ledger) in bucket.orgs.iter() {
            let mut item = MonthOrg::bare(*org);
            item.ledgers[k] = Some(ledger);
            items.push(item);
        }
    }
    for shard in &state.balances {
        for (org, b) in shard.orgs.iter() {
            if let Some(days) = b.months.get(&month).filter(|m| !m.days.is_empty()) {
                items.push(MonthOrg {
                    days: Some(days),
                    ..MonthOrg::bare(*org)
                });
            }
        }
    }
    if let Some(frozen) = state.frozen.get(month) {
        // Orgs of the file in force (a re-freeze): some have only day rows there.
        for org in frozen.file.orgs() {
            items.push(MonthOrg::bare(org?));
        }
    }
    items.sort_unstable_by_key(|item| item.org);
    let mut out: Vec<MonthOrg<'_>> = Vec::with_capacity(items.len());
    for item in items {
        match out.last_mut() {
            Some(last) if last.org == item.org => {
                for (mine, theirs) in last.ledgers.iter_mut().zip(item.ledgers) {
                    *mine = mine.or(theirs);
                }
                last.days = last.days.or(item.days);
            }
            _ => out.push(item),
        }
    }
    Ok(out)
}

/// The index parts of one ledger that the file keeps: those of the catalog's ready indexes
/// (an index still being built has parts in some ledgers only), by slot within the table.
fn index_parts(state: &State, kind: Kind, ledger: &OrgMonthLedger) -> Vec<FrozenIndexPart> {
    if !ledger.has_indexes() {
        return Vec::new();
    }
    let ready = state.catalog.ready(kind);
    ready
        .filter_map(|(slot, _)| {
            let part = ledger.indexes.get(slot)?;
            Some(FrozenIndexPart {
                kind: Some(kind),
                slot: u32::try_from(slot).ok()?,
                entries: part
                    .entries()
                    .map(|e| (e.key, e.occurred_at, e.entry_id))
                    .collect(),
            })
        })
        .collect()
}

/// One org's input for month M's file: its currency (from its record), its rows of both kinds
/// in UTC month M with their ready index parts, and its day rows of M's business days, from
/// its file in force and what `item` holds of it in memory. `None` when it has neither.
///
/// # Errors
/// [`Error::Corruption`] when the month's file in force fails a check.
fn org_month_input(state: &State, month: Month, item: &MonthOrg<'_>) -> Result<Option<OrgMonthInput>> {
    let org = item.org;
    let mut rows = Vec::new();
    let mut indexes = Vec::new();
    for (kind, memory) in KINDS.into_iter().zip(item.ledgers) {
        let Some(ledger) = state.org_ledger_with(PartitionId { kind, month }, org, memory)? else {
            continue;
        };
        rows.extend(ledger.rows.iter().map(|(key, row)| FrozenRow {
            kind,
            occurred_at: key.0,
            entry_id: key.1,
            row: row.clone(),
        }));
        indexes.extend(index_parts(state, kind, &ledger));
    }
    let days: Vec<FrozenDay> = state
        .month_days_with(org, month, item.days.map(|d| &**d))?
        .into_iter()
        .map(|d| FrozenDay {
            day: d.day,
            revenue: d.revenue,
            expense: d.expense,
            revenue_count: d.revenue_count,
            expense_count: d.expense_count,
        })
        .collect();
    if rows.is_empty() && days.is_empty() {
        return Ok(None);
    }
    Ok(Some(OrgMonthInput {
        org,
        currency: state.currency_of(org),
        rows,
        days,
        indexes,
        anchor: state.file_net_before(org, month)?.0,
    }))
}

/// Rows of UTC month M (both ledgers, every org; with the rows of its file in force): sizes the
/// file's id filter.
pub fn month_rows(state: &State, month: Month) -> u64 {
    state.memory_rows(month) + state.frozen.get(month).map_or(0, |f| f.file.row_count())
}

/// Writes month `id.month` of `state` as the frozen file `id` in `dir` (not yet in force: see
/// [`super::FrozenDir::install`]), streaming one org at a time. The file reflects the log
/// prefix the state stands at (LSNs `1..=state.lsn`) and records the fingerprint of the
/// state's index catalog. An org whose block nothing changed since the month's file in force
/// was written is copied from that file ([`Reuse::Blocks`]).
///
/// # Errors
/// [`Error::InvalidArgument`] when the state holds what a file cannot (see
/// [`FrozenWriter::push`]: a bug of the state, never of its caller); [`Error::Corruption`]
/// when a part of the month's file in force fails its check; [`Error::Io`].
pub fn freeze_month(state: &State, vfs: &dyn Vfs, dir: &Path, id: FileId) -> Result<ManifestEntry> {
    freeze_month_with(state, vfs, dir, id, Reuse::Blocks).map(|(entry, _)| entry)
}

/// What a new version of a frozen month takes from the version in force.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reuse {
    /// The block of an org that nothing changed since (no overlay rows, patches or added day
    /// rows; the same anchor; the same index catalog; a block of this build's format) is
    /// copied byte for byte, after its CRC32 and checks, instead of read back into rows and
    /// built again: the same bytes a build would give.
    Blocks,
    /// Every block is built from the org's rows (what [`Reuse::Blocks`] is tested against).
    Nothing,
}

/// [`freeze_month`] with the choice of what to reuse; also returns how many org blocks were
/// copied from the version in force.
///
/// # Errors
/// As [`freeze_month`].
pub fn freeze_month_with(
    state: &State,
    vfs: &dyn Vfs,
    dir: &Path,
    id: FileId,
    reuse: Reuse,
) -> Result<(ManifestEntry, u64)> {
    let lsn_last = state.lsn.0;
    let month = id.month;
    let meta = FileMeta {
        id,
        lsn_first: lsn_last.min(1),
        lsn_last,
        index_fingerprint: state.catalog.fingerprint(),
    };
    let source = match reuse {
        Reuse::Blocks => state
            .frozen
            .get(month)
            .filter(|f| f.file.index_fingerprint() == meta.index_fingerprint),
        Reuse::Nothing => None,
    };
    let refused = |e| match e {
        Error::InvalidArgument(why) => Error::InvalidArgument(format!(
            "month {month} of the state does not freeze: {why}"
        )),
        other => other,
    };
    let mut writer = FrozenWriter::create(vfs, dir, meta, month_rows(state, month))?;
    let mut copied = 0u64;
    for item in month_orgs(state, month)? {
        let org = item.org;
        if let Some(copy) = match source {
            Some(f) if item.unchanged_since_file(state, month) => f.file.block_copy(org)?,
            _ => None,
        } {
            if state.file_net_before(org, month)?.0 == copy.view.anchor() {
                writer
                    .push_copy(&copy, state.currency_of(org))
                    .map_err(refused)?;
                copied += 1;
                continue;
            }
        }
        if let Some(input) = org_month_input(state, month, &item)? {
            writer.push(&input).map_err(refused)?;
        }
    }
    Ok((writer.finish()?, copied))
}
