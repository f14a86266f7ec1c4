//! Checkpoints: dirty values of the in-memory state, packed and written to sled trees (one tree
//! per physical partition), then the checkpoint LSN. Loading reads every tree back.
//!
//! Frozen months: the checkpoint is the authority on which frozen month files are in force. The
//! `meta` tree's `frozen_set` (the files' manifest entries) and `frozen_flows/<chunk>` (the
//! flows of the files' rows) are written in one sled batch with the checkpoint LSN, after every
//! other value is written and flushed. The overlay of a frozen month `M` in force at version `v`
//! (rows applied after the freeze) goes to `revenues/M@vv` / `expenses/M@vv`, the patches of
//! its file's rows to `patches/M@vv`, never to the month's normal trees. So a crash before the
//! meta batch leaves the previous frozen set in force with everything it needs intact: the
//! normal trees of a month it does not name frozen (never written once the month froze), the
//! overlay trees of the versions it names; values of a version it does not name are ignored,
//! and replay from its checkpoint LSN is exact as for any torn checkpoint (per-value stamps).

use super::pack;
use crate::codec::key;
use crate::error::{Error, Result};
use crate::limits::SLED_CACHE_BYTES;
use crate::model::{Kind, Lsn, Month};
use crate::state::ledger::PartitionId;
use crate::state::{chunk_of, chunk_orgs, DirtyKey, State};
use crate::frozen::ManifestEntry;
use crate::io::Vfs;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

pub(super) const META_TREE: &str = "meta";
pub(super) const ORGS_TREE: &str = "orgs";
const CHECKPOINT_KEY: &[u8] = b"checkpoint_lsn";
pub(super) const CATALOG_KEY: &[u8] = b"index_catalog";
/// Meta key of the frozen set in force (see [`pack::pack_frozen_set`]).
const FROZEN_SET_KEY: &[u8] = b"frozen_set";
/// Meta key prefix of the frozen flows of a chunk of orgs (then the chunk, big-endian).
pub(super) const FROZEN_FLOWS_PREFIX: &[u8] = b"frozen_flows/";
const PATCHES_TABLE: &str = "patches";
/// Day rows (balances) applied to a frozen business month after its freeze: `days/M@vN`, keyed
/// by shard (4 bytes) and chunk (8 bytes), big-endian.
const DAYS_TABLE: &str = "days";
pub(super) const FROZEN_NETS_PREFIX: &[u8] = b"frozen_nets/";
/// Meta key: the generation of frozen sums in force (u64 LE + CRC32; absent: 0). Frozen flows
/// and nets are kept per chunk and generation (`frozen_flows/` ++ chunk ++ generation): a
/// checkpoint writes the chunks that changed under the next generation in small batches before
/// its meta batch, which then names that generation; a load reads, per chunk, the newest
/// version not above it. So the meta batch stays a few keys whatever the number of orgs (one
/// batch of every chunk's sums held ~140 MiB at 1,000,000 orgs while sled applied it).
const SUMS_GEN_KEY: &[u8] = b"frozen_sums_gen";
/// Meta key: the generation a checkpoint is writing frozen sums under (u64 LE + CRC32), made
/// durable before the first of them: one above the generation in force tells the next
/// checkpoint that an earlier one stopped after writing some, whose versions it removes first.
const SUMS_PENDING_KEY: &[u8] = b"frozen_sums_pending";
/// Meta key: bytes of keys and values the store dropped (stale trees, removed balance values)
/// since its last compaction, which sled never gives back (u64 LE; `store::compact`).
const DROPPED_KEY: &[u8] = b"dropped_bytes";

/// Largest sled batch of values a checkpoint applies at once, bytes of keys and values. Small:
/// sled 0.34 pins its epoch for a whole batch, and every insert copies the node it changes,
/// so no node version a batch replaces is freed before the batch ends (8 MiB batches raised a
/// checkpoint's peak by ~150 MiB at 1,000,000 orgs, docs/BENCHMARKS.md). The checkpoint's
/// atomicity is its meta batch, written after every value.
const VALUE_BATCH_BYTES: usize = 64 << 10;
/// Removals of stale values from one tree, applied in batches of at most `VALUE_BATCH_BYTES`
/// of the values they remove (for the reason given there: a month frozen at 1,000,000 orgs
/// removes its day-row values of every chunk, and one batch of them all kept every node it
/// replaced until it ended). A removal needs no atomicity: a value left by a crash between
/// batches is one a load skips and the next checkpoint removes (`skipped_balances`).
#[derive(Default)]
struct Removals {
    batch: sled::Batch,
    bytes: usize,
}

impl Removals {
    fn remove(&mut self, tree: &sled::Tree, key: &[u8], value_len: usize, path: &Path) -> Result<()> {
        self.batch.remove(key);
        self.bytes += key.len() + value_len;
        if self.bytes >= VALUE_BATCH_BYTES {
            tree.apply_batch(std::mem::take(&mut self.batch))
                .map_err(|e| store_err(path, e))?;
            self.bytes = 0;
        }
        Ok(())
    }

    fn finish(self, tree: &sled::Tree, path: &Path) -> Result<()> {
        if self.bytes > 0 {
            tree.apply_batch(self.batch)
                .map_err(|e| store_err(path, e))?;
        }
        Ok(())
    }
}

/// Keys a streamed checkpoint ([`Store::write_state`]) packs at a time.
const VALUE_GROUP_KEYS: usize = 4096;

/// Dirty values packed at one moment, ready to be written without holding any lock.
#[derive(Default)]
pub struct Snapshot {
    /// Every batch up to this LSN is reflected in the store once the snapshot is written.
    pub covers: Lsn,
    /// (tree, key, value), written before the checkpoint LSN.
    pub values: Vec<(String, Vec<u8>, Vec<u8>)>,
    /// The frozen months in force at `covers`: written with the checkpoint LSN.
    pub frozen: Vec<ManifestEntry>,
    /// Chunks whose frozen sums (flows and nets) changed: written under the next generation
    /// (see `SUMS_GEN_KEY`), which the meta batch names.
    pub sum_chunks: Vec<u64>,
    /// Their packed sums, keyed without the generation (`None`: the chunk has none), when packed
    /// ahead ([`State::pack`]); [`Store::write_state`] packs them as it writes them.
    pub sums: Vec<(Vec<u8>, Option<Vec<u8>>)>,
}

/// The key of a chunk's frozen flows in the meta tree.
fn frozen_flows_key(chunk: u64) -> Vec<u8> {
    let mut key = FROZEN_FLOWS_PREFIX.to_vec();
    key.extend_from_slice(&chunk.to_be_bytes());
    key
}

/// The (chunk, generation) of versions of frozen sums.
#[cfg(feature = "internals")]
pub type SumVersions = Vec<(u64, u64)>;

/// A u64 LE followed by its CRC32, as the meta tree keeps the checkpoint LSN and generations.
fn checked_bytes(value: u64) -> Vec<u8> {
    let mut raw = value.to_le_bytes().to_vec();
    raw.extend_from_slice(&crc32fast::hash(&raw).to_le_bytes());
    raw
}

/// The chunk and generation of a frozen sums key after its prefix (`at` bytes): chunk ++
/// generation, or a chunk alone (generation 0, as earlier versions wrote them); `None` for any
/// other length.
pub(super) fn sums_key(key: &[u8], at: usize) -> Option<(u64, u64)> {
    let rest = key.get(at..)?;
    let chunk = u64::from_be_bytes(rest.get(..8)?.try_into().ok()?);
    match rest.len() {
        8 => Some((chunk, 0)),
        16 => Some((chunk, u64::from_be_bytes(rest[8..].try_into().ok()?))),
        _ => None,
    }
}

fn frozen_nets_key(chunk: u64) -> Vec<u8> {
    let mut key = FROZEN_NETS_PREFIX.to_vec();
    key.extend_from_slice(&chunk.to_be_bytes());
    key
}

/// The day-row overlay tree of a business month frozen at `version`: `days/2024-03@v3`.
fn days_tree(month: Month, version: u32) -> String {
    format!("{DAYS_TABLE}/{month}@v{version}")
}

/// Reads one packed per-org chunk value: its stamp and items.
pub(super) type UnpackChunk<T> = fn(&[u8]) -> std::result::Result<(Lsn, Vec<(crate::model::OrgId, T)>), String>;

/// The per-org values of one chunk: the chunk, its (org, value) pairs.
pub(super) type ChunkItems<T> = (u64, Vec<(crate::model::OrgId, T)>);

/// What a tree name denotes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum TreeName {
    /// A ledger partition of an open month (or of a month frozen since: stale).
    Ledger(PartitionId),
    /// The overlay of a ledger partition of a month frozen at a version.
    Overlay(PartitionId, u32),
    /// Patches of the rows of a month's frozen file at a version.
    Patches(Month, u32),
    /// Day rows of a business month frozen at a version, applied after the freeze.
    Days(Month, u32),
}

/// The overlay tree of partition `pid` of a month frozen at `version`: `revenues/2024-03@v3`.
fn overlay_tree(pid: PartitionId, version: u32) -> String {
    format!("{}@v{version}", pid.tree_name())
}

/// The patches tree of a month frozen at `version`: `patches/2024-03@v3`.
fn patches_tree(month: Month, version: u32) -> String {
    format!("{PATCHES_TABLE}/{month}@v{version}")
}

/// The month and version of `2024-03@v3` (exactly as written: no other spelling).
fn parse_versioned(text: &str) -> Option<(Month, u32)> {
    let (month, version) = text.split_once("@v")?;
    let month = parse_month(month)?;
    let version: u32 = version.parse().ok().filter(|v| *v >= 1)?;
    (format!("{month}@v{version}") == text).then_some((month, version))
}

fn parse_month(text: &str) -> Option<Month> {
    let (y, m) = text.split_once('-')?;
    let month = Month::from_ym(y.parse().ok()?, m.parse().ok()?)?;
    (month.to_string() == text).then_some(month)
}

pub(super) fn parse_tree(name: &str) -> Option<TreeName> {
    let (table, rest) = name.split_once('/')?;
    let kind = match table {
        "revenues" => Kind::Revenue,
        "expenses" => Kind::Expense,
        PATCHES_TABLE => {
            let (month, version) = parse_versioned(rest)?;
            return Some(TreeName::Patches(month, version));
        }
        DAYS_TABLE => {
            let (month, version) = parse_versioned(rest)?;
            return Some(TreeName::Days(month, version));
        }
        _ => return None,
    };
    if rest.contains('@') {
        let (month, version) = parse_versioned(rest)?;
        return Some(TreeName::Overlay(PartitionId { kind, month }, version));
    }
    Some(TreeName::Ledger(PartitionId {
        kind,
        month: parse_month(rest)?,
    }))
}

/// Whether a tree holds nothing the frozen set `in_force` (month → version) reads: a normal
/// ledger tree of a frozen month, an overlay or patches tree of a version not in force.
pub(super) fn is_stale(name: TreeName, in_force: &BTreeMap<Month, u32>) -> bool {
    match name {
        TreeName::Ledger(pid) => in_force.contains_key(&pid.month),
        TreeName::Overlay(pid, v) => in_force.get(&pid.month) != Some(&v),
        TreeName::Patches(m, v) | TreeName::Days(m, v) => in_force.get(&m) != Some(&v),
    }
}

/// What a checkpoint wrote.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CheckpointStats {
    /// The LSN the store reflects once the checkpoint is written.
    pub lsn: Lsn,
    /// Org-record values written (one per chunk of 64 consecutive org ids).
    pub org_values: usize,
    /// Ledger values written (one per ledger partition and chunk of orgs).
    pub ledger_values: usize,
    /// Balance values written (one per balance shard, chunk of orgs and month).
    pub balance_values: usize,
    /// Patch values written (one per frozen month and chunk of orgs).
    pub patch_values: usize,
    /// Bytes of the keys and values written.
    pub bytes: usize,
    /// When the store was compacted after the checkpoint (`Options::store_compaction_floor`):
    /// what that did.
    pub compacted: Option<super::compact::Compaction>,
}

/// The sled database under `<db>/state`.
pub struct Store {
    pub(super) db: sled::Db,
    pub(super) path: PathBuf,
    /// The frozen months whose balance values [`Store::drop_stale_balances`] last removed.
    pub(super) balances_cleaned: parking_lot::Mutex<Option<BTreeSet<Month>>>,
    /// Balance values of frozen months that [`Store::load`] skipped: (tree, key), for the
    /// next [`Store::drop_stale_balances`] to remove without a scan.
    pub(super) skipped_balances: parking_lot::Mutex<Vec<(String, Vec<u8>)>>,
}

pub use crate::limits::STORE_LOCK_WAIT;

pub(super) fn store_err(path: &Path, e: sled::Error) -> Error {
    Error::Store(format!("{}: {e}", path.display()))
}

/// fsyncs every file and directory under `dir`, `dir` included.
fn sync_tree(dir: &Path) -> Result<()> {
    for entry in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let path = entry.path();
        let kind = entry.file_type().map_err(|e| Error::io(&path, e))?;
        if kind.is_dir() {
            sync_tree(&path)?;
        } else if kind.is_file() {
            std::fs::File::open(&path)
                .and_then(|f| f.sync_all())
                .map_err(|e| Error::io(&path, e))?;
        }
    }
    crate::io::StdFs.sync_dir(dir).map_err(|e| Error::io(dir, e))
}

/// The business month a `balances` (or legacy `balances/NN`) key names (chunk u64, then the
/// month).
pub(super) fn balance_key_month(k: &[u8]) -> Option<Month> {
    key::get_i32(k, 8).and_then(|m| Month::from_index(m).ok())
}

/// The tree of day rows of open business months: one value per chunk of orgs and month, the
/// orgs of every balance shard in it.
pub(super) const BALANCES_TREE: &str = "balances";

/// A tree of day rows of open business months: [`BALANCES_TREE`], or a `balances/NN` tree of
/// one balance shard, which stores written before it kept (read, never written any more).
pub(super) fn is_balance_tree(name: &str) -> bool {
    name == BALANCES_TREE || legacy_balance_shard(name).is_some()
}

/// The shard a legacy `balances/NN` tree names.
pub(super) fn legacy_balance_shard(name: &str) -> Option<&str> {
    name.strip_prefix("balances/")
}

impl Store {
    /// Opens (or creates) the store. sled 0.34 releases its file lock only when its flusher
    /// thread has exited, which can be a moment after the previous `Store` of the same directory
    /// was dropped (a database closed and reopened in one process), and a child another thread
    /// forks shares the lock until it execs; the caller holds the
    /// database's own lock, so a held store lock can only be that and is waited for, up to
    /// [`STORE_LOCK_WAIT`]. Still held after that: [`Error::Locked`], never a rebuild.
    pub fn open(path: &Path) -> Result<Store> {
        Store::open_cached(path, SLED_CACHE_BYTES)
    }

    /// [`Store::open`] with a page cache of `cache` bytes.
    pub fn open_cached(path: &Path, cache: u64) -> Result<Store> {
        let started = std::time::Instant::now();
        let mut pause = std::time::Duration::from_millis(2);
        let db = loop {
            let opened = sled::Config::new()
                .path(path)
                .cache_capacity(cache)
                .mode(sled::Mode::HighThroughput)
                .flush_every_ms(None)
                .open();
            match opened {
                Ok(db) => break db,
                // sled 0.34.7 (config.rs) reports a held lock as `ErrorKind::Other` with this text.
                Err(sled::Error::Io(e))
                    if e.kind() == std::io::ErrorKind::WouldBlock
                        || e.to_string().starts_with("could not acquire lock on") =>
                {
                    if started.elapsed() >= STORE_LOCK_WAIT {
                        return Err(Error::Locked {
                            path: path.to_path_buf(),
                        });
                    }
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(std::time::Duration::from_millis(100));
                }
                Err(e) => return Err(store_err(path, e)),
            }
        };
        Ok(Store {
            db,
            path: path.to_path_buf(),
            balances_cleaned: parking_lot::Mutex::new(None),
            skipped_balances: parking_lot::Mutex::new(Vec::new()),
        })
    }

    /// LSN of the last complete checkpoint (0 when none).
    pub fn checkpoint_lsn(&self) -> Result<Lsn> {
        self.checked_u64(CHECKPOINT_KEY, "checkpoint LSN").map(Lsn)
    }

    /// A meta value of a u64 LE and its CRC32 (0 when absent); `what` names it in errors.
    fn checked_u64(&self, key: &[u8], what: &str) -> Result<u64> {
        let tree = self.tree(META_TREE)?;
        match tree.get(key).map_err(|e| store_err(&self.path, e))? {
            None => Ok(0),
            Some(v) => {
                let raw: [u8; 12] = v
                    .as_ref()
                    .try_into()
                    .map_err(|_| self.bad(&format!("{what} length")))?;
                let (value, crc) = raw.split_at(8);
                let crc = u32::from_le_bytes(crc.try_into().map_err(|_| self.bad(what))?);
                if crc != crc32fast::hash(value) {
                    return Err(self.bad(&format!("{what} checksum")));
                }
                Ok(u64::from_le_bytes(
                    value.try_into().map_err(|_| self.bad(what))?,
                ))
            }
        }
    }

    /// The generation of frozen sums in force (see `SUMS_GEN_KEY`; 0 when none was written).
    pub(super) fn sums_gen(&self) -> Result<u64> {
        self.checked_u64(SUMS_GEN_KEY, "frozen sums generation")
    }

    pub(super) fn bad(&self, why: &str) -> Error {
        Error::Store(format!("{}: {why}", self.path.display()))
    }

    /// Writes a snapshot: all values, a flush, then in one batch of the meta tree the
    /// checkpoint LSN (`snapshot.covers`) with the frozen set and the changed frozen flows, and
    /// another flush; then drops the trees the new frozen set no longer reads.
    ///
    /// Ordering: the meta batch comes only after every value is durable, and it is atomic, so
    /// the store names either the old checkpoint with the old frozen set (every value that set
    /// reads is intact: values of a frozen month at a version go to that version's trees only)
    /// or the new one with all its values.
    pub fn write(&self, snapshot: &Snapshot) -> Result<CheckpointStats> {
        let stats = self.write_values(snapshot)?;
        self.finish(snapshot, None)?;
        Ok(stats)
    }

    /// After the values: the meta batch, then the trees the new frozen set no longer reads
    /// (`state`: the state the snapshot was packed from, when at hand).
    fn finish(&self, snapshot: &Snapshot, state: Option<&State>) -> Result<()> {
        self.write_meta(snapshot)?;
        if !snapshot.frozen.is_empty() {
            let in_force: BTreeMap<Month, u32> = snapshot
                .frozen
                .iter()
                .map(|e| (e.month, e.version))
                .collect();
            // The checkpoint has landed: a tree left behind is dropped at the next open instead.
            if let Err(e) = self.drop_stale_trees(&in_force, state) {
                tracing::warn!(path = %self.path.display(), error = %e, "could not drop stale store trees");
            }
        }
        Ok(())
    }

    /// The first half of [`Store::write`]: every value of the snapshot, then a flush. Until
    /// [`Store::write_meta`] lands, the store still names its previous checkpoint (what a crash
    /// between the two leaves; public for the tests that make that crash).
    pub fn write_values(&self, snapshot: &Snapshot) -> Result<CheckpointStats> {
        let mut stats = CheckpointStats {
            lsn: snapshot.covers,
            ..CheckpointStats::default()
        };
        self.apply_value_list(&snapshot.values, &mut stats)?;
        if !snapshot.sum_chunks.is_empty() {
            let groups = snapshot
                .sums
                .chunks(VALUE_GROUP_KEYS)
                .map(|group| Ok(group.to_vec()));
            self.write_sums(groups, &mut stats)?;
        }
        self.db.flush().map_err(|e| store_err(&self.path, e))?;
        Ok(stats)
    }

    /// Writes frozen sums (groups of keys without the generation, and values; `None`: none)
    /// under the generation after the one in force, in batches of at most `VALUE_BATCH_BYTES`
    /// (no flush after them). First records that generation as pending (flushed), and removes
    /// what an earlier checkpoint that stopped midway wrote under a generation above the one in
    /// force. Values of a chunk without sums are written empty: they supersede older versions.
    fn write_sums(
        &self,
        groups: impl Iterator<Item = Result<Vec<(Vec<u8>, Option<Vec<u8>>)>>>,
        stats: &mut CheckpointStats,
    ) -> Result<()> {
        let in_force = self.sums_gen()?;
        let pending = self.checked_u64(SUMS_PENDING_KEY, "frozen sums pending generation")?;
        if pending > in_force {
            self.prune_sums(in_force)?;
        }
        let gen = in_force
            .checked_add(1)
            .ok_or_else(|| self.bad("frozen sums generation overflows"))?;
        self.tree(META_TREE)?
            .insert(SUMS_PENDING_KEY, checked_bytes(gen))
            .map_err(|e| store_err(&self.path, e))?;
        self.db.flush().map_err(|e| store_err(&self.path, e))?;
        for group in groups {
            let values: Vec<(String, Vec<u8>, Vec<u8>)> = group?
                .into_iter()
                .map(|(key, value)| {
                    let mut key = key;
                    key.extend_from_slice(&gen.to_be_bytes());
                    (META_TREE.to_string(), key, value.unwrap_or_default())
                })
                .collect();
            self.apply_value_list(&values, stats)?;
        }
        Ok(())
    }

    /// Removes the versions of frozen sums no load reads, in small batches, adding their bytes
    /// to the dropped bytes (no flush): those above generation `in_force` (written by a
    /// checkpoint that stopped before its meta batch) and, of each chunk, every version older
    /// than its newest one not above `in_force`.
    fn prune_sums(&self, in_force: u64) -> Result<()> {
        let tree = self.tree(META_TREE)?;
        let mut removals = Removals::default();
        let mut bytes = 0u64;
        for prefix in [FROZEN_FLOWS_PREFIX, FROZEN_NETS_PREFIX] {
            // Keys come in (chunk, generation) order: a kept version followed by a kept one of
            // the same chunk is superseded.
            let mut kept: Option<(u64, sled::IVec, usize)> = None;
            for item in tree.scan_prefix(prefix) {
                let (k, v) = item.map_err(|e| store_err(&self.path, e))?;
                let Some((chunk, gen)) = sums_key(&k, prefix.len()) else {
                    continue;
                };
                let mut remove = |key: &[u8], len: usize| {
                    bytes += (key.len() + len) as u64;
                    removals.remove(&tree, key, len, &self.path)
                };
                if gen > in_force {
                    remove(&k, v.len())?;
                    continue;
                }
                if let Some((before, key, len)) = kept.take() {
                    if before == chunk {
                        remove(&key, len)?;
                    }
                }
                kept = Some((chunk, k, v.len()));
            }
        }
        removals.finish(&tree, &self.path)?;
        if bytes > 0 {
            self.add_dropped(bytes)?;
        }
        Ok(())
    }

    /// Writes what `state` holds of `keys` as [`Store::write`] writes a snapshot of them, but
    /// packs and writes the values in groups of at most `VALUE_GROUP_KEYS` keys, so that only
    /// one group's packed values are in memory at a time; the meta batch comes after all of
    /// them, as in [`Store::write`].
    pub fn write_state(
        &self,
        state: &State,
        keys: &rustc_hash::FxHashSet<DirtyKey>,
    ) -> Result<CheckpointStats> {
        let mut stats = CheckpointStats {
            lsn: state.lsn,
            ..CheckpointStats::default()
        };
        let meta = state.pack_each(keys, VALUE_GROUP_KEYS, |values| {
            self.apply_value_list(&values, &mut stats)
        })?;
        if !meta.sum_chunks.is_empty() {
            let groups = meta
                .sum_chunks
                .chunks(VALUE_GROUP_KEYS)
                .map(|chunks| Ok(state.pack_sums(chunks)));
            self.write_sums(groups, &mut stats)?;
        }
        self.db.flush().map_err(|e| store_err(&self.path, e))?;
        self.finish(&meta, Some(state))?;
        Ok(stats)
    }

    /// Applies values (no flush). Org records first: a ledger value never names an org the store
    /// does not know. Each tree's values go in batches of at most `VALUE_BATCH_BYTES`, so
    /// writing adds little to the packed values' memory (a batch copies what it holds).
    fn apply_value_list(
        &self,
        values: &[(String, Vec<u8>, Vec<u8>)],
        stats: &mut CheckpointStats,
    ) -> Result<()> {
        let mut order: Vec<usize> = (0..values.len()).collect();
        order.sort_by_key(|i| {
            let tree = values[*i].0.as_str();
            (tree != ORGS_TREE, tree)
        });
        let mut pending: Option<(&str, sled::Batch, usize)> = None;
        for i in order {
            let (tree, k, v) = &values[i];
            stats.bytes += k.len() + v.len();
            match tree.as_str() {
                ORGS_TREE => stats.org_values += 1,
                META_TREE => {}
                t if is_balance_tree(t) => stats.balance_values += 1,
                t if t.starts_with("patches/") => stats.patch_values += 1,
                _ => stats.ledger_values += 1,
            }
            let full = pending.as_ref().is_some_and(|(name, _, bytes)| {
                *name != tree.as_str() || *bytes >= VALUE_BATCH_BYTES
            });
            if full {
                if let Some((name, batch, _)) = pending.take() {
                    self.apply_values(name, batch)?;
                }
            }
            let (_, batch, bytes) =
                pending.get_or_insert_with(|| (tree.as_str(), sled::Batch::default(), 0));
            batch.insert(k.as_slice(), v.as_slice());
            *bytes += k.len() + v.len();
        }
        if let Some((name, batch, _)) = pending.take() {
            self.apply_values(name, batch)?;
        }
        Ok(())
    }

    /// Applies one batch of values to tree `name`.
    fn apply_values(&self, name: &str, batch: sled::Batch) -> Result<()> {
        let tree = self
            .db
            .open_tree(name)
            .map_err(|e| store_err(&self.path, e))?;
        tree.apply_batch(batch)
            .map_err(|e| store_err(&self.path, e))
    }

    /// The second half of [`Store::write`]: one batch of the meta tree (checkpoint LSN, frozen
    /// set, and the generation of the frozen sums [`Store::write_values`] wrote, if any), then a
    /// flush; then the frozen sums' versions that generation superseded are removed.
    pub fn write_meta(&self, snapshot: &Snapshot) -> Result<()> {
        let mut batch = sled::Batch::default();
        batch.insert(CHECKPOINT_KEY, checked_bytes(snapshot.covers.0));
        batch.insert(
            FROZEN_SET_KEY,
            pack::pack_frozen_set(snapshot.covers, &snapshot.frozen),
        );
        let sums = match snapshot.sum_chunks.is_empty() {
            true => None,
            false => Some(
                self.sums_gen()?
                    .checked_add(1)
                    .ok_or_else(|| self.bad("frozen sums generation overflows"))?,
            ),
        };
        if let Some(gen) = sums {
            batch.insert(SUMS_GEN_KEY, checked_bytes(gen));
        }
        self.tree(META_TREE)?
            .apply_batch(batch)
            .map_err(|e| store_err(&self.path, e))?;
        self.db.flush().map_err(|e| store_err(&self.path, e))?;
        if let Some(gen) = sums {
            // The checkpoint has landed: versions left by a crash here are superseded ones,
            // which loads skip and the next checkpoint writing sums removes.
            if let Err(e) = self.prune_sums(gen) {
                tracing::warn!(path = %self.path.display(), error = %e, "could not remove superseded frozen sums");
            }
        }
        Ok(())
    }

    /// Drops the trees the frozen set `in_force` (month → version) does not read: the normal
    /// ledger trees of frozen months, overlay and patches trees of other versions; and removes
    /// the balance values of frozen business months ([`Store::drop_stale_balances`], which finds
    /// them through `state`'s files when it holds the month). Returns the trees' names. Only for
    /// a frozen set the store's checkpoint names.
    pub fn drop_stale_trees(
        &self,
        in_force: &BTreeMap<Month, u32>,
        state: Option<&State>,
    ) -> Result<Vec<String>> {
        let mut dropped = Vec::new();
        let mut bytes = 0u64;
        for name in self.db.tree_names() {
            let text = String::from_utf8_lossy(&name).to_string();
            if parse_tree(&text).is_some_and(|t| is_stale(t, in_force)) {
                // What the tree holds is what sled will not give back (`store::compact`).
                bytes += self.tree_bytes(&text)?;
                self.db
                    .drop_tree(&name)
                    .map_err(|e| store_err(&self.path, e))?;
                dropped.push(text);
            }
        }
        let (removed, removed_bytes) = self.drop_stale_balances(in_force, state)?;
        bytes += removed_bytes;
        if !dropped.is_empty() || removed > 0 {
            self.add_dropped(bytes)?;
            self.db.flush().map_err(|e| store_err(&self.path, e))?;
        }
        Ok(dropped)
    }

    /// Bytes of keys and values tree `name` holds (a walk over it).
    fn tree_bytes(&self, name: &str) -> Result<u64> {
        let mut bytes = 0u64;
        for item in self.tree(name)?.iter() {
            let (k, v) = item.map_err(|e| store_err(&self.path, e))?;
            bytes += (k.len() + v.len()) as u64;
        }
        Ok(bytes)
    }

    /// Adds `bytes` to the bytes the store dropped since its last compaction (no flush).
    fn add_dropped(&self, bytes: u64) -> Result<()> {
        let total = self.dropped_bytes().saturating_add(bytes);
        self.tree(META_TREE)?
            .insert(DROPPED_KEY, &total.to_le_bytes())
            .map_err(|e| store_err(&self.path, e))?;
        Ok(())
    }

    /// Removes the balance values of frozen business months from the day-row trees (their day
    /// rows are in the files; a load skips them anyway): those the last [`Store::load`] skipped,
    /// and those of each month frozen since the last call. A month's values are found without a
    /// scan when `state` holds its file: one key per chunk of the file's orgs (and per shard and
    /// chunk in legacy shard trees; a balance value of an org with no row in the month is left
    /// to the next load to find). Otherwise the trees are scanned for them. Returns the keys
    /// removed and their bytes (keys and values).
    fn drop_stale_balances(
        &self,
        in_force: &BTreeMap<Month, u32>,
        state: Option<&State>,
    ) -> Result<(usize, u64)> {
        let skipped = std::mem::take(&mut *self.skipped_balances.lock());
        let months: BTreeSet<Month> = in_force.keys().copied().collect();
        let fresh: Vec<Month> = {
            let mut last = self.balances_cleaned.lock();
            let fresh = match last.as_ref() {
                Some(cleaned) => months.difference(cleaned).copied().collect(),
                None => months.iter().copied().collect(),
            };
            *last = Some(months);
            fresh
        };
        let mut keys: BTreeSet<(String, Vec<u8>)> = skipped.into_iter().collect();
        let mut scan = BTreeSet::new();
        // Shard trees a store written before kept: a month's values there are one per shard
        // and chunk.
        let legacy: Vec<(String, usize)> = self
            .db
            .tree_names()
            .iter()
            .filter_map(|name| {
                let name = String::from_utf8_lossy(name).to_string();
                let shard = legacy_balance_shard(&name)?.parse().ok()?;
                Some((name, shard))
            })
            .collect();
        for month in fresh {
            let orgs: Option<Vec<crate::model::OrgId>> = state
                .and_then(|s| s.frozen.get(month))
                .and_then(|frozen| frozen.file.orgs().collect::<Result<_>>().ok());
            let shards = state.map_or(0, |s| s.balances.len() as u32);
            match orgs {
                Some(orgs) => {
                    for org in orgs {
                        let key = key::balance_key(chunk_of(org), month.index());
                        let shard = crate::state::balance::shard_of(org, shards);
                        if let Some((name, _)) = legacy.iter().find(|(_, s)| *s == shard) {
                            keys.insert((name.clone(), key.clone()));
                        }
                        keys.insert((BALANCES_TREE.to_string(), key));
                    }
                }
                None => {
                    scan.insert(month);
                }
            }
        }
        let (mut removed, mut bytes) = (0, 0u64);
        let trees: BTreeSet<&String> = keys.iter().map(|(tree, _)| tree).collect();
        for name in trees {
            let tree = self.tree(name)?;
            let mut batch = Removals::default();
            for (_, k) in keys.range((name.clone(), Vec::new())..).take_while(|(t, _)| t == name) {
                // Most keys of a month frozen before a checkpoint wrote its day rows are not
                // there: a removal of an absent key would still be logged and cached by sled.
                if let Some(v) = tree
                    .get(k.as_slice())
                    .map_err(|e| store_err(&self.path, e))?
                {
                    removed += 1;
                    bytes += (k.len() + v.len()) as u64;
                    batch.remove(&tree, k, v.len(), &self.path)?;
                }
            }
            batch.finish(&tree, &self.path)?;
        }
        if !scan.is_empty() {
            let (count, scanned) = self.scan_stale_balances(&scan)?;
            removed += count;
            bytes += scanned;
        }
        Ok((removed, bytes))
    }

    /// Removes every balance value of `months` from the day-row trees, by a scan of them all;
    /// returns the values removed and their bytes (keys and values).
    fn scan_stale_balances(&self, months: &BTreeSet<Month>) -> Result<(usize, u64)> {
        let (mut removed, mut bytes) = (0, 0u64);
        for name in self.db.tree_names() {
            let text = String::from_utf8_lossy(&name).to_string();
            if !is_balance_tree(&text) {
                continue;
            }
            let tree = self.tree(&text)?;
            let mut batch = Removals::default();
            for item in tree.iter() {
                let (k, v) = item.map_err(|e| store_err(&self.path, e))?;
                let frozen = balance_key_month(&k)
                    .is_some_and(|m| months.contains(&m));
                if frozen {
                    bytes += (k.len() + v.len()) as u64;
                    removed += 1;
                    batch.remove(&tree, &k, v.len(), &self.path)?;
                }
            }
            batch.finish(&tree, &self.path)?;
        }
        Ok((removed, bytes))
    }

    /// How many balance values the day-row trees hold, by business month.
    ///
    /// # Errors
    /// `Error::Store` for a damaged key.
    #[cfg(feature = "internals")]
    pub fn balance_value_months(&self) -> Result<BTreeMap<Month, usize>> {
        let mut months = BTreeMap::new();
        for name in self.db.tree_names() {
            if !is_balance_tree(&String::from_utf8_lossy(&name)) {
                continue;
            }
            for item in self.tree(&String::from_utf8_lossy(&name))?.iter().keys() {
                let k = item.map_err(|e| store_err(&self.path, e))?;
                let month = balance_key_month(&k)
                    .ok_or_else(|| self.bad("balance key"))?;
                *months.entry(month).or_insert(0) += 1;
            }
        }
        Ok(months)
    }

    /// The generation of frozen sums in force and the (chunk, generation) of every version of
    /// frozen flows and of frozen nets the store holds, in key order.
    ///
    /// # Errors
    /// `Error::Store` for a damaged generation or key.
    #[cfg(feature = "internals")]
    pub fn frozen_sums_versions(&self) -> Result<(u64, [SumVersions; 2])> {
        let tree = self.tree(META_TREE)?;
        let mut out: [SumVersions; 2] = Default::default();
        for (at, prefix) in [FROZEN_FLOWS_PREFIX, FROZEN_NETS_PREFIX].into_iter().enumerate() {
            for item in tree.scan_prefix(prefix) {
                let (k, _) = item.map_err(|e| store_err(&self.path, e))?;
                out[at].push(sums_key(&k, prefix.len()).ok_or_else(|| self.bad("sums key"))?);
            }
        }
        Ok((self.sums_gen()?, out))
    }

    /// Rewrites the frozen sums as stores written before their generations kept them: each
    /// chunk's version in force under its key without a generation, and no generation key.
    ///
    /// # Errors
    /// `Error::Store` when sled fails.
    #[cfg(feature = "internals")]
    pub fn rewrite_sums_unversioned(&self) -> Result<()> {
        let tree = self.tree(META_TREE)?;
        let in_force = self.sums_gen()?;
        self.prune_sums(in_force)?;
        for prefix in [FROZEN_FLOWS_PREFIX, FROZEN_NETS_PREFIX] {
            let versions: Vec<(sled::IVec, sled::IVec)> = tree
                .scan_prefix(prefix)
                .collect::<sled::Result<_>>()
                .map_err(|e| store_err(&self.path, e))?;
            for (k, v) in versions {
                let (chunk, _) = sums_key(&k, prefix.len()).ok_or_else(|| self.bad("sums key"))?;
                tree.remove(&k).map_err(|e| store_err(&self.path, e))?;
                if !v.is_empty() {
                    let mut key = prefix.to_vec();
                    key.extend_from_slice(&chunk.to_be_bytes());
                    tree.insert(key, v).map_err(|e| store_err(&self.path, e))?;
                }
            }
        }
        for key in [SUMS_GEN_KEY, SUMS_PENDING_KEY] {
            tree.remove(key).map_err(|e| store_err(&self.path, e))?;
        }
        self.db.flush().map_err(|e| store_err(&self.path, e))?;
        Ok(())
    }

    /// The names of the store's trees (the `meta` and `orgs` trees included).
    #[cfg(feature = "internals")]
    pub fn tree_names(&self) -> Vec<String> {
        self.db
            .tree_names()
            .iter()
            .map(|n| String::from_utf8_lossy(n).to_string())
            .collect()
    }

    /// The size of sled's files, bytes.
    ///
    /// # Errors
    /// `Error::Store` when sled cannot say.
    /// Closes the store; when its files hold `min_bytes` or more, opens it once more and closes
    /// it again, so that sled writes a snapshot of its page table. sled 0.34 writes that snapshot
    /// only as it opens (`pagecache::snapshot`), and every open reads the whole log written
    /// since the last one: after a writer's run, that is every checkpoint of the run. Read
    /// here once, the next opens (a read-only one-shot command, the writer's reopen) read the
    /// snapshot instead. Returns whether it reopened the store.
    ///
    /// # Errors
    /// `Error::Store` (or [`Error::Locked`]) when the reopen fails: the store's values are
    /// durable already, only the next open reads the log again.
    pub fn close_with_snapshot(self, min_bytes: u64) -> Result<bool> {
        let size = self.size_on_disk()?;
        let path = self.path.clone();
        drop(self);
        if size < min_bytes {
            return Ok(false);
        }
        drop(Store::open_cached(&path, crate::limits::MIN_SLED_CACHE_BYTES)?);
        Ok(true)
    }

    pub fn size_on_disk(&self) -> Result<u64> {
        self.db.size_on_disk().map_err(|e| store_err(&self.path, e))
    }

    /// Bytes of keys and values the store dropped since its last compaction (stale trees and
    /// balance values of frozen months: what sled never gives back). 0 when none was recorded
    /// or the value is unreadable, which only makes the next compaction come later.
    pub fn dropped_bytes(&self) -> u64 {
        self.tree(META_TREE)
            .ok()
            .and_then(|meta| meta.get(DROPPED_KEY).ok().flatten())
            .and_then(|v| Some(u64::from_le_bytes(v.as_ref().try_into().ok()?)))
            .unwrap_or(0)
    }

    /// Copies every value the store's checkpoint reads into a new store at `dest` (trees its
    /// frozen set no longer reads and balance values of frozen months are left out), flushes it
    /// and fsyncs its files and directories. Returns the values and bytes copied.
    pub(crate) fn copy_live_into(&self, dest: &Path, cache: u64) -> Result<(u64, u64)> {
        let in_force: BTreeMap<Month, u32> = self
            .frozen_set()?
            .iter()
            .map(|e| (e.month, e.version))
            .collect();
        let target = Store::open_cached(dest, cache)?;
        let (mut values, mut bytes) = (0u64, 0u64);
        for name in self.db.tree_names() {
            let text = String::from_utf8_lossy(&name).to_string();
            if text.starts_with("__sled__") || parse_tree(&text).is_some_and(|t| is_stale(t, &in_force)) {
                continue;
            }
            let shard_tree = is_balance_tree(&text);
            let into = target.tree(&text)?;
            let mut batch = sled::Batch::default();
            let mut pending = 0;
            for item in self.tree(&text)?.iter() {
                let (k, v) = item.map_err(|e| store_err(&self.path, e))?;
                let frozen_balance = shard_tree
                    && balance_key_month(&k)
                        .is_some_and(|m| in_force.contains_key(&m));
                if frozen_balance {
                    continue;
                }
                values += 1;
                pending += k.len() + v.len();
                batch.insert(k, v);
                if pending >= VALUE_BATCH_BYTES {
                    into.apply_batch(std::mem::take(&mut batch))
                        .map_err(|e| store_err(dest, e))?;
                    bytes += pending as u64;
                    pending = 0;
                }
            }
            into.apply_batch(batch).map_err(|e| store_err(dest, e))?;
            bytes += pending as u64;
        }
        target.db.flush().map_err(|e| store_err(dest, e))?;
        drop(target);
        sync_tree(dest)?;
        Ok((values, bytes))
    }

    /// Records that a compaction left nothing dropped behind (the copy carried the count over
    /// with the rest of `meta`); returns the size of sled's files.
    pub(crate) fn mark_compacted(&self) -> Result<u64> {
        self.tree(META_TREE)?
            .remove(DROPPED_KEY)
            .map_err(|e| store_err(&self.path, e))?;
        self.db.flush().map_err(|e| store_err(&self.path, e))?;
        self.size_on_disk()
    }

    /// The frozen set the store's checkpoint names: month order (empty when none was written).
    ///
    /// # Errors
    /// `Error::Store` when the value is damaged.
    pub fn frozen_set(&self) -> Result<Vec<ManifestEntry>> {
        let tree = self.tree(META_TREE)?;
        let Some(value) = tree
            .get(FROZEN_SET_KEY)
            .map_err(|e| store_err(&self.path, e))?
        else {
            return Ok(Vec::new());
        };
        let name = self.path.join(META_TREE).join("frozen_set");
        let (_, entries) = pack::unpack_frozen_set(&name, &value)
            .map_err(|e| self.bad(&format!("meta/frozen_set: {e}")))?;
        Ok(entries)
    }

    pub(super) fn tree(&self, name: &str) -> Result<sled::Tree> {
        self.db
            .open_tree(name)
            .map_err(|e| store_err(&self.path, e))
    }
}

impl State {
    /// Packs the given values as they are in this state (a snapshot pinned together with the
    /// dirty keys taken, so the values reflect exactly the batches up to `self.lsn`).
    pub fn pack(&self, keys: &rustc_hash::FxHashSet<DirtyKey>) -> Snapshot {
        let mut values = Vec::new();
        let mut snapshot = self
            .pack_each(keys, usize::MAX, |mut group| {
                values.append(&mut group);
                Ok(())
            })
            .unwrap_or_default();
        snapshot.values = values;
        snapshot.sums = self.pack_sums(&snapshot.sum_chunks);
        snapshot
    }

    /// Packs the values of `keys` in key order (org records first), at most `group` keys at a
    /// time, handing each group's values to `write`; returns the rest of the snapshot (its
    /// `values` empty): the LSN, the frozen set and the meta keys. Stops at `write`'s first
    /// error.
    pub fn pack_each(
        &self,
        keys: &rustc_hash::FxHashSet<DirtyKey>,
        group: usize,
        mut write: impl FnMut(Vec<(String, Vec<u8>, Vec<u8>)>) -> Result<()>,
    ) -> Result<Snapshot> {
        let (flow_chunks, mut keys): (Vec<DirtyKey>, Vec<DirtyKey>) = keys
            .iter()
            .copied()
            .partition(|k| matches!(k, DirtyKey::FrozenFlows(_)));
        keys.sort_unstable();
        for keys in keys.chunks(group.max(1)) {
            // Packing is pure CPU over shared reads: split it over two threads.
            let (left, right) = keys.split_at(keys.len() / 2);
            let values = std::thread::scope(|scope| {
                let other = scope.spawn(|| self.pack_keys(right));
                let mut values = self.pack_keys(left);
                values.extend(other.join().expect("packing thread panicked"));
                values
            });
            write(values)?;
        }
        let mut sum_chunks: Vec<u64> = flow_chunks
            .into_iter()
            .filter_map(|k| match k {
                DirtyKey::FrozenFlows(chunk) => Some(chunk),
                _ => None,
            })
            .collect();
        sum_chunks.sort_unstable();
        Ok(Snapshot {
            covers: self.lsn,
            values: Vec::new(),
            frozen: self.frozen.months().values().map(|f| f.entry).collect(),
            sum_chunks,
            sums: Vec::new(),
        })
    }

    /// The frozen sums of `chunks` as the meta tree keeps them, keyed without the generation
    /// (flows and nets of each; `None`: the chunk has none).
    pub fn pack_sums(&self, chunks: &[u64]) -> Vec<(Vec<u8>, Option<Vec<u8>>)> {
        chunks
            .iter()
            .flat_map(|&chunk| {
                [
                    (frozen_flows_key(chunk), self.pack_frozen_flows(chunk)),
                    (frozen_nets_key(chunk), self.pack_frozen_nets(chunk)),
                ]
            })
            .collect()
    }

    /// The frozen flows of a chunk's orgs (orgs without any left out; `None` for none at all).
    fn pack_frozen_flows(&self, chunk: u64) -> Option<Vec<u8>> {
        let items: Vec<_> = chunk_orgs(chunk)
            .filter_map(|id| {
                self.frozen
                    .flows
                    .get(&id)
                    .filter(|f| **f != (0, 0))
                    .map(|f| (id, f))
            })
            .collect();
        (!items.is_empty()).then(|| pack::pack_frozen_flows(self.lsn, &items))
    }

    /// The frozen nets and stale marks of a chunk's orgs (`None` for none at all).
    fn pack_frozen_nets(&self, chunk: u64) -> Option<Vec<u8>> {
        let items: Vec<(crate::model::OrgId, pack::FrozenNet)> = chunk_orgs(chunk)
            .filter_map(|id| {
                let net = self.frozen.nets.get(&id).copied().unwrap_or(0);
                let stale = self.frozen.stale.get(&id).copied();
                (net != 0 || stale.is_some()).then_some((id, (net, stale)))
            })
            .collect();
        let refs: Vec<_> = items.iter().map(|(id, n)| (*id, n)).collect();
        (!refs.is_empty()).then(|| pack::pack_frozen_nets(self.lsn, &refs))
    }

    fn pack_keys(&self, keys: &[DirtyKey]) -> Vec<(String, Vec<u8>, Vec<u8>)> {
        let stamp = self.lsn;
        let mut values = Vec::with_capacity(keys.len());
        for key in keys {
            match *key {
                // Written with the checkpoint LSN (`State::pack`).
                DirtyKey::FrozenFlows(_) => {}
                DirtyKey::Patches(month, chunk) => {
                    // Patches exist only for frozen months, in the tree of the version in force.
                    let Some(frozen) = self.frozen.get(month) else {
                        continue;
                    };
                    let items: Vec<_> = chunk_orgs(chunk)
                        .filter_map(|id| self.patches.get(&(month, id)).map(|p| (id, &**p)))
                        .collect();
                    values.push((
                        patches_tree(month, frozen.entry.version),
                        chunk.to_be_bytes().to_vec(),
                        pack::pack_patches(stamp, &items),
                    ));
                }
                DirtyKey::Catalog => {
                    let records: Vec<_> =
                        self.catalog.defs.iter().map(|d| d.record(true)).collect();
                    values.push((
                        META_TREE.to_string(),
                        CATALOG_KEY.to_vec(),
                        pack::pack_catalog(stamp, &records),
                    ));
                }
                DirtyKey::Orgs(chunk) => {
                    let records: Vec<_> = chunk_orgs(chunk)
                        .filter_map(|id| self.orgs.get(&id).map(|o| (id, o.record())))
                        .collect();
                    let items: Vec<_> = records.iter().map(|(id, r)| (*id, r)).collect();
                    let value = pack::pack_orgs(stamp, &items);
                    values.push((ORGS_TREE.to_string(), chunk.to_be_bytes().to_vec(), value));
                }
                DirtyKey::Ledger(pid, chunk) => {
                    let Some(bucket) = self.ledgers.get(&pid) else {
                        continue;
                    };
                    let items: Vec<_> = chunk_orgs(chunk)
                        .filter_map(|id| bucket.orgs.get(&id).map(|l| (id, &**l)))
                        .collect();
                    // A frozen month's overlay goes to its version's trees: the normal tree
                    // keeps the values from before the freeze until the checkpoint naming the
                    // frozen file has landed.
                    let tree = match self.frozen.get(pid.month) {
                        Some(frozen) => overlay_tree(pid, frozen.entry.version),
                        None => pid.tree_name(),
                    };
                    values.push((
                        tree,
                        chunk.to_be_bytes().to_vec(),
                        pack::pack_ledgers(stamp, &items),
                    ));
                }
                DirtyKey::Balance(chunk, month) => {
                    let shards = self.balances.len() as u32;
                    // (shard, org, its day rows of the month), org order.
                    let items: Vec<_> = chunk_orgs(chunk)
                        .filter_map(|id| {
                            let shard = crate::state::balance::shard_of(id, shards);
                            self.balances[shard]
                                .orgs
                                .get(&id)
                                .and_then(|b| b.months.get(&month))
                                .map(|m| (shard, id, &**m))
                        })
                        .collect();
                    match self.frozen.get(month) {
                        // A frozen business month's later day rows go to its version's tree,
                        // as ledger overlays do: one value per shard holding any (a day-row
                        // overlay only grows while its version is in force).
                        Some(frozen) => {
                            let tree = days_tree(month, frozen.entry.version);
                            let mut by_shard: BTreeMap<usize, Vec<_>> = BTreeMap::new();
                            for (shard, id, m) in items {
                                by_shard.entry(shard).or_default().push((id, m));
                            }
                            for (shard, items) in by_shard {
                                let mut key = (shard as u32).to_be_bytes().to_vec();
                                key.extend_from_slice(&chunk.to_be_bytes());
                                values.push((tree.clone(), key, pack::pack_balances(stamp, &items)));
                            }
                        }
                        None => {
                            let items: Vec<_> = items.into_iter().map(|(_, id, m)| (id, m)).collect();
                            values.push((
                                BALANCES_TREE.to_string(),
                                key::balance_key(chunk, month.index()),
                                pack::pack_balances(stamp, &items),
                            ));
                        }
                    }
                }
            }
        }
        values
    }
}
#[cfg(test)]
mod tests {
    use super::*;

    /// Removals in batches of `VALUE_BATCH_BYTES`: every key given goes, whatever the number of
    /// batches (the last one partial), and no other.
    #[test]
    fn removals_go_in_batches_and_remove_exactly_their_keys() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let db = sled::open(tmp.path().join("t")).expect("open");
        let tree = db.open_tree("balances").expect("tree");
        let value = [7u8; 100];
        for i in 0u32..5_000 {
            tree.insert(i.to_be_bytes(), &value[..]).expect("insert");
        }
        let mut removals = Removals::default();
        let mut batches = 0;
        for i in (0u32..5_000).filter(|i| i % 3 != 0) {
            removals
                .remove(&tree, &i.to_be_bytes(), value.len(), tmp.path())
                .expect("remove");
            if removals.bytes == 0 {
                batches += 1;
            }
        }
        assert!(batches >= 3, "{batches} full batches");
        assert!(removals.bytes > 0, "a partial batch is left for finish");
        removals.finish(&tree, tmp.path()).expect("finish");
        let left: Vec<u32> = tree
            .iter()
            .keys()
            .map(|k| u32::from_be_bytes(k.expect("key").as_ref().try_into().expect("4 bytes")))
            .collect();
        assert_eq!(left, (0u32..5_000).filter(|i| i % 3 == 0).collect::<Vec<_>>());
    }

    /// A store whose lock is still held (as by the flusher of a store just dropped) is waited
    /// for and then opened with its contents, not reported damaged and rebuilt.
    #[test]
    fn an_open_waits_for_a_store_lock_being_released() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let path = tmp.path().join("store");
        let first = Store::open(&path).expect("open");
        first.db.insert(b"kept", b"yes").expect("insert");
        first.db.flush().expect("flush");
        let second = {
            let path = path.clone();
            std::thread::spawn(move || Store::open(&path))
        };
        std::thread::sleep(std::time::Duration::from_millis(100));
        if second.is_finished() {
            let early = second.join().map(|r| r.map(|_| ()));
            panic!("finished while the lock was held: {early:?}");
        }
        drop(first);
        let second = second.join().expect("thread").expect("open after release");
        assert_eq!(
            second.db.get(b"kept").expect("get").as_deref(),
            Some(&b"yes"[..])
        );
    }
}
