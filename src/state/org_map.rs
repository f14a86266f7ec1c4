//! A persistent map keyed by org id whose nodes are chunks of consecutive ids.
//!
//! Per-org values of every org (org records, the frozen files' flows and nets) are read at open
//! for every registered org: a million entries. In a [`PMap`] keyed by org each entry is a hash
//! trie insert and a trie slot of its own, which made loading, dropping and holding them the
//! largest part of an open at 1,000,000 orgs. Here the trie is keyed by chunk
//! ([`super::chunk_of`]: 64 consecutive ids, the unit the store packs them in) and each chunk is
//! one shared sorted `Vec`: a load builds each chunk once, a lookup is a trie lookup and a
//! binary search of at most 64 ids, and a write copies one chunk (not a path of nodes per org)
//! while a snapshot still shares it.

use super::{chunk_of, PMap};
use crate::model::OrgId;
use std::sync::Arc;

/// Org ids of one chunk, in increasing order, with their values.
type Chunk<V> = Arc<Vec<(OrgId, V)>>;

/// A persistent map from org id to `V`: cloning is O(1); see the module.
#[derive(Clone, Debug)]
pub struct OrgMap<V: Clone> {
    chunks: PMap<u64, Chunk<V>>,
    len: usize,
}

impl<V: Clone> Default for OrgMap<V> {
    fn default() -> OrgMap<V> {
        OrgMap {
            chunks: PMap::default(),
            len: 0,
        }
    }
}

/// Equal when they hold the same ids with equal values (chunks are kept canonical: sorted, never
/// empty).
impl<V: Clone + PartialEq> PartialEq for OrgMap<V> {
    fn eq(&self, other: &OrgMap<V>) -> bool {
        self.len == other.len && self.chunks == other.chunks
    }
}

impl<V: Clone + Eq> Eq for OrgMap<V> {}

/// Where `org` is in its chunk (or would go). A chunk whose ids are all present holds `org` at
/// its offset in the chunk (`org & 63`): ids are dense in practice, so that one slot is tried
/// before a binary search (which touches several cache lines of the chunk with branches that
/// mispredict; a fifth of validating a batch at 1,000,000 orgs).
fn find<V>(chunk: &[(OrgId, V)], org: OrgId) -> Result<usize, usize> {
    let guess = (org.0 & ((1 << super::CHUNK_BITS) - 1)) as usize;
    if chunk.get(guess).is_some_and(|(id, _)| *id == org) {
        return Ok(guess);
    }
    chunk.binary_search_by_key(&org, |(id, _)| *id)
}

impl<V: Clone> OrgMap<V> {
    pub fn len(&self) -> usize {
        self.len
    }

    #[cfg(feature = "internals")]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn get(&self, org: &OrgId) -> Option<&V> {
        let chunk = self.chunks.get(&chunk_of(*org))?;
        find(chunk, *org).ok().map(|at| &chunk[at].1)
    }

    pub fn contains_key(&self, org: &OrgId) -> bool {
        self.get(org).is_some()
    }

    /// Sets the value of `org`; the value it replaced.
    pub fn insert(&mut self, org: OrgId, value: V) -> Option<V> {
        let key = chunk_of(org);
        let Some(chunk) = self.chunks.get_mut(&key) else {
            self.chunks.insert(key, Arc::new(vec![(org, value)]));
            self.len += 1;
            return None;
        };
        let chunk = Arc::make_mut(chunk);
        match find(chunk, org) {
            Ok(at) => Some(std::mem::replace(&mut chunk[at].1, value)),
            Err(at) => {
                super::memory::reserve_one(chunk);
                chunk.insert(at, (org, value));
                self.len += 1;
                None
            }
        }
    }

    /// Every (org, value), chunk by chunk (chunks in no particular order, ids in order within
    /// one).
    pub fn iter(&self) -> impl Iterator<Item = (&OrgId, &V)> + '_ {
        self.chunks
            .values()
            .flat_map(|chunk| chunk.iter().map(|(id, v)| (id, v)))
    }

    pub fn keys(&self) -> impl Iterator<Item = &OrgId> + '_ {
        self.iter().map(|(id, _)| id)
    }

    pub fn values(&self) -> impl Iterator<Item = &V> + '_ {
        self.iter().map(|(_, v)| v)
    }

    /// Adds the (org, value) pairs of one chunk (what a load unpacks from one stored value): one
    /// trie insert for all of them when the chunk is new. Returns false, changing nothing, when
    /// an id is not of chunk `key`, or is given twice or is already present.
    pub fn insert_chunk(&mut self, key: u64, mut items: Vec<(OrgId, V)>) -> bool {
        if items.iter().any(|(id, _)| chunk_of(*id) != key) {
            return false;
        }
        items.sort_unstable_by_key(|(id, _)| *id);
        if items.windows(2).any(|w| w[0].0 == w[1].0) {
            return false;
        }
        if items.is_empty() {
            return true;
        }
        match self.chunks.get_mut(&key) {
            None => {
                self.len += items.len();
                items.shrink_to_fit();
                self.chunks.insert(key, Arc::new(items));
            }
            Some(chunk) => {
                if items.iter().any(|(id, _)| find(chunk, *id).is_ok()) {
                    return false;
                }
                let chunk = Arc::make_mut(chunk);
                self.len += items.len();
                chunk.extend(items);
                chunk.sort_unstable_by_key(|(id, _)| *id);
            }
        }
        true
    }

    /// Bytes of the trie and its chunks (element sizes and capacities), not counting what the
    /// values own.
    pub fn heap_bytes(&self) -> usize {
        use std::mem::size_of;
        let chunks: usize = self
            .chunks
            .values()
            .map(|c| 16 + size_of::<Vec<(OrgId, V)>>() + c.capacity() * size_of::<(OrgId, V)>())
            .sum();
        chunks + super::memory::pmap_bytes(self.chunks.len(), size_of::<(u64, usize)>())
    }
}

impl<V: Clone> FromIterator<(OrgId, V)> for OrgMap<V> {
    fn from_iter<I: IntoIterator<Item = (OrgId, V)>>(items: I) -> OrgMap<V> {
        let mut map = OrgMap::default();
        for (org, value) in items {
            map.insert(org, value);
        }
        map
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    #[derive(Clone, Debug)]
    enum Step {
        Insert(u64, u32),
        Chunk(u64, Vec<(u64, u32)>),
        Snapshot,
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            (0u64..300, any::<u32>()).prop_map(|(o, v)| Step::Insert(o, v)),
            (0u64..5, proptest::collection::vec((0u64..64, any::<u32>()), 0..8))
                .prop_map(|(c, items)| Step::Chunk(c, items)),
            Just(Step::Snapshot),
        ]
    }

    proptest! {
        /// The map equals a `BTreeMap` after any steps, and a clone taken before later steps
        /// keeps what it saw.
        #[test]
        fn behaves_like_a_btree_map(steps in proptest::collection::vec(step(), 0..200)) {
            let mut map = OrgMap::<u32>::default();
            let mut model = BTreeMap::<u64, u32>::new();
            let mut pinned = Vec::new();
            for step in steps {
                match step {
                    Step::Insert(o, v) => {
                        prop_assert_eq!(map.insert(OrgId(o), v), model.insert(o, v));
                    }
                    Step::Chunk(c, items) => {
                        let items: Vec<(OrgId, u32)> = items
                            .into_iter()
                            .map(|(i, v)| (OrgId((c << super::super::CHUNK_BITS) | i), v))
                            .collect();
                        let fresh = {
                            let mut ids: Vec<u64> = items.iter().map(|(o, _)| o.0).collect();
                            ids.sort_unstable();
                            ids.dedup();
                            ids.len() == items.len() && ids.iter().all(|i| !model.contains_key(i))
                        };
                        prop_assert_eq!(map.insert_chunk(c, items.clone()), fresh);
                        if fresh {
                            model.extend(items.iter().map(|(o, v)| (o.0, *v)));
                        }
                    }
                    Step::Snapshot => pinned.push((map.clone(), model.clone())),
                }
                prop_assert_eq!(map.len(), model.len());
            }
            for (map, model) in pinned.iter().chain(std::iter::once(&(map.clone(), model.clone()))) {
                let mut seen: Vec<(u64, u32)> = map.iter().map(|(o, v)| (o.0, *v)).collect();
                seen.sort_unstable();
                let expected: Vec<(u64, u32)> = model.iter().map(|(o, v)| (*o, *v)).collect();
                prop_assert_eq!(&seen, &expected);
                for o in 0..300u64 {
                    prop_assert_eq!(map.get(&OrgId(o)), model.get(&o));
                }
                let rebuilt: OrgMap<u32> = model.iter().map(|(o, v)| (OrgId(*o), *v)).collect();
                prop_assert!(&rebuilt == map);
            }
        }
    }

    #[test]
    fn a_chunk_with_a_foreign_id_changes_nothing() {
        let mut map = OrgMap::<u32>::default();
        assert!(map.insert_chunk(1, vec![(OrgId(64), 1)]));
        assert!(!map.insert_chunk(1, vec![(OrgId(65), 2), (OrgId(0), 3)]));
        assert!(!map.insert_chunk(1, vec![(OrgId(64), 4)]));
        assert_eq!(map.len(), 1);
        assert_eq!(map.get(&OrgId(64)), Some(&1));
        assert_eq!(map.get(&OrgId(65)), None);
    }
}
