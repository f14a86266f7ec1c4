//! Replaying log frames into the state, in one place for every caller: opening (the frames
//! recovery reads after the checkpoint), a replica directory (frames shipped from its primary)
//! and an in-process replica (frames it reads from its primary's log). A frame's payload is
//! decoded, its operation count checked against the frame header, and the batch applied; each
//! failure is corruption naming the frame's file and offset.

use super::apply::Side;
use super::{Applier, State};
use crate::codec::record::{self, LogBatch, LogOp};
use crate::error::{CorruptionKind, Error, Result};
use crate::limits::PARALLEL_APPLY_OPS;
use crate::model::Lsn;
use crate::wal::{LogFrame, ShippedFrame};

/// Frames decoded and checked, ready to apply: each batch with its frame's LSN.
pub type Decoded = Vec<(Lsn, LogBatch)>;

/// Decodes a frame's payload and checks its operation count against the frame header.
pub fn decode(frame: &LogFrame<'_>) -> Result<LogBatch> {
    let corrupt = |kind| Error::corruption(frame.file, frame.offset, kind);
    let batch = record::decode(frame.payload, frame.op_count)
        .map_err(|e| corrupt(CorruptionKind::InvalidArchive(e)))?;
    if batch.ops.len() != record::op_count(frame.op_count) as usize {
        return Err(corrupt(CorruptionKind::InvalidValue(
            "operation count differs from header".into(),
        )));
    }
    Ok(batch)
}

/// Decodes, checks and applies one frame (opening's replay, one frame at a time).
#[cfg(feature = "internals")]
pub fn apply_frame(state: &mut State, applier: &mut Applier, frame: &LogFrame<'_>) -> Result<()> {
    apply_batch(state, applier, frame, &decode(frame)?)
}

/// Applies a frame's batch, decoded and checked by [`decode`].
pub fn apply_batch(
    state: &mut State,
    applier: &mut Applier,
    frame: &LogFrame<'_>,
    batch: &LogBatch,
) -> Result<()> {
    let lsn = Lsn(frame.lsn);
    state
        .apply(lsn, &batch.ops, applier)
        .map_err(|e| Error::corruption(frame.file, frame.offset, CorruptionKind::InconsistentOp(e)))?;
    debug_assert_eq!(state.lsn, lsn, "the state stands at the frame it applied");
    Ok(())
}

/// Decodes and checks consecutive frames. Nothing is applied: a bad frame anywhere leaves the
/// caller's state untouched.
pub fn decode_frames(frames: &[ShippedFrame]) -> Result<Decoded> {
    debug_assert!(
        frames.windows(2).all(|w| w[1].lsn.0 == w[0].lsn.0 + 1),
        "frames to replay are consecutive"
    );
    frames
        .iter()
        .map(|f| Ok((f.lsn, decode(&f.frame())?)))
        .collect()
}

/// Applies decoded batches as one group (on two threads when it is large); `at` names the first
/// frame for errors.
pub fn apply_decoded(
    state: &mut State,
    side: Side<'_>,
    batches: &[(Lsn, LogBatch)],
    at: &ShippedFrame,
) -> Result<()> {
    debug_assert!(batches.first().is_none_or(|b| b.0 == at.lsn));
    let refs: Vec<(Lsn, &[LogOp])> = batches
        .iter()
        .map(|(lsn, b)| (*lsn, b.ops.as_slice()))
        .collect();
    let ops: usize = refs.iter().map(|r| r.1.len()).sum();
    state
        .apply_group_with(&refs, ops >= PARALLEL_APPLY_OPS, side)
        .map_err(|e| Error::corruption(&at.file, at.offset, CorruptionKind::InconsistentOp(e)))?;
    debug_assert!(
        batches.last().is_none_or(|b| b.0 == state.lsn),
        "the state stands at the last frame it applied"
    );
    Ok(())
}
