//! Arbitrary arguments: days, months, timestamps, amounts, limits, orgs, entries, operations,
//! indexes, queries, reads and read consistencies, with their extremes.

use crate::calendar::day;
use crate::{DAY, T0};
use folio::{
    Category, Consistency, Currency, Entry, EntryId, ExpenseStatus, Kind, Lsn, Money, Op, Org,
    OrgId, PayExpense, PaymentMethod, Reversal,
};
use folio::{Column, IndexDef, Predicate};
use folio::{Cursor, GroupBy, Order, Query, Tables};
use folio::{MAX_TIMESTAMP, MIN_TIMESTAMP};
use proptest::prelude::*;
use std::time::Duration;

pub fn any_days() -> impl Strategy<Value = i32> {
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

pub fn any_month_index() -> impl Strategy<Value = i32> {
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

pub fn any_ts() -> impl Strategy<Value = i64> {
    prop_oneof![
        any::<i64>(),
        Just(i64::MIN),
        Just(i64::MAX),
        MIN_TIMESTAMP - 2..=MIN_TIMESTAMP + 2,
        MAX_TIMESTAMP - 2..=MAX_TIMESTAMP + 2,
        T0 - DAY..T0 + 400 * DAY,
    ]
}

pub fn any_amount() -> impl Strategy<Value = i64> {
    prop_oneof![
        any::<i64>(),
        Just(i64::MIN),
        Just(i64::MAX),
        Just(0),
        Just(-1),
        1..100_000i64,
    ]
}

pub fn any_limit() -> impl Strategy<Value = usize> {
    prop_oneof![
        Just(0),
        Just(1),
        Just(usize::MAX),
        any::<usize>(),
        0..300usize,
        9_999..=10_001usize,
    ]
}

pub fn any_org() -> impl Strategy<Value = OrgId> {
    prop_oneof![
        3 => 1..=3u64,
        1 => any::<u64>(),
        1 => Just(0u64),
        1 => Just(u64::MAX),
    ]
    .prop_map(OrgId)
}

pub fn any_duration() -> impl Strategy<Value = Duration> {
    prop_oneof![
        Just(Duration::ZERO),
        Just(Duration::MAX),
        (0..50u64).prop_map(Duration::from_millis),
        any::<u64>().prop_map(Duration::from_secs),
    ]
}

pub fn any_category() -> impl Strategy<Value = Category> {
    prop::sample::select(Category::ALL.to_vec())
}

pub fn any_method() -> impl Strategy<Value = PaymentMethod> {
    prop::sample::select(PaymentMethod::ALL.to_vec())
}

pub fn any_kind() -> impl Strategy<Value = Kind> {
    prop::sample::select(Kind::ALL.to_vec())
}

pub fn any_status() -> impl Strategy<Value = ExpenseStatus> {
    prop::sample::select(ExpenseStatus::ALL.to_vec())
}

pub fn any_column() -> impl Strategy<Value = Column> {
    prop::sample::select(Column::ALL.to_vec())
}

pub fn any_text() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        ".{0,12}",
        "[0-9+-]{1,12}",
        "[0-9]{4}-[0-9]{2}-[0-9]{2}",
        "fc2\\.[0-9.a-f-]{0,40}",
        (0..600usize).prop_map(|n| "x".repeat(n)),
    ]
}

pub fn any_entry() -> impl Strategy<Value = Entry> {
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

pub fn any_time_zone() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("UTC".to_string()),
        Just("Pacific/Kiritimati".to_string()),
        Just("Etc/GMT+12".to_string()),
        Just("America/New_York".to_string()),
        any_text(),
    ]
}

pub fn any_org_record() -> impl Strategy<Value = Org> {
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

pub fn any_op() -> impl Strategy<Value = Op> {
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

pub fn any_predicate() -> impl Strategy<Value = Option<Predicate>> {
    proptest::option::of(prop_oneof![
        any_status().prop_map(Predicate::StatusIs),
        any_method().prop_map(Predicate::PaymentMethodIs),
        any_category().prop_map(Predicate::CategoryIs),
        any_amount().prop_map(Predicate::AmountAtLeast),
    ])
}

pub fn any_index() -> impl Strategy<Value = IndexDef> {
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
pub struct QuerySpec {
    pub tables: Tables,
    pub org: Option<OrgId>,
    pub time: Option<(i64, i64)>,
    pub days: Option<(i32, i32)>,
    pub category: Option<Category>,
    pub payment_method: Option<PaymentMethod>,
    pub status: Option<ExpenseStatus>,
    pub amount: (Option<i64>, Option<i64>),
    pub group_by: Option<GroupBy>,
    pub order: Order,
    pub limit: usize,
    /// A cursor: its fields, and whether it is bound to this query.
    pub after: Option<(i64, u64, Kind, OrgId, u64, bool)>,
    pub select: Option<Vec<Column>>,
}

impl QuerySpec {
    pub fn build(&self) -> Option<Query> {
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

pub fn any_query() -> impl Strategy<Value = QuerySpec> {
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
pub enum Read {
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

pub fn any_read() -> impl Strategy<Value = Read> {
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

pub fn any_consistency() -> impl Strategy<Value = Consistency> {
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
