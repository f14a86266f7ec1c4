//! Following a log directory while its writer appends: complete frames only, every checksum and
//! LSN checked, the checksum chain continued from the follower's own position.
//!
//! Reads use positioned reads (`pread`, [`ReadFile`]), not maps, because the followed files keep
//! growing and may belong to another process. Every file operation goes through a [`Vfs`]: the
//! database's own for its replicas, the real file system for the public functions.

use crate::codec::frame::{decode_frame, frame_len};
use crate::error::{CorruptionKind, Error, ReplicaError, Result};
use crate::wal::recovery::{frame_error_kind, list_segments, LogFrame};
use crate::wal::segment::{HeaderError, SegmentHeader, SEGMENT_HEADER_BYTES};
use crate::io::{ReadFile, StdFs, Vfs};
use crate::model::Lsn;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// One committed frame as read from a log: what a replica applies and appends to its own log.
#[derive(Clone, Debug)]
pub struct ShippedFrame {
    /// The frame's LSN.
    pub lsn: Lsn,
    /// The frame's checksum (CRC32), which the next frame's `prev_crc` repeats.
    pub crc: u32,
    /// The checksum of the frame before it: the chain a replica checks against its own log.
    pub prev_crc: u32,
    /// Operations in the frame's batch.
    pub op_count: u32,
    /// The encoded batch, as written in the log.
    pub payload: Vec<u8>,
    /// The segment file the frame was read from (named in errors).
    pub file: PathBuf,
    /// Byte offset of the frame in `file`.
    pub offset: u64,
}

impl ShippedFrame {
    /// The frame as replay reads it.
    pub fn frame(&self) -> LogFrame<'_> {
        LogFrame {
            lsn: self.lsn.0,
            op_count: self.op_count,
            payload: &self.payload,
            file: &self.file,
            offset: self.offset,
        }
    }
}

struct Active {
    path: PathBuf,
    file: Box<dyn ReadFile>,
    /// Bytes of the segment consumed so far.
    offset: u64,
    /// Next LSN and chain checksum inside this segment (may trail the follower's position while
    /// frames it already has are skipped).
    cursor_lsn: u64,
    cursor_crc: u32,
    /// Bytes read from the segment; `pending[head..]` are not consumed yet (`offset` is the
    /// segment offset of `pending[head]`). Consumed bytes are dropped in bulk, not per poll, so a
    /// replica catching up on a long segment does not move the unread rest again and again.
    pending: Vec<u8>,
    head: usize,
}

impl Active {
    /// Read but not consumed.
    fn unread(&self) -> &[u8] {
        &self.pending[self.head..]
    }

    /// Reads what was appended to the segment since the last read.
    fn read_appended(&mut self) -> Result<()> {
        let len = self.file.size().map_err(|e| Error::io(&self.path, e))?;
        let have = self.offset + self.unread().len() as u64;
        if len > have {
            let start = self.pending.len();
            self.pending.resize(start + (len - have) as usize, 0);
            if let Err(e) = self.file.read_exact_at(&mut self.pending[start..], have) {
                self.pending.truncate(start);
                return Err(Error::io(&self.path, e));
            }
        }
        Ok(())
    }
}

/// Reads the frames after a position from a log directory, as they become complete.
pub struct LogFollower {
    vfs: Arc<dyn Vfs>,
    dir: PathBuf,
    db_id: u64,
    next_lsn: u64,
    prev_crc: u32,
    active: Option<Active>,
}

impl LogFollower {
    /// A follower of the log in `dir` (read through `vfs`) positioned after the frame `applied`
    /// whose checksum is `applied_crc`.
    pub fn new(
        vfs: Arc<dyn Vfs>,
        dir: &Path,
        db_id: u64,
        applied: u64,
        applied_crc: u32,
    ) -> LogFollower {
        LogFollower {
            vfs,
            dir: dir.to_path_buf(),
            db_id,
            next_lsn: applied + 1,
            prev_crc: applied_crc,
            active: None,
        }
    }

    /// The next LSN this follower expects.
    pub fn next_lsn(&self) -> u64 {
        self.next_lsn
    }

    /// Complete frames available now, up to about `max_bytes` of payload. Empty when the source
    /// has nothing new; an error when the source is unreachable (I/O) or does not continue the
    /// follower's log (typed [`ReplicaError`] or corruption with file and offset).
    pub fn poll(&mut self, max_bytes: usize) -> Result<Vec<ShippedFrame>> {
        self.poll_until(max_bytes, u64::MAX)
    }

    /// [`LogFollower::poll`], stopping after the frame `last` (frames after it stay unread): an
    /// in-process replica applies only what its primary has made durable.
    pub fn poll_until(&mut self, max_bytes: usize, last: u64) -> Result<Vec<ShippedFrame>> {
        let mut out = Vec::new();
        let mut bytes = 0usize;
        loop {
            if self.next_lsn > last {
                return Ok(out);
            }
            if self.active.is_none() && !self.open_segment()? {
                return Ok(out);
            }
            let progressed = self.read_active(&mut out, &mut bytes, max_bytes, last)?;
            if bytes >= max_bytes || self.next_lsn > last {
                return Ok(out);
            }
            if !progressed {
                // Nothing more in this segment: move on only when a successor exists.
                if !self.successor_exists()? {
                    let active = self.active.as_ref().expect("active segment");
                    if active.cursor_lsn < self.next_lsn && active.unread().is_empty() {
                        // The source ends before what this follower already has.
                        return Err(ReplicaError::AheadOfSource {
                            asked: Lsn(self.next_lsn - 1),
                            source_lsn: Lsn(active.cursor_lsn - 1),
                        }
                        .into());
                    }
                    return Ok(out);
                }
                let active = self.active.take().expect("active segment");
                if !active.unread().is_empty() {
                    return Err(Error::corruption(
                        &active.path,
                        active.offset,
                        CorruptionKind::BadLength(active.unread().len() as u64),
                    ));
                }
            }
        }
    }

    fn successor_exists(&self) -> Result<bool> {
        let segments = list_segments(&*self.vfs, &self.dir)?;
        Ok(segments.iter().any(|(first, _)| *first == self.next_lsn))
    }

    /// Opens the segment holding `next_lsn`; false when the log has no such segment yet.
    fn open_segment(&mut self) -> Result<bool> {
        let segments = list_segments(&*self.vfs, &self.dir)?;
        let Some((first, path)) = segments
            .iter()
            .rev()
            .find(|(first, _)| *first <= self.next_lsn)
            .cloned()
        else {
            if let Some((first, path)) = segments.first() {
                return Err(ReplicaError::Gap {
                    file: path.clone(),
                    expected: Lsn(self.next_lsn),
                    found: Lsn(*first),
                }
                .into());
            }
            return Ok(false);
        };
        let file = self.vfs.open_read(&path).map_err(|e| Error::io(&path, e))?;
        let Some(header) = header_of(&*file, &path)? else {
            return Ok(false); // being created
        };
        if header.db_id != self.db_id {
            return Err(ReplicaError::ForeignLog {
                file: path,
                expected: self.db_id,
                found: header.db_id,
            }
            .into());
        }
        if header.first_lsn != first {
            let kind = CorruptionKind::LsnGap {
                expected: Lsn(first),
                found: Lsn(header.first_lsn),
            };
            return Err(Error::corruption(&path, 24, kind));
        }
        if header.first_lsn == self.next_lsn && header.prev_crc != self.prev_crc {
            return Err(ReplicaError::Diverged {
                file: path,
                lsn: Lsn(self.next_lsn),
            }
            .into());
        }
        self.active = Some(Active {
            path,
            file,
            offset: SEGMENT_HEADER_BYTES as u64,
            cursor_lsn: header.first_lsn,
            cursor_crc: header.prev_crc,
            pending: Vec::new(),
            head: 0,
        });
        Ok(true)
    }

    /// Reads what was appended to the active segment; true when a frame was consumed.
    fn read_active(
        &mut self,
        out: &mut Vec<ShippedFrame>,
        bytes: &mut usize,
        max_bytes: usize,
        last: u64,
    ) -> Result<bool> {
        let active = self.active.as_mut().expect("active segment");
        active.read_appended()?;
        let mut consumed = 0usize;
        let mut progressed = false;
        while *bytes < max_bytes {
            let Ok((h, payload)) = decode_frame(&active.pending[active.head + consumed..]) else {
                break; // incomplete (being written) or not yet valid: look again later
            };
            if h.lsn > last && h.lsn >= self.next_lsn {
                break; // not to be read yet
            }
            let offset = active.offset + consumed as u64;
            if h.lsn != active.cursor_lsn {
                let kind = CorruptionKind::LsnGap {
                    expected: Lsn(active.cursor_lsn),
                    found: Lsn(h.lsn),
                };
                return Err(Error::corruption(&active.path, offset, kind));
            }
            if h.prev_crc != active.cursor_crc {
                return Err(Error::corruption(
                    &active.path,
                    offset,
                    CorruptionKind::ChainBroken,
                ));
            }
            if h.lsn + 1 == self.next_lsn && h.crc != self.prev_crc {
                // The source's frame at our last LSN is not the one we applied.
                return Err(ReplicaError::Diverged {
                    file: active.path.clone(),
                    lsn: Lsn(h.lsn),
                }
                .into());
            }
            if h.lsn >= self.next_lsn {
                out.push(ShippedFrame {
                    lsn: Lsn(h.lsn),
                    crc: h.crc,
                    prev_crc: h.prev_crc,
                    op_count: h.op_count,
                    payload: payload.to_vec(),
                    file: active.path.clone(),
                    offset,
                });
                *bytes += payload.len();
                self.next_lsn = h.lsn + 1;
                self.prev_crc = h.crc;
            }
            active.cursor_lsn = h.lsn + 1;
            active.cursor_crc = h.crc;
            consumed += frame_len(payload.len());
            progressed = true;
        }
        active.head += consumed;
        active.offset += consumed as u64;
        if active.head * 2 >= active.pending.len() {
            active.pending.drain(..active.head);
            active.head = 0;
        }
        Ok(progressed)
    }
}

/// The header of a segment opened for reading; `None` while the segment is being created (its
/// header not all written yet).
fn header_of(file: &dyn ReadFile, path: &Path) -> Result<Option<SegmentHeader>> {
    let len = file.size().map_err(|e| Error::io(path, e))?;
    if len < SEGMENT_HEADER_BYTES as u64 {
        return Ok(None);
    }
    let mut raw = [0u8; SEGMENT_HEADER_BYTES];
    file.read_exact_at(&mut raw, 0)
        .map_err(|e| Error::io(path, e))?;
    match SegmentHeader::decode(&raw) {
        Ok(h) => h.check_version(path).map(|()| Some(h)),
        Err(HeaderError::BadMagic) => Err(Error::corruption(path, 0, CorruptionKind::BadMagic)),
        Err(HeaderError::Truncated) => Ok(None),
        Err(HeaderError::ChecksumMismatch { expected, actual }) => Err(Error::corruption(
            path,
            12,
            CorruptionKind::ChecksumMismatch { expected, actual },
        )),
    }
}

/// Reads whole shipped segment files: every frame checked, segments ordered by first LSN and
/// required to continue each other without gap or overlap. Nothing is returned unless all are
/// valid.
///
/// # Errors
/// - [`Error::Io`] when a file cannot be read.
/// - [`Error::Corruption`] for a damaged segment header or frame, an LSN out of sequence or a
///   broken checksum chain, within a file or between two.
/// - [`Error::Replica`]: [`ReplicaError::ForeignLog`] for a segment of another database,
///   [`ReplicaError::Overlap`] or [`ReplicaError::Gap`] for segments that do not continue each
///   other.
pub fn read_segments(paths: &[PathBuf], db_id: u64) -> Result<Vec<ShippedFrame>> {
    read_segments_in(&StdFs, paths, db_id)
}

/// [`read_segments`] through `vfs`.
pub(crate) fn read_segments_in(
    vfs: &dyn Vfs,
    paths: &[PathBuf],
    db_id: u64,
) -> Result<Vec<ShippedFrame>> {
    let mut segments = Vec::new();
    for path in paths {
        let (header, frames) = read_segment(vfs, path, db_id)?;
        segments.push((header.first_lsn, path.clone(), frames));
    }
    segments.sort_by_key(|s| s.0);
    let mut out: Vec<ShippedFrame> = Vec::new();
    for (first, path, frames) in segments {
        if let Some(last) = out.last() {
            if first <= last.lsn.0 {
                return Err(ReplicaError::Overlap {
                    file: path,
                    lsn: Lsn(first),
                }
                .into());
            }
            if first != last.lsn.0 + 1 {
                return Err(ReplicaError::Gap {
                    file: path,
                    expected: Lsn(last.lsn.0 + 1),
                    found: Lsn(first),
                }
                .into());
            }
            if frames.first().is_some_and(|f| f.prev_crc != last.crc) {
                return Err(Error::corruption(&path, 32, CorruptionKind::ChainBroken));
            }
        }
        out.extend(frames);
    }
    Ok(out)
}

/// Reads one whole segment file of database `db_id`: its header and every frame, checksums, LSNs
/// and the chain checked from the header on.
fn read_segment(
    vfs: &dyn Vfs,
    path: &Path,
    db_id: u64,
) -> Result<(SegmentHeader, Vec<ShippedFrame>)> {
    let bytes = vfs.read_file(path).map_err(|e| Error::io(path, e))?;
    let header = match SegmentHeader::decode(&bytes) {
        Ok(h) => h,
        Err(HeaderError::BadMagic) => {
            return Err(Error::corruption(path, 0, CorruptionKind::BadMagic))
        }
        Err(HeaderError::Truncated) => {
            return Err(Error::corruption(
                path,
                0,
                CorruptionKind::BadLength(bytes.len() as u64),
            ))
        }
        Err(HeaderError::ChecksumMismatch { expected, actual }) => {
            return Err(Error::corruption(
                path,
                12,
                CorruptionKind::ChecksumMismatch { expected, actual },
            ))
        }
    };
    header.check_version(path)?;
    if header.db_id != db_id {
        return Err(ReplicaError::ForeignLog {
            file: path.to_path_buf(),
            expected: db_id,
            found: header.db_id,
        }
        .into());
    }
    let mut frames = Vec::new();
    let mut offset = SEGMENT_HEADER_BYTES;
    let (mut lsn, mut crc) = (header.first_lsn, header.prev_crc);
    while offset < bytes.len() {
        let (h, payload) = decode_frame(&bytes[offset..])
            .map_err(|e| Error::corruption(path, offset as u64, frame_error_kind(e)))?;
        if h.lsn != lsn {
            let kind = CorruptionKind::LsnGap {
                expected: Lsn(lsn),
                found: Lsn(h.lsn),
            };
            return Err(Error::corruption(path, offset as u64, kind));
        }
        if h.prev_crc != crc {
            return Err(Error::corruption(
                path,
                offset as u64,
                CorruptionKind::ChainBroken,
            ));
        }
        frames.push(ShippedFrame {
            lsn: Lsn(h.lsn),
            crc: h.crc,
            prev_crc: h.prev_crc,
            op_count: h.op_count,
            payload: payload.to_vec(),
            file: path.to_path_buf(),
            offset: offset as u64,
        });
        lsn += 1;
        crc = h.crc;
        offset += frame_len(payload.len());
    }
    Ok((header, frames))
}

/// LSN of the last complete frame in a log directory (0 when empty), every frame checked.
fn source_end(vfs: &Arc<dyn Vfs>, dir: &Path, db_id: u64) -> Result<u64> {
    let segments = list_segments(&**vfs, dir)?;
    let Some((first, _)) = segments.first() else {
        return Ok(0);
    };
    let mut follower = LogFollower {
        vfs: vfs.clone(),
        dir: dir.to_path_buf(),
        db_id,
        next_lsn: *first,
        prev_crc: 0,
        active: None,
    };
    // Start at the first segment's own chain value: read its header's prev_crc.
    let path = &segments[0].1;
    let mut raw = [0u8; SEGMENT_HEADER_BYTES];
    let file = vfs.open_read(path).map_err(|e| Error::io(path, e))?;
    file.read_exact_at(&mut raw, 0)
        .map_err(|e| Error::io(path, e))?;
    follower.prev_crc = SegmentHeader::decode(&raw)
        .map_err(|_| Error::corruption(path, 0, CorruptionKind::BadMagic))?
        .prev_crc;
    loop {
        if follower.poll(64 << 20)?.is_empty() {
            return Ok(follower.next_lsn - 1);
        }
    }
}

/// Where a replica stands against the log it follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyncState {
    /// The source's last frame is the replica's last frame.
    CaughtUp,
    /// The source has frames after the replica's last one (and continues its chain).
    Behind,
    /// The replica has applied past the source's end (e.g. pointed at an older copy of the log).
    Ahead,
    /// The source is another database, or its frame at the replica's LSN is not the one the
    /// replica applied (the checksum chains differ): following it would be refused.
    Diverged,
}

impl SyncState {
    /// The state's name in status output: `caught_up`, `behind`, `ahead` or `diverged`.
    pub fn as_str(self) -> &'static str {
        match self {
            SyncState::CaughtUp => "caught_up",
            SyncState::Behind => "behind",
            SyncState::Ahead => "ahead",
            SyncState::Diverged => "diverged",
        }
    }
}

/// A replica compared with a source log: [`sync_status`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncStatus {
    /// Where the replica stands.
    pub state: SyncState,
    /// The source's last LSN (`None` when the source is another database's log).
    pub source_lsn: Option<Lsn>,
    /// Frames the replica lacks: `Some` only when caught up (0) or behind.
    pub lag_lsn: Option<u64>,
    /// Why the state is `Diverged` (or `Ahead`), for people.
    pub detail: Option<String>,
}

/// Compares a replica at LSN `applied` (whose frame has checksum `applied_crc`) of database
/// `db_id` with the log in `dir`: reads the source from the replica's position on, every frame
/// and the checksum chain checked, and tells caught up, behind (by how many frames), ahead or
/// diverged. Other failures (I/O, a damaged or gapped source) are errors.
///
/// # Errors
/// [`Error::Io`] when the source cannot be read; [`Error::Corruption`] for a damaged source
/// (a bad header or frame, an LSN gap, a broken chain); [`Error::Replica`]
/// ([`ReplicaError::Gap`]) when the source's first segment starts after the replica's next LSN.
pub fn sync_status(dir: &Path, db_id: u64, applied: Lsn, applied_crc: u32) -> Result<SyncStatus> {
    sync_status_in(Arc::new(StdFs), dir, db_id, applied.0, applied_crc)
}

/// [`sync_status`] through `vfs`.
pub(crate) fn sync_status_in(
    vfs: Arc<dyn Vfs>,
    dir: &Path,
    db_id: u64,
    applied: u64,
    applied_crc: u32,
) -> Result<SyncStatus> {
    let diverged = |source_lsn: Option<u64>, why: String| SyncStatus {
        state: SyncState::Diverged,
        source_lsn: source_lsn.map(Lsn),
        lag_lsn: None,
        detail: Some(why),
    };
    let ahead = |source_lsn: Lsn| SyncStatus {
        state: SyncState::Ahead,
        source_lsn: Some(source_lsn),
        lag_lsn: None,
        detail: Some(format!(
            "the replica is at LSN {applied}, the source ends at {source_lsn}"
        )),
    };
    let mut follower = LogFollower::new(vfs.clone(), dir, db_id, applied, applied_crc);
    let mut lag = 0u64;
    loop {
        match follower.poll(4 << 20) {
            Ok(frames) if frames.is_empty() => break,
            Ok(frames) => lag += frames.len() as u64,
            Err(Error::Replica(ReplicaError::AheadOfSource { source_lsn, .. })) => {
                return Ok(ahead(source_lsn))
            }
            Err(Error::Replica(e @ ReplicaError::ForeignLog { .. })) => {
                return Ok(diverged(None, e.to_string()))
            }
            Err(Error::Replica(e @ ReplicaError::Diverged { .. })) => {
                let end = source_end(&vfs, dir, db_id).ok();
                return Ok(diverged(end, e.to_string()));
            }
            Err(e) => return Err(e),
        }
    }
    if lag == 0 && applied > 0 && list_segments(&*vfs, dir)?.is_empty() {
        return Ok(ahead(Lsn(0))); // an empty source
    }
    Ok(SyncStatus {
        state: if lag == 0 {
            SyncState::CaughtUp
        } else {
            SyncState::Behind
        },
        source_lsn: Some(Lsn(applied + lag)),
        lag_lsn: Some(lag),
        detail: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Batch, Currency, Db, Op, Org, OrgId};

    /// A follower positioned before the first frame of `dir`'s log.
    fn from_start(dir: &Path, db_id: u64) -> LogFollower {
        let segments = list_segments(&crate::io::StdFs, dir).expect("segments");
        let (first, path) = segments.first().cloned().expect("a segment");
        let mut raw = [0u8; SEGMENT_HEADER_BYTES];
        StdFs
            .open_read(&path)
            .and_then(|f| f.read_exact_at(&mut raw, 0))
            .expect("header");
        let header = SegmentHeader::decode(&raw).expect("valid header");
        LogFollower::new(Arc::new(StdFs), dir, db_id, first - 1, header.prev_crc)
    }

    fn register(db: &Db, ids: std::ops::Range<u64>) {
        for id in ids {
            let org = Org::new(OrgId(id), format!("org-{id}"), Currency::USD);
            db.record(Batch::from(vec![Op::RegisterOrg(org)]))
                .expect("record");
        }
    }

    /// Frames polled one at a time while the log keeps growing (the unread rest of the buffer is
    /// carried across polls and compacted now and then) are exactly the frames one big poll sees.
    #[test]
    fn small_polls_while_appending_return_every_frame_once_in_order() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let db = Db::open(tmp.path().join("db")).expect("open");
        let wal = tmp.path().join("db").join(crate::format::WAL_DIR);
        register(&db, 1..40);
        let mut small = from_start(&wal, db.db_id());
        let mut got = Vec::new();
        let mut next = 41;
        for round in 0..200 {
            // One frame per poll (max_bytes 1), more frames appended every few polls.
            got.extend(small.poll(1).expect("poll"));
            if round % 3 == 0 && next < 140 {
                register(&db, next..next + 2);
                next += 2;
            }
        }
        loop {
            let frames = small.poll(1).expect("poll");
            if frames.is_empty() {
                break;
            }
            got.extend(frames);
        }
        let all = from_start(&wal, db.db_id()).poll(usize::MAX).expect("poll");
        assert_eq!(all.len() as u64, db.visible_lsn().0);
        assert_eq!(got.len(), all.len());
        for (a, b) in got.iter().zip(&all) {
            assert_eq!(
                (a.lsn, a.crc, a.prev_crc, a.offset, &a.file, &a.payload),
                (b.lsn, b.crc, b.prev_crc, b.offset, &b.file, &b.payload)
            );
        }
        assert_eq!(small.next_lsn(), db.visible_lsn().0 + 1);
    }

    /// A bounded poll returns nothing after its bound, across segment ends too, and the frames it
    /// left are the next poll's: bounded polls in any steps see exactly what one poll sees.
    #[test]
    fn a_bounded_poll_stops_at_its_last_lsn_and_leaves_the_rest() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let options = crate::Options {
            segment_target_bytes: 1_000,
            ..crate::Options::default()
        };
        let db = Db::open_with(tmp.path().join("db"), options).expect("open");
        let wal = tmp.path().join("db").join(crate::format::WAL_DIR);
        register(&db, 1..120);
        assert!(
            list_segments(&crate::io::StdFs, &wal)
                .expect("segments")
                .len()
                > 3
        );
        let head = db.visible_lsn().0;
        let all = from_start(&wal, db.db_id()).poll(usize::MAX).expect("poll");
        assert_eq!(all.len() as u64, head);
        let mut bounded = from_start(&wal, db.db_id());
        let mut got: Vec<ShippedFrame> = Vec::new();
        let mut last = 0;
        for step in [0u64, 1, 2, 7, 1, 13, 30, 5, 40, 200] {
            last = (last + step).min(head);
            let frames = bounded.poll_until(usize::MAX, last).expect("poll");
            assert!(
                frames.iter().all(|f| f.lsn.0 <= last),
                "past the bound {last}"
            );
            got.extend(frames);
            assert_eq!(got.len() as u64, last, "everything up to the bound {last}");
            assert_eq!(bounded.next_lsn(), last + 1);
        }
        assert!(bounded
            .poll_until(usize::MAX, head)
            .expect("poll")
            .is_empty());
        for (a, b) in got.iter().zip(&all) {
            assert_eq!((a.lsn, a.crc, &a.payload), (b.lsn, b.crc, &b.payload));
        }
    }
}
