//! `folio demo`: the main job on an embedded default, end to end.

use crate::output;
use folio::{Batch, BusinessDay, Db, Op, OrgId};
use folio_cli::Error;
use folio_workload::ingest::entry_of;
use folio_workload::{Generator, Params, FIRST_DAY};
use std::path::Path;
use std::time::Instant;

pub fn run(data: &Path, params: Params) -> Result<(), Error> {
    params
        .validate()
        .map_err(|e| Error::InvalidArgument(e.to_string()))?;
    let dir = data.join("demo");
    if dir.exists() {
        if !dir.join(folio::META_FILE).exists() {
            return Err(folio::Error::NotADatabase { path: dir }.into());
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
    folio_cli::bench::register_orgs(&db, params.orgs)?;
    let bar = output::events_bar(params.events);
    let started = Instant::now();
    let mut pending = std::collections::VecDeque::new();
    let mut ops = Vec::with_capacity(1000);
    let mut events = Generator::new(params)?.peekable();
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
    let day = BusinessDay::from_days(FIRST_DAY + 180)?;
    let currencies = output::Currencies::of(db.snapshot());
    output::daily(
        &db.snapshot().daily_report(OrgId(1), day)?,
        &currencies,
        false,
    );
    let balance = db.balance(OrgId(1), BusinessDay::from_days(FIRST_DAY + 365)?)?;
    print!("year-end balance: ");
    output::balance(&balance, &currencies, false);
    let closing = Instant::now();
    db.close()?;
    println!(
        "closed (final checkpoint) in {:.2} s",
        closing.elapsed().as_secs_f64()
    );
    Ok(())
}
