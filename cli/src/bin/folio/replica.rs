//! `folio checkpoint` and `folio replica`: a consistent copy of a database, and a replica
//! directory seeded from one and caught up from its primary's log.

use crate::cli::{ReplicaCmd, DEFAULT_FOLLOW_INTERVAL_MS};
use crate::open::{reader, replica_dir};
use crate::output;
use folio::Db;
use folio_cli::Error;
use std::path::{Path, PathBuf};

/// `folio checkpoint`: writes a checkpoint of `data` to `out`.
pub fn checkpoint(data: &Path, out: &Path, json: bool) -> Result<(), Error> {
    let db = reader(data)?;
    let info = db.checkpoint_to(out)?;
    db.close()?;
    output::checkpoint(&info, json);
    Ok(())
}

/// `folio replica`: runs `action`, or without one the short form `--follow LOGDIR` (with
/// `--from` and `--once`).
pub fn run(
    data: &Path,
    action: Option<ReplicaCmd>,
    from: Option<PathBuf>,
    follow: Option<PathBuf>,
    once: bool,
) -> Result<(), Error> {
    let action = match (action, follow) {
        (Some(action), _) => action,
        (None, Some(log)) => ReplicaCmd::Follow {
            from,
            log,
            once,
            interval_ms: DEFAULT_FOLLOW_INTERVAL_MS,
        },
        (None, None) => {
            return Err(Error::InvalidArgument(
                "replica: give a command (follow, apply, status) or --follow LOGDIR".into(),
            ))
        }
    };
    match action {
        ReplicaCmd::Follow {
            from,
            log,
            once,
            interval_ms,
        } => follow_log(data, from, &log, once, interval_ms),
        ReplicaCmd::Apply { segments } => apply(data, &segments),
        ReplicaCmd::Status { log, json } => status(data, log.as_deref(), json),
    }
}

/// `folio replica follow`: seeds `data` from `from` when it does not exist, then applies the
/// frames of `log` as they appear (until caught up with `once`).
fn follow_log(
    data: &Path,
    from: Option<PathBuf>,
    log: &Path,
    once: bool,
    interval_ms: u64,
) -> Result<(), Error> {
    if !data.exists() {
        seed(data, from)?;
    }
    let db = replica_dir(data)?;
    if !db.is_replica() {
        return Err(Error::InvalidArgument(format!(
            "{} is not a replica directory",
            data.display()
        )));
    }
    if let Err(e) = follow_until_caught_up(&db, log, once, interval_ms) {
        db.close()?;
        return Err(e);
    }
    println!("replica {} at LSN {}", data.display(), db.visible_lsn());
    db.close()?;
    Ok(())
}

/// Creates the replica directory `data` from the checkpoint `from`.
fn seed(data: &Path, from: Option<PathBuf>) -> Result<(), Error> {
    let from = from.ok_or_else(|| {
        Error::InvalidArgument(format!(
            "{} does not exist: give --from CHECKPOINT to seed it",
            data.display()
        ))
    })?;
    let lsn = folio::seed_from_checkpoint(&from, data)?;
    eprintln!(
        "seeded {} from {} at LSN {lsn}",
        data.display(),
        from.display()
    );
    Ok(())
}

/// Polls `log` every `interval_ms`: forever, or with `once` until a poll finds nothing new. An
/// unreachable source is retried (with `once` it ends the run); any other refusal ends it.
fn follow_until_caught_up(db: &Db, log: &Path, once: bool, interval_ms: u64) -> Result<(), Error> {
    loop {
        match db.follow(log) {
            Ok(n) => {
                if n > 0 {
                    eprintln!("applied {n} frames, at LSN {}", db.visible_lsn());
                } else if once {
                    return Ok(());
                }
            }
            // Offline: keep what is applied and retry; refusals end the run.
            Err(folio::Error::Io { path, source }) => {
                eprintln!(
                    "source unreachable ({}: {source}); retrying",
                    path.display()
                );
                if once {
                    return Err(folio::Error::Io { path, source }.into());
                }
            }
            Err(e) => return Err(e.into()),
        }
        std::thread::sleep(std::time::Duration::from_millis(interval_ms));
    }
}

/// `folio replica apply`: applies shipped segment files.
fn apply(data: &Path, segments: &[PathBuf]) -> Result<(), Error> {
    let db = replica_dir(data)?;
    let lsn = db.apply_segments(segments);
    db.close()?;
    println!("replica {} at LSN {}", data.display(), lsn?);
    Ok(())
}

/// `folio replica status`: the applied and base LSNs and, with `log`, how the replica stands to
/// that source.
fn status(data: &Path, log: Option<&Path>, json: bool) -> Result<(), Error> {
    let base = folio::ReplicaBase::read(data)?;
    let db = reader(data)?;
    let applied = db.visible_lsn();
    let sync = log.map(|dir| folio::sync_status(dir, db.db_id(), applied, db.log_crc()));
    db.close()?;
    let sync = sync.transpose()?;
    output::replica_status(data, base.map(|b| b.lsn.0), applied.0, sync.as_ref(), json);
    Ok(())
}
