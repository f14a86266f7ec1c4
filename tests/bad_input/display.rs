//! Every error's Display is one clear line.

use crate::common::assert_one_line;
use crate::fixture::{HOTEL, UNKNOWN};
use folio::limits::MAX_BATCH_OPS;
use folio::{EntryId, Error, Rejection};
use std::path::PathBuf;

/// One rejection of every kind.
fn every_rejection() -> Vec<Rejection> {
    vec![
        Rejection::UnknownOrg(UNKNOWN),
        Rejection::OrgConflict(HOTEL),
        Rejection::InvalidOrg {
            org: HOTEL,
            why: "unknown IANA time zone \"Mars/Olympus\"".into(),
        },
        Rejection::UnknownCurrency {
            org: HOTEL,
            code: "XXX".into(),
        },
        Rejection::NonPositiveAmount {
            org: HOTEL,
            entry: EntryId(1),
            amount: -5,
        },
        Rejection::Overflow { org: HOTEL },
        Rejection::TimestampOutOfRange {
            org: HOTEL,
            entry: EntryId(1),
            ts: i64::MAX,
        },
        Rejection::DuplicateConflict {
            org: HOTEL,
            entry: EntryId(1),
        },
        Rejection::TextTooLong {
            org: HOTEL,
            entry: EntryId(1),
            field: "reference",
            len: 300,
            limit: 256,
        },
        Rejection::CategoryMismatch {
            org: HOTEL,
            entry: EntryId(1),
            category: "rooms",
            kind: "expense",
        },
        Rejection::BadStatus {
            org: HOTEL,
            entry: EntryId(1),
            why: "a revenue has no status",
        },
        Rejection::UnknownEntry {
            org: HOTEL,
            entry: EntryId(1),
        },
        Rejection::AlreadyReversed {
            org: HOTEL,
            entry: EntryId(1),
        },
        Rejection::ReversalOfReversal {
            org: HOTEL,
            entry: EntryId(1),
        },
        Rejection::NotAnExpense {
            org: HOTEL,
            entry: EntryId(1),
        },
        Rejection::AlreadyPaid {
            org: HOTEL,
            entry: EntryId(1),
        },
        Rejection::ZeroEntryId { org: HOTEL },
        Rejection::BatchTooLarge(MAX_BATCH_OPS + 1),
    ]
}

/// One error of every other kind.
fn every_other_error() -> Vec<Error> {
    let path = PathBuf::from("/data/folio");
    vec![
        Error::corruption(
            path.join("wal/00000001.log"),
            4096,
            folio::CorruptionKind::ChecksumMismatch {
                expected: 1,
                actual: 2,
            },
        ),
        Error::corruption(
            &path,
            0,
            folio::CorruptionKind::LsnGap {
                expected: folio::Lsn(3),
                found: folio::Lsn(5),
            },
        ),
        Error::corruption(
            &path,
            0,
            folio::CorruptionKind::InvalidArchive("bad".into()),
        ),
        Error::io(&path, std::io::Error::other("disk on fire")),
        Error::Poisoned("fsync failed".into()),
        Error::FormatVersion {
            path: path.join("FOLIO"),
            found: 99,
            supported: 1,
        },
        Error::NotADatabase { path: path.clone() },
        Error::AlreadyExists { path: path.clone() },
        Error::Locked { path: path.clone() },
        Error::UnknownOrg(UNKNOWN),
        Error::InvalidArgument("day range inverted".into()),
        Error::Store("sled: io".into()),
        Error::Closed,
    ]
}

#[test]
fn every_error_display_is_one_line() {
    for r in every_rejection() {
        assert_one_line(&Error::Rejected(r));
    }
    for e in &every_other_error() {
        assert_one_line(e);
    }
}
