//! The `DURABLE` mark against the simulated disk: a checkpoint never records (and so the store
//! never reflects) an LSN beyond what the log holds durably, under both durabilities. For every
//! crash point of a workload with checkpoints between batches and every kind of crash image, the
//! log the image holds reaches the mark the image holds.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod harness;

use folio::io::sim::{CrashKind, SimFs};
use folio::wal::{recover, Expect};
use folio::WAL_DIR;
use folio::{Batch, Currency, Org, OrgId};
use harness::{db_path, hourly_revenue, options_with, scratch};

#[test]
fn no_crash_image_holds_a_durable_mark_ahead_of_its_log() {
    for buffered in [false, true] {
        let sim = SimFs::new();
        let dir = scratch();
        let path = db_path(&dir);
        let db = folio::Db::open_with(&path, options_with(&sim, buffered)).unwrap();
        let db_id = db.db_id();
        db.register_org(Org::new(OrgId(1), "Inn", Currency::EUR))
            .unwrap();
        for i in 1..=24u64 {
            db.record(Batch::new().post(hourly_revenue(i))).unwrap();
            if i % 3 == 0 {
                // Buffered: the batches since the last sync are not durable yet.
                db.checkpoint().unwrap();
            }
        }
        db.close().unwrap();
        let (mut marks_seen, mut positions_seen) = (0, 0);
        for k in 0..=sim.mutations() {
            for kind in [CrashKind::Synced, CrashKind::Torn, CrashKind::Reordered] {
                let image = SimFs::from_image(&sim.image(k, kind, k));
                let durable = folio::store::durable::read(&image, &path, db_id).unwrap();
                let mark = durable.lsn;
                marks_seen += u64::from(mark > 0);
                if !folio::io::Vfs::exists(&image, &path.join(WAL_DIR)) {
                    assert_eq!(mark, 0, "a mark before the database was created");
                    continue;
                }
                let tail = recover(&image, &path.join(WAL_DIR), db_id, Expect::whole(), |_| {
                    Ok(())
                })
                .unwrap();
                let log_end = tail.end.next_lsn - 1;
                assert!(
                    log_end >= mark,
                    "buffered {buffered}, crash after mutation {k} ({kind:?}): the log ends at \
                     LSN {log_end} but the durable mark says {mark}"
                );
                // Started at the mark's log position, recovery hands over the same frames and
                // finds the same end as when it reads the segment from its start.
                let from_mark = |hint| {
                    let expect = Expect {
                        from_lsn: mark + 1,
                        durable_lsn: mark,
                        hint,
                        ..Expect::whole()
                    };
                    let mut lsns = Vec::new();
                    let tail = recover(&image, &path.join(WAL_DIR), db_id, expect, |f| {
                        lsns.push(f.lsn);
                        Ok(())
                    })
                    .unwrap();
                    (tail, lsns)
                };
                if durable.position.is_some() {
                    positions_seen += 1;
                    assert_eq!(
                        from_mark(durable.position),
                        from_mark(None),
                        "crash after {k}"
                    );
                }
            }
        }
        assert!(marks_seen > 0, "no image held a mark");
        assert!(
            positions_seen > 0,
            "no image held a mark with a log position"
        );
    }
}
