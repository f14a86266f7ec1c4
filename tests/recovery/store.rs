//! The store against the log: deleted and rebuilt, its checkpoint behind the log, an old copy put
//! back; and back-dated postings replayed over it.

use crate::files::*;
use crate::history::*;
use folio::{
    Batch, BusinessDay, Category, Currency, Db, Entry, EntryId, Lsn, Money, Org, OrgId,
    PaymentMethod,
};
use std::fs;
use std::panic::{catch_unwind, AssertUnwindSafe};

#[test]
fn deleted_store_is_rebuilt_from_the_log_with_identical_state() {
    const N: u64 = 30;
    let p = pristine(N, None);
    fs::remove_dir_all(p.dir.join("state")).expect("rm state");
    let db = Db::open(&p.dir).expect("open without store");
    let r = db.recovery().clone();
    assert!(
        r.rebuilt.is_some() || r.frames_replayed == N,
        "not rebuilt: {r:?}"
    );
    assert_eq!(r.frames_replayed, N, "{r:?}");
    assert_eq!(snapshot(&db), p.last);
    assert_balances_match_entries(&db);
    db.close().expect("close");
    // The rebuilt store is a normal store again.
    let db = Db::open(&p.dir).expect("reopen");
    assert_eq!(db.recovery().checkpoint_lsn, Lsn(N));
    assert_eq!(db.recovery().frames_replayed, 0);
    assert_eq!(snapshot(&db), p.last);
}

#[test]
fn checkpoint_behind_the_log_after_a_normal_close_reopens_identically() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("db");
    let db = Db::open(&dir).expect("create");
    record_range(&db, 1, 10);
    let stats = db.checkpoint().expect("checkpoint");
    assert_eq!(stats.lsn, Lsn(10));
    record_range(&db, 11, 25);
    let expected = snapshot(&db);
    assert_balances_match_entries(&db);
    db.close().expect("close");
    let db = Db::open(&dir).expect("reopen");
    assert_eq!(snapshot(&db), expected);
    assert_balances_match_entries(&db);
    assert_eq!(db.recovery().lsn, Lsn(25));
}

/// Store copied at checkpoint `k` (while open, or after a close), more batches recorded, then the
/// old store put back: reopening replays `k+1..=n` exactly once.
fn old_store_restored(copy_while_open: bool) {
    const K: u64 = 11;
    const N: u64 = 29;
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("db");
    let saved = tmp.path().join("state_at_k");
    let mut db = Db::open(&dir).expect("create");
    record_range(&db, 1, K);
    if copy_while_open {
        assert_eq!(db.checkpoint().expect("checkpoint").lsn, Lsn(K));
        copy_dir(&dir.join("state"), &saved);
    } else {
        db.close().expect("close");
        copy_dir(&dir.join("state"), &saved);
        db = Db::open(&dir).expect("reopen");
    }
    record_range(&db, K + 1, N);
    let expected = snapshot(&db);
    db.close().expect("close");

    // A fresh model: the whole log replayed into an empty store.
    let fresh = tmp.path().join("fresh");
    copy_dir(&dir, &fresh);
    fs::remove_dir_all(fresh.join("state")).expect("rm");
    let db = Db::open(&fresh).expect("fresh rebuild");
    assert_eq!(
        snapshot(&db),
        expected,
        "full replay differs from the live state"
    );
    drop(db);

    fs::remove_dir_all(dir.join("state")).expect("rm state");
    copy_dir(&saved, &dir.join("state"));
    let db = Db::open(&dir).expect("open with old store");
    let r = db.recovery().clone();
    if r.rebuilt.is_none() {
        assert_eq!(r.checkpoint_lsn, Lsn(K), "{r:?}");
        assert_eq!(r.frames_replayed, N - K, "{r:?}");
    }
    assert_eq!(snapshot(&db), expected, "replay over the old store ({r:?})");
    assert_balances_match_entries(&db);
    // Replayed values are checkpointed at close; a second reopen must not count them again.
    db.close().expect("close");
    let db = Db::open(&dir).expect("second reopen");
    assert_eq!(snapshot(&db), expected, "after the second reopen");
    db.close().expect("close");

    // Once more from the old store, this time writing on top before closing.
    fs::remove_dir_all(dir.join("state")).expect("rm state");
    copy_dir(&saved, &dir.join("state"));
    let db = Db::open(&dir).expect("open with old store again");
    assert_eq!(db.record(extra_batch(9)).expect("record"), Lsn(N + 1));
    let expected = snapshot(&db);
    db.close().expect("close");
    let db = Db::open(&dir).expect("reopen");
    assert_eq!(snapshot(&db), expected);
    assert_balances_match_entries(&db);
}

#[test]
fn old_store_copied_after_a_checkpoint_while_open_replays_newer_frames_exactly_once() {
    old_store_restored(true);
}

#[test]
fn old_store_copied_after_close_replays_newer_frames_exactly_once() {
    old_store_restored(false);
}

#[test]
fn back_dated_postings_far_outside_the_month_window_do_not_panic_or_brick_the_database() {
    // Three valid postings: January 2024, then December 2022, then July 2021. The third lands
    // outside the Fenwick window that `OrgBalances::rebuild_prefix` grows downwards (the window
    // after the second posting is 2022-12..2024-03, padded to a power of two; the new span of 32
    // months is measured back from 2024-03 and stops at 2021-08). Found by the kill loop (tests/crash/).
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("db");
    let utc = Org::new(OrgId(1), "Back Office", Currency::USD);
    let jan_2024 = 1_704_067_200;
    let dec_2022 = 1_669_852_800;
    let jul_2021 = 1_625_097_600;
    let db = Db::open(&dir).expect("create");
    db.register_org(utc).expect("org");
    let mut results = Vec::new();
    for (i, ts) in [jan_2024, dec_2022, jul_2021].into_iter().enumerate() {
        let entry = Entry::revenue(
            OrgId(1),
            EntryId(i as u64 + 1),
            ts,
            Money(100),
            Category::Rooms,
            PaymentMethod::Cash,
        );
        results.push(
            db.record(Batch::new().post(entry))
                .map_err(|e| e.to_string()),
        );
    }
    let closed = db.close().map_err(|e| e.to_string());
    let reopened = match catch_unwind(AssertUnwindSafe(|| Db::open(&dir))) {
        Ok(Ok(db)) => {
            let day = BusinessDay::parse("2024-01-01").expect("day");
            let closing = db.balance(OrgId(1), day).map(|b| b.closing);
            format!("opened at LSN {}, closing {closing:?}", db.visible_lsn())
        }
        Ok(Err(e)) => format!("error: {e}"),
        Err(_) => "Db::open panicked".to_string(),
    };
    assert_eq!(
        (results, reopened),
        (
            vec![Ok(Lsn(2)), Ok(Lsn(3)), Ok(Lsn(4))],
            "opened at LSN 4, closing Ok(Money(300))".to_string()
        ),
        "record results, then reopening (close returned {closed:?})"
    );
}
