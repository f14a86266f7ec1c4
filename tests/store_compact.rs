//! Compaction of the store (`store::compact`): a compacted store answers exactly as the one it
//! replaced, it is smaller once freezes have left sled's leftovers behind, it is done again only
//! after the store dropped values again (never for a store that only grew), and a crash at any
//! step of the directory swap leaves a database that opens (read-only and writable) with the
//! same answers.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod common;

use folio::format::{STORE_COMPACT_DIR, STORE_DIR, STORE_OLD_DIR};
use folio::store::compact::{compact_if_due, recover, store_dir, Due};
use folio::store::Store;
use folio::{
    Batch, BusinessDay, Category, Currency, Db, Durability, Entry, EntryId, Money, Month, Options,
    Org, OrgId, PaymentMethod, SplitMix64,
};
use std::path::Path;

const ORGS: u64 = 40;
/// 2024-01-01T00:00:00Z.
const T0: i64 = 1_704_067_200;
const DAY: i64 = 86_400;
/// Compaction due whenever the store dropped anything, however small.
const NO_FLOOR: Due = Due {
    floor: 0,
    dead_percent: 0,
};

fn options() -> Options {
    common::options(4, Durability::Buffered)
}

/// Eight months of postings, each month frozen two months later and again after late postings:
/// the store drops a month's ledger trees at each freeze and a version's trees at each
/// re-freeze, which sled never gives back.
fn record(dir: &Path) {
    record_with(dir, options(), |_| {});
}

/// [`record`] with `options`, calling `after` after every batch.
fn record_with(dir: &Path, options: Options, mut after: impl FnMut(&Db)) {
    let db = Db::open_with(dir, options).unwrap();
    let mut b = Batch::new();
    for o in 1..=ORGS {
        b = b.register_org(Org::new(OrgId(o), format!("h{o}"), Currency::EUR));
    }
    db.record(b).unwrap();
    let mut rng = SplitMix64::new(11);
    let mut id = 0;
    for month in 0..8i64 {
        for _ in 0..6 {
            let mut b = Batch::new();
            for _ in 0..400 {
                id += 1;
                // Mostly this month, some late into the month before.
                let back = i64::from(rng.below(8) == 0 && month > 0);
                let at = T0 + (month - back) * 30 * DAY + rng.below(29 * DAY as u64) as i64;
                b = b.post(Entry::revenue(
                    OrgId(1 + rng.below(ORGS)),
                    EntryId(id),
                    at,
                    Money(1 + rng.below(90_000) as i64),
                    Category::Rooms,
                    PaymentMethod::Card,
                ));
            }
            db.record(b).unwrap();
            after(&db);
        }
        db.checkpoint().unwrap();
        db.freeze(None).unwrap();
    }
    db.close().unwrap();
}

fn answers(db: &Db) -> Vec<String> {
    let from = BusinessDay::from_ymd(2024, 1, 1).unwrap();
    let to = BusinessDay::from_ymd(2024, 9, 30).unwrap();
    let mut out = vec![format!("{:?}", db.months().unwrap())];
    for o in 1..=ORGS {
        out.push(format!("{:?}", db.balances(OrgId(o), from, to).unwrap()));
        out.push(format!(
            "{:?}",
            db.entries(OrgId(o), folio::MIN_TIMESTAMP, folio::MAX_TIMESTAMP + 1)
                .unwrap()
        ));
    }
    out
}

fn answers_of(dir: &Path, read_only: bool) -> Vec<String> {
    let options = match read_only {
        true => Options::read_only(),
        false => options(),
    };
    let db = Db::open_with(dir, options).unwrap();
    let seen = answers(&db);
    let report = db.verify();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    db.close().unwrap();
    seen
}

/// Compacts `dir`'s store whatever its size; returns (before, after) sizes.
fn compact(dir: &Path) -> (u64, u64) {
    let store = Store::open(&dir.join(STORE_DIR)).unwrap();
    let (store, done) = compact_if_due(store, dir, 16 << 20, NO_FLOOR).unwrap();
    drop(store);
    let done = done.expect("a store that dropped trees is due with no floor");
    assert!(done.values > 0);
    (done.before, done.after)
}

#[test]
fn a_compacted_store_answers_alike_and_is_smaller() {
    let tmp = tempfile::tempdir().unwrap();
    let (db, twin) = (tmp.path().join("db"), tmp.path().join("twin"));
    record(&db);
    common::copy_dir(&db, &twin);
    let expected = answers_of(&twin, false);
    assert!(
        expected[0].contains("frozen") || expected[0].contains("file: Some"),
        "months were frozen: {}",
        expected[0]
    );

    // The freezes' dropped trees and balance values were counted as they were dropped.
    let store = Store::open(&db.join(STORE_DIR)).unwrap();
    let dropped = store.dropped_bytes();
    drop(store);
    let (before, after) = compact(&db);
    assert!(
        dropped > 0 && dropped < before,
        "dropped {dropped} bytes of {before}"
    );
    assert!(
        after * 2 < before,
        "sled's leftovers of frozen months are gone: {before} → {after} bytes"
    );
    assert!(!db.join(STORE_COMPACT_DIR).exists() && !db.join(STORE_OLD_DIR).exists());
    // Not again until the store drops something again.
    let store = Store::open(&db.join(STORE_DIR)).unwrap();
    assert_eq!(store.dropped_bytes(), 0);
    let (store, done) = compact_if_due(store, &db, 16 << 20, NO_FLOOR).unwrap();
    assert_eq!(done, None);
    drop(store);
    assert_eq!(answers_of(&db, true), expected);
    assert_eq!(answers_of(&db, false), expected);

    // The database goes on: more rows, a freeze, a reopen.
    {
        let handle = Db::open_with(&db, options()).unwrap();
        let twin_handle = Db::open_with(&twin, options()).unwrap();
        for d in [handle, twin_handle] {
            let entry = Entry::revenue(
                OrgId(3),
                EntryId(1 << 40),
                T0 + 250 * DAY,
                Money(777),
                Category::Rooms,
                PaymentMethod::Cash,
            );
            d.record(Batch::new().post(entry)).unwrap();
            d.freeze(Some(Month::new(2024, 9).unwrap())).unwrap();
            d.close().unwrap();
        }
    }
    assert_eq!(answers_of(&db, false), answers_of(&twin, false));
}

#[test]
fn a_crash_at_any_step_of_the_swap_opens_with_the_same_answers() {
    let tmp = tempfile::tempdir().unwrap();
    let original = tmp.path().join("original");
    record(&original);
    let expected = answers_of(&original, true);
    let compacted = tmp.path().join("compacted");
    common::copy_dir(&original, &compacted);
    compact(&compacted);

    // (name, state/, state.compact/, state.old/): what each step leaves.
    type Step<'a> = (
        &'a str,
        Option<&'a Path>,
        Option<&'a Path>,
        Option<&'a Path>,
    );
    let uncompacted = original.join(STORE_DIR);
    let done = compacted.join(STORE_DIR);
    let steps: [Step; 4] = [
        // The copy half written (here: a copy of the store, possibly whole): discarded.
        ("copying", Some(&uncompacted), Some(&uncompacted), None),
        ("copied", Some(&uncompacted), Some(&done), None),
        // `state/` renamed away: the copy is complete and becomes the store.
        ("between the renames", None, Some(&done), Some(&uncompacted)),
        (
            "before the old store is removed",
            Some(&done),
            None,
            Some(&uncompacted),
        ),
    ];
    for (step, live, copy, old) in steps {
        let dir = tmp.path().join(step.replace(' ', "-"));
        common::copy_dir(&original, &dir);
        std::fs::remove_dir_all(dir.join(STORE_DIR)).unwrap();
        for (source, name) in [
            (live, STORE_DIR),
            (copy, STORE_COMPACT_DIR),
            (old, STORE_OLD_DIR),
        ] {
            if let Some(source) = source {
                common::copy_dir(source, &dir.join(name));
            }
        }
        let read_from = store_dir(&dir);
        assert!(read_from.exists(), "{step}: {}", read_from.display());
        assert_eq!(answers_of(&dir, true), expected, "read-only open {step}");
        assert!(
            dir.join(STORE_COMPACT_DIR).exists() == copy.is_some()
                && dir.join(STORE_OLD_DIR).exists() == old.is_some(),
            "a read-only open changes nothing ({step})"
        );
        assert_eq!(answers_of(&dir, false), expected, "writable open {step}");
        assert!(dir.join(STORE_DIR).exists(), "{step}");
        assert!(
            !dir.join(STORE_COMPACT_DIR).exists() && !dir.join(STORE_OLD_DIR).exists(),
            "{step}: the writable open finished the swap"
        );
        // Recovery has nothing left to do.
        recover(&dir).unwrap();
        assert!(dir.join(STORE_DIR).exists());
    }
}

#[test]
fn a_long_running_writer_compacts_its_store_after_checkpoints() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, twin) = (tmp.path().join("db"), tmp.path().join("twin"));
    record(&twin);
    // The same history, checkpointed after every batch by a writer whose store is compacted
    // whenever it dropped anything (no floor): the checkpoint of each month's freeze (which
    // drops the month's trees) compacts it. A compaction puts a new `state/` in place.
    let mut stores: Vec<(u64, u64)> = Vec::new();
    let eager = options()
        .store_compaction_floor(0)
        .store_compaction_dead_percent(0);
    let live = dir.join(STORE_DIR);
    record_with(&dir, eager, |db| {
        assert_eq!(db.checkpoint().unwrap().compacted, None, "nothing dropped");
        let inode = std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(&live).unwrap());
        if stores.last().is_none_or(|(seen, _)| *seen != inode) {
            stores.push((inode, dir_size(&live)));
        }
    });
    assert!(
        stores.len() > 2,
        "the freezes' checkpoints compacted the store: {stores:?}"
    );
    // The close's checkpoint compacted what its freeze dropped.
    let store = Store::open(&dir.join(STORE_DIR)).unwrap();
    assert_eq!(store.dropped_bytes(), 0);
    drop(store);
    assert!(!dir.join(STORE_COMPACT_DIR).exists() && !dir.join(STORE_OLD_DIR).exists());
    assert_eq!(answers_of(&dir, false), answers_of(&twin, false));
}

#[test]
fn a_store_that_only_grows_is_never_compacted() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    // No floor, and due at any share of dropped values: still nothing to win back while no month
    // freezes (nothing is dropped), however much the store grows between checkpoints.
    let eager = options()
        .store_compaction_floor(0)
        .store_compaction_dead_percent(0);
    let db = Db::open_with(&dir, eager.clone()).unwrap();
    let mut b = Batch::new();
    for o in 1..=ORGS {
        b = b.register_org(Org::new(OrgId(o), format!("h{o}"), Currency::EUR));
    }
    db.record(b).unwrap();
    let mut sizes = Vec::new();
    let mut rng = SplitMix64::new(5);
    for step in 0..30u64 {
        let mut b = Batch::new();
        for k in 0..400 {
            b = b.post(Entry::revenue(
                OrgId(1 + rng.below(ORGS)),
                EntryId(step * 400 + k + 1),
                T0 + (step as i64) * 7 * DAY + rng.below(7 * DAY as u64) as i64,
                Money(1 + rng.below(90_000) as i64),
                Category::Rooms,
                PaymentMethod::Card,
            ));
        }
        db.record(b).unwrap();
        let stats = db.checkpoint().unwrap();
        assert_eq!(stats.compacted, None, "step {step}");
        sizes.push(dir_size(&dir.join(STORE_DIR)));
    }
    db.close().unwrap();
    assert!(sizes.last() > sizes.first(), "the store grew: {sizes:?}");
    // Nor at the next writable open.
    let db = Db::open_with(&dir, eager).unwrap();
    drop(db);
    let store = Store::open(&dir.join(STORE_DIR)).unwrap();
    assert_eq!(store.dropped_bytes(), 0);
    assert!(!dir.join(STORE_OLD_DIR).exists() && !dir.join(STORE_COMPACT_DIR).exists());
}

/// Bytes of the files under `dir`.
fn dir_size(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            match e.file_type().unwrap().is_dir() {
                true => dir_size(&e.path()),
                false => e.metadata().unwrap().len(),
            }
        })
        .sum()
}

#[test]
fn a_writers_close_compacts_at_a_smaller_share_of_dropped_values() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, twin) = (tmp.path().join("db"), tmp.path().join("twin"));
    record(&twin);
    // A running writer that never compacts (dropped values would have to outweigh sled's
    // files); its close still does, at `STORE_COMPACT_DEAD_PERCENT_AT_CLOSE`.
    let lazy = options()
        .store_compaction_floor(0)
        .store_compaction_dead_percent(100);
    let live = dir.join(STORE_DIR);
    let mut inodes = std::collections::BTreeSet::new();
    record_with(&dir, lazy, |_| {
        inodes.insert(std::os::unix::fs::MetadataExt::ino(
            &std::fs::metadata(&live).unwrap(),
        ));
    });
    assert_eq!(inodes.len(), 1, "no compaction while the writer ran");
    let after_close = std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(&live).unwrap());
    assert!(
        !inodes.contains(&after_close),
        "the close compacted the store"
    );
    let store = Store::open(&live).unwrap();
    assert_eq!(store.dropped_bytes(), 0);
    drop(store);
    assert!(!dir.join(STORE_COMPACT_DIR).exists() && !dir.join(STORE_OLD_DIR).exists());
    assert_eq!(answers_of(&dir, true), answers_of(&twin, true));
}
