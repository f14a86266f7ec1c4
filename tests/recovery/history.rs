//! The recorded history every case starts from (one org, batches of every shape), what a reader
//! sees of it, and pristine closed databases with a copy of the store one checkpoint behind.

use crate::files::copy_dir;
use folio::{
    Batch, BusinessDay, Category, Currency, DayBalance, Db, Entry, EntryId, ExpenseStatus, Kind,
    LedgerEntry, Lsn, Money, Org, OrgId, PayExpense, PaymentMethod, Reversal,
};
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

pub const ORG: OrgId = OrgId(7);

/// 2024-03-01T00:00:00Z.
pub const BASE_TS: i64 = 1_709_251_200;

pub const HOUR: i64 = 3_600;

pub const DAY: i64 = 86_400;

pub fn org() -> Org {
    Org::new(ORG, "Harbour Hotel", Currency::EUR)
        .with_time_zone("America/New_York")
        .with_opening_balance(Money(50_000))
}

/// The batch recorded at LSN `lsn` (>= 2; LSN 1 registers the org): a revenue, a pending expense,
/// every other batch a revenue back-dated 40 days, every third a reversal of the previous batch's
/// revenue, every fourth the payment of the previous batch's expense.
pub fn batch_for(lsn: u64) -> Batch {
    let ts = BASE_TS + lsn as i64 * 6 * HOUR;
    let mut b = Batch::new()
        .post(
            Entry::revenue(
                ORG,
                EntryId(10 * lsn + 1),
                ts,
                Money(1_000 + lsn as i64),
                Category::Rooms,
                PaymentMethod::Card,
            )
            .with_reference(format!("room folio {lsn}")),
        )
        .post(Entry::expense(
            ORG,
            EntryId(10 * lsn + 2),
            ts + 60,
            Money(300 + lsn as i64),
            Category::Supplies,
            PaymentMethod::BankTransfer,
            ExpenseStatus::Pending,
        ));
    if lsn.is_multiple_of(2) {
        b = b.post(Entry::revenue(
            ORG,
            EntryId(10 * lsn + 3),
            ts - 40 * DAY,
            Money(77),
            Category::FoodBeverage,
            PaymentMethod::Cash,
        ));
    }
    if lsn.is_multiple_of(3) && lsn > 2 {
        b = b.reverse(Reversal {
            org: ORG,
            id: EntryId(10 * lsn + 5),
            reverses: EntryId(10 * (lsn - 1) + 1),
            occurred_at: ts + 120,
            reference: "guest complaint".into(),
        });
    }
    if lsn.is_multiple_of(4) && lsn > 2 {
        b = b.pay(PayExpense {
            org: ORG,
            entry: EntryId(10 * (lsn - 1) + 2),
            paid_at: ts + 180,
        });
    }
    b
}

/// A small batch with ids no `batch_for` uses.
pub fn extra_batch(tag: u64) -> Batch {
    Batch::new().post(Entry::revenue(
        ORG,
        EntryId(1_000_000 + tag),
        BASE_TS + 5 * DAY + tag as i64,
        Money(4_242),
        Category::Spa,
        PaymentMethod::Cash,
    ))
}

/// Records LSNs `from..=to` (LSN 1 is the org registration).
pub fn record_range(db: &Db, from: u64, to: u64) {
    for lsn in from..=to {
        let got = if lsn == 1 {
            db.register_org(org())
        } else {
            db.record(batch_for(lsn))
        }
        .unwrap_or_else(|e| panic!("record LSN {lsn}: {e}"));
        assert_eq!(got, Lsn(lsn));
    }
}

/// Everything a reader can see: LSN, every entry, every balance row of the active period.
#[derive(Debug, PartialEq, Eq)]
pub struct Snapshot {
    pub lsn: Lsn,
    pub entries: Vec<LedgerEntry>,
    pub balances: Vec<DayBalance>,
}

pub fn snapshot(db: &Db) -> Snapshot {
    let view = db.snapshot();
    let first = BusinessDay::parse("2023-12-01").expect("day");
    let last = BusinessDay::parse("2025-12-31").expect("day");
    Snapshot {
        lsn: view.lsn(),
        entries: view
            .entries(ORG, BASE_TS - 400 * DAY, BASE_TS + 800 * DAY)
            .expect("entries"),
        balances: view.balances(ORG, first, last).expect("balances"),
    }
}

/// Guarantee 4: every day's balance row is the sum of that day's entries, and closing is the
/// opening balance plus prefix sums.
pub fn assert_balances_match_entries(db: &Db) {
    let snap = snapshot(db);
    let mut days: BTreeMap<BusinessDay, (i64, i64, u64, u64)> = BTreeMap::new();
    for e in &snap.entries {
        let d = days.entry(e.day).or_default();
        match e.kind {
            Kind::Revenue => {
                d.0 += e.signed_amount().expect("amount").0;
                d.2 += 1;
            }
            Kind::Expense => {
                d.1 -= e.signed_amount().expect("amount").0;
                d.3 += 1;
            }
        }
    }
    let mut closing = org().opening_balance.0;
    // Days before the listed range hold nothing (entries start 2024-01).
    for row in &snap.balances {
        let (rev, exp, rc, ec) = days.get(&row.day).copied().unwrap_or_default();
        assert_eq!(row.opening, Money(closing), "opening of {}", row.day);
        closing += rev - exp;
        assert_eq!(
            (
                row.revenue,
                row.expense,
                row.revenue_count,
                row.expense_count
            ),
            (Money(rev), Money(exp), rc, ec),
            "sums of {}",
            row.day
        );
        assert_eq!(row.closing, Money(closing), "closing of {}", row.day);
    }
}

/// A pristine database of LSNs `1..=n`, closed. Returns the snapshot at `n - 1` and at `n`, and
/// keeps a copy of the store as it was with checkpoint `n - 1` under `<root>/state_prev`.
pub struct Pristine {
    pub _tmp: tempfile::TempDir,
    pub dir: PathBuf,
    pub state_prev: PathBuf,
    pub before_last: Snapshot,
    pub last: Snapshot,
}

pub fn pristine(n: u64, last_batch: Option<Batch>) -> Pristine {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("db");
    let db = Db::open(&dir).expect("create");
    record_range(&db, 1, n - 1);
    let before_last = snapshot(&db);
    db.close().expect("close");
    let state_prev = tmp.path().join("state_prev");
    copy_dir(&dir.join("state"), &state_prev);
    fs::copy(dir.join("DURABLE"), tmp.path().join("DURABLE_prev")).expect("durable mark");
    let db = Db::open(&dir).expect("reopen");
    let batch = last_batch.unwrap_or_else(|| batch_for(n));
    assert_eq!(db.record(batch).expect("last batch"), Lsn(n));
    let last = snapshot(&db);
    db.close().expect("close");
    Pristine {
        _tmp: tmp,
        dir,
        state_prev,
        before_last,
        last,
    }
}

/// Which store a damaged copy gets.
#[derive(Clone, Copy, Debug)]
pub enum StoreAs {
    /// As closed: its checkpoint covers the whole log (so it may be ahead of a cut log).
    Closed,
    /// The store with checkpoint `n - 1`: the last frame must be replayed from the log.
    Behind,
}

pub fn fresh_copy(p: &Pristine, store: StoreAs, case_dir: &Path) -> PathBuf {
    let _ = fs::remove_dir_all(case_dir);
    copy_dir(&p.dir, case_dir);
    if let StoreAs::Behind = store {
        fs::remove_dir_all(case_dir.join("state")).expect("rm state");
        copy_dir(&p.state_prev, &case_dir.join("state"));
        let mark = p.state_prev.with_file_name("DURABLE_prev");
        fs::copy(mark, case_dir.join("DURABLE")).expect("durable mark");
    }
    case_dir.to_path_buf()
}
