//! `folio info`: what a database holds.

use crate::open::reader;
use folio::table_name;
use folio::RecoveryReport;
use folio::{DbInfo, PartitionInfo};
use folio_cli::Error;
use serde_json::json;
use std::path::Path;

/// Opens the database read-only and prints what it holds.
pub fn run(data: &Path, json: bool) -> Result<(), Error> {
    let db = reader(data)?;
    let info = db.info();
    let memory = db.memory();
    db.close()?;
    print(&info?, &memory, json);
    Ok(())
}

/// The engine's account after opening, by kind, in bytes.
fn memory_json(m: &folio::MemoryReport) -> serde_json::Value {
    json!({
        "budget": m.budget,
        "accounted": m.accounted(),
        "over_budget": m.over_budget(),
        "store_cache": m.store_cache,
        "orgs": m.engine.orgs,
        "entry_ids": m.engine.entry_ids,
        "rows": m.engine.rows,
        "rows_in_memory": m.engine.row_count,
        "balances": m.engine.balances,
        "frozen": m.engine.frozen,
        "patches": m.engine.patches,
    })
}

/// Prints `info` as text or as one JSON object (keys: docs/CLI.md).
fn print(info: &DbInfo, memory: &folio::MemoryReport, json_out: bool) {
    if json_out {
        let mut out = to_json(info);
        out["memory"] = memory_json(memory);
        println!("{out}");
        return;
    }
    println!(
        "{}: database {:#018x}, {} balance shards, LSN {}",
        info.path.display(),
        info.db_id,
        info.shards,
        info.lsn
    );
    println!(
        "{} orgs, {} entries in {} ledger partitions",
        info.orgs,
        info.entries,
        info.partitions.len()
    );
    for p in &info.partitions {
        println!(
            "  {:<8} {} {:>6} orgs {:>10} rows {:>12} bytes",
            table_name(p.table),
            p.month,
            p.orgs,
            p.rows,
            p.bytes
        );
    }
    println!(
        "log: {} segments, {} bytes",
        info.log.segments, info.log.bytes
    );
    println!("{} indexes", info.indexes.len());
    for d in &info.indexes {
        println!("  {d}");
    }
    let mib = |b: u64| b as f64 / 1048576.0;
    let e = &memory.engine;
    println!(
        "memory (engine's account): {:.1} MiB of a {:.1} MiB budget: rows {:.1} ({} rows), \
         entry ids {:.1}, day rows {:.1}, orgs {:.1}, frozen {:.1}, patches {:.1}, sled cache {:.1}",
        mib(memory.accounted()),
        mib(memory.budget),
        mib(e.rows),
        e.row_count,
        mib(e.entry_ids),
        mib(e.balances),
        mib(e.orgs),
        mib(e.frozen),
        mib(e.patches),
        mib(memory.store_cache)
    );
    println!("last recovery: {}", recovery_text(&info.recovery));
    for line in &info.recovery_history {
        println!("  {line}");
    }
}

fn to_json(info: &DbInfo) -> serde_json::Value {
    let partitions: Vec<_> = info.partitions.iter().map(partition_json).collect();
    let indexes: Vec<_> = info.indexes.iter().map(crate::output::index_json).collect();
    json!({
        "path": info.path.display().to_string(),
        "db_id": info.db_id,
        "shards": info.shards,
        "lsn": info.lsn.0,
        "orgs": info.orgs,
        "entries": info.entries,
        "partitions": partitions,
        "log": {"segments": info.log.segments, "bytes": info.log.bytes},
        "indexes": indexes,
        "recovery": recovery_json(&info.recovery),
        "recovery_history": info.recovery_history,
    })
}

fn partition_json(p: &PartitionInfo) -> serde_json::Value {
    json!({
        "table": table_name(p.table),
        "month": p.month.to_string(),
        "orgs": p.orgs,
        "rows": p.rows,
        "bytes": p.bytes,
        "frozen": p.frozen,
    })
}

// The recovery report is printed here alone, field by field, so that fields it gains are added
// in one place.

fn recovery_json(r: &RecoveryReport) -> serde_json::Value {
    json!({
        "created": r.created,
        "checkpoint_lsn": r.checkpoint_lsn.0,
        "frames_replayed": r.frames_replayed,
        "truncated_bytes": r.truncated_bytes,
        "truncated_frames": r.truncated_frames,
        "torn": r.warning(),
        "read_only": r.read_only,
        "beside_writer": r.beside_writer,
        "rebuilt": r.rebuilt,
        "lsn": r.lsn.0,
    })
}

fn recovery_text(r: &RecoveryReport) -> String {
    let mut text = format!(
        "{}loaded checkpoint at LSN {}, replayed {} log frames to LSN {}, cut {} torn bytes",
        if r.created { "created; " } else { "" },
        r.checkpoint_lsn,
        r.frames_replayed,
        r.lsn,
        r.truncated_bytes
    );
    if let Some(warning) = r.warning() {
        text.push_str(&format!("; {warning}"));
    }
    if let Some(why) = &r.rebuilt {
        text.push_str(&format!("; store rebuilt from the log: {why}"));
    }
    if r.beside_writer {
        text.push_str("; opened beside a writer (its log as it stood then)");
    }
    text
}
