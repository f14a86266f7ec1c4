//! Opening the database a command works on: for writing, for reading, or a replica directory.

use folio::{Db, Options};
use folio_cli::Error;
use std::io::Write;
use std::path::Path;

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
    let db = Db::open_with(data, Options::default().create_if_missing(false))?;
    warn_recovery(&db);
    Ok(db)
}

/// Opens an existing database read-only: nothing on disk changes (a torn log tail is read
/// around, not cut; a checkpoint directory keeps its manifest), and read-only media work.
pub fn reader(data: &Path) -> Result<Db, Error> {
    let db = Db::open_with(data, Options::read_only())?;
    warn_recovery(&db);
    Ok(db)
}

/// One line on stderr when recovery cut (or found) a torn log tail.
pub fn warn_recovery(db: &Db) {
    if let Some(warning) = db.recovery().warning() {
        let _ = writeln!(std::io::stderr(), "folio: warning: {warning}");
    }
}
