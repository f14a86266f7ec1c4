//! Helpers shared by the integration tests.
#![allow(dead_code)]

use folio::{
    BusinessDay, DayBalance, Db, Durability, Error, LedgerEntry, Lsn, Options, Org, OrgId,
};
use folio::{MAX_TIMESTAMP, MIN_TIMESTAMP};
use std::path::Path;

/// Options with the given shard count and durability, everything else default.
pub fn options(shards: u32, durability: Durability) -> Options {
    Options::default().shards(shards).durability(durability)
}

/// Opens (creating when missing) the database at `path` with 4 shards and `Sync` durability.
pub fn open(path: &Path) -> Db {
    Db::open_with(path, options(4, Durability::Sync)).unwrap()
}

/// Everything a caller can observe about a set of orgs.
#[derive(Debug, PartialEq)]
pub struct Snapshot {
    pub lsn: Lsn,
    pub orgs: Vec<Option<Org>>,
    pub balances: Vec<Option<Vec<DayBalance>>>,
    pub entries: Vec<Option<Vec<LedgerEntry>>>,
}

/// Observes `orgs`: registration, balances over `from..=to`, and every entry of any time.
pub fn snapshot(db: &Db, orgs: &[OrgId], from: BusinessDay, to: BusinessDay) -> Snapshot {
    Snapshot {
        lsn: db.visible_lsn(),
        orgs: orgs.iter().map(|o| db.org(*o).unwrap()).collect(),
        balances: orgs
            .iter()
            .map(|o| db.balances(*o, from, to).ok())
            .collect(),
        entries: orgs
            .iter()
            .map(|o| db.entries(*o, MIN_TIMESTAMP, MAX_TIMESTAMP + 1).ok())
            .collect(),
    }
}

/// An error's Display is one clear line, not a debug dump of a struct.
pub fn assert_one_line(e: &Error) {
    let text = e.to_string();
    assert!(!text.is_empty(), "empty Display for {e:?}");
    assert!(
        !text.contains('\n'),
        "Display of {e:?} spans lines: {text:?}"
    );
    assert!(
        !text.contains("{ "),
        "Display of {e:?} dumps a struct: {text:?}"
    );
}

/// Every file and directory under `dir` (but `LOCK`) with its bytes: compared before and after
/// an open that must change nothing.
pub fn files(dir: &Path) -> std::collections::BTreeMap<std::path::PathBuf, Vec<u8>> {
    fn walk(
        root: &Path,
        dir: &Path,
        out: &mut std::collections::BTreeMap<std::path::PathBuf, Vec<u8>>,
    ) {
        for item in std::fs::read_dir(dir).unwrap() {
            let path = item.unwrap().path();
            let name = path.strip_prefix(root).unwrap().to_path_buf();
            if path.is_dir() {
                out.insert(name, Vec::new());
                walk(root, &path, out);
            } else if path.file_name().is_some_and(|n| n != "LOCK") {
                out.insert(name, std::fs::read(&path).unwrap());
            }
        }
    }
    let mut out = std::collections::BTreeMap::new();
    if dir.exists() {
        walk(dir, dir, &mut out);
    }
    out
}

/// Copies the directory tree `from` to `to` (but a `LOCK` file).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else if entry.file_name() != "LOCK" {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}
