//! `folio balance`, `folio balances` and `folio entries`: one org's balances and ledger entries.

use crate::open::reader;
use crate::output::{self, Currencies};
use crate::parse::{day_arg, time_arg};
use folio::OrgId;
use folio_cli::Error;
use std::path::Path;

/// `folio balance`: one org's balance on one business day.
pub fn balance(data: &Path, org: u64, day: &str, json: bool) -> Result<(), Error> {
    let db = reader(data)?;
    let balance = db.balance(OrgId(org), day_arg(day)?)?;
    let currencies = Currencies::of(db.snapshot());
    db.close()?;
    output::balance(&balance, &currencies, json);
    Ok(())
}

/// `folio balances`: one row per day from `from` to `to`.
pub fn balances(data: &Path, org: u64, from: &str, to: &str, json: bool) -> Result<(), Error> {
    let db = reader(data)?;
    let rows = db.balances(OrgId(org), day_arg(from)?, day_arg(to)?)?;
    let currencies = Currencies::of(db.snapshot());
    db.close()?;
    for row in &rows {
        output::balance(row, &currencies, json);
    }
    Ok(())
}

/// `folio entries`: the org's entries with `from <= occurred_at < to`.
pub fn entries(data: &Path, org: u64, from: &str, to: &str, json: bool) -> Result<(), Error> {
    let db = reader(data)?;
    let entries = db.entries(OrgId(org), time_arg(from)?, time_arg(to)?)?;
    let currencies = Currencies::of(db.snapshot());
    db.close()?;
    output::entries(&entries, &currencies, json);
    Ok(())
}
