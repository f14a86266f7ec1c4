//! Printing results as text or JSON, and progress bars. Nothing here opens a database or
//! computes an answer: the command modules hand over what they found.

use folio::CheckpointInfo;
use folio::Column;
use folio::SyncStatus;
use folio::{
    CategoryLine, CurrencyTotal, DailyReport, Group, GroupKey, MonthlyReport, PendingLine,
    ProjectedRow, TopLine,
};
use folio::{Currency, DayBalance, LedgerEntry, Month, Org};
use folio::{OrgId, VerifyReport};
use folio_cli::bench::BenchReport;
use folio_workload::ingest::IngestSummary;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;
use std::io::Write;
use std::path::Path;

/// The name errors writing to standard output carry.
pub const STDOUT: &str = "<stdout>";

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

/// The orgs' currencies, looked up one org at a time in a view of the database (a one-shot
/// command on a million orgs reads the records it prints, not every one): amounts print with
/// their currency's ISO 4217 minor-unit digits, and JSON answers name it.
pub struct Currencies(folio::Snapshot);

impl Currencies {
    pub fn of(view: folio::Snapshot) -> Currencies {
        Currencies(view)
    }

    /// The org's currency (`???`, shown with 2 digits, for an org not registered).
    pub fn get(&self, org: OrgId) -> Currency {
        self.0
            .org(org)
            .ok()
            .flatten()
            .map_or(Currency(*b"???"), |o| o.currency)
    }
}

pub fn balance_json(b: &DayBalance, currency: Currency) -> serde_json::Value {
    json!({
        "org_id": b.org.0,
        "currency": currency.as_str(),
        "day": b.day.to_string(),
        "opening": b.opening.0,
        "revenue": b.revenue.0,
        "expense": b.expense.0,
        "closing": b.closing.0,
        "revenue_count": b.revenue_count,
        "expense_count": b.expense_count,
    })
}

pub fn balance(b: &DayBalance, currencies: &Currencies, json: bool) {
    let currency = currencies.get(b.org);
    if json {
        println!("{}", balance_json(b, currency));
    } else {
        let m = |amount: folio::Money| amount.display_in(currency);
        println!(
            "org {} {}: opening {} + revenue {} ({} rows) - expense {} ({} rows) = closing {}",
            b.org,
            b.day,
            m(b.opening),
            m(b.revenue),
            b.revenue_count,
            m(b.expense),
            b.expense_count,
            m(b.closing)
        );
    }
}

pub fn entry_json(e: &LedgerEntry, currency: Currency) -> serde_json::Value {
    json!({
        "org_id": e.org.0,
        "currency": currency.as_str(),
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

pub fn entries(entries: &[LedgerEntry], currencies: &Currencies, json: bool) {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for e in entries {
        let currency = currencies.get(e.org);
        let _ = if json {
            writeln!(out, "{}", entry_json(e, currency))
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
                e.amount.display_in(currency).to_string(),
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
                o.id,
                o.name,
                o.currency,
                o.time_zone,
                o.opening_balance.display_in(o.currency)
            );
        }
    }
}

pub fn bench(r: &BenchReport, json: bool) {
    if json {
        println!("{}", serde_json::to_string(r).unwrap_or_default());
        return;
    }
    println!(
        "hotel-ledger-v1 years={}: {} events, {} orgs, batch {}, {} writer(s) x {} in flight, {}",
        r.years, r.events, r.orgs, r.batch, r.writers, r.in_flight, r.durability
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
        "reopen: {:.3} s (first read {:.3} s, every org loaded {:.3} s); closing-balance read p50 {:.2} us, p99 {:.2} us, max {:.2} us",
        r.reopen_seconds,
        r.first_read_seconds,
        r.load_all_seconds,
        r.closing_read_p50_us,
        r.closing_read_p99_us,
        r.closing_read_max_us
    );
    println!(
        "memory: peak RssAnon {:.1} MiB, peak resident (VmHWM) {:.1} MiB",
        r.peak_rss_anon_bytes as f64 / 1048576.0,
        r.vm_hwm_bytes as f64 / 1048576.0
    );
    let mib = |b: u64| b as f64 / 1048576.0;
    for (when, m) in [
        ("end of ingest", &r.engine_memory_ingest),
        ("after reads", &r.engine_memory_reads),
    ] {
        println!(
            "engine account, {when}: {:.1} MiB of a {:.1} MiB budget (orgs {:.1}, entry ids {:.1}, \
             rows {:.1} [{} rows], balances {:.1}, frozen {:.1}, patches {:.1}, sled cache {:.1})",
            mib(m.accounted),
            mib(m.budget),
            mib(m.orgs),
            mib(m.entry_ids),
            mib(m.rows),
            m.rows_in_memory,
            mib(m.balances),
            mib(m.frozen),
            mib(m.patches),
            mib(m.store_cache)
        );
    }
    println!(
        "after reads: RssAnon {:.1} MiB, RssFile {:.1} MiB",
        mib(r.rss_anon_reads_bytes),
        mib(r.rss_file_reads_bytes)
    );
    if r.frozen_months > 0 {
        println!(
            "freezer backlog worked off before the reads: {:.3} s",
            r.freeze_catch_up_seconds
        );
        println!(
            "while recording: {} files put in force, write lock held max {:.1} ms, mean {:.1} ms; \
             {} batches paced, {:.0} ms in all; {} batches waited for a spill, {:.0} ms in all; \
             org blocks {} built, {} copied from the version before",
            r.freeze_installs,
            r.freeze_lock_held_max_ms,
            r.freeze_lock_held_mean_ms,
            r.freeze_writer_paces,
            r.freeze_writers_paced_ms,
            r.freeze_writer_waits,
            r.freeze_writers_waited_ms,
            r.freeze_blocks_built,
            r.freeze_blocks_copied
        );
        println!(
            "frozen: {} months in {:.1} MiB of files; {} rows in memory",
            r.frozen_months,
            r.frozen_bytes as f64 / 1048576.0,
            r.memory_rows
        );
    }
    for (q, w) in r.queries.iter().zip(&r.queries_warm) {
        println!(
            "{}: {} instances, first touch p50 {:.2} us, p99 {:.2} us, max {:.2} us; \
             warm p50 {:.2} us, p99 {:.2} us, max {:.2} us",
            q.query, q.count, q.p50_us, q.p99_us, q.max_us, w.p50_us, w.p99_us, w.max_us
        );
    }
}

pub fn verify(r: &VerifyReport, json: bool) {
    if json {
        println!(
            "{}",
            json!({"ok": r.is_ok(), "lsn": r.lsn, "orgs": r.orgs, "entries": r.entries,
                   "balance_rows": r.balance_rows, "index_entries": r.index_entries,
                   "log_frames": r.log_frames, "problems": r.problems, "notes": r.notes})
        );
        return;
    }
    println!(
        "verified at LSN {}: {} orgs, {} entries, {} balance rows, {} index entries, {} log frames: {}",
        r.lsn,
        r.orgs,
        r.entries,
        r.balance_rows,
        r.index_entries,
        r.log_frames,
        if r.is_ok() { "ok".to_string() } else { format!("{} problem(s)", r.problems.len()) }
    );
    for p in &r.problems {
        println!("  {p}");
    }
    for n in &r.notes {
        println!("  note: {n}");
    }
}

fn category_json(lines: &[CategoryLine]) -> Vec<serde_json::Value> {
    lines
        .iter()
        .map(|l| json!({"category": l.category.as_str(), "total": l.total.0, "count": l.count}))
        .collect()
}

fn print_categories(title: &str, lines: &[CategoryLine], currency: Currency) {
    for l in lines {
        println!(
            "  {title:<7} {:<13} {:>14} ({} rows)",
            l.category,
            l.total.display_in(currency).to_string(),
            l.count
        );
    }
}

pub fn daily(r: &DailyReport, currencies: &Currencies, json: bool) {
    let currency = currencies.get(r.balance.org);
    if json {
        let methods: Vec<_> = r
            .by_method
            .iter()
            .map(|m| json!({"payment_method": m.payment_method.as_str(), "net": m.net.0, "count": m.count}))
            .collect();
        println!(
            "{}",
            json!({"org_id": r.balance.org.0, "day": r.balance.day.to_string(), "currency": currency.as_str(),
                   "balance": balance_json(&r.balance, currency), "revenue": category_json(&r.revenue),
                   "expense": category_json(&r.expense), "by_payment_method": methods})
        );
        return;
    }
    println!("night audit, org {}, {}:", r.balance.org, r.balance.day);
    let m = |amount: folio::Money| amount.display_in(currency).to_string();
    println!("  opening {:>22}", m(r.balance.opening));
    print_categories("revenue", &r.revenue, currency);
    print_categories("expense", &r.expense, currency);
    for l in &r.by_method {
        println!(
            "  net by {:<13}   {:>14} ({} rows)",
            l.payment_method,
            m(l.net),
            l.count
        );
    }
    println!("  closing {:>22}", m(r.balance.closing));
}

pub fn monthly(r: &MonthlyReport, currency: Currency, json: bool) {
    if json {
        let closings: Vec<_> = r
            .daily_closing
            .iter()
            .map(|(d, c)| json!({"day": d.to_string(), "closing": c.0}))
            .collect();
        println!(
            "{}",
            json!({"org_id": r.org.0, "currency": currency.as_str(), "month": r.month.to_string(), "revenue": category_json(&r.revenue),
                   "expense": category_json(&r.expense), "net": r.net.0, "daily_closing": closings})
        );
        return;
    }
    let m = |amount: folio::Money| amount.display_in(currency).to_string();
    println!("monthly report, org {}, {}:", r.org, r.month);
    print_categories("revenue", &r.revenue, currency);
    print_categories("expense", &r.expense, currency);
    println!("  net {:>26}", m(r.net));
    for (day, closing) in &r.daily_closing {
        println!("  {day} closing {:>14}", m(*closing));
    }
}

/// `report pending`: the org's oldest pending expenses, one per line.
pub fn pending(org: OrgId, lines: &[PendingLine], currency: Currency, json: bool) {
    for l in lines {
        if json {
            println!(
                "{}",
                json!({"org_id": org.0, "entry_id": l.entry_id, "occurred_at": l.occurred_at, "amount": l.amount.0,
                       "currency": currency.as_str(), "category": l.category.as_str()})
            );
        } else {
            println!(
                "{} {:>10} {:>14} {}",
                l.occurred_at,
                l.entry_id,
                l.amount.display_in(currency).to_string(),
                l.category
            );
        }
    }
}

/// `report chain`: each org's revenue of the month, then one total per currency.
pub fn chain(month: Month, lines: &[TopLine], totals: &[CurrencyTotal], json: bool) {
    if json {
        let per: Vec<_> = lines.iter().map(top_json).collect();
        let sums: Vec<_> = totals
            .iter()
            .map(|t| json!({"currency": t.currency.as_str(), "total": t.total.0}))
            .collect();
        // `total` and `currency` only when one currency: never a sum of two.
        let single = match totals {
            [t] => Some(t),
            _ => None,
        };
        println!(
            "{}",
            json!({"month": month.to_string(), "orgs": per, "totals": sums, "currency": single.map(|t| t.currency.as_str()),
                   "total": single.map(|t| t.total.0)})
        );
    } else {
        for l in lines {
            print_top(&l.org.to_string(), l.currency, l.total);
        }
        for t in totals {
            print_top("total", t.currency, t.total);
        }
    }
}

/// `report top`: the orgs with the most revenue of the month.
pub fn top(month: Month, lines: &[TopLine], json: bool) {
    for l in lines {
        if json {
            let mut v = top_json(l);
            v["month"] = json!(month.to_string());
            println!("{v}");
        } else {
            print_top(&l.org.to_string(), l.currency, l.total);
        }
    }
}

fn top_json(l: &TopLine) -> serde_json::Value {
    json!({"org_id": l.org.0, "currency": l.currency.as_str(), "total": l.total.0})
}

fn print_top(label: &str, currency: Currency, total: folio::Money) {
    println!(
        "{label:>10} {currency} {:>16}",
        total.display_in(currency).to_string()
    );
}

pub fn plan(p: &folio::Plan, json: bool) {
    if json {
        let access: Vec<_> = p
            .access
            .iter()
            .map(|(kind, a)| match a {
                folio::Access::Clustered => json!({"table": folio::table_name(*kind), "access": "clustered"}),
                folio::Access::Scan => json!({"table": folio::table_name(*kind), "access": "scan"}),
                folio::Access::Index { name, prefix, covered, .. } => {
                    json!({"table": folio::table_name(*kind), "access": "index", "index": name, "prefix": prefix, "covered": covered})
                }
            })
            .collect();
        let parts: Vec<_> = p.partitions.iter().map(|x| x.tree_name()).collect();
        let frozen: Vec<_> = p.partitions.iter().map(|x| p.frozen_version(*x)).collect();
        println!(
            "{}",
            json!({"partitions": parts, "partitions_touched": p.partitions.len(), "partitions_total": p.partitions_total,
                   "frozen": frozen, "access": access, "estimated_rows": p.estimated_rows})
        );
    } else {
        println!("{p}");
    }
}

pub fn query_output(out: &folio::QueryOutput, currencies: &Currencies, json_out: bool) {
    use folio::QueryOutput;
    match out {
        QueryOutput::Rows { rows, next } => {
            entries(rows, currencies, json_out);
            next_page(next.as_ref(), json_out);
        }
        QueryOutput::Projected {
            columns,
            rows,
            next,
        } => {
            for row in rows {
                projected_row(columns, row, currencies.get(row.org), json_out);
            }
            next_page(next.as_ref(), json_out);
        }
        QueryOutput::Groups(groups) => {
            for g in groups {
                group(g, json_out);
            }
        }
    }
}

/// The cursor of the next page, when there is one.
fn next_page(next: Option<&folio::Cursor>, json_out: bool) {
    if let Some(c) = next {
        if json_out {
            println!("{}", json!({"next": c.encode()}));
        } else {
            println!("next page: --after {}", c.encode());
        }
    }
}

/// One row of a query with --select: its org, currency and kind, then the selected columns.
fn projected_row(columns: &[Column], row: &ProjectedRow, currency: Currency, json_out: bool) {
    if json_out {
        let mut object = serde_json::Map::new();
        object.insert("org_id".into(), json!(row.org.0));
        object.insert("currency".into(), json!(currency.as_str()));
        object.insert("kind".into(), json!(row.kind.as_str()));
        for (column, value) in columns.iter().zip(&row.values) {
            object.insert(column.name().into(), value_json(value));
        }
        println!("{}", serde_json::Value::Object(object));
    } else {
        let mut text = vec![format!("org_id={} kind={}", row.org, row.kind)];
        for (column, value) in columns.iter().zip(&row.values) {
            let shown = match value {
                folio::Value::Amount(m) => m.display_in(currency).to_string(),
                other => value_json(other).to_string(),
            };
            text.push(format!("{}={shown}", column.name()));
        }
        println!("{}", text.join(" "));
    }
}

/// One group of a query with --group-by: its key and aggregates.
fn group(g: &Group, json_out: bool) {
    let key = match g.key {
        GroupKey::Category(c) => c.as_str().to_string(),
        GroupKey::PaymentMethod(p) => p.as_str().to_string(),
        GroupKey::Day(d) => d.to_string(),
        GroupKey::Month(m) => m.to_string(),
        GroupKey::All => "all".to_string(),
    };
    if json_out {
        println!(
            "{}",
            json!({"group": key, "currency": g.currency.as_str(), "sum": g.sum.0,
                   "count": g.count, "min": g.min.0, "max": g.max.0})
        );
    } else {
        let m = |amount: folio::Money| amount.display_in(g.currency).to_string();
        println!(
            "{key:<14} {} sum {:>14} count {:>8} min {:>12} max {:>12}",
            g.currency,
            m(g.sum),
            g.count,
            m(g.min),
            m(g.max)
        );
    }
}

/// An index definition as JSON (`folio index list --json`, `folio info --json`).
pub fn index_json(d: &folio::IndexDef) -> serde_json::Value {
    let cols = |cs: &[Column]| cs.iter().map(|c| c.name()).collect::<Vec<_>>();
    json!({"name": d.name, "table": folio::table_name(d.table), "key": cols(&d.key),
           "include": cols(&d.include), "predicate": d.predicate.map(|p| p.to_string())})
}

pub fn indexes(defs: &[folio::IndexDef], json_out: bool) {
    for d in defs {
        if json_out {
            println!("{}", index_json(d));
        } else {
            println!("{d}");
        }
    }
}

/// What `folio ingest` loaded.
pub fn ingest_summary(s: &IngestSummary) {
    println!(
        "ingested {} events in {} batches ({} orgs registered) in {:.2} s: {:.0} events/s, last LSN {}",
        s.events,
        s.batches,
        s.orgs_registered,
        s.seconds,
        s.events_per_sec(),
        s.lsn
    );
}

/// What `folio checkpoint` wrote.
pub fn checkpoint(info: &CheckpointInfo, json: bool) {
    if json {
        println!("{}", serde_json::to_string(info).unwrap_or_default());
    } else {
        println!(
            "checkpoint {} at LSN {}: {} files, {} bytes",
            info.path.display(),
            info.lsn,
            info.files,
            info.bytes
        );
    }
}

/// `folio replica status`: where the replica `data` stands, and with a source log (`sync`) how
/// far behind or off it is.
pub fn replica_status(
    data: &Path,
    base_lsn: Option<u64>,
    applied: u64,
    sync: Option<&SyncStatus>,
    json: bool,
) {
    let state = sync.map(|s| s.state.as_str());
    let source = sync.and_then(|s| s.source_lsn).map(|l| l.0);
    let lag = sync.and_then(|s| s.lag_lsn);
    let detail = sync.and_then(|s| s.detail.clone());
    if json {
        let v = json!({
            "data": data.display().to_string(),
            "replica": base_lsn.is_some(),
            "base_lsn": base_lsn,
            "applied_lsn": applied,
            "source_lsn": source,
            "state": state,
            "lag_lsn": lag,
            "detail": detail,
        });
        println!("{v}");
    } else {
        println!(
            "{}: applied LSN {applied}, base {:?}, source {:?}, state {}, lag {:?}{}",
            data.display(),
            base_lsn,
            source,
            state.unwrap_or("unknown (no --log)"),
            lag,
            detail.map(|d| format!(" ({d})")).unwrap_or_default()
        );
    }
}

/// A report as indented JSON (`folio bench-replicas`, `folio bench-checkpoints`).
pub fn pretty_json(value: &impl serde::Serialize) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_default()
    );
}

fn value_json(v: &folio::Value) -> serde_json::Value {
    use folio::Value;
    match v {
        Value::Time(t) => json!(t),
        Value::EntryId(id) => json!(id),
        Value::Amount(m) => json!(m.0),
        Value::Category(c) => json!(c.as_str()),
        Value::PaymentMethod(p) => json!(p.as_str()),
        Value::Status(s) => json!(s.map(|s| s.as_str())),
        Value::Day(d) => json!(d.to_string()),
    }
}
