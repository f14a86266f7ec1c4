//! Bad directories to open: another format version, someone else's files, a database already
//! open.

use crate::common::{self, assert_one_line};
use crate::fixture::{revenue, HOTEL, T0};
use folio::{Batch, BusinessDay, Currency, Db, Error, Money, Org};
use std::path::{Path, PathBuf};
use tempfile::TempDir;

fn create_and_close(path: &Path) {
    let db = common::open(path);
    db.register_org(Org::new(HOTEL, "Seaside Inn", Currency::EUR))
        .unwrap();
    db.close().unwrap();
}

#[test]
fn other_format_version() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    create_and_close(&path);
    let meta = path.join("FOLIO");
    let mut bytes = std::fs::read(&meta).unwrap();
    assert_eq!(&bytes[8..12], &1u32.to_le_bytes(), "version 1 at offset 8");
    bytes[8] = 99;
    // A well-formed file of another version: its checksum (bytes 12..16, over the rest) is valid.
    let mut crc = crc32fast::Hasher::new();
    crc.update(&bytes[0..12]);
    crc.update(&bytes[16..]);
    bytes[12..16].copy_from_slice(&crc.finalize().to_le_bytes());
    std::fs::write(&meta, &bytes).unwrap();
    let err = Db::open_with(&path, common::options(4, folio::Durability::Sync))
        .expect_err("a database of another version must not open");
    assert_one_line(&err);
    match err {
        Error::FormatVersion {
            path: p,
            found,
            supported,
        } => {
            assert_eq!((found, supported), (99, 1));
            assert!(p.ends_with("FOLIO") || p == path, "{p:?}");
        }
        other => panic!("expected FormatVersion, got {other:?}"),
    }
    // Nothing was rewritten: the file still says 99.
    assert_eq!(std::fs::read(&meta).unwrap(), bytes);
}

/// A directory of someone else's files, with one file in it.
fn foreign_directory(dir: &TempDir) -> PathBuf {
    let path = dir.path().join("photos");
    std::fs::create_dir(&path).unwrap();
    std::fs::write(path.join("beach.jpg"), b"not a database").unwrap();
    path
}

fn listing(path: &Path) -> Vec<std::ffi::OsString> {
    let mut names: Vec<_> = std::fs::read_dir(path)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    names.sort();
    names
}

#[test]
fn non_database_directory() {
    let dir = tempfile::tempdir().unwrap();
    let path = foreign_directory(&dir);
    let before = listing(&path);
    let options = common::options(4, folio::Durability::Sync).create_if_missing(false);
    let err = Db::open_with(&path, options.clone()).expect_err("must not open");
    assert_one_line(&err);
    assert!(
        matches!(&err, Error::NotADatabase { path: p } if *p == path),
        "{err:?}"
    );
    assert_eq!(
        listing(&path),
        before,
        "opening must not touch the directory"
    );
    // A missing directory without create_if_missing is not a database either, and stays missing.
    let missing = dir.path().join("nothing");
    let err = Db::open_with(&missing, options).expect_err("must not open");
    assert_one_line(&err);
    assert!(matches!(&err, Error::NotADatabase { .. }), "{err:?}");
    assert!(!missing.exists());
}

/// With `create_if_missing` (the default), a directory holding someone else's files is refused
/// too, and left exactly as it was.
#[test]
fn refusing_to_create_among_foreign_files_leaves_them_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = foreign_directory(&dir);
    let before = listing(&path);
    let err = Db::open_with(&path, common::options(4, folio::Durability::Sync))
        .expect_err("must not create a database among foreign files");
    assert_one_line(&err);
    assert!(
        matches!(&err, Error::NotADatabase { path: p } if *p == path),
        "{err:?}"
    );
    assert_eq!(
        std::fs::read(path.join("beach.jpg")).unwrap(),
        b"not a database"
    );
    assert_eq!(
        listing(&path),
        before,
        "refusing to create must not leave files behind"
    );
}

#[test]
fn locked_database_opened_twice() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let db = common::open(&path);
    db.register_org(Org::new(HOTEL, "Seaside Inn", Currency::EUR))
        .unwrap();
    let err = Db::open_with(&path, common::options(4, folio::Durability::Sync))
        .expect_err("a second handle must not open");
    assert_one_line(&err);
    assert!(
        matches!(&err, Error::Locked { path: p } if *p == path),
        "{err:?}"
    );
    // The first handle is unaffected.
    db.record(Batch::new().post(revenue(HOTEL, 1, T0, 5)))
        .unwrap();
    assert_eq!(
        db.balance(HOTEL, BusinessDay::utc(T0).expect("day"))
            .unwrap()
            .closing,
        Money(5)
    );
    db.close().unwrap();
    let db = common::open(&path);
    assert_eq!(
        db.balance(HOTEL, BusinessDay::utc(T0).expect("day"))
            .unwrap()
            .closing,
        Money(5)
    );
}
