//! Log frames with extreme values shipped to an edge replica.

use crate::fixture::*;
use crate::inputs::*;
use crate::runner;
use folio::codec::record::{EntryRecord, IndexRecord, LogBatch, LogOp, OrgRecord, PayRecord};
use folio::ShippedFrame;
use folio::{Db, Error};
use proptest::prelude::*;
use std::path::Path;

/// A code: mostly one of `valid`, sometimes any byte.
fn code(valid: std::ops::RangeInclusive<u8>) -> impl Strategy<Value = u8> {
    prop_oneof![4 => valid, 1 => any::<u8>()]
}

prop_compose! {
    /// A log entry record: mostly valid codes, orgs and reversal targets, so that the extreme
    /// values get applied.
    fn any_entry_record()(
        org in prop_oneof![4 => 1..=3u64, 1 => any::<u64>()],
        entry_id in prop_oneof![100..200u64, any::<u64>()],
        occurred_at in any_ts(),
        amount in any_amount(),
        reverses in prop_oneof![2 => Just(0u64), 2 => 1..=24u64, 1 => any::<u64>()],
        day in any_days(),
        kind in code(1..=2),
        category in code(1..=10),
        payment_method in code(1..=3),
        status in code(0..=2),
    ) -> LogOp {
        LogOp::Entry(EntryRecord {
            org, entry_id, occurred_at, amount, reverses, day, kind, category, payment_method,
            status, reference: String::new(),
        })
    }
}

/// A log record of any kind.
fn any_log_op() -> impl Strategy<Value = LogOp> {
    prop_oneof![
        6 => any_entry_record(),
        1 => (prop_oneof![1..=3u64, any::<u64>()], any::<u64>(), any_ts()).prop_map(
            |(org, entry_id, paid_at)| LogOp::Pay(PayRecord { org, entry_id, paid_at })
        ),
        1 => (any::<u64>(), any_time_zone(), any_amount(), any_ts()).prop_map(
            |(org, time_zone, opening, created_at)| LogOp::Org(OrgRecord {
                org,
                name: "forged".into(),
                currency: *b"EUR",
                time_zone,
                opening,
                created_at,
            })
        ),
        1 => (
            any::<bool>(),
            "[a-z]{1,6}",
            0..4u8,
            prop::collection::vec(0..9u8, 0..6),
            prop::collection::vec(0..9u8, 0..5),
            0..6u8,
            any_amount()
        )
            .prop_map(|(create, name, table, key, include, predicate, predicate_value)| {
                LogOp::Index(IndexRecord {
                    create,
                    name,
                    table,
                    key,
                    include,
                    predicate,
                    predicate_value,
                })
            }),
    ]
}

/// Ships one frame of `ops` (at `lsn`, or the next LSN) to a fresh edge replica `edge` seeded
/// from the checkpoint `cp`, then runs `reads` on it.
fn ship(cp: &Path, edge: &Path, ops: Vec<LogOp>, reads: &[Read], lsn: Option<u64>) {
    folio::seed_from_checkpoint(cp, edge).unwrap();
    let replica = Db::open_with(edge, options()).unwrap();
    let encoded = folio::codec::record::encode(&LogBatch { ops }).unwrap();
    let (op_count, payload) = (encoded.op_field, encoded.payload);
    let frame = ShippedFrame {
        lsn: folio::Lsn(lsn.unwrap_or(replica.visible_lsn().0 + 1)),
        crc: 7,
        prev_crc: replica.log_crc(),
        op_count,
        payload,
        file: edge.join("shipped"),
        offset: 0,
    };
    // A log record that contradicts the state poisons the replica (by design: its log now holds
    // it); a panic would too, and says so.
    if let Err(Error::Poisoned(why)) = replica.replicate(vec![frame]) {
        assert!(!why.contains("panicked"), "{why}");
    }
    let snapshot = replica.snapshot();
    for read in reads {
        run_read!(&snapshot, read);
    }
    let _ = replica.verify();
    drop(snapshot);
    drop(replica);
    let _ = std::fs::remove_dir_all(edge);
}

/// Log frames shipped to an edge replica whose records hold extreme values (as a damaged or
/// forged log would): refused or applied, never a panic — the values are decoded and checked.
#[test]
fn shipped_frames_with_extreme_values_never_panic() {
    let f = fixture();
    let cp = f.dir.path().join("cp");
    f.db.checkpoint_to(&cp).unwrap();
    let n = std::cell::Cell::new(0);
    runner(64)
        .run(
            &(
                prop::collection::vec(any_log_op(), 1..5),
                prop::collection::vec(any_read(), 1..4),
                prop_oneof![4 => Just(None), 1 => any::<u64>().prop_map(Some), 1 => Just(Some(u64::MAX))],
            ),
            |(ops, reads, lsn)| {
                n.set(n.get() + 1);
                let edge = f.dir.path().join(format!("edge{}", n.get()));
                ship(&cp, &edge, ops, &reads, lsn);
                Ok(())
            },
        )
        .unwrap();
}
