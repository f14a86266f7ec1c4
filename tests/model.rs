//! Model-based test: random sequences of batches (valid and invalid), groups of batches submitted
//! without waiting (one group commit), reopens with another requested shard count, checkpoints,
//! and checkpoint + close + reopen, run against Folio and against an independent in-memory model
//! made of BTreeMaps. After every step the outcome (the LSN, or the rejection), the visible LSN,
//! every org, every balance row over the days touched (±2 days), random single days and the
//! ledger listings (all of them, and a random time window) must agree; a final reopen must give
//! the same answers. Cases vary the shard count (4, 1, 3, 16), the durability, eager background
//! checkpoints, and the org and entry ids (small, spread over 64-id store chunks, near u64::MAX).
//!
//! The model does not use Folio's validator or state code; it computes business days with
//! chrono-tz itself. Where one operation has several defects, any of the matching rejections is
//! accepted (the order of checks inside one operation is not specified); across operations, the
//! first bad operation of a batch decides.
//!
//! Overflow rule modelled: the documented bound of `state::catalog::flows_fit` — with inflow = Σ
//! revenue postings + Σ expense reversals and outflow = Σ expense postings + Σ revenue reversals of
//! an org, `inflow`, `outflow`, `opening + inflow` and `opening - outflow` must all fit in i64.
//! Every balance, day total and running sum then fits, which the model also asserts. (This is
//! stricter than "a running sum would leave i64" in one corner: see the last test.)
//!
//! Cases: 64 by default, `PROPTEST_CASES` overrides. Failures shrink to a minimal case and print
//! the step, the resolved batch and the first differing values.

#![allow(clippy::unwrap_used)] // unwrapping is how a test says "this must work"

mod common;

use chrono::{NaiveDate, TimeZone};
use chrono_tz::Tz;
use folio::limits::{MAX_ORG_NAME_BYTES, MAX_RANGE_DAYS, MAX_REFERENCE_BYTES};
use folio::{
    Batch, BusinessDay, Category, Currency, DayBalance, Db, Durability, Entry, EntryId, Error,
    ExpenseStatus, Kind, LedgerEntry, Lsn, Money, Op, Org, OrgId, PayExpense, PaymentMethod,
    Rejection, Reversal,
};
use folio::{MAX_TIMESTAMP, MIN_TIMESTAMP};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::str::FromStr;

// ---------------------------------------------------------------------------------------------
// Inputs
// ---------------------------------------------------------------------------------------------

const TIME_ZONES: &[&str] = &[
    "UTC",
    "America/New_York",
    "Asia/Kolkata",
    "Pacific/Chatham",
    "Australia/Lord_Howe",
    "Pacific/Kiritimati",
];
const BAD_TIME_ZONES: &[&str] = &["Mars/Olympus", "utc+1"];

/// Instants near DST changes and month / year boundaries (UTC seconds).
const ANCHORS: &[i64] = &[
    1_710_054_000, // 2024-03-10T07:00Z: New York springs forward
    1_730_613_600, // 2024-11-03T06:00Z: New York falls back
    1_712_412_000, // 2024-04-06T14:00Z: Chatham leaves DST
    1_727_532_000, // 2024-09-28T14:00Z: Chatham enters DST
    1_704_067_200, // 2024-01-01T00:00Z: year boundary
    1_704_017_700, // 2023-12-31T10:15Z: year boundary east of UTC
    1_709_251_200, // 2024-03-01T00:00Z: after a leap day
    1_709_249_400, // 2024-02-29T23:30Z
    1_706_725_800, // 2024-01-31T18:30Z: 2024-02-01 00:00 in Kolkata
    1_717_156_800, // 2024-05-31T12:00Z
    1_717_200_000, // 2024-06-01T00:00Z
    1_341_100_799, // 2012-06-30T23:59:59Z: far in the past
    1_456_747_200, // 2016-02-29T12:00Z
    1_561_939_200, // 2019-07-01T00:00Z
    1_924_945_200, // 2030-12-31T11:00Z: far ahead
];

#[derive(Clone, Debug)]
enum TsGen {
    /// An anchor plus an offset in seconds.
    Anchor(usize, i64),
    /// 0: MIN_TIMESTAMP, 1: MAX_TIMESTAMP, 2: MIN_TIMESTAMP - 1, 3: MAX_TIMESTAMP + 1.
    Extreme(u8),
}

impl TsGen {
    fn ts(&self) -> i64 {
        match *self {
            TsGen::Anchor(a, off) => ANCHORS[a % ANCHORS.len()] + off,
            TsGen::Extreme(0) => MIN_TIMESTAMP,
            TsGen::Extreme(1) => MAX_TIMESTAMP,
            TsGen::Extreme(2) => MIN_TIMESTAMP - 1,
            TsGen::Extreme(_) => MAX_TIMESTAMP + 1,
        }
    }
}

#[derive(Clone, Copy, Debug)]
enum OrgGen {
    /// The k-th registered org (recorded or earlier in the batch), else org 1.
    Registered(usize),
    /// Any small id, registered or not.
    Raw(u64),
}

#[derive(Clone, Debug)]
enum IdGen {
    /// An id never used before in this case.
    Fresh,
    /// The k-th id known for the org (recorded or earlier in the batch), else a small id.
    Existing(usize),
    /// A small id that may or may not exist.
    Small(u64),
    Zero,
}

#[derive(Clone, Copy, Debug)]
enum Mutation {
    Identical,
    Amount,
    Time,
    Reference,
    Status,
    PaymentMethod,
    Kind,
}

#[derive(Clone, Debug)]
enum OpGen {
    Register {
        org: u64,
        tz: usize,
        bad_tz: bool,
        opening: i64,
        /// 0: canonical name, 1: another name, 2: name over the limit, 3: created_at out of range.
        variant: u8,
    },
    ReRegister {
        pick: usize,
        mutate: bool,
    },
    Post {
        org: OrgGen,
        id: IdGen,
        revenue: bool,
        ts: TsGen,
        amount: i64,
        category: usize,
        /// Pick a category of the other ledger.
        bad_category: bool,
        payment_method: usize,
        /// 0: the right status for the kind, 1: none, 2: pending, 3: paid.
        status: u8,
        reference: u8,
    },
    Repost {
        pick: usize,
        mutation: Mutation,
    },
    Reverse {
        org: OrgGen,
        id: IdGen,
        target: IdGen,
        ts: TsGen,
        reference: u8,
    },
    Rereverse {
        pick: usize,
        mutation: u8,
    },
    PayPending {
        pick: usize,
        paid_at: TsGen,
    },
    Pay {
        org: OrgGen,
        target: IdGen,
        paid_at: TsGen,
    },
    Repay {
        pick: usize,
        same: bool,
    },
}

#[derive(Clone, Debug)]
enum Step {
    Batch(Vec<OpGen>),
    /// Several batches submitted without waiting, so that they share a group commit.
    Group(Vec<Vec<OpGen>>),
    /// Drop the handle and open again, asking for this shard count (an existing database keeps
    /// its own).
    Reopen(u32),
    /// `checkpoint()`, `close()`, open again.
    CheckpointCloseReopen,
    Checkpoint,
}

/// Extra randomness for the reads after a step.
#[derive(Clone, Debug)]
struct Probe {
    from: TsGen,
    len: i64,
    day_pick: usize,
    day_offset: i32,
}

#[derive(Clone, Debug)]
struct Case {
    shards: u32,
    durability: Durability,
    /// Background checkpoints after this many operations (and every few milliseconds), so that
    /// they run while batches commit; `None` keeps the defaults.
    eager_checkpoints: Option<u64>,
    /// The org ids behind slots 1..=6: small ones, ones spread over several 64-id chunks of the
    /// store, or ones at the top of the u64 range.
    org_ids: [u64; 6],
    /// First fresh entry id (minus one).
    id_base: u64,
    steps: Vec<(Step, Probe)>,
}

const ORG_ID_TABLES: [[u64; 6]; 3] = [
    [1, 2, 3, 4, 5, 6],
    [1, 63, 64, 65, 1 << 40, u64::MAX],
    [u64::MAX, u64::MAX - 1, 1 << 63, (1 << 63) - 1, 4096, 127],
];

/// `prop_oneof!` that drops arms of weight 0.
macro_rules! one_of {
    ($($weight:expr => $strategy:expr),+ $(,)?) => {{
        let arms: Vec<(u32, BoxedStrategy<_>)> = vec![$(($weight, $strategy.boxed())),+];
        prop::strategy::Union::new_weighted(arms.into_iter().filter(|(w, _)| *w > 0).collect())
    }};
}

/// Generators take `noisy`: a noisy batch draws defects often, a clean one rarely, so that
/// both long valid histories and every kind of rejection occur.
fn w(noisy: bool, clean: u32, dirty: u32) -> u32 {
    if noisy {
        dirty
    } else {
        clean
    }
}

fn ts_gen(noisy: bool) -> impl Strategy<Value = TsGen> {
    one_of![
        20 => (0..ANCHORS.len(), -3 * 3600i64..3 * 3600).prop_map(|(a, o)| TsGen::Anchor(a, o)),
        4 => (
            0..ANCHORS.len(),
            prop::sample::select(vec![-86_400i64, 86_400, -2 * 86_400, 31 * 86_400, -31 * 86_400, 0, 1, -1]),
        )
            .prop_map(|(a, o)| TsGen::Anchor(a, o)),
        1 => (0u8..2).prop_map(TsGen::Extreme),
        w(noisy, 0, 1) => (2u8..4).prop_map(TsGen::Extreme),
    ]
}

fn id_gen(noisy: bool, fresh: u32, existing: u32) -> impl Strategy<Value = IdGen> {
    one_of![
        fresh => Just(IdGen::Fresh),
        existing => any::<usize>().prop_map(IdGen::Existing),
        w(noisy, 0, 2) => (1u64..=12).prop_map(IdGen::Small),
        w(noisy, 0, 1) => Just(IdGen::Zero),
    ]
}

fn org_gen(noisy: bool) -> impl Strategy<Value = OrgGen> {
    one_of![
        12 => any::<usize>().prop_map(OrgGen::Registered),
        w(noisy, 0, 2) => (1u64..=6).prop_map(OrgGen::Raw),
    ]
}

fn amount_gen(noisy: bool) -> impl Strategy<Value = i64> {
    one_of![
        60 => 1i64..100_000,
        w(noisy, 0, 3) => Just(0i64),
        w(noisy, 0, 3) => -100_000i64..0,
        w(noisy, 0, 1) => Just(i64::MIN),
        w(noisy, 1, 4) => Just(i64::MAX / 2 + 1),
        w(noisy, 1, 2) => Just(i64::MAX / 2),
        w(noisy, 0, 1) => Just(i64::MAX),
    ]
}

fn opening_gen() -> impl Strategy<Value = i64> {
    one_of![
        12 => -1_000_000i64..1_000_000,
        1 => Just(i64::MIN),
        1 => Just(i64::MAX),
        1 => Just(i64::MIN / 2),
        1 => Just(i64::MAX / 2),
    ]
}

fn reference_gen(noisy: bool) -> impl Strategy<Value = u8> {
    one_of![
        10 => Just(0u8),
        10 => Just(1u8),
        w(noisy, 0, 2) => Just(2u8),
        1 => Just(3u8),
        w(noisy, 0, 2) => Just(4u8),
    ]
}

fn reference_text(kind: u8, salt: u64) -> String {
    match kind {
        0 => String::new(),
        1 => format!("INV-{salt}"),
        2 => "x".repeat(MAX_REFERENCE_BYTES + 1),
        // Exactly the limit in bytes, half of it in characters.
        3 => "é".repeat(MAX_REFERENCE_BYTES / 2),
        _ => "é".repeat(MAX_REFERENCE_BYTES / 2 + 1),
    }
}

fn register_gen(org: impl Strategy<Value = u64>, noisy: bool) -> impl Strategy<Value = OpGen> {
    (
        org,
        0..TIME_ZONES.len(),
        prop::bool::weighted(if noisy { 0.2 } else { 0.0 }),
        opening_gen(),
        one_of![12 => Just(0u8), w(noisy, 0, 2) => Just(1u8), w(noisy, 0, 1) => Just(2u8), w(noisy, 0, 1) => Just(3u8)],
    )
        .prop_map(|(org, tz, bad_tz, opening, variant)| OpGen::Register {
            org,
            tz,
            bad_tz,
            opening,
            variant,
        })
}

fn mutation_gen() -> impl Strategy<Value = Mutation> {
    one_of![
        6 => Just(Mutation::Identical),
        1 => Just(Mutation::Amount),
        1 => Just(Mutation::Time),
        1 => Just(Mutation::Reference),
        1 => Just(Mutation::Status),
        1 => Just(Mutation::PaymentMethod),
        1 => Just(Mutation::Kind),
    ]
}

fn op_gen(noisy: bool) -> impl Strategy<Value = OpGen> {
    let post = (
        org_gen(noisy),
        id_gen(noisy, 30, w(noisy, 0, 2)),
        any::<bool>(),
        ts_gen(noisy),
        amount_gen(noisy),
        0usize..6,
        prop::bool::weighted(if noisy { 0.1 } else { 0.0 }),
        0usize..3,
        one_of![30 => Just(0u8), w(noisy, 0, 2) => 1u8..4],
        reference_gen(noisy),
    )
        .prop_map(
            |(
                org,
                id,
                revenue,
                ts,
                amount,
                category,
                bad_category,
                payment_method,
                status,
                reference,
            )| {
                OpGen::Post {
                    org,
                    id,
                    revenue,
                    ts,
                    amount,
                    category,
                    bad_category,
                    payment_method,
                    status,
                    reference,
                }
            },
        );
    let reverse = (
        org_gen(noisy),
        id_gen(noisy, 30, w(noisy, 0, 2)),
        id_gen(noisy, w(noisy, 0, 1), 30),
        ts_gen(noisy),
        reference_gen(noisy),
    )
        .prop_map(|(org, id, target, ts, reference)| OpGen::Reverse {
            org,
            id,
            target,
            ts,
            reference,
        });
    one_of![
        16 => post,
        3 => (any::<usize>(), mutation_gen()).prop_map(|(pick, mutation)| OpGen::Repost { pick, mutation }),
        4 => reverse,
        1 => (any::<usize>(), 0u8..4).prop_map(|(pick, mutation)| OpGen::Rereverse { pick, mutation }),
        4 => (any::<usize>(), ts_gen(noisy)).prop_map(|(pick, paid_at)| OpGen::PayPending { pick, paid_at }),
        w(noisy, 0, 2) => (org_gen(noisy), id_gen(noisy, 1, 8), ts_gen(noisy))
            .prop_map(|(org, target, paid_at)| OpGen::Pay { org, target, paid_at }),
        1 => (any::<usize>(), any::<bool>()).prop_map(|(pick, same)| OpGen::Repay { pick, same }),
        1 => register_gen(1u64..=6, noisy),
        1 => (any::<usize>(), prop::bool::weighted(if noisy { 0.5 } else { 0.0 }))
            .prop_map(|(pick, mutate)| OpGen::ReRegister { pick, mutate }),
    ]
}

fn batch_gen() -> impl Strategy<Value = Vec<OpGen>> {
    one_of![
        2 => prop::collection::vec(op_gen(false), 1..=8),
        1 => prop::collection::vec(op_gen(true), 1..=8),
    ]
}

fn step_gen() -> impl Strategy<Value = Step> {
    one_of![
        24 => batch_gen().prop_map(Step::Batch),
        3 => prop::collection::vec(batch_gen(), 2..=5).prop_map(Step::Group),
        1 => prop::sample::select(vec![1u32, 4, 16]).prop_map(Step::Reopen),
        1 => Just(Step::CheckpointCloseReopen),
        1 => Just(Step::Checkpoint),
    ]
}

fn probe_gen() -> impl Strategy<Value = Probe> {
    (
        ts_gen(false),
        prop_oneof![Just(1i64), 1i64..200_000, Just(86_400), 1i64..100_000_000],
        any::<usize>(),
        -3i32..=3,
    )
        .prop_map(|(from, len, day_pick, day_offset)| Probe {
            from,
            len,
            day_pick,
            day_offset,
        })
}

fn case_gen() -> impl Strategy<Value = Case> {
    (
        one_of![6 => Just(4u32), 1 => Just(1u32), 1 => Just(3u32), 1 => Just(16u32)],
        one_of![3 => Just(Durability::Sync), 1 => Just(Durability::Buffered)],
        one_of![3 => Just(None), 1 => (1u64..20).prop_map(Some)],
        (
            one_of![3 => Just(ORG_ID_TABLES[0]), 1 => Just(ORG_ID_TABLES[1]), 1 => Just(ORG_ID_TABLES[2])],
            prop::sample::select(vec![100u64, 1 << 63, u64::MAX - 100_000]),
        ),
        prop::collection::vec(register_gen(1u64..=6, false).prop_map(|r| vec![r]), 1..=3),
        prop::collection::vec((step_gen(), probe_gen()), 1..=60),
        prop::collection::vec(probe_gen(), 3),
    )
        .prop_map(
            |(shards, durability, eager_checkpoints, (org_ids, id_base), registers, steps, probes)| {
                let mut all: Vec<(Step, Probe)> = registers
                    .into_iter()
                    .zip(probes)
                    .map(|(r, p)| (Step::Batch(r), p))
                    .collect();
                all.extend(steps);
                Case {
                    shards,
                    durability,
                    eager_checkpoints,
                    org_ids,
                    id_base,
                    steps: all,
                }
            },
        )
}

// ---------------------------------------------------------------------------------------------
// The model
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Debug)]
struct MOrg {
    org: Org,
    tz: Tz,
}

#[derive(Clone, Debug)]
struct MEntry {
    kind: Kind,
    occurred_at: i64,
    /// Days since 1970-01-01 of `occurred_at` in the org's time zone.
    day: i32,
    amount: i64,
    category: Category,
    payment_method: PaymentMethod,
    posted_status: Option<ExpenseStatus>,
    reference: String,
    reverses: Option<u64>,
    reversed_by: Option<u64>,
    paid_at: Option<i64>,
}

#[derive(Clone, Debug, Default)]
struct Model {
    orgs: BTreeMap<u64, MOrg>,
    entries: BTreeMap<(u64, u64), MEntry>,
    lsn: u64,
}

/// A rejection without the details the model does not track (amounts, lengths, reasons).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum MRej {
    UnknownOrg(u64),
    OrgConflict(u64),
    InvalidOrg(u64),
    NonPositiveAmount(u64, u64),
    Overflow(u64),
    TimestampOutOfRange(u64, u64),
    DuplicateConflict(u64, u64),
    TextTooLong(u64, u64),
    CategoryMismatch(u64, u64),
    BadStatus(u64, u64),
    UnknownEntry(u64, u64),
    AlreadyReversed(u64, u64),
    ReversalOfReversal(u64, u64),
    NotAnExpense(u64, u64),
    AlreadyPaid(u64, u64),
    ZeroEntryId(u64),
    Other(String),
}

fn normalize(r: &Rejection) -> MRej {
    match r {
        Rejection::UnknownOrg(o) => MRej::UnknownOrg(o.0),
        Rejection::OrgConflict(o) => MRej::OrgConflict(o.0),
        Rejection::InvalidOrg { org, .. } => MRej::InvalidOrg(org.0),
        Rejection::NonPositiveAmount { org, entry, .. } => MRej::NonPositiveAmount(org.0, entry.0),
        Rejection::Overflow { org } => MRej::Overflow(org.0),
        Rejection::TimestampOutOfRange { org, entry, .. } => {
            MRej::TimestampOutOfRange(org.0, entry.0)
        }
        Rejection::DuplicateConflict { org, entry } => MRej::DuplicateConflict(org.0, entry.0),
        Rejection::TextTooLong { org, entry, .. } => MRej::TextTooLong(org.0, entry.0),
        Rejection::CategoryMismatch { org, entry, .. } => MRej::CategoryMismatch(org.0, entry.0),
        Rejection::BadStatus { org, entry, .. } => MRej::BadStatus(org.0, entry.0),
        Rejection::UnknownEntry { org, entry } => MRej::UnknownEntry(org.0, entry.0),
        Rejection::AlreadyReversed { org, entry } => MRej::AlreadyReversed(org.0, entry.0),
        Rejection::ReversalOfReversal { org, entry } => MRej::ReversalOfReversal(org.0, entry.0),
        Rejection::NotAnExpense { org, entry } => MRej::NotAnExpense(org.0, entry.0),
        Rejection::AlreadyPaid { org, entry } => MRej::AlreadyPaid(org.0, entry.0),
        Rejection::ZeroEntryId { org } => MRej::ZeroEntryId(org.0),
        other => MRej::Other(format!("{other:?}")),
    }
}

/// What one operation does to the model: `Ok(true)` changed it, `Ok(false)` was a no-op, `Err`
/// lists every rejection that would be a correct answer.
type OpOutcome = Result<bool, Vec<MRej>>;

fn in_range(ts: i64) -> bool {
    (MIN_TIMESTAMP..=MAX_TIMESTAMP).contains(&ts)
}

/// Calendar day of `ts` in `tz`, as days since 1970-01-01, computed with chrono-tz directly.
fn local_day(ts: i64, tz: Tz) -> i32 {
    let local = tz
        .timestamp_opt(ts, 0)
        .single()
        .expect("an instant has one local time");
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch");
    i32::try_from((local.date_naive() - epoch).num_days()).expect("day fits i32")
}

fn category_allowed(category: Category, kind: Kind) -> bool {
    use Category::*;
    let revenue = [Rooms, FoodBeverage, Spa, Events, Other];
    let expense = [Payroll, Supplies, Utilities, Maintenance, Marketing, Other];
    match kind {
        Kind::Revenue => revenue.contains(&category),
        Kind::Expense => expense.contains(&category),
    }
}

impl Model {
    fn apply_batch(&self, ops: &[Op]) -> Result<(Model, bool), Vec<MRej>> {
        let mut next = self.clone();
        let mut changed = false;
        for op in ops {
            changed |= next.apply_op(op)?;
        }
        if changed {
            next.lsn += 1;
        }
        Ok((next, changed))
    }

    fn apply_op(&mut self, op: &Op) -> OpOutcome {
        match op {
            Op::RegisterOrg(org) => self.register(org),
            Op::Post(e) => self.post(e),
            Op::Reverse(r) => self.reverse(r),
            Op::Pay(p) => self.pay(p),
        }
    }

    fn register(&mut self, org: &Org) -> OpOutcome {
        let id = org.id.0;
        let mut errs = Vec::new();
        if org.name.len() > MAX_ORG_NAME_BYTES
            || Tz::from_str(&org.time_zone).is_err()
            || !in_range(org.created_at)
        {
            errs.push(MRej::InvalidOrg(id));
        }
        if let Some(existing) = self.orgs.get(&id) {
            if existing.org == *org && errs.is_empty() {
                return Ok(false);
            }
            errs.push(MRej::OrgConflict(id));
        }
        if !errs.is_empty() {
            return Err(errs);
        }
        let tz = Tz::from_str(&org.time_zone).expect("checked above");
        self.orgs.insert(
            id,
            MOrg {
                org: org.clone(),
                tz,
            },
        );
        Ok(true)
    }

    fn org_tz(&self, org: OrgId) -> Result<Tz, Vec<MRej>> {
        self.orgs
            .get(&org.0)
            .map(|o| o.tz)
            .ok_or_else(|| vec![MRej::UnknownOrg(org.0)])
    }

    fn common_errors(org: u64, id: u64, ts: i64, reference: &str) -> Vec<MRej> {
        let mut errs = Vec::new();
        if id == 0 {
            errs.push(MRej::ZeroEntryId(org));
        }
        if !in_range(ts) {
            errs.push(MRej::TimestampOutOfRange(org, id));
        }
        if reference.len() > MAX_REFERENCE_BYTES {
            errs.push(MRej::TextTooLong(org, id));
        }
        errs
    }

    fn post(&mut self, e: &Entry) -> OpOutcome {
        let tz = self.org_tz(e.org)?;
        let (org, id) = (e.org.0, e.id.0);
        let mut errs = Self::common_errors(org, id, e.occurred_at, &e.reference);
        if e.amount.0 <= 0 {
            errs.push(MRej::NonPositiveAmount(org, id));
        }
        if !category_allowed(e.category, e.kind) {
            errs.push(MRej::CategoryMismatch(org, id));
        }
        let status_ok = match e.kind {
            Kind::Revenue => e.status.is_none(),
            Kind::Expense => e.status.is_some(),
        };
        if !status_ok {
            errs.push(MRej::BadStatus(org, id));
        }
        if let Some(x) = self.entries.get(&(org, id)) {
            let same = x.reverses.is_none()
                && x.kind == e.kind
                && x.occurred_at == e.occurred_at
                && x.amount == e.amount.0
                && x.category == e.category
                && x.payment_method == e.payment_method
                && x.posted_status == e.status
                && x.reference == e.reference;
            if same && errs.is_empty() {
                return Ok(false);
            }
            errs.push(MRej::DuplicateConflict(org, id));
        }
        if !errs.is_empty() {
            return Err(errs);
        }
        self.entries.insert(
            (org, id),
            MEntry {
                kind: e.kind,
                occurred_at: e.occurred_at,
                day: local_day(e.occurred_at, tz),
                amount: e.amount.0,
                category: e.category,
                payment_method: e.payment_method,
                posted_status: e.status,
                reference: e.reference.clone(),
                reverses: None,
                reversed_by: None,
                paid_at: None,
            },
        );
        self.check_overflow(org)?;
        Ok(true)
    }

    fn reverse(&mut self, r: &Reversal) -> OpOutcome {
        let tz = self.org_tz(r.org)?;
        let (org, id, target) = (r.org.0, r.id.0, r.reverses.0);
        let mut errs = Self::common_errors(org, id, r.occurred_at, &r.reference);
        if let Some(x) = self.entries.get(&(org, id)) {
            let same = x.reverses == Some(target)
                && x.occurred_at == r.occurred_at
                && x.reference == r.reference;
            if same && errs.is_empty() {
                return Ok(false);
            }
            errs.push(MRej::DuplicateConflict(org, id));
            return Err(errs);
        }
        let original = match self.entries.get(&(org, target)) {
            None => Err(MRej::UnknownEntry(org, target)),
            Some(o) if o.reverses.is_some() => Err(MRej::ReversalOfReversal(org, target)),
            Some(o) if o.reversed_by.is_some() => Err(MRej::AlreadyReversed(org, target)),
            Some(o) => Ok(o.clone()),
        };
        let original = match original {
            Ok(o) if errs.is_empty() => o,
            Ok(_) => return Err(errs),
            Err(e) => {
                errs.push(e);
                return Err(errs);
            }
        };
        self.entries.insert(
            (org, id),
            MEntry {
                kind: original.kind,
                occurred_at: r.occurred_at,
                day: local_day(r.occurred_at, tz),
                amount: original.amount,
                category: original.category,
                payment_method: original.payment_method,
                posted_status: None,
                reference: r.reference.clone(),
                reverses: Some(target),
                reversed_by: None,
                paid_at: None,
            },
        );
        self.entries
            .get_mut(&(org, target))
            .expect("original exists")
            .reversed_by = Some(id);
        self.check_overflow(org)?;
        Ok(true)
    }

    fn pay(&mut self, p: &PayExpense) -> OpOutcome {
        self.org_tz(p.org)?;
        let (org, id) = (p.org.0, p.entry.0);
        let mut errs = Self::common_errors(org, id, p.paid_at, "");
        let verdict = match self.entries.get(&(org, id)) {
            None => Err(MRej::UnknownEntry(org, id)),
            Some(x) if x.kind != Kind::Expense || x.reverses.is_some() => {
                Err(MRej::NotAnExpense(org, id))
            }
            Some(x) if x.reversed_by.is_some() => Err(MRej::AlreadyReversed(org, id)),
            Some(x) if x.paid_at == Some(p.paid_at) => Ok(false),
            Some(x) if x.paid_at.is_some() || x.posted_status == Some(ExpenseStatus::Paid) => {
                Err(MRej::AlreadyPaid(org, id))
            }
            Some(_) => Ok(true),
        };
        match verdict {
            Ok(_) if !errs.is_empty() => Err(errs),
            Ok(false) => Ok(false),
            Ok(true) => {
                self.entries
                    .get_mut(&(org, id))
                    .expect("checked above")
                    .paid_at = Some(p.paid_at);
                Ok(true)
            }
            Err(e) => {
                errs.push(e);
                Err(errs)
            }
        }
    }

    /// Gross flows of `org` must leave every running sum inside i64.
    fn check_overflow(&self, org: u64) -> Result<(), Vec<MRej>> {
        let opening = i128::from(self.orgs[&org].org.opening_balance.0);
        let (mut inflow, mut outflow) = (0i128, 0i128);
        for x in self
            .entries
            .range((org, 0)..=(org, u64::MAX))
            .map(|(_, x)| x)
        {
            let raises = (x.kind == Kind::Revenue) == x.reverses.is_none();
            if raises {
                inflow += i128::from(x.amount);
            } else {
                outflow += i128::from(x.amount);
            }
        }
        let fits = |v: i128| i64::try_from(v).is_ok();
        if fits(inflow) && fits(outflow) && fits(opening + inflow) && fits(opening - outflow) {
            Ok(())
        } else {
            Err(vec![MRej::Overflow(org)])
        }
    }

    fn org_entries(&self, org: u64) -> impl Iterator<Item = (u64, &MEntry)> {
        self.entries
            .range((org, 0)..=(org, u64::MAX))
            .map(|((_, id), x)| (*id, x))
    }

    /// Days with at least one row of `org`.
    fn touched_days(&self, org: u64) -> BTreeSet<i32> {
        self.org_entries(org).map(|(_, x)| x.day).collect()
    }

    fn ledger_entry(&self, org: u64, id: u64, x: &MEntry) -> LedgerEntry {
        let status = if x.reverses.is_some() || x.kind == Kind::Revenue {
            None
        } else if x.paid_at.is_some() {
            Some(ExpenseStatus::Paid)
        } else {
            x.posted_status
        };
        LedgerEntry {
            org: OrgId(org),
            id: EntryId(id),
            kind: x.kind,
            occurred_at: x.occurred_at,
            day: BusinessDay::from_days(x.day).expect("day"),
            amount: Money(x.amount),
            category: x.category,
            payment_method: x.payment_method,
            status,
            paid_at: x.paid_at,
            reverses: x.reverses.map(EntryId),
            reversed_by: x.reversed_by.map(EntryId),
            reference: x.reference.clone(),
        }
    }

    /// Entries of `org` with `from <= occurred_at < to`, by (occurred_at, id).
    fn listing(&self, org: u64, from: i64, to: i64) -> Vec<LedgerEntry> {
        let mut out: Vec<LedgerEntry> = self
            .org_entries(org)
            .filter(|(_, x)| from <= x.occurred_at && x.occurred_at < to)
            .map(|(id, x)| self.ledger_entry(org, id, x))
            .collect();
        out.sort_by_key(|e| (e.occurred_at, e.id));
        out
    }

    /// Per-day (revenue, expense, revenue rows, expense rows) of `org`, exact.
    fn day_totals(&self, org: u64) -> BTreeMap<i32, (i128, i128, u64, u64)> {
        let mut days: BTreeMap<i32, (i128, i128, u64, u64)> = BTreeMap::new();
        for (_, x) in self.org_entries(org) {
            let signed = if x.reverses.is_some() {
                -i128::from(x.amount)
            } else {
                i128::from(x.amount)
            };
            let row = days.entry(x.day).or_default();
            match x.kind {
                Kind::Revenue => {
                    row.0 += signed;
                    row.2 += 1;
                }
                Kind::Expense => {
                    row.1 += signed;
                    row.3 += 1;
                }
            }
        }
        days
    }

    /// Balance rows of `org` for `from..=to`.
    fn balances(&self, org: u64, from: i32, to: i32) -> Result<Vec<DayBalance>, String> {
        let totals = self.day_totals(org);
        let mut closing = i128::from(self.orgs[&org].org.opening_balance.0)
            + totals.range(..from).map(|(_, r)| r.0 - r.1).sum::<i128>();
        let fit = |v: i128, what: &str, day: i32| {
            i64::try_from(v).map_err(|_| {
                format!("model accepted a state whose {what} of org {org} on day {day} leaves i64")
            })
        };
        let mut out = Vec::new();
        for day in from..=to {
            let (rev, exp, rc, ec) = totals.get(&day).copied().unwrap_or_default();
            let opening = closing;
            closing = opening + rev - exp;
            out.push(DayBalance {
                org: OrgId(org),
                day: BusinessDay::from_days(day).expect("day"),
                opening: Money(fit(opening, "opening", day)?),
                revenue: Money(fit(rev, "revenue", day)?),
                expense: Money(fit(exp, "expense", day)?),
                closing: Money(fit(closing, "closing", day)?),
                revenue_count: rc,
                expense_count: ec,
            });
        }
        Ok(out)
    }
}

// ---------------------------------------------------------------------------------------------
// Turning generated steps into operations
// ---------------------------------------------------------------------------------------------

struct Builder {
    next_id: u64,
    salt: u64,
    org_ids: [u64; 6],
}

/// What earlier operations of the batch being built introduced.
#[derive(Default)]
struct BatchSoFar {
    ids: Vec<(u64, u64)>,
    posts: Vec<Entry>,
    reversals: Vec<Reversal>,
    pays: Vec<PayExpense>,
    orgs: Vec<Org>,
}

fn pick<T: Clone>(items: &[T], k: usize) -> Option<T> {
    (!items.is_empty()).then(|| items[k % items.len()].clone())
}

impl Builder {
    /// The org id of slot 1..=6.
    fn slot(&self, slot: u64) -> u64 {
        self.org_ids[(slot as usize - 1) % 6]
    }

    fn org_id(&self, model: &Model, so_far: &BatchSoFar, gen: OrgGen) -> u64 {
        match gen {
            OrgGen::Registered(k) => {
                let mut known: Vec<u64> = model.orgs.keys().copied().collect();
                known.extend(so_far.orgs.iter().map(|o| o.id.0));
                known.sort_unstable();
                known.dedup();
                pick(&known, k).unwrap_or(self.org_ids[0])
            }
            OrgGen::Raw(slot) => self.slot(slot),
        }
    }

    fn id(&mut self, model: &Model, so_far: &BatchSoFar, org: u64, gen: &IdGen) -> u64 {
        match *gen {
            IdGen::Fresh => {
                self.next_id += 1;
                self.next_id
            }
            IdGen::Existing(k) => {
                let mut known: Vec<u64> = model.org_entries(org).map(|(id, _)| id).collect();
                known.extend(
                    so_far
                        .ids
                        .iter()
                        .filter(|(o, _)| *o == org)
                        .map(|(_, id)| *id),
                );
                pick(&known, k).unwrap_or(1 + (k % 12) as u64)
            }
            IdGen::Small(id) => id,
            IdGen::Zero => 0,
        }
    }

    fn org(id: u64, tz: &str, opening: i64, variant: u8) -> Org {
        let name = match variant {
            1 => format!("Annex {id}"),
            2 => "n".repeat(MAX_ORG_NAME_BYTES + 1),
            _ => format!("Hotel {id}"),
        };
        let created_at = if variant == 3 { MAX_TIMESTAMP + 1 } else { 0 };
        Org::new(OrgId(id), name, Currency::EUR)
            .with_time_zone(tz)
            .with_opening_balance(Money(opening))
            .with_created_at(created_at)
    }

    fn build(&mut self, model: &Model, gens: &[OpGen]) -> Vec<Op> {
        let mut so_far = BatchSoFar::default();
        let mut ops = Vec::new();
        for gen in gens {
            self.salt += 1;
            let op = match gen {
                OpGen::Register {
                    org,
                    tz,
                    bad_tz,
                    opening,
                    variant,
                } => {
                    let zone = if *bad_tz {
                        BAD_TIME_ZONES[tz % BAD_TIME_ZONES.len()]
                    } else {
                        TIME_ZONES[*tz]
                    };
                    Some(Op::RegisterOrg(Self::org(
                        self.slot(*org),
                        zone,
                        *opening,
                        *variant,
                    )))
                }
                OpGen::ReRegister { pick: k, mutate } => {
                    let mut known: Vec<Org> = model.orgs.values().map(|o| o.org.clone()).collect();
                    known.extend(so_far.orgs.iter().cloned());
                    pick(&known, *k).map(|mut org| {
                        if *mutate {
                            match k % 3 {
                                0 => org.currency = Currency::USD,
                                1 => {
                                    org.opening_balance =
                                        Money(org.opening_balance.0.wrapping_add(1))
                                }
                                _ => org.time_zone = TIME_ZONES[(k / 3) % TIME_ZONES.len()].into(),
                            }
                        }
                        Op::RegisterOrg(org)
                    })
                }
                OpGen::Post {
                    org,
                    id,
                    revenue,
                    ts,
                    amount,
                    category,
                    bad_category,
                    payment_method,
                    status,
                    reference,
                } => {
                    let org = &self.org_id(model, &so_far, *org);
                    let id = self.id(model, &so_far, *org, id);
                    let kind = if *revenue {
                        Kind::Revenue
                    } else {
                        Kind::Expense
                    };
                    let own = if *bad_category == *revenue {
                        Kind::Expense
                    } else {
                        Kind::Revenue
                    };
                    let allowed: Vec<Category> = Category::ALL
                        .iter()
                        .copied()
                        .filter(|c| category_allowed(*c, own))
                        .filter(|c| !*bad_category || !category_allowed(*c, kind))
                        .collect();
                    let status = match status {
                        0 if *revenue => None,
                        0 => Some(if id.is_multiple_of(3) {
                            ExpenseStatus::Paid
                        } else {
                            ExpenseStatus::Pending
                        }),
                        1 => None,
                        2 => Some(ExpenseStatus::Pending),
                        _ => Some(ExpenseStatus::Paid),
                    };
                    Some(Op::Post(Entry {
                        org: OrgId(*org),
                        id: EntryId(id),
                        kind,
                        occurred_at: ts.ts(),
                        amount: Money(*amount),
                        category: allowed[category % allowed.len()],
                        payment_method: PaymentMethod::ALL[*payment_method],
                        status,
                        reference: reference_text(*reference, self.salt),
                    }))
                }
                OpGen::Repost { pick: k, mutation } => {
                    let mut known: Vec<Entry> = model
                        .entries
                        .iter()
                        .filter(|(_, x)| x.reverses.is_none())
                        .map(|((org, id), x)| Entry {
                            org: OrgId(*org),
                            id: EntryId(*id),
                            kind: x.kind,
                            occurred_at: x.occurred_at,
                            amount: Money(x.amount),
                            category: x.category,
                            payment_method: x.payment_method,
                            status: x.posted_status,
                            reference: x.reference.clone(),
                        })
                        .collect();
                    known.extend(so_far.posts.iter().cloned());
                    pick(&known, *k).map(|mut e| {
                        match mutation {
                            Mutation::Identical => {}
                            Mutation::Amount => e.amount = Money(e.amount.0.wrapping_add(1)),
                            Mutation::Time => e.occurred_at += 1,
                            Mutation::Reference => e.reference.push('!'),
                            Mutation::Status => {
                                e.status = match e.status {
                                    None => Some(ExpenseStatus::Pending),
                                    Some(ExpenseStatus::Pending) => Some(ExpenseStatus::Paid),
                                    Some(ExpenseStatus::Paid) => Some(ExpenseStatus::Pending),
                                }
                            }
                            Mutation::PaymentMethod => {
                                e.payment_method = match e.payment_method {
                                    PaymentMethod::Cash => PaymentMethod::Card,
                                    _ => PaymentMethod::Cash,
                                }
                            }
                            Mutation::Kind => {
                                e.kind = match e.kind {
                                    Kind::Revenue => Kind::Expense,
                                    Kind::Expense => Kind::Revenue,
                                };
                                e.category = Category::Other;
                                e.status = match e.kind {
                                    Kind::Revenue => None,
                                    Kind::Expense => Some(ExpenseStatus::Pending),
                                };
                            }
                        }
                        Op::Post(e)
                    })
                }
                OpGen::Reverse {
                    org,
                    id,
                    target,
                    ts,
                    reference,
                } => {
                    let org = &self.org_id(model, &so_far, *org);
                    let target = self.id(model, &so_far, *org, target);
                    let id = self.id(model, &so_far, *org, id);
                    Some(Op::Reverse(Reversal {
                        org: OrgId(*org),
                        id: EntryId(id),
                        reverses: EntryId(target),
                        occurred_at: ts.ts(),
                        reference: reference_text(*reference, self.salt),
                    }))
                }
                OpGen::Rereverse { pick: k, mutation } => {
                    let mut known: Vec<Reversal> = model
                        .entries
                        .iter()
                        .filter_map(|((org, id), x)| {
                            x.reverses.map(|target| Reversal {
                                org: OrgId(*org),
                                id: EntryId(*id),
                                reverses: EntryId(target),
                                occurred_at: x.occurred_at,
                                reference: x.reference.clone(),
                            })
                        })
                        .collect();
                    known.extend(so_far.reversals.iter().cloned());
                    pick(&known, *k).map(|mut r| {
                        match mutation {
                            0 => {}
                            1 => r.occurred_at += 1,
                            2 => r.reference.push('!'),
                            _ => r.reverses = EntryId(r.reverses.0 + 1),
                        }
                        Op::Reverse(r)
                    })
                }
                OpGen::PayPending { pick: k, paid_at } => {
                    let known: Vec<(u64, u64)> = model
                        .entries
                        .iter()
                        .filter(|(_, x)| {
                            x.kind == Kind::Expense
                                && x.reverses.is_none()
                                && x.reversed_by.is_none()
                                && x.paid_at.is_none()
                                && x.posted_status == Some(ExpenseStatus::Pending)
                        })
                        .map(|(key, _)| *key)
                        .collect();
                    pick(&known, *k).map(|(org, id)| {
                        Op::Pay(PayExpense {
                            org: OrgId(org),
                            entry: EntryId(id),
                            paid_at: paid_at.ts(),
                        })
                    })
                }
                OpGen::Pay {
                    org,
                    target,
                    paid_at,
                } => {
                    let org = &self.org_id(model, &so_far, *org);
                    let id = self.id(model, &so_far, *org, target);
                    Some(Op::Pay(PayExpense {
                        org: OrgId(*org),
                        entry: EntryId(id),
                        paid_at: paid_at.ts(),
                    }))
                }
                OpGen::Repay { pick: k, same } => {
                    let mut known: Vec<PayExpense> = model
                        .entries
                        .iter()
                        .filter_map(|((org, id), x)| {
                            x.paid_at.map(|paid_at| PayExpense {
                                org: OrgId(*org),
                                entry: EntryId(*id),
                                paid_at,
                            })
                        })
                        .collect();
                    known.extend(so_far.pays.iter().copied());
                    pick(&known, *k).map(|mut p| {
                        if !*same {
                            p.paid_at += 1 + (k % 100_000) as i64;
                        }
                        Op::Pay(p)
                    })
                }
            };
            let Some(op) = op else { continue };
            match &op {
                Op::RegisterOrg(o) => so_far.orgs.push(o.clone()),
                Op::Post(e) => {
                    so_far.ids.push((e.org.0, e.id.0));
                    so_far.posts.push(e.clone());
                }
                Op::Reverse(r) => {
                    so_far.ids.push((r.org.0, r.id.0));
                    so_far.reversals.push(r.clone());
                }
                Op::Pay(p) => so_far.pays.push(*p),
            }
            ops.push(op);
        }
        ops
    }
}

// ---------------------------------------------------------------------------------------------
// Running a case
// ---------------------------------------------------------------------------------------------

fn open(path: &Path, case: &Case, shards: u32) -> Result<Db, String> {
    let mut options = common::options(shards, case.durability);
    if let Some(ops) = case.eager_checkpoints {
        options.checkpoint_every_ops = ops;
        options.checkpoint_interval = std::time::Duration::from_millis(3);
    }
    Db::open_with(path, options).map_err(|e| format!("open failed: {e}"))
}

/// Day windows to compare for `org`: the whole touched range ±2 days when it is short enough for
/// one read, else ±2 days around every touched day (merged).
fn windows(touched: &BTreeSet<i32>, extra: i32) -> Vec<(i32, i32)> {
    let days: BTreeSet<i32> = touched.iter().copied().chain([extra]).collect();
    let (lo, hi) = (days.first().unwrap() - 2, days.last().unwrap() + 2);
    let mut out: Vec<(i32, i32)> = Vec::new();
    if hi - lo < MAX_RANGE_DAYS {
        out.push((lo, hi));
    } else {
        for d in days {
            match out.last_mut() {
                Some(last) if d - 2 <= last.1 + 1 => last.1 = d + 2,
                _ => out.push((d - 2, d + 2)),
            }
        }
    }
    out
}

/// Compares everything observable with the model.
fn compare(db: &Db, model: &Model, probe: &Probe, org_ids: &[u64; 6]) -> Result<(), String> {
    let visible = db.visible_lsn();
    if visible != Lsn(model.lsn) {
        return Err(format!(
            "visible LSN {visible:?}, model expects {}",
            model.lsn
        ));
    }
    let verified = db.verify();
    if !verified.is_ok() {
        return Err(format!("verify: {:?}", verified.problems));
    }
    let orgs = db.snapshot().orgs();
    let expected: Vec<Org> = model.orgs.values().map(|o| o.org.clone()).collect();
    if orgs != expected {
        return Err(format!("orgs: db {orgs:?}, model {expected:?}"));
    }
    for &id in org_ids {
        let org = OrgId(id);
        let Some(m) = model.orgs.get(&id) else {
            if let Some(o) = db.org(org) {
                return Err(format!(
                    "org {id} is not registered in the model, db has {o:?}"
                ));
            }
            match db.balance(org, BusinessDay::from_days(0).expect("day")) {
                Err(Error::UnknownOrg(o)) if o == org => {}
                other => return Err(format!("balance of unregistered org {id}: {other:?}")),
            }
            match db.entries(org, 0, 1) {
                Err(Error::UnknownOrg(o)) if o == org => {}
                other => return Err(format!("entries of unregistered org {id}: {other:?}")),
            }
            continue;
        };
        if db.org(org).as_ref() != Some(&m.org) {
            return Err(format!("org {id}: db {:?}, model {:?}", db.org(org), m.org));
        }
        // Listings: everything, and a random window.
        let all = db
            .entries(org, MIN_TIMESTAMP, MAX_TIMESTAMP + 1)
            .map_err(|e| format!("entries of org {id}: {e}"))?;
        let expected = model.listing(id, MIN_TIMESTAMP, MAX_TIMESTAMP + 1);
        if all != expected {
            return Err(format!(
                "entries of org {id} differ:\n db:    {all:?}\n model: {expected:?}"
            ));
        }
        let from = probe.from.ts();
        let to = from + probe.len;
        let part = db
            .entries(org, from, to)
            .map_err(|e| format!("entries of org {id} {from}..{to}: {e}"))?;
        let expected = model.listing(id, from, to);
        if part != expected {
            return Err(format!(
                "entries of org {id} in {from}..{to} differ:\n db:    {part:?}\n model: {expected:?}"
            ));
        }
        // Balance rows over the touched days.
        let touched = model.touched_days(id);
        let probe_day = local_day(probe.from.ts().clamp(MIN_TIMESTAMP, MAX_TIMESTAMP), m.tz);
        // Days exist from BusinessDay::MIN to BusinessDay::MAX: the windows stop there.
        let (first, last) = (BusinessDay::MIN.days(), BusinessDay::MAX.days());
        for (lo, hi) in windows(&touched, probe_day) {
            let (lo, hi) = (lo.max(first), hi.min(last));
            let got = db
                .balances(
                    org,
                    BusinessDay::from_days(lo).expect("day"),
                    BusinessDay::from_days(hi).expect("day"),
                )
                .map_err(|e| format!("balances of org {id} {lo}..={hi}: {e}"))?;
            let want = model.balances(id, lo, hi)?;
            if got != want {
                let diff: Vec<_> = got
                    .iter()
                    .zip(&want)
                    .filter(|(g, w)| g != w)
                    .take(3)
                    .collect();
                return Err(format!(
                    "balances of org {id} over {lo}..={hi} differ (first differing rows, db vs model): {diff:?} (lengths {} vs {})",
                    got.len(),
                    want.len()
                ));
            }
        }
        // Single days: a touched one (shifted a little) and the probe day.
        let days: Vec<i32> = touched.iter().copied().collect();
        let some_day = (pick(&days, probe.day_pick).unwrap_or(probe_day) + probe.day_offset)
            .clamp(first, last);
        for day in [some_day, probe_day] {
            let got = db
                .balance(org, BusinessDay::from_days(day).expect("day"))
                .map_err(|e| format!("balance of org {id} on {day}: {e}"))?;
            let want = model.balances(id, day, day)?[0];
            if got != want {
                return Err(format!(
                    "balance of org {id} on day {day}: db {got:?}, model {want:?}"
                ));
            }
        }
    }
    Ok(())
}

fn run_batch(db: &Db, model: &mut Model, ops: Vec<Op>) -> Result<(), String> {
    let expected = model.apply_batch(&ops);
    let got = db.record(Batch::from(ops));
    check_outcome(model, expected, got, None)
}

/// Batches submitted back to back: each is built against the model as it will be when the
/// committer validates it (after the earlier batches of the group).
fn run_group(
    db: &Db,
    model: &mut Model,
    builder: &mut Builder,
    batches: &[Vec<OpGen>],
) -> Result<(), String> {
    let mut expected_model = model.clone();
    let mut pending = Vec::new();
    for gens in batches {
        let ops = builder.build(&expected_model, gens);
        let shown = format!("{ops:?}");
        let expected = expected_model.apply_batch(&ops);
        if let Ok((next, _)) = &expected {
            expected_model = next.clone();
        }
        let ticket = db
            .submit(Batch::from(ops))
            .map_err(|e| format!("submit of {shown}: {e}"))?;
        pending.push((shown, expected, ticket));
    }
    let last = expected_model.lsn;
    for (shown, expected, ticket) in pending {
        check_outcome(model, expected, ticket.wait(), Some(last))
            .map_err(|e| format!("grouped batch {shown}: {e}"))?;
    }
    Ok(())
}

/// Compares a batch's outcome with the model's and advances the model. `group_end` is the LSN
/// after the whole group when the batch was submitted with others: a batch that changes nothing
/// may then answer with any LSN from its own position up to it.
fn check_outcome(
    model: &mut Model,
    expected: Result<(Model, bool), Vec<MRej>>,
    got: folio::Result<Lsn>,
    group_end: Option<u64>,
) -> Result<(), String> {
    let before = model.lsn;
    match (expected, got) {
        (Ok((next, changed)), Ok(lsn)) => {
            let want = if changed { before + 1 } else { before };
            let ok = match group_end {
                Some(end) if !changed => (before..=end).contains(&lsn.0),
                _ => lsn == Lsn(want),
            };
            if !ok {
                return Err(format!(
                    "accepted batch returned {lsn:?}, expected LSN {want} (changed: {changed})"
                ));
            }
            *model = next;
            Ok(())
        }
        (Err(allowed), Err(Error::Rejected(r))) => {
            let got = normalize(&r);
            if allowed.contains(&got) {
                Ok(())
            } else {
                Err(format!(
                    "rejected with {r:?}, the model expects one of {allowed:?}"
                ))
            }
        }
        (Ok(_), Err(e)) => Err(format!("db failed a batch the model accepts: {e} ({e:?})")),
        (Err(allowed), Ok(lsn)) => Err(format!(
            "db accepted (LSN {lsn:?}) a batch the model rejects with one of {allowed:?}"
        )),
        (Err(allowed), Err(e)) => Err(format!(
            "db failed with {e:?}, the model expects a rejection in {allowed:?}"
        )),
    }
}

fn run_case(case: &Case) -> Result<(), String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let path = dir.path().join("db");
    let mut db = open(&path, case, case.shards)?;
    let mut model = Model::default();
    let mut builder = Builder {
        next_id: case.id_base,
        salt: 0,
        org_ids: case.org_ids,
    };
    for (n, (step, probe)) in case.steps.iter().enumerate() {
        let context = |e: String| format!("step {n} ({step:?}): {e}");
        match step {
            Step::Batch(gens) => {
                let ops = builder.build(&model, gens);
                let shown = format!("{ops:?}");
                run_batch(&db, &mut model, ops)
                    .map_err(|e| format!("step {n}: batch {shown}: {e}"))?;
            }
            Step::Group(batches) => {
                run_group(&db, &mut model, &mut builder, batches)
                    .map_err(|e| format!("step {n}: {e}"))?;
            }
            Step::Reopen(shards) => {
                drop(db);
                db = open(&path, case, *shards).map_err(context)?;
            }
            Step::CheckpointCloseReopen => {
                db.checkpoint()
                    .map_err(|e| context(format!("checkpoint: {e}")))?;
                db.close().map_err(|e| context(format!("close: {e}")))?;
                db = open(&path, case, case.shards).map_err(context)?;
            }
            Step::Checkpoint => {
                db.checkpoint()
                    .map_err(|e| context(format!("checkpoint: {e}")))?;
            }
        }
        compare(&db, &model, probe, &case.org_ids).map_err(context)?;
    }
    // A final reopen must give identical answers.
    db.close().map_err(|e| format!("final close: {e}"))?;
    let db = open(&path, case, case.shards)?;
    let probe = &case.steps[0].1;
    compare(&db, &model, probe, &case.org_ids).map_err(|e| format!("after final reopen: {e}"))?;
    db.close().map_err(|e| format!("last close: {e}"))?;
    Ok(())
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64)
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: cases(),
        failure_persistence: None,
        max_shrink_iters: 2_000,
        max_shrink_time: 120_000,
        ..ProptestConfig::default()
    })]

    #[test]
    fn folio_matches_the_model(case in case_gen()) {
        run_case(&case).map_err(TestCaseError::fail)?;
    }
}

/// The model itself: a few fixed facts it must get right, so that a bug in the model does not
/// silently agree with a bug in Folio.
#[test]
fn model_sanity() {
    // 2024-03-10T04:30:00Z is still March 9 in New York; Chatham is 13:45 ahead in summer.
    assert_eq!(
        BusinessDay::from_days(local_day(1_710_045_000, Tz::America__New_York))
            .expect("day")
            .to_string(),
        "2024-03-09"
    );
    assert_eq!(
        BusinessDay::from_days(local_day(1_704_017_700, Tz::Pacific__Chatham))
            .expect("day")
            .to_string(),
        "2024-01-01"
    );
    assert_eq!(
        BusinessDay::from_days(local_day(1_706_725_800, Tz::Asia__Kolkata))
            .expect("day")
            .to_string(),
        "2024-02-01"
    );
    let mut m = Model::default();
    let org = Org::new(OrgId(1), "Hotel 1", Currency::EUR).with_opening_balance(Money(100));
    assert_eq!(m.register(&org), Ok(true));
    assert_eq!(m.register(&org), Ok(false));
    let e = Entry::revenue(
        OrgId(1),
        EntryId(7),
        1_704_067_200,
        Money(50),
        Category::Rooms,
        PaymentMethod::Card,
    );
    assert_eq!(m.post(&e), Ok(true));
    assert_eq!(m.post(&e), Ok(false));
    let r = Reversal {
        org: OrgId(1),
        id: EntryId(8),
        reverses: EntryId(7),
        occurred_at: 1_704_067_200 + 86_400,
        reference: String::new(),
    };
    assert_eq!(m.reverse(&r), Ok(true));
    let rows = m.balances(1, 19_722, 19_724).unwrap();
    let closings: Vec<i64> = rows.iter().map(|b| b.closing.0).collect();
    assert_eq!(closings, vec![100, 150, 100]);
    assert_eq!(rows[2].revenue, Money(-50));
    assert_eq!(rows[2].revenue_count, 1);
    let big = Entry::revenue(
        OrgId(1),
        EntryId(9),
        1_704_067_200,
        Money(i64::MAX),
        Category::Rooms,
        PaymentMethod::Card,
    );
    assert_eq!(m.clone().post(&big), Err(vec![MRej::Overflow(1)]));
}

fn ts_of(day: &str, hour: i64) -> i64 {
    BusinessDay::parse(day).unwrap().start_utc() + hour * 3600
}

/// Replays `posts` (UTC day, amount) as expenses of one UTC org, one batch each, then checks
/// every balance against the model before and after a reopen.
fn replay_expenses(posts: &[(&str, i64)]) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let case = Case {
        shards: 4,
        durability: Durability::Sync,
        eager_checkpoints: None,
        org_ids: ORG_ID_TABLES[0],
        id_base: 100,
        steps: Vec::new(),
    };
    let probe = Probe {
        from: TsGen::Anchor(0, 0),
        len: 86_400,
        day_pick: 0,
        day_offset: 0,
    };
    let mut model = Model::default();
    let db = open(&path, &case, 4).unwrap();
    let org = Org::new(OrgId(1), "Hotel 1", Currency::EUR).with_opening_balance(Money(1_000));
    run_batch(&db, &mut model, vec![Op::RegisterOrg(org)]).unwrap();
    for (i, (day, amount)) in posts.iter().enumerate() {
        let e = Entry::expense(
            OrgId(1),
            EntryId(i as u64 + 1),
            ts_of(day, 12),
            Money(*amount),
            Category::Payroll,
            PaymentMethod::Cash,
            ExpenseStatus::Pending,
        );
        run_batch(&db, &mut model, vec![Op::Post(e)])
            .unwrap_or_else(|e| panic!("posting on {day}: {e}"));
        compare(&db, &model, &probe, &case.org_ids).unwrap_or_else(|e| panic!("after {day}: {e}"));
    }
    drop(db);
    let db = open(&path, &case, 4).unwrap();
    compare(&db, &model, &probe, &case.org_ids).unwrap_or_else(|e| panic!("after reopen: {e}"));
}

/// Regression: three consecutive months grow the month Fenwick window to four months; a posting
/// back-dated before the window used to rebuild a window that did not reach it, panicking the
/// committer (`month outside the Fenwick window`), after which every call returned `Closed`.
#[test]
fn back_dated_posting_before_a_grown_month_window() {
    replay_expenses(&[
        ("2024-06-15", 100),
        ("2024-07-15", 20),
        ("2024-08-15", 3),
        ("2024-01-15", 4_000),
        ("2012-06-30", 50_000),
        ("2030-12-31", 600_000),
        ("2024-09-01", 7),
    ]);
}

/// A business day before 1900-01-01 (the first supported instant seen from New York) reads like
/// any other, through `balance` and `balances`.
#[test]
fn balance_rows_on_the_first_supported_business_day() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::open(&dir.path().join("db"));
    db.register_org(
        Org::new(OrgId(1), "Hotel 1", Currency::EUR).with_time_zone("America/New_York"),
    )
    .unwrap();
    let e = Entry::revenue(
        OrgId(1),
        EntryId(1),
        MIN_TIMESTAMP,
        Money(5),
        Category::Rooms,
        PaymentMethod::Card,
    );
    db.record(Batch::new().post(e)).unwrap();
    let day = db
        .entries(OrgId(1), MIN_TIMESTAMP, MIN_TIMESTAMP + 1)
        .unwrap()[0]
        .day;
    assert_eq!(day.to_string(), "1899-12-31");
    let one = db.balance(OrgId(1), day).unwrap();
    assert_eq!((one.opening, one.closing), (Money(0), Money(5)));
    let rows = db
        .balances(OrgId(1), day.prev().unwrap(), day.next().unwrap())
        .unwrap();
    let closings: Vec<i64> = rows.iter().map(|b| b.closing.0).collect();
    assert_eq!(closings, vec![0, 5, 5]);
    assert_eq!(rows[1], one);
}

/// The overflow rule Folio documents (`state::catalog::flows_fit`, docs/ARCHITECTURE.md): an
/// org's gross flows (Σ revenue postings + Σ expense reversals, and Σ expense postings + Σ revenue
/// reversals, each added to the opening balance) must fit in i64. That bounds every running sum
/// with one check per posting; it is stricter than necessary in one corner: reversing a posting of
/// more than i64::MAX / 2 and posting it again is rejected although no balance would leave i64.
#[test]
fn overflow_is_judged_on_gross_flows() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::open(&dir.path().join("db"));
    db.register_org(Org::new(OrgId(1), "Hotel 1", Currency::EUR))
        .unwrap();
    let big = Money(i64::MAX / 2 + 1);
    let ts = 1_704_067_200;
    let post = |id| {
        Entry::revenue(
            OrgId(1),
            EntryId(id),
            ts,
            big,
            Category::Rooms,
            PaymentMethod::Card,
        )
    };
    db.record(Batch::new().post(post(1))).unwrap();
    db.record(Batch::new().reverse(Reversal {
        org: OrgId(1),
        id: EntryId(2),
        reverses: EntryId(1),
        occurred_at: ts,
        reference: String::new(),
    }))
    .unwrap();
    // Inflow is already `big`, outflow `big`: another `big` of inflow would not fit.
    let third = db.record(Batch::new().post(post(3)));
    assert!(
        matches!(
            third,
            Err(Error::Rejected(Rejection::Overflow { org: OrgId(1) }))
        ),
        "{third:?}"
    );
    assert_eq!(
        db.balance(OrgId(1), BusinessDay::utc(ts).expect("day"))
            .unwrap()
            .closing,
        Money(0)
    );
}
