//! A checkpoint's packing and a read whose cost grows with its answer hold no state lock: a group
//! commit completes while they run, and they answer as of the LSN they started at. Each test acts
//! from inside the operation through a test hook (`crate::test_hooks`), so the outcome does not
//! depend on timing. A failed checkpoint keeps its keys dirty; a slow one is reported with the
//! time of each step.

use super::{Db, Options};
use crate::model::{Batch, BusinessDay, Category, Currency, Entry, EntryId, Lsn, Money, Org};
use crate::model::{OrgId, PaymentMethod};
use crate::query::{Query, QueryOutput};
use crate::replica::{Consistency, PoolOptions, ReadPool, ReplicaOptions};
use crate::test_hooks::{self, Point};
use parking_lot::Mutex;
use std::sync::Arc;
use std::time::Duration;

/// How long a commit may take before the test calls it blocked: far above a commit's time on a
/// loaded machine, far below a hang.
const BLOCKED: Duration = Duration::from_secs(10);
/// 2024-01-01T12:00:00Z.
const NOON: i64 = 1_704_110_400;
const DAY: i64 = 86_400;
/// Entries recorded before each test: one a day from 2024-01-01.
const RECORDED: u64 = 20;

/// What the hook saw, the first time the operation reached its point.
#[derive(Clone, Copy, Debug)]
struct Meanwhile {
    /// The state's write lock could be taken there (and was let go at once).
    lock_free: bool,
    /// The LSN of a batch recorded from another thread, if it was acknowledged within
    /// [`BLOCKED`].
    committed: Option<Lsn>,
}

/// A revenue of 10.00 of org 1 on day `id - 1` after 2024-01-01.
fn revenue(id: u64) -> Entry {
    Entry::revenue(
        OrgId(1),
        EntryId(id),
        NOON + (id as i64 - 1) * DAY,
        Money(1_000),
        Category::Rooms,
        PaymentMethod::Card,
    )
}

/// A database whose only checkpoints are the test's, holding org 1 and [`RECORDED`] revenues.
fn open(dir: &tempfile::TempDir) -> Arc<Db> {
    open_on(dir, Arc::new(crate::io::StdFs))
}

/// [`open`] with the log and metadata on `vfs`.
fn open_on(dir: &tempfile::TempDir, vfs: Arc<dyn crate::io::Vfs>) -> Arc<Db> {
    let path = dir.path().join("db");
    std::fs::create_dir_all(&path).expect("db dir");
    let options = Options {
        checkpoint_every_ops: u64::MAX,
        checkpoint_interval: Duration::from_secs(86_400),
        vfs,
        ..Options::default()
    };
    let db = Db::open_with(path, options).expect("open");
    db.register_org(Org::new(OrgId(1), "Seaside Inn", Currency::EUR))
        .expect("org");
    for id in 1..=RECORDED {
        db.record(Batch::new().post(revenue(id))).expect("post");
    }
    Arc::new(db)
}

/// Runs `operation` on this thread; the first time it reaches `point`, the hook tries the
/// state's write lock and records revenue `next` from another thread, waiting for its
/// acknowledgement up to [`BLOCKED`].
fn commit_during<T>(
    db: &Arc<Db>,
    point: Point,
    next: u64,
    operation: impl FnOnce() -> T,
) -> (T, Meanwhile) {
    commit_during_then(db, point, next, || {}, operation)
}

/// [`commit_during`], and `then` runs in the hook after the commit.
fn commit_during_then<T>(
    db: &Arc<Db>,
    point: Point,
    next: u64,
    then: impl Fn() + 'static,
    operation: impl FnOnce() -> T,
) -> (T, Meanwhile) {
    let seen: Arc<Mutex<Option<Meanwhile>>> = Arc::default();
    let hook = {
        let (db, seen) = (db.clone(), seen.clone());
        move |at: Point| {
            let mut seen = seen.lock();
            if at != point || seen.is_some() {
                return;
            }
            let lock_free = db.shared.state.try_write().is_some();
            let (tx, rx) = crossbeam::channel::bounded(1);
            let writer = db.clone();
            std::thread::spawn(move || {
                let _ = tx.send(writer.record(Batch::new().post(revenue(next))));
            });
            let committed = rx.recv_timeout(BLOCKED).ok().and_then(|r| r.ok());
            *seen = Some(Meanwhile {
                lock_free,
                committed,
            });
            then();
        }
    };
    let out = test_hooks::with(hook, operation);
    let seen = seen
        .lock()
        .take()
        .expect("the operation reached the hook point");
    (out, seen)
}

/// The hook found the lock free and the batch committed after `before`.
fn assert_committed_meanwhile(meanwhile: Meanwhile, before: Lsn) -> Lsn {
    assert!(meanwhile.lock_free, "the state lock is held: {meanwhile:?}");
    let lsn = meanwhile
        .committed
        .expect("a batch commits while the operation runs");
    assert!(lsn > before, "{lsn} after {before}");
    lsn
}

#[test]
fn a_commit_completes_while_a_checkpoint_packs() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let db = open(&tmp);
    let before = db.visible_lsn();
    let (stats, meanwhile) = commit_during(&db, Point::Pack, 100, || db.checkpoint());
    let stats = stats.expect("checkpoint");
    let committed = assert_committed_meanwhile(meanwhile, before);
    assert_eq!(stats.lsn, before, "the checkpoint covers what it pinned");
    assert!(stats.ledger_values > 0 && stats.balance_values > 0);
    // The values the batch changed meanwhile stay dirty: the next checkpoint writes them.
    let next = db.checkpoint().expect("checkpoint");
    assert_eq!(next.lsn, committed);
    assert!(
        next.ledger_values > 0 && next.balance_values > 0,
        "{next:?}"
    );
}

/// A checkpoint whose write fails puts its keys back beside those of the batch committed while it
/// packed: the next checkpoint writes both.
#[test]
#[cfg(feature = "fault-injection")]
fn a_failed_checkpoint_keeps_its_keys_dirty_beside_those_committed_meanwhile() {
    use crate::io::sim::{FaultKind, FaultPlan, SimFs};
    let tmp = tempfile::tempdir().expect("tempdir");
    let sim = SimFs::new();
    let db = open_on(&tmp, Arc::new(sim.clone()));
    let before = db.visible_lsn();
    // After the commit nothing touches the disk until the checkpoint writes its durable mark.
    let fail_next = {
        let sim = sim.clone();
        move || {
            sim.set_fault(Some(FaultPlan {
                at: sim.ops(),
                kind: FaultKind::Eio,
                persistent: false,
            }))
        }
    };
    let (failed, meanwhile) =
        commit_during_then(&db, Point::Pack, 100, fail_next, || db.checkpoint());
    let committed = assert_committed_meanwhile(meanwhile, before);
    assert!(failed.is_err(), "{failed:?}");
    assert_eq!(sim.faults_hit(), 1);
    sim.set_fault(None);
    // January's ledger and balance values (the failed checkpoint's) and April's (the batch's).
    let next = db.checkpoint().expect("checkpoint");
    assert_eq!(next.lsn, committed);
    assert_eq!(
        (next.ledger_values, next.balance_values),
        (2, 2),
        "{next:?}"
    );
}

/// Collects the `tracing` events of the thread it is the default subscriber of, with their fields.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<(tracing::Level, Fields)>>>);

/// An event's fields by name, values as `Debug` prints them.
type Fields = Vec<(String, String)>;

struct Visitor(Fields);

impl tracing::field::Visit for Visitor {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0
            .push((field.name().to_string(), format!("{value:?}")));
    }
}

impl tracing::Subscriber for Capture {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let mut fields = Visitor(Vec::new());
        event.record(&mut fields);
        self.0.lock().push((*event.metadata().level(), fields.0));
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

#[test]
fn a_slow_checkpoint_is_reported_with_its_lsn_keys_and_steps() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let db = open(&tmp);
    let before = db.visible_lsn();
    let capture = Capture::default();
    // Packing is held at the hook for the threshold: the checkpoint is slow by construction.
    let hook = |at: Point| {
        if at == Point::Pack {
            std::thread::sleep(crate::limits::SLOW_CHECKPOINT);
        }
    };
    let stats = tracing::subscriber::with_default(capture.clone(), || {
        test_hooks::with(hook, || db.checkpoint())
    })
    .expect("checkpoint");
    assert_eq!(stats.lsn, before);
    let events = capture.0.lock().clone();
    let [(level, fields)] = events.as_slice() else {
        panic!("one event: {events:?}");
    };
    assert_eq!(*level, tracing::Level::WARN);
    let field = |name: &str| -> String {
        let found = fields.iter().find(|(n, _)| n == name);
        found.map(|(_, v)| v.clone()).unwrap_or_default()
    };
    let number = |name: &str| -> u64 { field(name).parse().expect("a number") };
    assert_eq!(field("message"), "slow checkpoint");
    assert_eq!(number("lsn"), before.0);
    assert!(number("keys") >= 2, "{fields:?}");
    assert!(
        number("write_ms") >= crate::limits::SLOW_CHECKPOINT.as_millis() as u64,
        "{fields:?}"
    );
    assert_eq!(field("ok"), "true");
}

#[test]
fn a_commit_completes_while_balances_over_a_range_are_read() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let db = open(&tmp);
    let (first, last) = (BusinessDay::from_days(19_723).expect("day"), BusinessDay::from_days(19_723 + 365).expect("day"));
    let (rows, meanwhile) =
        commit_during(&db, Point::Scan, 100, || db.balances(OrgId(1), first, last));
    assert_committed_meanwhile(meanwhile, Lsn(RECORDED + 1));
    // As of the read's start: 20 revenues, not the one recorded on day 99 meanwhile.
    let rows = rows.expect("balances");
    assert_eq!(rows.len(), 366);
    assert_eq!(rows[365].closing, Money(RECORDED as i64 * 1_000));
    let now = db.balance(OrgId(1), last).expect("balance");
    assert_eq!(now.closing, Money((RECORDED as i64 + 1) * 1_000));
}

#[test]
fn a_commit_completes_while_entries_are_listed() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let db = open(&tmp);
    let range = (NOON - DAY, NOON + 365 * DAY);
    let (entries, meanwhile) = commit_during(&db, Point::Scan, 100, || {
        db.entries(OrgId(1), range.0, range.1)
    });
    assert_committed_meanwhile(meanwhile, Lsn(RECORDED + 1));
    assert_eq!(entries.expect("entries").len(), RECORDED as usize);
    let now = db.entries(OrgId(1), range.0, range.1).expect("entries");
    assert_eq!(now.len(), RECORDED as usize + 1);
}

/// The rows of a page of query output.
fn rows(output: QueryOutput) -> usize {
    match output {
        QueryOutput::Rows { rows, .. } => rows.len(),
        other => panic!("not rows: {other:?}"),
    }
}

#[test]
fn a_commit_completes_while_a_query_runs_and_while_one_is_planned() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let db = open(&tmp);
    let query = Query::revenues().org(OrgId(1)).limit(1_000);
    let (output, meanwhile) = commit_during(&db, Point::Scan, 100, || db.query(&query));
    assert_committed_meanwhile(meanwhile, Lsn(RECORDED + 1));
    assert_eq!(rows(output.expect("query")), RECORDED as usize);
    assert_eq!(
        rows(db.query(&query).expect("query")),
        RECORDED as usize + 1
    );

    let before = db.visible_lsn();
    let (plan, meanwhile) = commit_during(&db, Point::Scan, 101, || db.explain(&query));
    assert_committed_meanwhile(meanwhile, before);
    assert!(plan.expect("plan").partitions_total > 0);
}

#[test]
fn a_commit_completes_while_the_state_is_verified() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let db = open(&tmp);
    let before = db.visible_lsn();
    let (report, meanwhile) = commit_during(&db, Point::Scan, 100, || db.verify());
    assert_committed_meanwhile(meanwhile, before);
    assert!(report.is_ok(), "{:?}", report.problems);
    assert_eq!(report.lsn, before, "verified as of its start");
}

/// Through a read pool, a scan on the primary lets its committer go on, and a scan on a replica
/// lets the replica's applier go on.
#[test]
fn pooled_scans_let_the_primary_commit_and_a_replica_apply() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let db = open(&tmp);
    let query = Query::revenues().org(OrgId(1)).limit(1_000);
    let primary_only = ReadPool::new(db.clone(), Vec::new(), PoolOptions::default()).expect("pool");
    let (output, meanwhile) = commit_during(&db, Point::Scan, 100, || {
        primary_only.read(Consistency::Latest)?.query(&query)
    });
    assert_committed_meanwhile(meanwhile, Lsn(RECORDED + 1));
    assert_eq!(rows(output.expect("query")), RECORDED as usize);
    drop(primary_only);

    let replica = Arc::new(
        db.replica_with("r1", ReplicaOptions::default().flow_control(None))
            .expect("replica"),
    );
    let before = db.visible_lsn();
    assert!(replica.wait_for(before, BLOCKED), "the replica catches up");
    let pool = ReadPool::new(db.clone(), vec![replica.clone()], PoolOptions::default()).expect("pool");
    let applied: Arc<Mutex<Option<bool>>> = Arc::default();
    let hook = {
        let (db, replica, applied) = (db.clone(), replica.clone(), applied.clone());
        move |_: Point| {
            let mut applied = applied.lock();
            if applied.is_none() {
                let lsn = db.record(Batch::new().post(revenue(102))).expect("post");
                *applied = Some(replica.wait_for(lsn, BLOCKED));
            }
        }
    };
    let read = pool.read(Consistency::Any).expect("pool read");
    assert_eq!(read.node(), "r1");
    let output = test_hooks::with(hook, || read.query(&query));
    assert_eq!(
        *applied.lock(),
        Some(true),
        "the replica applies while a scan runs on it"
    );
    assert_eq!(rows(output.expect("query")), RECORDED as usize + 1);
}
