//! Bad reversals (unknown, already reversed, a reversal, a posting's id) and payments (of a revenue,
//! twice).

use crate::fixture::*;
use folio::{Batch, EntryId, Rejection};

#[test]
fn reversal_of_unknown_entry() {
    let f = fixture();
    let r = rejected(
        &f.db,
        Batch::new().reverse(reversal(HOTEL, 10, EntryId(999), T0)),
    );
    assert_eq!(
        r,
        Rejection::UnknownEntry {
            org: HOTEL,
            entry: EntryId(999)
        }
    );
    // Entry ids are per org: HOTEL and RESORT have an entry 1, EMPTY has none.
    let r = rejected(
        &f.db,
        Batch::new().reverse(reversal(EMPTY, 10, EntryId(1), T0)),
    );
    assert_eq!(
        r,
        Rejection::UnknownEntry {
            org: EMPTY,
            entry: EntryId(1)
        }
    );
}

#[test]
fn reversal_of_already_reversed_entry() {
    let f = fixture();
    let r = rejected(
        &f.db,
        Batch::new().reverse(reversal(HOTEL, 10, REVERSED, T0)),
    );
    assert_eq!(
        r,
        Rejection::AlreadyReversed {
            org: HOTEL,
            entry: REVERSED
        }
    );
    // Twice in one batch.
    let r = rejected(
        &f.db,
        Batch::new()
            .reverse(reversal(HOTEL, 10, REVENUE, T0))
            .reverse(reversal(HOTEL, 11, REVENUE, T0)),
    );
    assert_eq!(
        r,
        Rejection::AlreadyReversed {
            org: HOTEL,
            entry: REVENUE
        }
    );
}

#[test]
fn reversal_of_a_reversal() {
    let f = fixture();
    let r = rejected(
        &f.db,
        Batch::new().reverse(reversal(HOTEL, 10, REVERSAL, T0)),
    );
    assert_eq!(
        r,
        Rejection::ReversalOfReversal {
            org: HOTEL,
            entry: REVERSAL
        }
    );
    // Also when the reversal is earlier in the same batch.
    let r = rejected(
        &f.db,
        Batch::new()
            .reverse(reversal(HOTEL, 10, REVENUE, T0))
            .reverse(reversal(HOTEL, 11, EntryId(10), T0)),
    );
    assert_eq!(
        r,
        Rejection::ReversalOfReversal {
            org: HOTEL,
            entry: EntryId(10)
        }
    );
}

#[test]
fn paying_a_revenue() {
    let f = fixture();
    let r = rejected(&f.db, Batch::new().pay(pay(HOTEL, REVENUE, T0)));
    assert_eq!(
        r,
        Rejection::NotAnExpense {
            org: HOTEL,
            entry: REVENUE
        }
    );
    // A reversal is not payable either, nor is an unknown entry.
    let r = rejected(&f.db, Batch::new().pay(pay(HOTEL, REVERSAL, T0)));
    assert_eq!(
        r,
        Rejection::NotAnExpense {
            org: HOTEL,
            entry: REVERSAL
        }
    );
    let r = rejected(&f.db, Batch::new().pay(pay(HOTEL, EntryId(999), T0)));
    assert_eq!(
        r,
        Rejection::UnknownEntry {
            org: HOTEL,
            entry: EntryId(999)
        }
    );
}

#[test]
fn paying_twice_with_different_times() {
    let f = fixture();
    let r = rejected(
        &f.db,
        Batch::new().pay(pay(HOTEL, PAID_LATER, T0 + 4 * DAY)),
    );
    assert_eq!(
        r,
        Rejection::AlreadyPaid {
            org: HOTEL,
            entry: PAID_LATER
        }
    );
    // The same time again is a no-op.
    no_op(
        &f.db,
        Batch::new().pay(pay(HOTEL, PAID_LATER, T0 + 3 * DAY)),
    );
    // Posted as paid: any payment is a second one.
    let r = rejected(&f.db, Batch::new().pay(pay(HOTEL, PAID, T0 + DAY)));
    assert_eq!(
        r,
        Rejection::AlreadyPaid {
            org: HOTEL,
            entry: PAID
        }
    );
    // Twice in one batch with different times.
    let r = rejected(
        &f.db,
        Batch::new()
            .pay(pay(HOTEL, PENDING, T0 + DAY))
            .pay(pay(HOTEL, PENDING, T0 + 2 * DAY)),
    );
    assert_eq!(
        r,
        Rejection::AlreadyPaid {
            org: HOTEL,
            entry: PENDING
        }
    );
    // A reversed expense cannot be paid.
    f.db.record(Batch::new().reverse(reversal(HOTEL, 40, PENDING, T0 + DAY)))
        .unwrap();
    let r = rejected(&f.db, Batch::new().pay(pay(HOTEL, PENDING, T0 + DAY)));
    assert_eq!(
        r,
        Rejection::AlreadyReversed {
            org: HOTEL,
            entry: PENDING
        }
    );
}

/// A reversal that reuses a posting's id conflicts, even when it names entry 0 (a posting's own
/// "reversed entry") with the posting's time and reference: it is not a re-send of the posting.
#[test]
fn a_reversal_reusing_a_posting_id_conflicts() {
    let f = fixture();
    for reverses in [EntryId(0), REVERSED] {
        let mut r = reversal(HOTEL, REVENUE.0, reverses, T0);
        r.reference = "F-1".into();
        let got = rejected(&f.db, Batch::new().reverse(r));
        assert_eq!(
            got,
            Rejection::DuplicateConflict {
                org: HOTEL,
                entry: REVENUE
            },
            "reversal of {reverses:?}"
        );
    }
    // The reversal itself, sent again as it was, is a no-op.
    let lsn = f.db.visible_lsn();
    let again = reversal(HOTEL, REVERSAL.0, REVERSED, T0 + 2 * DAY);
    assert_eq!(f.db.record(Batch::new().reverse(again)).unwrap(), lsn);
}
