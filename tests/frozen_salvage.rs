//! A damaged or missing frozen file loses nothing: `accept_loss` (`folio recover --accept-loss`)
//! finds it (at open, or by checking every file whole when the damage is in a block no open
//! reads), sets the store and `frozen/` aside, rebuilds both from the log and freezes the months
//! again; the database then answers exactly as a twin that never froze.
#![allow(clippy::unwrap_used)]

use folio::{
    Batch, BusinessDay, Category, Currency, Db, Entry, EntryId, Error, Money, Options, Org, OrgId,
    PaymentMethod, SplitMix64,
};
use std::path::{Path, PathBuf};

const ORGS: u64 = 4;
/// 2024-01-01T00:00:00Z.
const T0: i64 = 1_704_067_200;
const DAY: i64 = 86_400;

fn batches() -> Vec<Batch> {
    let mut b = Batch::new();
    for o in 1..=ORGS {
        b = b.register_org(
            Org::new(OrgId(o), format!("h{o}"), Currency::EUR)
                .with_time_zone("Asia/Kolkata")
                .with_opening_balance(Money(1_000 * o as i64)),
        );
    }
    let mut out = vec![b];
    let mut rng = SplitMix64::new(21);
    for step in 0..150u64 {
        let mut batch = Batch::new();
        for k in 0..4 {
            let org = OrgId(1 + rng.below(ORGS));
            let id = EntryId(step * 4 + k + 1);
            let at = T0 + step as i64 * DAY + rng.below(DAY as u64) as i64;
            let amount = Money(1 + rng.below(20_000) as i64);
            let entry = match rng.below(3) {
                0 => Entry::expense(
                    org,
                    id,
                    at,
                    amount,
                    Category::Supplies,
                    PaymentMethod::Cash,
                    folio::ExpenseStatus::Paid,
                ),
                _ => Entry::revenue(org, id, at, amount, Category::Rooms, PaymentMethod::Card),
            };
            batch = batch.post(entry);
        }
        out.push(batch);
    }
    out
}

/// Every org's balances over the whole history and its rows; the first error stops it.
fn answers(db: &Db) -> Result<Vec<String>, Error> {
    let (first, last) = (
        BusinessDay::from_ymd(2023, 12, 31).unwrap(),
        BusinessDay::from_ymd(2024, 7, 1).unwrap(),
    );
    let mut out = Vec::new();
    for o in 1..=ORGS {
        let org = OrgId(o);
        out.push(format!("{:?}", db.balances(org, first, last)?));
        out.push(format!("{:?}", db.entries(org, T0 - DAY, T0 + 200 * DAY)?));
    }
    Ok(out)
}

/// A database holding [`batches`] with its months before May frozen, and the twin's answers.
fn frozen_database(dir: &Path) -> (PathBuf, Vec<String>) {
    let twin = Db::open_with(dir.join("twin"), Options::default().shards(2)).unwrap();
    let path = dir.join("db");
    let db = Db::open_with(&path, Options::default().shards(2)).unwrap();
    for batch in batches() {
        twin.record(batch.clone()).unwrap();
        db.record(batch).unwrap();
    }
    let report = db.freeze(None).unwrap();
    assert!(report.frozen.len() >= 3, "{report:?}");
    assert_eq!(answers(&db).unwrap(), answers(&twin).unwrap());
    db.close().unwrap();
    (path, answers(&twin).unwrap())
}

/// The frozen file of January 2024 in force.
fn january(path: &Path) -> PathBuf {
    let mut files: Vec<PathBuf> = std::fs::read_dir(path.join("frozen"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy().to_string();
            name.starts_with("2024-01.") && name.ends_with(".frz")
        })
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    files.pop().unwrap()
}

/// `accept_loss` sets the store and `frozen/` aside and rebuilds them; afterwards the database
/// answers as the twin, `verify` is clean, and the months are frozen again.
fn salvage_and_check(dir: &Path, path: &Path, twin: &[String], damaged: &Path) {
    let side = dir.join("side");
    let report = Db::accept_loss(path, &side).unwrap();
    assert_eq!(report.dropped.len(), 2, "{report}");
    assert!(
        report.dropped[0]
            .what
            .contains(&damaged.display().to_string()),
        "{report}"
    );
    assert_eq!(report.dropped[0].from, path.join("state"));
    assert_eq!(report.dropped[1].from, path.join("frozen"));
    assert!(report.refrozen.len() >= 3, "{report}");
    assert!(side.join("frozen").exists() && side.join("state").exists());
    let db = Db::open(path).unwrap();
    assert_eq!(answers(&db).unwrap(), twin);
    let verified = db.verify();
    assert!(verified.problems.is_empty(), "{:?}", verified.problems);
    let frozen = db
        .months()
        .unwrap()
        .iter()
        .filter(|m| m.file.is_some())
        .count();
    assert_eq!(frozen, report.refrozen.len());
    assert!(db
        .recovery_history()
        .iter()
        .any(|line| line.contains("accepted_loss")));
    db.close().unwrap();
}

#[test]
fn a_flipped_bit_in_a_frozen_block_is_found_and_the_months_rebuilt_from_the_log() {
    let tmp = tempfile::tempdir().unwrap();
    let (path, twin) = frozen_database(tmp.path());
    let file = january(&path);
    let mut bytes = std::fs::read(&file).unwrap();
    // A byte in the middle: a block no open reads (header and footer are checked at open).
    let at = bytes.len() / 2;
    bytes[at] ^= 0x10;
    std::fs::write(&file, &bytes).unwrap();
    {
        let db = Db::open(&path).unwrap();
        let verified = db.verify();
        assert!(
            verified.problems.iter().any(|p| p.contains("2024-01")),
            "{:?}",
            verified.problems
        );
        match answers(&db) {
            Err(Error::Corruption { file: f, .. }) => assert_eq!(f, file),
            other => panic!("a read of the damaged block: {other:?}"),
        }
        db.close().unwrap();
    }
    salvage_and_check(tmp.path(), &path, &twin, &file);
}

#[test]
fn a_missing_or_truncated_frozen_file_is_rebuilt_from_the_log() {
    for case in ["missing", "truncated"] {
        let tmp = tempfile::tempdir().unwrap();
        let (path, twin) = frozen_database(tmp.path());
        let file = january(&path);
        match case {
            "missing" => std::fs::remove_file(&file).unwrap(),
            _ => {
                let len = std::fs::metadata(&file).unwrap().len();
                std::fs::OpenOptions::new()
                    .write(true)
                    .open(&file)
                    .unwrap()
                    .set_len(len / 2)
                    .unwrap();
            }
        }
        let err = Db::open(&path).unwrap_err();
        assert!(
            matches!(&err, Error::Corruption { file: f, .. } if *f == file),
            "{case}: {err:?}"
        );
        salvage_and_check(tmp.path(), &path, &twin, &file);
    }
}
