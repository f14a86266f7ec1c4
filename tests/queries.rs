//! hotel-ledger-v1 Q1–Q5 answered by Folio equal a brute-force scan of the event stream — also
//! after expense payments, reversals and a reopen, across the index-materialization threshold.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use folio::{Batch, Currency, Db, EntryId, Kind, Op, Options, OrgId, PayExpense, Reversal};
use folio_workload::ingest::{auto_org, entry_of};
use folio_workload::run::answer;
use folio_workload::{instances, Generator, Params, QueryInstance, WorkloadEvent};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

/// The model: every row (postings and reversals) with its signed amount, plus paid expenses.
struct Model {
    rows: Vec<(u64, Kind, u64, i64, i64, &'static str)>, // org, kind, id, at, signed, category
    pending: BTreeSet<(u64, u64)>,                       // (org, id) of pending expenses
}

impl Model {
    fn q(&self, q: &QueryInstance) -> Value {
        match *q {
            QueryInstance::Q1 { org, day } => json!(self
                .rows
                .iter()
                .filter(|r| r.0 == org && r.3.div_euclid(86_400) <= day as i64)
                .map(|r| if r.1 == Kind::Revenue { r.4 } else { -r.4 })
                .sum::<i64>()),
            QueryInstance::Q2 { org, month } => {
                let (from, to) = month_range(month);
                let mut by: BTreeMap<(Kind, &str), (i64, u64)> = BTreeMap::new();
                for r in self
                    .rows
                    .iter()
                    .filter(|r| r.0 == org && (from..to).contains(&r.3))
                {
                    let e = by.entry((r.1, r.5)).or_default();
                    e.0 += r.4;
                    e.1 += 1;
                }
                let lines = |kind| {
                    by.iter()
                        .filter(|((k, _), _)| *k == kind)
                        .map(|((_, c), (t, n))| json!({"category": c, "total": t, "count": n}))
                        .collect::<Vec<_>>()
                };
                let sum = |kind| {
                    by.iter()
                        .filter(|((k, _), _)| *k == kind)
                        .map(|(_, v)| v.0)
                        .sum::<i64>()
                };
                json!({"revenue": lines(Kind::Revenue), "expense": lines(Kind::Expense),
                       "net": sum(Kind::Revenue) - sum(Kind::Expense)})
            }
            QueryInstance::Q3 { org, from, to } => {
                let mut page: Vec<_> = self
                    .rows
                    .iter()
                    .filter(|r| r.0 == org && (from..to).contains(&r.3))
                    .collect();
                page.sort_by_key(|r| std::cmp::Reverse((r.3, r.2)));
                Value::Array(
                    page.into_iter()
                        .take(50)
                        .map(|r| json!({"kind": r.1.as_str(), "entry_id": r.2, "occurred_at": r.3, "amount": r.4, "category": r.5}))
                        .collect(),
                )
            }
            QueryInstance::Q4 { org } => {
                let mut list: Vec<_> = self
                    .rows
                    .iter()
                    .filter(|r| r.0 == org && self.pending.contains(&(r.0, r.2)))
                    .collect();
                list.sort_by_key(|r| (r.3, r.2));
                Value::Array(
                    list.into_iter()
                        .take(100)
                        .map(|r| json!({"entry_id": r.2, "occurred_at": r.3, "amount": r.4, "category": r.5}))
                        .collect(),
                )
            }
            QueryInstance::Q5 { month } => {
                let (from, to) = month_range(month);
                let mut totals: BTreeMap<u64, i64> = BTreeMap::new();
                for r in self
                    .rows
                    .iter()
                    .filter(|r| r.1 == Kind::Revenue && (from..to).contains(&r.3))
                {
                    *totals.entry(r.0).or_default() += r.4;
                }
                let mut list: Vec<_> = totals.into_iter().collect();
                list.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
                Value::Array(
                    list.into_iter()
                        .take(10)
                        .map(|(o, t)| json!({"org_id": o, "total": t}))
                        .collect(),
                )
            }
        }
    }
}

/// UTC bounds of month number `month`: the `(month − 1)`-th calendar month after 2024-01.
fn month_range(month: u32) -> (i64, i64) {
    let after = month - 1;
    let start = folio::Month::from_ym(2024 + (after / 12) as i32, after % 12 + 1).unwrap();
    (start.start_utc(), start.end_utc())
}

fn load(db: &Db, params: Params) -> (Model, Vec<WorkloadEvent>) {
    let orgs: Vec<Op> = (1..=params.orgs)
        .map(|id| Op::RegisterOrg(auto_org(OrgId(id), Currency::USD)))
        .collect();
    db.record(Batch::from(orgs)).unwrap();
    let events: Vec<WorkloadEvent> = Generator::new(params).expect("valid parameters").collect();
    for chunk in events.chunks(500) {
        db.record(Batch::from(
            chunk
                .iter()
                .map(|e| Op::Post(entry_of(e)))
                .collect::<Vec<_>>(),
        ))
        .unwrap();
    }
    let model = Model {
        rows: events
            .iter()
            .map(|e| {
                (
                    e.org_id,
                    e.kind,
                    e.entry_id,
                    e.occurred_at,
                    e.amount,
                    e.category.as_str(),
                )
            })
            .collect(),
        pending: events
            .iter()
            .filter(|e| e.status == Some(folio::ExpenseStatus::Pending))
            .map(|e| (e.org_id, e.entry_id))
            .collect(),
    };
    (model, events)
}

fn compare(db: &Db, model: &Model, params: &Params, stage: &str) {
    let report = db.verify();
    assert!(report.is_ok(), "{stage}: verify: {:?}", report.problems);
    assert!(
        report.index_entries > 0,
        "{stage}: no index part was materialized"
    );
    compare_answers(db, model, params, stage);
}

fn compare_answers(db: &Db, model: &Model, params: &Params, stage: &str) {
    let view = db.snapshot();
    for kind in 1..=5u8 {
        for q in instances(kind, params, 200).expect("valid parameters") {
            assert_eq!(
                answer(&view, &q).unwrap(),
                model.q(&q),
                "{stage}: {}",
                q.to_json_line()
            );
        }
    }
}

#[test]
fn q1_to_q5_match_a_brute_force_scan_through_payments_reversals_and_reopen() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    let params = Params {
        orgs: 300,
        events: 40_000,
        ..Params::default()
    };
    let db = Db::open_with(&dir, Options::default().shards(4)).unwrap();
    let (mut model, events) = load(&db, params);
    compare(&db, &model, &params, "after ingest");

    // Pay every third pending expense, reverse every 50th entry (a day later).
    let mut batch = Batch::new();
    let mut next_id = params.events + 1;
    for (i, e) in events.iter().enumerate() {
        if e.status == Some(folio::ExpenseStatus::Pending) && i % 3 == 0 {
            batch = batch.pay(PayExpense {
                org: OrgId(e.org_id),
                entry: EntryId(e.entry_id),
                paid_at: e.occurred_at + 60,
            });
            model.pending.remove(&(e.org_id, e.entry_id));
        }
        if i % 50 == 0 {
            let at = e.occurred_at + 86_400;
            batch = batch.reverse(Reversal {
                org: OrgId(e.org_id),
                id: EntryId(next_id),
                reverses: EntryId(e.entry_id),
                occurred_at: at,
                reference: "correction".into(),
            });
            model.rows.push((
                e.org_id,
                e.kind,
                next_id,
                at,
                -e.amount,
                e.category.as_str(),
            ));
            next_id += 1;
        }
    }
    db.record(batch).unwrap();
    compare(&db, &model, &params, "after payments and reversals");
    db.close().unwrap();
    let db = Db::open(&dir).unwrap();
    compare(&db, &model, &params, "after reopen");
}

/// The multi-year variant: three years of history, Q2/Q5 months up to 36 (month 13 is
/// 2025-01), Q1 days and Q3 ranges over all 1,098 days — Folio's answers equal the scan's.
#[test]
fn q1_to_q5_match_a_brute_force_scan_over_three_years() {
    let tmp = tempfile::tempdir().unwrap();
    let params = Params {
        orgs: 100,
        events: 20_000,
        years: 3,
        ..Params::default()
    };
    let db = Db::open_with(tmp.path().join("db"), Options::default().shards(2)).unwrap();
    let (model, events) = load(&db, params);
    // The events cover the three years and stay inside them.
    let at = |e: Option<&WorkloadEvent>| e.unwrap().occurred_at;
    let (first, last) = (at(events.first()), at(events.last()));
    let end = 1_704_067_200 + 3 * 366 * 86_400;
    assert!((1_704_067_200..1_704_067_200 + 86_400).contains(&first));
    assert!((end - 86_400..end).contains(&last));
    assert!(events
        .iter()
        .all(|e| (1_704_067_200..end).contains(&e.occurred_at)));
    // Month 13 is January 2025 (1735689600 = 2025-01-01, 1738368000 = 2025-02-01).
    assert_eq!(month_range(13), (1_735_689_600, 1_738_368_000));
    assert_eq!(month_range(36), (1_796_083_200, 1_798_761_600));
    let months: BTreeSet<u32> = instances(5, &params, 200)
        .unwrap()
        .iter()
        .map(|q| match q {
            QueryInstance::Q5 { month } => *month,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!((months.first(), months.last()), (Some(&1), Some(&36)));
    compare_answers(&db, &model, &params, "three years");
    let view = db.snapshot();
    for q in [
        QueryInstance::Q5 { month: 13 },
        QueryInstance::Q2 { org: 1, month: 13 },
        QueryInstance::Q2 { org: 2, month: 36 },
    ] {
        let got = answer(&view, &q).unwrap();
        // Rows of that month, not an empty answer that would match an empty scan.
        let rows = got
            .as_array()
            .unwrap_or_else(|| got["revenue"].as_array().unwrap());
        assert!(!rows.is_empty(), "{}", q.to_json_line());
        assert_eq!(got, model.q(&q), "{}", q.to_json_line());
    }
}

/// Top lists, chain totals and cross-org groups rank and add amounts within one currency only;
/// an org listed twice in a chain is refused; Q1–Q4 about an unregistered org are the error
/// `balance` gives, not 0 or an empty list.
#[test]
fn aggregates_keep_currencies_apart_and_unregistered_orgs_are_errors() {
    use folio::{Category, Entry, Money, Month, Org, PaymentMethod};
    use folio::{CurrencyTotal, GroupBy, Query, QueryOutput};
    let tmp = tempfile::tempdir().unwrap();
    let db = Db::open(tmp.path().join("db")).unwrap();
    let mut batch = Batch::new()
        .register_org(Org::new(OrgId(1), "A", Currency::EUR))
        .register_org(Org::new(OrgId(2), "B", Currency::JPY))
        .register_org(Org::new(OrgId(3), "C", Currency::EUR));
    let march = 1_709_251_200 + 3_600;
    for (id, org, amount) in [(1, 1, 100), (2, 1, 200), (3, 2, 5_000), (4, 3, 250)] {
        batch = batch.post(Entry::revenue(
            OrgId(org),
            EntryId(id),
            march + id as i64,
            Money(amount),
            Category::Rooms,
            PaymentMethod::Card,
        ));
    }
    db.record(batch).unwrap();
    let month = Month::from_ym(2024, 3).unwrap();

    let view = db.snapshot();
    let top: Vec<_> = view
        .top_revenue(month, 1)
        .unwrap()
        .into_iter()
        .map(|l| (l.currency, l.org, l.total))
        .collect();
    assert_eq!(
        top,
        [
            (Currency::EUR, OrgId(1), Money(300)),
            (Currency::JPY, OrgId(2), Money(5_000))
        ]
    );
    let (lines, totals) = view
        .chain_revenue(&[OrgId(2), OrgId(1), OrgId(3)], month)
        .unwrap();
    assert_eq!(lines[0].currency, Currency::JPY);
    assert_eq!(
        totals,
        [
            CurrencyTotal {
                currency: Currency::EUR,
                total: Money(550)
            },
            CurrencyTotal {
                currency: Currency::JPY,
                total: Money(5_000)
            }
        ]
    );
    assert!(matches!(
        view.chain_revenue(&[OrgId(1), OrgId(2), OrgId(1)], month),
        Err(folio::Error::InvalidArgument(why)) if why.contains("org 1 is listed more than once")
    ));
    let QueryOutput::Groups(groups) = db
        .query(&Query::revenues().group_by(GroupBy::Nothing))
        .unwrap()
    else {
        panic!("groups expected")
    };
    let groups: Vec<_> = groups
        .iter()
        .map(|g| (g.currency, g.sum, g.count))
        .collect();
    assert_eq!(
        groups,
        [
            (Currency::EUR, Money(550), 3),
            (Currency::JPY, Money(5_000), 1)
        ]
    );

    let day = folio::BusinessDay::parse("2024-03-02").unwrap();
    assert!(matches!(
        db.balance(OrgId(9), day),
        Err(folio::Error::UnknownOrg(OrgId(9)))
    ));
    for q in [
        QueryInstance::Q1 {
            org: 9,
            day: day.days(),
        },
        QueryInstance::Q2 { org: 9, month: 3 },
        QueryInstance::Q3 {
            org: 9,
            from: march,
            to: march + 86_400,
        },
        QueryInstance::Q4 { org: 9 },
    ] {
        assert!(
            matches!(answer(&view, &q), Err(folio::Error::UnknownOrg(OrgId(9)))),
            "{q:?}"
        );
    }
    assert_eq!(
        answer(
            &view,
            &QueryInstance::Q1 {
                org: 2,
                day: day.days()
            }
        )
        .unwrap(),
        json!(5_000)
    );
}
