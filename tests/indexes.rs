//! Index creation on existing data while writers run, drop, persistence across checkpoints and
//! reopen, and refused definitions.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use folio::{Batch, Currency, Db, Error, Kind, Op, Options, OrgId, PaymentMethod, Rejection};
use folio::{Column, IndexDef, Predicate};
use folio::{GroupBy, Query, QueryOutput};
use folio_workload::ingest::{auto_org, entry_of};
use folio_workload::{Generator, Params};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

fn loaded(dir: &std::path::Path) -> (Db, Vec<folio_workload::WorkloadEvent>) {
    let db = Db::open_with(dir, Options::default().shards(4)).unwrap();
    let params = Params {
        orgs: 30,
        events: 40_000,
        ..Params::default()
    };
    let orgs: Vec<Op> = (1..=params.orgs)
        .map(|id| Op::RegisterOrg(auto_org(OrgId(id), Currency::USD)))
        .collect();
    db.record(Batch::from(orgs)).unwrap();
    let events: Vec<_> = Generator::new(params).expect("valid parameters").collect();
    for chunk in events[..30_000].chunks(1000) {
        db.record(Batch::from(
            chunk
                .iter()
                .map(|e| Op::Post(entry_of(e)))
                .collect::<Vec<_>>(),
        ))
        .unwrap();
    }
    (db, events)
}

fn cash_index() -> IndexDef {
    IndexDef::new(
        "revenues_cash_by_cat",
        Kind::Revenue,
        &[Column::Category],
        &[Column::Amount],
        Some(Predicate::PaymentMethodIs(PaymentMethod::Cash)),
    )
}

fn cash_total(db: &Db, org: u64) -> (i64, String) {
    let q = Query::revenues()
        .org(OrgId(org))
        .payment_method(PaymentMethod::Cash)
        .category(folio::Category::Rooms)
        .group_by(GroupBy::Nothing);
    let plan = db.explain(&q).unwrap().to_string();
    let total = match db.query(&q).unwrap() {
        QueryOutput::Groups(g) => g.first().map_or(0, |g| g.sum.0),
        _ => unreachable!(),
    };
    (total, plan)
}

fn expected_cash(events: &[folio_workload::WorkloadEvent], upto: usize, org: u64) -> i64 {
    events[..upto]
        .iter()
        .filter(|e| {
            e.org_id == org
                && e.kind == Kind::Revenue
                && e.payment_method == PaymentMethod::Cash
                && e.category == folio::Category::Rooms
        })
        .map(|e| e.amount)
        .sum()
}

#[test]
fn online_creation_while_writers_run_then_drop_and_reopen() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    let (db, events) = loaded(&dir);
    let db = Arc::new(db);
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (db, stop, events) = (db.clone(), stop.clone(), events.clone());
        std::thread::spawn(move || {
            let mut next = 30_000;
            while next < events.len() && !stop.load(Ordering::SeqCst) {
                let chunk = &events[next..(next + 250).min(events.len())];
                db.record(Batch::from(
                    chunk
                        .iter()
                        .map(|e| Op::Post(entry_of(e)))
                        .collect::<Vec<_>>(),
                ))
                .unwrap();
                next += chunk.len();
            }
            next
        })
    };
    let mut calls = 0;
    db.create_index(cash_index(), |done, total| {
        assert!(done <= total);
        calls += 1;
    })
    .unwrap();
    assert!(calls > 0, "progress was reported");
    stop.store(true, Ordering::SeqCst);
    let written = writer.join().unwrap();
    let report = db.verify();
    assert!(report.is_ok(), "{:?}", report.problems);
    let (total, plan) = cash_total(&db, 1);
    assert!(
        plan.contains("revenues_cash_by_cat (prefix 1, covered)"),
        "{plan}"
    );
    assert_eq!(total, expected_cash(&events, written, 1));
    assert!(db
        .indexes()
        .iter()
        .any(|d| d.name == "revenues_cash_by_cat"));

    // Survives a reopen through the log (no checkpoint since the creation) ...
    let db = Arc::try_unwrap(db).ok().unwrap();
    drop(db);
    let db = Db::open(&dir).unwrap();
    assert!(cash_total(&db, 1).1.contains("revenues_cash_by_cat"));
    assert!(db.verify().is_ok());
    // ... and through a checkpoint.
    db.checkpoint().unwrap();
    db.close().unwrap();
    let db = Db::open(&dir).unwrap();
    assert!(cash_total(&db, 1).1.contains("revenues_cash_by_cat"));
    assert_eq!(cash_total(&db, 1).0, expected_cash(&events, written, 1));

    db.drop_index("revenues_cash_by_cat").unwrap();
    let (total, plan) = cash_total(&db, 1);
    assert!(!plan.contains("revenues_cash_by_cat"), "{plan}");
    assert_eq!(total, expected_cash(&events, written, 1));
    assert!(db.verify().is_ok());
    db.checkpoint().unwrap();
    db.close().unwrap();
    let db = Db::open(&dir).unwrap();
    assert!(!db
        .indexes()
        .iter()
        .any(|d| d.name == "revenues_cash_by_cat"));
    assert_eq!(db.indexes().len(), 5);
}

#[test]
fn bad_definitions_are_refused_and_change_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let (db, _) = loaded(&tmp.path().join("db"));
    let lsn = db.visible_lsn();
    let rejection = |r: folio::Result<folio::Lsn>| match r {
        Err(Error::Rejected(r)) => r,
        other => panic!("expected a rejection, got {other:?}"),
    };
    let dup = IndexDef::new("expenses_pending", Kind::Expense, &[], &[], None);
    assert!(matches!(
        rejection(db.create_index(dup, |_, _| {})),
        Rejection::IndexExists(_)
    ));
    let status_on_revenues =
        IndexDef::new("bad_status", Kind::Revenue, &[Column::Status], &[], None);
    assert!(matches!(
        rejection(db.create_index(status_on_revenues, |_, _| {})),
        Rejection::InvalidIndex(_)
    ));
    let predicate = IndexDef::new(
        "bad_pred",
        Kind::Revenue,
        &[],
        &[],
        Some(Predicate::StatusIs(folio::ExpenseStatus::Paid)),
    );
    assert!(matches!(
        rejection(db.create_index(predicate, |_, _| {})),
        Rejection::InvalidIndex(_)
    ));
    let name = IndexDef::new("Bad Name", Kind::Revenue, &[], &[], None);
    assert!(matches!(
        rejection(db.create_index(name, |_, _| {})),
        Rejection::InvalidIndex(_)
    ));
    let wide = IndexDef::new(
        "wide",
        Kind::Expense,
        &[
            Column::Category,
            Column::Status,
            Column::Day,
            Column::Amount,
        ],
        &[],
        None,
    );
    assert!(matches!(
        rejection(db.create_index(wide, |_, _| {})),
        Rejection::InvalidIndex(_)
    ));
    assert!(matches!(
        rejection(db.drop_index("nope")),
        Rejection::UnknownIndex(_)
    ));
    assert_eq!(db.visible_lsn(), lsn);
    assert_eq!(db.indexes().len(), 5);
    assert!(db.verify().is_ok());
}

/// Q4 reads `expenses_pending` only while it is the default set's definition: dropped and
/// created again under the same name with another key and covered columns, the answers stay
/// the same (oldest first, every field right), in memory and after a reopen.
#[test]
fn q4_ignores_an_expenses_pending_index_defined_otherwise() {
    let dir = tempfile::tempdir().unwrap();
    let (db, _) = loaded(dir.path());
    let answers = |db: &Db| {
        (1..=30u64)
            .map(|o| format!("{:?}", db.pending_expenses(OrgId(o), 100).unwrap()))
            .collect::<Vec<_>>()
    };
    let before = answers(&db);
    assert!(
        before.iter().any(|a| a.len() > 2),
        "some org has pending expenses"
    );
    db.drop_index("expenses_pending").unwrap();
    assert_eq!(answers(&db), before, "without the index");
    let other = IndexDef::new(
        "expenses_pending",
        Kind::Expense,
        &[Column::Category],
        &[Column::Amount],
        Some(Predicate::StatusIs(folio::ExpenseStatus::Pending)),
    );
    db.create_index(other, |_, _| {}).unwrap();
    assert_eq!(
        answers(&db),
        before,
        "with an index of that name defined otherwise"
    );
    db.close().unwrap();
    let db = Db::open_with(dir.path(), Options::default().shards(4)).unwrap();
    assert_eq!(answers(&db), before, "after reopening");
}
