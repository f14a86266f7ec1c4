//! The `folio` binary end to end: init, org add, ingest (JSONL and CSV), balance, entries,
//! errors with one line and a non-zero exit.

use folio_workload::{Generator, Params};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};

fn folio(data: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_folio"))
        .arg("--data")
        .arg(data)
        .args(args)
        .output()
        .expect("run folio")
}

fn ok(out: Output) -> String {
    assert!(
        out.status.success(),
        "folio failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

fn failure(out: Output) -> String {
    assert!(
        !out.status.success(),
        "folio should have failed: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    let err = String::from_utf8(out.stderr).expect("utf-8");
    assert_eq!(
        err.trim_end().lines().count(),
        1,
        "one line expected: {err}"
    );
    err
}

fn write_stream(path: &Path, params: Params, csv: bool) {
    let mut out = Vec::new();
    if csv {
        out.extend_from_slice(folio_workload::CSV_HEADER.as_bytes());
        out.push(b'\n');
    }
    for e in Generator::new(params).expect("valid parameters") {
        if csv {
            e.write_csv(&mut out);
        } else {
            e.write_jsonl(&mut out);
        }
    }
    std::fs::write(path, out).expect("write stream");
}

/// Closing balance per (org, day) computed straight from the stream.
fn expected_closing(params: Params, org: u64, day: i32) -> (i64, i64, i64, u64, u64) {
    let mut by_day: BTreeMap<i32, (i64, i64, u64, u64)> = BTreeMap::new();
    for e in Generator::new(params)
        .expect("valid parameters")
        .filter(|e| e.org_id == org)
    {
        let d = by_day
            .entry(e.occurred_at.div_euclid(86_400) as i32)
            .or_default();
        match e.kind {
            folio::Kind::Revenue => {
                d.0 += e.amount;
                d.2 += 1;
            }
            folio::Kind::Expense => {
                d.1 += e.amount;
                d.3 += 1;
            }
        }
    }
    let closing: i64 = by_day.range(..=day).map(|(_, v)| v.0 - v.1).sum();
    let row = by_day.get(&day).copied().unwrap_or_default();
    (closing, row.0, row.1, row.2, row.3)
}

#[test]
fn ingest_jsonl_and_csv_then_query_balances_and_entries() {
    let tmp = tempfile::tempdir().unwrap();
    let params = Params {
        orgs: 50,
        events: 20_000,
        ..Params::default()
    };
    for csv in [false, true] {
        let data = tmp.path().join(if csv { "db-csv" } else { "db-jsonl" });
        let file = tmp
            .path()
            .join(if csv { "stream.csv" } else { "stream.jsonl" });
        write_stream(&file, params, csv);
        ok(folio(&data, &["init", "--shards", "4"]));
        let summary = ok(folio(
            &data,
            &[
                "ingest",
                file.to_str().unwrap(),
                "--auto-org",
                "--batch",
                "700",
            ],
        ));
        assert!(
            summary.contains("ingested 20000 events") && summary.contains("50 orgs registered"),
            "{summary}"
        );

        for (org, day) in [(1u64, "2024-03-15"), (7, "2024-12-31"), (50, "2024-01-01")] {
            let d = folio::BusinessDay::parse(day).unwrap();
            let (closing, revenue, expense, rc, ec) = expected_closing(params, org, d.days());
            let out = ok(folio(
                &data,
                &["balance", "--org", &org.to_string(), "--day", day, "--json"],
            ));
            let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
            assert_eq!(v["org_id"], org);
            assert_eq!(v["day"], day);
            assert_eq!(v["closing"], closing);
            assert_eq!(v["opening"], closing - revenue + expense);
            assert_eq!(
                (v["revenue"].as_i64(), v["expense"].as_i64()),
                (Some(revenue), Some(expense))
            );
            assert_eq!(
                (v["revenue_count"].as_u64(), v["expense_count"].as_u64()),
                (Some(rc), Some(ec))
            );
        }
        let out = ok(folio(
            &data,
            &[
                "entries",
                "--org",
                "3",
                "--from",
                "2024-02-01",
                "--to",
                "2024-03-01",
                "--json",
            ],
        ));
        let got: Vec<u64> = out
            .lines()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).unwrap()["entry_id"]
                    .as_u64()
                    .unwrap()
            })
            .collect();
        let mut want: Vec<(i64, u64)> = Generator::new(params)
            .expect("valid parameters")
            .filter(|e| e.org_id == 3 && (1_706_745_600..1_709_251_200).contains(&e.occurred_at))
            .map(|e| (e.occurred_at, e.entry_id))
            .collect();
        want.sort_unstable();
        assert_eq!(got, want.into_iter().map(|w| w.1).collect::<Vec<_>>());
        // Re-ingesting the same file is idempotent: balances do not change.
        ok(folio(
            &data,
            &["ingest", file.to_str().unwrap(), "--auto-org"],
        ));
        let (closing, ..) = expected_closing(params, 1, 19_800);
        let out = ok(folio(
            &data,
            &["balance", "--org", "1", "--day", "2024-03-18", "--json"],
        ));
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(out.trim()).unwrap()["closing"],
            closing
        );
    }
}

#[test]
fn malformed_line_is_reported_with_its_number_and_its_batch_is_not_applied() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("db");
    let file = tmp.path().join("bad.jsonl");
    let params = Params {
        orgs: 5,
        events: 25,
        ..Params::default()
    };
    let mut lines: Vec<String> = Generator::new(params)
        .expect("valid parameters")
        .map(|e| {
            let mut out = Vec::new();
            e.write_jsonl(&mut out);
            String::from_utf8(out).unwrap().trim_end().to_string()
        })
        .collect();
    lines[22] = lines[22].replace("\"amount\":", "\"amount\":-");
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();
    ok(folio(&data, &["init"]));
    let err = failure(folio(
        &data,
        &[
            "ingest",
            file.to_str().unwrap(),
            "--auto-org",
            "--batch",
            "10",
        ],
    ));
    assert!(err.contains("line 23"), "{err}");
    // Batches of lines 1-10 and 11-20 are in; the batch holding line 23 (lines 21-25) is not.
    let out = ok(folio(
        &data,
        &[
            "entries",
            "--org",
            &lines_org(&lines[20]),
            "--from",
            "0",
            "--to",
            "2000000000",
            "--json",
        ],
    ));
    let ids: Vec<u64> = out
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["entry_id"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert!(ids.iter().all(|&id| id <= 20), "{ids:?}");
}

fn lines_org(line: &str) -> String {
    serde_json::from_str::<serde_json::Value>(line).expect("json")["org_id"].to_string()
}

#[test]
fn errors_exit_non_zero_with_one_line() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("db");
    failure(folio(
        &data,
        &["balance", "--org", "1", "--day", "2024-01-01"],
    ));
    ok(folio(&data, &["init", "--shards", "2"]));
    failure(folio(&data, &["init"]));
    failure(folio(
        &data,
        &["balance", "--org", "1", "--day", "2024-01-01"],
    ));
    failure(folio(
        &data,
        &["balance", "--org", "1", "--day", "2024-02-30"],
    ));
    failure(folio(
        &data,
        &[
            "org",
            "add",
            "--id",
            "1",
            "--name",
            "X",
            "--tz",
            "Mars/Olympus",
        ],
    ));
    failure(folio(
        &data,
        &[
            "org",
            "add",
            "--id",
            "1",
            "--name",
            "X",
            "--currency",
            "euro",
        ],
    ));
    ok(folio(
        &data,
        &[
            "org",
            "add",
            "--id",
            "1",
            "--name",
            "X",
            "--tz",
            "Asia/Tokyo",
            "--opening",
            "-500",
        ],
    ));
    failure(folio(&data, &["org", "add", "--id", "1", "--name", "Y"]));
    let out = ok(folio(
        &data,
        &["balance", "--org", "1", "--day", "2024-01-01", "--json"],
    ));
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(out.trim()).unwrap()["closing"],
        -500
    );
    failure(folio(
        &data,
        &["ingest", tmp.path().join("missing.jsonl").to_str().unwrap()],
    ));
    failure(folio(
        &data,
        &[
            "entries",
            "--org",
            "1",
            "--from",
            "2024-02-01",
            "--to",
            "2024-01-01",
        ],
    ));
}

#[test]
fn verify_queries_and_reports_from_the_command_line() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("db");
    let file = tmp.path().join("s.jsonl");
    let params = Params {
        orgs: 40,
        events: 8_000,
        ..Params::default()
    };
    write_stream(&file, params, false);
    ok(folio(&data, &["init"]));
    ok(folio(
        &data,
        &["ingest", file.to_str().unwrap(), "--auto-org"],
    ));
    let out = ok(folio(&data, &["verify", "--json"]));
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(
        (v["ok"].as_bool(), v["entries"].as_u64()),
        (Some(true), Some(8_000)),
        "{v}"
    );

    let queries = tmp.path().join("q.jsonl");
    let lines = ok(folio(
        &data,
        &[
            "generate",
            "--orgs",
            "40",
            "--events",
            "8000",
            "--queries",
            "20",
        ],
    ));
    std::fs::write(&queries, &lines).unwrap();
    let answers = ok(folio(&data, &["queries", queries.to_str().unwrap()]));
    assert_eq!(answers.lines().count(), 100);
    for (q, a) in lines.lines().zip(answers.lines()).take(20) {
        let q: serde_json::Value = serde_json::from_str(q).unwrap();
        let (org, day) = (
            q["org"].as_u64().unwrap(),
            q["day"].as_i64().unwrap() as i32,
        );
        let (closing, ..) = expected_closing(params, org, day);
        assert_eq!(a.parse::<i64>().unwrap(), closing, "{q}");
    }
    let top = ok(folio(
        &data,
        &[
            "report", "top", "--month", "2024-02", "--limit", "3", "--json",
        ],
    ));
    assert_eq!(top.lines().count(), 3);
    let daily = ok(folio(
        &data,
        &[
            "report",
            "daily",
            "--org",
            "1",
            "--day",
            "2024-02-10",
            "--json",
        ],
    ));
    let v: serde_json::Value = serde_json::from_str(daily.trim()).unwrap();
    assert_eq!(
        v["balance"]["closing"],
        expected_closing(params, 1, 19_763).0
    );
    failure(folio(
        &data,
        &["report", "monthly", "--org", "1", "--month", "2024-13"],
    ));
    failure(folio(
        &data,
        &["report", "pending", "--org", "1", "--limit", "0"],
    ));
    failure(folio(
        &data,
        &["queries", lines_org("{\"org_id\":1}").as_str()],
    ));
}

#[test]
fn query_explain_index_list_and_paging_from_the_command_line() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("db");
    let file = tmp.path().join("s.jsonl");
    let params = Params {
        orgs: 20,
        events: 6_000,
        ..Params::default()
    };
    write_stream(&file, params, false);
    ok(folio(&data, &["init"]));
    ok(folio(
        &data,
        &["ingest", file.to_str().unwrap(), "--auto-org"],
    ));
    let list = ok(folio(&data, &["index", "list", "--json"]));
    assert_eq!(list.lines().count(), 5);
    assert!(list.contains("\"expenses_pending\""));

    let plan = ok(folio(
        &data,
        &[
            "query",
            "--table",
            "expenses",
            "--org",
            "1",
            "--status",
            "pending",
            "--explain",
            "--json",
        ],
    ));
    let v: serde_json::Value = serde_json::from_str(plan.trim()).unwrap();
    assert_eq!(v["access"][0]["index"], "expenses_pending");

    // Two pages through the cursor equal one page twice as long.
    let base = [
        "query",
        "--org",
        "2",
        "--from",
        "2024-02-01",
        "--to",
        "2024-05-01",
        "--json",
    ];
    let rows = |out: &str| -> Vec<u64> {
        out.lines()
            .filter_map(|l| {
                serde_json::from_str::<serde_json::Value>(l).unwrap()["entry_id"].as_u64()
            })
            .collect()
    };
    let long = ok(folio(&data, &[&base[..], &["--limit", "40"]].concat()));
    let first = ok(folio(&data, &[&base[..], &["--limit", "20"]].concat()));
    let cursor = first
        .lines()
        .last()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["next"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .unwrap();
    let second = ok(folio(
        &data,
        &[&base[..], &["--limit", "20", "--after", &cursor]].concat(),
    ));
    assert_eq!(rows(&long), [rows(&first), rows(&second)].concat());

    let grouped = ok(folio(
        &data,
        &[
            "query",
            "--table",
            "revenues",
            "--org",
            "1",
            "--group-by",
            "all",
            "--json",
        ],
    ));
    let v: serde_json::Value = serde_json::from_str(grouped.trim()).unwrap();
    let want: i64 = Generator::new(params)
        .expect("valid parameters")
        .filter(|e| e.org_id == 1 && e.kind == folio::Kind::Revenue)
        .map(|e| e.amount)
        .sum();
    assert_eq!(v["sum"], want);

    let projected = ok(folio(
        &data,
        &[
            "query",
            "--table",
            "expenses",
            "--org",
            "1",
            "--status",
            "pending",
            "--select",
            "entry_id,amount",
            "--limit",
            "3",
            "--json",
        ],
    ));
    let first: serde_json::Value = serde_json::from_str(projected.lines().next().unwrap()).unwrap();
    assert!(
        first["entry_id"].is_u64() && first["amount"].is_i64() && first.get("category").is_none(),
        "{first}"
    );
    failure(folio(&data, &["query", "--select", "colour"]));
    failure(folio(&data, &["query", "--table", "rooms"]));
    failure(folio(&data, &["query", "--category", "sauna"]));
    failure(folio(
        &data,
        &["query", "--table", "revenues", "--status", "paid"],
    ));
    failure(folio(
        &data,
        &["query", "--from", "2024-03-01", "--to", "2024-02-01"],
    ));
    failure(folio(&data, &["query", "--limit", "100000"]));
    failure(folio(&data, &["query", "--after", "fc1.1.2.3.4.5"]));
}

/// `folio bench-replicas` on a small workload: a complete report whose figures come from the run
/// (every replica applied everything, reads happened on both paths, the catch-up replica caught up
/// — measured with the `fault-injection` feature only).
#[test]
fn bench_replicas_reports_lag_reads_and_catch_up() {
    let dir = tempfile::tempdir().unwrap();
    let out = ok(folio(
        dir.path(),
        &[
            "bench-replicas",
            "--orgs",
            "200",
            "--events",
            "40000",
            "--batch",
            "500",
            "--replicas",
            "2",
            "--phase-ms",
            "40",
            "--read-rate",
            "20000",
            "--flow-control-ms",
            "5",
        ],
    ));
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["replicas"], 2);
    assert_eq!(v["events"], 40000);
    assert_eq!(v["read_rate_limit"], 20000);
    assert_eq!(v["flow_control_ms"], 5.0);
    assert!(v["lag_samples"].as_u64().unwrap() > 0, "{v}");
    assert!(v["catch_up_events_per_sec"].as_f64().unwrap() > 0.0, "{v}");
    let reads = v["reads_per_sec"].as_array().unwrap();
    let threads: Vec<u64> = reads.iter().map(|r| r[0].as_u64().unwrap()).collect();
    assert_eq!(threads, [1, 2, 4, 8]);
    for r in reads {
        assert!(
            r[1].as_f64().unwrap() > 0.0 && r[2].as_f64().unwrap() > 0.0,
            "{v}"
        );
    }
    // At 20,000 events/s the read phase's 20,000 events outlast its 4 × 2 × 40 ms of reads.
    assert_eq!(v["reads_overlapped_ingest"], true, "{v}");
}

/// `folio bench-checkpoints` on a small workload: every batch of the measured phase is counted once,
/// either beside a checkpoint or not, and checkpoints ran while the writers did.
#[test]
fn bench_checkpoints_splits_the_batches_by_overlap() {
    let dir = tempfile::tempdir().unwrap();
    let out = ok(folio(
        dir.path(),
        &[
            "bench-checkpoints",
            "--orgs",
            "200",
            "--events",
            "20000",
            "--batch",
            "100",
            "--writers",
            "2",
            "--pause-ms",
            "1",
            "--seconds",
            "60",
        ],
    ));
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["events"], 20000);
    assert_eq!(v["measured_events"], 20000, "{v}");
    let count = |k: &str| v[k]["count"].as_u64().unwrap();
    assert_eq!(count("overlapping") + count("not_overlapping"), 200, "{v}");
    assert!(count("checkpoints") > 0 && count("overlapping") > 0, "{v}");
    assert!(v["checkpoints"]["max_ms"].as_f64().unwrap() > 0.0, "{v}");
    assert!(v["peak_rss_anon_bytes"].as_u64().unwrap() > 0, "{v}");
}

/// A database with three orgs in currencies of 0, 3 and 2 minor digits (JPY, KWD, USD), each
/// opened with 1000 minor units, and a hotel-ledger-v1 stream over them.
fn three_currencies(tmp: &Path) -> (std::path::PathBuf, Params) {
    let data = tmp.join("db");
    let file = tmp.join("s.jsonl");
    let params = Params {
        orgs: 3,
        events: 3_000,
        ..Params::default()
    };
    write_stream(&file, params, false);
    ok(folio(&data, &["init", "--shards", "2"]));
    for (id, currency) in [("1", "JPY"), ("2", "KWD"), ("3", "USD")] {
        let add = [
            "org",
            "add",
            "--id",
            id,
            "--name",
            "H",
            "--currency",
            currency,
            "--opening",
            "1000",
        ];
        ok(folio(&data, &add));
    }
    ok(folio(
        &data,
        &["ingest", file.to_str().expect("utf-8 path")],
    ));
    (data, params)
}

fn json_lines(out: &str) -> Vec<serde_json::Value> {
    out.lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect()
}

#[test]
fn amounts_show_their_currencys_digits_and_aggregates_never_add_two_currencies() {
    let tmp = tempfile::tempdir().unwrap();
    let (data, params) = three_currencies(tmp.path());
    let list = ok(folio(&data, &["org", "list"]));
    assert!(list.contains("1 H JPY UTC opening 1000\n"), "{list}");
    assert!(list.contains("2 H KWD UTC opening 1.000\n"), "{list}");
    assert!(list.contains("3 H USD UTC opening 10.00\n"), "{list}");
    let day = ["--day", "2023-12-31"];
    let jpy = ok(folio(
        &data,
        &[&["balance", "--org", "1"][..], &day].concat(),
    ));
    assert!(jpy.contains("opening 1000 + revenue 0 (0 rows)"), "{jpy}");
    let kwd = ok(folio(
        &data,
        &[&["balance", "--org", "2"][..], &day].concat(),
    ));
    assert!(kwd.contains("= closing 1.000"), "{kwd}");
    let v = &json_lines(&ok(folio(
        &data,
        &[&["balance", "--org", "1", "--json"][..], &day].concat(),
    )))[0];
    assert_eq!(
        (&v["currency"], &v["closing"]),
        (&"JPY".into(), &1000.into())
    );
    let err = failure(folio(
        &data,
        &[
            "org",
            "add",
            "--id",
            "4",
            "--name",
            "H",
            "--currency",
            "XYZ",
        ],
    ));
    assert!(err.contains("ISO 4217"), "{err}");

    // Revenue of March 2024 per org, from the stream.
    let march = |org: u64| -> i64 {
        Generator::new(params)
            .expect("valid parameters")
            .filter(|e| e.org_id == org && e.kind == folio::Kind::Revenue)
            .filter(|e| (1_709_251_200..1_711_929_600).contains(&e.occurred_at))
            .map(|e| e.amount)
            .sum()
    };
    let chain = ["report", "chain", "--month", "2024-03", "--orgs"];
    let v = &json_lines(&ok(folio(
        &data,
        &[&chain[..], &["1,2,3", "--json"]].concat(),
    )))[0];
    let totals: Vec<(String, i64)> = v["totals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["currency"].as_str().unwrap().into(),
                t["total"].as_i64().unwrap(),
            )
        })
        .collect();
    let want = vec![
        ("JPY".to_string(), march(1)),
        ("KWD".to_string(), march(2)),
        ("USD".to_string(), march(3)),
    ];
    assert_eq!(totals, want);
    assert!(v["total"].is_null() && v["currency"].is_null(), "{v}");
    assert_eq!(v["orgs"][1]["currency"], "KWD");
    let text = ok(folio(&data, &[&chain[..], &["1,2,3"]].concat()));
    assert_eq!(
        text.lines().filter(|l| l.contains("total")).count(),
        3,
        "{text}"
    );
    let v = &json_lines(&ok(folio(&data, &[&chain[..], &["1", "--json"]].concat())))[0];
    assert_eq!(
        (&v["currency"], v["total"].as_i64()),
        (&"JPY".into(), Some(march(1)))
    );
    let err = failure(folio(&data, &[&chain[..], &["1,2,1"]].concat()));
    assert!(err.contains("more than once"), "{err}");

    let top = json_lines(&ok(folio(
        &data,
        &["report", "top", "--month", "2024-03", "--json"],
    )));
    let got: Vec<_> = top
        .iter()
        .map(|l| (l["currency"].clone(), l["org_id"].clone()))
        .collect();
    assert_eq!(
        got,
        [
            ("JPY".into(), 1.into()),
            ("KWD".into(), 2.into()),
            ("USD".into(), 3.into())
        ]
    );

    let groups = json_lines(&ok(folio(
        &data,
        &[
            "query",
            "--table",
            "revenues",
            "--from",
            "2024-03-01",
            "--to",
            "2024-04-01",
            "--group-by",
            "all",
            "--json",
        ],
    )));
    let got: Vec<_> = groups
        .iter()
        .map(|g| {
            (
                g["currency"].as_str().unwrap().to_string(),
                g["sum"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(got, want);
    let entries = json_lines(&ok(folio(
        &data,
        &[
            "entries",
            "--org",
            "2",
            "--from",
            "2024-03-01",
            "--to",
            "2024-03-05",
            "--json",
        ],
    )));
    assert!(!entries.is_empty() && entries.iter().all(|e| e["currency"] == "KWD"));
}

#[test]
fn a_cursor_is_refused_by_another_query_and_unregistered_orgs_are_errors_in_queries() {
    let tmp = tempfile::tempdir().unwrap();
    let (data, _) = three_currencies(tmp.path());
    let page = ["query", "--org", "1", "--limit", "5", "--json"];
    let first = json_lines(&ok(folio(&data, &page)));
    let cursor = first.last().unwrap()["next"].as_str().unwrap().to_string();
    let next = ok(folio(&data, &[&page[..], &["--after", &cursor]].concat()));
    assert_eq!(json_lines(&next).len(), 6);
    for other in [
        &["query", "--org", "2", "--limit", "5"][..],
        &["query", "--org", "1", "--limit", "5", "--order", "desc"],
        &["query", "--org", "1", "--limit", "5", "--table", "revenues"],
        &[
            "query",
            "--org",
            "1",
            "--limit",
            "5",
            "--from",
            "2024-02-01",
        ],
        &["query", "--org", "1", "--limit", "5", "--category", "rooms"],
    ] {
        let err = failure(folio(&data, &[other, &["--after", &cursor]].concat()));
        assert!(err.contains("another query"), "{other:?}: {err}");
    }

    // Q1 about an unregistered org is an error, as `balance` says; the other lines are answered.
    let queries = tmp.path().join("q.jsonl");
    std::fs::write(
        &queries,
        "{\"query\":\"Q1\",\"org\":1,\"day\":19700}\n{\"query\":\"Q1\",\"org\":99,\"day\":19700}\n\
         {\"query\":\"Q4\",\"org\":99}\n",
    )
    .unwrap();
    let out = folio(&data, &["queries", queries.to_str().unwrap()]);
    let answers = json_lines(&String::from_utf8(out.stdout.clone()).unwrap());
    assert_eq!(answers.len(), 3);
    assert!(answers[0].is_i64(), "{:?}", answers[0]);
    for a in &answers[1..] {
        assert_eq!(
            (&a["error"]["kind"], &a["error"]["org_id"]),
            (&"unknown_org".into(), &99.into())
        );
    }
    let err = failure(out);
    assert!(err.contains("2 queries"), "{err}");
    let err = failure(folio(
        &data,
        &["balance", "--org", "99", "--day", "2024-01-01"],
    ));
    assert!(err.contains("org 99 is not registered"), "{err}");

    // Dropping every revenue index is legitimate: verify judges against the indexes that exist.
    for name in ["revenues_org_cat_time", "revenues_org_pm_time"] {
        ok(folio(&data, &["index", "drop", name]));
    }
    let v = &json_lines(&ok(folio(&data, &["verify", "--json"])))[0];
    assert_eq!(v["ok"], true, "{v}");
}

/// `folio replica status --log` reports the state against the source: caught up, behind (with
/// its lag), ahead of an older copy of the log — never a lag of 0 there.
#[test]
fn replica_status_reports_caught_up_behind_and_ahead() {
    let tmp = tempfile::tempdir().unwrap();
    let (data, params) = three_currencies(tmp.path());
    let cp = tmp.path().join("cp");
    let edge = tmp.path().join("edge");
    let wal = data.join("wal");
    let old = tmp.path().join("old-wal");
    ok(folio(&data, &["checkpoint", "--out", cp.to_str().unwrap()]));
    std::fs::create_dir_all(&old).unwrap();
    for e in std::fs::read_dir(&wal).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), old.join(e.file_name())).unwrap();
    }
    let status = |log: &Path| {
        json_lines(&ok(folio(
            &edge,
            &[
                "replica",
                "status",
                "--log",
                log.to_str().unwrap(),
                "--json",
            ],
        )))
        .remove(0)
    };
    let follow = [
        "replica",
        "follow",
        "--once",
        "--from",
        cp.to_str().unwrap(),
        "--log",
    ];
    ok(folio(
        &edge,
        &[&follow[..], &[wal.to_str().unwrap()]].concat(),
    ));
    let v = status(&wal);
    assert_eq!(
        (&v["state"], &v["lag_lsn"]),
        (&"caught_up".into(), &0.into()),
        "{v}"
    );

    let more = tmp.path().join("more.jsonl");
    let later = Params {
        seed: params.seed + 1,
        ..params
    };
    let mut out = Vec::new();
    for mut e in Generator::new(later).expect("valid parameters").take(10) {
        e.entry_id += 1_000_000;
        e.write_jsonl(&mut out);
    }
    std::fs::write(&more, out).unwrap();
    ok(folio(
        &data,
        &["ingest", more.to_str().unwrap(), "--batch", "1"],
    ));
    let v = status(&wal);
    assert_eq!(
        (&v["state"], &v["lag_lsn"]),
        (&"behind".into(), &10.into()),
        "{v}"
    );
    ok(folio(
        &edge,
        &[&follow[..], &[wal.to_str().unwrap()]].concat(),
    ));
    let v = status(&old);
    assert_eq!(
        (&v["state"], &v["lag_lsn"]),
        (&"ahead".into(), &serde_json::Value::Null),
        "{v}"
    );
    assert_eq!(
        v["source_lsn"].as_u64().unwrap() + 10,
        v["applied_lsn"].as_u64().unwrap()
    );
    let text = ok(folio(
        &edge,
        &["replica", "status", "--log", old.to_str().unwrap()],
    ));
    assert!(text.contains("state ahead"), "{text}");
}

/// Postings, a reversal and a payment of org 7, as JSON Lines and as CSV with the op columns.
const OPS_JSONL: &str = r#"{"entry_id":1,"org_id":7,"kind":"expense","occurred_at":1704067218,"amount":719,"category":"supplies","payment_method":"cash","status":"pending"}
{"entry_id":2,"org_id":7,"kind":"revenue","occurred_at":1704067300,"amount":10000,"category":"rooms","payment_method":"card","status":null}
{"op":"post","entry_id":3,"org_id":7,"kind":"expense","occurred_at":1704067400,"amount":500,"category":"payroll","payment_method":"bank_transfer","status":"pending"}
{"op":"reversal","org_id":7,"entry_id":9001,"reverses":2,"occurred_at":1704153600}
{"op":"payment","org_id":7,"entry_id":1,"paid_at":1704240000}
"#;
const OPS_CSV: &str =
    "entry_id,org_id,kind,occurred_at,amount,category,payment_method,status,op,reverses,paid_at
1,7,expense,1704067218,719,supplies,cash,pending
2,7,revenue,1704067300,10000,rooms,card,,,,
3,7,expense,1704067400,500,payroll,bank_transfer,pending,post,,
9001,7,,1704153600,,,,,reversal,2,
1,7,,,,,,,payment,,1704240000
";

/// `folio ingest FILE ARGS...`.
fn ingest(data: &Path, file: &Path, args: &[&str]) -> Output {
    let mut all = vec!["ingest", file.to_str().expect("UTF-8 path")];
    all.extend_from_slice(args);
    folio(data, &all)
}

/// `folio entries --json` of one org between two dates, parsed.
fn entries_json(data: &Path, org: &str, from: &str, to: &str) -> Vec<serde_json::Value> {
    json_lines(&ok(folio(
        data,
        &[
            "entries", "--org", org, "--from", from, "--to", to, "--json",
        ],
    )))
}

#[test]
fn ingest_records_reversals_and_payments_from_jsonl_and_csv() {
    let tmp = tempfile::tempdir().unwrap();
    for (name, text) in [("ops.jsonl", OPS_JSONL), ("ops.csv", OPS_CSV)] {
        let data = tmp.path().join(format!("db-{name}"));
        let file = tmp.path().join(name);
        std::fs::write(&file, text).unwrap();
        ok(folio(&data, &["init", "--shards", "2"]));
        // Twice: the second load repeats every line and changes nothing.
        for _ in 0..2 {
            let summary = ok(ingest(&data, &file, &["--auto-org", "--batch", "2"]));
            assert!(summary.contains("ingested 5 events"), "{name}: {summary}");
        }
        // The reversal nets the revenue out on its own day; the expenses stay.
        let day1 = json_lines(&ok(folio(
            &data,
            &["balance", "--org", "7", "--day", "2024-01-01", "--json"],
        )));
        assert_eq!(day1[0]["closing"], 10_000 - 719 - 500, "{name}");
        let day2 = json_lines(&ok(folio(
            &data,
            &["balance", "--org", "7", "--day", "2024-01-02", "--json"],
        )));
        assert_eq!(day2[0]["closing"], -719 - 500, "{name}");
        // The payment moved expense 1 from pending to paid.
        let pending = json_lines(&ok(folio(
            &data,
            &["report", "pending", "--org", "7", "--json"],
        )));
        let ids: Vec<_> = pending.iter().map(|p| p["entry_id"].clone()).collect();
        assert_eq!(ids, [serde_json::json!(3)], "{name}");
        let entries = entries_json(&data, "7", "2024-01-01", "2024-01-05");
        let by_id = |id: u64| entries.iter().find(|e| e["entry_id"] == id).unwrap();
        assert_eq!(by_id(2)["reversed_by"], 9001, "{name}");
        assert_eq!(by_id(9001)["reverses"], 2, "{name}");
        assert_eq!(by_id(1)["paid_at"], 1_704_240_000, "{name}");
        ok(folio(&data, &["verify"]));
    }
}

#[test]
fn bad_op_lines_name_their_line_and_leave_their_batch_out() {
    let tmp = tempfile::tempdir().unwrap();
    let good = OPS_JSONL.lines().next().unwrap();
    let cases = [
        (
            r#"{"op":"refund","org_id":7,"entry_id":1}"#,
            "unknown op `refund`",
        ),
        (
            r#"{"op":"reversal","org_id":7,"entry_id":9001,"occurred_at":1704153600}"#,
            "missing field `reverses`",
        ),
        (
            r#"{"op":"payment","org_id":7,"entry_id":1,"paid_at":1704240000,"amount":5}"#,
            "field `amount` does not belong to a payment line",
        ),
        (
            r#"{"op":"reversal","org_id":7,"entry_id":9001,"reverses":55,"occurred_at":1704153600}"#,
            "entry 55 does not exist",
        ),
        (
            r#"{"op":"payment","org_id":7,"entry_id":77,"paid_at":1704240000}"#,
            "entry 77 does not exist",
        ),
    ];
    for (i, (bad, expected)) in cases.iter().enumerate() {
        let data = tmp.path().join(format!("db{i}"));
        let file = tmp.path().join(format!("bad{i}.jsonl"));
        std::fs::write(&file, format!("{good}\n{bad}\n")).unwrap();
        ok(folio(&data, &["init", "--shards", "2"]));
        let err = failure(folio(
            &data,
            &["ingest", file.to_str().unwrap(), "--auto-org"],
        ));
        assert!(err.contains("line 2:"), "{bad}: {err}");
        assert!(err.contains(expected), "{bad}: {err}");
        assert!(err.contains("no line of the file is recorded"), "{err}");
        // The batch held the good posting and its org: neither is recorded.
        assert_eq!(ok(folio(&data, &["org", "list", "--json"])), "", "{bad}");
    }
}

#[test]
fn rejections_name_the_offending_line_and_what_is_recorded() {
    let tmp = tempfile::tempdir().unwrap();
    let line = |id: u64, amount: i64| {
        format!(
            r#"{{"entry_id":{id},"org_id":1,"kind":"revenue","occurred_at":1704067200,"amount":{amount},"category":"rooms","payment_method":"card","status":null}}"#
        )
    };
    // Overflow: line 6 breaks the org's running balance; line 5 (same batch, same org) is fine.
    // Conflict: line 6 repeats entry 5 with another amount.
    let cases = [
        ("overflow", line(6, i64::MAX - 100), "would overflow"),
        (
            "conflict",
            line(5, 11),
            "already recorded with different content",
        ),
    ];
    for (name, bad, expected) in cases {
        let data = tmp.path().join(name);
        let file = tmp.path().join(format!("{name}.jsonl"));
        let mut lines: Vec<String> = (1..=5).map(|id| line(id, 100)).collect();
        lines.push(bad);
        lines.push(line(7, 100));
        std::fs::write(&file, lines.join("\n") + "\n").unwrap();
        ok(folio(&data, &["init", "--shards", "2"]));
        let err = failure(ingest(&data, &file, &["--auto-org", "--batch", "4"]));
        assert!(
            err.contains("line 6:") && err.contains(expected),
            "{name}: {err}"
        );
        assert!(
            err.contains("(lines 5..=7) is recorded")
                && err.contains("lines 1..=4 are recorded")
                && err.contains("idempotent"),
            "{name}: {err}"
        );
        let entries = entries_json(&data, "1", "2024-01-01", "2024-01-02");
        assert_eq!(entries.len(), 4, "{name}");
        // Fixed, the same file loads; the first four lines repeat as no-ops.
        lines[5] = line(6, 100);
        std::fs::write(&file, lines.join("\n") + "\n").unwrap();
        ok(folio(
            &data,
            &["ingest", file.to_str().unwrap(), "--batch", "4"],
        ));
        let entries = entries_json(&data, "1", "2024-01-01", "2024-01-02");
        assert_eq!(entries.len(), 7, "{name}");
    }
}

#[test]
fn ingest_reads_standard_input() {
    use std::io::Write as _;
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("db");
    ok(folio(&data, &["init", "--shards", "2"]));
    for (format, text) in [("jsonl", OPS_JSONL), ("csv", OPS_CSV)] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_folio"))
            .arg("--data")
            .arg(&data)
            .args(["ingest", "-", "--auto-org", "--format", format])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("run folio");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
        let summary = ok(child.wait_with_output().unwrap());
        assert!(summary.contains("ingested 5 events"), "{summary}");
    }
    let pending = json_lines(&ok(folio(
        &data,
        &["report", "pending", "--org", "7", "--json"],
    )));
    assert_eq!(pending.len(), 1);
}

#[test]
fn date_errors_show_dates() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("db");
    ok(folio(&data, &["init", "--shards", "2"]));
    ok(folio(&data, &["org", "add", "--id", "1", "--name", "A"]));
    // Every day of years 0001..=9999 is a day; one outside is refused as the date it is.
    ok(folio(
        &data,
        &["balance", "--org", "1", "--day", "0001-01-01"],
    ));
    for day in ["0000-12-31", "10000-01-01"] {
        let err = failure(folio(&data, &["balance", "--org", "1", "--day", day]));
        assert!(err.contains(&format!("{day:?} is not a date")), "{err}");
        assert!(
            !err.contains("-719163") && !err.contains("2932897"),
            "{err}"
        );
    }
}

#[test]
fn generate_into_a_closed_pipe_exits_quietly() {
    use std::io::Read as _;
    for extra in [&[][..], &["--csv"][..], &["--queries", "100000"][..]] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_folio"))
            .args(["generate", "--events", "5000000"])
            .args(extra)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("run folio");
        // Read a little, as `head` would, then close the pipe.
        let mut stdout = child.stdout.take().unwrap();
        let mut first = [0u8; 4096];
        stdout.read_exact(&mut first).unwrap();
        drop(stdout);
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{extra:?}: {:?} {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.stderr.is_empty(),
            "{extra:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn init_with_a_bad_shard_count_leaves_no_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("db");
    for shards in ["0", "1025"] {
        let err = failure(folio(&data, &["init", "--shards", shards]));
        assert!(err.contains("shard count"), "{err}");
        assert!(!data.exists(), "--shards {shards} left {}", data.display());
    }
    ok(folio(&data, &["init", "--shards", "1"]));
}

/// A database under `dir` holding [`OPS_JSONL`].
fn loaded_with_ops(dir: &Path) -> std::path::PathBuf {
    let data = dir.join("db");
    let file = dir.join("ops.jsonl");
    std::fs::write(&file, OPS_JSONL).expect("write ops");
    ok(folio(&data, &["init", "--shards", "2"]));
    ok(ingest(&data, &file, &["--auto-org"]));
    data
}

#[test]
fn info_shows_what_the_database_holds() {
    let tmp = tempfile::tempdir().unwrap();
    let data = loaded_with_ops(tmp.path());
    let info = json_lines(&ok(folio(&data, &["info", "--json"])));
    let info = &info[0];
    assert_eq!(info["shards"], 2);
    assert_eq!(info["orgs"], 1);
    assert_eq!(info["entries"], 4, "three postings and a reversal");
    let lsn = info["lsn"].as_u64().unwrap();
    assert!(lsn > 0);
    let partitions = info["partitions"].as_array().unwrap();
    let rows = |table: &str| {
        partitions
            .iter()
            .find(|p| p["table"] == table && p["month"] == "2024-01")
            .map(|p| (p["rows"].as_u64().unwrap(), p["bytes"].as_u64().unwrap()))
            .unwrap()
    };
    assert_eq!(rows("revenues").0, 2, "{partitions:?}");
    assert_eq!(rows("expenses").0, 2, "{partitions:?}");
    assert!(rows("revenues").1 > 0);
    assert_eq!(info["log"]["segments"], 1);
    assert!(info["log"]["bytes"].as_u64().unwrap() > 0);
    assert!(info["indexes"]
        .as_array()
        .unwrap()
        .iter()
        .any(|i| i["name"] == "expenses_pending"));
    assert_eq!(info["recovery"]["lsn"], lsn);
    assert_eq!(info["recovery"]["created"], false);
    let text = ok(folio(&data, &["info"]));
    assert!(
        text.contains("1 orgs, 4 entries") && text.contains("last recovery:"),
        "{text}"
    );
    // The engine's memory account, against the default budget or --memory-budget.
    let memory = &info["memory"];
    assert_eq!(memory["budget"], 256 << 20);
    assert_eq!(memory["rows_in_memory"], 4);
    assert!(memory["rows"].as_u64().unwrap() >= 4 * 64, "{memory}");
    let small = json_lines(&ok(folio(
        &data,
        &["--memory-budget", "8MiB", "info", "--json"],
    )));
    assert_eq!(small[0]["memory"]["budget"], 8 << 20);
    assert_eq!(
        small[0]["memory"]["store_cache"],
        4 << 20,
        "a quarter, at least 4 MiB"
    );
    let err = failure(folio(&data, &["--memory-budget", "8 parsecs", "info"]));
    assert!(err.contains("is not a size"), "{err}");
}

/// Every object of every JSON output, nested ones included.
fn objects(value: &serde_json::Value, out: &mut Vec<serde_json::Map<String, serde_json::Value>>) {
    match value {
        serde_json::Value::Object(map) => {
            out.push(map.clone());
            map.values().for_each(|v| objects(v, out));
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| objects(v, out)),
        _ => {}
    }
}

#[test]
fn json_keys_are_consistent_across_commands() {
    let tmp = tempfile::tempdir().unwrap();
    let data = loaded_with_ops(tmp.path());
    let org_scoped: &[&[&str]] = &[
        &["balance", "--org", "7", "--day", "2024-01-01"],
        &[
            "balances",
            "--org",
            "7",
            "--from",
            "2024-01-01",
            "--to",
            "2024-01-02",
        ],
        &[
            "entries",
            "--org",
            "7",
            "--from",
            "2024-01-01",
            "--to",
            "2024-01-05",
        ],
        &["report", "daily", "--org", "7", "--day", "2024-01-01"],
        &["report", "monthly", "--org", "7", "--month", "2024-01"],
        &["report", "pending", "--org", "7"],
        &["report", "top", "--month", "2024-01"],
        &["org", "list"],
    ];
    let monthly: &[&[&str]] = &[
        &["report", "chain", "--orgs", "7", "--month", "2024-01"],
        &["report", "top", "--month", "2024-01"],
        &["report", "monthly", "--org", "7", "--month", "2024-01"],
    ];
    let database: &[&[&str]] = &[&["info"], &["verify"], &["index", "list"]];
    let all = org_scoped.iter().chain(monthly).chain(database);
    for args in all {
        let mut args = args.to_vec();
        args.push("--json");
        let lines = json_lines(&ok(folio(&data, &args)));
        assert!(!lines.is_empty(), "{args:?}");
        for line in &lines {
            let mut found = Vec::new();
            objects(line, &mut found);
            for object in &found {
                // Org ids are `org_id`, days ISO dates under `day`, LSNs integers.
                assert!(!object.contains_key("org"), "{args:?}: {object:?}");
                if let Some(day) = object.get("day") {
                    let day = day.as_str().unwrap_or_default();
                    assert!(folio::BusinessDay::parse(day).is_some(), "{args:?}: {day}");
                }
                if let Some(lsn) = object.get("lsn") {
                    assert!(lsn.is_u64(), "{args:?}: {object:?}");
                }
            }
            if org_scoped.contains(&&args[..args.len() - 1]) {
                assert!(line.get("org_id").is_some(), "{args:?}: {line}");
            }
            if monthly.contains(&&args[..args.len() - 1]) {
                assert_eq!(line["month"], "2024-01", "{args:?}: {line}");
            }
        }
    }
}

/// `--years`: `generate` writes the multi-year stream and its query instances (months beyond
/// 12), `queries` answers them, `bench` and `compare` (against SQLite) name the years in their
/// reports, and `compare` finds no disagreement; a bad year count is a one-line error.
#[test]
fn years_flag_runs_the_multi_year_variant_end_to_end() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("db");
    let params = Params {
        orgs: 30,
        events: 6_000,
        years: 2,
        ..Params::default()
    };
    let scale = ["--orgs", "30", "--events", "6000", "--years", "2"];
    let generate = |extra: &[&str]| {
        let args: Vec<&str> = ["generate"]
            .iter()
            .chain(&scale)
            .chain(extra)
            .copied()
            .collect();
        ok(folio(&data, &args))
    };
    let stream = generate(&[]);
    let mut expected = Vec::new();
    for e in Generator::new(params).expect("valid parameters") {
        e.write_jsonl(&mut expected);
    }
    assert_eq!(stream.as_bytes(), expected.as_slice());
    for bad in ["0", "7960"] {
        let err = failure(folio(&data, &["generate", "--years", bad, "--events", "1"]));
        assert!(err.contains("year"), "{err}");
    }

    let file = tmp.path().join("s.jsonl");
    std::fs::write(&file, &stream).unwrap();
    ok(folio(&data, &["init"]));
    ok(folio(
        &data,
        &["ingest", file.to_str().unwrap(), "--auto-org"],
    ));
    let lines = generate(&["--queries", "40"]);
    let months: Vec<u64> = lines
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["month"].as_u64())
        .collect();
    assert!(months.iter().all(|m| (1..=24).contains(m)), "{months:?}");
    assert!(months.iter().any(|&m| m > 12), "{months:?}");
    let queries = tmp.path().join("q.jsonl");
    std::fs::write(&queries, &lines).unwrap();
    let answers = ok(folio(&data, &["queries", queries.to_str().unwrap()]));
    assert_eq!(answers.lines().count(), 200);
    for (q, a) in lines.lines().zip(answers.lines()).take(40) {
        let q: serde_json::Value = serde_json::from_str(q).unwrap();
        let (org, day) = (q["org"].as_u64().unwrap(), q["day"].as_i64().unwrap());
        assert!((19_723..19_723 + 732).contains(&day), "{q}");
        let (closing, ..) = expected_closing(params, org, day as i32);
        assert_eq!(a.parse::<i64>().unwrap(), closing, "{q}");
    }

    let bench: Vec<&str> = ["bench"].iter().chain(&scale).copied().collect();
    let out = ok(folio(&data, &[bench.as_slice(), &["--json"]].concat()));
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(
        (v["years"].as_u64(), v["events"].as_u64()),
        (Some(2), Some(6_000))
    );

    let dir = tmp.path().join("compare");
    let compare: Vec<&str> = ["compare", "--sqlite"]
        .iter()
        .chain(&scale)
        .copied()
        .collect();
    let tail = [
        "--singles",
        "100",
        "--concurrent",
        "200",
        "--writers",
        "2",
        "--timed",
        "100",
        "--check",
        "100",
        "--json",
        "--dir",
    ];
    let out = ok(folio(
        &data,
        &[compare.as_slice(), &tail, &[dir.to_str().unwrap()]].concat(),
    ));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["years"].as_u64(), Some(2), "{v}");
    assert_eq!(v["disagreements"], serde_json::json!([]), "{v}");
    assert!(v["compared"].as_u64().unwrap() > 500, "{v}");
}

/// A shell reads a database while `folio ingest` writes it (`LOCK.read`): `balance` and `months`
/// open read-only beside the writer, each answering with every batch whose frame was complete
/// when it opened, never "locked by another process".
#[test]
fn commands_read_while_an_ingest_writes() {
    use std::io::Write as _;
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("db");
    ok(folio(&data, &["init", "--shards", "2"]));
    ok(folio(
        &data,
        &["org", "add", "--id", "7", "--name", "Seaside"],
    ));
    let mut child = Command::new(env!("CARGO_BIN_EXE_folio"))
        .arg("--data")
        .arg(&data)
        .args(["ingest", "-", "--format", "jsonl", "--batch", "1"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run folio");
    let mut stdin = child.stdin.take().unwrap();
    let closing = |data: &Path| -> i64 {
        let out = folio(
            data,
            &["balance", "--org", "7", "--day", "2024-02-28", "--json"],
        );
        let out = ok(out);
        let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
        v["closing"].as_i64().unwrap()
    };
    let mut posted = 0i64;
    for round in 0..4u64 {
        // Ten revenues of org 7, one a day from the round's first day.
        for k in 0..10u64 {
            let id = round * 10 + k + 1;
            let amount = 100 * id as i64;
            let at = 1_704_067_200 + (round * 10 + k) as i64 * 86_400;
            writeln!(
                stdin,
                r#"{{"entry_id":{id},"org_id":7,"kind":"revenue","occurred_at":{at},"amount":{amount},"category":"rooms","payment_method":"card","status":null}}"#
            )
            .unwrap();
            posted += amount;
        }
        stdin.flush().unwrap();
        // Each read succeeds beside the writer; what it sees grows to what was sent.
        let started = std::time::Instant::now();
        let mut seen = Vec::new();
        loop {
            let now = closing(&data);
            assert!(now <= posted, "round {round}: {now} > {posted}");
            seen.push(now);
            if now == posted {
                break;
            }
            assert!(
                started.elapsed() < std::time::Duration::from_secs(60),
                "round {round}: readers saw {seen:?}, never {posted}"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        assert!(seen.windows(2).all(|w| w[0] <= w[1]), "{seen:?}");
        let months = json_lines(&ok(folio(&data, &["months", "--json"])));
        assert!(!months.is_empty());
    }
    drop(stdin);
    let summary = ok(child.wait_with_output().unwrap());
    assert!(summary.contains("ingested 40 events"), "{summary}");
    assert_eq!(closing(&data), posted);
}
