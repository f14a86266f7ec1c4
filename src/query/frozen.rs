//! Reads of one month answered from its frozen file alone (issue 19: what the merged reads of
//! frozen and open months build on). Each read is the state's read of the same name restricted
//! to the file's month, with the same answer type and order; `tests/freeze_bridge.rs` checks that
//! they equal the state's answers at the LSN the file was frozen at.
//!
//! What the file does not hold comes from the caller:
//! - the org's **balance anchor**, its closing balance at the end of the month before (opening
//!   balance plus the nets of every earlier business month): a closing of day d of the month is
//!   the anchor plus the running net of the file's last day row at or before d;
//! - whether the org is registered (the org catalog stays in memory; the file's top list holds
//!   the currency of each org it ranks, as the org record said when the file was written);
//! - the index catalog, whose fingerprint must equal the file's for its index parts to be used
//!   (by Q4 and by typed queries, which then read the index part the planner would choose);
//! - an org's currency for typed queries that group (the file does not keep it per block).
//!
//! Days are the file month's business days and time ranges are cut to its UTC month: a read
//! reaching past either is the caller's to split across months. The exception is the night
//! audit of a business day ([`FrozenMonthReads::daily_report`]), which takes the neighbouring
//! months' files itself, since an edge day's entries lie in two UTC months.

use super::builder::Query;
use super::exec::{fold, output, page, Candidate, QueryOutput, Source};
use super::plan::{choose, prefix_values, Access};
use super::reports::{category_lines, check_limit, net_of, night_audit};
use super::{CategoryLine, DailyReport, LedgerLine, MonthlyReport, PendingLine, TopLine};
use crate::error::{Error, Result};
use crate::frozen::{FrozenFile, OrgMonth, RowRef};
use crate::limits::MAX_LIST_ENTRIES;
use crate::model::{BusinessDay, Currency, ExpenseStatus, Kind, Money, Month, OrgId};
use crate::state::catalog::EntryLoc;
use crate::state::index::IndexCatalog;
use std::collections::BTreeMap;
use crate::state::read::{
    check_day_range, day_balances, overflow as balance_overflow, DayBalance, LedgerEntry,
};

/// The reads of one frozen month file.
pub struct FrozenMonthReads<'a> {
    file: &'a FrozenFile,
    month: Month,
    /// Catalog slot of the ready `expenses_pending` index, when the file's parts were built with
    /// the reader's catalog.
    pending_slot: Option<u32>,
}

fn outside(what: &str, month: Month) -> Error {
    Error::InvalidArgument(format!("{what} outside the frozen month {month}"))
}

impl<'a> FrozenMonthReads<'a> {
    /// Reads of `file` for a database whose index catalog is `catalog`.
    pub fn new(file: &'a FrozenFile, catalog: &IndexCatalog) -> FrozenMonthReads<'a> {
        let fingerprint = file.index_fingerprint();
        let same = fingerprint != 0 && fingerprint == catalog.fingerprint();
        let pending_slot = catalog
            .pending_slot()
            .filter(|_| same)
            .and_then(|slot| u32::try_from(slot).ok());
        FrozenMonthReads {
            file,
            month: file.id().month,
            pending_slot,
        }
    }

    /// The UTC month of the file's rows and the month of its business days.
    pub fn month(&self) -> Month {
        self.month
    }

    fn org(&self, org: OrgId) -> Result<Option<OrgMonth<'a>>> {
        self.file.org(org)
    }

    fn check_day(&self, day: BusinessDay) -> Result<()> {
        match day.month() == self.month {
            true => Ok(()),
            false => Err(outside(&format!("day {day}"), self.month)),
        }
    }

    /// Closing balance of `day` (a business day of the month), given the org's closing at the
    /// end of the month before.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a day of another month or a balance that overflows;
    /// [`Error::Corruption`] from the file.
    pub fn closing(&self, org: OrgId, day: BusinessDay, anchor: Money) -> Result<Money> {
        self.check_day(day)?;
        let net = self.org(org)?.map_or(0, |m| m.net_through(day));
        anchor.checked_add(Money(net)).ok_or_else(|| balance_overflow(org))
    }

    /// The balance row of one org and business day of the month (`State::balance`).
    ///
    /// # Errors
    /// As [`FrozenMonthReads::closing`].
    pub fn balance(&self, org: OrgId, day: BusinessDay, anchor: Money) -> Result<DayBalance> {
        let mut rows = self.balances(org, day, day, anchor)?;
        rows.pop().ok_or_else(|| outside("an empty range", self.month))
    }

    /// One balance row per business day of `from..=to`, days of the month only
    /// (`State::balances`).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for an inverted range, days of another month or a balance
    /// that overflows; [`Error::Corruption`] from the file.
    pub fn balances(
        &self,
        org: OrgId,
        from: BusinessDay,
        to: BusinessDay,
        anchor: Money,
    ) -> Result<Vec<DayBalance>> {
        check_day_range(from, to)?;
        self.check_day(from)?;
        self.check_day(to)?;
        let view = self.org(org)?;
        let before = from.prev().map_or(0, |d| view.map_or(0, |m| m.net_through(d)));
        let closing = anchor
            .checked_add(Money(before))
            .ok_or_else(|| balance_overflow(org))?;
        day_balances(org, from, to, closing, |day| view.and_then(|m| m.day(day)))
    }

    /// The month's part of `from..to`, or `None` when they do not meet.
    fn clamp(&self, from: i64, to: i64) -> Result<Option<(i64, i64)>> {
        if to <= from {
            return Err(Error::InvalidArgument(format!(
                "time range {from}..{to} is empty or inverted"
            )));
        }
        let (from, to) = (
            from.max(self.month.start_utc()),
            to.min(self.month.end_utc()),
        );
        Ok((from < to).then_some((from, to)))
    }

    /// Entries of both ledgers with `from <= occurred_at < to` that lie in the month, in
    /// (occurred_at, entry id) order (`State::entries`).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for an empty range or one holding more than
    /// [`MAX_LIST_ENTRIES`] entries; [`Error::Corruption`] from the file.
    pub fn entries(&self, org: OrgId, from: i64, to: i64) -> Result<Vec<LedgerEntry>> {
        let (Some((from, to)), Some(view)) = (self.clamp(from, to)?, self.org(org)?) else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for kind in [Kind::Revenue, Kind::Expense] {
            for row in view.rows_between(kind, from, to) {
                if out.len() == MAX_LIST_ENTRIES {
                    return Err(Error::InvalidArgument(format!(
                        "range holds more than {MAX_LIST_ENTRIES} entries; narrow it"
                    )));
                }
                let key = (row.occurred_at(), row.entry_id());
                out.push(LedgerEntry::of(org, kind, key, &row.ledger_row()));
            }
        }
        out.sort_unstable_by_key(|e| (e.occurred_at, e.id));
        Ok(out)
    }

    /// Q2 without the daily closings: revenue and expense by category, and net
    /// (`State::month_totals`).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] when the net overflows; [`Error::Corruption`] from the file.
    pub fn month_totals(&self, org: OrgId) -> Result<(Vec<CategoryLine>, Vec<CategoryLine>, Money)> {
        let lines = |kind| -> Result<Vec<CategoryLine>> {
            Ok(self
                .org(org)?
                .map_or_else(Vec::new, |m| category_lines(&m.by_category(kind))))
        };
        let (revenue, expense) = (lines(Kind::Revenue)?, lines(Kind::Expense)?);
        let net = net_of(&revenue, &expense)?;
        Ok((revenue, expense, net))
    }

    /// Q2 with the closing balance of every business day of the month
    /// (`State::monthly_report`).
    ///
    /// # Errors
    /// As [`FrozenMonthReads::month_totals`] and [`FrozenMonthReads::balances`].
    pub fn monthly_report(&self, org: OrgId, anchor: Money) -> Result<MonthlyReport> {
        let (revenue, expense, net) = self.month_totals(org)?;
        let (first, last) = (self.month.first_day(), self.month.last_day());
        let daily_closing = self
            .balances(org, first, last, anchor)?
            .into_iter()
            .map(|b| (b.day, b.closing))
            .collect();
        Ok(MonthlyReport {
            org,
            month: self.month,
            revenue,
            expense,
            net,
            daily_closing,
        })
    }

    /// Q3: the `limit` newest entries with `from <= occurred_at < to` that lie in the month,
    /// newest first (occurred_at, then entry id, descending) (`State::ledger_page`).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a limit outside `1..=`[`super::MAX_REPORT_ROWS`] or an
    /// empty range; [`Error::Corruption`] from the file.
    pub fn ledger_page(&self, org: OrgId, from: i64, to: i64, limit: usize) -> Result<Vec<LedgerLine>> {
        check_limit(limit)?;
        let (Some((from, to)), Some(view)) = (self.clamp(from, to)?, self.org(org)?) else {
            return Ok(Vec::new());
        };
        let mut out: Vec<LedgerLine> = Vec::with_capacity(2 * limit);
        for kind in [Kind::Revenue, Kind::Expense] {
            let newest = view.rows_between(kind, from, to).rev().take(limit);
            out.extend(newest.map(|row| LedgerLine {
                kind,
                entry_id: row.entry_id(),
                occurred_at: row.occurred_at(),
                amount: Money(row.signed_amount()),
                category: row.category(),
            }));
        }
        out.sort_unstable_by_key(|l| std::cmp::Reverse((l.occurred_at, l.entry_id)));
        out.truncate(limit);
        Ok(out)
    }

    /// Q4 within the month: the `limit` oldest pending expenses of the month (occurred_at,
    /// then entry id), through the file's `expenses_pending` part when it has one, else its
    /// rows. The status is the one at the file's LSN: a payment recorded later is the
    /// overlay's.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a limit outside `1..=`[`super::MAX_REPORT_ROWS`];
    /// [`Error::Corruption`] from the file.
    pub fn pending_expenses(&self, org: OrgId, limit: usize) -> Result<Vec<PendingLine>> {
        check_limit(limit)?;
        let Some(view) = self.org(org)? else {
            return Ok(Vec::new());
        };
        let line = |row: RowRef<'_>| PendingLine {
            entry_id: row.entry_id(),
            occurred_at: row.occurred_at(),
            amount: Money(row.amount()),
            category: row.category(),
        };
        let part = self
            .pending_slot
            .and_then(|slot| view.index(Kind::Expense, slot));
        Ok(match part {
            Some(part) => part.entries().take(limit).map(|(_, row)| line(row)).collect(),
            None => view
                .rows(Kind::Expense)
                .filter(|row| row.status() == Some(ExpenseStatus::Pending))
                .take(limit)
                .map(line)
                .collect(),
        })
    }

    /// Q5: the `limit` orgs with the most revenue in the month, ranked within each currency
    /// (at most `limit` per currency), by currency code then rank (`State::top_revenue`). The
    /// file's top list is ordered by currency and says where each currency's run starts, so
    /// only the first `limit` entries of each currency are read.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a limit outside `1..=`[`super::MAX_REPORT_ROWS`];
    /// [`Error::Corruption`] from the file.
    pub fn top_revenue(&self, limit: usize) -> Result<Vec<TopLine>> {
        check_limit(limit)?;
        Ok(self
            .file
            .top_revenue(limit)?
            .into_iter()
            .map(|(currency, org, total)| TopLine {
                org,
                currency,
                total: Money(total),
            })
            .collect())
    }

    /// How a typed query reads each table of the month: the state's choice for the same
    /// catalog (`Plan::access` of `State::plan`), an index only when the file's parts were built
    /// with `catalog` (else the org's clustered rows); [`Access::Scan`] without an org.
    pub fn access(&self, q: &Query, catalog: &IndexCatalog) -> Vec<(Kind, Access)> {
        let same = self.file.index_fingerprint() != 0
            && self.file.index_fingerprint() == catalog.fingerprint();
        q.tables
            .kinds()
            .iter()
            .map(|&kind| {
                let access = match (q.org, same) {
                    (None, _) => Access::Scan,
                    (Some(_), true) => choose(catalog, kind, q),
                    (Some(_), false) => Access::Clustered,
                };
                (kind, access)
            })
            .collect()
    }

    /// A typed query over the month (`State::query` of the same query when its time range
    /// lies within the month): per queried table as [`FrozenMonthReads::access`] says, the
    /// org's index part (the entries of the key prefix the query fixes, within its time range)
    /// or its rows, or every org's rows one block at a time; within the query's time range cut
    /// to the month; filtered, then paged in the query's order (with its cursor) or folded into
    /// (currency, key) groups. `catalog` is the database's index catalog; `currency_of` gives a
    /// registered org's currency (`None`: not registered).
    ///
    /// # Errors
    /// What [`Query::validate`] refuses; [`Error::UnknownOrg`] for an org `currency_of` does
    /// not know; [`Error::InvalidArgument`] for a sum that overflows; [`Error::Corruption`]
    /// from the file.
    pub fn query(
        &self,
        q: &Query,
        catalog: &IndexCatalog,
        currency_of: impl Fn(OrgId) -> Option<Currency>,
    ) -> Result<QueryOutput> {
        q.validate()?;
        if let Some(org) = q.org {
            currency_of(org).ok_or(Error::UnknownOrg(org))?;
        }
        let (from, to) = q.time.unwrap_or((i64::MIN, i64::MAX));
        let (from, to) = (from.max(self.month.start_utc()), to.min(self.month.end_utc()));
        let mut candidates = Vec::new();
        if from < to {
            let orgs: Vec<OrgId> = match q.org {
                Some(org) => vec![org],
                None => self.file.orgs().collect::<Result<_>>()?,
            };
            let access = self.access(q, catalog);
            for org in orgs {
                let Some(view) = self.org(org)? else { continue };
                for (kind, access) in &access {
                    let kind = *kind;
                    let mut add = |row: RowRef<'_>| {
                        let c = Candidate {
                            org,
                            kind,
                            at: row.occurred_at(),
                            id: row.entry_id(),
                            source: Source::Owned(row.ledger_row()),
                        };
                        if c.matches(q) {
                            candidates.push(c);
                        }
                    };
                    let part = match access {
                        Access::Index { slot, .. } => {
                            let def = catalog.of_table(kind).nth(*slot).map(|(_, def)| def);
                            let part = u32::try_from(*slot)
                                .ok()
                                .and_then(|slot| view.index(kind, slot));
                            def.zip(part)
                        }
                        _ => None,
                    };
                    match part {
                        Some((def, part)) => {
                            let prefix = prefix_values(def, q);
                            let within = |row: &RowRef<'_>| (from..to).contains(&row.occurred_at());
                            part.with_prefix(&prefix)
                                .map(|(_, row)| row)
                                .filter(within)
                                .for_each(&mut add);
                        }
                        None => view.rows_between(kind, from, to).for_each(&mut add),
                    }
                }
            }
        }
        match q.group_by {
            Some(by) => {
                let mut groups = BTreeMap::new();
                fold(&mut groups, by, &candidates, currency_of)?;
                Ok(QueryOutput::Groups(groups.into_values().collect()))
            }
            None => {
                let (mut rows, mut projected) = (Vec::new(), Vec::new());
                let next = page(&mut rows, &mut projected, candidates, q)?;
                Ok(output(q, rows, projected, next))
            }
        }
    }

    /// The night audit of one org and business day of the month (`State::daily_report`): the
    /// day's balance row from this file (given the org's anchor), and the entries of the day,
    /// which lie within a day of its UTC date: on the month's first and last business days some
    /// of them are in the neighbouring UTC month's file, so `neighbours` must hold the files of
    /// every other UTC month the window `day.start_utc() - 2 days .. + 3 days` meets (others
    /// are ignored).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a day of another month, a missing neighbouring file or a
    /// total that overflows; [`Error::Corruption`] from the files.
    pub fn daily_report(
        &self,
        org: OrgId,
        day: BusinessDay,
        anchor: Money,
        neighbours: &[&FrozenMonthReads<'_>],
    ) -> Result<DailyReport> {
        let balance = self.balance(org, day, anchor)?;
        // As the state reads it: a business day lies within a day of its UTC date.
        let start = day.start_utc();
        let (from, to) = (start - 2 * 86_400, start + 3 * 86_400);
        let mut entries = Vec::new();
        let mut month = Month::of_utc(from)?;
        loop {
            let reads = match month == self.month {
                true => self,
                false => *neighbours.iter().find(|r| r.month == month).ok_or_else(|| {
                    Error::InvalidArgument(format!(
                        "the night audit of {day} needs the frozen file of {month}"
                    ))
                })?,
            };
            entries.extend(reads.entries(org, from, to)?);
            if month.end_utc() >= to {
                break;
            }
            month = month
                .checked_add_months(1)
                .ok_or_else(|| outside(&format!("day {day}"), self.month))?;
        }
        night_audit(balance, entries.iter().filter(|e| e.day == day))
    }

    /// The org's revenue of the month (signed sum), as a chain report adds it.
    ///
    /// # Errors
    /// [`Error::Corruption`] from the file.
    pub fn revenue(&self, org: OrgId) -> Result<Money> {
        Ok(Money(self.org(org)?.map_or(0, |m| m.total(Kind::Revenue))))
    }

    /// The entry `entry_id` of `org` as recorded, when the month holds it: what a re-send is
    /// compared with (identical: a no-op; else a conflict).
    ///
    /// # Errors
    /// [`Error::Corruption`] from the file.
    pub fn entry_row(&self, org: OrgId, entry_id: u64) -> Result<Option<LedgerEntry>> {
        let row = self.org(org)?.and_then(|m| m.entry(entry_id));
        Ok(row.map(|r| {
            let key = (r.occurred_at(), r.entry_id());
            LedgerEntry::of(org, r.kind(), key, &r.ledger_row())
        }))
    }

    /// Where entry `entry_id` of `org` is, when the month holds it (the idempotency check:
    /// the file's id range, its filter, the org's id range, then its ids).
    ///
    /// # Errors
    /// [`Error::Corruption`] from the file.
    pub fn entry(&self, org: OrgId, entry_id: u64) -> Result<Option<EntryLoc>> {
        self.file.contains(org, entry_id)
    }
}
