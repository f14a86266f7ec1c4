//! Opening the database a command works on: for writing, for reading, or a replica directory.

use folio::{Db, Options};
use folio_cli::Error;
use std::io::Write;
use std::path::Path;

/// `--memory-budget`, once parsed.
static MEMORY_BUDGET: std::sync::OnceLock<u64> = std::sync::OnceLock::new();

/// Sets the budget every database this process opens gets (from `--memory-budget`).
pub fn set_memory_budget(bytes: u64) {
    let _ = MEMORY_BUDGET.set(bytes);
}

/// The options a command starts from: the defaults with `--memory-budget`.
pub fn options() -> Options {
    let options = Options::default();
    match MEMORY_BUDGET.get() {
        Some(bytes) => options.memory_budget(*bytes),
        None => options,
    }
}

/// [`options`] for reading only.
fn read_options() -> Options {
    let options = Options::read_only();
    match MEMORY_BUDGET.get() {
        Some(bytes) => options.memory_budget(*bytes),
        None => options,
    }
}

/// Opens an existing database for writing. A replica or checkpoint directory is refused before it
/// is opened: opening it for writing would make a checkpoint unfit to seed a replica, and its
/// data comes only from its primary's log (`folio replica`).
pub fn existing(data: &Path) -> Result<Db, Error> {
    refuse_replica(data)?;
    replica_dir(data)
}

/// Refuses a replica or checkpoint directory to a command that writes its own data.
pub fn refuse_replica(data: &Path) -> Result<(), Error> {
    match folio::ReplicaBase::read(data)? {
        Some(_) => Err(folio::Error::from(folio::ReplicaError::ReadOnly {
            path: data.to_path_buf(),
        })
        .into()),
        None => Ok(()),
    }
}

/// Opens an existing database, or a replica directory, for writing.
pub fn replica_dir(data: &Path) -> Result<Db, Error> {
    let db = Db::open_with(data, options().create_if_missing(false))?;
    warn_recovery(&db);
    Ok(db)
}

/// Opens an existing database read-only: nothing on disk changes (a torn log tail is read
/// around, not cut; a checkpoint directory keeps its manifest), and read-only media work.
pub fn reader(data: &Path) -> Result<Db, Error> {
    let db = Db::open_with(data, read_options())?;
    warn_recovery(&db);
    Ok(db)
}

/// One line on stderr when recovery cut (or found) a torn log tail.
pub fn warn_recovery(db: &Db) {
    if let Some(warning) = db.recovery().warning() {
        let _ = writeln!(std::io::stderr(), "folio: warning: {warning}");
    }
}
