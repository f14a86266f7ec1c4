//! Several segments: foreign ones, damage in a sealed one, a torn next header, rotation.

use crate::expect::*;
use crate::files::*;
use crate::history::*;
use folio::{
    Batch, Category, CorruptionKind, Db, Entry, EntryId, Error, Lsn, Money, PaymentMethod,
};
use std::fs;
use std::path::{Path, PathBuf};

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

/// Frames of the two-segment log, and how many of them the first segment holds.
const TWO_SEG_FRAMES: u64 = 16;
const FIRST_SEG_FRAMES: usize = 9;

/// A pristine log of [`TWO_SEG_FRAMES`] frames split into two segments after frame [`FIRST_SEG_FRAMES`], and a scratch
/// directory for fresh copies of it.
struct TwoSegments {
    template: PathBuf,
    work: PathBuf,
    first: PathBuf,
    second: PathBuf,
}

impl TwoSegments {
    fn new(p: &Pristine) -> TwoSegments {
        let work = p._tmp.path().join("case");
        let template = p._tmp.path().join("split");
        copy_dir(&p.dir, &template);
        let (first, second) = split_segment(&template, FIRST_SEG_FRAMES);
        TwoSegments {
            template,
            work,
            first,
            second,
        }
    }

    /// A fresh copy without the store and its durable mark: nothing shows which frames were
    /// acknowledged (the state after a crash before any checkpoint).
    fn fresh(&self) -> PathBuf {
        let _ = fs::remove_dir_all(&self.work);
        copy_dir(&self.template, &self.work);
        fs::remove_dir_all(self.work.join("state")).expect("rm");
        fs::remove_file(self.work.join("DURABLE")).expect("rm mark");
        self.work.clone()
    }

    /// `seg` (of the template) in the copy at `dir`.
    fn in_case(dir: &Path, seg: &Path) -> PathBuf {
        dir.join("wal").join(seg.file_name().expect("name"))
    }
}

/// Both segments replayed from scratch give the same state, and the log goes on.
fn both_segments_replay(t: &TwoSegments, p: &Pristine) {
    let dir = t.fresh();
    let db = open_no_panic(&dir, "split").expect("open split log");
    assert_eq!(db.recovery().frames_replayed, TWO_SEG_FRAMES);
    assert_eq!(snapshot(&db), p.last);
    assert_eq!(
        db.record(extra_batch(3)).expect("record"),
        Lsn(TWO_SEG_FRAMES + 1)
    );
    drop(db);
    let db = open_no_panic(&dir, "split").expect("reopen split log");
    assert_eq!(db.visible_lsn(), Lsn(TWO_SEG_FRAMES + 1));
    drop(db);
}

/// The last frame of the first (sealed) segment damaged, or cut short: not a torn tail.
fn damage_in_the_sealed_segment(t: &TwoSegments) {
    let dir = t.fresh();
    let seg = TwoSegments::in_case(&dir, &t.first);
    let last = *frames(&seg).last().expect("frames");
    flip_bit(&seg, last.offset + FRAME_HEADER + 1, 2);
    assert_corruption(
        open_no_panic(&dir, "sealed tail"),
        &seg,
        last.offset,
        "last frame of a sealed segment",
    );
    let dir = t.fresh();
    let seg = TwoSegments::in_case(&dir, &t.first);
    set_len(&seg, last.offset + 10);
    assert_corruption(
        open_no_panic(&dir, "sealed cut"),
        &seg,
        last.offset,
        "sealed segment cut short",
    );
}

/// A torn tail in the last segment is still repaired.
fn torn_tail_of_the_last_segment(t: &TwoSegments, p: &Pristine) {
    let dir = t.fresh();
    let seg = TwoSegments::in_case(&dir, &t.second);
    let tail = *frames(&seg).last().expect("frames");
    set_len(&seg, tail.offset + tail.len - 3);
    let db = open_no_panic(&dir, "torn second").expect("open torn second segment");
    assert_eq!(db.visible_lsn(), Lsn(TWO_SEG_FRAMES - 1));
    assert_eq!(snapshot(&db), p.before_last);
    drop(db);
}

/// The second header's chain CRC does not match the first segment's last frame.
fn broken_chain(t: &TwoSegments) {
    let dir = t.fresh();
    let seg = TwoSegments::in_case(&dir, &t.second);
    let mut bytes = fs::read(&seg).expect("read");
    let db_id = u64::from_le_bytes(bytes[16..24].try_into().expect("8"));
    let header =
        folio::wal::segment::SegmentHeader::new(db_id, FIRST_SEG_FRAMES as u64 + 1, 0xDEAD_BEEF)
            .encode();
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
}

/// The first segment missing: the log starts at LSN FIRST_SEG_FRAMES+1.
fn first_segment_missing(t: &TwoSegments) {
    let dir = t.fresh();
    fs::remove_file(TwoSegments::in_case(&dir, &t.first)).expect("rm first");
    let seg = TwoSegments::in_case(&dir, &t.second);
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
fn two_segments_recover_and_damage_in_a_sealed_segment_is_corruption() {
    let p = pristine(TWO_SEG_FRAMES, None);
    let t = TwoSegments::new(&p);
    both_segments_replay(&t, &p);
    damage_in_the_sealed_segment(&t);
    torn_tail_of_the_last_segment(&t, &p);
    broken_chain(&t);
    first_segment_missing(&t);
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

/// Every segment starts where the previous one ended and carries its last frame's CRC; the
/// frames are the LSNs `1..=n`.
fn assert_chained(segs: &[PathBuf], n: u64) {
    let mut next_lsn = 1;
    let mut prev_crc = 0;
    for seg in segs {
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
    assert_eq!(next_lsn, n + 1);
}

/// Copies of the rotated log at `dir` (of `n` frames, in `segs`): replayed whole, with a torn
/// tail in the last segment, with the last frame of a sealed segment damaged.
fn recover_rotated_copies(tmp: &Path, dir: &Path, segs: &[PathBuf], expected: &Snapshot, n: u64) {
    let case = |name: &str| {
        let d = tmp.join(name);
        copy_dir(dir, &d);
        d
    };
    let seg_in = |d: &Path, i: usize| d.join("wal").join(segs[i].file_name().expect("name"));

    // The whole log replayed across every segment.
    let d = case("rebuild");
    fs::remove_dir_all(d.join("state")).expect("rm");
    let db = open_no_panic(&d, "rebuild").expect("open");
    assert_eq!(db.recovery().frames_replayed, n);
    assert_eq!(snapshot(&db), *expected);
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
    assert_chained(&segs, N);
    recover_rotated_copies(tmp.path(), &dir, &segs, &expected, N);

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
