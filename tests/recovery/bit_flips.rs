//! Flipped bits in the log: in a middle frame, and in the last frame behind or ahead of the store.

use crate::common;
use crate::expect::*;
use crate::files::*;
use crate::history::*;
use folio::{CorruptionKind, Error, Lsn};

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
