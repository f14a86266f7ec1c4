//! Printing results as text or JSON, and progress bars.

use folio::bench::BenchReport;
use folio::workload::{InputFormat, WorkloadEvent};
use folio::{DayBalance, Error, LedgerEntry, Org};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;
use std::io::Write;

pub fn bytes_bar(total: u64) -> ProgressBar {
    let bar = ProgressBar::new(total);
    if let Ok(style) =
        ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}")
    {
        bar.set_style(style);
    }
    bar
}

pub fn events_bar(total: u64) -> ProgressBar {
    let bar = ProgressBar::new(total);
    if let Ok(style) =
        ProgressStyle::with_template("{bar:40} {human_pos}/{human_len} events {per_sec} eta {eta}")
    {
        bar.set_style(style);
    }
    bar
}

pub fn balance_json(b: &DayBalance) -> serde_json::Value {
    json!({
        "org_id": b.org.0,
        "day": b.day.to_string(),
        "opening": b.opening.0,
        "revenue": b.revenue.0,
        "expense": b.expense.0,
        "closing": b.closing.0,
        "revenue_count": b.revenue_count,
        "expense_count": b.expense_count,
    })
}

pub fn balance(b: &DayBalance, json: bool) {
    if json {
        println!("{}", balance_json(b));
    } else {
        println!(
            "org {} {}: opening {} + revenue {} ({} rows) - expense {} ({} rows) = closing {}",
            b.org,
            b.day,
            b.opening,
            b.revenue,
            b.revenue_count,
            b.expense,
            b.expense_count,
            b.closing
        );
    }
}

pub fn entry_json(e: &LedgerEntry) -> serde_json::Value {
    json!({
        "org_id": e.org.0,
        "entry_id": e.id.0,
        "kind": e.kind.as_str(),
        "occurred_at": e.occurred_at,
        "day": e.day.to_string(),
        "amount": e.amount.0,
        "category": e.category.as_str(),
        "payment_method": e.payment_method.as_str(),
        "status": e.status.map(|s| s.as_str()),
        "paid_at": e.paid_at,
        "reverses": e.reverses.map(|r| r.0),
        "reversed_by": e.reversed_by.map(|r| r.0),
        "reference": e.reference,
    })
}

pub fn entries(entries: &[LedgerEntry], json: bool) {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for e in entries {
        let _ = if json {
            writeln!(out, "{}", entry_json(e))
        } else {
            let note = match (e.reverses, e.reversed_by) {
                (Some(r), _) => format!(" reverses {r}"),
                (None, Some(r)) => format!(" reversed by {r}"),
                _ => String::new(),
            };
            writeln!(
                out,
                "{} {} {:>8} {:<7} {:>12} {:<13} {:<13} {}{}",
                e.occurred_at,
                e.day,
                e.id,
                e.kind,
                e.amount.to_string(),
                e.category,
                e.payment_method,
                e.status.map_or("", |s| s.as_str()),
                note
            )
        };
    }
}

pub fn orgs(orgs: &[Org], json: bool) {
    for o in orgs {
        if json {
            println!(
                "{}",
                json!({"org_id": o.id.0, "name": o.name, "currency": o.currency.as_str(),
                       "time_zone": o.time_zone, "opening": o.opening_balance.0, "created_at": o.created_at})
            );
        } else {
            println!(
                "{} {} {} {} opening {}",
                o.id, o.name, o.currency, o.time_zone, o.opening_balance
            );
        }
    }
}

pub fn generate(
    events: impl Iterator<Item = WorkloadEvent>,
    format: InputFormat,
) -> Result<(), Error> {
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(1 << 20, stdout.lock());
    let mut line = Vec::with_capacity(256);
    let io = |e| Error::io("<stdout>", e);
    if let Some(header) = format.header() {
        writeln!(out, "{header}").map_err(io)?;
    }
    for e in events {
        line.clear();
        format.write_event(&e, &mut line);
        out.write_all(&line).map_err(io)?;
    }
    out.flush().map_err(io)
}

pub fn bench(r: &BenchReport, json: bool) {
    if json {
        println!("{}", serde_json::to_string(r).unwrap_or_default());
        return;
    }
    println!(
        "{} events, {} orgs, batch {}, {} writer(s) x {} in flight, {}",
        r.events, r.orgs, r.batch, r.writers, r.in_flight, r.durability
    );
    println!(
        "ingest: {:.3} s ({:.3} s recording + {:.3} s final checkpoint) = {:.0} events/s",
        r.seconds, r.record_seconds, r.checkpoint_seconds, r.events_per_sec
    );
    println!(
        "disk: {:.1} MiB ({:.1} MiB log + {:.1} MiB store) = {:.0} bytes/event",
        r.bytes_on_disk as f64 / 1048576.0,
        r.log_bytes as f64 / 1048576.0,
        r.store_bytes as f64 / 1048576.0,
        r.bytes_per_event
    );
    println!(
        "reopen: {:.3} s; closing-balance read p50 {:.2} us, p99 {:.2} us, max {:.2} us",
        r.reopen_seconds, r.closing_read_p50_us, r.closing_read_p99_us, r.closing_read_max_us
    );
    for q in &r.queries {
        println!(
            "{}: {} instances, p50 {:.2} us, p99 {:.2} us, max {:.2} us",
            q.query, q.count, q.p50_us, q.p99_us, q.max_us
        );
    }
}
