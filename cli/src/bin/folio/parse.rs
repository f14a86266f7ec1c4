//! Argument values: dates, timestamps, months, currencies and names, with the errors that say
//! what was expected.

use folio::{BusinessDay, Currency};
use folio_cli::Error;

pub fn day_arg(s: &str) -> Result<BusinessDay, Error> {
    BusinessDay::parse(s).ok_or_else(|| {
        Error::InvalidArgument(format!("{s:?} is not a date YYYY-MM-DD of 0001..=9999"))
    })
}

/// A timestamp argument: epoch seconds or a UTC date.
pub fn time_arg(s: &str) -> Result<i64, Error> {
    if let Ok(ts) = s.parse::<i64>() {
        return Ok(ts);
    }
    Ok(day_arg(s)
        .map_err(|_| {
            Error::InvalidArgument(format!("{s:?} is neither epoch seconds nor YYYY-MM-DD"))
        })?
        .start_utc())
}

pub fn month_arg(s: &str) -> Result<folio::Month, Error> {
    let bad = || Error::InvalidArgument(format!("{s:?} is not a month YYYY-MM"));
    let (y, m) = s.split_once('-').ok_or_else(bad)?;
    folio::Month::from_ym(y.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?)
        .ok_or_else(bad)
}

pub fn currency_arg(s: &str) -> Result<Currency, Error> {
    Currency::parse(s).ok_or_else(|| {
        Error::InvalidArgument(format!(
            "{s:?} is not an active ISO 4217 currency code (three capital letters, e.g. EUR, JPY)"
        ))
    })
}

/// A name (category, payment method, status, column) through its `FromStr`.
pub fn parse_arg<T: std::str::FromStr>(what: &str, value: &str) -> Result<T, Error> {
    value
        .parse()
        .map_err(|_| Error::InvalidArgument(format!("unknown {what} {value:?}")))
}

/// Comma-separated column names; empty items are skipped.
pub fn columns_arg(list: &str) -> Result<Vec<folio::Column>, Error> {
    list.split(',')
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(|c| parse_arg("column", c))
        .collect()
}

/// A size in bytes: a whole number with an optional unit (`B`, `KiB`/`K`, `MiB`/`M`, `GiB`/`G`,
/// powers of 1024), e.g. `8MiB`, `256M`, `1GiB`, `65536`.
pub fn bytes_arg(s: &str) -> Result<u64, Error> {
    let bad = || {
        Error::InvalidArgument(format!(
            "{s:?} is not a size: a whole number with an optional unit (B, KiB, MiB, GiB)"
        ))
    };
    let t = s.trim();
    let digits = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (number, unit) = t.split_at(digits);
    let number: u64 = number.parse().map_err(|_| bad())?;
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kib" | "kb" => 10,
        "m" | "mib" | "mb" => 20,
        "g" | "gib" | "gb" => 30,
        _ => return Err(bad()),
    };
    number.checked_mul(1u64 << shift).ok_or_else(bad)
}
