//! Every bound Folio enforces, in one place.

/// Most operations in one batch.
pub const MAX_BATCH_OPS: usize = 100_000;
/// The highest LSN a file may name: far beyond any log, and room for `+ 1` everywhere.
pub const MAX_LSN: u64 = i64::MAX as u64;
/// Longest entry reference, in bytes of UTF-8.
pub const MAX_REFERENCE_BYTES: usize = 256;
/// Longest org name, in bytes of UTF-8.
pub const MAX_ORG_NAME_BYTES: usize = 256;
/// Longest IANA time zone name accepted.
pub const MAX_TIME_ZONE_BYTES: usize = 64;
/// A log segment is sealed and a new one started once it exceeds this size.
pub const SEGMENT_TARGET_BYTES: u64 = 64 * 1024 * 1024;
/// Largest frame payload (one encoded batch).
pub const MAX_FRAME_PAYLOAD_BYTES: usize = 64 * 1024 * 1024;
/// Batches waiting for the committer; callers block when it is full.
pub const COMMIT_QUEUE_DEPTH: usize = 1024;
/// Most batches one group commit takes from the queue.
pub const MAX_GROUP_BATCHES: usize = 256;
/// Most operations one group commit takes (a single larger batch still commits alone).
pub const MAX_GROUP_OPS: usize = 200_000;
/// Most days one balance range read returns.
pub const MAX_RANGE_DAYS: i32 = 366 * 20;
/// Most entries one listing returns.
pub const MAX_LIST_ENTRIES: usize = 1_000_000;
/// Largest number of balance shards a database may be created with.
pub const MAX_SHARDS: u32 = 1024;
/// sled page cache, bytes: the most a database gives it (a quarter of its memory budget, at
/// least [`MIN_SLED_CACHE_BYTES`]).
pub const SLED_CACHE_BYTES: u64 = 256 * 1024 * 1024;
/// The least sled page cache a database gives it, whatever its budget.
pub const MIN_SLED_CACHE_BYTES: u64 = 4 * 1024 * 1024;
/// `Options::memory_budget` unless set: sized for a small device.
pub const DEFAULT_MEMORY_BUDGET: u64 = 256 * 1024 * 1024;

/// Most frozen month files a manifest lists (every month of years 1..=9999 fits).
pub const MAX_FROZEN_FILES: usize = 120_000;

/// Most rows a ledger page, pending list or top list returns.
pub const MAX_REPORT_ROWS: usize = 10_000;
/// Most rows one page returns.
pub const MAX_QUERY_LIMIT: usize = 10_000;
/// Most declared key columns of an index.
pub const MAX_KEY_COLUMNS: usize = 3;
/// Most included columns of an index.
pub const MAX_INCLUDED_COLUMNS: usize = 2;
/// Ledgers with fewer rows are served by their clustered rows instead of index parts.
pub const INDEX_MIN_ROWS: usize = 64;
/// Groups of at least this many operations apply balances on a second thread.
pub const PARALLEL_APPLY_OPS: usize = 256;
/// A group waits at most this many times a replica's flow-control bound for it; a replica that
/// has applied nothing for as long is not applying (stalled, failing, copying) and is not waited
/// for at all.
pub const FLOW_WAIT_FACTOR: u32 = 4;
/// Operations a replica applies per hold of its write lock (whole batches; at least one).
pub const MAX_OPS_PER_LOCK: usize = 1024;
/// Payload bytes a replica reads and applies at once.
pub const APPLY_CHUNK_BYTES: usize = 256 << 10;
/// Commit times remembered for lag-in-time (one per group commit).
pub const COMMIT_TIMES: usize = 1 << 16;
/// The flow-control bound of an in-process replica unless its options say otherwise.
pub const DEFAULT_FLOW_CONTROL: std::time::Duration = std::time::Duration::from_millis(3);
/// Times a read that finds every node applying looks again before it waits for its own.
pub const BUSY_ROUNDS: usize = 8;
/// The store is compacted (`store::compact`) once sled's files exceed this many bytes
/// (`Options::store_compaction_floor`) and what it dropped since its last compaction is
/// [`STORE_COMPACT_DEAD_PERCENT`] of them.
pub const STORE_COMPACT_FLOOR_BYTES: u64 = 64 * 1024 * 1024;
/// See [`STORE_COMPACT_FLOOR_BYTES`] (`Options::store_compaction_dead_percent`): the keys and
/// values the store dropped, counted raw, are a third of sled's files; sled's own overhead on
/// them makes the dead part about half, so a compaction copies about what it wins back.
pub const STORE_COMPACT_DEAD_PERCENT: u64 = 33;
/// See [`STORE_COMPACT_FLOOR_BYTES`]: a writer's close compacts its store at this share of
/// dropped values (or `Options::store_compaction_dead_percent`, when smaller): once, with no
/// writer waiting, for every open that follows (a read-only open copies the store).
pub const STORE_COMPACT_DEAD_PERCENT_AT_CLOSE: u64 = 10;
/// A writer's close opens its store once more when sled's files hold this many bytes or more,
/// so that sled writes the snapshot of its page table the next open reads instead of its whole
/// log (`Store::close_with_snapshot`). Smaller stores open fast either way.
pub const STORE_SNAPSHOT_AT_CLOSE_BYTES: u64 = 16 * 1024 * 1024;
/// How long the store's open waits for a store lock left by a store of this process being dropped.
pub const STORE_LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(10);
/// How long opening waits for a database lock held for a moment (see `lock`).
pub const LOCK_WAIT: std::time::Duration = std::time::Duration::from_millis(500);
/// How long a read-only open waits for a writer's checkpoint to let it in at the read gate, and
/// a writer's checkpoint for readers' opens to finish (`db::gate`).
pub const READ_GATE_WAIT: std::time::Duration = std::time::Duration::from_secs(60);
/// Rows a ledger keeps in a sorted `Vec` before it moves them to a `BTreeMap`.
pub const SMALL_ROWS: usize = 128;
/// A checkpoint taking longer than this (packing plus writing) is reported as a `tracing`
/// warning with its LSN, keys and the time of each step.
pub const SLOW_CHECKPOINT: std::time::Duration = std::time::Duration::from_secs(1);
/// The background freezer makes the files it put in force durable (a checkpoint naming them,
/// then `frozen/` aligned with it) once this long has passed since the last checkpoint, not
/// after every step: each checkpoint rewrites the values of the months taking writes and the
/// frozen sums of every chunk a freeze touched, so one per step made the checkpoint most of the
/// freezer's work at 1,000,000 orgs. Until then a crash reopens those months from the store and
/// the log, as for any write after the last checkpoint.
pub const FROZEN_SETTLE_AFTER: std::time::Duration = std::time::Duration::from_secs(5);
/// ... or once this many values wait for a checkpoint: a checkpoint pins the state it writes
/// while writers go on, so a long one makes them copy what they change (peak memory).
pub const FROZEN_SETTLE_KEYS: usize = 131_072;

const _: () = assert!(MAX_BATCH_OPS <= MAX_GROUP_OPS);
const _: () = assert!(MAX_FRAME_PAYLOAD_BYTES as u64 <= SEGMENT_TARGET_BYTES);
const _: () = assert!(MAX_GROUP_BATCHES <= COMMIT_QUEUE_DEPTH);
// A batch of the largest references must fit in one frame.
const _: () = assert!(MAX_BATCH_OPS * (MAX_REFERENCE_BYTES + 128) <= MAX_FRAME_PAYLOAD_BYTES);
/// Lines kept in a database's `recovery.log` (the oldest are dropped).
pub const RECOVERY_LOG_LINES: usize = 64;
/// Rounds of `accept_loss` (each sets aside one damaged or missing piece) before it gives up.
pub const MAX_SALVAGE_ROUNDS: usize = 64;
