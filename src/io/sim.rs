//! A simulated disk for crash and fault tests: a [`Vfs`] that keeps, beside what the process sees
//! (the *live* image), what would survive a power loss (the *durable* image), and can inject I/O
//! errors.
//!
//! Model (the worst a POSIX file system with a volatile write cache may do):
//! - A write is live at once and durable only after `sync_data` of its file. Until then it is
//!   *pending*; a crash may keep none, a prefix (the last write torn at a 512 B or 4 KiB
//!   boundary), or any subset of the 512 B sectors of the pending writes (reordered).
//! - A created, renamed or removed name is durable only after `sync_dir` of its directory; a crash
//!   loses the others (or, in the reordered image, keeps each at random).
//! - A failed `sync_data` drops the file's pending writes from the durable path (as Linux does:
//!   the pages are marked clean), so a retried fsync that "succeeds" has not made them durable.
//! - `truncate` and `write_atomic` are durable when they return (they sync), but `write_atomic`
//!   is four steps (write temp, sync, rename, sync dir) and a crash can fall between them.
//!   `copy_file` syncs the copy's data; its name is durable after `sync_dir`, like any other.
//! - A directory renamed or removed (`rename`, `remove_dir_all`) keeps its old place in the
//!   durable image until the directory it was in (renamed: the one it lands in) is synced.
//!   Created directories are always durable.
//!
//! Every mutating call is journaled, so [`SimFs::image`] can rebuild the disk as it was after any
//! number of mutations and produce crash images from it, deterministically from a seed. Every
//! call (reads too) counts as an operation for [`FaultPlan`].

use super::{AppendFile, FileKind, Mapped, Metadata, ReadFile, Vfs};
use crate::rng::SplitMix64;
use parking_lot::Mutex;
use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Sector size of the simulated disk: torn writes and reordering work in these units.
pub const SECTOR: usize = 512;
/// Page size: torn writes also stop at these boundaries.
pub const PAGE: usize = 4096;

/// Which error an injected fault returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FaultKind {
    /// `EIO`.
    Eio,
    /// `ENOSPC`.
    NoSpace,
    /// A write stores only part of its buffer, then fails (`EIO` for calls that are not writes).
    ShortWrite,
}

/// An injected fault: the operation with index `at` (counting every call from 0) fails; with
/// `persistent`, every later one fails too.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FaultPlan {
    pub at: u64,
    pub kind: FaultKind,
    pub persistent: bool,
}

/// How a crash image treats what was not yet durable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CrashKind {
    /// Only synced data and synced names survive.
    Synced,
    /// Pending writes survive in order up to a random one, which is torn at a sector or page
    /// boundary; names as in `Synced`.
    Torn,
    /// A random subset of the pending writes' sectors survives (holes read as zeros), and each
    /// unsynced name change survives or not at random.
    Reordered,
    /// `Synced`, then one random bit of one file flipped (media damage: must be detected).
    BitFlip,
}

impl CrashKind {
    pub const ALL: [CrashKind; 4] = [
        CrashKind::Synced,
        CrashKind::Torn,
        CrashKind::Reordered,
        CrashKind::BitFlip,
    ];
}

/// A disk as it would be found after a crash: every file and directory, all durable.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Image {
    pub files: BTreeMap<PathBuf, Vec<u8>>,
    pub dirs: BTreeSet<PathBuf>,
    /// What was done to make it (for failure messages).
    pub note: String,
}

impl Image {
    /// The same image with every path under `from` moved under `to` (to reopen a database's
    /// crash image at another path).
    pub fn rebased(&self, from: &Path, to: &Path) -> Image {
        let move_path = |p: &PathBuf| match p.strip_prefix(from) {
            Ok(rest) => to.join(rest),
            Err(_) => p.clone(),
        };
        let mut dirs: BTreeSet<PathBuf> = self.dirs.iter().map(move_path).collect();
        let mut at = Some(to);
        while let Some(dir) = at {
            if !dir.as_os_str().is_empty() {
                dirs.insert(dir.to_path_buf());
            }
            at = dir.parent();
        }
        Image {
            files: self
                .files
                .iter()
                .map(|(p, bytes)| (move_path(p), bytes.clone()))
                .collect(),
            dirs,
            note: self.note.clone(),
        }
    }
}

/// One journaled mutation.
#[derive(Clone, Debug)]
enum Mutation {
    Mkdir(PathBuf),
    Create(PathBuf),
    Write(PathBuf, Vec<u8>),
    Sync(PathBuf),
    /// A failed sync: pending writes of the file are lost to the durable image.
    SyncFailed(PathBuf),
    SyncDir(PathBuf),
    Truncate(PathBuf, u64),
    Remove(PathBuf),
    Rename(PathBuf, PathBuf),
    /// A directory and everything under it renamed.
    RenameDir(PathBuf, PathBuf),
    /// A directory and everything under it removed.
    RemoveDir(PathBuf),
}

/// `path` with its prefix `from` replaced by `to`, if it is `from` or under it.
fn rebase(path: &Path, from: &Path, to: &Path) -> Option<PathBuf> {
    path.strip_prefix(from).ok().map(|rest| match rest.as_os_str().is_empty() {
        true => to.to_path_buf(),
        false => to.join(rest),
    })
}

/// Moves every key of `map` at or under `from` to `to`.
fn rebase_keys<V>(map: &mut BTreeMap<PathBuf, V>, from: &Path, to: &Path) {
    let moved: Vec<PathBuf> = map
        .keys()
        .filter(|p| p.starts_with(from))
        .cloned()
        .collect();
    for path in moved {
        if let (Some(value), Some(new)) = (map.remove(&path), rebase(&path, from, to)) {
            map.insert(new, value);
        }
    }
}

type FileId = u64;

#[derive(Clone, Debug, Default)]
struct FileData {
    live: Vec<u8>,
    durable: Vec<u8>,
    /// Byte ranges whose sync failed: their pages were marked clean, so no later sync writes
    /// them (they read back as zeros after a crash).
    lost: Vec<(usize, usize)>,
}

impl FileData {
    fn sync(&mut self) {
        let mut durable = self.live.clone();
        for &(start, end) in &self.lost {
            let end = end.min(durable.len());
            for (i, byte) in durable.iter_mut().enumerate().take(end).skip(start) {
                *byte = self.durable.get(i).copied().unwrap_or(0);
            }
        }
        self.durable = durable;
    }
}

#[derive(Clone, Debug)]
struct Pending {
    file: FileId,
    offset: usize,
    data: Vec<u8>,
}

/// The disk state that the journal replays into.
#[derive(Clone, Debug, Default)]
struct Disk {
    next_id: FileId,
    names: BTreeMap<PathBuf, FileId>,
    durable_names: BTreeMap<PathBuf, FileId>,
    dirs: BTreeSet<PathBuf>,
    data: BTreeMap<FileId, FileData>,
    pending: Vec<Pending>,
    /// Directories renamed (from, to) whose new place is not durable yet.
    dir_moves: Vec<(PathBuf, PathBuf)>,
    /// Directories removed whose removal is not durable yet.
    dir_removals: Vec<PathBuf>,
}

impl Disk {
    fn from_image(image: &Image) -> Disk {
        let mut disk = Disk {
            dirs: image.dirs.clone(),
            ..Disk::default()
        };
        for (path, bytes) in &image.files {
            let id = disk.next_id;
            disk.next_id += 1;
            disk.names.insert(path.clone(), id);
            disk.durable_names.insert(path.clone(), id);
            disk.data.insert(
                id,
                FileData {
                    live: bytes.clone(),
                    durable: bytes.clone(),
                    lost: Vec::new(),
                },
            );
        }
        disk
    }

    fn apply(&mut self, m: &Mutation) {
        match m {
            Mutation::Mkdir(p) => {
                let mut at = Some(p.as_path());
                while let Some(dir) = at {
                    if !dir.as_os_str().is_empty() {
                        self.dirs.insert(dir.to_path_buf());
                    }
                    at = dir.parent();
                }
            }
            Mutation::Create(p) => {
                let id = self.next_id;
                self.next_id += 1;
                self.names.insert(p.clone(), id);
                self.data.insert(id, FileData::default());
            }
            Mutation::Write(p, bytes) => {
                if let Some(&id) = self.names.get(p) {
                    let f = self.data.entry(id).or_default();
                    let offset = f.live.len();
                    f.live.extend_from_slice(bytes);
                    self.pending.push(Pending {
                        file: id,
                        offset,
                        data: bytes.clone(),
                    });
                }
            }
            Mutation::Sync(p) => {
                if let Some(&id) = self.names.get(p) {
                    self.data.entry(id).or_default().sync();
                    self.pending.retain(|w| w.file != id);
                }
            }
            Mutation::SyncFailed(p) => {
                if let Some(&id) = self.names.get(p) {
                    let f = self.data.entry(id).or_default();
                    for w in self.pending.iter().filter(|w| w.file == id) {
                        f.lost.push((w.offset, w.offset + w.data.len()));
                    }
                    self.pending.retain(|w| w.file != id);
                }
            }
            Mutation::SyncDir(dir) => self.sync_dir(dir),
            Mutation::Truncate(p, len) => {
                if let Some(&id) = self.names.get(p) {
                    let f = self.data.entry(id).or_default();
                    let len = *len as usize;
                    f.live.truncate(len);
                    f.durable.truncate(len);
                    f.lost.retain(|r| r.0 < len);
                    f.sync();
                    self.pending.retain(|w| w.file != id);
                }
            }
            Mutation::Remove(p) => {
                self.names.remove(p);
            }
            Mutation::Rename(from, to) => {
                if let Some(id) = self.names.remove(from) {
                    self.names.insert(to.clone(), id);
                }
            }
            Mutation::RenameDir(from, to) => self.rename_dir(from, to),
            Mutation::RemoveDir(path) => {
                self.names.retain(|p, _| !p.starts_with(path));
                self.dirs.retain(|d| !d.starts_with(path));
                self.dir_removals.push(path.clone());
            }
        }
    }

    /// Makes the entries of `dir` durable: its files created, renamed or removed, and the
    /// directories renamed into it or removed from it.
    fn sync_dir(&mut self, dir: &Path) {
        let children = |m: &BTreeMap<PathBuf, FileId>| -> Vec<PathBuf> {
            m.keys()
                .filter(|k| k.parent() == Some(dir))
                .cloned()
                .collect()
        };
        for gone in children(&self.durable_names) {
            if !self.names.contains_key(&gone) {
                self.durable_names.remove(&gone);
            }
        }
        for path in children(&self.names) {
            self.durable_names.insert(path.clone(), self.names[&path]);
        }
        let (landed, pending) = std::mem::take(&mut self.dir_moves)
            .into_iter()
            .partition(|(_, to)| to.parent() == Some(dir));
        self.dir_moves = pending;
        for (from, to) in landed {
            rebase_keys(&mut self.durable_names, &from, &to);
        }
        let (gone, pending) = std::mem::take(&mut self.dir_removals)
            .into_iter()
            .partition(|p| p.parent() == Some(dir));
        self.dir_removals = pending;
        for path in gone {
            self.durable_names.retain(|p, _| !p.starts_with(&path));
        }
    }

    /// Renames a directory and everything under it (durable once `to`'s parent is synced).
    fn rename_dir(&mut self, from: &Path, to: &Path) {
        rebase_keys(&mut self.names, from, to);
        let dirs: Vec<PathBuf> = self
            .dirs
            .iter()
            .filter(|d| d.starts_with(from))
            .cloned()
            .collect();
        for dir in dirs {
            self.dirs.remove(&dir);
            self.dirs.extend(rebase(&dir, from, to));
        }
        self.dir_moves.push((from.to_path_buf(), to.to_path_buf()));
    }

    /// The crash image of this disk.
    fn crash(&self, kind: CrashKind, rng: &mut SplitMix64) -> Image {
        let mut note = format!("{kind:?}");
        let names = self.crash_names(kind, rng, &mut note);
        let mut contents: BTreeMap<FileId, Vec<u8>> = self
            .data
            .iter()
            .map(|(id, f)| (*id, f.durable.clone()))
            .collect();
        match kind {
            CrashKind::Synced | CrashKind::BitFlip => {}
            CrashKind::Torn => self.keep_torn(&mut contents, rng, &mut note),
            CrashKind::Reordered => self.keep_reordered(&mut contents, rng, &mut note),
        }
        let mut files: BTreeMap<PathBuf, Vec<u8>> = names
            .iter()
            .map(|(path, id)| (path.clone(), contents.get(id).cloned().unwrap_or_default()))
            .collect();
        if kind == CrashKind::BitFlip {
            flip_bit(&mut files, rng, &mut note);
        }
        // A directory whose rename or removal did not reach the disk is still there.
        let mut dirs = self.dirs.clone();
        for path in files.keys() {
            dirs.extend(
                path.ancestors()
                    .skip(1)
                    .filter(|d| !d.as_os_str().is_empty())
                    .map(Path::to_path_buf),
            );
        }
        Image { files, dirs, note }
    }

    /// The names a crash image has: the durable ones; in a reordered crash each unsynced change
    /// may have landed (a directory's rename or removal as a whole).
    fn crash_names(
        &self,
        kind: CrashKind,
        rng: &mut SplitMix64,
        note: &mut String,
    ) -> BTreeMap<PathBuf, FileId> {
        let mut names = self.durable_names.clone();
        if kind != CrashKind::Reordered {
            return names;
        }
        // Names under a directory renamed or removed move with it, below.
        let with_a_dir = |p: &Path| {
            self.dir_moves
                .iter()
                .any(|(from, to)| p.starts_with(from) || p.starts_with(to))
                || self.dir_removals.iter().any(|d| p.starts_with(d))
        };
        let all: BTreeSet<&PathBuf> = self
            .names
            .keys()
            .chain(self.durable_names.keys())
            .filter(|p| !with_a_dir(p))
            .collect();
        for path in all {
            let (live, durable) = (self.names.get(path), self.durable_names.get(path));
            if live != durable && rng.below(2) == 0 {
                match live {
                    Some(id) => names.insert(path.clone(), *id),
                    None => names.remove(path),
                };
                note.push_str(&format!(", name {} landed", path.display()));
            }
        }
        for (from, to) in &self.dir_moves {
            if rng.below(2) == 0 {
                rebase_keys(&mut names, from, to);
                note.push_str(&format!(", {} renamed", from.display()));
            }
        }
        for path in &self.dir_removals {
            if rng.below(2) == 0 {
                names.retain(|p, _| !p.starts_with(path));
                note.push_str(&format!(", {} removed", path.display()));
            }
        }
        names
    }

    /// A torn crash: the pending writes up to a random one land in order, and that one is torn
    /// at a sector or page boundary.
    fn keep_torn(
        &self,
        contents: &mut BTreeMap<FileId, Vec<u8>>,
        rng: &mut SplitMix64,
        note: &mut String,
    ) {
        if self.pending.is_empty() {
            return;
        }
        let last = rng.below(self.pending.len() as u64 + 1) as usize;
        for w in &self.pending[..last.min(self.pending.len())] {
            put(contents, w.file, w.offset, &w.data);
        }
        let Some(w) = self.pending.get(last) else {
            note.push_str(&format!(", all {} pending writes kept", self.pending.len()));
            return;
        };
        let unit = if rng.below(2) == 0 { SECTOR } else { PAGE };
        let end = w.offset + w.data.len();
        let cut = (end / unit * unit).max(w.offset);
        // Sometimes tear earlier than the last boundary.
        let boundaries = (cut - w.offset) / unit;
        let cut = if boundaries > 0 && rng.below(2) == 0 {
            (w.offset / unit + 1 + rng.below(boundaries as u64) as usize) * unit
        } else {
            cut
        }
        .clamp(w.offset, end);
        put(contents, w.file, w.offset, &w.data[..cut - w.offset]);
        note.push_str(&format!(
            ", {last} of {} pending writes kept, then {} of {} bytes ({unit} B units)",
            self.pending.len(),
            cut - w.offset,
            w.data.len()
        ));
    }

    /// A reordered crash: the page cache writes whole sectors, in any order: each dirty sector
    /// reaches the disk with its latest content, or keeps its durable content.
    fn keep_reordered(
        &self,
        contents: &mut BTreeMap<FileId, Vec<u8>>,
        rng: &mut SplitMix64,
        note: &mut String,
    ) {
        let mut latest: BTreeMap<FileId, Vec<u8>> = BTreeMap::new();
        let mut dirty: BTreeSet<(FileId, usize)> = BTreeSet::new();
        for w in &self.pending {
            let buf = latest.entry(w.file).or_insert_with(|| {
                self.data
                    .get(&w.file)
                    .map(|f| f.durable.clone())
                    .unwrap_or_default()
            });
            let end = w.offset + w.data.len();
            if buf.len() < end {
                buf.resize(end, 0);
            }
            buf[w.offset..end].copy_from_slice(&w.data);
            for sector in w.offset / SECTOR..end.div_ceil(SECTOR) {
                dirty.insert((w.file, sector));
            }
        }
        let mut kept = 0;
        for &(file, sector) in &dirty {
            if rng.below(2) == 0 {
                kept += 1;
                let buf = &latest[&file];
                let start = sector * SECTOR;
                let end = (start + SECTOR).min(buf.len());
                put(contents, file, start, &buf[start..end]);
            }
        }
        note.push_str(&format!(", {kept} of {} dirty sectors kept", dirty.len()));
    }
}

/// Writes `bytes` at `at` into a file's crash-image contents, growing it with zeros.
fn put(contents: &mut BTreeMap<FileId, Vec<u8>>, file: FileId, at: usize, bytes: &[u8]) {
    let buf = contents.entry(file).or_default();
    if buf.len() < at + bytes.len() {
        buf.resize(at + bytes.len(), 0);
    }
    buf[at..at + bytes.len()].copy_from_slice(bytes);
}

/// Media damage: one random bit of one file flipped.
fn flip_bit(files: &mut BTreeMap<PathBuf, Vec<u8>>, rng: &mut SplitMix64, note: &mut String) {
    let total: usize = files.values().map(Vec::len).sum();
    if total == 0 {
        return;
    }
    let mut at = rng.below(total as u64) as usize;
    for (path, bytes) in files.iter_mut() {
        if at < bytes.len() {
            let bit = rng.below(8) as u8;
            bytes[at] ^= 1 << bit;
            note.push_str(&format!(
                ", bit {bit} of byte {at} of {} flipped",
                path.display()
            ));
            return;
        }
        at -= bytes.len();
    }
}

#[derive(Debug, Default)]
struct Sim {
    /// The disk as it is now.
    disk: Disk,
    /// The disk this one started from (an image, or empty).
    base: Disk,
    journal: Vec<Mutation>,
    ops: u64,
    fault: Option<FaultPlan>,
    faults_hit: u64,
}

impl Sim {
    /// Counts an operation; the injected error if this one fails.
    fn tick(&mut self) -> Option<FaultKind> {
        let at = self.ops;
        self.ops += 1;
        let plan = self.fault?;
        let hit = at == plan.at || (plan.persistent && at > plan.at);
        if hit {
            self.faults_hit += 1;
            Some(plan.kind)
        } else {
            None
        }
    }

    fn record(&mut self, m: Mutation) {
        self.disk.apply(&m);
        self.journal.push(m);
    }
}

fn error(kind: FaultKind) -> io::Error {
    match kind {
        FaultKind::NoSpace => io::Error::from_raw_os_error(28),
        FaultKind::Eio | FaultKind::ShortWrite => io::Error::from_raw_os_error(5),
    }
}

fn not_found(path: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::NotFound,
        format!("{}: no such file", path.display()),
    )
}

/// One step of `write_atomic`.
type Step<'a> = Box<dyn Fn(&mut Sim) -> io::Result<()> + 'a>;

/// The simulated disk. Clones share one disk.
#[derive(Clone, Debug, Default)]
pub struct SimFs {
    sim: Arc<Mutex<Sim>>,
}

impl SimFs {
    /// An empty disk.
    pub fn new() -> SimFs {
        SimFs::default()
    }

    /// A disk holding `image` (everything durable), e.g. to reopen a database after a crash.
    pub fn from_image(image: &Image) -> SimFs {
        let disk = Disk::from_image(image);
        SimFs {
            sim: Arc::new(Mutex::new(Sim {
                base: disk.clone(),
                disk,
                ..Sim::default()
            })),
        }
    }

    /// Injects a fault (or clears it with `None`); operation indexes count from this disk's
    /// creation, see [`SimFs::ops`].
    pub fn set_fault(&self, plan: Option<FaultPlan>) {
        self.sim.lock().fault = plan;
    }

    /// Operations so far (every call, reads included).
    pub fn ops(&self) -> u64 {
        self.sim.lock().ops
    }

    /// Mutations so far: crash points are `0..=mutations()`.
    pub fn mutations(&self) -> u64 {
        self.sim.lock().journal.len() as u64
    }

    /// One line per journaled mutation in `range` (for failure reports).
    pub fn journal(&self, range: std::ops::Range<u64>) -> Vec<String> {
        let sim = self.sim.lock();
        let end = (range.end as usize).min(sim.journal.len());
        let start = (range.start as usize).min(end);
        sim.journal[start..end]
            .iter()
            .enumerate()
            .map(|(i, m)| {
                let text = match m {
                    Mutation::Write(p, bytes) => {
                        format!("Write({}, {} bytes)", p.display(), bytes.len())
                    }
                    other => format!("{other:?}"),
                };
                format!("{}: {text}", start + i + 1)
            })
            .collect()
    }

    /// How many calls the injected fault failed.
    pub fn faults_hit(&self) -> u64 {
        self.sim.lock().faults_hit
    }

    /// The crash image of the disk as it was after the first `after` mutations.
    pub fn image(&self, after: u64, kind: CrashKind, seed: u64) -> Image {
        let sim = self.sim.lock();
        let mut disk = sim.base.clone();
        for m in sim.journal.iter().take(after as usize) {
            disk.apply(m);
        }
        let mut image = disk.crash(kind, &mut SplitMix64::new(seed));
        image.note = format!("crash after mutation {after} (seed {seed}): {}", image.note);
        image
    }

    /// What the process sees now (live data and names), as an image.
    pub fn live(&self) -> Image {
        let sim = self.sim.lock();
        Image {
            files: sim
                .disk
                .names
                .iter()
                .map(|(p, id)| (p.clone(), sim.disk.data[id].live.clone()))
                .collect(),
            dirs: sim.disk.dirs.clone(),
            note: "live".into(),
        }
    }

    fn live_bytes(&self, path: &Path) -> io::Result<Vec<u8>> {
        let mut sim = self.sim.lock();
        if let Some(kind) = sim.tick() {
            return Err(error(kind));
        }
        let id = *sim.disk.names.get(path).ok_or_else(|| not_found(path))?;
        Ok(sim.disk.data[&id].live.clone())
    }
}

/// A file opened for positioned reads: it reads the file it opened, whatever its name becomes.
struct SimRead {
    fs: SimFs,
    id: FileId,
}

impl ReadFile for SimRead {
    fn size(&self) -> io::Result<u64> {
        let mut sim = self.fs.sim.lock();
        if let Some(kind) = sim.tick() {
            return Err(error(kind));
        }
        Ok(sim.disk.data.get(&self.id).map_or(0, |f| f.live.len() as u64))
    }

    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        let mut sim = self.fs.sim.lock();
        if let Some(kind) = sim.tick() {
            return Err(error(kind));
        }
        let live = sim.disk.data.get(&self.id).map_or(&[][..], |f| &f.live[..]);
        let bytes = usize::try_from(offset)
            .ok()
            .and_then(|at| live.get(at..at.checked_add(buf.len())?))
            .ok_or_else(|| io::Error::from(io::ErrorKind::UnexpectedEof))?;
        buf.copy_from_slice(bytes);
        Ok(())
    }
}

struct SimAppend {
    fs: SimFs,
    path: PathBuf,
}

impl AppendFile for SimAppend {
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        let mut sim = self.fs.sim.lock();
        match sim.tick() {
            None => {}
            Some(FaultKind::ShortWrite) => {
                let part = buf[..buf.len() / 2].to_vec();
                if !part.is_empty() {
                    sim.record(Mutation::Write(self.path.clone(), part));
                }
                return Err(io::Error::new(io::ErrorKind::WriteZero, "short write"));
            }
            Some(kind) => return Err(error(kind)),
        }
        if !sim.disk.names.contains_key(&self.path) {
            return Err(not_found(&self.path));
        }
        sim.record(Mutation::Write(self.path.clone(), buf.to_vec()));
        Ok(())
    }

    fn sync_data(&mut self) -> io::Result<()> {
        let mut sim = self.fs.sim.lock();
        if let Some(kind) = sim.tick() {
            sim.record(Mutation::SyncFailed(self.path.clone()));
            return Err(error(kind));
        }
        sim.record(Mutation::Sync(self.path.clone()));
        Ok(())
    }
}

impl Vfs for SimFs {
    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        let mut sim = self.sim.lock();
        if let Some(kind) = sim.tick() {
            return Err(error(kind));
        }
        if !sim.disk.dirs.contains(path) {
            sim.record(Mutation::Mkdir(path.to_path_buf()));
        }
        Ok(())
    }

    fn open_append(&self, path: &Path, create_new: bool) -> io::Result<Box<dyn AppendFile>> {
        let mut sim = self.sim.lock();
        if let Some(kind) = sim.tick() {
            return Err(error(kind));
        }
        let exists = sim.disk.names.contains_key(path);
        if create_new && exists {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("{} exists", path.display()),
            ));
        }
        if !exists {
            if !create_new {
                return Err(not_found(path));
            }
            sim.record(Mutation::Create(path.to_path_buf()));
        }
        Ok(Box::new(SimAppend {
            fs: self.clone(),
            path: path.to_path_buf(),
        }))
    }

    fn map(&self, path: &Path) -> io::Result<Mapped> {
        Ok(Mapped::Owned(self.live_bytes(path)?))
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<PathBuf>> {
        let mut sim = self.sim.lock();
        if let Some(kind) = sim.tick() {
            return Err(error(kind));
        }
        if !sim.disk.dirs.contains(dir) {
            return Err(not_found(dir));
        }
        let mut names: Vec<PathBuf> = sim
            .disk
            .names
            .keys()
            .chain(sim.disk.dirs.iter())
            .filter(|p| p.parent() == Some(dir))
            .filter_map(|p| p.file_name().map(PathBuf::from))
            .collect();
        names.sort();
        names.dedup();
        Ok(names)
    }

    fn exists(&self, path: &Path) -> bool {
        let mut sim = self.sim.lock();
        // `exists` cannot report an error; a fault here reads as "missing".
        if sim.tick().is_some() {
            return false;
        }
        sim.disk.names.contains_key(path) || sim.disk.dirs.contains(path)
    }

    fn truncate(&self, path: &Path, len: u64) -> io::Result<()> {
        let mut sim = self.sim.lock();
        if let Some(kind) = sim.tick() {
            return Err(error(kind));
        }
        if !sim.disk.names.contains_key(path) {
            return Err(not_found(path));
        }
        sim.record(Mutation::Truncate(path.to_path_buf(), len));
        Ok(())
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        let mut sim = self.sim.lock();
        if let Some(kind) = sim.tick() {
            return Err(error(kind));
        }
        if !sim.disk.names.contains_key(path) {
            return Err(not_found(path));
        }
        sim.record(Mutation::Remove(path.to_path_buf()));
        Ok(())
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        let mut sim = self.sim.lock();
        if let Some(kind) = sim.tick() {
            return Err(error(kind));
        }
        sim.record(Mutation::SyncDir(dir.to_path_buf()));
        Ok(())
    }

    fn read_file(&self, path: &Path) -> io::Result<Vec<u8>> {
        self.live_bytes(path)
    }

    fn write_atomic(&self, path: &Path, bytes: &[u8]) -> io::Result<()> {
        let tmp = path.with_extension(crate::format::TMP_EXTENSION);
        let dir = path.parent().unwrap_or(Path::new(".")).to_path_buf();
        let steps: [Step<'_>; 4] = [
            Box::new(|sim: &mut Sim| {
                if sim.disk.names.contains_key(&tmp) {
                    sim.record(Mutation::Remove(tmp.clone()));
                }
                sim.record(Mutation::Create(tmp.clone()));
                if !bytes.is_empty() {
                    sim.record(Mutation::Write(tmp.clone(), bytes.to_vec()));
                }
                Ok(())
            }),
            Box::new(|sim: &mut Sim| {
                sim.record(Mutation::Sync(tmp.clone()));
                Ok(())
            }),
            Box::new(|sim: &mut Sim| {
                sim.record(Mutation::Rename(tmp.clone(), path.to_path_buf()));
                Ok(())
            }),
            Box::new(|sim: &mut Sim| {
                sim.record(Mutation::SyncDir(dir.clone()));
                Ok(())
            }),
        ];
        for (i, step) in steps.iter().enumerate() {
            let mut sim = self.sim.lock();
            if let Some(kind) = sim.tick() {
                if i == 1 {
                    sim.record(Mutation::SyncFailed(tmp.clone()));
                }
                return Err(error(kind));
            }
            step(&mut sim)?;
        }
        Ok(())
    }

    fn open_read(&self, path: &Path) -> io::Result<Box<dyn ReadFile>> {
        let mut sim = self.sim.lock();
        if let Some(kind) = sim.tick() {
            return Err(error(kind));
        }
        let id = *sim.disk.names.get(path).ok_or_else(|| not_found(path))?;
        Ok(Box::new(SimRead {
            fs: self.clone(),
            id,
        }))
    }

    fn metadata(&self, path: &Path) -> io::Result<Metadata> {
        let mut sim = self.sim.lock();
        if let Some(kind) = sim.tick() {
            return Err(error(kind));
        }
        if let Some(id) = sim.disk.names.get(path) {
            let len = sim.disk.data.get(id).map_or(0, |f| f.live.len() as u64);
            return Ok(Metadata {
                kind: FileKind::File,
                len,
            });
        }
        if sim.disk.dirs.contains(path) {
            return Ok(Metadata {
                kind: FileKind::Dir,
                len: 0,
            });
        }
        Err(not_found(path))
    }

    fn copy_file(&self, from: &Path, to: &Path) -> io::Result<u64> {
        let mut sim = self.sim.lock();
        if let Some(kind) = sim.tick() {
            return Err(error(kind));
        }
        let id = *sim.disk.names.get(from).ok_or_else(|| not_found(from))?;
        let bytes = sim.disk.data.get(&id).map(|f| f.live.clone()).unwrap_or_default();
        if sim.disk.names.contains_key(to) {
            sim.record(Mutation::Remove(to.to_path_buf()));
        }
        sim.record(Mutation::Create(to.to_path_buf()));
        if !bytes.is_empty() {
            sim.record(Mutation::Write(to.to_path_buf(), bytes.clone()));
        }
        sim.record(Mutation::Sync(to.to_path_buf()));
        Ok(bytes.len() as u64)
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        let mut sim = self.sim.lock();
        if let Some(kind) = sim.tick() {
            return Err(error(kind));
        }
        if sim.disk.names.contains_key(from) {
            sim.record(Mutation::Rename(from.to_path_buf(), to.to_path_buf()));
            return Ok(());
        }
        if !sim.disk.dirs.contains(from) {
            return Err(not_found(from));
        }
        if sim.disk.dirs.contains(to) || sim.disk.names.contains_key(to) {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("{} exists", to.display()),
            ));
        }
        sim.record(Mutation::RenameDir(from.to_path_buf(), to.to_path_buf()));
        Ok(())
    }

    fn remove_dir_all(&self, path: &Path) -> io::Result<()> {
        let mut sim = self.sim.lock();
        if let Some(kind) = sim.tick() {
            return Err(error(kind));
        }
        if !sim.disk.dirs.contains(path) {
            return Err(not_found(path));
        }
        sim.record(Mutation::RemoveDir(path.to_path_buf()));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(fs: &SimFs, path: &str, bytes: &[u8], sync: bool) {
        let mut f = fs
            .open_append(Path::new(path), !fs.exists(Path::new(path)))
            .unwrap();
        f.write_all(bytes).unwrap();
        if sync {
            f.sync_data().unwrap();
        }
    }

    #[test]
    fn unsynced_data_and_names_are_lost() {
        let fs = SimFs::new();
        fs.create_dir_all(Path::new("/d")).unwrap();
        write(&fs, "/d/a", b"hello", true);
        let img = fs.image(fs.mutations(), CrashKind::Synced, 1);
        assert!(img.files.is_empty(), "name not synced: {img:?}");
        fs.sync_dir(Path::new("/d")).unwrap();
        write(&fs, "/d/a", b" world", false);
        let img = fs.image(fs.mutations(), CrashKind::Synced, 1);
        assert_eq!(img.files[Path::new("/d/a")], b"hello");
        assert_eq!(fs.live().files[Path::new("/d/a")], b"hello world");
    }

    #[test]
    fn torn_and_reordered_images_keep_only_pending_bytes_in_units() {
        let fs = SimFs::new();
        fs.create_dir_all(Path::new("/d")).unwrap();
        write(&fs, "/d/a", &[1u8; 100], true);
        fs.sync_dir(Path::new("/d")).unwrap();
        write(&fs, "/d/a", &[2u8; 9000], false);
        for seed in 0..50 {
            for kind in [CrashKind::Torn, CrashKind::Reordered] {
                let img = fs.image(fs.mutations(), kind, seed);
                let bytes = &img.files[Path::new("/d/a")];
                assert_eq!(&bytes[..100], &[1u8; 100][..], "{}", img.note);
                for (i, b) in bytes.iter().enumerate().skip(100) {
                    assert!(
                        *b == 2 || (*b == 0 && kind == CrashKind::Reordered),
                        "{}: {i}",
                        img.note
                    );
                }
                if kind == CrashKind::Torn {
                    assert!(
                        bytes.len() == 9100 || bytes.len().is_multiple_of(SECTOR),
                        "{}",
                        img.note
                    );
                }
            }
        }
    }

    #[test]
    fn a_failed_sync_loses_the_pending_writes_even_if_a_retry_succeeds() {
        let fs = SimFs::new();
        fs.create_dir_all(Path::new("/d")).unwrap();
        let mut f = fs.open_append(Path::new("/d/a"), true).unwrap();
        fs.sync_dir(Path::new("/d")).unwrap();
        f.write_all(b"data").unwrap();
        fs.set_fault(Some(FaultPlan {
            at: fs.ops(),
            kind: FaultKind::Eio,
            persistent: false,
        }));
        assert!(f.sync_data().is_err());
        f.sync_data().unwrap();
        let img = fs.image(fs.mutations(), CrashKind::Synced, 0);
        // The size may have reached the disk, the data did not.
        assert_eq!(img.files[Path::new("/d/a")], [0u8; 4], "{}", img.note);
    }

    #[test]
    fn a_renamed_directory_lands_when_its_new_parent_is_synced() {
        let fs = SimFs::new();
        fs.create_dir_all(Path::new("/p/.tmp/sub")).unwrap();
        for name in ["/p/.tmp/a", "/p/.tmp/sub/b"] {
            write(&fs, name, b"data", true);
        }
        fs.sync_dir(Path::new("/p/.tmp")).unwrap();
        fs.sync_dir(Path::new("/p/.tmp/sub")).unwrap();
        fs.rename(Path::new("/p/.tmp"), Path::new("/p/to")).unwrap();
        assert!(fs.exists(Path::new("/p/to/sub/b")) && !fs.exists(Path::new("/p/.tmp")));
        let before = fs.image(fs.mutations(), CrashKind::Synced, 1);
        assert!(before.files.contains_key(Path::new("/p/.tmp/sub/b")), "{before:?}");
        assert!(before.dirs.contains(Path::new("/p/.tmp/sub")), "{before:?}");
        fs.sync_dir(Path::new("/p")).unwrap();
        let after = fs.image(fs.mutations(), CrashKind::Synced, 1);
        let names: Vec<&Path> = after.files.keys().map(PathBuf::as_path).collect();
        assert_eq!(names, [Path::new("/p/to/a"), Path::new("/p/to/sub/b")]);
        fs.remove_dir_all(Path::new("/p/to")).unwrap();
        assert!(!fs.exists(Path::new("/p/to/a")));
        assert_eq!(fs.image(fs.mutations(), CrashKind::Synced, 1).files.len(), 2);
        fs.sync_dir(Path::new("/p")).unwrap();
        assert!(fs.image(fs.mutations(), CrashKind::Synced, 1).files.is_empty());
    }

    #[test]
    fn positioned_reads_see_appends_and_copies_are_synced() {
        let fs = SimFs::new();
        fs.create_dir_all(Path::new("/d")).unwrap();
        write(&fs, "/d/a", b"hello", false);
        let file = fs.open_read(Path::new("/d/a")).unwrap();
        assert_eq!(file.size().unwrap(), 5);
        write(&fs, "/d/a", b" world", false);
        let mut buf = [0u8; 5];
        file.read_exact_at(&mut buf, 6).unwrap();
        assert_eq!(&buf, b"world");
        assert!(file.read_exact_at(&mut buf, 7).is_err());
        assert_eq!(fs.copy_file(Path::new("/d/a"), Path::new("/d/b")).unwrap(), 11);
        let meta = fs.metadata(Path::new("/d/b")).unwrap();
        assert_eq!((meta.kind, meta.len), (FileKind::File, 11));
        assert_eq!(fs.metadata(Path::new("/d")).unwrap().kind, FileKind::Dir);
        fs.sync_dir(Path::new("/d")).unwrap();
        let img = fs.image(fs.mutations(), CrashKind::Synced, 0);
        assert_eq!(img.files[Path::new("/d/b")], b"hello world");
        assert_eq!(img.files[Path::new("/d/a")], b"");
    }

    #[test]
    fn images_replay_exactly_from_their_seed() {
        let fs = SimFs::new();
        fs.create_dir_all(Path::new("/d")).unwrap();
        write(&fs, "/d/a", &[7u8; 5000], false);
        for kind in CrashKind::ALL {
            assert_eq!(fs.image(3, kind, 42), fs.image(3, kind, 42));
        }
    }
}
