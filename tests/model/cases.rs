//! Fixed facts of the reference model (so that a bug in the model does not silently agree with
//! a bug in Folio) and fixed regressions, checked against the model or by hand.

use crate::common;
use crate::driver::{compare, open, run_batch};
use crate::reference::reports::{month_days, utc_month};
use crate::reference::{local_day, Model, Rej};
use crate::strategies::{Case, Probe, TsGen, ORG_ID_TABLES};
use chrono_tz::Tz;
use folio::{
    Batch, BusinessDay, Category, Currency, Durability, Entry, EntryId, Error, ExpenseStatus,
    Money, Op, Org, OrgId, PayExpense, PaymentMethod, Rejection, Reversal, MIN_TIMESTAMP,
};

/// The model's calendar: business days in a few zones, UTC months and their days.
#[test]
fn model_calendar() {
    // 2024-03-10T04:30:00Z is still March 9 in New York; Chatham is 13:45 ahead in summer.
    assert_eq!(
        BusinessDay::from_days(local_day(1_710_045_000, Tz::America__New_York))
            .expect("day")
            .to_string(),
        "2024-03-09"
    );
    assert_eq!(
        BusinessDay::from_days(local_day(1_704_017_700, Tz::Pacific__Chatham))
            .expect("day")
            .to_string(),
        "2024-01-01"
    );
    assert_eq!(
        BusinessDay::from_days(local_day(1_706_725_800, Tz::Asia__Kolkata))
            .expect("day")
            .to_string(),
        "2024-02-01"
    );
    // 2024-01-31T23:59:59Z is in January 2024; February 2024 is days 19_754..=19_782.
    assert_eq!(utc_month(1_706_745_599), 2024 * 12);
    assert_eq!(utc_month(1_706_745_600), 2024 * 12 + 1);
    assert_eq!(month_days(2024 * 12 + 1), (19_754, 19_782));
    // December 1899 ends on 1899-12-31, the first supported instant's business day west of UTC.
    assert_eq!(month_days(1899 * 12 + 11).1, -25_568);
}

/// The model itself: a few fixed facts it must get right, so that a bug in the model does not
/// silently agree with a bug in Folio.
#[test]
fn model_sanity() {
    let mut m = Model::default();
    let org = Org::new(OrgId(1), "Hotel 1", Currency::EUR).with_opening_balance(Money(100));
    let register = [Op::RegisterOrg(org)];
    assert_eq!(m.record(&register), Ok(true));
    assert_eq!(m.record(&register), Ok(false));
    let e = Entry::revenue(
        OrgId(1),
        EntryId(7),
        1_704_067_200,
        Money(50),
        Category::Rooms,
        PaymentMethod::Card,
    );
    assert_eq!(m.record(&[Op::Post(e.clone())]), Ok(true));
    assert_eq!(m.record(&[Op::Post(e)]), Ok(false));
    let r = Reversal {
        org: OrgId(1),
        id: EntryId(8),
        reverses: EntryId(7),
        occurred_at: 1_704_067_200 + 86_400,
        reference: String::new(),
    };
    assert_eq!(m.record(&[Op::Reverse(r)]), Ok(true));
    assert_eq!(m.lsn(), 3);
    let rows = m.balances(1, 19_722, 19_724).unwrap();
    let closings: Vec<i64> = rows.iter().map(|b| b.closing.0).collect();
    assert_eq!(closings, vec![100, 150, 100]);
    assert_eq!(rows[2].revenue, Money(-50));
    assert_eq!(rows[2].revenue_count, 1);
    let big = Entry::revenue(
        OrgId(1),
        EntryId(9),
        1_704_067_200,
        Money(i64::MAX),
        Category::Rooms,
        PaymentMethod::Card,
    );
    assert_eq!(m.record(&[Op::Post(big)]), Err(vec![Rej::Overflow(1)]));
    // A rejected batch changes nothing, also when an earlier operation of it was valid.
    let valid = Entry::revenue(
        OrgId(1),
        EntryId(10),
        1_704_067_200,
        Money(1),
        Category::Rooms,
        PaymentMethod::Card,
    );
    let pay_unknown = PayExpense {
        org: OrgId(1),
        entry: EntryId(11),
        paid_at: 1_704_067_200,
    };
    assert_eq!(
        m.record(&[Op::Post(valid), Op::Pay(pay_unknown)]),
        Err(vec![Rej::UnknownEntry(1, 11)])
    );
    assert_eq!((m.lsn(), m.entry_count()), (3, 2));
    assert_eq!(m.balances(1, 19_722, 19_724).unwrap(), rows);
}

fn ts_of(day: &str, hour: i64) -> i64 {
    BusinessDay::parse(day).unwrap().start_utc() + hour * 3600
}

/// Replays `posts` (UTC day, amount) as expenses of one UTC org, one batch each, then checks
/// every balance against the model before and after a reopen.
fn replay_expenses(posts: &[(&str, i64)]) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let case = Case {
        shards: 4,
        durability: Durability::Sync,
        eager_checkpoints: None,
        org_ids: ORG_ID_TABLES[0],
        id_base: 100,
        steps: Vec::new(),
    };
    let probe = Probe {
        from: TsGen::Anchor(0, 0),
        len: 86_400,
        day_pick: 0,
        day_offset: 0,
    };
    let mut model = Model::default();
    let db = open(&path, &case, 4).unwrap();
    let org = Org::new(OrgId(1), "Hotel 1", Currency::EUR).with_opening_balance(Money(1_000));
    run_batch(&db, &mut model, vec![Op::RegisterOrg(org)]).unwrap();
    for (i, (day, amount)) in posts.iter().enumerate() {
        let e = Entry::expense(
            OrgId(1),
            EntryId(i as u64 + 1),
            ts_of(day, 12),
            Money(*amount),
            Category::Payroll,
            PaymentMethod::Cash,
            ExpenseStatus::Pending,
        );
        run_batch(&db, &mut model, vec![Op::Post(e)])
            .unwrap_or_else(|e| panic!("posting on {day}: {e}"));
        compare(&db, &model, &probe, &case.org_ids).unwrap_or_else(|e| panic!("after {day}: {e}"));
    }
    drop(db);
    let db = open(&path, &case, 4).unwrap();
    compare(&db, &model, &probe, &case.org_ids).unwrap_or_else(|e| panic!("after reopen: {e}"));
}

/// Regression: three consecutive months grow the month Fenwick window to four months; a posting
/// back-dated before the window used to rebuild a window that did not reach it, panicking the
/// committer (`month outside the Fenwick window`), after which every call returned `Closed`.
#[test]
fn back_dated_posting_before_a_grown_month_window() {
    replay_expenses(&[
        ("2024-06-15", 100),
        ("2024-07-15", 20),
        ("2024-08-15", 3),
        ("2024-01-15", 4_000),
        ("2012-06-30", 50_000),
        ("2030-12-31", 600_000),
        ("2024-09-01", 7),
    ]);
}

/// A business day before 1900-01-01 (the first supported instant seen from New York) reads like
/// any other, through `balance` and `balances`.
#[test]
fn balance_rows_on_the_first_supported_business_day() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::open(&dir.path().join("db"));
    db.register_org(
        Org::new(OrgId(1), "Hotel 1", Currency::EUR).with_time_zone("America/New_York"),
    )
    .unwrap();
    let e = Entry::revenue(
        OrgId(1),
        EntryId(1),
        MIN_TIMESTAMP,
        Money(5),
        Category::Rooms,
        PaymentMethod::Card,
    );
    db.record(Batch::new().post(e)).unwrap();
    let day = db
        .entries(OrgId(1), MIN_TIMESTAMP, MIN_TIMESTAMP + 1)
        .unwrap()[0]
        .day;
    assert_eq!(day.to_string(), "1899-12-31");
    let one = db.balance(OrgId(1), day).unwrap();
    assert_eq!((one.opening, one.closing), (Money(0), Money(5)));
    let rows = db
        .balances(OrgId(1), day.prev().unwrap(), day.next().unwrap())
        .unwrap();
    let closings: Vec<i64> = rows.iter().map(|b| b.closing.0).collect();
    assert_eq!(closings, vec![0, 5, 5]);
    assert_eq!(rows[1], one);
}

/// The overflow rule Folio documents (`state::catalog::flows_fit`, docs/ARCHITECTURE.md): an
/// org's gross flows (Σ revenue postings + Σ expense reversals, and Σ expense postings + Σ revenue
/// reversals, each added to the opening balance) must fit in i64. That bounds every running sum
/// with one check per posting; it is stricter than necessary in one corner: reversing a posting of
/// more than i64::MAX / 2 and posting it again is rejected although no balance would leave i64.
#[test]
fn overflow_is_judged_on_gross_flows() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::open(&dir.path().join("db"));
    db.register_org(Org::new(OrgId(1), "Hotel 1", Currency::EUR))
        .unwrap();
    let big = Money(i64::MAX / 2 + 1);
    let ts = 1_704_067_200;
    let post = |id| {
        Entry::revenue(
            OrgId(1),
            EntryId(id),
            ts,
            big,
            Category::Rooms,
            PaymentMethod::Card,
        )
    };
    db.record(Batch::new().post(post(1))).unwrap();
    db.record(Batch::new().reverse(Reversal {
        org: OrgId(1),
        id: EntryId(2),
        reverses: EntryId(1),
        occurred_at: ts,
        reference: String::new(),
    }))
    .unwrap();
    // Inflow is already `big`, outflow `big`: another `big` of inflow would not fit.
    let third = db.record(Batch::new().post(post(3)));
    assert!(
        matches!(
            third,
            Err(Error::Rejected(Rejection::Overflow { org: OrgId(1) }))
        ),
        "{third:?}"
    );
    assert_eq!(
        db.balance(OrgId(1), BusinessDay::utc(ts).expect("day"))
            .unwrap()
            .closing,
        Money(0)
    );
}
