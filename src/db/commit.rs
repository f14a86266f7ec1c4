//! The committer thread: group commit. It takes every batch waiting in the queue, validates them
//! in order, writes their frames with one write and one fsync, applies them to the state under
//! one write lock, publishes the new LSN and answers the callers.

use super::Shared;
use crate::codec::record::{self, LogBatch};
use crate::codec::frame::frame_crc;
use crate::error::{BatchError, CorruptionKind, Error, ReplicaError, Result};
use crate::limits::{MAX_GROUP_BATCHES, MAX_GROUP_OPS};
use crate::model::{Batch, Lsn};
use crate::state::apply::Side;
use crate::state::replay;
use crate::state::validate::Validator;
use crate::wal::{LogWriter, ShippedFrame};
use crossbeam::channel::{Receiver, Sender};
use std::sync::atomic::Ordering;
use std::sync::Arc;

pub type Reply = Sender<Result<Lsn>>;
/// The answer to a batch: a rejection names the operation at fault.
pub type RecordReply = Sender<Result<Lsn, BatchError>>;

/// Either kind of reply, for the replies a group answers together.
enum Answer {
    Plain(Reply),
    Record(RecordReply),
}

impl Answer {
    fn send(self, result: Result<Lsn>) {
        // A caller that stopped waiting is no error of the committer's.
        let _ = match self {
            Answer::Plain(reply) => reply.send(result).is_ok(),
            Answer::Record(reply) => reply.send(result.map_err(BatchError::from)).is_ok(),
        };
    }
}

use crate::limits::PARALLEL_APPLY_OPS;

pub enum Command {
    Record(Batch, RecordReply),
    /// Create or drop a secondary index.
    Index(crate::codec::record::IndexRecord, Reply),
    /// Make everything written so far durable.
    Sync(Reply),
    /// Append and apply frames read from the primary's log (replica directories only).
    Replicate(Vec<ShippedFrame>, Reply),
    Shutdown,
}

struct Staged {
    reply: Answer,
    lsn: Lsn,
    batch: LogBatch,
}

pub fn run(shared: Arc<Shared>, rx: Receiver<Command>, mut writer: LogWriter, sync_each: bool) {
    let mut shutting_down = false;
    while !shutting_down {
        let Ok(first) = rx.recv() else { break };
        // Replicas under flow control get to catch up first; batches queue meanwhile and join
        // this group.
        shared.progress.throttle();
        let mut group = vec![first];
        let mut ops = 0usize;
        while group.len() < MAX_GROUP_BATCHES && ops < MAX_GROUP_OPS {
            match rx.try_recv() {
                Ok(cmd) => {
                    if let Command::Record(b, _) = &cmd {
                        ops += b.len();
                    }
                    group.push(cmd);
                }
                Err(_) => break,
            }
        }
        shutting_down = group.iter().any(|c| matches!(c, Command::Shutdown));
        let (shipped, group): (Vec<Command>, Vec<Command>) = group
            .into_iter()
            .partition(|c| matches!(c, Command::Replicate(..)));
        for cmd in shipped {
            if let Command::Replicate(frames, reply) = cmd {
                let done = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    replicate(&shared, &mut writer, frames, sync_each)
                }));
                let _ = reply.send(done.unwrap_or_else(|_| {
                    shared.poison("the committer panicked; reopen the database".into());
                    Err(Error::Poisoned("the committer panicked".into()))
                }));
            }
        }
        let committed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            commit_group(&shared, &mut writer, group, sync_each)
        }));
        if committed.is_err() {
            // A bug: the state may hold part of a group. Refuse everything until reopened (the
            // log, not the state, decides what is committed).
            shared.poison("the committer panicked; reopen the database".into());
        }
    }
    // Whatever was written becomes durable before the thread ends.
    if shared.poison_reason().is_none() {
        match writer.sync() {
            Ok(()) => synced(&shared, &writer),
            Err(e) => shared.poison(format!("fsync at shutdown: {e}")),
        }
    }
    // A checkpoint waiting for a sync this thread will never read gives up now.
    shared.committer_done.store(true, Ordering::Release);
}

/// Records that everything the writer has written is fsynced (what a checkpoint may cover).
fn synced(shared: &Shared, writer: &LogWriter) {
    shared
        .synced
        .fetch_max(writer.next_lsn() - 1, Ordering::Release);
}

/// Encodes an accepted batch into the writer's staging buffer (its frame gets the next LSN).
fn stage(writer: &mut LogWriter, staged: &mut Vec<Staged>, reply: Answer, batch: LogBatch) {
    match record::encode(&batch) {
        Ok(encoded) => {
            // The frame header's operation count is the batch's (replay checks them against
            // each other), and frames get consecutive LSNs (replay requires them in order).
            debug_assert!(batch.ops.len() <= crate::limits::MAX_BATCH_OPS);
            let lsn = Lsn(writer.stage(&encoded.payload, encoded.op_field));
            debug_assert!(staged.last().is_none_or(|s| s.lsn.0 + 1 == lsn.0));
            staged.push(Staged { reply, lsn, batch });
        }
        Err(e) => {
            reply.send(Err(Error::InvalidArgument(format!(
                "cannot encode batch: {e}"
            ))));
        }
    }
}

/// One group commit: validate and encode the group's batches, write them with one write (and
/// one fsync unless the durability says otherwise), apply them under one hold of the write lock,
/// publish, answer.
fn commit_group(shared: &Shared, writer: &mut LogWriter, group: Vec<Command>, sync_each: bool) {
    if let Some(reason) = shared.poison_reason() {
        refuse_all(group, &reason);
        return;
    }
    // The orgs the batches name, loaded from the store if the open has not loaded them yet.
    if let Err(e) = shared.ensure_for(&group) {
        shared.poison(format!("loading orgs from the store failed: {e}"));
        refuse_all(group, &shared.poison_reason().unwrap_or_default());
        return;
    }
    let Validated {
        staged,
        waiting,
        must_sync,
    } = validate(shared, writer, group, sync_each);
    if let Err(e) = writer.write_staged(must_sync) {
        let reason = write_failed(shared, writer, e);
        for reply in staged.into_iter().map(|s| s.reply).chain(waiting) {
            reply.send(Err(Error::Poisoned(reason.clone())));
        }
        return;
    }
    if must_sync {
        synced(shared, writer);
    }
    if let Some(last) = staged.last() {
        // Durable now: in-process replicas may start on these frames while they are applied here.
        shared.progress.durable(last.lsn.0);
    }
    let (applied_ops, visible) = apply(shared, writer, &staged);
    if applied_ops > 0 {
        shared.progress.publish(visible.0);
    }
    let result_for = |lsn: Lsn| match shared.poison_reason() {
        Some(reason) => Err(Error::Poisoned(reason)),
        None => Ok(lsn),
    };
    for s in staged {
        s.reply.send(result_for(s.lsn));
    }
    for reply in waiting {
        reply.send(result_for(visible));
    }
    if applied_ops > 0 {
        count_applied(shared, applied_ops);
    }
}

/// Answers every command of a group of a poisoned database with the reason.
fn refuse_all(group: Vec<Command>, reason: &str) {
    for cmd in group {
        let answer = match cmd {
            Command::Record(_, reply) => Answer::Record(reply),
            Command::Index(_, reply) | Command::Sync(reply) | Command::Replicate(_, reply) => {
                Answer::Plain(reply)
            }
            Command::Shutdown => continue,
        };
        answer.send(Err(Error::Poisoned(reason.to_string())));
    }
}

/// A group after validation: the accepted batches, staged in the writer with their LSNs; the
/// callers answered when the group is visible (syncs, batches that change nothing); whether the
/// group's write must be synced.
struct Validated {
    staged: Vec<Staged>,
    waiting: Vec<Answer>,
    must_sync: bool,
}

/// Validates the group's batches in order, each against the state and the group's earlier
/// batches (under the read lock), answers the rejected ones at once and stages the others.
fn validate(
    shared: &Shared,
    writer: &mut LogWriter,
    group: Vec<Command>,
    sync_each: bool,
) -> Validated {
    let mut out = Validated {
        staged: Vec::new(),
        waiting: Vec::new(),
        must_sync: sync_each,
    };
    let current = shared.state.read();
    let mut validator = Validator::new(&current.state, &current.applier.entries);
    for cmd in group {
        match cmd {
            Command::Record(batch, reply) => match validator.batch(&batch) {
                Err(error) => {
                    let _ = reply.send(Err(error));
                }
                Ok(log_batch) if log_batch.ops.is_empty() => {
                    out.waiting.push(Answer::Record(reply))
                }
                Ok(log_batch) => stage(writer, &mut out.staged, Answer::Record(reply), log_batch),
            },
            Command::Index(record, reply) => match validator.index(&record) {
                Err(rejection) => {
                    let _ = reply.send(Err(Error::Rejected(rejection)));
                }
                Ok(log_batch) => stage(writer, &mut out.staged, Answer::Plain(reply), log_batch),
            },
            Command::Sync(reply) => {
                out.must_sync = true;
                out.waiting.push(Answer::Plain(reply));
            }
            Command::Shutdown => out.must_sync = true,
            Command::Replicate(_, reply) => out.waiting.push(Answer::Plain(reply)),
        }
    }
    out
}

/// Applies the written batches under one hold of the write lock; returns the operations applied
/// and the visible LSN after them. An apply error poisons the database.
fn apply(shared: &Shared, writer: &LogWriter, staged: &[Staged]) -> (u64, Lsn) {
    let mut current = shared.state.write();
    let super::Current { state, applier, .. } = &mut *current;
    let state = Arc::make_mut(state);
    let batches: Vec<(Lsn, &[crate::codec::record::LogOp])> = staged
        .iter()
        .map(|s| (s.lsn, s.batch.ops.as_slice()))
        .collect();
    let applied_ops = batches.iter().map(|b| b.1.len() as u64).sum();
    // Large groups apply on a second thread (small ones are not worth the spawn), unless
    // in-process replicas need the cores (`Progress::primary_may_split`).
    let parallel = applied_ops >= PARALLEL_APPLY_OPS as u64 && shared.progress.primary_may_split();
    if let Err(why) = state.apply_group(&batches, parallel, applier) {
        // Validation rules this out; if it happens the state can no longer be trusted.
        shared.poison(format!("apply of LSNs up to {} failed: {why}", state.lsn));
    } else {
        debug_assert!(
            staged.last().is_none_or(|s| s.lsn == state.lsn),
            "the state stands at the last frame written"
        );
    }
    current.log_crc = writer.last_crc();
    shared
        .pressure
        .set_rows(current.applier.entries.len() as u64);
    (applied_ops, current.state.lsn)
}

/// A failed log write or fsync poisons the database (never retried); returns the reason.
fn write_failed(shared: &Shared, writer: &LogWriter, e: std::io::Error) -> String {
    let reason = format!(
        "log write or fsync failed on {}: {e}",
        writer.segment_path().display()
    );
    shared.poison(reason.clone());
    reason
}

/// Counts operations applied since the last checkpoint; wakes the checkpointer once there are
/// enough.
fn count_applied(shared: &Shared, ops: u64) {
    let total = shared
        .ops_since_checkpoint
        .fetch_add(ops, Ordering::Relaxed)
        + ops;
    if total >= shared.checkpoint_every_ops {
        let _ = shared.checkpoint_wake.try_send(());
    }
}

/// Appends frames shipped from the primary's log to this replica's log (same LSNs, same bytes,
/// so the same checksum chain), makes them durable, then applies them. Frames the replica already
/// has are skipped once the chain proves they are the same; anything that does not continue the
/// replica's log is refused before a byte is written.
fn replicate(
    shared: &Shared,
    writer: &mut LogWriter,
    frames: Vec<ShippedFrame>,
    sync_each: bool,
) -> Result<Lsn> {
    if let Some(reason) = shared.poison_reason() {
        return Err(Error::Poisoned(reason));
    }
    // Shipped frames apply to whatever orgs they touch: every org is loaded first.
    shared.ensure(crate::query::Scope::All)?;
    let (frames, decoded) = continuation(writer, frames)?;
    let Some(first) = frames.first() else {
        return Ok(Lsn(writer.next_lsn() - 1));
    };
    for f in &frames {
        // A replica's log continues the primary's: same LSNs, same bytes, same chain.
        let lsn = writer.stage(&f.payload, f.op_count);
        debug_assert!(lsn == f.lsn.0 && writer.last_crc() == f.crc);
    }
    if let Err(e) = writer.write_staged(sync_each) {
        return Err(Error::Poisoned(write_failed(shared, writer, e)));
    }
    if sync_each {
        synced(shared, writer);
    }
    let ops: u64 = frames
        .iter()
        .map(|f| u64::from(record::op_count(f.op_count)))
        .sum();
    let lsn = {
        let mut current = shared.state.write();
        let super::Current { state, applier, .. } = &mut *current;
        let side = Side::Full(applier);
        if let Err(e) = replay::apply_decoded(Arc::make_mut(state), side, &decoded, first) {
            shared.poison(format!("replica apply failed: {e}"));
            return Err(e);
        }
        current.log_crc = writer.last_crc();
        current.state.lsn
    };
    shared.progress.publish(lsn.0);
    count_applied(shared, ops);
    Ok(lsn)
}

/// The shipped frames this replica's log lacks, each checked to continue it (the next LSN, the
/// same checksum chain) and decoded; none when it has them all. A frame it has already is
/// checked at the junction: its checksum must be the one the replica's log ends with.
fn continuation(
    writer: &LogWriter,
    frames: Vec<ShippedFrame>,
) -> Result<(Vec<ShippedFrame>, replay::Decoded)> {
    let next = writer.next_lsn();
    if let Some(junction) = frames.iter().find(|f| f.lsn.0.checked_add(1) == Some(next)) {
        if junction.crc != writer.last_crc() {
            return Err(ReplicaError::Diverged {
                file: junction.file.clone(),
                lsn: junction.lsn,
            }
            .into());
        }
    }
    let frames: Vec<_> = frames.into_iter().filter(|f| f.lsn.0 >= next).collect();
    let mut chain = writer.last_crc();
    let mut decoded = Vec::with_capacity(frames.len());
    for (i, f) in frames.iter().enumerate() {
        if f.lsn.0 != next + i as u64 {
            return Err(ReplicaError::Gap {
                file: f.file.clone(),
                expected: Lsn(next + i as u64),
                found: f.lsn,
            }
            .into());
        }
        if f.prev_crc != chain {
            return Err(ReplicaError::Diverged {
                file: f.file.clone(),
                lsn: f.lsn,
            }
            .into());
        }
        // The checksum it carries must be the one its bytes give: a frame whose checksum does
        // not match is damaged, and taking its word for the chain would fork this log.
        let Some(actual) = frame_crc(f.lsn.0, f.prev_crc, f.op_count, &f.payload) else {
            let kind = CorruptionKind::BadLength(f.payload.len() as u64);
            return Err(Error::corruption(&f.file, f.offset, kind));
        };
        if actual != f.crc {
            let kind = CorruptionKind::ChecksumMismatch {
                expected: f.crc,
                actual,
            };
            return Err(Error::corruption(&f.file, f.offset, kind));
        }
        chain = f.crc;
        decoded.push((f.lsn, replay::decode(&f.frame())?));
    }
    Ok((frames, decoded))
}
