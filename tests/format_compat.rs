//! Format compatibility (docs/RELIABILITY.md): a database written by this format version is
//! checked in (tests/fixtures/format-v1/, made by the ignored test `make_format_fixture` below,
//! with its answers in tests/fixtures/format-v1.answers.json recorded when it was made). Every
//! build must open it, verify it, and give those answers; a directory of a newer format version
//! is refused with a typed error and left as it was.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod common;

use folio::{Batch, Currency, Db, Error, Op, OrgId};
use folio_workload::ingest::{auto_org, entry_of};
use folio_workload::{instances, Generator, Params};
use std::path::{Path, PathBuf};

const PARAMS: Params = Params {
    seed: 7,
    orgs: 20,
    events: 6_000,
    years: 1,
};

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/format-v1")
}

fn answers_file() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/format-v1.answers.json")
}

/// The answers the fixture is checked by: the first 20 instances of every hotel-ledger-v1
/// query kind, plus the verify counts.
fn answers(db: &Db) -> serde_json::Value {
    let view = db.snapshot();
    let mut queries = Vec::new();
    for kind in 1..=5u8 {
        for q in instances(kind, &PARAMS, 20).expect("valid parameters") {
            let answer = folio_workload::run::answer(&view, &q)
                .map_err(|e| e.to_string())
                .unwrap_or_else(|e| serde_json::json!({ "error": e }));
            queries.push(serde_json::json!({ "query": q.to_json_line(), "answer": answer }));
        }
    }
    let report = db.verify();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    serde_json::json!({
        "lsn": db.visible_lsn().0,
        "orgs": report.orgs,
        "entries": report.entries,
        "balance_rows": report.balance_rows,
        "index_entries": report.index_entries,
        "queries": queries,
    })
}

#[test]
#[ignore = "writes the checked-in fixture; run once per format version"]
fn make_format_fixture() {
    let dir = fixture();
    assert!(!dir.exists(), "{} exists: remove it first", dir.display());
    let db = Db::open(&dir).unwrap();
    let orgs: Vec<Op> = (1..=PARAMS.orgs)
        .map(|id| Op::RegisterOrg(auto_org(OrgId(id), Currency::USD)))
        .collect();
    db.record(Batch::from(orgs)).unwrap();
    let events: Vec<Op> = Generator::new(PARAMS)
        .expect("valid parameters")
        .map(|e| Op::Post(entry_of(&e)))
        .collect();
    for chunk in events.chunks(100) {
        db.record(Batch::from(chunk.to_vec())).unwrap();
    }
    let answers = answers(&db);
    db.close().unwrap();
    std::fs::write(
        answers_file(),
        serde_json::to_string_pretty(&answers).unwrap(),
    )
    .unwrap();
}

#[test]
fn the_checked_in_database_opens_verifies_and_answers_as_recorded() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    common::copy_dir(&fixture(), &dir);
    let expected: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(answers_file()).unwrap()).unwrap();
    let db = Db::open(&dir).expect("the format-v1 fixture opens");
    assert_eq!(
        db.recovery().rebuilt,
        None,
        "the fixture's store loads as it is"
    );
    assert_eq!(answers(&db), expected);
    db.close().unwrap();
    // And again from its log alone.
    std::fs::remove_dir_all(dir.join("state")).unwrap();
    let db = Db::open(&dir).unwrap();
    assert_eq!(answers(&db), expected);
}

#[test]
fn a_newer_format_version_is_refused_and_left_untouched() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    common::copy_dir(&fixture(), &dir);
    let meta = dir.join("FOLIO");
    let mut bytes = std::fs::read(&meta).unwrap();
    bytes[8..12].copy_from_slice(&2u32.to_le_bytes());
    // A well-formed newer file: its checksum (bytes 12..16, over the rest) is valid.
    let mut h = crc32fast::Hasher::new();
    h.update(&bytes[0..12]);
    h.update(&bytes[16..]);
    bytes[12..16].copy_from_slice(&h.finalize().to_le_bytes());
    std::fs::write(&meta, &bytes).unwrap();
    let before = std::fs::read(&meta).unwrap();
    match Db::open(&dir) {
        Err(Error::FormatVersion {
            found, supported, ..
        }) => assert_eq!((found, supported), (2, 1)),
        Err(e) => panic!("expected a format version error, got {e}"),
        Ok(_) => panic!("a newer format version opened"),
    }
    assert_eq!(std::fs::read(&meta).unwrap(), before);
    // A damaged version field is damage, not a newer version.
    let mut damaged = before.clone();
    damaged[8] ^= 0x40;
    std::fs::write(&meta, &damaged).unwrap();
    assert!(matches!(Db::open(&dir), Err(Error::Corruption { .. })));
}
