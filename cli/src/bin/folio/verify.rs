//! `folio verify`: every balance, index and checksum checked; non-zero exit on any problem.

use crate::open::reader;
use crate::output;
use folio_cli::Error;
use std::path::Path;

pub fn run(data: &Path, json: bool) -> Result<(), Error> {
    let db = reader(data)?;
    let report = db.verify();
    db.close()?;
    output::verify(&report, json);
    if !report.is_ok() {
        return Err(Error::InvalidArgument(format!(
            "verify found {} problem(s)",
            report.problems.len()
        )));
    }
    Ok(())
}
