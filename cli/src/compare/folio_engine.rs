//! Folio's side of `folio compare`: the library itself, default options (fsync per group commit)
//! but for the freezer and the memory budget the run asks for.

use super::{failed, BalanceRow, Engine};
use crate::bench::dir_bytes;
use crate::Result;
use folio::limits::MAX_RANGE_DAYS;
use folio::Db;
use folio::{Batch, BusinessDay, Op, OrgId};
use folio_workload::ingest::entry_of;
use folio_workload::{QueryInstance, WorkloadEvent, FIRST_DAY};
use serde_json::Value;
use std::path::{Path, PathBuf};

pub(crate) struct FolioEngine {
    db: Option<Db>,
    /// The run froze months in the background (`--freeze`): the rest are frozen before the
    /// queries.
    freeze: bool,
    path: PathBuf,
    orgs: u64,
    /// The days whose balance rows are read back: the workload's history and a month either
    /// side (nothing is dated there; a row that is would show as a disagreement).
    days: (BusinessDay, BusinessDay),
}

impl FolioEngine {
    /// A new database at `path` with the workload's orgs registered (UTC, like the SQL side's
    /// UTC days); registration is not part of any timed phase.
    pub(crate) fn create(path: &Path, run: &super::CompareOptions) -> Result<FolioEngine> {
        let params = &run.params;
        let mut options = folio::Options::default().auto_freeze(run.freeze);
        if let Some(bytes) = run.memory_budget {
            options = options.memory_budget(bytes);
        }
        let db = Db::open_with(path, options)?;
        crate::bench::register_orgs(&db, params.orgs)?;
        let first = BusinessDay::from_days(FIRST_DAY)?;
        let history = i64::try_from(params.days()).unwrap_or(i64::MAX);
        let days = (
            first.checked_add_days(-31).unwrap_or(BusinessDay::MIN),
            first
                .checked_add_days(history.saturating_add(30))
                .unwrap_or(BusinessDay::MAX),
        );
        Ok(FolioEngine {
            db: Some(db),
            freeze: run.freeze,
            path: path.to_path_buf(),
            orgs: params.orgs,
            days,
        })
    }

    fn db(&self) -> Result<&Db> {
        self.db
            .as_ref()
            .ok_or_else(|| failed("folio", "use", "database already closed"))
    }
}

fn batch_of(events: &[WorkloadEvent]) -> Batch {
    Batch::from(
        events
            .iter()
            .map(|e| Op::Post(entry_of(e)))
            .collect::<Vec<_>>(),
    )
}

impl Engine for FolioEngine {
    fn name(&self) -> &'static str {
        "folio"
    }

    fn ingest(&mut self, events: &[WorkloadEvent]) -> Result<()> {
        self.db()?.record(batch_of(events))?;
        Ok(())
    }

    fn memory_probe(&mut self) -> Option<super::memory::Probe> {
        Some(super::memory::own_process())
    }

    fn settle(&mut self) -> Result<Option<u64>> {
        if !self.freeze {
            return Ok(None);
        }
        let db = self.db()?;
        db.freeze(None)?;
        let frozen = db.months()?.iter().filter(|m| m.file.is_some()).count();
        Ok(Some(frozen as u64))
    }

    fn ingest_concurrent(
        &mut self,
        events: &[WorkloadEvent],
        writers: usize,
    ) -> Result<Option<()>> {
        let db = self.db()?;
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..writers)
                .map(|w| {
                    s.spawn(move || -> Result<()> {
                        for e in events.iter().skip(w).step_by(writers) {
                            db.record(batch_of(std::slice::from_ref(e)))?;
                        }
                        Ok(())
                    })
                })
                .collect();
            handles.into_iter().try_for_each(|h| {
                h.join()
                    .map_err(|_| failed("folio", "writer", "panicked"))?
            })
        })?;
        Ok(Some(()))
    }

    fn answer(&mut self, q: &QueryInstance) -> Result<Value> {
        Ok(folio_workload::run::answer(&self.db()?.snapshot(), q)?)
    }

    fn balances(&mut self) -> Result<Vec<BalanceRow>> {
        let db = self.db()?;
        let view = db.snapshot();
        let mut rows = Vec::new();
        let (first, last) = self.days;
        for org in 1..=self.orgs {
            // In windows of the most days one range read returns (a long history has more).
            let mut from = first;
            loop {
                let to = from
                    .checked_add_days(i64::from(MAX_RANGE_DAYS) - 1)
                    .map_or(last, |d| d.min(last));
                for b in view.balances(OrgId(org), from, to)? {
                    if b.revenue_count + b.expense_count > 0 {
                        rows.push((
                            org,
                            b.day.days(),
                            b.revenue.0,
                            b.expense.0,
                            b.revenue_count as i64,
                            b.expense_count as i64,
                        ));
                    }
                }
                match to.next() {
                    Some(next) if to < last => from = next,
                    _ => break,
                }
            }
        }
        Ok(rows)
    }

    fn disk(&mut self) -> Result<(u64, u64)> {
        // The whole directory: the log (the audit trail, kept whole) and the checkpoint store.
        self.db()?.checkpoint()?;
        Ok((dir_bytes(&self.path), 0))
    }

    fn finish(&mut self) -> Result<()> {
        if let Some(db) = self.db.take() {
            db.close()?;
        }
        Ok(())
    }
}
