//! Printing results as text or JSON, and progress bars.

use crate::{QueryArgs, ReportCommand};
use folio::query::{CategoryLine, DailyReport, MonthlyReport};
use folio::{Currency, DayBalance, LedgerEntry, Org};
use folio::{Db, OrgId, VerifyReport};
use folio_cli::bench::BenchReport;
use folio_cli::Error;
use folio_workload::run::answer;
use folio_workload::{InputFormat, WorkloadEvent};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;
use std::collections::HashMap;
use std::io::BufRead;
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

/// Every org's currency, taken while the database is open: amounts print with their currency's
/// ISO 4217 minor-unit digits, and JSON answers name it.
pub struct Currencies(HashMap<OrgId, Currency>);

impl Currencies {
    pub fn of(db: &Db) -> Currencies {
        Currencies(
            db.read()
                .orgs()
                .into_iter()
                .map(|o| (o.id, o.currency))
                .collect(),
        )
    }

    /// The org's currency (`???`, shown with 2 digits, for an org not registered).
    pub fn get(&self, org: OrgId) -> Currency {
        self.0.get(&org).copied().unwrap_or(Currency(*b"???"))
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

pub fn generate(
    events: impl Iterator<Item = WorkloadEvent>,
    format: InputFormat,
) -> Result<(), Error> {
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(1 << 20, stdout.lock());
    let mut line = Vec::with_capacity(256);
    let io = |e| Error::io(STDOUT, e);
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

/// Runs every query instance of a JSON Lines file, one answer per line, in input order. An
/// instance about an unregistered org is answered by an error object,
/// `{"error":{"kind":"unknown_org","org_id":N,"message":"..."}}`, and the run goes on; the command
/// then fails, naming how many lines carry an error.
pub fn queries(db: &Db, file: &Path) -> Result<(), Error> {
    let input = std::fs::File::open(file).map_err(|e| Error::io(file, e))?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut errors = 0u64;
    for (n, line) in std::io::BufReader::new(input).lines().enumerate() {
        let line = line.map_err(|e| Error::io(file, e))?;
        if line.trim().is_empty() {
            continue;
        }
        let bad = |why: String| Error::Input {
            file: file.to_path_buf(),
            line: n as u64 + 1,
            why,
        };
        let q = folio_workload::QueryInstance::parse_json_line(&line)
            .map_err(|e| bad(e.to_string()))?;
        let value = match answer(&db.read(), &q) {
            Ok(value) => value,
            Err(e @ folio::Error::UnknownOrg(org)) => {
                errors += 1;
                json!({"error": {"kind": "unknown_org", "org_id": org.0, "message": e.to_string()}})
            }
            Err(e) => return Err(bad(e.to_string())),
        };
        writeln!(out, "{value}").map_err(|e| Error::io(STDOUT, e))?;
    }
    out.flush().map_err(|e| Error::io(STDOUT, e))?;
    if errors > 0 {
        return Err(Error::InvalidArgument(format!(
            "{errors} queries are about unregistered orgs (their lines carry an error)"
        )));
    }
    Ok(())
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

fn monthly(r: &MonthlyReport, currency: Currency, json: bool) {
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

pub fn report(db: &Db, command: ReportCommand) -> Result<(), Error> {
    let view = db.read();
    let currencies = Currencies::of(db);
    match command {
        ReportCommand::Daily { org, day, json } => {
            let day = folio::BusinessDay::parse(&day).ok_or_else(|| {
                Error::InvalidArgument(format!("{day:?} is not a date YYYY-MM-DD"))
            })?;
            daily(&view.daily_report(OrgId(org), day)?, &currencies, json);
        }
        ReportCommand::Monthly { org, month, json } => {
            monthly(
                &view.monthly_report(OrgId(org), crate::month_arg(&month)?)?,
                currencies.get(OrgId(org)),
                json,
            );
        }
        ReportCommand::Pending { org, limit, json } => {
            let currency = currencies.get(OrgId(org));
            for l in view.pending_expenses(OrgId(org), limit)? {
                if json {
                    println!(
                        "{}",
                        json!({"org_id": org, "entry_id": l.entry_id, "occurred_at": l.occurred_at, "amount": l.amount.0,
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
        ReportCommand::Chain { orgs, month, json } => {
            let ids = orgs
                .split(',')
                .map(|o| o.trim().parse::<u64>().map(OrgId))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|_| {
                    Error::InvalidArgument(format!("{orgs:?} is not a list of org ids"))
                })?;
            let month = crate::month_arg(&month)?;
            let (lines, totals) = view.chain_revenue(&ids, month)?;
            if json {
                let per: Vec<_> = lines.iter().map(top_json).collect();
                let sums: Vec<_> = totals
                    .iter()
                    .map(|t| json!({"currency": t.currency.as_str(), "total": t.total.0}))
                    .collect();
                // `total` and `currency` only when one currency: never a sum of two.
                let single = match totals.as_slice() {
                    [t] => Some(t),
                    _ => None,
                };
                println!(
                    "{}",
                    json!({"month": month.to_string(), "orgs": per, "totals": sums, "currency": single.map(|t| t.currency.as_str()),
                           "total": single.map(|t| t.total.0)})
                );
            } else {
                for l in &lines {
                    print_top(&l.org.to_string(), l.currency, l.total);
                }
                for t in &totals {
                    print_top("total", t.currency, t.total);
                }
            }
        }
        ReportCommand::Top { month, limit, json } => {
            let month = crate::month_arg(&month)?;
            for l in view.top_revenue(month, limit)? {
                if json {
                    let mut v = top_json(&l);
                    v["month"] = json!(month.to_string());
                    println!("{v}");
                } else {
                    print_top(&l.org.to_string(), l.currency, l.total);
                }
            }
        }
    }
    Ok(())
}

fn top_json(l: &folio::query::TopLine) -> serde_json::Value {
    json!({"org_id": l.org.0, "currency": l.currency.as_str(), "total": l.total.0})
}

fn print_top(label: &str, currency: Currency, total: folio::Money) {
    println!(
        "{label:>10} {currency} {:>16}",
        total.display_in(currency).to_string()
    );
}

fn parse_arg<T: std::str::FromStr>(what: &str, value: &str) -> Result<T, Error> {
    value
        .parse()
        .map_err(|_| Error::InvalidArgument(format!("unknown {what} {value:?}")))
}

/// The typed query the flags describe.
pub fn build_query(a: &QueryArgs) -> Result<folio::query::Query, Error> {
    use folio::query::{GroupBy, Order, Query};
    let mut q = match a.table.as_str() {
        "revenues" => Query::revenues(),
        "expenses" => Query::expenses(),
        "ledger" => Query::ledger(),
        other => {
            return Err(Error::InvalidArgument(format!(
                "unknown table {other:?}: revenues, expenses or ledger"
            )))
        }
    };
    if let Some(org) = a.org {
        q = q.org(OrgId(org));
    }
    if a.from.is_some() || a.to.is_some() {
        let from = a
            .from
            .as_deref()
            .map(crate::time_arg)
            .transpose()?
            .unwrap_or(folio::model::MIN_TIMESTAMP);
        let to =
            a.to.as_deref()
                .map(crate::time_arg)
                .transpose()?
                .unwrap_or(folio::model::MAX_TIMESTAMP + 1);
        q = q.between(from, to);
    }
    if a.day_from.is_some() || a.day_to.is_some() {
        let first = a.day_from.as_deref().map(crate::day_arg).transpose()?;
        let last = a.day_to.as_deref().map(crate::day_arg).transpose()?;
        let first =
            first.map_or_else(|| folio::BusinessDay::utc(folio::model::MIN_TIMESTAMP), Ok)?;
        let last = last.map_or_else(|| folio::BusinessDay::utc(folio::model::MAX_TIMESTAMP), Ok)?;
        q = q.days(first, last);
    }
    if let Some(c) = &a.category {
        q = q.category(parse_arg("category", c)?);
    }
    if let Some(p) = &a.payment_method {
        q = q.payment_method(parse_arg("payment method", p)?);
    }
    if let Some(s) = &a.status {
        q = q.status(parse_arg("status", s)?);
    }
    if a.min_amount.is_some() || a.max_amount.is_some() {
        q = q.amount(
            a.min_amount.map(folio::Money),
            a.max_amount.map(folio::Money),
        );
    }
    if let Some(g) = &a.group_by {
        q = q.group_by(match g.as_str() {
            "category" => GroupBy::Category,
            "payment_method" => GroupBy::PaymentMethod,
            "day" => GroupBy::Day,
            "month" => GroupBy::Month,
            "all" => GroupBy::Nothing,
            other => {
                return Err(Error::InvalidArgument(format!(
                    "unknown grouping {other:?}"
                )))
            }
        });
    }
    q = q.order(match a.order.as_str() {
        "asc" => Order::TimeAsc,
        "desc" => Order::TimeDesc,
        other => {
            return Err(Error::InvalidArgument(format!(
                "unknown order {other:?}: asc or desc"
            )))
        }
    });
    q = q.limit(a.limit);
    if let Some(select) = &a.select {
        let columns = select
            .split(',')
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(|c| parse_arg::<folio::state::index::Column>("column", c))
            .collect::<Result<Vec<_>, _>>()?;
        q = q.select(&columns);
    }
    if let Some(cursor) = &a.after {
        q = q.after(folio::query::Cursor::decode(cursor)?);
    }
    Ok(q)
}

pub fn plan(p: &folio::query::Plan, json: bool) {
    if json {
        let access: Vec<_> = p
            .access
            .iter()
            .map(|(kind, a)| match a {
                folio::query::Access::Clustered => json!({"table": folio::state::index::def::table_name(*kind), "access": "clustered"}),
                folio::query::Access::Scan => json!({"table": folio::state::index::def::table_name(*kind), "access": "scan"}),
                folio::query::Access::Index { name, prefix, covered, .. } => {
                    json!({"table": folio::state::index::def::table_name(*kind), "access": "index", "index": name, "prefix": prefix, "covered": covered})
                }
            })
            .collect();
        let parts: Vec<_> = p.partitions.iter().map(|x| x.tree_name()).collect();
        println!(
            "{}",
            json!({"partitions": parts, "partitions_touched": p.partitions.len(), "partitions_total": p.partitions_total,
                   "access": access, "estimated_rows": p.estimated_rows})
        );
    } else {
        println!("{p}");
    }
}

pub fn query_output(out: &folio::query::QueryOutput, currencies: &Currencies, json_out: bool) {
    use folio::query::{GroupKey, QueryOutput};
    let print_next = |next: &Option<folio::query::Cursor>| {
        if let Some(c) = next {
            if json_out {
                println!("{}", json!({"next": c.encode()}));
            } else {
                println!("next page: --after {}", c.encode());
            }
        }
    };
    match out {
        QueryOutput::Rows { rows, next } => {
            entries(rows, currencies, json_out);
            print_next(next);
        }
        QueryOutput::Projected {
            columns,
            rows,
            next,
        } => {
            for row in rows {
                let currency = currencies.get(row.org);
                let mut object = serde_json::Map::new();
                object.insert("org_id".into(), json!(row.org.0));
                object.insert("currency".into(), json!(currency.as_str()));
                object.insert("kind".into(), json!(row.kind.as_str()));
                for (column, value) in columns.iter().zip(&row.values) {
                    object.insert(column.name().into(), value_json(value));
                }
                if json_out {
                    println!("{}", serde_json::Value::Object(object));
                } else {
                    let mut text = vec![format!("org_id={} kind={}", row.org, row.kind)];
                    for (column, value) in columns.iter().zip(&row.values) {
                        let shown = match value {
                            folio::query::Value::Amount(m) => m.display_in(currency).to_string(),
                            other => value_json(other).to_string(),
                        };
                        text.push(format!("{}={shown}", column.name()));
                    }
                    println!("{}", text.join(" "));
                }
            }
            print_next(next);
        }
        QueryOutput::Groups(groups) => {
            for g in groups {
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
        }
    }
}

/// An index definition as JSON (`folio index list --json`, `folio info --json`).
pub fn index_json(d: &folio::state::index::IndexDef) -> serde_json::Value {
    let cols = |cs: &[folio::state::index::Column]| cs.iter().map(|c| c.name()).collect::<Vec<_>>();
    json!({"name": d.name, "table": folio::state::index::def::table_name(d.table), "key": cols(&d.key),
           "include": cols(&d.include), "predicate": d.predicate.map(|p| p.to_string())})
}

pub fn indexes(defs: &[folio::state::index::IndexDef], json_out: bool) {
    for d in defs {
        if json_out {
            println!("{}", index_json(d));
        } else {
            println!("{d}");
        }
    }
}

/// An index definition from command-line text.
pub fn index_def(
    name: &str,
    table: &str,
    key: &str,
    include: &str,
    predicate: Option<&str>,
) -> Result<folio::state::index::IndexDef, Error> {
    use folio::state::index::{Column, IndexDef, Predicate};
    let table = match table {
        "revenues" => folio::Kind::Revenue,
        "expenses" => folio::Kind::Expense,
        other => {
            return Err(Error::InvalidArgument(format!(
                "unknown table {other:?}: revenues or expenses"
            )))
        }
    };
    let columns = |list: &str| -> Result<Vec<Column>, Error> {
        list.split(',')
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(|c| parse_arg::<Column>("column", c))
            .collect()
    };
    let predicate = predicate
        .map(|p| {
            p.parse::<Predicate>()
                .map_err(|_| Error::InvalidArgument(format!("unknown predicate {p:?}")))
        })
        .transpose()?;
    Ok(IndexDef::new(
        name,
        table,
        &columns(key)?,
        &columns(include)?,
        predicate,
    ))
}

fn value_json(v: &folio::query::Value) -> serde_json::Value {
    use folio::query::Value;
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
