//! What callers record: entries, reversals, expense payments and org registrations, in batches.

use super::{Category, EntryId, ExpenseStatus, Kind, Money, Org, OrgId, PaymentMethod, Timestamp};

/// A revenue or expense posting. Immutable once recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub org: OrgId,
    pub id: EntryId,
    pub kind: Kind,
    pub occurred_at: Timestamp,
    /// Strictly positive, in minor units.
    pub amount: Money,
    pub category: Category,
    pub payment_method: PaymentMethod,
    /// `Some` for expenses, `None` for revenues.
    pub status: Option<ExpenseStatus>,
    /// Free text (invoice number, folio number); bounded by `limits::MAX_REFERENCE_BYTES`.
    pub reference: String,
}

impl Entry {
    pub fn revenue(
        org: OrgId,
        id: EntryId,
        occurred_at: Timestamp,
        amount: Money,
        category: Category,
        payment_method: PaymentMethod,
    ) -> Entry {
        Entry {
            org,
            id,
            kind: Kind::Revenue,
            occurred_at,
            amount,
            category,
            payment_method,
            status: None,
            reference: String::new(),
        }
    }

    pub fn expense(
        org: OrgId,
        id: EntryId,
        occurred_at: Timestamp,
        amount: Money,
        category: Category,
        payment_method: PaymentMethod,
        status: ExpenseStatus,
    ) -> Entry {
        Entry {
            kind: Kind::Expense,
            status: Some(status),
            ..Entry::revenue(org, id, occurred_at, amount, category, payment_method)
        }
    }

    pub fn with_reference(mut self, reference: impl Into<String>) -> Entry {
        self.reference = reference.into();
        self
    }
}

/// Cancels an earlier entry of the same org. The reversal is an entry of its own (with its own
/// idempotency key) that carries the original's amount with the opposite sign, on the business
/// day of its own `occurred_at`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reversal {
    pub org: OrgId,
    pub id: EntryId,
    pub reverses: EntryId,
    pub occurred_at: Timestamp,
    pub reference: String,
}

/// Moves a pending expense to paid.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PayExpense {
    pub org: OrgId,
    pub entry: EntryId,
    pub paid_at: Timestamp,
}

/// One operation of a batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    RegisterOrg(Org),
    Post(Entry),
    Reverse(Reversal),
    Pay(PayExpense),
}

/// Operations applied together: all of them or none.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Batch {
    pub ops: Vec<Op>,
}

impl Batch {
    pub fn new() -> Batch {
        Batch::default()
    }

    pub fn register_org(mut self, org: Org) -> Batch {
        self.ops.push(Op::RegisterOrg(org));
        self
    }

    pub fn post(mut self, entry: Entry) -> Batch {
        self.ops.push(Op::Post(entry));
        self
    }

    pub fn reverse(mut self, reversal: Reversal) -> Batch {
        self.ops.push(Op::Reverse(reversal));
        self
    }

    pub fn pay(mut self, pay: PayExpense) -> Batch {
        self.ops.push(Op::Pay(pay));
        self
    }

    pub fn push(&mut self, op: Op) {
        self.ops.push(op);
    }

    pub fn len(&self) -> usize {
        self.ops.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }
}

impl From<Vec<Op>> for Batch {
    fn from(ops: Vec<Op>) -> Batch {
        Batch { ops }
    }
}
