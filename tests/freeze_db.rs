//! Freezing through `Db::freeze`: a database that freezes months answers exactly as a twin that
//! never does, through late postings, reversals and payments into frozen months, re-freezes and
//! re-sends of frozen ids.
#![allow(clippy::unwrap_used)]

use folio::{
    Batch, BusinessDay, Category, Currency, Db, Entry, EntryId, Error, ExpenseStatus, Money, Month,
    Options, Org, OrgId, PayExpense, PaymentMethod, Rejection, Reversal, SplitMix64,
};

const ZONES: &[&str] = &[
    "UTC",
    "Pacific/Kiritimati",
    "Pacific/Pago_Pago",
    "Asia/Kolkata",
];
const ORGS: u64 = 6;
/// 2024-01-01T00:00:00Z.
const T0: i64 = 1_704_067_200;
const DAY: i64 = 86_400;

fn open(path: &std::path::Path) -> Db {
    Db::open_with(path, Options::default().shards(4)).unwrap()
}

fn register(db: &Db) {
    let mut b = Batch::new();
    for o in 1..=ORGS {
        let org = Org::new(OrgId(o), format!("h{o}"), Currency::USD)
            .with_time_zone(ZONES[(o % ZONES.len() as u64) as usize])
            .with_opening_balance(Money(1_000 * o as i64));
        b = b.register_org(org);
    }
    db.record(b).unwrap();
}

/// A database and its twin, both with the orgs registered.
fn twins(dir: &std::path::Path) -> (Db, Db) {
    let (a, b) = (open(&dir.join("a")), open(&dir.join("b")));
    register(&a);
    register(&b);
    (a, b)
}

/// Records `batch` in a database and its twin.
fn record_both(a: &Db, b: &Db, batch: Batch) {
    a.record(batch.clone()).unwrap();
    b.record(batch).unwrap();
}

/// A rooms revenue paid by card.
fn room_revenue(org: u64, id: u64, at: i64, amount: i64) -> Entry {
    Entry::revenue(
        OrgId(org),
        EntryId(id),
        at,
        Money(amount),
        Category::Rooms,
        PaymentMethod::Card,
    )
}

fn posting(rng: &mut SplitMix64, id: u64, at: i64) -> Entry {
    let org = OrgId(1 + rng.below(ORGS));
    let amount = Money(1 + rng.below(50_000) as i64);
    if rng.below(2) == 0 {
        Entry::revenue(
            org,
            EntryId(id),
            at,
            amount,
            Category::Rooms,
            PaymentMethod::Card,
        )
    } else {
        let status = match rng.below(2) {
            0 => ExpenseStatus::Pending,
            _ => ExpenseStatus::Paid,
        };
        Entry::expense(
            org,
            EntryId(id),
            at,
            amount,
            Category::Supplies,
            PaymentMethod::Cash,
            status,
        )
    }
}

/// Every read that a freeze may change, for every org over the whole history.
fn answers(db: &Db) -> Vec<String> {
    let first = BusinessDay::from_ymd(2023, 12, 31).unwrap();
    let mut out = Vec::new();
    for o in 1..=ORGS {
        let org = OrgId(o);
        let mut day = first;
        while day <= BusinessDay::from_ymd(2024, 7, 2).unwrap() {
            let to = day.checked_add_days(60).unwrap();
            out.push(format!("{:?}", db.balances(org, day, to).unwrap()));
            day = to.next().unwrap();
        }
        for d in [0i64, 30, 31, 59, 60, 90, 121, 150, 181] {
            let day = first.checked_add_days(d).unwrap();
            out.push(format!("{:?}", db.balance(org, day).unwrap()));
        }
        out.push(format!(
            "{:?}",
            db.entries(org, T0 - 2 * DAY, T0 + 200 * DAY).unwrap()
        ));
    }
    out
}

/// The first answer that differs, shortened.
fn same(a: &Db, b: &Db, when: &str) {
    let (x, y) = (answers(a), answers(b));
    assert_eq!(x.len(), y.len(), "{when}");
    if let Some(i) = (0..x.len()).find(|&i| x[i] != y[i]) {
        let at = x[i]
            .char_indices()
            .zip(y[i].chars())
            .find(|((_, p), q)| p != q)
            .map_or(0, |((k, _), _)| k);
        let cut = |s: &str| {
            s.chars()
                .skip(at.saturating_sub(300))
                .take(600)
                .collect::<String>()
        };
        panic!(
            "{when}: answer {i} differs\nfrozen: {}\ntwin:   {}",
            cut(&x[i]),
            cut(&y[i])
        );
    }
}

#[test]
fn a_frozen_database_answers_as_its_twin() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (open(&tmp.path().join("a")), open(&tmp.path().join("b")));
    register(&a);
    register(&b);
    let mut rng = SplitMix64::new(7);
    let mut next_id = 1u64;
    let mut posted: Vec<Entry> = Vec::new();
    let both = |batch: Batch| {
        let ra = a.record(batch.clone()).map_err(|e| e.to_string());
        let rb = b.record(batch).map_err(|e| e.to_string());
        assert_eq!(ra.is_ok(), rb.is_ok(), "{ra:?} vs {rb:?}");
        ra
    };
    // Six months of history, in order.
    for step in 0..180 {
        let mut batch = Batch::new();
        for _ in 0..4 {
            let at = T0 + step * DAY + rng.below(DAY as u64) as i64;
            let e = posting(&mut rng, next_id, at);
            next_id += 1;
            posted.push(e.clone());
            batch = batch.post(e);
        }
        both(batch).unwrap();
    }
    same(&a, &b, "before freezing");
    assert_eq!(a.freezer_stats(), folio::FreezerStats::default());
    let report = a.freeze(None).unwrap();
    assert!(report.skipped.is_empty());
    let frozen: Vec<Month> = report.frozen.iter().map(|m| m.month).collect();
    assert_eq!(frozen.len(), 4, "{report:?}");
    // Each file put in force is counted with the time it held the write lock.
    let stats = a.freezer_stats();
    assert_eq!(stats.installs, 4);
    assert!(stats.lock_held_max > std::time::Duration::ZERO);
    assert!(stats.lock_held_max <= stats.lock_held_total);
    same(&a, &b, "after the first freeze");
    // Late postings into frozen months, reversals and payments of frozen rows, re-sends and
    // conflicting re-sends of frozen ids.
    for round in 0..6 {
        let mut batch = Batch::new();
        for _ in 0..5 {
            let at = T0 + rng.below(120) as i64 * DAY + rng.below(DAY as u64) as i64;
            let e = posting(&mut rng, next_id, at);
            next_id += 1;
            posted.push(e.clone());
            batch = batch.post(e);
        }
        both(batch).unwrap();
        let old = posted[rng.below(400) as usize].clone();
        both(Batch::new().post(old.clone())).unwrap();
        let mut changed = old.clone();
        changed.amount = Money(old.amount.0 + 1);
        let refused = a.record(Batch::new().post(changed)).unwrap_err();
        assert!(
            matches!(
                refused,
                Error::Rejected(Rejection::DuplicateConflict { .. })
            ),
            "{refused}"
        );
        let target = posted[rng.below(400) as usize].clone();
        let reversal = Reversal {
            org: target.org,
            id: EntryId(next_id),
            reverses: target.id,
            occurred_at: T0 + 100 * DAY + round,
            reference: format!("fix {round}"),
        };
        next_id += 1;
        let _ = both(Batch::new().reverse(reversal));
        if let Some(pending) = posted
            .iter()
            .skip(rng.below(300) as usize)
            .find(|e| e.status == Some(ExpenseStatus::Pending))
        {
            let pay = PayExpense {
                org: pending.org,
                entry: pending.id,
                paid_at: T0 + 170 * DAY,
            };
            let _ = both(Batch::new().pay(pay));
        }
        same(&a, &b, &format!("round {round}"));
        if round % 2 == 1 {
            let before = Month::new(2024, 6).unwrap();
            let again = a.freeze(Some(before)).unwrap();
            assert!(again.skipped.is_empty());
            same(&a, &b, &format!("after re-freezing in round {round}"));
        }
    }
    // Reopened, the frozen months come back from the checkpoint that named them.
    let dir = a.path().to_path_buf();
    a.close().unwrap();
    let a = open(&dir);
    same(&a, &b, "after reopening");
    let months = a.months().unwrap();
    assert!(
        months.iter().any(|m| m.file.is_some_and(|f| f.0 > 1)),
        "{months:?}"
    );
    assert!(a.verify().is_ok(), "{:?}", a.verify());
}

#[test]
fn a_damaged_frozen_file_is_reported_never_a_wrong_answer() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("db");
    let db = open(&path);
    register(&db);
    let mut rng = SplitMix64::new(3);
    for step in 0..120 {
        let at = T0 + step * DAY;
        db.record(Batch::new().post(posting(&mut rng, step as u64 + 1, at)))
            .unwrap();
    }
    let report = db.freeze(None).unwrap();
    assert!(!report.frozen.is_empty());
    db.close().unwrap();
    let frozen_dir = path.join("frozen");
    let file = std::fs::read_dir(&frozen_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().contains("2024-01.v1.frz"))
        .unwrap();
    let mut bytes = std::fs::read(&file).unwrap();
    // A byte inside the first block (past the 64-byte header).
    bytes[100] ^= 0x40;
    std::fs::write(&file, &bytes).unwrap();
    let db = open(&path);
    let verify = db.verify();
    assert!(
        verify.problems.iter().any(|p| p.contains("2024-01")),
        "{:?}",
        verify.problems
    );
    let mut failed = 0;
    for o in 1..=ORGS {
        match db.balances(
            OrgId(o),
            BusinessDay::from_ymd(2024, 1, 1).unwrap(),
            BusinessDay::from_ymd(2024, 1, 31).unwrap(),
        ) {
            Ok(_) => {}
            Err(Error::Corruption { file: named, .. }) => {
                assert_eq!(named, file, "the error names the damaged file");
                failed += 1;
            }
            Err(e) => panic!("{e}"),
        }
    }
    assert!(failed >= 1, "the damaged block's org must fail its read");
}

#[test]
fn opening_reads_no_row_of_the_frozen_months() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("db");
    let db = open(&path);
    register(&db);
    let mut rng = SplitMix64::new(11);
    // Three years, a few postings a week, then every month but the last two frozen.
    for step in 0..(3 * 52) {
        let mut batch = Batch::new();
        for k in 0..3 {
            let at = T0 + step * 7 * DAY + k * DAY;
            batch = batch.post(posting(&mut rng, (step * 3 + k) as u64 + 1, at));
        }
        db.record(batch).unwrap();
    }
    let report = db.freeze(None).unwrap();
    assert!(report.frozen.len() >= 30, "{report:?}");
    let before = answers(&db);
    db.close().unwrap();
    let db = open(&path);
    let frozen: Vec<_> = db
        .months()
        .unwrap()
        .into_iter()
        .filter(|m| m.file.is_some())
        .collect();
    assert_eq!(frozen.len(), report.frozen.len());
    for m in &frozen {
        assert_eq!(m.file_blocks_checked, 0, "{m:?}");
        assert_eq!(m.file_bytes_checked, 192, "{m:?}: header and footer only");
        assert_eq!(m.memory_rows, 0, "{m:?}");
    }
    assert_eq!(answers(&db), before);
    let touched = db
        .months()
        .unwrap()
        .iter()
        .map(|m| m.file_blocks_checked)
        .sum::<u64>();
    assert!(touched > 0, "the reads checked the blocks they used");
}

/// Q5 of a frozen month with an overlay, where the file's top list is longer than what the
/// short read takes: orgs of two currencies, a frozen month, then late revenues (one lifting an
/// org from the bottom to the top, one for an org new to the month), reversals that sink a
/// leader, and postings of a third currency the file never saw. After each change the frozen
/// database ranks exactly as its twin, for small and large limits.
#[test]
fn top_revenue_of_a_frozen_month_with_an_overlay_equals_the_twin() {
    const MANY: u64 = 400;
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (frozen, twin) = (open(a.path()), open(b.path()));
    let march = Month::from_ym(2024, 3).unwrap();
    let at = |day: i64| march.start_utc() + day * DAY + 3_600;
    let revenue = |org: u64, id: u64, day: i64, amount: i64| {
        Entry::revenue(
            OrgId(org),
            EntryId(id),
            at(day),
            Money(amount),
            Category::Rooms,
            PaymentMethod::Card,
        )
    };
    let both = |batch: Batch| {
        frozen.record(batch.clone()).unwrap();
        twin.record(batch).unwrap();
    };
    let mut orgs = Batch::new();
    for o in 1..=MANY + 1 {
        let currency = match o % 5 {
            0 => Currency::EUR,
            _ => Currency::USD,
        };
        let currency = if o == MANY + 1 {
            Currency(*b"GBP")
        } else {
            currency
        };
        orgs = orgs.register_org(Org::new(OrgId(o), format!("h{o}"), currency));
    }
    both(orgs);
    let mut rng = SplitMix64::new(5);
    let mut batch = Batch::new();
    for o in 1..MANY {
        // Org MANY posts nothing in the frozen file; distinct totals and a few ties.
        for k in 0..3 {
            let amount = 1_000 + rng.below(200_000) as i64 - (o as i64 % 7 == 0) as i64 * 1_000;
            batch = batch.post(revenue(o, o * 10 + k, (o % 27) as i64, amount));
        }
    }
    both(batch);
    // April, so March is before the default horizon.
    both(Batch::new().post(revenue(1, 9_000_001, 40, 5)));
    let report = frozen
        .freeze(Some(Month::from_ym(2024, 4).unwrap()))
        .unwrap();
    assert_eq!(report.frozen.len(), 1, "{report:?}");
    let check = |what: &str| {
        for limit in [1, 2, 5, 10, 40, 150, 500] {
            assert_eq!(
                frozen.snapshot().top_revenue(march, limit).unwrap(),
                twin.snapshot().top_revenue(march, limit).unwrap(),
                "{what}: limit {limit}"
            );
        }
    };
    check("frozen, no overlay");
    // A small late revenue for a few orgs: the short read settles it.
    let mut late = Batch::new();
    for o in [3, 17, 250] {
        late = late.post(revenue(o, 8_000_000 + o, 20, 10));
    }
    both(late);
    check("small overlay");
    // The org with the least revenue jumps to the top, an org new to the month enters.
    let all = twin.snapshot().top_revenue(march, 1_000).unwrap();
    let last = all.last().unwrap().org.0;
    both(Batch::new().post(revenue(last, 8_100_000, 21, 10_000_000)));
    both(Batch::new().post(revenue(MANY, 8_100_001, 22, 400_000)));
    check("an org lifted to the top, a new one");
    // Reversals sink the leaders' file rows (a leader may fall out of the top).
    let top = twin.snapshot().top_revenue(march, 3).unwrap();
    let mut reversals = Batch::new();
    for (i, line) in top.iter().enumerate() {
        if line.org.0 < MANY {
            for k in 0..3 {
                reversals = reversals.reverse(Reversal {
                    org: line.org,
                    id: EntryId(8_200_000 + i as u64 * 10 + k),
                    reverses: EntryId(line.org.0 * 10 + k),
                    occurred_at: at(25),
                    reference: String::new(),
                });
            }
        }
    }
    both(reversals);
    check("leaders reversed");
    // A currency the file never saw.
    both(Batch::new().post(revenue(MANY + 1, 8_300_000, 23, 50)));
    check("a new currency");
    // Folded into a new version, then the same again.
    frozen
        .freeze(Some(Month::from_ym(2024, 4).unwrap()))
        .unwrap();
    check("re-frozen");
}

/// The frozen months' file versions, by month.
fn versions(db: &Db) -> Vec<(Month, u32)> {
    db.months()
        .unwrap()
        .iter()
        .filter_map(|m| m.file.map(|(version, _, _)| (m.month, version)))
        .collect()
}

/// An index created (or dropped) after months froze: the frozen files' parts were built for
/// another catalog, so a freeze writes each such month again (a new version whose parts serve
/// the indexes ready now), in steps of the background freezer too; answers never change.
#[test]
fn an_index_created_or_dropped_after_a_freeze_refreezes_the_frozen_months() {
    use folio::{Column, IndexDef, Kind, Predicate, Query};
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (open(&tmp.path().join("a")), open(&tmp.path().join("b")));
    register(&a);
    register(&b);
    let mut rng = SplitMix64::new(17);
    for step in 0..180 {
        let mut batch = Batch::new();
        for k in 0..4 {
            let at = T0 + step * DAY + rng.below(DAY as u64) as i64;
            batch = batch.post(posting(&mut rng, step as u64 * 4 + k + 1, at));
        }
        a.record(batch.clone()).unwrap();
        b.record(batch).unwrap();
    }
    a.freeze(None).unwrap();
    let first = versions(&a);
    assert_eq!(first.len(), 4, "{first:?}");
    let cash = IndexDef::new(
        "revenues_cash_by_cat",
        Kind::Revenue,
        &[Column::Category],
        &[Column::Amount],
        Some(Predicate::PaymentMethodIs(PaymentMethod::Card)),
    );
    let query = |db: &Db, org: u64| {
        let q = Query::revenues()
            .org(OrgId(org))
            .payment_method(PaymentMethod::Card)
            .category(Category::Rooms);
        format!("{:?}", db.query(&q).unwrap())
    };
    let typed = |db: &Db| (1..=ORGS).map(|o| query(db, o)).collect::<Vec<_>>();
    for (round, change) in ["create", "drop"].into_iter().enumerate() {
        match change {
            "create" => {
                a.create_index(cash.clone(), |_, _| {}).unwrap();
                b.create_index(cash.clone(), |_, _| {}).unwrap();
            }
            _ => {
                a.drop_index("revenues_cash_by_cat").unwrap();
                b.drop_index("revenues_cash_by_cat").unwrap();
            }
        }
        same(&a, &b, &format!("index {change}d, files stale"));
        assert_eq!(typed(&a), typed(&b));
        let report = a.freeze(None).unwrap();
        let months: Vec<Month> = report.frozen.iter().map(|m| m.month).collect();
        let expected: Vec<Month> = first.iter().map(|(m, _)| *m).collect();
        assert_eq!(
            months, expected,
            "index {change}d: every frozen month again"
        );
        let now = versions(&a);
        for ((m, v), (m2, v2)) in first.iter().zip(&now) {
            assert_eq!((m, v + 1 + round as u32), (m2, *v2));
        }
        // The new files' parts match the catalog: nothing is stale any more.
        assert!(a.freeze(None).unwrap().frozen.is_empty());
        same(&a, &b, &format!("index {change}d, re-frozen"));
        assert_eq!(typed(&a), typed(&b));
        assert!(a.verify().problems.is_empty());
    }
    // The background freezer's steps do the same, at most four months a step.
    a.create_index(cash.clone(), |_, _| {}).unwrap();
    b.create_index(cash, |_, _| {}).unwrap();
    let mut refrozen = 0;
    for _ in 0..4 {
        let step = a.freeze_step().unwrap();
        assert!(step.frozen.len() <= 4);
        refrozen += step.frozen.len();
    }
    assert_eq!(refrozen, first.len());
    same(&a, &b, "re-frozen by freezer steps");
    drop(a);
    let a = open(&tmp.path().join("a"));
    assert!(a.freeze(None).unwrap().frozen.is_empty());
    same(&a, &b, "reopened");
}

/// A re-freeze builds the blocks of the orgs that late writes touched and copies the others'
/// from the version before; the answers are the twin's, before and after a reopen, and the
/// freezer's statistics count both kinds of block.
#[test]
fn a_refreeze_copies_the_blocks_of_untouched_orgs() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = twins(tmp.path());
    let both = |batch: Batch| {
        a.record(batch.clone()).unwrap();
        b.record(batch).unwrap();
    };
    // Every org has rows on the 10th and 20th of January to April.
    let mut id = 0u64;
    let mut batch = Batch::new();
    for m in 0..4 {
        for o in 1..=ORGS {
            for day in [9, 19] {
                id += 1;
                let at = Month::new(2024, 1 + m).unwrap().start_utc() + day * DAY + 12 * 3_600;
                batch = batch.post(room_revenue(o, id, at, 100 * o as i64 + id as i64));
            }
        }
    }
    both(batch);
    let first = a.freeze(None).unwrap();
    let jan = Month::new(2024, 1).unwrap();
    let feb = Month::new(2024, 2).unwrap();
    let months: Vec<Month> = first.frozen.iter().map(|m| m.month).collect();
    assert_eq!(months, vec![jan, feb]);
    assert!(first
        .frozen
        .iter()
        .all(|m| m.blocks_copied == 0 && m.orgs == ORGS));
    let stats = a.freezer_stats();
    assert_eq!((stats.blocks_built, stats.blocks_copied), (2 * ORGS, 0));
    // A late posting of org 2 into February: February's version 2 builds org 2's block and
    // copies the other five; January is not written again.
    let late = Entry::revenue(
        OrgId(2),
        EntryId(id + 1),
        feb.start_utc() + 3 * DAY + 12 * 3_600,
        Money(7),
        Category::Spa,
        PaymentMethod::Cash,
    );
    both(Batch::new().post(late));
    let again = a.freeze(None).unwrap();
    assert_eq!(again.frozen.len(), 1, "{again:?}");
    let m = &again.frozen[0];
    assert_eq!((m.month, m.version, m.orgs), (feb, 2, ORGS));
    assert_eq!(m.blocks_copied, ORGS - 1);
    let stats = a.freezer_stats();
    assert_eq!(
        (stats.blocks_built, stats.blocks_copied),
        (2 * ORGS + 1, ORGS - 1)
    );
    same(&a, &b, "after the re-freeze");
    let dir = a.path().to_path_buf();
    a.close().unwrap();
    let a = open(&dir);
    same(&a, &b, "after reopening");
    assert!(a.verify().is_ok(), "{:?}", a.verify());
}

/// Q4 of a busy org (its frozen months' blocks carry the `expenses_pending` part) through
/// payments, reversals and late pending expenses recorded after the freeze, at every limit:
/// the twin's answers, before and after a re-freeze and a reopen.
#[test]
fn pending_expenses_through_a_frozen_pending_part_equal_the_twin() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (open(&tmp.path().join("a")), open(&tmp.path().join("b")));
    register(&a);
    register(&b);
    let both = |batch: Batch| {
        let ra = a.record(batch.clone()).map_err(|e| e.to_string());
        let rb = b.record(batch).map_err(|e| e.to_string());
        assert_eq!(ra, rb);
    };
    let mut rng = SplitMix64::new(41);
    let busy = OrgId(1);
    let jan = Month::new(2024, 1).unwrap();
    let mut id = 0u64;
    let mut pending: Vec<EntryId> = Vec::new();
    let expense = |rng: &mut SplitMix64, id: u64, at: i64| {
        let status = match rng.below(3) {
            0 => ExpenseStatus::Paid,
            _ => ExpenseStatus::Pending,
        };
        let amount = Money(1 + rng.below(9_000) as i64);
        let category = [Category::Supplies, Category::Payroll][rng.below(2) as usize];
        Entry::expense(
            busy,
            EntryId(id),
            at,
            amount,
            category,
            PaymentMethod::Cash,
            status,
        )
    };
    // 200 expenses of the busy org in January (some at the same second), a few of the others
    // in January to March.
    let mut batch = Batch::new();
    for _ in 0..200 {
        id += 1;
        let at = jan.start_utc() + rng.below(31 * 24) as i64 * 3_600;
        let e = expense(&mut rng, id, at);
        if e.status == Some(ExpenseStatus::Pending) {
            pending.push(e.id);
        }
        batch = batch.post(e);
    }
    for step in 0..90 {
        id += 1;
        batch = batch.post(posting(&mut rng, id, T0 + step * DAY + 7));
    }
    both(batch);
    let q4 = |db: &Db| {
        [1usize, 5, 40, 99, 100, 150, 10_000]
            .iter()
            .map(|&limit| format!("{:?}", db.pending_expenses(busy, limit).unwrap()))
            .collect::<Vec<_>>()
    };
    assert_eq!(q4(&a), q4(&b));
    let first = a.freeze(None).unwrap();
    assert!(first.frozen.iter().any(|m| m.month == jan), "{first:?}");
    assert_eq!(q4(&a), q4(&b), "after the freeze");
    // Payments of frozen pending rows (patches), reversals, late pending expenses (overlay)
    // between the file's rows and before the first of them.
    for round in 0..3 {
        let mut batch = Batch::new();
        for _ in 0..8 {
            let i = rng.below(pending.len() as u64) as usize;
            let entry = pending.swap_remove(i);
            batch = batch.pay(PayExpense {
                org: busy,
                entry,
                paid_at: T0 + 100 * DAY,
            });
        }
        for _ in 0..6 {
            id += 1;
            let at = jan.start_utc() + rng.below(31 * 24 * 3_600) as i64;
            let e = expense(&mut rng, id, at);
            if e.status == Some(ExpenseStatus::Pending) {
                pending.push(e.id);
            }
            batch = batch.post(e);
        }
        id += 1;
        batch = batch.reverse(Reversal {
            org: busy,
            id: EntryId(id),
            reverses: pending[rng.below(pending.len() as u64) as usize],
            occurred_at: T0 + 100 * DAY + round,
            reference: "void".into(),
        });
        both(batch);
        assert_eq!(q4(&a), q4(&b), "round {round}");
    }
    let again = a.freeze(Some(Month::new(2024, 3).unwrap())).unwrap();
    assert!(again.frozen.iter().any(|m| m.month == jan), "{again:?}");
    assert_eq!(q4(&a), q4(&b), "after the re-freeze");
    let dir = a.path().to_path_buf();
    a.close().unwrap();
    let a = open(&dir);
    assert_eq!(q4(&a), q4(&b), "after reopening");
}

/// The closing of an org with no block in its day's month or the few before it reads the files
/// from that month up to the first that holds the org (whose anchor is the prefix), not every
/// later month's; once a late posting re-froze an earlier month (the later anchors stale), the
/// walk sums the later files instead. Every closing equals the twin's.
#[test]
fn a_sparse_orgs_closing_reads_the_files_up_to_its_next_block() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = twins(tmp.path());
    let mut id = 0u64;
    let mut post = |batch: Batch, org: u64, month: Month, amount: i64| {
        id += 1;
        let at = month.start_utc() + 6 * DAY + 12 * 3_600;
        batch.post(room_revenue(org, id, at, amount))
    };
    // Org 1 posts in every month of 2024-01..=2026-06, org 2 in January and October 2024 and
    // March 2026 only.
    let months: Vec<Month> = (0..30)
        .map(|i| Month::new(2024 + i / 12, 1 + (i % 12) as u32).unwrap())
        .collect();
    let mut batch = Batch::new();
    for (i, m) in months.iter().enumerate() {
        batch = post(batch, 1, *m, 100 + i as i64);
        if [0, 9, 26].contains(&i) {
            batch = post(batch, 2, *m, 1_000 * (i as i64 + 1));
        }
    }
    record_both(&a, &b, batch);
    let report = a.freeze(None).unwrap();
    assert_eq!(report.frozen.len(), 28, "{report:?}");
    let closings = |db: &Db| -> Vec<Money> {
        months
            .iter()
            .flat_map(|m| [0, 14, 27].map(|d| m.start_utc() / DAY + d))
            .map(|d| {
                let day = BusinessDay::from_days(d as i32).unwrap();
                db.snapshot().closing_with_cost(OrgId(2), day).unwrap().0
            })
            .collect()
    };
    assert_eq!(closings(&a), closings(&b));
    // June 2024: no block of org 2 in June, May or April; October's anchor is the prefix.
    let june = BusinessDay::from_ymd(2024, 6, 15).unwrap();
    let (closing, cost) = a.snapshot().closing_with_cost(OrgId(2), june).unwrap();
    assert_eq!(closing, b.balance(OrgId(2), june).unwrap().closing);
    // Three files back, June to October forward, and June's own block look-up.
    assert_eq!(cost.frozen_blocks, 3 + 5 + 1, "{cost:?}");
    // A late posting of org 2 into March 2024, folded into a new version of March: the anchors
    // of org 2 from April 2024 on are stale.
    record_both(&a, &b, post(Batch::new(), 2, months[2], 777));
    let again = a.freeze(None).unwrap();
    assert!(
        again
            .frozen
            .iter()
            .any(|m| m.month == months[2] && m.version == 2),
        "{again:?}"
    );
    assert_eq!(closings(&a), closings(&b));
    let january = BusinessDay::from_ymd(2026, 1, 15).unwrap();
    assert_eq!(
        a.snapshot().closing_with_cost(OrgId(2), january).unwrap().0,
        b.balance(OrgId(2), january).unwrap().closing
    );
}
