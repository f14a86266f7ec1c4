//! Running a case: every step against Folio and the reference model, then everything observable
//! compared.

use crate::builder::{pick, Builder};
use crate::common;
use crate::reference::reports::utc_month;
use crate::reference::{local_day, normalize, Model, ModelOrg, Outcome};
use crate::strategies::{Case, OpGen, Probe, Step, ANCHORS};
use folio::limits::{MAX_RANGE_DAYS, MAX_REPORT_ROWS};
use folio::{Batch, BusinessDay, Db, Error, Lsn, Month, Op, Org, OrgId};
use folio::{MAX_TIMESTAMP, MIN_TIMESTAMP};
use std::collections::BTreeSet;
use std::path::Path;

pub fn open(path: &Path, case: &Case, shards: u32) -> Result<Db, String> {
    let mut options = common::options(shards, case.durability);
    if let Some(ops) = case.eager_checkpoints {
        options.checkpoint_every_ops = ops;
        options.checkpoint_interval = std::time::Duration::from_millis(3);
    }
    Db::open_with(path, options).map_err(|e| format!("open failed: {e}"))
}

/// Day windows to compare for `org`: the whole touched range ±2 days when it is short enough for
/// one read, else ±2 days around every touched day (merged).
fn windows(touched: &BTreeSet<i32>, extra: i32) -> Vec<(i32, i32)> {
    let days: BTreeSet<i32> = touched.iter().copied().chain([extra]).collect();
    let (lo, hi) = (days.first().unwrap() - 2, days.last().unwrap() + 2);
    let mut out: Vec<(i32, i32)> = Vec::new();
    if hi - lo < MAX_RANGE_DAYS {
        out.push((lo, hi));
    } else {
        for d in days {
            match out.last_mut() {
                Some(last) if d - 2 <= last.1 + 1 => last.1 = d + 2,
                _ => out.push((d - 2, d + 2)),
            }
        }
    }
    out
}

/// Compares everything observable with the model.
pub fn compare(db: &Db, model: &Model, probe: &Probe, org_ids: &[u64; 6]) -> Result<(), String> {
    let visible = db.visible_lsn();
    if visible != Lsn(model.lsn()) {
        return Err(format!(
            "visible LSN {visible:?}, model expects {}",
            model.lsn()
        ));
    }
    let verified = db.verify();
    if !verified.is_ok() {
        return Err(format!("verify: {:?}", verified.problems));
    }
    let orgs = db.snapshot().orgs().map_err(|e| format!("orgs: {e}"))?;
    let expected: Vec<Org> = model.orgs();
    if orgs != expected {
        return Err(format!("orgs: db {orgs:?}, model {expected:?}"));
    }
    for &id in org_ids {
        let Some(m) = model.org(id) else {
            compare_unregistered(db, id)?;
            continue;
        };
        let got = db.org(OrgId(id)).map_err(|e| format!("org {id}: {e}"))?;
        if got.as_ref() != Some(&m.org) {
            return Err(format!("org {id}: db {got:?}, model {:?}", m.org));
        }
        compare_listings(db, model, id, probe)?;
        compare_balances(db, model, id, m, probe)?;
        compare_reports(db, model, id, probe)?;
    }
    Ok(())
}

/// An org the model does not know: not registered, and its reads refused as unknown.
fn compare_unregistered(db: &Db, id: u64) -> Result<(), String> {
    let org = OrgId(id);
    if let Some(o) = db.org(org).map_err(|e| format!("org {id}: {e}"))? {
        return Err(format!(
            "org {id} is not registered in the model, db has {o:?}"
        ));
    }
    match db.balance(org, BusinessDay::from_days(0).expect("day")) {
        Err(Error::UnknownOrg(o)) if o == org => {}
        other => return Err(format!("balance of unregistered org {id}: {other:?}")),
    }
    match db.entries(org, 0, 1) {
        Err(Error::UnknownOrg(o)) if o == org => {}
        other => return Err(format!("entries of unregistered org {id}: {other:?}")),
    }
    match db.snapshot().pending_expenses(org, 1) {
        Err(Error::UnknownOrg(o)) if o == org => Ok(()),
        other => Err(format!(
            "pending expenses of unregistered org {id}: {other:?}"
        )),
    }
}

/// Listings: everything, and a random window.
fn compare_listings(db: &Db, model: &Model, id: u64, probe: &Probe) -> Result<(), String> {
    let org = OrgId(id);
    let all = db
        .entries(org, MIN_TIMESTAMP, MAX_TIMESTAMP + 1)
        .map_err(|e| format!("entries of org {id}: {e}"))?;
    let expected = model.listing(id, MIN_TIMESTAMP, MAX_TIMESTAMP + 1);
    if all != expected {
        return Err(format!(
            "entries of org {id} differ:\n db:    {all:?}\n model: {expected:?}"
        ));
    }
    let from = probe.from.ts();
    let to = from + probe.len;
    let part = db
        .entries(org, from, to)
        .map_err(|e| format!("entries of org {id} {from}..{to}: {e}"))?;
    let expected = model.listing(id, from, to);
    if part != expected {
        return Err(format!(
            "entries of org {id} in {from}..{to} differ:\n db:    {part:?}\n model: {expected:?}"
        ));
    }
    Ok(())
}

/// Balance rows over the touched days (±2), then single days: a touched one (shifted a little)
/// and the probe's day.
fn compare_balances(
    db: &Db,
    model: &Model,
    id: u64,
    m: &ModelOrg,
    probe: &Probe,
) -> Result<(), String> {
    let org = OrgId(id);
    let touched = model.touched_days(id);
    let probe_day = local_day(probe.from.ts().clamp(MIN_TIMESTAMP, MAX_TIMESTAMP), m.tz);
    // Days exist from BusinessDay::MIN to BusinessDay::MAX: the windows stop there.
    let (first, last) = (BusinessDay::MIN.days(), BusinessDay::MAX.days());
    for (lo, hi) in windows(&touched, probe_day) {
        let (lo, hi) = (lo.max(first), hi.min(last));
        let got = db
            .balances(
                org,
                BusinessDay::from_days(lo).expect("day"),
                BusinessDay::from_days(hi).expect("day"),
            )
            .map_err(|e| format!("balances of org {id} {lo}..={hi}: {e}"))?;
        let want = model.balances(id, lo, hi)?;
        if got != want {
            let diff: Vec<_> = got
                .iter()
                .zip(&want)
                .filter(|(g, w)| g != w)
                .take(3)
                .collect();
            return Err(format!(
                "balances of org {id} over {lo}..={hi} differ (first differing rows, db vs model): {diff:?} (lengths {} vs {})",
                got.len(),
                want.len()
            ));
        }
    }
    let days: Vec<i32> = touched.iter().copied().collect();
    let some_day =
        (pick(&days, probe.day_pick).unwrap_or(probe_day) + probe.day_offset).clamp(first, last);
    for day in [some_day, probe_day] {
        let got = db
            .balance(org, BusinessDay::from_days(day).expect("day"))
            .map_err(|e| format!("balance of org {id} on {day}: {e}"))?;
        let want = model.balances(id, day, day)?[0];
        if got != want {
            return Err(format!(
                "balance of org {id} on day {day}: db {got:?}, model {want:?}"
            ));
        }
    }
    Ok(())
}

/// Reports: the monthly report of the probe's month and of a month with entries, a ledger page
/// of the probe's window, and the pending expenses (a few, and all).
fn compare_reports(db: &Db, model: &Model, id: u64, probe: &Probe) -> Result<(), String> {
    let (org, view) = (OrgId(id), db.snapshot());
    let from = probe.from.ts();
    let times: Vec<i64> = model.org_entries(id).map(|(_, x)| x.occurred_at).collect();
    let some_time = pick(&times, probe.day_pick).unwrap_or(from);
    for ts in [from.clamp(MIN_TIMESTAMP, MAX_TIMESTAMP), some_time] {
        let index = utc_month(ts);
        let month = Month::from_index(index).map_err(|e| format!("month {index}: {e}"))?;
        let got = view
            .monthly_report(org, month)
            .map_err(|e| format!("monthly report of org {id} for {month}: {e}"))?;
        let want = model.monthly_report(id, index)?;
        if got != want {
            return Err(format!(
                "monthly report of org {id} for {month} differs:\n db:    {got:?}\n model: {want:?}"
            ));
        }
    }
    let few = 1 + probe.day_pick % 8;
    let to = from + probe.len;
    let page = view
        .ledger_page(org, from, to, few)
        .map_err(|e| format!("ledger page of org {id} {from}..{to}: {e}"))?;
    let want = model.ledger_page(id, from, to, few);
    if page != want {
        return Err(format!(
            "ledger page of org {id} {from}..{to} (limit {few}) differs:\n db:    {page:?}\n model: {want:?}"
        ));
    }
    for limit in [few, MAX_REPORT_ROWS] {
        let got = view
            .pending_expenses(org, limit)
            .map_err(|e| format!("pending expenses of org {id}: {e}"))?;
        let want = model.pending_expenses(id, limit);
        if got != want {
            return Err(format!(
                "pending expenses of org {id} (limit {limit}) differ:\n db:    {got:?}\n model: {want:?}"
            ));
        }
    }
    Ok(())
}

pub fn run_batch(db: &Db, model: &mut Model, ops: Vec<Op>) -> Result<(), String> {
    let before = model.lsn();
    let expected = model.record(&ops);
    let got = db.record(Batch::from(ops));
    check_outcome(before, expected, got, None)
}

/// Batches submitted back to back: each is built against the model as it will be when the
/// committer validates it (after the earlier batches of the group).
fn run_group(
    db: &Db,
    model: &mut Model,
    builder: &mut Builder,
    batches: &[Vec<OpGen>],
) -> Result<(), String> {
    let mut pending = Vec::new();
    for gens in batches {
        let ops = builder.build(model, gens);
        let shown = format!("{ops:?}");
        let before = model.lsn();
        let expected = model.record(&ops);
        let ticket = db
            .submit(Batch::from(ops))
            .map_err(|e| format!("submit of {shown}: {e}"))?;
        pending.push((shown, before, expected, ticket));
    }
    let last = model.lsn();
    for (shown, before, expected, ticket) in pending {
        check_outcome(before, expected, ticket.wait(), Some(last))
            .map_err(|e| format!("grouped batch {shown}: {e}"))?;
    }
    Ok(())
}

/// Compares a batch's outcome with the model's (recorded at LSN `before`). `group_end` is the
/// LSN after the whole group when the batch was submitted with others: a batch that changes
/// nothing may then answer with any LSN from its own position up to it.
fn check_outcome(
    before: u64,
    expected: Outcome,
    got: folio::Result<Lsn>,
    group_end: Option<u64>,
) -> Result<(), String> {
    match (expected, got) {
        (Ok(changed), Ok(lsn)) => {
            let want = if changed { before + 1 } else { before };
            let ok = match group_end {
                Some(end) if !changed => (before..=end).contains(&lsn.0),
                _ => lsn == Lsn(want),
            };
            if !ok {
                return Err(format!(
                    "accepted batch returned {lsn:?}, expected LSN {want} (changed: {changed})"
                ));
            }
            Ok(())
        }
        (Err(allowed), Err(Error::Rejected(r))) => {
            let got = normalize(&r);
            if allowed.contains(&got) {
                Ok(())
            } else {
                Err(format!(
                    "rejected with {r:?}, the model expects one of {allowed:?}"
                ))
            }
        }
        (Ok(_), Err(e)) => Err(format!("db failed a batch the model accepts: {e} ({e:?})")),
        (Err(allowed), Ok(lsn)) => Err(format!(
            "db accepted (LSN {lsn:?}) a batch the model rejects with one of {allowed:?}"
        )),
        (Err(allowed), Err(e)) => Err(format!(
            "db failed with {e:?}, the model expects a rejection in {allowed:?}"
        )),
    }
}

pub fn run_case(case: &Case) -> Result<(), String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let path = dir.path().join("db");
    let mut db = open(&path, case, case.shards)?;
    let mut model = Model::default();
    let mut builder = Builder {
        next_id: case.id_base,
        salt: 0,
        org_ids: case.org_ids,
    };
    for (n, (step, probe)) in case.steps.iter().enumerate() {
        let context = |e: String| format!("step {n} ({step:?}): {e}");
        match step {
            Step::Batch(gens) => {
                let ops = builder.build(&model, gens);
                let shown = format!("{ops:?}");
                run_batch(&db, &mut model, ops)
                    .map_err(|e| format!("step {n}: batch {shown}: {e}"))?;
            }
            Step::Group(batches) => {
                run_group(&db, &mut model, &mut builder, batches)
                    .map_err(|e| format!("step {n}: {e}"))?;
            }
            Step::Reopen(shards) => {
                drop(db);
                db = open(&path, case, *shards).map_err(context)?;
            }
            Step::CheckpointCloseReopen => {
                db.checkpoint()
                    .map_err(|e| context(format!("checkpoint: {e}")))?;
                db.close().map_err(|e| context(format!("close: {e}")))?;
                db = open(&path, case, case.shards).map_err(context)?;
            }
            Step::Checkpoint => {
                db.checkpoint()
                    .map_err(|e| context(format!("checkpoint: {e}")))?;
            }
            Step::Freeze(anchor) => {
                let before = anchor.map(|a| {
                    let month = Month::of_utc(ANCHORS[a]).expect("anchors are valid instants");
                    month.next().unwrap_or(month)
                });
                let report = db
                    .freeze(before)
                    .map_err(|e| context(format!("freeze({before:?}): {e}")))?;
                if !report.skipped.is_empty() {
                    return Err(context(format!("freeze skipped months: {report:?}")));
                }
            }
        }
        compare(&db, &model, probe, &case.org_ids).map_err(context)?;
    }
    // A final reopen must give identical answers.
    db.close().map_err(|e| format!("final close: {e}"))?;
    let db = open(&path, case, case.shards)?;
    let probe = &case.steps[0].1;
    compare(&db, &model, probe, &case.org_ids).map_err(|e| format!("after final reopen: {e}"))?;
    db.close().map_err(|e| format!("last close: {e}"))?;
    Ok(())
}
