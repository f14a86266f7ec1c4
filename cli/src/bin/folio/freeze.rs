//! `folio freeze` (run the freezer now) and `folio months` (each month: open or frozen).

use crate::open::{existing, reader};
use crate::parse::month_arg;
use folio_cli::Error;
use serde_json::json;
use std::path::Path;

pub fn freeze(data: &Path, before: Option<&str>, json: bool) -> Result<(), Error> {
    let before = before.map(month_arg).transpose()?;
    let db = existing(data)?;
    let report = db.freeze(before)?;
    db.close()?;
    if json {
        let frozen: Vec<_> = report
            .frozen
            .iter()
            .map(|m| {
                json!({
                    "month": m.month.to_string(),
                    "version": m.version,
                    "rows": m.rows,
                    "orgs": m.orgs,
                    "bytes": m.bytes,
                    "rows_released": m.rows_released,
                    "rows_kept": m.rows_kept,
                    "patches_folded": m.patches_folded,
                    "blocks_copied": m.blocks_copied,
                })
            })
            .collect();
        let skipped: Vec<_> = report
            .skipped
            .iter()
            .map(|(month, why)| json!({"month": month.to_string(), "why": why}))
            .collect();
        println!("{}", json!({"frozen": frozen, "skipped": skipped}));
        return Ok(());
    }
    if report.frozen.is_empty() && report.skipped.is_empty() {
        println!("nothing to freeze");
    }
    for m in &report.frozen {
        println!(
            "froze {} as version {}: {} rows of {} orgs, {} bytes; {} rows left memory",
            m.month, m.version, m.rows, m.orgs, m.bytes, m.rows_released
        );
        if m.blocks_copied > 0 {
            println!(
                "  {} org blocks copied unchanged from version {}",
                m.blocks_copied,
                m.version.saturating_sub(1)
            );
        }
        if m.rows_kept > 0 {
            println!("  {} rows written meanwhile stay in memory", m.rows_kept);
        }
    }
    for (month, why) in &report.skipped {
        println!("left {month} as it was: {why}");
    }
    Ok(())
}

pub fn months(data: &Path, json: bool) -> Result<(), Error> {
    let db = reader(data)?;
    let months = db.months()?;
    db.close()?;
    if json {
        let list: Vec<_> = months
            .iter()
            .map(|m| {
                json!({
                    "month": m.month.to_string(),
                    "state": m.state(),
                    "version": m.file.map(|f| f.0),
                    "file_rows": m.file.map(|f| f.1),
                    "file_bytes": m.file.map(|f| f.2),
                    "memory_rows": m.memory_rows,
                    "patches": m.patches,
                })
            })
            .collect();
        println!("{}", json!(list));
        return Ok(());
    }
    println!("month    state   version  file rows  file bytes  memory rows  patches");
    for m in &months {
        let (version, rows, bytes) = match m.file {
            Some((v, r, b)) => (v.to_string(), r.to_string(), b.to_string()),
            None => ("-".into(), "-".into(), "-".into()),
        };
        println!(
            "{:<8} {:<7} {:>7} {:>10} {:>11} {:>12} {:>8}",
            m.month,
            m.state(),
            version,
            rows,
            bytes,
            m.memory_rows,
            m.patches
        );
    }
    Ok(())
}
