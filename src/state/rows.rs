//! The rows of one org-month ledger, ordered by `(occurred_at, entry_id)`.
//!
//! Most ledgers are small: hotel-ledger-v1 spreads a million entries over 10,000 orgs, 12 months
//! and 2 kinds, about four rows per ledger. A `BTreeMap` gives each of them a whole leaf node
//! (room for 11 rows, ~1 KiB) and sparse nodes later on, so a ledger keeps its rows in one sorted
//! `Vec` until it has [`SMALL_ROWS`] of them (an insert moves at most that many rows; appends in
//! time order move none) and in a `BTreeMap` after that. Readers see the same ordered map either
//! way.

use super::ledger::Row;
use std::collections::btree_map;
use std::collections::BTreeMap;
use std::ops::{Bound, RangeBounds};

/// A row's key in its ledger.
pub type RowKey = (i64, u64);

pub use crate::limits::SMALL_ROWS;

/// The rows of one ledger: an ordered map from [`RowKey`] to [`Row`].
#[derive(Clone, Default)]
pub struct Rows(Repr);

#[derive(Clone)]
enum Repr {
    /// Sorted by key, no duplicates, at most `SMALL_ROWS` long.
    Small(Vec<(RowKey, Row)>),
    Large(BTreeMap<RowKey, Row>),
}

impl Default for Repr {
    fn default() -> Repr {
        Repr::Small(Vec::new())
    }
}

impl Rows {
    pub fn len(&self) -> usize {
        match &self.0 {
            Repr::Small(v) => v.len(),
            Repr::Large(m) => m.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Heap bytes of the rows (estimated for the `BTreeMap` form), references included.
    pub fn heap_bytes(&self) -> usize {
        let entry = std::mem::size_of::<(RowKey, Row)>();
        let table = match &self.0 {
            Repr::Small(v) => v.capacity() * entry,
            Repr::Large(m) => super::memory::btree_bytes(m.len(), entry),
        };
        table + self.values().map(|r| r.reference.len()).sum::<usize>()
    }

    pub fn get(&self, key: &RowKey) -> Option<&Row> {
        match &self.0 {
            Repr::Small(v) => v
                .binary_search_by(|(k, _)| k.cmp(key))
                .ok()
                .map(|i| &v[i].1),
            Repr::Large(m) => m.get(key),
        }
    }

    pub fn get_mut(&mut self, key: &RowKey) -> Option<&mut Row> {
        match &mut self.0 {
            Repr::Small(v) => match v.binary_search_by(|(k, _)| k.cmp(key)) {
                Ok(i) => Some(&mut v[i].1),
                Err(_) => None,
            },
            Repr::Large(m) => m.get_mut(key),
        }
    }

    pub fn contains_key(&self, key: &RowKey) -> bool {
        self.get(key).is_some()
    }

    /// Inserts a row; an existing row of the same key is replaced and returned (as
    /// `BTreeMap::insert` does).
    pub fn insert(&mut self, key: RowKey, row: Row) -> Option<Row> {
        match &mut self.0 {
            Repr::Small(v) => {
                // Rows mostly arrive in time order: check the end before searching.
                let at = match v.last() {
                    None => 0,
                    Some((last, _)) if *last < key => v.len(),
                    Some(_) => match v.binary_search_by(|(k, _)| k.cmp(&key)) {
                        Ok(i) => return Some(std::mem::replace(&mut v[i].1, row)),
                        Err(i) => i,
                    },
                };
                if v.len() < SMALL_ROWS {
                    super::memory::reserve_one(v);
                    v.insert(at, (key, row));
                } else {
                    let mut map: BTreeMap<RowKey, Row> = std::mem::take(v).into_iter().collect();
                    map.insert(key, row);
                    self.0 = Repr::Large(map);
                }
                None
            }
            Repr::Large(m) => m.insert(key, row),
        }
    }

    /// Rows in key order.
    pub fn iter(&self) -> Iter<'_> {
        self.range(..)
    }

    /// Rows whose key lies in `range`, in key order (reversible).
    pub fn range<R: RangeBounds<RowKey>>(&self, range: R) -> Iter<'_> {
        match &self.0 {
            Repr::Small(v) => {
                let start = match range.start_bound() {
                    Bound::Included(s) => v.partition_point(|(k, _)| k < s),
                    Bound::Excluded(s) => v.partition_point(|(k, _)| k <= s),
                    Bound::Unbounded => 0,
                };
                let end = match range.end_bound() {
                    Bound::Included(e) => v.partition_point(|(k, _)| k <= e),
                    Bound::Excluded(e) => v.partition_point(|(k, _)| k < e),
                    Bound::Unbounded => v.len(),
                };
                Iter(IterRepr::Small(v[start.min(end)..end].iter()))
            }
            Repr::Large(m) => {
                let empty = match (range.start_bound(), range.end_bound()) {
                    (Bound::Included(s) | Bound::Excluded(s), Bound::Included(e))
                    | (Bound::Included(s), Bound::Excluded(e)) => s > e,
                    (Bound::Excluded(s), Bound::Excluded(e)) => s >= e,
                    _ => false,
                };
                if empty {
                    // `BTreeMap::range` panics on a range that ends before it starts.
                    return Iter(IterRepr::Small([].iter()));
                }
                Iter(IterRepr::Large(m.range(range)))
            }
        }
    }

    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &RowKey> {
        self.iter().map(|(k, _)| k)
    }

    pub fn values(&self) -> impl DoubleEndedIterator<Item = &Row> {
        self.iter().map(|(_, r)| r)
    }
}

impl<'a> IntoIterator for &'a Rows {
    type Item = (&'a RowKey, &'a Row);
    type IntoIter = Iter<'a>;

    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

impl FromIterator<(RowKey, Row)> for Rows {
    fn from_iter<I: IntoIterator<Item = (RowKey, Row)>>(items: I) -> Rows {
        let mut rows = Rows::default();
        for (key, row) in items {
            rows.insert(key, row);
        }
        rows
    }
}

impl PartialEq for Rows {
    fn eq(&self, other: &Rows) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl Eq for Rows {}

impl std::fmt::Debug for Rows {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

/// Iterator over rows in key order, from either representation.
#[derive(Clone)]
pub struct Iter<'a>(IterRepr<'a>);

#[derive(Clone)]
enum IterRepr<'a> {
    Small(std::slice::Iter<'a, (RowKey, Row)>),
    Large(btree_map::Range<'a, RowKey, Row>),
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a RowKey, &'a Row);

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        match &mut self.0 {
            IterRepr::Small(it) => it.next().map(|(k, r)| (k, r)),
            IterRepr::Large(it) => it.next(),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match &self.0 {
            IterRepr::Small(it) => it.size_hint(),
            IterRepr::Large(it) => it.size_hint(),
        }
    }
}

impl DoubleEndedIterator for Iter<'_> {
    #[inline]
    fn next_back(&mut self) -> Option<Self::Item> {
        match &mut self.0 {
            IterRepr::Small(it) => it.next_back().map(|(k, r)| (k, r)),
            IterRepr::Large(it) => it.next_back(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{BusinessDay, Category, PaymentMethod};
    use proptest::prelude::*;

    fn row(amount: i64) -> Row {
        Row {
            amount,
            day: BusinessDay::from_days(19_723).unwrap(),
            category: Category::Rooms,
            payment_method: PaymentMethod::Card,
            posted_status: 0,
            paid_at: None,
            reverses: 0,
            reversed_by: 0,
            reference: "".into(),
        }
    }

    fn bound(kind: u8, key: RowKey) -> Bound<RowKey> {
        match kind % 3 {
            0 => Bound::Included(key),
            1 => Bound::Excluded(key),
            _ => Bound::Unbounded,
        }
    }

    proptest! {
        /// Whatever the inserts (in order, backdated, repeated keys) and however many (across the
        /// switch to a `BTreeMap`), `Rows` answers every lookup and range like a `BTreeMap`.
        #[test]
        fn rows_behave_like_an_ordered_map(
            keys in proptest::collection::vec((0i64..400, 0u64..4, any::<bool>()), 0..400),
            probes in proptest::collection::vec(((0i64..400, 0u64..4), (0i64..400, 0u64..4), 0u8..3, 0u8..3), 1..20),
        ) {
            let mut rows = Rows::default();
            let mut want = BTreeMap::new();
            for (i, (at, id, in_order)) in keys.iter().enumerate() {
                let key = if *in_order { (400 + i as i64, *id) } else { (*at, *id) };
                prop_assert_eq!(rows.insert(key, row(i as i64)), want.insert(key, row(i as i64)));
                prop_assert_eq!(rows.len(), want.len());
            }
            prop_assert!(rows.iter().eq(want.iter()));
            prop_assert!(rows.iter().rev().eq(want.iter().rev()));
            for (a, b, ka, kb) in probes {
                prop_assert_eq!(rows.get(&a), want.get(&a));
                prop_assert_eq!(rows.contains_key(&b), want.contains_key(&b));
                let range = (bound(ka, a), bound(kb, b));
                let empty = matches!((range.0, range.1), (Bound::Included(s) | Bound::Excluded(s), Bound::Included(e)) | (Bound::Included(s), Bound::Excluded(e)) if s > e)
                    || matches!((range.0, range.1), (Bound::Excluded(s), Bound::Excluded(e)) if s >= e);
                if empty {
                    prop_assert_eq!(rows.range(range).count(), 0);
                } else {
                    prop_assert!(rows.range(range).eq(want.range(range)));
                    prop_assert!(rows.range(range).rev().eq(want.range(range).rev()));
                }
                if let Some(r) = rows.get_mut(&a) {
                    r.amount += 1;
                    want.get_mut(&a).unwrap().amount += 1;
                }
            }
            prop_assert!(rows.iter().eq(want.iter()));
            let copy: Rows = want.clone().into_iter().collect();
            prop_assert_eq!(&copy, &rows);
        }
    }
}
