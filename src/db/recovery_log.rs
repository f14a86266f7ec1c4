//! `recovery.log`: one JSON line for each time recovery cut a torn tail, rebuilt the store, or an
//! operator accepted a loss — so that `verify` and `info` can tell it later. Informational: it is
//! never read to decide anything, and a damaged line is shown as it is.

use super::open::RecoveryReport;
use crate::error::{Error, Result};
use crate::format::RECOVERY_LOG;
use crate::io::Vfs;
use crate::limits::RECOVERY_LOG_LINES;
use std::path::Path;

/// Records what a writable open cut or rebuilt.
pub(crate) fn append(vfs: &dyn Vfs, dir: &Path, report: &RecoveryReport) -> Result<()> {
    if let Some(warning) = report.warning() {
        append_line(vfs, dir, "torn_tail", &warning)?;
    }
    if let Some(why) = &report.rebuilt {
        let detail = format!("store rebuilt from the log ({why})");
        append_line(vfs, dir, "store_rebuilt", &detail)?;
    }
    Ok(())
}

/// Appends one event (the file is rewritten atomically, keeping the newest lines).
pub(crate) fn append_line(vfs: &dyn Vfs, dir: &Path, event: &str, detail: &str) -> Result<()> {
    let path = dir.join(RECOVERY_LOG);
    let mut lines: Vec<String> = match vfs.exists(&path) {
        true => String::from_utf8_lossy(&vfs.read_file(&path).map_err(|e| Error::io(&path, e))?)
            .lines()
            .map(str::to_string)
            .collect(),
        false => Vec::new(),
    };
    let at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let line = serde_json::json!({ "at": at, "event": event, "detail": detail });
    lines.push(line.to_string());
    let keep = lines.len().saturating_sub(RECOVERY_LOG_LINES);
    let mut text = lines[keep..].join("\n");
    text.push('\n');
    vfs.write_atomic(&path, text.as_bytes())
        .map_err(|e| Error::io(&path, e))
}

/// The events recorded, oldest first, one readable line each (`time event: detail`).
pub fn read(vfs: &dyn Vfs, dir: &Path) -> Vec<String> {
    let path = dir.join(RECOVERY_LOG);
    let Ok(bytes) = vfs.read_file(&path) else {
        return Vec::new();
    };
    String::from_utf8_lossy(&bytes)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(
            |line| match serde_json::from_str::<serde_json::Value>(line) {
                Ok(v) => {
                    let at = v["at"]
                        .as_i64()
                        .and_then(|s| chrono::DateTime::from_timestamp(s, 0))
                        .map_or_else(
                            || "?".to_string(),
                            |t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
                        );
                    format!(
                        "{at} {}: {}",
                        v["event"].as_str().unwrap_or("?"),
                        v["detail"].as_str().unwrap_or("?")
                    )
                }
                Err(_) => format!("(unreadable line) {line}"),
            },
        )
        .collect()
}
