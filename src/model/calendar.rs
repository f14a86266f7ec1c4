//! Calendar units: timestamps, business days and months.

use crate::error::{Error, Result};
use chrono::{Datelike, NaiveDate, TimeZone};
use chrono_tz::Tz;
use std::fmt;

/// Seconds since 1970-01-01T00:00:00Z.
pub type Timestamp = i64;

/// Earliest supported `occurred_at`: 1900-01-01T00:00:00Z.
pub const MIN_TIMESTAMP: Timestamp = -2_208_988_800;
/// Latest supported `occurred_at`: 9999-12-30T23:59:59Z (a day of margin for any time zone).
pub const MAX_TIMESTAMP: Timestamp = 253_402_214_399;

/// Seconds in a UTC day: a timestamp's UTC day is `ts.div_euclid(SECS_PER_DAY)`.
pub const SECS_PER_DAY: i64 = 86_400;
/// Days from 0001-01-01 (chrono's day 1) to 1970-01-01.
const EPOCH_FROM_CE: i32 = 719_163;

/// Day number of [`BusinessDay::MIN`], 0001-01-01.
const MIN_DAY: i32 = -719_162;
/// Day number of [`BusinessDay::MAX`], 9999-12-31.
const MAX_DAY: i32 = 2_932_896;
/// Index of [`Month::MIN`], 0001-01.
const MIN_MONTH: i32 = 12;
/// Index of [`Month::MAX`], 9999-12.
const MAX_MONTH: i32 = 9999 * 12 + 11;

/// A calendar date, as days since 1970-01-01 (negative before): always one of
/// [`BusinessDay::MIN`]`..=`[`BusinessDay::MAX`] (0001-01-01..=9999-12-31, the four-digit years),
/// which holds the business day of every supported timestamp in every time zone
/// ([`MIN_TIMESTAMP`]`..=`[`MAX_TIMESTAMP`] fall on 1899-12-31..=9999-12-31 somewhere). Built
/// with the checked constructors ([`BusinessDay::from_days`], [`BusinessDay::from_ymd`],
/// [`BusinessDay::parse`], [`BusinessDay::utc`], [`BusinessDay::of`]); its arithmetic is checked
/// too ([`BusinessDay::next`], [`BusinessDay::checked_add_days`]), so no day number can overflow.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BusinessDay(i32);

/// A calendar month, as `year * 12 + (month - 1)`: always one of
/// [`Month::MIN`]`..=`[`Month::MAX`] (0001-01..=9999-12), the months of the business days.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month(i32);

fn out_of_range(what: &'static str, value: i64, min: i64, max: i64) -> Error {
    Error::OutOfRange {
        what,
        value,
        min,
        max,
    }
}

/// `value` as an `i32` when it lies in `min..=max`, else [`Error::OutOfRange`] naming `what`.
fn within(what: &'static str, value: i64, min: i32, max: i32) -> Result<i32> {
    match i32::try_from(value) {
        Ok(v) if (min..=max).contains(&v) => Ok(v),
        _ => Err(out_of_range(what, value, i64::from(min), i64::from(max))),
    }
}

impl BusinessDay {
    /// 0001-01-01.
    pub const MIN: BusinessDay = BusinessDay(MIN_DAY);
    /// 9999-12-31.
    pub const MAX: BusinessDay = BusinessDay(MAX_DAY);

    /// The day `days` days after 1970-01-01 (before it when negative); `Error::OutOfRange` unless
    /// it lies in [`BusinessDay::MIN`]`..=`[`BusinessDay::MAX`] (day numbers
    /// -719162..=2932896).
    ///
    /// # Errors
    /// [`crate::Error::OutOfRange`] for a value outside the supported range.
    pub fn from_days(days: i32) -> Result<BusinessDay> {
        Self::from_days_i64(i64::from(days))
    }

    fn from_days_i64(days: i64) -> Result<BusinessDay> {
        within("day number", days, MIN_DAY, MAX_DAY).map(BusinessDay)
    }

    /// Days since 1970-01-01 (negative before).
    pub fn days(self) -> i32 {
        self.0
    }

    /// The UTC calendar day of a timestamp; `Error::OutOfRange` for a timestamp whose day is not
    /// a [`BusinessDay`] (none in [`MIN_TIMESTAMP`]`..=`[`MAX_TIMESTAMP`] is out of range).
    ///
    /// # Errors
    /// [`crate::Error::OutOfRange`] for a value outside the supported range.
    pub fn utc(ts: Timestamp) -> Result<BusinessDay> {
        BusinessDay::from_days_i64(ts.div_euclid(SECS_PER_DAY)).map_err(|_| timestamp_error(ts))
    }

    /// The calendar day of `ts` in time zone `tz` (the org's business day); `Error::OutOfRange`
    /// as for [`BusinessDay::utc`].
    ///
    /// # Errors
    /// [`crate::Error::OutOfRange`] for a value outside the supported range.
    pub fn of(ts: Timestamp, tz: Tz) -> Result<BusinessDay> {
        let utc = BusinessDay::utc(ts)?;
        if tz == Tz::UTC {
            return Ok(utc);
        }
        match tz.timestamp_opt(ts, 0).single() {
            Some(local) => {
                BusinessDay::from_date(local.date_naive()).map_err(|_| timestamp_error(ts))
            }
            None => Ok(utc),
        }
    }

    /// The day of a proleptic Gregorian date; `None` for an invalid date or a year outside
    /// 1..=9999.
    pub fn from_ymd(year: i32, month: u32, day: u32) -> Option<BusinessDay> {
        NaiveDate::from_ymd_opt(year, month, day).and_then(|d| BusinessDay::from_date(d).ok())
    }

    fn from_date(date: NaiveDate) -> Result<BusinessDay> {
        BusinessDay::from_days_i64(i64::from(date.num_days_from_ce()) - i64::from(EPOCH_FROM_CE))
    }

    /// The calendar date of this day.
    pub fn date(self) -> NaiveDate {
        // Every day in range is a chrono date (chrono reaches beyond year ±262,000).
        NaiveDate::from_num_days_from_ce_opt(self.0 + EPOCH_FROM_CE).unwrap_or(NaiveDate::MIN)
    }

    /// The month this day falls in.
    pub fn month(self) -> Month {
        let (year, month, _) = civil_from_days(self.0);
        // In range: the month of a day in range is in range.
        Month(year * 12 + month as i32 - 1)
    }

    /// Day of month, 1..=31.
    pub fn day_of_month(self) -> u8 {
        civil_from_days(self.0).2 as u8
    }

    /// Parses `YYYY-MM-DD`; `None` unless it is a date of years 1..=9999.
    pub fn parse(s: &str) -> Option<BusinessDay> {
        NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .ok()
            .and_then(|d| BusinessDay::from_date(d).ok())
    }

    /// The following day; `None` after [`BusinessDay::MAX`].
    pub fn next(self) -> Option<BusinessDay> {
        self.checked_add_days(1)
    }

    /// The day before; `None` before [`BusinessDay::MIN`].
    pub fn prev(self) -> Option<BusinessDay> {
        self.checked_add_days(-1)
    }

    /// The day `days` days later (earlier when negative); `None` outside the range.
    pub fn checked_add_days(self, days: i64) -> Option<BusinessDay> {
        i64::from(self.0)
            .checked_add(days)
            .and_then(|d| BusinessDay::from_days_i64(d).ok())
    }

    /// Days from `self` to `later` (negative when `later` is earlier). Exact for every pair of
    /// days: the range spans fewer than 3.7 million days.
    pub fn days_until(self, later: BusinessDay) -> i32 {
        later.0 - self.0
    }

    /// UTC timestamp of the first second of this day (exact: a day number times 86,400 stays
    /// far inside `i64`).
    pub fn start_utc(self) -> Timestamp {
        i64::from(self.0) * SECS_PER_DAY
    }
}

/// The message of `Error::OutOfRange`: days and months written as (ISO 8601, extended beyond four
/// digits when need be) dates, other values as numbers.
pub(crate) fn out_of_range_text(what: &str, value: i64, min: i64, max: i64) -> String {
    let as_day = |v: i64| match i32::try_from(v) {
        Ok(d) => iso_date(civil_from_days(d)),
        Err(_) => v.to_string(),
    };
    let as_month = |v: i64| {
        let (year, month) = (v.div_euclid(12), v.rem_euclid(12) + 1);
        format!("{}-{month:02}", iso_year(year))
    };
    match what {
        "day number" => format!(
            "day {} is outside the supported range {}..={}",
            as_day(value),
            as_day(min),
            as_day(max)
        ),
        "month index" => format!(
            "month {} is outside the supported range {}..={}",
            as_month(value),
            as_month(min),
            as_month(max)
        ),
        "timestamp" => format!(
            "timestamp {value} is outside the supported range {min}..={max} \
             ({}T00:00:00Z..={}T23:59:59Z)",
            as_day(min.div_euclid(SECS_PER_DAY)),
            as_day(max.div_euclid(SECS_PER_DAY))
        ),
        _ => format!("{what} {value} is outside the supported range {min}..={max}"),
    }
}

/// A year as ISO 8601 writes it: four digits, or a sign and more beyond 0..=9999.
fn iso_year(year: i64) -> String {
    if (0..=9999).contains(&year) {
        format!("{year:04}")
    } else {
        format!("{year:+05}")
    }
}

fn iso_date((year, month, day): (i32, u32, u32)) -> String {
    format!("{}-{month:02}-{day:02}", iso_year(i64::from(year)))
}

fn timestamp_error(ts: Timestamp) -> Error {
    out_of_range(
        "timestamp",
        ts,
        i64::from(MIN_DAY) * SECS_PER_DAY,
        (i64::from(MAX_DAY) + 1) * SECS_PER_DAY - 1,
    )
}

/// (year, month 1..=12, day 1..=31) of a day number (days since 1970-01-01), by integer
/// arithmetic on the proleptic Gregorian calendar (H. Hinnant's `civil_from_days`). The hot path
/// needs months of every posting; this avoids a calendar library call per event. Exact for every
/// `i32` (the arithmetic is on `i64`).
fn civil_from_days(days: i32) -> (i32, u32, u32) {
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year as i32, month, day)
}

/// Days in `month` (1..=12) of `year`.
fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

impl Month {
    /// 0001-01.
    pub const MIN: Month = Month(MIN_MONTH);
    /// 9999-12.
    pub const MAX: Month = Month(MAX_MONTH);

    /// The month of index `year * 12 + (month - 1)`; `Error::OutOfRange` unless it lies in
    /// [`Month::MIN`]`..=`[`Month::MAX`] (indexes 12..=119999).
    ///
    /// # Errors
    /// [`crate::Error::OutOfRange`] for a value outside the supported range.
    pub fn from_index(index: i32) -> Result<Month> {
        Month::from_index_i64(i64::from(index))
    }

    fn from_index_i64(index: i64) -> Result<Month> {
        within("month index", index, MIN_MONTH, MAX_MONTH).map(Month)
    }

    /// `year * 12 + (month - 1)`.
    pub fn index(self) -> i32 {
        self.0
    }

    /// Month `month` (1..=12) of `year` (1..=9999); `Error::OutOfRange` otherwise.
    ///
    /// # Errors
    /// [`crate::Error::OutOfRange`] for a value outside the supported range.
    pub fn new(year: i32, month: u32) -> Result<Month> {
        if !(1..=12).contains(&month) {
            return Err(out_of_range("month number", i64::from(month), 1, 12));
        }
        if !(1..=9999).contains(&year) {
            return Err(out_of_range("year", i64::from(year), 1, 9999));
        }
        Ok(Month(year * 12 + month as i32 - 1))
    }

    /// [`Month::new`], `None` for what it refuses.
    pub fn from_ym(year: i32, month: u32) -> Option<Month> {
        Month::new(year, month).ok()
    }

    /// The year, 1..=9999.
    pub fn year(self) -> i32 {
        self.0.div_euclid(12)
    }

    /// 1..=12.
    pub fn month_number(self) -> u32 {
        self.0.rem_euclid(12) as u32 + 1
    }

    /// The month's first day.
    pub fn first_day(self) -> BusinessDay {
        BusinessDay::from_ymd(self.year(), self.month_number(), 1).unwrap_or(BusinessDay::MIN)
    }

    /// The month's last day (28th to 31st).
    pub fn last_day(self) -> BusinessDay {
        let (year, month) = (self.year(), self.month_number());
        BusinessDay::from_ymd(year, month, days_in_month(year, month)).unwrap_or(BusinessDay::MAX)
    }

    /// Days in this month, 28..=31.
    pub fn days(self) -> u32 {
        days_in_month(self.year(), self.month_number())
    }

    /// The following month; `None` after [`Month::MAX`].
    pub fn next(self) -> Option<Month> {
        self.checked_add_months(1)
    }

    /// The month before; `None` before [`Month::MIN`].
    pub fn prev(self) -> Option<Month> {
        self.checked_add_months(-1)
    }

    /// The month `months` months later (earlier when negative); `None` outside the range.
    pub fn checked_add_months(self, months: i64) -> Option<Month> {
        i64::from(self.0)
            .checked_add(months)
            .and_then(|m| Month::from_index_i64(m).ok())
    }

    /// The month of a UTC timestamp; `Error::OutOfRange` as for [`BusinessDay::utc`].
    ///
    /// # Errors
    /// [`crate::Error::OutOfRange`] for a value outside the supported range.
    pub fn of_utc(ts: Timestamp) -> Result<Month> {
        Ok(BusinessDay::utc(ts)?.month())
    }

    /// The month of a UTC timestamp, the first or last month for a timestamp before or after
    /// the range (where nothing is stored): for clamping a range that is already checked.
    pub(crate) fn of_utc_clamped(ts: Timestamp) -> Month {
        match BusinessDay::utc(ts) {
            Ok(day) => day.month(),
            Err(_) if ts < 0 => Month::MIN,
            Err(_) => Month::MAX,
        }
    }

    /// UTC timestamp of the first second of this month.
    pub fn start_utc(self) -> Timestamp {
        self.first_day().start_utc()
    }

    /// UTC timestamp of the first second after this month (exact, also for [`Month::MAX`]).
    pub fn end_utc(self) -> Timestamp {
        self.last_day().start_utc() + SECS_PER_DAY
    }
}

/// ISO 8601 `YYYY-MM-DD` (every day in range has a four-digit year).
impl fmt::Display for BusinessDay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (year, month, day) = civil_from_days(self.0);
        write!(f, "{year:04}-{month:02}-{day:02}")
    }
}

impl fmt::Display for Month {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year(), self.month_number())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(days: i32) -> BusinessDay {
        BusinessDay::from_days(days).unwrap()
    }

    #[test]
    fn utc_days_and_months() {
        assert_eq!(BusinessDay::utc(1_704_067_200).unwrap(), day(19723));
        assert_eq!(BusinessDay::utc(-1).unwrap(), day(-1));
        assert_eq!(day(19723).to_string(), "2024-01-01");
        assert_eq!(BusinessDay::parse("2024-01-01"), Some(day(19723)));
        assert_eq!(day(19723).month(), Month::new(2024, 1).unwrap());
        assert_eq!(
            Month::new(2024, 12).unwrap().next().unwrap().to_string(),
            "2025-01"
        );
        let feb = Month::of_utc(1_706_745_600).unwrap();
        assert_eq!(feb.start_utc(), 1_706_745_600);
        assert_eq!(feb.end_utc(), 1_709_251_200);
        assert_eq!(
            (feb.days(), feb.last_day().to_string().as_str()),
            (29, "2024-02-29")
        );
        assert_eq!(BusinessDay::parse("2024-02-30"), None);
    }

    #[test]
    fn integer_calendar_agrees_with_chrono() {
        for d in (MIN_DAY..=MAX_DAY).step_by(7).chain(-400..400) {
            let date = day(d).date();
            assert_eq!(
                civil_from_days(d),
                (date.year(), date.month(), date.day()),
                "day {d}"
            );
            let month = day(d).month();
            assert!(
                month.first_day() <= day(d) && day(d) <= month.last_day(),
                "day {d}"
            );
        }
    }

    #[test]
    fn business_day_follows_time_zone() {
        // 2024-03-10T04:30:00Z is still March 9 in New York.
        let ts = 1_710_045_000;
        let of = |tz| BusinessDay::of(ts, tz).unwrap().to_string();
        assert_eq!(of(Tz::UTC), "2024-03-10");
        assert_eq!(of(Tz::America__New_York), "2024-03-09");
        assert_eq!(of(Tz::Asia__Tokyo), "2024-03-10");
    }

    #[test]
    fn extreme_supported_timestamps_have_days() {
        assert_eq!(
            BusinessDay::utc(MIN_TIMESTAMP).unwrap().to_string(),
            "1900-01-01"
        );
        assert_eq!(
            BusinessDay::of(MIN_TIMESTAMP, Tz::Etc__GMTPlus12)
                .unwrap()
                .to_string(),
            "1899-12-31"
        );
        assert_eq!(
            BusinessDay::of(MAX_TIMESTAMP, Tz::Pacific__Kiritimati)
                .unwrap()
                .to_string(),
            "9999-12-31"
        );
    }

    #[test]
    fn the_range_is_the_four_digit_years() {
        assert_eq!(BusinessDay::MIN.to_string(), "0001-01-01");
        assert_eq!(BusinessDay::MAX.to_string(), "9999-12-31");
        assert_eq!(BusinessDay::from_ymd(1, 1, 1), Some(BusinessDay::MIN));
        assert_eq!(BusinessDay::from_ymd(9999, 12, 31), Some(BusinessDay::MAX));
        assert_eq!(BusinessDay::from_ymd(0, 12, 31), None);
        assert_eq!(BusinessDay::from_ymd(10_000, 1, 1), None);
        assert_eq!(BusinessDay::parse("0000-12-31"), None);
        assert_eq!(
            (Month::MIN.to_string(), Month::MAX.to_string()),
            ("0001-01".into(), "9999-12".into())
        );
        assert_eq!(BusinessDay::MIN.month(), Month::MIN);
        assert_eq!(BusinessDay::MAX.month(), Month::MAX);
        assert_eq!(Month::MIN.first_day(), BusinessDay::MIN);
        assert_eq!(Month::MAX.last_day(), BusinessDay::MAX);
        for bad in [i32::MIN, MIN_DAY - 1, MAX_DAY + 1, i32::MAX] {
            assert!(matches!(
                BusinessDay::from_days(bad),
                Err(Error::OutOfRange {
                    what: "day number",
                    ..
                })
            ));
        }
        for bad in [i32::MIN, MIN_MONTH - 1, MAX_MONTH + 1, i32::MAX] {
            assert!(matches!(
                Month::from_index(bad),
                Err(Error::OutOfRange {
                    what: "month index",
                    ..
                })
            ));
        }
        assert!(matches!(
            Month::new(i32::MAX, 12),
            Err(Error::OutOfRange { what: "year", .. })
        ));
        assert!(matches!(
            Month::new(2024, 13),
            Err(Error::OutOfRange {
                what: "month number",
                ..
            })
        ));
        for ts in [i64::MIN, i64::MAX] {
            assert!(matches!(
                BusinessDay::utc(ts),
                Err(Error::OutOfRange {
                    what: "timestamp",
                    ..
                })
            ));
            assert!(Month::of_utc(ts).is_err());
            assert!(BusinessDay::of(ts, Tz::Asia__Tokyo).is_err());
        }
        assert_eq!(Month::of_utc_clamped(i64::MIN), Month::MIN);
        assert_eq!(Month::of_utc_clamped(i64::MAX), Month::MAX);
        // Messages show dates, never raw day numbers.
        let message = |e: Error| e.to_string();
        assert_eq!(
            message(BusinessDay::from_days(i32::MAX).unwrap_err()),
            "day +5881580-07-11 is outside the supported range 0001-01-01..=9999-12-31"
        );
        assert_eq!(
            message(BusinessDay::from_days(MIN_DAY - 1).unwrap_err()),
            "day 0000-12-31 is outside the supported range 0001-01-01..=9999-12-31"
        );
        assert_eq!(
            message(Month::from_index(i32::MIN).unwrap_err()),
            "month -178956971-05 is outside the supported range 0001-01..=9999-12"
        );
        assert_eq!(
            message(BusinessDay::utc(i64::MAX).unwrap_err()),
            "timestamp 9223372036854775807 is outside the supported range \
             -62135596800..=253402300799 (0001-01-01T00:00:00Z..=9999-12-31T23:59:59Z)"
        );
        assert_eq!(
            message(Month::new(2024, 13).unwrap_err()),
            "month number 13 is outside the supported range 1..=12"
        );
    }

    #[test]
    fn arithmetic_stops_at_the_ends() {
        assert_eq!(BusinessDay::MAX.next(), None);
        assert_eq!(BusinessDay::MIN.prev(), None);
        assert_eq!(Month::MAX.next(), None);
        assert_eq!(Month::MIN.prev(), None);
        assert_eq!(BusinessDay::MIN.checked_add_days(i64::MAX), None);
        assert_eq!(BusinessDay::MAX.checked_add_days(i64::MIN), None);
        assert_eq!(Month::MIN.checked_add_months(i64::MIN), None);
        assert_eq!(day(0).next(), Some(day(1)));
        assert_eq!(day(0).prev(), Some(day(-1)));
        assert_eq!(
            BusinessDay::MIN.days_until(BusinessDay::MAX),
            MAX_DAY - MIN_DAY
        );
        assert_eq!(Month::MAX.end_utc(), BusinessDay::MAX.start_utc() + 86_400);
        assert_eq!(
            Month::new(2024, 12).unwrap().checked_add_months(2),
            Month::from_ym(2025, 2)
        );
    }
}
