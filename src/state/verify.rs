//! Verification of the in-memory state against its own rows: every balance row equals the sum of
//! its entries, roll-ups and Fenwick prefixes match, every index holds exactly the rows its
//! predicate admits, and the catalog's per-org maps agree with the rows.

use super::balance::shard_of;
use super::catalog::add_flow;
use super::index::{IndexDef, IndexEntry, IndexPart, INDEX_MIN_ROWS};
use super::ledger::{sum_by_category, OrgMonthLedger, PartitionId};
use super::State;
use crate::model::{BusinessDay, Kind, Month, OrgId};
use std::collections::{BTreeMap, BTreeSet};

/// What verification looked at and what it found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StateCheck {
    pub orgs: u64,
    pub entries: u64,
    pub balance_rows: u64,
    pub index_entries: u64,
    /// One line per mismatch, naming what and where.
    pub problems: Vec<String>,
}

/// Per org: day → (revenue, expense, revenue rows, expense rows), recomputed from the rows.
type DayTotals = BTreeMap<BusinessDay, (i64, i64, u64, u64)>;

impl State {
    /// Checks every invariant the state keeps, and that the applier's entry map (when given)
    /// holds exactly the ids and places of the rows in memory (a frozen file's rows leave it).
    /// Frozen months are checked through their rows as reads see them (the file's, patched, and
    /// the overlay's): balances, flows and links count every row, files included. Costs two
    /// passes over all rows.
    pub fn verify(&self, applier_entries: Option<&super::EntryIndex>) -> StateCheck {
        #[cfg(test)]
        crate::test_hooks::reached(crate::test_hooks::Point::Scan);
        let mut entries = super::EntryIndex::default();
        let mut all = super::EntryIndex::default();
        let mut duplicates = Vec::new();
        for (pid, bucket) in &self.ledgers {
            for (org, ledger) in &bucket.orgs {
                for &(at, id) in ledger.rows.keys() {
                    let loc = super::catalog::EntryLoc {
                        kind: pid.kind,
                        occurred_at: at,
                    };
                    match entries.insert((*org, id), loc) {
                        Ok(None) => {}
                        Ok(Some(_)) => {
                            duplicates.push(format!("org {org}: entry id {id} is stored twice"))
                        }
                        Err(e) => duplicates.push(format!("org {org}: entry id {id}: {e}")),
                    }
                    // Refused above when out of range, and a duplicate was reported there.
                    let _ = all.insert((*org, id), loc);
                }
            }
        }
        let mut frozen_flows: BTreeMap<OrgId, (i64, i64)> = BTreeMap::new();
        for (month, frozen) in self.frozen.months() {
            let read = self.frozen_ids(&frozen.file, &mut all, &mut frozen_flows, &mut duplicates);
            if let Err(e) = read {
                duplicates.push(format!("frozen month {month}: {e}"));
            }
        }
        let mut check = self.verify_with(&all, applier_entries);
        check.problems.extend(duplicates);
        self.verify_frozen(&frozen_flows, &mut check);
        if let Some(applied) = applier_entries {
            let ids_differ = applied.len() != entries.len()
                || entries.iter().any(|(k, v)| applied.get(&k) != Some(v));
            if ids_differ {
                let missing = entries
                    .iter()
                    .filter(|(k, _)| !applied.contains_key(k))
                    .count();
                let extra = applied
                    .iter()
                    .filter(|(k, _)| !entries.contains_key(k))
                    .count();
                check.problems.push(format!(
                    "entry map differs from the rows: {missing} ids missing, {extra} extra, {} \
                     misplaced",
                    entries
                        .iter()
                        .filter(|(k, v)| applied.get(k).is_some_and(|a| a != *v))
                        .count()
                ));
            }
        }
        check
    }

    /// Adds the ids of a frozen file's rows to `all` (a duplicate is a problem) and their
    /// flows to `flows`.
    fn frozen_ids(
        &self,
        file: &crate::frozen::FrozenFile,
        all: &mut super::EntryIndex,
        flows: &mut BTreeMap<OrgId, (i64, i64)>,
        duplicates: &mut Vec<String>,
    ) -> crate::error::Result<()> {
        for org in file.orgs() {
            let org = org?;
            let Some(block) = file.org(org)? else {
                continue;
            };
            for kind in [Kind::Revenue, Kind::Expense] {
                for row in block.rows(kind) {
                    let loc = super::catalog::EntryLoc {
                        kind,
                        occurred_at: row.occurred_at(),
                    };
                    let id = row.entry_id();
                    match all.insert((org, id), loc) {
                        Ok(None) => {}
                        Ok(Some(_)) => {
                            duplicates.push(format!("org {org}: entry id {id} is stored twice"))
                        }
                        Err(e) => duplicates.push(format!("org {org}: entry id {id}: {e}")),
                    }
                    let f = flows.entry(org).or_default();
                    *f = add_flow(*f, kind, row.reverses() != 0, row.amount())
                        .unwrap_or((i64::MAX, i64::MAX));
                }
            }
        }
        Ok(())
    }

    /// The frozen flows equal the flows of the files' rows; every patch marks a row of its
    /// month's file.
    fn verify_frozen(&self, flows: &BTreeMap<OrgId, (i64, i64)>, check: &mut StateCheck) {
        for org in self.orgs.keys() {
            let have = self.frozen.flows.get(org).copied().unwrap_or((0, 0));
            if have != flows.get(org).copied().unwrap_or((0, 0)) {
                check.problems.push(format!(
                    "org {org}: frozen inflow/outflow differ from the files' rows"
                ));
            }
        }
        for ((month, org), set) in &self.patches {
            let Some(frozen) = self.frozen.get(*month) else {
                check
                    .problems
                    .push(format!("org {org}: patches of {month}, which is not frozen"));
                continue;
            };
            let block = match frozen.file.org(*org) {
                Ok(block) => block,
                Err(e) => {
                    check.problems.push(format!("frozen month {month}: {e}"));
                    continue;
                }
            };
            for id in set.rows.keys() {
                if block.and_then(|b| b.entry(*id)).is_none() {
                    check.problems.push(format!(
                        "org {org}: patch of entry {id}, which the file of {month} lacks"
                    ));
                }
            }
        }
    }

    fn verify_with(
        &self,
        locs: &super::EntryIndex,
        applier: Option<&super::EntryIndex>,
    ) -> StateCheck {
        let mut check = StateCheck {
            orgs: self.orgs.len() as u64,
            ..StateCheck::default()
        };
        let mut days: BTreeMap<OrgId, DayTotals> = BTreeMap::new();
        let mut flows: BTreeMap<OrgId, (i64, i64)> = BTreeMap::new();
        self.visit_ledgers(|pid, org, ledger| {
            let place = format!("{}/org {org}", pid.tree_name());
            let ledger = match ledger {
                Ok(ledger) => ledger,
                Err(e) => {
                    check.problems.push(format!("{place}: {e}"));
                    return;
                }
            };
            if !self.orgs.contains_key(&org) {
                check
                    .problems
                    .push(format!("{place}: rows of an unregistered org"));
                return;
            }
            self.verify_ledger(pid.kind, ledger, &place, &mut check);
            for (&(at, id), row) in &ledger.rows {
                check.entries += 1;
                if PartitionId::of(pid.kind, at).ok() != Some(pid) {
                    check
                        .problems
                        .push(format!("{place}: entry {id} belongs to another month"));
                }
                let signed = row.signed_amount();
                let day = days.entry(org).or_default().entry(row.day).or_default();
                match pid.kind {
                    Kind::Revenue => (day.0 = day.0.wrapping_add(signed), day.2 += 1),
                    Kind::Expense => (day.1 = day.1.wrapping_add(signed), day.3 += 1),
                };
                let f = flows.entry(org).or_default();
                *f = add_flow(*f, pid.kind, row.reverses != 0, row.amount)
                    .unwrap_or((i64::MAX, i64::MAX));
                self.verify_links(locs, org, id, row, &place, &mut check);
            }
        });
        for org in self.orgs.keys() {
            if let Some(applied) = applier {
                if flows.get(org).copied().unwrap_or((0, 0)) != applied.flows(*org) {
                    check
                        .problems
                        .push(format!("org {org}: inflow/outflow differ from the rows"));
                }
            }
            self.verify_balances(*org, days.remove(org).unwrap_or_default(), &mut check);
        }
        for (shard, s) in self.balances.iter().enumerate() {
            for org in s.orgs.keys() {
                if shard_of(*org, self.shards) != shard || !self.orgs.contains_key(org) {
                    check.problems.push(format!(
                        "balances shard {shard}: org {org} does not belong here"
                    ));
                }
            }
        }
        check
    }

    fn verify_ledger(
        &self,
        kind: Kind,
        ledger: &OrgMonthLedger,
        place: &str,
        check: &mut StateCheck,
    ) {
        verify_rollups(ledger, place, check);
        // Judged against the indexes that exist: a table whose indexes were all dropped has no
        // parts to hold.
        if ledger.rows.len() >= INDEX_MIN_ROWS
            && !ledger.has_indexes()
            && self.catalog.count(kind) > 0
        {
            check.problems.push(format!(
                "{place}: {} rows but no index parts",
                ledger.rows.len()
            ));
        }
        if !ledger.has_indexes() {
            return;
        }
        for (slot, def) in self.catalog.ready(kind) {
            match ledger.indexes.get(slot) {
                Some(part) => verify_index_part(ledger, def, part, place, check),
                None => check
                    .problems
                    .push(format!("{place}: index {} missing", def.name)),
            }
        }
    }

    /// A reversal points at an existing original that points back; a payment mark is on an expense.
    fn verify_links(
        &self,
        locs: &super::EntryIndex,
        org: OrgId,
        id: u64,
        row: &super::ledger::Row,
        place: &str,
        check: &mut StateCheck,
    ) {
        // A row of a frozen file that fails its check counts as missing (the check of its
        // month reports the damage).
        let find = |target: u64| {
            let loc = locs.get(&(org, target))?;
            let pid = PartitionId::of(loc.kind, loc.occurred_at).ok()?;
            self.find_row(pid, org, (loc.occurred_at, target))
                .ok()
                .flatten()
        };
        if row.reverses != 0 && find(row.reverses).is_none_or(|o| o.reversed_by != id) {
            check.problems.push(format!(
                "{place}: reversal {id} and entry {} do not point at each other",
                row.reverses
            ));
        }
        if row.reversed_by != 0 && find(row.reversed_by).is_none_or(|r| r.reverses != id) {
            check.problems.push(format!(
                "{place}: entry {id} names reversal {} that does not reverse it",
                row.reversed_by
            ));
        }
        if row.paid_at.is_some() && row.posted_status == 0 {
            check.problems.push(format!(
                "{place}: entry {id} is paid but is no expense posting"
            ));
        }
    }

    fn verify_balances(&self, org: OrgId, want: DayTotals, check: &mut StateCheck) {
        let have = self.shard(org).orgs.get(&org);
        let mut have_days: DayTotals = BTreeMap::new();
        let mut month_nets: BTreeMap<Month, i64> = BTreeMap::new();
        if let Some(b) = have {
            for (month, value) in &b.months {
                let net = value.days.iter().fold(0i64, |acc, d| {
                    acc.wrapping_add(d.revenue.wrapping_sub(d.expense))
                });
                if net != value.net {
                    check.problems.push(format!(
                        "org {org} {month}: month net {} but days sum to {net}",
                        value.net
                    ));
                }
                month_nets.insert(*month, value.net);
                let mut through = 0i64;
                for d in &value.days {
                    through = through.wrapping_add(d.revenue.wrapping_sub(d.expense));
                    if d.through != through {
                        check.problems.push(format!(
                            "org {org} {}: running net {} but the month's days sum to {through}",
                            d.day, d.through
                        ));
                    }
                    if d.day.month() != *month {
                        check
                            .problems
                            .push(format!("org {org} {}: day row stored under {month}", d.day));
                    }
                    have_days.insert(
                        d.day,
                        (d.revenue, d.expense, d.revenue_count, d.expense_count),
                    );
                }
            }
            let mut before = 0i64;
            for (month, net) in &month_nets {
                match b.prefix.sum_before(*month) {
                    Some((sum, _)) if sum == before => {}
                    _ => check.problems.push(format!(
                        "org {org} {month}: Fenwick prefix differs from the month nets"
                    )),
                }
                before = before.wrapping_add(*net);
            }
        }
        self.verify_frozen_days(org, &mut have_days, check);
        check.balance_rows += have_days.len() as u64;
        let want: DayTotals = want
            .into_iter()
            .filter(|(_, v)| *v != (0, 0, 0, 0))
            .collect();
        for (day, w) in &want {
            if have_days.get(day) != Some(w) {
                check.problems.push(format!(
                    "org {org} {day}: balance row {:?} but entries give {w:?}",
                    have_days.get(day)
                ));
            }
        }
        for day in have_days.keys().filter(|d| !want.contains_key(d)) {
            check
                .problems
                .push(format!("org {org} {day}: balance row without entries"));
        }
    }
}

impl State {
    /// The org's day rows of frozen months, merged with their overlays, replace the overlays in
    /// `have_days`; the frozen nets equal the files' month nets, and each file's anchor (where
    /// not marked stale) the sum of the earlier files' nets.
    fn verify_frozen_days(&self, org: OrgId, have_days: &mut DayTotals, check: &mut StateCheck) {
        let stale = self.frozen.stale.get(&org).copied();
        let mut prefix = 0i64;
        for (month, frozen) in self.frozen.months() {
            let block = match frozen.file.org(org) {
                Ok(Some(block)) => block,
                Ok(None) => continue,
                Err(e) => {
                    check.problems.push(format!("org {org} {month}: {e}"));
                    continue;
                }
            };
            if stale.is_none_or(|s| s > *month) && block.anchor() != prefix {
                check.problems.push(format!(
                    "org {org} {month}: frozen file anchor {} but earlier files' nets sum to {prefix}",
                    block.anchor()
                ));
            }
            prefix = prefix.wrapping_add(block.month_net());
            match self.month_days(org, *month) {
                Ok(days) => {
                    have_days.retain(|d, _| d.month() != *month);
                    for d in days {
                        have_days.insert(
                            d.day,
                            (d.revenue, d.expense, d.revenue_count, d.expense_count),
                        );
                    }
                }
                Err(e) => check.problems.push(format!("org {org} {month}: {e}")),
            }
        }
        let nets = self.frozen.nets.get(&org).copied().unwrap_or(0);
        if nets != prefix {
            check.problems.push(format!(
                "org {org}: frozen net {nets} but the files' month nets sum to {prefix}"
            ));
        }
    }
}

/// A ledger's derived total and category roll-up equal its rows'.
fn verify_rollups(ledger: &OrgMonthLedger, place: &str, check: &mut StateCheck) {
    let total = ledger
        .rows
        .values()
        .fold(0i64, |acc, r| acc.wrapping_add(r.signed_amount()));
    if total != ledger.total {
        check.problems.push(format!(
            "{place}: total {} but rows sum to {total}",
            ledger.total
        ));
    }
    if sum_by_category(&ledger.rows) != ledger.by_category() {
        check
            .problems
            .push(format!("{place}: category roll-up differs from the rows"));
    }
}

/// One index part of a ledger holds exactly the entries its definition admits, once each, in
/// (occurred_at, entry id) order.
fn verify_index_part(
    ledger: &OrgMonthLedger,
    def: &IndexDef,
    part: &IndexPart,
    place: &str,
    check: &mut StateCheck,
) {
    let want: BTreeSet<IndexEntry> = ledger
        .rows
        .iter()
        .filter(|(_, row)| def.admits(row))
        .map(|(key, row)| IndexEntry::of(def, *key, row))
        .collect();
    let have: BTreeSet<IndexEntry> = part.entries().collect();
    check.index_entries += have.len() as u64;
    if have.len() != part.len() {
        check.problems.push(format!(
            "{place}: index {} holds duplicate entries",
            def.name
        ));
    }
    for missing in want.difference(&have) {
        check.problems.push(format!(
            "{place}: index {} lacks entry {}",
            def.name, missing.entry_id
        ));
    }
    for extra in have.difference(&want) {
        check.problems.push(format!(
            "{place}: index {} holds a wrong entry for {}",
            def.name, extra.entry_id
        ));
    }
    let sorted = part.runs.values().all(|run| {
        run.windows(2)
            .all(|w| (w[0].occurred_at, w[0].entry_id) < (w[1].occurred_at, w[1].entry_id))
    });
    if !sorted {
        check
            .problems
            .push(format!("{place}: index {} is out of order", def.name));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::record::{EntryRecord, LogOp, OrgRecord};
    use crate::model::Lsn;

    /// Expense postings `ids` of org 9, all on 2024-01-01.
    fn entries(ids: std::ops::RangeInclusive<u64>) -> Vec<LogOp> {
        ids.map(|i| {
            LogOp::Entry(EntryRecord {
                org: 9,
                entry_id: i,
                occurred_at: 1_704_067_200 + (i as i64 % 7) * 3600 + i as i64,
                amount: 100 + i as i64,
                reverses: 0,
                day: 19723,
                kind: 2,
                category: 5 + (i % 3) as u8,
                payment_method: 1 + (i % 3) as u8,
                status: 1 + (i % 2) as u8,
                reference: String::new(),
            })
        })
        .collect()
    }

    fn state_with_rows(n: u64) -> State {
        let mut state = State::new(4);
        let org = OrgRecord {
            org: 9,
            name: "H".into(),
            currency: *b"EUR",
            time_zone: "UTC".into(),
            opening: 0,
            created_at: 0,
        };
        let mut side = crate::state::Applier::default();
        state.apply(Lsn(1), &[LogOp::Org(org)], &mut side).unwrap();
        state.apply(Lsn(2), &entries(1..=n), &mut side).unwrap();
        state
    }

    #[test]
    fn dropping_every_index_of_a_table_still_verifies() {
        let mut state = state_with_rows(200);
        let mut side = crate::state::Applier::default();
        let expense_defs: Vec<_> = state
            .catalog
            .of_table(Kind::Expense)
            .map(|(_, d)| d.clone())
            .collect();
        assert!(!expense_defs.is_empty());
        let mut lsn = 3;
        for def in &expense_defs {
            state
                .apply(Lsn(lsn), &[LogOp::Index(def.record(false))], &mut side)
                .unwrap();
            lsn += 1;
        }
        let check = state.verify(None);
        assert!(check.problems.is_empty(), "{:?}", check.problems);
        assert_eq!(check.index_entries, 0);
        // Rows keep coming into the large ledger without parts; an index created later gets
        // its part there too.
        state
            .apply(Lsn(lsn), &entries(201..=210), &mut side)
            .unwrap();
        state
            .apply(
                Lsn(lsn + 1),
                &[LogOp::Index(expense_defs[0].record(true))],
                &mut side,
            )
            .unwrap();
        state.finish_index_build();
        let check = state.verify(None);
        assert!(check.problems.is_empty(), "{:?}", check.problems);
        assert_eq!(check.entries, 210);
        assert_eq!(check.index_entries, 210);
    }

    #[test]
    fn a_consistent_state_verifies() {
        let state = state_with_rows(200);
        let check = state.verify(None);
        assert!(check.problems.is_empty(), "{:?}", check.problems);
        assert_eq!(check.entries, 200);
        assert!(check.index_entries > 0);
    }

    #[test]
    fn a_damaged_index_is_found() {
        let mut state = state_with_rows(200);
        let pid = *state.ledgers.keys().next().unwrap();
        let bucket = state.ledgers.get_mut(&pid).unwrap();
        let ledger = std::sync::Arc::make_mut(bucket.orgs.iter_mut().next().unwrap().1);
        let run = ledger.indexes[0].runs.values_mut().next().unwrap();
        let lost = run.remove(3);
        let problems = state.verify(None).problems;
        assert!(
            problems
                .iter()
                .any(|p| p.contains(&format!("lacks entry {}", lost.entry_id))),
            "{problems:?}"
        );
    }

    #[test]
    fn a_damaged_running_net_is_found() {
        let mut state = state_with_rows(100);
        let shard = shard_of(OrgId(9), 4);
        let balances =
            std::sync::Arc::make_mut(state.balances[shard].orgs.get_mut(&OrgId(9)).unwrap());
        let month = std::sync::Arc::make_mut(balances.months.values_mut().next().unwrap());
        let day = month.days[0].day;
        month.days[0].through += 1;
        let problems = state.verify(None).problems;
        assert!(
            problems
                .iter()
                .any(|p| p.contains(&format!("{day}: running net"))),
            "{problems:?}"
        );
    }

    #[test]
    fn a_damaged_balance_is_found() {
        let mut state = state_with_rows(100);
        let shard = shard_of(OrgId(9), 4);
        let balances =
            std::sync::Arc::make_mut(state.balances[shard].orgs.get_mut(&OrgId(9)).unwrap());
        let month = std::sync::Arc::make_mut(balances.months.values_mut().next().unwrap());
        month.days[0].expense += 1;
        let problems = state.verify(None).problems;
        assert!(
            problems.iter().any(|p| p.contains("balance row")),
            "{problems:?}"
        );
        assert!(
            problems.iter().any(|p| p.contains("month net")),
            "{problems:?}"
        );
    }
}

