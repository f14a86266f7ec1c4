//! Opening loads orgs when something first needs them.
//!
//! An open reads what belongs to no org (the index catalog, the frozen months' files, the list
//! of the store's trees) and replays the log after the store's checkpoint, loading from the
//! store first the chunk of every org a replayed batch touches (an index creation in that tail
//! loads every org). Every other org's values in the store are then exactly its values at the
//! database's LSN, and stay so until it is loaded: nothing changes an org that is not loaded
//! (a checkpoint writes only what changed, and every change loads its org first).
//!
//! A read of one org (a balance, its entries, its reports, a query filtered to it) loads that
//! org's chunk of 64 ids, once; a writer's batch loads the chunks of the orgs it names before it
//! is validated. Anything that needs every org (a scan of every org, a writer's snapshot, a
//! freeze, an index change, `verify`, `info`, `months`, a replica or checkpoint made from it, a
//! shipped frame applied to a replica directory) loads the rest first, a step of 256 chunks at a
//! time, the locks given back between steps so commits and reads go on meanwhile. So a one-shot
//! `folio balance` reads one chunk of the store, and a writer opens without reading every org.
//!
//! A load that fails (a damaged value in the store) is reported to what needed it and to
//! everything later that needs an org not loaded yet (a writer poisons itself: it cannot check
//! batches); a reopen rebuilds a damaged store from the log.

use super::commit::Command;
use super::Shared;
use crate::error::{Error, Result};
use crate::model::{Op, OrgId};
use crate::query::Scope;
use crate::state::{chunk_of, Applier, State};
use crate::store::load::{Chunks, Layout};
use crate::store::Store;
use std::sync::Arc;

/// Chunks of 64 orgs a step of a whole load reads.
const STEP_CHUNKS: usize = 256;

/// The chunks of orgs loaded so far, and what loading the others needs.
pub(crate) struct Lazy {
    layout: Layout,
    /// Chunks loaded one at a time.
    loaded: rustc_hash::FxHashSet<u64>,
    /// Every chunk up to this one is loaded (the steps of a whole load so far).
    swept: Option<u64>,
    /// Why a load failed: every later load that is needed reports it.
    failed: Option<String>,
}

impl Lazy {
    pub(crate) fn new(layout: Layout) -> Lazy {
        Lazy {
            layout,
            loaded: Default::default(),
            swept: None,
            failed: None,
        }
    }

    fn is_loaded(&self, chunk: u64) -> bool {
        self.swept.is_some_and(|s| chunk <= s) || self.loaded.contains(&chunk)
    }

    /// Whether a read of `org` needs a load (or reports a failed one).
    fn needs(&self, org: OrgId) -> bool {
        self.failed.is_some() || !self.is_loaded(chunk_of(org))
    }

    fn check(&self) -> Result<()> {
        match &self.failed {
            Some(why) => Err(Error::Store(why.clone())),
            None => Ok(()),
        }
    }

    /// Loads the chunk of `org` unless it is loaded.
    fn load_org(
        &mut self,
        org: OrgId,
        store: &Store,
        state: &mut State,
        applier: &mut Applier,
    ) -> Result<()> {
        self.check()?;
        let chunk = chunk_of(org);
        if self.is_loaded(chunk) {
            return Ok(());
        }
        let chunks = Chunks::One(chunk);
        // Loaded balances are changes no entry made: an install prepared meanwhile redoes all.
        applier.notes = None;
        store
            .load_chunks(&self.layout, state, &mut applier.entries, chunks)
            .inspect_err(|e| self.failed = Some(e.to_string()))?;
        self.loaded.insert(chunk);
        Ok(())
    }

    /// One step of a whole load: the chunks up to the next [`STEP_CHUNKS`] with org records
    /// after those swept, but the ones loaded one at a time. `Ok(true)`: no chunk is left (the
    /// caller drops this `Lazy`).
    fn step(&mut self, store: &Store, state: &mut State, applier: &mut Applier) -> Result<bool> {
        self.check()?;
        let step = store.org_chunks_after(self.swept, STEP_CHUNKS).and_then(|next| {
            let Some(&last) = next.last() else {
                return Ok(true);
            };
            let chunks = Chunks::Span {
                from: self.swept.map_or(0, |s| s + 1),
                to: last + 1,
                loaded: &self.loaded,
            };
            applier.notes = None;
            store.load_chunks(&self.layout, state, &mut applier.entries, chunks)?;
            self.swept = Some(last);
            Ok(false)
        });
        step.inspect_err(|e| self.failed = Some(e.to_string()))
    }

    /// Loads every org not loaded yet (all steps at once: opening's replay).
    pub(crate) fn load_all(
        &mut self,
        store: &Store,
        state: &mut State,
        applier: &mut Applier,
    ) -> Result<()> {
        while !self.step(store, state, applier)? {}
        Ok(())
    }

    /// Before a replayed batch is applied: loads the chunk of every org it touches, or every
    /// org for an index operation. `Ok(true)`: every org is loaded now.
    pub(crate) fn before_batch(
        &mut self,
        ops: &[crate::codec::record::LogOp],
        store: &Store,
        state: &mut State,
        applier: &mut Applier,
    ) -> Result<bool> {
        use crate::codec::record::LogOp;
        for op in ops {
            let org = match op {
                LogOp::Org(r) => r.org,
                LogOp::Entry(r) => r.org,
                LogOp::Pay(r) => r.org,
                LogOp::Index(_) => {
                    self.load_all(store, state, applier)?;
                    return Ok(true);
                }
            };
            self.load_org(OrgId(org), store, state, applier)?;
        }
        Ok(false)
    }
}

/// The org an operation of a batch names.
fn org_of(op: &Op) -> OrgId {
    match op {
        Op::RegisterOrg(org) => org.id,
        Op::Post(entry) => entry.org,
        Op::Reverse(reversal) => reversal.org,
        Op::Pay(pay) => pay.org,
    }
}

impl crate::query::Loader for Shared {
    fn load(&self, scope: Scope) -> Result<Arc<State>> {
        self.ensure(scope)?;
        Ok(self.state.read().state.clone())
    }
}

impl Shared {
    /// A load failed: a writer leaves [`crate::format::STORE_DAMAGED_FILE`], so that its next
    /// open rebuilds the store from the log instead of finding the damage again.
    fn note_damage(&self, e: &Error) {
        if self.read_only {
            return;
        }
        let marker = self.path.join(crate::format::STORE_DAMAGED_FILE);
        let written = self
            .vfs
            .write_atomic(&marker, e.to_string().as_bytes())
            .and_then(|()| self.vfs.sync_dir(&self.path));
        if let Err(io) = written {
            tracing::error!(path = %marker.display(), error = %io, "cannot mark the store damaged");
        }
    }

    /// Loads what a read of `scope` needs, when the open has not loaded every org yet. Takes the
    /// loader, then the store, then the state's write lock; a whole load gives them back
    /// between its steps.
    ///
    /// # Errors
    /// `Error::Store` when the store's values cannot be read (also for every later load once
    /// one failed).
    pub(crate) fn ensure(&self, scope: Scope) -> Result<()> {
        match scope {
            Scope::Org(org) => self.ensure_orgs(std::iter::once(org)),
            Scope::All => {
                while !self.with_loader(|_| true, Lazy::step)? {}
                Ok(())
            }
        }
    }

    /// Loads the chunks of `orgs` that are not loaded yet, under one hold of the locks.
    fn ensure_orgs(&self, orgs: impl Iterator<Item = OrgId> + Clone) -> Result<()> {
        let needed = |lazy: &Lazy| orgs.clone().any(|org| lazy.needs(org));
        self.with_loader(needed, |lazy, store, state, applier| {
            for org in orgs.clone() {
                lazy.load_org(org, store, state, applier)?;
            }
            Ok(false)
        })?;
        Ok(())
    }

    /// When the open has not loaded every org and `needed` says so, runs `load` with the
    /// loader, the store and the state, locked in that order. A failure is noted as damage;
    /// `Ok(true)` from `load` (every org loaded) drops the loader. `Ok(true)`: no loader is
    /// left.
    fn with_loader(
        &self,
        needed: impl FnOnce(&Lazy) -> bool,
        load: impl FnOnce(&mut Lazy, &Store, &mut State, &mut Applier) -> Result<bool>,
    ) -> Result<bool> {
        let mut slot = self.lazy.lock();
        let Some(lazy) = slot.as_mut() else {
            return Ok(true);
        };
        if !needed(lazy) {
            return Ok(false);
        }
        let store = self.store.lock();
        let Some(store) = store.as_ref() else {
            return Err(Error::Store("the store is closed".into()));
        };
        let mut current = self.state.write();
        let super::Current { state, applier, .. } = &mut *current;
        match load(lazy, store, Arc::make_mut(state), applier) {
            Ok(done) => {
                if done {
                    *slot = None;
                }
                Ok(done)
            }
            Err(e) => {
                self.note_damage(&e);
                Err(e)
            }
        }
    }

    /// Before the committer validates a group: loads the chunk of every org its batches name,
    /// every org for an index change (shipped frames, which the committer applies apart, load
    /// every org there).
    pub(crate) fn ensure_for(&self, group: &[Command]) -> Result<()> {
        if self.lazy.lock().is_none() {
            return Ok(());
        }
        for command in group {
            match command {
                Command::Record(batch, _) => {
                    self.ensure_orgs(batch.ops.iter().map(org_of))?;
                }
                Command::Index(..) => self.ensure(Scope::All)?,
                Command::Replicate(..) => {}
                Command::Sync(_) | Command::Shutdown => {}
            }
        }
        Ok(())
    }
}
