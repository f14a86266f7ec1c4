//! `folio query` (filters, grouping, order and paging from flags) and `folio queries` (a file of
//! hotel-ledger-v1 query instances).

use crate::cli::QueryArgs;
use crate::open::reader;
use crate::output::{self, Currencies, STDOUT};
use crate::parse::{columns_arg, day_arg, parse_arg, time_arg};
use folio::{BusinessDay, Db, OrgId};
use folio::{GroupBy, Order, Query};
use folio_cli::Error;
use folio_workload::run::answer;
use serde_json::json;
use std::io::{BufRead, Write};
use std::path::Path;

/// `folio query`: runs the query the flags describe, or with --explain prints its plan.
pub fn run(data: &Path, args: &QueryArgs) -> Result<(), Error> {
    let db = reader(data)?;
    let query = build_query(args)?;
    let currencies = Currencies::of(db.snapshot());
    let result = if args.explain {
        db.explain(&query)
            .map(|plan| output::plan(&plan, args.json))
    } else {
        db.query(&query)
            .map(|out| output::query_output(&out, &currencies, args.json))
    };
    db.close()?;
    result?;
    Ok(())
}

/// The typed query the flags describe.
fn build_query(a: &QueryArgs) -> Result<Query, Error> {
    let mut q = table(&a.table)?;
    if let Some(org) = a.org {
        q = q.org(OrgId(org));
    }
    q = ranges(q, a)?;
    q = values(q, a)?;
    if let Some(g) = &a.group_by {
        q = q.group_by(group_by(g)?);
    }
    q = q.order(order(&a.order)?);
    q = q.limit(a.limit);
    if let Some(select) = &a.select {
        q = q.select(&columns_arg(select)?);
    }
    if let Some(cursor) = &a.after {
        q = q.after(folio::Cursor::decode(cursor)?);
    }
    Ok(q)
}

fn table(name: &str) -> Result<Query, Error> {
    match name {
        "revenues" => Ok(Query::revenues()),
        "expenses" => Ok(Query::expenses()),
        "ledger" => Ok(Query::ledger()),
        other => Err(Error::InvalidArgument(format!(
            "unknown table {other:?}: revenues, expenses or ledger"
        ))),
    }
}

/// --from/--to (occurred_at) and --day-from/--day-to (business days); an open end is unbounded.
fn ranges(mut q: Query, a: &QueryArgs) -> Result<Query, Error> {
    if a.from.is_some() || a.to.is_some() {
        let from = a
            .from
            .as_deref()
            .map(time_arg)
            .transpose()?
            .unwrap_or(folio::MIN_TIMESTAMP);
        let to =
            a.to.as_deref()
                .map(time_arg)
                .transpose()?
                .unwrap_or(folio::MAX_TIMESTAMP + 1);
        q = q.between(from, to);
    }
    if a.day_from.is_some() || a.day_to.is_some() {
        let first = a.day_from.as_deref().map(day_arg).transpose()?;
        let last = a.day_to.as_deref().map(day_arg).transpose()?;
        let first = first.map_or_else(|| BusinessDay::utc(folio::MIN_TIMESTAMP), Ok)?;
        let last = last.map_or_else(|| BusinessDay::utc(folio::MAX_TIMESTAMP), Ok)?;
        q = q.days(first, last);
    }
    Ok(q)
}

/// --category, --payment-method, --status, --min-amount and --max-amount.
fn values(mut q: Query, a: &QueryArgs) -> Result<Query, Error> {
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
    Ok(q)
}

fn group_by(name: &str) -> Result<GroupBy, Error> {
    match name {
        "category" => Ok(GroupBy::Category),
        "payment_method" => Ok(GroupBy::PaymentMethod),
        "day" => Ok(GroupBy::Day),
        "month" => Ok(GroupBy::Month),
        "all" => Ok(GroupBy::Nothing),
        other => Err(Error::InvalidArgument(format!(
            "unknown grouping {other:?}"
        ))),
    }
}

fn order(name: &str) -> Result<Order, Error> {
    match name {
        "asc" => Ok(Order::TimeAsc),
        "desc" => Ok(Order::TimeDesc),
        other => Err(Error::InvalidArgument(format!(
            "unknown order {other:?}: asc or desc"
        ))),
    }
}

/// `folio queries`: answers every query instance of a JSON Lines file, one answer per line, in
/// input order. An instance about an unregistered org is answered by an error object,
/// `{"error":{"kind":"unknown_org","org_id":N,"message":"..."}}`, and the run goes on; the command
/// then fails, naming how many lines carry an error.
pub fn queries(data: &Path, file: &Path) -> Result<(), Error> {
    let db = reader(data)?;
    answer_file(&db, file)?;
    db.close()?;
    Ok(())
}

fn answer_file(db: &Db, file: &Path) -> Result<(), Error> {
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
        let value = match answer(&db.snapshot(), &q) {
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
