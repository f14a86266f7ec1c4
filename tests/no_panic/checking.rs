//! What an answer must be: `Ok` or a typed error that is not the database failing, and within
//! its limits; [`run_read!`] runs one [`Read`] on any view.

use crate::calendar::day;
use folio::{BalanceQuery, QueryOutput};
use folio::{Error, OrgId};

/// A call's answer: `Ok`, or an error that is not the database failing (closed or poisoned,
/// which is what a panicking committer turns into).
pub fn answer<T>(what: &str, result: Result<T, Error>) -> Option<T> {
    match result {
        Ok(value) => Some(value),
        Err(e @ (Error::Closed | Error::Poisoned(_))) => panic!("{what}: {e}"),
        Err(_) => None,
    }
}

pub fn balance_query(
    org: Option<OrgId>,
    from: i32,
    to: i32,
    active: bool,
    limit: usize,
) -> Option<BalanceQuery> {
    Some(BalanceQuery {
        org,
        days: (day(from)?, day(to)?),
        active_only: active,
        limit,
    })
}

pub fn check_output(output: &QueryOutput, limit: usize) {
    match output {
        QueryOutput::Rows { rows, .. } => assert!(rows.len() <= limit),
        QueryOutput::Projected { rows, .. } => assert!(rows.len() <= limit),
        QueryOutput::Groups(_) => {}
    }
}

/// Runs one [`Read`] on a view with the typed read methods (a `Snapshot` or a `PoolRead`).
macro_rules! run_read {
    ($view:expr, $read:expr) => {{
        let v = $view;
        match $read {
            $crate::inputs::Read::Lsn => {
                let _ = v.lsn();
            }
            $crate::inputs::Read::Balance(org, d) => {
                if let Some(d) = $crate::calendar::day(*d) {
                    if let Some(b) = $crate::checking::answer("balance", v.balance(*org, d)) {
                        assert_eq!(b.day, d);
                    }
                }
            }
            $crate::inputs::Read::Balances(org, a, b) => {
                if let (Some(a), Some(b)) = ($crate::calendar::day(*a), $crate::calendar::day(*b)) {
                    if let Some(rows) = $crate::checking::answer("balances", v.balances(*org, a, b))
                    {
                        assert!(rows.len() <= folio::limits::MAX_RANGE_DAYS as usize);
                    }
                }
            }
            $crate::inputs::Read::Entries(org, a, b) => {
                if let Some(rows) = $crate::checking::answer("entries", v.entries(*org, *a, *b)) {
                    assert!(rows.len() <= folio::limits::MAX_LIST_ENTRIES);
                }
            }
            $crate::inputs::Read::Closing(org, d) => {
                if let Some(d) = $crate::calendar::day(*d) {
                    $crate::checking::answer("closing", v.closing_with_cost(*org, d));
                }
            }
            $crate::inputs::Read::Org(org) => {
                let _ = v.org(*org);
            }
            $crate::inputs::Read::Orgs => {
                let _ = v.orgs();
            }
            $crate::inputs::Read::Monthly(org, m) => {
                if let Some(m) = $crate::calendar::month(*m) {
                    if let Some(r) =
                        $crate::checking::answer("monthly_report", v.monthly_report(*org, m))
                    {
                        assert!(r.daily_closing.len() <= 31);
                    }
                }
            }
            $crate::inputs::Read::MonthTotals(org, m) => {
                if let Some(m) = $crate::calendar::month(*m) {
                    $crate::checking::answer("month_totals", v.month_totals(*org, m));
                }
            }
            $crate::inputs::Read::LedgerPage(org, a, b, limit) => {
                if let Some(rows) =
                    $crate::checking::answer("ledger_page", v.ledger_page(*org, *a, *b, *limit))
                {
                    assert!(rows.len() <= *limit);
                }
            }
            $crate::inputs::Read::Pending(org, limit) => {
                if let Some(rows) =
                    $crate::checking::answer("pending_expenses", v.pending_expenses(*org, *limit))
                {
                    assert!(rows.len() <= *limit);
                }
            }
            $crate::inputs::Read::Top(m, limit) => {
                if let Some(m) = $crate::calendar::month(*m) {
                    $crate::checking::answer("top_revenue", v.top_revenue(m, *limit));
                }
            }
            $crate::inputs::Read::Chain(orgs, m) => {
                if let Some(m) = $crate::calendar::month(*m) {
                    if let Some((lines, _)) =
                        $crate::checking::answer("chain_revenue", v.chain_revenue(orgs, m))
                    {
                        assert_eq!(lines.len(), orgs.len());
                    }
                }
            }
            $crate::inputs::Read::Daily(org, d) => {
                if let Some(d) = $crate::calendar::day(*d) {
                    $crate::checking::answer("daily_report", v.daily_report(*org, d));
                }
            }
            $crate::inputs::Read::Indexes => {
                let _ = v.indexes();
            }
            $crate::inputs::Read::QueryBalances(org, a, b, act, limit) => {
                if let Some(q) = $crate::checking::balance_query(*org, *a, *b, *act, *limit) {
                    if let Some(rows) =
                        $crate::checking::answer("query_balances", v.query_balances(&q))
                    {
                        assert!(rows.len() <= *limit);
                    }
                }
            }
            $crate::inputs::Read::ExplainBalances(org, a, b, act, limit) => {
                if let Some(q) = $crate::checking::balance_query(*org, *a, *b, *act, *limit) {
                    $crate::checking::answer("explain_balances", v.explain_balances(&q));
                }
            }
            $crate::inputs::Read::Query(spec) => {
                if let Some(q) = spec.build() {
                    if let Some(out) = $crate::checking::answer("query", v.query(&q)) {
                        $crate::checking::check_output(&out, q.limit);
                    }
                }
            }
            $crate::inputs::Read::Explain(spec) => {
                if let Some(q) = spec.build() {
                    $crate::checking::answer("explain", v.explain(&q));
                }
            }
            $crate::inputs::Read::EntryCount => {
                let _ = v.entry_count();
            }
            $crate::inputs::Read::Partitions => {
                let _ = v.partitions();
            }
            $crate::inputs::Read::Cursor(text) => {
                if let Ok(c) = folio::Cursor::decode(text) {
                    assert_eq!(folio::Cursor::decode(&c.encode()).ok(), Some(c));
                }
            }
            $crate::inputs::Read::Calendar(d, m, t, y, n, s) => {
                $crate::calendar::calendar_calls(*d, *m, *t, *y, *n, s)
            }
        }
    }};
}
