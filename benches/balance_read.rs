//! Criterion bench of closing-balance reads (hotel-ledger-v1 Q1 instances) after ingest.

use criterion::{criterion_group, criterion_main, Criterion};
use folio::{Batch, BusinessDay, Currency, Db, Durability, Op, Options, OrgId};
use folio_workload::ingest::{auto_org, entry_of};
use folio_workload::{instances, Generator, Params, QueryInstance};

fn closing_balance(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let options = Options::default().durability(Durability::Buffered);
    let db = Db::open_with(dir.path().join("db"), options).expect("open");
    let params = Params {
        orgs: 10_000,
        events: 300_000,
        ..Params::default()
    };
    let orgs: Vec<Op> = (1..=params.orgs)
        .map(|id| Op::RegisterOrg(auto_org(OrgId(id), Currency::USD)))
        .collect();
    db.record(Batch::from(orgs)).expect("orgs");
    let events: Vec<Op> = Generator::new(params)
        .expect("valid parameters")
        .map(|e| Op::Post(entry_of(&e)))
        .collect();
    for chunk in events.chunks(1000) {
        db.record(Batch::from(chunk.to_vec())).expect("record");
    }
    let queries: Vec<(OrgId, BusinessDay)> = instances(1, &params, 10_000)
        .expect("valid parameters")
        .into_iter()
        .filter_map(|q| match q {
            QueryInstance::Q1 { org, day } => {
                Some((OrgId(org), BusinessDay::from_days(day).expect("day")))
            }
            _ => None,
        })
        .collect();
    let mut next = queries.iter().cycle();
    c.bench_function("closing_balance_q1", |b| {
        b.iter(|| {
            let (org, day) = next.next().expect("cycle");
            db.balance(*org, *day).expect("balance").closing
        })
    });
}

criterion_group!(benches, closing_balance);
criterion_main!(benches);
