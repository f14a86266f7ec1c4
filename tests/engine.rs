//! Engine behaviours: late postings touch only their own values and closing reads stay bounded,
//! segment rotation, group commit under concurrent writers, buffered durability, and poisoning
//! after a failed fsync.

use folio::{
    Batch, BusinessDay, Category, Currency, Db, Durability, Entry, EntryId, Error, Money, Options,
    Org, OrgId, PaymentMethod,
};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

const DAY: i64 = 86_400;

fn revenue(org: u64, id: u64, ts: i64, amount: i64) -> Entry {
    Entry::revenue(
        OrgId(org),
        EntryId(id),
        ts,
        Money(amount),
        Category::Rooms,
        PaymentMethod::Card,
    )
}

fn open(dir: &Path) -> Db {
    Db::open_with(dir, Options::default().shards(16)).expect("open")
}

#[test]
fn back_dated_posting_rewrites_only_its_own_values_and_reads_stay_bounded() {
    let tmp = tempfile::tempdir().unwrap();
    let db = open(&tmp.path().join("db"));
    db.register_org(Org::new(OrgId(7), "Old Hotel", Currency::EUR))
        .unwrap();
    // Sixty years of history: one posting every 9 days.
    let start = BusinessDay::from_ymd(1965, 1, 1).unwrap().start_utc();
    let mut batch = Batch::new();
    let mut id = 0;
    for i in 0..(60 * 365 / 9) {
        id += 1;
        batch = batch.post(revenue(7, id, start + i * 9 * DAY + 3600, 100));
    }
    db.record(batch).unwrap();
    db.checkpoint().unwrap();

    // A correction posted into 1970: exactly one ledger value and one balance value change.
    let late = BusinessDay::from_ymd(1970, 6, 15).unwrap();
    db.record(Batch::new().post(revenue(7, id + 1, late.start_utc() + 600, 55)))
        .unwrap();
    let stats = db.checkpoint().unwrap();
    assert_eq!(
        (stats.org_values, stats.ledger_values, stats.balance_values),
        (0, 1, 1),
        "{stats:?}"
    );

    // Every closing read costs at most log2(months) Fenwick nodes plus one month of day rows.
    let view = db.snapshot();
    let mut day = BusinessDay::from_days(start.div_euclid(DAY) as i32).expect("day");
    let last = day.checked_add_days(60 * 365).expect("day");
    let mut posted: std::collections::BTreeMap<BusinessDay, i64> =
        std::collections::BTreeMap::new();
    for e in view
        .entries(OrgId(7), start, last.start_utc() + DAY)
        .unwrap()
    {
        *posted.entry(e.day).or_default() += e.amount.0;
    }
    while day <= last {
        let expected_before: i64 = posted.range(..=day).map(|(_, v)| v).sum();
        let (closing, cost) = view.closing_with_cost(OrgId(7), day).unwrap();
        assert_eq!(closing, Money(expected_before), "closing of {day}");
        assert!(
            cost.fenwick_nodes <= 11 && cost.month_values <= 1 && cost.day_rows <= 1,
            "{cost:?}"
        );
        day = day.checked_add_days(13).expect("day");
    }
}

#[test]
fn segments_rotate_and_reopen_reads_them_all() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    let options = Options::default().segment_target_bytes(1024);
    let db = Db::open_with(&dir, options.clone()).unwrap();
    db.register_org(Org::new(OrgId(1), "A", Currency::USD))
        .unwrap();
    for i in 1..=200u64 {
        db.record(Batch::new().post(revenue(1, i, 1_704_067_200 + i as i64 * 600, i as i64)))
            .unwrap();
    }
    drop(db);
    let segments = std::fs::read_dir(dir.join("wal")).unwrap().count();
    assert!(segments >= 4, "only {segments} segments");
    // Rebuild purely from the log: remove the store.
    std::fs::remove_dir_all(dir.join("state")).unwrap();
    let db = Db::open_with(&dir, options).unwrap();
    assert_eq!(db.visible_lsn().0, 201);
    let day = BusinessDay::parse("2024-01-31").unwrap();
    assert_eq!(
        db.balance(OrgId(1), day).unwrap().closing,
        Money((1..=200).sum())
    );
}

#[test]
fn concurrent_writers_share_group_commits_and_every_ack_is_present() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    let db = Arc::new(open(&dir));
    db.register_org(Org::new(OrgId(1), "A", Currency::USD))
        .unwrap();
    let lsns: Vec<u64> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..16u64)
            .map(|t| {
                let db = db.clone();
                s.spawn(move || {
                    (0..50u64)
                        .map(|i| {
                            let id = t * 1000 + i + 1;
                            db.record(Batch::new().post(revenue(
                                1,
                                id,
                                1_704_067_200 + id as i64,
                                10,
                            )))
                            .unwrap()
                            .0
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    let mut sorted = lsns.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(sorted.len(), 800, "every batch gets its own LSN");
    drop(db);
    let db = open(&dir);
    assert_eq!(db.visible_lsn().0, 801);
    assert_eq!(db.entries(OrgId(1), 0, i64::MAX / 2).unwrap().len(), 800);
}

#[test]
fn buffered_durability_is_durable_after_sync_and_close() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    let db = Db::open_with(&dir, Options::default().durability(Durability::Buffered)).unwrap();
    db.register_org(Org::new(OrgId(1), "A", Currency::USD))
        .unwrap();
    db.record(Batch::new().post(revenue(1, 1, 1_704_067_200, 500)))
        .unwrap();
    assert_eq!(db.sync().unwrap().0, 2);
    db.close().unwrap();
    let db = open(&dir);
    assert_eq!(
        db.balance(OrgId(1), BusinessDay::from_days(19723).expect("day"))
            .unwrap()
            .closing,
        Money(500)
    );
}

/// A failed fdatasync, on a file system that fails it on demand (the fault-injection hook).
#[cfg(feature = "fault-injection")]
mod failed_fsync {
    use super::*;
    use folio::io::{AppendFile, Mapped, Metadata, ReadFile, StdFs, Vfs};
    use std::io;
    use std::path::PathBuf;
    use std::sync::atomic::AtomicU64;

    /// StdFs whose append files fail `sync_data` once `fail` is set.
    #[derive(Default)]
    struct FailingSync {
        fail: AtomicBool,
        syncs: AtomicU64,
    }

    struct Append {
        inner: Box<dyn AppendFile>,
        fs: Arc<FailingSync>,
    }

    impl AppendFile for Append {
        fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
            self.inner.write_all(buf)
        }
        fn sync_data(&mut self) -> io::Result<()> {
            self.fs.syncs.fetch_add(1, Ordering::SeqCst);
            if self.fs.fail.load(Ordering::SeqCst) {
                return Err(io::Error::other("injected EIO"));
            }
            self.inner.sync_data()
        }
    }

    struct FaultyFs(Arc<FailingSync>);

    impl Vfs for FaultyFs {
        fn create_dir_all(&self, path: &Path) -> io::Result<()> {
            StdFs.create_dir_all(path)
        }
        fn open_append(&self, path: &Path, create_new: bool) -> io::Result<Box<dyn AppendFile>> {
            Ok(Box::new(Append {
                inner: StdFs.open_append(path, create_new)?,
                fs: self.0.clone(),
            }))
        }
        fn map(&self, path: &Path) -> io::Result<Mapped> {
            StdFs.map(path)
        }
        fn list(&self, dir: &Path) -> io::Result<Vec<PathBuf>> {
            StdFs.list(dir)
        }
        fn exists(&self, path: &Path) -> bool {
            StdFs.exists(path)
        }
        fn truncate(&self, path: &Path, len: u64) -> io::Result<()> {
            StdFs.truncate(path, len)
        }
        fn remove_file(&self, path: &Path) -> io::Result<()> {
            StdFs.remove_file(path)
        }
        fn sync_dir(&self, dir: &Path) -> io::Result<()> {
            StdFs.sync_dir(dir)
        }
        fn read_file(&self, path: &Path) -> io::Result<Vec<u8>> {
            StdFs.read_file(path)
        }
        fn write_atomic(&self, path: &Path, bytes: &[u8]) -> io::Result<()> {
            StdFs.write_atomic(path, bytes)
        }
        fn open_read(&self, path: &Path) -> io::Result<Box<dyn ReadFile>> {
            StdFs.open_read(path)
        }
        fn metadata(&self, path: &Path) -> io::Result<Metadata> {
            StdFs.metadata(path)
        }
        fn copy_file(&self, from: &Path, to: &Path) -> io::Result<u64> {
            StdFs.copy_file(from, to)
        }
        fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
            StdFs.rename(from, to)
        }
        fn remove_dir_all(&self, path: &Path) -> io::Result<()> {
            StdFs.remove_dir_all(path)
        }
    }

    #[test]
    fn failed_fsync_poisons_until_reopen_and_never_acknowledges() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("db");
        let faults = Arc::new(FailingSync::default());
        let options = Options::default().vfs(Arc::new(FaultyFs(faults.clone())));
        let db = Db::open_with(&dir, options).unwrap();
        db.register_org(Org::new(OrgId(1), "A", Currency::USD))
            .unwrap();
        db.record(Batch::new().post(revenue(1, 1, 1_704_067_200, 100)))
            .unwrap();
        faults.fail.store(true, Ordering::SeqCst);
        let failed = db.record(Batch::new().post(revenue(1, 2, 1_704_067_200, 200)));
        assert!(matches!(failed, Err(Error::Poisoned(_))), "{failed:?}");
        // The failed batch is not visible, and nothing is accepted any more.
        assert_eq!(
            db.balance(OrgId(1), BusinessDay::from_days(19723).expect("day"))
                .unwrap()
                .closing,
            Money(100)
        );
        faults.fail.store(false, Ordering::SeqCst);
        let syncs_before = faults.syncs.load(Ordering::SeqCst);
        let again = db.record(Batch::new().post(revenue(1, 3, 1_704_067_200, 300)));
        assert!(matches!(again, Err(Error::Poisoned(_))), "{again:?}");
        assert_eq!(
            faults.syncs.load(Ordering::SeqCst),
            syncs_before,
            "a poisoned database must not retry fsync"
        );
        assert!(db.close().is_err());
        // Reopening recovers exactly the log: the acknowledged batch, and at most the unacknowledged
        // one (its bytes reached the file before the fsync failed).
        let db = open(&dir);
        let closing = db
            .balance(OrgId(1), BusinessDay::from_days(19723).expect("day"))
            .unwrap()
            .closing;
        assert!(
            closing == Money(100) || closing == Money(300),
            "{closing:?}"
        );
        db.record(Batch::new().post(revenue(1, 4, 1_704_067_200, 1)))
            .unwrap();
    }
}

#[test]
fn readers_never_see_half_a_batch() {
    let tmp = tempfile::tempdir().unwrap();
    let db = Arc::new(open(&tmp.path().join("db")));
    db.register_org(Org::new(OrgId(1), "A", Currency::USD))
        .unwrap();
    db.register_org(Org::new(OrgId(2), "B", Currency::USD))
        .unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let day = BusinessDay::from_days(19723).expect("day");
    let reader = {
        let (db, done) = (db.clone(), done.clone());
        std::thread::spawn(move || {
            let mut reads = 0u64;
            while !done.load(Ordering::SeqCst) || reads == 0 {
                // Every batch moves 100 from org 2 (expense) to org 1 (revenue): the two closings
                // always cancel and the row counts always match, in any consistent view.
                let view = db.snapshot();
                let a = view.balance(OrgId(1), day).unwrap();
                let b = view.balance(OrgId(2), day).unwrap();
                assert_eq!(
                    a.closing.0 + b.closing.0,
                    0,
                    "half a batch visible at {}",
                    view.lsn()
                );
                assert_eq!(a.revenue_count, b.expense_count);
                reads += 1;
            }
            reads
        })
    };
    for i in 0..300u64 {
        let expense = Entry::expense(
            OrgId(2),
            EntryId(i + 1),
            1_704_067_200 + i as i64,
            Money(100),
            Category::Supplies,
            PaymentMethod::Cash,
            folio::ExpenseStatus::Paid,
        );
        db.record(
            Batch::new()
                .post(revenue(1, i + 1, 1_704_067_200 + i as i64, 100))
                .post(expense),
        )
        .unwrap();
    }
    done.store(true, Ordering::SeqCst);
    assert!(reader.join().unwrap() > 0);
    assert_eq!(db.balance(OrgId(1), day).unwrap().closing, Money(30_000));
}

#[test]
fn a_rejected_batch_in_flight_names_the_operation_at_fault() {
    let tmp = tempfile::tempdir().unwrap();
    let db = open(&tmp.path().join("db"));
    db.register_org(Org::new(OrgId(1), "A", Currency::EUR))
        .unwrap();
    let t0 = 1_704_067_200;
    // Operation 2 overflows the org's inflow, operation 0 is fine: the error is about 2.
    let batch = Batch::new()
        .post(revenue(1, 1, t0, 100))
        .post(revenue(1, 2, t0, i64::MAX - 100))
        .post(revenue(1, 3, t0, 1));
    let err = db.submit(batch).unwrap().wait_op().unwrap_err();
    assert_eq!(err.op_index, Some(2), "{err}");
    assert!(matches!(
        err.error,
        Error::Rejected(folio::Rejection::Overflow { org: OrgId(1) })
    ));
    // A conflict inside one batch names the second posting of the id, not the first.
    let conflict = Batch::new()
        .post(revenue(1, 5, t0, 10))
        .post(revenue(1, 6, t0, 10))
        .post(revenue(1, 5, t0, 11));
    let err = db.submit(conflict).unwrap().wait_op().unwrap_err();
    assert_eq!(err.op_index, Some(2), "{err}");
    // `wait` and `record` keep answering the plain error.
    let again = Batch::new().post(revenue(1, 7, t0, 0));
    assert!(matches!(
        db.submit(again.clone()).unwrap().wait(),
        Err(Error::Rejected(folio::Rejection::NonPositiveAmount { .. }))
    ));
    assert!(matches!(
        db.record(again),
        Err(Error::Rejected(folio::Rejection::NonPositiveAmount { .. }))
    ));
    assert_eq!(db.entries(OrgId(1), 0, 2 * t0).unwrap().len(), 0);
    db.close().unwrap();
}
