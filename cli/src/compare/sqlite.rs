//! SQLite's side of `folio compare`: the same tables without partitions (SQLite has none), WAL
//! journal, `synchronous=FULL`, the seed system's indexes with their included columns appended to
//! the key (SQLite has no INCLUDE), one transaction per batch, a single writer.

use super::{failed, month_bounds, BalanceRow, Engine};
use crate::Result;
use folio::Kind;
use folio_workload::{QueryInstance, WorkloadEvent};
use rusqlite::{params, Connection};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const NAME: &str = "sqlite";

const SCHEMA: &str = "
PRAGMA journal_mode = WAL;
PRAGMA synchronous = FULL;
CREATE TABLE revenues (
  entry_id INTEGER NOT NULL, org_id INTEGER NOT NULL, occurred_at INTEGER NOT NULL,
  amount INTEGER NOT NULL, category TEXT NOT NULL, payment_method TEXT NOT NULL,
  PRIMARY KEY (entry_id, occurred_at));
CREATE TABLE expenses (
  entry_id INTEGER NOT NULL, org_id INTEGER NOT NULL, occurred_at INTEGER NOT NULL,
  amount INTEGER NOT NULL, category TEXT NOT NULL, payment_method TEXT NOT NULL, status TEXT NOT NULL,
  PRIMARY KEY (entry_id, occurred_at));
CREATE TABLE daily_cash_balances (
  org_id INTEGER NOT NULL, day INTEGER NOT NULL,
  revenue_total INTEGER NOT NULL, expense_total INTEGER NOT NULL,
  revenue_count INTEGER NOT NULL, expense_count INTEGER NOT NULL,
  PRIMARY KEY (org_id, day)) WITHOUT ROWID;
CREATE INDEX revenues_org_time ON revenues (org_id, occurred_at);
CREATE INDEX revenues_org_cat_time ON revenues (org_id, category, occurred_at, amount);
CREATE INDEX revenues_org_pm_time ON revenues (org_id, payment_method, occurred_at, amount);
CREATE INDEX expenses_org_time ON expenses (org_id, occurred_at);
CREATE INDEX expenses_org_cat_time ON expenses (org_id, category, occurred_at, amount);
CREATE INDEX expenses_org_pm_time ON expenses (org_id, payment_method, occurred_at, amount);
CREATE INDEX expenses_pending ON expenses (org_id, occurred_at) WHERE status = 'pending';
";

const INSERT_REVENUE: &str = "INSERT INTO revenues VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
const INSERT_EXPENSE: &str = "INSERT INTO expenses VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";
const UPSERT_DAILY: &str = "INSERT INTO daily_cash_balances VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
     ON CONFLICT (org_id, day) DO UPDATE SET revenue_total = revenue_total + excluded.revenue_total, \
     expense_total = expense_total + excluded.expense_total, \
     revenue_count = revenue_count + excluded.revenue_count, \
     expense_count = expense_count + excluded.expense_count";
const Q1: &str = "SELECT COALESCE(SUM(revenue_total - expense_total), 0) FROM daily_cash_balances \
     WHERE org_id = ?1 AND day <= ?2";
const Q2_REVENUE: &str = "SELECT category, SUM(amount), COUNT(*) FROM revenues \
     WHERE org_id = ?1 AND occurred_at >= ?2 AND occurred_at < ?3 GROUP BY category ORDER BY category";
const Q2_EXPENSE: &str = "SELECT category, SUM(amount), COUNT(*) FROM expenses \
     WHERE org_id = ?1 AND occurred_at >= ?2 AND occurred_at < ?3 GROUP BY category ORDER BY category";
const Q3: &str = "SELECT kind, entry_id, occurred_at, amount, category FROM ( \
     SELECT 'revenue' AS kind, entry_id, occurred_at, amount, category FROM revenues \
       WHERE org_id = ?1 AND occurred_at >= ?2 AND occurred_at < ?3 \
     UNION ALL \
     SELECT 'expense', entry_id, occurred_at, amount, category FROM expenses \
       WHERE org_id = ?1 AND occurred_at >= ?2 AND occurred_at < ?3) \
     ORDER BY occurred_at DESC, entry_id DESC LIMIT 50";
const Q4: &str = "SELECT entry_id, occurred_at, amount, category FROM expenses \
     WHERE org_id = ?1 AND status = 'pending' ORDER BY occurred_at ASC, entry_id ASC LIMIT 100";
const Q5: &str = "SELECT org_id, SUM(amount) AS total FROM revenues \
     WHERE occurred_at >= ?1 AND occurred_at < ?2 GROUP BY org_id ORDER BY total DESC, org_id ASC LIMIT 10";

pub(crate) struct Sqlite {
    conn: Connection,
    path: PathBuf,
}

fn err(step: &'static str) -> impl Fn(rusqlite::Error) -> crate::error::Error {
    move |e| failed(NAME, step, e)
}

impl Sqlite {
    pub(crate) fn create(path: &Path) -> Result<Sqlite> {
        if path.exists() {
            return Err(failed(NAME, "create", format!("{} exists", path.display())));
        }
        let conn = Connection::open(path).map_err(err("open"))?;
        conn.execute_batch(SCHEMA).map_err(err("create schema"))?;
        Ok(Sqlite {
            conn,
            path: path.to_path_buf(),
        })
    }
}

fn category_lines(rows: Vec<(String, i64, i64)>) -> (Vec<Value>, i64) {
    let sum = rows.iter().map(|r| r.1).sum();
    (
        rows.into_iter()
            .map(|(c, t, n)| json!({"category": c, "total": t, "count": n}))
            .collect(),
        sum,
    )
}

impl Engine for Sqlite {
    fn name(&self) -> &'static str {
        NAME
    }

    fn ingest(&mut self, events: &[WorkloadEvent]) -> Result<()> {
        let tx = self.conn.transaction().map_err(err("ingest"))?;
        {
            let mut r = tx.prepare_cached(INSERT_REVENUE).map_err(err("ingest"))?;
            let mut x = tx.prepare_cached(INSERT_EXPENSE).map_err(err("ingest"))?;
            let mut d = tx.prepare_cached(UPSERT_DAILY).map_err(err("ingest"))?;
            let mut daily: BTreeMap<(u64, i64), (i64, i64, i64, i64)> = BTreeMap::new();
            for e in events {
                let t = daily
                    .entry((e.org_id, e.occurred_at.div_euclid(86_400)))
                    .or_default();
                match e.kind {
                    Kind::Revenue => {
                        r.execute(params![
                            e.entry_id as i64,
                            e.org_id as i64,
                            e.occurred_at,
                            e.amount,
                            e.category.as_str(),
                            e.payment_method.as_str()
                        ])
                        .map_err(err("ingest"))?;
                        t.0 += e.amount;
                        t.2 += 1;
                    }
                    Kind::Expense => {
                        x.execute(params![
                            e.entry_id as i64,
                            e.org_id as i64,
                            e.occurred_at,
                            e.amount,
                            e.category.as_str(),
                            e.payment_method.as_str(),
                            e.status.map_or("paid", |s| s.as_str())
                        ])
                        .map_err(err("ingest"))?;
                        t.1 += e.amount;
                        t.3 += 1;
                    }
                }
            }
            for ((org, day), (rv, xv, rc, xc)) in daily {
                d.execute(params![org as i64, day, rv, xv, rc, xc])
                    .map_err(err("ingest"))?;
            }
        }
        tx.commit().map_err(err("commit"))
    }

    fn ingest_concurrent(&mut self, _: &[WorkloadEvent], _: usize) -> Result<Option<()>> {
        Ok(None)
    }

    fn answer(&mut self, q: &QueryInstance) -> Result<Value> {
        let c = &self.conn;
        let e = err("query");
        Ok(match *q {
            QueryInstance::Q1 { org, day } => {
                let v: i64 = c
                    .prepare_cached(Q1)
                    .map_err(&e)?
                    .query_row(params![org as i64, day as i64], |r| r.get(0))
                    .map_err(&e)?;
                json!(v)
            }
            QueryInstance::Q2 { org, month } => {
                let (from, to) = month_bounds(month);
                let lines = |sql: &str| -> Result<Vec<(String, i64, i64)>> {
                    let mut st = c.prepare_cached(sql).map_err(&e)?;
                    let rows = st
                        .query_map(params![org as i64, from, to], |r| {
                            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                        })
                        .map_err(&e)?;
                    rows.collect::<std::result::Result<_, _>>().map_err(&e)
                };
                let (revenue, rs) = category_lines(lines(Q2_REVENUE)?);
                let (expense, xs) = category_lines(lines(Q2_EXPENSE)?);
                json!({"revenue": revenue, "expense": expense, "net": rs - xs})
            }
            QueryInstance::Q3 { org, from, to } => {
                let mut st = c.prepare_cached(Q3).map_err(&e)?;
                let rows = st
                    .query_map(params![org as i64, from, to], |r| {
                        Ok(json!({"kind": r.get::<_, String>(0)?, "entry_id": r.get::<_, i64>(1)?,
                                   "occurred_at": r.get::<_, i64>(2)?, "amount": r.get::<_, i64>(3)?,
                                   "category": r.get::<_, String>(4)?}))
                    })
                    .map_err(&e)?;
                Value::Array(rows.collect::<std::result::Result<_, _>>().map_err(&e)?)
            }
            QueryInstance::Q4 { org } => {
                let mut st = c.prepare_cached(Q4).map_err(&e)?;
                let rows = st
                    .query_map(params![org as i64], |r| {
                        Ok(json!({"entry_id": r.get::<_, i64>(0)?, "occurred_at": r.get::<_, i64>(1)?,
                                   "amount": r.get::<_, i64>(2)?, "category": r.get::<_, String>(3)?}))
                    })
                    .map_err(&e)?;
                Value::Array(rows.collect::<std::result::Result<_, _>>().map_err(&e)?)
            }
            QueryInstance::Q5 { month } => {
                let (from, to) = month_bounds(month);
                let mut st = c.prepare_cached(Q5).map_err(&e)?;
                let rows = st
                    .query_map(params![from, to], |r| {
                        Ok(json!({"org_id": r.get::<_, i64>(0)?, "total": r.get::<_, i64>(1)?}))
                    })
                    .map_err(&e)?;
                Value::Array(rows.collect::<std::result::Result<_, _>>().map_err(&e)?)
            }
        })
    }

    fn balances(&mut self) -> Result<Vec<BalanceRow>> {
        let e = err("read balances");
        let mut st = self
            .conn
            .prepare("SELECT * FROM daily_cash_balances ORDER BY org_id, day")
            .map_err(&e)?;
        let rows = st
            .query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)? as u64,
                    r.get::<_, i64>(1)? as i32,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                ))
            })
            .map_err(&e)?;
        rows.collect::<std::result::Result<_, _>>().map_err(&e)
    }

    fn disk(&mut self) -> Result<(u64, u64)> {
        self.conn
            .execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
            .map_err(err("checkpoint"))?;
        let size = |p: &Path| std::fs::metadata(p).map_or(0, |m| m.len());
        let wal = self.path.with_extension("db-wal");
        Ok((size(&self.path), size(&wal)))
    }

    fn finish(&mut self) -> Result<()> {
        Ok(())
    }
}
