//! Errors a caller can act on.

use crate::model::{EntryId, Lsn, OrgId};
use std::path::PathBuf;

/// What a corrupt file looked like.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CorruptionKind {
    /// A stored CRC32 differs from the one computed over the bytes it covers: the bytes changed
    /// after they were written.
    ChecksumMismatch {
        /// The checksum stored in the file.
        expected: u32,
        /// The checksum computed over the bytes as read.
        actual: u32,
    },
    /// A length that cannot be right: a frame length over the limit or zero, a file or header
    /// shorter than its format needs (a torn write), a file whose length differs from what its
    /// checkpoint manifest lists. Holds the length found, in bytes (0 for a frame cut short).
    BadLength(u64),
    /// The file does not start with the magic bytes of its kind (not a Folio file, or its first
    /// bytes were overwritten).
    BadMagic,
    /// A log frame or segment carries another LSN than the one that must come next: frames were
    /// lost or reordered.
    LsnGap {
        /// The LSN that must come next.
        expected: Lsn,
        /// The LSN the frame or segment header carries.
        found: Lsn,
    },
    /// A frame's `prev_crc` is not the checksum of the frame before it: the log was spliced from
    /// pieces that do not belong together.
    ChainBroken,
    /// A frame's checksum holds but its payload does not decode as a log record (the text says
    /// why): written by another build, or crafted.
    InvalidArchive(String),
    /// A value that decodes but is out of range or contradicts its header (an LSN beyond the
    /// limit, an operation count that differs, an unknown code); the text says which.
    InvalidValue(String),
    /// A log frame whose effect contradicts the state (e.g. reverses an unknown entry).
    InconsistentOp(String),
    /// A well-formed file that is not the one expected: a frozen month file of another database,
    /// month or version than its manifest names (e.g. copied or renamed from elsewhere).
    ForeignFile {
        /// What differs: `database id`, `month` or `version`.
        field: &'static str,
        /// The value the manifest (or the caller) expects.
        expected: u64,
        /// The value the file carries.
        found: u64,
    },
    /// A file a manifest lists is not there.
    MissingFile,
    /// Log records known to have been acknowledged are gone: the log (a segment, or the whole
    /// log directory) ends before `to`, the LSN the store's checkpoint or a replica's base shows
    /// was durable. `from > to` when nothing is known durable (a missing log directory).
    MissingLog {
        /// The first LSN the log lacks.
        from: Lsn,
        /// The last LSN the log lacks: what the store's checkpoint, its durable mark or a
        /// replica's base shows was durable.
        to: Lsn,
    },
    /// A damaged frame at or below an LSN known durable: it cannot be a torn write that was never
    /// acknowledged, so it is not cut off.
    DamagedDurable {
        /// LSN of the damaged frame (the one that would come next in the log).
        lsn: Lsn,
        /// The highest LSN known durable; every LSN from `lsn` up to it is unreadable.
        durable: Lsn,
        /// What is wrong with the frame.
        cause: Box<CorruptionKind>,
    },
}

impl std::fmt::Display for CorruptionKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CorruptionKind::ChecksumMismatch { expected, actual } => {
                write!(
                    f,
                    "checksum mismatch (stored {expected:#010x}, computed {actual:#010x})"
                )
            }
            CorruptionKind::BadLength(len) => write!(f, "impossible length {len}"),
            CorruptionKind::BadMagic => f.write_str("not a Folio file (bad magic)"),
            CorruptionKind::LsnGap { expected, found } => {
                write!(f, "LSN {found} where {expected} was expected")
            }
            CorruptionKind::ChainBroken => {
                f.write_str("frame does not continue the previous frame's checksum chain")
            }
            CorruptionKind::InvalidArchive(why) => write!(f, "invalid archive: {why}"),
            CorruptionKind::InvalidValue(why) => write!(f, "invalid value: {why}"),
            CorruptionKind::InconsistentOp(why) => write!(f, "inconsistent operation: {why}"),
            CorruptionKind::ForeignFile {
                field,
                expected,
                found,
            } => write!(
                f,
                "file of another {field} ({found:#x} where {expected:#x} was expected)"
            ),
            CorruptionKind::MissingFile => f.write_str("the file its manifest lists is missing"),
            CorruptionKind::MissingLog { from, to } if from <= to => write!(
                f,
                "the log lacks LSNs {from}..={to}, which were acknowledged (a checkpoint or \
                 the replica base covers LSN {to})"
            ),
            CorruptionKind::MissingLog { .. } => f.write_str("the log is missing"),
            CorruptionKind::DamagedDurable {
                lsn,
                durable,
                cause,
            } => write!(
                f,
                "frame of LSN {lsn} is damaged ({cause}) but LSNs up to {durable} were \
                 acknowledged: LSNs {lsn}..={durable} cannot be read"
            ),
        }
    }
}

/// Why a batch was rejected. The batch changed nothing.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Rejection {
    /// The org of an operation was never registered (neither earlier nor in the same batch).
    #[error("org {0} is not registered")]
    UnknownOrg(OrgId),
    /// A registration of an org id that exists with other details (name, currency, time zone,
    /// opening balance or creation time). Registering the same details again is a no-op.
    #[error("org {0} is already registered with different details")]
    OrgConflict(OrgId),
    /// An org registration with a name over [`crate::limits::MAX_ORG_NAME_BYTES`] bytes, a time
    /// zone that is no IANA name (or is too long), or a `created_at` outside
    /// [`crate::MIN_TIMESTAMP`]`..=`[`crate::MAX_TIMESTAMP`]; `why` says which.
    #[error("org {org}: invalid org: {why}")]
    InvalidOrg {
        /// The org registered.
        org: OrgId,
        /// What is wrong, in words.
        why: String,
    },
    /// An org registration whose currency is not an active ISO 4217 code (see
    /// [`crate::Currency::parse`]).
    #[error("org {org}: {code:?} is not an active ISO 4217 currency code")]
    UnknownCurrency {
        /// The org registered.
        org: OrgId,
        /// The code as given (lossy UTF-8).
        code: String,
    },
    /// A posting whose amount is zero or negative: postings carry positive amounts, and their
    /// ledger (revenue or expense) gives the sign.
    #[error("org {org} entry {entry}: amount must be positive, got {amount}")]
    NonPositiveAmount {
        /// The org of the posting.
        org: OrgId,
        /// The posting's entry id.
        entry: EntryId,
        /// The amount posted, in minor units.
        amount: i64,
    },
    /// The org's running balance could leave the `i64` range of minor units: the opening balance
    /// plus every inflow, or minus every outflow, recorded for the org must fit, so that no
    /// balance read can overflow.
    #[error("org {org}: running balance would overflow i64 minor units")]
    Overflow {
        /// The org whose balance would overflow.
        org: OrgId,
    },
    /// A posting, reversal or payment whose timestamp (`occurred_at`, or `paid_at` for a payment)
    /// lies outside [`crate::MIN_TIMESTAMP`]`..=`[`crate::MAX_TIMESTAMP`].
    #[error("org {org} entry {entry}: timestamp {ts} outside the supported range 1900-01-01..9999-12-30")]
    TimestampOutOfRange {
        /// The org of the operation.
        org: OrgId,
        /// The entry posted or reversed, or the expense paid.
        entry: EntryId,
        /// The timestamp given, in UTC seconds.
        ts: i64,
    },
    /// An entry id already recorded for the org with other content (another amount, time, kind,
    /// category, payment method, status or reference, or another reversed entry). Recording
    /// identical content again is a no-op: entry ids are idempotency keys.
    #[error("org {org} entry {entry}: already recorded with different content")]
    DuplicateConflict {
        /// The org of the entry.
        org: OrgId,
        /// The entry id recorded twice.
        entry: EntryId,
    },
    /// A text field over its limit: an entry's reference over
    /// [`crate::limits::MAX_REFERENCE_BYTES`] bytes.
    #[error("org {org} entry {entry}: {field} is {len} bytes, over the limit of {limit}")]
    TextTooLong {
        /// The org of the entry.
        org: OrgId,
        /// The entry whose text is too long.
        entry: EntryId,
        /// The field's name, e.g. `reference`.
        field: &'static str,
        /// The text's length, in bytes (UTF-8).
        len: usize,
        /// The field's limit, in bytes.
        limit: usize,
    },
    /// A posting whose category belongs to the other ledger (see [`crate::Category::allowed_for`]):
    /// e.g. `payroll` on a revenue.
    #[error("org {org} entry {entry}: category {category} is not a {kind} category")]
    CategoryMismatch {
        /// The org of the posting.
        org: OrgId,
        /// The posting's entry id.
        entry: EntryId,
        /// The category's canonical name.
        category: &'static str,
        /// The posting's kind: `revenue` or `expense`.
        kind: &'static str,
    },
    /// A posting whose status does not fit its kind: a revenue with a status, or an expense
    /// without one.
    #[error("org {org} entry {entry}: {why}")]
    BadStatus {
        /// The org of the posting.
        org: OrgId,
        /// The posting's entry id.
        entry: EntryId,
        /// What is wrong, in words.
        why: &'static str,
    },
    /// A reversal or payment names an entry the org does not have (neither recorded earlier nor
    /// in the same batch).
    #[error("org {org}: entry {entry} does not exist")]
    UnknownEntry {
        /// The org of the operation.
        org: OrgId,
        /// The entry named, which does not exist.
        entry: EntryId,
    },
    /// A reversal of an entry that is already reversed, or a payment of a reversed expense.
    #[error("org {org}: entry {entry} is already reversed")]
    AlreadyReversed {
        /// The org of the operation.
        org: OrgId,
        /// The entry already reversed.
        entry: EntryId,
    },
    /// A reversal of an entry that is itself a reversal.
    #[error("org {org}: entry {entry} is a reversal and cannot itself be reversed")]
    ReversalOfReversal {
        /// The org of the reversal.
        org: OrgId,
        /// The entry named, which is a reversal.
        entry: EntryId,
    },
    /// A payment of an entry that is no expense posting (a revenue or a reversal).
    #[error("org {org}: entry {entry} is not an expense")]
    NotAnExpense {
        /// The org of the payment.
        org: OrgId,
        /// The entry named, which is no expense posting.
        entry: EntryId,
    },
    /// A payment of an expense already paid (at another time, or posted as paid). Paying it
    /// again at the same `paid_at` is a no-op.
    #[error("org {org}: expense {entry} is already paid")]
    AlreadyPaid {
        /// The org of the payment.
        org: OrgId,
        /// The expense already paid.
        entry: EntryId,
    },
    /// [`crate::Db::create_index`] with a name already in use.
    #[error("index {0} already exists")]
    IndexExists(String),
    /// [`crate::Db::drop_index`] of a name no index has.
    #[error("index {0} does not exist")]
    UnknownIndex(String),
    /// [`crate::Db::create_index`] with a definition its table does not allow (see
    /// [`crate::IndexDef`]: name, columns, limits), or while another index is being built.
    #[error("invalid index definition: {0}")]
    InvalidIndex(String),
    /// An entry, reversal or payment with entry id 0, which is reserved (it means "none" on disk).
    #[error("org {org}: entry id 0 is reserved")]
    ZeroEntryId {
        /// The org of the operation.
        org: OrgId,
    },
    /// A batch with more than [`crate::limits::MAX_BATCH_OPS`] operations; holds the batch's
    /// operation count.
    #[error("batch has {0} operations, over the limit of {limit}", limit = crate::limits::MAX_BATCH_OPS)]
    BatchTooLarge(usize),
}

impl Rejection {
    /// The entry the rejection is about, when it names one.
    pub fn entry(&self) -> Option<EntryId> {
        match self {
            Rejection::NonPositiveAmount { entry, .. }
            | Rejection::TimestampOutOfRange { entry, .. }
            | Rejection::DuplicateConflict { entry, .. }
            | Rejection::TextTooLong { entry, .. }
            | Rejection::CategoryMismatch { entry, .. }
            | Rejection::BadStatus { entry, .. }
            | Rejection::UnknownEntry { entry, .. }
            | Rejection::AlreadyReversed { entry, .. }
            | Rejection::ReversalOfReversal { entry, .. }
            | Rejection::NotAnExpense { entry, .. }
            | Rejection::AlreadyPaid { entry, .. } => Some(*entry),
            _ => None,
        }
    }

    /// The org the rejection is about, when it names one.
    pub fn org(&self) -> Option<OrgId> {
        match self {
            Rejection::UnknownOrg(org) | Rejection::OrgConflict(org) => Some(*org),
            Rejection::InvalidOrg { org, .. }
            | Rejection::UnknownCurrency { org, .. }
            | Rejection::NonPositiveAmount { org, .. }
            | Rejection::Overflow { org }
            | Rejection::TimestampOutOfRange { org, .. }
            | Rejection::DuplicateConflict { org, .. }
            | Rejection::TextTooLong { org, .. }
            | Rejection::CategoryMismatch { org, .. }
            | Rejection::BadStatus { org, .. }
            | Rejection::UnknownEntry { org, .. }
            | Rejection::AlreadyReversed { org, .. }
            | Rejection::ReversalOfReversal { org, .. }
            | Rejection::NotAnExpense { org, .. }
            | Rejection::AlreadyPaid { org, .. }
            | Rejection::ZeroEntryId { org } => Some(*org),
            Rejection::BatchTooLarge(_)
            | Rejection::IndexExists(_)
            | Rejection::UnknownIndex(_)
            | Rejection::InvalidIndex(_) => None,
        }
    }
}

/// Why a replica refused a checkpoint, a log or a request. The replica's data is unchanged.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReplicaError {
    /// A log file of another database: its segment header carries another database id than the
    /// replica's.
    #[error("{}: log of database {found:#x}, this replica follows {expected:#x}", file.display())]
    ForeignLog {
        /// The file whose header names the other database.
        file: PathBuf,
        /// The id of the database this replica follows.
        expected: u64,
        /// The id the file carries.
        found: u64,
    },
    /// The log the replica reads starts after the replica's next LSN, or shipped segments leave
    /// LSNs out: applying it would skip batches.
    #[error("{}: log resumes at LSN {found}, the replica needs {expected} next", file.display())]
    Gap {
        /// The file where the gap shows.
        file: PathBuf,
        /// The LSN the replica needs next.
        expected: Lsn,
        /// The LSN the file continues with.
        found: Lsn,
    },
    /// Two shipped segment files hold the same LSNs.
    #[error("{}: shipped segments overlap at LSN {lsn}", file.display())]
    Overlap {
        /// The segment file that overlaps an earlier one.
        file: PathBuf,
        /// The file's first LSN, which an earlier file already holds.
        lsn: Lsn,
    },
    /// The source's frame at an LSN the replica has applied is not the frame it applied (the
    /// checksum chains differ): the source is a fork, e.g. a primary restored from an older copy
    /// that went on taking writes.
    #[error("{}: frame {lsn} does not continue this replica's log (checksum chain differs)", file.display())]
    Diverged {
        /// The source file holding the frame that differs.
        file: PathBuf,
        /// The LSN whose frame differs from the replica's.
        lsn: Lsn,
    },
    /// A replica, or a read that asked for an LSN ([`crate::Consistency::AtLeast`]), is ahead of
    /// the log or primary it is compared with: the source ends before that LSN.
    #[error("LSN {asked} is ahead of the source, which ends at {source_lsn}")]
    AheadOfSource {
        /// The LSN the replica is at, or the read asked for.
        asked: Lsn,
        /// The last LSN the source has (the primary's visible LSN for a read).
        source_lsn: Lsn,
    },
    /// A write on a read-only replica directory (made by [`crate::Db::checkpoint_to`]): writes go
    /// to the primary; the replica changes only by following its log.
    #[error("{} is a read-only replica: writes go to the primary", path.display())]
    ReadOnly {
        /// The replica directory.
        path: PathBuf,
    },
    /// A checkpoint directory that fails its check ([`crate::verify_checkpoint`]: an unreadable
    /// manifest or one whose checksum fails, a listed path outside the directory or not a regular
    /// file), or a replica directory whose store cannot give back the state up to its base
    /// (unreadable, or behind the base): its own log starts after the base.
    #[error("checkpoint {}: {why}", path.display())]
    BadCheckpoint {
        /// The checkpoint or replica directory.
        path: PathBuf,
        /// What failed, in words.
        why: String,
    },
    /// No handle of a [`crate::ReadPool`] became free within
    /// [`crate::PoolOptions::acquire_timeout`]; the text says how many were in use.
    #[error("no replica or primary can serve this read: {0}")]
    NoneAvailable(String),
    /// A replica refuses reads: an apply failed part-way, so its state is no longer trusted (or,
    /// in `fault-injection` builds, reads fail on purpose). A [`crate::ReadPool`] routes reads
    /// around such a replica.
    #[error("replica {name} is not applying: {why}")]
    Failed {
        /// The replica's name.
        name: String,
        /// The error that stopped its applier.
        why: String,
    },
}

/// Every error Folio returns.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The batch (or index change) was refused by validation and changed nothing.
    #[error("batch rejected: {0}")]
    Rejected(#[from] Rejection),
    /// A replica refused frames, a checkpoint or a read and changed nothing (see
    /// [`ReplicaError`]).
    #[error("replica: {0}")]
    Replica(#[from] ReplicaError),
    /// A file's bytes are not what Folio wrote: a checksum, length, magic, LSN or checksum chain
    /// does not hold, or acknowledged log records are missing. Opening refuses such a database
    /// rather than guess (a torn tail that was never acknowledged is cut instead); see
    /// [`crate::accept_loss`] for the operator's way past it.
    #[error("corrupt file {}: at offset {offset}: {kind}", file.display())]
    Corruption {
        /// The damaged file (a log segment, the identity file, a checkpoint file).
        file: PathBuf,
        /// Byte offset of the damage in `file` (of the frame or header that fails).
        offset: u64,
        /// What is wrong.
        kind: CorruptionKind,
    },
    /// An operating-system I/O error (open, read, write, fsync, rename, lock) on a path.
    #[error("I/O error on {}: {source}", path.display())]
    Io {
        /// The file or directory the operation was on.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// A log write or fsync failed (or the committer panicked): what is on disk is no longer
    /// known to match what was acknowledged, so every later write is refused until the database
    /// is reopened, which recovers from the log. Reads still answer. Holds the reason.
    #[error("database is poisoned after a failed write or fsync ({0}); reopen it")]
    Poisoned(String),
    /// A file of another on-disk format version (the identity file, a replica's base or a
    /// checkpoint manifest).
    #[error("database {} has format version {found}; this build reads version {supported}", path.display())]
    FormatVersion {
        /// The file with the other version.
        path: PathBuf,
        /// The version the file has.
        found: u32,
        /// The version this build reads and writes.
        supported: u32,
    },
    /// The directory has no identity file ([`crate::META_FILE`]): it is not a Folio database, and
    /// either creating one was not allowed ([`crate::Options::create_if_missing`] off, or a
    /// read-only open) or the directory holds files of something else.
    #[error("{} is not a Folio database (missing {})", path.display(), crate::format::META_FILE)]
    NotADatabase {
        /// The directory opened.
        path: PathBuf,
    },
    /// The target of a new database copy exists: a [`crate::Db::checkpoint_to`] directory that is
    /// not empty, a [`crate::seed_from_checkpoint`] target, or a file in an
    /// [`crate::accept_loss`] side directory.
    #[error("database {} already exists", path.display())]
    AlreadyExists {
        /// The path that exists.
        path: PathBuf,
    },
    /// Another process holds the database's lock against this open (a writer, or readers when
    /// opening to write) and did not let go within [`crate::limits::LOCK_WAIT`]; or the store's
    /// own (sled) lock stayed held for [`crate::limits::STORE_LOCK_WAIT`].
    #[error("database {} is locked by another process", path.display())]
    Locked {
        /// The database directory.
        path: PathBuf,
    },
    /// A write (or anything that would change the files) on a database opened read-only.
    #[error("database {} is open read-only", path.display())]
    ReadOnly {
        /// The database directory.
        path: PathBuf,
    },
    /// A read of an org that is not registered.
    #[error("org {0} is not registered")]
    UnknownOrg(OrgId),
    /// An argument the call cannot take or answer exactly: an inverted or empty range, a range
    /// or limit out of bounds, a malformed cursor, a total that would overflow `i64`, a side
    /// directory inside the database. The text says which.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// A day, month or timestamp (or a year or month number building one) outside what the
    /// calendar types represent: days 0001-01-01..=9999-12-31 (day numbers, days since
    /// 1970-01-01, `-719162..=2932896`), months 0001-01..=9999-12 (indexes
    /// `year * 12 + month - 1`, `12..=119999`) and the timestamps of those days. The message
    /// shows days and months as dates (`day 0000-12-31 is outside the supported range
    /// 0001-01-01..=9999-12-31`), never as raw numbers.
    #[error("{}", crate::model::out_of_range_text(what, *value, *min, *max))]
    OutOfRange {
        /// `day number`, `month index`, `month number`, `year` or `timestamp`.
        what: &'static str,
        /// The value refused.
        value: i64,
        /// The smallest value accepted (inclusive).
        min: i64,
        /// The largest value accepted (inclusive).
        max: i64,
    },
    /// A paging cursor used with a query other than the one that produced it.
    #[error("the cursor belongs to another query (its table, org, range, filters or order differ): start again from the first page")]
    CursorMismatch,
    /// The materialized store (sled) failed to open, read or write, or holds an impossible
    /// checkpoint LSN; the text names the store's path and sled's message. Opening rebuilds an
    /// unreadable store from the log rather than return this.
    #[error("materialized store (sled) failed: {0}")]
    Store(String),
    /// The database was closed (or its committer stopped) before the call was answered.
    #[error("database is closed")]
    Closed,
    /// The operating system refused to start a thread (a replica's applier, a pool's health
    /// checker).
    #[error("cannot start thread {name}: {source}")]
    Thread {
        /// The thread's name (`folio-replica-NAME`, `folio-pool-health`, …).
        name: String,
        /// Why the operating system refused it.
        source: std::io::Error,
    },
}

impl Error {
    /// An [`Error::Io`] on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Error {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// An [`Error::Corruption`] of `file` at byte `offset`.
    pub fn corruption(file: impl Into<PathBuf>, offset: u64, kind: CorruptionKind) -> Error {
        Error::Corruption {
            file: file.into(),
            offset,
            kind,
        }
    }

    /// The rejection, if this error rejected a batch.
    pub fn rejection(&self) -> Option<&Rejection> {
        match self {
            Error::Rejected(r) => Some(r),
            _ => None,
        }
    }
}

/// A `Result` whose error defaults to Folio's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a batch in flight failed, with the operation at fault (see [`crate::Ticket::wait_op`]).
#[derive(Debug, thiserror::Error)]
#[error("{error}")]
pub struct BatchError {
    /// What [`crate::Db::record`] would return.
    pub error: Error,
    /// Position in `Batch::ops` of the operation validation rejected; `None` when the error is
    /// not about one operation (a batch too large, an I/O error, a closed database).
    pub op_index: Option<usize>,
}

impl From<Error> for BatchError {
    fn from(error: Error) -> BatchError {
        BatchError {
            error,
            op_index: None,
        }
    }
}
