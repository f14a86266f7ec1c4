//! Replicas of a database: in-process followers, checkpoint directories for edge devices, and
//! catching a replica directory up from a log directory or shipped segment files.

use super::commit::Command;
use super::Db;
use crate::error::{CorruptionKind, Error, ReplicaError, Result};
use crate::model::Lsn;
use crate::wal::follow::read_segments_in;
use crate::wal::{LogFollower, ShippedFrame};
use crate::state::{DirtyKey, DirtySet};
use crate::format::{
    version_of, Header, BASE_FILE, BASE_MAGIC, FORMAT_VERSION, FROZEN_DIR, FROZEN_MANIFEST,
    HEADER_BYTES, MANIFEST_FILE, SEEDING_SUFFIX, STORE_DIR, WAL_DIR,
};
use crate::io::{FileKind, StdFs, Vfs};
use crate::store::meta::Meta;
use crate::store::Store;
use serde::{Deserialize, Serialize};
use std::io;
use std::path::{Path, PathBuf};

/// Where a replica directory's log begins.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReplicaBase {
    /// The LSN of the checkpoint the directory was made at: its log continues with `lsn + 1`.
    pub lsn: Lsn,
    /// The checksum of the primary's frame at `lsn`, which the next frame's chain must continue.
    pub crc: u32,
}

impl ReplicaBase {
    fn encode(&self) -> [u8; HEADER_BYTES] {
        Header::new(BASE_MAGIC)
            .put_u64(16, self.lsn.0)
            .put_u32(24, self.crc)
            .encode()
    }

    /// Reads the BASE file of `dir`, if the directory is a replica.
    ///
    /// # Errors
    /// [`Error::Corruption`] for a BASE file of the wrong size or magic, a failed checksum or an
    /// LSN out of range; [`Error::FormatVersion`] for another format version; [`Error::Io`] when
    /// it cannot be read.
    pub fn read(dir: &Path) -> Result<Option<ReplicaBase>> {
        ReplicaBase::read_in(&StdFs, dir)
    }

    /// [`ReplicaBase::read`] through `vfs`.
    pub(crate) fn read_in(vfs: &dyn Vfs, dir: &Path) -> Result<Option<ReplicaBase>> {
        let path = dir.join(BASE_FILE);
        if !vfs.exists(&path) {
            return Ok(None);
        }
        let b = vfs.read_file(&path).map_err(|e| Error::io(&path, e))?;
        // A BASE of another length has no magic, and it names its version before its checksum
        // is looked at.
        if b.len() != HEADER_BYTES || &b[0..8] != BASE_MAGIC {
            return Err(Error::corruption(&path, 0, CorruptionKind::BadMagic));
        }
        let version = version_of(&b).unwrap_or_default();
        if version != FORMAT_VERSION {
            return Err(Error::FormatVersion {
                path,
                found: version,
                supported: FORMAT_VERSION,
            });
        }
        let header = Header::decode(&path, &b, BASE_MAGIC)?;
        let lsn = header.u64_at(16);
        if lsn > crate::limits::MAX_LSN {
            return Err(Error::corruption(
                &path,
                16,
                CorruptionKind::InvalidValue(format!("base LSN {lsn} out of range")),
            ));
        }
        Ok(Some(ReplicaBase {
            lsn: Lsn(lsn),
            crc: header.u32_at(24),
        }))
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
struct ManifestFile {
    path: String,
    len: u64,
    crc32: u32,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
struct ManifestBody {
    format_version: u32,
    db_id: String,
    lsn: u64,
    files: Vec<ManifestFile>,
}

#[derive(Serialize, Deserialize)]
struct Manifest {
    body: ManifestBody,
    crc32: u32,
}

/// What [`Db::checkpoint_to`] wrote.
#[derive(Clone, Debug, Serialize)]
pub struct CheckpointInfo {
    /// The checkpoint directory.
    pub path: PathBuf,
    /// The LSN the copy is at: it answers as the database did there.
    pub lsn: Lsn,
    /// Files written, the manifest included.
    pub files: usize,
    /// Bytes of those files.
    pub bytes: u64,
}

/// The files under `root/rel` (a symbolic link counts as a file, never followed), as paths
/// relative to `root`; the manifest itself is left out.
fn files_under(vfs: &dyn Vfs, root: &Path, rel: &Path, out: &mut Vec<PathBuf>) -> io::Result<()> {
    for name in vfs.list(&root.join(rel))? {
        let rel = rel.join(&name);
        if vfs.metadata(&root.join(&rel))?.kind == FileKind::Dir {
            files_under(vfs, root, &rel, out)?;
        } else if name != Path::new(MANIFEST_FILE) {
            out.push(rel);
        }
    }
    Ok(())
}

fn manifest_body(vfs: &dyn Vfs, dir: &Path, db_id: u64, lsn: u64) -> Result<ManifestBody> {
    let mut names = Vec::new();
    files_under(vfs, dir, Path::new(""), &mut names).map_err(|e| Error::io(dir, e))?;
    names.sort();
    let mut files = Vec::new();
    for name in names {
        let path = dir.join(&name);
        let bytes = vfs.read_file(&path).map_err(|e| Error::io(&path, e))?;
        files.push(ManifestFile {
            path: name.to_string_lossy().into_owned(),
            len: bytes.len() as u64,
            crc32: crc32fast::hash(&bytes),
        });
    }
    Ok(ManifestBody {
        format_version: FORMAT_VERSION,
        db_id: format!("{db_id:#x}"),
        lsn,
        files,
    })
}

/// Checks a checkpoint directory's manifest: its own checksum, the format version, and every
/// listed file's length and CRC32. Returns the checkpoint's LSN.
///
/// # Errors
/// - [`Error::Replica`] ([`ReplicaError::BadCheckpoint`]) for a manifest that does not parse
///   or whose checksum fails, or a listed path that leaves the directory, is missing or is not
///   a regular file.
/// - [`Error::FormatVersion`] for a manifest of another format version.
/// - [`Error::Corruption`] for a listed file whose length or CRC32 differs.
/// - [`Error::Io`] when the manifest cannot be read.
pub fn verify_checkpoint(dir: &Path) -> Result<Lsn> {
    verify_checkpoint_in(&StdFs, dir).map(Lsn)
}

/// [`verify_checkpoint`] through `vfs`.
pub(crate) fn verify_checkpoint_in(vfs: &dyn Vfs, dir: &Path) -> Result<u64> {
    let path = dir.join(MANIFEST_FILE);
    let bad = |why: String| -> Error {
        ReplicaError::BadCheckpoint {
            path: dir.to_path_buf(),
            why,
        }
        .into()
    };
    let raw = vfs.read_file(&path).map_err(|e| Error::io(&path, e))?;
    let manifest: Manifest =
        serde_json::from_slice(&raw).map_err(|e| bad(format!("unreadable manifest: {e}")))?;
    let body = serde_json::to_vec(&manifest.body).map_err(|e| bad(e.to_string()))?;
    if crc32fast::hash(&body) != manifest.crc32 {
        return Err(bad("manifest checksum mismatch".into()));
    }
    if manifest.body.format_version != FORMAT_VERSION {
        return Err(Error::FormatVersion {
            path,
            found: manifest.body.format_version,
            supported: FORMAT_VERSION,
        });
    }
    for f in &manifest.body.files {
        check_listed(vfs, dir, f)?;
    }
    Ok(manifest.body.lsn)
}

/// Checks one file a checkpoint's manifest lists: a plain relative path inside `dir`, naming a
/// regular file of the listed length and CRC32.
fn check_listed(vfs: &dyn Vfs, dir: &Path, f: &ManifestFile) -> Result<()> {
    let bad = |why: String| -> Error {
        ReplicaError::BadCheckpoint {
            path: dir.to_path_buf(),
            why,
        }
        .into()
    };
    // Only plain relative paths inside the directory, naming regular files of the listed
    // length: a crafted manifest must not make opening read /dev/zero, a FIFO or ../secret.
    let relative = Path::new(&f.path);
    if f.path.is_empty()
        || !relative
            .components()
            .all(|c| matches!(c, std::path::Component::Normal(_)))
    {
        return Err(bad(format!(
            "manifest lists a path outside the checkpoint: {:?}",
            f.path
        )));
    }
    let file = dir.join(relative);
    let meta = vfs
        .metadata(&file)
        .map_err(|e| bad(format!("{}: {e}", f.path)))?;
    if meta.kind != FileKind::File {
        return Err(bad(format!("{} is not a regular file", f.path)));
    }
    if meta.len != f.len {
        return Err(Error::corruption(
            &file,
            meta.len.min(f.len),
            CorruptionKind::BadLength(meta.len),
        ));
    }
    let bytes = vfs
        .read_file(&file)
        .map_err(|e| bad(format!("{}: {e}", f.path)))?;
    if bytes.len() as u64 != f.len {
        return Err(Error::corruption(
            &file,
            bytes.len().min(f.len as usize) as u64,
            CorruptionKind::BadLength(bytes.len() as u64),
        ));
    }
    let actual = crc32fast::hash(&bytes);
    if actual != f.crc32 {
        return Err(Error::corruption(
            &file,
            0,
            CorruptionKind::ChecksumMismatch {
                expected: f.crc32,
                actual,
            },
        ));
    }
    Ok(())
}

/// Copies a verified checkpoint directory to `to` (which must not exist). The copy is built in a
/// hidden sibling (`.NAME.seeding`), checked, synced and then renamed to `to`, so a seeding cut
/// short (a kill, a power loss) leaves no `to` behind: the next attempt starts over instead of
/// finding a half-copied replica. A sibling left by such an attempt is removed first.
/// Returns the checkpoint's LSN.
///
/// # Errors
/// - What [`verify_checkpoint`] returns, for `from` and for the copy.
/// - [`Error::AlreadyExists`] when `to` exists; [`Error::InvalidArgument`] when `to` has no
///   final name (e.g. `..`).
/// - [`Error::Io`] when copying, syncing or renaming fails; a failure before the final rename
///   leaves no `to`.
pub fn seed_from_checkpoint(from: &Path, to: &Path) -> Result<Lsn> {
    seed_from_checkpoint_in(&StdFs, from, to).map(Lsn)
}

/// [`seed_from_checkpoint`] through `vfs`.
pub(crate) fn seed_from_checkpoint_in(vfs: &dyn Vfs, from: &Path, to: &Path) -> Result<u64> {
    let lsn = verify_checkpoint_in(vfs, from)?;
    if vfs.exists(to) {
        return Err(Error::AlreadyExists {
            path: to.to_path_buf(),
        });
    }
    let name = to
        .file_name()
        .ok_or_else(|| Error::InvalidArgument(format!("{}: not a directory name", to.display())))?;
    let parent = match to.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let tmp = parent.join(format!(".{}{SEEDING_SUFFIX}", name.to_string_lossy()));
    if vfs.exists(&tmp) {
        vfs.remove_dir_all(&tmp).map_err(|e| Error::io(&tmp, e))?;
    }
    let mut names = Vec::new();
    files_under(vfs, from, Path::new(""), &mut names).map_err(|e| Error::io(from, e))?;
    names.push(PathBuf::from(MANIFEST_FILE));
    vfs.create_dir_all(&tmp.join(WAL_DIR))
        .map_err(|e| Error::io(&tmp, e))?;
    let mut dirs = vec![tmp.clone(), tmp.join(WAL_DIR)];
    for name in names {
        let target = tmp.join(&name);
        if let Some(dir) = target.parent() {
            if !dirs.iter().any(|d| d == dir) {
                vfs.create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
                // The new directory and every new one between it and the copy's root.
                for up in dir.ancestors().take_while(|a| *a != tmp.as_path()) {
                    if !dirs.iter().any(|d| d == up) {
                        dirs.push(up.to_path_buf());
                    }
                }
            }
        }
        vfs.copy_file(&from.join(&name), &target)
            .map_err(|e| Error::io(&target, e))?;
    }
    // The copy is checked as the original was, and every directory entry is durable before the
    // copy gets its name.
    verify_checkpoint_in(vfs, &tmp)?;
    for dir in dirs.iter().rev() {
        vfs.sync_dir(dir).map_err(|e| Error::io(dir, e))?;
    }
    vfs.rename(&tmp, to).map_err(|e| Error::io(to, e))?;
    vfs.sync_dir(&parent).map_err(|e| Error::io(&parent, e))?;
    Ok(lsn)
}

/// Puts the frozen files `state` has in force into the checkpoint directory `out`: each one hard
/// linked from the database `db`'s `frozen/` (copied where links are not possible; written from
/// the state's mapping when the file was removed since), synced, and listed in
/// `out/frozen/MANIFEST`. Nothing when no month is frozen.
fn copy_frozen(
    vfs: &dyn Vfs,
    db: &Path,
    out: &Path,
    db_id: u64,
    state: &crate::state::State,
) -> Result<()> {
    if state.frozen.months().is_empty() {
        return Ok(());
    }
    let (from, to) = (db.join(FROZEN_DIR), out.join(FROZEN_DIR));
    vfs.create_dir_all(&to).map_err(|e| Error::io(&to, e))?;
    let mut entries = Vec::new();
    for frozen in state.frozen.months().values() {
        let name = frozen.entry.file_name();
        let (source, target) = (from.join(&name), to.join(&name));
        if let Err(link) = vfs.hard_link(&source, &target) {
            tracing::debug!(file = %source.display(), error = %link, "frozen file copied, not linked");
            match vfs.copy_file(&source, &target) {
                Ok(_) => {}
                // Replaced and removed since the state was taken (by a settle of this database,
                // or by the writer beside a read-only open): the state still maps it.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => vfs
                    .write_atomic(&target, frozen.file.raw_bytes())
                    .map_err(|e| Error::io(&target, e))?,
                Err(e) => return Err(Error::io(&source, e)),
            }
        }
        entries.push(frozen.entry);
    }
    let manifest = to.join(FROZEN_MANIFEST);
    vfs.write_atomic(&manifest, &crate::frozen::manifest::encode_manifest(db_id, &entries))
        .map_err(|e| Error::io(&manifest, e))?;
    vfs.sync_dir(&to).map_err(|e| Error::io(&to, e))?;
    vfs.sync_dir(out).map_err(|e| Error::io(out, e))?;
    Ok(())
}

impl crate::state::State {
    /// Every store key this state has a value for.
    pub fn all_keys(&self) -> DirtySet {
        let mut keys = DirtySet::default();
        keys.insert(DirtyKey::Catalog);
        for org in self.orgs.keys() {
            keys.insert(DirtyKey::Orgs(crate::state::chunk_of(*org)));
        }
        for (pid, bucket) in &self.ledgers {
            for org in bucket.orgs.keys() {
                keys.insert(DirtyKey::Ledger(*pid, crate::state::chunk_of(*org)));
            }
        }
        for (month, org) in self.patches.keys() {
            keys.insert(DirtyKey::Patches(*month, crate::state::chunk_of(*org)));
        }
        let frozen = &self.frozen;
        let orgs = frozen.flows.keys().chain(frozen.nets.keys()).chain(frozen.stale.keys());
        for org in orgs {
            keys.insert(DirtyKey::FrozenFlows(crate::state::chunk_of(*org)));
        }
        for s in &self.balances {
            for (org, b) in s.orgs.iter() {
                for month in b.months.keys() {
                    keys.insert(DirtyKey::Balance(crate::state::chunk_of(*org), *month));
                }
            }
        }
        keys
    }
}

impl Db {
    /// Whether this database is a read-only replica directory.
    pub fn is_replica(&self) -> bool {
        self.shared.replica_of.is_some()
    }

    /// Refuses a write on a database opened read-only or on a replica directory.
    pub(crate) fn refuse_if_replica(&self) -> Result<()> {
        self.refuse_if_read_only()?;
        match self.shared.replica_of {
            Some(_) => Err(ReplicaError::ReadOnly {
                path: self.shared.path.clone(),
            }
            .into()),
            None => Ok(()),
        }
    }

    /// The database's id (every segment header carries it).
    pub fn db_id(&self) -> u64 {
        self.shared.db_id
    }

    /// Writes a consistent, checksummed copy of the database at its current LSN to `out` (a new
    /// directory), without stopping writers: the copy is packed from a snapshot. The directory
    /// opens as a read-only replica that answers as this database did at that LSN, and follows
    /// this database's log from there.
    ///
    /// # Errors
    /// [`Error::AlreadyExists`] when `out` exists and is not empty; [`Error::Poisoned`] or
    /// [`Error::Closed`] when this database's log cannot first be made durable up to the copy's
    /// LSN; [`Error::Io`] or [`Error::Store`] when writing the copy fails (what was written
    /// stays in `out`: remove it before trying again).
    pub fn checkpoint_to(&self, out: &Path) -> Result<CheckpointInfo> {
        self.shared.ensure(crate::query::Scope::All)?;
        let vfs = &*self.shared.vfs;
        if vfs.exists(out) && !vfs.list(out).map_err(|e| Error::io(out, e))?.is_empty() {
            return Err(Error::AlreadyExists {
                path: out.to_path_buf(),
            });
        }
        let (state, crc) = {
            let current = self.shared.state.read();
            (current.state.clone(), current.log_crc)
        };
        let lsn = state.lsn;
        // The copy's base must never be ahead of this database's durable log.
        self.shared.make_log_durable(lsn)?;
        vfs.create_dir_all(&out.join(WAL_DIR))
            .map_err(|e| Error::io(out, e))?;
        let meta = Meta {
            db_id: self.shared.db_id,
            shards: self.shared.shards,
        };
        meta.write(vfs, out)?;
        // The frozen files in force go with the store that names them (immutable: linked when
        // the file system can, else copied), listed in the copy's own `frozen/MANIFEST`.
        copy_frozen(vfs, &self.shared.path, out, self.shared.db_id, &state)?;
        {
            let store = Store::open(&out.join(STORE_DIR))?;
            let packed = state.pack(&state.all_keys());
            drop(state);
            store.write(&packed)?;
        }
        let base = ReplicaBase { lsn, crc };
        let base_path = out.join(BASE_FILE);
        vfs.write_atomic(&base_path, &base.encode())
            .map_err(|e| Error::io(&base_path, e))?;
        let body = manifest_body(vfs, out, self.shared.db_id, lsn.0)?;
        let raw = serde_json::to_vec(&body).map_err(|e| Error::InvalidArgument(e.to_string()))?;
        let manifest = Manifest {
            crc32: crc32fast::hash(&raw),
            body,
        };
        let text = serde_json::to_vec_pretty(&manifest)
            .map_err(|e| Error::InvalidArgument(e.to_string()))?;
        let path = out.join(MANIFEST_FILE);
        vfs.write_atomic(&path, &text)
            .map_err(|e| Error::io(&path, e))?;
        Ok(CheckpointInfo {
            path: out.to_path_buf(),
            lsn,
            files: manifest.body.files.len() + 1,
            bytes: manifest.body.files.iter().map(|f| f.len).sum::<u64>() + text.len() as u64,
        })
    }

    /// Appends and applies frames of the primary's log (replica directories only). Frames the
    /// replica already has are skipped once their checksum matches; a gap, a fork or a foreign
    /// log is refused with nothing written.
    /// Returns the replica's LSN afterwards.
    ///
    /// # Errors
    /// - [`Error::Replica`]: [`ReplicaError::Gap`] when the frames start after the replica's next
    ///   LSN or skip one, [`ReplicaError::Diverged`] when a frame does not continue the replica's
    ///   checksum chain.
    /// - [`Error::Corruption`] for a frame whose payload does not decode or whose operation count
    ///   differs (nothing written), or whose effect contradicts the state
    ///   ([`CorruptionKind::InconsistentOp`]: the frames are logged, the database is poisoned).
    /// - [`Error::InvalidArgument`] on a database that is not a replica directory;
    ///   [`Error::ReadOnly`] on one opened read-only.
    /// - [`Error::Poisoned`] when the log write fails or the database was poisoned before:
    ///   reopen it; [`Error::Closed`].
    pub fn replicate(&self, frames: Vec<ShippedFrame>) -> Result<Lsn> {
        self.refuse_if_read_only()?;
        if self.shared.replica_of.is_none() {
            return Err(Error::InvalidArgument(
                "only a replica directory applies shipped frames".into(),
            ));
        }
        let (reply, answer) = crossbeam::channel::bounded(1);
        self.tx
            .send(Command::Replicate(frames, reply))
            .map_err(|_| Error::Closed)?;
        answer.recv().map_err(|_| Error::Closed)?
    }

    /// Catches up from the primary's log directory: applies every complete frame after this
    /// replica's LSN, in chunks. Returns the frames applied. An unreachable source is an I/O
    /// error and changes nothing: the replica keeps serving what it has.
    ///
    /// # Errors
    /// What [`Db::replicate`] returns, and what reading the source returns:
    /// [`Error::Io`] for an unreachable source, [`Error::Replica`] ([`ReplicaError::ForeignLog`],
    /// [`ReplicaError::Gap`], [`ReplicaError::Diverged`], [`ReplicaError::AheadOfSource`]) for a
    /// source that does not continue this replica's log, [`Error::Corruption`] for a damaged
    /// one. Frames applied before the error stay applied.
    pub fn follow(&self, log_dir: &Path) -> Result<u64> {
        // Frames apply to every org they touch.
        self.shared.ensure(crate::query::Scope::All)?;
        let (lsn, crc) = {
            let current = self.shared.state.read();
            (current.state.lsn.0, current.log_crc)
        };
        let vfs = self.shared.vfs.clone();
        let mut follower = LogFollower::new(vfs, log_dir, self.shared.db_id, lsn, crc);
        let mut applied = 0u64;
        loop {
            let frames = follower.poll(4 << 20)?;
            if frames.is_empty() {
                return Ok(applied);
            }
            applied += frames.len() as u64;
            self.replicate(frames)?;
        }
    }

    /// Applies shipped segment files (in any order): all are checked first — checksums, LSN
    /// continuity, no gap or overlap between them, this database's id — then applied.
    /// Returns the replica's LSN afterwards.
    ///
    /// # Errors
    /// What [`crate::read_segments`] returns (nothing is applied then), and what
    /// [`Db::replicate`] returns.
    pub fn apply_segments(&self, paths: &[PathBuf]) -> Result<Lsn> {
        let frames = read_segments_in(&*self.shared.vfs, paths, self.shared.db_id)?;
        self.replicate(frames)
    }

    /// The checksum of the log frame at the visible LSN.
    pub fn log_crc(&self) -> u32 {
        self.shared.state.read().log_crc
    }
}

#[cfg(all(test, feature = "fault-injection"))]
mod tests {
    use super::*;
    use crate::io::sim::{CrashKind, SimFs};
    use crate::{Currency, Db, Options, Org, OrgId};
    use std::sync::Arc;

    /// A checkpoint directory is written, verified and seeded through the database's file system
    /// (here the simulated disk), and a crash at any point of a seeding leaves either no copy or
    /// a whole one that verifies.
    #[test]
    fn checkpoint_directories_go_through_the_vfs_and_seeding_survives_a_crash_anywhere() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let sim = SimFs::new();
        let options = Options::default().vfs(Arc::new(sim.clone()));
        // The lock file and the store are on the real disk.
        std::fs::create_dir_all(tmp.path().join("db")).expect("mkdir");
        let db = Db::open_with(tmp.path().join("db"), options).expect("open");
        db.register_org(Org::new(OrgId(1), "Seaside Inn", Currency::EUR))
            .expect("register");
        let out = tmp.path().join("checkpoint");
        let info = db.checkpoint_to(&out).expect("checkpoint");
        assert!(!out.join(MANIFEST_FILE).exists(), "on the simulated disk only");
        assert_eq!(verify_checkpoint_in(&sim, &out).expect("verify"), info.lsn.0);
        let to = tmp.path().join("edge");
        let before = sim.mutations();
        assert_eq!(
            seed_from_checkpoint_in(&sim, &out, &to).expect("seed"),
            info.lsn.0
        );
        assert!(sim.exists(&to.join(BASE_FILE)) && !to.exists());
        for after in before..=sim.mutations() {
            for (kind, seed) in [(CrashKind::Synced, 0), (CrashKind::Reordered, after)] {
                let image = sim.image(after, kind, seed);
                if image.files.keys().any(|p| p.starts_with(&to)) {
                    let crashed = SimFs::from_image(&image);
                    verify_checkpoint_in(&crashed, &to)
                        .unwrap_or_else(|e| panic!("{}: {e}", image.note));
                }
            }
        }
        let image = sim.image(sim.mutations(), CrashKind::Synced, 0);
        assert!(image.files.contains_key(&to.join(MANIFEST_FILE)));
    }
}
