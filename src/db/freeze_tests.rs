//! The background freezer makes the files it puts in force durable once
//! [`crate::limits::FROZEN_SETTLE_AFTER`] has passed since the last checkpoint, not after every
//! step; an explicit freeze and a close settle at once. (A kill between an install and the
//! checkpoint naming it is the kill loop's, `tests/crash`.)

use super::freeze::Settle;
use super::{Db, Options};
use crate::model::{Batch, Category, Currency, Entry, EntryId, Money, Month, Org, OrgId};
use crate::model::PaymentMethod;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// 2024-01-01T12:00:00Z.
const NOON: i64 = 1_704_110_400;
const DAY: i64 = 86_400;

/// A database whose only checkpoints are the test's (and the freezer's), holding org 1 with a
/// revenue of 10.00 a day for 150 days from 2024-01-01, checkpointed.
fn open(path: &std::path::Path) -> Db {
    let options = Options {
        checkpoint_every_ops: u64::MAX,
        checkpoint_interval: Duration::from_secs(86_400),
        ..Options::default()
    };
    let db = Db::open_with(path, options).expect("open");
    db.register_org(Org::new(OrgId(1), "Seaside Inn", Currency::EUR))
        .expect("org");
    for id in 1..=150u64 {
        let at = NOON + (id as i64 - 1) * DAY;
        let e = Entry::revenue(OrgId(1), EntryId(id), at, Money(1_000), Category::Rooms, PaymentMethod::Card);
        db.record(Batch::new().post(e)).expect("post");
    }
    db.checkpoint().expect("checkpoint");
    db
}

/// Org 1's balance of 2024-05-20 (a day of a month the freezer leaves open).
fn closing(db: &Db) -> crate::DayBalance {
    let day = crate::model::BusinessDay::from_ymd(2024, 5, 20).expect("a day");
    db.snapshot().balance(OrgId(1), day).expect("balance")
}

fn durable_months(db: &Db) -> Vec<Month> {
    let set = db.shared.with_store(|s| s.frozen_set()).expect("frozen set");
    set.iter().map(|e| e.month).collect()
}

fn frozen_months(db: &Db) -> Vec<Month> {
    db.months().unwrap()
        .into_iter()
        .filter(|m| m.file.is_some())
        .map(|m| m.month)
        .collect()
}

#[test]
fn a_background_step_settles_once_due_and_a_close_settles_at_once() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let path = tmp.path().join("db");
    let db = open(&path);
    let before = closing(&db);

    // Right after a checkpoint: the months go to files and leave memory, not yet durable.
    let step = db.shared.freeze_step(false, Settle::WhenDue).expect("step");
    let months: Vec<Month> = step.frozen.iter().map(|f| f.month).collect();
    assert!(!months.is_empty(), "{step:?}");
    assert_eq!(frozen_months(&db), months);
    assert!(durable_months(&db).is_empty());
    assert!(db.shared.frozen_unsettled.load(Ordering::Acquire));
    let after = closing(&db);
    assert_eq!(after, before);

    // A step that finds the spacing passed settles them, with nothing new to freeze.
    {
        let mut last = db.shared.last_checkpoint.lock();
        *last = last
            .checked_sub(crate::limits::FROZEN_SETTLE_AFTER)
            .expect("an instant that far back");
    }
    let step = db.shared.freeze_step(false, Settle::WhenDue).expect("step");
    assert!(step.frozen.is_empty(), "{step:?}");
    assert_eq!(durable_months(&db), months);
    assert!(!db.shared.frozen_unsettled.load(Ordering::Acquire));
    db.close().expect("close");

    // Unsettled installs at a close: the close's checkpoint names them.
    let tmp = tempfile::tempdir().expect("tempdir");
    let path = tmp.path().join("db");
    let db = open(&path);
    let step = db.shared.freeze_step(false, Settle::WhenDue).expect("step");
    let months: Vec<Month> = step.frozen.iter().map(|f| f.month).collect();
    assert!(durable_months(&db).is_empty());
    db.close().expect("close");
    let db = Db::open(&path).expect("reopen");
    assert_eq!(frozen_months(&db), months);
    assert_eq!(durable_months(&db), months);
    let reopened = closing(&db);
    assert_eq!(reopened, before);
}
