//! Reports: monthly (Q2), ledger page (Q3), pending expenses (Q4), top orgs (Q5), night audit.

use crate::frozen::RowRef;
use crate::error::{Error, Result};
use crate::limits::MAX_LIST_ENTRIES;
use crate::model::{
    BusinessDay, Category, Currency, ExpenseStatus, Kind, Money, Month, OrgId, PaymentMethod,
};
use crate::state::index::def::current_status;
use crate::state::ledger::{OrgMonthLedger, PartitionId, Row, CATEGORY_SLOTS};
use crate::state::read::{DayBalance, LedgerEntry};
use crate::state::State;
use std::collections::BTreeMap;

pub use crate::limits::MAX_REPORT_ROWS;

/// One category's total in a report: of a month (Q2) or of a business day (night audit).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CategoryLine {
    /// The category.
    pub category: Category,
    /// Signed: reversals count negative.
    pub total: Money,
    /// Rows, reversals included.
    pub count: u64,
}

/// Q2: an org's revenue and expense by category for one UTC calendar month.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MonthlyReport {
    /// The org reported on.
    pub org: OrgId,
    /// The UTC calendar month reported on.
    pub month: Month,
    /// Sorted by category name (bytewise); categories without rows are left out.
    pub revenue: Vec<CategoryLine>,
    /// Expense by category, sorted by category name (bytewise); categories without rows are left
    /// out. Totals are positive for expenses, as posted.
    pub expense: Vec<CategoryLine>,
    /// Revenue minus expense of the month, in minor units.
    pub net: Money,
    /// Closing balance of every business day of the month.
    pub daily_closing: Vec<(BusinessDay, Money)>,
}

/// One row of a ledger page (Q3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LedgerLine {
    /// Revenue or expense.
    pub kind: Kind,
    /// The entry's id.
    pub entry_id: u64,
    /// When the money moved, in UTC seconds.
    pub occurred_at: i64,
    /// Signed: a reversal is negative.
    pub amount: Money,
    /// The entry's category.
    pub category: Category,
}

/// One pending expense (Q4).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingLine {
    /// The expense's entry id.
    pub entry_id: u64,
    /// When the expense occurred, in UTC seconds.
    pub occurred_at: i64,
    /// The amount owed, in minor units (positive).
    pub amount: Money,
    /// The expense's category.
    pub category: Category,
}

/// One org of a top list (Q5) or of a chain report, with the org's currency.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopLine {
    /// The org.
    pub org: OrgId,
    /// The org's currency, which `total` is in.
    pub currency: Currency,
    /// The org's revenue of the month (signed sum: reversals count negative), in minor units.
    pub total: Money,
}

/// The sum of the amounts of one currency: aggregates across orgs never add two currencies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CurrencyTotal {
    /// The currency.
    pub currency: Currency,
    /// Sum of the amounts in this currency, in minor units.
    pub total: Money,
}

/// One payment method's line of a night audit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MethodLine {
    /// The payment method.
    pub payment_method: PaymentMethod,
    /// Revenue minus expense moved with this method (signed).
    pub net: Money,
    /// Rows moved with this method, reversals included.
    pub count: u64,
}

/// The night-audit report of one org and business day.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DailyReport {
    /// The org's balance row of the day: opening, revenue, expense and closing.
    pub balance: DayBalance,
    /// The day's revenue by category (sorted by category name; a reversal counts negative on
    /// the day it is recorded).
    pub revenue: Vec<CategoryLine>,
    /// The day's expense by category, sorted by category name.
    pub expense: Vec<CategoryLine>,
    /// Net of the day per payment method, sorted by method name.
    pub by_method: Vec<MethodLine>,
}

pub(super) fn overflow() -> Error {
    Error::InvalidArgument("report total overflows i64".into())
}

fn add(
    lines: &mut BTreeMap<&'static str, (Category, i64, u64)>,
    category: Category,
    amount: i64,
) -> Result<()> {
    let line = lines.entry(category.as_str()).or_insert((category, 0, 0));
    line.1 = line.1.checked_add(amount).ok_or_else(overflow)?;
    line.2 += 1;
    Ok(())
}

fn lines(map: BTreeMap<&'static str, (Category, i64, u64)>) -> Vec<CategoryLine> {
    map.into_values()
        .map(|(category, total, count)| CategoryLine {
            category,
            total: Money(total),
            count,
        })
        .collect()
}

/// A month's lines by category from a roll-up by category code (slot 0 unused): categories
/// with rows, sorted by category name.
pub(super) fn category_lines(by_category: &[(i64, u64); CATEGORY_SLOTS]) -> Vec<CategoryLine> {
    let mut lines: Vec<CategoryLine> = Category::ALL
        .iter()
        .filter_map(|&category| {
            let (total, count) = by_category[category.code() as usize];
            (count > 0).then_some(CategoryLine {
                category,
                total: Money(total),
                count,
            })
        })
        .collect();
    lines.sort_unstable_by_key(|l| l.category.as_str());
    lines
}

/// Revenue minus expense of a month's lines.
pub(super) fn net_of(revenue: &[CategoryLine], expense: &[CategoryLine]) -> Result<Money> {
    let sum = |lines: &[CategoryLine]| {
        lines
            .iter()
            .try_fold(0i64, |acc, l| acc.checked_add(l.total.0))
    };
    sum(revenue)
        .zip(sum(expense))
        .and_then(|(r, e)| r.checked_sub(e))
        .map(Money)
        .ok_or_else(overflow)
}

pub(super) fn check_limit(limit: usize) -> Result<()> {
    if limit == 0 || limit > MAX_REPORT_ROWS {
        return Err(Error::InvalidArgument(format!(
            "limit must be 1..={MAX_REPORT_ROWS}, got {limit}"
        )));
    }
    Ok(())
}

impl State {
    fn known(&self, org: OrgId) -> Result<()> {
        self.orgs
            .contains_key(&org)
            .then_some(())
            .ok_or(Error::UnknownOrg(org))
    }

    /// One org's month of one ledger by category, from the partition's category roll-up (a
    /// frozen month's: its file block's plus its overlay's).
    fn month_by_category(&self, kind: Kind, month: Month, org: OrgId) -> Result<Vec<CategoryLine>> {
        Ok(self
            .org_rollup(PartitionId { kind, month }, org)?
            .map_or_else(Vec::new, |r| category_lines(&r.by_category)))
    }

    /// Q2: an org's revenue and expense by category for one UTC month, and the net.
    pub fn month_totals(
        &self,
        org: OrgId,
        month: Month,
    ) -> Result<(Vec<CategoryLine>, Vec<CategoryLine>, Money)> {
        self.known(org)?;
        let revenue = self.month_by_category(Kind::Revenue, month, org)?;
        let expense = self.month_by_category(Kind::Expense, month, org)?;
        let net = net_of(&revenue, &expense)?;
        Ok((revenue, expense, net))
    }

    /// Q2 plus the month's daily closing balances (business days of the org's time zone).
    pub fn monthly_report(&self, org: OrgId, month: Month) -> Result<MonthlyReport> {
        let (revenue, expense, net) = self.month_totals(org, month)?;
        let daily_closing = self
            .balances(org, month.first_day(), month.last_day())?
            .into_iter()
            .map(|b| (b.day, b.closing))
            .collect();
        Ok(MonthlyReport {
            org,
            month,
            revenue,
            expense,
            net,
            daily_closing,
        })
    }

    /// Q3: the `limit` most recent entries of both ledgers with `from <= occurred_at < to`,
    /// newest first (occurred_at, then entry id, descending).
    pub fn ledger_page(
        &self,
        org: OrgId,
        from: i64,
        to: i64,
        limit: usize,
    ) -> Result<Vec<LedgerLine>> {
        self.known(org)?;
        check_limit(limit)?;
        if to <= from {
            return Err(Error::InvalidArgument(format!(
                "time range {from}..{to} is empty or inverted"
            )));
        }
        let (from, to) = (
            from.max(crate::model::MIN_TIMESTAMP),
            to.min(crate::model::MAX_TIMESTAMP + 1),
        );
        let mut out: Vec<LedgerLine> = Vec::with_capacity(2 * limit);
        if to > from {
            // Clamped to the supported range, and `to > from`: both are months.
            let (first, last) = (Month::of_utc(from)?, Month::of_utc(to - 1)?);
            for kind in [Kind::Revenue, Kind::Expense] {
                let mut taken = 0;
                for pid in self.partitions_in(kind, first, last).into_iter().rev() {
                    self.visit_rows(pid, org, (from, to), true, |(at, id), row| {
                        out.push(line(kind, at, id, &row));
                        taken += 1;
                        taken < limit
                    })?;
                    if taken == limit {
                        break;
                    }
                }
            }
        }
        out.sort_unstable_by_key(|l| std::cmp::Reverse((l.occurred_at, l.entry_id)));
        out.truncate(limit);
        Ok(out)
    }

    /// Q4: the `limit` oldest pending expenses (occurred_at, then entry id, ascending), through the
    /// `expenses_pending` partial index where materialized.
    pub fn pending_expenses(&self, org: OrgId, limit: usize) -> Result<Vec<PendingLine>> {
        self.known(org)?;
        check_limit(limit)?;
        let slot = self.catalog.pending_slot();
        // The files whose parts serve it: those built with this catalog.
        let fingerprint = self.catalog.fingerprint();
        let part = slot.and_then(|s| u32::try_from(s).ok());
        let mut out = Vec::with_capacity(limit.min(1024));
        let mut probes = PendingProbes {
            months: self.frozen.months().iter(),
            ahead: std::collections::VecDeque::with_capacity(PROBE_AHEAD),
            org,
        };
        for (month, frozen, bucket) in self.months_in(Kind::Expense, Month::MIN, Month::MAX) {
            let overlay = bucket.and_then(|b| b.orgs.get(&org));
            if let Some(frozen) = frozen {
                let in_file = probes.in_file(month)?;
                let parts = (part, fingerprint);
                self.frozen_pending((month, frozen), org, (in_file, overlay), parts, limit, &mut out)?;
                if out.len() == limit {
                    return Ok(out);
                }
                continue;
            }
            let Some(ledger) = overlay else {
                continue;
            };
            match slot.filter(|s| *s < ledger.indexes.len()) {
                Some(slot) => {
                    // Covered: the index includes amount and category.
                    for run in ledger.indexes[slot].runs.values() {
                        for item in run {
                            let category = u8::try_from(item.include[1])
                                .ok()
                                .and_then(Category::from_code)
                                .ok_or_else(|| {
                                    Error::InvalidArgument("bad category code in index".into())
                                })?;
                            out.push(PendingLine {
                                entry_id: item.entry_id,
                                occurred_at: item.occurred_at,
                                amount: Money(item.include[0]),
                                category,
                            });
                            if out.len() == limit {
                                return Ok(out);
                            }
                        }
                    }
                }
                None => {
                    for (key, row) in &ledger.rows {
                        if current_status(row) == Some(ExpenseStatus::Pending) {
                            out.push(pending_line(*key, row));
                            if out.len() == limit {
                                return Ok(out);
                            }
                        }
                    }
                }
            }
        }
        Ok(out)
    }

    /// Q4 over frozen month `pid.month`, appended to `out` up to `limit`: the file's rows of
    /// the org that are pending (none, without a look, when `in_file` is false: the file's
    /// filter said the org has none there) — from its `expenses_pending` part (slot `slot`)
    /// when the file's parts were built with the catalog of fingerprint `fingerprint` (the
    /// state's) and the org's block has one, else from its expense rows — less those a payment recorded
    /// since marks (their patches), merged in (occurred_at, entry id) order with the overlay's
    /// pending rows. Each row is read in place: no ledger row is built for one that is not
    /// pending.
    ///
    /// # Errors
    /// [`Error::Corruption`] when the file's block fails its check.
    fn frozen_pending(
        &self,
        (month, frozen): (Month, &crate::state::frozen_set::FrozenMonth),
        org: OrgId,
        (in_file, overlay): (bool, Option<&std::sync::Arc<OrgMonthLedger>>),
        (slot, fingerprint): (Option<u32>, u64),
        limit: usize,
        out: &mut Vec<PendingLine>,
    ) -> Result<()> {
        let block = match in_file {
            // The filter's "certainly not" spares the lookup of the org in the file.
            false => None,
            true => frozen.file.org(org)?.map(|block| {
                let same = frozen.file.index_fingerprint() == fingerprint;
                (block, slot.filter(|_| same))
            }),
        };
        if block.is_none() && overlay.is_none() {
            return Ok(());
        }
        // Patches only matter to the file's rows.
        let patches = match block {
            Some(_) => self.patches.get(&(month, org)),
            None => None,
        };
        let rows: Box<dyn Iterator<Item = RowRef<'_>>> = match block {
            None => Box::new(std::iter::empty()),
            Some((block, slot)) => match slot.and_then(|s| block.index(Kind::Expense, s)) {
                Some(part) => Box::new(part.entries().map(|(_, row)| row)),
                None => Box::new(
                    block
                        .rows(Kind::Expense)
                        .filter(|row| row.status() == Some(ExpenseStatus::Pending)),
                ),
            },
        };
        let paid_since = |id: u64| {
            patches
                .and_then(|p| p.rows.get(&id))
                .is_some_and(|p| p.paid_at.is_some())
        };
        let mut file = rows
            .filter(|row| !paid_since(row.entry_id()))
            .map(|row| PendingLine {
                entry_id: row.entry_id(),
                occurred_at: row.occurred_at(),
                amount: Money(row.amount()),
                category: row.category(),
            })
            .peekable();
        let mut overlay = overlay
            .into_iter()
            .flat_map(|l| l.rows.iter())
            .filter(|(_, row)| current_status(row) == Some(ExpenseStatus::Pending))
            .map(|(key, row)| pending_line(*key, row))
            .peekable();
        while out.len() < limit {
            let key = |l: &PendingLine| (l.occurred_at, l.entry_id);
            let next = match (file.peek(), overlay.peek()) {
                (Some(a), Some(b)) if key(b) < key(a) => overlay.next(),
                (Some(_), _) => file.next(),
                (None, _) => overlay.next(),
            };
            match next {
                Some(line) => out.push(line),
                None => break,
            }
        }
        Ok(())
    }

    /// The currency of a registered org.
    pub(crate) fn currency_of(&self, org: OrgId) -> Option<Currency> {
        self.orgs.get(&org).map(|o| Currency(o.currency))
    }

    /// Q5: the `limit` orgs with the largest revenue (signed sum) in a UTC month, ties by org id,
    /// ranked within each currency (amounts of two currencies are never compared): the lines
    /// come by currency code, then rank, at most `limit` per currency.
    pub fn top_revenue(&self, month: Month, limit: usize) -> Result<Vec<TopLine>> {
        check_limit(limit)?;
        let mut by_currency: BTreeMap<Currency, Vec<TopLine>> = BTreeMap::new();
        if let Some(candidates) = self.frozen_top_revenue(month, limit)? {
            // A frozen month: its file's top list, with the orgs its overlay changed.
            for (currency, org, total) in candidates {
                by_currency.entry(currency).or_default().push(TopLine {
                    org,
                    currency,
                    total: Money(total),
                });
            }
        } else if let Some(bucket) = self.ledgers.get(&PartitionId {
            kind: Kind::Revenue,
            month,
        }) {
            if let Some(lines) = self.top_from_leaders(&bucket.revenue_bound, limit)? {
                // An open month whose leading orgs are known ahead of all others: no scan.
                for line in lines {
                    by_currency.entry(line.currency).or_default().push(line);
                }
            } else {
                for (org, l) in bucket.orgs.iter().filter(|(_, l)| !l.rows.is_empty()) {
                    let currency = self.currency_of(*org).ok_or(Error::UnknownOrg(*org))?;
                    by_currency.entry(currency).or_default().push(TopLine {
                        org: *org,
                        currency,
                        total: Money(l.total),
                    });
                }
            }
        }
        let by_rank = |a: &TopLine, b: &TopLine| b.total.cmp(&a.total).then(a.org.cmp(&b.org));
        let mut out = Vec::new();
        for mut all in by_currency.into_values() {
            if all.len() > limit {
                all.select_nth_unstable_by(limit - 1, by_rank);
                all.truncate(limit);
            }
            all.sort_unstable_by(by_rank);
            out.extend(all);
        }
        Ok(out)
    }

    /// Q5's candidates from a revenue partition's [`RevenueBound`] alone, when they are the
    /// answer: every org with rows is a leader (no bound on the rest), or in every registered
    /// currency at least `limit` leaders are above the bound of all the others (so no other org
    /// of that currency can rank among its first `limit`, ties included). `None`: scan instead.
    fn top_from_leaders(
        &self,
        bound: &crate::state::ledger::RevenueBound,
        limit: usize,
    ) -> Result<Option<Vec<TopLine>>> {
        let everyone = bound.rest_max == i64::MIN;
        let mut lines = Vec::with_capacity(bound.leaders.len());
        let mut ahead: BTreeMap<Currency, usize> = BTreeMap::new();
        for (total, org) in &bound.leaders {
            let currency = self.currency_of(*org).ok_or(Error::UnknownOrg(*org))?;
            if *total > bound.rest_max {
                *ahead.entry(currency).or_default() += 1;
            }
            lines.push(TopLine {
                org: *org,
                currency,
                total: Money(*total),
            });
        }
        let known = self
            .currencies()
            .all(|code| ahead.get(&Currency(code)).copied().unwrap_or(0) >= limit);
        Ok((everyone || known).then_some(lines))
    }

    /// Revenue of several orgs (a chain) in a month: per org in the order given, and one total
    /// per currency (by code). An org listed twice is refused: it would be counted twice.
    pub fn chain_revenue(
        &self,
        orgs: &[OrgId],
        month: Month,
    ) -> Result<(Vec<TopLine>, Vec<CurrencyTotal>)> {
        if orgs.len() > MAX_LIST_ENTRIES {
            return Err(Error::InvalidArgument("too many orgs".into()));
        }
        let mut seen = std::collections::BTreeSet::new();
        let mut lines = Vec::with_capacity(orgs.len());
        let mut totals: BTreeMap<Currency, i64> = BTreeMap::new();
        for &org in orgs {
            if !seen.insert(org) {
                return Err(Error::InvalidArgument(format!(
                    "org {org} is listed more than once"
                )));
            }
            let currency = self.currency_of(org).ok_or(Error::UnknownOrg(org))?;
            let pid = PartitionId {
                kind: Kind::Revenue,
                month,
            };
            let sum = self.org_rollup(pid, org)?.map_or(0, |r| r.total);
            let total = totals.entry(currency).or_default();
            *total = total.checked_add(sum).ok_or_else(overflow)?;
            lines.push(TopLine {
                org,
                currency,
                total: Money(sum),
            });
        }
        let totals = totals
            .into_iter()
            .map(|(currency, total)| CurrencyTotal {
                currency,
                total: Money(total),
            })
            .collect();
        Ok((lines, totals))
    }

    /// The night audit of one org and business day: balance, revenue and expense by category,
    /// net by payment method.
    pub fn daily_report(&self, org: OrgId, day: BusinessDay) -> Result<DailyReport> {
        let balance = self.balance(org, day)?;
        // A business day lies within a day of its UTC date whatever the time zone. (The day's
        // timestamp is within ±3.2e11: these sums cannot overflow.)
        let start = day.start_utc();
        let entries = self.entries(org, start - 2 * 86_400, start + 3 * 86_400)?;
        night_audit(balance, entries.iter().filter(|e| e.day == day))
    }
}

/// The night audit of a day from its balance row and its entries (those whose business day it
/// is): revenue and expense by category, net by payment method.
pub(super) fn night_audit<'e>(
    balance: DayBalance,
    entries: impl Iterator<Item = &'e LedgerEntry>,
) -> Result<DailyReport> {
    let (mut revenue, mut expense) = (BTreeMap::new(), BTreeMap::new());
    let mut methods: BTreeMap<&'static str, (PaymentMethod, i64, u64)> = BTreeMap::new();
    for e in entries {
        let signed = match e.reverses {
            Some(_) => e.amount.checked_neg().ok_or_else(overflow)?.0,
            None => e.amount.0,
        };
        let net = match e.kind {
            Kind::Revenue => {
                add(&mut revenue, e.category, signed)?;
                signed
            }
            Kind::Expense => {
                add(&mut expense, e.category, signed)?;
                signed.checked_neg().ok_or_else(overflow)?
            }
        };
        let m = methods
            .entry(e.payment_method.as_str())
            .or_insert((e.payment_method, 0, 0));
        m.1 = m.1.checked_add(net).ok_or_else(overflow)?;
        m.2 += 1;
    }
    let by_method = methods
        .into_values()
        .map(|(payment_method, net, count)| MethodLine {
            payment_method,
            net: Money(net),
            count,
        })
        .collect();
    Ok(DailyReport {
        balance,
        revenue: lines(revenue),
        expense: lines(expense),
        by_method,
    })
}

fn line(kind: Kind, at: i64, id: u64, row: &Row) -> LedgerLine {
    LedgerLine {
        kind,
        entry_id: id,
        occurred_at: at,
        amount: Money(row.signed_amount()),
        category: row.category,
    }
}

fn pending_line(key: (i64, u64), row: &Row) -> PendingLine {
    PendingLine {
        entry_id: key.1,
        occurred_at: key.0,
        amount: Money(row.amount),
        category: row.category,
    }
}

/// Frozen months Q4 probes ahead of its walk, at a time.
const PROBE_AHEAD: usize = 8;

/// Q4's probes of the frozen files' pending keys ([`crate::frozen::FrozenFile::may_have_pending`]),
/// made `PROBE_AHEAD` months at a time as the walk reaches them: independent loads, whose cache
/// misses the processor overlaps, where a probe between two steps of the walk waited for the
/// one before. Not every month at once: a file's filter is checked whole at its first use, and
/// an org whose walk ends in its first months would have read every month's filter.
struct PendingProbes<'s> {
    /// The frozen months not probed yet, in order.
    months: std::collections::btree_map::Iter<'s, Month, crate::state::frozen_set::FrozenMonth>,
    /// Months probed and not yet reached, in order, with the answer.
    ahead: std::collections::VecDeque<(Month, bool)>,
    org: OrgId,
}

impl PendingProbes<'_> {
    /// Whether frozen month `month`'s file may hold a pending row of the org; months come in
    /// increasing order. `true` (look) for a month it was not given.
    fn in_file(&mut self, month: Month) -> Result<bool> {
        loop {
            while let Some(&(probed, maybe)) = self.ahead.front() {
                if probed > month {
                    return Ok(true);
                }
                self.ahead.pop_front();
                if probed == month {
                    return Ok(maybe);
                }
            }
            for (probed, frozen) in self.months.by_ref() {
                if *probed < month {
                    continue;
                }
                let maybe = frozen.file.may_have_pending(self.org)?;
                self.ahead.push_back((*probed, maybe));
                if self.ahead.len() == PROBE_AHEAD {
                    break;
                }
            }
            if self.ahead.is_empty() {
                return Ok(true);
            }
        }
    }
}
