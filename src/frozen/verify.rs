//! A full check of a frozen month file, streaming over the map: every checksum, and what the
//! parts say about each other. Memory stays constant: blocks are checked one at a time, and the
//! top list is compared with the blocks through an order-independent hash of its entries.

use super::block::BlockSummary;
use super::filter;
use super::layout::{u64_at, TOP_ENTRY_BYTES};
use super::reader::FrozenFile;
use super::view::OrgMonth;
use crate::error::{CorruptionKind, Error, Result};
use crate::model::{Kind, Month};
use crate::rng::SplitMix64;

/// What [`FrozenFile::verify`] went through.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FrozenVerify {
    pub orgs: u64,
    pub rows: u64,
    /// Bytes checksummed (the whole file).
    pub bytes: u64,
}

fn top_item_hash(org: u64, total: i64) -> u64 {
    SplitMix64::hash(org ^ SplitMix64::hash(total as u64))
}

impl FrozenFile {
    fn inconsistent(&self, offset: u64, why: String) -> Error {
        Error::corruption(self.path(), offset, CorruptionKind::InvalidValue(why))
    }

    /// Checks every checksum of the file and that its parts agree: the blocks tile their
    /// section in directory order, the directory is sorted by org and each entry matches its
    /// block, each block holds (see [`super::block::check`]), day rows equal the sums of the
    /// rows of their business day (every day but the month's first and last, whose rows may lie
    /// in the neighbouring months' files: there the rows must not exceed the day's counts), the
    /// filter holds every id (and, from format 4, the pending key of every org with a pending
    /// expense row), the top list holds exactly the orgs with revenue rows and their
    /// totals in rank order within their currency (the currency is the org record's, given to
    /// the writer: the blocks do not hold it), and the footer's counts and id range are the
    /// blocks'.
    ///
    /// # Errors
    /// The first [`Error::Corruption`] found.
    pub fn verify(&self) -> Result<FrozenVerify> {
        let footer = *self.footer();
        let sections = self.sections().clone();
        self.fence()?;
        let filter_bytes = self.filter_bytes()?;
        let mut next = sections.blocks.start;
        let mut last_org: Option<u64> = None;
        let mut rows = 0u64;
        let mut ids: Option<(u64, u64)> = None;
        let (mut top_hash, mut top_count) = (0u64, 0u64);
        for item in self.directory() {
            let (pos, entry) = item?;
            let at = sections.dir.start + pos * self.dir_entry_bytes() as u64;
            if last_org.is_some_and(|l| l >= entry.org) || entry.offset != next {
                let why = format!("directory entry of org {} out of order", entry.org);
                return Err(self.inconsistent(at, why));
            }
            last_org = Some(entry.org);
            let (block, summary) = self.block_checked(pos, &entry, true)?;
            let summary = summary.unwrap_or_default();
            next = entry.covered().map_or(next, |r| r.end);
            let view = OrgMonth::new(block, crate::model::OrgId(entry.org), footer.id.month);
            if let Some(id) = view
                .entry_ids()
                .find(|id| !filter::may_contain(filter_bytes, entry.org, *id))
            {
                let why = format!("the filter lacks org {} entry {id}", entry.org);
                return Err(self.inconsistent(sections.filter.offset, why));
            }
            if footer.format >= crate::format::FROZEN_FORMAT_PENDING_KEYS
                && view.has_pending()
                && !filter::may_contain(filter_bytes, entry.org, filter::PENDING_KEY)
            {
                let why = format!("the filter lacks the pending key of org {}", entry.org);
                return Err(self.inconsistent(sections.filter.offset, why));
            }
            days_against_rows(&view, footer.id.month)
                .map_err(|why| self.inconsistent(entry.offset, why))?;
            if summary.revenue_rows > 0 {
                top_hash = top_hash.wrapping_add(top_item_hash(entry.org, summary.revenue_total));
                top_count += 1;
            }
            rows += u64::from(summary.rows);
            ids = merge_ids(ids, &summary);
        }
        if next != sections.blocks.end {
            let why = "blocks do not fill their section".to_string();
            return Err(self.inconsistent(next, why));
        }
        let (id_min, id_max) = ids.unwrap_or((0, 0));
        if rows != footer.rows || (id_min, id_max) != (footer.id_min, footer.id_max) {
            let why = "footer counts or id range differ from the blocks'".to_string();
            return Err(self.inconsistent(sections.footer_at, why));
        }
        self.check_top(top_hash, top_count)?;
        Ok(FrozenVerify {
            orgs: footer.orgs,
            rows,
            bytes: self.file_len(),
        })
    }

    fn check_top(&self, hash: u64, count: u64) -> Result<()> {
        let offset = self.sections().top.offset;
        let (index, entries) = self.top_index()?;
        let mut stored = 0u64;
        for (currency, range) in index {
            let run = &entries[range.start * TOP_ENTRY_BYTES..range.end * TOP_ENTRY_BYTES];
            let mut last: Option<(i64, u64)> = None;
            for e in run.chunks_exact(TOP_ENTRY_BYTES) {
                let (org, total) = (u64_at(e, 0), u64_at(e, 8) as i64);
                // Rank order within the currency: total descending, org ascending.
                let key = (-i128::from(total), org);
                if last.is_some_and(|(t, o)| (-i128::from(t), o) >= key) {
                    let why = format!("top list of {currency} out of order at org {org}");
                    return Err(self.inconsistent(offset, why));
                }
                last = Some((total, org));
                stored = stored.wrapping_add(top_item_hash(org, total));
            }
        }
        if stored != hash || entries.len() as u64 / TOP_ENTRY_BYTES as u64 != count {
            let why = "top list differs from the orgs' revenue totals".to_string();
            return Err(self.inconsistent(offset, why));
        }
        Ok(())
    }
}

fn merge_ids(ids: Option<(u64, u64)>, s: &BlockSummary) -> Option<(u64, u64)> {
    if s.rows == 0 {
        return ids;
    }
    let (lo, hi) = ids.unwrap_or((u64::MAX, 0));
    Some((lo.min(s.id_min), hi.max(s.id_max)))
}

/// Day rows against the rows of their business day (see [`FrozenFile::verify`]).
fn days_against_rows(view: &OrgMonth<'_>, month: Month) -> std::result::Result<(), String> {
    let (first, last) = (month.first_day(), month.last_day());
    let mut sums = [(0i64, 0i64, 0u64, 0u64); 31];
    for kind in [Kind::Revenue, Kind::Expense] {
        for row in view.rows(kind) {
            let day = row.day();
            if day < first || day > last {
                continue;
            }
            let s = &mut sums[first.days_until(day) as usize];
            let (amount, count) = match kind {
                Kind::Revenue => (&mut s.0, &mut s.2),
                Kind::Expense => (&mut s.1, &mut s.3),
            };
            *amount = amount
                .checked_add(row.signed_amount())
                .ok_or("day sum overflows")?;
            *count += 1;
        }
    }
    let mut day = Some(first);
    for s in sums.iter().take(month.days() as usize) {
        let Some(d) = day else { break };
        let stored = view.day(d).map_or((0, 0, 0, 0), |r| {
            (r.revenue, r.expense, r.revenue_count, r.expense_count)
        });
        let edge = d == first || d == last;
        let fits = if edge {
            s.2 <= stored.2 && s.3 <= stored.3
        } else {
            *s == stored
        };
        if !fits {
            return Err(format!("day row {d} differs from the sum of its rows"));
        }
        day = d.next();
    }
    Ok(())
}
