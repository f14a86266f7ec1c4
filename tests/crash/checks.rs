//! The whole database against the reference model: orgs, entries one by one, every balance row.

use crate::protocol::{TOp, LIST_FROM, LIST_TO};
use crate::reference::reports::utc_month;
use crate::reference::Model;
use folio::limits::MAX_REPORT_ROWS;
use folio::{BusinessDay, Db, LedgerEntry, Month, OrgId, Snapshot};
use std::collections::HashMap;

/// Every entry of every org, as listed by `Db::entries`.
pub type Listing = Vec<(u64, Vec<LedgerEntry>)>;

pub fn list_all(db: &Db, ctx: &str) -> Listing {
    let view = db.snapshot();
    view.orgs()
        .unwrap_or_else(|e| panic!("{ctx}: orgs: {e}"))
        .into_iter()
        .map(|org| {
            let entries = view
                .entries(org.id, LIST_FROM, LIST_TO)
                .unwrap_or_else(|e| panic!("{ctx}: entries of org {}: {e}", org.id));
            (org.id.0, entries)
        })
        .collect()
}

/// The listed entries that `ops` touch, by (org, id).
pub fn touched<'a>(listing: &'a Listing, ops: &[&TOp]) -> HashMap<(u64, u64), &'a LedgerEntry> {
    let wanted: std::collections::HashSet<(u64, u64)> = ops.iter().map(|op| op.key()).collect();
    let mut found = HashMap::new();
    for (org, entries) in listing {
        for e in entries {
            if wanted.contains(&(*org, e.id.0)) {
                found.insert((*org, e.id.0), e);
            }
        }
    }
    found
}

/// Whether the effect of `op` is visible.
pub fn op_visible(all: &HashMap<(u64, u64), &LedgerEntry>, op: &TOp) -> bool {
    match *op {
        TOp::Post(_) | TOp::Reverse { .. } => all.contains_key(&op.key()),
        TOp::Pay { org, id, paid_at } => all
            .get(&(org, id))
            .is_some_and(|e| e.paid_at == Some(paid_at)),
    }
}

#[derive(Default)]
pub struct Totals {
    pub acked: u64,
    pub entries_checked: u64,
    pub balance_rows_checked: u64,
    pub inflight_landed: u64,
    pub inflight_lost: u64,
    pub killed_in_checkpoint: u64,
    pub killed_before_ready: u64,
    pub rebuilt: u64,
    pub truncated_rounds: u64,
    pub truncated_bytes: u64,
    pub frames_replayed: u64,
    /// Frozen months found at reopens, and the sum of their file versions (re-freezes and
    /// spills raise it).
    pub frozen_months: u64,
    pub frozen_versions: u64,
    /// Read-only opens made beside the child while it wrote (each checked).
    pub reader_opens: u64,
    /// Seconds spent running children, reopening, checking and closing.
    pub secs: [f64; 4],
}

/// Compares the whole database with the model: entries one by one, then every balance row.
pub fn check_db(db: &Db, listing: &Listing, model: &Model, ctx: &str, totals: &mut Totals) {
    let view = db.snapshot();
    assert_eq!(
        view.entry_count()
            .unwrap_or_else(|e| panic!("{ctx}: entry count: {e}")),
        model.entry_count(),
        "{ctx}: entry count differs from the model"
    );
    for org in model.org_ids() {
        let listed = listing
            .iter()
            .find(|(o, _)| *o == org)
            .map(|(_, entries)| entries)
            .unwrap_or_else(|| panic!("{ctx}: org {org} not listed"));
        check_entries(listed, model, org, ctx, totals);
        check_balances(&view, model, org, ctx, totals);
        check_reports(&view, model, org, listed.last(), ctx);
    }
}

/// The org's listing equals the model's, entry by entry, in (occurred_at, id) order.
fn check_entries(listed: &[LedgerEntry], model: &Model, org: u64, ctx: &str, totals: &mut Totals) {
    let expected = model.org_entries(org).count();
    assert_eq!(
        listed.len(),
        expected,
        "{ctx}: org {org} lists {} entries, the model has {expected}",
        listed.len(),
    );
    let mut previous = None;
    for e in listed {
        let m = model
            .entry(org, e.id.0)
            .unwrap_or_else(|| panic!("{ctx}: org {org} entry {} not in the model", e.id));
        let want = model.ledger_entry(org, e.id.0, m);
        let ok = *e == want && e.signed_amount().map(|s| i128::from(s.0)) == Some(m.signed());
        assert!(ok, "{ctx}: org {org}: read back {e:?}\nmodel {want:?}");
        let key = Some((e.occurred_at, e.id));
        assert!(
            previous < key,
            "{ctx}: org {org}: listing out of order at {e:?}"
        );
        previous = key;
        totals.entries_checked += 1;
    }
}

/// Balance rows from the day before the org's first entry to the day after its last: each equal
/// to the model's (the sums and counts of the day's entries, closing = opening balance + prefix
/// sums), the point read through the prefix sums equal to the range read on every day with
/// entries, and the row long after the last entry.
fn check_balances(view: &Snapshot, model: &Model, org: u64, ctx: &str, totals: &mut Totals) {
    let days = model.day_totals(org);
    let (Some(&first), Some(&last)) = (days.keys().next(), days.keys().next_back()) else {
        return;
    };
    let day = |d: i32| BusinessDay::from_days(d).expect("day");
    let model_rows = |from: i32, to: i32| {
        model
            .balance_rows(org, &days, from, to)
            .unwrap_or_else(|e| panic!("{ctx}: {e}"))
    };
    let rows = view
        .balances(OrgId(org), day(first - 1), day(last + 1))
        .unwrap_or_else(|e| panic!("{ctx}: balances of org {org}: {e}"));
    let want = model_rows(first - 1, last + 1);
    assert_eq!(rows.len(), want.len(), "{ctx}: org {org}: balance rows");
    for (row, want) in rows.iter().zip(&want) {
        assert_eq!(
            row, want,
            "{ctx}: org {org} day {}: balance row (opening, revenue, expense, closing, revenue \
             rows, expense rows) differs from the model's sums of its entries",
            row.day
        );
        if days.contains_key(&row.day.days()) {
            // Point read through the prefix sums must agree with the range read.
            let point = view
                .balance(OrgId(org), row.day)
                .unwrap_or_else(|e| panic!("{ctx}: balance: {e}"));
            assert_eq!(
                point, *row,
                "{ctx}: org {org}: balance() differs from balances()"
            );
        }
        totals.balance_rows_checked += 1;
    }
    let far = view
        .balance(OrgId(org), day(last + 4000))
        .unwrap_or_else(|e| panic!("{ctx}: balance: {e}"));
    let closing = want.last().expect("rows").closing;
    assert_eq!(far.closing, closing, "{ctx}: org {org}: late closing");
    assert_eq!(
        far,
        model_rows(last + 4000, last + 4000)[0],
        "{ctx}: org {org}: the row long after the last entry"
    );
}

/// The monthly report of the month of the org's newest entry (`newest`), and the pending
/// expenses, equal to the model's.
fn check_reports(
    view: &Snapshot,
    model: &Model,
    org: u64,
    newest: Option<&LedgerEntry>,
    ctx: &str,
) {
    if let Some(newest) = newest {
        let index = utc_month(newest.occurred_at);
        let month = Month::from_index(index).expect("month");
        let got = view
            .monthly_report(OrgId(org), month)
            .unwrap_or_else(|e| panic!("{ctx}: monthly report of org {org}: {e}"));
        let want = model
            .monthly_report(org, index)
            .unwrap_or_else(|e| panic!("{ctx}: {e}"));
        assert_eq!(got, want, "{ctx}: org {org}: monthly report of {month}");
    }
    let got = view
        .pending_expenses(OrgId(org), MAX_REPORT_ROWS)
        .unwrap_or_else(|e| panic!("{ctx}: pending expenses of org {org}: {e}"));
    assert!(
        got == model.pending_expenses(org, MAX_REPORT_ROWS),
        "{ctx}: org {org}: pending expenses differ from the model"
    );
}

/// The orgs the database lists are the model's: all five once registered, none before.
pub fn check_orgs(db: &Db, model: &Model, ctx: &str) {
    let got = db
        .snapshot()
        .orgs()
        .unwrap_or_else(|e| panic!("{ctx}: orgs: {e}"));
    assert_eq!(
        got,
        model.orgs(),
        "{ctx}: registered orgs differ from the model"
    );
}
