//! The operator's path past corruption: [`accept_loss`] sets aside what recovery refuses to read
//! (a damaged or missing stretch of the log, a store ahead of what is left of it, a damaged or
//! missing frozen file), copying everything it discards into a side directory first, and reports
//! what was dropped. A frozen file loses nothing: the log holds every row it was made from, so
//! the store and the frozen files are rebuilt from it and the months frozen again.

use super::open;
use super::{Db, Options};
use crate::error::{CorruptionKind, Error, Result};
use crate::io::Vfs;
use crate::limits::MAX_SALVAGE_ROUNDS;
use crate::model::Lsn;
use crate::wal::segment::{parse_segment_name, SEGMENT_HEADER_BYTES};
use crate::format::{DURABLE_FILE, FROZEN_DIR, META_FILE, STORE_DIR, WAL_DIR};
use crate::wal::frames_in;
use std::path::{Path, PathBuf};

/// One piece [`accept_loss`] discarded, and where its copy is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Salvaged {
    /// What was wrong and what was done, in words.
    pub what: String,
    /// The file or directory (or the part of a file from `offset`) that was discarded.
    pub from: PathBuf,
    /// Byte offset in `from` where the discarded part starts (0 for a whole file or directory).
    pub offset: u64,
    /// Its copy in the side directory.
    pub copy: PathBuf,
    /// Bytes discarded (and copied).
    pub bytes: u64,
    /// Valid log frames in the discarded bytes and their LSN range (log pieces only).
    pub frames: u64,
    /// First and last LSN of those frames; `None` when they hold none, or for the store.
    pub lsns: Option<(Lsn, Lsn)>,
}

/// What [`accept_loss`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LossReport {
    /// The side directory the copies are in.
    pub side: PathBuf,
    /// What was discarded, in the order it was set aside.
    pub dropped: Vec<Salvaged>,
    /// The database's LSN afterwards.
    pub lsn: Lsn,
    /// The final open's report (a torn tail it cut, a store it rebuilt).
    pub recovery: super::RecoveryReport,
    /// Months frozen again after frozen files were set aside and rebuilt from the log (the
    /// months before the default horizon: see [`Db::freeze`]).
    pub refrozen: Vec<crate::model::Month>,
}

/// Makes a database that refuses to open because acknowledged data is damaged or missing open
/// again, accepting the loss: repeatedly opens it read-only, and for each corruption it is
/// refused with — a damaged frame or segment of the log, a log that ends before the store's
/// checkpoint, a missing log directory, a frozen file missing or damaged (each frozen file in
/// force is also checked whole, since reads check their blocks only when they first use them) —
/// copies what must go into `side` (synced), then cuts it (the log from the damage on; the store
/// when it is ahead of the log; the store and every frozen file for a frozen file's damage,
/// which loses nothing of the log). Finally opens it for writing, which cuts any torn tail and
/// rebuilds the store from the log, and freezes again the months a set-aside frozen file held
/// ([`Db::freeze`]). A rebuild from the log replays the whole log into memory: it needs the
/// memory of the whole history at once, unlike a normal open. Damage elsewhere (the identity
/// file, a replica's base or store, a replica's frozen file) is returned as the error, with
/// nothing changed. The database must not be open in another process (its lock is held
/// throughout).
///
/// # Errors
/// - [`Error::NotADatabase`] when `path` has no identity file; [`Error::InvalidArgument`] when
///   `side` lies inside `path`.
/// - The error that stopped a read-only open, when it is no damage this can set aside (the
///   identity file, a replica's base or store, any error but [`Error::Corruption`]) or the
///   open still fails after [`crate::limits::MAX_SALVAGE_ROUNDS`] pieces: nothing more is
///   changed, and pieces set aside before stay in `side`.
/// - [`Error::AlreadyExists`] when a copy would overwrite a file in `side`.
/// - [`Error::Locked`] when another process holds the database; [`Error::Io`] when copying,
///   syncing or cutting fails (what was copied stays in `side`).
/// - What the final open for writing or its close returns.
pub fn accept_loss(path: &Path, side: &Path) -> Result<LossReport> {
    if !path.join(META_FILE).exists() {
        return Err(Error::NotADatabase {
            path: path.to_path_buf(),
        });
    }
    let absolute = |p: &Path| std::path::absolute(p).map_err(|e| Error::io(p, e));
    if absolute(side)?.starts_with(absolute(path)?) {
        return Err(Error::InvalidArgument(format!(
            "the side directory {} must be outside the database {}",
            side.display(),
            path.display()
        )));
    }
    let lock = open::lock(path)?;
    let handle = || lock.try_clone().map_err(|e| Error::io(path, e));
    let mut dropped = Vec::new();
    let mut rounds = 0;
    loop {
        let opened = open::open_holding(path, Options::read_only(), Some(handle()?));
        // Frozen files are checked whole too: reads check a block only when they first use it.
        let damage = opened.and_then(|db| db.check_frozen_files());
        match damage {
            Ok(()) => break,
            Err(Error::Corruption { file, offset, kind }) if rounds < MAX_SALVAGE_ROUNDS => {
                rounds += 1;
                let piece = set_aside(path, side, &file, offset, &kind)?;
                dropped.extend(piece);
            }
            Err(e) => return Err(e),
        }
    }
    let options = Options {
        create_if_missing: false,
        ..Options::default()
    };
    let db = open::open_holding(path, options, Some(handle()?))?;
    let refrozen = match dropped.iter().any(|p| p.from == path.join(FROZEN_DIR)) {
        true => db.freeze(None)?.frozen.iter().map(|m| m.month).collect(),
        false => Vec::new(),
    };
    let vfs = crate::io::StdFs;
    for piece in &dropped {
        let detail = format!("{}; copy in {}", piece.what, piece.copy.display());
        super::recovery_log::append_line(&vfs, path, "accepted_loss", &detail)?;
    }
    let report = LossReport {
        side: side.to_path_buf(),
        dropped,
        lsn: db.visible_lsn(),
        recovery: db.recovery().clone(),
        refrozen,
    };
    db.close()?;
    Ok(report)
}

/// Sets aside what one corruption error points at; an error it cannot handle is returned as it
/// was, with nothing changed.
fn set_aside(
    db: &Path,
    side: &Path,
    file: &Path,
    offset: u64,
    kind: &CorruptionKind,
) -> Result<Vec<Salvaged>> {
    let wal = db.join(WAL_DIR);
    let unhandled = || Error::corruption(file, offset, kind.clone());
    if file.starts_with(db.join(FROZEN_DIR)) {
        if super::edge::ReplicaBase::read(db)?.is_some() {
            // A replica's log starts at its base: the rows before it are in its files alone.
            return Err(unhandled());
        }
        // Settled first, so that the store set aside is the one an open would use.
        crate::store::compact::recover(db)?;
        let what = format!(
            "frozen file {} damaged at offset {offset} ({kind}): the store set aside, rebuilt \
             from the log (which loses nothing)",
            file.display()
        );
        let store = move_aside(db, side, &db.join(STORE_DIR), what)?;
        let what = "every frozen file set aside, the months frozen again from the log".to_string();
        let frozen = move_aside(db, side, &db.join(FROZEN_DIR), what)?;
        return Ok(vec![store, frozen]);
    }
    if let CorruptionKind::MissingLog { from, to } = kind {
        if super::edge::ReplicaBase::read(db)?.is_some() {
            // A replica's state up to its base is in its store alone.
            return Err(unhandled());
        }
        let mut pieces = Vec::new();
        if file == wal {
            std::fs::create_dir_all(&wal).map_err(|e| Error::io(&wal, e))?;
        }
        let mark = db.join(DURABLE_FILE);
        if mark.exists() {
            let what = format!("durable mark at LSN {to} (the log ends before it)");
            pieces.push(move_aside(db, side, &mark, what)?);
        }
        // A compaction a crash interrupted is settled first, so that the store set aside is
        // the one an open would use (and no copy of it is left to become the store).
        crate::store::compact::recover(db)?;
        let store = db.join(STORE_DIR);
        let what = format!(
            "store checkpoint at LSN {to} is ahead of the log (LSNs {from}..={to} missing): \
             store set aside, rebuilt from the log"
        );
        pieces.push(move_aside(db, side, &store, what)?);
        return Ok(pieces);
    }
    let in_wal = file.parent() == Some(wal.as_path());
    let Some(first_lsn) = file
        .file_name()
        .and_then(|n| parse_segment_name(Path::new(n)))
    else {
        return Err(unhandled());
    };
    if !in_wal {
        return Err(unhandled());
    }
    let mut pieces = Vec::new();
    // Every later segment goes: the log cannot continue across the damage.
    let later: Vec<PathBuf> = crate::wal::recovery::list_segments(&crate::io::StdFs, &wal)?
        .into_iter()
        .filter(|(lsn, _)| *lsn > first_lsn)
        .map(|(_, p)| p)
        .collect();
    for path in later.iter().rev() {
        let what = format!(
            "segment {} after damage at LSN {first_lsn}+",
            path.display()
        );
        pieces.push(move_aside(db, side, path, what)?);
    }
    if offset < SEGMENT_HEADER_BYTES as u64 {
        let what = format!("segment {} with a damaged header ({kind})", file.display());
        pieces.push(move_aside(db, side, file, what)?);
    } else {
        pieces.push(cut_aside(db, side, file, offset, kind)?);
    }
    Ok(pieces)
}

/// Copies `file[offset..]` into the side directory, then truncates `file` at `offset`.
fn cut_aside(
    db: &Path,
    side: &Path,
    file: &Path,
    offset: u64,
    kind: &CorruptionKind,
) -> Result<Salvaged> {
    let bytes = std::fs::read(file).map_err(|e| Error::io(file, e))?;
    let start = (offset as usize).min(bytes.len());
    let piece = &bytes[start..];
    let copy = side_path(db, side, file, &format!(".from-{offset}"))?;
    write_synced(&copy, piece)?;
    let (frames, lsns) = frames_in(piece);
    crate::io::StdFs
        .truncate(file, offset)
        .map_err(|e| Error::io(file, e))?;
    Ok(Salvaged {
        what: format!(
            "log {} cut at offset {offset} ({kind}): {} bytes, {frames} valid frames after the \
             damage",
            file.display(),
            piece.len()
        ),
        from: file.to_path_buf(),
        offset,
        copy,
        bytes: piece.len() as u64,
        frames,
        lsns,
    })
}

/// Copies a file or directory into the side directory (synced), then removes it.
fn move_aside(db: &Path, side: &Path, path: &Path, what: String) -> Result<Salvaged> {
    let copy = side_path(db, side, path, "")?;
    let (mut bytes, mut frames, mut lsns) = (0, 0, None);
    if path.is_dir() {
        bytes = open::copy_tree(path, &copy, true)?;
        std::fs::remove_dir_all(path).map_err(|e| Error::io(path, e))?;
    } else if path.exists() {
        let content = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        write_synced(&copy, &content)?;
        bytes = content.len() as u64;
        (frames, lsns) = frames_in(content.get(SEGMENT_HEADER_BYTES..).unwrap_or_default());
        crate::io::StdFs
            .remove_file(path)
            .map_err(|e| Error::io(path, e))?;
    }
    if let Some(parent) = path.parent() {
        crate::io::StdFs
            .sync_dir(parent)
            .map_err(|e| Error::io(parent, e))?;
    }
    Ok(Salvaged {
        what,
        from: path.to_path_buf(),
        offset: 0,
        copy,
        bytes,
        frames,
        lsns,
    })
}

/// Where the copy of `path` (inside the database `db`) goes in `side`: the same relative path,
/// with `suffix`; never over an existing file.
fn side_path(db: &Path, side: &Path, path: &Path, suffix: &str) -> Result<PathBuf> {
    let relative = path.strip_prefix(db).unwrap_or(path);
    let mut name = relative.as_os_str().to_owned();
    name.push(suffix);
    let target = side.join(name);
    if target.exists() {
        return Err(Error::AlreadyExists { path: target });
    }
    Ok(target)
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let parent = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    let mut f = std::fs::File::create_new(path).map_err(|e| Error::io(path, e))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .map_err(|e| Error::io(path, e))?;
    crate::io::StdFs
        .sync_dir(parent)
        .map_err(|e| Error::io(parent, e))
}

impl std::fmt::Display for LossReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.dropped.is_empty() {
            writeln!(f, "nothing to set aside: the database opens as it is")?;
        }
        for piece in &self.dropped {
            write!(f, "dropped: {} ({} bytes", piece.what, piece.bytes)?;
            if let Some((lo, hi)) = piece.lsns {
                write!(f, ", frames of LSNs {lo}..={hi}")?;
            }
            writeln!(f, "); copy: {}", piece.copy.display())?;
        }
        if let Some(warning) = self.recovery.warning() {
            writeln!(f, "{warning}")?;
        }
        if !self.refrozen.is_empty() {
            let months: Vec<String> = self.refrozen.iter().map(|m| m.to_string()).collect();
            writeln!(f, "frozen again from the log: {}", months.join(", "))?;
        }
        write!(f, "database now at LSN {}", self.lsn)
    }
}

impl Db {
    /// Checks every frozen file in force whole (each checksum, and that its parts agree); the
    /// first damage found is the error naming the file and offset.
    fn check_frozen_files(&self) -> Result<()> {
        let state = self.shared.state.read().state.clone();
        for frozen in state.frozen.months().values() {
            frozen.file.verify()?;
        }
        Ok(())
    }

    /// See [`accept_loss`].
    ///
    /// # Errors
    /// As [`accept_loss`].
    pub fn accept_loss(path: impl AsRef<Path>, side: impl AsRef<Path>) -> Result<LossReport> {
        accept_loss(path.as_ref(), side.as_ref())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_side_directory_must_be_outside_the_database() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let db = tmp.path().join("db");
        crate::Db::open(&db)
            .expect("create")
            .close()
            .expect("close");
        for side in [db.clone(), db.join("lost"), db.join("wal")] {
            match super::accept_loss(&db, &side) {
                Err(crate::Error::InvalidArgument(why)) => {
                    assert!(why.contains("outside"), "{why}")
                }
                other => panic!("{}: {other:?}", side.display()),
            }
        }
        let report = super::accept_loss(&db, &tmp.path().join("side")).expect("nothing to do");
        assert!(report.dropped.is_empty());
        assert!(
            !tmp.path().join("side").exists(),
            "a side directory made for nothing"
        );
    }
}
