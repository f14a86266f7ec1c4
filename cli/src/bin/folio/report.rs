//! `folio report`: the hotel reports (night audit, month, pending expenses, chain, top orgs).

use crate::cli::ReportCommand;
use crate::open::reader;
use crate::output::{self, Currencies};
use crate::parse::month_arg;
use folio::{Db, OrgId};
use folio_cli::Error;
use std::path::Path;

pub fn run(data: &Path, command: ReportCommand) -> Result<(), Error> {
    let db = reader(data)?;
    report(&db, command)?;
    db.close()?;
    Ok(())
}

/// Computes the report `command` asks for on `db` and prints it.
fn report(db: &Db, command: ReportCommand) -> Result<(), Error> {
    let view = db.snapshot();
    let currencies = Currencies::of(view.clone());
    match command {
        ReportCommand::Daily { org, day, json } => {
            let day = folio::BusinessDay::parse(&day).ok_or_else(|| {
                Error::InvalidArgument(format!("{day:?} is not a date YYYY-MM-DD"))
            })?;
            output::daily(&view.daily_report(OrgId(org), day)?, &currencies, json);
        }
        ReportCommand::Monthly { org, month, json } => {
            output::monthly(
                &view.monthly_report(OrgId(org), month_arg(&month)?)?,
                currencies.get(OrgId(org)),
                json,
            );
        }
        ReportCommand::Pending { org, limit, json } => {
            let lines = view.pending_expenses(OrgId(org), limit)?;
            output::pending(OrgId(org), &lines, currencies.get(OrgId(org)), json);
        }
        ReportCommand::Chain { orgs, month, json } => {
            let ids = org_ids(&orgs)?;
            let month = month_arg(&month)?;
            let (lines, totals) = view.chain_revenue(&ids, month)?;
            output::chain(month, &lines, &totals, json);
        }
        ReportCommand::Top { month, limit, json } => {
            let month = month_arg(&month)?;
            output::top(month, &view.top_revenue(month, limit)?, json);
        }
    }
    Ok(())
}

/// Comma-separated org ids.
fn org_ids(orgs: &str) -> Result<Vec<OrgId>, Error> {
    orgs.split(',')
        .map(|o| o.trim().parse::<u64>().map(OrgId))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| Error::InvalidArgument(format!("{orgs:?} is not a list of org ids")))
}
