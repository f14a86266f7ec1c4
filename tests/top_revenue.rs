//! Q5 (`top_revenue`) of a month in memory equals a brute-force ranking while postings and
//! reversals change the leaders: with more orgs than the partition's revenue bound keeps
//! exactly (32), the answer comes from the leaders when they are ahead of every other org and
//! from a scan when not, in two currencies.
#![allow(clippy::unwrap_used)]

use folio::{
    Batch, Category, Currency, Db, Entry, EntryId, Money, Month, Options, Org, OrgId,
    PaymentMethod, SplitMix64,
};
use std::collections::BTreeMap;

/// 2024-03-01T00:00:00Z.
const MARCH: i64 = 1_709_251_200;

fn currency_of(org: u64) -> Currency {
    match org % 5 {
        0 => Currency(*b"EUR"),
        _ => Currency::USD,
    }
}

/// Per currency (by code), the first `limit` orgs by total descending, then org id.
fn expected(totals: &BTreeMap<u64, i64>, limit: usize) -> Vec<(u64, String, i64)> {
    let mut by_currency: BTreeMap<String, Vec<(i64, u64)>> = BTreeMap::new();
    for (org, total) in totals {
        let code = currency_of(*org).as_str().to_string();
        by_currency.entry(code).or_default().push((*total, *org));
    }
    let mut out = Vec::new();
    for (code, mut all) in by_currency {
        all.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        out.extend(
            all.into_iter()
                .take(limit)
                .map(|(t, o)| (o, code.clone(), t)),
        );
    }
    out
}

#[test]
fn top_revenue_of_a_month_in_memory_equals_a_brute_force_ranking() {
    for (seed, orgs) in [(1u64, 20u64), (2, 150), (3, 400)] {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open_with(dir.path(), Options::default().shards(4)).unwrap();
        let mut b = Batch::new();
        for o in 1..=orgs {
            b = b.register_org(Org::new(OrgId(o), format!("h{o}"), currency_of(o)));
        }
        db.record(b).unwrap();
        let mut rng = SplitMix64::new(seed);
        let mut totals: BTreeMap<u64, i64> = BTreeMap::new();
        let mut posted: Vec<(u64, u64, i64)> = Vec::new();
        let mut reversed = std::collections::HashSet::new();
        let mut next_id = 0u64;
        for round in 0..40 {
            let mut ops = Vec::new();
            for i in 0..100 {
                let at = MARCH + (round * 100 + i) * 600;
                if rng.below(10) == 0 && !posted.is_empty() {
                    // Reverse a posting, often one of the largest: leaders fall behind.
                    let pick = match rng.below(2) {
                        0 => posted.iter().max_by_key(|p| p.2).copied().unwrap(),
                        _ => posted[rng.below(posted.len() as u64) as usize],
                    };
                    if reversed.insert((pick.0, pick.1)) {
                        next_id += 1;
                        ops.push(folio::Op::Reverse(folio::Reversal {
                            org: OrgId(pick.0),
                            id: EntryId(next_id),
                            reverses: EntryId(pick.1),
                            occurred_at: at,
                            reference: String::new(),
                        }));
                        *totals.entry(pick.0).or_default() -= pick.2;
                        posted.retain(|p| (p.0, p.1) != (pick.0, pick.1));
                    }
                    continue;
                }
                // Skewed: low ids post more and larger.
                let org = 1 + rng.below(orgs).min(rng.below(orgs));
                let amount = 1 + rng.below(1_000 + 100_000 / org) as i64;
                next_id += 1;
                ops.push(folio::Op::Post(Entry::revenue(
                    OrgId(org),
                    EntryId(next_id),
                    at,
                    Money(amount),
                    Category::Rooms,
                    PaymentMethod::Card,
                )));
                *totals.entry(org).or_default() += amount;
                posted.push((org, next_id, amount));
            }
            db.record(Batch::from(ops)).unwrap();
            for limit in [1usize, 5, 10, 40] {
                let got: Vec<(u64, String, i64)> = db
                    .top_revenue(Month::new(2024, 3).unwrap(), limit)
                    .unwrap()
                    .into_iter()
                    .map(|l| (l.org.0, l.currency.as_str().to_string(), l.total.0))
                    .collect();
                assert_eq!(
                    got,
                    expected(&totals, limit),
                    "seed {seed}, {orgs} orgs, round {round}, limit {limit}"
                );
            }
        }
    }
}
