//! A small ordered map from month to value: a sorted `Vec`, grown exactly. An org's balances
//! hold one value per month in memory (one to a few once older months are frozen), where a
//! `BTreeMap` would take a whole node of 11 slots for them.

use crate::model::Month;

/// Months in increasing order with their values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MonthMap<V>(Vec<(Month, V)>);

impl<V> Default for MonthMap<V> {
    fn default() -> MonthMap<V> {
        MonthMap(Vec::new())
    }
}

impl<V> MonthMap<V> {
    fn find(&self, month: &Month) -> Result<usize, usize> {
        self.0.binary_search_by(|(m, _)| m.cmp(month))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn get(&self, month: &Month) -> Option<&V> {
        self.find(month).ok().map(|i| &self.0[i].1)
    }

    pub fn get_mut(&mut self, month: &Month) -> Option<&mut V> {
        self.find(month).ok().map(|i| &mut self.0[i].1)
    }

    /// The value of `month`, inserted as `V::default()` when absent.
    pub fn get_or_insert_default(&mut self, month: Month) -> &mut V
    where
        V: Default,
    {
        let i = match self.find(&month) {
            Ok(i) => i,
            Err(i) => {
                super::memory::reserve_one(&mut self.0);
                self.0.insert(i, (month, V::default()));
                i
            }
        };
        &mut self.0[i].1
    }

    /// Sets the value of `month`; the value it replaced.
    pub fn insert(&mut self, month: Month, value: V) -> Option<V> {
        match self.find(&month) {
            Ok(i) => Some(std::mem::replace(&mut self.0[i].1, value)),
            Err(i) => {
                super::memory::reserve_one(&mut self.0);
                self.0.insert(i, (month, value));
                None
            }
        }
    }

    pub fn remove(&mut self, month: &Month) -> Option<V> {
        let i = self.find(month).ok()?;
        let (_, value) = self.0.remove(i);
        if self.0.len() <= self.0.capacity() / 2 {
            self.0.shrink_to_fit();
        }
        Some(value)
    }

    /// The first month.
    pub fn first_month(&self) -> Option<Month> {
        self.0.first().map(|(m, _)| *m)
    }

    /// Months in increasing order.
    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &Month> {
        self.0.iter().map(|(m, _)| m)
    }

    pub fn values(&self) -> impl DoubleEndedIterator<Item = &V> {
        self.0.iter().map(|(_, v)| v)
    }

    pub fn values_mut(&mut self) -> impl DoubleEndedIterator<Item = &mut V> {
        self.0.iter_mut().map(|(_, v)| v)
    }

    /// (month, value) in increasing month order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (&Month, &V)> {
        self.0.iter().map(|(m, v)| (m, v))
    }

    /// Bytes of the vector's buffer.
    pub fn heap_bytes(&self) -> usize {
        self.0.capacity() * std::mem::size_of::<(Month, V)>()
    }
}

impl<'a, V> IntoIterator for &'a MonthMap<V> {
    type Item = (&'a Month, &'a V);
    type IntoIter = std::iter::Map<std::slice::Iter<'a, (Month, V)>, fn(&'a (Month, V)) -> (&'a Month, &'a V)>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter().map(|(m, v)| (m, v))
    }
}

#[cfg(test)]
mod tests {
    use super::MonthMap;
    use crate::model::Month;
    use std::collections::BTreeMap;

    proptest::proptest! {
        /// Any sequence of inserts and removes leaves the same months and values as a BTreeMap.
        #[test]
        fn behaves_as_an_ordered_map(ops in proptest::collection::vec((0u32..40, 0u8..3, 0i64..9), 0..200)) {
            let mut map = MonthMap::default();
            let mut model = BTreeMap::new();
            for (m, op, v) in ops {
                let month = Month::from_ym(2020 + (m / 12) as i32, 1 + m % 12).unwrap();
                match op {
                    0 => proptest::prop_assert_eq!(map.insert(month, v), model.insert(month, v)),
                    1 => proptest::prop_assert_eq!(map.remove(&month), model.remove(&month)),
                    _ => {
                        *map.get_or_insert_default(month) += v;
                        *model.entry(month).or_default() += v;
                    }
                }
                proptest::prop_assert_eq!(map.len(), model.len());
                let got: Vec<_> = map.iter().map(|(m, v)| (*m, *v)).collect();
                let want: Vec<_> = model.iter().map(|(m, v)| (*m, *v)).collect();
                proptest::prop_assert_eq!(got, want);
                proptest::prop_assert_eq!(map.get(&month), model.get(&month));
            }
        }
    }
}
