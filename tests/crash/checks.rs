//! The whole database against the reference model: orgs, entries one by one, every balance row.

use crate::protocol::{TOp, LIST_FROM, LIST_TO};
use crate::reference::Model;
use folio::{BusinessDay, Db, LedgerEntry, OrgId, Snapshot};
use std::collections::HashMap;

/// Every entry of every org, as listed by `Db::entries`.
pub type Listing = Vec<(u64, Vec<LedgerEntry>)>;

pub fn list_all(db: &Db, ctx: &str) -> Listing {
    let view = db.snapshot();
    view.orgs()
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
    /// Seconds spent running children, reopening, checking and closing.
    pub secs: [f64; 4],
}

/// Compares the whole database with the model: entries one by one, then every balance row.
pub fn check_db(db: &Db, listing: &Listing, model: &Model, ctx: &str, totals: &mut Totals) {
    let view = db.snapshot();
    assert_eq!(
        view.entry_count(),
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
    }
}

/// The org's listing equals the model's, entry by entry.
fn check_entries(listed: &[LedgerEntry], model: &Model, org: u64, ctx: &str, totals: &mut Totals) {
    let expected = model.listing(org, LIST_FROM, LIST_TO);
    assert_eq!(
        listed.len(),
        expected.len(),
        "{ctx}: org {org} lists {} entries, the model has {}",
        listed.len(),
        expected.len()
    );
    for (e, want) in listed.iter().zip(&expected) {
        let m = model
            .entry(org, e.id.0)
            .unwrap_or_else(|| panic!("{ctx}: org {org} entry {} not in the model", e.id));
        let ok = *e == *want && e.signed_amount().map(|s| i128::from(s.0)) == Some(m.signed());
        assert!(ok, "{ctx}: org {org}: read back {e:?}\nmodel {want:?}");
        totals.entries_checked += 1;
    }
}

/// Balance rows from the day before the org's first entry to the day after its last: each equal
/// to the model's (the sums and counts of the day's entries, closing = opening balance + prefix
/// sums), the point read through the prefix sums equal to the range read on every day with
/// entries, and the closing balance long after the last entry.
fn check_balances(view: &Snapshot, model: &Model, org: u64, ctx: &str, totals: &mut Totals) {
    let days = model.touched_days(org);
    let (Some(&first), Some(&last)) = (days.first(), days.last()) else {
        return;
    };
    let day = |d: i32| BusinessDay::from_days(d).expect("day");
    let rows = view
        .balances(OrgId(org), day(first - 1), day(last + 1))
        .unwrap_or_else(|e| panic!("{ctx}: balances of org {org}: {e}"));
    let want = model
        .balances(org, first - 1, last + 1)
        .unwrap_or_else(|e| panic!("{ctx}: {e}"));
    assert_eq!(rows.len(), want.len(), "{ctx}: org {org}: balance rows");
    for (row, want) in rows.iter().zip(&want) {
        assert_eq!(
            row, want,
            "{ctx}: org {org} day {}: balance row (opening, revenue, expense, closing, revenue \
             rows, expense rows) differs from the model's sums of its entries",
            row.day
        );
        if days.contains(&row.day.days()) {
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
        Some(far),
        model.balance(org, last + 4000),
        "{ctx}: org {org}: the row long after the last entry"
    );
}

/// The orgs the database lists are the model's: all five once registered, none before.
pub fn check_orgs(db: &Db, model: &Model, ctx: &str) {
    let got = db.snapshot().orgs();
    assert_eq!(
        got,
        model.orgs(),
        "{ctx}: registered orgs differ from the model"
    );
}
