//! Turning generated steps into operations: ids, orgs and repeats are resolved against what the
//! model holds and what earlier operations of the batch introduced.

use crate::reference::{category_allowed, Model};
use crate::strategies::{
    reference_text, IdGen, Mutation, OpGen, OrgGen, PostGen, TsGen, BAD_TIME_ZONES, TIME_ZONES,
};
use folio::limits::MAX_ORG_NAME_BYTES;
use folio::{
    Category, Currency, Entry, EntryId, ExpenseStatus, Kind, Money, Op, Org, OrgId, PayExpense,
    PaymentMethod, Reversal, MAX_TIMESTAMP,
};

pub struct Builder {
    pub next_id: u64,
    pub salt: u64,
    pub org_ids: [u64; 6],
}

/// What earlier operations of the batch being built introduced.
#[derive(Default)]
struct BatchSoFar {
    ids: Vec<(u64, u64)>,
    posts: Vec<Entry>,
    reversals: Vec<Reversal>,
    pays: Vec<PayExpense>,
    orgs: Vec<Org>,
}

impl BatchSoFar {
    fn note(&mut self, op: &Op) {
        match op {
            Op::RegisterOrg(o) => self.orgs.push(o.clone()),
            Op::Post(e) => {
                self.ids.push((e.org.0, e.id.0));
                self.posts.push(e.clone());
            }
            Op::Reverse(r) => {
                self.ids.push((r.org.0, r.id.0));
                self.reversals.push(r.clone());
            }
            Op::Pay(p) => self.pays.push(*p),
        }
    }
}

pub fn pick<T: Clone>(items: &[T], k: usize) -> Option<T> {
    (!items.is_empty()).then(|| items[k % items.len()].clone())
}

impl Builder {
    /// The org id of slot 1..=6.
    fn slot(&self, slot: u64) -> u64 {
        self.org_ids[(slot as usize - 1) % 6]
    }

    fn org_id(&self, model: &Model, so_far: &BatchSoFar, gen: OrgGen) -> u64 {
        match gen {
            OrgGen::Registered(k) => {
                let mut known: Vec<u64> = model.org_ids().collect();
                known.extend(so_far.orgs.iter().map(|o| o.id.0));
                known.sort_unstable();
                known.dedup();
                pick(&known, k).unwrap_or(self.org_ids[0])
            }
            OrgGen::Raw(slot) => self.slot(slot),
        }
    }

    fn id(&mut self, model: &Model, so_far: &BatchSoFar, org: u64, gen: &IdGen) -> u64 {
        match *gen {
            IdGen::Fresh => {
                self.next_id += 1;
                self.next_id
            }
            IdGen::Existing(k) => {
                let mut known: Vec<u64> = model.org_entries(org).map(|(id, _)| id).collect();
                known.extend(
                    so_far
                        .ids
                        .iter()
                        .filter(|(o, _)| *o == org)
                        .map(|(_, id)| *id),
                );
                pick(&known, k).unwrap_or(1 + (k % 12) as u64)
            }
            IdGen::Small(id) => id,
            IdGen::Zero => 0,
        }
    }

    fn org(id: u64, tz: &str, opening: i64, variant: u8) -> Org {
        let name = match variant {
            1 => format!("Annex {id}"),
            2 => "n".repeat(MAX_ORG_NAME_BYTES + 1),
            _ => format!("Hotel {id}"),
        };
        let created_at = if variant == 3 { MAX_TIMESTAMP + 1 } else { 0 };
        Org::new(OrgId(id), name, Currency::EUR)
            .with_time_zone(tz)
            .with_opening_balance(Money(opening))
            .with_created_at(created_at)
    }

    /// The operations of one batch (a generated repeat of nothing yet known is left out).
    pub fn build(&mut self, model: &Model, gens: &[OpGen]) -> Vec<Op> {
        let mut so_far = BatchSoFar::default();
        let mut ops = Vec::new();
        for gen in gens {
            self.salt += 1;
            let Some(op) = self.op(model, &so_far, gen) else {
                continue;
            };
            so_far.note(&op);
            ops.push(op);
        }
        ops
    }

    fn op(&mut self, model: &Model, so_far: &BatchSoFar, gen: &OpGen) -> Option<Op> {
        match gen {
            OpGen::Register {
                org,
                tz,
                bad_tz,
                opening,
                variant,
            } => {
                let zone = if *bad_tz {
                    BAD_TIME_ZONES[tz % BAD_TIME_ZONES.len()]
                } else {
                    TIME_ZONES[*tz]
                };
                let org = Self::org(self.slot(*org), zone, *opening, *variant);
                Some(Op::RegisterOrg(org))
            }
            OpGen::ReRegister { pick: k, mutate } => Self::reregister(model, so_far, *k, *mutate),
            OpGen::Post(post) => Some(self.post(model, so_far, post)),
            OpGen::Repost { pick: k, mutation } => Self::repost(model, so_far, *k, *mutation),
            OpGen::Reverse {
                org,
                id,
                target,
                ts,
                reference,
            } => {
                let org = self.org_id(model, so_far, *org);
                let target = self.id(model, so_far, org, target);
                let id = self.id(model, so_far, org, id);
                Some(Op::Reverse(Reversal {
                    org: OrgId(org),
                    id: EntryId(id),
                    reverses: EntryId(target),
                    occurred_at: ts.ts(),
                    reference: reference_text(*reference, self.salt),
                }))
            }
            OpGen::Rereverse { pick: k, mutation } => Self::rereverse(model, so_far, *k, *mutation),
            OpGen::PayPending { pick: k, paid_at } => Self::pay_pending(model, *k, paid_at),
            OpGen::Pay {
                org,
                target,
                paid_at,
            } => {
                let org = self.org_id(model, so_far, *org);
                let id = self.id(model, so_far, org, target);
                Some(Op::Pay(PayExpense {
                    org: OrgId(org),
                    entry: EntryId(id),
                    paid_at: paid_at.ts(),
                }))
            }
            OpGen::Repay { pick: k, same } => Self::repay(model, so_far, *k, *same),
        }
    }

    /// A known org again, the same or changed in currency, opening balance or time zone.
    fn reregister(model: &Model, so_far: &BatchSoFar, k: usize, mutate: bool) -> Option<Op> {
        let mut known: Vec<Org> = model.orgs();
        known.extend(so_far.orgs.iter().cloned());
        pick(&known, k).map(|mut org| {
            if mutate {
                match k % 3 {
                    0 => org.currency = Currency::USD,
                    1 => org.opening_balance = Money(org.opening_balance.0.wrapping_add(1)),
                    _ => org.time_zone = TIME_ZONES[(k / 3) % TIME_ZONES.len()].into(),
                }
            }
            Op::RegisterOrg(org)
        })
    }

    fn post(&mut self, model: &Model, so_far: &BatchSoFar, g: &PostGen) -> Op {
        let org = self.org_id(model, so_far, g.org);
        let id = self.id(model, so_far, org, &g.id);
        let kind = if g.revenue {
            Kind::Revenue
        } else {
            Kind::Expense
        };
        let own = if g.bad_category == g.revenue {
            Kind::Expense
        } else {
            Kind::Revenue
        };
        let allowed: Vec<Category> = Category::ALL
            .iter()
            .copied()
            .filter(|c| category_allowed(*c, own))
            .filter(|c| !g.bad_category || !category_allowed(*c, kind))
            .collect();
        let status = match g.status {
            0 if g.revenue => None,
            0 => Some(if id.is_multiple_of(3) {
                ExpenseStatus::Paid
            } else {
                ExpenseStatus::Pending
            }),
            1 => None,
            2 => Some(ExpenseStatus::Pending),
            _ => Some(ExpenseStatus::Paid),
        };
        Op::Post(Entry {
            org: OrgId(org),
            id: EntryId(id),
            kind,
            occurred_at: g.ts.ts(),
            amount: Money(g.amount),
            category: allowed[g.category % allowed.len()],
            payment_method: PaymentMethod::ALL[g.payment_method],
            status,
            reference: reference_text(g.reference, self.salt),
        })
    }

    /// A known posting again, identical or with one field changed.
    fn repost(model: &Model, so_far: &BatchSoFar, k: usize, mutation: Mutation) -> Option<Op> {
        let mut known: Vec<Entry> = model
            .entries()
            .filter(|(_, x)| x.reverses.is_none())
            .map(|((org, id), x)| Entry {
                org: OrgId(org),
                id: EntryId(id),
                kind: x.kind,
                occurred_at: x.occurred_at,
                amount: Money(x.amount),
                category: x.category,
                payment_method: x.payment_method,
                status: x.posted_status,
                reference: x.reference.clone(),
            })
            .collect();
        known.extend(so_far.posts.iter().cloned());
        pick(&known, k).map(|e| Op::Post(mutate_entry(e, mutation)))
    }

    /// A known reversal again, identical or with its time, reference or target changed.
    fn rereverse(model: &Model, so_far: &BatchSoFar, k: usize, mutation: u8) -> Option<Op> {
        let mut known: Vec<Reversal> = model
            .entries()
            .filter_map(|((org, id), x)| {
                x.reverses.map(|target| Reversal {
                    org: OrgId(org),
                    id: EntryId(id),
                    reverses: EntryId(target),
                    occurred_at: x.occurred_at,
                    reference: x.reference.clone(),
                })
            })
            .collect();
        known.extend(so_far.reversals.iter().cloned());
        pick(&known, k).map(|mut r| {
            match mutation {
                0 => {}
                1 => r.occurred_at += 1,
                2 => r.reference.push('!'),
                _ => r.reverses = EntryId(r.reverses.0 + 1),
            }
            Op::Reverse(r)
        })
    }

    /// A payment of a pending expense the model holds.
    fn pay_pending(model: &Model, k: usize, paid_at: &TsGen) -> Option<Op> {
        let known: Vec<(u64, u64)> = model
            .entries()
            .filter(|(_, x)| {
                x.kind == Kind::Expense
                    && x.reverses.is_none()
                    && x.reversed_by.is_none()
                    && x.paid_at.is_none()
                    && x.posted_status == Some(ExpenseStatus::Pending)
            })
            .map(|(key, _)| key)
            .collect();
        pick(&known, k).map(|(org, id)| {
            Op::Pay(PayExpense {
                org: OrgId(org),
                entry: EntryId(id),
                paid_at: paid_at.ts(),
            })
        })
    }

    /// A known payment again, at the same time or another.
    fn repay(model: &Model, so_far: &BatchSoFar, k: usize, same: bool) -> Option<Op> {
        let mut known: Vec<PayExpense> = model
            .entries()
            .filter_map(|((org, id), x)| {
                x.paid_at.map(|paid_at| PayExpense {
                    org: OrgId(org),
                    entry: EntryId(id),
                    paid_at,
                })
            })
            .collect();
        known.extend(so_far.pays.iter().copied());
        pick(&known, k).map(|mut p| {
            if !same {
                p.paid_at += 1 + (k % 100_000) as i64;
            }
            Op::Pay(p)
        })
    }
}

fn mutate_entry(mut e: Entry, mutation: Mutation) -> Entry {
    match mutation {
        Mutation::Identical => {}
        Mutation::Amount => e.amount = Money(e.amount.0.wrapping_add(1)),
        Mutation::Time => e.occurred_at += 1,
        Mutation::Reference => e.reference.push('!'),
        Mutation::Status => {
            e.status = match e.status {
                None => Some(ExpenseStatus::Pending),
                Some(ExpenseStatus::Pending) => Some(ExpenseStatus::Paid),
                Some(ExpenseStatus::Paid) => Some(ExpenseStatus::Pending),
            }
        }
        Mutation::PaymentMethod => {
            e.payment_method = match e.payment_method {
                PaymentMethod::Cash => PaymentMethod::Card,
                _ => PaymentMethod::Cash,
            }
        }
        Mutation::Kind => {
            e.kind = match e.kind {
                Kind::Revenue => Kind::Expense,
                Kind::Expense => Kind::Revenue,
            };
            e.category = Category::Other;
            e.status = match e.kind {
                Kind::Revenue => None,
                Kind::Expense => Some(ExpenseStatus::Pending),
            };
        }
    }
    e
}
