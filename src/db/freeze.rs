//! The freezer: months older than the horizon become immutable frozen files, and their rows
//! leave memory (`state::frozen_set`).
//!
//! Freezing one month never stops writers: the file is written from a snapshot (a clone of the
//! state, free), then under the write lock it is put in force; what writes added to the month
//! meanwhile stays in memory as the new version's overlay, patches and day rows
//! (`state::frozen_install`). So even the month that takes the writes can be frozen, which is
//! how it spills when memory runs short. A checkpoint then records the new frozen set, which is
//! what makes the freeze durable: until it lands, a crash reopens the month from the store as it
//! was (the file is then an orphan, removed). An explicit freeze checkpoints at once; the
//! background freezer once one is due ([`Settle`]), not after every step.

use super::{Db, Shared};
use crate::error::{Error, Result};
use crate::frozen::from_state::{freeze_month_with, Reuse};
use crate::frozen::{FileId, FrozenFile};
use crate::format::FROZEN_DIR;
use crate::model::Month;
use crate::state::frozen_install::FreezeBase;
use crate::state::frozen_set::FrozenMonth;
use crate::state::State;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// One month a freeze put in force.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FrozenMonthReport {
    /// The UTC month.
    pub month: Month,
    /// The file's version (1 for a first freeze; a re-freeze folds the overlay in).
    pub version: u32,
    /// Ledger rows the file holds.
    pub rows: u64,
    /// Orgs the file holds.
    pub orgs: u64,
    /// The file's size in bytes.
    pub bytes: u64,
    /// Rows that left memory (the month's open rows, or its overlay on a re-freeze).
    pub rows_released: u64,
    /// Rows that writes added to the month while its file was written: they stay in memory, as
    /// the new version's overlay.
    pub rows_kept: u64,
    /// Patches of earlier versions' rows folded into the file.
    pub patches_folded: u64,
    /// Org blocks copied unchanged from the version before (nothing changed them since it was
    /// written); the file's other orgs were built from their rows.
    pub blocks_copied: u64,
}

/// What putting frozen files in force has cost writers and readers so far in this process
/// ([`Db::freezer_stats`]): each install holds the state's write lock, which writers and
/// readers (to pin a snapshot) wait for; and under the memory budget writers may wait for a
/// spill before their batch is queued.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FreezerStats {
    /// Files put in force (first freezes, re-freezes and spills).
    pub installs: u64,
    /// The longest an install held the write lock (at once: its entry ids leave the applier's
    /// map afterwards in holds of their own, counted here too).
    pub lock_held_max: std::time::Duration,
    /// The total time installs held it (with the holds that remove their entry ids).
    pub lock_held_total: std::time::Duration,
    /// Batches that waited for the freezer before they were queued (writer backpressure: the
    /// engine over its memory budget with more rows in memory than the freezer lets gather).
    pub writer_waits: u64,
    /// How long those batches waited in all.
    pub writers_waited: std::time::Duration,
    /// Batches delayed before they were queued (writers paced: the engine over its memory
    /// budget with rows in memory on their way to the level where writers wait).
    pub writer_paces: u64,
    /// How long those batches were delayed in all.
    pub writers_paced: std::time::Duration,
    /// Org blocks of those files built from the orgs' rows.
    pub blocks_built: u64,
    /// Org blocks of those files copied unchanged from the version before
    /// (`frozen::from_state::Reuse`).
    pub blocks_copied: u64,
}

impl FreezerStats {
    fn note(&mut self, held: std::time::Duration) {
        self.installs += 1;
        self.note_hold(held);
    }

    /// A hold of the write lock that is part of an install's work (removing its entry ids).
    fn note_hold(&mut self, held: std::time::Duration) {
        self.lock_held_max = self.lock_held_max.max(held);
        self.lock_held_total += held;
    }
}

/// How many of an install's entry ids leave the applier's map per hold of the write lock
/// (a few milliseconds with a million orgs' maps out of cache).
pub const SETTLE_IDS: usize = 16_384;

/// What [`Db::freeze`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FreezeReport {
    /// The months it froze, in month order.
    pub frozen: Vec<FrozenMonthReport>,
    /// Months it left open because writes kept changing them, with the reason.
    pub skipped: Vec<(Month, String)>,
}

/// How much of one month of `state` a freeze would write anew: for an open month its rows (at
/// least 1 when it has any), for a frozen one its overlay rows plus patches.
fn unfrozen(state: &State, month: Month) -> u64 {
    match state.is_frozen(month) {
        true => state.memory_rows(month) + state.patch_count(month),
        false => state.memory_rows(month),
    }
}

/// Months the background freezer takes per step.
pub const STEP_MONTHS: usize = 4;

/// When a freeze makes the files it put in force durable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Settle {
    /// At once: a checkpoint, then `frozen/` aligned ([`Db::freeze`], [`Db::freeze_step`]).
    Now,
    /// The background freezer: once [`crate::limits::FROZEN_SETTLE_AFTER`] has passed since
    /// the last checkpoint or [`crate::limits::FROZEN_SETTLE_KEYS`] values wait for one (files
    /// put in force wait for the next step that finds it so, or the close).
    WhenDue,
}

/// The background freezer writes a frozen month again once its overlay and patches reach this
/// many and an eighth of its file's rows ([`REFREEZE_FRACTION`]); an explicit [`Db::freeze`]
/// folds any.
pub const REFREEZE_AT: u64 = 4096;

/// The background freezer re-freezes a month once its overlay and patches are at least this
/// fraction of its file's rows (and [`REFREEZE_AT`]).
pub const REFREEZE_FRACTION: u64 = 8;

/// The default horizon: every month before the previous calendar month, relative to the month
/// of the newest row (open or frozen). `None` without rows.
pub fn default_horizon(state: &State) -> Option<Month> {
    let newest = state
        .ledgers
        .iter()
        .filter(|(_, b)| b.orgs.values().any(|l| !l.rows.is_empty()))
        .map(|(pid, _)| pid.month)
        .chain(state.frozen.months().keys().copied())
        .max()?;
    newest.prev()
}

/// The horizon of the background freezer: [`default_horizon`], or, while the engine's account
/// is over its memory budget, the month of the newest row (so the previous calendar month is
/// frozen too; the newest month itself spills by [`spill_due`]). `None` without rows.
pub fn background_horizon(state: &State, over_budget: bool) -> Option<Month> {
    let horizon = default_horizon(state)?;
    match over_budget {
        true => horizon.next().or(Some(horizon)),
        false => Some(horizon),
    }
}

/// Bytes a row in memory is taken to cost when sizing [`spill_rows`] (a ledger row with its
/// reference, entry id, index entries and share of its day row).
pub const SPILL_ROW_BYTES: u64 = 256;

/// How many rows of the newest month the background freezer lets gather in memory while the
/// engine is over its budget before it writes them out ([`spill_due`]): an eighth of the budget
/// at [`SPILL_ROW_BYTES`] a row, at least [`REFREEZE_AT`].
pub fn spill_rows(budget: u64) -> u64 {
    (budget / 8 / SPILL_ROW_BYTES).max(REFREEZE_AT)
}

/// The newest month of `state`, when the background freezer should spill it: the engine is
/// over its budget and the month holds at least `spill_rows` rows in memory (all its rows while
/// open; its overlay and patches once frozen). Spilling freezes the month while it takes the
/// writes: its rows go to a frozen file, later ones gather as its overlay and the next spill
/// folds them into a new version; reads merge file and overlay as for any frozen month.
pub fn spill_due(state: &State, spill_rows: u64) -> Option<Month> {
    let newest = default_horizon(state)?.next()?;
    (unfrozen(state, newest) >= spill_rows.max(1)).then_some(newest)
}

/// How long the background freezer waits before it takes the engine's account again (a walk
/// over the state) to decide whether it is over its budget: 25 times what the last walk took,
/// so the walks cost at most 4% of a core, between a quarter of a second (a small database is
/// checked often, so a fast ingest is noticed early) and 5 seconds.
pub fn budget_check_after(walk: std::time::Duration) -> std::time::Duration {
    (walk * 25).clamp(
        std::time::Duration::from_millis(250),
        std::time::Duration::from_secs(5),
    )
}

/// How often the background freezer looks for work while the engine is over its budget (else
/// every second): the month that takes the writes spills soon after it gathers its share.
pub const PRESSURE_POLL: std::time::Duration = std::time::Duration::from_millis(250);

/// The months of `state` before `before` with something to freeze, in order: open months with
/// rows, frozen months whose overlay and patches number at least `refreeze_at`, and frozen
/// months whose index parts were built for another catalog (an index was created or dropped
/// since: re-frozen, their files' parts serve the indexes ready now; not while one is built).
pub fn months_to_freeze(state: &State, before: Month, refreeze_at: u64) -> Vec<Month> {
    let mut months = months_in_memory(state);
    let fingerprint = state.catalog.fingerprint();
    let building = state.catalog.building.is_some();
    months.extend(
        state
            .frozen
            .months()
            .iter()
            .filter(|(_, f)| !building && f.file.index_fingerprint() != fingerprint)
            .map(|(month, _)| *month),
    );
    months.sort_unstable();
    months.dedup();
    months.retain(|m| *m < before);
    months.retain(|m| {
        let pending = unfrozen(state, *m);
        match state.frozen.get(*m) {
            Some(f) if !building && f.file.index_fingerprint() != fingerprint => true,
            // A re-freeze rewrites the whole file: in the background, only once what it folds is
            // an eighth of the file too, so a late row is rewritten a bounded number of times.
            Some(f) if refreeze_at > 1 => {
                pending >= refreeze_at.max(f.entry.rows / REFREEZE_FRACTION)
            }
            Some(_) => pending >= 1,
            None => pending > 0,
        }
    });
    months
}

/// The months with ledger rows or patches in memory, in order, each once.
fn months_in_memory(state: &State) -> Vec<Month> {
    let mut months: Vec<Month> = state
        .ledgers
        .keys()
        .map(|pid| pid.month)
        .chain(state.patches.keys().map(|(month, _)| *month))
        .collect();
    months.sort_unstable();
    months.dedup();
    months
}

/// The `count` months of `state` with the most rows in memory and patches (open or frozen,
/// the newest included), in month order.
pub fn heaviest_months(state: &State, count: usize) -> Vec<Month> {
    let mut weighed: Vec<(u64, Month)> = months_in_memory(state)
        .into_iter()
        .map(|m| (unfrozen(state, m), m))
        .filter(|(rows, _)| *rows > 0)
        .collect();
    weighed.sort_unstable_by(|a, b| b.cmp(a));
    let mut months: Vec<Month> = weighed.into_iter().take(count).map(|(_, m)| m).collect();
    months.sort_unstable();
    months
}

impl Db {
    /// Freezes every month before `before` (default: before the previous calendar month of the
    /// newest row) that has open rows, or an overlay or patches when frozen already: writes its
    /// frozen file, puts it in force (its rows leave memory; reads answer from the file) and
    /// checkpoints, which makes the new frozen set durable. Writers are never stopped; a month
    /// they keep changing is skipped (see [`FreezeReport::skipped`]).
    ///
    /// # Errors
    /// [`Error::ReadOnly`] / [`Error::Replica`] as for [`Db::record`]; [`Error::Io`] when a file
    /// cannot be written; [`Error::Corruption`] when a frozen file read for a re-freeze fails its
    /// check; what [`Db::checkpoint`] returns.
    pub fn freeze(&self, before: Option<Month>) -> Result<FreezeReport> {
        self.refuse_if_replica()?;
        self.shared.freeze(before)
    }

    /// One step of the background freezer ([`crate::Options::auto_freeze`]), run now: up to four
    /// months before its horizon (the default one, or the newest month while the engine's
    /// account is over [`crate::Options::memory_budget`]), frozen months re-frozen once their
    /// overlay and patches reach 4,096 and an eighth of their file's rows. When files were
    /// put in force (by it, or by the background freezer and not yet durable), ends with a
    /// checkpoint that makes them durable, as [`Db::freeze`] does; the background freezer defers
    /// that until one is due.
    ///
    /// # Errors
    /// As [`Db::freeze`].
    pub fn freeze_step(&self) -> Result<FreezeReport> {
        self.refuse_if_replica()?;
        let over = self.memory().over_budget();
        self.shared.freeze_step(over, Settle::Now)
    }

    /// How long putting frozen files in force has held the write lock, and how long writers
    /// waited for the freezer to spill (writer backpressure), over this process's use of this
    /// database (the background freezer's freezes included).
    pub fn freezer_stats(&self) -> FreezerStats {
        *self.shared.freezer_stats.lock()
    }
}

impl Shared {
    /// A background freezer step with the budget's verdict `over_budget`: the months before its
    /// horizon, then, over the budget, the newest month when [`spill_due`].
    pub(super) fn freeze_step(&self, over_budget: bool, settle: Settle) -> Result<FreezeReport> {
        // A month's file holds every org's rows.
        self.ensure(crate::query::Scope::All)?;
        let _one_at_a_time = self.freeze_lock.lock();
        let months = {
            let state = &self.state.read().state;
            let Some(before) = background_horizon(state, over_budget) else {
                self.pressure.set_backlog(false);
                return Ok(FreezeReport::default());
            };
            let mut months = months_to_freeze(state, before, REFREEZE_AT);
            // Writers are paced while more whole months wait than this step takes (`pressure`).
            self.pressure.set_backlog(months.len() > STEP_MONTHS);
            if over_budget && self.pressure.pressed() {
                // Writers wait for rows to leave memory: the months holding the most go first,
                // however few each holds (overlays under the re-freeze threshold included).
                heaviest_months(state, STEP_MONTHS)
            } else {
                months.truncate(STEP_MONTHS);
                if over_budget {
                    months.extend(spill_due(state, spill_rows(self.memory_budget)));
                }
                months
            }
        };
        self.freeze_months(months, settle)
    }

    /// [`Db::freeze`]: every month before `before` with something to fold.
    pub(super) fn freeze(&self, before: Option<Month>) -> Result<FreezeReport> {
        self.ensure(crate::query::Scope::All)?;
        let _one_at_a_time = self.freeze_lock.lock();
        let months = {
            let state = &self.state.read().state;
            match before.or_else(|| default_horizon(state)) {
                Some(limit) => months_to_freeze(state, limit, 1),
                None => Vec::new(),
            }
        };
        self.freeze_months(months, Settle::Now)
    }

    /// Freezes `months` (the caller holds the freeze lock), then, as `settle` says, makes every
    /// file put in force so far durable ([`Shared::settle_frozen`]).
    fn freeze_months(&self, months: Vec<Month>, settle: Settle) -> Result<FreezeReport> {
        let mut report = FreezeReport::default();
        for month in months {
            match self.freeze_one(month)? {
                Ok(done) => {
                    report.frozen.push(done);
                    self.frozen_unsettled.store(true, Ordering::Release);
                }
                Err(why) => report.skipped.push((month, why)),
            }
        }
        let due = match settle {
            Settle::Now => true,
            Settle::WhenDue => {
                self.last_checkpoint.lock().elapsed() >= crate::limits::FROZEN_SETTLE_AFTER
                    || self.state.read().applier.dirty.len() >= crate::limits::FROZEN_SETTLE_KEYS
            }
        };
        if due && self.frozen_unsettled.load(Ordering::Acquire) {
            self.settle_frozen()?;
        }
        Ok(report)
    }

    /// A checkpoint, which makes the frozen set in force durable; then, when freezes put files
    /// in force since the last settle, `frozen/MANIFEST` lists the set and the versions it
    /// replaced are removed (snapshots still mapping one keep it). The caller holds the freeze
    /// lock, so the set checkpointed is the set aligned.
    pub(super) fn settle_frozen(&self) -> Result<()> {
        self.checkpoint()?;
        if self.frozen_unsettled.load(Ordering::Acquire) {
            let entries: Vec<crate::frozen::ManifestEntry> = self
                .state
                .read()
                .state
                .frozen
                .months()
                .values()
                .map(|f| f.entry)
                .collect();
            // Replaced versions are removed: not while a reader opens (it may map them).
            let _gate = self.hold_gate()?;
            crate::frozen::FrozenDir::align(&*self.vfs, &self.path, self.db_id, &entries)?;
            self.frozen_unsettled.store(false, Ordering::Release);
        }
        Ok(())
    }

    /// Freezes one month: writes its file from a snapshot, then puts it in force with what
    /// writes added to the month meanwhile kept in memory (`state::frozen_install`).
    /// `Ok(Err(why))` when the month's file in force changed meanwhile (never while the freeze
    /// lock is held).
    fn freeze_one(&self, month: Month) -> Result<std::result::Result<FrozenMonthReport, String>> {
        let vfs = &*self.vfs;
        let dir = self.path.join(FROZEN_DIR);
        // Snapshots of the state for the freeze hold only the month's ledger partitions
        // (`State::with_ledgers_of`): the writes meanwhile go to other months, and would each
        // copy the org's ledger if the snapshot shared theirs.
        let snapshot = Arc::new(self.state.read().state.with_ledgers_of(month));
        let version = snapshot
            .frozen
            .get(month)
            .map_or(1, |f| f.entry.version.saturating_add(1));
        let id = FileId {
            db_id: self.db_id,
            month,
            version,
        };
        // The install's work is done before the lock, against the state as it is then; under
        // it, only what changed since is redone. A first pass, against the snapshot the file is
        // written from, runs beside the file's writing (it reads the snapshot and the base
        // only); the next, against the state once the file is written, redoes only what writes
        // changed meanwhile, and the last the writes of the short window of the one before.
        let base = FreezeBase::of(&snapshot, month);
        let (written, prepared) = std::thread::scope(|scope| {
            let first = std::thread::Builder::new()
                .name("folio-freeze-prep".into())
                .spawn_scoped(scope, || snapshot.prepare_install(&base, Default::default()));
            let written = freeze_month_with(&snapshot, vfs, &dir, id, Reuse::Blocks);
            // A preparation that did not run (no thread) or failed leaves the next pass all
            // the work: it gives the same result.
            let prepared = first.ok().and_then(|t| t.join().ok()).unwrap_or_default();
            (written, prepared)
        });
        let (entry, blocks_copied) = written?;
        let path = dir.join(entry.file_name());
        let file = FrozenFile::open(vfs, &path, &crate::frozen::Expected::of(self.db_id, &entry))?;
        // The snapshot is freed before the lock (else every org's balances it shares with the
        // state and installing changes would be copied under it), beside the second pass; the
        // base holds the month's values only.
        let near = Arc::new(self.state.read().state.with_ledgers_of(month));
        let mut prepared = drop_beside(snapshot, || near.prepare_install(&base, prepared));
        drop(near);
        // The last pass also builds the balance shards as the install leaves them, from a
        // snapshot taken as the applier starts noting the orgs it writes: under the lock only
        // those are redone and the shards swapped.
        let near = {
            let mut current = self.state.write();
            current.applier.notes = Some(crate::state::OrgNotes {
                since: current.state.lsn,
                ..Default::default()
            });
            Arc::new(current.state.with_ledgers_of(month))
        };
        prepared = near.prepare_install(&base, prepared);
        near.prepare_shards(&base, &mut prepared);
        drop(near);
        let mut current = self.state.write();
        let locked = std::time::Instant::now();
        if current.state.frozen.get(month).map(|f| f.entry) != base.file() {
            current.applier.notes = None;
            drop(current);
            drop(file);
            vfs.remove_file(&path).map_err(|e| Error::io(&path, e))?;
            return Ok(Err("its frozen file changed during the freeze; left as it was".into()));
        }
        let super::Current { state, applier, .. } = &mut *current;
        let (installed, replaced) = Arc::make_mut(state).install_prepared(
            applier,
            FrozenMonth {
                entry,
                file: Arc::new(file),
            },
            base,
            prepared,
        )?;
        drop(current);
        {
            let mut stats = self.freezer_stats.lock();
            stats.note(locked.elapsed());
            stats.blocks_copied += blocks_copied;
            stats.blocks_built += entry.orgs.saturating_sub(blocks_copied);
        }
        // Freed after the lock, beside what the freezer does next: the month's rows that left
        // memory, and their maps.
        self.release(replaced);
        // Their entry ids leave the applier's map a chunk at a time, each under a short hold of
        // the write lock (until then they give the locations the file gives).
        loop {
            let mut current = self.state.write();
            let locked = std::time::Instant::now();
            let more = current.applier.entries.settle(SETTLE_IDS);
            let rows = current.applier.entries.len() as u64;
            drop(current);
            self.freezer_stats.lock().note_hold(locked.elapsed());
            self.pressure.set_rows(rows);
            if !more {
                break;
            }
        }
        Ok(Ok(FrozenMonthReport {
            month,
            version,
            rows: entry.rows,
            orgs: entry.orgs,
            bytes: entry.size,
            rows_released: installed.rows,
            rows_kept: installed.rows_kept,
            patches_folded: installed.patches,
            blocks_copied,
        }))
    }
}

/// One month of the database as [`Db::months`] lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MonthStatus {
    /// The UTC month of the rows' `occurred_at`.
    pub month: Month,
    /// The frozen file in force: its version, rows and size in bytes; `None` while open.
    pub file: Option<(u32, u64, u64)>,
    /// Rows held in memory: every row of an open month, the overlay of a frozen one.
    pub memory_rows: u64,
    /// Patches late reversals and payments made to the frozen file's rows.
    pub patches: u64,
    /// Of the frozen file, the bytes this process has checksummed so far (192 after opening:
    /// header and footer). Zero while open.
    pub file_bytes_checked: u64,
    /// Of the frozen file, the org blocks this process has checked so far.
    pub file_blocks_checked: u64,
}

impl MonthStatus {
    /// `"frozen"` or `"open"`.
    pub fn state(&self) -> &'static str {
        match self.file {
            Some(_) => "frozen",
            None => "open",
        }
    }
}

impl Db {
    /// Every month with rows, in order: open or frozen (file version, rows, bytes), rows in
    /// memory (the overlay of a frozen month) and patches.
    ///
    /// # Errors
    /// `Error::Store` when the open cannot load the orgs from its store.
    pub fn months(&self) -> Result<Vec<MonthStatus>> {
        self.shared.ensure(crate::query::Scope::All)?;
        let state = self.shared.state.read().state.clone();
        let mut months: std::collections::BTreeMap<Month, MonthStatus> = Default::default();
        let status = |month| MonthStatus {
            month,
            file: None,
            memory_rows: 0,
            patches: 0,
            file_bytes_checked: 0,
            file_blocks_checked: 0,
        };
        for (pid, bucket) in state.ledgers.iter() {
            let rows: u64 = bucket.orgs.values().map(|l| l.rows.len() as u64).sum();
            if rows > 0 {
                months.entry(pid.month).or_insert_with(|| status(pid.month)).memory_rows += rows;
            }
        }
        for (month, frozen) in state.frozen.months() {
            let e = &frozen.entry;
            let stats = frozen.file.stats();
            let m = months.entry(*month).or_insert_with(|| status(*month));
            m.file = Some((e.version, e.rows, e.size));
            m.file_bytes_checked = stats.bytes_checked;
            m.file_blocks_checked = stats.blocks_checked;
        }
        for ((month, _), set) in state.patches.iter() {
            months.entry(*month).or_insert_with(|| status(*month)).patches += set.rows.len() as u64;
        }
        Ok(months.into_values().collect())
    }
}

/// Runs `work` while another thread frees `value` (inline when no thread can start).
fn drop_beside<T: Send, R>(value: T, work: impl FnOnce() -> R) -> R {
    std::thread::scope(|scope| {
        let freeing = std::thread::Builder::new()
            .name("folio-release".into())
            .spawn_scoped(scope, move || drop(value));
        if let Err(e) = freeing {
            tracing::debug!("freeing inline: {e}");
        }
        work()
    })
}

impl Shared {
    /// Frees `value` on a thread of its own, beside what the freezer does next, once what the
    /// previous call handed over is freed (so at most one month's replaced values wait); inline
    /// when no thread can start.
    fn release<T: Send + 'static>(&self, value: T) {
        let mut releasing = self.releasing.lock();
        if let Some(before) = releasing.take() {
            let _freed = before.join();
        }
        let thread = std::thread::Builder::new()
            .name("folio-release".into())
            .spawn(move || drop(value));
        match thread {
            Ok(thread) => *releasing = Some(thread),
            Err(e) => tracing::debug!("freeing inline: {e}"),
        }
    }

    /// Waits until what [`Shared::release`] handed over is freed.
    pub(super) fn wait_released(&self) {
        if let Some(thread) = self.releasing.lock().take() {
            let _freed = thread.join();
        }
    }
}
