//! The `hotel-ledger-v1` event stream: parameters, the event type and the
//! generator that draws exactly ten values per event.

use super::rng::{uniform, SplitMix64};
use super::zipf::{check_orgs, Zipf};
use folio::{Category, ExpenseStatus, Kind, PaymentMethod};

/// 2024-01-01T00:00:00Z, the start of the generated history.
pub const T0: i64 = 1_704_067_200;
/// 2025-01-01T00:00:00Z, the end (exclusive) of the first generated year (of the whole history
/// when `years` is 1).
pub const T1: i64 = 1_735_689_600;
/// `T1 - T0`: 366 days in seconds, one year of history; `years` of them span
/// [`Params::span`].
pub const SPAN: i64 = T1 - T0;
/// Days in one year of history (`SPAN / DAY`).
pub const DAYS_PER_YEAR: u64 = 366;
/// The most years of history (7959): the last second of `MAX_YEARS × SPAN` from `T0`
/// (9999-07-04T23:59:59Z) is still within the engine's [`folio::MAX_TIMESTAMP`], and every
/// query instance's day, month and range stay within the engine's calendar.
pub const MAX_YEARS: u64 = ((folio::MAX_TIMESTAMP + 1 - T0) / SPAN) as u64;
/// Seconds in a day.
pub const DAY: i64 = 86_400;
/// Day number (days since 1970-01-01) of `T0`.
pub const FIRST_DAY: i32 = 19_723;
/// Largest amount the generator produces, in cents.
pub const MAX_AMOUNT: i64 = 500_000;

/// Workload parameters: seed, number of orgs `N`, number of events `E` and years of history `Y`.
/// Every seed and every `E` (0 included: an empty stream) is valid — the stream is lazy and its
/// arithmetic 128-bit; `N` must be `1..=`[`MAX_ORGS`](crate::MAX_ORGS) and `Y` `1..=`[`MAX_YEARS`] (see
/// [`Params::validate`]). `Y = 1` is the single-year stream of `hotel-ledger-v1`; a larger `Y`
/// is its multi-year variant (the same rules over `Y × 366` days).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Params {
    /// Seed of the event stream; query kind `q` uses `seed + q`.
    pub seed: u64,
    /// Number of organizations `N`; org ids are `1..=N`.
    pub orgs: u64,
    /// Number of events `E`; entry ids are `1..=E`.
    pub events: u64,
    /// Years of history `Y`: the events span `Y × 366` days from [`T0`].
    pub years: u64,
}

impl Default for Params {
    /// The reference parameters: seed 20240101, 10 000 orgs, 1 000 000 events, 1 year.
    fn default() -> Self {
        Self {
            seed: 20_240_101,
            orgs: 10_000,
            events: 1_000_000,
            years: 1,
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
    /// `orgs` exceeded [`MAX_ORGS`](crate::MAX_ORGS).
    #[error("{orgs} orgs exceed the workload limit of {max}")]
    TooManyOrgs {
        /// The requested number of orgs.
        orgs: u64,
        /// The limit, [`MAX_ORGS`](crate::MAX_ORGS).
        max: u64,
    },
    /// `years` was 0: the events would span no time.
    #[error("the workload needs at least one year of history")]
    NoYears,
    /// `years` exceeded [`MAX_YEARS`].
    #[error("{years} years of history exceed the workload limit of {max}")]
    TooManyYears {
        /// The requested number of years.
        years: u64,
        /// The limit, [`MAX_YEARS`].
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
        check_orgs(self.orgs)?;
        match self.years {
            0 => Err(ParamsError::NoYears),
            y if y > MAX_YEARS => Err(ParamsError::TooManyYears {
                years: y,
                max: MAX_YEARS,
            }),
            _ => Ok(()),
        }
    }

    /// Days of history, `366 × years` (saturating for invalid parameters).
    pub fn days(&self) -> u64 {
        DAYS_PER_YEAR.saturating_mul(self.years)
    }

    /// Seconds of history, `SPAN × years`: every event's `occurred_at` lies in
    /// `T0..T0 + span()` (saturating for invalid parameters).
    pub fn span(&self) -> i64 {
        i64::try_from(self.years)
            .unwrap_or(i64::MAX)
            .saturating_mul(SPAN)
    }

    /// The end (exclusive) of the history, `T0 + span()`: 2025-01-01T00:00:00Z ([`T1`]) for one
    /// year (saturating for invalid parameters).
    pub fn end(&self) -> i64 {
        T0.saturating_add(self.span())
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
    /// `SPAN × years` in seconds.
    span: u64,
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
        // Positive and at most MAX_YEARS × SPAN: validated above.
        let span = params.span() as u64;
        Ok(Self {
            rng: SplitMix64::new(params.seed),
            zipf: Zipf::new(params.orgs)?,
            events: params.events,
            next_index: 0,
            span,
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
        let offset = u128::from(i) * u128::from(self.span) / u128::from(self.events);
        // i < E, so offset < span and the step draw is below span too; span is at most
        // MAX_YEARS × SPAN, so T0 + both stays within the engine's timestamps.
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
    use crate::MAX_ORGS;

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
            years: 1,
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
    fn validate_rejects_bad_year_counts() {
        let mut params = Params::default();
        for years in [1, 2, MAX_YEARS] {
            params.years = years;
            assert_eq!(params.validate(), Ok(()));
        }
        params.years = 0;
        assert_eq!(params.validate(), Err(ParamsError::NoYears));
        for years in [MAX_YEARS + 1, i64::MAX as u64 + 1, u64::MAX] {
            params.years = years;
            assert_eq!(
                params.validate(),
                Err(ParamsError::TooManyYears {
                    years,
                    max: MAX_YEARS
                })
            );
            // The derived figures saturate instead of overflowing.
            assert!(params.span() > 0 && params.end() > T0 && params.days() > 0);
        }
    }

    #[test]
    fn the_span_grows_by_366_days_a_year() {
        let params = |years| Params {
            years,
            ..Params::default()
        };
        assert_eq!(
            (params(1).span(), params(1).end(), params(1).days()),
            (SPAN, T1, 366)
        );
        assert_eq!(params(3).span(), 3 * 366 * DAY);
        assert_eq!(params(3).days(), 3 * 366);
        // The largest history ends within the engine's timestamps, one more year would not.
        assert!(params(MAX_YEARS).end() - 1 <= folio::MAX_TIMESTAMP);
        assert!(params(MAX_YEARS + 1).end() - 1 > folio::MAX_TIMESTAMP);
    }

    #[test]
    fn bad_parameters_are_refused_by_the_generator() {
        let bad_orgs = [0, MAX_ORGS + 1, u64::MAX].map(|orgs| Params {
            orgs,
            ..Params::default()
        });
        let bad_years = [0, MAX_YEARS + 1, u64::MAX].map(|years| Params {
            years,
            ..Params::default()
        });
        for params in bad_orgs.into_iter().chain(bad_years) {
            assert_eq!(Generator::new(params).err(), params.validate().err());
            assert!(Generator::new(params).is_err());
        }
    }

    /// Every seed, event count and year count, the extremes included, draws events within the
    /// documented ranges: ids `1..=E`, times within the history, amounts within
    /// `100..=MAX_AMOUNT`.
    #[test]
    fn extreme_parameters_generate_valid_events() {
        for (seed, orgs, events, years) in [
            (u64::MAX, 1, u64::MAX, 1),
            (0, 100_000, u64::MAX, 1),
            (u64::MAX, 7, 1, 1),
            (0, 1, SPAN as u64 + 1, 1),
            (u64::MAX, 1, u64::MAX, MAX_YEARS),
            (0, 3, 1, MAX_YEARS),
            (0, 1, SPAN as u64 * MAX_YEARS + 1, MAX_YEARS),
        ] {
            let params = Params {
                seed,
                orgs,
                events,
                years,
            };
            for e in Generator::new(params).unwrap().take(1000) {
                assert!((1..=events).contains(&e.entry_id));
                assert!((1..=orgs).contains(&e.org_id));
                assert!((T0..params.end()).contains(&e.occurred_at), "{e:?}");
                assert!((100..=MAX_AMOUNT).contains(&e.amount));
            }
        }
    }

    /// The last events of the longest history fall in its last year and within the engine's
    /// timestamps.
    #[test]
    fn the_longest_history_ends_within_the_engine_range() {
        let params = Params {
            seed: 3,
            orgs: 10,
            // More than one event a year, so the last is in the last year.
            events: 20_000,
            years: MAX_YEARS,
        };
        let last = Generator::new(params).unwrap().last().unwrap();
        assert!(last.occurred_at >= params.end() - SPAN, "{last:?}");
        assert!(last.occurred_at < params.end());
        assert!(folio::BusinessDay::utc(last.occurred_at).is_ok());
    }
}
