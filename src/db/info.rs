//! What a database holds, for `folio info`: orgs, ledger partitions with rows and bytes, the
//! log's size, the visible LSN, the declared indexes and what opening found.

use super::{Db, RecoveryReport};
use crate::error::Result;
use crate::model::{Kind, Lsn, Month};
use crate::state::index::IndexDef;
use crate::state::ledger::Row;
use std::path::PathBuf;

/// Bytes a ledger row takes in memory beside its reference text: the row and its
/// (occurred_at, entry id) key.
const ROW_BYTES: u64 = (std::mem::size_of::<Row>() + std::mem::size_of::<(i64, u64)>()) as u64;

/// One ledger partition: a table and a UTC month.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartitionInfo {
    /// Revenue (`revenues`) or expense (`expenses`).
    pub table: Kind,
    /// The UTC calendar month of the entries' `occurred_at`.
    pub month: Month,
    /// Orgs with rows in the partition.
    pub orgs: u64,
    /// Rows: postings and reversals.
    pub rows: u64,
    /// Estimate of the rows' in-memory bytes: a fixed size per row plus reference texts (of a
    /// frozen month, its overlay's rows only: the file's are read from its memory map).
    pub bytes: u64,
    /// The version of the month's frozen file in force; `None` when the month is open.
    pub frozen: Option<u32>,
}

/// The log directory.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LogInfo {
    /// Segment files in the log directory.
    pub segments: u64,
    /// Bytes of every segment file.
    pub bytes: u64,
}

/// What a database holds, read from one snapshot (see [`Db::info`]).
#[derive(Clone, Debug)]
pub struct DbInfo {
    /// The database directory.
    pub path: PathBuf,
    /// The database's id, random at creation (every log segment header carries it).
    pub db_id: u64,
    /// Balance shards (fixed at creation).
    pub shards: u32,
    /// The visible LSN the figures describe.
    pub lsn: Lsn,
    /// Registered orgs.
    pub orgs: u64,
    /// Ledger entries (postings and reversals) of every partition.
    pub entries: u64,
    /// Every ledger partition, by table then month.
    pub partitions: Vec<PartitionInfo>,
    /// The log's segments and bytes, listed after the snapshot.
    pub log: LogInfo,
    /// The declared secondary indexes.
    pub indexes: Vec<IndexDef>,
    /// What the last opening of this handle found and did.
    pub recovery: RecoveryReport,
    /// What recovery cut, rebuilt or an operator accepted to lose, in this and earlier opens.
    pub recovery_history: Vec<String>,
}

impl Db {
    /// What the database holds: orgs, ledger partitions (rows, estimated bytes), log size, the
    /// visible LSN, the declared indexes and the recovery report of the open. The state figures
    /// come from one snapshot; the log is listed after it, so it may hold a few frames more.
    ///
    /// # Errors
    /// [`crate::Error::Io`] when the log directory cannot be listed or a segment cannot be read;
    /// [`crate::Error::Corruption`] when a part of a frozen month's file fails its check.
    pub fn info(&self) -> Result<DbInfo> {
        let snapshot = self.snapshot();
        let state = &*snapshot.complete()?;
        let mut partitions: Vec<PartitionInfo> = Vec::new();
        for pid in state.partitions_with_rows()? {
            let mut info = PartitionInfo {
                table: pid.kind,
                month: pid.month,
                orgs: 0,
                rows: 0,
                bytes: 0,
                frozen: state.frozen_version(pid.month),
            };
            if let Some(bucket) = state.ledgers.get(&pid) {
                info.orgs = bucket.orgs.len() as u64;
                for ledger in bucket.orgs.values() {
                    let rows = ledger.rows.len() as u64;
                    let text: u64 = ledger
                        .rows
                        .iter()
                        .map(|(_, row)| row.reference.len() as u64)
                        .sum();
                    info.rows += rows;
                    info.bytes += rows * ROW_BYTES + text;
                }
            }
            if info.frozen.is_some() {
                let orgs = state.partition_orgs(pid)?;
                info.orgs = orgs.len() as u64;
                info.rows = 0;
                for org in orgs {
                    info.rows += state.org_row_count(pid, org)?;
                }
            }
            partitions.push(info);
        }
        let wal = self.shared.path.join(crate::format::WAL_DIR);
        let mut log = LogInfo::default();
        for (_, segment) in crate::wal::recovery::list_segments(&*self.shared.vfs, &wal)? {
            let mapped = self
                .shared
                .vfs
                .map(&segment)
                .map_err(|e| crate::Error::io(&segment, e))?;
            log.segments += 1;
            log.bytes += mapped.len() as u64;
        }
        Ok(DbInfo {
            path: self.shared.path.clone(),
            db_id: self.shared.db_id,
            shards: state.shards,
            lsn: state.lsn,
            orgs: state.orgs.len() as u64,
            entries: partitions.iter().map(|p| p.rows).sum(),
            partitions,
            log,
            indexes: state.catalog.defs.clone(),
            recovery: self.recovery().clone(),
            recovery_history: self.recovery_history(),
        })
    }
}
