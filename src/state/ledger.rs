//! Month-bucketed ledgers: one partition per (kind, UTC month of `occurred_at`), created on
//! demand; inside, one packed value per org with its rows in (occurred_at, entry_id) order.

use crate::model::{BusinessDay, Category, Kind, Lsn, Month, OrgId, PaymentMethod};
use rustc_hash::FxHashMap as HashMap;
use std::collections::BTreeMap;

/// One ledger row as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    pub amount: i64,
    pub day: BusinessDay,
    pub category: Category,
    pub payment_method: PaymentMethod,
    /// Status code as posted (`codec::record::STATUS_NONE` for revenues and reversals).
    pub posted_status: u8,
    /// Set once a pending expense is paid.
    pub paid_at: Option<i64>,
    /// Entry id this row reverses, 0 when it is a posting.
    pub reverses: u64,
    /// Entry id of the reversal of this row, 0 while not reversed.
    pub reversed_by: u64,
    pub reference: Box<str>,
}

impl Row {
    /// Signed effect on its ledger's total: a reversal counts negative.
    pub fn signed_amount(&self) -> i64 {
        if self.reverses != 0 {
            -self.amount
        } else {
            self.amount
        }
    }
}

/// Rows of one org in one partition: one physical value.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OrgMonthLedger {
    pub rows: BTreeMap<(i64, u64), Row>,
    /// LSN of the checkpoint this value was last written at (0 = never).
    pub persisted: Lsn,
}

/// One partition: a ledger (revenues or expenses) for one calendar month.
#[derive(Clone, Debug, Default)]
pub struct MonthBucket {
    pub orgs: HashMap<OrgId, OrgMonthLedger>,
}

/// Identifies a ledger partition.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PartitionId {
    pub kind: Kind,
    pub month: Month,
}

impl PartitionId {
    pub fn of(kind: Kind, occurred_at: i64) -> PartitionId {
        PartitionId {
            kind,
            month: Month::of_utc(occurred_at),
        }
    }

    /// Name of the partition's tree, e.g. `revenues/2024-03`.
    pub fn tree_name(&self) -> String {
        let table = match self.kind {
            Kind::Revenue => "revenues",
            Kind::Expense => "expenses",
        };
        format!("{table}/{}", self.month)
    }
}
