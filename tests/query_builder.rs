//! Property test of the typed query API: random queries over a dataset with late postings,
//! reversals and expense payments equal a brute-force scan; `explain` never names a partition
//! outside the query's time range; pages chained by cursors equal one long scan.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use folio::{
    Batch, BusinessDay, Category, Currency, Db, EntryId, ExpenseStatus, Kind, Money, Month, Op,
    Options, OrgId, PayExpense, PaymentMethod, Reversal,
};
use folio::{GroupBy, GroupKey, Order, Query, QueryOutput};
use folio_workload::ingest::{auto_org, entry_of};
use folio_workload::{Generator, Params};
use proptest::prelude::*;
use std::sync::OnceLock;

/// (org, kind, id, at, signed amount, category, method, current status)
type Row = (
    u64,
    Kind,
    u64,
    i64,
    i64,
    Category,
    PaymentMethod,
    Option<ExpenseStatus>,
);

struct Fixture {
    _dir: tempfile::TempDir,
    db: Db,
    rows: Vec<Row>,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open_with(dir.path().join("db"), Options::default().shards(4)).unwrap();
        let params = Params {
            orgs: 60,
            events: 30_000,
            ..Params::default()
        };
        let orgs: Vec<Op> = (1..=params.orgs)
            .map(|id| Op::RegisterOrg(auto_org(OrgId(id), Currency::USD)))
            .collect();
        db.record(Batch::from(orgs)).unwrap();
        let events: Vec<_> = Generator::new(params).expect("valid parameters").collect();
        for chunk in events.chunks(700) {
            db.record(Batch::from(
                chunk
                    .iter()
                    .map(|e| Op::Post(entry_of(e)))
                    .collect::<Vec<_>>(),
            ))
            .unwrap();
        }
        let mut rows: Vec<Row> = events
            .iter()
            .map(|e| {
                (
                    e.org_id,
                    e.kind,
                    e.entry_id,
                    e.occurred_at,
                    e.amount,
                    e.category,
                    e.payment_method,
                    e.status,
                )
            })
            .collect();
        let mut batch = Batch::new();
        let mut next = params.events + 1;
        for i in (0..rows.len()).step_by(37) {
            let (org, kind, id, at, amount, cat, pm, status) = rows[i];
            if status == Some(ExpenseStatus::Pending) {
                batch = batch.pay(PayExpense {
                    org: OrgId(org),
                    entry: EntryId(id),
                    paid_at: at + 5,
                });
                rows[i].7 = Some(ExpenseStatus::Paid);
            } else if i % 2 == 0 {
                let when = at + 3 * 86_400;
                batch = batch.reverse(Reversal {
                    org: OrgId(org),
                    id: EntryId(next),
                    reverses: EntryId(id),
                    occurred_at: when,
                    reference: String::new(),
                });
                rows.push((org, kind, next, when, -amount, cat, pm, None));
                next += 1;
            }
        }
        db.record(batch).unwrap();
        assert!(db.verify().is_ok());
        Fixture {
            _dir: dir,
            db,
            rows,
        }
    })
}

fn matches(q: &Query, r: &Row) -> bool {
    q.tables.kinds().contains(&r.1)
        && q.org.is_none_or(|o| o.0 == r.0)
        && q.time.is_none_or(|(f, t)| (f..t).contains(&r.3))
        && q.days.is_none_or(|(f, l)| {
            (i64::from(f.days())..=i64::from(l.days())).contains(&r.3.div_euclid(86_400))
        })
        && q.category.is_none_or(|c| c == r.5)
        && q.payment_method.is_none_or(|p| p == r.6)
        && q.status.is_none_or(|s| Some(s) == r.7)
        && q.amount.0.is_none_or(|m| r.4 >= m)
        && q.amount.1.is_none_or(|m| r.4 <= m)
}

fn query_strategy() -> impl Strategy<Value = Query> {
    (
        0u8..3,
        prop::option::weighted(0.85, 1u64..=62),
        prop::option::of((0i64..366, 1i64..120)),
        prop::option::of(0usize..10),
        prop::option::of(0usize..3),
        prop::option::of(prop::bool::ANY),
        prop::option::of(0usize..5),
        (
            prop::bool::ANY,
            1usize..300,
            prop::option::of(-200_000i64..200_000),
        ),
    )
        .prop_map(
            |(tables, org, time, cat, pm, pending, group, (desc, limit, min_amount))| {
                let mut q = match tables {
                    0 => Query::revenues(),
                    1 => Query::expenses(),
                    _ => Query::ledger(),
                };
                if let Some(org) = org {
                    q = q.org(OrgId(org));
                }
                if let Some((start, days)) = time {
                    let from = 1_704_067_200 + start * 86_400;
                    q = q.between(from, from + days * 86_400);
                }
                if let Some(c) = cat {
                    let c = Category::ALL[c];
                    if q.tables.kinds().iter().any(|k| c.allowed_for(*k)) {
                        q = q.category(c);
                    }
                }
                if let Some(p) = pm {
                    q = q.payment_method(PaymentMethod::ALL[p]);
                }
                if let (Some(pending), folio::Tables::Expenses) = (pending, q.tables) {
                    q = q.status(if pending {
                        ExpenseStatus::Pending
                    } else {
                        ExpenseStatus::Paid
                    });
                }
                if let Some(m) = min_amount {
                    q = q.amount(Some(Money(m)), None);
                }
                if let Some(g) = group {
                    q = q.group_by(
                        [
                            GroupBy::Category,
                            GroupBy::PaymentMethod,
                            GroupBy::Day,
                            GroupBy::Month,
                            GroupBy::Nothing,
                        ][g],
                    );
                }
                q.order(if desc {
                    Order::TimeDesc
                } else {
                    Order::TimeAsc
                })
                .limit(limit)
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn queries_equal_a_brute_force_scan(q in query_strategy()) {
        let f = fixture();
        if q.org.is_some_and(|o| o.0 > 60) {
            prop_assert!(matches!(f.db.query(&q), Err(folio::Error::UnknownOrg(_))));
            return Ok(());
        }
        let mut want: Vec<&Row> = f.rows.iter().filter(|r| matches(&q, r)).collect();
        want.sort_by_key(|r| (r.3, r.2, r.1.code(), r.0));
        if q.order == Order::TimeDesc {
            want.reverse();
        }
        let plan = f.db.explain(&q).unwrap();
        if let Some((from, to)) = q.time {
            for p in &plan.partitions {
                prop_assert!(p.month >= Month::of_utc(from).expect("month") && p.month <= Month::of_utc(to - 1).expect("month"), "{plan}");
            }
        }
        prop_assert!(plan.partitions.len() <= plan.partitions_total);
        match f.db.query(&q).unwrap() {
            QueryOutput::Rows { rows, next } => {
                let got: Vec<(u64, u64, Kind)> = rows.iter().map(|e| (e.org.0, e.id.0, e.kind)).collect();
                let expected: Vec<(u64, u64, Kind)> = want.iter().take(q.limit).map(|r| (r.0, r.2, r.1)).collect();
                prop_assert_eq!(&got, &expected, "{}", plan);
                for e in &rows {
                    let r = f.rows.iter().find(|r| r.0 == e.org.0 && r.2 == e.id.0 && r.1 == e.kind).unwrap();
                    let signed = if e.reverses.is_some() { -e.amount.0 } else { e.amount.0 };
                    prop_assert_eq!((signed, e.category, e.payment_method, e.status), (r.4, r.5, r.6, r.7));
                }
                prop_assert_eq!(next.is_some(), rows.len() == q.limit);
                // The next page continues exactly where this one stopped.
                if let Some(cursor) = next {
                    let decoded = folio::Cursor::decode(&cursor.encode()).unwrap();
                    let more = match f.db.query(&q.clone().after(decoded)).unwrap() {
                        QueryOutput::Rows { rows, .. } => rows,
                        _ => unreachable!(),
                    };
                    let got: Vec<(u64, u64)> = more.iter().map(|e| (e.org.0, e.id.0)).collect();
                    let expected: Vec<(u64, u64)> = want.iter().skip(q.limit).take(q.limit).map(|r| (r.0, r.2)).collect();
                    prop_assert_eq!(got, expected);
                }
            }
            QueryOutput::Projected { rows, next, .. } => {
                use folio::Value;
                let got: Vec<(u64, Vec<Value>)> = rows.iter().map(|r| (r.org.0, r.values.clone())).collect();
                let expected: Vec<(u64, Vec<Value>)> = want
                    .iter()
                    .take(q.limit)
                    .map(|r| (r.0, vec![Value::EntryId(r.2), Value::Amount(Money(r.4)), Value::Category(r.5), Value::PaymentMethod(r.6)]))
                    .collect();
                prop_assert_eq!(got, expected, "{}", plan);
                prop_assert_eq!(next.is_some(), rows.len() == q.limit);
            }
            QueryOutput::Groups(groups) => {
                let mut expected: std::collections::BTreeMap<GroupKey, (i64, u64, i64, i64)> = Default::default();
                for r in &want {
                    let key = match q.group_by.unwrap() {
                        GroupBy::Category => GroupKey::Category(r.5),
                        GroupBy::PaymentMethod => GroupKey::PaymentMethod(r.6),
                        GroupBy::Day => GroupKey::Day(BusinessDay::from_days(r.3.div_euclid(86_400) as i32).expect("day")),
                        GroupBy::Month => GroupKey::Month(Month::of_utc(r.3).expect("month")),
                        GroupBy::Nothing => GroupKey::All,
                    };
                    let g = expected.entry(key).or_insert((0, 0, i64::MAX, i64::MIN));
                    g.0 += r.4;
                    g.1 += 1;
                    g.2 = g.2.min(r.4);
                    g.3 = g.3.max(r.4);
                }
                let got: Vec<_> = groups.iter().map(|g| (g.key, (g.sum.0, g.count, g.min.0, g.max.0))).collect();
                let expected: Vec<_> = expected.into_iter().collect();
                prop_assert_eq!(got, expected, "{}", plan);
            }
        }
    }
}

#[test]
fn explain_names_the_index_it_uses_and_bad_queries_are_refused() {
    let f = fixture();
    let q = Query::expenses()
        .org(OrgId(1))
        .status(ExpenseStatus::Pending);
    let plan = f.db.explain(&q).unwrap();
    assert!(plan.to_string().contains("expenses_pending"), "{plan}");
    let q = Query::revenues()
        .org(OrgId(1))
        .category(Category::Rooms)
        .group_by(GroupBy::Category);
    let plan = f.db.explain(&q).unwrap();
    assert!(
        plan.to_string()
            .contains("revenues_org_cat_time (prefix 1, covered)"),
        "{plan}"
    );
    let q = Query::ledger()
        .org(OrgId(2))
        .between(1_709_251_200, 1_711_929_600);
    let plan = f.db.explain(&q).unwrap();
    assert_eq!(plan.partitions.len(), 2, "{plan}");
    assert!(plan.to_string().contains("clustered"), "{plan}");
    let q = Query::revenues().group_by(GroupBy::Nothing);
    assert!(f
        .db
        .explain(&q)
        .unwrap()
        .to_string()
        .contains("scan of every org"));
    for bad in [
        Query::revenues().limit(0),
        Query::revenues().limit(folio::limits::MAX_QUERY_LIMIT + 1),
        Query::revenues().between(10, 10),
        Query::revenues().status(ExpenseStatus::Paid),
        Query::revenues().category(Category::Payroll),
        Query::revenues().amount(Some(Money(5)), Some(Money(1))),
    ] {
        assert!(
            matches!(f.db.query(&bad), Err(folio::Error::InvalidArgument(_))),
            "{bad:?}"
        );
    }
    assert!(matches!(
        f.db.query(&Query::revenues().org(OrgId(999))),
        Err(folio::Error::UnknownOrg(_))
    ));
    for text in [
        "",
        "fc1",
        "fc1.1.2.1.1.deadbeef",
        "xx.1.2.1.1.00000000",
        "fc1.a.b.c.d.e",
    ] {
        assert!(folio::Cursor::decode(text).is_err(), "{text}");
    }
}

#[test]
fn balance_queries_prune_shards_by_org_and_match_day_rows() {
    let f = fixture();
    let from = BusinessDay::parse("2024-03-01").unwrap();
    let to = BusinessDay::parse("2024-03-31").unwrap();
    let view = f.db.snapshot();
    let q = folio::BalanceQuery::new(from, to).org(OrgId(3));
    let plan = view.explain_balances(&q).unwrap();
    assert_eq!((plan.shards.len(), plan.shards_total), (1, 4));
    assert_eq!(
        view.query_balances(&q).unwrap(),
        view.balances(OrgId(3), from, to).unwrap()
    );
    let all = folio::BalanceQuery::new(from, to)
        .active_only()
        .limit(10_000);
    assert_eq!(view.explain_balances(&all).unwrap().shards.len(), 4);
    let rows = view.query_balances(&all).unwrap();
    let want: usize = (1..=60)
        .map(|org| {
            view.balances(OrgId(org), from, to)
                .unwrap()
                .iter()
                .filter(|b| b.revenue_count + b.expense_count > 0)
                .count()
        })
        .sum();
    assert_eq!(rows.len(), want);
    assert!(view
        .query_balances(&folio::BalanceQuery::new(to, from))
        .is_err());
    assert!(view
        .query_balances(&folio::BalanceQuery::new(from, to).limit(0))
        .is_err());
}

/// A cursor is bound to the query that produced it: another org, table, order, range or filter
/// refuses it (typed `CursorMismatch`); another page size or projection keeps it.
#[test]
fn a_cursor_only_continues_the_query_that_made_it() {
    let f = fixture();
    let q = Query::ledger().org(OrgId(1)).limit(5);
    let QueryOutput::Rows {
        next: Some(cursor), ..
    } = f.db.query(&q).unwrap()
    else {
        panic!("a full page expected")
    };
    let cursor = folio::Cursor::decode(&cursor.encode()).unwrap();
    assert!(f.db.query(&q.clone().after(cursor)).is_ok());
    assert!(f.db.query(&q.clone().limit(7).after(cursor)).is_ok());
    assert!(f
        .db
        .query(&q.clone().select(&[folio::Column::EntryId]).after(cursor))
        .is_ok());
    for other in [
        Query::ledger().org(OrgId(2)).limit(5),
        Query::ledger().limit(5),
        Query::revenues().org(OrgId(1)).limit(5),
        Query::ledger()
            .org(OrgId(1))
            .order(Order::TimeDesc)
            .limit(5),
        Query::ledger()
            .org(OrgId(1))
            .between(0, 1_900_000_000)
            .limit(5),
        Query::ledger()
            .org(OrgId(1))
            .category(Category::Rooms)
            .limit(5),
        Query::ledger()
            .org(OrgId(1))
            .amount(Some(Money(1)), None)
            .limit(5),
    ] {
        assert!(
            matches!(
                f.db.query(&other.clone().after(cursor)),
                Err(folio::Error::CursorMismatch)
            ),
            "{other:?}"
        );
    }
}
