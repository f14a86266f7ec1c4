//! `folio init` and `folio org`: creating a database and registering its orgs.

use crate::cli::OrgCommand;
use crate::open::{existing, reader};
use crate::output;
use crate::parse::currency_arg;
use folio::{Db, Money, Org, OrgId};
use folio_cli::Error;
use std::path::Path;

/// `folio init`: a new database with `shards` balance shards; refuses one that exists.
pub fn init(data: &Path, shards: u32) -> Result<(), Error> {
    if data.join(folio::META_FILE).exists() {
        return Err(folio::Error::AlreadyExists {
            path: data.to_path_buf(),
        }
        .into());
    }
    Db::open_with(data, crate::open::options().shards(shards))?.close()?;
    println!("created {} with {shards} balance shards", data.display());
    Ok(())
}

/// `folio org add` and `folio org list`.
pub fn org(data: &Path, command: OrgCommand) -> Result<(), Error> {
    match command {
        OrgCommand::Add {
            id,
            name,
            currency,
            tz,
            opening,
        } => {
            let db = existing(data)?;
            let org = Org::new(OrgId(id), name, currency_arg(&currency)?)
                .with_time_zone(tz)
                .with_opening_balance(Money(opening));
            let lsn = db.register_org(org)?;
            db.close()?;
            println!("org {id} registered (LSN {lsn})");
        }
        OrgCommand::List { json } => {
            let db = reader(data)?;
            output::orgs(&db.snapshot().orgs()?, json);
            db.close()?;
        }
    }
    Ok(())
}
