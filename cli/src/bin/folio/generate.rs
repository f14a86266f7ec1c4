//! `folio generate`: the hotel-ledger-v1 stream, or its query instances, on standard output.

use crate::cli::GenerateArgs;
use crate::output::STDOUT;
use folio_cli::Error;
use folio_workload::{Generator, InputFormat, WorkloadEvent};
use std::io::Write;

pub fn run(args: GenerateArgs) -> Result<(), Error> {
    let GenerateArgs {
        queries,
        workload,
        csv,
    } = args;
    let params = workload.params();
    params
        .validate()
        .map_err(|e| Error::InvalidArgument(e.to_string()))?;
    if let Some(count) = queries {
        for kind in 1..=5u8 {
            for q in folio_workload::instances(kind, &params, count)? {
                println!("{}", q.to_json_line());
            }
        }
        return Ok(());
    }
    let format = if csv {
        InputFormat::Csv
    } else {
        InputFormat::Jsonl
    };
    write_events(Generator::new(params)?, format)
}

/// Writes `events` to standard output in `format` (CSV with its header line).
fn write_events(
    events: impl Iterator<Item = WorkloadEvent>,
    format: InputFormat,
) -> Result<(), Error> {
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(1 << 20, stdout.lock());
    let mut line = Vec::with_capacity(256);
    let io = |e| Error::io(STDOUT, e);
    if let Some(header) = format.header() {
        writeln!(out, "{header}").map_err(io)?;
    }
    for e in events {
        line.clear();
        format.write_event(&e, &mut line);
        out.write_all(&line).map_err(io)?;
    }
    out.flush().map_err(io)
}
