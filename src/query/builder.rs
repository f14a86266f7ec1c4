//! The typed query builder over revenues and expenses: filters, grouping with aggregates, order,
//! limit and cursor pagination. See `plan.rs` for how a query is planned and `exec.rs` for how
//! it runs.

use crate::error::{Error, Result};
use crate::model::{
    BusinessDay, Category, ExpenseStatus, Kind, Money, OrgId, PaymentMethod, Timestamp,
};

pub use crate::limits::MAX_QUERY_LIMIT;

/// Which ledgers a query reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tables {
    /// The revenue ledger.
    Revenues,
    /// The expense ledger.
    Expenses,
    /// Both ledgers, merged in time order.
    Both,
}

impl Tables {
    /// The ledger kinds read, revenue first.
    pub fn kinds(self) -> &'static [Kind] {
        match self {
            Tables::Revenues => &[Kind::Revenue],
            Tables::Expenses => &[Kind::Expense],
            Tables::Both => &[Kind::Revenue, Kind::Expense],
        }
    }
}

/// Order of returned rows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Order {
    /// (occurred_at, entry id) ascending.
    #[default]
    TimeAsc,
    /// (occurred_at, entry id) descending: newest first.
    TimeDesc,
}

/// What rows are grouped by when aggregating.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GroupBy {
    /// The entry's category.
    Category,
    /// The entry's payment method.
    PaymentMethod,
    /// The org's business day.
    Day,
    /// The UTC month of `occurred_at`.
    Month,
    /// One group for everything.
    Nothing,
}

/// Where a page ended: the next page starts after this row. A cursor is bound to the query that
/// produced it (`query`, [`Query::fingerprint`]): used with another query it is refused
/// (`Error::CursorMismatch`) instead of being taken as a position in another result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cursor {
    /// `occurred_at` of the last row of the page, in UTC seconds.
    pub occurred_at: Timestamp,
    /// Entry id of the last row of the page.
    pub entry_id: u64,
    /// Ledger of the last row of the page.
    pub kind: Kind,
    /// Org of the last row of the page.
    pub org: OrgId,
    /// The fingerprint of the query whose page ended here.
    pub query: u64,
}

const CURSOR_PREFIX: &str = "fc2";

impl Cursor {
    /// An opaque, checked text form:
    /// `fc2.<occurred_at>.<entry_id>.<kind code>.<org>.<query fingerprint>.<check>`.
    pub fn encode(&self) -> String {
        let body = format!(
            "{}.{}.{}.{}.{:016x}",
            self.occurred_at,
            self.entry_id,
            self.kind.code(),
            self.org.0,
            self.query
        );
        format!(
            "{CURSOR_PREFIX}.{body}.{:08x}",
            crc32fast::hash(body.as_bytes())
        )
    }

    /// Parses [`Cursor::encode`]'s text form.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] when the text is not a cursor: a wrong prefix or field count, a
    /// field that does not parse, or a check value that does not match (a cursor edited by hand or
    /// cut short). A well-formed cursor of another query is not caught here but by
    /// [`Query::validate`] ([`Error::CursorMismatch`]).
    pub fn decode(text: &str) -> Result<Cursor> {
        let bad = || Error::InvalidArgument(format!("malformed cursor {text:?}"));
        let mut parts = text.split('.');
        if parts.next() != Some(CURSOR_PREFIX) {
            return Err(bad());
        }
        let fields: Vec<&str> = parts.collect();
        let [at, id, kind, org, query, check] = fields.as_slice() else {
            return Err(bad());
        };
        let body = format!("{at}.{id}.{kind}.{org}.{query}");
        if format!("{:08x}", crc32fast::hash(body.as_bytes())) != *check {
            return Err(bad());
        }
        Ok(Cursor {
            occurred_at: at.parse().map_err(|_| bad())?,
            entry_id: id.parse().map_err(|_| bad())?,
            kind: kind
                .parse::<u8>()
                .ok()
                .and_then(Kind::from_code)
                .ok_or_else(bad)?,
            org: OrgId(org.parse().map_err(|_| bad())?),
            query: u64::from_str_radix(query, 16).map_err(|_| bad())?,
        })
    }

    /// The total order rows are paged in.
    pub fn position(&self) -> (Timestamp, u64, u8, u64) {
        (
            self.occurred_at,
            self.entry_id,
            self.kind.code(),
            self.org.0,
        )
    }
}

/// A query over the ledgers. Build with [`Query::revenues`], [`Query::expenses`] or
/// [`Query::ledger`], then narrow it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Query {
    /// Which ledgers are read.
    pub tables: Tables,
    /// Only this org's entries; `None` reads every org (a scan of each partition touched).
    pub org: Option<OrgId>,
    /// `from <= occurred_at < to`.
    pub time: Option<(Timestamp, Timestamp)>,
    /// Business days, inclusive.
    pub days: Option<(BusinessDay, BusinessDay)>,
    /// Only entries of this category.
    pub category: Option<Category>,
    /// Only entries moved with this payment method.
    pub payment_method: Option<PaymentMethod>,
    /// Only expenses with this current status (a posting paid later counts as paid); expenses
    /// only.
    pub status: Option<ExpenseStatus>,
    /// Signed amount bounds, inclusive.
    pub amount: (Option<i64>, Option<i64>),
    /// Group rows and return aggregates per group instead of rows.
    pub group_by: Option<GroupBy>,
    /// Row order (by `occurred_at`, then entry id).
    pub order: Order,
    /// Rows per page (or groups), `1..=`[`MAX_QUERY_LIMIT`]; 100 by default.
    pub limit: usize,
    /// Start after this cursor's row (the next page).
    pub after: Option<Cursor>,
    /// Return only these columns (a projection); `None` returns whole entries.
    pub select: Option<Vec<crate::state::index::Column>>,
}

impl Query {
    fn on(tables: Tables) -> Query {
        Query {
            tables,
            org: None,
            time: None,
            days: None,
            category: None,
            payment_method: None,
            status: None,
            amount: (None, None),
            group_by: None,
            order: Order::TimeAsc,
            limit: 100,
            after: None,
            select: None,
        }
    }

    /// A query over the revenue ledger, every org, no filter, 100 rows per page.
    pub fn revenues() -> Query {
        Query::on(Tables::Revenues)
    }

    /// A query over the expense ledger, every org, no filter, 100 rows per page.
    pub fn expenses() -> Query {
        Query::on(Tables::Expenses)
    }

    /// Both ledgers, merged in time order.
    pub fn ledger() -> Query {
        Query::on(Tables::Both)
    }

    /// Only this org's entries: reads its rows (or an index of them) in the partitions touched.
    pub fn org(mut self, org: OrgId) -> Query {
        self.org = Some(org);
        self
    }

    /// `from <= occurred_at < to`.
    pub fn between(mut self, from: Timestamp, to: Timestamp) -> Query {
        self.time = Some((from, to));
        self
    }

    /// Business days `from..=to`.
    pub fn days(mut self, from: BusinessDay, to: BusinessDay) -> Query {
        self.days = Some((from, to));
        self
    }

    /// Only entries of this category.
    pub fn category(mut self, category: Category) -> Query {
        self.category = Some(category);
        self
    }

    /// Only entries moved with this payment method.
    pub fn payment_method(mut self, method: PaymentMethod) -> Query {
        self.payment_method = Some(method);
        self
    }

    /// Only expenses with this current status (expenses only: see [`Query::validate`]).
    pub fn status(mut self, status: ExpenseStatus) -> Query {
        self.status = Some(status);
        self
    }

    /// Signed amount in `min..=max` (either bound optional).
    pub fn amount(mut self, min: Option<Money>, max: Option<Money>) -> Query {
        self.amount = (min.map(|m| m.0), max.map(|m| m.0));
        self
    }

    /// Aggregates (sum, count, min, max of the signed amount) per group instead of rows.
    pub fn group_by(mut self, group: GroupBy) -> Query {
        self.group_by = Some(group);
        self
    }

    /// Row order.
    pub fn order(mut self, order: Order) -> Query {
        self.order = order;
        self
    }

    /// At most this many rows (or groups) per page, `1..=`[`MAX_QUERY_LIMIT`].
    pub fn limit(mut self, limit: usize) -> Query {
        self.limit = limit;
        self
    }

    /// Returns only these columns; with an index holding them all, no row is read.
    pub fn select(mut self, columns: &[crate::state::index::Column]) -> Query {
        self.select = Some(columns.to_vec());
        self
    }

    /// Continues after the row a previous page's cursor names.
    pub fn after(mut self, cursor: Cursor) -> Query {
        self.after = Some(cursor);
        self
    }

    /// What a cursor is bound to: a hash (64-bit FNV-1a, stable across builds and processes) of
    /// the rows the query selects and their order — tables, org, time and day ranges, filters,
    /// order. Limit, projection and the index the planner picks leave it unchanged.
    pub fn fingerprint(&self) -> u64 {
        let mut words: Vec<i64> = vec![
            match self.tables {
                Tables::Revenues => 1,
                Tables::Expenses => 2,
                Tables::Both => 3,
            },
            match self.order {
                Order::TimeAsc => 1,
                Order::TimeDesc => 2,
            },
        ];
        let mut option = |v: Option<i64>| words.extend([i64::from(v.is_some()), v.unwrap_or(0)]);
        option(self.org.map(|o| o.0 as i64));
        option(self.time.map(|t| t.0));
        option(self.time.map(|t| t.1));
        option(self.days.map(|d| i64::from(d.0.days())));
        option(self.days.map(|d| i64::from(d.1.days())));
        option(self.category.map(|c| i64::from(c.code())));
        option(self.payment_method.map(|p| i64::from(p.code())));
        option(self.status.map(|s| i64::from(s.code())));
        option(self.amount.0);
        option(self.amount.1);
        words
            .iter()
            .flat_map(|w| w.to_le_bytes())
            .fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
                (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
            })
    }

    /// Rejects queries that cannot be answered exactly.
    /// [`crate::Db::query`] and [`crate::Db::explain`] call it first.
    ///
    /// # Errors
    /// - [`Error::InvalidArgument`] for a limit outside `1..=`[`MAX_QUERY_LIMIT`], an empty or
    ///   inverted time range, an inverted day or amount range, a status filter on anything but
    ///   [`Tables::Expenses`], a category of neither queried ledger, an empty projection or one
    ///   with grouping, a projected column some queried table lacks, or a cursor with grouping.
    /// - [`Error::CursorMismatch`] for a cursor produced by another query (its
    ///   [`Query::fingerprint`] differs).
    pub fn validate(&self) -> Result<()> {
        let bad = |why: String| Err(Error::InvalidArgument(why));
        if self.limit == 0 || self.limit > MAX_QUERY_LIMIT {
            return bad(format!(
                "limit must be 1..={MAX_QUERY_LIMIT}, got {}",
                self.limit
            ));
        }
        if let Some((from, to)) = self.time {
            if to <= from {
                return bad(format!("time range {from}..{to} is empty or inverted"));
            }
        }
        if let Some((from, to)) = self.days {
            if to < from {
                return bad(format!("day range {from}..={to} is inverted"));
            }
        }
        if let (Some(min), Some(max)) = self.amount {
            if max < min {
                return bad(format!("amount range {min}..={max} is inverted"));
            }
        }
        if self.status.is_some() && self.tables != Tables::Expenses {
            return bad("status is a column of expenses only".into());
        }
        if let Some(c) = self.category {
            if !self.tables.kinds().iter().any(|k| c.allowed_for(*k)) {
                return bad(format!("category {c} does not occur in the queried table"));
            }
        }
        if let Some(columns) = &self.select {
            if columns.is_empty() || self.group_by.is_some() {
                return bad(
                    "a projection names at least one column and returns rows, not groups".into(),
                );
            }
            if let Some(c) = columns
                .iter()
                .find(|c| !self.tables.kinds().iter().all(|k| c.in_table(*k)))
            {
                return bad(format!("column {c} is not in every queried table"));
            }
        }
        if self.after.is_some() && self.group_by.is_some() {
            return bad("a cursor pages rows, not groups".into());
        }
        if self.after.is_some_and(|c| c.query != self.fingerprint()) {
            return Err(Error::CursorMismatch);
        }
        Ok(())
    }
}
