//! The database directory itself: a damaged identity file, a crash while creating it.

use crate::expect::*;
use crate::files::*;
use crate::history::*;
use std::fs;

#[test]
fn damaged_identity_file_is_corruption_naming_it() {
    let p = pristine(3, None);
    for byte in [13u64, 17, 25] {
        let dir = p._tmp.path().join(format!("meta{byte}"));
        copy_dir(&p.dir, &dir);
        let meta = dir.join("FOLIO");
        flip_bit(&meta, byte, 1);
        assert_corruption(open_no_panic(&dir, "meta"), &meta, 12, "FOLIO bit flip");
    }
    let dir = p._tmp.path().join("meta_magic");
    copy_dir(&p.dir, &dir);
    let meta = dir.join("FOLIO");
    flip_bit(&meta, 0, 0);
    assert_corruption(open_no_panic(&dir, "magic"), &meta, 0, "FOLIO magic");
}

#[test]
fn crash_while_creating_the_database_leaves_a_directory_that_opens() {
    // `Db::open` on a new directory creates `wal/`, then writes `FOLIO` through `FOLIO.tmp` and a
    // rename. A kill between those steps leaves a directory without `FOLIO`; nothing was ever
    // acknowledged in it, so opening it again must create the database.
    let tmp = tempfile::tempdir().expect("tempdir");
    let partial: [(&str, &[&str]); 3] = [
        ("wal dir only", &["wal/"]),
        ("wal dir and empty FOLIO.tmp", &["wal/", "FOLIO.tmp"]),
        ("LOCK and wal dir", &["LOCK", "wal/"]),
    ];
    let mut failures = Vec::new();
    for (what, files) in partial {
        let dir = tmp.path().join(what.replace(' ', "_"));
        fs::create_dir_all(&dir).expect("mkdir");
        for f in files {
            match f.strip_suffix('/') {
                Some(d) => fs::create_dir_all(dir.join(d)).expect("mkdir"),
                None => {
                    fs::write(dir.join(f), b"").expect("write");
                }
            }
        }
        match open_no_panic(&dir, what) {
            Ok(db) => {
                assert!(db.recovery().created, "{what}");
                db.register_org(org()).expect("usable");
            }
            Err(e) => failures.push(format!("{what}: {e}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
