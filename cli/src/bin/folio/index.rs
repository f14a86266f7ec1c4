//! `folio index`: declaring, dropping and listing secondary indexes.

use crate::cli::IndexCommand;
use crate::open::{existing, reader};
use crate::output;
use crate::parse::columns_arg;
use folio::{IndexDef, Predicate};
use folio_cli::Error;
use std::path::Path;

pub fn run(data: &Path, command: IndexCommand) -> Result<(), Error> {
    match command {
        IndexCommand::Create {
            name,
            table,
            key,
            include,
            predicate,
        } => {
            let def = index_def(&name, &table, &key, &include, predicate.as_deref())?;
            let db = existing(data)?;
            let bar = output::events_bar(0);
            let result = db.create_index(def, |done, total| {
                bar.set_length(total as u64);
                bar.set_position(done as u64);
            });
            bar.finish_and_clear();
            db.close()?;
            println!("index {name} created and backfilled (LSN {})", result?);
        }
        IndexCommand::Drop { name } => {
            let db = existing(data)?;
            let result = db.drop_index(&name);
            db.close()?;
            println!("index {name} dropped (LSN {})", result?);
        }
        IndexCommand::List { json } => {
            let db = reader(data)?;
            output::indexes(&db.snapshot().indexes(), json);
            db.close()?;
        }
    }
    Ok(())
}

/// An index definition from command-line text.
fn index_def(
    name: &str,
    table: &str,
    key: &str,
    include: &str,
    predicate: Option<&str>,
) -> Result<IndexDef, Error> {
    let table = match table {
        "revenues" => folio::Kind::Revenue,
        "expenses" => folio::Kind::Expense,
        other => {
            return Err(Error::InvalidArgument(format!(
                "unknown table {other:?}: revenues or expenses"
            )))
        }
    };
    let predicate = predicate
        .map(|p| {
            p.parse::<Predicate>()
                .map_err(|_| Error::InvalidArgument(format!("unknown predicate {p:?}")))
        })
        .transpose()?;
    Ok(IndexDef::new(
        name,
        table,
        &columns_arg(key)?,
        &columns_arg(include)?,
        predicate,
    ))
}
