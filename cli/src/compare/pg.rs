//! PostgreSQL's side of `folio compare`: the seed system's partitioned schema
//! (postgres-schema.sql, as in ../shared/workload), created in a fresh database; batches go in
//! with `INSERT … SELECT FROM unnest(…)` plus one upsert of the batch's pre-summed (org, day)
//! totals, through prepared statements, each batch one durable transaction.

use super::{failed, month_bounds, BalanceRow, Engine};
use crate::Result;
use folio::Kind;
use folio_workload::{QueryInstance, WorkloadEvent};
use postgres::{Client, NoTls, Statement};
use serde_json::{json, Value};
use std::collections::BTreeMap;

const NAME: &str = "postgres";
const SCHEMA: &str = include_str!("postgres-schema.sql");

const INSERT_REVENUES: &str = "INSERT INTO revenues (entry_id, org_id, occurred_at, amount, category, payment_method) \
     SELECT e, o, to_timestamp(t), a, c, p FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[], $5::text[], $6::text[]) AS u(e, o, t, a, c, p)";
const INSERT_EXPENSES: &str = "INSERT INTO expenses (entry_id, org_id, occurred_at, amount, category, payment_method, status) \
     SELECT e, o, to_timestamp(t), a, c, p, s FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[], $5::text[], $6::text[], $7::text[]) AS u(e, o, t, a, c, p, s)";
const UPSERT_DAILY: &str = "INSERT INTO daily_cash_balances (org_id, day, revenue_total, expense_total, revenue_count, expense_count) \
     SELECT o, DATE '1970-01-01' + d, r, x, rc, xc FROM unnest($1::bigint[], $2::int[], $3::bigint[], $4::bigint[], $5::int[], $6::int[]) AS u(o, d, r, x, rc, xc) \
     ON CONFLICT (org_id, day) DO UPDATE SET revenue_total = daily_cash_balances.revenue_total + EXCLUDED.revenue_total, \
     expense_total = daily_cash_balances.expense_total + EXCLUDED.expense_total, \
     revenue_count = daily_cash_balances.revenue_count + EXCLUDED.revenue_count, \
     expense_count = daily_cash_balances.expense_count + EXCLUDED.expense_count";

const Q1: &str =
    "SELECT COALESCE(SUM(revenue_total - expense_total), 0)::bigint FROM daily_cash_balances \
     WHERE org_id = $1 AND day <= DATE '1970-01-01' + $2::int";
const Q2_REVENUE: &str = "SELECT category, SUM(amount)::bigint, COUNT(*)::bigint FROM revenues \
     WHERE org_id = $1 AND occurred_at >= to_timestamp($2::bigint) AND occurred_at < to_timestamp($3::bigint) \
     GROUP BY category ORDER BY category COLLATE \"C\"";
const Q2_EXPENSE: &str = "SELECT category, SUM(amount)::bigint, COUNT(*)::bigint FROM expenses \
     WHERE org_id = $1 AND occurred_at >= to_timestamp($2::bigint) AND occurred_at < to_timestamp($3::bigint) \
     GROUP BY category ORDER BY category COLLATE \"C\"";
const Q3: &str = "SELECT kind, entry_id, extract(epoch FROM occurred_at)::bigint, amount, category FROM ( \
     SELECT 'revenue' AS kind, entry_id, occurred_at, amount, category FROM revenues \
       WHERE org_id = $1 AND occurred_at >= to_timestamp($2::bigint) AND occurred_at < to_timestamp($3::bigint) \
     UNION ALL \
     SELECT 'expense', entry_id, occurred_at, amount, category FROM expenses \
       WHERE org_id = $1 AND occurred_at >= to_timestamp($2::bigint) AND occurred_at < to_timestamp($3::bigint) \
     ) u ORDER BY occurred_at DESC, entry_id DESC LIMIT 50";
const Q4: &str =
    "SELECT entry_id, extract(epoch FROM occurred_at)::bigint, amount, category FROM expenses \
     WHERE org_id = $1 AND status = 'pending' ORDER BY occurred_at ASC, entry_id ASC LIMIT 100";
const Q5: &str = "SELECT org_id, SUM(amount)::bigint AS total FROM revenues \
     WHERE occurred_at >= to_timestamp($1::bigint) AND occurred_at < to_timestamp($2::bigint) \
     GROUP BY org_id ORDER BY total DESC, org_id ASC LIMIT 10";

struct Prepared {
    revenues: Statement,
    expenses: Statement,
    daily: Statement,
}

fn prepare(client: &mut Client) -> std::result::Result<Prepared, postgres::Error> {
    Ok(Prepared {
        revenues: client.prepare(INSERT_REVENUES)?,
        expenses: client.prepare(INSERT_EXPENSES)?,
        daily: client.prepare(UPSERT_DAILY)?,
    })
}

/// Column arrays of one table's rows in a batch (the `unnest` parameters).
#[derive(Default)]
struct Rows {
    entry: Vec<i64>,
    org: Vec<i64>,
    at: Vec<i64>,
    amount: Vec<i64>,
    category: Vec<&'static str>,
    method: Vec<&'static str>,
    /// Expenses only.
    status: Vec<&'static str>,
}

impl Rows {
    fn push(&mut self, e: &WorkloadEvent) {
        self.entry.push(e.entry_id as i64);
        self.org.push(e.org_id as i64);
        self.at.push(e.occurred_at);
        self.amount.push(e.amount);
        self.category.push(e.category.as_str());
        self.method.push(e.payment_method.as_str());
    }
}

/// The batch's pre-summed (org, day) totals, as column arrays in (org, day) order.
#[derive(Default)]
struct Daily {
    org: Vec<i64>,
    day: Vec<i32>,
    revenue: Vec<i64>,
    expense: Vec<i64>,
    revenue_count: Vec<i32>,
    expense_count: Vec<i32>,
}

/// One durable transaction with the batch's rows and its daily upsert (rows in (org, day) order,
/// so concurrent writers lock them in one order).
fn write_batch(
    client: &mut Client,
    st: &Prepared,
    events: &[WorkloadEvent],
) -> std::result::Result<(), postgres::Error> {
    let (mut r, mut x) = (Rows::default(), Rows::default());
    let mut sums: BTreeMap<(i64, i32), (i64, i64, i32, i32)> = BTreeMap::new();
    for e in events {
        let day = e.occurred_at.div_euclid(86_400) as i32;
        let totals = sums.entry((e.org_id as i64, day)).or_default();
        match e.kind {
            Kind::Revenue => {
                r.push(e);
                totals.0 += e.amount;
                totals.2 += 1;
            }
            Kind::Expense => {
                x.push(e);
                x.status.push(e.status.map_or("paid", |s| s.as_str()));
                totals.1 += e.amount;
                totals.3 += 1;
            }
        }
    }
    let mut d = Daily::default();
    for ((org, day), (rv, xv, rc, xc)) in sums {
        d.org.push(org);
        d.day.push(day);
        d.revenue.push(rv);
        d.expense.push(xv);
        d.revenue_count.push(rc);
        d.expense_count.push(xc);
    }
    let mut tx = client.transaction()?;
    if !r.entry.is_empty() {
        tx.execute(
            &st.revenues,
            &[&r.entry, &r.org, &r.at, &r.amount, &r.category, &r.method],
        )?;
    }
    if !x.entry.is_empty() {
        tx.execute(
            &st.expenses,
            &[
                &x.entry,
                &x.org,
                &x.at,
                &x.amount,
                &x.category,
                &x.method,
                &x.status,
            ],
        )?;
    }
    tx.execute(
        &st.daily,
        &[
            &d.org,
            &d.day,
            &d.revenue,
            &d.expense,
            &d.revenue_count,
            &d.expense_count,
        ],
    )?;
    tx.commit()
}

pub(crate) struct Postgres {
    conn: String,
    database: String,
    client: Option<Client>,
    prepared: Option<Prepared>,
    created: bool,
}

fn connect(conn: &str, database: &str, step: &str) -> Result<Client> {
    Client::connect(
        &format!("{conn} dbname={database} connect_timeout=10"),
        NoTls,
    )
    .map_err(|e| failed(NAME, step, describe(&e)))
}

/// A PostgreSQL error with its server message (the client's Display alone says only "db error").
fn describe(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{}: {}", db.code().code(), db.message()),
        None => match std::error::Error::source(e) {
            Some(cause) => format!("{e}: {cause}"),
            None => e.to_string(),
        },
    }
}

impl Postgres {
    /// Connects, creates `database` (refusing one that exists), and loads the schema.
    pub(crate) fn create(conn: &str, database: &str) -> Result<Postgres> {
        if database.is_empty()
            || !database
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            return Err(failed(
                NAME,
                "create database",
                format!("bad database name {database:?}"),
            ));
        }
        let mut admin = connect(conn, "postgres", "connect")?;
        let exists = admin
            .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&database])
            .map_err(|e| failed(NAME, "connect", describe(&e)))?
            .is_some();
        if exists {
            return Err(failed(
                NAME,
                "create database",
                format!(
                    "database {database} already exists; drop it or pass another --pg-database"
                ),
            ));
        }
        admin
            .batch_execute(&format!("CREATE DATABASE {database}"))
            .map_err(|e| failed(NAME, "create database", describe(&e)))?;
        let mut pg = Postgres {
            conn: conn.to_string(),
            database: database.to_string(),
            client: None,
            prepared: None,
            created: true,
        };
        let setup = (|| {
            let mut client = connect(conn, database, "connect")?;
            client
                .batch_execute(SCHEMA)
                .map_err(|e| failed(NAME, "create schema", describe(&e)))?;
            let prepared =
                prepare(&mut client).map_err(|e| failed(NAME, "prepare", describe(&e)))?;
            Ok((client, prepared))
        })();
        match setup {
            Ok((client, prepared)) => {
                pg.client = Some(client);
                pg.prepared = Some(prepared);
                Ok(pg)
            }
            Err(e) => {
                // Leave nothing behind: the database this run created goes again.
                let _ = pg.finish();
                Err(e)
            }
        }
    }

    fn client(&mut self) -> Result<&mut Client> {
        self.client
            .as_mut()
            .ok_or_else(|| failed(NAME, "use", "not connected"))
    }
}

fn category_lines(rows: &[postgres::Row]) -> (Vec<Value>, i64) {
    let mut sum = 0i64;
    let lines = rows
        .iter()
        .map(|r| {
            let total: i64 = r.get(1);
            sum += total;
            json!({"category": r.get::<_, String>(0), "total": total, "count": r.get::<_, i64>(2)})
        })
        .collect();
    (lines, sum)
}

impl Engine for Postgres {
    fn name(&self) -> &'static str {
        NAME
    }

    /// The server's processes, when it runs on this machine and its data directory (the
    /// postmaster's pid file) is readable here.
    fn memory_probe(&mut self) -> Option<super::memory::Probe> {
        let row = self
            .client
            .as_mut()?
            .query_one("SHOW data_directory", &[])
            .ok()?;
        let dir: String = row.get(0);
        let pid_file = std::fs::read_to_string(std::path::Path::new(&dir).join("postmaster.pid"));
        let postmaster = pid_file.ok()?.lines().next()?.trim().parse().ok()?;
        Some(super::memory::server(postmaster))
    }

    fn ingest(&mut self, events: &[WorkloadEvent]) -> Result<()> {
        let st = self
            .prepared
            .take()
            .ok_or_else(|| failed(NAME, "ingest", "not prepared"))?;
        let result = write_batch(self.client()?, &st, events);
        self.prepared = Some(st);
        result.map_err(|e| failed(NAME, "ingest", describe(&e)))
    }

    fn ingest_concurrent(
        &mut self,
        events: &[WorkloadEvent],
        writers: usize,
    ) -> Result<Option<()>> {
        let (conn, database) = (self.conn.clone(), self.database.clone());
        // Connections first, so connecting is not timed as ingest.
        let mut clients = Vec::with_capacity(writers);
        for _ in 0..writers {
            let mut c = connect(&conn, &database, "connect writer")?;
            let st = prepare(&mut c).map_err(|e| failed(NAME, "prepare", describe(&e)))?;
            clients.push((c, st));
        }
        std::thread::scope(|s| {
            let handles: Vec<_> = clients
                .into_iter()
                .enumerate()
                .map(|(w, (mut client, st))| {
                    s.spawn(move || -> Result<()> {
                        for e in events.iter().skip(w).step_by(writers) {
                            write_batch(&mut client, &st, std::slice::from_ref(e))
                                .map_err(|err| failed(NAME, "concurrent ingest", describe(&err)))?;
                        }
                        Ok(())
                    })
                })
                .collect();
            handles
                .into_iter()
                .try_for_each(|h| h.join().map_err(|_| failed(NAME, "writer", "panicked"))?)
        })?;
        Ok(Some(()))
    }

    fn answer(&mut self, q: &QueryInstance) -> Result<Value> {
        let c = self.client()?;
        let err = |e: postgres::Error| failed(NAME, "query", describe(&e));
        Ok(match *q {
            QueryInstance::Q1 { org, day } => {
                let row = c.query_one(Q1, &[&(org as i64), &day]).map_err(err)?;
                json!(row.get::<_, i64>(0))
            }
            QueryInstance::Q2 { org, month } => {
                let (from, to) = month_bounds(month);
                let args: [&(dyn postgres::types::ToSql + Sync); 3] = [&(org as i64), &from, &to];
                let r = c.query(Q2_REVENUE, &args).map_err(err)?;
                let x = c.query(Q2_EXPENSE, &args).map_err(err)?;
                let (revenue, rs) = category_lines(&r);
                let (expense, xs) = category_lines(&x);
                json!({"revenue": revenue, "expense": expense, "net": rs - xs})
            }
            QueryInstance::Q3 { org, from, to } => {
                let rows = c.query(Q3, &[&(org as i64), &from, &to]).map_err(err)?;
                Value::Array(
                    rows.iter()
                        .map(|r| {
                            json!({"kind": r.get::<_, String>(0), "entry_id": r.get::<_, i64>(1),
                                   "occurred_at": r.get::<_, i64>(2), "amount": r.get::<_, i64>(3),
                                   "category": r.get::<_, String>(4)})
                        })
                        .collect(),
                )
            }
            QueryInstance::Q4 { org } => {
                let rows = c.query(Q4, &[&(org as i64)]).map_err(err)?;
                Value::Array(
                    rows.iter()
                        .map(|r| {
                            json!({"entry_id": r.get::<_, i64>(0), "occurred_at": r.get::<_, i64>(1),
                                   "amount": r.get::<_, i64>(2), "category": r.get::<_, String>(3)})
                        })
                        .collect(),
                )
            }
            QueryInstance::Q5 { month } => {
                let (from, to) = month_bounds(month);
                let rows = c.query(Q5, &[&from, &to]).map_err(err)?;
                Value::Array(
                    rows.iter()
                        .map(|r| json!({"org_id": r.get::<_, i64>(0), "total": r.get::<_, i64>(1)}))
                        .collect(),
                )
            }
        })
    }

    fn balances(&mut self) -> Result<Vec<BalanceRow>> {
        let rows = self
            .client()?
            .query(
                "SELECT org_id, (day - DATE '1970-01-01')::int, revenue_total, expense_total, \
                 revenue_count::bigint, expense_count::bigint FROM daily_cash_balances ORDER BY 1, 2",
                &[],
            )
            .map_err(|e| failed(NAME, "read balances", describe(&e)))?;
        Ok(rows
            .iter()
            .map(|r| {
                (
                    r.get::<_, i64>(0) as u64,
                    r.get(1),
                    r.get(2),
                    r.get(3),
                    r.get(4),
                    r.get(5),
                )
            })
            .collect())
    }

    fn disk(&mut self) -> Result<(u64, u64)> {
        let c = self.client()?;
        c.batch_execute("CHECKPOINT")
            .map_err(|e| failed(NAME, "checkpoint", describe(&e)))?;
        let data: i64 = c
            .query_one("SELECT pg_database_size(current_database())", &[])
            .map_err(|e| failed(NAME, "database size", describe(&e)))?
            .get(0);
        let wal: i64 = c
            .query_one(
                "SELECT COALESCE(SUM(size), 0)::bigint FROM pg_ls_waldir()",
                &[],
            )
            .map_err(|e| failed(NAME, "WAL size", describe(&e)))?
            .get(0);
        Ok((data as u64, wal as u64))
    }

    fn finish(&mut self) -> Result<()> {
        self.prepared = None;
        self.client = None;
        if self.created {
            self.created = false;
            let mut admin = connect(&self.conn, "postgres", "drop database")?;
            admin
                .batch_execute(&format!(
                    "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                    self.database
                ))
                .map_err(|e| failed(NAME, "drop database", describe(&e)))?;
        }
        Ok(())
    }
}
