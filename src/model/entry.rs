//! What callers record: entries, reversals, expense payments and org registrations, in batches.

use super::{Category, EntryId, ExpenseStatus, Kind, Money, Org, OrgId, PaymentMethod, Timestamp};

/// A revenue or expense posting. Immutable once recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The org whose ledger holds the entry.
    pub org: OrgId,
    /// The entry's idempotency key within the org (never 0): recording the same entry again
    /// changes nothing; another entry under the same id is rejected.
    pub id: EntryId,
    /// Revenue or expense: which ledger the entry goes to, and the sign of its effect on the
    /// balance (revenue raises it, expense lowers it).
    pub kind: Kind,
    /// When the money moved, in UTC seconds; within
    /// [`crate::MIN_TIMESTAMP`]`..=`[`crate::MAX_TIMESTAMP`]. The entry counts on the org's
    /// business day of this instant (its time zone) and in the UTC month of it.
    pub occurred_at: Timestamp,
    /// Strictly positive, in minor units.
    pub amount: Money,
    /// A category of the entry's ledger (see [`Category::allowed_for`]).
    pub category: Category,
    /// How the money moved.
    pub payment_method: PaymentMethod,
    /// `Some` for expenses, `None` for revenues.
    pub status: Option<ExpenseStatus>,
    /// Free text (invoice number, folio number); bounded by `limits::MAX_REFERENCE_BYTES`.
    pub reference: String,
}

impl Entry {
    /// A revenue posting (no status, empty reference). `amount` is in minor units and must be
    /// positive.
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

    /// An expense posting with `status` (pending until paid, or posted as paid). `amount` is in
    /// minor units and must be positive.
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

    /// The same entry with a reference (invoice or folio number), at most
    /// [`crate::limits::MAX_REFERENCE_BYTES`] bytes.
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
    /// The org of the entry reversed, and of the reversal.
    pub org: OrgId,
    /// The reversal's own idempotency key within the org (never 0, distinct from the entry it
    /// reverses).
    pub id: EntryId,
    /// The entry cancelled: a posting of the same org, not a reversal, not reversed yet.
    pub reverses: EntryId,
    /// When the reversal happened, in UTC seconds: the business day it counts on (not the
    /// original's).
    pub occurred_at: Timestamp,
    /// Free text (e.g. the reason), at most [`crate::limits::MAX_REFERENCE_BYTES`] bytes.
    pub reference: String,
}

/// Moves a pending expense to paid.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PayExpense {
    /// The org of the expense.
    pub org: OrgId,
    /// The expense posting paid.
    pub entry: EntryId,
    /// When it was paid, in UTC seconds. Paying again at the same instant is a no-op.
    pub paid_at: Timestamp,
}

/// One operation of a batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// Registers an org (see [`Org`]).
    RegisterOrg(Org),
    /// Posts a revenue or expense.
    Post(Entry),
    /// Reverses an earlier posting.
    Reverse(Reversal),
    /// Marks a pending expense paid.
    Pay(PayExpense),
}

/// Operations applied together: all of them or none.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Batch {
    /// The operations, applied in this order; a later one sees the earlier ones (an org registered
    /// or an entry posted in the same batch).
    pub ops: Vec<Op>,
}

impl Batch {
    /// An empty batch.
    pub fn new() -> Batch {
        Batch::default()
    }

    /// Adds an org registration.
    pub fn register_org(mut self, org: Org) -> Batch {
        self.ops.push(Op::RegisterOrg(org));
        self
    }

    /// Adds a posting.
    pub fn post(mut self, entry: Entry) -> Batch {
        self.ops.push(Op::Post(entry));
        self
    }

    /// Adds a reversal.
    pub fn reverse(mut self, reversal: Reversal) -> Batch {
        self.ops.push(Op::Reverse(reversal));
        self
    }

    /// Adds an expense payment.
    pub fn pay(mut self, pay: PayExpense) -> Batch {
        self.ops.push(Op::Pay(pay));
        self
    }

    /// Appends an operation.
    pub fn push(&mut self, op: Op) {
        self.ops.push(op);
    }

    /// Number of operations.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// Whether the batch has no operations.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }
}

impl From<Vec<Op>> for Batch {
    fn from(ops: Vec<Op>) -> Batch {
        Batch { ops }
    }
}
