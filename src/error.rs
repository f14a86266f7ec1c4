//! Errors a caller can act on.

use crate::model::{EntryId, OrgId};
use std::path::PathBuf;

/// What a corrupt file looked like.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CorruptionKind {
    ChecksumMismatch {
        expected: u32,
        actual: u32,
    },
    BadLength(u64),
    BadMagic,
    LsnGap {
        expected: u64,
        found: u64,
    },
    ChainBroken,
    InvalidArchive(String),
    InvalidValue(String),
    /// A log frame whose effect contradicts the state (e.g. reverses an unknown entry).
    InconsistentOp(String),
    /// Log records known to have been acknowledged are gone: the log (a segment, or the whole
    /// log directory) ends before `to`, the LSN the store's checkpoint or a replica's base shows
    /// was durable. `from > to` when nothing is known durable (a missing log directory).
    MissingLog {
        from: u64,
        to: u64,
    },
    /// A damaged frame at or below an LSN known durable: it cannot be a torn write that was never
    /// acknowledged, so it is not cut off.
    DamagedDurable {
        lsn: u64,
        durable: u64,
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
    #[error("org {0} is not registered")]
    UnknownOrg(OrgId),
    #[error("org {0} is already registered with different details")]
    OrgConflict(OrgId),
    #[error("org {org}: invalid org: {why}")]
    InvalidOrg { org: OrgId, why: String },
    #[error("org {org}: {code:?} is not an active ISO 4217 currency code")]
    UnknownCurrency { org: OrgId, code: String },
    #[error("org {org} entry {entry}: amount must be positive, got {amount}")]
    NonPositiveAmount {
        org: OrgId,
        entry: EntryId,
        amount: i64,
    },
    #[error("org {org}: running balance would overflow i64 minor units")]
    Overflow { org: OrgId },
    #[error("org {org} entry {entry}: timestamp {ts} outside the supported range 1900-01-01..9999-12-30")]
    TimestampOutOfRange { org: OrgId, entry: EntryId, ts: i64 },
    #[error("org {org} entry {entry}: already recorded with different content")]
    DuplicateConflict { org: OrgId, entry: EntryId },
    #[error("org {org} entry {entry}: {field} is {len} bytes, over the limit of {limit}")]
    TextTooLong {
        org: OrgId,
        entry: EntryId,
        field: &'static str,
        len: usize,
        limit: usize,
    },
    #[error("org {org} entry {entry}: category {category} is not a {kind} category")]
    CategoryMismatch {
        org: OrgId,
        entry: EntryId,
        category: &'static str,
        kind: &'static str,
    },
    #[error("org {org} entry {entry}: {why}")]
    BadStatus {
        org: OrgId,
        entry: EntryId,
        why: &'static str,
    },
    #[error("org {org}: entry {entry} does not exist")]
    UnknownEntry { org: OrgId, entry: EntryId },
    #[error("org {org}: entry {entry} is already reversed")]
    AlreadyReversed { org: OrgId, entry: EntryId },
    #[error("org {org}: entry {entry} is a reversal and cannot itself be reversed")]
    ReversalOfReversal { org: OrgId, entry: EntryId },
    #[error("org {org}: entry {entry} is not an expense")]
    NotAnExpense { org: OrgId, entry: EntryId },
    #[error("org {org}: expense {entry} is already paid")]
    AlreadyPaid { org: OrgId, entry: EntryId },
    #[error("index {0} already exists")]
    IndexExists(String),
    #[error("index {0} does not exist")]
    UnknownIndex(String),
    #[error("invalid index definition: {0}")]
    InvalidIndex(String),
    #[error("org {org}: entry id 0 is reserved")]
    ZeroEntryId { org: OrgId },
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
    #[error("{}: log of database {found:#x}, this replica follows {expected:#x}", file.display())]
    ForeignLog {
        file: PathBuf,
        expected: u64,
        found: u64,
    },
    #[error("{}: log resumes at LSN {found}, the replica needs {expected} next", file.display())]
    Gap {
        file: PathBuf,
        expected: u64,
        found: u64,
    },
    #[error("{}: shipped segments overlap at LSN {lsn}", file.display())]
    Overlap { file: PathBuf, lsn: u64 },
    #[error("{}: frame {lsn} does not continue this replica's log (checksum chain differs)", file.display())]
    Diverged { file: PathBuf, lsn: u64 },
    #[error("LSN {asked} is ahead of the source, which ends at {source_lsn}")]
    AheadOfSource { asked: u64, source_lsn: u64 },
    #[error("{} is a read-only replica: writes go to the primary", path.display())]
    ReadOnly { path: PathBuf },
    #[error("checkpoint {}: {why}", path.display())]
    BadCheckpoint { path: PathBuf, why: String },
    #[error("no replica or primary can serve this read: {0}")]
    NoneAvailable(String),
    #[error("replica {name} is not applying: {why}")]
    Failed { name: String, why: String },
}

/// Every error Folio returns.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("batch rejected: {0}")]
    Rejected(#[from] Rejection),
    #[error("replica: {0}")]
    Replica(#[from] ReplicaError),
    #[error("corrupt file {}: at offset {offset}: {kind}", file.display())]
    Corruption {
        file: PathBuf,
        offset: u64,
        kind: CorruptionKind,
    },
    #[error("I/O error on {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("database is poisoned after a failed write or fsync ({0}); reopen it")]
    Poisoned(String),
    #[error("database {} has format version {found}; this build reads version {supported}", path.display())]
    FormatVersion {
        path: PathBuf,
        found: u32,
        supported: u32,
    },
    #[error("{} is not a Folio database (missing {})", path.display(), crate::format::META_FILE)]
    NotADatabase { path: PathBuf },
    #[error("database {} already exists", path.display())]
    AlreadyExists { path: PathBuf },
    #[error("database {} is locked by another process", path.display())]
    Locked { path: PathBuf },
    /// A write (or anything that would change the files) on a database opened read-only.
    #[error("database {} is open read-only", path.display())]
    ReadOnly { path: PathBuf },
    #[error("org {0} is not registered")]
    UnknownOrg(OrgId),
    #[error("{}: line {line}: {why}", file.display())]
    Input {
        file: PathBuf,
        line: u64,
        why: String,
    },
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// A paging cursor used with a query other than the one that produced it.
    #[error("the cursor belongs to another query (its table, org, range, filters or order differ): start again from the first page")]
    CursorMismatch,
    #[error("materialized store (sled) failed: {0}")]
    Store(String),
    #[error("database is closed")]
    Closed,
    /// `folio compare`: another engine failed; names the engine and the step.
    #[error("{backend}: {step}: {why}")]
    Backend {
        backend: &'static str,
        step: String,
        why: String,
    },
}

impl Error {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Error {
        Error::Io {
            path: path.into(),
            source,
        }
    }

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
