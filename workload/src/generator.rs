//! The `hotel-ledger-v1` event stream: parameters, the event type and the
//! generator that draws exactly ten values per event.

use super::rng::{uniform, SplitMix64};
use super::zipf::{Zipf, MAX_ORGS};
use folio::{Category, ExpenseStatus, Kind, PaymentMethod};

/// 2024-01-01T00:00:00Z, the start of the generated year.
pub const T0: i64 = 1_704_067_200;
/// 2025-01-01T00:00:00Z, the end (exclusive) of the generated year.
pub const T1: i64 = 1_735_689_600;
/// `T1 - T0`: 366 days in seconds.
pub const SPAN: i64 = T1 - T0;
/// Seconds in a day.
pub const DAY: i64 = 86_400;
/// Day number (days since 1970-01-01) of `T0`.
pub const FIRST_DAY: i32 = 19_723;
/// Largest amount the generator produces, in cents.
pub const MAX_AMOUNT: i64 = 500_000;

/// Workload parameters: seed, number of orgs `N` and number of events `E`. Every seed and every
/// `E` (0 included: an empty stream) is valid — the stream is lazy and its arithmetic 128-bit;
/// `N` must be `1..=`[`MAX_ORGS`] (see [`Params::validate`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Params {
    /// Seed of the event stream; query kind `q` uses `seed + q`.
    pub seed: u64,
    /// Number of organizations `N`; org ids are `1..=N`.
    pub orgs: u64,
    /// Number of events `E`; entry ids are `1..=E`.
    pub events: u64,
}

impl Default for Params {
    /// The reference parameters: seed 20240101, 10 000 orgs, 1 000 000 events.
    fn default() -> Self {
        Self {
            seed: 20_240_101,
            orgs: 10_000,
            events: 1_000_000,
        }
    }
}

/// Why a [`Params`] value cannot drive a workload.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParamsError {
    /// `orgs` was 0: there is no org to post to.
    #[error("the workload needs at least one org")]
    NoOrgs,
    /// `orgs` exceeded [`MAX_ORGS`].
    #[error("{orgs} orgs exceed the workload limit of {max}")]
    TooManyOrgs {
        /// The requested number of orgs.
        orgs: u64,
        /// The limit, [`MAX_ORGS`].
        max: u64,
    },
    /// A query kind other than 1..=5.
    #[error("query kind must be 1..=5, got {0}")]
    NoSuchQueryKind(u8),
    /// More query instances asked for at once than [`crate::MAX_INSTANCES`].
    #[error("{count} query instances exceed the limit of {max} per call")]
    TooManyInstances {
        /// The requested number of instances.
        count: usize,
        /// The limit, [`crate::MAX_INSTANCES`].
        max: usize,
    },
}

impl Params {
    /// Checks that the parameters can drive a [`Generator`] or query stream.
    pub fn validate(&self) -> Result<(), ParamsError> {
        match self.orgs {
            0 => Err(ParamsError::NoOrgs),
            n if n > MAX_ORGS => Err(ParamsError::TooManyOrgs {
                orgs: n,
                max: MAX_ORGS,
            }),
            _ => Ok(()),
        }
    }
}

/// One generated ledger entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct WorkloadEvent {
    /// `1..=E` in generation order.
    pub entry_id: u64,
    /// `1..=N`, Zipf-distributed.
    pub org_id: u64,
    /// Revenue or expense.
    pub kind: Kind,
    /// UTC epoch seconds.
    pub occurred_at: i64,
    /// Amount in cents.
    pub amount: i64,
    /// A category allowed for `kind`.
    pub category: Category,
    /// How the money moved.
    pub payment_method: PaymentMethod,
    /// `Some` exactly for expenses.
    pub status: Option<ExpenseStatus>,
}

/// Iterator over the `E` events of a workload; each event consumes ten draws.
#[derive(Clone, Debug)]
pub struct Generator {
    rng: SplitMix64,
    zipf: Zipf,
    events: u64,
    next_index: u64,
    step: u64,
}

impl Generator {
    /// The event stream for `params`.
    ///
    /// # Errors
    ///
    /// If the parameters are invalid (see [`Params::validate`]).
    pub fn new(params: Params) -> Result<Self, ParamsError> {
        params.validate()?;
        let span = SPAN as u64;
        Ok(Self {
            rng: SplitMix64::new(params.seed),
            zipf: Zipf::new(params.orgs)?,
            events: params.events,
            next_index: 0,
            step: span.checked_div(params.events).unwrap_or(0).max(1),
        })
    }

    fn draw_event(&mut self, i: u64) -> WorkloadEvent {
        let mut r = [0u64; 10];
        for slot in &mut r {
            *slot = self.rng.next_u64();
        }
        let kind = if uniform(r[1], 100) < 65 {
            Kind::Revenue
        } else {
            Kind::Expense
        };
        let status = match kind {
            Kind::Revenue => None,
            Kind::Expense if uniform(r[9], 100) < 20 => Some(ExpenseStatus::Pending),
            Kind::Expense => Some(ExpenseStatus::Paid),
        };
        WorkloadEvent {
            entry_id: i + 1,
            org_id: self.zipf.sample(r[0]),
            kind,
            occurred_at: self.occurred_at(i, r[2], r[3], r[4]),
            amount: amount(r[5], r[6]),
            category: category(kind, uniform(r[7], 100)),
            payment_method: payment_method(uniform(r[8], 100)),
            status,
        }
    }

    fn occurred_at(&self, i: u64, r2: u64, r3: u64, r4: u64) -> i64 {
        let offset = u128::from(i) * SPAN as u128 / u128::from(self.events);
        // i < E, so offset < SPAN and the step draw is below SPAN too.
        let base = T0 + offset as i64 + uniform(r2, self.step) as i64;
        if uniform(r3, 100) < 10 {
            let back = (1 + uniform(r4, 30) as i64) * DAY;
            if base - back >= T0 {
                return base - back;
            }
        }
        base
    }
}

/// Piecewise log-linear triangular amount in `100..=MAX_AMOUNT` cents.
fn amount(r5: u64, r6: u64) -> i64 {
    let t = uniform(r5, 4096) + uniform(r6, 4096);
    let s = t * 13 * 1024 / 8190;
    let (k, f) = (s >> 10, s & 1023);
    let b = 100u64 << k;
    ((b + b * f / 1024) as i64).min(MAX_AMOUNT)
}

fn category(kind: Kind, c: u64) -> Category {
    match kind {
        Kind::Revenue => match c {
            0..55 => Category::Rooms,
            55..75 => Category::FoodBeverage,
            75..83 => Category::Spa,
            83..93 => Category::Events,
            _ => Category::Other,
        },
        Kind::Expense => match c {
            0..35 => Category::Payroll,
            35..55 => Category::Supplies,
            55..70 => Category::Utilities,
            70..85 => Category::Maintenance,
            85..95 => Category::Marketing,
            _ => Category::Other,
        },
    }
}

fn payment_method(p: u64) -> PaymentMethod {
    match p {
        0..15 => PaymentMethod::Cash,
        15..75 => PaymentMethod::Card,
        _ => PaymentMethod::BankTransfer,
    }
}

impl Iterator for Generator {
    type Item = WorkloadEvent;

    #[inline]
    fn next(&mut self) -> Option<WorkloadEvent> {
        if self.next_index >= self.events {
            return None;
        }
        let i = self.next_index;
        self.next_index += 1;
        Some(self.draw_event(i))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = usize::try_from(self.events - self.next_index);
        (left.unwrap_or(usize::MAX), left.ok())
    }
}

impl std::iter::FusedIterator for Generator {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_span_the_documented_range() {
        assert_eq!(amount(0, 0), 100);
        assert_eq!(amount(u64::MAX, u64::MAX), MAX_AMOUNT);
    }

    #[test]
    fn stream_has_exactly_e_events_in_order() {
        let params = Params {
            seed: 7,
            orgs: 5,
            events: 3,
        };
        let ids: Vec<u64> = Generator::new(params)
            .unwrap()
            .map(|e| e.entry_id)
            .collect();
        assert_eq!(ids, [1, 2, 3]);
        assert_eq!(Generator::new(params).unwrap().size_hint(), (3, Some(3)));
    }

    #[test]
    fn zero_events_is_an_empty_stream() {
        let params = Params {
            events: 0,
            ..Params::default()
        };
        assert_eq!(Generator::new(params).unwrap().count(), 0);
    }

    #[test]
    fn validate_rejects_bad_org_counts() {
        let mut params = Params::default();
        assert_eq!(params.validate(), Ok(()));
        params.orgs = 0;
        assert_eq!(params.validate(), Err(ParamsError::NoOrgs));
        params.orgs = MAX_ORGS + 1;
        assert!(matches!(
            params.validate(),
            Err(ParamsError::TooManyOrgs { .. })
        ));
    }

    #[test]
    fn bad_parameters_are_refused_by_the_generator() {
        for orgs in [0, MAX_ORGS + 1, u64::MAX] {
            let params = Params {
                orgs,
                ..Params::default()
            };
            assert_eq!(Generator::new(params).err(), params.validate().err());
            assert!(Generator::new(params).is_err());
        }
    }

    /// Every seed and event count, the extremes included, draws events within the documented
    /// ranges: ids `1..=E`, times within the year, amounts within `100..=MAX_AMOUNT`.
    #[test]
    fn extreme_parameters_generate_valid_events() {
        for (seed, orgs, events) in [
            (u64::MAX, 1, u64::MAX),
            (0, 100_000, u64::MAX),
            (u64::MAX, 7, 1),
            (0, 1, SPAN as u64 + 1),
        ] {
            let params = Params { seed, orgs, events };
            for e in Generator::new(params).unwrap().take(1000) {
                assert!((1..=events).contains(&e.entry_id));
                assert!((1..=orgs).contains(&e.org_id));
                assert!((T0..T1).contains(&e.occurred_at), "{e:?}");
                assert!((100..=MAX_AMOUNT).contains(&e.amount));
            }
        }
    }
}
