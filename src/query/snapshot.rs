//! Read views of the state: [`Snapshot`] (owned, pinned at one LSN), the two ways one read holds
//! the state (`ReadKind`, `StateRef`), and the typed read methods every read view shares
//! (`state_reads!`: [`Snapshot`], the read pool's handles). Below the database and the replicas,
//! which both hand them out.

use super::{DailyReport, LedgerLine, MonthlyReport, PendingLine, TopLine};
use crate::error::Result;
use crate::model::{BusinessDay, Lsn, Month, Org, OrgId, Timestamp};
use crate::state::balance::ReadCost;
use crate::state::read::{DayBalance, LedgerEntry};
use crate::state::State;
use std::sync::Arc;

/// What one read needs of the orgs: an open loads orgs as something first needs them
/// (`db::lazy`), one org's chunk or every org.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Scope {
    /// One org's values.
    Org(OrgId),
    /// Every org's values.
    All,
}

/// Where a snapshot of a read-only open that has not loaded every org yet loads the orgs a
/// read needs (the database, a layer above, implements it). Such an open's state never moves
/// past its LSN, so the state it returns is the snapshot's, with more orgs in it.
pub(crate) trait Loader: Send + Sync {
    /// Loads what a read of `scope` needs; the state holding it.
    fn load(&self, scope: Scope) -> Result<Arc<State>>;
}

impl Scope {
    /// One org's values when a query is filtered to one, else every org's.
    pub(crate) fn of(org: Option<OrgId>) -> Scope {
        org.map_or(Scope::All, Scope::Org)
    }
}

/// The typed read methods shared by [`Snapshot`], [`crate::replica::PoolRead`] and (without
/// `lsn`, which it calls `visible_lsn`) [`crate::Db`]: each runs one read through the type's
/// `read_in` (or, reading nothing of any org, `with_state`), saying what it needs of the orgs
/// ([`Scope`]) and whether it is a point read or a scan ([`ReadKind`]). Besides the errors each
/// method names, a read through a [`crate::Db`] (or a snapshot of a read-only one) returns
/// `Error::Store` when it cannot load the orgs it needs from the store.
macro_rules! state_reads {
    () => {
        /// LSN of the last batch this view includes.
        pub fn lsn(&self) -> Lsn {
            self.with_state(ReadKind::Point, |s| s.lsn)
        }

        $crate::query::state_reads!(without_lsn);
    };
    (without_lsn) => {
        /// The balance row of `org` on business `day`: opening, revenue, expense, closing and row
        /// counts. A day without activity has revenue and expense 0 and the previous closing.
        ///
        /// # Errors
        /// [`crate::Error::UnknownOrg`] for an org not registered in this view;
        /// [`crate::Error::InvalidArgument`] for a day more than 100,000 days outside the supported
        /// range ([`crate::MIN_TIMESTAMP`]`..=`[`crate::MAX_TIMESTAMP`]).
        pub fn balance(&self, org: OrgId, day: BusinessDay) -> Result<DayBalance> {
            self.read_in($crate::query::Scope::Org(org), ReadKind::Point, |s| s.balance(org, day))
        }

        /// One balance row per business day of `from..=to` (inclusive), days without activity
        /// included, oldest first.
        ///
        /// # Errors
        /// [`crate::Error::InvalidArgument`] for an inverted range, one of more than
        /// [`crate::limits::MAX_RANGE_DAYS`] days, or days far outside the supported range;
        /// [`crate::Error::UnknownOrg`] for an org not registered in this view.
        pub fn balances(
            &self,
            org: OrgId,
            from: BusinessDay,
            to: BusinessDay,
        ) -> Result<Vec<DayBalance>> {
            self.read_in($crate::query::Scope::Org(org), ReadKind::Scan, |s| s.balances(org, from, to))
        }

        /// The org's entries of both ledgers with `from <= occurred_at < to` (UTC seconds), in
        /// (occurred_at, entry id) order.
        ///
        /// # Errors
        /// [`crate::Error::InvalidArgument`] for an empty or inverted range, or one holding more
        /// than [`crate::limits::MAX_LIST_ENTRIES`] entries (narrow it, or page with a
        /// [`crate::Query`]); [`crate::Error::UnknownOrg`] for an org not registered in this
        /// view.
        pub fn entries(
            &self,
            org: OrgId,
            from: Timestamp,
            to: Timestamp,
        ) -> Result<Vec<LedgerEntry>> {
            self.read_in($crate::query::Scope::Org(org), ReadKind::Scan, |s| s.entries(org, from, to))
        }

        /// Closing balance of `day` and how many values the read touched.
        ///
        /// # Errors
        /// As [`Self::balance`].
        pub fn closing_with_cost(
            &self,
            org: OrgId,
            day: BusinessDay,
        ) -> Result<(crate::model::Money, ReadCost)> {
            self.read_in($crate::query::Scope::Org(org), ReadKind::Point, |s| s.closing(org, day))
        }

        /// The org as registered; `None` when it is not registered in this view.
        ///
        /// # Errors
        /// `Error::Store` when the open cannot load the org from its store.
        pub fn org(&self, org: OrgId) -> Result<Option<Org>> {
            self.read_in($crate::query::Scope::Org(org), ReadKind::Point, |s| {
                Ok(s.orgs.get(&org).map(|o| o.org()))
            })
        }

        /// Every registered org, by id.
        ///
        /// # Errors
        /// `Error::Store` when the open cannot load the orgs from its store.
        pub fn orgs(&self) -> Result<Vec<Org>> {
            self.read_in($crate::query::Scope::All, ReadKind::Scan, |s| {
                let mut orgs: Vec<Org> = s.orgs.values().map(|o| o.org()).collect();
                orgs.sort_by_key(|o| o.id);
                Ok(orgs)
            })
        }

        /// Q2: revenue and expense by category of one UTC month, with daily closing balances.
        ///
        /// # Errors
        /// [`crate::Error::UnknownOrg`] for an org not registered in this view;
        /// [`crate::Error::InvalidArgument`] when a total overflows `i64` or the month lies far
        /// outside the supported range.
        pub fn monthly_report(&self, org: OrgId, month: Month) -> Result<MonthlyReport> {
            self.read_in($crate::query::Scope::Org(org), ReadKind::Point, |s| s.monthly_report(org, month))
        }

        /// Q2 without the daily closings: revenue and expense by category of one UTC month, and
        /// net.
        ///
        /// # Errors
        /// [`crate::Error::UnknownOrg`] for an org not registered in this view;
        /// [`crate::Error::InvalidArgument`] when a total overflows `i64`.
        pub fn month_totals(
            &self,
            org: OrgId,
            month: Month,
        ) -> Result<(
            Vec<crate::query::CategoryLine>,
            Vec<crate::query::CategoryLine>,
            crate::model::Money,
        )> {
            self.read_in($crate::query::Scope::Org(org), ReadKind::Point, |s| s.month_totals(org, month))
        }

        /// Q3: the `limit` newest entries with `from <= occurred_at < to`.
        /// Newest first (occurred_at, then entry id, descending); `from`, `to` in UTC seconds.
        ///
        /// # Errors
        /// [`crate::Error::UnknownOrg`] for an org not registered in this view;
        /// [`crate::Error::InvalidArgument`] for a limit outside
        /// `1..=`[`crate::limits::MAX_REPORT_ROWS`] or an empty or inverted range.
        pub fn ledger_page(
            &self,
            org: OrgId,
            from: Timestamp,
            to: Timestamp,
            limit: usize,
        ) -> Result<Vec<LedgerLine>> {
            self.read_in($crate::query::Scope::Org(org), ReadKind::Scan, |s| s.ledger_page(org, from, to, limit))
        }

        /// Q4: the `limit` oldest pending expenses.
        /// Oldest first (occurred_at, then entry id).
        ///
        /// # Errors
        /// [`crate::Error::UnknownOrg`] for an org not registered in this view;
        /// [`crate::Error::InvalidArgument`] for a limit outside
        /// `1..=`[`crate::limits::MAX_REPORT_ROWS`].
        pub fn pending_expenses(&self, org: OrgId, limit: usize) -> Result<Vec<PendingLine>> {
            self.read_in($crate::query::Scope::Org(org), ReadKind::Scan, |s| s.pending_expenses(org, limit))
        }

        /// Q5: the `limit` orgs with the most revenue in a UTC month, ranked within each
        /// currency (at most `limit` per currency).
        /// Lines come by currency code, then rank (revenue descending, ties by org id).
        ///
        /// # Errors
        /// [`crate::Error::InvalidArgument`] for a limit outside
        /// `1..=`[`crate::limits::MAX_REPORT_ROWS`].
        pub fn top_revenue(&self, month: Month, limit: usize) -> Result<Vec<TopLine>> {
            self.read_in($crate::query::Scope::All, ReadKind::Scan, |s| s.top_revenue(month, limit))
        }

        /// Revenue of a chain's orgs in a month: per org, and one total per currency. An org
        /// listed twice is refused.
        /// Lines come in the order of `orgs`; totals by currency code.
        ///
        /// # Errors
        /// [`crate::Error::InvalidArgument`] for more than [`crate::limits::MAX_LIST_ENTRIES`]
        /// orgs, an org listed twice, or a currency total that overflows `i64`;
        /// [`crate::Error::UnknownOrg`] for an org not registered in this view.
        pub fn chain_revenue(
            &self,
            orgs: &[OrgId],
            month: Month,
        ) -> Result<(Vec<TopLine>, Vec<crate::query::CurrencyTotal>)> {
            self.read_in($crate::query::Scope::All, ReadKind::Scan, |s| s.chain_revenue(orgs, month))
        }

        /// The night audit of one org and business day.
        ///
        /// # Errors
        /// [`crate::Error::UnknownOrg`] for an org not registered in this view;
        /// [`crate::Error::InvalidArgument`] for a day far outside the supported range or a total
        /// that overflows `i64`.
        pub fn daily_report(&self, org: OrgId, day: BusinessDay) -> Result<DailyReport> {
            self.read_in($crate::query::Scope::Org(org), ReadKind::Scan, |s| s.daily_report(org, day))
        }

        /// The declared secondary indexes.
        pub fn indexes(&self) -> Vec<crate::state::index::IndexDef> {
            self.with_state(ReadKind::Point, |s| s.catalog.defs.clone())
        }

        /// Day balances of one org or every org over a day range.
        ///
        /// # Errors
        /// What [`crate::BalanceQuery::validate`] returns; [`crate::Error::UnknownOrg`] when the
        /// query names an org not registered in this view.
        pub fn query_balances(
            &self,
            query: &crate::query::BalanceQuery,
        ) -> Result<Vec<DayBalance>> {
            self.read_in($crate::query::Scope::of(query.org), ReadKind::Scan, |s| s.query_balances(query))
        }

        /// Which balance shards a balance query reads.
        ///
        /// # Errors
        /// What [`crate::BalanceQuery::validate`] returns.
        pub fn explain_balances(
            &self,
            query: &crate::query::BalanceQuery,
        ) -> Result<crate::query::BalancePlan> {
            query.validate()?;
            self.read_in($crate::query::Scope::All, ReadKind::Point, |s| Ok(s.plan_balances(query)))
        }

        /// Runs a typed query (see [`crate::query::Query`]).
        ///
        /// # Errors
        /// What [`crate::Query::validate`] returns ([`crate::Error::InvalidArgument`],
        /// [`crate::Error::CursorMismatch`]); [`crate::Error::UnknownOrg`] when the query names
        /// an org not registered in this view; [`crate::Error::InvalidArgument`] when a group's
        /// sum overflows `i64`.
        pub fn query(&self, query: &crate::query::Query) -> Result<crate::query::QueryOutput> {
            self.read_in($crate::query::Scope::of(query.org), ReadKind::Scan, |s| Ok(s.query(query)?.0))
        }

        /// The plan of a query: partitions touched out of the total (each open or frozen, with
        /// its file's version), index used, covered or not, estimated rows.
        ///
        /// # Errors
        /// What [`crate::Query::validate`] returns; [`crate::Error::Corruption`] when a part of a
        /// frozen month's file fails its check.
        pub fn explain(&self, query: &crate::query::Query) -> Result<crate::query::Plan> {
            query.validate()?;
            self.read_in($crate::query::Scope::All, ReadKind::Scan, |s| s.plan(query))
        }

        /// Number of ledger entries (postings and reversals), frozen months' included.
        ///
        /// # Errors
        /// `Error::Store` when the open cannot load the orgs from its store.
        pub fn entry_count(&self) -> Result<usize> {
            self.read_in($crate::query::Scope::All, ReadKind::Scan, |s| Ok(s.entry_count()))
        }

        /// Ledger partitions (kind, month) that hold rows, open or frozen, and the balance shard
        /// count.
        ///
        /// # Errors
        /// [`crate::Error::Corruption`] when a part of a frozen month's file fails its check.
        pub fn partitions(&self) -> Result<(Vec<String>, u32)> {
            self.read_in($crate::query::Scope::All, ReadKind::Scan, |s| {
                let pids = s.partitions_with_rows()?;
                Ok((pids.iter().map(|p| p.tree_name()).collect(), s.shards))
            })
        }
    };
}
pub(crate) use state_reads;

/// What a read costs, which decides how it holds the state (see [`StateRef`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ReadKind {
    /// Bounded whatever the data: one org's balance of a day, its record, an LSN. Runs under the
    /// read lock, so no snapshot is pinned and the committer copies nothing for it.
    Point,
    /// Grows with its answer or with the data: ranges of days, listings, queries, reports over
    /// many orgs, plans, verification. Runs on a snapshot pinned under a short read lock, so
    /// group commits go on while it runs.
    Scan,
}

/// The state for one read: borrowed under the read lock (a [`ReadKind::Point`] read), or a
/// snapshot pinned under it and let go of before the read runs (a [`ReadKind::Scan`]).
pub(crate) enum StateRef<'a> {
    Locked(parking_lot::MappedRwLockReadGuard<'a, State>),
    Pinned(Arc<State>),
}

impl<'a> StateRef<'a> {
    /// The state behind a read guard, for a read of `kind`.
    pub(crate) fn of<C>(
        kind: ReadKind,
        guard: parking_lot::RwLockReadGuard<'a, C>,
        state: impl FnOnce(&C) -> &Arc<State>,
    ) -> StateRef<'a> {
        match kind {
            ReadKind::Point => {
                StateRef::Locked(parking_lot::RwLockReadGuard::map(guard, |c| &**state(c)))
            }
            ReadKind::Scan => StateRef::Pinned(state(&guard).clone()),
        }
    }
}

impl std::ops::Deref for StateRef<'_> {
    type Target = State;
    fn deref(&self) -> &State {
        match self {
            StateRef::Locked(guard) => guard,
            StateRef::Pinned(state) => state,
        }
    }
}

/// A snapshot: a read view pinned at one LSN. Every read through it sees exactly the log prefix
/// up to [`Snapshot::lsn`] — ledgers, indexes, balances and catalog alike — however long it is
/// held and however many batches commit meanwhile.
///
/// Taking one clones an `Arc` under the state's read lock (no data is copied). While it is held,
/// the committer copies each value it changes the first time it changes it (an org's ledger of
/// one month, its balance months, its catalog record, and the persistent-map nodes on their
/// path), so the extra memory is bounded by the data written while the snapshot lives, and is
/// freed when the last snapshot sharing it drops. A snapshot holds no lock: it never blocks the
/// committer, and reading through the `Db` while holding one is safe.
///
/// A snapshot of a read-only open that has not loaded every org yet loads the orgs its reads
/// need as the open does (one org's chunk for a read of one org, every org for a scan), and
/// returns `Error::Store` when a load fails.
#[derive(Clone)]
pub struct Snapshot {
    state: Arc<State>,
    /// Why the state could not be completed (a read-only open that could not load every org):
    /// every read of orgs returns it.
    failed: Option<Arc<str>>,
    /// Where a read-only open's snapshot loads the orgs its reads need.
    loader: Option<Arc<dyn Loader>>,
}

impl Snapshot {
    /// The state behind a read guard, for a read of `kind`.
    pub(crate) fn of(state: Arc<State>) -> Snapshot {
        Snapshot {
            state,
            failed: None,
            loader: None,
        }
    }

    /// A snapshot of a read-only open's state at its LSN, whose reads load orgs from `loader`.
    pub(crate) fn loading(state: Arc<State>, loader: Arc<dyn Loader>) -> Snapshot {
        Snapshot {
            state,
            failed: None,
            loader: Some(loader),
        }
    }

    /// A snapshot of a state that lacks orgs it could not load (`why`): its reads of orgs fail.
    pub(crate) fn incomplete(state: Arc<State>, why: String) -> Snapshot {
        Snapshot {
            state,
            failed: Some(why.into()),
            loader: None,
        }
    }

    /// The state holding what a read of `scope` needs, or why it cannot be had.
    fn state_in(&self, scope: Scope) -> Result<Arc<State>> {
        match (&self.failed, &self.loader) {
            (Some(why), _) => Err(crate::Error::Store(why.to_string())),
            (None, Some(loader)) => loader.load(scope),
            (None, None) => Ok(self.state.clone()),
        }
    }

    /// The state with every org, or why it cannot be had.
    pub(crate) fn complete(&self) -> Result<Arc<State>> {
        self.state_in(Scope::All)
    }

    fn read_in<T>(
        &self,
        scope: Scope,
        _: ReadKind,
        read: impl FnOnce(&State) -> Result<T>,
    ) -> Result<T> {
        read(&*self.state_in(scope)?)
    }

    pub(crate) fn state(&self) -> &State {
        &self.state
    }

    fn with_state<T>(&self, _: ReadKind, read: impl FnOnce(&State) -> T) -> T {
        read(&self.state)
    }

    state_reads!();
}

