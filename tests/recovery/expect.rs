//! What an open must give: no panic, and `Corruption` naming the file and the offset.

use folio::{Db, Error};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

/// Opens, turning a panic into a test failure that names the case.
pub fn open_no_panic(dir: &Path, case: &str) -> folio::Result<Db> {
    match catch_unwind(AssertUnwindSafe(|| Db::open(dir))) {
        Ok(result) => result,
        Err(panic) => {
            let msg = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            panic!("{case}: Db::open panicked: {msg}")
        }
    }
}

/// The error must be `Corruption` naming `file` and `offset`, in the value and in its Display.
pub fn assert_corruption(result: folio::Result<Db>, file: &Path, offset: u64, case: &str) {
    let err = match result {
        Ok(db) => {
            let lsn = db.visible_lsn();
            let report = db.recovery().clone();
            drop(db);
            panic!("{case}: opened (LSN {lsn}, {report:?}) instead of reporting corruption")
        }
        Err(e) => e,
    };
    let text = err.to_string();
    match &err {
        Error::Corruption {
            file: f, offset: o, ..
        } => {
            assert_eq!(f, file, "{case}: corrupt file in {text}");
            assert_eq!(*o, offset, "{case}: corrupt offset in {text}");
        }
        other => panic!("{case}: expected Error::Corruption, got {other:?}"),
    }
    assert!(
        text.contains(&file.display().to_string()),
        "{case}: Display does not name the file: {text}"
    );
    assert!(
        text.contains(&format!("offset {offset}")),
        "{case}: Display does not name the offset: {text}"
    );
}

/// The file and offset of a `Corruption` error (anything else fails the test).
pub fn corruption_at(err: &Error, case: &str) -> (PathBuf, u64) {
    match err {
        Error::Corruption { file, offset, .. } => {
            let text = err.to_string();
            assert!(text.contains(&file.display().to_string()), "{case}: {text}");
            assert!(text.contains(&format!("offset {offset}")), "{case}: {text}");
            (file.clone(), *offset)
        }
        other => panic!("{case}: expected Error::Corruption, got {other:?} ({other})"),
    }
}
