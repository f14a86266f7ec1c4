//! Planning a query: partition pruning (month partitions by time range, balance shards by org)
//! and index choice (equality columns matched against key prefixes, partial-index predicates,
//! covering preferred). `explain` returns the plan without running it.

use super::builder::{GroupBy, Query};
use crate::error::Result;
use crate::model::{BusinessDay, Kind, Month};
use crate::state::index::{Column, IndexCatalog, IndexDef, Predicate};
use crate::state::ledger::{OrgMonthLedger, PartitionId};
use crate::state::State;
use std::fmt;

/// How one table is read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Access {
    /// The org's rows in (occurred_at, entry_id) order within each partition.
    Clustered,
    /// An index: its name, how many leading key columns the query fixes, whether the index holds
    /// every column the query needs (no row lookups).
    Index {
        /// The index's name.
        name: String,
        /// Position of the index among its table's declared indexes, in the order
        /// [`crate::Db::indexes`] lists them (the order of each ledger's index parts).
        slot: usize,
        /// Leading key columns the query fixes by equality (0: the index is read whole per org).
        prefix: usize,
        /// Whether the index holds every column the query needs, so no row is read.
        covered: bool,
    },
    /// No org given: every org's rows of each touched partition.
    Scan,
}

/// The plan of one query.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    /// Ledger partitions read, in the order they are read.
    pub partitions: Vec<PartitionId>,
    /// Ledger partitions of the queried tables that exist.
    pub partitions_total: usize,
    /// Access per table.
    pub access: Vec<(Kind, Access)>,
    /// Rows (or index entries) the plan expects to visit.
    pub estimated_rows: u64,
    /// The partitions read that are frozen, with the version of the month's file in force (the
    /// others are open: in memory).
    pub frozen: Vec<(PartitionId, u32)>,
}

impl Plan {
    /// The version of the frozen file a read partition comes from; `None` when it is open.
    pub fn frozen_version(&self, pid: PartitionId) -> Option<u32> {
        self.frozen
            .iter()
            .find(|(p, _)| *p == pid)
            .map(|(_, version)| *version)
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "partitions {}/{}",
            self.partitions.len(),
            self.partitions_total
        )?;
        if !self.partitions.is_empty() {
            write!(f, " (")?;
            for (i, pid) in self.partitions.iter().enumerate() {
                let sep = if i == 0 { "" } else { ", " };
                match self.frozen_version(*pid) {
                    Some(version) => write!(f, "{sep}{} frozen v{version}", pid.tree_name())?,
                    None => write!(f, "{sep}{} open", pid.tree_name())?,
                }
            }
            write!(f, ")")?;
        }
        for (kind, access) in &self.access {
            let table = crate::state::index::def::table_name(*kind);
            match access {
                Access::Clustered => write!(f, "; {table}: clustered (org, occurred_at)")?,
                Access::Scan => write!(f, "; {table}: scan of every org")?,
                Access::Index {
                    name,
                    prefix,
                    covered,
                    ..
                } => write!(
                    f,
                    "; {table}: index {name} (prefix {prefix}{})",
                    if *covered { ", covered" } else { "" }
                )?,
            }
        }
        write!(f, "; estimated rows {}", self.estimated_rows)
    }
}

/// The query's equality value for a key column, if it fixes one.
fn equality(query: &Query, column: Column) -> Option<i64> {
    match column {
        Column::Category => query.category.map(|c| c.code() as i64),
        Column::PaymentMethod => query.payment_method.map(|p| p.code() as i64),
        Column::Status => query.status.map(|s| s.code() as i64),
        _ => None,
    }
}

/// The equality values of the leading key columns the query fixes.
pub fn prefix_values(def: &IndexDef, query: &Query) -> Vec<i64> {
    def.key.iter().map_while(|c| equality(query, *c)).collect()
}

/// Whether every row the query wants satisfies the index's predicate.
fn predicate_implied(predicate: Option<Predicate>, query: &Query) -> bool {
    match predicate {
        None => true,
        Some(Predicate::StatusIs(s)) => query.status == Some(s),
        Some(Predicate::PaymentMethodIs(p)) => query.payment_method == Some(p),
        Some(Predicate::CategoryIs(c)) => query.category == Some(c),
        Some(Predicate::AmountAtLeast(x)) => query.amount.0.is_some_and(|min| min >= x),
    }
}

/// Columns the query reads: filters, group key, aggregate; rows need every column.
pub fn needed_columns(query: &Query) -> Option<Vec<Column>> {
    let mut cols = match (query.group_by, &query.select) {
        (Some(group), _) => {
            let mut cols = vec![Column::Amount];
            match group {
                GroupBy::Category => cols.push(Column::Category),
                GroupBy::PaymentMethod => cols.push(Column::PaymentMethod),
                GroupBy::Day => cols.push(Column::Day),
                GroupBy::Month | GroupBy::Nothing => {}
            }
            cols
        }
        (None, Some(select)) => select.clone(),
        (None, None) => return None,
    };
    if query.category.is_some() {
        cols.push(Column::Category);
    }
    if query.payment_method.is_some() {
        cols.push(Column::PaymentMethod);
    }
    if query.status.is_some() {
        cols.push(Column::Status);
    }
    if query.days.is_some() {
        cols.push(Column::Day);
    }
    if query.amount != (None, None) {
        cols.push(Column::Amount);
    }
    Some(cols)
}

/// Chooses how to read `kind` for an org-constrained query, among the ready indexes of
/// `catalog`.
pub(super) fn choose(catalog: &IndexCatalog, kind: Kind, query: &Query) -> Access {
    let needed = needed_columns(query);
    let mut best: Option<((usize, bool), Access)> = None;
    for (slot, def) in catalog.ready(kind) {
        if !predicate_implied(def.predicate, query) {
            continue;
        }
        let prefix = prefix_values(def, query).len();
        let selective = prefix + usize::from(def.predicate.is_some());
        if selective == 0 {
            continue;
        }
        let covered = needed
            .as_ref()
            .is_some_and(|cols| cols.iter().all(|c| def.covers(*c)));
        let score = (selective, covered);
        if best.as_ref().is_none_or(|(s, _)| score > *s) {
            best = Some((
                score,
                Access::Index {
                    name: def.name.clone(),
                    slot,
                    prefix,
                    covered,
                },
            ));
        }
    }
    best.map_or(Access::Clustered, |(_, access)| access)
}

/// UTC months a query's time and day filters can touch (business days lie within a day of UTC).
/// An empty or inverted range gives `lo > hi`.
fn month_bounds(query: &Query) -> (Month, Month) {
    let mut lo = Month::MIN;
    let mut hi = Month::MAX;
    if let Some((from, to)) = query.time {
        if to <= from {
            return (Month::MAX, Month::MIN);
        }
        // `from <= occurred_at < to`, and `to > from` so `to - 1` cannot overflow.
        lo = lo.max(Month::of_utc_clamped(from));
        hi = hi.min(Month::of_utc_clamped(to - 1));
    }
    if let Some((first, last)) = query.days {
        let bound = |day: BusinessDay, days: i64, month: Month| {
            day.checked_add_days(days).map_or(month, |d| d.month())
        };
        lo = lo.max(bound(first, -1, Month::MIN));
        hi = hi.min(bound(last, 1, Month::MAX));
    }
    (lo, hi)
}

impl State {
    /// Plans a query without running it. Partitions of frozen months count where their file
    /// or overlay holds rows of their table, as open ones where they exist.
    ///
    /// # Errors
    /// [`crate::Error::Corruption`] when a part of a frozen month's file it reads fails its
    /// check.
    pub fn plan(&self, query: &Query) -> Result<Plan> {
        #[cfg(test)]
        crate::test_hooks::reached(crate::test_hooks::Point::Scan);
        let (lo, hi) = month_bounds(query);
        let mut partitions = Vec::new();
        let mut frozen = Vec::new();
        let mut total = 0;
        let mut access = Vec::new();
        let mut estimated = 0u64;
        for &kind in query.tables.kinds() {
            let all = PartitionId {
                kind,
                month: Month::MIN,
            }..=PartitionId {
                kind,
                month: Month::MAX,
            };
            total += self.ledgers.range(all).count();
            for month in self.frozen.months().keys() {
                let pid = PartitionId {
                    kind,
                    month: *month,
                };
                if !self.ledgers.contains_key(&pid) && self.partition_has_rows(pid)? {
                    total += 1;
                }
            }
            let table_access = if query.org.is_some() {
                choose(&self.catalog, kind, query)
            } else {
                Access::Scan
            };
            for pid in self.partitions_in(kind, lo, hi) {
                let Some(version) = self.frozen_version(pid.month) else {
                    let Some(bucket) = self.ledgers.get(&pid) else {
                        continue;
                    };
                    estimated += match query.org {
                        Some(org) => bucket
                            .orgs
                            .get(&org)
                            .map_or(0, |l| estimate(l, kind, &table_access, self, query)),
                        None => bucket.orgs.values().map(|l| l.rows.len() as u64).sum(),
                    };
                    partitions.push(pid);
                    continue;
                };
                if !self.partition_has_rows(pid)? {
                    continue;
                }
                estimated += match query.org {
                    Some(org) => self
                        .org_ledger(pid, org)?
                        .map_or(0, |l| estimate(&l, kind, &table_access, self, query)),
                    None => {
                        let mut rows = 0u64;
                        for org in self.partition_orgs(pid)? {
                            rows += self.org_row_count(pid, org)?;
                        }
                        rows
                    }
                };
                partitions.push(pid);
                frozen.push((pid, version));
            }
            access.push((kind, table_access));
        }
        partitions.sort_by_key(|p| (p.month, p.kind));
        frozen.sort_by_key(|(p, _)| (p.month, p.kind));
        Ok(Plan {
            partitions,
            partitions_total: total,
            access,
            estimated_rows: estimated,
            frozen,
        })
    }
}

/// Rows (or index entries) an access visits in one org's ledger.
fn estimate(
    ledger: &OrgMonthLedger,
    kind: Kind,
    access: &Access,
    state: &State,
    query: &Query,
) -> u64 {
    match access {
        Access::Index { slot, .. } if ledger.has_indexes() => {
            match state.catalog.of_table(kind).nth(*slot) {
                Some((_, def)) => {
                    let prefix = prefix_values(def, query);
                    ledger.indexes[*slot]
                        .runs_with_prefix(&prefix)
                        .map(|(_, run)| run.len() as u64)
                        .sum()
                }
                None => ledger.rows.len() as u64,
            }
        }
        _ => ledger.rows.len() as u64,
    }
}
