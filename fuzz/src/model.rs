//! `model`: the input is a script of steps run against a real database (small log segments, in a
//! scratch directory) and against the reference model of what the database must hold (the main
//! crate's `tests/reference/`, included here as [`super::reference`]).
//!
//! * Every batch is also recorded by the model, which decides by the documented rules whether it
//!   is valid (`src/state/validate.rs`: known org, entry id not 0, timestamp in range, positive
//!   amount, category of the ledger, status, duplicates, reversals, payments, and the rule that
//!   no running balance may leave i64). The database must accept exactly the valid batches, with
//!   the next LSN (or the current one when every operation repeats an earlier one), and reject
//!   the others with one of the rejections the model expects, changing nothing.
//! * After every batch the touched orgs are compared with the model: every ledger entry (as
//!   `LedgerEntry`), the day balance of every day with activity, of the day before the first
//!   and of the last business day, the monthly report of every month with entries, the ledger
//!   page of the newest entries and the pending expenses.
//! * "Close" closes and reopens: same LSN, same contents. "Crash" drops the handle without
//!   `close`, optionally puts back a copy of the store saved at an earlier checkpoint or removes
//!   the store, then cuts the last log segment at an input-chosen offset. Reopening must succeed
//!   and show the model exactly as it was at the visible LSN (the model is kept per LSN), and
//!   `verify` must report no problem.
//!
//! Input layout: one configuration byte (bit 0: `Durability::Buffered`; bits 1-2: shard count
//! 1, 2, 16 or 64), then up to [`MAX_STEPS`] steps, each a tag byte ([`tag`], modulo
//! [`STEP_KINDS`]) and its fields (see [`Input`] and the `decode_*` functions). Missing bytes
//! read as zeros. With `FOLIO_FUZZ_TRACE` set, the steps and their outcomes are printed.

use super::reference::reports::utc_month;
use super::reference::{self, Model};
use super::scratch;
use folio::limits::{MAX_ORG_NAME_BYTES, MAX_REFERENCE_BYTES, MAX_REPORT_ROWS};
use folio::{
    Batch, BusinessDay, Category, Currency, Db, Durability, Entry, EntryId, Error, ExpenseStatus,
    Kind, Money, Month, Op, Options, Org, OrgId, PayExpense, PaymentMethod, Reversal,
};
use folio::{MAX_TIMESTAMP, MIN_TIMESTAMP};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Most steps one input runs.
pub const MAX_STEPS: usize = 64;
/// Org ids are `1..=ORGS`.
pub const ORGS: u64 = 4;
/// Log segment size: small, so that scripts rotate segments.
pub const SEGMENT_BYTES: u64 = 4096;

/// Step tags: the first byte of a step, modulo [`STEP_KINDS`].
pub mod tag {
    /// org, name, currency, time zone, opening balance (amount), created_at (timestamp)
    pub const REGISTER: u8 = 0;
    /// org, entry id, timestamp, amount, category, payment method, status, reference
    pub const REVENUE: u8 = 1;
    /// org, entry id, timestamp, amount, category, payment method, status, reference
    pub const EXPENSE: u8 = 2;
    /// org, entry id, reversed entry id, timestamp, reference
    pub const REVERSE: u8 = 3;
    /// org, entry id, paid_at (timestamp)
    pub const PAY: u8 = 4;
    /// count (modulo 5), then that many operations: a kind byte (modulo 5: one of the five tags
    /// above) and its fields
    pub const BATCH: u8 = 5;
    /// `close`, then open again
    pub const CLOSE: u8 = 6;
    /// flags (bit 0: put back the saved store, bit 1: remove the store), cut (u16 LE: the last
    /// segment keeps `len * cut / 65535` bytes)
    pub const CRASH: u8 = 7;
    /// flags (bit 0: save a copy of the store after the checkpoint)
    pub const CHECKPOINT: u8 = 8;
    /// records the previous batch again
    pub const REPEAT: u8 = 9;
}

pub const STEP_KINDS: u8 = 10;

/// 2024-01-01T00:00:00Z and 2024-02-01T00:00:00Z.
pub const JAN_2024: i64 = 1_704_067_200;
pub const FEB_2024: i64 = 1_706_745_600;

pub const TIME_ZONES: [&str; 5] = [
    "UTC",
    "Europe/Paris",
    "America/New_York",
    "Pacific/Kiritimati",
    "Mars/Olympus_Mons",
];

/// The script bytes; every accessor reads zeros past the end.
pub struct Input<'a> {
    data: &'a [u8],
    at: usize,
}

impl<'a> Input<'a> {
    pub fn new(data: &'a [u8]) -> Input<'a> {
        Input { data, at: 0 }
    }

    pub fn more(&self) -> bool {
        self.at < self.data.len()
    }

    pub fn byte(&mut self) -> u8 {
        let b = self.data.get(self.at).copied().unwrap_or(0);
        self.at += 1;
        b
    }

    pub fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.byte(), self.byte()])
    }

    pub fn u64(&mut self) -> u64 {
        let mut raw = [0u8; 8];
        for b in &mut raw {
            *b = self.byte();
        }
        u64::from_le_bytes(raw)
    }

    /// `1..=ORGS`.
    pub fn org(&mut self) -> OrgId {
        OrgId(u64::from(self.byte()) % ORGS + 1)
    }

    /// 0 (invalid), 1..=17, `u64::MAX` or `u64::MAX - 1`.
    pub fn entry_id(&mut self) -> EntryId {
        EntryId(match self.byte() % 20 {
            18 => u64::MAX,
            19 => u64::MAX - 1,
            n => u64::from(n),
        })
    }

    /// Small, large, near the i64 limits, zero, negative or arbitrary.
    pub fn amount(&mut self) -> i64 {
        match self.byte() % 10 {
            0 => 1 + i64::from(self.byte()),
            1 => 100 * i64::from(self.u16()),
            2 => i64::MAX,
            3 => i64::MAX - i64::from(self.byte()),
            4 => i64::MAX / 2 + i64::from(self.byte()),
            5 => 0,
            6 => -1 - i64::from(self.byte()),
            7 => i64::MIN,
            8 => i64::MIN + i64::from(self.byte()),
            _ => self.u64() as i64,
        }
    }

    /// Around 2024 (crossing month boundaries), at and past the supported limits, or arbitrary.
    pub fn timestamp(&mut self) -> i64 {
        match self.byte() % 8 {
            0 => JAN_2024 + 61 * i64::from(self.u16()),
            1 => JAN_2024 + 3_600 * i64::from(self.u16()),
            2 => FEB_2024 - 1 + i64::from(self.byte() % 3),
            3 => MIN_TIMESTAMP + i64::from(self.byte()),
            4 => MAX_TIMESTAMP - i64::from(self.byte()),
            5 => MIN_TIMESTAMP - 1 - i64::from(self.byte()),
            6 => MAX_TIMESTAMP + 1 + i64::from(self.byte()),
            _ => self.u64() as i64,
        }
    }

    pub fn reference(&mut self) -> String {
        match self.byte() % 5 {
            0 => String::new(),
            1 => "INV-1".into(),
            2 => "réf ✓".into(),
            3 => "x".repeat(MAX_REFERENCE_BYTES),
            _ => "x".repeat(MAX_REFERENCE_BYTES + 1),
        }
    }

    pub fn category(&mut self) -> Category {
        Category::ALL[usize::from(self.byte()) % Category::ALL.len()]
    }

    pub fn payment_method(&mut self) -> PaymentMethod {
        PaymentMethod::ALL[usize::from(self.byte()) % PaymentMethod::ALL.len()]
    }
}

/// One step of a script.
#[derive(Clone, Debug)]
pub enum Step {
    Record(Batch),
    Close,
    Crash {
        restore_saved: bool,
        drop_store: bool,
        cut: u16,
    },
    Checkpoint {
        save: bool,
    },
    Repeat,
}

pub fn decode_org(input: &mut Input<'_>) -> Org {
    let id = input.org();
    let name = match input.byte() % 4 {
        0 => "Seaside Inn".to_string(),
        1 => "Hôtel du Lac".to_string(),
        2 => String::new(),
        _ => "n".repeat(MAX_ORG_NAME_BYTES + 1),
    };
    let currency = if input.byte() & 1 == 0 {
        Currency::EUR
    } else {
        Currency::USD
    };
    let tz = TIME_ZONES[usize::from(input.byte()) % TIME_ZONES.len()];
    let opening = input.amount();
    let created_at = input.timestamp();
    Org::new(id, name, currency)
        .with_time_zone(tz)
        .with_opening_balance(Money(opening))
        .with_created_at(created_at)
}

pub fn decode_entry(input: &mut Input<'_>, kind: Kind) -> Entry {
    let org = input.org();
    let id = input.entry_id();
    let occurred_at = input.timestamp();
    let amount = Money(input.amount());
    let category = input.category();
    let payment_method = input.payment_method();
    let status_byte = input.byte();
    let reference = input.reference();
    let mut entry = match kind {
        Kind::Revenue => Entry::revenue(org, id, occurred_at, amount, category, payment_method),
        Kind::Expense => {
            let status = if status_byte & 1 == 0 {
                ExpenseStatus::Pending
            } else {
                ExpenseStatus::Paid
            };
            Entry::expense(
                org,
                id,
                occurred_at,
                amount,
                category,
                payment_method,
                status,
            )
        }
    };
    if status_byte % 8 == 7 {
        // The wrong shape: a revenue with a status, an expense without one.
        entry.status = match kind {
            Kind::Revenue => Some(ExpenseStatus::Pending),
            Kind::Expense => None,
        };
    }
    entry.with_reference(reference)
}

pub fn decode_op(input: &mut Input<'_>, kind: u8) -> Op {
    match kind % 5 {
        tag::REGISTER => Op::RegisterOrg(decode_org(input)),
        tag::REVENUE => Op::Post(decode_entry(input, Kind::Revenue)),
        tag::EXPENSE => Op::Post(decode_entry(input, Kind::Expense)),
        tag::REVERSE => Op::Reverse(Reversal {
            org: input.org(),
            id: input.entry_id(),
            reverses: input.entry_id(),
            occurred_at: input.timestamp(),
            reference: input.reference(),
        }),
        _ => Op::Pay(PayExpense {
            org: input.org(),
            entry: input.entry_id(),
            paid_at: input.timestamp(),
        }),
    }
}

pub fn decode_step(input: &mut Input<'_>) -> Step {
    match input.byte() % STEP_KINDS {
        t @ 0..=4 => Step::Record(Batch::from(vec![decode_op(input, t)])),
        tag::BATCH => {
            let count = input.byte() % 5;
            let ops = (0..count)
                .map(|_| {
                    let kind = input.byte();
                    decode_op(input, kind)
                })
                .collect::<Vec<_>>();
            Step::Record(Batch::from(ops))
        }
        tag::CLOSE => Step::Close,
        tag::CRASH => {
            let flags = input.byte();
            Step::Crash {
                restore_saved: flags & 1 != 0,
                drop_store: flags & 2 != 0,
                cut: input.u16(),
            }
        }
        tag::CHECKPOINT => Step::Checkpoint {
            save: input.byte() & 1 != 0,
        },
        _ => Step::Repeat,
    }
}

// ------------------------------------------------------------------------------------ runner

struct Harness {
    dir: PathBuf,
    saved_store: PathBuf,
    options: Options,
    db: Option<Db>,
    /// What the database must hold, up to the last acknowledged batch (its LSN).
    model: Model,
    /// The model as it was at every LSN up to the model's.
    history: BTreeMap<u64, Model>,
    /// LSN of the store copy in `saved_store`, if there is one.
    saved_lsn: Option<u64>,
    last_batch: Batch,
    /// A description of the steps so far (for failure messages).
    trace: Vec<String>,
}

impl Harness {
    fn db(&self) -> &Db {
        self.db
            .as_ref()
            .expect("the database is open between steps")
    }

    /// LSN of the last acknowledged batch.
    fn lsn(&self) -> u64 {
        self.model.lsn()
    }

    fn fail(&self, what: String) -> ! {
        panic!("{what}\nsteps so far:\n  {}", self.trace.join("\n  "))
    }

    fn record(&mut self, batch: Batch) {
        self.trace.push(format!("record {batch:?}"));
        // The model records the batch whole or not at all, as the database must.
        let before = self.lsn();
        let predicted = self.model.record(&batch.ops);
        let result = self.db().record(batch.clone());
        match (result, predicted) {
            (Ok(lsn), Ok(_)) => {
                if lsn.0 != self.lsn() {
                    self.fail(format!("batch got LSN {lsn}, expected {}", self.lsn()));
                }
                self.trace.push(format!("  accepted: LSN {lsn}"));
                self.history.insert(self.lsn(), self.model.clone());
            }
            (Err(Error::Rejected(why)), Err(allowed)) => {
                self.trace.push(format!("  rejected: {why}"));
                if !allowed.contains(&reference::normalize(&why)) {
                    self.fail(format!(
                        "rejected with {why:?}, the model expects one of {allowed:?}"
                    ));
                }
                let visible = self.db().visible_lsn().0;
                if visible != before {
                    self.fail(format!(
                        "a rejected batch moved the LSN from {before} to {visible}"
                    ));
                }
            }
            (Ok(lsn), Err(allowed)) => self.fail(format!(
                "accepted (LSN {lsn}) a batch the model rejects with one of {allowed:?}"
            )),
            (Err(e), Ok(_)) => self.fail(format!("refused a valid batch: {e}")),
            (Err(e), Err(allowed)) => self.fail(format!(
                "failed with {e:?} where a rejection in {allowed:?} was due"
            )),
        }
        let touched: BTreeSet<u64> = batch
            .ops
            .iter()
            .map(|op| match op {
                Op::RegisterOrg(o) => o.id.0,
                Op::Post(e) => e.org.0,
                Op::Reverse(r) => r.org.0,
                Op::Pay(p) => p.org.0,
            })
            .collect();
        for org in touched {
            self.check_org(org);
        }
        self.last_batch = batch;
    }

    /// Ledger and balances of one org against the model.
    fn check_org(&self, org: u64) {
        let db = self.db();
        let listed = db.entries(OrgId(org), MIN_TIMESTAMP, MAX_TIMESTAMP + 1);
        if self.model.org(org).is_none() {
            if !matches!(listed, Err(Error::UnknownOrg(_))) {
                self.fail(format!(
                    "org {org} is not registered, entries gave {listed:?}"
                ));
            }
            return;
        }
        match listed {
            Ok(listed) => {
                let expected = self.model.listing(org, MIN_TIMESTAMP, MAX_TIMESTAMP + 1);
                if listed != expected {
                    self.fail(format!(
                        "org {org} at LSN {}: ledger differs\n  db:    {listed:?}\n  model: {expected:?}",
                        self.lsn()
                    ));
                }
            }
            Err(e) => self.fail(format!("org {org}: entries failed: {e}")),
        }
        // Every day with activity, the day before the first and the last business day.
        let mut days = self.model.touched_days(org);
        if let Some(&first) = days.first() {
            days.insert(first - 1);
        }
        days.insert(BusinessDay::MAX.days());
        for day in days {
            let got = BusinessDay::from_days(day)
                .ok()
                .and_then(|d| db.balance(OrgId(org), d).ok());
            let expected = self.model.balance(org, day);
            if got != expected {
                self.fail(format!(
                    "org {org} day {day} at LSN {}: balance differs\n  db:    {got:?}\n  model: {expected:?}",
                    self.lsn()
                ));
            }
        }
        self.check_reports(org);
    }

    /// The reports of one (registered) org against the model: the monthly report of every month
    /// with entries, the ledger page of its three newest entries, every pending expense.
    fn check_reports(&self, org: u64) {
        let view = self.db().snapshot();
        let months: BTreeSet<i32> = self
            .model
            .org_entries(org)
            .map(|(_, x)| utc_month(x.occurred_at))
            .collect();
        for index in months {
            let got = Month::from_index(index)
                .map_err(|e| e.to_string())
                .and_then(|m| {
                    view.monthly_report(OrgId(org), m)
                        .map_err(|e| e.to_string())
                });
            let expected = self.model.monthly_report(org, index);
            if got != expected {
                self.fail(format!(
                    "org {org} month {index} at LSN {}: monthly report differs\n  db:    {got:?}\n  model: {expected:?}",
                    self.lsn()
                ));
            }
        }
        let page = view.ledger_page(OrgId(org), MIN_TIMESTAMP, MAX_TIMESTAMP + 1, 3);
        let expected = self
            .model
            .ledger_page(org, MIN_TIMESTAMP, MAX_TIMESTAMP + 1, 3);
        if page.as_ref().ok() != Some(&expected) {
            self.fail(format!(
                "org {org} at LSN {}: ledger page differs\n  db:    {page:?}\n  model: {expected:?}",
                self.lsn()
            ));
        }
        let pending = view.pending_expenses(OrgId(org), MAX_REPORT_ROWS);
        let expected = self.model.pending_expenses(org, MAX_REPORT_ROWS);
        if pending.as_ref().ok() != Some(&expected) {
            self.fail(format!(
                "org {org} at LSN {}: pending expenses differ\n  db:    {pending:?}\n  model: {expected:?}",
                self.lsn()
            ));
        }
    }

    /// Everything against the model, then `verify`.
    fn check_all(&self) {
        let db = self.db();
        if db.visible_lsn().0 != self.lsn() {
            self.fail(format!(
                "visible LSN {} where {} was expected",
                db.visible_lsn(),
                self.lsn()
            ));
        }
        let orgs: Vec<Org> = self.model.orgs();
        let listed = db.snapshot().orgs();
        if listed.as_ref().ok() != Some(&orgs) {
            self.fail(format!(
                "orgs differ\n  db:    {listed:?}\n  model: {orgs:?}"
            ));
        }
        for org in 1..=ORGS {
            self.check_org(org);
        }
        let report = db.verify();
        if !report.is_ok() {
            self.fail(format!("verify: {:?}", report.problems));
        }
    }

    fn open(&mut self) {
        match Db::open_with(&self.dir, self.options.clone()) {
            Ok(db) => self.db = Some(db),
            Err(e) => self.fail(format!("reopening failed: {e}")),
        }
    }

    /// Opens after the log was cut. Dropping the handle checkpointed, so every acknowledged
    /// batch is known durable: a cut that reaches one must be refused, with no file changed,
    /// and is then accepted as a loss (`accept_loss`); an open that succeeds has them all.
    fn open_after_damage(&mut self) {
        let files = |dir: &Path| {
            let mut tree = scratch::read_tree(dir).unwrap_or_default();
            tree.retain(|(p, _)| p.file_name().is_none_or(|n| n != "LOCK"));
            tree
        };
        let before = files(&self.dir);
        match Db::open_with(&self.dir, self.options.clone()) {
            Ok(db) => {
                let visible = db.visible_lsn().0;
                self.db = Some(db);
                if visible != self.lsn() {
                    self.fail(format!(
                        "opened at LSN {visible}: acknowledged batches up to {} lost silently",
                        self.lsn()
                    ));
                }
            }
            Err(e @ folio::Error::Corruption { .. }) => {
                if files(&self.dir) != before {
                    self.fail(format!("the refused open ({e}) changed files"));
                }
                let side = self.dir.with_extension("lost");
                let _ = std::fs::remove_dir_all(&side);
                match folio::accept_loss(&self.dir, &side) {
                    Ok(report) => self.trace.push(format!("refused ({e}); {report}")),
                    Err(e) => self.fail(format!("accept_loss failed: {e}")),
                }
                self.open();
            }
            Err(e) => self.fail(format!("reopening failed: {e}")),
        }
    }

    fn close(&mut self) {
        self.trace.push("close and reopen".into());
        if let Some(db) = self.db.take() {
            if let Err(e) = db.close() {
                self.fail(format!("close failed: {e}"));
            }
        }
        self.open();
        self.check_all();
    }

    fn checkpoint(&mut self, save: bool) {
        self.trace.push(format!("checkpoint (save store: {save})"));
        match self.db().checkpoint() {
            Ok(stats) if stats.lsn.0 == self.lsn() => {}
            Ok(stats) => self.fail(format!(
                "checkpoint covers LSN {}, expected {}",
                stats.lsn,
                self.lsn()
            )),
            Err(e) => self.fail(format!("checkpoint failed: {e}")),
        }
        if save {
            let _ = std::fs::remove_dir_all(&self.saved_store);
            self.saved_lsn = scratch::copy_tree(&self.dir.join("state"), &self.saved_store)
                .ok()
                .map(|_| self.lsn());
        }
    }

    fn crash(&mut self, restore_saved: bool, drop_store: bool, cut: u16) {
        // Dropping the handle stops the committer; nothing is closed explicitly.
        drop(self.db.take());
        let store = self.dir.join("state");
        let mut what = String::new();
        if restore_saved && self.saved_lsn.is_some() {
            let _ = std::fs::remove_dir_all(&store);
            if scratch::copy_tree(&self.saved_store, &store).is_err() {
                self.fail("cannot put the saved store back".into());
            }
            what = format!(", store of LSN {:?} put back", self.saved_lsn);
        } else if drop_store {
            let _ = std::fs::remove_dir_all(&store);
            what = ", store removed".into();
        }
        let (segment, len) = last_segment(&self.dir.join("wal"));
        let keep = len * u64::from(cut) / u64::from(u16::MAX);
        if let Some(segment) = &segment {
            let cut_ok = std::fs::OpenOptions::new()
                .write(true)
                .open(segment)
                .and_then(|f| f.set_len(keep));
            if cut_ok.is_err() {
                self.fail(format!("cannot cut {}", segment.display()));
            }
        }
        self.trace.push(format!(
            "crash at LSN {}{what}, last segment {:?} cut from {len} to {keep} bytes",
            self.lsn(),
            segment.as_ref().and_then(|s| s.file_name())
        ));
        self.open_after_damage();
        let visible = self.db().visible_lsn().0;
        let Some(model) = self.history.get(&visible).cloned() else {
            self.fail(format!(
                "after the crash the visible LSN is {visible}, past the last acknowledged {}",
                self.lsn()
            ))
        };
        self.model = model;
        self.history.split_off(&(visible + 1));
        if self.saved_lsn.is_some_and(|saved| saved > visible) {
            // That store holds batches the log no longer has: it belongs to another history.
            self.saved_lsn = None;
        }
        self.trace.push(format!(
            "reopened at LSN {visible}, {:?}",
            self.db().recovery()
        ));
        self.check_all();
    }

    fn step(&mut self, step: Step) {
        match step {
            Step::Record(batch) => self.record(batch),
            Step::Repeat => {
                let batch = self.last_batch.clone();
                self.record(batch);
            }
            Step::Close => self.close(),
            Step::Checkpoint { save } => self.checkpoint(save),
            Step::Crash {
                restore_saved,
                drop_store,
                cut,
            } => self.crash(restore_saved, drop_store, cut),
        }
    }
}

/// The log segment with the highest first LSN, and its length.
fn last_segment(wal: &Path) -> (Option<PathBuf>, u64) {
    let Ok(entries) = std::fs::read_dir(wal) else {
        return (None, 0);
    };
    let last = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_suffix(".log"))
                .is_some_and(|d| d.len() == 20 && d.bytes().all(|b| b.is_ascii_digit()))
        })
        .max();
    match last {
        Some(path) => {
            let len = std::fs::metadata(&path).map_or(0, |m| m.len());
            (Some(path), len)
        }
        None => (None, 0),
    }
}

pub fn model(data: &[u8]) {
    let mut input = Input::new(data);
    let config = input.byte();
    let options = Options::default()
        .shards([1, 2, 16, 64][usize::from((config >> 1) & 3)])
        .durability(if config & 1 == 0 {
            Durability::Sync
        } else {
            Durability::Buffered
        })
        .segment_target_bytes(SEGMENT_BYTES);
    let Some(tmp) = scratch::tempdir() else {
        return;
    };
    let mut harness = Harness {
        dir: tmp.path().join("db"),
        saved_store: tmp.path().join("saved-state"),
        options,
        db: None,
        model: Model::default(),
        history: BTreeMap::from([(0, Model::default())]),
        saved_lsn: None,
        last_batch: Batch::new(),
        trace: vec![format!("open with {:?}", config)],
    };
    harness.open();
    for _ in 0..MAX_STEPS {
        if !input.more() {
            break;
        }
        let step = decode_step(&mut input);
        harness.step(step);
    }
    harness.check_all();
    if scratch::tracing() {
        eprintln!("{}", harness.trace.join("\n"));
    }
    if let Some(db) = harness.db.take() {
        if let Err(e) = db.close() {
            harness.fail(format!("final close failed: {e}"));
        }
    }
}
