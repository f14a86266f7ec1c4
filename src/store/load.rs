//! Reading the store back into a state: every org at once (an open), or one chunk of orgs at a
//! time (a read-only open loads an org's values when a read first needs them: `Db`'s lazy
//! loads). Both run the same code over the same values and checks; only which keys are read
//! differs ([`Chunks`]).
//!
//! A load first reads what does not belong to any org ([`Store::load_frame`]: the index
//! catalog, the frozen set the checkpoint names with each file opened, and the list of trees
//! that set reads, a [`Layout`]); then the values of the chosen chunks ([`Store::load_chunks`]):
//! org records, the frozen flows and nets, ledger rows of open months and of frozen months'
//! overlays, balance values of open business months and day rows applied to frozen ones after
//! their freeze, and patches of frozen rows. Every value is keyed by its chunk first (the day
//! overlays by shard, then chunk), so one chunk is a handful of prefix scans per tree.

use super::checkpoint::{
    balance_key_month, is_stale, legacy_balance_shard, parse_tree, store_err, ChunkItems, TreeName,
    UnpackChunk, BALANCES_TREE, CATALOG_KEY, FROZEN_FLOWS_PREFIX, FROZEN_NETS_PREFIX, META_TREE, ORGS_TREE,
};
use super::{pack, Store};
use crate::codec::key;
use crate::error::Result;
use crate::frozen::{Expected, FrozenFile};
use crate::io::Vfs;
use crate::model::{Kind, Month};
use crate::state::balance::BalanceShard;
use crate::state::catalog::{add_flow, EntryLoc, OrgState};
use crate::state::frozen_set::{FrozenMonth, FrozenSet};
use crate::state::ledger::PartitionId;
use crate::state::{chunk_of, EntryIndex, State};
use chrono_tz::Tz;
use std::collections::BTreeMap;
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;

/// Which chunks of orgs a load reads.
#[derive(Clone, Copy, Debug)]
pub enum Chunks<'a> {
    /// Every chunk, into a state that holds no org yet.
    Every,
    /// One chunk, not loaded before.
    One(u64),
    /// The chunks `from..to` but those in `loaded` (loaded before).
    Span {
        from: u64,
        to: u64,
        loaded: &'a rustc_hash::FxHashSet<u64>,
    },
}

impl Chunks<'_> {
    /// Whether a key of `chunk` is read (`None`: a key without a chunk, read so that the value's
    /// check reports it).
    fn wants(self, chunk: Option<u64>) -> bool {
        match (self, chunk) {
            (Chunks::Span { loaded, .. }, Some(chunk)) => !loaded.contains(&chunk),
            _ => true,
        }
    }

    /// The chunks `from..to` whose keys are read (`None`: every chunk).
    fn range(self) -> Option<(u64, u64)> {
        match self {
            Chunks::Every => None,
            Chunks::One(chunk) => Some((chunk, chunk + 1)),
            Chunks::Span { from, to, .. } => Some((from, to)),
        }
    }
}

/// The trees a load reads (those of open months and of the frozen versions in force), listed
/// once by [`Store::load_frame`].
#[derive(Clone, Debug, Default)]
pub struct Layout {
    /// Frozen month → version in force.
    in_force: BTreeMap<Month, u32>,
    /// Ledger trees of open months and overlay trees of frozen ones.
    ledgers: Vec<(String, PartitionId)>,
    /// Patches trees of frozen months.
    patches: Vec<(String, Month)>,
    /// Day-row overlay trees of frozen business months.
    days: Vec<(String, Month)>,
    /// Trees of day rows of open business months: legacy shard trees (`balances/NN`) with
    /// their shard first, then [`checkpoint::BALANCES_TREE`] (`None`), whose values supersede
    /// theirs (written later, from every org's day rows of the chunk and month).
    balances: Vec<(String, Option<usize>)>,
    shards: u32,
    /// Whether the store holds any org (a new database's holds none: nothing to load).
    has_orgs: bool,
}

impl Layout {
    /// Whether the store holds any org to load.
    pub fn has_orgs(&self) -> bool {
        self.has_orgs
    }
}

/// Which keys of a tree hold a chunk's values: those starting with one of `heads` followed by
/// the chunk (big-endian); a whole pass reads every key starting with `all`. `at`: where the
/// chunk sits in a key.
struct Scan {
    all: Vec<u8>,
    heads: Vec<Vec<u8>>,
    at: usize,
}

impl Scan {
    /// Keys that start with the chunk.
    fn plain() -> Scan {
        Scan {
            all: Vec::new(),
            heads: vec![Vec::new()],
            at: 0,
        }
    }

    /// Meta keys `prefix` ++ chunk.
    fn meta(prefix: &[u8]) -> Scan {
        Scan {
            all: prefix.to_vec(),
            heads: vec![prefix.to_vec()],
            at: prefix.len(),
        }
    }

    /// Keys shard (4 bytes) ++ chunk, for every shard.
    fn sharded(shards: u32) -> Scan {
        Scan {
            all: Vec::new(),
            heads: (0..shards).map(|s| s.to_be_bytes().to_vec()).collect(),
            at: 4,
        }
    }
}

impl Store {
    /// Reads every value back into a state. Any damaged or inconsistent value is an error; the
    /// caller then rebuilds the store from the log.
    ///
    /// Frozen months first: the frozen set the checkpoint names, each file opened (`vfs`, under
    /// `db`'s `frozen/`, checked against its entry and `db_id`: header and footer only) and the
    /// frozen flows, which each org's flows start from before its loaded rows are added. Then the
    /// trees that set reads: normal ledger trees of open months, overlay and patches trees of the
    /// versions in force (the others are left for [`Store::drop_stale_trees`]).
    ///
    /// # Errors
    /// `Error::Store` for a damaged or inconsistent value; [`crate::Error::Corruption`] naming a
    /// frozen file the set lists that is missing (`MissingFile`), of another size, checksum,
    /// database, month or version; [`crate::Error::Io`] when such a file cannot be read.
    pub fn load(
        &self,
        vfs: &dyn Vfs,
        db: &Path,
        db_id: u64,
        shards: u32,
    ) -> Result<(State, EntryIndex)> {
        self.load_with(vfs, db, db_id, shards, &FrozenSet::default())
    }

    /// As [`Store::load`], taking a frozen file the set lists from `open` (already open and
    /// checked against the same entry) instead of opening it again: `verify` reads the store back
    /// with the files its state maps, which a writer in another process may have replaced and
    /// removed since.
    ///
    /// # Errors
    /// As [`Store::load`].
    pub fn load_with(
        &self,
        vfs: &dyn Vfs,
        db: &Path,
        db_id: u64,
        shards: u32,
        open: &FrozenSet,
    ) -> Result<(State, EntryIndex)> {
        let (mut state, mut entries, layout) = self.load_frame(vfs, db, db_id, shards, open)?;
        self.load_chunks(&layout, &mut state, &mut entries, Chunks::Every)?;
        Ok((state, entries))
    }

    /// What a load reads that belongs to no org: a state holding the index catalog and the
    /// frozen months the checkpoint names (each file opened, or taken from `open` as in
    /// [`Store::load_with`]), and no org; and the trees the orgs' values are in.
    ///
    /// # Errors
    /// As [`Store::load`].
    pub fn load_frame(
        &self,
        vfs: &dyn Vfs,
        db: &Path,
        db_id: u64,
        shards: u32,
        open: &FrozenSet,
    ) -> Result<(State, EntryIndex, Layout)> {
        let mut state = State::new(shards);
        self.load_catalog(&mut state)?;
        self.load_frozen_months(&mut state, (vfs, db, db_id), open)?;
        let in_force: BTreeMap<Month, u32> = state
            .frozen
            .months()
            .iter()
            .map(|(m, f)| (*m, f.entry.version))
            .collect();
        let mut layout = Layout {
            in_force,
            shards,
            has_orgs: !self.tree(ORGS_TREE)?.is_empty(),
            ..Layout::default()
        };
        for name in self.db.tree_names() {
            let name = String::from_utf8_lossy(&name).to_string();
            if let Some(tree) = parse_tree(&name) {
                if is_stale(tree, &layout.in_force) {
                    continue;
                }
                match tree {
                    TreeName::Ledger(pid) | TreeName::Overlay(pid, _) => {
                        layout.ledgers.push((name, pid));
                    }
                    TreeName::Patches(month, _) => layout.patches.push((name, month)),
                    TreeName::Days(month, _) => layout.days.push((name, month)),
                }
            } else if let Some(shard) = legacy_balance_shard(&name) {
                let shard: usize = shard.parse().map_err(|_| self.bad("bad shard tree name"))?;
                if shard >= shards as usize {
                    return Err(self.bad("shard tree beyond the shard count"));
                }
                layout.balances.push((name, Some(shard)));
            }
        }
        layout.balances.sort_by_key(|(_, shard)| *shard);
        if self.db.tree_names().iter().any(|n| n == BALANCES_TREE.as_bytes()) {
            layout.balances.push((BALANCES_TREE.to_string(), None));
        }
        // Balance values of the frozen months in force are skipped by every load, which queues
        // those it meets for removal (`skipped_balances`): the months need no scan for them.
        *self.balances_cleaned.lock() = Some(layout.in_force.keys().copied().collect());
        // Every open partition is in the state, also while none of its orgs is loaded.
        for (_, pid) in &layout.ledgers {
            state.ledgers.entry(*pid).or_default();
        }
        Ok((state, EntryIndex::default(), layout))
    }

    /// Reads the values of `chunks` into `state` (made by [`Store::load_frame`] with the same
    /// `layout`, holding no org of those chunks) and their entry ids and flows into `entries`.
    /// On an error the state may hold part of the chunks' values: the caller drops it.
    ///
    /// # Errors
    /// `Error::Store` for a damaged or inconsistent value.
    pub fn load_chunks(
        &self,
        layout: &Layout,
        state: &mut State,
        entries: &mut EntryIndex,
        chunks: Chunks<'_>,
    ) -> Result<()> {
        self.load_orgs(state, chunks)?;
        self.load_frozen_sums(state, entries, chunks)?;
        let known = state.orgs.clone();
        // Many chunks: the balance shards load on a second thread while this one loads the
        // ledgers.
        let balances = if let Some((from, to)) = chunks.range().filter(|(f, t)| t - f <= 1) {
            debug_assert!(from < to);
            for (name, pid) in &layout.ledgers {
                self.load_ledger(state, entries, name, *pid, chunks)?;
            }
            self.load_balances(layout, chunks, &known)?
        } else {
            let (ledgers, balances) = std::thread::scope(|scope| {
                let other = scope.spawn(|| self.load_balances(layout, chunks, &known));
                let mine = layout.ledgers.iter().try_for_each(|(name, pid)| {
                    self.load_ledger(state, entries, name, *pid, chunks)
                });
                (
                    mine,
                    other
                        .join()
                        .unwrap_or_else(|_| Err(self.bad("balance loader panicked"))),
                )
            });
            ledgers?;
            balances?
        };
        for (into, loaded) in state.balances.iter_mut().zip(balances) {
            if into.orgs.is_empty() {
                *into = loaded;
            } else {
                for (org, balances) in loaded.orgs {
                    into.orgs.insert(org, balances);
                }
            }
        }
        for (name, month) in &layout.patches {
            self.load_patches(state, name, *month, chunks)?;
        }
        Ok(())
    }

    /// Up to `count` chunks with org records after chunk `after` (from the first when `None`), in
    /// order: the chunks a step of a whole load reads.
    ///
    /// # Errors
    /// `Error::Store` for an unreadable key.
    pub fn org_chunks_after(&self, after: Option<u64>, count: usize) -> Result<Vec<u64>> {
        let tree = self.tree(ORGS_TREE)?;
        let start = after.map_or(0, |c| c.saturating_add(1));
        let mut out = Vec::new();
        if after == Some(u64::MAX) {
            return Ok(out);
        }
        for item in tree.range(start.to_be_bytes()..).keys().take(count) {
            let k = item.map_err(|e| store_err(&self.path, e))?;
            out.push(key::get_u64(&k, 0).ok_or_else(|| self.bad("org key"))?);
        }
        Ok(out)
    }

    /// Calls `each` with every (key, value) of tree `name` that `chunks` reads.
    fn each_value(
        &self,
        name: &str,
        scan: &Scan,
        chunks: Chunks<'_>,
        mut each: impl FnMut(&[u8], sled::IVec) -> Result<()>,
    ) -> Result<()> {
        let tree = self.tree(name)?;
        let mut take = |item: sled::Result<(sled::IVec, sled::IVec)>| -> Result<()> {
            let (k, v) = item.map_err(|e| store_err(&self.path, e))?;
            if chunks.wants(key::get_u64(&k, scan.at)) {
                each(&k, v)?;
            }
            Ok(())
        };
        match chunks.range() {
            Some((from, to)) => {
                for head in &scan.heads {
                    let key = |chunk: u64| {
                        let mut key = head.clone();
                        key.extend_from_slice(&chunk.to_be_bytes());
                        key
                    };
                    for item in tree.range(key(from)..key(to)) {
                        take(item)?;
                    }
                }
            }
            None => {
                for item in tree.scan_prefix(&scan.all) {
                    take(item)?;
                }
            }
        }
        Ok(())
    }

    /// The frozen set the checkpoint names, each file opened.
    fn load_frozen_months(
        &self,
        state: &mut State,
        (vfs, db, db_id): (&dyn Vfs, &Path, u64),
        open: &FrozenSet,
    ) -> Result<()> {
        let listed = self.frozen_set()?;
        let lsn = self.checkpoint_lsn()?;
        let dir = db.join(crate::format::FROZEN_DIR);
        let mut set = FrozenSet::default();
        for entry in listed {
            if entry.lsn_last > lsn.0 {
                return Err(self.bad(&format!(
                    "frozen set: {} reflects LSN {} beyond the checkpoint's {lsn}",
                    entry.file_name(),
                    entry.lsn_last
                )));
            }
            let file = match open.months().get(&entry.month) {
                Some(month) if month.entry == entry => month.file.clone(),
                _ => {
                    let path = dir.join(entry.file_name());
                    Arc::new(FrozenFile::open(vfs, &path, &Expected::of(db_id, &entry))?)
                }
            };
            set.insert(entry.month, FrozenMonth { entry, file });
        }
        state.frozen = Arc::new(set);
        Ok(())
    }

    /// The frozen flows and nets of the chunks' orgs: each org's flows start from its frozen
    /// flows before its loaded rows are added.
    fn load_frozen_sums(
        &self,
        state: &mut State,
        entries: &mut EntryIndex,
        chunks: Chunks<'_>,
    ) -> Result<()> {
        let in_force = self.sums_gen()?;
        let flows = self.meta_chunks(state, FROZEN_FLOWS_PREFIX, pack::unpack_frozen_flows, (chunks, in_force))?;
        let nets = self.meta_chunks(state, FROZEN_NETS_PREFIX, pack::unpack_frozen_nets, (chunks, in_force))?;
        if flows.is_empty() && nets.is_empty() {
            return Ok(());
        }
        if state.frozen.months().is_empty() {
            return Err(self.bad("frozen flows without a frozen month"));
        }
        let set = Arc::make_mut(&mut state.frozen);
        for (chunk, items) in flows {
            for (org, flows) in &items {
                entries.set_flows(*org, *flows);
            }
            if !set.flows.insert_chunk(chunk, items) {
                return Err(self.bad(&format!("meta/frozen flows {chunk}: an org twice")));
            }
        }
        for (chunk, items) in nets {
            let nets = items.iter().filter(|(_, (net, _))| *net != 0);
            let stale = items
                .iter()
                .filter_map(|(org, (_, stale))| Some((*org, (*stale)?)));
            if !set
                .nets
                .insert_chunk(chunk, nets.map(|(org, (net, _))| (*org, *net)).collect())
                || !set.stale.insert_chunk(chunk, stale.collect())
            {
                return Err(self.bad(&format!("meta/frozen nets {chunk}: an org twice")));
            }
        }
        Ok(())
    }

    /// The per-org values of the meta keys `prefix` ++ chunk (frozen flows, frozen nets) of
    /// `chunks`, chunk by chunk, each checked to be of a known org of its chunk, as of the
    /// generation of frozen sums `in_force` (read once by the caller for both prefixes).
    fn meta_chunks<T>(
        &self,
        state: &State,
        prefix: &[u8],
        unpack: UnpackChunk<T>,
        (chunks, in_force): (Chunks<'_>, u64),
    ) -> Result<Vec<ChunkItems<T>>> {
        let name = String::from_utf8_lossy(prefix).to_string();
        // Per chunk, the newest version not above the generation in force: keys come in
        // (chunk, generation) order, so the last one read of a chunk.
        let mut newest: Vec<(u64, sled::IVec)> = Vec::new();
        self.each_value(META_TREE, &Scan::meta(prefix), chunks, |k, v| {
            let (chunk, gen) = super::checkpoint::sums_key(k, prefix.len())
                .ok_or_else(|| self.bad(&format!("meta/{name} key")))?;
            if gen > in_force {
                return Ok(());
            }
            match newest.last_mut() {
                Some(last) if last.0 == chunk => last.1 = v,
                _ => newest.push((chunk, v)),
            }
            Ok(())
        })?;
        let mut out = Vec::new();
        for (chunk, v) in newest {
            // An empty version: the chunk has none since that generation.
            if v.is_empty() {
                continue;
            }
            let (_, items) =
                unpack(&v).map_err(|e| self.bad(&format!("meta/{name}{chunk}: {e}")))?;
            if items
                .iter()
                .any(|(org, _)| chunk_of(*org) != chunk || !state.orgs.contains_key(org))
            {
                return Err(self.bad(&format!("meta/{name}{chunk}: an unknown org")));
            }
            out.push((chunk, items));
        }
        Ok(out)
    }

    /// One patches tree of a frozen month in force.
    fn load_patches(
        &self,
        state: &mut State,
        name: &str,
        month: Month,
        chunks: Chunks<'_>,
    ) -> Result<()> {
        self.each_value(name, &Scan::plain(), chunks, |k, v| {
            let chunk = key::get_u64(k, 0)
                .filter(|_| k.len() == 8)
                .ok_or_else(|| self.bad("patches key"))?;
            let (_, sets) =
                pack::unpack_patches(&v).map_err(|e| self.bad(&format!("{name}/{chunk}: {e}")))?;
            for (org, set) in sets {
                if chunk_of(org) != chunk || !state.orgs.contains_key(&org) {
                    return Err(self.bad("patches of an unknown org"));
                }
                if !set.rows.is_empty() {
                    state.patches.insert((month, org), Arc::new(set));
                }
            }
            Ok(())
        })
    }

    /// The stored index catalog, if a checkpoint wrote one (else the default set stays).
    fn load_catalog(&self, state: &mut State) -> Result<()> {
        let tree = self.tree(META_TREE)?;
        let Some(value) = tree
            .get(CATALOG_KEY)
            .map_err(|e| store_err(&self.path, e))?
        else {
            return Ok(());
        };
        let (stamp, records) =
            pack::unpack_catalog(&value).map_err(|e| self.bad(&format!("index catalog: {e}")))?;
        let defs = records
            .iter()
            .map(|r| crate::state::index::IndexDef::from_record(r).filter(|d| d.validate().is_ok()))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| self.bad("index catalog: unknown codes or an invalid definition"))?;
        state.catalog = Arc::new(crate::state::index::IndexCatalog {
            defs,
            building: None,
            persisted: stamp,
        });
        Ok(())
    }

    fn load_orgs(&self, state: &mut State, chunks: Chunks<'_>) -> Result<()> {
        self.each_value(ORGS_TREE, &Scan::plain(), chunks, |k, v| {
            let chunk = key::get_u64(k, 0).ok_or_else(|| self.bad("org key"))?;
            let (stamp, records) =
                pack::unpack_orgs(&v).map_err(|e| self.bad(&format!("orgs/{chunk}: {e}")))?;
            let mut orgs = Vec::with_capacity(records.len());
            for (id, record) in records {
                if chunk_of(id) != chunk || id.0 != record.org {
                    return Err(self.bad("org stored under the wrong key"));
                }
                let tz = Tz::from_str(&record.time_zone).map_err(|_| self.bad("org time zone"))?;
                let mut org = OrgState::new(record, tz);
                org.persisted = stamp;
                State::note_currency(&mut state.currencies, org.currency);
                orgs.push((id, Arc::new(org)));
            }
            if !state.orgs.insert_chunk(chunk, orgs) {
                return Err(self.bad(&format!("orgs/{chunk}: an org twice")));
            }
            Ok(())
        })
    }

    fn load_ledger(
        &self,
        state: &mut State,
        entries: &mut EntryIndex,
        name: &str,
        pid: PartitionId,
        chunks: Chunks<'_>,
    ) -> Result<()> {
        let mut bucket = state.ledgers.remove(&pid).unwrap_or_default();
        let catalog = state.catalog.clone();
        let orgs = &state.orgs;
        self.each_value(name, &Scan::plain(), chunks, |k, v| {
            let chunk = key::get_u64(k, 0).ok_or_else(|| self.bad("ledger key"))?;
            let (_, ledgers) =
                pack::unpack_ledgers(&v).map_err(|e| self.bad(&format!("{name}/{chunk}: {e}")))?;
            for (org, mut ledger) in ledgers {
                if chunk_of(org) != chunk || !orgs.contains_key(&org) {
                    return Err(self.bad("ledger value of an unknown org"));
                }
                let mut flows = entries.flows(org);
                let (start, end) = (pid.month.start_utc(), pid.month.end_utc());
                for ((ts, id), row) in &ledger.rows {
                    if !(start..end).contains(ts) {
                        return Err(self.bad("row in the wrong month partition"));
                    }
                    flows = add_flow(flows, pid.kind, row.reverses != 0, row.amount)
                        .ok_or_else(|| self.bad("flow overflow"))?;
                    let loc = EntryLoc {
                        kind: pid.kind,
                        occurred_at: *ts,
                    };
                    let before = entries.insert((org, *id), loc).map_err(|e| self.bad(e))?;
                    if before.is_some() {
                        return Err(self.bad("entry id stored twice"));
                    }
                }
                entries.set_flows(org, flows);
                // Derived parts (totals, roll-ups, index parts) are rebuilt, not stored.
                ledger
                    .rebuild(&catalog, pid.kind)
                    .ok_or_else(|| self.bad("ledger total overflow"))?;
                if pid.kind == Kind::Revenue {
                    bucket.revenue_bound.note(org, ledger.total);
                }
                if bucket.orgs.insert(org, Arc::new(ledger)).is_some() {
                    return Err(self.bad("an org's ledger stored twice"));
                }
            }
            Ok(())
        })?;
        state.ledgers.insert(pid, bucket);
        Ok(())
    }

    /// Reads the chunks' values of the day-row trees (skipping the values of frozen
    /// business months: their day rows are in the files) and of the day-row overlay trees of
    /// the frozen months in force, and rebuilds each org's Fenwick prefix: shards holding the
    /// loaded orgs only.
    fn load_balances(
        &self,
        layout: &Layout,
        chunks: Chunks<'_>,
        known: &crate::state::org_map::OrgMap<Arc<OrgState>>,
    ) -> Result<Vec<BalanceShard>> {
        let shards = layout.shards;
        let mut out: Vec<BalanceShard> = (0..shards).map(|_| Default::default()).collect();
        // (tree, its shard: `None` for the tree of every shard; chunk, month, value), in the
        // order they apply: a later value of an org's month replaces an earlier one.
        let mut values: Vec<(&str, Option<usize>, u64, Month, sled::IVec)> = Vec::new();
        for (name, shard) in &layout.balances {
            self.each_value(name, &Scan::plain(), chunks, |k, v| {
                let chunk = key::get_u64(k, 0).ok_or_else(|| self.bad("balance key"))?;
                let month = balance_key_month(k).ok_or_else(|| self.bad("balance key"))?;
                if layout.in_force.contains_key(&month) {
                    self.skipped_balances.lock().push((name.clone(), k.to_vec()));
                } else {
                    values.push((name, *shard, chunk, month, v));
                }
                Ok(())
            })?;
        }
        for (name, month) in &layout.days {
            self.each_value(name, &Scan::sharded(shards), chunks, |k, v| {
                let shard = key::get_u32(k, 0)
                    .filter(|s| *s < shards && k.len() == 12)
                    .ok_or_else(|| self.bad("day overlay key"))?;
                let chunk = key::get_u64(k, 4).ok_or_else(|| self.bad("day overlay key"))?;
                values.push((name, Some(shard as usize), chunk, *month, v));
                Ok(())
            })?;
        }
        for (name, shard, chunk, month, v) in values {
            let (_, months) = pack::unpack_balances(&v)
                .map_err(|e| self.bad(&format!("{name}/{chunk}/{month}: {e}")))?;
            for (org, value) in months {
                if value.days.iter().any(|d| d.day.month() != month) {
                    return Err(self.bad("balance row in the wrong month"));
                }
                let home = crate::state::balance::shard_of(org, shards);
                let in_place = shard.is_none_or(|s| s == home) && chunk_of(org) == chunk;
                if !in_place || !known.contains_key(&org) {
                    return Err(self.bad("balance value in the wrong shard or of an unknown org"));
                }
                Arc::make_mut(out[home].orgs.entry(org).or_default())
                    .months
                    .insert(month, Arc::new(value));
            }
        }
        for shard in &mut out {
            for (_, balances) in shard.orgs.iter_mut() {
                if let Some(first) = balances.months.first_month() {
                    Arc::make_mut(balances)
                        .reindex(first)
                        .ok_or_else(|| self.bad("balance overflow"))?;
                }
            }
        }
        Ok(out)
    }
}
