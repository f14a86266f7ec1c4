//! Frozen month files (src/frozen/): random org-months written and read back through every
//! lookup, every bit of a small file flipped and every truncation, files of another database,
//! month or version, manifests naming missing files or paths outside the directory, leftovers
//! of a crash removed at load, and the constant cost of opening a file.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test
use folio::frozen::layout::FileId;
use folio::frozen::sample::{self, Sample};
use folio::frozen::{Expected, FrozenDir, FrozenFile, FrozenRow, ManifestEntry, OrgMonthInput};
use folio::io::{Mapped, StdFs, Vfs};
use folio::state::ledger::Row;
use folio::{BusinessDay, CorruptionKind, Currency, Error, Kind, Month, OrgId};
use proptest::prelude::*;
use std::path::{Path, PathBuf};

const DB: u64 = 0xF0_110;

fn march() -> Month {
    Month::new(2024, 3).unwrap()
}

fn file_id(month: Month, version: u32) -> FileId {
    FileId {
        db_id: DB,
        month,
        version,
    }
}

fn expect(entry: &ManifestEntry) -> Expected {
    Expected::of(DB, entry)
}

/// Writes `inputs` as version `version` of `month` in `dir` (real files).
fn write(dir: &Path, month: Month, version: u32, inputs: &[OrgMonthInput]) -> ManifestEntry {
    sample::write(&StdFs, dir, file_id(month, version), inputs).unwrap()
}

/// A month of `orgs` orgs of up to `max_rows` rows, without extreme values.
fn plain(seed: u64, month: Month, orgs: usize, max_rows: usize) -> Vec<OrgMonthInput> {
    let sample = Sample {
        month,
        orgs,
        max_rows,
        extremes: false,
    };
    sample::month(seed, sample)
}

fn sorted_rows(input: &OrgMonthInput, kind: Kind) -> Vec<FrozenRow> {
    let mut rows: Vec<FrozenRow> = input
        .rows
        .iter()
        .filter(|r| r.kind == kind)
        .cloned()
        .collect();
    rows.sort_by_key(|r| (r.occurred_at, r.entry_id));
    rows
}

/// Whether `input` has an expense row pending as written.
fn has_pending(input: &OrgMonthInput) -> bool {
    input.rows.iter().any(|r| {
        r.kind == Kind::Expense
            && folio::state::index::def::current_status(&r.row)
                == Some(folio::ExpenseStatus::Pending)
    })
}

/// Every lookup of `file` answers what `inputs` hold.
fn check_against(file: &FrozenFile, inputs: &[OrgMonthInput]) {
    let month = file.id().month;
    let mut top = Vec::new();
    for input in inputs {
        let view = file.org(input.org).unwrap().expect("org present");
        assert_eq!(view.org(), input.org);
        assert_eq!(
            view.has_pending(),
            has_pending(input),
            "org {}",
            input.org.0
        );
        if has_pending(input) {
            assert!(
                file.may_have_pending(input.org).unwrap(),
                "org {}",
                input.org.0
            );
        }
        for kind in [Kind::Revenue, Kind::Expense] {
            let want = sorted_rows(input, kind);
            let got: Vec<FrozenRow> = view.rows(kind).map(|r| r.to_row()).collect();
            assert_eq!(got, want, "org {} {kind}", input.org.0);
            let total: i64 = want.iter().map(FrozenRow::signed_amount).sum();
            assert_eq!(view.total(kind), total);
            let mut by_category = [(0i64, 0u64); 11];
            for r in &want {
                let slot = &mut by_category[r.row.category.code() as usize];
                slot.0 += r.signed_amount();
                slot.1 += 1;
            }
            assert_eq!(view.by_category(kind), by_category);
            if kind == Kind::Revenue && !want.is_empty() {
                top.push((input.currency.unwrap(), input.org, total));
            }
            // A time range: the middle of the month.
            let (from, to) = (
                month.start_utc() + 10 * 86_400,
                month.start_utc() + 20 * 86_400,
            );
            let between: Vec<u64> = view
                .rows_between(kind, from, to)
                .map(|r| r.entry_id())
                .collect();
            let want_between: Vec<u64> = want
                .iter()
                .filter(|r| (from..to).contains(&r.occurred_at))
                .map(|r| r.entry_id)
                .collect();
            assert_eq!(between, want_between);
        }
        let mut through = 0i64;
        let days: Vec<_> = view.days().collect();
        assert_eq!(days.len(), input.days.len());
        for (got, want) in days.iter().zip(&input.days) {
            through += want.revenue - want.expense;
            assert_eq!(
                (
                    got.day,
                    got.revenue,
                    got.expense,
                    got.revenue_count,
                    got.expense_count
                ),
                (
                    want.day,
                    want.revenue,
                    want.expense,
                    want.revenue_count,
                    want.expense_count
                )
            );
            assert_eq!(got.through, through);
            assert_eq!(view.net_through(want.day), through);
            assert_eq!(view.day(want.day), Some(*got));
        }
        assert_eq!(view.month_net(), through);
        let before = month.first_day().prev().unwrap();
        assert_eq!(view.net_through(before), 0);
        assert_eq!(view.net_through(month.last_day()), through);
        for r in &input.rows {
            let got = view.entry(r.entry_id).expect("entry");
            assert_eq!(got.to_row(), *r);
            let loc = file
                .contains(input.org, r.entry_id)
                .unwrap()
                .expect("contains");
            assert_eq!((loc.kind, loc.occurred_at), (r.kind, r.occurred_at));
        }
        let ids: Vec<u64> = view.entry_ids().collect();
        let mut want_ids: Vec<u64> = input.rows.iter().map(|r| r.entry_id).collect();
        want_ids.sort_unstable();
        assert_eq!(ids, want_ids);
        for absent in [0, 7_777_777_777_777, u64::MAX / 3] {
            if !want_ids.contains(&absent) {
                assert!(view.entry(absent).is_none());
                assert_eq!(file.contains(input.org, absent).unwrap(), None);
            }
        }
        for part in &input.indexes {
            let kind = part.kind.unwrap();
            let index = view.index(kind, part.slot).expect("index part");
            let rows = sorted_rows(input, kind);
            let mut want: Vec<([i64; 3], usize)> = part
                .entries
                .iter()
                .map(|(k, at, id)| {
                    let ord = rows
                        .iter()
                        .position(|r| (r.occurred_at, r.entry_id) == (*at, *id));
                    (*k, ord.unwrap())
                })
                .collect();
            want.sort_unstable();
            let got: Vec<([i64; 3], u64)> =
                index.entries().map(|(k, r)| (k, r.entry_id())).collect();
            let want: Vec<([i64; 3], u64)> =
                want.iter().map(|(k, o)| (*k, rows[*o].entry_id)).collect();
            assert_eq!(got, want);
            if let Some((key, _)) = want.first() {
                let prefix: Vec<_> = index.with_prefix(&key[..1]).map(|(k, _)| k).collect();
                let want_prefix: Vec<_> = want
                    .iter()
                    .filter(|(k, _)| k[0] == key[0])
                    .map(|(k, _)| *k)
                    .collect();
                assert_eq!(prefix, want_prefix);
            }
        }
        if input.indexes.is_empty() {
            assert!(view.index(Kind::Revenue, 0).is_none());
        }
    }
    // By currency, then total descending, then org.
    top.sort_by(|a, b| a.0.cmp(&b.0).then(b.2.cmp(&a.2)).then(a.1.cmp(&b.1)));
    assert_eq!(file.top_revenue(usize::MAX).unwrap(), top);
    assert_eq!(file.top().unwrap(), top);
    for limit in [1, 2] {
        let mut want = top.clone();
        let mut rank = 0;
        let mut last = None;
        want.retain(|t| {
            rank = if last == Some(t.0) { rank + 1 } else { 0 };
            last = Some(t.0);
            rank < limit
        });
        assert_eq!(file.top_revenue(limit).unwrap(), want);
    }
    // Orgs the file does not hold.
    let held: Vec<u64> = inputs.iter().map(|i| i.org.0).collect();
    for probe in [0, 1, 5, 1 << 40, u64::MAX] {
        if !held.contains(&probe) {
            assert!(file.org(OrgId(probe)).unwrap().is_none());
            assert_eq!(file.contains(OrgId(probe), 1).unwrap(), None);
        }
    }
    let report = file.verify().unwrap();
    assert_eq!(
        report.rows,
        inputs.iter().map(|i| i.rows.len() as u64).sum::<u64>()
    );
    assert_eq!(report.orgs, inputs.len() as u64);
}

fn round_trip(seed: u64, sample: Sample) {
    let tmp = tempfile::tempdir().unwrap();
    let inputs = sample::month(seed, sample);
    let entry = write(tmp.path(), sample.month, 1, &inputs);
    let path = tmp.path().join(entry.file_name());
    let file = FrozenFile::open(&StdFs, &path, &expect(&entry)).unwrap();
    assert_eq!(file.org_count(), inputs.len() as u64);
    check_against(&file, &inputs);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn random_org_months_read_back_exactly(
        seed in any::<u64>(),
        orgs in 0usize..40,
        max_rows in 0usize..40,
        extremes in any::<bool>(),
        year in 1900i32..=9999,
        month in 1u32..=12,
    ) {
        let month = Month::new(year, month).unwrap();
        round_trip(seed, Sample { month, orgs, max_rows, extremes });
    }
}

#[test]
fn one_org_with_many_rows_and_many_orgs_spanning_pages() {
    let month = march();
    round_trip(
        1,
        Sample {
            month,
            orgs: 1,
            max_rows: 5000,
            extremes: false,
        },
    );
    round_trip(
        2,
        Sample {
            month,
            orgs: 700,
            max_rows: 3,
            extremes: true,
        },
    );
    round_trip(
        3,
        Sample {
            month: Month::MAX,
            orgs: 3,
            max_rows: 50,
            extremes: true,
        },
    );
    round_trip(
        4,
        Sample {
            month: Month::new(1900, 1).unwrap(),
            orgs: 3,
            max_rows: 50,
            extremes: true,
        },
    );
}

/// The filter's pending keys: every org with a pending expense row is a "maybe"; nearly every
/// org without one — in the file or not — is "certainly not", so Q4 passes over the file
/// without looking it up.
#[test]
fn the_filter_tells_the_orgs_without_pending_expenses() {
    let tmp = tempfile::tempdir().unwrap();
    let month = march();
    let inputs = plain(7, month, 3_000, 4);
    let entry = write(tmp.path(), month, 1, &inputs);
    let path = tmp.path().join(entry.file_name());
    let file = FrozenFile::open(&StdFs, &path, &expect(&entry)).unwrap();
    let (with, without): (Vec<_>, Vec<_>) = inputs.iter().partition(|i| has_pending(i));
    assert!(
        with.len() > 300 && without.len() > 300,
        "{} / {}",
        with.len(),
        without.len()
    );
    for input in &with {
        assert!(file.may_have_pending(input.org).unwrap());
    }
    let last = inputs.last().unwrap().org.0;
    let absent = (1..=3_000u64).map(|i| OrgId(last + i));
    let maybe = without
        .iter()
        .map(|i| i.org)
        .chain(absent)
        .filter(|org| file.may_have_pending(*org).unwrap())
        .count();
    let probes = without.len() + 3_000;
    // 10 bits per key, 7 hashes: about 1% false positives (5% allowed for the sample's spread).
    assert!(
        maybe * 20 < probes,
        "{maybe} of {probes} orgs without pending rows are a maybe"
    );
    assert!(file.verify().is_ok());
}

#[test]
fn an_empty_file_answers_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let entry = write(tmp.path(), march(), 1, &[]);
    let file =
        FrozenFile::open(&StdFs, &tmp.path().join(entry.file_name()), &expect(&entry)).unwrap();
    assert!(file.org(OrgId(1)).unwrap().is_none());
    assert_eq!(file.contains(OrgId(1), 1).unwrap(), None);
    assert!(file.top_revenue(10).unwrap().is_empty());
    assert_eq!(file.verify().unwrap().rows, 0);
}

/// Input the file cannot hold is refused by the writer, not written.
#[test]
fn the_writer_refuses_bad_input() {
    let tmp = tempfile::tempdir().unwrap();
    let month = march();
    let good = plain(5, month, 2, 5);
    let mut cases: Vec<Vec<OrgMonthInput>> = Vec::new();
    cases.push(vec![good[1].clone(), good[0].clone()]); // orgs out of order
    let mut outside = good[0].clone();
    outside.rows.push(FrozenRow {
        occurred_at: month.end_utc(),
        ..sample_row(month)
    });
    cases.push(vec![outside]);
    let mut repeated = good[0].clone();
    repeated.rows.push(sample_row(month));
    repeated.rows.push(sample_row(month));
    cases.push(vec![repeated]);
    let mut zero = good[0].clone();
    let mut zero_amount = sample_row(month);
    zero_amount.row.amount = 0;
    zero.rows.push(zero_amount);
    cases.push(vec![zero]);
    let mut day = good[0].clone();
    day.days.push(folio::frozen::FrozenDay {
        day: month.last_day().next().unwrap(),
        revenue: 1,
        expense: 0,
        revenue_count: 1,
        expense_count: 0,
    });
    cases.push(vec![day]);
    // Revenue rows ranked in the top list need the org's currency, a known one.
    let mut revenue = good[0].clone();
    revenue.rows.push(sample_row(month));
    assert!(revenue.rows.iter().any(|r| r.kind == Kind::Revenue));
    for currency in [None, Some(Currency(*b"ZZZ"))] {
        cases.push(vec![OrgMonthInput {
            currency,
            ..revenue.clone()
        }]);
    }
    for (i, inputs) in cases.iter().enumerate() {
        let err = sample::write(&StdFs, tmp.path(), file_id(month, 1), inputs).unwrap_err();
        assert!(matches!(err, Error::InvalidArgument(_)), "case {i}: {err}");
    }
}

fn sample_row(month: Month) -> FrozenRow {
    FrozenRow {
        kind: Kind::Revenue,
        entry_id: 1 << 50,
        occurred_at: month.start_utc(),
        row: Row {
            amount: 5,
            day: month.first_day(),
            category: folio::Category::Rooms,
            payment_method: folio::PaymentMethod::Card,
            posted_status: 0,
            paid_at: None,
            reverses: 0,
            reversed_by: 0,
            reference: "".into(),
        },
    }
}

/// Every answer a file gives, or the first error: to compare a damaged file with the original.
#[derive(Debug, PartialEq)]
enum Answer {
    Org(Option<Vec<FrozenRow>>, Option<(i64, i64, i64)>),
    Contains(Option<(Kind, i64)>),
    Top(Vec<(Currency, OrgId, i64)>),
}

fn answers(file: &FrozenFile, inputs: &[OrgMonthInput]) -> Vec<Result<Answer, Error>> {
    let mut out = Vec::new();
    for input in inputs {
        out.push(file.org(input.org).map(|view| {
            let rows = view.map(|v| {
                let mut rows: Vec<FrozenRow> = v.rows(Kind::Revenue).map(|r| r.to_row()).collect();
                rows.extend(v.rows(Kind::Expense).map(|r| r.to_row()));
                rows
            });
            let sums = view.map(|v| {
                (
                    v.total(Kind::Revenue),
                    v.month_net(),
                    v.net_through(BusinessDay::MAX),
                )
            });
            Answer::Org(rows, sums)
        }));
        for r in &input.rows {
            out.push(
                file.contains(input.org, r.entry_id)
                    .map(|l| Answer::Contains(l.map(|l| (l.kind, l.occurred_at)))),
            );
        }
    }
    out.push(file.top_revenue(usize::MAX).map(Answer::Top));
    out
}

fn is_typed(e: &Error) -> bool {
    matches!(e, Error::Corruption { .. } | Error::FormatVersion { .. })
}

fn small_file() -> (
    tempfile::TempDir,
    Vec<OrgMonthInput>,
    ManifestEntry,
    Vec<u8>,
) {
    let tmp = tempfile::tempdir().unwrap();
    let month = march();
    let mut inputs = plain(11, month, 3, 4);
    inputs[0].indexes = vec![folio::frozen::FrozenIndexPart {
        kind: Some(Kind::Revenue),
        slot: 0,
        entries: sorted_rows(&inputs[0], Kind::Revenue)
            .iter()
            .map(|r| ([r.row.amount, 0, 0], r.occurred_at, r.entry_id))
            .collect(),
    }];
    let entry = write(tmp.path(), month, 1, &inputs);
    let bytes = std::fs::read(tmp.path().join(entry.file_name())).unwrap();
    (tmp, inputs, entry, bytes)
}

fn open_bytes(bytes: &[u8], expected: &Expected) -> Result<FrozenFile, Error> {
    FrozenFile::from_mapped(Path::new("f.frz"), Mapped::Owned(bytes.to_vec()), expected)
}

/// Every bit of a small file flipped: each access either fails with a typed corruption error
/// or answers exactly what the undamaged file answers, and `verify` always fails.
#[test]
fn every_flipped_bit_is_an_error_or_the_same_answer() {
    let (_tmp, inputs, entry, bytes) = small_file();
    let strict = expect(&entry);
    // Without the manifest's checksums, the file's own checks must catch everything.
    let loose = Expected {
        size: None,
        header_crc: None,
        footer_crc: None,
        ..strict
    };
    let good = open_bytes(&bytes, &strict).unwrap();
    let want = answers(&good, &inputs);
    assert!(want.iter().all(Result::is_ok));
    eprintln!("flipping {} bits", bytes.len() * 8);
    for bit in 0..bytes.len() * 8 {
        let mut damaged = bytes.clone();
        damaged[bit / 8] ^= 1 << (bit % 8);
        for expected in [&strict, &loose] {
            let file = match open_bytes(&damaged, expected) {
                Err(e) => {
                    assert!(is_typed(&e), "bit {bit}: {e}");
                    continue;
                }
                Ok(file) => file,
            };
            for (got, want) in answers(&file, &inputs).iter().zip(&want) {
                match got {
                    Err(e) => assert!(is_typed(e), "bit {bit}: {e}"),
                    Ok(answer) => assert_eq!(Some(answer), want.as_ref().ok(), "bit {bit}"),
                }
            }
            let err = file
                .verify()
                .expect_err(&format!("bit {bit} passes verify"));
            assert!(is_typed(&err), "bit {bit}: {err}");
        }
    }
}

#[test]
fn every_truncation_is_refused_at_open() {
    let (_tmp, _inputs, entry, bytes) = small_file();
    let strict = expect(&entry);
    let loose = Expected {
        size: None,
        ..strict
    };
    for len in 0..bytes.len() {
        for expected in [&strict, &loose] {
            let err = open_bytes(&bytes[..len], expected).expect_err(&format!("length {len}"));
            assert!(is_typed(&err), "length {len}: {err}");
        }
    }
    // Appended bytes too.
    let mut longer = bytes.clone();
    longer.extend_from_slice(&[0; 16]);
    assert!(is_typed(&open_bytes(&longer, &loose).unwrap_err()));
}

fn foreign_field(e: &Error) -> &'static str {
    match e {
        Error::Corruption {
            kind: CorruptionKind::ForeignFile { field, .. },
            ..
        } => field,
        other => panic!("not a foreign-file error: {other}"),
    }
}

#[test]
fn a_file_of_another_database_month_or_version_is_refused() {
    let (_tmp, _inputs, entry, bytes) = small_file();
    let strict = expect(&entry);
    let other_db = Expected {
        db_id: DB + 1,
        ..strict
    };
    assert_eq!(
        foreign_field(&open_bytes(&bytes, &other_db).unwrap_err()),
        "database id"
    );
    let other_month = Expected {
        month: march().next().unwrap(),
        ..strict
    };
    assert_eq!(
        foreign_field(&open_bytes(&bytes, &other_month).unwrap_err()),
        "month"
    );
    let other_version = Expected {
        version: 2,
        ..strict
    };
    assert_eq!(
        foreign_field(&open_bytes(&bytes, &other_version).unwrap_err()),
        "version"
    );
    let other_crc = Expected {
        footer_crc: Some(entry.footer_crc ^ 1),
        ..strict
    };
    match open_bytes(&bytes, &other_crc).unwrap_err() {
        Error::Corruption {
            kind: CorruptionKind::ChecksumMismatch { .. },
            offset,
            ..
        } => {
            assert_eq!(offset, bytes.len() as u64 - 160 + 12)
        }
        other => panic!("{other}"),
    }
}

fn frozen_dir(db: &Path) -> PathBuf {
    db.join(folio::format::FROZEN_DIR)
}

#[test]
fn a_manifest_lists_installs_and_replaces_versions() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path();
    let (mut dir, cleanup) = FrozenDir::load(&StdFs, db, DB).unwrap();
    assert_eq!((dir.entries().count(), cleanup.removed.len()), (0, 0));
    let month = march();
    let v1 = plain(1, month, 5, 5);
    let v2 = plain(2, month, 6, 5);
    let april = plain(3, month.next().unwrap(), 2, 5);
    assert_eq!(dir.next_version(month), Some(1));
    let e1 = write(&frozen_dir(db), month, 1, &v1);
    dir.install(&StdFs, e1).unwrap();
    let e_april = write(&frozen_dir(db), month.next().unwrap(), 1, &april);
    dir.install(&StdFs, e_april).unwrap();
    assert_eq!(dir.next_version(month), Some(2));
    let e2 = write(&frozen_dir(db), month, 2, &v2);
    assert!(
        dir.install(&StdFs, e1).is_err(),
        "an older version is refused"
    );
    dir.install(&StdFs, e2).unwrap();
    assert!(
        !frozen_dir(db).join(e1.file_name()).exists(),
        "the replaced file is removed"
    );
    let (dir, _) = FrozenDir::load(&StdFs, db, DB).unwrap();
    let listed: Vec<ManifestEntry> = dir.entries().copied().collect();
    assert_eq!(listed, vec![e2, e_april]);
    check_against(&dir.open(&StdFs, month).unwrap().unwrap(), &v2);
    check_against(
        &dir.open(&StdFs, month.next().unwrap()).unwrap().unwrap(),
        &april,
    );
    assert!(dir.open(&StdFs, month.prev().unwrap()).unwrap().is_none());

    // Leftovers of a crash: an unlisted version and temporaries go at the next load.
    std::fs::write(frozen_dir(db).join("2024-03.v7.frz"), b"stale").unwrap();
    std::fs::write(frozen_dir(db).join("2024-03.v8.frz.tmp"), b"torn").unwrap();
    std::fs::write(frozen_dir(db).join("MANIFEST.tmp"), b"torn").unwrap();
    let (_, cleanup) = FrozenDir::load(&StdFs, db, DB).unwrap();
    assert_eq!(cleanup.removed.len(), 3, "{cleanup:?}");
    let names: Vec<PathBuf> = StdFs.list(&frozen_dir(db)).unwrap();
    assert_eq!(names.len(), 3, "{names:?}");

    // A manifest of another database.
    match FrozenDir::load(&StdFs, db, DB + 1).unwrap_err() {
        Error::Corruption {
            kind: CorruptionKind::ForeignFile { field, .. },
            ..
        } => {
            assert_eq!(field, "database id")
        }
        other => panic!("{other}"),
    }
    // A listed file that is missing.
    std::fs::remove_file(frozen_dir(db).join(e_april.file_name())).unwrap();
    match FrozenDir::load(&StdFs, db, DB).unwrap_err() {
        Error::Corruption {
            kind: CorruptionKind::MissingFile,
            file,
            ..
        } => {
            assert!(file.ends_with(e_april.file_name()))
        }
        other => panic!("{other}"),
    }
}

#[test]
fn a_manifest_naming_a_path_outside_the_directory_or_damaged_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path();
    let month = march();
    let e1 = write(&frozen_dir(db), month, 1, &plain(1, month, 2, 3));
    let mut bytes = folio::frozen::manifest::encode_manifest(DB, &[e1]);
    let manifest = frozen_dir(db).join(folio::format::FROZEN_MANIFEST);
    std::fs::write(&manifest, &bytes).unwrap();
    assert_eq!(
        FrozenDir::load(&StdFs, db, DB).unwrap().0.entries().count(),
        1
    );
    // The name field rewritten to a path outside the directory, the checksum made valid again.
    let name = b"../../etc/passwd\0\0\0\0\0\0\0\0";
    bytes[32 + 56..32 + 80].copy_from_slice(name);
    let crc = folio::format::header_crc(&bytes);
    bytes[12..16].copy_from_slice(&crc.to_le_bytes());
    std::fs::write(&manifest, &bytes).unwrap();
    match FrozenDir::load(&StdFs, db, DB).unwrap_err() {
        Error::Corruption {
            kind: CorruptionKind::InvalidValue(why),
            file,
            ..
        } => {
            assert!(why.contains("../../etc/passwd"), "{why}");
            assert_eq!(file, manifest);
        }
        other => panic!("{other}"),
    }
    // Any flipped bit of the manifest.
    let good = folio::frozen::manifest::encode_manifest(DB, &[e1]);
    for bit in 0..good.len() * 8 {
        let mut damaged = good.clone();
        damaged[bit / 8] ^= 1 << (bit % 8);
        let err = folio::frozen::manifest::decode_manifest(&manifest, DB, &damaged).unwrap_err();
        assert!(is_typed(&err), "bit {bit}: {err}");
    }
    // A file whose checksum differs from the manifest's: another file under the listed name.
    let other = write(
        &tmp.path().join("elsewhere"),
        month,
        1,
        &plain(9, month, 2, 3),
    );
    std::fs::write(
        &manifest,
        folio::frozen::manifest::encode_manifest(
            DB,
            &[ManifestEntry {
                size: other.size,
                ..e1
            }],
        ),
    )
    .unwrap();
    std::fs::copy(
        tmp.path().join("elsewhere").join(other.file_name()),
        frozen_dir(db).join(e1.file_name()),
    )
    .unwrap();
    let (dir, _) = FrozenDir::load(&StdFs, db, DB).unwrap();
    match dir.open(&StdFs, month).unwrap_err() {
        Error::Corruption {
            kind: CorruptionKind::ChecksumMismatch { .. },
            ..
        } => {}
        other => panic!("{other}"),
    }
}

/// Opening reads the header and the footer only, however many orgs the file holds; a lookup
/// then checks one fence, one directory page and one block.
#[test]
fn opening_reads_a_constant_number_of_bytes() {
    let tmp = tempfile::tempdir().unwrap();
    let mut opened = Vec::new();
    for (i, orgs) in [1usize, 50, 3000].into_iter().enumerate() {
        let month = Month::new(2020, i as u32 + 1).unwrap();
        let inputs = sample::month(
            i as u64,
            Sample {
                month,
                orgs,
                max_rows: 8,
                extremes: false,
            },
        );
        let entry = write(tmp.path(), month, 1, &inputs);
        let file =
            FrozenFile::open(&StdFs, &tmp.path().join(entry.file_name()), &expect(&entry)).unwrap();
        let stats = file.stats();
        opened.push((entry.size, stats.bytes_checked));
        let before = file.resident_bytes();
        let org = inputs[inputs.len() / 2].org;
        assert!(file.org(org).unwrap().is_some());
        let stats = file.stats();
        assert_eq!((stats.pages_checked, stats.blocks_checked), (1, 1));
        // The second lookup of the same org hashes nothing again.
        let checked = stats.bytes_checked;
        assert!(file.org(org).unwrap().is_some());
        assert_eq!(file.stats().bytes_checked, checked);
        assert!(file.resident_bytes() <= before + (orgs / 64 + 1) * 8 + 8 * 8);
    }
    eprintln!("(file size, bytes read at open): {opened:?}");
    assert!(opened.iter().all(|(_, read)| *read == 192), "{opened:?}");
}
