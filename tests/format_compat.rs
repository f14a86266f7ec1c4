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
    answers_of(db, &PARAMS)
}

/// The first 20 instances of every hotel-ledger-v1 query kind of `params`, plus the verify
/// counts (which must find no problem).
fn answers_of(db: &Db, params: &Params) -> serde_json::Value {
    let view = db.snapshot();
    let mut queries = Vec::new();
    for kind in 1..=5u8 {
        for q in instances(kind, params, 20).expect("valid parameters") {
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
    register_orgs(&db, &PARAMS);
    post_workload(&db, &PARAMS);
    let answers = answers(&db);
    db.close().unwrap();
    write_answers(&answers_file(), &answers);
}

/// Registers the orgs of `params` (in USD).
fn register_orgs(db: &Db, params: &Params) {
    let orgs: Vec<Op> = (1..=params.orgs)
        .map(|id| Op::RegisterOrg(auto_org(OrgId(id), Currency::USD)))
        .collect();
    db.record(Batch::from(orgs)).unwrap();
}

/// Posts the workload stream of `params` in batches of 100.
fn post_workload(db: &Db, params: &Params) {
    let events: Vec<Op> = Generator::new(*params)
        .expect("valid parameters")
        .map(|e| Op::Post(entry_of(&e)))
        .collect();
    for chunk in events.chunks(100) {
        db.record(Batch::from(chunk.to_vec())).unwrap();
    }
}

fn write_answers(path: &Path, answers: &serde_json::Value) {
    std::fs::write(path, serde_json::to_string_pretty(answers).unwrap()).unwrap();
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

/// The fixture's store keeps day rows in one tree per balance shard (`balances/NN`), as stores
/// written before day rows went to one tree per chunk (`balances`) did: new day rows of the same
/// months go to the new tree and supersede the old values, a freeze removes the frozen months'
/// values from both, and the database answers alike after a reopen and from its log alone.
#[test]
fn day_rows_of_the_old_shard_trees_are_superseded_and_frozen_alike() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    common::copy_dir(&fixture(), &dir);
    let db = Db::open(&dir).unwrap();
    // 2024-03-15T12:00:00Z and 2024-09-15T12:00:00Z: months the fixture's day rows cover.
    let mut batch = Batch::new();
    for (n, at) in [1_710_504_000i64, 1_726_401_600].into_iter().enumerate() {
        for org in 1..=PARAMS.orgs {
            batch = batch.post(folio::Entry::revenue(
                OrgId(org),
                folio::EntryId((1 << 40) + org * 2 + n as u64),
                at,
                folio::Money(100 + org as i64),
                folio::Category::Rooms,
                folio::PaymentMethod::Card,
            ));
        }
    }
    db.record(batch).unwrap();
    db.checkpoint().unwrap();
    let frozen = db
        .freeze(Some(folio::Month::new(2024, 6).unwrap()))
        .unwrap();
    assert!(!frozen.frozen.is_empty());
    let seen = (answers(&db), day_rows(&db));
    let report = db.verify();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    db.close().unwrap();
    #[cfg(feature = "internals")]
    {
        let store = folio::store::Store::open(&dir.join("state")).unwrap();
        let trees = store.tree_names();
        assert!(
            trees.iter().any(|t| t == "balances")
                && trees.iter().any(|t| t.starts_with("balances/")),
            "both kinds of day-row trees: {trees:?}"
        );
        assert!(store.balance_value_months().unwrap().len() > 1);
    }

    let db = Db::open(&dir).unwrap();
    assert_eq!(db.recovery().rebuilt, None, "the store loads as it is");
    assert_eq!((answers(&db), day_rows(&db)), seen, "after a reopen");
    let report = db.verify();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    db.close().unwrap();
    let db = Db::open_with(&dir, folio::Options::read_only()).unwrap();
    assert_eq!((answers(&db), day_rows(&db)), seen, "read-only");
    db.close().unwrap();

    std::fs::remove_dir_all(dir.join("state")).unwrap();
    let db = Db::open(&dir).unwrap();
    assert_eq!((answers(&db), day_rows(&db)), seen, "from the log alone");
}

/// Every org's day rows of 2024 and 2025.
fn day_rows(db: &Db) -> String {
    let from = folio::BusinessDay::from_ymd(2024, 1, 1).unwrap();
    let to = folio::BusinessDay::from_ymd(2025, 12, 31).unwrap();
    (1..=PARAMS.orgs)
        .map(|org| format!("{:?}", db.balances(OrgId(org), from, to).unwrap()))
        .collect()
}

/// The segment files of `dir`'s log, in order, with their header's format version and the
/// frame headers' operation-count fields.
#[cfg(feature = "internals")]
fn segments(dir: &Path) -> Vec<(PathBuf, u32, Vec<u32>)> {
    use folio::codec::frame::{decode_frame, frame_len};
    use folio::wal::segment::{SegmentHeader, SEGMENT_HEADER_BYTES};
    let mut names: Vec<PathBuf> = std::fs::read_dir(dir.join("wal"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|path| {
            let bytes = std::fs::read(&path).unwrap();
            let header = SegmentHeader::decode(&bytes).unwrap();
            let mut fields = Vec::new();
            let mut at = SEGMENT_HEADER_BYTES;
            while at < bytes.len() {
                let (h, payload) = decode_frame(&bytes[at..]).unwrap();
                fields.push(h.op_count);
                at += frame_len(payload.len());
            }
            (path, header.version, fields)
        })
        .collect()
}

/// A revenue posting for each of orgs `1..=orgs` (ids after `first_id`, on 2024-03-15, in a
/// month the fixtures' rows cover), after the workload's own entries.
fn postings(orgs: u64, first_id: u64) -> Batch {
    let mut batch = Batch::new();
    for org in 1..=orgs {
        batch = batch.post(folio::Entry::revenue(
            OrgId(org),
            folio::EntryId(first_id + org),
            1_710_504_000 + org as i64,
            folio::Money(100 + org as i64),
            folio::Category::Rooms,
            folio::PaymentMethod::Card,
        ));
    }
    batch
}

/// The fixture's log holds rkyv batches in a segment of version 1. A writer continues the log in
/// a new segment of version 2 with compact batches (the old segment is left byte for byte), and
/// both kinds read back: after a reopen, and from the log alone.
#[cfg(feature = "internals")]
#[test]
fn a_log_of_rkyv_batches_goes_on_in_a_new_segment_of_compact_batches() {
    use folio::codec::record::COMPACT_BATCH;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    common::copy_dir(&fixture(), &dir);
    let before = segments(&dir);
    assert_eq!(before.len(), 1);
    assert_eq!(before[0].1, 1, "the fixture's segment is of version 1");
    assert!(before[0].2.iter().all(|f| f & COMPACT_BATCH == 0));
    let old_bytes = std::fs::read(&before[0].0).unwrap();

    let db = Db::open(&dir).unwrap();
    let entries = db.verify().entries;
    db.record(postings(PARAMS.orgs, 1 << 40)).unwrap();
    db.record(postings(PARAMS.orgs, 2 << 40)).unwrap();
    db.close().unwrap();
    let after = segments(&dir);
    assert_eq!(after.len(), 2, "{after:?}");
    assert_eq!(
        std::fs::read(&after[0].0).unwrap(),
        old_bytes,
        "the old segment is untouched"
    );
    assert_eq!(after[1].1, 2, "the new segment is of version 2");
    assert_eq!(
        after[1].2,
        vec![20 | COMPACT_BATCH; 2],
        "two compact frames of 20 entries"
    );

    let db = Db::open(&dir).unwrap();
    let report = db.verify();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    assert_eq!(report.entries, entries + 40);
    db.record(postings(PARAMS.orgs, 3 << 40)).unwrap();
    let seen = (answers(&db), day_rows(&db));
    db.close().unwrap();
    assert_eq!(
        segments(&dir).len(),
        2,
        "a segment of version 2 is continued"
    );

    std::fs::remove_dir_all(dir.join("state")).unwrap();
    let db = Db::open(&dir).unwrap();
    assert_eq!(db.verify().entries, entries + 60, "from the log alone");
    assert_eq!((answers(&db), day_rows(&db)), seen, "from the log alone");
}

/// A segment of version 1 that holds no frame (a header only: a rotation that stopped there) is
/// replaced by one of version 2 under the same name; a segment of a newer version is refused
/// with a typed error and left as it was, by an open and by a replica it is shipped to.
#[cfg(feature = "internals")]
#[test]
fn an_empty_old_segment_is_replaced_and_a_newer_one_refused() {
    use folio::codec::frame::{decode_frame, frame_len};
    use folio::wal::segment::{segment_name, SegmentHeader, SEGMENT_HEADER_BYTES};
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    common::copy_dir(&fixture(), &dir);
    let (path, _, _) = segments(&dir).remove(0);
    let bytes = std::fs::read(&path).unwrap();
    let db_id = SegmentHeader::decode(&bytes).unwrap().db_id;
    let (mut at, mut last) = (SEGMENT_HEADER_BYTES, (0, 0));
    while at < bytes.len() {
        let (h, payload) = decode_frame(&bytes[at..]).unwrap();
        last = (h.lsn, h.crc);
        at += frame_len(payload.len());
    }
    let mut header = SegmentHeader::new(db_id, last.0 + 1, last.1);
    header.version = 1;
    let empty = dir.join("wal").join(segment_name(last.0 + 1));
    std::fs::write(&empty, header.encode()).unwrap();

    let db = Db::open(&dir).unwrap();
    let entries = db.verify().entries;
    db.record(postings(PARAMS.orgs, 1 << 40)).unwrap();
    db.close().unwrap();
    let after = segments(&dir);
    assert_eq!(after.len(), 2);
    assert_eq!((&after[1].0, after[1].1, after[1].2.len()), (&empty, 2, 1));

    let mut newer = SegmentHeader::decode(&std::fs::read(&empty).unwrap()).unwrap();
    newer.version = 3;
    let mut bytes = std::fs::read(&empty).unwrap();
    bytes[..SEGMENT_HEADER_BYTES].copy_from_slice(&newer.encode());
    std::fs::write(&empty, &bytes).unwrap();
    // (found, supported, file) of a format version error.
    let refused = |e: Error| match e {
        Error::FormatVersion {
            found,
            supported,
            path,
        } => (found, supported, path),
        other => panic!("expected a format version error, got {other}"),
    };
    let Err(err) = Db::open(&dir) else {
        panic!("a segment of a newer version opened");
    };
    assert_eq!(refused(err), (3, 2, empty.clone()));
    assert_eq!(std::fs::read(&empty).unwrap(), bytes);
    // Shipped to a replica, too.
    let Err(err) = folio::wal::read_segments(std::slice::from_ref(&empty), db_id) else {
        panic!("a shipped segment of a newer version was read");
    };
    assert_eq!(refused(err), (3, 2, empty.clone()));
    newer.version = 2;
    bytes[..SEGMENT_HEADER_BYTES].copy_from_slice(&newer.encode());
    std::fs::write(&empty, &bytes).unwrap();
    std::fs::remove_dir_all(dir.join("state")).unwrap();
    let db = Db::open(&dir).unwrap();
    assert_eq!(db.verify().entries, entries + 20, "from the log alone");
}

/// The frozen-file fixtures: a database whose past months were frozen by a build writing frozen
/// files of format 2 (tests/fixtures/frozen-v2/) and the same database made by a build writing
/// format 3 (tests/fixtures/frozen-v3/), each made by the ignored test `make_frozen_fixture`;
/// their answers, the same for both, in tests/fixtures/frozen-v2.answers.json.
const FROZEN_PARAMS: Params = Params {
    seed: 11,
    orgs: 12,
    events: 4_000,
    years: 1,
};

fn frozen_fixture(format: u32) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/fixtures/frozen-v{format}"))
}

/// The frozen-file format this build writes (the fixture `make_frozen_fixture` makes).
const WRITTEN_FORMAT: u32 = 4;

fn frozen_answers_file() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/frozen-v2.answers.json")
}

/// Ids of the entries the fixture adds to the workload's (reversals, late postings).
const EXTRA_IDS: u64 = 1 << 32;

fn cash_index() -> folio::IndexDef {
    folio::IndexDef::new(
        "revenues_card_by_category",
        folio::Kind::Revenue,
        &[folio::Column::Category],
        &[folio::Column::Amount],
        Some(folio::Predicate::PaymentMethodIs(
            folio::PaymentMethod::Card,
        )),
    )
}

/// Every row of one org's ledger of `kind` through a typed query (every field of every row),
/// page by page.
fn ledger(db: &Db, org: OrgId, kind: folio::Kind) -> Vec<String> {
    let mut out = Vec::new();
    let mut after = None;
    loop {
        let mut q = match kind {
            folio::Kind::Revenue => folio::Query::revenues(),
            folio::Kind::Expense => folio::Query::expenses(),
        }
        .org(org)
        .limit(500);
        if let Some(cursor) = after.take() {
            q = q.after(cursor);
        }
        match db.query(&q).unwrap() {
            folio::QueryOutput::Rows { rows, next } => {
                out.extend(rows.iter().map(|r| format!("{r:?}")));
                match next {
                    Some(n) => after = Some(n),
                    None => return out,
                }
            }
            other => panic!("rows expected: {other:?}"),
        }
    }
}

/// The fixture's answers: the workload's query instances and verify counts, every org's rows of
/// both ledgers, a typed query the index serves, and every org's day rows of 2024.
fn frozen_answers(db: &Db) -> serde_json::Value {
    let mut orgs = Vec::new();
    for org in (1..=FROZEN_PARAMS.orgs).map(OrgId) {
        let card_rooms = folio::Query::revenues()
            .org(org)
            .payment_method(folio::PaymentMethod::Card)
            .category(folio::Category::Rooms)
            .limit(10_000);
        let from = folio::BusinessDay::from_ymd(2023, 12, 31).unwrap();
        let to = folio::BusinessDay::from_ymd(2025, 1, 2).unwrap();
        orgs.push(serde_json::json!({
            "revenues": ledger(db, org, folio::Kind::Revenue),
            "expenses": ledger(db, org, folio::Kind::Expense),
            "card_rooms": format!("{:?}", db.query(&card_rooms).unwrap()),
            "days": format!("{:?}", db.balances(org, from, to).unwrap()),
        }));
    }
    serde_json::json!({ "workload": answers_of(db, &FROZEN_PARAMS), "orgs": orgs })
}

/// Whether workload entry `i` (0-based) is reversed by [`marks`] with offset `skip`.
fn reversed_by_marks(i: usize, skip: usize) -> bool {
    i >= skip && (i - skip).is_multiple_of(97)
}

/// Reversals (with references longer than 8 bytes) of every 97th workload entry from `skip`
/// on, and payments of every 13th pending expense from the `skip`th on that no pass reverses,
/// among the first `upto` entries.
fn marks(upto: usize, skip: usize, first_id: u64) -> Batch {
    let entries: Vec<folio::Entry> = Generator::new(FROZEN_PARAMS)
        .expect("valid parameters")
        .take(upto)
        .map(|e| entry_of(&e))
        .collect();
    let mut batch = Batch::new();
    for (id, entry) in (first_id..).zip(entries.iter().skip(skip).step_by(97)) {
        batch = batch.reverse(folio::Reversal {
            org: entry.org,
            id: folio::EntryId(id),
            reverses: entry.id,
            occurred_at: entry.occurred_at + 3_600,
            reference: format!("reversal of entry {} (booked twice)", entry.id.0),
        });
    }
    let pending = entries.iter().enumerate().filter(|(i, e)| {
        e.status == Some(folio::ExpenseStatus::Pending)
            && !reversed_by_marks(*i, 0)
            && !reversed_by_marks(*i, 50)
    });
    for (_, entry) in pending.skip(skip / 10).step_by(13) {
        batch = batch.pay(folio::PayExpense {
            org: entry.org,
            entry: entry.id,
            paid_at: entry.occurred_at + 86_400,
        });
    }
    batch
}

#[test]
#[ignore = "writes the checked-in fixture; run once per frozen-file format version"]
fn make_frozen_fixture() {
    let dir = frozen_fixture(WRITTEN_FORMAT);
    assert!(!dir.exists(), "{} exists: remove it first", dir.display());
    let db = Db::open_with(&dir, folio::Options::default().shards(4)).unwrap();
    register_orgs(&db, &FROZEN_PARAMS);
    db.create_index(cash_index(), |_, _| {}).unwrap();
    post_workload(&db, &FROZEN_PARAMS);
    db.record(marks(3_000, 0, EXTRA_IDS)).unwrap();
    let frozen = db.freeze(None).unwrap();
    assert!(frozen.frozen.len() >= 9, "{frozen:?}");
    // Into frozen months: late postings, then marks of frozen rows (overlay and patches).
    db.record(postings(FROZEN_PARAMS.orgs, 2 * EXTRA_IDS))
        .unwrap();
    db.record(marks(2_000, 50, 3 * EXTRA_IDS)).unwrap();
    let answers = frozen_answers(&db);
    db.close().unwrap();
    write_answers(&frozen_answers_file(), &answers);
}

/// The format version in the header of each file of `dir`'s `frozen/`, by name.
fn frozen_formats(dir: &Path) -> std::collections::BTreeMap<String, u32> {
    std::fs::read_dir(dir.join("frozen"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "frz"))
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, u32::from_le_bytes(bytes[8..12].try_into().unwrap()))
        })
        .collect()
}

/// A database whose months were frozen in format 2 opens and answers as recorded when it was
/// made (rows, marks, references, index parts, day rows, roll-ups, top lists), read-only too; a
/// re-freeze of the months its later writes touched writes them in the current format, and the
/// answers stay the same after a reopen and from the log alone.
#[test]
fn frozen_files_of_format_two_are_read_and_refrozen_in_the_current_format() {
    frozen_files_of_an_older_format_are_read_and_refrozen(2);
}

/// As for format 2, with files of format 3: the same blocks as format 4's, but a filter without
/// the pending-org keys, so Q4 must look every org up in them (answers as recorded, pending
/// expenses included); their blocks are copied into the new versions.
#[test]
fn frozen_files_of_format_three_are_read_and_refrozen_in_the_current_format() {
    frozen_files_of_an_older_format_are_read_and_refrozen(3);
}

fn frozen_files_of_an_older_format_are_read_and_refrozen(format: u32) {
    #[cfg(feature = "internals")]
    assert_eq!(WRITTEN_FORMAT, folio::format::FROZEN_FORMAT_VERSION);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    common::copy_dir(&frozen_fixture(format), &dir);
    let expected: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(frozen_answers_file()).unwrap()).unwrap();
    let before = frozen_formats(&dir);
    assert!(
        before.len() >= 9 && before.values().all(|&v| v == format),
        "{before:?}"
    );

    let db = Db::open_with(&dir, folio::Options::read_only()).unwrap();
    assert_eq!(frozen_answers(&db), expected, "read-only");
    db.close().unwrap();
    let db = Db::open(&dir).unwrap();
    assert_eq!(
        db.recovery().rebuilt,
        None,
        "the fixture's store loads as it is"
    );
    let months = db.months().unwrap();
    let frozen = months.iter().filter(|m| m.file.is_some()).count();
    assert_eq!(frozen, before.len(), "{months:?}");
    assert!(months
        .iter()
        .any(|m| m.file.is_some() && m.memory_rows + m.patches > 0));
    assert_eq!(frozen_answers(&db), expected, "format {format} files");

    // Months with an overlay or patches are frozen again, into files of the current format.
    let before_month = folio::Month::new(2024, 11).unwrap();
    let report = db.freeze(Some(before_month)).unwrap();
    assert!(report.skipped.is_empty(), "{report:?}");
    // Blocks of format 3 are this build's blocks: the orgs nothing changed are copied.
    let copied: u64 = report.frozen.iter().map(|m| m.blocks_copied).sum();
    assert_eq!(copied > 0, format == 3, "{report:?}");
    assert_eq!(frozen_answers(&db), expected, "after re-freezing");
    db.close().unwrap();
    let after = frozen_formats(&dir);
    let newer: Vec<_> = after
        .iter()
        .filter(|(n, _)| !before.contains_key(*n))
        .collect();
    assert!(!newer.is_empty(), "{after:?}");
    #[cfg(feature = "internals")]
    assert!(
        newer
            .iter()
            .all(|(_, &v)| v == folio::format::FROZEN_FORMAT_VERSION),
        "{after:?}"
    );
    let db = Db::open(&dir).unwrap();
    assert_eq!(frozen_answers(&db), expected, "after a reopen");
    db.close().unwrap();

    std::fs::remove_dir_all(dir.join("state")).unwrap();
    std::fs::remove_dir_all(dir.join("frozen")).unwrap();
    let db = Db::open(&dir).unwrap();
    assert_eq!(frozen_answers(&db), expected, "from the log alone");
}
