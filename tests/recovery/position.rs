//! The durable mark's log position: a read-only open reads the log from the frame the mark names
//! (the frames before it are in the store already), a writable open reads its last segment whole
//! before it continues it, and `verify` reads the whole log either way.

use crate::expect::*;
use crate::files::*;
use crate::history::*;
use folio::{Db, Options};
use std::fs;

#[test]
fn a_read_only_open_starts_at_the_durable_marks_position_and_a_writable_one_reads_the_whole_segment(
) {
    const N: u64 = 12;
    let p = pristine(N, None);
    let seg = only_segment(&p.dir);
    let fr = frames(&seg);
    let work = p._tmp.path().join("case");
    assert_eq!(
        fs::read(p.dir.join("DURABLE")).expect("mark").len(),
        64,
        "a closed database's mark names a log position"
    );
    for store in [StoreAs::Closed, StoreAs::Behind] {
        let case = format!("{store:?}");
        let dir = fresh_copy(&p, store, &work);
        let seg_path = segment_in(&dir, &seg);
        // A payload bit of the third frame: long in the store, before the mark's position.
        let at = fr[2].offset;
        flip_bit(&seg_path, at + FRAME_HEADER + 1, 0);

        let reader = Db::open_with(&dir, Options::read_only())
            .unwrap_or_else(|e| panic!("{case}: a read-only open read the damaged frame: {e}"));
        assert_eq!(
            snapshot(&reader),
            p.last,
            "{case}: the frames after the mark replayed"
        );
        let report = reader.verify();
        assert!(
            report.problems.iter().any(|p| p.contains("log")),
            "{case}: verify reads the whole log: {:?}",
            report.problems
        );
        drop(reader);
        assert_corruption(open_no_panic(&dir, &case), &seg_path, at, &case);

        // A mark without a position (32 bytes, as older builds wrote it): the read-only open
        // reads the segment from its start and finds the damage.
        let mark = dir.join("DURABLE");
        let bytes = fs::read(&mark).expect("mark");
        fs::write(&mark, &bytes[..32]).expect("short mark");
        let refused = Db::open_with(&dir, Options::read_only());
        assert_corruption(refused, &seg_path, at, &format!("{case}, 32-byte mark"));
    }
}
