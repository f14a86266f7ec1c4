//! `folio compare`: hotel-ledger-v1 on Folio, PostgreSQL and SQLite, answers compared exactly.

use crate::cli::CompareArgs;
use folio_cli::compare::{CompareOptions, CompareReport};
use folio_cli::Error;
use std::io::Write;
use std::path::Path;

pub fn run(args: CompareArgs, memory_budget: Option<u64>) -> Result<(), Error> {
    let CompareArgs {
        postgres,
        pg_database,
        sqlite,
        workload,
        batch,
        singles,
        concurrent,
        writers,
        timed,
        check,
        json,
        out,
        dir,
        freeze,
    } = args;
    let dir = dir.unwrap_or_else(|| {
        std::env::temp_dir().join(format!("folio-compare-{}", std::process::id()))
    });
    let options = CompareOptions {
        params: workload.params(),
        postgres,
        pg_database,
        sqlite,
        batch,
        singles,
        concurrent,
        writers,
        timed,
        check,
        dir,
        freeze,
        memory_budget,
    };
    let report = compare(&options)?;
    let text = serde_json::to_string_pretty(&report).unwrap_or_default();
    let table = report.markdown();
    if let Some(out) = out {
        write_reports(&out, &table, &text, &report.svg())?;
    }
    if json {
        println!("{text}");
    } else {
        print!("{table}");
    }
    if !report.disagreements.is_empty() {
        for d in report.disagreements.iter().take(50) {
            let _ = writeln!(std::io::stderr(), "disagreement: {d}");
        }
        return Err(Error::InvalidArgument(format!(
            "{} answers differ between engines",
            report.disagreements.len()
        )));
    }
    Ok(())
}

/// Runs the comparison, its steps on stderr, and removes the working directory if this run
/// created it.
fn compare(options: &CompareOptions) -> Result<CompareReport, Error> {
    let dir = options.dir.clone();
    let existed = dir.exists();
    let progress = |step: &str| {
        let _ = writeln!(std::io::stderr(), "folio compare: {step}");
    };
    let result = folio_cli::compare::run(options, &progress);
    if !existed {
        // Only what this run created (an existing --dir is refused before anything is written).
        let _ = std::fs::remove_dir_all(&dir);
    }
    result
}

/// report.md, report.json and chart.svg in `out` (created if missing).
fn write_reports(out: &Path, table: &str, text: &str, svg: &str) -> Result<(), Error> {
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    for (name, body) in [
        ("report.md", table),
        ("report.json", text),
        ("chart.svg", svg),
    ] {
        let path = out.join(name);
        std::fs::write(&path, body).map_err(|e| Error::io(&path, e))?;
    }
    Ok(())
}
