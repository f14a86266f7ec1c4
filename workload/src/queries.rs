//! Query instance streams Q1–Q5 of `hotel-ledger-v1` and their JSON line form.

use serde::Deserialize;

use super::format::{excerpt, present, required, ParseError, Scalar};
use super::generator::{Params, ParamsError, DAY, FIRST_DAY, MAX_YEARS, T0};
use super::rng::{uniform, SplitMix64};
use super::zipf::Zipf;

/// One query to run, with its arguments.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum QueryInstance {
    /// Closing cash balance of `org` at the end of day number `day`.
    Q1 {
        /// Org id.
        org: u64,
        /// Day number (days since 1970-01-01).
        day: i32,
    },
    /// Monthly report of `org` for `month` (see [`calendar_month`]).
    Q2 {
        /// Org id.
        org: u64,
        /// Month number, 1..=12 × years: 1 is 2024-01, 13 is 2025-01.
        month: u32,
    },
    /// Ledger page of `org`: the 50 most recent entries with `from <= occurred_at < to`.
    Q3 {
        /// Org id.
        org: u64,
        /// Inclusive start, epoch seconds.
        from: i64,
        /// Exclusive end, epoch seconds.
        to: i64,
    },
    /// The oldest pending expenses of `org`.
    Q4 {
        /// Org id.
        org: u64,
    },
    /// Top 10 orgs by revenue in `month` (see [`calendar_month`]).
    Q5 {
        /// Month number, 1..=12 × years: 1 is 2024-01, 13 is 2025-01.
        month: u32,
    },
}

/// The largest Q2/Q5 month number: the last month of [`MAX_YEARS`] years.
pub const MAX_MONTH: u32 = 12 * MAX_YEARS as u32;

/// The calendar month of Q2/Q5 month number `m`: the `(m − 1)`-th month after 2024-01 (1 is
/// 2024-01, 12 is 2024-12, 13 is 2025-01); `None` outside `1..=`[`MAX_MONTH`].
pub fn calendar_month(m: u32) -> Option<folio::Month> {
    if !(1..=MAX_MONTH).contains(&m) {
        return None;
    }
    folio::Month::new(crate::run::WORKLOAD_YEAR, 1)
        .ok()?
        .checked_add_months(i64::from(m) - 1)
}

/// Most query instances one call of [`instances`] returns (they are held in memory).
pub const MAX_INSTANCES: usize = 1 << 24;

/// The first `count` instances of query kind `kind` (1..=5): a splitmix64
/// seeded with `params.seed + kind` (wrapping), draws in the documented order. Days, months and
/// ranges cover the `params.years` years of history.
///
/// # Errors
///
/// If `kind` is not in 1..=5, `count` exceeds [`MAX_INSTANCES`] or the parameters are invalid
/// (see [`Params::validate`]).
pub fn instances(
    kind: u8,
    params: &Params,
    count: usize,
) -> Result<Vec<QueryInstance>, ParamsError> {
    if !(1..=5).contains(&kind) {
        return Err(ParamsError::NoSuchQueryKind(kind));
    }
    if count > MAX_INSTANCES {
        return Err(ParamsError::TooManyInstances {
            count,
            max: MAX_INSTANCES,
        });
    }
    params.validate()?;
    let zipf = Zipf::new(params.orgs)?;
    // Validated: at most MAX_YEARS, so every figure below fits its type.
    let (days, months) = (params.days(), 12 * params.years);
    let mut rng = SplitMix64::new(params.seed.wrapping_add(u64::from(kind)));
    let mut next = move || rng.next_u64();
    Ok((0..count)
        .map(|_| match kind {
            1 => {
                let org = zipf.sample(next());
                QueryInstance::Q1 {
                    org,
                    day: FIRST_DAY + uniform(next(), days) as i32,
                }
            }
            2 => {
                let org = zipf.sample(next());
                QueryInstance::Q2 {
                    org,
                    month: 1 + uniform(next(), months) as u32,
                }
            }
            3 => {
                let org = zipf.sample(next());
                let from = T0 + uniform(next(), days - 29) as i64 * DAY;
                QueryInstance::Q3 {
                    org,
                    from,
                    to: from + 30 * DAY,
                }
            }
            4 => QueryInstance::Q4 {
                org: zipf.sample(next()),
            },
            _ => QueryInstance::Q5 {
                month: 1 + uniform(next(), months) as u32,
            },
        })
        .collect())
}

impl QueryInstance {
    /// The query kind, 1..=5.
    pub fn kind(&self) -> u8 {
        match self {
            Self::Q1 { .. } => 1,
            Self::Q2 { .. } => 2,
            Self::Q3 { .. } => 3,
            Self::Q4 { .. } => 4,
            Self::Q5 { .. } => 5,
        }
    }

    /// The query name, `Q1`..`Q5`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Q1 { .. } => "Q1",
            Self::Q2 { .. } => "Q2",
            Self::Q3 { .. } => "Q3",
            Self::Q4 { .. } => "Q4",
            Self::Q5 { .. } => "Q5",
        }
    }

    /// The instance as one JSON object without line end, e.g.
    /// `{"query":"Q1","org":61,"day":19828}`.
    pub fn to_json_line(&self) -> String {
        let name = self.name();
        match *self {
            Self::Q1 { org, day } => format!(r#"{{"query":"{name}","org":{org},"day":{day}}}"#),
            Self::Q2 { org, month } => {
                format!(r#"{{"query":"{name}","org":{org},"month":{month}}}"#)
            }
            Self::Q3 { org, from, to } => {
                format!(r#"{{"query":"{name}","org":{org},"from":{from},"to":{to}}}"#)
            }
            Self::Q4 { org } => format!(r#"{{"query":"{name}","org":{org}}}"#),
            Self::Q5 { month } => format!(r#"{{"query":"{name}","month":{month}}}"#),
        }
    }

    /// Parses the JSON object form written by [`QueryInstance::to_json_line`]
    /// (any key order and JSON whitespace). Each kind takes exactly its own
    /// fields; months must be `1..=`[`MAX_MONTH`].
    pub fn parse_json_line(line: &str) -> Result<QueryInstance, ParseError> {
        let body = line.trim_start_matches([' ', '\t', '\n', '\r']);
        if body.is_empty() {
            return Err(ParseError::Empty);
        }
        if !body.starts_with('{') {
            return Err(ParseError::NotAnObject);
        }
        let mut de = serde_json::Deserializer::from_str(body);
        let raw = RawQuery::deserialize(&mut de).map_err(ParseError::Json)?;
        de.end().map_err(|_| ParseError::TrailingGarbage)?;
        raw.instance()
    }
}

/// A query object as read; every field optional so each gap gets its own error.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawQuery<'a> {
    #[serde(borrow, default, deserialize_with = "present")]
    query: Option<Scalar<'a>>,
    #[serde(borrow, default, deserialize_with = "present")]
    org: Option<Scalar<'a>>,
    #[serde(borrow, default, deserialize_with = "present")]
    day: Option<Scalar<'a>>,
    #[serde(borrow, default, deserialize_with = "present")]
    month: Option<Scalar<'a>>,
    #[serde(borrow, default, deserialize_with = "present")]
    from: Option<Scalar<'a>>,
    #[serde(borrow, default, deserialize_with = "present")]
    to: Option<Scalar<'a>>,
}

impl RawQuery<'_> {
    fn instance(&self) -> Result<QueryInstance, ParseError> {
        let name = required("query", &self.query)?.text("query")?;
        let (query, fields): (&'static str, &[&'static str]) = match name {
            "Q1" => ("Q1", &["org", "day"]),
            "Q2" => ("Q2", &["org", "month"]),
            "Q3" => ("Q3", &["org", "from", "to"]),
            "Q4" => ("Q4", &["org"]),
            "Q5" => ("Q5", &["month"]),
            other => return Err(ParseError::UnknownQuery(excerpt(other))),
        };
        for (field, value) in self.optional_fields() {
            if value.is_some() && !fields.contains(&field) {
                return Err(ParseError::UnexpectedField { field, query });
            }
        }
        Ok(match query {
            "Q1" => QueryInstance::Q1 {
                org: self.org()?,
                day: self.int(
                    "day",
                    &self.day,
                    i32::MIN.into()..=i32::MAX.into(),
                    "a 32-bit day number",
                )? as i32,
            },
            "Q2" => QueryInstance::Q2 {
                org: self.org()?,
                month: self.month()?,
            },
            "Q3" => QueryInstance::Q3 {
                org: self.org()?,
                from: self.timestamp("from", &self.from)?,
                to: self.timestamp("to", &self.to)?,
            },
            "Q4" => QueryInstance::Q4 { org: self.org()? },
            _ => QueryInstance::Q5 {
                month: self.month()?,
            },
        })
    }

    fn optional_fields(&self) -> [(&'static str, &Option<Scalar<'_>>); 5] {
        [
            ("org", &self.org),
            ("day", &self.day),
            ("month", &self.month),
            ("from", &self.from),
            ("to", &self.to),
        ]
    }

    fn int(
        &self,
        field: &'static str,
        value: &Option<Scalar<'_>>,
        range: std::ops::RangeInclusive<i128>,
        expected: &'static str,
    ) -> Result<i128, ParseError> {
        required(field, value)?.integer_in(field, range, expected)
    }

    fn org(&self) -> Result<u64, ParseError> {
        let n = self.int(
            "org",
            &self.org,
            0..=u64::MAX.into(),
            "an unsigned 64-bit integer",
        )?;
        Ok(n as u64)
    }

    fn month(&self) -> Result<u32, ParseError> {
        // The number in the message below.
        const _: () = assert!(MAX_MONTH == 95_508);
        Ok(self.int(
            "month",
            &self.month,
            1..=MAX_MONTH.into(),
            "a month number 1..=95508",
        )? as u32)
    }

    fn timestamp(
        &self,
        field: &'static str,
        value: &Option<Scalar<'_>>,
    ) -> Result<i64, ParseError> {
        let n = self.int(
            field,
            value,
            i64::MIN.into()..=i64::MAX.into(),
            "a signed 64-bit integer",
        )?;
        Ok(n as i64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::generator::T1;

    /// The smallest and largest day, month and Q3 start of `count` instances of each kind.
    fn extremes(params: &Params, count: usize) -> [(i64, i64); 3] {
        let mut out = [(i64::MAX, i64::MIN); 3];
        let mut see = |i: usize, v: i64| out[i] = (out[i].0.min(v), out[i].1.max(v));
        for kind in 1..=5 {
            let a = instances(kind, params, count).unwrap();
            assert_eq!(a, instances(kind, params, count).unwrap());
            assert_eq!(a.len(), count);
            for q in &a {
                assert_eq!(q.kind(), kind);
                match *q {
                    QueryInstance::Q1 { org, day } => {
                        assert!((1..=params.orgs).contains(&org));
                        see(0, day.into());
                    }
                    QueryInstance::Q2 { month, .. } | QueryInstance::Q5 { month } => {
                        see(1, month.into());
                    }
                    QueryInstance::Q3 { from, to, .. } => {
                        assert_eq!((from - T0) % DAY, 0);
                        assert_eq!(to - from, 30 * DAY);
                        see(2, from);
                    }
                    QueryInstance::Q4 { org } => assert!((1..=params.orgs).contains(&org)),
                }
            }
        }
        out
    }

    #[test]
    fn instances_are_deterministic_and_in_range() {
        let [days, months, froms] = extremes(&Params::default(), 2000);
        let first = i64::from(FIRST_DAY);
        assert!(days.0 >= first && days.1 < first + 366, "{days:?}");
        assert_eq!(months, (1, 12));
        assert!(froms.0 >= T0 && froms.1 + 30 * DAY <= T1, "{froms:?}");
    }

    /// With `years = Y` the days, months and Q3 ranges cover the whole `Y × 366` days (the
    /// bounds are reached) and stay inside them.
    #[test]
    fn instances_scale_with_the_years() {
        for years in [2, 5] {
            let params = Params {
                orgs: 50,
                years,
                ..Params::default()
            };
            let [days, months, froms] = extremes(&params, 20_000);
            let first = i64::from(FIRST_DAY);
            let (n_days, n_months) = (366 * years as i64, 12 * years as i64);
            assert!(days.0 >= first && days.1 < first + n_days, "{days:?}");
            assert!(
                days.0 < first + 5 && days.1 >= first + n_days - 5,
                "{days:?}"
            );
            assert!(months.0 >= 1 && months.1 <= n_months, "{months:?}");
            assert!(months.0 == 1 && months.1 == n_months, "{months:?}");
            assert!(froms.0 >= T0 && froms.1 + 30 * DAY <= params.end());
            assert!(froms.0 < T0 + 5 * DAY && froms.1 + 30 * DAY > params.end() - 5 * DAY);
        }
        // The largest history: every instance still names a day, month and range the engine
        // holds.
        let params = Params {
            orgs: 5,
            years: MAX_YEARS,
            ..Params::default()
        };
        let [days, months, froms] = extremes(&params, 5000);
        assert!(folio::BusinessDay::from_days(days.1 as i32).is_ok());
        assert!(months.1 <= i64::from(MAX_MONTH));
        assert!(froms.1 + 30 * DAY - 1 <= folio::MAX_TIMESTAMP);
    }

    #[test]
    fn month_numbers_count_calendar_months_from_2024_01() {
        let ym = |m| calendar_month(m).map(|c| (c.year(), c.month_number()));
        assert_eq!(ym(1), Some((2024, 1)));
        assert_eq!(ym(12), Some((2024, 12)));
        assert_eq!(ym(13), Some((2025, 1)));
        assert_eq!(ym(26), Some((2026, 2)));
        assert_eq!(ym(MAX_MONTH), Some((2023 + MAX_YEARS as i32, 12)));
        assert_eq!(ym(0), None);
        assert_eq!(ym(MAX_MONTH + 1), None);
        assert_eq!(ym(u32::MAX), None);
    }

    #[test]
    fn first_instance_uses_seed_plus_kind() {
        let params = Params::default();
        let mut rng = SplitMix64::new(params.seed + 4);
        let org = Zipf::new(params.orgs).unwrap().sample(rng.next_u64());
        assert_eq!(
            instances(4, &params, 1).unwrap(),
            [QueryInstance::Q4 { org }]
        );
    }

    #[test]
    fn bad_arguments_are_refused() {
        let params = Params::default();
        for kind in [0, 6, u8::MAX] {
            assert_eq!(
                instances(kind, &params, 1),
                Err(ParamsError::NoSuchQueryKind(kind))
            );
        }
        assert!(matches!(
            instances(1, &params, usize::MAX),
            Err(ParamsError::TooManyInstances { .. })
        ));
        let no_orgs = Params { orgs: 0, ..params };
        assert_eq!(instances(1, &no_orgs, 1), Err(ParamsError::NoOrgs));
        let no_years = Params { years: 0, ..params };
        assert_eq!(instances(1, &no_years, 1), Err(ParamsError::NoYears));
        let too_many_years = Params {
            years: MAX_YEARS + 1,
            ..params
        };
        assert!(matches!(
            instances(5, &too_many_years, 1),
            Err(ParamsError::TooManyYears { .. })
        ));
        assert_eq!(instances(1, &params, 0), Ok(Vec::new()));
    }
}
