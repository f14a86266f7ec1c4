//! `folio ingest`: loading postings, reversals and payments from a file or standard input.

use crate::cli::IngestArgs;
use crate::open::{refuse_replica, warn_recovery};
use crate::output;
use crate::parse::currency_arg;
use folio::{Db, Durability};
use folio_cli::Error;
use folio_workload::ingest::{self, IngestOptions};
use folio_workload::InputFormat;
use std::path::Path;

pub fn run(data: &Path, args: IngestArgs) -> Result<(), Error> {
    let IngestArgs {
        file,
        batch,
        auto_org,
        currency,
        format,
        buffered,
    } = args;
    refuse_replica(data)?;
    let durability = if buffered {
        Durability::Buffered
    } else {
        Durability::Sync
    };
    let db = Db::open_with(
        data,
        crate::open::options()
            .create_if_missing(false)
            .durability(durability),
    )?;
    warn_recovery(&db);
    let options = IngestOptions {
        batch: batch.clamp(1, folio::limits::MAX_BATCH_OPS / 2),
        auto_org: if auto_org {
            Some(currency_arg(&currency)?)
        } else {
            None
        },
        format: format.map(|f| {
            if f == "csv" {
                InputFormat::Csv
            } else {
                InputFormat::Jsonl
            }
        }),
    };
    let bar = if ingest::is_stdin(&file) {
        indicatif::ProgressBar::hidden()
    } else {
        output::bytes_bar(
            std::fs::metadata(&file)
                .map_err(|e| Error::io(&file, e))?
                .len(),
        )
    };
    let summary = ingest::ingest_file(&db, &file, &options, |n| bar.inc(n));
    bar.finish_and_clear();
    let summary = summary?;
    db.close()?;
    output::ingest_summary(&summary);
    Ok(())
}
