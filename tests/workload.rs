//! The `hotel-ledger-v1` workload: reference stream, text forms and parsers.

use folio::{Category, ExpenseStatus, Kind, PaymentMethod};
use folio_workload::{
    instances, parse_csv_line, parse_jsonl_line, Generator, InputFormat, Params, ParseError,
    QueryInstance, WorkloadEvent, CSV_HEADER,
};
use proptest::prelude::*;
use std::path::Path;

const SAMPLE_LINES: [&str; 3] = [
    r#"{"entry_id":1,"org_id":1799,"kind":"expense","occurred_at":1704067218,"amount":719,"category":"supplies","payment_method":"cash","status":"paid"}"#,
    r#"{"entry_id":2,"org_id":2402,"kind":"revenue","occurred_at":1704067231,"amount":11031,"category":"food_beverage","payment_method":"bank_transfer","status":null}"#,
    r#"{"entry_id":3,"org_id":5584,"kind":"revenue","occurred_at":1704067278,"amount":12656,"category":"rooms","payment_method":"card","status":null}"#,
];

fn fnv1a(hash: u64, bytes: &[u8]) -> u64 {
    bytes.iter().fold(hash, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

fn jsonl(event: &WorkloadEvent) -> String {
    let mut out = Vec::new();
    event.write_jsonl(&mut out);
    String::from_utf8(out).expect("JSONL is ASCII")
}

fn csv(event: &WorkloadEvent) -> String {
    let mut out = Vec::new();
    event.write_csv(&mut out);
    String::from_utf8(out).expect("CSV is ASCII")
}

/// A valid line to break one field at a time.
fn expense_line(amount: &str) -> String {
    format!(
        r#"{{"entry_id":1,"org_id":2,"kind":"expense","occurred_at":3,"amount":{amount},"category":"payroll","payment_method":"card","status":"pending"}}"#
    )
}

#[test]
fn default_jsonl_stream_has_the_reference_fnv1a_hash() {
    let mut line = Vec::with_capacity(256);
    let mut hash = 0xcbf2_9ce4_8422_2325;
    let mut count = 0u64;
    for event in Generator::new(Params::default()).expect("valid parameters") {
        line.clear();
        event.write_jsonl(&mut line);
        hash = fnv1a(hash, &line);
        count += 1;
    }
    assert_eq!(count, 1_000_000);
    assert_eq!(format!("{hash:016x}"), "bb3e5c3248b21c86");
}

#[test]
fn first_three_events_are_the_documented_sample() {
    let lines: Vec<String> = Generator::new(Params::default())
        .expect("valid parameters")
        .take(3)
        .map(|e| jsonl(&e))
        .collect();
    for (line, sample) in lines.iter().zip(SAMPLE_LINES) {
        assert_eq!(line.as_str(), format!("{sample}\n"));
    }
}

#[test]
fn default_stream_matches_the_documented_facts() {
    let mut per_org = vec![0u64; 10_001];
    let (mut revenue, mut expense, mut pending) = (0u64, 0u64, 0u64);
    for event in Generator::new(Params::default()).expect("valid parameters") {
        per_org[usize::try_from(event.org_id).expect("small org id")] += 1;
        match event.kind {
            Kind::Revenue => revenue += 1,
            Kind::Expense => expense += 1,
        }
        if event.status == Some(ExpenseStatus::Pending) {
            pending += 1;
        }
        assert!(event.category.allowed_for(event.kind));
        assert_eq!(event.status.is_some(), event.kind == Kind::Expense);
        assert!((100..=500_000).contains(&event.amount));
        assert!((1_704_067_200..1_735_689_600).contains(&event.occurred_at));
    }
    assert_eq!((revenue, expense, pending), (649_774, 350_226, 70_100));
    assert_eq!(per_org[0], 0);
    assert_eq!(per_org[1], 102_338);
    assert_eq!(per_org[2], 50_948);
    assert!(per_org[1..].iter().all(|&n| n > 0), "every org occurs");
}

#[test]
fn jsonl_round_trips_the_first_10000_events() {
    for event in Generator::new(Params::default())
        .expect("valid parameters")
        .take(10_000)
    {
        let line = jsonl(&event);
        assert_eq!(parse_jsonl_line(&line).expect(&line), event);
        assert_eq!(parse_jsonl_line(line.trim_end()).expect(&line), event);
    }
}

#[test]
fn csv_round_trips_the_first_10000_events() {
    for event in Generator::new(Params::default())
        .expect("valid parameters")
        .take(10_000)
    {
        let line = csv(&event);
        assert_eq!(parse_csv_line(&line).expect(&line), event);
        assert_eq!(parse_csv_line(line.trim_end()).expect(&line), event);
    }
}

#[test]
fn csv_form_has_header_and_empty_revenue_status() {
    assert_eq!(
        CSV_HEADER,
        "entry_id,org_id,kind,occurred_at,amount,category,payment_method,status"
    );
    let lines: Vec<String> = Generator::new(Params::default())
        .expect("valid parameters")
        .take(2)
        .map(|e| csv(&e))
        .collect();
    assert_eq!(
        lines[0],
        "1,1799,expense,1704067218,719,supplies,cash,paid\n"
    );
    assert_eq!(
        lines[1],
        "2,2402,revenue,1704067231,11031,food_beverage,bank_transfer,\n"
    );
}

#[test]
fn jsonl_parser_accepts_any_key_order_and_whitespace() {
    let line = " {\n\t\"status\" : null , \"payment_method\":\"bank_transfer\",\"category\":\"food_beverage\",\r\n\"amount\":11031,\"occurred_at\":1704067231,\"kind\":\"revenue\",\"org_id\":2402,\"entry_id\":2 }\r\n";
    let expected = parse_jsonl_line(SAMPLE_LINES[1]).expect("sample line");
    assert_eq!(parse_jsonl_line(line).expect("reordered line"), expected);
    assert_eq!(expected.category, Category::FoodBeverage);
    assert_eq!(expected.payment_method, PaymentMethod::BankTransfer);
}

#[test]
fn input_format_is_detected_by_extension() {
    assert_eq!(
        InputFormat::detect(Path::new("events.csv")),
        InputFormat::Csv
    );
    assert_eq!(
        InputFormat::detect(Path::new("events.jsonl")),
        InputFormat::Jsonl
    );
    assert_eq!(InputFormat::detect(Path::new("events")), InputFormat::Jsonl);
    assert_eq!(InputFormat::Csv.header(), Some(CSV_HEADER));
    let event = Generator::new(Params::default())
        .expect("valid parameters")
        .next()
        .expect("one event");
    for format in [InputFormat::Jsonl, InputFormat::Csv] {
        let mut out = Vec::new();
        format.write_event(&event, &mut out);
        let line = std::str::from_utf8(&out).expect("ASCII");
        assert_eq!(format.parse_line(line).expect("own output"), event);
    }
}

// ------------------------------------------------------------- JSONL errors

/// Recognises one error class.
type Check = fn(&ParseError) -> bool;

fn jsonl_err(line: &str) -> ParseError {
    match parse_jsonl_line(line) {
        Ok(event) => panic!("{line:?} parsed as {event:?}"),
        Err(e) => {
            assert!(!e.to_string().is_empty());
            e
        }
    }
}

#[test]
fn jsonl_rejects_empty_and_non_objects() {
    assert!(matches!(jsonl_err(""), ParseError::Empty));
    assert!(matches!(jsonl_err(" \t\r\n"), ParseError::Empty));
    assert!(matches!(jsonl_err("[1,2]"), ParseError::NotAnObject));
    assert!(matches!(jsonl_err("null"), ParseError::NotAnObject));
    assert!(matches!(jsonl_err("{"), ParseError::Json(_)));
    assert!(matches!(jsonl_err(r#"{"entry_id":}"#), ParseError::Json(_)));
}

#[test]
fn jsonl_reports_missing_fields() {
    assert!(matches!(
        jsonl_err("{}"),
        ParseError::MissingField("entry_id")
    ));
    let without_status = SAMPLE_LINES[1].replace(r#","status":null"#, "");
    assert!(matches!(
        jsonl_err(&without_status),
        ParseError::MissingField("status")
    ));
    let without_amount = expense_line("1").replace(r#""amount":1,"#, "");
    assert!(matches!(
        jsonl_err(&without_amount),
        ParseError::MissingField("amount")
    ));
}

#[test]
fn jsonl_rejects_non_integer_amounts() {
    for amount in [
        "1.5",
        "1e3",
        "1.0",
        "99999999999999999999",
        "9223372036854775808",
        "-9223372036854775809",
        "\"12\"",
        "null",
        "true",
    ] {
        let e = jsonl_err(&expense_line(amount));
        assert!(
            matches!(
                e,
                ParseError::BadNumber {
                    field: "amount",
                    ..
                }
            ),
            "{amount}: {e}"
        );
    }
    assert!(matches!(
        jsonl_err(&expense_line("[1]")),
        ParseError::Json(_)
    ));
    assert!(parse_jsonl_line(&expense_line("-9223372036854775808")).is_ok());
    assert!(parse_jsonl_line(&expense_line("9223372036854775807")).is_ok());
}

#[test]
fn jsonl_rejects_bad_ids() {
    let negative = SAMPLE_LINES[0].replace(r#""entry_id":1"#, r#""entry_id":-1"#);
    assert!(matches!(
        jsonl_err(&negative),
        ParseError::BadNumber {
            field: "entry_id",
            ..
        }
    ));
    let too_big = SAMPLE_LINES[0].replace("1799", "18446744073709551616");
    assert!(matches!(
        jsonl_err(&too_big),
        ParseError::BadNumber {
            field: "org_id",
            ..
        }
    ));
}

#[test]
fn jsonl_rejects_unknown_names() {
    let line = SAMPLE_LINES[0];
    let cases: [(&str, &str, Check); 5] = [
        ("\"expense\"", "\"cost\"", |e| {
            matches!(e, ParseError::UnknownKind(_))
        }),
        ("\"supplies\"", "\"Supplies\"", |e| {
            matches!(e, ParseError::UnknownCategory(_))
        }),
        ("\"cash\"", "\"cheque\"", |e| {
            matches!(e, ParseError::UnknownPaymentMethod(_))
        }),
        ("\"paid\"", "\"settled\"", |e| {
            matches!(e, ParseError::UnknownStatus(_))
        }),
        ("\"expense\"", "7", |e| {
            matches!(e, ParseError::NotAString { field: "kind", .. })
        }),
    ];
    for (from, to, check) in cases {
        let e = jsonl_err(&line.replacen(from, to, 1));
        assert!(check(&e), "{from} -> {to}: {e}");
    }
}

#[test]
fn jsonl_checks_status_and_category_against_kind() {
    let revenue_with_status = SAMPLE_LINES[1].replace("null", "\"paid\"");
    assert!(matches!(
        jsonl_err(&revenue_with_status),
        ParseError::StatusForRevenue(_)
    ));
    let expense_without_status = SAMPLE_LINES[0].replace("\"paid\"", "null");
    assert!(matches!(
        jsonl_err(&expense_without_status),
        ParseError::MissingStatus
    ));
    let revenue_payroll = SAMPLE_LINES[2].replace("rooms", "payroll");
    assert!(matches!(
        jsonl_err(&revenue_payroll),
        ParseError::CategoryNotAllowed {
            category: Category::Payroll,
            kind: Kind::Revenue
        }
    ));
    let expense_rooms = SAMPLE_LINES[0].replace("supplies", "rooms");
    assert!(matches!(
        jsonl_err(&expense_rooms),
        ParseError::CategoryNotAllowed { .. }
    ));
}

#[test]
fn jsonl_rejects_trailing_garbage_unknown_and_duplicate_keys() {
    for tail in ["x", "{}", ",", "\u{0}"] {
        let line = format!("{}{tail}", SAMPLE_LINES[0]);
        assert!(
            matches!(jsonl_err(&line), ParseError::TrailingGarbage),
            "{tail:?}"
        );
    }
    let unknown = SAMPLE_LINES[0].replace("{", r#"{"note":"x","#);
    assert!(matches!(jsonl_err(&unknown), ParseError::Json(_)));
    let duplicate = SAMPLE_LINES[0].replace("{", r#"{"amount":5,"#);
    assert!(matches!(jsonl_err(&duplicate), ParseError::Json(_)));
}

// --------------------------------------------------------------- CSV errors

fn csv_err(line: &str) -> ParseError {
    match parse_csv_line(line) {
        Ok(event) => panic!("{line:?} parsed as {event:?}"),
        Err(e) => {
            assert!(!e.to_string().is_empty());
            e
        }
    }
}

#[test]
fn csv_rejects_each_error_class() {
    let good = "1,1799,expense,1704067218,719,supplies,cash,paid";
    assert!(parse_csv_line(good).is_ok());
    assert!(matches!(csv_err(""), ParseError::Empty));
    assert!(matches!(csv_err("\n"), ParseError::Empty));
    assert!(matches!(
        csv_err("1,2,3"),
        ParseError::FieldCount {
            expected: 8,
            found: 3
        }
    ));
    assert!(matches!(
        csv_err(&format!("{good},extra")),
        ParseError::FieldCount { found: 9, .. }
    ));
    assert!(matches!(
        csv_err(CSV_HEADER),
        ParseError::BadNumber {
            field: "entry_id",
            ..
        }
    ));
    let amount = |a: &str| format!("1,1799,expense,1704067218,{a},supplies,cash,paid");
    for bad in ["1.5", "1e3", "99999999999999999999", "", " 719", "719x"] {
        assert!(
            matches!(
                csv_err(&amount(bad)),
                ParseError::BadNumber {
                    field: "amount",
                    ..
                }
            ),
            "{bad:?}"
        );
    }
    let cases: [(&str, Check); 7] = [
        ("1,1799,cost,1704067218,719,supplies,cash,paid", |e| {
            matches!(e, ParseError::UnknownKind(_))
        }),
        ("1,1799,expense,1704067218,719,paper,cash,paid", |e| {
            matches!(e, ParseError::UnknownCategory(_))
        }),
        ("1,1799,expense,1704067218,719,supplies,cheque,paid", |e| {
            matches!(e, ParseError::UnknownPaymentMethod(_))
        }),
        ("1,1799,expense,1704067218,719,supplies,cash,done", |e| {
            matches!(e, ParseError::UnknownStatus(_))
        }),
        ("1,1799,expense,1704067218,719,supplies,cash,", |e| {
            matches!(e, ParseError::MissingStatus)
        }),
        ("2,1799,revenue,1704067218,719,rooms,cash,paid", |e| {
            matches!(e, ParseError::StatusForRevenue(_))
        }),
        ("2,1799,revenue,1704067218,719,supplies,cash,", |e| {
            matches!(e, ParseError::CategoryNotAllowed { .. })
        }),
    ];
    for (line, check) in cases {
        let e = csv_err(line);
        assert!(check(&e), "{line}: {e}");
    }
}

#[test]
fn junk_is_an_error_not_a_panic() {
    let bytes: &[&[u8]] = &[
        b"\xff\xfe\xfd",
        b"{\"entry_id\":\xff}",
        b"1,\xc3\x28,expense,\xe2\x82,719,supplies,cash,paid",
        b"\x00\x00\x00",
        "é,ü,ß,日本,🙂,€,\u{0},\u{FFFD}".as_bytes(),
        "{\"kind\":\"日本語🙂\"}".as_bytes(),
    ];
    for raw in bytes {
        let line = String::from_utf8_lossy(raw);
        assert!(parse_jsonl_line(&line).is_err(), "{line:?}");
        assert!(parse_csv_line(&line).is_err(), "{line:?}");
        assert!(QueryInstance::parse_json_line(&line).is_err(), "{line:?}");
    }
    let long_name = format!(
        "1,1799,{},1704067218,719,supplies,cash,paid",
        "🙂".repeat(1000)
    );
    let message = csv_err(&long_name).to_string();
    assert!(message.len() < 400, "messages quote a bounded excerpt");
}

// ------------------------------------------------------------------ queries

#[test]
fn query_lines_round_trip_and_match_the_documented_form() {
    let documented = [
        (
            r#"{"query":"Q1","org":61,"day":19828}"#,
            QueryInstance::Q1 {
                org: 61,
                day: 19828,
            },
        ),
        (
            r#"{"query":"Q2","org":14,"month":11}"#,
            QueryInstance::Q2 { org: 14, month: 11 },
        ),
        (
            r#"{"query":"Q3","org":7,"from":1709251200,"to":1711843200}"#,
            QueryInstance::Q3 {
                org: 7,
                from: 1_709_251_200,
                to: 1_711_843_200,
            },
        ),
        (r#"{"query":"Q4","org":3}"#, QueryInstance::Q4 { org: 3 }),
        (
            r#"{"query":"Q5","month":2}"#,
            QueryInstance::Q5 { month: 2 },
        ),
    ];
    for (line, instance) in documented {
        assert_eq!(instance.to_json_line(), line);
        assert_eq!(QueryInstance::parse_json_line(line).expect(line), instance);
    }
    let params = Params::default();
    for kind in 1..=5 {
        for q in instances(kind, &params, 200).expect("valid parameters") {
            let line = q.to_json_line();
            assert_eq!(QueryInstance::parse_json_line(&line).expect(&line), q);
        }
    }
    let spaced = " { \"org\" : 3 , \"query\" : \"Q4\" }\n";
    assert_eq!(
        QueryInstance::parse_json_line(spaced).expect("spaced"),
        QueryInstance::Q4 { org: 3 }
    );
}

#[test]
fn query_streams_are_independent_per_kind_and_seed() {
    let params = Params::default();
    assert_eq!(
        instances(1, &params, 50).expect("valid parameters")[..10],
        instances(1, &params, 10).expect("valid parameters")[..]
    );
    let other_seed = Params {
        seed: params.seed + 1,
        ..params
    };
    assert_ne!(
        instances(2, &params, 20).expect("valid parameters"),
        instances(2, &other_seed, 20).expect("valid parameters")
    );
    let wrapping = Params {
        seed: u64::MAX,
        ..params
    };
    assert_eq!(
        instances(3, &wrapping, 5).expect("valid parameters").len(),
        5
    );
}

#[test]
fn query_parse_errors() {
    let err = |line: &str| match QueryInstance::parse_json_line(line) {
        Ok(q) => panic!("{line:?} parsed as {q:?}"),
        Err(e) => e,
    };
    assert!(matches!(err(""), ParseError::Empty));
    assert!(matches!(err("{}"), ParseError::MissingField("query")));
    assert!(matches!(
        err(r#"{"query":"Q6"}"#),
        ParseError::UnknownQuery(_)
    ));
    assert!(matches!(
        err(r#"{"query":"Q1","org":1}"#),
        ParseError::MissingField("day")
    ));
    assert!(matches!(
        err(r#"{"query":"Q4","org":1,"month":2}"#),
        ParseError::UnexpectedField {
            field: "month",
            query: "Q4"
        }
    ));
    for month in ["0", "95509", "-1"] {
        assert!(matches!(
            err(&format!(r#"{{"query":"Q5","month":{month}}}"#)),
            ParseError::BadNumber { field: "month", .. }
        ));
    }
    assert!(matches!(
        err(r#"{"query":"Q1","org":1,"day":1.5}"#),
        ParseError::BadNumber { field: "day", .. }
    ));
    assert!(matches!(
        err(r#"{"query":"Q4","org":1} x"#),
        ParseError::TrailingGarbage
    ));
    assert!(matches!(
        err(r#"{"query":"Q4","org":1,"x":1}"#),
        ParseError::Json(_)
    ));
}

// ---------------------------------------------------------------- properties

fn any_event() -> impl Strategy<Value = WorkloadEvent> {
    let revenue_categories: Vec<Category> = Category::ALL
        .iter()
        .copied()
        .filter(|c| c.allowed_for(Kind::Revenue))
        .collect();
    let expense_categories: Vec<Category> = Category::ALL
        .iter()
        .copied()
        .filter(|c| c.allowed_for(Kind::Expense))
        .collect();
    let kind_and_rest = prop_oneof![
        (
            Just(Kind::Revenue),
            proptest::sample::select(revenue_categories),
            Just(None)
        ),
        (
            Just(Kind::Expense),
            proptest::sample::select(expense_categories),
            proptest::sample::select(ExpenseStatus::ALL).prop_map(Some)
        ),
    ];
    (
        any::<u64>(),
        any::<u64>(),
        kind_and_rest,
        any::<i64>(),
        any::<i64>(),
        proptest::sample::select(PaymentMethod::ALL),
    )
        .prop_map(
            |(entry_id, org_id, (kind, category, status), occurred_at, amount, payment_method)| {
                WorkloadEvent {
                    entry_id,
                    org_id,
                    kind,
                    occurred_at,
                    amount,
                    category,
                    payment_method,
                    status,
                }
            },
        )
}

proptest! {
    #[test]
    fn any_valid_event_round_trips(event in any_event()) {
        let line = jsonl(&event);
        prop_assert_eq!(parse_jsonl_line(&line).expect("own JSONL"), event);
        let line = csv(&event);
        prop_assert_eq!(parse_csv_line(&line).expect("own CSV"), event);
    }

    #[test]
    fn arbitrary_text_never_panics(line in "\\PC{0,200}") {
        let _ = parse_jsonl_line(&line);
        let _ = parse_csv_line(&line);
        let _ = QueryInstance::parse_json_line(&line);
    }

    #[test]
    fn mutated_lines_never_panic(event in any_event(), at in any::<usize>(), junk in "\\PC{0,8}") {
        for mut line in [jsonl(&event), csv(&event)] {
            let mut cut = at % (line.len() + 1);
            while !line.is_char_boundary(cut) {
                cut -= 1;
            }
            line.insert_str(cut, &junk);
            let _ = parse_jsonl_line(&line);
            let _ = parse_csv_line(&line);
        }
    }
}

// ------------------------------------------------------------ stream digests

/// FNV-1a 64 over the JSONL of the first `events` events of `params` and the JSON lines of the
/// first `queries` instances of every query kind.
fn stream_digest(params: &Params, events: usize, queries: usize) -> u64 {
    let mut hash = 0xcbf2_9ce4_8422_2325;
    let mut line = Vec::with_capacity(256);
    for event in Generator::new(*params)
        .expect("valid parameters")
        .take(events)
    {
        line.clear();
        event.write_jsonl(&mut line);
        hash = fnv1a(hash, &line);
    }
    for kind in 1..=5 {
        for q in instances(kind, params, queries).expect("valid parameters") {
            hash = fnv1a(hash, q.to_json_line().as_bytes());
            hash = fnv1a(hash, b"\n");
        }
    }
    hash
}

/// The event stream and the query instances, pinned bit for bit: digests measured with the
/// generator and query streams as they were before the multi-year variant existed (a constant
/// one-year span, months 1..=12) on these parameters. They must never move: `years = 1` is that
/// stream, bit for bit.
#[test]
fn stream_and_query_instances_are_pinned_by_digest() {
    for (seed, orgs, events, digest) in [
        (20_240_101, 10_000, 1_000_000, "9591554448ea7f1a"),
        (7, 40, 12_000, "0ab90b2122761912"),
        (20_240_101, 300, 30_000, "882786d7a2831f6f"),
        (u64::MAX, 3, 500_000_000, "e85605618218980f"),
    ] {
        let params = Params {
            seed,
            orgs,
            events,
            years: 1,
        };
        assert_eq!(
            params,
            Params {
                seed,
                orgs,
                events,
                ..Params::default()
            }
        );
        assert_eq!(
            format!("{:016x}", stream_digest(&params, 200_000, 2_000)),
            digest,
            "{params:?}"
        );
    }
}

// ------------------------------------------------------------ multi-year

/// With `years = Y` the events spread over the whole `Y × 366` days from 2024-01-01 and stay
/// inside them: the first on the first day, the last on the last, about `E / Y` in each year.
#[test]
fn years_stretch_the_stream_over_the_whole_span() {
    const T0: i64 = 1_704_067_200;
    const YEAR: i64 = 366 * 86_400;
    for (years, events) in [(2u64, 40_000u64), (5, 50_000), (30, 9_000)] {
        let params = Params {
            orgs: 100,
            events,
            years,
            ..Params::default()
        };
        let end = T0 + years as i64 * YEAR;
        assert_eq!((params.span(), params.end()), (end - T0, end));
        let mut per_year = vec![0u64; years as usize];
        let (mut first, mut last) = (i64::MAX, i64::MIN);
        for e in Generator::new(params).expect("valid parameters") {
            assert!((T0..end).contains(&e.occurred_at), "{e:?}");
            per_year[((e.occurred_at - T0) / YEAR) as usize] += 1;
            (first, last) = (first.min(e.occurred_at), last.max(e.occurred_at));
        }
        assert!(
            first < T0 + 86_400 && last >= end - 86_400,
            "{first} {last}"
        );
        let even = events / years;
        for (year, n) in per_year.iter().enumerate() {
            assert!(
                n.abs_diff(even) <= even / 50,
                "year {year}: {n} of {events}"
            );
        }
    }
}

/// A longer history changes only the times: every other field of every event is the one-year
/// stream's, and the queries draw the same orgs.
#[test]
fn years_change_only_times_and_query_ranges() {
    let one = Params {
        orgs: 200,
        events: 20_000,
        ..Params::default()
    };
    let three = Params { years: 3, ..one };
    let a = Generator::new(one).expect("valid parameters");
    let b = Generator::new(three).expect("valid parameters");
    let mut moved = 0;
    for (x, y) in a.zip(b) {
        moved += usize::from(x.occurred_at != y.occurred_at);
        assert_eq!(
            WorkloadEvent {
                occurred_at: 0,
                ..x
            },
            WorkloadEvent {
                occurred_at: 0,
                ..y
            }
        );
    }
    assert!(moved > 19_000, "{moved}");
    for kind in 1..=5 {
        let org = |q: &QueryInstance| match *q {
            QueryInstance::Q1 { org, .. }
            | QueryInstance::Q2 { org, .. }
            | QueryInstance::Q3 { org, .. }
            | QueryInstance::Q4 { org } => org,
            QueryInstance::Q5 { .. } => 0,
        };
        let (x, y) = (
            instances(kind, &one, 500).expect("valid parameters"),
            instances(kind, &three, 500).expect("valid parameters"),
        );
        assert!(x.iter().map(org).eq(y.iter().map(org)));
        if kind == 4 {
            assert_eq!(x, y, "Q4 has no time argument");
        }
    }
}

#[test]
fn query_lines_take_months_of_every_year() {
    for (line, instance) in [
        (
            r#"{"query":"Q5","month":13}"#,
            QueryInstance::Q5 { month: 13 },
        ),
        (
            r#"{"query":"Q2","org":4,"month":95508}"#,
            QueryInstance::Q2 {
                org: 4,
                month: 95_508,
            },
        ),
    ] {
        assert_eq!(instance.to_json_line(), line);
        assert_eq!(QueryInstance::parse_json_line(line).expect(line), instance);
    }
    let params = Params {
        years: 4,
        ..Params::default()
    };
    for kind in 1..=5 {
        for q in instances(kind, &params, 300).expect("valid parameters") {
            let line = q.to_json_line();
            assert_eq!(QueryInstance::parse_json_line(&line).expect(&line), q);
        }
    }
}
