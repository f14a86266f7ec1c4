//! Logs cut short: torn tails beyond the durable mark are cut and the log continues; a cut at or
//! below it is corruption that changes nothing; garbage after the last frame is cut.

use crate::common;
use crate::expect::*;
use crate::files::*;
use crate::history::*;
use folio::{Db, Lsn, Options};
use std::fs;
use std::io::Write;
use std::path::Path;

/// The last frame (`last`, of segment `seg`, LSN N) cut at `cut` on a fresh copy: the state of
/// LSN N-1, the torn bytes cut and reported, and the log continuing. Adds what went wrong to
/// `failures`.
fn cut_inside_the_last_frame(
    p: &Pristine,
    store: StoreAs,
    (seg, last, cut): (&Path, FrameAt, u64),
    work: &Path,
    failures: &mut Vec<String>,
) {
    let end = last.offset + last.len;
    let case = format!("{store:?}, cut at {cut} (frame {}..{end})", last.offset);
    let dir = fresh_copy(p, store, work);
    let seg_path = segment_in(&dir, seg);
    set_len(&seg_path, cut);
    let db = match open_no_panic(&dir, &case) {
        Ok(db) => db,
        Err(e) => {
            failures.push(format!("{case}: open failed: {e}"));
            return;
        }
    };
    let report = db.recovery().clone();
    if db.visible_lsn() != Lsn(last.lsn - 1) || snapshot(&db) != p.before_last {
        failures.push(format!(
            "{case}: not the state of LSN {}: {report:?}",
            last.lsn - 1
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
    if lsn != Lsn(last.lsn) || db.visible_lsn() != lsn || snapshot(&db) != after {
        failures.push(format!(
            "{case}: new batch got {lsn}, after reopen visible {} ({:?}): the acknowledged \
             batch did not survive",
            db.visible_lsn(),
            db.recovery()
        ));
    }
    drop(db);
}

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
        cut_inside_the_last_frame(&p, store, (&seg, last, cut), &work, &mut failures);
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

/// The log of `n` frames (`fr`, in `seg`; the store closed at LSN n) cut at `cut`: refused as
/// corruption naming the segment, the offset and the LSNs missing, by the writable and the
/// read-only open alike, with every file left byte-identical.
fn refused_cut(p: &Pristine, (seg, fr): (&Path, &[FrameAt]), cut: u64, work: &Path) {
    let last = *fr.last().expect("frames");
    let n = last.lsn;
    let case = format!("cut at {cut} (frame {} at {})", last.lsn, last.offset);
    let dir = fresh_copy(p, StoreAs::Closed, work);
    let seg_path = segment_in(&dir, seg);
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
        err.to_string().contains(&format!("{missing_from}..={n}")),
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

/// The operator accepts the loss of frame n (the last, in `seg`): its bytes are kept in the side
/// directory, and the database opens at LSN n-1, verified.
fn accepting_the_loss(p: &Pristine, seg: &Path, last: FrameAt, work: &Path) {
    let n = last.lsn;
    let dir = fresh_copy(p, StoreAs::Closed, work);
    let seg_path = segment_in(&dir, seg);
    set_len(&seg_path, last.offset + 5);
    let side = p._tmp.path().join("side");
    let loss = folio::accept_loss(&dir, &side).expect("accept loss");
    assert_eq!(loss.lsn, Lsn(n - 1), "{loss}");
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
        refused_cut(&p, (&seg, &fr), cut, &work);
    }
    accepting_the_loss(&p, &seg, last, &work);
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
