//! Folio against a real PostgreSQL server (and SQLite): identical answers on hotel-ledger-v1
//! streams for every query kind and every (org, day) balance row, and clear errors for an
//! unreachable server, wrong credentials and an existing database.
//!
//! These tests need a server: run them with `scripts/with-postgres.sh cargo test --test
//! compare_pg -- --ignored` (CI does), which starts a throwaway cluster and sets `FOLIO_PG`.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use folio_cli::compare::{run, CompareOptions};
use folio_cli::Error;
use folio_workload::Params;

fn server() -> String {
    std::env::var("FOLIO_PG").expect(
        "FOLIO_PG is not set: run through scripts/with-postgres.sh (see the top of this file)",
    )
}

fn options(params: Params, database: &str) -> (tempfile::TempDir, CompareOptions) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("work");
    (
        tmp,
        CompareOptions {
            params,
            postgres: Some(server()),
            pg_database: database.into(),
            sqlite: true,
            batch: 1000,
            singles: 300,
            concurrent: 700,
            writers: 4,
            timed: 200,
            check: 200,
            dir,
            freeze: false,
            memory_budget: None,
        },
    )
}

fn database_exists(name: &str) -> bool {
    let mut c =
        postgres::Client::connect(&format!("{} dbname=postgres", server()), postgres::NoTls)
            .unwrap();
    c.query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&name])
        .unwrap()
        .is_some()
}

#[test]
#[ignore = "needs PostgreSQL: scripts/with-postgres.sh cargo test --test compare_pg -- --ignored"]
fn answers_are_identical_to_postgres_and_sqlite_on_three_streams() {
    // The third is the multi-year variant: events and Q2/Q5 months beyond 2024 (PostgreSQL's
    // monthly partitions are 2024's; later rows are in its default partition).
    for (seed, orgs, events, years) in [
        (20_240_101u64, 300u64, 30_000u64, 1u64),
        (7, 40, 12_000, 1),
        (11, 60, 15_000, 3),
    ] {
        let params = Params {
            seed,
            orgs,
            events,
            years,
        };
        let (_tmp, o) = options(params, "folio_compare_test");
        let report = run(&o, &|_| {}).unwrap();
        assert_eq!((report.engines.len(), report.years), (3, years));
        assert!(
            report.disagreements.is_empty(),
            "seed {seed}: {:#?}",
            &report.disagreements[..report.disagreements.len().min(10)]
        );
        // 200 instances of each of the 5 kinds, and every daily row, for each of 2 engines.
        assert_eq!(report.compared, 2 * (5 * 200 + report.balance_rows as u64));
        assert!(report.balance_rows > 1_000, "{}", report.balance_rows);
        assert!(!o.dir.exists(), "the working directory is removed");
        assert!(
            !database_exists("folio_compare_test"),
            "the database is dropped"
        );
    }
}

#[test]
#[ignore = "needs PostgreSQL: scripts/with-postgres.sh cargo test --test compare_pg -- --ignored"]
fn answers_from_frozen_months_under_a_small_budget_are_identical_to_postgres() {
    // Two years with the freezer on and a budget far below the data: months freeze while the
    // stream (with its late postings, reversals and payments into them) records, the newest
    // month spills, and the rest are frozen before the queries.
    let params = Params {
        seed: 23,
        orgs: 80,
        events: 20_000,
        years: 2,
    };
    let (_tmp, mut o) = options(params, "folio_compare_frozen");
    o.sqlite = false;
    o.freeze = true;
    o.memory_budget = Some(1 << 20);
    let report = run(&o, &|_| {}).unwrap();
    assert!(
        report.disagreements.is_empty(),
        "{:#?}",
        &report.disagreements[..report.disagreements.len().min(10)]
    );
    assert_eq!(report.compared, 5 * 200 + report.balance_rows as u64);
    assert!(report.balance_rows > 1_000, "{}", report.balance_rows);
    // 25 months of rows; all but the newest two are frozen.
    let frozen = report.engines[0].frozen_months.unwrap();
    assert!(frozen >= 20, "{frozen} frozen months");
    assert_eq!(report.engines[1].frozen_months, None);
}

#[test]
#[ignore = "needs PostgreSQL: scripts/with-postgres.sh cargo test --test compare_pg -- --ignored"]
fn bad_servers_credentials_and_existing_databases_are_named_errors_that_leave_nothing() {
    let params = Params {
        seed: 1,
        orgs: 10,
        events: 2_000,
        years: 1,
    };
    let (_tmp, mut o) = options(params, "folio_compare_bad");
    // Unreachable: a port nothing listens on.
    o.postgres = Some("host=127.0.0.1 port=1 user=postgres".into());
    match run(&o, &|_| {}) {
        Err(Error::Backend { backend, step, .. }) => {
            assert_eq!((backend, step.as_str()), ("postgres", "connect"))
        }
        other => panic!("expected a connect error, got {other:?}"),
    }
    assert!(!o.dir.exists());
    // Wrong credentials.
    o.postgres = Some(server().replace("user=postgres", "user=no_such_role"));
    match run(&o, &|_| {}) {
        Err(e @ Error::Backend { .. }) => {
            let text = e.to_string();
            assert!(
                text.starts_with("postgres: connect:") && text.contains("no_such_role"),
                "{text}"
            );
        }
        other => panic!("expected a connect error, got {other:?}"),
    }
    // An existing database of the same name is refused and left as it was.
    o.postgres = Some(server());
    let mut admin =
        postgres::Client::connect(&format!("{} dbname=postgres", server()), postgres::NoTls)
            .unwrap();
    admin
        .batch_execute("CREATE DATABASE folio_compare_bad")
        .unwrap();
    match run(&o, &|_| {}) {
        Err(e @ Error::Backend { .. }) => {
            let text = e.to_string();
            assert!(
                text.contains("create database") && text.contains("already exists"),
                "{text}"
            );
        }
        other => panic!("expected an existing-database error, got {other:?}"),
    }
    assert!(
        database_exists("folio_compare_bad"),
        "the existing database is kept"
    );
    assert!(!o.dir.exists());
    admin
        .batch_execute("DROP DATABASE folio_compare_bad")
        .unwrap();
}
