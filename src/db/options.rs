//! How a database is opened.

use crate::io::{StdFs, Vfs};
use std::sync::Arc;
use std::time::Duration;

/// When `record` returns.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Durability {
    /// After the batch's frame is on disk (fdatasync per group commit). The default.
    #[default]
    Sync,
    /// After the frame is handed to the operating system, without fdatasync: survives a process
    /// crash but not a power loss. For bulk loads; `Db::sync` or closing makes it durable.
    Buffered,
}

/// Options of [`crate::Db::open_with`]: start from [`Options::default`] (or
/// [`Options::read_only`]) and change what you need with the setters.
///
/// ```
/// use folio::{Durability, Options};
/// let options = Options::default().shards(4).durability(Durability::Buffered);
/// assert_eq!(options.shards, 4);
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub struct Options {
    /// Balance shards of a new database (ignored when opening an existing one).
    pub shards: u32,
    /// When `record` returns: after fdatasync (the default) or a weaker policy chosen by name.
    pub durability: Durability,
    /// Create the database when the directory holds none.
    pub create_if_missing: bool,
    /// Start a background checkpoint after this many applied operations.
    pub checkpoint_every_ops: u64,
    /// Start a background checkpoint at least this often while there are changes.
    pub checkpoint_interval: Duration,
    /// A log segment is sealed and a new one started once it exceeds this size.
    pub segment_target_bytes: u64,
    /// Open without changing anything on disk (read-only media, a checkpoint directory kept for
    /// seeding): no lock file is created, a torn log tail is read around instead of cut, the
    /// store is loaded from a private copy, and every write is refused with
    /// [`crate::Error::ReadOnly`]. Opens beside a writer in another process (or another handle
    /// of this one) without its lock, at every batch its log holds whole; the view stays at that
    /// LSN ([`crate::RecoveryReport::beside_writer`]). A writer may open while readers are open.
    pub read_only: bool,
    /// Run the freezer in the background (after checkpoints, a few months per step): months before
    /// the previous calendar month of the newest row become frozen files and leave memory (see
    /// [`crate::Db::freeze`]). Off by default while the frozen-month work is completed.
    pub auto_freeze: bool,
    /// The engine's resident memory budget in bytes (default
    /// [`crate::limits::DEFAULT_MEMORY_BUDGET`], 256 MiB). A quarter of it (4 MiB to 256 MiB)
    /// is sled's page cache; with [`Options::auto_freeze`], the freezer freezes months before
    /// its horizon while the engine's account ([`crate::Db::memory`]) is over it.
    pub memory_budget: u64,
    /// The store is compacted (its live values copied into a new sled database, which replaces
    /// it), at a writable open or after a checkpoint of a running writer, once sled's files
    /// exceed this many bytes (default [`crate::limits::STORE_COMPACT_FLOOR_BYTES`], 64 MiB;
    /// `u64::MAX`: never) and the values it dropped are
    /// [`Options::store_compaction_dead_percent`] of them.
    pub store_compaction_floor: u64,
    /// See [`Options::store_compaction_floor`]: the keys and values the store dropped since its
    /// last compaction (trees of months that froze, of replaced file versions, balance values
    /// of frozen months — sled never gives their space back), as a percentage of sled's files,
    /// at which it is compacted (default [`crate::limits::STORE_COMPACT_DEAD_PERCENT`], 33;
    /// 0: whenever it dropped anything); a writer's close compacts at
    /// [`crate::limits::STORE_COMPACT_DEAD_PERCENT_AT_CLOSE`] (10) when that is smaller. A store
    /// that only grew is never compacted.
    pub store_compaction_dead_percent: u64,
    /// File system of the log and metadata (the reliability harness injects faults here).
    pub(crate) vfs: Arc<dyn Vfs>,
}

setters!(Options {
    /// Balance shards of a new database, `1..=MAX_SHARDS` (ignored when opening an existing one).
    shards: u32,
    /// When `record` returns (see [`Durability`]).
    durability: Durability,
    /// Whether opening a directory that holds no database creates one.
    create_if_missing: bool,
    /// Start a background checkpoint after this many applied operations.
    checkpoint_every_ops: u64,
    /// Start a background checkpoint at least this often while there are changes.
    checkpoint_interval: Duration,
    /// Seal a log segment and start a new one once it exceeds this size.
    segment_target_bytes: u64,
    /// Run the freezer in the background.
    auto_freeze: bool,
    /// The engine's resident memory budget in bytes.
    memory_budget: u64,
    /// sled's file size below which the store is never compacted.
    store_compaction_floor: u64,
    /// Dropped values, per cent of sled's files, at which the store is compacted.
    store_compaction_dead_percent: u64,
});

impl Default for Options {
    fn default() -> Options {
        Options {
            shards: 16,
            durability: Durability::Sync,
            create_if_missing: true,
            checkpoint_every_ops: 4_000_000,
            checkpoint_interval: Duration::from_secs(30),
            segment_target_bytes: crate::limits::SEGMENT_TARGET_BYTES,
            read_only: false,
            auto_freeze: false,
            memory_budget: crate::limits::DEFAULT_MEMORY_BUDGET,
            store_compaction_floor: crate::limits::STORE_COMPACT_FLOOR_BYTES,
            store_compaction_dead_percent: crate::limits::STORE_COMPACT_DEAD_PERCENT,
            vfs: Arc::new(StdFs),
        }
    }
}

impl Options {
    /// When the store is due for compaction under these options.
    pub(crate) fn store_compaction(&self) -> crate::store::compact::Due {
        crate::store::compact::Due {
            floor: self.store_compaction_floor,
            dead_percent: self.store_compaction_dead_percent,
        }
    }

    /// sled's page cache under this budget: a quarter of it, 4 MiB to 256 MiB.
    pub fn store_cache_bytes(&self) -> u64 {
        (self.memory_budget / 4).clamp(
            crate::limits::MIN_SLED_CACHE_BYTES,
            crate::limits::SLED_CACHE_BYTES,
        )
    }

    /// The file system of the log and metadata: the reliability harness's simulated disk.
    #[cfg(feature = "fault-injection")]
    #[must_use]
    pub fn vfs(mut self, vfs: Arc<dyn Vfs>) -> Options {
        self.vfs = vfs;
        self
    }

    /// Options that open an existing database read-only (see [`Options::read_only`]).
    pub fn read_only() -> Options {
        Options {
            read_only: true,
            create_if_missing: false,
            ..Options::default()
        }
    }

    /// Checks what creating a database with these options needs, before anything is written:
    /// the shard count is `1..=MAX_SHARDS`.
    ///
    /// # Errors
    /// [`crate::Error::InvalidArgument`] for a shard count out of range.
    pub fn check_create(&self) -> crate::Result<()> {
        let max = crate::limits::MAX_SHARDS;
        if self.shards == 0 || self.shards > max {
            return Err(crate::Error::InvalidArgument(format!(
                "shard count must be 1..={max}, got {}",
                self.shards
            )));
        }
        Ok(())
    }
}

impl std::fmt::Debug for Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Options")
            .field("shards", &self.shards)
            .field("durability", &self.durability)
            .field("create_if_missing", &self.create_if_missing)
            .field("checkpoint_every_ops", &self.checkpoint_every_ops)
            .field("checkpoint_interval", &self.checkpoint_interval)
            .field("segment_target_bytes", &self.segment_target_bytes)
            .field("read_only", &self.read_only)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_counts_are_checked_before_creation() {
        for (shards, ok) in [(0, false), (1, true), (1024, true), (1025, false)] {
            let options = Options {
                shards,
                ..Options::default()
            };
            assert_eq!(options.check_create().is_ok(), ok, "{shards}");
        }
    }
}
