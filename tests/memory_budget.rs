//! The memory budget: the engine's account of its resident memory (`Db::memory`) follows the
//! rows it holds, and the background freezer's step keeps it under `Options::memory_budget`
//! while the history grows many times past the budget — the month that takes the writes
//! included, even while writers go on — with answers unchanged.
#![allow(clippy::unwrap_used)]

use folio::{
    Batch, BusinessDay, Category, Currency, Db, Entry, EntryId, ExpenseStatus, Money, Month,
    Options, Org, OrgId, PaymentMethod, SplitMix64,
};

const ORGS: u64 = 40;
const MIB: u64 = 1 << 20;
/// 2024-01-01T00:00:00Z.
const T0: i64 = 1_704_067_200;
const DAY: i64 = 86_400;

fn open(path: &std::path::Path, budget: u64) -> Db {
    Db::open_with(path, Options::default().shards(4).memory_budget(budget)).unwrap()
}

/// A 1 MiB budget (always over it) with the background freezer on.
fn open_freezing(path: &std::path::Path) -> Db {
    let options = Options::default()
        .shards(4)
        .memory_budget(MIB)
        .auto_freeze(true);
    Db::open_with(path, options).unwrap()
}

/// A thread recording `stream` into `db`, batch by batch; whether each was accepted.
fn spawn_writer(db: &std::sync::Arc<Db>, stream: &[Batch]) -> std::thread::JoinHandle<Vec<bool>> {
    let (db, stream) = (std::sync::Arc::clone(db), stream.to_vec());
    std::thread::spawn(move || {
        stream
            .into_iter()
            .map(|batch| db.record(batch).is_ok())
            .collect()
    })
}

/// Waits for `writer`, then records `stream` into `twin`, checking each batch is accepted or
/// refused as the writer's was.
fn record_as_accepted(twin: &Db, stream: &[Batch], writer: std::thread::JoinHandle<Vec<bool>>) {
    let accepted = writer.join().unwrap();
    for (batch, ok) in stream.iter().zip(accepted) {
        assert_eq!(twin.record(batch.clone()).is_ok(), ok);
    }
}

fn register(db: &Db) {
    let mut b = Batch::new();
    for o in 1..=ORGS {
        b = b.register_org(Org::new(OrgId(o), format!("h{o}"), Currency::USD));
    }
    db.record(b).unwrap();
}

/// `rows` postings spread over month `month` (0 = 2024-01), ids from `first_id`, in batches.
fn record_month(db: &Db, rng: &mut SplitMix64, month: i64, rows: u64, first_id: u64) {
    let start = BusinessDay::from_ymd(2024, 1 + month as u32, 1)
        .unwrap()
        .start_utc();
    let mut batch = Vec::new();
    for i in 0..rows {
        let org = OrgId(1 + rng.below(ORGS));
        let at = start + (i as i64 * 27 * DAY) / rows as i64;
        let amount = Money(1 + rng.below(90_000) as i64);
        let entry = match rng.below(2) {
            0 => Entry::revenue(
                org,
                EntryId(first_id + i),
                at,
                amount,
                Category::Rooms,
                PaymentMethod::Card,
            ),
            _ => Entry::expense(
                org,
                EntryId(first_id + i),
                at,
                amount,
                Category::Supplies,
                PaymentMethod::Cash,
                ExpenseStatus::Paid,
            )
            .with_reference(format!("invoice {i}")),
        };
        batch.push(folio::Op::Post(entry));
        if batch.len() == 2_000 {
            db.record(Batch::from(std::mem::take(&mut batch))).unwrap();
        }
    }
    if !batch.is_empty() {
        db.record(Batch::from(batch)).unwrap();
    }
}

/// Closing balances of every org at the end of each month, and its entries of one month.
fn answers(db: &Db, months: i64) -> Vec<String> {
    let mut out = Vec::new();
    for o in 1..=ORGS {
        for m in 0..months {
            let day = BusinessDay::from_ymd(2024, 1 + m as u32, 28).unwrap();
            out.push(format!("{:?}", db.balance(OrgId(o), day).unwrap()));
        }
        let entries = db.entries(OrgId(o), T0, T0 + 40 * DAY).unwrap();
        out.push(format!("{entries:?}"));
    }
    out
}

fn memory_rows(db: &Db) -> u64 {
    db.months().unwrap().iter().map(|m| m.memory_rows).sum()
}

#[test]
fn the_account_follows_the_rows_in_memory() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path(), 256 * MIB);
    register(&db);
    let empty = db.memory();
    assert_eq!(empty.engine.row_count, 0);
    assert_eq!(empty.budget, 256 * MIB);
    assert_eq!(empty.store_cache, 64 * MIB, "a quarter of the budget");
    let mut rng = SplitMix64::new(7);
    for m in 0..4 {
        record_month(&db, &mut rng, m, 3_000, 1 + m as u64 * 10_000);
    }
    let full = db.memory();
    assert_eq!(full.engine.row_count, 12_000);
    assert_eq!(full.engine.row_count, memory_rows(&db));
    // A row is at least its key, amount, day and codes; its ledger, entry id and day row more.
    assert!(full.engine.rows >= 12_000 * 64, "{full:?}");
    assert!(full.engine.entry_ids >= 12_000 * 16, "{full:?}");
    assert!(full.engine.balances > empty.engine.balances, "{full:?}");
    assert!(full.engine.orgs >= ORGS * 64, "{full:?}");
    assert!(full.accounted() > full.engine.total());

    // Freezing January and February takes their rows, entry ids and day rows out of memory; the
    // frozen readers are small.
    let report = db.freeze(None).unwrap();
    assert_eq!(report.frozen.len(), 2, "{report:?}");
    let after = db.memory();
    assert_eq!(after.engine.row_count, 6_000);
    assert_eq!(after.engine.row_count, memory_rows(&db));
    assert!(
        after.engine.rows * 10 < full.engine.rows * 6,
        "{after:?} vs {full:?}"
    );
    assert!(after.engine.entry_ids < full.engine.entry_ids);
    assert!(after.engine.balances < full.engine.balances);
    assert!(after.engine.frozen > full.engine.frozen);

    // Reopened: no org is loaded until something needs it (the close left no log tail); once
    // every org is (a snapshot of a writer loads them), the same account of rows, loaded from
    // the store, not the frozen files.
    db.close().unwrap();
    let db = open(dir.path(), 256 * MIB);
    let opened = db.memory();
    assert_eq!(
        (opened.engine.row_count, opened.engine.orgs),
        (0, 0),
        "{opened:?}"
    );
    drop(db.snapshot());
    let reopened = db.memory();
    assert_eq!(reopened.engine.row_count, 6_000);
    assert!(reopened.engine.rows * 10 < full.engine.rows * 6);
}

#[test]
fn over_its_budget_the_freezer_takes_the_previous_month_too() {
    let small = tempfile::tempdir().unwrap();
    let large = tempfile::tempdir().unwrap();
    let dbs = [open(small.path(), 8 * MIB), open(large.path(), 1024 * MIB)];
    for db in &dbs {
        register(db);
        let mut rng = SplitMix64::new(11);
        for m in 0..4 {
            record_month(db, &mut rng, m, 8_000, 1 + m as u64 * 10_000);
        }
    }
    let [small_db, large_db] = &dbs;
    assert!(small_db.memory().over_budget(), "{:?}", small_db.memory());
    assert!(!large_db.memory().over_budget(), "{:?}", large_db.memory());
    let before = answers(large_db, 4);
    assert_eq!(answers(small_db, 4), before);

    // Within its budget: the default horizon (every month before the previous one).
    let step = large_db.freeze_step().unwrap();
    let months: Vec<Month> = step.frozen.iter().map(|m| m.month).collect();
    assert_eq!(
        months,
        vec![
            Month::from_ym(2024, 1).unwrap(),
            Month::from_ym(2024, 2).unwrap()
        ]
    );
    // Over it: the previous month as well, and the newest month spills (it holds more rows
    // than the freezer lets gather under pressure): no row stays in memory.
    assert!(8_000 >= small_db.memory().spill_rows());
    let step = small_db.freeze_step().unwrap();
    let months: Vec<Month> = step.frozen.iter().map(|m| m.month).collect();
    assert_eq!(
        months,
        (1..=4)
            .map(|m| Month::from_ym(2024, m).unwrap())
            .collect::<Vec<_>>()
    );
    assert!(small_db.memory().engine.rows < large_db.memory().engine.rows);
    assert_eq!(memory_rows(small_db), 0);
    assert_eq!(answers(small_db, 4), before);
    assert_eq!(answers(large_db, 4), before);
    assert!(small_db.verify().is_ok());
}

#[test]
fn history_many_times_the_budget_stays_under_it() {
    let dir = tempfile::tempdir().unwrap();
    let budget = 8 * MIB;
    let db = open(dir.path(), budget);
    register(&db);
    let mut rng = SplitMix64::new(23);
    let months = 12;
    let mut peak = 0;
    for m in 0..months {
        record_month(&db, &mut rng, m, 10_000, 1 + m as u64 * 100_000);
        // What the background freezer does each step, run here so the test does not wait.
        db.freeze_step().unwrap();
        let account = db.memory();
        assert!(!account.over_budget(), "month {m}: {account:?}");
        peak = peak.max(account.accounted());
    }
    // 120,000 rows: in memory they would take several times the budget.
    let all_rows: u64 = db
        .months()
        .unwrap()
        .iter()
        .map(|m| m.memory_rows + m.file.map_or(0, |f| f.1))
        .sum();
    assert_eq!(all_rows, 120_000);
    let now = db.memory().engine;
    let per_row = (now.rows + now.entry_ids) / memory_rows(&db).max(1);
    assert!(all_rows * per_row > 3 * budget, "{per_row} B/row");
    assert!(peak <= budget);
    // Reads and late writes into the frozen history go on under the budget.
    record_month(&db, &mut rng, 2, 500, 5_000_000);
    let day = BusinessDay::from_ymd(2024, 3, 15).unwrap();
    db.balance(OrgId(3), day).unwrap();
    db.freeze_step().unwrap();
    assert!(!db.memory().over_budget(), "{:?}", db.memory());
    assert!(db.verify().is_ok());
}

/// One month of writes (2024-03) as batches: revenues and expenses (some pending), reversals
/// and payments of earlier rows (of any age, so of rows already spilled too), re-sent
/// postings (no-ops) and conflicting re-sends (refused, each alone in its batch).
fn month_stream(seed: u64, batches: usize, per_batch: u64) -> Vec<Batch> {
    let mut rng = SplitMix64::new(seed);
    let start = BusinessDay::from_ymd(2024, 3, 1).unwrap().start_utc();
    let span = 30 * DAY;
    let total = batches as u64 * per_batch;
    let mut posted: Vec<Entry> = Vec::new();
    let mut reversed = std::collections::HashSet::new();
    let mut paid = std::collections::HashSet::new();
    let mut next_id = 1u64;
    let mut out = Vec::new();
    for b in 0..batches as u64 {
        let mut ops = Vec::new();
        for i in 0..per_batch {
            let n = b * per_batch + i;
            let at = start + (n as i64 * span) / total as i64;
            let org = OrgId(1 + rng.below(ORGS));
            let roll = rng.below(100);
            if roll < 4 && !posted.is_empty() {
                let e = &posted[rng.below(posted.len() as u64) as usize];
                if reversed.insert((e.org, e.id)) {
                    next_id += 1;
                    ops.push(folio::Op::Reverse(folio::Reversal {
                        org: e.org,
                        id: EntryId(next_id),
                        reverses: e.id,
                        occurred_at: at,
                        reference: format!("void {}", e.id.0),
                    }));
                }
                continue;
            }
            if roll < 8 && !posted.is_empty() {
                let e = &posted[rng.below(posted.len() as u64) as usize];
                let pending = e.status == Some(ExpenseStatus::Pending);
                if pending && !reversed.contains(&(e.org, e.id)) && paid.insert((e.org, e.id)) {
                    ops.push(folio::Op::Pay(folio::PayExpense {
                        org: e.org,
                        entry: e.id,
                        paid_at: at,
                    }));
                }
                continue;
            }
            if roll < 10 && !posted.is_empty() {
                // The same posting again: a no-op.
                let e = posted[rng.below(posted.len() as u64) as usize].clone();
                ops.push(folio::Op::Post(e));
                continue;
            }
            next_id += 1;
            let amount = Money(1 + rng.below(90_000) as i64);
            let entry = match rng.below(3) {
                0 => Entry::revenue(
                    org,
                    EntryId(next_id),
                    at,
                    amount,
                    Category::Rooms,
                    PaymentMethod::Card,
                ),
                1 => Entry::expense(
                    org,
                    EntryId(next_id),
                    at,
                    amount,
                    Category::Supplies,
                    PaymentMethod::Cash,
                    ExpenseStatus::Pending,
                ),
                _ => Entry::expense(
                    org,
                    EntryId(next_id),
                    at,
                    amount,
                    Category::Utilities,
                    PaymentMethod::BankTransfer,
                    ExpenseStatus::Paid,
                )
                .with_reference(format!("invoice {next_id}")),
            };
            posted.push(entry.clone());
            ops.push(folio::Op::Post(entry));
        }
        out.push(Batch::from(ops));
        if b % 5 == 4 {
            // An earlier posting re-sent with another amount: a conflict, refused.
            let mut e = posted[rng.below(posted.len() as u64) as usize].clone();
            e.amount = Money(e.amount.0 + 1);
            out.push(Batch::from(vec![folio::Op::Post(e)]));
        }
    }
    out
}

/// Every read of March 2024 for every org: balances of several days, the monthly report, a
/// ledger page, entries, pending expenses, and the month's top revenue.
fn march_answers(db: &Db) -> Vec<String> {
    let snap = db.snapshot();
    let march = Month::from_ym(2024, 3).unwrap();
    let (from, to) = (march.start_utc(), march.end_utc());
    let mut out = vec![format!("{:?}", snap.top_revenue(march, 5).unwrap())];
    for o in 1..=ORGS {
        let org = OrgId(o);
        for d in [1, 9, 17, 31] {
            let day = BusinessDay::from_ymd(2024, 3, d).unwrap();
            out.push(format!("{:?}", snap.balance(org, day).unwrap()));
        }
        out.push(format!("{:?}", snap.monthly_report(org, march).unwrap()));
        out.push(format!(
            "{:?}",
            snap.ledger_page(org, from, to, 25).unwrap()
        ));
        out.push(format!("{:?}", snap.entries(org, from, to).unwrap()));
        out.push(format!("{:?}", snap.pending_expenses(org, 50).unwrap()));
    }
    out
}

/// Applies `batch` to both databases: both accept it or both refuse it.
fn record_both(a: &Db, b: &Db, batch: &Batch) {
    let (x, y) = (a.record(batch.clone()), b.record(batch.clone()));
    assert_eq!(x.is_ok(), y.is_ok(), "{x:?} vs {y:?}");
}

#[test]
fn one_open_month_larger_than_the_budget_stays_under_it() {
    let small = tempfile::tempdir().unwrap();
    let large = tempfile::tempdir().unwrap();
    let budget = 8 * MIB;
    let (db, twin) = (open(small.path(), budget), open(large.path(), 1024 * MIB));
    register(&db);
    register(&twin);
    let stream = month_stream(31, 60, 2_000);
    let mut peak = 0;
    let mut spills = 0;
    for (i, batch) in stream.iter().enumerate() {
        record_both(&db, &twin, batch);
        // What the background freezer does each step, run here so the test does not wait.
        let step = db.freeze_step().unwrap();
        spills += step.frozen.len();
        let account = db.memory();
        assert!(!account.over_budget(), "batch {i}: {account:?}");
        peak = peak.max(account.accounted());
        if i % 25 == 24 {
            assert_eq!(march_answers(&db), march_answers(&twin), "after batch {i}");
        }
    }
    // ~120,000 rows of one month: in memory they take several times the budget (the twin
    // holds them all).
    let whole = twin.memory();
    assert!(
        whole.engine.rows + whole.engine.entry_ids > 3 * budget,
        "{whole:?}"
    );
    assert!(peak <= budget);
    assert!(spills >= 3, "{spills} spills");
    let months = db.months().unwrap();
    assert_eq!(months.len(), 1, "{months:?}");
    let rows = months[0].memory_rows + months[0].file.map_or(0, |f| f.1);
    assert_eq!(rows, twin.months().unwrap()[0].memory_rows);
    assert_eq!(march_answers(&db), march_answers(&twin));
    assert!(db.verify().is_ok());
    // Reopened, the spilled month answers the same.
    db.close().unwrap();
    let db = open(small.path(), budget);
    assert_eq!(march_answers(&db), march_answers(&twin));
    assert!(db.verify().is_ok());
}

#[test]
fn the_month_taking_the_writes_spills_while_writers_go_on() {
    let small = tempfile::tempdir().unwrap();
    let large = tempfile::tempdir().unwrap();
    // A budget the engine is always over: every step spills what gathered.
    let db = std::sync::Arc::new(open(small.path(), MIB));
    let twin = open(large.path(), 1024 * MIB);
    register(&db);
    register(&twin);
    let stream = month_stream(47, 40, 1_000);
    let writer = spawn_writer(&db, &stream);
    let mut kept = 0;
    let mut steps = 0;
    while !writer.is_finished() {
        let step = db.freeze_step().unwrap();
        kept += step.frozen.iter().map(|m| m.rows_kept).sum::<u64>();
        steps += 1;
    }
    record_as_accepted(&twin, &stream, writer);
    db.freeze_step().unwrap();
    eprintln!("{steps} freezer steps during the writes; {kept} rows written meanwhile stayed");
    assert_eq!(march_answers(&db), march_answers(&twin));
    assert!(db.verify().is_ok());
    let db = std::sync::Arc::into_inner(db).unwrap();
    db.close().unwrap();
    let db = open(small.path(), MIB);
    assert_eq!(march_answers(&db), march_answers(&twin));
    assert!(db.verify().is_ok());
}

#[test]
fn the_background_freezer_holds_writers_back_so_rows_in_memory_stay_bounded() {
    let small = tempfile::tempdir().unwrap();
    let large = tempfile::tempdir().unwrap();
    // Always over this budget: the freezer spills every 4,096 rows of the month, and writers
    // wait (waking it) once more than 32,768 rows are in memory, until it has spilled them.
    let db = std::sync::Arc::new(open_freezing(small.path()));
    let twin = open(large.path(), 1024 * MIB);
    register(&db);
    register(&twin);
    let stream = month_stream(53, 150, 1_000);
    let writer = spawn_writer(&db, &stream);
    // The rows in memory, sampled while the writer goes on: without the gate they grow with the
    // month whenever the writer outruns the freezer, which rewrites the growing month at every
    // spill.
    let mut most = 0;
    while !writer.is_finished() {
        most = most.max(memory_rows(&db));
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    record_as_accepted(&twin, &stream, writer);
    let rows: usize = stream.iter().map(|b| b.len()).sum();
    let stats = db.freezer_stats();
    eprintln!("{rows} operations; at most {most} rows in memory; {stats:?}");
    assert!(stats.installs > 0, "{stats:?}");
    // One month takes every write: its spills are not paced (only months waiting whole are).
    assert_eq!(stats.writer_paces, 0, "{stats:?}");
    assert!(stats.writer_waits > 0, "{stats:?}");
    // 32,768 rows, and the batch that was let through last (writers wait 5 s at most: a
    // freezer that slow would show here).
    assert!(most <= 32_768 + 1_000, "{most} rows in memory of {rows}");
    assert_eq!(march_answers(&db), march_answers(&twin));
    assert!(db.verify().is_ok());
}

#[test]
fn writers_held_back_by_overlays_under_the_refreeze_threshold_are_let_go_soon() {
    let small = tempfile::tempdir().unwrap();
    let large = tempfile::tempdir().unwrap();
    let db = open_freezing(small.path());
    let twin = open(large.path(), 1024 * MIB);
    register(&db);
    register(&twin);
    let (mut rng, mut twin_rng) = (SplitMix64::new(61), SplitMix64::new(61));
    for month in 0..11 {
        record_month(&db, &mut rng, month, 1_000, 1 + month as u64 * 1_000_000);
        record_month(
            &twin,
            &mut twin_rng,
            month,
            1_000,
            1 + month as u64 * 1_000_000,
        );
    }
    db.freeze(None).unwrap();
    // Late postings: 3,500 rows into each of ten frozen months, every one under the background
    // freezer's re-freeze threshold (4,096) while together over the 32,768 rows writers may add
    // to: the freezer must fold them for the writers to go on.
    for month in 0..10 {
        let first = 500_000 + month as u64 * 1_000_000;
        record_month(&db, &mut rng, month, 3_500, first);
        record_month(&twin, &mut twin_rng, month, 3_500, first);
    }
    let stats = db.freezer_stats();
    eprintln!("{stats:?}; {} rows in memory", memory_rows(&db));
    assert!(
        stats.writers_waited < std::time::Duration::from_secs(5),
        "{stats:?}"
    );
    assert!(memory_rows(&db) <= 32_768 + 2_000);
    assert_eq!(answers(&db, 11), answers(&twin, 11));
    assert!(db.verify().is_ok());
}
