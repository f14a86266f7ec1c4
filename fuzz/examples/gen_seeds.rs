//! Writes the checked-in seed corpus `fuzz/seeds/<target>/`: a handful of small, meaningful
//! inputs per fuzz target (valid frames and segment headers, valid logs with frames appended,
//! workload JSONL / CSV / query lines, real packed store values, valid FOLIO / BASE / manifest
//! files, model scripts). Then replays every seed through its harness.
//!
//! ```text
//! cargo run --manifest-path fuzz/Cargo.toml --example gen_seeds -- fuzz/seeds
//! cargo run --manifest-path fuzz/Cargo.toml --example gen_seeds -- --check fuzz/seeds
//! ```
//!
//! Everything is deterministic except the `checkpoint_decode` seed that copies a whole
//! `MANIFEST.json` (it names a random database id and the checksums of the sled files).
//! Minimized crash inputs (`crash-*`) are kept; while their bug is open they panic, which the
//! replay reports as "known" (they have named tests in `tests/fuzz_regressions.rs`).

use folio::codec::frame::{decode_frame, encode_frame, frame_len};
use folio::codec::record::{self, EntryRecord, IndexRecord, LogBatch, LogOp, OrgRecord, PayRecord};
use folio::frozen::layout::FileId;
use folio::frozen::sample::{self, Sample};
use folio::store::meta::Meta;
use folio::wal::segment::{SegmentHeader, SEGMENT_HEADER_BYTES};
use folio::{Db, Options};
use folio_fuzz::checkpoint::{StoreSlot, TEMPLATE_SHARDS};
use folio_fuzz::model::tag;
use folio_workload::{instances, Generator, Params, CSV_HEADER};
use std::path::PathBuf;

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let check_only = args.first().is_some_and(|a| a == "--check");
    if check_only {
        args.remove(0);
    }
    let out = PathBuf::from(args.first().map_or("fuzz/seeds", String::as_str));
    if !check_only {
        let seeds = [
            ("frame_decode", frame_decode()),
            ("log_recovery", log_recovery()),
            ("ingest_line", ingest_line()),
            ("store_value", store_value()),
            ("checkpoint_decode", checkpoint_decode()),
            ("model", model()),
            ("frozen_read", frozen_read()),
        ];
        for (target, files) in seeds {
            let dir = out.join(target);
            std::fs::create_dir_all(&dir).expect("create the seed directory");
            // Generated seeds are replaced; minimized crashes (`crash-*`) stay.
            for old in std::fs::read_dir(&dir).expect("list the seed directory") {
                let path = old.expect("directory entry").path();
                let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
                if !name.starts_with("crash-") {
                    std::fs::remove_file(&path).expect("remove an old seed");
                }
            }
            for (name, bytes) in files {
                std::fs::write(dir.join(name), bytes).expect("write a seed");
            }
        }
    }
    let mut failed = 0;
    for target in folio_fuzz::TARGETS {
        let dir = out.join(target);
        let mut names: Vec<PathBuf> = std::fs::read_dir(&dir)
            .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        names.sort();
        for path in names {
            let bytes = std::fs::read(&path).expect("read a seed");
            let started = std::time::Instant::now();
            let outcome = std::panic::catch_unwind(|| folio_fuzz::run(target, &bytes));
            let known_crash = path
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("crash-"));
            let verdict = match outcome {
                Ok(true) => "ok",
                Ok(false) => "unknown target",
                Err(_) if known_crash => "known",
                Err(_) => {
                    failed += 1;
                    "PANIC"
                }
            };
            println!(
                "{verdict:>5} {:>7.1} ms {:>6} B  {}",
                started.elapsed().as_secs_f64() * 1e3,
                bytes.len(),
                path.display()
            );
        }
    }
    if failed > 0 {
        eprintln!("{failed} seed(s) panicked");
        std::process::exit(1);
    }
}

type Seeds = Vec<(String, Vec<u8>)>;

fn seed(name: &str, bytes: impl Into<Vec<u8>>) -> (String, Vec<u8>) {
    (name.to_string(), bytes.into())
}

// ------------------------------------------------------------------------------- log frames

fn org_record(org: u64, tz: &str) -> OrgRecord {
    OrgRecord {
        org,
        name: format!("Hotel {org}"),
        currency: *b"EUR",
        time_zone: tz.into(),
        opening: 0,
        created_at: 0,
    }
}

fn entry_record(org: u64, id: u64, kind: u8, amount: i64, reverses: u64) -> EntryRecord {
    EntryRecord {
        org,
        entry_id: id,
        occurred_at: 1_704_067_200 + 3_600 * id as i64,
        amount,
        reverses,
        day: 19_723,
        kind,
        category: if kind == 1 { 1 } else { 6 },
        payment_method: 2,
        status: if kind == 1 || reverses != 0 { 0 } else { 1 },
        reference: format!("INV-{id}"),
    }
}

/// A batch as logs written before the compact encoding hold it (an rkyv archive).
fn archive(ops: Vec<LogOp>) -> Vec<u8> {
    record::encode_rkyv(&LogBatch { ops })
        .expect("encode a batch")
        .to_vec()
}

/// A batch as this build writes it: the payload and the frame's operation-count field.
fn compact(ops: Vec<LogOp>) -> (Vec<u8>, u32) {
    let encoded = record::encode(&LogBatch { ops }).expect("encode a batch");
    (encoded.payload, encoded.op_field)
}

/// One frame with LSN `lsn` chained to `prev_crc`; returns the frame and its CRC.
fn frame(lsn: u64, prev_crc: u32, ops: Vec<LogOp>) -> (Vec<u8>, u32) {
    let (payload, op_field) = compact(ops);
    let mut out = Vec::new();
    let crc = encode_frame(&mut out, lsn, prev_crc, op_field, &payload);
    (out, crc)
}

fn index_record() -> IndexRecord {
    IndexRecord {
        create: true,
        name: "big_revenues".into(),
        table: 1,
        key: vec![3],
        include: vec![4],
        predicate: 4,
        predicate_value: 10_000,
    }
}

fn frame_decode() -> Seeds {
    let (org, crc) = frame(1, 0, vec![LogOp::Org(org_record(1, "UTC"))]);
    let entries = vec![
        LogOp::Entry(entry_record(1, 1, 1, 12_000, 0)),
        LogOp::Entry(entry_record(1, 2, 2, 3_000, 0)),
    ];
    let (posts, crc2) = frame(2, crc, entries.clone());
    let (more, _) = frame(
        3,
        crc2,
        vec![
            LogOp::Pay(PayRecord {
                org: 1,
                entry_id: 2,
                paid_at: 1_704_153_600,
            }),
            LogOp::Entry(entry_record(1, 3, 1, 12_000, 1)),
            LogOp::Index(index_record()),
        ],
    );
    let header = SegmentHeader::new(0x0123_4567_89ab_cdef, 1, 0).encode();
    let mut segment = header.to_vec();
    segment.extend_from_slice(&org);
    segment.extend_from_slice(&posts);
    vec![
        seed("frame-register-org", org),
        seed("frame-two-postings", posts),
        seed("frame-pay-reversal-index", more),
        seed("archive-two-postings", archive(entries.clone())),
        seed("compact-two-postings", compact(entries).0),
        seed("segment-header", header.to_vec()),
        seed("segment-header-and-frames", segment),
    ]
}

/// The frames the `log_recovery` harness writes before appending the input: LSN and CRC of the
/// last one, read back from a real log.
fn log_recovery_chain() -> (u64, u32) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("db");
    {
        let db = Db::open(&dir).expect("open");
        for batch in folio_fuzz::wal::base_batches() {
            db.record(batch).expect("record");
        }
    }
    let bytes = std::fs::read(dir.join("wal").join("00000000000000000001.log")).expect("log");
    let mut at = SEGMENT_HEADER_BYTES;
    let mut last = (0, 0);
    while let Ok((h, payload)) = decode_frame(&bytes[at..]) {
        last = (h.lsn, h.crc);
        at += frame_len(payload.len());
    }
    last
}

fn log_recovery() -> Seeds {
    let (lsn, crc) = log_recovery_chain();
    let appended = |ops: Vec<LogOp>| {
        let mut out = vec![255u8];
        out.extend_from_slice(&frame(lsn + 1, crc, ops).0);
        out
    };
    let expense = entry_record(1, 2, 2, 3_000, 0);
    let (first, first_crc) = frame(lsn + 1, crc, vec![LogOp::Entry(expense)]);
    let (second, _) = frame(
        lsn + 2,
        first_crc,
        vec![LogOp::Pay(PayRecord {
            org: 1,
            entry_id: 2,
            paid_at: 1_704_153_600,
        })],
    );
    let mut expense_then_pay = vec![255u8];
    expense_then_pay.extend_from_slice(&first);
    expense_then_pay.extend_from_slice(&second);
    let mut torn = vec![255u8];
    torn.extend_from_slice(&first[..first.len() / 2]);
    vec![
        seed("clean-log", vec![255u8]),
        seed("cut-in-the-middle", vec![128u8, 0, 0, 0, 0, 0, 0, 0, 0]),
        seed(
            "appended-revenue",
            appended(vec![LogOp::Entry(entry_record(1, 3, 1, 700, 0))]),
        ),
        seed(
            "appended-reversal",
            appended(vec![LogOp::Entry(entry_record(1, 4, 1, 5, 1))]),
        ),
        seed("appended-expense-then-payment", expense_then_pay),
        seed(
            "appended-index",
            appended(vec![LogOp::Index(index_record())]),
        ),
        seed(
            "appended-entry-of-unknown-org",
            appended(vec![LogOp::Entry(entry_record(9, 5, 1, 5, 0))]),
        ),
        seed("appended-torn-frame", torn),
    ]
}

// --------------------------------------------------------------------------- workload lines

fn ingest_line() -> Seeds {
    let params = Params {
        seed: 20_240_101,
        orgs: 100,
        events: 1_000,
        years: 1,
    };
    let events: Vec<_> = Generator::new(params)
        .expect("valid parameters")
        .take(64)
        .collect();
    let revenue = events
        .iter()
        .find(|e| e.status.is_none())
        .expect("a revenue");
    let expense = events
        .iter()
        .find(|e| e.status.is_some())
        .expect("an expense");
    let line = |write: fn(&folio_workload::WorkloadEvent, &mut Vec<u8>), e| {
        let mut out = Vec::new();
        write(e, &mut out);
        out
    };
    let mut seeds = vec![
        seed(
            "jsonl-revenue",
            line(folio_workload::WorkloadEvent::write_jsonl, revenue),
        ),
        seed(
            "jsonl-expense",
            line(folio_workload::WorkloadEvent::write_jsonl, expense),
        ),
        seed(
            "csv-revenue",
            line(folio_workload::WorkloadEvent::write_csv, revenue),
        ),
        seed(
            "csv-expense",
            line(folio_workload::WorkloadEvent::write_csv, expense),
        ),
        seed("csv-header", CSV_HEADER),
        seed(
            "jsonl-spaced-reordered",
            r#" { "status" : null , "org_id" : 7, "entry_id": 18446744073709551615, "kind": "revenue", "occurred_at": -9223372036854775808, "amount": 9223372036854775807, "category": "spa", "payment_method": "bank_transfer" }"#,
        ),
    ];
    for kind in 1..=5u8 {
        if let Some(q) = instances(kind, &params, 1)
            .expect("valid parameters")
            .first()
        {
            seeds.push(seed(&format!("query-q{kind}"), q.to_json_line()));
        }
    }
    seeds
}

// ------------------------------------------------------------------------------ store values

/// Every packed value of a populated database (as a checkpoint writes them): (tree, key, value).
fn packed_values() -> Vec<(String, Vec<u8>, Vec<u8>)> {
    let tmp = tempfile::tempdir().expect("tempdir");
    let options = Options::default().shards(TEMPLATE_SHARDS);
    let db = Db::open_with(tmp.path().join("db"), options).expect("open");
    folio_fuzz::checkpoint::populate(&db).expect("populate");
    let snapshot = db.snapshot();
    let state = snapshot.internal_state();
    let mut values = state.pack(&state.all_keys()).values;
    values.sort();
    values
}

/// The packed value of a slot of the template store.
fn slot_value(values: &[(String, Vec<u8>, Vec<u8>)], slot: u8) -> Vec<u8> {
    let (tree, key) = StoreSlot::location(slot).expect("a slot with a value");
    values
        .iter()
        .find(|(t, k, _)| *t == tree && *k == key)
        .map(|(_, _, v)| v.clone())
        .unwrap_or_else(|| panic!("no value at {tree} {key:?}"))
}

fn store_value() -> Seeds {
    let values = packed_values();
    vec![
        seed("orgs-chunk-0", slot_value(&values, StoreSlot::ORGS)),
        seed("orgs-chunk-1", slot_value(&values, StoreSlot::ORGS_CHUNK_1)),
        seed("ledger-revenues", slot_value(&values, StoreSlot::REVENUES)),
        seed("ledger-expenses", slot_value(&values, StoreSlot::EXPENSES)),
        seed("balances-month", slot_value(&values, StoreSlot::BALANCES)),
        seed("index-catalog", slot_value(&values, StoreSlot::CATALOG)),
    ]
}

// ------------------------------------------------------------------------ checkpoint files

fn checkpoint_files() -> (Vec<u8>, Vec<u8>) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let options = Options::default().shards(TEMPLATE_SHARDS);
    let db = Db::open_with(tmp.path().join("db"), options).expect("open");
    folio_fuzz::checkpoint::populate(&db).expect("populate");
    let out = tmp.path().join("ckpt");
    db.checkpoint_to(&out).expect("checkpoint_to");
    (
        std::fs::read(out.join("BASE")).expect("BASE"),
        std::fs::read(out.join("MANIFEST.json")).expect("MANIFEST.json"),
    )
}

fn with_mode(mode: u8, rest: &[u8]) -> Vec<u8> {
    let mut out = vec![mode];
    out.extend_from_slice(rest);
    out
}

fn checkpoint_decode() -> Seeds {
    let folio_file = Meta {
        db_id: 0x0123_4567_89ab_cdef,
        shards: 16,
    }
    .encode();
    let (base, manifest) = checkpoint_files();
    let values = packed_values();
    // A store-value input: selector, then stamp and body (the harness appends the CRC).
    let value = |slot: u8| {
        let v = slot_value(&values, slot);
        let mut out = vec![slot];
        out.extend_from_slice(&v[..v.len() - 4]);
        out
    };
    let empty_body = br#"{"format_version":1,"db_id":"0x1","lsn":5,"files":[]}"#;
    let listed_body = br#"{"format_version":1,"db_id":"0x1","lsn":5,"files":[{"path":"BASE","len":32,"crc32":0}]}"#;
    vec![
        seed("0-folio-fresh", with_mode(0, &folio_file)),
        seed("0-folio-of-populated-db", with_mode(16, &folio_file)),
        seed("1-base", with_mode(1, &base)),
        seed("2-manifest", with_mode(2, &manifest)),
        seed("3-base-no-manifest", with_mode(3, &base)),
        seed("4-folio-of-checkpoint", with_mode(4, &folio_file)),
        seed("5-manifest-body-empty", with_mode(5, empty_body)),
        seed("5-manifest-body-listed", with_mode(5, listed_body)),
        seed("6-orgs", with_mode(6, &value(StoreSlot::ORGS))),
        seed("6-ledger", with_mode(6, &value(StoreSlot::REVENUES))),
        seed("7-ledger", with_mode(7, &value(StoreSlot::EXPENSES))),
        seed("7-balances", with_mode(7, &value(StoreSlot::BALANCES))),
        seed("7-catalog", with_mode(7, &value(StoreSlot::CATALOG))),
        seed(
            "7-checkpoint-lsn-ahead",
            with_mode(7, &[StoreSlot::LSN_ONLY, 200, 0, 0, 0, 0, 0, 0, 0]),
        ),
    ]
}

// ------------------------------------------------------------------------------ model scripts

/// A model script (see `folio_fuzz::model` for the layout).
struct Script(Vec<u8>);

/// Amount selectors.
fn small(v: u8) -> Vec<u8> {
    vec![0, v.saturating_sub(1)]
}
fn hundreds(v: u16) -> Vec<u8> {
    let [lo, hi] = v.to_le_bytes();
    vec![1, lo, hi]
}
fn max_minus(v: u8) -> Vec<u8> {
    vec![3, v]
}
/// Timestamp selectors: January 2024 + `v` minutes (roughly), + `v` hours, 2024-02-01, limits.
fn minutes(v: u16) -> Vec<u8> {
    let [lo, hi] = v.to_le_bytes();
    vec![0, lo, hi]
}
fn hours(v: u16) -> Vec<u8> {
    let [lo, hi] = v.to_le_bytes();
    vec![1, lo, hi]
}
fn feb_first() -> Vec<u8> {
    vec![2, 1]
}
fn earliest() -> Vec<u8> {
    vec![3, 0]
}
fn latest() -> Vec<u8> {
    vec![4, 0]
}

const UTC: u8 = 0;
const PARIS: u8 = 1;
const NEW_YORK: u8 = 2;
const KIRITIMATI: u8 = 3;
// Category indexes into Category::ALL.
const ROOMS: u8 = 0;
const SPA: u8 = 2;
const PAYROLL: u8 = 4;
const SUPPLIES: u8 = 5;
const CARD: u8 = 1;
const CASH: u8 = 0;

impl Script {
    fn new(config: u8) -> Script {
        Script(vec![config])
    }

    fn raw(mut self, bytes: &[u8]) -> Script {
        self.0.extend_from_slice(bytes);
        self
    }

    /// Org `n` (1..=4).
    fn org_fields(n: u8, tz: u8, opening: &[u8]) -> Vec<u8> {
        let mut out = vec![n - 1, 0, 0, tz];
        out.extend_from_slice(opening);
        out.extend_from_slice(&minutes(0));
        out
    }

    fn register(self, n: u8, tz: u8, opening: &[u8]) -> Script {
        self.raw(&[tag::REGISTER])
            .raw(&Script::org_fields(n, tz, opening))
    }

    #[allow(clippy::too_many_arguments)]
    fn entry_fields(
        org: u8,
        id: u8,
        at: &[u8],
        amount: &[u8],
        category: u8,
        method: u8,
        status: u8,
        reference: u8,
    ) -> Vec<u8> {
        let mut out = vec![org - 1, id];
        out.extend_from_slice(at);
        out.extend_from_slice(amount);
        out.extend_from_slice(&[category, method, status, reference]);
        out
    }

    fn revenue(self, org: u8, id: u8, at: &[u8], amount: &[u8], category: u8) -> Script {
        self.raw(&[tag::REVENUE]).raw(&Script::entry_fields(
            org, id, at, amount, category, CARD, 0, 1,
        ))
    }

    /// A revenue with the longest reference (fills log segments fast).
    fn long_revenue(self, org: u8, id: u8, at: &[u8], amount: &[u8]) -> Script {
        self.raw(&[tag::REVENUE]).raw(&Script::entry_fields(
            org, id, at, amount, ROOMS, CARD, 0, 3,
        ))
    }

    /// `paid`: posted as paid (else pending).
    fn expense(self, org: u8, id: u8, at: &[u8], amount: &[u8], paid: bool) -> Script {
        self.raw(&[tag::EXPENSE]).raw(&Script::entry_fields(
            org,
            id,
            at,
            amount,
            SUPPLIES,
            CASH,
            u8::from(paid),
            0,
        ))
    }

    fn reverse(self, org: u8, id: u8, reverses: u8, at: &[u8]) -> Script {
        self.raw(&[tag::REVERSE, org - 1, id, reverses])
            .raw(at)
            .raw(&[2])
    }

    fn pay(self, org: u8, id: u8, at: &[u8]) -> Script {
        self.raw(&[tag::PAY, org - 1, id]).raw(at)
    }

    /// A batch of raw operations (kind byte + fields each).
    fn batch(self, ops: &[Vec<u8>]) -> Script {
        self.raw(&[tag::BATCH, ops.len() as u8]).raw(&ops.concat())
    }

    fn close(self) -> Script {
        self.raw(&[tag::CLOSE])
    }

    /// Drops the handle, optionally puts the saved store back, keeps `keep` of 65535 parts of
    /// the last segment.
    fn crash(self, restore_saved: bool, keep: u16) -> Script {
        let [lo, hi] = keep.to_le_bytes();
        self.raw(&[tag::CRASH, u8::from(restore_saved), lo, hi])
    }

    fn checkpoint(self, save: bool) -> Script {
        self.raw(&[tag::CHECKPOINT, u8::from(save)])
    }

    fn repeat(self) -> Script {
        self.raw(&[tag::REPEAT])
    }
}

/// A batch operation: its kind byte, then its fields.
fn op(kind: u8, fields: Vec<u8>) -> Vec<u8> {
    [vec![kind], fields].concat()
}

fn model() -> Seeds {
    let ledger_day = Script::new(0)
        .register(1, UTC, &small(1))
        .register(2, PARIS, &hundreds(50))
        .revenue(1, 1, &minutes(10), &hundreds(120), ROOMS)
        .revenue(2, 1, &minutes(20), &small(99), SPA)
        .expense(1, 2, &hours(30), &hundreds(30), false)
        .expense(2, 2, &feb_first(), &hundreds(40), true)
        .reverse(1, 3, 1, &hours(40))
        .pay(1, 2, &hours(50))
        .repeat()
        .checkpoint(false)
        .revenue(1, 4, &hours(800), &small(5), ROOMS)
        .close()
        .revenue(2, 5, &minutes(3000), &small(7), SPA)
        .crash(false, 30_000);
    let near_limits = Script::new(2)
        .register(1, UTC, &max_minus(10))
        .revenue(1, 1, &minutes(1), &max_minus(0), ROOMS)
        .revenue(1, 2, &minutes(1), &small(5), ROOMS)
        .revenue(1, 3, &minutes(1), &small(20), ROOMS)
        .expense(1, 4, &minutes(2), &[2], false)
        .expense(1, 5, &minutes(2), &small(1), false)
        .reverse(1, 6, 4, &hours(1))
        .register(2, NEW_YORK, &[7])
        .expense(2, 1, &minutes(5), &[2], true)
        .revenue(2, 2, &minutes(5), &[2], ROOMS)
        .revenue(2, 3, &minutes(6), &small(1), ROOMS)
        .close();
    let atomic_batches = Script::new(4)
        .register(3, UTC, &small(1))
        .batch(&[
            op(
                tag::REVENUE,
                Script::entry_fields(3, 1, &minutes(1), &small(9), ROOMS, CARD, 0, 1),
            ),
            op(
                tag::EXPENSE,
                Script::entry_fields(3, 2, &minutes(2), &small(3), PAYROLL, CARD, 0, 0),
            ),
            // The same id with other content: the whole batch is rejected.
            op(
                tag::REVENUE,
                Script::entry_fields(3, 1, &minutes(1), &small(8), ROOMS, CARD, 0, 1),
            ),
        ])
        .batch(&[
            op(tag::REGISTER, Script::org_fields(4, KIRITIMATI, &small(1))),
            op(
                tag::REVENUE,
                Script::entry_fields(4, 1, &latest(), &small(9), ROOMS, CARD, 0, 3),
            ),
            op(
                tag::EXPENSE,
                Script::entry_fields(4, 2, &earliest(), &small(3), PAYROLL, CARD, 0, 0),
            ),
            op(tag::PAY, [vec![3, 2], latest()].concat()),
        ])
        .repeat()
        .batch(&[])
        .crash(false, 65_535);
    // 34 frames of ~400 bytes: several 4 KiB segments; the store saved half-way is put back
    // and the last segment cut.
    let mut rotate = Script::new(0)
        .register(1, UTC, &small(1))
        .register(2, UTC, &small(1));
    for i in 0..34u8 {
        let (org, id) = (1 + i % 2, 1 + i / 2);
        rotate = rotate.long_revenue(org, id, &hours(u16::from(i) * 13), &small(i + 1));
        if i == 20 {
            rotate = rotate.checkpoint(true);
        }
    }
    let rotate = rotate
        .crash(true, 20_000)
        .revenue(1, 17, &hours(5), &small(1), ROOMS)
        .crash(false, 0);
    let mut torn = Script::new(1).register(2, PARIS, &small(1));
    for id in 1..=12u8 {
        torn = torn.expense(
            2,
            id,
            &hours(u16::from(id) * 700),
            &hundreds(u16::from(id)),
            false,
        );
    }
    let torn = torn
        .pay(2, 3, &hours(9000))
        .reverse(2, 13, 4, &hours(9001))
        .crash(false, 0)
        .crash(false, 40_000)
        .close();
    vec![
        seed("ledger-day-close-crash", ledger_day.0),
        seed("amounts-near-i64-limits", near_limits.0),
        seed("atomic-batches-time-zones", atomic_batches.0),
        seed("segments-saved-store-crash", rotate.0),
        seed("buffered-torn-tails", torn.0),
        seed("empty", Vec::new()),
    ]
}

// ------------------------------------------------------------------------ frozen month files

fn frozen_read() -> Seeds {
    let tmp = tempfile::tempdir().expect("tempdir");
    let month = folio::Month::new(2024, 3).expect("a month");
    let cases = [
        ("empty", 0, 0, false),
        ("three-orgs", 3, 4, false),
        ("extremes", 4, 6, true),
        ("one-org-many-rows", 1, 120, false),
    ];
    cases
        .iter()
        .enumerate()
        .map(|(i, (name, orgs, max_rows, extremes))| {
            let id = FileId {
                db_id: 0x5EED,
                month,
                version: i as u32 + 1,
            };
            let inputs = sample::month(
                i as u64,
                Sample {
                    month,
                    orgs: *orgs,
                    max_rows: *max_rows,
                    extremes: *extremes,
                },
            );
            let entry = sample::write(&folio::io::StdFs, tmp.path(), id, &inputs)
                .expect("write a frozen file");
            let bytes = std::fs::read(tmp.path().join(entry.file_name())).expect("read it back");
            seed(name, bytes)
        })
        .chain(std::iter::once(format_two()))
        .collect()
}

/// A file of frozen format 2 (read, no longer written): a month of the format fixture.
fn format_two() -> (String, Vec<u8>) {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/fixtures/frozen-v2/frozen/2024-10.v1.frz"
    );
    seed("format-2", std::fs::read(path).expect("read the format-2 fixture"))
}
