//! Criterion benches of the write path: one batch of 1,000 hotel-ledger-v1 postings recorded
//! durably (fsync per group commit) and buffered, and a single-posting batch.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use folio::{Batch, Currency, Db, Durability, Op, Options, OrgId};
use folio_workload::ingest::{auto_org, entry_of};
use folio_workload::{Generator, Params};

fn setup(durability: Durability) -> (tempfile::TempDir, Db, Vec<Batch>) {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = Db::open_with(
        dir.path().join("db"),
        Options::default().durability(durability),
    )
    .expect("open");
    let params = Params {
        orgs: 1000,
        events: 200_000,
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
    let batches = events
        .chunks(1000)
        .map(|c| Batch::from(c.to_vec()))
        .collect();
    (dir, db, batches)
}

fn record_batches(c: &mut Criterion) {
    let mut group = c.benchmark_group("record");
    group.throughput(Throughput::Elements(1000));
    for (name, durability) in [
        ("batch_1000_sync", Durability::Sync),
        ("batch_1000_buffered", Durability::Buffered),
    ] {
        let (_dir, db, batches) = setup(durability);
        let mut next = batches.into_iter().cycle().enumerate();
        group.bench_function(name, |b| {
            b.iter_batched(
                || {
                    // Fresh entry ids each round so every batch is new work, not an idempotent no-op.
                    let (round, batch) = next.next().expect("cycle");
                    let offset = (round as u64 / 200) * 1_000_000;
                    Batch::from(
                        batch
                            .ops
                            .into_iter()
                            .map(|op| match op {
                                Op::Post(mut e) => {
                                    e.id.0 += offset;
                                    Op::Post(e)
                                }
                                other => other,
                            })
                            .collect::<Vec<_>>(),
                    )
                },
                |batch| db.record(batch).expect("record"),
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, record_batches);
criterion_main!(benches);
