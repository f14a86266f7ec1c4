//! Crash test with real processes and `kill -9` (guarantees 1–4 of DESIGN.md section 2).
//!
//! The test binary re-executes itself as the writer: `current_exe() --exact child_writer
//! --nocapture --test-threads=1` with `FOLIO_CRASH_CHILD_DIR` set. The child opens the database
//! (default options, `Durability::Sync`, but 64 KiB log segments), registers a few orgs (several with non-UTC time zones)
//! when they are missing, then records random batches forever. Before each `record` it prints
//! `TRY <ops>` (the full content of the batch), after `record` returned `Ok` it prints
//! `ACK <lsn> <n_ops> <signed sum>`. Now and then it calls `Db::checkpoint`, printed as
//! `CKPT begin` / `CKPT end`, so that kills also land inside checkpoints.
//!
//! The parent kills the child with SIGKILL after a random delay (sometimes while the child is
//! still opening the database, sometimes right after a `CKPT begin` line), reopens the database
//! and checks against a model built only from what the child printed:
//!
//! * every ACKed batch is there, and the visible LSN is exactly the previous one plus the ACKed
//!   batches plus the in-flight batch if it landed (no lost and no phantom LSN);
//! * the in-flight batch (a `TRY` without `ACK`) is applied whole or not at all;
//! * the ledger equals the model entry by entry (kind, time, business day computed independently
//!   with chrono-tz, amount, status, payment, reversal links, reference) and holds nothing else;
//! * for every org and every day, the balance row equals the sums and counts of that day's
//!   entries read back through `Db::entries`, and closing = opening balance + prefix sums, both
//!   through `balances` (day by day) and through `balance` (prefix tree).
//!
//! Then it closes the database and runs the next round on the same directory; every 100 rounds
//! (`FOLIO_CRASH_ROUNDS_PER_DB`) it starts a fresh database and finally checks the old one
//! rebuilt from its whole log. Rounds (kills): 1000, or `FOLIO_CRASH_ROUNDS`. Seed: random, or `FOLIO_CRASH_SEED` (printed at the start). Postings
//! are back-dated up to 400 days, or `FOLIO_CRASH_BACKDATE_DAYS` (passed on to the child).
#![cfg(unix)]

use chrono::{NaiveDate, TimeZone};
use folio::{
    Batch, BusinessDay, Category, Currency, Db, Entry, EntryId, ExpenseStatus, Kind, LedgerEntry,
    Lsn, Money, Op, Options, Org, OrgId, PayExpense, PaymentMethod, Reversal,
};
use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::str::FromStr;
use std::sync::mpsc;
use std::time::{Duration, Instant};

const DIR_VAR: &str = "FOLIO_CRASH_CHILD_DIR";
const SEED_VAR: &str = "FOLIO_CRASH_CHILD_SEED";
const ROUND_VAR: &str = "FOLIO_CRASH_CHILD_ROUND";
const ROUNDS_VAR: &str = "FOLIO_CRASH_ROUNDS";
const ROUNDS_PER_DB_VAR: &str = "FOLIO_CRASH_ROUNDS_PER_DB";
const PARENT_SEED_VAR: &str = "FOLIO_CRASH_SEED";
/// The child's log segments: small, so that rounds rotate segments.
const SEGMENT_BYTES: u64 = 64 * 1024;
/// How many days back the child may date postings (default 400).
const BACKDATE_VAR: &str = "FOLIO_CRASH_BACKDATE_DAYS";

/// 2024-01-01T00:00:00Z: the child's clock starts here and moves forward with rounds.
const BASE_TS: i64 = 1_704_067_200;
const DAY: i64 = 86_400;
/// Wide enough for every timestamp the child produces (2022-2026).
const LIST_FROM: i64 = 1_600_000_000;
const LIST_TO: i64 = 1_800_000_000;

/// Orgs of the test: id, name, IANA time zone, opening balance.
const ORGS: [(u64, &str, &str, i64); 5] = [
    (1, "Utc Plaza", "UTC", 0),
    (2, "Hudson Lodge", "America/New_York", 1_250_000),
    (3, "Kerala Backwaters", "Asia/Kolkata", -40_000),
    (4, "Line Islands Resort", "Pacific/Kiritimati", 7),
    (5, "Signal Hill Inn", "America/St_Johns", 99_999),
];

fn orgs() -> Vec<Org> {
    ORGS.iter()
        .map(|&(id, name, tz, opening)| {
            Org::new(OrgId(id), name, Currency::EUR)
                .with_time_zone(tz)
                .with_opening_balance(Money(opening))
                .with_created_at(BASE_TS)
        })
        .collect()
}

/// The engine's SplitMix64: small, seedable, good enough for test data.
struct Rng(folio::SplitMix64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(folio::SplitMix64::new(seed ^ 0x5DEE_CE66_D1CE_4E5B))
    }

    fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }

    /// Uniform in `0..n` (n > 0).
    fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo + 1) as u64) as i64
    }

    /// True with probability `percent` / 100.
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

fn mix(a: u64, b: u64) -> u64 {
    Rng::new(a ^ b.wrapping_mul(0x9E37_79B9_7F4A_7C15)).next_u64()
}

/// One operation of a test batch, printable on one line and parsed back by the parent.
#[derive(Clone, Debug, PartialEq, Eq)]
enum TOp {
    Post {
        org: u64,
        id: u64,
        kind: Kind,
        ts: i64,
        amount: i64,
        category: Category,
        method: PaymentMethod,
        status: Option<ExpenseStatus>,
    },
    Reverse {
        org: u64,
        id: u64,
        reverses: u64,
        ts: i64,
    },
    Pay {
        org: u64,
        id: u64,
        paid_at: i64,
    },
}

/// References are derived from the entry id, so the parent can check them without printing them.
fn reference_for(id: u64) -> String {
    match id % 4 {
        0 => String::new(),
        1 => format!("folio #{id}"),
        2 => format!("INV-{id:x}/ü"),
        _ => "x".repeat((id % 97) as usize),
    }
}

impl TOp {
    fn encode(&self) -> String {
        match self {
            TOp::Post {
                org,
                id,
                kind,
                ts,
                amount,
                category,
                method,
                status,
            } => format!(
                "P,{org},{id},{},{ts},{amount},{},{},{}",
                kind.code(),
                category.code(),
                method.code(),
                status.map_or(0, |s| s.code())
            ),
            TOp::Reverse {
                org,
                id,
                reverses,
                ts,
            } => format!("R,{org},{id},{reverses},{ts}"),
            TOp::Pay { org, id, paid_at } => format!("Y,{org},{id},{paid_at}"),
        }
    }

    fn decode(token: &str) -> Option<TOp> {
        let f: Vec<&str> = token.split(',').collect();
        let u = |i: usize| f.get(i)?.parse::<u64>().ok();
        let i = |i: usize| f.get(i)?.parse::<i64>().ok();
        let b = |i: usize| f.get(i)?.parse::<u8>().ok();
        match *f.first()? {
            "P" if f.len() == 9 => Some(TOp::Post {
                org: u(1)?,
                id: u(2)?,
                kind: Kind::from_code(b(3)?)?,
                ts: i(4)?,
                amount: i(5)?,
                category: Category::from_code(b(6)?)?,
                method: PaymentMethod::from_code(b(7)?)?,
                status: match b(8)? {
                    0 => None,
                    c => Some(ExpenseStatus::from_code(c)?),
                },
            }),
            "R" if f.len() == 5 => Some(TOp::Reverse {
                org: u(1)?,
                id: u(2)?,
                reverses: u(3)?,
                ts: i(4)?,
            }),
            "Y" if f.len() == 4 => Some(TOp::Pay {
                org: u(1)?,
                id: u(2)?,
                paid_at: i(3)?,
            }),
            _ => None,
        }
    }

    fn to_op(&self) -> Op {
        match *self {
            TOp::Post {
                org,
                id,
                kind,
                ts,
                amount,
                category,
                method,
                status,
            } => {
                let entry = match kind {
                    Kind::Revenue => {
                        Entry::revenue(OrgId(org), EntryId(id), ts, Money(amount), category, method)
                    }
                    Kind::Expense => Entry::expense(
                        OrgId(org),
                        EntryId(id),
                        ts,
                        Money(amount),
                        category,
                        method,
                        status.unwrap_or(ExpenseStatus::Pending),
                    ),
                };
                Op::Post(entry.with_reference(reference_for(id)))
            }
            TOp::Reverse {
                org,
                id,
                reverses,
                ts,
            } => Op::Reverse(Reversal {
                org: OrgId(org),
                id: EntryId(id),
                reverses: EntryId(reverses),
                occurred_at: ts,
                reference: reference_for(id),
            }),
            TOp::Pay { org, id, paid_at } => Op::Pay(PayExpense {
                org: OrgId(org),
                entry: EntryId(id),
                paid_at,
            }),
        }
    }
}

fn signed(kind: Kind, amount: i64) -> i64 {
    match kind {
        Kind::Revenue => amount,
        Kind::Expense => -amount,
    }
}

// ------------------------------------------------------------------------------------------------
// The child: a writer that never stops on its own.

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
        TOp::Post {
            org,
            id,
            kind,
            ts,
            amount,
            category,
            method,
            status,
        }
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
                if let TOp::Post { kind, amount, .. } = op {
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

/// The writer process. Returns at once unless started by the crash test.
#[test]
fn child_writer() {
    let Ok(dir) = std::env::var(DIR_VAR) else {
        return;
    };
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
    // segment rotation.
    let options = Options::default().segment_target_bytes(SEGMENT_BYTES);
    let db = Db::open_with(&dir, options).unwrap_or_else(|e| panic!("child: open {dir}: {e}"));
    if db.snapshot().orgs().len() < ORGS.len() {
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
            db.checkpoint()
                .unwrap_or_else(|e| panic!("child: checkpoint failed: {e}"));
            say(&mut out, "CKPT end");
        }
    }
}

// ------------------------------------------------------------------------------------------------
// The parent.

/// When a round kills its child.
#[derive(Clone, Copy, Debug)]
enum KillAt {
    /// This long after spawning, ready or not (lands in process start, open, recovery, org
    /// registration).
    SinceSpawn(Duration),
    /// This long after the child printed READY.
    SinceReady(Duration),
    /// This long after the first `CKPT begin` line (inside the checkpoint).
    InCheckpoint(Duration),
}

struct RoundOutput {
    lines: Vec<String>,
    killed_in_checkpoint: bool,
}

/// Spawns the child, kills it per `kill_at`, and returns the complete lines it printed.
fn run_child(dir: &Path, seed: u64, round: u64, kill_at: KillAt) -> RoundOutput {
    let exe = std::env::current_exe().expect("current_exe");
    let mut child = Command::new(exe)
        .args(["--exact", "child_writer", "--nocapture", "--test-threads=1"])
        .env(DIR_VAR, dir)
        .env(SEED_VAR, seed.to_string())
        .env(ROUND_VAR, round.to_string())
        .env(
            BACKDATE_VAR,
            std::env::var(BACKDATE_VAR).unwrap_or_else(|_| "400".into()),
        )
        .env("RUST_BACKTRACE", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn child");
    let spawned = Instant::now();
    let stdout = child.stdout.take().expect("child stdout");
    let mut stderr = child.stderr.take().expect("child stderr");
    let (tx, rx) = mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        let mut r = BufReader::new(stdout);
        let mut line = String::new();
        loop {
            line.clear();
            match r.read_line(&mut line) {
                // A line cut off by the kill has no newline: it was never printed whole.
                Ok(n) if n > 0 && line.ends_with('\n') => {
                    if tx.send(line.trim_end().to_string()).is_err() {
                        return;
                    }
                }
                _ => return,
            }
        }
    });
    let err_reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });

    let mut lines = Vec::new();
    let mut ready_at: Option<Instant> = None;
    let mut ckpt_at: Option<Instant> = None;
    let mut exited_early = false;
    loop {
        let now = Instant::now();
        let kill_now = match kill_at {
            KillAt::SinceSpawn(d) => now >= spawned + d,
            KillAt::SinceReady(d) => ready_at.is_some_and(|t| now >= t + d),
            KillAt::InCheckpoint(d) => {
                ckpt_at.is_some_and(|t| now >= t + d)
                    || ready_at.is_some_and(|t| now >= t + Duration::from_secs(3))
            }
        };
        if kill_now {
            break;
        }
        if now > spawned + Duration::from_secs(120) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("round {round}: child made no progress in 120 s: {lines:?}");
        }
        match rx.recv_timeout(Duration::from_micros(200)) {
            Ok(line) => {
                if line.starts_with("READY") {
                    ready_at = Some(Instant::now());
                }
                if line == "CKPT begin" && ckpt_at.is_none() {
                    ckpt_at = Some(Instant::now());
                }
                lines.push(line);
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                exited_early = true;
                break;
            }
        }
    }
    let _ = child.kill();
    let status = child.wait().expect("wait for child");
    reader.join().expect("stdout reader");
    lines.extend(rx.try_iter());
    let stderr_text = err_reader.join().expect("stderr reader");
    if exited_early || status.signal() != Some(9) {
        panic!(
            "round {round}: the child ended on its own ({status:?}) instead of being killed.\n\
             last lines: {:?}\nstderr:\n{stderr_text}",
            &lines[lines.len().saturating_sub(5)..]
        );
    }
    // Killed inside a checkpoint: the last CKPT line is a `begin`.
    let killed_in_checkpoint = lines
        .iter()
        .rev()
        .find(|l| l.starts_with("CKPT"))
        .is_some_and(|l| l == "CKPT begin");
    RoundOutput {
        lines,
        killed_in_checkpoint,
    }
}

/// What the parent knows of one entry.
#[derive(Clone, Debug)]
struct MEntry {
    kind: Kind,
    ts: i64,
    day: i32,
    amount: i64,
    category: Category,
    method: PaymentMethod,
    status: Option<ExpenseStatus>,
    paid_at: Option<i64>,
    reverses: Option<u64>,
    reversed_by: Option<u64>,
    reference: String,
}

impl MEntry {
    fn signed(&self) -> i64 {
        let s = signed(self.kind, self.amount);
        if self.reverses.is_some() {
            -s
        } else {
            s
        }
    }
}

/// Business day (days since 1970-01-01) computed independently of Folio.
fn local_day(ts: i64, tz: chrono_tz::Tz) -> i32 {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch");
    let local = tz
        .timestamp_opt(ts, 0)
        .single()
        .expect("a UTC instant has one local time");
    local.date_naive().signed_duration_since(epoch).num_days() as i32
}

#[derive(Default)]
struct Model {
    orgs_registered: bool,
    tz: HashMap<u64, chrono_tz::Tz>,
    opening: HashMap<u64, i64>,
    entries: BTreeMap<(u64, u64), MEntry>,
}

impl Model {
    fn new() -> Model {
        let mut m = Model::default();
        for (id, _, tz, opening) in ORGS {
            m.tz.insert(id, chrono_tz::Tz::from_str(tz).expect("tz"));
            m.opening.insert(id, opening);
        }
        m
    }

    /// Signed sum of a batch as the child computes it, resolving reversal targets from the model
    /// and from earlier posts of the same batch.
    fn batch_sum(&self, ops: &[TOp]) -> i64 {
        let mut local: HashMap<(u64, u64), i64> = HashMap::new();
        let mut sum = 0;
        for op in ops {
            match *op {
                TOp::Post {
                    org,
                    id,
                    kind,
                    amount,
                    ..
                } => {
                    local.insert((org, id), signed(kind, amount));
                    sum += signed(kind, amount);
                }
                TOp::Reverse { org, reverses, .. } => {
                    let s = local
                        .get(&(org, reverses))
                        .copied()
                        .or_else(|| self.entries.get(&(org, reverses)).map(MEntry::signed))
                        .expect("reversal target known");
                    sum -= s;
                }
                TOp::Pay { .. } => {}
            }
        }
        sum
    }

    fn apply(&mut self, ops: &[TOp]) {
        for op in ops {
            match *op {
                TOp::Post {
                    org,
                    id,
                    kind,
                    ts,
                    amount,
                    category,
                    method,
                    status,
                } => {
                    let e = MEntry {
                        kind,
                        ts,
                        day: local_day(ts, self.tz[&org]),
                        amount,
                        category,
                        method,
                        status,
                        paid_at: None,
                        reverses: None,
                        reversed_by: None,
                        reference: reference_for(id),
                    };
                    assert!(self.entries.insert((org, id), e).is_none(), "id reused");
                }
                TOp::Reverse {
                    org,
                    id,
                    reverses,
                    ts,
                } => {
                    let original = self
                        .entries
                        .get_mut(&(org, reverses))
                        .expect("reversal target in model");
                    original.reversed_by = Some(id);
                    let e = MEntry {
                        day: local_day(ts, self.tz[&org]),
                        ts,
                        status: None,
                        paid_at: None,
                        reverses: Some(reverses),
                        reversed_by: None,
                        reference: reference_for(id),
                        ..original.clone()
                    };
                    assert!(self.entries.insert((org, id), e).is_none(), "id reused");
                }
                TOp::Pay { org, id, paid_at } => {
                    let e = self
                        .entries
                        .get_mut(&(org, id))
                        .expect("paid entry in model");
                    e.paid_at = Some(paid_at);
                    e.status = Some(ExpenseStatus::Paid);
                }
            }
        }
    }
}

/// One parsed line of the child.
enum Line {
    TryOrgs,
    AckOrgs(u64),
    Ready,
    Try(Vec<TOp>),
    Ack { lsn: u64, n: usize, sum: i64 },
    Ckpt,
}

fn parse_line(line: &str) -> Option<Line> {
    let mut words = line.split(' ');
    match words.next()? {
        "TRY" => {
            let rest: Vec<&str> = words.collect();
            if rest == ["ORGS"] {
                return Some(Line::TryOrgs);
            }
            let ops: Option<Vec<TOp>> = rest.iter().map(|t| TOp::decode(t)).collect();
            Some(Line::Try(ops?))
        }
        "ACK" => {
            let lsn = words.next()?.parse().ok()?;
            let second = words.next()?;
            if second == "ORGS" {
                return Some(Line::AckOrgs(lsn));
            }
            Some(Line::Ack {
                lsn,
                n: second.parse().ok()?,
                sum: words.next()?.parse().ok()?,
            })
        }
        "READY" => Some(Line::Ready),
        "CKPT" => Some(Line::Ckpt),
        // libtest's own lines ("running 1 test", "test child_writer ...").
        _ => None,
    }
}

/// Every entry of every org, as listed by `Db::entries`.
type Listing = Vec<(u64, Vec<LedgerEntry>)>;

fn list_all(db: &Db, ctx: &str) -> Listing {
    let view = db.snapshot();
    view.orgs()
        .into_iter()
        .map(|org| {
            let entries = view
                .entries(org.id, LIST_FROM, LIST_TO)
                .unwrap_or_else(|e| panic!("{ctx}: entries of org {}: {e}", org.id));
            (org.id.0, entries)
        })
        .collect()
}

/// The listed entries that `ops` touch, by (org, id).
fn touched<'a>(listing: &'a Listing, ops: &[&TOp]) -> HashMap<(u64, u64), &'a LedgerEntry> {
    let wanted: std::collections::HashSet<(u64, u64)> = ops
        .iter()
        .map(|op| match **op {
            TOp::Post { org, id, .. } | TOp::Reverse { org, id, .. } | TOp::Pay { org, id, .. } => {
                (org, id)
            }
        })
        .collect();
    let mut found = HashMap::new();
    for (org, entries) in listing {
        for e in entries {
            if wanted.contains(&(*org, e.id.0)) {
                found.insert((*org, e.id.0), e);
            }
        }
    }
    found
}

/// Whether the effect of `op` is visible.
fn op_visible(all: &HashMap<(u64, u64), &LedgerEntry>, op: &TOp) -> bool {
    match *op {
        TOp::Post { org, id, .. } | TOp::Reverse { org, id, .. } => all.contains_key(&(org, id)),
        TOp::Pay { org, id, paid_at } => all
            .get(&(org, id))
            .is_some_and(|e| e.paid_at == Some(paid_at)),
    }
}

#[derive(Default)]
struct Totals {
    acked: u64,
    entries_checked: u64,
    balance_rows_checked: u64,
    inflight_landed: u64,
    inflight_lost: u64,
    killed_in_checkpoint: u64,
    killed_before_ready: u64,
    rebuilt: u64,
    truncated_rounds: u64,
    truncated_bytes: u64,
    frames_replayed: u64,
    /// Seconds spent running children, reopening, checking and closing.
    secs: [f64; 4],
}

/// Compares the whole database with the model: entries one by one, then every balance row.
fn check_db(db: &Db, listing: &Listing, model: &Model, ctx: &str, totals: &mut Totals) {
    let view = db.snapshot();
    assert_eq!(
        view.entry_count(),
        model.entries.len(),
        "{ctx}: entry count differs from the model"
    );
    for (org, _, _, opening) in ORGS {
        if !model.orgs_registered {
            continue;
        }
        let listed = listing
            .iter()
            .find(|(o, _)| *o == org)
            .map(|(_, entries)| entries)
            .unwrap_or_else(|| panic!("{ctx}: org {org} not listed"));
        let expected: Vec<(&(u64, u64), &MEntry)> =
            model.entries.range((org, 0)..(org + 1, 0)).collect();
        assert_eq!(
            listed.len(),
            expected.len(),
            "{ctx}: org {org} lists {} entries, the model has {}",
            listed.len(),
            expected.len()
        );
        // Per day: (revenue, expense, revenue rows, expense rows), from the entries as read back.
        let mut days: BTreeMap<i32, (i64, i64, u64, u64)> = BTreeMap::new();
        for e in listed {
            let m = model
                .entries
                .get(&(org, e.id.0))
                .unwrap_or_else(|| panic!("{ctx}: org {org} entry {} not in the model", e.id));
            let want_status = match (m.kind, m.reverses) {
                (Kind::Expense, None) => m.status,
                _ => None,
            };
            let ok = e.kind == m.kind
                && e.occurred_at == m.ts
                && e.day == BusinessDay::from_days(m.day).expect("day")
                && e.amount == Money(m.amount)
                && e.category == m.category
                && e.payment_method == m.method
                && e.status == want_status
                && e.paid_at == m.paid_at
                && e.reverses.map(|r| r.0) == m.reverses
                && e.reversed_by.map(|r| r.0) == m.reversed_by
                && e.reference == m.reference
                && e.signed_amount() == Some(Money(m.signed()));
            assert!(ok, "{ctx}: org {org}: read back {e:?}\nmodel {m:?}");
            let d = days.entry(e.day.days()).or_default();
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
            totals.entries_checked += 1;
        }
        let (Some(&first), Some(&last)) = (days.keys().next(), days.keys().next_back()) else {
            continue;
        };
        let (from, to) = (
            BusinessDay::from_days(first - 1).expect("day"),
            BusinessDay::from_days(last + 1).expect("day"),
        );
        let rows = view
            .balances(OrgId(org), from, to)
            .unwrap_or_else(|e| panic!("{ctx}: balances of org {org}: {e}"));
        let mut closing = opening;
        for row in rows {
            let (rev, exp, rc, ec) = days.get(&row.day.days()).copied().unwrap_or_default();
            let opening_of_day = closing;
            closing += rev - exp;
            let want = (
                Money(opening_of_day),
                Money(rev),
                Money(exp),
                Money(closing),
                rc,
                ec,
            );
            let got = (
                row.opening,
                row.revenue,
                row.expense,
                row.closing,
                row.revenue_count,
                row.expense_count,
            );
            assert_eq!(
                got, want,
                "{ctx}: org {org} day {}: balance row (opening, revenue, expense, closing, \
                 revenue rows, expense rows) differs from its entries",
                row.day
            );
            if days.contains_key(&row.day.days()) {
                // Point read through the prefix sums must agree with the range read.
                let point = view
                    .balance(OrgId(org), row.day)
                    .unwrap_or_else(|e| panic!("{ctx}: balance: {e}"));
                assert_eq!(
                    point, row,
                    "{ctx}: org {org}: balance() differs from balances()"
                );
            }
            totals.balance_rows_checked += 1;
        }
        let far = view
            .balance(
                OrgId(org),
                BusinessDay::from_days(last + 4000).expect("day"),
            )
            .unwrap_or_else(|e| panic!("{ctx}: balance: {e}"));
        assert_eq!(
            far.closing,
            Money(closing),
            "{ctx}: org {org}: late closing"
        );
    }
}

fn check_orgs(db: &Db, model: &Model, ctx: &str) {
    let got = db.snapshot().orgs();
    if model.orgs_registered {
        assert_eq!(got, orgs(), "{ctx}: registered orgs differ");
    } else {
        assert!(got.is_empty(), "{ctx}: orgs appeared without registration");
    }
}

#[test]
fn kill9_rounds_lose_no_acked_batch_and_apply_batches_whole() {
    if std::env::var(DIR_VAR).is_ok() {
        return;
    }
    let rounds: u64 = std::env::var(ROUNDS_VAR)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1000);
    let seed: u64 = std::env::var(PARENT_SEED_VAR)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1)
        });
    // A fresh database every `rounds_per_db` rounds keeps the per-round check (which reads the
    // whole database back) from growing without bound in long runs.
    let rounds_per_db: u64 = std::env::var(ROUNDS_PER_DB_VAR)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100)
        .max(1);
    println!("crash test: {rounds} rounds, {rounds_per_db} per database, {PARENT_SEED_VAR}={seed}");
    let started = Instant::now();
    let mut rng = Rng::new(seed);
    let mut totals = Totals::default();
    let (mut databases, mut final_lsns, mut final_entries, mut final_segments) = (0, 0, 0, 0);
    let mut first = 0;
    while first < rounds {
        let last = (first + rounds_per_db).min(rounds);
        databases += 1;
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("db");
        // The parent creates the database (a crash during creation is covered in tests/recovery.rs).
        Db::open(&dir).expect("create").close().expect("close");

        let mut model = Model::new();
        let mut prev_lsn = 0u64;
        for round in first..last {
            let kill_at = match rng.below(100) {
                0..=9 => KillAt::SinceSpawn(Duration::from_millis(rng.below(60))),
                10..=34 => KillAt::InCheckpoint(Duration::from_micros(rng.below(3000))),
                _ => KillAt::SinceReady(Duration::from_millis(5 + rng.below(146))),
            };
            let ctx = format!("round {round} ({kill_at:?}, {PARENT_SEED_VAR}={seed})");
            let t0 = Instant::now();
            let out = run_child(&dir, seed, round, kill_at);
            totals.secs[0] += t0.elapsed().as_secs_f64();
            if out.killed_in_checkpoint {
                totals.killed_in_checkpoint += 1;
            }

            let mut acked: Vec<(u64, Vec<TOp>, i64)> = Vec::new();
            let mut pending: Option<Line> = None;
            let mut orgs_acked = false;
            let mut ready = false;
            for text in &out.lines {
                match parse_line(text) {
                    Some(Line::TryOrgs) => pending = Some(Line::TryOrgs),
                    Some(Line::AckOrgs(lsn)) => {
                        assert!(
                            matches!(pending.take(), Some(Line::TryOrgs)),
                            "{ctx}: ACK without TRY"
                        );
                        assert_eq!(lsn, prev_lsn + 1, "{ctx}: org registration LSN");
                        orgs_acked = true;
                    }
                    Some(Line::Ready) => ready = true,
                    Some(Line::Try(ops)) => {
                        assert!(pending.is_none(), "{ctx}: two TRY lines without ACK");
                        pending = Some(Line::Try(ops));
                    }
                    Some(Line::Ack { lsn, n, sum }) => {
                        let Some(Line::Try(ops)) = pending.take() else {
                            panic!("{ctx}: ACK without TRY: {text}");
                        };
                        assert_eq!(n, ops.len(), "{ctx}: op count of ACK {lsn}");
                        acked.push((lsn, ops, sum));
                    }
                    Some(Line::Ckpt) | None => {}
                }
            }
            if !ready {
                totals.killed_before_ready += 1;
            }

            let t1 = Instant::now();
            let db = match std::panic::catch_unwind(|| Db::open(&dir)) {
                Ok(Ok(db)) => db,
                Ok(Err(e)) => panic!("{ctx}: reopen failed: {e}"),
                Err(_) => panic!("{ctx}: Db::open panicked during recovery (message above)"),
            };
            let report = db.recovery().clone();
            totals.secs[1] += t1.elapsed().as_secs_f64();
            let t2 = Instant::now();
            let visible = db.visible_lsn().0;
            assert_eq!(report.lsn, Lsn(visible), "{ctx}: report LSN");
            if report.rebuilt.is_some() {
                totals.rebuilt += 1;
            }
            if report.truncated_bytes > 0 {
                totals.truncated_rounds += 1;
                totals.truncated_bytes += report.truncated_bytes;
            }
            totals.frames_replayed += report.frames_replayed;

            // Orgs: registered in one batch, so all or none.
            let mut next = prev_lsn + 1;
            if !model.orgs_registered {
                let present = db.snapshot().orgs();
                if orgs_acked || !present.is_empty() {
                    assert_eq!(
                        present,
                        orgs(),
                        "{ctx}: org registration half applied or lost"
                    );
                    model.orgs_registered = true;
                    next += 1;
                }
            } else {
                assert!(!orgs_acked, "{ctx}: orgs registered twice");
            }
            check_orgs(&db, &model, &ctx);

            // ACKed batches: consecutive LSNs, content and sums as the child printed them.
            let listing = list_all(&db, &ctx);
            let mut round_ops: Vec<&TOp> = acked.iter().flat_map(|(_, ops, _)| ops).collect();
            if let Some(Line::Try(ops)) = &pending {
                round_ops.extend(ops);
            }
            let all = touched(&listing, &round_ops);
            for (lsn, ops, sum) in &acked {
                assert_eq!(*lsn, next, "{ctx}: ACKed LSNs are not consecutive");
                assert!(
                    *lsn <= visible,
                    "{ctx}: ACKed LSN {lsn} is beyond the visible LSN {visible}"
                );
                assert_eq!(model.batch_sum(ops), *sum, "{ctx}: sum of ACK {lsn}");
                for op in ops {
                    assert!(
                        op_visible(&all, op),
                        "{ctx}: ACKed batch {lsn} lost its operation {op:?}"
                    );
                }
                model.apply(ops);
                next += 1;
                totals.acked += 1;
            }

            // The batch in flight at the kill: whole or absent.
            if let Some(Line::Try(ops)) = pending {
                let seen: Vec<bool> = ops.iter().map(|op| op_visible(&all, op)).collect();
                if seen.iter().all(|&s| s) {
                    model.apply(&ops);
                    next += 1;
                    totals.inflight_landed += 1;
                } else if seen.iter().any(|&s| s) {
                    panic!("{ctx}: in-flight batch half applied: {seen:?}\n{ops:?}");
                } else {
                    totals.inflight_lost += 1;
                }
            }
            assert_eq!(
                visible,
                next - 1,
                "{ctx}: visible LSN is not the previous LSN plus the batches that landed"
            );
            check_db(&db, &listing, &model, &ctx, &mut totals);
            totals.secs[2] += t2.elapsed().as_secs_f64();
            let t3 = Instant::now();
            db.close()
                .unwrap_or_else(|e| panic!("{ctx}: close failed: {e}"));
            totals.secs[3] += t3.elapsed().as_secs_f64();
            prev_lsn = visible;
        }

        // Finally: the store thrown away, everything rebuilt from the whole log.
        std::fs::remove_dir_all(dir.join("state")).expect("remove state");
        let db = Db::open(&dir).expect("open after removing the store");
        assert_eq!(db.visible_lsn(), Lsn(prev_lsn), "rebuild from the log");
        assert_eq!(db.recovery().frames_replayed, prev_lsn, "frames replayed");
        check_orgs(&db, &model, "rebuild");
        let listing = list_all(&db, "rebuild");
        check_db(&db, &listing, &model, "rebuild", &mut totals);
        db.close().expect("close");
        let segments = std::fs::read_dir(dir.join("wal"))
            .expect("wal dir")
            .filter(|e| {
                e.as_ref()
                    .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "log"))
            })
            .count();
        final_lsns += prev_lsn;
        final_entries += model.entries.len();
        final_segments += segments;
        first = last;
    }

    println!(
        "crash test: {rounds} rounds in {:.1} s; {} ACKed batches verified, {} entry checks, {} \
         balance rows; in-flight batch landed {} / lost {}; killed before READY {}, inside a \
         checkpoint {}; store rebuilt {}; torn tail truncated in {} rounds ({} bytes); {} frames \
         replayed; {databases} databases, final LSNs {final_lsns} in all, {final_entries} entries in \
         {final_segments} log segments; seconds in children {:.1}, reopening {:.1}, checking {:.1}, \
         closing {:.1}",
        started.elapsed().as_secs_f64(),
        totals.acked,
        totals.entries_checked,
        totals.balance_rows_checked,
        totals.inflight_landed,
        totals.inflight_lost,
        totals.killed_before_ready,
        totals.killed_in_checkpoint,
        totals.rebuilt,
        totals.truncated_rounds,
        totals.truncated_bytes,
        totals.frames_replayed,
        totals.secs[0],
        totals.secs[1],
        totals.secs[2],
        totals.secs[3],
    );
}
