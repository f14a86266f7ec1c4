//! Index definitions: table, key columns, included (covered) columns, optional predicate.
//!
//! Every index is local to one ledger partition and one org, so `org_id` is its implicit first
//! key column, and `(occurred_at, entry_id)` its implicit last ones (they make keys unique and
//! point at the row). Key and included values are stored as order-preserving `i64`s.

use crate::model::{Category, ExpenseStatus, Kind, PaymentMethod};
use crate::state::ledger::Row;
use std::fmt;
use std::str::FromStr;

pub use crate::limits::MAX_KEY_COLUMNS;
pub use crate::limits::MAX_INCLUDED_COLUMNS;

/// A column of the revenues / expenses tables an index can hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Column {
    /// When the money moved, in UTC seconds.
    OccurredAt,
    /// The entry id.
    EntryId,
    /// The signed amount in minor units: a reversal is negative.
    Amount,
    /// The entry's category (its code).
    Category,
    /// The entry's payment method (its code).
    PaymentMethod,
    /// Expenses only: pending or paid (current).
    Status,
    /// Business day in the org's time zone.
    Day,
}

impl Column {
    /// Every column, in code order.
    pub const ALL: [Column; 7] = [
        Column::OccurredAt,
        Column::EntryId,
        Column::Amount,
        Column::Category,
        Column::PaymentMethod,
        Column::Status,
        Column::Day,
    ];

    /// The column's name in queries and index definitions, e.g. `occurred_at`.
    pub fn name(self) -> &'static str {
        match self {
            Column::OccurredAt => "occurred_at",
            Column::EntryId => "entry_id",
            Column::Amount => "amount",
            Column::Category => "category",
            Column::PaymentMethod => "payment_method",
            Column::Status => "status",
            Column::Day => "day",
        }
    }

    /// Whether the table has this column.
    pub fn in_table(self, table: Kind) -> bool {
        self != Column::Status || table == Kind::Expense
    }

    /// The row's value, as an order-preserving integer. `key` is the row's (occurred_at, id).
    /// `amount` is the signed effect: negative for a reversal.
    pub fn value(self, key: (i64, u64), row: &Row) -> i64 {
        match self {
            Column::OccurredAt => key.0,
            Column::EntryId => key.1 as i64,
            Column::Amount => row.signed_amount(),
            Column::Category => row.category.code() as i64,
            Column::PaymentMethod => row.payment_method.code() as i64,
            Column::Status => current_status(row).map_or(0, |s| s.code() as i64),
            Column::Day => i64::from(row.day.days()),
        }
    }
}

impl Column {
    /// Stable one-byte code used in log records.
    pub fn code(self) -> u8 {
        match self {
            Column::OccurredAt => 1,
            Column::EntryId => 2,
            Column::Amount => 3,
            Column::Category => 4,
            Column::PaymentMethod => 5,
            Column::Status => 6,
            Column::Day => 7,
        }
    }

    /// The column with this log-record code; `None` for a code no column has.
    pub fn from_code(code: u8) -> Option<Column> {
        Column::ALL.into_iter().find(|c| c.code() == code)
    }
}

impl FromStr for Column {
    type Err = ();
    fn from_str(s: &str) -> Result<Column, ()> {
        Column::ALL.into_iter().find(|c| c.name() == s).ok_or(())
    }
}

impl fmt::Display for Column {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Current status of a stored row (`None` for revenues and reversals).
pub fn current_status(row: &Row) -> Option<ExpenseStatus> {
    status_of(row.posted_status, row.paid_at.is_some())
}

/// Current status of a row posted with status code `posted_status` (0: a revenue or a
/// reversal) that carries a payment mark or not.
pub fn status_of(posted_status: u8, paid: bool) -> Option<ExpenseStatus> {
    match (posted_status, paid) {
        (0, _) => None,
        (_, true) => Some(ExpenseStatus::Paid),
        (code, false) => ExpenseStatus::from_code(code),
    }
}

/// A partial index's condition on a row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Predicate {
    /// Expenses whose current status is this one (a posting paid later counts as paid).
    StatusIs(ExpenseStatus),
    /// Rows moved with this payment method.
    PaymentMethodIs(PaymentMethod),
    /// Rows of this category.
    CategoryIs(Category),
    /// Rows whose signed amount, in minor units, is at least this (a reversal is negative).
    AmountAtLeast(i64),
}

impl Predicate {
    /// Whether a row meets the condition.
    pub fn matches(&self, row: &Row) -> bool {
        match *self {
            Predicate::StatusIs(s) => current_status(row) == Some(s),
            Predicate::PaymentMethodIs(p) => row.payment_method == p,
            Predicate::CategoryIs(c) => row.category == c,
            Predicate::AmountAtLeast(min) => row.signed_amount() >= min,
        }
    }

    /// The column the condition is on.
    pub fn column(&self) -> Column {
        match self {
            Predicate::StatusIs(_) => Column::Status,
            Predicate::PaymentMethodIs(_) => Column::PaymentMethod,
            Predicate::CategoryIs(_) => Column::Category,
            Predicate::AmountAtLeast(_) => Column::Amount,
        }
    }
}

impl fmt::Display for Predicate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Predicate::StatusIs(s) => write!(f, "status = {s}"),
            Predicate::PaymentMethodIs(p) => write!(f, "payment_method = {p}"),
            Predicate::CategoryIs(c) => write!(f, "category = {c}"),
            Predicate::AmountAtLeast(a) => write!(f, "amount >= {a}"),
        }
    }
}

impl FromStr for Predicate {
    type Err = ();
    /// Parses `status=pending`, `payment_method=cash`, `category=rooms`, `amount>=500`.
    fn from_str(s: &str) -> Result<Predicate, ()> {
        let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
        if let Some(v) = s.strip_prefix("amount>=") {
            return v.parse().map(Predicate::AmountAtLeast).map_err(|_| ());
        }
        let (column, value) = s.split_once('=').ok_or(())?;
        match column {
            "status" => value.parse().map(Predicate::StatusIs),
            "payment_method" => value.parse().map(Predicate::PaymentMethodIs),
            "category" => value.parse().map(Predicate::CategoryIs),
            _ => Err(()),
        }
    }
}

/// A declared index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexDef {
    /// Unique name, 1 to 64 characters of `[a-z0-9_]`.
    pub name: String,
    /// The ledger indexed.
    pub table: Kind,
    /// Declared key columns after the implicit `org_id`.
    pub key: Vec<Column>,
    /// Covered columns stored in the index.
    pub include: Vec<Column>,
    /// A partial index's condition: only rows that meet it are in the index; `None` for all
    /// rows.
    pub predicate: Option<Predicate>,
}

/// Why an index definition is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IndexDefError {
    /// The name is empty, longer than 64 bytes, or has a character outside `[a-z0-9_]`.
    #[error("index name must be 1..=64 characters of [a-z0-9_]")]
    BadName,
    /// A key, included or predicate column the table lacks (`status` on revenues).
    #[error("table {table} has no column {column}")]
    NoSuchColumn {
        /// The table's name, `revenues` or `expenses`.
        table: &'static str,
        /// The column's name.
        column: &'static str,
    },
    /// More than [`MAX_KEY_COLUMNS`] key or [`MAX_INCLUDED_COLUMNS`] included columns.
    #[error(
        "an index has at most {MAX_KEY_COLUMNS} key and {MAX_INCLUDED_COLUMNS} included columns"
    )]
    TooManyColumns,
    /// A column listed twice among the key and included columns; holds its name.
    #[error("column {0} appears twice")]
    DuplicateColumn(&'static str),
}

impl IndexDef {
    /// A definition; nothing is checked until [`IndexDef::validate`] (which
    /// [`crate::Db::create_index`] runs).
    pub fn new(
        name: &str,
        table: Kind,
        key: &[Column],
        include: &[Column],
        predicate: Option<Predicate>,
    ) -> IndexDef {
        IndexDef {
            name: name.to_string(),
            table,
            key: key.to_vec(),
            include: include.to_vec(),
            predicate,
        }
    }

    /// Checks the definition against its table and the limits.
    ///
    /// # Errors
    /// `IndexDefError::BadName`, `TooManyColumns`, `NoSuchColumn` or `DuplicateColumn`: the
    /// first that applies, in that order (see the variants' texts).
    /// [`crate::Db::create_index`] returns it as [`crate::Rejection::InvalidIndex`].
    pub fn validate(&self) -> Result<(), IndexDefError> {
        let name_ok = (1..=64).contains(&self.name.len())
            && self
                .name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !name_ok {
            return Err(IndexDefError::BadName);
        }
        if self.key.len() > MAX_KEY_COLUMNS || self.include.len() > MAX_INCLUDED_COLUMNS {
            return Err(IndexDefError::TooManyColumns);
        }
        let mut seen = Vec::new();
        let columns = self.key.iter().chain(&self.include).copied();
        for column in columns.chain(self.predicate.map(|p| p.column())) {
            if !column.in_table(self.table) {
                return Err(IndexDefError::NoSuchColumn {
                    table: table_name(self.table),
                    column: column.name(),
                });
            }
        }
        for column in self.key.iter().chain(&self.include) {
            if seen.contains(column) {
                return Err(IndexDefError::DuplicateColumn(column.name()));
            }
            seen.push(*column);
        }
        Ok(())
    }

    /// Whether the index stores `column` (so a query needing it is covered).
    pub fn covers(&self, column: Column) -> bool {
        matches!(column, Column::OccurredAt | Column::EntryId)
            || self.key.contains(&column)
            || self.include.contains(&column)
            || self.fixed_value(column).is_some()
    }

    /// The value every entry has in `column` because the predicate requires it.
    pub fn fixed_value(&self, column: Column) -> Option<i64> {
        match (self.predicate?, column) {
            (Predicate::StatusIs(s), Column::Status) => Some(s.code() as i64),
            (Predicate::PaymentMethodIs(p), Column::PaymentMethod) => Some(p.code() as i64),
            (Predicate::CategoryIs(c), Column::Category) => Some(c.code() as i64),
            _ => None,
        }
    }

    /// Whether a row belongs in this index.
    pub fn admits(&self, row: &Row) -> bool {
        self.predicate.is_none_or(|p| p.matches(row))
    }
}

impl IndexDef {
    /// The log record that creates (or, with `create = false`, drops) this index.
    pub fn record(&self, create: bool) -> crate::codec::record::IndexRecord {
        let (predicate, predicate_value) = match self.predicate {
            None => (0, 0),
            Some(Predicate::StatusIs(s)) => (1, s.code() as i64),
            Some(Predicate::PaymentMethodIs(p)) => (2, p.code() as i64),
            Some(Predicate::CategoryIs(c)) => (3, c.code() as i64),
            Some(Predicate::AmountAtLeast(a)) => (4, a),
        };
        crate::codec::record::IndexRecord {
            create,
            name: self.name.clone(),
            table: self.table.code(),
            key: self.key.iter().map(|c| c.code()).collect(),
            include: self.include.iter().map(|c| c.code()).collect(),
            predicate,
            predicate_value,
        }
    }

    /// The definition a log record describes; `None` for unknown codes.
    pub fn from_record(r: &crate::codec::record::IndexRecord) -> Option<IndexDef> {
        let columns = |codes: &[u8]| {
            codes
                .iter()
                .map(|c| Column::from_code(*c))
                .collect::<Option<Vec<_>>>()
        };
        let code = |v: i64| u8::try_from(v).ok();
        let predicate = match r.predicate {
            0 => None,
            1 => Some(Predicate::StatusIs(ExpenseStatus::from_code(code(
                r.predicate_value,
            )?)?)),
            2 => Some(Predicate::PaymentMethodIs(PaymentMethod::from_code(code(
                r.predicate_value,
            )?)?)),
            3 => Some(Predicate::CategoryIs(Category::from_code(code(
                r.predicate_value,
            )?)?)),
            4 => Some(Predicate::AmountAtLeast(r.predicate_value)),
            _ => return None,
        };
        Some(IndexDef {
            name: r.name.clone(),
            table: Kind::from_code(r.table)?,
            key: columns(&r.key)?,
            include: columns(&r.include)?,
            predicate,
        })
    }
}

/// The name of a ledger as a table: `revenues` or `expenses`.
pub fn table_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Revenue => "revenues",
        Kind::Expense => "expenses",
    }
}

impl fmt::Display for IndexDef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cols = |cs: &[Column]| cs.iter().map(|c| c.name()).collect::<Vec<_>>().join(", ");
        write!(f, "{} ON {} (org_id", self.name, table_name(self.table))?;
        if !self.key.is_empty() {
            write!(f, ", {}", cols(&self.key))?;
        }
        write!(f, ", occurred_at, entry_id)")?;
        if !self.include.is_empty() {
            write!(f, " INCLUDE ({})", cols(&self.include))?;
        }
        if let Some(p) = self.predicate {
            write!(f, " WHERE {p}")?;
        }
        Ok(())
    }
}

/// The default hospitality set: the secondary indexes of the reference PostgreSQL schema (the
/// `(org_id, occurred_at)` ones are Folio's clustered order and need no separate index).
pub fn default_set() -> Vec<IndexDef> {
    use Column::*;
    let mut set = Vec::new();
    for table in [Kind::Revenue, Kind::Expense] {
        let t = table_name(table);
        set.push(IndexDef::new(
            &format!("{t}_org_cat_time"),
            table,
            &[Category],
            &[Amount],
            None,
        ));
        set.push(IndexDef::new(
            &format!("{t}_org_pm_time"),
            table,
            &[PaymentMethod],
            &[Amount],
            None,
        ));
    }
    set.push(IndexDef::new(
        "expenses_pending",
        Kind::Expense,
        &[],
        &[Amount, Category],
        Some(Predicate::StatusIs(ExpenseStatus::Pending)),
    ));
    set
}
