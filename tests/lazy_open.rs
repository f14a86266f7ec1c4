//! A read-only open loads orgs as reads need them: a read of one org loads that org's chunk of
//! the store (64 ids), a scan of every org loads the rest. Answers equal the writer's whatever
//! was loaded before: frozen months, late postings into them, reversals and payments, a log
//! tail after the last checkpoint (its orgs loaded while it replays), an index created in that
//! tail (every org loaded first), reads through the database and through snapshots.
#![allow(clippy::unwrap_used)]

use folio::{
    Batch, BusinessDay, Category, Column, Currency, Db, Entry, EntryId, ExpenseStatus, IndexDef,
    Kind, Money, Month, Options, Org, OrgId, PayExpense, PaymentMethod, Predicate, Query, Reversal,
    SplitMix64,
};
use std::path::Path;

/// Twenty chunks of 64 orgs.
const ORGS: u64 = 1_280;
/// 2024-01-01T00:00:00Z.
const T0: i64 = 1_704_067_200;
const DAY: i64 = 86_400;
const ZONES: [&str; 4] = [
    "UTC",
    "Pacific/Kiritimati",
    "Pacific/Pago_Pago",
    "Asia/Kolkata",
];

fn writer(path: &Path) -> Db {
    Db::open_with(path, Options::default().shards(4)).unwrap()
}

/// Orgs in several time zones and currencies, five months of postings (a pending expense in
/// five paid later), the first three months frozen, late postings, reversals and payments into
/// them, a checkpoint; then `tail` batches the checkpoint does not cover, touching few orgs.
fn build(db: &Db, seed: u64, tail: usize) {
    let mut batch = Batch::new();
    for o in 1..=ORGS {
        let currency = if o % 3 == 0 {
            Currency::USD
        } else {
            Currency::EUR
        };
        batch = batch.register_org(
            Org::new(OrgId(o), format!("h{o}"), currency)
                .with_time_zone(ZONES[(o % 4) as usize])
                .with_opening_balance(Money(o as i64 * 10)),
        );
    }
    db.record(batch).unwrap();
    let mut rng = SplitMix64::new(seed);
    let mut next = 1u64;
    let mut pending = Vec::new();
    for day in 0..150 {
        let mut batch = Batch::new();
        for _ in 0..40 {
            let org = OrgId(1 + rng.below(ORGS));
            let at = T0 + day * DAY + rng.below(DAY as u64) as i64;
            let amount = Money(1 + rng.below(50_000) as i64);
            let entry = if rng.below(3) == 0 {
                let status = match rng.below(5) {
                    0 => ExpenseStatus::Pending,
                    _ => ExpenseStatus::Paid,
                };
                if status == ExpenseStatus::Pending {
                    pending.push((org, EntryId(next)));
                }
                Entry::expense(
                    org,
                    EntryId(next),
                    at,
                    amount,
                    Category::Payroll,
                    PaymentMethod::Cash,
                    status,
                )
            } else {
                let category = [Category::Rooms, Category::Spa][rng.below(2) as usize];
                Entry::revenue(
                    org,
                    EntryId(next),
                    at,
                    amount,
                    category,
                    PaymentMethod::Card,
                )
            };
            next += 1;
            batch = batch.post(entry);
        }
        db.record(batch).unwrap();
    }
    db.freeze(Some(Month::from_ym(2024, 4).unwrap())).unwrap();
    // Late postings into frozen months, a reversal of a frozen posting, payments.
    let mut batch = Batch::new();
    for k in 0..30u64 {
        let org = OrgId(1 + (k * 97) % ORGS);
        let at = T0 + (k as i64 % 80) * DAY + 3_600;
        batch = batch.post(Entry::revenue(
            org,
            EntryId(next),
            at,
            Money(777),
            Category::Rooms,
            PaymentMethod::Card,
        ));
        next += 1;
    }
    db.record(batch).unwrap();
    for (org, id) in pending.iter().step_by(5).take(20) {
        let pay = PayExpense {
            org: *org,
            entry: *id,
            paid_at: T0 + 151 * DAY,
        };
        db.record(Batch::new().pay(pay)).unwrap();
    }
    let reversed = db.entries(OrgId(1), T0, T0 + 60 * DAY).unwrap();
    if let Some(first) = reversed.iter().find(|e| e.kind == Kind::Revenue) {
        let reversal = Reversal {
            org: OrgId(1),
            id: EntryId(next),
            reverses: first.id,
            occurred_at: T0 + 152 * DAY,
            reference: String::new(),
        };
        next += 1;
        db.record(Batch::new().reverse(reversal)).unwrap();
    }
    db.checkpoint().unwrap();
    // The tail: orgs of the first chunk, one new org.
    for t in 0..tail {
        let org = OrgId(1 + (t as u64 % 5));
        let at = T0 + 140 * DAY + t as i64 * 60;
        let mut batch = Batch::new().post(Entry::revenue(
            org,
            EntryId(next),
            at,
            Money(5),
            Category::Spa,
            PaymentMethod::Cash,
        ));
        next += 1;
        if t == 0 {
            batch = batch.register_org(Org::new(OrgId(ORGS + 1), "new", Currency::EUR));
        }
        db.record(batch).unwrap();
    }
}

/// Everything a reader of `org` is checked on.
fn answers_of(db: &Db, org: u64) -> String {
    let org = OrgId(org);
    let (from, to) = (
        BusinessDay::from_ymd(2023, 12, 31).unwrap(),
        BusinessDay::from_ymd(2024, 6, 30).unwrap(),
    );
    let month = |m| Month::from_ym(2024, m).unwrap();
    format!(
        "{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}",
        db.org(org).unwrap(),
        db.balances(org, from, to),
        db.entries(org, T0 - DAY, T0 + 200 * DAY),
        (1..=5)
            .map(|m| db.monthly_report(org, month(m)))
            .collect::<Vec<_>>(),
        db.pending_expenses(org, 100),
        db.query(&Query::revenues().org(org).category(Category::Rooms)),
        db.daily_report(org, BusinessDay::from_ymd(2024, 2, 10).unwrap()),
    )
}

fn sample() -> Vec<u64> {
    vec![1, 2, 3, 64, 65, 700, 1_000, ORGS, ORGS + 1]
}

fn org_bytes(db: &Db) -> u64 {
    db.memory().engine.orgs
}

#[test]
fn a_read_of_one_org_loads_its_chunk_and_answers_as_the_writer() {
    let dir = tempfile::tempdir().unwrap();
    let db = writer(dir.path());
    build(&db, 7, 12);
    let expected: Vec<String> = sample().iter().map(|o| answers_of(&db, *o)).collect();
    let all_orgs = db.snapshot().orgs().unwrap();
    let top = db
        .top_revenue(Month::from_ym(2024, 2).unwrap(), 10)
        .unwrap();
    let full_bytes = org_bytes(&db);
    let verified = db.verify();
    assert!(verified.problems.is_empty(), "{:?}", verified.problems);

    // Opened beside the writer, which has not checkpointed its last batches.
    let ro = Db::open_with(dir.path(), Options::read_only()).unwrap();
    assert!(ro.recovery().frames_replayed >= 12, "{:?}", ro.recovery());
    // The tail's orgs are loaded (one chunk and the new org's): a small part of every org.
    let opened = org_bytes(&ro);
    assert!(
        opened * 5 < full_bytes,
        "{opened} of {full_bytes} bytes of org records at open"
    );
    assert_eq!(answers_of(&ro, 1_000), expected[6]);
    let one_more = org_bytes(&ro);
    assert!(
        one_more > opened && one_more * 5 < full_bytes,
        "{opened} → {one_more} of {full_bytes}"
    );
    for (org, want) in sample().iter().zip(&expected) {
        assert_eq!(&answers_of(&ro, *org), want, "org {org}");
    }
    // A snapshot reads as the database does; a scan loads every org.
    let snapshot = ro.snapshot();
    assert_eq!(
        format!(
            "{:?}",
            snapshot.balance(OrgId(900), BusinessDay::from_ymd(2024, 5, 1).unwrap())
        ),
        format!(
            "{:?}",
            ro.balance(OrgId(900), BusinessDay::from_ymd(2024, 5, 1).unwrap())
        )
    );
    assert_eq!(
        snapshot
            .top_revenue(Month::from_ym(2024, 2).unwrap(), 10)
            .unwrap(),
        top
    );
    assert_eq!(snapshot.orgs().unwrap(), all_orgs);
    // (The writer's records sit in vectors grown one by one: a load's are tighter.)
    assert!(org_bytes(&ro) * 10 > full_bytes * 9, "every org loaded");
    for (org, want) in sample().iter().zip(&expected) {
        assert_eq!(
            &answers_of(&ro, *org),
            want,
            "org {org} once every org is loaded"
        );
    }
    let verified = ro.verify();
    assert!(verified.problems.is_empty(), "{:?}", verified.problems);
    ro.close().unwrap();
    db.close().unwrap();
}

#[test]
fn every_kind_of_read_first_answers_as_the_writer() {
    // Each read kind as the first read of a fresh read-only open: what it loads is enough.
    let dir = tempfile::tempdir().unwrap();
    let db = writer(dir.path());
    build(&db, 11, 3);
    let month = Month::from_ym(2024, 3).unwrap();
    let day = BusinessDay::from_ymd(2024, 3, 3).unwrap();
    type Read = fn(&Db) -> String;
    let reads: Vec<Read> = vec![
        |db| {
            format!(
                "{:?}",
                db.balance(OrgId(777), BusinessDay::from_ymd(2024, 3, 3).unwrap())
            )
        },
        |db| format!("{:?}", db.org(OrgId(778))),
        |db| format!("{:?}", db.orgs().map(|o| o.len())),
        |db| format!("{:?}", db.entry_count()),
        |db| format!("{:?}", db.top_revenue(Month::from_ym(2024, 3).unwrap(), 5)),
        |db| {
            format!(
                "{:?}",
                db.chain_revenue(&[OrgId(5), OrgId(900)], Month::from_ym(2024, 3).unwrap())
            )
        },
        |db| format!("{:?}", db.query(&Query::expenses().limit(50))),
        |db| format!("{:?}", db.explain(&Query::revenues().org(OrgId(3)))),
        |db| format!("{:?}", db.partitions()),
        |db| format!("{:?}", db.months().map(|m| m.len())),
        |db| format!("{:?}", db.info().map(|i| (i.orgs, i.entries))),
        |db| {
            format!(
                "{:?}",
                db.snapshot()
                    .month_totals(OrgId(1_100), Month::from_ym(2024, 3).unwrap())
            )
        },
    ];
    let expected: Vec<String> = reads.iter().map(|read| read(&db)).collect();
    let _ = (month, day);
    db.close().unwrap();
    for (n, (read, want)) in reads.iter().zip(&expected).enumerate() {
        let ro = Db::open_with(dir.path(), Options::read_only()).unwrap();
        assert_eq!(&read(&ro), want, "read {n} first");
        ro.close().unwrap();
    }
}

#[test]
fn an_index_created_after_the_checkpoint_loads_every_org_while_replaying() {
    let dir = tempfile::tempdir().unwrap();
    let db = writer(dir.path());
    build(&db, 13, 2);
    let cash = IndexDef::new(
        "revenues_spa_by_method",
        Kind::Revenue,
        &[Column::PaymentMethod],
        &[Column::Amount],
        Some(Predicate::CategoryIs(Category::Spa)),
    );
    db.create_index(cash, |_, _| {}).unwrap();
    let query = Query::revenues()
        .category(Category::Spa)
        .payment_method(PaymentMethod::Card);
    let expected = (
        format!("{:?}", db.query(&query)),
        db.explain(&query).unwrap(),
    );
    let full_bytes = org_bytes(&db);
    // Opened beside the writer: the index creation is in the log after its last checkpoint.
    let ro = Db::open_with(dir.path(), Options::read_only()).unwrap();
    assert!(ro.recovery().frames_replayed >= 3, "{:?}", ro.recovery());
    assert!(
        org_bytes(&ro) * 10 > full_bytes * 9,
        "the index's backfill needed every org"
    );
    assert_eq!(
        (
            format!("{:?}", ro.query(&query)),
            ro.explain(&query).unwrap()
        ),
        expected
    );
    let verified = ro.verify();
    assert!(verified.problems.is_empty(), "{:?}", verified.problems);
}

/// Overwrites the store's value of `chunk` in tree `tree` with bytes that do not unpack.
fn damage(dir: &Path, tree: &str, chunk: u64) {
    let started = std::time::Instant::now();
    let store = loop {
        // sled gives its lock back a moment after the database closed.
        match sled::open(dir.join("state")) {
            Ok(store) => break store,
            Err(e) if started.elapsed().as_secs() < 10 => {
                let _ = e;
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            Err(e) => panic!("open the store: {e}"),
        }
    };
    let tree = store.open_tree(tree).unwrap();
    assert!(tree.get(chunk.to_be_bytes()).unwrap().is_some());
    tree.insert(chunk.to_be_bytes(), vec![0xA5; 40]).unwrap();
    store.flush().unwrap();
}

#[test]
fn a_damaged_value_found_by_a_load_is_reported_and_the_next_open_rebuilds_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let db = writer(dir.path());
    build(&db, 17, 0);
    let expected: Vec<String> = sample().iter().map(|o| answers_of(&db, *o)).collect();
    db.close().unwrap();
    // Org 700's chunk (700 / 64 = 10).
    damage(dir.path(), "orgs", 10);
    let day = BusinessDay::from_ymd(2024, 3, 1).unwrap();

    // A reader: the damaged chunk's reads fail, the others answer.
    let ro = Db::open_with(dir.path(), Options::read_only()).unwrap();
    assert!(matches!(
        ro.balance(OrgId(700), day),
        Err(folio::Error::Store(_))
    ));
    assert!(
        matches!(ro.balance(OrgId(1_000), day), Err(folio::Error::Store(_))),
        "a failed load is reported to later loads"
    );
    ro.close().unwrap();

    // A writer: the batch that needs the chunk is refused, the database poisoned, the damage
    // noted for the next open.
    let db = writer(dir.path());
    assert_eq!(answers_of(&db, 1), expected[0]);
    let post = Entry::revenue(
        OrgId(700),
        EntryId(9_999_999),
        T0 + DAY,
        Money(5),
        Category::Spa,
        PaymentMethod::Cash,
    );
    assert!(db.record(Batch::new().post(post)).is_err());
    assert!(dir.path().join("state.damaged").exists());
    let _ = db.close();

    // The next open rebuilds the store from the log: every answer as before.
    let db = writer(dir.path());
    assert!(db.recovery().rebuilt.is_some(), "{:?}", db.recovery());
    assert!(!dir.path().join("state.damaged").exists());
    for (org, want) in sample().iter().zip(&expected) {
        assert_eq!(&answers_of(&db, *org), want, "org {org}");
    }
    let verified = db.verify();
    assert!(verified.problems.is_empty(), "{:?}", verified.problems);
    db.close().unwrap();
}
