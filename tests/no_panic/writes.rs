//! Every write of `Db`, and opening with extreme options.

use crate::calendar::*;
use crate::checking::*;
use crate::fixture::*;
use crate::inputs::*;
use crate::runner;
use folio::IndexDef;
use folio::{Batch, Currency, Db, Durability, Op, Options, Org, OrgId};
use proptest::prelude::*;

/// One write of the `Db` API.
#[derive(Clone, Debug)]
enum Write {
    Record(Vec<Op>),
    Submit(Vec<Op>),
    RegisterOrg(Org),
    CreateIndex(IndexDef),
    DropIndex(String),
    Checkpoint,
    Sync,
    Info,
    Verify,
}

fn any_write() -> impl Strategy<Value = Write> {
    prop_oneof![
        6 => prop::collection::vec(any_op(), 0..6).prop_map(Write::Record),
        3 => prop::collection::vec(any_op(), 0..6).prop_map(Write::Submit),
        1 => any_org_record().prop_map(Write::RegisterOrg),
        1 => any_index().prop_map(Write::CreateIndex),
        1 => prop_oneof![Just("by_day".to_string()), any_text()].prop_map(Write::DropIndex),
        1 => Just(Write::Checkpoint),
        1 => Just(Write::Sync),
        1 => Just(Write::Info),
        1 => Just(Write::Verify),
    ]
}

/// Every write of `Db` with arbitrary batches, indexes and names; reads after each.
#[test]
fn writes_never_panic_and_leave_the_database_usable() {
    let f = fixture();
    let db = &f.db;
    runner(128)
        .run(
            &(prop::collection::vec(any_write(), 1..6), any_read()),
            |(writes, read)| {
                for write in writes {
                    match write {
                        Write::Record(ops) => {
                            answer("record", db.record(Batch::from(ops)));
                        }
                        Write::Submit(ops) => {
                            if let Some(ticket) = answer("submit", db.submit(Batch::from(ops))) {
                                if let Err(e) = ticket.wait_op() {
                                    answer::<()>("ticket", Err(e.error));
                                }
                            }
                        }
                        Write::RegisterOrg(org) => {
                            answer("register_org", db.register_org(org));
                        }
                        Write::CreateIndex(def) => {
                            answer("create_index", db.create_index(def, |_, _| {}));
                        }
                        Write::DropIndex(name) => {
                            answer("drop_index", db.drop_index(&name));
                        }
                        Write::Checkpoint => {
                            answer("checkpoint", db.checkpoint());
                        }
                        Write::Sync => {
                            answer("sync", db.sync());
                        }
                        Write::Info => {
                            answer("info", db.info());
                            let _ = (db.recovery_history(), db.recovery(), db.path());
                            let _ = (db.is_read_only(), db.db_id(), db.log_crc());
                        }
                        Write::Verify => {
                            let report = db.verify();
                            assert!(report.is_ok(), "{report:?}");
                        }
                    }
                }
                run_read!(&db.snapshot(), &read);
                Ok(())
            },
        )
        .unwrap();
    let report = f.db.verify();
    assert!(report.is_ok(), "{report:?}");
    // The edge paths refuse what a primary cannot do, without panicking.
    let db = &f.db;
    answer("replicate", db.replicate(Vec::new()));
    answer(
        "apply_segments",
        db.apply_segments(&[f.dir.path().join("nowhere")]),
    );
    answer("follow", db.follow(&f.dir.path().join("nowhere")));
    answer("checkpoint_to", db.checkpoint_to(f.dir.path()));
}

/// Opening with extreme options: refused or opened, never a panic.
#[test]
fn opening_with_extreme_options_never_panics() {
    let dir = tempfile::tempdir().unwrap();
    let n = std::cell::Cell::new(0);
    runner(8)
        .run(
            &(
                prop_oneof![Just(0u32), Just(1), Just(u32::MAX), 1..64u32],
                prop_oneof![Just(0u64), Just(u64::MAX), 1..100u64],
                any_duration(),
                prop_oneof![Just(0u64), Just(u64::MAX), 1..10_000u64],
            ),
            |(shards, every, interval, segment)| {
                n.set(n.get() + 1);
                let path = dir.path().join(format!("db{}", n.get()));
                let options = Options::default()
                    .shards(shards)
                    .durability(Durability::Buffered)
                    .checkpoint_every_ops(every)
                    .checkpoint_interval(interval)
                    .segment_target_bytes(segment);
                // Opened, the database works whatever its checkpoint and segment settings.
                if let Some(db) = answer("open_with", Db::open_with(&path, options)) {
                    let org = Org::new(OrgId(1), "x", Currency::EUR);
                    assert!(answer("register_org", db.register_org(org)).is_some());
                    let day = day(0).unwrap();
                    assert!(answer("balance", db.balance(OrgId(1), day)).is_some());
                    assert!(answer("close", db.close()).is_some());
                }
                Ok(())
            },
        )
        .unwrap();
}
