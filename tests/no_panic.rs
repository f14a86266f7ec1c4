//! No panic from public input: every public read and write method of `Db`, `Snapshot`,
//! `Replica` and `ReadPool` (and the calendar and cursor types their arguments are built from),
//! driven with arbitrary arguments — days, months, ranges, limits, cursors, org ids, amounts and
//! timestamps at their extremes. Each call must return `Ok` or a typed `Err`; a panic fails the
//! property (proptest catches it and shrinks the input). Answers stay within their limits, and
//! the database stays usable: no call may leave it closed or poisoned.
//!
//! CI runs this file twice: with the test profile's overflow checks, and with them off
//! (`CARGO_PROFILE_TEST_OVERFLOW_CHECKS=false`, which reaches the engine library too) as an
//! embedder's release build may have them, where an unchecked overflow would wrap silently
//! instead of panicking.

#![allow(clippy::unwrap_used)]

use folio::codec::record::{EntryRecord, IndexRecord, LogBatch, LogOp, OrgRecord, PayRecord};
use folio::limits::{MAX_LIST_ENTRIES, MAX_RANGE_DAYS};
use folio::{BalanceQuery, Cursor, GroupBy, Order, Query, QueryOutput, Tables};
use folio::{Balancing, PoolOptions, ReplicaOptions, ShippedFrame};
use folio::{
    Batch, BusinessDay, Category, Consistency, Currency, Db, Durability, Entry, EntryId, Error,
    ExpenseStatus, Kind, Lsn, Money, Month, Op, Options, Org, OrgId, PayExpense, PaymentMethod,
    ReadPool, Replica, Reversal, Snapshot,
};
use folio::{Column, IndexDef, Predicate};
use folio::{MAX_TIMESTAMP, MIN_TIMESTAMP};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use std::sync::Arc;
use std::time::Duration;

/// 2024-01-01T00:00:00Z.
const T0: i64 = 1_704_067_200;
const DAY: i64 = 86_400;

fn runner(cases: u32) -> TestRunner {
    TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    })
}

// ------------------------------------------------------------------ the calendar API under test

/// The day a day number names, if it is one: out of range is a typed error.
fn day(days: i32) -> Option<BusinessDay> {
    match BusinessDay::from_days(days) {
        Ok(day) => {
            assert_eq!(day.days(), days);
            Some(day)
        }
        Err(e) => {
            assert!(matches!(e, Error::OutOfRange { .. }), "{e:?}");
            assert!(days < BusinessDay::MIN.days() || days > BusinessDay::MAX.days());
            None
        }
    }
}

/// The month a month index (`year * 12 + month - 1`) names, if it is one.
fn month(index: i32) -> Option<Month> {
    match Month::from_index(index) {
        Ok(month) => {
            assert_eq!(month.index(), index);
            Some(month)
        }
        Err(e) => {
            assert!(matches!(e, Error::OutOfRange { .. }), "{e:?}");
            assert!(index < Month::MIN.index() || index > Month::MAX.index());
            None
        }
    }
}

/// Every calendar constructor and operation, with arbitrary input; what comes out is in range.
fn calendar_calls(days: i32, index: i32, ts: i64, year: i32, number: u32, text: &str) {
    let in_range = |d: BusinessDay| BusinessDay::MIN <= d && d <= BusinessDay::MAX;
    if let Some(d) = day(days) {
        for next in [d.next(), d.prev(), d.checked_add_days(i64::from(days))]
            .into_iter()
            .flatten()
        {
            assert!(in_range(next));
        }
        let _ = (d.month(), d.day_of_month(), d.date(), d.start_utc());
        assert_eq!(d.to_string().len(), 10);
        assert_eq!(
            BusinessDay::MIN.days_until(d) + d.days_until(BusinessDay::MAX),
            BusinessDay::MAX.days() - BusinessDay::MIN.days()
        );
    }
    let days_of_ts = [
        BusinessDay::utc(ts),
        BusinessDay::of(ts, chrono_tz::Tz::Pacific__Kiritimati),
        BusinessDay::of(ts, chrono_tz::Tz::Etc__GMTPlus12),
    ];
    for d in days_of_ts {
        match d {
            Ok(d) => assert!(in_range(d)),
            Err(e) => assert!(matches!(e, Error::OutOfRange { .. }), "{e:?}"),
        }
    }
    if (MIN_TIMESTAMP..=MAX_TIMESTAMP).contains(&ts) {
        assert!(BusinessDay::of(ts, chrono_tz::Tz::Pacific__Kiritimati).is_ok());
        assert!(BusinessDay::of(ts, chrono_tz::Tz::Etc__GMTPlus12).is_ok());
    }
    for d in [
        BusinessDay::from_ymd(year, number, 1),
        BusinessDay::parse(text),
    ]
    .into_iter()
    .flatten()
    {
        assert!(in_range(d));
    }
    if let Some(m) = month(index) {
        for next in [m.next(), m.prev(), m.checked_add_months(i64::from(index))]
            .into_iter()
            .flatten()
        {
            assert!(Month::MIN <= next && next <= Month::MAX);
        }
        assert!(m.first_day() <= m.last_day());
        assert!(m.start_utc() < m.end_utc());
        assert_eq!(i64::from(m.days()) * 86_400, m.end_utc() - m.start_utc());
        let _ = (m.year(), m.month_number(), m.to_string());
    }
    let _ = (Month::of_utc(ts), Month::from_ym(year, number));
    match Month::new(year, number) {
        Ok(m) => assert_eq!((m.year(), m.month_number()), (year, number)),
        Err(e) => assert!(matches!(e, Error::OutOfRange { .. }), "{e:?}"),
    }
}

fn replica_of(db: &Db, name: &str) -> Arc<Replica> {
    Arc::new(db.replica(name).unwrap())
}

fn pool_of(db: &Arc<Db>, replicas: Vec<Arc<Replica>>, options: PoolOptions) -> ReadPool {
    ReadPool::new(db.clone(), replicas, options).unwrap()
}

// ---------------------------------------------------------------------------------- strategies

fn any_days() -> impl Strategy<Value = i32> {
    prop_oneof![
        any::<i32>(),
        Just(i32::MIN),
        Just(i32::MAX),
        Just(0),
        // 0001-01-01 and 9999-12-31, give or take a few days.
        -719_165..=-719_159i32,
        2_932_893..=2_932_899i32,
        // Around 1900-01-01 and the workload's year.
        -25_570..-25_560i32,
        19_700..20_100i32,
    ]
}

fn any_month_index() -> impl Strategy<Value = i32> {
    prop_oneof![
        any::<i32>(),
        Just(i32::MIN),
        Just(i32::MAX),
        Just(0),
        9..=15i32,
        119_996..=120_003i32,
        24_280..24_300i32,
    ]
}

fn any_ts() -> impl Strategy<Value = i64> {
    prop_oneof![
        any::<i64>(),
        Just(i64::MIN),
        Just(i64::MAX),
        MIN_TIMESTAMP - 2..=MIN_TIMESTAMP + 2,
        MAX_TIMESTAMP - 2..=MAX_TIMESTAMP + 2,
        T0 - DAY..T0 + 400 * DAY,
    ]
}

fn any_amount() -> impl Strategy<Value = i64> {
    prop_oneof![
        any::<i64>(),
        Just(i64::MIN),
        Just(i64::MAX),
        Just(0),
        Just(-1),
        1..100_000i64,
    ]
}

fn any_limit() -> impl Strategy<Value = usize> {
    prop_oneof![
        Just(0),
        Just(1),
        Just(usize::MAX),
        any::<usize>(),
        0..300usize,
        9_999..=10_001usize,
    ]
}

fn any_org() -> impl Strategy<Value = OrgId> {
    prop_oneof![
        3 => 1..=3u64,
        1 => any::<u64>(),
        1 => Just(0u64),
        1 => Just(u64::MAX),
    ]
    .prop_map(OrgId)
}

fn any_duration() -> impl Strategy<Value = Duration> {
    prop_oneof![
        Just(Duration::ZERO),
        Just(Duration::MAX),
        (0..50u64).prop_map(Duration::from_millis),
        any::<u64>().prop_map(Duration::from_secs),
    ]
}

fn any_category() -> impl Strategy<Value = Category> {
    prop::sample::select(Category::ALL.to_vec())
}

fn any_method() -> impl Strategy<Value = PaymentMethod> {
    prop::sample::select(PaymentMethod::ALL.to_vec())
}

fn any_kind() -> impl Strategy<Value = Kind> {
    prop::sample::select(Kind::ALL.to_vec())
}

fn any_status() -> impl Strategy<Value = ExpenseStatus> {
    prop::sample::select(ExpenseStatus::ALL.to_vec())
}

fn any_column() -> impl Strategy<Value = Column> {
    prop::sample::select(Column::ALL.to_vec())
}

fn any_text() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        ".{0,12}",
        "[0-9+-]{1,12}",
        "[0-9]{4}-[0-9]{2}-[0-9]{2}",
        "fc2\\.[0-9.a-f-]{0,40}",
        (0..600usize).prop_map(|n| "x".repeat(n)),
    ]
}

fn any_entry() -> impl Strategy<Value = Entry> {
    (
        any_org(),
        prop_oneof![Just(0u64), 1..40u64, any::<u64>()],
        any_kind(),
        any_ts(),
        any_amount(),
        any_category(),
        any_method(),
        proptest::option::of(any_status()),
        any_text(),
    )
        .prop_map(
            |(org, id, kind, occurred_at, amount, category, payment_method, status, reference)| {
                Entry {
                    org,
                    id: EntryId(id),
                    kind,
                    occurred_at,
                    amount: Money(amount),
                    category,
                    payment_method,
                    status,
                    reference,
                }
            },
        )
}

fn any_time_zone() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("UTC".to_string()),
        Just("Pacific/Kiritimati".to_string()),
        Just("Etc/GMT+12".to_string()),
        Just("America/New_York".to_string()),
        any_text(),
    ]
}

fn any_org_record() -> impl Strategy<Value = Org> {
    (
        any_org(),
        any_text(),
        prop_oneof![
            Just(*b"EUR"),
            Just(*b"JPY"),
            Just(*b"CLF"),
            any::<[u8; 3]>()
        ],
        any_time_zone(),
        any_amount(),
        any_ts(),
    )
        .prop_map(|(id, name, currency, tz, opening, created_at)| {
            Org::new(id, name, Currency(currency))
                .with_time_zone(tz)
                .with_opening_balance(Money(opening))
                .with_created_at(created_at)
        })
}

fn any_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        1 => any_org_record().prop_map(Op::RegisterOrg),
        6 => any_entry().prop_map(Op::Post),
        2 => (any_org(), 1..60u64, prop_oneof![1..40u64, any::<u64>()], any_ts(), any_text())
            .prop_map(|(org, id, reverses, occurred_at, reference)| Op::Reverse(Reversal {
                org,
                id: EntryId(id),
                reverses: EntryId(reverses),
                occurred_at,
                reference,
            })),
        2 => (any_org(), prop_oneof![1..40u64, any::<u64>()], any_ts()).prop_map(
            |(org, entry, paid_at)| Op::Pay(PayExpense {
                org,
                entry: EntryId(entry),
                paid_at,
            })
        ),
    ]
}

fn any_predicate() -> impl Strategy<Value = Option<Predicate>> {
    proptest::option::of(prop_oneof![
        any_status().prop_map(Predicate::StatusIs),
        any_method().prop_map(Predicate::PaymentMethodIs),
        any_category().prop_map(Predicate::CategoryIs),
        any_amount().prop_map(Predicate::AmountAtLeast),
    ])
}

fn any_index() -> impl Strategy<Value = IndexDef> {
    (
        prop_oneof![Just("by_day".to_string()), "[a-z_]{1,8}", any_text()],
        any_kind(),
        prop::collection::vec(any_column(), 0..5),
        prop::collection::vec(any_column(), 0..4),
        any_predicate(),
    )
        .prop_map(|(name, table, key, include, predicate)| IndexDef {
            name,
            table,
            key,
            include,
            predicate,
        })
}

/// A query's arguments; the days are raw day numbers (see [`QuerySpec::build`]).
#[derive(Clone, Debug)]
struct QuerySpec {
    tables: Tables,
    org: Option<OrgId>,
    time: Option<(i64, i64)>,
    days: Option<(i32, i32)>,
    category: Option<Category>,
    payment_method: Option<PaymentMethod>,
    status: Option<ExpenseStatus>,
    amount: (Option<i64>, Option<i64>),
    group_by: Option<GroupBy>,
    order: Order,
    limit: usize,
    /// A cursor: its fields, and whether it is bound to this query.
    after: Option<(i64, u64, Kind, OrgId, u64, bool)>,
    select: Option<Vec<Column>>,
}

impl QuerySpec {
    fn build(&self) -> Option<Query> {
        let days = match self.days {
            Some((from, to)) => Some((day(from)?, day(to)?)),
            None => None,
        };
        let mut q = Query {
            tables: self.tables,
            org: self.org,
            time: self.time,
            days,
            category: self.category,
            payment_method: self.payment_method,
            status: self.status,
            amount: self.amount,
            group_by: self.group_by,
            order: self.order,
            limit: self.limit,
            after: None,
            select: self.select.clone(),
        };
        if let Some((occurred_at, entry_id, kind, org, query, bound)) = self.after {
            let fingerprint = q.fingerprint();
            q.after = Some(Cursor {
                occurred_at,
                entry_id,
                kind,
                org,
                query: if bound { fingerprint } else { query },
            });
        }
        Some(q)
    }
}

fn any_query() -> impl Strategy<Value = QuerySpec> {
    let filters = (
        prop::sample::select(vec![Tables::Revenues, Tables::Expenses, Tables::Both]),
        proptest::option::of(any_org()),
        proptest::option::of((any_ts(), any_ts())),
        proptest::option::of((any_days(), any_days())),
        proptest::option::of(any_category()),
        proptest::option::of(any_method()),
        proptest::option::of(any_status()),
        (
            proptest::option::of(any_amount()),
            proptest::option::of(any_amount()),
        ),
    );
    let shape = (
        proptest::option::of(prop::sample::select(vec![
            GroupBy::Category,
            GroupBy::PaymentMethod,
            GroupBy::Day,
            GroupBy::Month,
            GroupBy::Nothing,
        ])),
        prop::sample::select(vec![Order::TimeAsc, Order::TimeDesc]),
        any_limit(),
        proptest::option::of((
            any_ts(),
            any::<u64>(),
            any_kind(),
            any_org(),
            any::<u64>(),
            any::<bool>(),
        )),
        proptest::option::of(prop::collection::vec(any_column(), 0..4)),
    );
    (filters, shape).prop_map(
        |(
            (tables, org, time, days, category, payment_method, status, amount),
            (group_by, order, limit, after, select),
        )| QuerySpec {
            tables,
            org,
            time,
            days,
            category,
            payment_method,
            status,
            amount,
            group_by,
            order,
            limit,
            after,
            select,
        },
    )
}

/// One read of the typed read API (`Snapshot`, `PoolRead`), with raw arguments.
#[derive(Clone, Debug)]
enum Read {
    Lsn,
    Balance(OrgId, i32),
    Balances(OrgId, i32, i32),
    Entries(OrgId, i64, i64),
    Closing(OrgId, i32),
    Org(OrgId),
    Orgs,
    Monthly(OrgId, i32),
    MonthTotals(OrgId, i32),
    LedgerPage(OrgId, i64, i64, usize),
    Pending(OrgId, usize),
    Top(i32, usize),
    Chain(Vec<OrgId>, i32),
    Daily(OrgId, i32),
    Indexes,
    QueryBalances(Option<OrgId>, i32, i32, bool, usize),
    ExplainBalances(Option<OrgId>, i32, i32, bool, usize),
    Query(Box<QuerySpec>),
    Explain(Box<QuerySpec>),
    EntryCount,
    Partitions,
    /// A cursor's text form, decoded.
    Cursor(String),
    /// The calendar types' own constructors and arithmetic.
    Calendar(i32, i32, i64, i32, u32, String),
}

fn any_read() -> impl Strategy<Value = Read> {
    let balances = || {
        (
            proptest::option::of(any_org()),
            any_days(),
            any_days(),
            any::<bool>(),
            any_limit(),
        )
    };
    prop_oneof![
        Just(Read::Lsn),
        (any_org(), any_days()).prop_map(|(o, d)| Read::Balance(o, d)),
        (any_org(), any_days(), any_days()).prop_map(|(o, a, b)| Read::Balances(o, a, b)),
        (any_org(), any_ts(), any_ts()).prop_map(|(o, a, b)| Read::Entries(o, a, b)),
        (any_org(), any_days()).prop_map(|(o, d)| Read::Closing(o, d)),
        any_org().prop_map(Read::Org),
        Just(Read::Orgs),
        (any_org(), any_month_index()).prop_map(|(o, m)| Read::Monthly(o, m)),
        (any_org(), any_month_index()).prop_map(|(o, m)| Read::MonthTotals(o, m)),
        (any_org(), any_ts(), any_ts(), any_limit())
            .prop_map(|(o, a, b, l)| Read::LedgerPage(o, a, b, l)),
        (any_org(), any_limit()).prop_map(|(o, l)| Read::Pending(o, l)),
        (any_month_index(), any_limit()).prop_map(|(m, l)| Read::Top(m, l)),
        (prop::collection::vec(any_org(), 0..5), any_month_index())
            .prop_map(|(o, m)| Read::Chain(o, m)),
        (any_org(), any_days()).prop_map(|(o, d)| Read::Daily(o, d)),
        Just(Read::Indexes),
        balances().prop_map(|(o, a, b, act, l)| Read::QueryBalances(o, a, b, act, l)),
        balances().prop_map(|(o, a, b, act, l)| Read::ExplainBalances(o, a, b, act, l)),
        any_query().prop_map(|q| Read::Query(Box::new(q))),
        any_query().prop_map(|q| Read::Explain(Box::new(q))),
        Just(Read::EntryCount),
        Just(Read::Partitions),
        any_text().prop_map(Read::Cursor),
        (
            any_days(),
            any_month_index(),
            any_ts(),
            prop_oneof![any::<i32>(), 0..=10_001i32],
            prop_oneof![any::<u32>(), 0..=13u32],
            any_text()
        )
            .prop_map(|(d, m, t, y, n, s)| Read::Calendar(d, m, t, y, n, s)),
    ]
}

// ------------------------------------------------------------------------------------ checking

/// A call's answer: `Ok`, or an error that is not the database failing (closed or poisoned,
/// which is what a panicking committer turns into).
fn answer<T>(what: &str, result: Result<T, Error>) -> Option<T> {
    match result {
        Ok(value) => Some(value),
        Err(e @ (Error::Closed | Error::Poisoned(_))) => panic!("{what}: {e}"),
        Err(_) => None,
    }
}

fn balance_query(
    org: Option<OrgId>,
    from: i32,
    to: i32,
    active: bool,
    limit: usize,
) -> Option<BalanceQuery> {
    Some(BalanceQuery {
        org,
        days: (day(from)?, day(to)?),
        active_only: active,
        limit,
    })
}

fn check_output(output: &QueryOutput, limit: usize) {
    match output {
        QueryOutput::Rows { rows, .. } => assert!(rows.len() <= limit),
        QueryOutput::Projected { rows, .. } => assert!(rows.len() <= limit),
        QueryOutput::Groups(_) => {}
    }
}

/// Runs one [`Read`] on a view with the typed read methods (a `Snapshot` or a `PoolRead`).
macro_rules! run_read {
    ($view:expr, $read:expr) => {{
        let v = $view;
        match $read {
            Read::Lsn => {
                let _ = v.lsn();
            }
            Read::Balance(org, d) => {
                if let Some(d) = day(*d) {
                    if let Some(b) = answer("balance", v.balance(*org, d)) {
                        assert_eq!(b.day, d);
                    }
                }
            }
            Read::Balances(org, a, b) => {
                if let (Some(a), Some(b)) = (day(*a), day(*b)) {
                    if let Some(rows) = answer("balances", v.balances(*org, a, b)) {
                        assert!(rows.len() <= MAX_RANGE_DAYS as usize);
                    }
                }
            }
            Read::Entries(org, a, b) => {
                if let Some(rows) = answer("entries", v.entries(*org, *a, *b)) {
                    assert!(rows.len() <= MAX_LIST_ENTRIES);
                }
            }
            Read::Closing(org, d) => {
                if let Some(d) = day(*d) {
                    answer("closing", v.closing_with_cost(*org, d));
                }
            }
            Read::Org(org) => {
                let _ = v.org(*org);
            }
            Read::Orgs => {
                let _ = v.orgs();
            }
            Read::Monthly(org, m) => {
                if let Some(m) = month(*m) {
                    if let Some(r) = answer("monthly_report", v.monthly_report(*org, m)) {
                        assert!(r.daily_closing.len() <= 31);
                    }
                }
            }
            Read::MonthTotals(org, m) => {
                if let Some(m) = month(*m) {
                    answer("month_totals", v.month_totals(*org, m));
                }
            }
            Read::LedgerPage(org, a, b, limit) => {
                if let Some(rows) = answer("ledger_page", v.ledger_page(*org, *a, *b, *limit)) {
                    assert!(rows.len() <= *limit);
                }
            }
            Read::Pending(org, limit) => {
                if let Some(rows) = answer("pending_expenses", v.pending_expenses(*org, *limit)) {
                    assert!(rows.len() <= *limit);
                }
            }
            Read::Top(m, limit) => {
                if let Some(m) = month(*m) {
                    answer("top_revenue", v.top_revenue(m, *limit));
                }
            }
            Read::Chain(orgs, m) => {
                if let Some(m) = month(*m) {
                    if let Some((lines, _)) = answer("chain_revenue", v.chain_revenue(orgs, m)) {
                        assert_eq!(lines.len(), orgs.len());
                    }
                }
            }
            Read::Daily(org, d) => {
                if let Some(d) = day(*d) {
                    answer("daily_report", v.daily_report(*org, d));
                }
            }
            Read::Indexes => {
                let _ = v.indexes();
            }
            Read::QueryBalances(org, a, b, act, limit) => {
                if let Some(q) = balance_query(*org, *a, *b, *act, *limit) {
                    if let Some(rows) = answer("query_balances", v.query_balances(&q)) {
                        assert!(rows.len() <= *limit);
                    }
                }
            }
            Read::ExplainBalances(org, a, b, act, limit) => {
                if let Some(q) = balance_query(*org, *a, *b, *act, *limit) {
                    answer("explain_balances", v.explain_balances(&q));
                }
            }
            Read::Query(spec) => {
                if let Some(q) = spec.build() {
                    if let Some(out) = answer("query", v.query(&q)) {
                        check_output(&out, q.limit);
                    }
                }
            }
            Read::Explain(spec) => {
                if let Some(q) = spec.build() {
                    answer("explain", v.explain(&q));
                }
            }
            Read::EntryCount => {
                let _ = v.entry_count();
            }
            Read::Partitions => {
                let _ = v.partitions();
            }
            Read::Cursor(text) => {
                if let Ok(c) = Cursor::decode(text) {
                    assert_eq!(Cursor::decode(&c.encode()).ok(), Some(c));
                }
            }
            Read::Calendar(d, m, t, y, n, s) => calendar_calls(*d, *m, *t, *y, *n, s),
        }
    }};
}

// ------------------------------------------------------------------------------------ fixtures

struct Fixture {
    dir: tempfile::TempDir,
    db: Arc<Db>,
}

fn options() -> Options {
    Options::default().durability(Durability::Buffered)
}

/// A database with three orgs (UTC, the first and the last time zone of the day) and entries at
/// both ends of the supported time range, a reversal and a payment.
fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open_with(dir.path().join("db"), options()).unwrap();
    let orgs = [
        Org::new(OrgId(1), "Seaside", Currency::EUR),
        Org::new(OrgId(2), "Dateline East", Currency::JPY)
            .with_time_zone("Pacific/Kiritimati")
            .with_opening_balance(Money(i64::MAX / 2)),
        Org::new(OrgId(3), "Dateline West", Currency::EUR)
            .with_time_zone("Etc/GMT+12")
            .with_opening_balance(Money(-1_000)),
    ];
    let mut batch = Batch::new();
    for org in orgs {
        batch = batch.register_org(org);
    }
    db.record(batch).unwrap();
    let mut batch = Batch::new();
    let mut id = 0;
    for org in 1..=3 {
        for at in [MIN_TIMESTAMP, T0, T0 + 40 * DAY, MAX_TIMESTAMP] {
            id += 1;
            batch = batch.post(Entry::revenue(
                OrgId(org),
                EntryId(id),
                at,
                Money(12_000),
                Category::Rooms,
                PaymentMethod::Card,
            ));
            id += 1;
            batch = batch.post(Entry::expense(
                OrgId(org),
                EntryId(id),
                at,
                Money(3_000),
                Category::Supplies,
                PaymentMethod::Cash,
                ExpenseStatus::Pending,
            ));
        }
    }
    db.record(batch).unwrap();
    db.record(
        Batch::new()
            .reverse(Reversal {
                org: OrgId(1),
                id: EntryId(1_000),
                reverses: EntryId(3),
                occurred_at: T0 + DAY,
                reference: "void".into(),
            })
            .pay(PayExpense {
                org: OrgId(1),
                entry: EntryId(4),
                paid_at: T0 + 2 * DAY,
            }),
    )
    .unwrap();
    Fixture {
        dir,
        db: Arc::new(db),
    }
}

fn any_consistency() -> impl Strategy<Value = Consistency> {
    prop_oneof![
        Just(Consistency::Latest),
        Just(Consistency::Any),
        any_duration().prop_map(Consistency::BoundedStaleness),
        (
            prop_oneof![0..8u64, any::<u64>(), Just(u64::MAX)],
            any_duration()
        )
            .prop_map(|(lsn, wait)| Consistency::AtLeast(Lsn(lsn), wait)),
    ]
}

// --------------------------------------------------------------------------------------- tests

/// Every read of `Db` and `Snapshot`.
#[test]
fn reads_of_db_and_snapshot_never_panic() {
    let f = fixture();
    let db = &f.db;
    runner(256)
        .run(&prop::collection::vec(any_read(), 1..12), |reads| {
            let snapshot = db.snapshot();
            for read in &reads {
                run_read!(&snapshot, read);
                // The `Db`'s own reads.
                match read {
                    Read::Balance(org, d) => {
                        if let Some(d) = day(*d) {
                            answer("Db::balance", db.balance(*org, d));
                        }
                    }
                    Read::Balances(org, a, b) => {
                        if let (Some(a), Some(b)) = (day(*a), day(*b)) {
                            answer("Db::balances", db.balances(*org, a, b));
                        }
                    }
                    Read::Entries(org, a, b) => {
                        answer("Db::entries", db.entries(*org, *a, *b));
                    }
                    Read::Org(org) => {
                        let _ = db.org(*org);
                    }
                    Read::Query(spec) => {
                        if let Some(q) = spec.build() {
                            answer("Db::query", db.query(&q));
                        }
                    }
                    Read::Explain(spec) => {
                        if let Some(q) = spec.build() {
                            answer("Db::explain", db.explain(&q));
                        }
                    }
                    Read::Indexes => {
                        let _ = (db.indexes(), db.visible_lsn(), db.snapshot().lsn());
                    }
                    _ => {}
                }
            }
            Ok(())
        })
        .unwrap();
}

/// One write of the `Db` API.
#[derive(Clone, Debug)]
enum Write {
    Record(Vec<Op>),
    Submit(Vec<Op>),
    RegisterOrg(Org),
    CreateIndex(IndexDef),
    DropIndex(String),
    Checkpoint,
    Sync,
    Info,
    Verify,
}

fn any_write() -> impl Strategy<Value = Write> {
    prop_oneof![
        6 => prop::collection::vec(any_op(), 0..6).prop_map(Write::Record),
        3 => prop::collection::vec(any_op(), 0..6).prop_map(Write::Submit),
        1 => any_org_record().prop_map(Write::RegisterOrg),
        1 => any_index().prop_map(Write::CreateIndex),
        1 => prop_oneof![Just("by_day".to_string()), any_text()].prop_map(Write::DropIndex),
        1 => Just(Write::Checkpoint),
        1 => Just(Write::Sync),
        1 => Just(Write::Info),
        1 => Just(Write::Verify),
    ]
}

/// Every write of `Db` with arbitrary batches, indexes and names; reads after each.
#[test]
fn writes_never_panic_and_leave_the_database_usable() {
    let f = fixture();
    let db = &f.db;
    runner(128)
        .run(
            &(prop::collection::vec(any_write(), 1..6), any_read()),
            |(writes, read)| {
                for write in writes {
                    match write {
                        Write::Record(ops) => {
                            answer("record", db.record(Batch::from(ops)));
                        }
                        Write::Submit(ops) => {
                            if let Some(ticket) = answer("submit", db.submit(Batch::from(ops))) {
                                if let Err(e) = ticket.wait_op() {
                                    answer::<()>("ticket", Err(e.error));
                                }
                            }
                        }
                        Write::RegisterOrg(org) => {
                            answer("register_org", db.register_org(org));
                        }
                        Write::CreateIndex(def) => {
                            answer("create_index", db.create_index(def, |_, _| {}));
                        }
                        Write::DropIndex(name) => {
                            answer("drop_index", db.drop_index(&name));
                        }
                        Write::Checkpoint => {
                            answer("checkpoint", db.checkpoint());
                        }
                        Write::Sync => {
                            answer("sync", db.sync());
                        }
                        Write::Info => {
                            answer("info", db.info());
                            let _ = (db.recovery_history(), db.recovery(), db.path());
                            let _ = (db.is_read_only(), db.db_id(), db.log_crc());
                        }
                        Write::Verify => {
                            let report = db.verify();
                            assert!(report.is_ok(), "{report:?}");
                        }
                    }
                }
                run_read!(&db.snapshot(), &read);
                Ok(())
            },
        )
        .unwrap();
    let report = f.db.verify();
    assert!(report.is_ok(), "{report:?}");
    // The edge paths refuse what a primary cannot do, without panicking.
    let db = &f.db;
    answer("replicate", db.replicate(Vec::new()));
    answer(
        "apply_segments",
        db.apply_segments(&[f.dir.path().join("nowhere")]),
    );
    answer("follow", db.follow(&f.dir.path().join("nowhere")));
    answer("checkpoint_to", db.checkpoint_to(f.dir.path()));
}

/// Every read of an in-process `Replica` and of a `ReadPool` (each consistency, keyed and not),
/// and pools built with extreme options.
#[test]
fn replica_and_pool_reads_never_panic() {
    let f = fixture();
    let db = &f.db;
    // Flow-control bounds at the extremes hold the primary back a little or not at all; a
    // write goes through either way.
    for bound in [
        Some(Duration::MAX),
        Some(Duration::ZERO),
        Some(Duration::from_nanos(1)),
        None,
    ] {
        let gated = db
            .replica_with("gated", ReplicaOptions::default().flow_control(bound))
            .unwrap();
        answer(
            "register_org",
            db.register_org(Org::new(OrgId(9), "Gated", Currency::EUR)),
        );
        gated.stop();
    }
    let replica = replica_of(db, "r1");
    assert!(replica.wait_for(db.visible_lsn(), Duration::from_secs(10)));
    let pool = pool_of(
        db,
        vec![replica.clone()],
        PoolOptions::default().health_interval(Duration::from_millis(20)),
    );
    let strategy = (
        prop::collection::vec(any_read(), 1..6),
        any_consistency(),
        proptest::option::of(any_org()),
        prop_oneof![0..8u64, any::<u64>()],
        any_duration(),
    );
    runner(128)
        .run(&strategy, |(reads, consistency, org, lsn, wait)| {
            // The replica itself.
            let _ = (replica.name(), replica.applied_lsn(), replica.lag_lsn());
            let _ = (
                replica.lag_time(),
                replica.last_error(),
                replica.stalled_for(),
            );
            let _ = (
                replica.serves_reads(),
                replica.throttled(),
                replica.queries(),
            );
            if Lsn(lsn) <= replica.applied_lsn() {
                assert!(replica.wait_for(Lsn(lsn), wait));
            }
            if let Some(Some(state)) = answer("Replica::try_snapshot", replica.try_snapshot()) {
                let _ = state.entry_count();
            }
            let snapshot: Option<Snapshot> = answer("Replica::snapshot", replica.snapshot());
            // The pool.
            pool.check_health();
            let _ = pool.status();
            let read = match org {
                Some(org) => pool.read_for(org, consistency),
                None => pool.read(consistency),
            };
            let read = answer("ReadPool::read", read);
            for r in &reads {
                if let Some(snapshot) = &snapshot {
                    run_read!(snapshot, r);
                }
                if let Some(read) = &read {
                    run_read!(read, r);
                }
                if let Read::Query(spec) = r {
                    if let Some(q) = spec.build() {
                        answer("ReadPool::query", pool.query(&q, consistency));
                    }
                }
            }
            if let Some(read) = &read {
                let _ = (read.node(), read.snapshot().lsn());
            }
            Ok(())
        })
        .unwrap();
    drop(pool);
    // Pools with extreme options: no handle, one handle, a huge number of them.
    runner(12)
        .run(
            &(
                prop_oneof![Just(0usize), Just(1), Just(usize::MAX), 0..64usize],
                any_duration(),
                any_consistency(),
                any::<bool>(),
            ),
            |(handles, timeout, consistency, least_lag)| {
                let pool = pool_of(
                    db,
                    vec![replica.clone()],
                    PoolOptions::default()
                        .min_handles(handles)
                        .max_handles(handles)
                        .acquire_timeout(timeout)
                        .balancing(if least_lag {
                            Balancing::LeastLag
                        } else {
                            Balancing::RoundRobin
                        })
                        .health_interval(Duration::from_millis(20))
                        .affinity_reads(handles),
                );
                if let Some(read) = answer("ReadPool::read", pool.read(consistency)) {
                    answer(
                        "PoolRead::balance",
                        read.balance(OrgId(1), day(19_723).unwrap()),
                    );
                }
                let _ = pool.status();
                Ok(())
            },
        )
        .unwrap();
}

/// Log frames shipped to an edge replica whose records hold extreme values (as a damaged or
/// forged log would): refused or applied, never a panic — the values are decoded and checked.
#[test]
fn shipped_frames_with_extreme_values_never_panic() {
    let f = fixture();
    let cp = f.dir.path().join("cp");
    f.db.checkpoint_to(&cp).unwrap();
    // Mostly valid codes, orgs and reversal targets, so that the extreme values get applied.
    let code = |valid: std::ops::RangeInclusive<u8>| prop_oneof![4 => valid, 1 => any::<u8>()];
    let entry = (
        prop_oneof![4 => 1..=3u64, 1 => any::<u64>()],
        prop_oneof![100..200u64, any::<u64>()],
        any_ts(),
        any_amount(),
        prop_oneof![2 => Just(0u64), 2 => 1..=24u64, 1 => any::<u64>()],
        any_days(),
        (code(1..=2), code(1..=10), code(1..=3), code(0..=2)),
    )
        .prop_map(
            |(
                org,
                entry_id,
                occurred_at,
                amount,
                reverses,
                day,
                (kind, category, method, status),
            )| {
                LogOp::Entry(EntryRecord {
                    org,
                    entry_id,
                    occurred_at,
                    amount,
                    reverses,
                    day,
                    kind,
                    category,
                    payment_method: method,
                    status,
                    reference: String::new(),
                })
            },
        );
    let op = prop_oneof![
        6 => entry,
        1 => (prop_oneof![1..=3u64, any::<u64>()], any::<u64>(), any_ts()).prop_map(
            |(org, entry_id, paid_at)| LogOp::Pay(PayRecord { org, entry_id, paid_at })
        ),
        1 => (any::<u64>(), any_time_zone(), any_amount(), any_ts()).prop_map(
            |(org, time_zone, opening, created_at)| LogOp::Org(OrgRecord {
                org,
                name: "forged".into(),
                currency: *b"EUR",
                time_zone,
                opening,
                created_at,
            })
        ),
        1 => (
            any::<bool>(),
            "[a-z]{1,6}",
            0..4u8,
            prop::collection::vec(0..9u8, 0..6),
            prop::collection::vec(0..9u8, 0..5),
            0..6u8,
            any_amount()
        )
            .prop_map(|(create, name, table, key, include, predicate, predicate_value)| {
                LogOp::Index(IndexRecord {
                    create,
                    name,
                    table,
                    key,
                    include,
                    predicate,
                    predicate_value,
                })
            }),
    ];
    let n = std::cell::Cell::new(0);
    runner(64)
        .run(
            &(
                prop::collection::vec(op, 1..5),
                prop::collection::vec(any_read(), 1..4),
                prop_oneof![4 => Just(None), 1 => any::<u64>().prop_map(Some), 1 => Just(Some(u64::MAX))],
            ),
            |(ops, reads, lsn)| {
                n.set(n.get() + 1);
                let edge = f.dir.path().join(format!("edge{}", n.get()));
                folio::seed_from_checkpoint(&cp, &edge).unwrap();
                let replica = Db::open_with(&edge, options()).unwrap();
                let op_count = ops.len() as u32;
                let payload = folio::codec::record::encode(&LogBatch { ops }).unwrap().to_vec();
                let frame = ShippedFrame {
                    lsn: Lsn(lsn.unwrap_or(replica.visible_lsn().0 + 1)),
                    crc: 7,
                    prev_crc: replica.log_crc(),
                    op_count,
                    payload,
                    file: edge.join("shipped"),
                    offset: 0,
                };
                // A log record that contradicts the state poisons the replica (by design: its log
                // now holds it); a panic would too, and says so.
                if let Err(Error::Poisoned(why)) = replica.replicate(vec![frame]) {
                    assert!(!why.contains("panicked"), "{why}");
                }
                let snapshot = replica.snapshot();
                for read in &reads {
                    run_read!(&snapshot, read);
                }
                let _ = replica.verify();
                drop(snapshot);
                drop(replica);
                let _ = std::fs::remove_dir_all(&edge);
                Ok(())
            },
        )
        .unwrap();
}

/// Opening with extreme options: refused or opened, never a panic.
#[test]
fn opening_with_extreme_options_never_panics() {
    let dir = tempfile::tempdir().unwrap();
    let n = std::cell::Cell::new(0);
    runner(8)
        .run(
            &(
                prop_oneof![Just(0u32), Just(1), Just(u32::MAX), 1..64u32],
                prop_oneof![Just(0u64), Just(u64::MAX), 1..100u64],
                any_duration(),
                prop_oneof![Just(0u64), Just(u64::MAX), 1..10_000u64],
            ),
            |(shards, every, interval, segment)| {
                n.set(n.get() + 1);
                let path = dir.path().join(format!("db{}", n.get()));
                let options = Options::default()
                    .shards(shards)
                    .durability(Durability::Buffered)
                    .checkpoint_every_ops(every)
                    .checkpoint_interval(interval)
                    .segment_target_bytes(segment);
                // Opened, the database works whatever its checkpoint and segment settings.
                if let Some(db) = answer("open_with", Db::open_with(&path, options)) {
                    let org = Org::new(OrgId(1), "x", Currency::EUR);
                    assert!(answer("register_org", db.register_org(org)).is_some());
                    let day = day(0).unwrap();
                    assert!(answer("balance", db.balance(OrgId(1), day)).is_some());
                    assert!(answer("close", db.close()).is_some());
                }
                Ok(())
            },
        )
        .unwrap();
}
