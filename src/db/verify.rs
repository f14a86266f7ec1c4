//! `Db::verify`: the state's invariants, every log frame's checksum and chain, every store value's
//! checksum.

use super::Db;
use crate::model::Lsn;
use crate::query::Snapshot;
use crate::format::WAL_DIR;
use crate::wal::{recover, Expect};

/// What `Db::verify` looked at and found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VerifyReport {
    /// The LSN of the state checked.
    pub lsn: Lsn,
    /// Registered orgs.
    pub orgs: u64,
    /// Ledger rows (postings and reversals) checked.
    pub entries: u64,
    /// Day rows of the balance shards checked against the entries.
    pub balance_rows: u64,
    /// Entries of every index part checked against their predicates and rows.
    pub index_entries: u64,
    /// Log frames read and checked (0 when only a snapshot was checked).
    pub log_frames: u64,
    /// One line per mismatch or damaged byte range, naming what and where.
    pub problems: Vec<String>,
    /// What recovery cut or an operator accepted to lose, now and in earlier opens (from the
    /// database's `recovery.log`): not problems, but worth knowing.
    pub notes: Vec<String>,
}

impl VerifyReport {
    /// Whether nothing was found wrong (notes aside).
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }
}

impl Snapshot {
    /// Checks the invariants of this snapshot's state: balances against entries, roll-ups, every
    /// index against its predicate. Runs on the snapshot, so writers go on meanwhile; the log and
    /// the store are checked by [`Db::verify`].
    pub fn verify(&self) -> VerifyReport {
        let state = match self.complete() {
            Ok(state) => state,
            Err(e) => {
                return VerifyReport {
                    lsn: self.state().lsn,
                    problems: vec![e.to_string()],
                    ..VerifyReport::default()
                }
            }
        };
        let check = state.verify(None);
        VerifyReport {
            lsn: state.lsn,
            orgs: check.orgs,
            entries: check.entries,
            balance_rows: check.balance_rows,
            index_entries: check.index_entries,
            problems: check.problems,
            ..VerifyReport::default()
        }
    }
}

impl Db {
    /// Checks everything: balances against entries, roll-ups, every index against its predicate,
    /// the log's checksums and LSN chain, and the store's value checksums. The state checks run on
    /// a snapshot and a copy of the committer's entry map, both taken under the read lock: group
    /// commits wait for the copy (one pass over the entry ids), not for the checks (two passes
    /// over all rows). Reads the log and the store without locks.
    pub fn verify(&self) -> VerifyReport {
        let mut report = VerifyReport::default();
        if let Err(e) = self.shared.ensure(crate::query::Scope::All) {
            report.lsn = self.visible_lsn();
            report.problems.push(e.to_string());
            return report;
        }
        {
            let (state, entries) = {
                let current = self.shared.state.read();
                (current.state.clone(), current.applier.entries.settled())
            };
            let mut check = state.verify(Some(&entries));
            // Every frozen file whole: each checksum, and how its parts agree (the state's
            // checks above compared its rows with the balances).
            for (month, frozen) in state.frozen.months() {
                match frozen.file.verify() {
                    Ok(v) if v.rows == frozen.entry.rows && v.orgs == frozen.entry.orgs => {}
                    Ok(v) => check.problems.push(format!(
                        "frozen {month}: {} rows of {} orgs where the frozen set says {} of {}",
                        v.rows, v.orgs, frozen.entry.rows, frozen.entry.orgs
                    )),
                    Err(e) => check.problems.push(format!("frozen {month}: {e}")),
                }
            }
            report.lsn = state.lsn;
            report.orgs = check.orgs;
            report.entries = check.entries;
            report.balance_rows = check.balance_rows;
            report.index_entries = check.index_entries;
            report.problems = check.problems;
        }
        let shared = &self.shared;
        let wal_dir = shared.path.join(WAL_DIR);
        let start = shared.replica_of.map_or(1, |b| b.saturating_add(1));
        let expect = Expect {
            start_lsn: start,
            start_crc: 0,
            from_lsn: start,
            durable_lsn: self.recovery.checkpoint_lsn.0,
            hint: None,
        };
        match recover(&*shared.vfs, &wal_dir, shared.db_id, expect, |_| Ok(())) {
            Ok(tail) => {
                report.log_frames = tail.frames_replayed;
                let log_end = tail.end.next_lsn - 1;
                if shared.replica_of.is_none() && log_end < report.lsn.0 {
                    report.problems.push(format!(
                        "log: ends at LSN {log_end} but the state is at LSN {}",
                        report.lsn
                    ));
                }
                // Beside a writer the log may end in the frame it was appending.
                let torn = match self.recovery.beside_writer {
                    true => &[][..],
                    false => &tail.torn[..],
                };
                for torn in torn {
                    report.notes.push(format!(
                        "log: torn tail, never acknowledged, left by a read-only open: {torn}"
                    ));
                }
            }
            Err(e) => report.problems.push(format!("log: {e}")),
        }
        if let Some(warning) = self.recovery.warning() {
            report.notes.push(warning);
        }
        report.notes.extend(self.recovery_history());
        // No checkpoint may write while the store is read back: sled has no snapshots, and a
        // half-seen checkpoint would look inconsistent.
        let _no_checkpoint = shared.checkpoint_lock.lock();
        // The frozen files its state maps: a writer in another process may have removed those
        // its own checkpoints no longer name.
        let files = shared.state.read().state.frozen.clone();
        if let Err(e) = shared.with_store(|store| {
            let (vfs, path) = (&*shared.vfs, &shared.path);
            store.load_with(vfs, path, shared.db_id, shared.shards, &files)
        }) {
            report.problems.push(format!("store: {e}"));
        }
        report
    }
}
