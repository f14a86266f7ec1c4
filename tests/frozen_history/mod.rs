//! The random histories of the frozen-month tests (tests/freeze_bridge.rs,
//! tests/frozen_reads.rs): orgs in time zones from UTC−12 to UTC+14, postings on both sides of
//! month ends, back-dated ones, reversals, expense payments, idempotent re-sends, one busy org
//! whose ledgers get index parts; and random typed queries over one month.
#![allow(dead_code)]

use folio::{
    Batch, BusinessDay, Category, Column, Currency, Entry, EntryId, ExpenseStatus, GroupBy, Kind,
    Money, Month, Order, OrgId, PayExpense, PaymentMethod, Query, Reversal, SplitMix64,
};

pub const HOUR: i64 = 3_600;
pub const DAY: i64 = 86_400;

/// (org id, time zone, currency): both ends of the time zones, a chunk boundary of org ids.
pub const ORGS: [(u64, &str, Currency); 5] = [
    (2, "Pacific/Kiritimati", Currency::EUR),
    (5, "Etc/GMT+12", Currency::EUR),
    (9, "UTC", Currency::USD),
    (64, "America/New_York", Currency::EUR),
    (70, "Asia/Kolkata", Currency::USD),
];

pub fn month(year: i32, m: u32) -> Month {
    Month::new(year, m).unwrap()
}

/// The months postings fall in: January to April 2024, and the edges of December and May.
pub fn months() -> Vec<Month> {
    (0..6)
        .map(|i| month(2023, 12).checked_add_months(i).unwrap())
        .collect()
}

/// A posting's instant: often within 15 hours of a month end (either side), else anywhere in
/// January to April 2024.
pub fn instant(rng: &mut SplitMix64) -> i64 {
    let m = month(2024, 1)
        .checked_add_months(rng.below(4) as i64)
        .unwrap();
    if rng.below(2) == 0 {
        let edge = if rng.below(2) == 0 {
            m.start_utc()
        } else {
            m.end_utc()
        };
        edge - 15 * HOUR + rng.below(30 * HOUR as u64) as i64
    } else {
        m.start_utc() + rng.below((m.end_utc() - m.start_utc()) as u64) as i64
    }
}

pub fn pick<T: Copy>(rng: &mut SplitMix64, items: &[T]) -> T {
    items[rng.below(items.len() as u64) as usize]
}

#[derive(Clone)]
pub struct Posted {
    pub entry: Entry,
    pub reversed: bool,
    pub paid: bool,
}

pub struct Gen {
    pub rng: SplitMix64,
    pub next_id: u64,
    pub posted: Vec<Posted>,
}

impl Gen {
    pub fn id(&mut self) -> EntryId {
        self.next_id += 1 + self.rng.below(1_000);
        EntryId(self.next_id)
    }

    pub fn posting(&mut self, org: OrgId, kind: Kind, at: i64) -> Entry {
        let categories: Vec<Category> = Category::ALL
            .iter()
            .copied()
            .filter(|c| c.allowed_for(kind))
            .collect();
        let category = pick(&mut self.rng, &categories);
        let method = pick(&mut self.rng, PaymentMethod::ALL);
        let amount = Money(1 + self.rng.below(90_000) as i64);
        let id = self.id();
        let entry = match kind {
            Kind::Revenue => Entry::revenue(org, id, at, amount, category, method),
            Kind::Expense => {
                let status = if self.rng.below(3) == 0 {
                    ExpenseStatus::Paid
                } else {
                    ExpenseStatus::Pending
                };
                Entry::expense(org, id, at, amount, category, method, status)
            }
        };
        let reference = format!("ref-{}", self.rng.below(1_000));
        let entry = entry.with_reference(reference);
        self.posted.push(Posted {
            entry: entry.clone(),
            reversed: false,
            paid: false,
        });
        entry
    }

    /// One batch of 1–8 operations, each valid against what was posted before.
    pub fn batch(&mut self) -> Batch {
        let mut batch = Batch::new();
        for _ in 0..1 + self.rng.below(8) {
            let org = OrgId(pick(&mut self.rng, &ORGS).0);
            let roll = self.rng.below(20);
            let open: Vec<usize> = (0..self.posted.len())
                .filter(|i| !self.posted[*i].reversed)
                .collect();
            if roll < 2 && !open.is_empty() {
                // Reverse a posting (at any instant, before or after it).
                let i = pick(&mut self.rng, &open);
                self.posted[i].reversed = true;
                let original = &self.posted[i].entry;
                let reversal = Reversal {
                    org: original.org,
                    id: EntryId(0),
                    reverses: original.id,
                    occurred_at: instant(&mut self.rng),
                    reference: "void".into(),
                };
                let id = self.id();
                batch = batch.reverse(Reversal { id, ..reversal });
                continue;
            }
            let payable: Vec<usize> = open
                .iter()
                .copied()
                .filter(|i| {
                    let p = &self.posted[*i];
                    p.entry.status == Some(ExpenseStatus::Pending) && !p.paid
                })
                .collect();
            if roll < 5 && !payable.is_empty() {
                let i = pick(&mut self.rng, &payable);
                self.posted[i].paid = true;
                let e = &self.posted[i].entry;
                batch = batch.pay(PayExpense {
                    org: e.org,
                    entry: e.id,
                    paid_at: e.occurred_at + self.rng.below(40 * DAY as u64) as i64,
                });
                continue;
            }
            if roll < 6 && !self.posted.is_empty() {
                // An idempotent re-send.
                let i = self.rng.below(self.posted.len() as u64) as usize;
                batch = batch.post(self.posted[i].entry.clone());
                continue;
            }
            let kind = pick(&mut self.rng, &[Kind::Revenue, Kind::Expense]);
            let at = instant(&mut self.rng);
            batch = batch.post(self.posting(org, kind, at));
        }
        batch
    }

    /// Enough rows for one org in one month for its ledgers to get index parts (64 rows).
    pub fn busy(&mut self) -> Batch {
        let org = OrgId(pick(&mut self.rng, &ORGS).0);
        let m = month(2024, 1)
            .checked_add_months(self.rng.below(4) as i64)
            .unwrap();
        let mut batch = Batch::new();
        for kind in [Kind::Revenue, Kind::Expense] {
            for _ in 0..64 + self.rng.below(20) {
                let at =
                    m.start_utc() + self.rng.below((m.end_utc() - m.start_utc()) as u64) as i64;
                batch = batch.post(self.posting(org, kind, at));
            }
        }
        batch
    }
}

pub fn days_of(m: Month) -> Vec<BusinessDay> {
    let mut days = vec![m.first_day()];
    while let Some(next) = days.last().unwrap().next().filter(|d| d.month() == m) {
        days.push(next);
    }
    days
}

/// A random typed query over month `m`: tables, org or every org, a time range within the
/// month, filters, grouping or ordering, limit, projection.
pub fn random_query(rng: &mut SplitMix64, m: Month) -> Query {
    let mut q = match rng.below(3) {
        0 => Query::revenues(),
        1 => Query::expenses(),
        _ => Query::ledger(),
    };
    if rng.below(4) != 0 {
        q = q.org(OrgId(pick(rng, &ORGS).0));
    }
    let (start, end) = (m.start_utc(), m.end_utc());
    let span = (end - start) as u64;
    let (a, b) = (
        start + rng.below(span) as i64,
        start + rng.below(span) as i64,
    );
    q = match rng.below(3) {
        0 => q.between(start, end),
        _ => q.between(a.min(b), a.max(b) + 1),
    };
    if rng.below(3) == 0 {
        let days: Vec<BusinessDay> = days_of(m);
        let (x, y) = (pick(rng, &days), pick(rng, &days));
        q = q.days(x.min(y), x.max(y));
    }
    if rng.below(4) == 0 {
        q = q.category(pick(rng, Category::ALL));
    }
    if rng.below(5) == 0 {
        q = q.payment_method(pick(rng, PaymentMethod::ALL));
    }
    if rng.below(4) == 0 {
        q = q.status(pick(rng, &[ExpenseStatus::Pending, ExpenseStatus::Paid]));
    }
    if rng.below(4) == 0 {
        let at = |rng: &mut SplitMix64| Money(rng.below(50_000) as i64);
        q = match rng.below(3) {
            0 => q.amount(Some(at(rng)), None),
            1 => q.amount(None, Some(at(rng))),
            _ => q.amount(Some(Money(100)), Some(at(rng))),
        };
    }
    match rng.below(4) {
        0 => pick(
            rng,
            &[
                GroupBy::Category,
                GroupBy::PaymentMethod,
                GroupBy::Day,
                GroupBy::Month,
                GroupBy::Nothing,
            ],
        )
        .pipe(|g| q.group_by(g)),
        _ => {
            q = q.order(pick(rng, &[Order::TimeAsc, Order::TimeDesc]));
            q = q.limit(1 + rng.below(7) as usize);
            if rng.below(3) == 0 {
                q = q.select(&[Column::OccurredAt, Column::Amount, Column::Category]);
            }
            q
        }
    }
}

pub trait Pipe: Sized {
    fn pipe<T>(self, f: impl FnOnce(Self) -> T) -> T {
        f(self)
    }
}
impl<T> Pipe for T {}
