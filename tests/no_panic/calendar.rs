//! The calendar types under test: every constructor and operation, with arbitrary input.

use folio::{BusinessDay, Error, Month};
use folio::{MAX_TIMESTAMP, MIN_TIMESTAMP};

/// The day a day number names, if it is one: out of range is a typed error.
pub fn day(days: i32) -> Option<BusinessDay> {
    match BusinessDay::from_days(days) {
        Ok(day) => {
            assert_eq!(day.days(), days);
            Some(day)
        }
        Err(e) => {
            assert!(matches!(e, Error::OutOfRange { .. }), "{e:?}");
            assert!(days < BusinessDay::MIN.days() || days > BusinessDay::MAX.days());
            None
        }
    }
}

/// The month a month index (`year * 12 + month - 1`) names, if it is one.
pub fn month(index: i32) -> Option<Month> {
    match Month::from_index(index) {
        Ok(month) => {
            assert_eq!(month.index(), index);
            Some(month)
        }
        Err(e) => {
            assert!(matches!(e, Error::OutOfRange { .. }), "{e:?}");
            assert!(index < Month::MIN.index() || index > Month::MAX.index());
            None
        }
    }
}

/// Every calendar constructor and operation, with arbitrary input; what comes out is in range.
pub fn calendar_calls(days: i32, index: i32, ts: i64, year: i32, number: u32, text: &str) {
    let in_range = |d: BusinessDay| BusinessDay::MIN <= d && d <= BusinessDay::MAX;
    if let Some(d) = day(days) {
        for next in [d.next(), d.prev(), d.checked_add_days(i64::from(days))]
            .into_iter()
            .flatten()
        {
            assert!(in_range(next));
        }
        let _ = (d.month(), d.day_of_month(), d.date(), d.start_utc());
        assert_eq!(d.to_string().len(), 10);
        assert_eq!(
            BusinessDay::MIN.days_until(d) + d.days_until(BusinessDay::MAX),
            BusinessDay::MAX.days() - BusinessDay::MIN.days()
        );
    }
    let days_of_ts = [
        BusinessDay::utc(ts),
        BusinessDay::of(ts, chrono_tz::Tz::Pacific__Kiritimati),
        BusinessDay::of(ts, chrono_tz::Tz::Etc__GMTPlus12),
    ];
    for d in days_of_ts {
        match d {
            Ok(d) => assert!(in_range(d)),
            Err(e) => assert!(matches!(e, Error::OutOfRange { .. }), "{e:?}"),
        }
    }
    if (MIN_TIMESTAMP..=MAX_TIMESTAMP).contains(&ts) {
        assert!(BusinessDay::of(ts, chrono_tz::Tz::Pacific__Kiritimati).is_ok());
        assert!(BusinessDay::of(ts, chrono_tz::Tz::Etc__GMTPlus12).is_ok());
    }
    for d in [
        BusinessDay::from_ymd(year, number, 1),
        BusinessDay::parse(text),
    ]
    .into_iter()
    .flatten()
    {
        assert!(in_range(d));
    }
    if let Some(m) = month(index) {
        for next in [m.next(), m.prev(), m.checked_add_months(i64::from(index))]
            .into_iter()
            .flatten()
        {
            assert!(Month::MIN <= next && next <= Month::MAX);
        }
        assert!(m.first_day() <= m.last_day());
        assert!(m.start_utc() < m.end_utc());
        assert_eq!(i64::from(m.days()) * 86_400, m.end_utc() - m.start_utc());
        let _ = (m.year(), m.month_number(), m.to_string());
    }
    let _ = (Month::of_utc(ts), Month::from_ym(year, number));
    match Month::new(year, number) {
        Ok(m) => assert_eq!((m.year(), m.month_number()), (year, number)),
        Err(e) => assert!(matches!(e, Error::OutOfRange { .. }), "{e:?}"),
    }
}
