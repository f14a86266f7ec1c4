//! `folio demo`: the main job on an embedded default, end to end.

use crate::output;
use folio::ingest::{auto_org, entry_of};
use folio::workload::{Generator, Params, FIRST_DAY};
use folio::{Batch, BusinessDay, Category, Currency, Db, Error, Kind, Op, OrgId, PaymentMethod};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

pub fn run(data: &Path, params: Params) -> Result<(), Error> {
    params
        .validate()
        .map_err(|e| Error::InvalidArgument(e.to_string()))?;
    let dir = data.join("demo");
    if dir.exists() {
        if !dir.join(folio::store::meta::META_FILE).exists() {
            return Err(Error::NotADatabase { path: dir });
        }
        std::fs::remove_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    }
    let db = Db::open(&dir)?;
    println!(
        "created {} ({} orgs, hotel-ledger-v1 seed {})",
        dir.display(),
        params.orgs,
        params.seed
    );
    let orgs: Vec<Op> = (1..=params.orgs)
        .map(|id| Op::RegisterOrg(auto_org(OrgId(id), Currency::USD)))
        .collect();
    for chunk in orgs.chunks(10_000) {
        db.record(Batch::from(chunk.to_vec()))?;
    }
    let bar = output::events_bar(params.events);
    let started = Instant::now();
    let mut pending = std::collections::VecDeque::new();
    let mut ops = Vec::with_capacity(1000);
    let mut events = Generator::new(params).peekable();
    while let Some(e) = events.next() {
        ops.push(Op::Post(entry_of(&e)));
        if ops.len() == 1000 || events.peek().is_none() {
            let n = ops.len() as u64;
            pending.push_back((db.submit(Batch::from(std::mem::take(&mut ops)))?, n));
        }
        while pending.len() > 4 || (events.peek().is_none() && !pending.is_empty()) {
            let Some((ticket, n)) = pending.pop_front() else {
                break;
            };
            ticket.wait()?;
            bar.inc(n);
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    bar.finish_and_clear();
    println!(
        "ingested {} events durably in {seconds:.2} s: {:.0} events/s (fsync per group commit)",
        params.events,
        params.events as f64 / seconds
    );
    let day = BusinessDay(FIRST_DAY + 180);
    daily_report(&db, OrgId(1), day)?;
    let balance = db.balance(OrgId(1), BusinessDay(FIRST_DAY + 365))?;
    print!("year-end balance: ");
    output::balance(&balance, false);
    let closing = Instant::now();
    db.close()?;
    println!(
        "closed (final checkpoint) in {:.2} s",
        closing.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The night-audit view of one org and day: totals by category and payment method.
fn daily_report(db: &Db, org: OrgId, day: BusinessDay) -> Result<(), Error> {
    let view = db.read();
    let balance = view.balance(org, day)?;
    let start = day.0 as i64 * 86_400;
    let entries = view.entries(org, start - 86_400, start + 2 * 86_400)?;
    let mut by_category: BTreeMap<(Kind, Category), (i64, u64)> = BTreeMap::new();
    let mut by_method: BTreeMap<PaymentMethod, (i64, u64)> = BTreeMap::new();
    for e in entries.iter().filter(|e| e.day == day) {
        let signed = if e.reverses.is_some() {
            -e.amount.0
        } else {
            e.amount.0
        };
        let c = by_category.entry((e.kind, e.category)).or_default();
        c.0 += signed;
        c.1 += 1;
        let m = by_method.entry(e.payment_method).or_default();
        m.0 += if e.kind == Kind::Revenue {
            signed
        } else {
            -signed
        };
        m.1 += 1;
    }
    println!("daily report, org {org}, {day}:");
    println!("  opening balance {:>14}", balance.opening.to_string());
    for ((kind, category), (total, count)) in &by_category {
        println!(
            "  {kind:<7} {category:<13} {:>14} ({count} entries)",
            folio::Money(*total).to_string()
        );
    }
    for (method, (net, count)) in &by_method {
        println!(
            "  net by {method:<13}   {:>14} ({count} entries)",
            folio::Money(*net).to_string()
        );
    }
    println!("  closing balance {:>14}", balance.closing.to_string());
    Ok(())
}
