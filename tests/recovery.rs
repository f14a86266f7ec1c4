//! Deterministic recovery tests on the real file system (guarantee 5 of DESIGN.md section 2, and
//! the exactness of replay over a store checkpoint that is behind the log).
//!
//! Layout under test: `<db>/FOLIO`, `<db>/LOCK`, `<db>/wal/<20-digit first LSN>.log` (40-byte
//! segment header, then frames of a 24-byte header and an rkyv payload padded to 8 bytes) and
//! `<db>/state/` (the sled store, a rebuildable cache of the log). Every damaged database is a
//! fresh recursive copy of a pristine one, so the cases are independent.

use folio::{
    Batch, BusinessDay, Category, CorruptionKind, Currency, DayBalance, Db, Entry, EntryId, Error,
    ExpenseStatus, Kind, LedgerEntry, Lsn, Money, Options, Org, OrgId, PayExpense, PaymentMethod,
    Reversal,
};
use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

#[allow(clippy::unwrap_used)]
mod common;

const ORG: OrgId = OrgId(7);
/// 2024-03-01T00:00:00Z.
const BASE_TS: i64 = 1_709_251_200;
const HOUR: i64 = 3_600;
const DAY: i64 = 86_400;
const SEGMENT_HEADER: u64 = 40;
const FRAME_HEADER: u64 = 24;

fn org() -> Org {
    Org::new(ORG, "Harbour Hotel", Currency::EUR)
        .with_time_zone("America/New_York")
        .with_opening_balance(Money(50_000))
}

/// The batch recorded at LSN `lsn` (>= 2; LSN 1 registers the org): a revenue, a pending expense,
/// every other batch a revenue back-dated 40 days, every third a reversal of the previous batch's
/// revenue, every fourth the payment of the previous batch's expense.
fn batch_for(lsn: u64) -> Batch {
    let ts = BASE_TS + lsn as i64 * 6 * HOUR;
    let mut b = Batch::new()
        .post(
            Entry::revenue(
                ORG,
                EntryId(10 * lsn + 1),
                ts,
                Money(1_000 + lsn as i64),
                Category::Rooms,
                PaymentMethod::Card,
            )
            .with_reference(format!("room folio {lsn}")),
        )
        .post(Entry::expense(
            ORG,
            EntryId(10 * lsn + 2),
            ts + 60,
            Money(300 + lsn as i64),
            Category::Supplies,
            PaymentMethod::BankTransfer,
            ExpenseStatus::Pending,
        ));
    if lsn.is_multiple_of(2) {
        b = b.post(Entry::revenue(
            ORG,
            EntryId(10 * lsn + 3),
            ts - 40 * DAY,
            Money(77),
            Category::FoodBeverage,
            PaymentMethod::Cash,
        ));
    }
    if lsn.is_multiple_of(3) && lsn > 2 {
        b = b.reverse(Reversal {
            org: ORG,
            id: EntryId(10 * lsn + 5),
            reverses: EntryId(10 * (lsn - 1) + 1),
            occurred_at: ts + 120,
            reference: "guest complaint".into(),
        });
    }
    if lsn.is_multiple_of(4) && lsn > 2 {
        b = b.pay(PayExpense {
            org: ORG,
            entry: EntryId(10 * (lsn - 1) + 2),
            paid_at: ts + 180,
        });
    }
    b
}

/// A small batch with ids no `batch_for` uses.
fn extra_batch(tag: u64) -> Batch {
    Batch::new().post(Entry::revenue(
        ORG,
        EntryId(1_000_000 + tag),
        BASE_TS + 5 * DAY + tag as i64,
        Money(4_242),
        Category::Spa,
        PaymentMethod::Cash,
    ))
}

/// Records LSNs `from..=to` (LSN 1 is the org registration).
fn record_range(db: &Db, from: u64, to: u64) {
    for lsn in from..=to {
        let got = if lsn == 1 {
            db.register_org(org())
        } else {
            db.record(batch_for(lsn))
        }
        .unwrap_or_else(|e| panic!("record LSN {lsn}: {e}"));
        assert_eq!(got, Lsn(lsn));
    }
}

/// Everything a reader can see: LSN, every entry, every balance row of the active period.
#[derive(Debug, PartialEq, Eq)]
struct Snapshot {
    lsn: Lsn,
    entries: Vec<LedgerEntry>,
    balances: Vec<DayBalance>,
}

fn snapshot(db: &Db) -> Snapshot {
    let view = db.snapshot();
    let first = BusinessDay::parse("2023-12-01").expect("day");
    let last = BusinessDay::parse("2025-12-31").expect("day");
    Snapshot {
        lsn: view.lsn(),
        entries: view
            .entries(ORG, BASE_TS - 400 * DAY, BASE_TS + 800 * DAY)
            .expect("entries"),
        balances: view.balances(ORG, first, last).expect("balances"),
    }
}

/// Guarantee 4: every day's balance row is the sum of that day's entries, and closing is the
/// opening balance plus prefix sums.
fn assert_balances_match_entries(db: &Db) {
    let snap = snapshot(db);
    let mut days: BTreeMap<BusinessDay, (i64, i64, u64, u64)> = BTreeMap::new();
    for e in &snap.entries {
        let d = days.entry(e.day).or_default();
        match e.kind {
            Kind::Revenue => {
                d.0 += e.signed_amount().expect("amount").0;
                d.2 += 1;
            }
            Kind::Expense => {
                d.1 -= e.signed_amount().expect("amount").0;
                d.3 += 1;
            }
        }
    }
    let mut closing = org().opening_balance.0;
    // Days before the listed range hold nothing (entries start 2024-01).
    for row in &snap.balances {
        let (rev, exp, rc, ec) = days.get(&row.day).copied().unwrap_or_default();
        assert_eq!(row.opening, Money(closing), "opening of {}", row.day);
        closing += rev - exp;
        assert_eq!(
            (
                row.revenue,
                row.expense,
                row.revenue_count,
                row.expense_count
            ),
            (Money(rev), Money(exp), rc, ec),
            "sums of {}",
            row.day
        );
        assert_eq!(row.closing, Money(closing), "closing of {}", row.day);
    }
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).expect("mkdir");
    for item in fs::read_dir(from).expect("read_dir") {
        let item = item.expect("dir entry");
        let target = to.join(item.file_name());
        if item.file_type().expect("file type").is_dir() {
            copy_dir(&item.path(), &target);
        } else {
            fs::copy(item.path(), &target).expect("copy");
        }
    }
}

fn segments(db_dir: &Path) -> Vec<PathBuf> {
    let mut segs: Vec<PathBuf> = fs::read_dir(db_dir.join("wal"))
        .expect("wal dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "log"))
        .collect();
    segs.sort();
    segs
}

fn only_segment(db_dir: &Path) -> PathBuf {
    let segs = segments(db_dir);
    assert_eq!(segs.len(), 1, "expected one segment: {segs:?}");
    segs.into_iter().next().expect("one segment")
}

/// A frame's place in its segment.
#[derive(Clone, Copy, Debug)]
struct FrameAt {
    offset: u64,
    /// Header + payload + padding.
    len: u64,
    payload_len: u64,
    lsn: u64,
}

/// Walks the frames of a segment: 40-byte header, then frames of 24 + len padded to 8.
fn frames(segment: &Path) -> Vec<FrameAt> {
    let bytes = fs::read(segment).expect("read segment");
    let mut out = Vec::new();
    let mut at = SEGMENT_HEADER as usize;
    while at + FRAME_HEADER as usize <= bytes.len() {
        let payload_len = u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4")) as u64;
        let lsn = u64::from_le_bytes(bytes[at + 8..at + 16].try_into().expect("8"));
        let len = (FRAME_HEADER + payload_len).div_ceil(8) * 8;
        out.push(FrameAt {
            offset: at as u64,
            len,
            payload_len,
            lsn,
        });
        at += len as usize;
    }
    assert_eq!(at, bytes.len(), "segment does not end on a frame boundary");
    out
}

fn flip_bit(path: &Path, offset: u64, bit: u8) {
    let mut bytes = fs::read(path).expect("read");
    bytes[offset as usize] ^= 1 << bit;
    fs::write(path, bytes).expect("write");
}

fn set_len(path: &Path, len: u64) {
    fs::OpenOptions::new()
        .write(true)
        .open(path)
        .expect("open")
        .set_len(len)
        .expect("set_len");
}

fn file_len(path: &Path) -> u64 {
    fs::metadata(path).expect("metadata").len()
}

/// Opens, turning a panic into a test failure that names the case.
fn open_no_panic(dir: &Path, case: &str) -> folio::Result<Db> {
    match catch_unwind(AssertUnwindSafe(|| Db::open(dir))) {
        Ok(result) => result,
        Err(panic) => {
            let msg = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            panic!("{case}: Db::open panicked: {msg}")
        }
    }
}

/// The error must be `Corruption` naming `file` and `offset`, in the value and in its Display.
fn assert_corruption(result: folio::Result<Db>, file: &Path, offset: u64, case: &str) {
    let err = match result {
        Ok(db) => {
            let lsn = db.visible_lsn();
            let report = db.recovery().clone();
            drop(db);
            panic!("{case}: opened (LSN {lsn}, {report:?}) instead of reporting corruption")
        }
        Err(e) => e,
    };
    let text = err.to_string();
    match &err {
        Error::Corruption {
            file: f, offset: o, ..
        } => {
            assert_eq!(f, file, "{case}: corrupt file in {text}");
            assert_eq!(*o, offset, "{case}: corrupt offset in {text}");
        }
        other => panic!("{case}: expected Error::Corruption, got {other:?}"),
    }
    assert!(
        text.contains(&file.display().to_string()),
        "{case}: Display does not name the file: {text}"
    );
    assert!(
        text.contains(&format!("offset {offset}")),
        "{case}: Display does not name the offset: {text}"
    );
}

/// A pristine database of LSNs `1..=n`, closed. Returns the snapshot at `n - 1` and at `n`, and
/// keeps a copy of the store as it was with checkpoint `n - 1` under `<root>/state_prev`.
struct Pristine {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    state_prev: PathBuf,
    before_last: Snapshot,
    last: Snapshot,
}

fn pristine(n: u64, last_batch: Option<Batch>) -> Pristine {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("db");
    let db = Db::open(&dir).expect("create");
    record_range(&db, 1, n - 1);
    let before_last = snapshot(&db);
    db.close().expect("close");
    let state_prev = tmp.path().join("state_prev");
    copy_dir(&dir.join("state"), &state_prev);
    fs::copy(dir.join("DURABLE"), tmp.path().join("DURABLE_prev")).expect("durable mark");
    let db = Db::open(&dir).expect("reopen");
    let batch = last_batch.unwrap_or_else(|| batch_for(n));
    assert_eq!(db.record(batch).expect("last batch"), Lsn(n));
    let last = snapshot(&db);
    db.close().expect("close");
    Pristine {
        _tmp: tmp,
        dir,
        state_prev,
        before_last,
        last,
    }
}

/// Which store a damaged copy gets.
#[derive(Clone, Copy, Debug)]
enum StoreAs {
    /// As closed: its checkpoint covers the whole log (so it may be ahead of a cut log).
    Closed,
    /// The store with checkpoint `n - 1`: the last frame must be replayed from the log.
    Behind,
}

fn fresh_copy(p: &Pristine, store: StoreAs, case_dir: &Path) -> PathBuf {
    let _ = fs::remove_dir_all(case_dir);
    copy_dir(&p.dir, case_dir);
    if let StoreAs::Behind = store {
        fs::remove_dir_all(case_dir.join("state")).expect("rm state");
        copy_dir(&p.state_prev, &case_dir.join("state"));
        let mark = p.state_prev.with_file_name("DURABLE_prev");
        fs::copy(mark, case_dir.join("DURABLE")).expect("durable mark");
    }
    case_dir.to_path_buf()
}

fn segment_in(case_dir: &Path, original: &Path) -> PathBuf {
    case_dir
        .join("wal")
        .join(original.file_name().expect("segment name"))
}

// ------------------------------------------------------------------------------------------------

/// Cuts the last segment at every byte offset inside the last frame, each time on a fresh copy.
/// With the store behind the cut (its checkpoint is LSN N-1), the torn frame was never
/// acknowledged: it is cut and reported, and the log continues.
fn torn_tail_at_every_byte(store: StoreAs) {
    const N: u64 = 6;
    // A one-entry last batch keeps the frame (and the loop) short.
    let p = pristine(N, Some(extra_batch(1)));
    let seg = only_segment(&p.dir);
    let fr = frames(&seg);
    let last = *fr.last().expect("frames");
    assert_eq!((fr.len() as u64, last.lsn), (N, N));
    let end = last.offset + last.len;
    assert_eq!(file_len(&seg), end);
    let work = p._tmp.path().join("case");

    // Cut exactly at the frame boundary: a clean shorter log, nothing to truncate.
    let dir = fresh_copy(&p, store, &work);
    set_len(&segment_in(&dir, &seg), last.offset);
    let db = open_no_panic(&dir, "cut at boundary").expect("open at boundary");
    assert_eq!(db.visible_lsn(), Lsn(N - 1));
    assert_eq!(db.recovery().truncated_bytes, 0);
    drop(db);

    let mut failures = Vec::new();
    for cut in last.offset + 1..end {
        let case = format!("{store:?}, cut at {cut} (frame {}..{end})", last.offset);
        let dir = fresh_copy(&p, store, &work);
        let seg_path = segment_in(&dir, &seg);
        set_len(&seg_path, cut);
        let db = match open_no_panic(&dir, &case) {
            Ok(db) => db,
            Err(e) => {
                failures.push(format!("{case}: open failed: {e}"));
                continue;
            }
        };
        let report = db.recovery().clone();
        if db.visible_lsn() != Lsn(N - 1) || snapshot(&db) != p.before_last {
            failures.push(format!(
                "{case}: not the state of LSN {}: {report:?}",
                N - 1
            ));
        }
        if report.truncated_bytes != cut - last.offset || file_len(&seg_path) != last.offset {
            failures.push(format!(
                "{case}: truncated_bytes {} (expected {}), file now {} bytes (expected {}); \
                 {report:?}",
                report.truncated_bytes,
                cut - last.offset,
                file_len(&seg_path),
                last.offset
            ));
        }
        // The log continues where the torn frame began, and the new batch survives a reopen.
        let lsn = db.record(extra_batch(2)).expect("record after repair");
        let after = snapshot(&db);
        db.close().expect("close");
        let db = open_no_panic(&dir, &case).expect("reopen after repair");
        if lsn != Lsn(N) || db.visible_lsn() != lsn || snapshot(&db) != after {
            failures.push(format!(
                "{case}: new batch got {lsn}, after reopen visible {} ({:?}): the acknowledged \
                 batch did not survive",
                db.visible_lsn(),
                db.recovery()
            ));
        }
        drop(db);
    }
    assert!(
        failures.is_empty(),
        "{} failures over {} cuts (last frame at {}, {} bytes, payload {} bytes); first ones:\n{}",
        failures.len(),
        end - last.offset - 1,
        last.offset,
        last.len,
        last.payload_len,
        failures[..failures.len().min(6)].join("\n")
    );
}

#[test]
fn torn_tail_at_every_byte_of_the_last_frame_is_truncated_and_the_log_continues() {
    // The store's checkpoint is LSN N-1: the common crash case (the torn frame was never
    // acknowledged, so no checkpoint can include it).
    torn_tail_at_every_byte(StoreAs::Behind);
}

#[test]
fn log_cut_before_the_store_checkpoint_is_corruption_and_changes_nothing() {
    // The store's checkpoint is LSN N, so frame N was acknowledged (a checkpoint never covers
    // more than the durable log): a log cut at any byte of it, or at any earlier frame boundary,
    // lost acknowledged data. Opening refuses with the file, the offset and the LSNs missing,
    // and leaves every file byte-identical; `accept_loss` then opens it at the cut.
    const N: u64 = 6;
    let p = pristine(N, Some(extra_batch(1)));
    let seg = only_segment(&p.dir);
    let fr = frames(&seg);
    let last = *fr.last().expect("frames");
    let end = last.offset + last.len;
    let work = p._tmp.path().join("case");
    let mut cuts: Vec<u64> = fr.iter().map(|f| f.offset).collect();
    cuts.extend(last.offset + 1..end);
    cuts.push(SEGMENT_HEADER);
    cuts.push(SEGMENT_HEADER - 1);
    for cut in cuts {
        let case = format!("cut at {cut} (frame {} at {})", last.lsn, last.offset);
        let dir = fresh_copy(&p, StoreAs::Closed, &work);
        let seg_path = segment_in(&dir, &seg);
        set_len(&seg_path, cut);
        let before = common::files(&dir);
        let err = open_no_panic(&dir, &case)
            .err()
            .unwrap_or_else(|| panic!("{case}: opened"));
        let (file, offset) = corruption_at(&err, &case);
        assert_eq!(file, seg_path, "{case}: {err}");
        let frame = fr.iter().rev().find(|f| f.offset <= cut);
        let expected_offset = match frame {
            Some(f) if cut >= SEGMENT_HEADER => f.offset.min(cut),
            _ => 0,
        };
        assert_eq!(offset, expected_offset, "{case}: {err}");
        let missing_from = frame.map_or(1, |f| f.lsn);
        assert!(
            err.to_string().contains(&format!("{missing_from}..={N}")),
            "{case}: the LSNs missing are not named: {err}"
        );
        assert_eq!(
            common::files(&dir),
            before,
            "{case}: files changed by a refused open"
        );
        // The same through the read-only and the verify paths: refused, nothing changed.
        assert!(Db::open_with(&dir, Options::read_only()).is_err(), "{case}");
        assert_eq!(
            common::files(&dir),
            before,
            "{case}: files changed by a read-only open"
        );
    }
    // The operator accepts the loss of frame N: its bytes are kept in the side directory.
    let dir = fresh_copy(&p, StoreAs::Closed, &work);
    let seg_path = segment_in(&dir, &seg);
    set_len(&seg_path, last.offset + 5);
    let side = p._tmp.path().join("side");
    let loss = folio::accept_loss(&dir, &side).expect("accept loss");
    assert_eq!(loss.lsn, Lsn(N - 1), "{loss}");
    assert!(!loss.dropped.is_empty(), "{loss}");
    assert!(
        side.join("state").is_dir(),
        "the store ahead of the log was not set aside: {loss}"
    );
    let db = open_no_panic(&dir, "after accept_loss").expect("open after accept_loss");
    assert_eq!(snapshot(&db), p.before_last);
    assert_balances_match_entries(&db);
    let verify = db.verify();
    assert!(verify.is_ok(), "{:?}", verify.problems);
    assert!(
        verify.notes.iter().any(|n| n.contains("accepted_loss")),
        "verify does not tell the accepted loss: {:?}",
        verify.notes
    );
}

/// The file and offset of a `Corruption` error (anything else fails the test).
fn corruption_at(err: &Error, case: &str) -> (PathBuf, u64) {
    match err {
        Error::Corruption { file, offset, .. } => {
            let text = err.to_string();
            assert!(text.contains(&file.display().to_string()), "{case}: {text}");
            assert!(text.contains(&format!("offset {offset}")), "{case}: {text}");
            (file.clone(), *offset)
        }
        other => panic!("{case}: expected Error::Corruption, got {other:?} ({other})"),
    }
}

#[test]
fn garbage_after_the_last_frame_is_truncated_and_nothing_is_lost() {
    const N: u64 = 9;
    let p = pristine(N, None);
    let seg = only_segment(&p.dir);
    let end = file_len(&seg);
    let work = p._tmp.path().join("case");
    for fill in [0x00u8, 0xFF] {
        for len in [1u64, 4, 7, 8, 23, 24, 25, 100, 4096, 70_000] {
            let case = format!("{len} bytes of {fill:#04x}");
            let dir = fresh_copy(&p, StoreAs::Closed, &work);
            let seg_path = segment_in(&dir, &seg);
            let mut f = fs::OpenOptions::new()
                .append(true)
                .open(&seg_path)
                .expect("open segment");
            f.write_all(&vec![fill; len as usize]).expect("append");
            drop(f);
            let db = open_no_panic(&dir, &case).unwrap_or_else(|e| panic!("{case}: {e}"));
            assert_eq!(db.visible_lsn(), Lsn(N), "{case}");
            assert_eq!(db.recovery().truncated_bytes, len, "{case}");
            assert_eq!(file_len(&seg_path), end, "{case}: file not cut back");
            assert_eq!(snapshot(&db), p.last, "{case}: state changed");
            assert_eq!(db.record(extra_batch(len)).expect("record"), Lsn(N + 1));
            db.close().expect("close");
            let db = open_no_panic(&dir, &case).expect("reopen");
            assert_eq!(db.visible_lsn(), Lsn(N + 1), "{case}: after reopen");
            assert_eq!(db.recovery().truncated_bytes, 0, "{case}: after reopen");
        }
    }
}

#[test]
fn bit_flips_in_a_middle_frame_are_corruption_naming_file_and_frame_offset() {
    const N: u64 = 12;
    let p = pristine(N, None);
    let seg = only_segment(&p.dir);
    let fr = frames(&seg);
    let work = p._tmp.path().join("case");
    let mut cases: Vec<(String, usize, u64, u8)> = Vec::new();
    for index in [1, fr.len() / 2, fr.len() - 2] {
        let f = fr[index];
        for bit in 0..32u8 {
            let (byte, b) = (bit as u64 / 8, bit % 8);
            cases.push((format!("frame {index} length bit {bit}"), index, byte, b));
            cases.push((format!("frame {index} crc bit {bit}"), index, 4 + byte, b));
        }
        for bit in [0u8, 5, 63] {
            cases.push((
                format!("frame {index} lsn bit {bit}"),
                index,
                8 + bit as u64 / 8,
                bit % 8,
            ));
        }
        cases.push((format!("frame {index} prev crc bit 3"), index, 16, 3));
        cases.push((format!("frame {index} op count bit 0"), index, 20, 0));
        for at in [0, 1, f.payload_len / 2, f.payload_len - 1] {
            for bit in [0u8, 7] {
                cases.push((
                    format!("frame {index} payload byte {at} bit {bit}"),
                    index,
                    FRAME_HEADER + at,
                    bit,
                ));
            }
        }
    }
    for store in [StoreAs::Closed, StoreAs::Behind] {
        for (name, index, within, bit) in &cases {
            let case = format!("{name} ({store:?})");
            let dir = fresh_copy(&p, store, &work);
            let seg_path = segment_in(&dir, &seg);
            let at = fr[*index].offset;
            flip_bit(&seg_path, at + within, *bit);
            assert_corruption(open_no_panic(&dir, &case), &seg_path, at, &case);
            assert_eq!(
                file_len(&seg_path),
                file_len(&seg),
                "{case}: a corrupt log was modified"
            );
        }
    }
}

/// A damaged last frame with nothing after it looks exactly like a torn write. With the store
/// behind it (nothing shows the frame was acknowledged) recovery cuts it off and reports it; with
/// the store's checkpoint at or past it, the frame was acknowledged: corruption, nothing changed.
fn bit_flip_in_last_frame(store: StoreAs) {
    const N: u64 = 8;
    let p = pristine(N, None);
    let seg = only_segment(&p.dir);
    let last = *frames(&seg).last().expect("frames");
    let work = p._tmp.path().join("case");
    for (what, within, bit) in [
        ("payload first byte", FRAME_HEADER, 0u8),
        ("payload middle", FRAME_HEADER + last.payload_len / 2, 4),
        ("payload last byte", FRAME_HEADER + last.payload_len - 1, 7),
        ("crc", 4, 1),
    ] {
        let case = format!("{what} ({store:?})");
        let dir = fresh_copy(&p, store, &work);
        let seg_path = segment_in(&dir, &seg);
        flip_bit(&seg_path, last.offset + within, bit);
        if let StoreAs::Closed = store {
            let before = common::files(&dir);
            let err = open_no_panic(&dir, &case)
                .err()
                .unwrap_or_else(|| panic!("{case}"));
            assert_eq!(corruption_at(&err, &case), (seg_path.clone(), last.offset));
            assert!(
                matches!(&err, Error::Corruption { kind: CorruptionKind::DamagedDurable { lsn, .. }, .. } if lsn.0 == N),
                "{case}: {err:?}"
            );
            assert_eq!(common::files(&dir), before, "{case}: files changed");
            continue;
        }
        let db = open_no_panic(&dir, &case).unwrap_or_else(|e| panic!("{case}: {e}"));
        assert_eq!(db.visible_lsn(), Lsn(N - 1), "{case}");
        assert_eq!(snapshot(&db), p.before_last, "{case}");
        assert_balances_match_entries(&db);
        assert_eq!(file_len(&seg_path), last.offset, "{case}");
        assert_eq!(
            db.recovery().truncated_bytes,
            last.len,
            "{case}: {:?}",
            db.recovery()
        );
        assert_eq!(db.recovery().truncated_frames, 1, "{case}");
        let warning = db.recovery().warning().expect("the cut is reported");
        assert!(
            warning.contains(&format!("{} bytes", last.len)),
            "{warning}"
        );
        let verify = db.verify();
        assert!(
            verify.notes.iter().any(|n| n.contains("torn_tail")),
            "{case}: verify does not tell the cut: {:?}",
            verify.notes
        );
    }
}

#[test]
fn bit_flip_in_the_last_frame_at_the_end_of_the_log_is_treated_as_a_torn_tail_and_truncated() {
    bit_flip_in_last_frame(StoreAs::Behind);
}

#[test]
fn bit_flip_in_the_last_frame_with_the_store_ahead_is_corruption_and_changes_nothing() {
    bit_flip_in_last_frame(StoreAs::Closed);
}

#[test]
fn deleted_store_is_rebuilt_from_the_log_with_identical_state() {
    const N: u64 = 30;
    let p = pristine(N, None);
    fs::remove_dir_all(p.dir.join("state")).expect("rm state");
    let db = Db::open(&p.dir).expect("open without store");
    let r = db.recovery().clone();
    assert!(
        r.rebuilt.is_some() || r.frames_replayed == N,
        "not rebuilt: {r:?}"
    );
    assert_eq!(r.frames_replayed, N, "{r:?}");
    assert_eq!(snapshot(&db), p.last);
    assert_balances_match_entries(&db);
    db.close().expect("close");
    // The rebuilt store is a normal store again.
    let db = Db::open(&p.dir).expect("reopen");
    assert_eq!(db.recovery().checkpoint_lsn, Lsn(N));
    assert_eq!(db.recovery().frames_replayed, 0);
    assert_eq!(snapshot(&db), p.last);
}

#[test]
fn checkpoint_behind_the_log_after_a_normal_close_reopens_identically() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("db");
    let db = Db::open(&dir).expect("create");
    record_range(&db, 1, 10);
    let stats = db.checkpoint().expect("checkpoint");
    assert_eq!(stats.lsn, Lsn(10));
    record_range(&db, 11, 25);
    let expected = snapshot(&db);
    assert_balances_match_entries(&db);
    db.close().expect("close");
    let db = Db::open(&dir).expect("reopen");
    assert_eq!(snapshot(&db), expected);
    assert_balances_match_entries(&db);
    assert_eq!(db.recovery().lsn, Lsn(25));
}

/// Store copied at checkpoint `k` (while open, or after a close), more batches recorded, then the
/// old store put back: reopening replays `k+1..=n` exactly once.
fn old_store_restored(copy_while_open: bool) {
    const K: u64 = 11;
    const N: u64 = 29;
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("db");
    let saved = tmp.path().join("state_at_k");
    let mut db = Db::open(&dir).expect("create");
    record_range(&db, 1, K);
    if copy_while_open {
        assert_eq!(db.checkpoint().expect("checkpoint").lsn, Lsn(K));
        copy_dir(&dir.join("state"), &saved);
    } else {
        db.close().expect("close");
        copy_dir(&dir.join("state"), &saved);
        db = Db::open(&dir).expect("reopen");
    }
    record_range(&db, K + 1, N);
    let expected = snapshot(&db);
    db.close().expect("close");

    // A fresh model: the whole log replayed into an empty store.
    let fresh = tmp.path().join("fresh");
    copy_dir(&dir, &fresh);
    fs::remove_dir_all(fresh.join("state")).expect("rm");
    let db = Db::open(&fresh).expect("fresh rebuild");
    assert_eq!(
        snapshot(&db),
        expected,
        "full replay differs from the live state"
    );
    drop(db);

    fs::remove_dir_all(dir.join("state")).expect("rm state");
    copy_dir(&saved, &dir.join("state"));
    let db = Db::open(&dir).expect("open with old store");
    let r = db.recovery().clone();
    if r.rebuilt.is_none() {
        assert_eq!(r.checkpoint_lsn, Lsn(K), "{r:?}");
        assert_eq!(r.frames_replayed, N - K, "{r:?}");
    }
    assert_eq!(snapshot(&db), expected, "replay over the old store ({r:?})");
    assert_balances_match_entries(&db);
    // Replayed values are checkpointed at close; a second reopen must not count them again.
    db.close().expect("close");
    let db = Db::open(&dir).expect("second reopen");
    assert_eq!(snapshot(&db), expected, "after the second reopen");
    db.close().expect("close");

    // Once more from the old store, this time writing on top before closing.
    fs::remove_dir_all(dir.join("state")).expect("rm state");
    copy_dir(&saved, &dir.join("state"));
    let db = Db::open(&dir).expect("open with old store again");
    assert_eq!(db.record(extra_batch(9)).expect("record"), Lsn(N + 1));
    let expected = snapshot(&db);
    db.close().expect("close");
    let db = Db::open(&dir).expect("reopen");
    assert_eq!(snapshot(&db), expected);
    assert_balances_match_entries(&db);
}

#[test]
fn old_store_copied_after_a_checkpoint_while_open_replays_newer_frames_exactly_once() {
    old_store_restored(true);
}

#[test]
fn old_store_copied_after_close_replays_newer_frames_exactly_once() {
    old_store_restored(false);
}

#[test]
fn segment_of_another_database_is_corruption() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    for (dir, n) in [(&a, 7), (&b, 9)] {
        let db = Db::open(dir).expect("create");
        record_range(&db, 1, n);
        db.close().expect("close");
    }
    let seg_a = only_segment(&a);
    let seg_b = only_segment(&b);
    // Replacing ours (same name: the first LSN of both is 1).
    let case = tmp.path().join("replaced");
    copy_dir(&a, &case);
    let target = segment_in(&case, &seg_a);
    fs::copy(&seg_b, &target).expect("copy foreign segment");
    assert_corruption(
        open_no_panic(&case, "replaced"),
        &target,
        16,
        "foreign segment replacing ours",
    );
    // As a next segment after ours.
    let case = tmp.path().join("appended");
    copy_dir(&a, &case);
    let target = case.join("wal").join(format!("{:020}.log", 8));
    fs::copy(&seg_b, &target).expect("copy foreign segment");
    assert_corruption(
        open_no_panic(&case, "appended"),
        &target,
        16,
        "foreign segment after ours",
    );
}

/// Splits a one-segment log after frame `k` into two segments, as rotation would have written
/// them: the second header carries the database id, its first LSN and the CRC of frame `k`.
fn split_segment(dir: &Path, k: usize) -> (PathBuf, PathBuf) {
    let seg = only_segment(dir);
    let bytes = fs::read(&seg).expect("read");
    let fr = frames(&seg);
    let cut = fr[k - 1].offset + fr[k - 1].len;
    let prev_crc = {
        let at = fr[k - 1].offset as usize + 4;
        u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4"))
    };
    let db_id = u64::from_le_bytes(bytes[16..24].try_into().expect("8"));
    let first = fr[k].lsn;
    let header = folio::wal::segment::SegmentHeader::new(db_id, first, prev_crc).encode();
    let second = folio::wal::segment::segment_path(&dir.join("wal"), first);
    let mut out = header.to_vec();
    out.extend_from_slice(&bytes[cut as usize..]);
    fs::write(&second, out).expect("write second segment");
    set_len(&seg, cut);
    (seg, second)
}

#[test]
fn two_segments_recover_and_damage_in_a_sealed_segment_is_corruption() {
    const N: u64 = 16;
    const K: usize = 9;
    let p = pristine(N, None);
    let work = p._tmp.path().join("case");
    let template = p._tmp.path().join("split");
    copy_dir(&p.dir, &template);
    let (first, second) = split_segment(&template, K);
    let name = |path: &Path| path.file_name().expect("name").to_owned();
    let in_case = |dir: &Path, seg: &Path| dir.join("wal").join(name(seg));
    let fresh = |store_removed: bool| {
        let _ = fs::remove_dir_all(&work);
        copy_dir(&template, &work);
        if store_removed {
            // With the store, its durable mark: nothing shows which frames were acknowledged
            // (the state after a crash before any checkpoint).
            fs::remove_dir_all(work.join("state")).expect("rm");
            fs::remove_file(work.join("DURABLE")).expect("rm mark");
        }
        work.clone()
    };

    // Both segments replayed from scratch give the same state.
    let dir = fresh(true);
    let db = open_no_panic(&dir, "split").expect("open split log");
    assert_eq!(db.recovery().frames_replayed, N);
    assert_eq!(snapshot(&db), p.last);
    assert_eq!(db.record(extra_batch(3)).expect("record"), Lsn(N + 1));
    drop(db);
    let db = open_no_panic(&dir, "split").expect("reopen split log");
    assert_eq!(db.visible_lsn(), Lsn(N + 1));
    drop(db);

    // The last frame of the first (sealed) segment damaged: not a torn tail.
    let dir = fresh(true);
    let seg = in_case(&dir, &first);
    let last = *frames(&seg).last().expect("frames");
    flip_bit(&seg, last.offset + FRAME_HEADER + 1, 2);
    assert_corruption(
        open_no_panic(&dir, "sealed tail"),
        &seg,
        last.offset,
        "last frame of a sealed segment",
    );
    // The sealed segment cut short inside its last frame: not a torn tail either.
    let dir = fresh(true);
    let seg = in_case(&dir, &first);
    set_len(&seg, last.offset + 10);
    assert_corruption(
        open_no_panic(&dir, "sealed cut"),
        &seg,
        last.offset,
        "sealed segment cut short",
    );
    // A torn tail in the last segment is still repaired.
    let dir = fresh(true);
    let seg = in_case(&dir, &second);
    let tail = *frames(&seg).last().expect("frames");
    set_len(&seg, tail.offset + tail.len - 3);
    let db = open_no_panic(&dir, "torn second").expect("open torn second segment");
    assert_eq!(db.visible_lsn(), Lsn(N - 1));
    assert_eq!(snapshot(&db), p.before_last);
    drop(db);
    // The second header's chain CRC does not match the first segment's last frame.
    let dir = fresh(true);
    let seg = in_case(&dir, &second);
    let mut bytes = fs::read(&seg).expect("read");
    let db_id = u64::from_le_bytes(bytes[16..24].try_into().expect("8"));
    let header = folio::wal::segment::SegmentHeader::new(db_id, K as u64 + 1, 0xDEAD_BEEF).encode();
    bytes[..40].copy_from_slice(&header);
    fs::write(&seg, bytes).expect("write");
    assert_corruption(open_no_panic(&dir, "chain"), &seg, 32, "chain CRC");
    let err = Db::open(&dir).expect_err("chain break accepted");
    assert!(
        matches!(
            &err,
            Error::Corruption {
                kind: CorruptionKind::ChainBroken,
                ..
            }
        ),
        "{err:?}"
    );
    // The first segment missing: the log starts at LSN K+1.
    let dir = fresh(true);
    fs::remove_file(in_case(&dir, &first)).expect("rm first");
    let seg = in_case(&dir, &second);
    assert_corruption(
        open_no_panic(&dir, "gap"),
        &seg,
        24,
        "first segment missing",
    );
    let err = Db::open(&dir).expect_err("gap accepted");
    assert!(
        matches!(
            &err,
            Error::Corruption {
                kind: CorruptionKind::LsnGap { .. },
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn damaged_identity_file_is_corruption_naming_it() {
    let p = pristine(3, None);
    for byte in [13u64, 17, 25] {
        let dir = p._tmp.path().join(format!("meta{byte}"));
        copy_dir(&p.dir, &dir);
        let meta = dir.join("FOLIO");
        flip_bit(&meta, byte, 1);
        assert_corruption(open_no_panic(&dir, "meta"), &meta, 12, "FOLIO bit flip");
    }
    let dir = p._tmp.path().join("meta_magic");
    copy_dir(&p.dir, &dir);
    let meta = dir.join("FOLIO");
    flip_bit(&meta, 0, 0);
    assert_corruption(open_no_panic(&dir, "magic"), &meta, 0, "FOLIO magic");
}

#[test]
fn next_segment_with_a_torn_header_is_discarded() {
    const N: u64 = 5;
    let p = pristine(N, None);
    let seg = only_segment(&p.dir);
    let db_id = u64::from_le_bytes(fs::read(&seg).expect("read")[16..24].try_into().expect("8"));
    let prev_crc = {
        let bytes = fs::read(&seg).expect("read");
        let last = *frames(&seg).last().expect("frames");
        let at = last.offset as usize + 4;
        u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4"))
    };
    let header = folio::wal::segment::SegmentHeader::new(db_id, N + 1, prev_crc).encode();
    for keep in [0usize, 1, 20, 39] {
        let case = p._tmp.path().join(format!("torn{keep}"));
        copy_dir(&p.dir, &case);
        let next = case.join("wal").join(format!("{:020}.log", N + 1));
        fs::write(&next, &header[..keep]).expect("write torn header");
        let db = open_no_panic(&case, "torn header").expect("open");
        let report = db.recovery().clone();
        assert_eq!(db.visible_lsn(), Lsn(N), "{keep} bytes of header");
        assert_eq!(snapshot(&db), p.last, "{keep} bytes of header");
        // The store (checkpoint N) is not ahead of the log (ends at N): no reason to wipe it and
        // replay the whole log, and the cut bytes must be reported.
        assert_eq!(
            (report.rebuilt.as_deref(), report.truncated_bytes),
            (None, keep as u64),
            "{keep} bytes of header: {report:?}"
        );
        assert_eq!(db.record(extra_batch(5)).expect("record"), Lsn(N + 1));
        db.close().expect("close");
        let db = open_no_panic(&case, "torn header").expect("reopen");
        assert_eq!(db.visible_lsn(), Lsn(N + 1), "{keep}");
    }
}

#[test]
fn crash_while_creating_the_database_leaves_a_directory_that_opens() {
    // `Db::open` on a new directory creates `wal/`, then writes `FOLIO` through `FOLIO.tmp` and a
    // rename. A kill between those steps leaves a directory without `FOLIO`; nothing was ever
    // acknowledged in it, so opening it again must create the database.
    let tmp = tempfile::tempdir().expect("tempdir");
    let partial: [(&str, &[&str]); 3] = [
        ("wal dir only", &["wal/"]),
        ("wal dir and empty FOLIO.tmp", &["wal/", "FOLIO.tmp"]),
        ("LOCK and wal dir", &["LOCK", "wal/"]),
    ];
    let mut failures = Vec::new();
    for (what, files) in partial {
        let dir = tmp.path().join(what.replace(' ', "_"));
        fs::create_dir_all(&dir).expect("mkdir");
        for f in files {
            match f.strip_suffix('/') {
                Some(d) => fs::create_dir_all(dir.join(d)).expect("mkdir"),
                None => {
                    fs::write(dir.join(f), b"").expect("write");
                }
            }
        }
        match open_no_panic(&dir, what) {
            Ok(db) => {
                assert!(db.recovery().created, "{what}");
                db.register_org(org()).expect("usable");
            }
            Err(e) => failures.push(format!("{what}: {e}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn back_dated_postings_far_outside_the_month_window_do_not_panic_or_brick_the_database() {
    // Three valid postings: January 2024, then December 2022, then July 2021. The third lands
    // outside the Fenwick window that `OrgBalances::rebuild_prefix` grows downwards (the window
    // after the second posting is 2022-12..2024-03, padded to a power of two; the new span of 32
    // months is measured back from 2024-03 and stops at 2021-08). Found by tests/crash.rs.
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("db");
    let utc = Org::new(OrgId(1), "Back Office", Currency::USD);
    let jan_2024 = 1_704_067_200;
    let dec_2022 = 1_669_852_800;
    let jul_2021 = 1_625_097_600;
    let db = Db::open(&dir).expect("create");
    db.register_org(utc).expect("org");
    let mut results = Vec::new();
    for (i, ts) in [jan_2024, dec_2022, jul_2021].into_iter().enumerate() {
        let entry = Entry::revenue(
            OrgId(1),
            EntryId(i as u64 + 1),
            ts,
            Money(100),
            Category::Rooms,
            PaymentMethod::Cash,
        );
        results.push(
            db.record(Batch::new().post(entry))
                .map_err(|e| e.to_string()),
        );
    }
    let closed = db.close().map_err(|e| e.to_string());
    let reopened = match catch_unwind(AssertUnwindSafe(|| Db::open(&dir))) {
        Ok(Ok(db)) => {
            let day = BusinessDay::parse("2024-01-01").expect("day");
            let closing = db.balance(OrgId(1), day).map(|b| b.closing);
            format!("opened at LSN {}, closing {closing:?}", db.visible_lsn())
        }
        Ok(Err(e)) => format!("error: {e}"),
        Err(_) => "Db::open panicked".to_string(),
    };
    assert_eq!(
        (results, reopened),
        (
            vec![Ok(Lsn(2)), Ok(Lsn(3)), Ok(Lsn(4))],
            "opened at LSN 4, closing Ok(Money(300))".to_string()
        ),
        "record results, then reopening (close returned {closed:?})"
    );
}

fn small_segments() -> Options {
    Options::default().segment_target_bytes(2048)
}

/// Segment header fields: (database id, first LSN, chain CRC).
fn header_of(segment: &Path) -> (u64, u64, u32) {
    let b = fs::read(segment).expect("read");
    (
        u64::from_le_bytes(b[16..24].try_into().expect("8")),
        u64::from_le_bytes(b[24..32].try_into().expect("8")),
        u32::from_le_bytes(b[32..36].try_into().expect("4")),
    )
}

fn crc_of_frame(segment: &Path, f: FrameAt) -> u32 {
    let b = fs::read(segment).expect("read");
    let at = f.offset as usize + 4;
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4"))
}

#[test]
fn rotation_with_small_segments_chains_segments_and_recovers_each_way() {
    const N: u64 = 60;
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("db");
    let db = Db::open_with(&dir, small_segments()).expect("create");
    record_range(&db, 1, N);
    let expected = snapshot(&db);
    db.close().expect("close");

    // Every segment starts where the previous one ended and carries its last frame's CRC.
    let segs = segments(&dir);
    assert!(segs.len() >= 5, "only {} segments", segs.len());
    let mut next_lsn = 1;
    let mut prev_crc = 0;
    for seg in &segs {
        let (_, first, chain) = header_of(seg);
        assert_eq!((first, chain), (next_lsn, prev_crc), "{}", seg.display());
        let name = seg.file_name().expect("name").to_string_lossy().to_string();
        assert_eq!(name, format!("{first:020}.log"));
        for f in frames(seg) {
            assert_eq!(f.lsn, next_lsn, "{}", seg.display());
            next_lsn += 1;
            prev_crc = crc_of_frame(seg, f);
        }
    }
    assert_eq!(next_lsn, N + 1);

    let case = |name: &str| {
        let d = tmp.path().join(name);
        copy_dir(&dir, &d);
        d
    };
    let seg_in = |d: &Path, i: usize| d.join("wal").join(segs[i].file_name().expect("name"));

    // The whole log replayed across every segment.
    let d = case("rebuild");
    fs::remove_dir_all(d.join("state")).expect("rm");
    let db = open_no_panic(&d, "rebuild").expect("open");
    assert_eq!(db.recovery().frames_replayed, N);
    assert_eq!(snapshot(&db), expected);
    drop(db);

    // Torn tail of the last segment.
    let d = case("torn");
    let last_seg = seg_in(&d, segs.len() - 1);
    let tail = *frames(&last_seg).last().expect("frames");
    set_len(&last_seg, tail.offset + tail.len / 2);
    fs::remove_dir_all(d.join("state")).expect("rm");
    fs::remove_file(d.join("DURABLE")).expect("rm mark");
    let db = open_no_panic(&d, "torn").expect("open");
    assert_eq!(db.visible_lsn(), Lsn(tail.lsn - 1));
    assert_eq!(db.recovery().truncated_bytes, tail.len - tail.len / 2);
    drop(db);

    // The last frame of a sealed segment damaged: corruption, never a truncation.
    for i in [0, segs.len() / 2, segs.len() - 2] {
        let d = case(&format!("sealed{i}"));
        let seg = seg_in(&d, i);
        let f = *frames(&seg).last().expect("frames");
        flip_bit(&seg, f.offset + FRAME_HEADER + 3, 6);
        fs::remove_dir_all(d.join("state")).expect("rm");
        assert_corruption(
            open_no_panic(&d, "sealed"),
            &seg,
            f.offset,
            &format!("segment {i}"),
        );
    }

    // Writing on after a reopen keeps rotating and chaining.
    let db = Db::open_with(&dir, small_segments()).expect("reopen");
    for lsn in N + 1..=N + 20 {
        assert_eq!(db.record(extra_batch(lsn)).expect("record"), Lsn(lsn));
    }
    let expected = snapshot(&db);
    db.close().expect("close");
    fs::remove_dir_all(dir.join("state")).expect("rm");
    let db = Db::open(&dir).expect("reopen");
    assert_eq!(db.recovery().frames_replayed, N + 20);
    assert_eq!(snapshot(&db), expected);
    assert!(segments(&dir).len() > segs.len());
}

#[test]
fn default_64_mib_segments_rotate_with_the_largest_batches() {
    // 100,000 operations per batch (the limit) with 256-byte references (the limit): about
    // 30 MiB per frame, so the first segment passes 64 MiB after three batches and the fourth
    // starts a new segment. About 120 MiB of log; a few seconds.
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("db");
    let db = Db::open(&dir).expect("create");
    db.register_org(org()).expect("org");
    let reference = "r".repeat(folio::limits::MAX_REFERENCE_BYTES);
    for b in 0..4u64 {
        let ops: Vec<folio::Op> = (0..folio::limits::MAX_BATCH_OPS as u64)
            .map(|i| {
                folio::Op::Post(
                    Entry::revenue(
                        ORG,
                        EntryId(b * 1_000_000 + i + 1),
                        BASE_TS + (i as i64 % 1000) * HOUR,
                        Money(1 + i as i64 % 10_000),
                        Category::Rooms,
                        PaymentMethod::Card,
                    )
                    .with_reference(reference.clone()),
                )
            })
            .collect();
        assert_eq!(db.record(Batch::from(ops)).expect("big batch"), Lsn(b + 2));
    }
    let expected = snapshot(&db);
    db.close().expect("close");
    let segs = segments(&dir);
    let sizes: Vec<u64> = segs.iter().map(|s| file_len(s)).collect();
    assert_eq!(segs.len(), 2, "segments {segs:?}, bytes {sizes:?}");
    assert!(sizes[0] >= folio::limits::SEGMENT_TARGET_BYTES, "{sizes:?}");
    let last_of_first = *frames(&segs[0]).last().expect("frames");
    assert_eq!(header_of(&segs[1]).1, last_of_first.lsn + 1);
    assert_eq!(header_of(&segs[1]).2, crc_of_frame(&segs[0], last_of_first));
    fs::remove_dir_all(dir.join("state")).expect("rm state");
    let db = Db::open(&dir).expect("reopen");
    assert_eq!(db.recovery().frames_replayed, 5);
    assert_eq!(snapshot(&db), expected);
}
