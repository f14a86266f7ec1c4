//! Checkpoints: dirty values of the in-memory state, packed and written to sled trees (one tree
//! per physical partition), then the checkpoint LSN. Loading reads every tree back.

use super::pack;
use crate::codec::key;
use crate::error::{Error, Result};
use crate::limits::SLED_CACHE_BYTES;
use crate::model::{Kind, Lsn, Month};
use crate::state::catalog::{add_flow, EntryLoc, OrgState};
use crate::state::ledger::PartitionId;
use crate::state::{chunk_of, chunk_orgs, DirtyKey, State};
use chrono_tz::Tz;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;

const META_TREE: &str = "meta";
const ORGS_TREE: &str = "orgs";
const CHECKPOINT_KEY: &[u8] = b"checkpoint_lsn";
const CATALOG_KEY: &[u8] = b"index_catalog";

/// Dirty values packed at one moment, ready to be written without holding any lock.
pub struct Snapshot {
    /// Every batch up to this LSN is reflected in the store once the snapshot is written.
    pub covers: Lsn,
    pub values: Vec<(String, Vec<u8>, Vec<u8>)>,
}

/// What a checkpoint wrote.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CheckpointStats {
    /// The LSN the store reflects once the checkpoint is written.
    pub lsn: Lsn,
    /// Org-record values written (one per chunk of 64 consecutive org ids).
    pub org_values: usize,
    /// Ledger values written (one per ledger partition and chunk of orgs).
    pub ledger_values: usize,
    /// Balance values written (one per balance shard, chunk of orgs and month).
    pub balance_values: usize,
    /// Bytes of the keys and values written.
    pub bytes: usize,
}

/// The sled database under `<db>/state`.
pub struct Store {
    db: sled::Db,
    path: PathBuf,
}

pub use crate::limits::STORE_LOCK_WAIT;

fn store_err(path: &Path, e: sled::Error) -> Error {
    Error::Store(format!("{}: {e}", path.display()))
}

fn balance_tree(shard: usize) -> String {
    format!("balances/{shard:02}")
}

impl Store {
    /// Opens (or creates) the store. sled 0.34 releases its file lock only when its flusher
    /// thread has exited, which can be a moment after the previous `Store` of the same directory
    /// was dropped (a database closed and reopened in one process), and a child another thread
    /// forks shares the lock until it execs; the caller holds the
    /// database's own lock, so a held store lock can only be that and is waited for, up to
    /// [`STORE_LOCK_WAIT`]. Still held after that: [`Error::Locked`], never a rebuild.
    pub fn open(path: &Path) -> Result<Store> {
        let started = std::time::Instant::now();
        let mut pause = std::time::Duration::from_millis(2);
        let db = loop {
            let opened = sled::Config::new()
                .path(path)
                .cache_capacity(SLED_CACHE_BYTES)
                .mode(sled::Mode::HighThroughput)
                .flush_every_ms(None)
                .open();
            match opened {
                Ok(db) => break db,
                // sled 0.34.7 (config.rs) reports a held lock as `ErrorKind::Other` with this text.
                Err(sled::Error::Io(e))
                    if e.kind() == std::io::ErrorKind::WouldBlock
                        || e.to_string().starts_with("could not acquire lock on") =>
                {
                    if started.elapsed() >= STORE_LOCK_WAIT {
                        return Err(Error::Locked {
                            path: path.to_path_buf(),
                        });
                    }
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(std::time::Duration::from_millis(100));
                }
                Err(e) => return Err(store_err(path, e)),
            }
        };
        Ok(Store {
            db,
            path: path.to_path_buf(),
        })
    }

    /// LSN of the last complete checkpoint (0 when none).
    pub fn checkpoint_lsn(&self) -> Result<Lsn> {
        let tree = self
            .db
            .open_tree(META_TREE)
            .map_err(|e| store_err(&self.path, e))?;
        match tree
            .get(CHECKPOINT_KEY)
            .map_err(|e| store_err(&self.path, e))?
        {
            None => Ok(Lsn(0)),
            Some(v) => {
                let raw: [u8; 12] = v
                    .as_ref()
                    .try_into()
                    .map_err(|_| self.bad("checkpoint LSN length"))?;
                let lsn = u64::from_le_bytes(
                    raw[..8]
                        .try_into()
                        .map_err(|_| self.bad("checkpoint LSN"))?,
                );
                let crc = u32::from_le_bytes(
                    raw[8..]
                        .try_into()
                        .map_err(|_| self.bad("checkpoint LSN"))?,
                );
                if crc != crc32fast::hash(&raw[..8]) {
                    return Err(self.bad("checkpoint LSN checksum"));
                }
                Ok(Lsn(lsn))
            }
        }
    }

    fn bad(&self, why: &str) -> Error {
        Error::Store(format!("{}: {why}", self.path.display()))
    }

    /// Writes a snapshot: all values, a flush, then the checkpoint LSN (`snapshot.covers`) and
    /// another flush.
    pub fn write(&self, snapshot: &Snapshot) -> Result<CheckpointStats> {
        let base = snapshot.covers;
        let mut stats = CheckpointStats {
            lsn: base,
            ..CheckpointStats::default()
        };
        let mut batches: HashMap<&str, sled::Batch> = HashMap::new();
        for (tree, k, v) in &snapshot.values {
            stats.bytes += k.len() + v.len();
            match tree.as_str() {
                ORGS_TREE => stats.org_values += 1,
                META_TREE => {}
                t if t.starts_with("balances/") => stats.balance_values += 1,
                _ => stats.ledger_values += 1,
            }
            batches
                .entry(tree.as_str())
                .or_default()
                .insert(k.as_slice(), v.as_slice());
        }
        // Org records first: a ledger value never names an org the store does not know.
        let mut names: Vec<&str> = batches.keys().copied().collect();
        names.sort_by_key(|n| (*n != ORGS_TREE, *n));
        for name in names {
            let tree = self
                .db
                .open_tree(name)
                .map_err(|e| store_err(&self.path, e))?;
            if let Some(batch) = batches.remove(name) {
                tree.apply_batch(batch)
                    .map_err(|e| store_err(&self.path, e))?;
            }
        }
        self.db.flush().map_err(|e| store_err(&self.path, e))?;
        let mut raw = base.0.to_le_bytes().to_vec();
        raw.extend_from_slice(&crc32fast::hash(&raw).to_le_bytes());
        let meta = self
            .db
            .open_tree(META_TREE)
            .map_err(|e| store_err(&self.path, e))?;
        meta.insert(CHECKPOINT_KEY, raw)
            .map_err(|e| store_err(&self.path, e))?;
        self.db.flush().map_err(|e| store_err(&self.path, e))?;
        Ok(stats)
    }

    /// Reads every value back into a state. Any damaged or inconsistent value is an error; the
    /// caller then rebuilds the store from the log.
    pub fn load(&self, shards: u32) -> Result<(State, crate::state::EntryIndex)> {
        let mut state = State::new(shards);
        let mut entries = crate::state::EntryIndex::default();
        self.load_catalog(&mut state)?;
        self.load_orgs(&mut state)?;
        let mut ledger_trees = Vec::new();
        let mut balance_trees = Vec::new();
        for name in self.db.tree_names() {
            let name = String::from_utf8_lossy(&name).to_string();
            if let Some(pid) = parse_partition(&name) {
                ledger_trees.push((name, pid));
            } else if let Some(shard) = name.strip_prefix("balances/") {
                let shard: usize = shard.parse().map_err(|_| self.bad("bad shard tree name"))?;
                if shard >= shards as usize {
                    return Err(self.bad("shard tree beyond the shard count"));
                }
                balance_trees.push((name, shard));
            }
        }
        // Balance shards load on a second thread while this one loads the ledgers.
        let known: rustc_hash::FxHashSet<crate::model::OrgId> =
            state.orgs.keys().copied().collect();
        let (ledgers, balances) = std::thread::scope(|scope| {
            let other = scope.spawn(|| self.load_balances(&balance_trees, shards, &known));
            let mine = ledger_trees
                .iter()
                .try_for_each(|(name, pid)| self.load_ledger(&mut state, &mut entries, name, *pid));
            (
                mine,
                other
                    .join()
                    .unwrap_or_else(|_| Err(self.bad("balance loader panicked"))),
            )
        });
        ledgers?;
        state.balances = balances?;
        Ok((state, entries))
    }

    fn tree(&self, name: &str) -> Result<sled::Tree> {
        self.db
            .open_tree(name)
            .map_err(|e| store_err(&self.path, e))
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
        state.catalog = std::sync::Arc::new(crate::state::index::IndexCatalog {
            defs,
            building: None,
            persisted: stamp,
        });
        Ok(())
    }

    fn load_orgs(&self, state: &mut State) -> Result<()> {
        for item in self.tree(ORGS_TREE)?.iter() {
            let (k, v) = item.map_err(|e| store_err(&self.path, e))?;
            let chunk = key::get_u64(&k, 0).ok_or_else(|| self.bad("org key"))?;
            let (stamp, records) =
                pack::unpack_orgs(&v).map_err(|e| self.bad(&format!("orgs/{chunk}: {e}")))?;
            for (id, record) in records {
                if chunk_of(id) != chunk || id.0 != record.org {
                    return Err(self.bad("org stored under the wrong key"));
                }
                let tz = Tz::from_str(&record.time_zone).map_err(|_| self.bad("org time zone"))?;
                let mut org = OrgState::new(record, tz);
                org.persisted = stamp;
                state.orgs.insert(id, std::sync::Arc::new(org));
            }
        }
        Ok(())
    }

    fn load_ledger(
        &self,
        state: &mut State,
        entries: &mut crate::state::EntryIndex,
        name: &str,
        pid: PartitionId,
    ) -> Result<()> {
        let mut bucket = crate::state::ledger::MonthBucket::default();
        for item in self.tree(name)?.iter() {
            let (k, v) = item.map_err(|e| store_err(&self.path, e))?;
            let chunk = key::get_u64(&k, 0).ok_or_else(|| self.bad("ledger key"))?;
            let (_, ledgers) =
                pack::unpack_ledgers(&v).map_err(|e| self.bad(&format!("{name}/{chunk}: {e}")))?;
            for (org, mut ledger) in ledgers {
                if chunk_of(org) != chunk || !state.orgs.contains_key(&org) {
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
                    if entries
                        .insert(
                            (org, *id),
                            EntryLoc {
                                kind: pid.kind,
                                occurred_at: *ts,
                            },
                        )
                        .is_some()
                    {
                        return Err(self.bad("entry id stored twice"));
                    }
                }
                entries.set_flows(org, flows);
                // Derived parts (totals, roll-ups, index parts) are rebuilt, not stored.
                ledger
                    .rebuild(&state.catalog, pid.kind)
                    .ok_or_else(|| self.bad("ledger total overflow"))?;
                bucket.orgs.insert(org, std::sync::Arc::new(ledger));
            }
        }
        state.ledgers.insert(pid, bucket);
        Ok(())
    }

    /// Reads every balance shard tree and rebuilds each org's Fenwick prefix.
    fn load_balances(
        &self,
        trees: &[(String, usize)],
        shards: u32,
        known: &rustc_hash::FxHashSet<crate::model::OrgId>,
    ) -> Result<Vec<crate::state::balance::BalanceShard>> {
        let mut out: Vec<crate::state::balance::BalanceShard> =
            (0..shards).map(|_| Default::default()).collect();
        for (name, shard) in trees {
            for item in self.tree(name)?.iter() {
                let (k, v) = item.map_err(|e| store_err(&self.path, e))?;
                let chunk = key::get_u64(&k, 0).ok_or_else(|| self.bad("balance key"))?;
                let month = key::get_i32(&k, 8)
                    .and_then(|m| Month::from_index(m).ok())
                    .ok_or_else(|| self.bad("balance key"))?;
                let (_, months) = pack::unpack_balances(&v)
                    .map_err(|e| self.bad(&format!("{name}/{chunk}/{month}: {e}")))?;
                for (org, value) in months {
                    if value.days.iter().any(|d| d.day.month() != month) {
                        return Err(self.bad("balance row in the wrong month"));
                    }
                    let home = crate::state::balance::shard_of(org, shards) == *shard
                        && chunk_of(org) == chunk;
                    if !home || !known.contains(&org) {
                        return Err(
                            self.bad("balance value in the wrong shard or of an unknown org")
                        );
                    }
                    std::sync::Arc::make_mut(out[*shard].orgs.entry(org).or_default())
                        .months
                        .insert(month, std::sync::Arc::new(value));
                }
            }
        }
        for shard in &mut out {
            for (_, balances) in shard.orgs.iter_mut() {
                if let Some(&first) = balances.months.keys().next() {
                    std::sync::Arc::make_mut(balances)
                        .reindex(first)
                        .ok_or_else(|| self.bad("balance overflow"))?;
                }
            }
        }
        Ok(out)
    }
}

impl State {
    /// Packs the given values as they are in this state (a snapshot pinned together with the
    /// dirty keys taken, so the values reflect exactly the batches up to `self.lsn`).
    pub fn pack(&self, keys: &rustc_hash::FxHashSet<DirtyKey>) -> Snapshot {
        #[cfg(test)]
        crate::test_hooks::reached(crate::test_hooks::Point::Pack);
        let keys: Vec<DirtyKey> = keys.iter().copied().collect();
        // Packing is pure CPU over shared reads: split it over two threads.
        let (left, right) = keys.split_at(keys.len() / 2);
        let values = std::thread::scope(|scope| {
            let other = scope.spawn(|| self.pack_keys(right));
            let mut values = self.pack_keys(left);
            values.extend(other.join().expect("packing thread panicked"));
            values
        });
        Snapshot {
            covers: self.lsn,
            values,
        }
    }

    fn pack_keys(&self, keys: &[DirtyKey]) -> Vec<(String, Vec<u8>, Vec<u8>)> {
        let stamp = self.lsn;
        let mut values = Vec::with_capacity(keys.len());
        for key in keys {
            match *key {
                // Written by the frozen-month persistence (in progress on this branch).
                DirtyKey::Patches(..) | DirtyKey::FrozenFlows(_) => {}
                DirtyKey::Catalog => {
                    let records: Vec<_> =
                        self.catalog.defs.iter().map(|d| d.record(true)).collect();
                    values.push((
                        META_TREE.to_string(),
                        CATALOG_KEY.to_vec(),
                        pack::pack_catalog(stamp, &records),
                    ));
                }
                DirtyKey::Orgs(chunk) => {
                    let items: Vec<_> = chunk_orgs(chunk)
                        .filter_map(|id| self.orgs.get(&id).map(|o| (id, &o.record)))
                        .collect();
                    let value = pack::pack_orgs(stamp, &items);
                    values.push((ORGS_TREE.to_string(), chunk.to_be_bytes().to_vec(), value));
                }
                DirtyKey::Ledger(pid, chunk) => {
                    let Some(bucket) = self.ledgers.get(&pid) else {
                        continue;
                    };
                    let items: Vec<_> = chunk_orgs(chunk)
                        .filter_map(|id| bucket.orgs.get(&id).map(|l| (id, &**l)))
                        .collect();
                    values.push((
                        pid.tree_name(),
                        chunk.to_be_bytes().to_vec(),
                        pack::pack_ledgers(stamp, &items),
                    ));
                }
                DirtyKey::Balance(shard, chunk, month) => {
                    let shard_state = &self.balances[shard as usize];
                    let items: Vec<_> = chunk_orgs(chunk)
                        .filter_map(|id| {
                            shard_state
                                .orgs
                                .get(&id)
                                .and_then(|b| b.months.get(&month))
                                .map(|m| (id, &**m))
                        })
                        .collect();
                    let value = pack::pack_balances(stamp, &items);
                    values.push((
                        balance_tree(shard as usize),
                        key::balance_key(chunk, month.index()),
                        value,
                    ));
                }
            }
        }
        values
    }
}
/// The ledger partition a tree name denotes (`revenues/2024-03`, `expenses/1999-12`).
fn parse_partition(name: &str) -> Option<PartitionId> {
    let (table, month) = name.split_once('/')?;
    let kind = match table {
        "revenues" => Kind::Revenue,
        "expenses" => Kind::Expense,
        _ => return None,
    };
    let (y, m) = month.split_once('-')?;
    Some(PartitionId {
        kind,
        month: Month::from_ym(y.parse().ok()?, m.parse().ok()?)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A store whose lock is still held (as by the flusher of a store just dropped) is waited
    /// for and then opened with its contents, not reported damaged and rebuilt.
    #[test]
    fn an_open_waits_for_a_store_lock_being_released() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let path = tmp.path().join("store");
        let first = Store::open(&path).expect("open");
        first.db.insert(b"kept", b"yes").expect("insert");
        first.db.flush().expect("flush");
        let second = {
            let path = path.clone();
            std::thread::spawn(move || Store::open(&path))
        };
        std::thread::sleep(std::time::Duration::from_millis(100));
        if second.is_finished() {
            let early = second.join().map(|r| r.map(|_| ()));
            panic!("finished while the lock was held: {early:?}");
        }
        drop(first);
        let second = second.join().expect("thread").expect("open after release");
        assert_eq!(
            second.db.get(b"kept").expect("get").as_deref(),
            Some(&b"yes"[..])
        );
    }
}
