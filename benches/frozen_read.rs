//! Criterion bench of a frozen month file of 10,000 orgs × 100 rows (1,000,000 rows): open,
//! first touch of an org (open + fence + page + block checks), warm org lookups with a
//! closing-balance read, idempotency checks (present and absent ids), the top-10 list.
//! Prints the file's size per row and per org, the bytes read at open and the time to write it.
//!
//! `cargo bench --features internals --bench frozen_read`

use criterion::{criterion_group, criterion_main, Criterion};
use folio::frozen::layout::FileId;
use folio::frozen::sample;
use folio::frozen::{Expected, FrozenFile, OrgMonthInput};
use folio::io::StdFs;
use folio::{Month, OrgId, SplitMix64};
use std::time::{Duration, Instant};

const ORGS: u64 = 10_000;
const ROWS: usize = 100;

fn frozen(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let month = Month::new(2024, 3).expect("month");
    let id = FileId {
        db_id: 1,
        month,
        version: 1,
    };
    let mut rng = SplitMix64::new(7);
    let inputs: Vec<OrgMonthInput> = (1..=ORGS)
        .map(|org| sample::org_month(&mut rng, OrgId(org), month, ROWS, false))
        .collect();
    let started = Instant::now();
    let entry = sample::write(&StdFs, dir.path(), id, &inputs).expect("write");
    let wrote = started.elapsed();
    let path = dir.path().join(entry.file_name());
    let expected = Expected::of(1, &entry);
    let file = FrozenFile::open(&StdFs, &path, &expected).expect("open");
    let open_bytes = file.stats().bytes_checked;
    let started = Instant::now();
    let report = file.verify().expect("verify");
    eprintln!(
        "frozen file: {} orgs, {} rows, {} bytes = {:.1} B/row, {:.0} B/org; written in {:.2} s \
         ({:.0} rows/s); open reads {open_bytes} bytes; verify {:.2} s; resident after verify {} B",
        report.orgs,
        report.rows,
        report.bytes,
        report.bytes as f64 / report.rows as f64,
        report.bytes as f64 / report.orgs as f64,
        wrote.as_secs_f64(),
        report.rows as f64 / wrote.as_secs_f64(),
        started.elapsed().as_secs_f64(),
        file.resident_bytes(),
    );
    let ids: Vec<(OrgId, u64)> = inputs
        .iter()
        .map(|i| (i.org, i.rows[ROWS / 2].entry_id))
        .collect();
    drop(inputs);

    c.bench_function("frozen_open", |b| {
        b.iter(|| FrozenFile::open(&StdFs, &path, &expected).expect("open"))
    });
    let mut next = 0u64;
    c.bench_function("frozen_first_touch_open_and_org", |b| {
        b.iter(|| {
            next = next % ORGS + 1;
            let file = FrozenFile::open(&StdFs, &path, &expected).expect("open");
            let view = file.org(OrgId(next)).expect("org").expect("present");
            view.month_net()
        })
    });
    let day = month.first_day().checked_add_days(14).expect("day");
    let mut rng = SplitMix64::new(1);
    c.bench_function("frozen_org_closing_balance_warm", |b| {
        b.iter(|| {
            let org = OrgId(1 + rng.below(ORGS));
            let view = file.org(org).expect("org").expect("present");
            view.net_through(day)
        })
    });
    let mut at = 0usize;
    c.bench_function("frozen_contains_present", |b| {
        b.iter(|| {
            at = (at + 1) % ids.len();
            let (org, id) = ids[at];
            file.contains(org, id).expect("contains").expect("present")
        })
    });
    let before = file.stats();
    c.bench_function("frozen_contains_absent", |b| {
        b.iter(|| {
            let org = OrgId(1 + rng.below(ORGS));
            file.contains(org, 1 + rng.below(1 << 40))
                .expect("contains")
        })
    });
    let after = file.stats();
    let probes = after.filter_probes - before.filter_probes;
    let rejects = after.filter_rejects - before.filter_rejects;
    eprintln!(
        "absent ids: {probes} filter probes, {:.2}% passed the filter",
        100.0 * (probes - rejects) as f64 / probes.max(1) as f64
    );
    c.bench_function("frozen_top10", |b| {
        b.iter(|| file.top_revenue(10).expect("top"))
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = frozen
}
criterion_main!(benches);
