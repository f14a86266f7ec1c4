//! A read-only open loads orgs when a read first needs them.
//!
//! Opening read-only reads what belongs to no org (the index catalog, the frozen months' files,
//! the list of the store's trees) and replays the log after the store's checkpoint, loading
//! from the store first the chunk of every org a replayed batch touches (an index creation in
//! that tail loads every org). Every other org's values in the store are then exactly its
//! values at the database's LSN: nothing after the checkpoint changed them. A read of one org
//! (a balance, its entries, its reports, a query filtered to it) loads that org's chunk of 64
//! ids, once; any other read (a scan of every org, a snapshot, `verify`, `info`, a replica's
//! checkpoint) loads the rest first. So a one-shot `folio balance` reads one chunk of the
//! store, not all of it, and holds one chunk's values in memory.
//!
//! A load that fails (a damaged value in the store) is reported to that read and to every
//! later one that needs an org not loaded yet; a reopen (read-write, which rebuilds a damaged
//! store from the log) repairs it.

use super::Shared;
use crate::error::{Error, Result};
use crate::query::Scope;
use crate::state::chunk_of;
use crate::store::load::{Chunks, Layout};
use crate::store::Store;
use crate::state::{Applier, State};
use std::sync::Arc;

/// The chunks of orgs loaded so far, and what loading the others needs.
pub(crate) struct Lazy {
    layout: Layout,
    loaded: rustc_hash::FxHashSet<u64>,
    /// Why a load failed: every later load that is needed reports it.
    failed: Option<String>,
}

impl Lazy {
    pub(crate) fn new(layout: Layout) -> Lazy {
        Lazy {
            layout,
            loaded: Default::default(),
            failed: None,
        }
    }

    /// Whether a read of `scope` needs a load (or reports a failed one).
    fn needs(&self, scope: Scope) -> bool {
        match scope {
            Scope::Org(org) => self.failed.is_some() || !self.loaded.contains(&chunk_of(org)),
            Scope::All => true,
        }
    }

    /// Loads what `scope` needs into `state` from `store`. `Ok(true)`: every org is loaded now
    /// (the caller drops this `Lazy`).
    pub(crate) fn load(
        &mut self,
        scope: Scope,
        store: &Store,
        state: &mut State,
        applier: &mut Applier,
    ) -> Result<bool> {
        if let Some(why) = &self.failed {
            return Err(Error::Store(why.clone()));
        }
        let loaded = match scope {
            Scope::Org(org) => {
                let chunk = chunk_of(org);
                if self.loaded.contains(&chunk) {
                    return Ok(false);
                }
                let loaded = store.load_chunks(
                    &self.layout,
                    state,
                    &mut applier.entries,
                    Chunks::One(chunk),
                );
                loaded.map(|()| {
                    self.loaded.insert(chunk);
                    false
                })
            }
            Scope::All => store
                .load_chunks(
                    &self.layout,
                    state,
                    &mut applier.entries,
                    Chunks::Except(&self.loaded),
                )
                .map(|()| true),
        };
        loaded.inspect_err(|e| self.failed = Some(e.to_string()))
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
                LogOp::Index(_) => return self.load(Scope::All, store, state, applier),
            };
            self.load(Scope::Org(crate::model::OrgId(org)), store, state, applier)?;
        }
        Ok(false)
    }
}

impl crate::query::Loader for Shared {
    fn load(&self, scope: Scope) -> Result<Arc<State>> {
        self.ensure(scope)?;
        Ok(self.state.read().state.clone())
    }
}

impl Shared {
    /// Loads what a read of `scope` needs, when this is a read-only open that has not loaded
    /// every org yet. Takes the lazy loader, then the store, then the state's write lock.
    ///
    /// # Errors
    /// `Error::Store` when the store's values cannot be read (also for every later load once
    /// one failed).
    pub(crate) fn ensure(&self, scope: Scope) -> Result<()> {
        let mut slot = self.lazy.lock();
        let Some(lazy) = slot.as_mut() else {
            return Ok(());
        };
        if !lazy.needs(scope) {
            return Ok(());
        }
        let store = self.store.lock();
        let Some(store) = store.as_ref() else {
            return Err(Error::Store("the store is closed".into()));
        };
        let mut current = self.state.write();
        let super::Current { state, applier, .. } = &mut *current;
        if lazy.load(scope, store, Arc::make_mut(state), applier)? {
            *slot = None;
        }
        Ok(())
    }
}
