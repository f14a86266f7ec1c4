//! The engine's log events: what recovery did is said as structured `tracing` events (nothing is
//! printed unless the embedder installs a subscriber). Captured here with a subscriber of the
//! test's own (tests/log_capture), scoped to the opening thread.

#![allow(clippy::unwrap_used)]
mod log_capture;

use folio::{Batch, Category, Currency, Db, Entry, EntryId, Money, Options, Org, OrgId};
use folio::{Lsn, PaymentMethod};
use log_capture::Capture;
use std::path::{Path, PathBuf};
use tracing::Level;

/// A database with one org and three postings, closed cleanly.
fn database(dir: &Path) {
    let db = Db::open(dir).unwrap();
    db.register_org(Org::new(OrgId(1), "Seaside Inn", Currency::EUR))
        .unwrap();
    for n in 1..=3u64 {
        let stay = Entry::revenue(
            OrgId(1),
            EntryId(n),
            1_704_103_200 + n as i64,
            Money(12_000),
            Category::Rooms,
            PaymentMethod::Card,
        );
        db.record(Batch::new().post(stay)).unwrap();
    }
    db.close().unwrap();
}

/// The log's only segment.
fn segment(dir: &Path) -> PathBuf {
    let mut logs: Vec<PathBuf> = std::fs::read_dir(dir.join("wal"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "log"))
        .collect();
    assert_eq!(logs.len(), 1, "{logs:?}");
    logs.remove(0)
}

/// A write that never completed: `n` bytes after the last acknowledged frame.
fn tear(dir: &Path, n: usize) {
    let seg = segment(dir);
    let mut bytes = std::fs::read(&seg).unwrap();
    bytes.extend(std::iter::repeat_n(0x5a, n));
    std::fs::write(&seg, bytes).unwrap();
}

/// A recovery that cuts a torn tail says so in one WARN event whose fields give the bytes and
/// frames cut (the report's figures), the LSN cut from and the database's path; a read-only open
/// that reads around it says so too (`read_only = true`), and a clean open says nothing.
#[test]
fn a_recovery_that_cuts_a_torn_tail_emits_a_warning_with_bytes_and_frames() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    database(&dir);
    tear(&dir, 100);

    // Read-only: found and left in place.
    let capture = Capture::default();
    let read_only = Options::read_only();
    let db = capture.during(|| Db::open_with(&dir, read_only).unwrap());
    drop(db);
    let events = capture.warnings();
    assert_eq!(events.len(), 1, "{events:?}");
    let e = &events[0];
    assert_eq!(e.level, Level::WARN);
    assert_eq!(e.field("read_only"), Some("true"), "{e:?}");
    assert_eq!(e.field("bytes"), Some("100"), "{e:?}");
    assert!(e.message().contains("left in place"), "{e:?}");

    // Writable: cut.
    let capture = Capture::default();
    let db = capture.during(|| Db::open(&dir).unwrap());
    let report = db.recovery().clone();
    db.close().unwrap();
    let events = capture.warnings();
    assert_eq!(events.len(), 1, "{events:?}");
    let e = &events[0];
    assert_eq!(e.level, Level::WARN);
    assert!(e.target.starts_with("folio"), "{e:?}");
    assert_eq!(e.field("bytes"), Some("100"), "{e:?}");
    assert_eq!(e.field("frames"), Some("1"), "{e:?}");
    assert_eq!(e.field("tails"), Some("1"), "{e:?}");
    assert_eq!(e.field("lsn"), Some("5"), "{e:?}");
    assert_eq!(e.field("read_only"), Some("false"), "{e:?}");
    assert_eq!(e.field("path"), Some(dir.display().to_string().as_str()));
    assert!(e.message().contains("cut a torn log tail"), "{e:?}");
    assert_eq!((report.truncated_bytes, report.truncated_frames), (100, 1));
    assert_eq!(report.lsn, Lsn(4));

    // Cut: the next open is clean and silent.
    let capture = Capture::default();
    let db = capture.during(|| Db::open(&dir).unwrap());
    assert!(db.recovery().torn.is_empty());
    db.close().unwrap();
    assert!(capture.warnings().is_empty(), "{:?}", capture.events());
}

/// An unreadable store is rebuilt from the whole log: one WARN event with the reason and what
/// was replayed.
#[test]
fn a_store_rebuilt_from_the_log_emits_a_warning_with_the_reason() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    database(&dir);
    // The store's configuration file, overwritten: sled refuses to open it.
    std::fs::write(dir.join("state").join("conf"), b"not a sled configuration").unwrap();
    let capture = Capture::default();
    let db = capture.during(|| Db::open(&dir).unwrap());
    let report = db.recovery().clone();
    db.close().unwrap();
    let reason = report.rebuilt.expect("the store was rebuilt");
    let events = capture.warnings();
    assert_eq!(events.len(), 1, "{events:?}");
    let e = &events[0];
    assert_eq!(e.level, Level::WARN);
    assert_eq!(e.field("reason"), Some(reason.as_str()), "{e:?}");
    assert_eq!(e.field("lsn"), Some("4"), "{e:?}");
    assert_eq!(e.field("frames"), Some("4"), "{e:?}");
    assert!(e.message().contains("rebuilt from the whole log"), "{e:?}");
}
