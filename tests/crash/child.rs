//! The writer: opens the database, registers the orgs when they are missing, then records
//! random valid batches forever, printing what it tries and what was acknowledged.

use crate::protocol::{mix, orgs, signed, Posting, Rng, TOp, BASE_TS, DAY, ORGS};
use crate::{BACKDATE_VAR, ROUND_VAR, SEED_VAR, SEGMENT_BYTES};
use folio::{Batch, Category, Db, ExpenseStatus, Kind, Options, PaymentMethod};
use std::collections::HashMap;
use std::io::Write;

/// Generates valid batches. Entry ids are `(round + 1) << 32 | counter`: unique across rounds
/// without any persisted counter, and never 0.
struct Generator {
    rng: Rng,
    round: u64,
    counter: u64,
    /// Posted in this run, not reversed, not reversals: (org, id) -> (kind, amount).
    reversible: Vec<(u64, u64)>,
    /// Pending expenses of this run, not paid, not reversed.
    payable: Vec<(u64, u64)>,
    facts: HashMap<(u64, u64), (Kind, i64)>,
    /// Longest back-dating, in seconds.
    max_back: i64,
}

impl Generator {
    fn new(seed: u64, round: u64, backdate_days: i64) -> Generator {
        Generator {
            max_back: backdate_days.max(1) * DAY,
            rng: Rng::new(mix(seed, round)),
            round,
            counter: 0,
            reversible: Vec::new(),
            payable: Vec::new(),
            facts: HashMap::new(),
        }
    }

    fn next_id(&mut self) -> u64 {
        self.counter += 1;
        ((self.round + 1) << 32) | self.counter
    }

    /// The child's clock: moves 5 hours per round and 37 s per entry.
    fn now(&self) -> i64 {
        BASE_TS + self.round as i64 * 5 * 3600 + self.counter as i64 * 37
    }

    fn timestamp(&mut self) -> i64 {
        let now = self.now();
        let back = self.max_back;
        match self.rng.below(100) {
            // Today-ish.
            0..=69 => now - self.rng.range(0, back.min(2 * DAY)),
            // Back-dated: night audits and corrections, up to 400 days late.
            70..=89 => now - self.rng.range(back.min(2 * DAY), back),
            // On a half-hour boundary (local midnight in every test zone), or one second before.
            _ => {
                let at = (now - self.rng.range(0, back.min(30 * DAY))) / 1800 * 1800;
                at - self.rng.range(0, 1).min(at - (now - back))
            }
        }
    }

    fn take(&mut self, from_payable: bool) -> Option<(u64, u64)> {
        let list = if from_payable {
            &mut self.payable
        } else {
            &mut self.reversible
        };
        if list.is_empty() {
            return None;
        }
        let at = self.rng.below(list.len() as u64) as usize;
        Some(list.swap_remove(at))
    }

    fn post(&mut self) -> TOp {
        let org = ORGS[self.rng.below(ORGS.len() as u64) as usize].0;
        let id = self.next_id();
        let ts = self.timestamp();
        let revenue = self.rng.chance(60);
        let amount = match self.rng.below(10) {
            0 => self.rng.range(1, 99),
            1 => self.rng.range(1_000_000, 50_000_000),
            _ => self.rng.range(100, 500_000),
        };
        let (kind, cats, status) = if revenue {
            (
                Kind::Revenue,
                &[
                    Category::Rooms,
                    Category::FoodBeverage,
                    Category::Spa,
                    Category::Events,
                    Category::Other,
                ][..],
                None,
            )
        } else {
            let status = if self.rng.chance(70) {
                ExpenseStatus::Pending
            } else {
                ExpenseStatus::Paid
            };
            (
                Kind::Expense,
                &[
                    Category::Payroll,
                    Category::Supplies,
                    Category::Utilities,
                    Category::Maintenance,
                    Category::Marketing,
                    Category::Other,
                ][..],
                Some(status),
            )
        };
        let category = cats[self.rng.below(cats.len() as u64) as usize];
        let method = PaymentMethod::ALL[self.rng.below(3) as usize];
        self.facts.insert((org, id), (kind, amount));
        self.reversible.push((org, id));
        if status == Some(ExpenseStatus::Pending) {
            self.payable.push((org, id));
        }
        TOp::Post(Posting {
            org,
            id,
            kind,
            ts,
            amount,
            category,
            method,
            status,
        })
    }

    /// A batch of 1–50 posts plus some reversals and expense payments of this run's entries
    /// (possibly of entries posted earlier in the same batch), and its signed sum.
    fn batch(&mut self) -> (Vec<TOp>, i64) {
        let posts = self.rng.range(1, 50) as usize;
        let extras = self.rng.below(posts as u64 / 3 + 2) as usize;
        let mut ops = Vec::with_capacity(posts + extras);
        let mut sum = 0i64;
        let (mut posted, mut extra) = (0, 0);
        while posted < posts || extra < extras {
            let want_post = extra == extras || (posted < posts && self.rng.chance(75));
            if want_post {
                let op = self.post();
                if let TOp::Post(Posting { kind, amount, .. }) = op {
                    sum += signed(kind, amount);
                }
                ops.push(op);
                posted += 1;
                continue;
            }
            extra += 1;
            if self.rng.chance(50) {
                if let Some((org, target)) = self.take(false) {
                    let (kind, amount) = self.facts[&(org, target)];
                    self.payable.retain(|&p| p != (org, target));
                    let id = self.next_id();
                    let ts = self.now() - self.rng.range(0, DAY);
                    sum -= signed(kind, amount);
                    ops.push(TOp::Reverse {
                        org,
                        id,
                        reverses: target,
                        ts,
                    });
                }
            } else if let Some((org, id)) = self.take(true) {
                self.reversible.retain(|&p| p != (org, id));
                let paid_at = self.now() - self.rng.range(0, 3600);
                ops.push(TOp::Pay { org, id, paid_at });
            }
        }
        (ops, sum)
    }
}

fn say(out: &mut impl Write, line: &str) {
    // One write per line (lines stay far below PIPE_BUF), then flush: the parent sees a line only
    // once it is complete.
    let mut buf = String::with_capacity(line.len() + 1);
    buf.push_str(line);
    buf.push('\n');
    out.write_all(buf.as_bytes()).expect("child stdout");
    out.flush().expect("child stdout flush");
}

/// The writer process on the database at `dir`: never returns.
pub fn run(dir: &str) {
    let seed: u64 = std::env::var(SEED_VAR)
        .ok()
        .and_then(|s| s.parse().ok())
        .expect("seed");
    let round: u64 = std::env::var(ROUND_VAR)
        .ok()
        .and_then(|s| s.parse().ok())
        .expect("round");
    let mut out = std::io::stdout().lock();
    // libtest printed "test child_writer ... " without a newline: end that line first.
    say(&mut out, "");
    // Default options (`Durability::Sync`) except small segments, so that kills also land in
    // segment rotation; in odd rounds a store compacted whenever it dropped anything (no floor;
    // trees of months that froze: in the odd rounds that run the freezer), so that kills also
    // land in compactions (`store::compact`) at opens and after checkpoints; in half the rounds the background
    // freezer under a 1 MiB budget (always over it), so that kills also land in its freezes and
    // spills and between a file put in force and the checkpoint that makes it durable.
    let mut options = Options::default().segment_target_bytes(SEGMENT_BYTES);
    if round % 2 == 1 {
        options = options
            .store_compaction_floor(0)
            .store_compaction_dead_percent(0);
    }
    if round % 4 >= 2 {
        options = options.auto_freeze(true).memory_budget(1 << 20);
    }
    let db = Db::open_with(dir, options).unwrap_or_else(|e| panic!("child: open {dir}: {e}"));
    if db.snapshot().orgs().expect("child: orgs").len() < ORGS.len() {
        let mut batch = Batch::new();
        for org in orgs() {
            batch = batch.register_org(org);
        }
        say(&mut out, "TRY ORGS");
        let lsn = db.record(batch).expect("child: register orgs");
        say(&mut out, &format!("ACK {} ORGS", lsn.0));
    }
    say(&mut out, &format!("READY {}", db.visible_lsn().0));
    let backdate_days: i64 = std::env::var(BACKDATE_VAR)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(400);
    let mut generator = Generator::new(seed, round, backdate_days);
    loop {
        let (ops, sum) = generator.batch();
        let mut line = String::from("TRY");
        for op in &ops {
            line.push(' ');
            line.push_str(&op.encode());
        }
        say(&mut out, &line);
        let batch = Batch::from(ops.iter().map(TOp::to_op).collect::<Vec<_>>());
        let lsn = db
            .record(batch)
            .unwrap_or_else(|e| panic!("child: record failed: {e}"));
        say(&mut out, &format!("ACK {} {} {}", lsn.0, ops.len(), sum));
        if generator.rng.chance(2) {
            say(&mut out, "CKPT begin");
            // A quarter of them freeze first (default horizon, or every month: then later batches
            // land in the overlays of frozen months); a freeze ends with a checkpoint.
            match generator.rng.below(8) {
                0 => drop(
                    db.freeze(None)
                        .unwrap_or_else(|e| panic!("child: freeze: {e}")),
                ),
                1 => {
                    let every = folio::Month::new(2100, 1).expect("a valid month");
                    drop(
                        db.freeze(Some(every))
                            .unwrap_or_else(|e| panic!("child: freeze: {e}")),
                    )
                }
                _ => drop(
                    db.checkpoint()
                        .unwrap_or_else(|e| panic!("child: checkpoint failed: {e}")),
                ),
            }
            say(&mut out, "CKPT end");
        }
    }
}
