//! What parent and child share: the test's orgs, its random numbers, and the lines the child
//! prints (`TRY <ops>`, `ACK <lsn> <n_ops> <signed sum>`, `READY`, `CKPT`).

use folio::{
    Category, Currency, Entry, EntryId, ExpenseStatus, Kind, Money, Op, Org, OrgId, PayExpense,
    PaymentMethod, Reversal,
};

/// 2024-01-01T00:00:00Z: the child's clock starts here and moves forward with rounds.
pub const BASE_TS: i64 = 1_704_067_200;
pub const DAY: i64 = 86_400;
/// Wide enough for every timestamp the child produces (2022-2026).
pub const LIST_FROM: i64 = 1_600_000_000;
pub const LIST_TO: i64 = 1_800_000_000;

/// Orgs of the test: id, name, IANA time zone, opening balance.
pub const ORGS: [(u64, &str, &str, i64); 5] = [
    (1, "Utc Plaza", "UTC", 0),
    (2, "Hudson Lodge", "America/New_York", 1_250_000),
    (3, "Kerala Backwaters", "Asia/Kolkata", -40_000),
    (4, "Line Islands Resort", "Pacific/Kiritimati", 7),
    (5, "Signal Hill Inn", "America/St_Johns", 99_999),
];

pub fn orgs() -> Vec<Org> {
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
pub struct Rng(folio::SplitMix64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(folio::SplitMix64::new(seed ^ 0x5DEE_CE66_D1CE_4E5B))
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo + 1) as u64) as i64
    }

    /// True with probability `percent` / 100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

pub fn mix(a: u64, b: u64) -> u64 {
    Rng::new(a ^ b.wrapping_mul(0x9E37_79B9_7F4A_7C15)).next_u64()
}

/// A posting of a test batch (its reference is [`reference_for`] its id).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Posting {
    pub org: u64,
    pub id: u64,
    pub kind: Kind,
    pub ts: i64,
    pub amount: i64,
    pub category: Category,
    pub method: PaymentMethod,
    pub status: Option<ExpenseStatus>,
}

/// One operation of a test batch, printable on one line and parsed back by the parent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TOp {
    Post(Posting),
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
pub fn reference_for(id: u64) -> String {
    match id % 4 {
        0 => String::new(),
        1 => format!("folio #{id}"),
        2 => format!("INV-{id:x}/ü"),
        _ => "x".repeat((id % 97) as usize),
    }
}

impl TOp {
    /// The (org, entry id) the operation names.
    pub fn key(&self) -> (u64, u64) {
        match *self {
            TOp::Post(Posting { org, id, .. })
            | TOp::Reverse { org, id, .. }
            | TOp::Pay { org, id, .. } => (org, id),
        }
    }

    pub fn encode(&self) -> String {
        match self {
            TOp::Post(p) => format!(
                "P,{},{},{},{},{},{},{},{}",
                p.org,
                p.id,
                p.kind.code(),
                p.ts,
                p.amount,
                p.category.code(),
                p.method.code(),
                p.status.map_or(0, |s| s.code())
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

    pub fn decode(token: &str) -> Option<TOp> {
        let f: Vec<&str> = token.split(',').collect();
        let u = |i: usize| f.get(i)?.parse::<u64>().ok();
        let i = |i: usize| f.get(i)?.parse::<i64>().ok();
        let b = |i: usize| f.get(i)?.parse::<u8>().ok();
        match *f.first()? {
            "P" if f.len() == 9 => Some(TOp::Post(Posting {
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
            })),
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

    pub fn to_op(&self) -> Op {
        match *self {
            TOp::Post(ref p) => {
                let (org, id, amount) = (OrgId(p.org), EntryId(p.id), Money(p.amount));
                let entry = match p.kind {
                    Kind::Revenue => Entry::revenue(org, id, p.ts, amount, p.category, p.method),
                    Kind::Expense => {
                        let status = p.status.unwrap_or(ExpenseStatus::Pending);
                        Entry::expense(org, id, p.ts, amount, p.category, p.method, status)
                    }
                };
                Op::Post(entry.with_reference(reference_for(p.id)))
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

pub fn signed(kind: Kind, amount: i64) -> i64 {
    match kind {
        Kind::Revenue => amount,
        Kind::Expense => -amount,
    }
}

/// One parsed line of the child.
pub enum Line {
    TryOrgs,
    AckOrgs(u64),
    Ready,
    Try(Vec<TOp>),
    Ack { lsn: u64, n: usize, sum: i64 },
    Ckpt,
}

pub fn parse_line(line: &str) -> Option<Line> {
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
