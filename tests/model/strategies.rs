//! What a case is made of (steps of generated operations, read probes, the database's options)
//! and the proptest strategies that generate it.

use folio::limits::MAX_REFERENCE_BYTES;
use folio::Durability;
use folio::{MAX_TIMESTAMP, MIN_TIMESTAMP};
use proptest::prelude::*;

pub const TIME_ZONES: &[&str] = &[
    "UTC",
    "America/New_York",
    "Asia/Kolkata",
    "Pacific/Chatham",
    "Australia/Lord_Howe",
    "Pacific/Kiritimati",
];
pub const BAD_TIME_ZONES: &[&str] = &["Mars/Olympus", "utc+1"];

/// Instants near DST changes and month / year boundaries (UTC seconds).
pub const ANCHORS: &[i64] = &[
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
pub enum TsGen {
    /// An anchor plus an offset in seconds.
    Anchor(usize, i64),
    /// 0: MIN_TIMESTAMP, 1: MAX_TIMESTAMP, 2: MIN_TIMESTAMP - 1, 3: MAX_TIMESTAMP + 1.
    Extreme(u8),
}

impl TsGen {
    pub fn ts(&self) -> i64 {
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
pub enum OrgGen {
    /// The k-th registered org (recorded or earlier in the batch), else org 1.
    Registered(usize),
    /// Any small id, registered or not.
    Raw(u64),
}

#[derive(Clone, Debug)]
pub enum IdGen {
    /// An id never used before in this case.
    Fresh,
    /// The k-th id known for the org (recorded or earlier in the batch), else a small id.
    Existing(usize),
    /// A small id that may or may not exist.
    Small(u64),
    Zero,
}

#[derive(Clone, Copy, Debug)]
pub enum Mutation {
    Identical,
    Amount,
    Time,
    Reference,
    Status,
    PaymentMethod,
    Kind,
}

/// The generated fields of a posting.
#[derive(Clone, Debug)]
pub struct PostGen {
    pub org: OrgGen,
    pub id: IdGen,
    pub revenue: bool,
    pub ts: TsGen,
    pub amount: i64,
    pub category: usize,
    /// Pick a category of the other ledger.
    pub bad_category: bool,
    pub payment_method: usize,
    /// 0: the right status for the kind, 1: none, 2: pending, 3: paid.
    pub status: u8,
    pub reference: u8,
}

#[derive(Clone, Debug)]
pub enum OpGen {
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
    Post(PostGen),
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
pub enum Step {
    Batch(Vec<OpGen>),
    /// Several batches submitted without waiting, so that they share a group commit.
    Group(Vec<Vec<OpGen>>),
    /// Drop the handle and open again, asking for this shard count (an existing database keeps
    /// its own).
    Reopen(u32),
    /// `checkpoint()`, `close()`, open again.
    CheckpointCloseReopen,
    Checkpoint,
    /// `freeze(before)`: `None` for the default horizon, else the month after the anchor's.
    Freeze(Option<usize>),
}

/// Extra randomness for the reads after a step.
#[derive(Clone, Debug)]
pub struct Probe {
    pub from: TsGen,
    pub len: i64,
    pub day_pick: usize,
    pub day_offset: i32,
}

#[derive(Clone, Debug)]
pub struct Case {
    pub shards: u32,
    pub durability: Durability,
    /// Background checkpoints after this many operations (and every few milliseconds), so that
    /// they run while batches commit; `None` keeps the defaults.
    pub eager_checkpoints: Option<u64>,
    /// The org ids behind slots 1..=6: small ones, ones spread over several 64-id chunks of the
    /// store, or ones at the top of the u64 range.
    pub org_ids: [u64; 6],
    /// First fresh entry id (minus one).
    pub id_base: u64,
    pub steps: Vec<(Step, Probe)>,
}

pub const ORG_ID_TABLES: [[u64; 6]; 3] = [
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
pub fn w(noisy: bool, clean: u32, dirty: u32) -> u32 {
    if noisy {
        dirty
    } else {
        clean
    }
}

pub fn ts_gen(noisy: bool) -> impl Strategy<Value = TsGen> {
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

pub fn id_gen(noisy: bool, fresh: u32, existing: u32) -> impl Strategy<Value = IdGen> {
    one_of![
        fresh => Just(IdGen::Fresh),
        existing => any::<usize>().prop_map(IdGen::Existing),
        w(noisy, 0, 2) => (1u64..=12).prop_map(IdGen::Small),
        w(noisy, 0, 1) => Just(IdGen::Zero),
    ]
}

pub fn org_gen(noisy: bool) -> impl Strategy<Value = OrgGen> {
    one_of![
        12 => any::<usize>().prop_map(OrgGen::Registered),
        w(noisy, 0, 2) => (1u64..=6).prop_map(OrgGen::Raw),
    ]
}

pub fn amount_gen(noisy: bool) -> impl Strategy<Value = i64> {
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

pub fn opening_gen() -> impl Strategy<Value = i64> {
    one_of![
        12 => -1_000_000i64..1_000_000,
        1 => Just(i64::MIN),
        1 => Just(i64::MAX),
        1 => Just(i64::MIN / 2),
        1 => Just(i64::MAX / 2),
    ]
}

pub fn reference_gen(noisy: bool) -> impl Strategy<Value = u8> {
    one_of![
        10 => Just(0u8),
        10 => Just(1u8),
        w(noisy, 0, 2) => Just(2u8),
        1 => Just(3u8),
        w(noisy, 0, 2) => Just(4u8),
    ]
}

pub fn reference_text(kind: u8, salt: u64) -> String {
    match kind {
        0 => String::new(),
        1 => format!("INV-{salt}"),
        2 => "x".repeat(MAX_REFERENCE_BYTES + 1),
        // Exactly the limit in bytes, half of it in characters.
        3 => "é".repeat(MAX_REFERENCE_BYTES / 2),
        _ => "é".repeat(MAX_REFERENCE_BYTES / 2 + 1),
    }
}

pub fn register_gen(org: impl Strategy<Value = u64>, noisy: bool) -> impl Strategy<Value = OpGen> {
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

pub fn mutation_gen() -> impl Strategy<Value = Mutation> {
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

prop_compose! {
    fn post_gen(noisy: bool)(
        org in org_gen(noisy),
        id in id_gen(noisy, 30, w(noisy, 0, 2)),
        revenue in any::<bool>(),
        ts in ts_gen(noisy),
        amount in amount_gen(noisy),
        category in 0usize..6,
        bad_category in prop::bool::weighted(if noisy { 0.1 } else { 0.0 }),
        payment_method in 0usize..3,
        status in one_of![30 => Just(0u8), w(noisy, 0, 2) => 1u8..4],
        reference in reference_gen(noisy),
    ) -> OpGen {
        OpGen::Post(PostGen {
            org, id, revenue, ts, amount, category, bad_category, payment_method, status,
            reference,
        })
    }
}

fn reverse_gen(noisy: bool) -> impl Strategy<Value = OpGen> {
    (
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
        })
}

pub fn op_gen(noisy: bool) -> impl Strategy<Value = OpGen> {
    one_of![
        16 => post_gen(noisy),
        3 => (any::<usize>(), mutation_gen()).prop_map(|(pick, mutation)| OpGen::Repost { pick, mutation }),
        4 => reverse_gen(noisy),
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

pub fn batch_gen() -> impl Strategy<Value = Vec<OpGen>> {
    one_of![
        2 => prop::collection::vec(op_gen(false), 1..=8),
        1 => prop::collection::vec(op_gen(true), 1..=8),
    ]
}

pub fn step_gen() -> impl Strategy<Value = Step> {
    one_of![
        24 => batch_gen().prop_map(Step::Batch),
        3 => prop::collection::vec(batch_gen(), 2..=5).prop_map(Step::Group),
        1 => prop::sample::select(vec![1u32, 4, 16]).prop_map(Step::Reopen),
        1 => Just(Step::CheckpointCloseReopen),
        1 => Just(Step::Checkpoint),
        2 => prop::option::weighted(0.8, 0..ANCHORS.len()).prop_map(Step::Freeze),
    ]
}

pub fn probe_gen() -> impl Strategy<Value = Probe> {
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

pub fn case_gen() -> impl Strategy<Value = Case> {
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
