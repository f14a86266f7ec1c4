//! `folio recover`: what opening finds, and the operator's path to accept a loss.

use folio::{Db, LossReport, Options};
use folio_cli::Error;
use serde_json::json;
use std::path::{Path, PathBuf};

pub fn run(data: &Path, accept_loss: bool, side: Option<PathBuf>, json: bool) -> Result<(), Error> {
    if !accept_loss {
        return match Db::open_with(data, Options::read_only()) {
            Ok(db) => {
                let report = db.recovery().clone();
                drop(db);
                if json {
                    let v = json!({"ok": true, "lsn": report.lsn.0,
                                   "checkpoint_lsn": report.checkpoint_lsn.0,
                                   "truncated_bytes": report.truncated_bytes,
                                   "truncated_frames": report.truncated_frames,
                                   "warning": report.warning()});
                    println!("{v}");
                } else {
                    println!("{} opens at LSN {}", data.display(), report.lsn);
                    if let Some(warning) = report.warning() {
                        println!("{warning}; the next writable open cuts it");
                    }
                }
                Ok(())
            }
            Err(e) => {
                eprintln!(
                    "folio: {} does not open: {e}\nfolio: `folio --data {} recover --accept-loss` \
                     copies what it must discard to a side directory, then opens without it",
                    data.display(),
                    data.display()
                );
                Err(e.into())
            }
        };
    }
    let side = side.unwrap_or_else(|| default_side(data));
    let report = folio::accept_loss(data, &side)?;
    if json {
        println!("{}", to_json(&report));
    } else {
        println!("{report}");
    }
    Ok(())
}

/// `DATA.lost-<unix seconds>` beside the database.
fn default_side(data: &Path) -> PathBuf {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut name = data.file_name().unwrap_or_default().to_owned();
    name.push(format!(".lost-{secs}"));
    data.with_file_name(name)
}

fn to_json(report: &LossReport) -> serde_json::Value {
    let dropped: Vec<serde_json::Value> = report
        .dropped
        .iter()
        .map(|p| {
            json!({"what": p.what, "file": p.from.display().to_string(), "offset": p.offset,
                   "copy": p.copy.display().to_string(), "bytes": p.bytes, "frames": p.frames,
                   "first_lsn": p.lsns.map(|l| l.0), "last_lsn": p.lsns.map(|l| l.1)})
        })
        .collect();
    let refrozen: Vec<String> = report.refrozen.iter().map(|m| m.to_string()).collect();
    json!({"side": report.side.display().to_string(), "dropped": dropped,
           "lsn": report.lsn.0, "warning": report.recovery.warning(), "refrozen": refrozen})
}
