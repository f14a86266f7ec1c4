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
/// sled page cache, bytes.
pub const SLED_CACHE_BYTES: u64 = 256 * 1024 * 1024;
/// Length of a JSONL/CSV ingest line.
pub const MAX_INGEST_LINE_BYTES: usize = 4096;
/// A checkpoint taking longer than this (packing plus writing) is reported as a `tracing`
/// warning with its LSN, keys and the time of each step.
pub const SLOW_CHECKPOINT: std::time::Duration = std::time::Duration::from_secs(1);

const _: () = assert!(MAX_BATCH_OPS <= MAX_GROUP_OPS);
const _: () = assert!(MAX_FRAME_PAYLOAD_BYTES as u64 <= SEGMENT_TARGET_BYTES);
const _: () = assert!(MAX_GROUP_BATCHES <= COMMIT_QUEUE_DEPTH);
// A batch of the largest references must fit in one frame.
const _: () = assert!(MAX_BATCH_OPS * (MAX_REFERENCE_BYTES + 128) <= MAX_FRAME_PAYLOAD_BYTES);
/// Lines kept in a database's `recovery.log` (the oldest are dropped).
pub const RECOVERY_LOG_LINES: usize = 64;
/// Rounds of `accept_loss` (each sets aside one damaged or missing piece) before it gives up.
pub const MAX_SALVAGE_ROUNDS: usize = 64;
