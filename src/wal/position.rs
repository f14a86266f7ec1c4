//! Where in the log a frame starts: the hint a checkpoint leaves so that recovery reads only the
//! frames after it instead of the segment's every frame before them.
//!
//! A segment holds frames of varying length back to back, so the frame of some LSN is found by
//! reading every frame before it in its segment. A [`LogPosition`] names a frame boundary: the
//! segment (by its first LSN), the byte offset, the LSN of the frame that starts there and the
//! checksum it chains to. The writer remembers the boundary after each group it writes
//! ([`LogMarks`]); a checkpoint records the one at or before its LSN in the durable mark
//! (`store::durable`), and recovery starts its scan of that segment there when the frame at
//! the offset decodes with that LSN and that chain checksum (anything else: the hint is ignored
//! and the segment is read from its start, as without one). Frames before the hint are then not
//! read at open; `Db::verify` and `folio verify` still check the whole log.

use parking_lot::Mutex;
use std::collections::VecDeque;

/// A frame boundary in the log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LogPosition {
    /// The segment, by the first LSN in its name.
    pub segment_lsn: u64,
    /// Byte offset in the segment where the frame `next_lsn` starts (or will start: the
    /// segment's end when no frame follows yet).
    pub offset: u64,
    /// The LSN of the frame at `offset`.
    pub next_lsn: u64,
    /// The checksum that frame chains to (that of the frame before it).
    pub prev_crc: u32,
}

/// How many group ends the writer remembers: a checkpoint asks for a boundary at or before an
/// LSN it has just seen applied, a few groups back at most.
const KEPT: usize = 1024;

/// The boundaries after the writer's last groups, oldest first (shared by the committer, which
/// records them, and the checkpointer, which looks one up).
#[derive(Debug, Default)]
pub struct LogMarks {
    kept: Mutex<VecDeque<LogPosition>>,
}

impl LogMarks {
    /// Remembers a boundary (LSNs only grow; the oldest is forgotten past [`KEPT`]).
    pub fn record(&self, at: LogPosition) {
        let mut kept = self.kept.lock();
        if kept.back().is_some_and(|last| last.next_lsn > at.next_lsn) {
            // A writer never goes back; should it, older boundaries no longer describe the log.
            kept.clear();
        }
        if kept.len() == KEPT {
            kept.pop_front();
        }
        kept.push_back(at);
    }

    /// The latest boundary whose frame comes at or before LSN `lsn + 1`: where a scan that
    /// must hand over every frame after `lsn` can start. `None` when every remembered boundary
    /// is later.
    pub fn at_or_before(&self, lsn: u64) -> Option<LogPosition> {
        let kept = self.kept.lock();
        let after = kept.partition_point(|p| p.next_lsn <= lsn.saturating_add(1));
        after.checked_sub(1).and_then(|i| kept.get(i).copied())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(next_lsn: u64) -> LogPosition {
        LogPosition {
            segment_lsn: 1,
            offset: next_lsn * 100,
            next_lsn,
            prev_crc: next_lsn as u32,
        }
    }

    #[test]
    fn the_boundary_at_or_before_an_lsn_is_the_latest_not_after_its_successor() {
        let marks = LogMarks::default();
        assert_eq!(marks.at_or_before(10), None);
        for lsn in [5, 9, 12, 20] {
            marks.record(at(lsn));
        }
        assert_eq!(marks.at_or_before(3), None, "every boundary is later");
        assert_eq!(marks.at_or_before(4), Some(at(5)), "frame 5 follows LSN 4");
        assert_eq!(marks.at_or_before(10), Some(at(9)));
        assert_eq!(marks.at_or_before(11), Some(at(12)));
        assert_eq!(marks.at_or_before(1_000), Some(at(20)));
    }

    #[test]
    fn only_the_last_groups_are_kept_and_a_step_back_forgets_the_rest() {
        let marks = LogMarks::default();
        for lsn in 1..=(KEPT as u64 + 10) {
            marks.record(at(lsn));
        }
        assert_eq!(marks.at_or_before(5), None, "forgotten");
        assert_eq!(marks.at_or_before(100), Some(at(101)));
        marks.record(at(50));
        assert_eq!(marks.at_or_before(100), Some(at(50)));
        assert_eq!(marks.at_or_before(20), None);
    }
}
