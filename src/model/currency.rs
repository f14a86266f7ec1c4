//! ISO 4217 currencies and their minor units.

use super::Money;
use std::fmt;

/// An ISO 4217 currency code. [`Currency::parse`] accepts only active codes of the table below;
/// validation rejects an org whose currency is not in it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Currency(pub [u8; 3]);

/// Active ISO 4217 codes (list one) with their minor-unit exponent, sorted by code. Codes without
/// minor units in the standard (precious metals, SDR, test codes) are left out: no hotel posts in
/// them.
#[rustfmt::skip]
const ISO_4217: &[(&str, u8)] = &[
    ("AED", 2), ("AFN", 2), ("ALL", 2), ("AMD", 2), ("ANG", 2), ("AOA", 2), ("ARS", 2),
    ("AUD", 2), ("AWG", 2), ("AZN", 2), ("BAM", 2), ("BBD", 2), ("BDT", 2), ("BGN", 2),
    ("BHD", 3), ("BIF", 0), ("BMD", 2), ("BND", 2), ("BOB", 2), ("BOV", 2), ("BRL", 2),
    ("BSD", 2), ("BTN", 2), ("BWP", 2), ("BYN", 2), ("BZD", 2), ("CAD", 2), ("CDF", 2),
    ("CHE", 2), ("CHF", 2), ("CHW", 2), ("CLF", 4), ("CLP", 0), ("CNY", 2), ("COP", 2),
    ("COU", 2), ("CRC", 2), ("CUC", 2), ("CUP", 2), ("CVE", 2), ("CZK", 2), ("DJF", 0),
    ("DKK", 2), ("DOP", 2), ("DZD", 2), ("EGP", 2), ("ERN", 2), ("ETB", 2), ("EUR", 2),
    ("FJD", 2), ("FKP", 2), ("GBP", 2), ("GEL", 2), ("GHS", 2), ("GIP", 2), ("GMD", 2),
    ("GNF", 0), ("GTQ", 2), ("GYD", 2), ("HKD", 2), ("HNL", 2), ("HTG", 2), ("HUF", 2),
    ("IDR", 2), ("ILS", 2), ("INR", 2), ("IQD", 3), ("IRR", 2), ("ISK", 0), ("JMD", 2),
    ("JOD", 3), ("JPY", 0), ("KES", 2), ("KGS", 2), ("KHR", 2), ("KMF", 0), ("KPW", 2),
    ("KRW", 0), ("KWD", 3), ("KYD", 2), ("KZT", 2), ("LAK", 2), ("LBP", 2), ("LKR", 2),
    ("LRD", 2), ("LSL", 2), ("LYD", 3), ("MAD", 2), ("MDL", 2), ("MGA", 2), ("MKD", 2),
    ("MMK", 2), ("MNT", 2), ("MOP", 2), ("MRU", 2), ("MUR", 2), ("MVR", 2), ("MWK", 2),
    ("MXN", 2), ("MXV", 2), ("MYR", 2), ("MZN", 2), ("NAD", 2), ("NGN", 2), ("NIO", 2),
    ("NOK", 2), ("NPR", 2), ("NZD", 2), ("OMR", 3), ("PAB", 2), ("PEN", 2), ("PGK", 2),
    ("PHP", 2), ("PKR", 2), ("PLN", 2), ("PYG", 0), ("QAR", 2), ("RON", 2), ("RSD", 2),
    ("RUB", 2), ("RWF", 0), ("SAR", 2), ("SBD", 2), ("SCR", 2), ("SDG", 2), ("SEK", 2),
    ("SGD", 2), ("SHP", 2), ("SLE", 2), ("SOS", 2), ("SRD", 2), ("SSP", 2), ("STN", 2),
    ("SVC", 2), ("SYP", 2), ("SZL", 2), ("THB", 2), ("TJS", 2), ("TMT", 2), ("TND", 3),
    ("TOP", 2), ("TRY", 2), ("TTD", 2), ("TWD", 2), ("TZS", 2), ("UAH", 2), ("UGX", 0),
    ("USD", 2), ("USN", 2), ("UYI", 0), ("UYU", 2), ("UYW", 4), ("UZS", 2), ("VED", 2),
    ("VES", 2), ("VND", 0), ("VUV", 0), ("WST", 2), ("XAF", 0), ("XCD", 2), ("XCG", 2),
    ("XOF", 0), ("XPF", 0), ("YER", 2), ("ZAR", 2), ("ZMW", 2), ("ZWG", 2),
];

impl Currency {
    /// US dollar: 2 minor digits.
    pub const USD: Currency = Currency(*b"USD");
    /// Euro: 2 minor digits.
    pub const EUR: Currency = Currency(*b"EUR");
    /// Japanese yen: no minor unit.
    pub const JPY: Currency = Currency(*b"JPY");
    /// Kuwaiti dinar: 3 minor digits.
    pub const KWD: Currency = Currency(*b"KWD");

    /// Parses an active ISO 4217 code such as `EUR`; `None` for anything else (lowercase,
    /// unknown or withdrawn codes).
    pub fn parse(code: &str) -> Option<Currency> {
        let bytes: [u8; 3] = code.as_bytes().try_into().ok()?;
        let currency = Currency(bytes);
        currency.is_known().then_some(currency)
    }

    /// Whether the code is an active ISO 4217 currency.
    pub fn is_known(&self) -> bool {
        self.exponent().is_some()
    }

    fn exponent(&self) -> Option<u8> {
        let code = self.as_str();
        ISO_4217
            .binary_search_by(|(c, _)| (*c).cmp(code))
            .ok()
            .map(|i| ISO_4217[i].1)
    }

    /// Digits after the decimal point of one major unit (ISO 4217's minor-unit exponent): 0 for
    /// JPY, 2 for EUR, 3 for KWD, 4 for CLF. A code outside the table (only a log written before
    /// codes were checked holds one) counts as 2.
    pub fn minor_digits(&self) -> u8 {
        self.exponent().unwrap_or(2)
    }

    /// The three-letter code, e.g. `EUR` (`???` for bytes that are not UTF-8, which only a
    /// `Currency` built by hand can hold).
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or("???")
    }

    /// `amount` written in this currency's units, e.g. `10.00` EUR, `1000` JPY, `1.000` KWD.
    pub fn format(&self, amount: Money) -> String {
        amount.display_in(*self).to_string()
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An amount shown with its currency's minor-unit exponent: [`Money::display_in`].
#[derive(Clone, Copy, Debug)]
pub struct MoneyIn {
    amount: Money,
    digits: u8,
}

impl fmt::Display for MoneyIn {
    /// Major units, then the minor units after a point (none for 0 digits), e.g. `-12.05`,
    /// `1000`, `1.000`. Honours width and alignment like a string.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.amount.0 < 0 { "-" } else { "" };
        let abs = self.amount.0.unsigned_abs();
        let text = match self.digits {
            0 => format!("{sign}{abs}"),
            d => {
                let unit = 10u64.pow(u32::from(d));
                format!(
                    "{sign}{}.{:0width$}",
                    abs / unit,
                    abs % unit,
                    width = usize::from(d)
                )
            }
        };
        f.pad(&text)
    }
}

impl Money {
    /// This amount in `currency`'s units (its ISO 4217 minor-unit exponent).
    pub fn display_in(self, currency: Currency) -> MoneyIn {
        MoneyIn {
            amount: self,
            digits: currency.minor_digits(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_sorted_and_codes_are_uppercase() {
        assert!(ISO_4217.windows(2).all(|w| w[0].0 < w[1].0));
        assert!(ISO_4217
            .iter()
            .all(|(c, d)| c.len() == 3 && c.bytes().all(|b| b.is_ascii_uppercase()) && *d <= 4));
    }

    #[test]
    fn parse_accepts_active_codes_only() {
        assert_eq!(Currency::parse("EUR"), Some(Currency::EUR));
        assert_eq!(Currency::parse("JPY"), Some(Currency::JPY));
        for bad in ["ABC", "XXX", "XAU", "eur", "EURO", "EU", "", "DEM"] {
            assert_eq!(Currency::parse(bad), None, "{bad}");
        }
        assert!(!Currency(*b"ZZZ").is_known());
    }

    #[test]
    fn minor_digits_follow_iso_4217() {
        for (code, digits) in [
            ("JPY", 0),
            ("KRW", 0),
            ("ISK", 0),
            ("CLP", 0),
            ("VND", 0),
            ("XAF", 0),
            ("XOF", 0),
            ("USD", 2),
            ("EUR", 2),
            ("BHD", 3),
            ("IQD", 3),
            ("JOD", 3),
            ("KWD", 3),
            ("LYD", 3),
            ("OMR", 3),
            ("TND", 3),
            ("CLF", 4),
            ("UYW", 4),
        ] {
            assert_eq!(
                Currency::parse(code).unwrap().minor_digits(),
                digits,
                "{code}"
            );
        }
    }

    #[test]
    fn amounts_show_their_currencys_digits() {
        assert_eq!(Currency::JPY.format(Money(1000)), "1000");
        assert_eq!(Currency::JPY.format(Money(-5)), "-5");
        assert_eq!(Currency::EUR.format(Money(1000)), "10.00");
        assert_eq!(Currency::EUR.format(Money(-1205)), "-12.05");
        assert_eq!(Currency::KWD.format(Money(1000)), "1.000");
        assert_eq!(Currency::KWD.format(Money(-7)), "-0.007");
        let clf = Currency::parse("CLF").unwrap();
        assert_eq!(clf.format(Money(12_345)), "1.2345");
        assert_eq!(
            Currency::JPY.format(Money(i64::MIN)),
            "-9223372036854775808"
        );
        assert_eq!(clf.format(Money(i64::MIN)), "-922337203685477.5808");
        assert_eq!(
            format!("{:>6}", Money(5).display_in(Currency::JPY)),
            "     5"
        );
    }
}
