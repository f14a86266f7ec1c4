//! Calendar units: timestamps, business days and months.

use chrono::{Datelike, NaiveDate, TimeZone};
use chrono_tz::Tz;
use std::fmt;

/// Seconds since 1970-01-01T00:00:00Z.
pub type Timestamp = i64;

/// Earliest supported `occurred_at`: 1900-01-01T00:00:00Z.
pub const MIN_TIMESTAMP: Timestamp = -2_208_988_800;
/// Latest supported `occurred_at`: 9999-12-30T23:59:59Z (a day of margin for any time zone).
pub const MAX_TIMESTAMP: Timestamp = 253_402_214_399;

const SECS_PER_DAY: i64 = 86_400;
/// Days from 0001-01-01 (chrono's day 1) to 1970-01-01.
const EPOCH_FROM_CE: i32 = 719_163;

/// A calendar date, as days since 1970-01-01 (negative before).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BusinessDay(pub i32);

/// A calendar month, as `year * 12 + (month - 1)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month(pub i32);

impl BusinessDay {
    /// The UTC calendar day of a timestamp.
    pub fn utc(ts: Timestamp) -> BusinessDay {
        BusinessDay(ts.div_euclid(SECS_PER_DAY) as i32)
    }

    /// The calendar day of `ts` in time zone `tz` (the org's business day).
    pub fn of(ts: Timestamp, tz: Tz) -> BusinessDay {
        if tz == Tz::UTC {
            return BusinessDay::utc(ts);
        }
        match tz.timestamp_opt(ts, 0).single() {
            Some(local) => BusinessDay::from_date(local.date_naive()),
            None => BusinessDay::utc(ts),
        }
    }

    /// The date `year-month-day`; `None` for a date that does not exist.
    pub fn from_ymd(year: i32, month: u32, day: u32) -> Option<BusinessDay> {
        NaiveDate::from_ymd_opt(year, month, day).map(BusinessDay::from_date)
    }

    fn from_date(date: NaiveDate) -> BusinessDay {
        BusinessDay(date.num_days_from_ce() - EPOCH_FROM_CE)
    }

    /// The date as a `chrono` date (chrono's minimum date for a day outside its range).
    pub fn date(self) -> NaiveDate {
        NaiveDate::from_num_days_from_ce_opt(self.0 + EPOCH_FROM_CE).unwrap_or(NaiveDate::MIN)
    }

    /// The calendar month the day is in.
    pub fn month(self) -> Month {
        let (year, month, _) = civil_from_days(self.0);
        Month(year * 12 + month as i32 - 1)
    }

    /// Day of month, 1..=31.
    pub fn day_of_month(self) -> u8 {
        civil_from_days(self.0).2 as u8
    }

    /// Parses `YYYY-MM-DD`.
    pub fn parse(s: &str) -> Option<BusinessDay> {
        NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .ok()
            .map(BusinessDay::from_date)
    }

    /// The day after.
    pub fn next(self) -> BusinessDay {
        BusinessDay(self.0 + 1)
    }
}

/// (year, month 1..=12, day 1..=31) of a day number (days since 1970-01-01), by integer
/// arithmetic on the proleptic Gregorian calendar (H. Hinnant's `civil_from_days`). The hot path
/// needs months of every posting; this avoids a calendar library call per event.
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

impl Month {
    /// The month `month` (1..=12) of `year`; `None` for another month number.
    pub fn from_ym(year: i32, month: u32) -> Option<Month> {
        (1..=12)
            .contains(&month)
            .then(|| Month(year * 12 + month as i32 - 1))
    }

    /// The year.
    pub fn year(self) -> i32 {
        self.0.div_euclid(12)
    }

    /// 1..=12.
    pub fn month_number(self) -> u32 {
        self.0.rem_euclid(12) as u32 + 1
    }

    /// The month's first day.
    pub fn first_day(self) -> BusinessDay {
        BusinessDay::from_ymd(self.year(), self.month_number(), 1).unwrap_or(BusinessDay(0))
    }

    /// The month after.
    pub fn next(self) -> Month {
        Month(self.0 + 1)
    }

    /// The month of a UTC timestamp.
    pub fn of_utc(ts: Timestamp) -> Month {
        BusinessDay::utc(ts).month()
    }

    /// UTC timestamp of the first second of this month.
    pub fn start_utc(self) -> Timestamp {
        self.first_day().0 as i64 * SECS_PER_DAY
    }
}

/// ISO 8601 `YYYY-MM-DD` for every day number, even one outside chrono's range (years beyond
/// four digits get a sign, as ISO 8601 extends them), so no message ever shows a raw day number.
impl fmt::Display for BusinessDay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (year, month, day) = civil_from_days(self.0);
        if (0..=9999).contains(&year) {
            write!(f, "{year:04}-{month:02}-{day:02}")
        } else {
            write!(f, "{year:+05}-{month:02}-{day:02}")
        }
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

    #[test]
    fn utc_days_and_months() {
        assert_eq!(BusinessDay::utc(1_704_067_200), BusinessDay(19723));
        assert_eq!(BusinessDay::utc(-1), BusinessDay(-1));
        assert_eq!(BusinessDay(19723).to_string(), "2024-01-01");
        assert_eq!(BusinessDay::parse("2024-01-01"), Some(BusinessDay(19723)));
        assert_eq!(BusinessDay(19723).month(), Month::from_ym(2024, 1).unwrap());
        assert_eq!(
            Month::from_ym(2024, 12).unwrap().next().to_string(),
            "2025-01"
        );
        assert_eq!(Month::of_utc(1_706_745_600).start_utc(), 1_706_745_600);
        assert_eq!(BusinessDay::parse("2024-02-30"), None);
    }

    #[test]
    fn integer_calendar_agrees_with_chrono() {
        for d in (-800_000..3_000_000).step_by(7).chain(-400..400) {
            let date = BusinessDay(d).date();
            assert_eq!(
                civil_from_days(d),
                (date.year(), date.month(), date.day()),
                "day {d}"
            );
        }
    }

    #[test]
    fn business_day_follows_time_zone() {
        // 2024-03-10T04:30:00Z is still March 9 in New York.
        let ts = 1_710_045_000;
        assert_eq!(BusinessDay::of(ts, Tz::UTC).to_string(), "2024-03-10");
        assert_eq!(
            BusinessDay::of(ts, Tz::America__New_York).to_string(),
            "2024-03-09"
        );
        assert_eq!(
            BusinessDay::of(ts, Tz::Asia__Tokyo).to_string(),
            "2024-03-10"
        );
    }

    #[test]
    fn extreme_supported_timestamps_have_days() {
        assert_eq!(BusinessDay::utc(MIN_TIMESTAMP).to_string(), "1900-01-01");
        assert_eq!(
            BusinessDay::of(MAX_TIMESTAMP, Tz::Pacific__Kiritimati).to_string(),
            "9999-12-31"
        );
    }

    #[test]
    fn every_day_number_displays_as_a_date() {
        // Outside chrono's range the day used to print as chrono's minimum date.
        assert_eq!(BusinessDay(i32::MAX).to_string(), "+5881580-07-11");
        assert_eq!(BusinessDay(i32::MIN).to_string(), "-5877641-06-23");
        assert_eq!(BusinessDay(-719_162).to_string(), "0001-01-01");
        assert_eq!(BusinessDay(-719_163).to_string(), "0000-12-31");
        assert_eq!(BusinessDay(-719_529).to_string(), "-0001-12-31");
    }
}
