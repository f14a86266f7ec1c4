//! Reads the log back: every segment through a memory map, every frame checksummed, LSNs and the
//! checksum chain continuous. Recovery changes nothing on disk: it reports a torn tail (a damaged
//! last frame, or a last segment whose header never became durable) as [`TornTail`], and the
//! caller decides whether to cut it ([`cut_torn`]). Only what lies beyond every LSN known durable
//! can be torn; damage at or below it, or a log that ends before it, is an error naming the file
//! and the offset.

use super::position::LogPosition;
use super::segment::{parse_segment_name, HeaderError, SegmentHeader, SEGMENT_HEADER_BYTES};
use super::writer::LogEnd;
use crate::codec::frame::{decode_frame, frame_len, FrameError, FRAME_ALIGN};
use crate::error::{CorruptionKind, Error, Result};
use crate::io::Vfs;
use crate::model::Lsn;
use std::path::{Path, PathBuf};

/// One valid frame of a log: its header's LSN and operation count, its payload, and where it is
/// (for errors). Recovery hands these to its caller; a shipped frame is viewed as one to replay.
pub struct LogFrame<'a> {
    pub lsn: u64,
    pub op_count: u32,
    pub payload: &'a [u8],
    pub file: &'a Path,
    pub offset: u64,
}

/// What recovery may assume about a log directory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Expect {
    /// The LSN the log starts at (1, or a replica's base + 1) and the checksum its first frame
    /// chains to: where an empty log ends.
    pub start_lsn: u64,
    pub start_crc: u32,
    /// Frames with an LSN below this are checked but not handed to the callback.
    pub from_lsn: u64,
    /// Every LSN up to this one is known to have been acknowledged (the store's checkpoint, a
    /// replica's base): the log must reach it, and damage at or below it is corruption.
    pub durable_lsn: u64,
    /// A frame boundary at or before `from_lsn` (the durable mark's): the scan of its segment
    /// starts there when the frame found there is the one it names (otherwise at the segment's
    /// start). Frames before it are not read.
    pub hint: Option<LogPosition>,
}

impl Expect {
    /// A whole log from LSN 1, nothing known durable.
    #[cfg(feature = "internals")]
    pub fn whole() -> Expect {
        Expect {
            start_lsn: 1,
            start_crc: 0,
            from_lsn: 1,
            durable_lsn: 0,
            hint: None,
        }
    }
}

/// A torn tail: bytes that may never have been acknowledged and that a writer cuts off before it
/// continues the log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TornTail {
    /// The log segment cut.
    pub file: PathBuf,
    /// Where the cut starts; the file keeps `offset` bytes (0 with `whole_file`).
    pub offset: u64,
    /// Bytes cut off (the whole file's length with `whole_file`).
    pub bytes: u64,
    /// Frames (whole or in part) in the cut bytes: the damaged one and any valid-looking ones
    /// after it.
    pub frames: u64,
    /// The LSN the damaged frame would have had.
    pub lsn: Lsn,
    /// A last segment whose header never became durable: the file is removed.
    pub whole_file: bool,
}

impl std::fmt::Display for TornTail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.whole_file {
            write!(
                f,
                "removed {} ({} bytes, a segment whose header was never durable; from LSN {})",
                self.file.display(),
                self.bytes,
                self.lsn
            )
        } else {
            write!(
                f,
                "cut {} bytes ({} frame{}, from LSN {}) off {} at offset {}",
                self.bytes,
                self.frames,
                if self.frames == 1 { "" } else { "s" },
                self.lsn,
                self.file.display(),
                self.offset
            )
        }
    }
}

/// What recovery found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogTail {
    /// Where a writer continues (after the torn tail is cut).
    pub end: LogEnd,
    /// Torn tails found (not yet cut): at most a torn last segment and a torn last frame.
    pub torn: Vec<TornTail>,
    /// Frames handed to the callback.
    pub frames_replayed: u64,
}

impl LogTail {
    /// Bytes of torn tails.
    pub fn truncated_bytes(&self) -> u64 {
        self.torn.iter().map(|t| t.bytes).sum()
    }

    /// Frames in torn tails.
    pub fn truncated_frames(&self) -> u64 {
        self.torn.iter().map(|t| t.frames).sum()
    }
}

/// Cuts the torn tails recovery found, so that a writer can continue the log.
pub fn cut_torn(vfs: &dyn Vfs, torn: &[TornTail]) -> Result<()> {
    for t in torn {
        if t.whole_file {
            vfs.remove_file(&t.file)
                .map_err(|e| Error::io(&t.file, e))?;
        } else {
            vfs.truncate(&t.file, t.offset)
                .map_err(|e| Error::io(&t.file, e))?;
        }
    }
    Ok(())
}

/// The segments of a log directory, ordered by first LSN.
pub fn list_segments(vfs: &dyn Vfs, dir: &Path) -> Result<Vec<(u64, PathBuf)>> {
    let names = vfs.list(dir).map_err(|e| Error::io(dir, e))?;
    let mut segments: Vec<(u64, PathBuf)> = names
        .iter()
        .filter_map(|name| parse_segment_name(name).map(|lsn| (lsn, dir.join(name))))
        .collect();
    segments.sort();
    Ok(segments)
}

/// Scans the log in `dir` and calls `on_frame` for every frame with LSN `>= expect.from_lsn`, in
/// order. Returns where the log ends and the torn tail a writer must cut; changes nothing.
pub fn recover(
    vfs: &dyn Vfs,
    dir: &Path,
    db_id: u64,
    expect: Expect,
    mut on_frame: impl FnMut(LogFrame<'_>) -> Result<()>,
) -> Result<LogTail> {
    let from_lsn = expect.from_lsn.max(expect.start_lsn).max(1);
    let mut segments = list_segments(vfs, dir)?;
    let mut tail = LogTail {
        end: LogEnd {
            next_lsn: expect.start_lsn.max(1),
            prev_crc: expect.start_crc,
            active: None,
            active_version: 0,
        },
        torn: Vec::new(),
        frames_replayed: 0,
    };
    set_aside_torn_segment(vfs, &mut segments, expect.durable_lsn, &mut tail)?;
    // Segments wholly before `from_lsn` are skipped (their successor starts at or before it).
    let first_needed = segments
        .iter()
        .rposition(|(first, _)| *first <= from_lsn)
        .unwrap_or(0);
    if let Some((first, path)) = segments.get(first_needed) {
        if *first > from_lsn {
            let kind = CorruptionKind::LsnGap {
                expected: Lsn(from_lsn),
                found: Lsn(*first),
            };
            return Err(Error::corruption(path, 24, kind));
        }
    }
    check_skipped(vfs, &segments, first_needed, db_id, expect.start_lsn)?;
    for (index, (name_lsn, path)) in segments.iter().enumerate().skip(first_needed) {
        let is_last = index + 1 == segments.len();
        let scan = SegmentScan {
            vfs,
            path,
            name_lsn: *name_lsn,
            db_id,
            is_last,
            durable_lsn: expect.durable_lsn,
        };
        let continued = index > first_needed;
        let resume = expect.hint.filter(|h| {
            !continued && h.segment_lsn == *name_lsn && h.next_lsn <= from_lsn
        });
        scan.run(&mut tail, continued, from_lsn, resume, &mut on_frame)?;
    }
    let last_lsn = tail.end.next_lsn - 1;
    if last_lsn < expect.durable_lsn {
        let (file, offset) = match &tail.end.active {
            Some((path, len)) => (path.clone(), *len),
            None => (dir.to_path_buf(), 0),
        };
        let kind = CorruptionKind::MissingLog {
            from: Lsn(tail.end.next_lsn),
            to: Lsn(expect.durable_lsn),
        };
        return Err(Error::corruption(file, offset, kind));
    }
    Ok(tail)
}

/// Whether a scan of the segment `bytes` may start at the boundary `at` instead of at the
/// segment's first frame: it lies inside the frames' area on a frame boundary (8-aligned), and
/// either the segment ends there or a valid frame starts there with the LSN and the chain
/// checksum `at` names. A hint that does not hold (another segment layout, a shorter file,
/// damage) is ignored: the scan reads the segment from its start and finds what it finds.
fn resumes_at(bytes: &[u8], at: LogPosition) -> Option<LogPosition> {
    let offset = usize::try_from(at.offset).ok()?;
    if offset < SEGMENT_HEADER_BYTES || offset > bytes.len() || offset % FRAME_ALIGN != 0 {
        return None;
    }
    if offset == bytes.len() {
        return Some(at);
    }
    match decode_frame(&bytes[offset..]) {
        Ok((h, _)) if h.lsn == at.next_lsn && h.prev_crc == at.prev_crc => Some(at),
        _ => None,
    }
}

/// A last segment whose header never became durable holds nothing acknowledged: it is taken off
/// `segments` and becomes a torn tail (the whole file) — unless the LSNs it starts at are known
/// durable: then it is damage.
fn set_aside_torn_segment(
    vfs: &dyn Vfs,
    segments: &mut Vec<(u64, PathBuf)>,
    durable_lsn: u64,
    tail: &mut LogTail,
) -> Result<()> {
    let Some((name_lsn, last)) = segments.last() else {
        return Ok(());
    };
    let Some(len) = torn_header(vfs, last)? else {
        return Ok(());
    };
    if *name_lsn <= durable_lsn {
        let kind = CorruptionKind::DamagedDurable {
            lsn: Lsn(*name_lsn),
            durable: Lsn(durable_lsn),
            cause: Box::new(CorruptionKind::BadLength(len)),
        };
        return Err(Error::corruption(last, 0, kind));
    }
    tail.torn.push(TornTail {
        file: last.clone(),
        offset: 0,
        bytes: len,
        frames: 0,
        lsn: Lsn(*name_lsn),
        whole_file: true,
    });
    segments.pop();
    Ok(())
}

/// Checks the segments recovery does not replay (wholly before the first one it needs) without
/// reading their frames: the first one starts the log, each header belongs to this database and
/// names its first LSN, and each one's last frame is continued by the next segment's first LSN
/// and chain checksum. A deleted, truncated or foreign segment is corruption at open, not a log
/// that silently lost its history.
fn check_skipped(
    vfs: &dyn Vfs,
    segments: &[(u64, PathBuf)],
    skipped: usize,
    db_id: u64,
    start_lsn: u64,
) -> Result<()> {
    if let Some((first, path)) = segments.first() {
        if *first > start_lsn.max(1) {
            let kind = CorruptionKind::LsnGap {
                expected: Lsn(start_lsn.max(1)),
                found: Lsn(*first),
            };
            return Err(Error::corruption(path, 24, kind));
        }
    }
    let header_of = |path: &Path, bytes: &[u8], name_lsn: u64| {
        skipped_header(path, bytes, name_lsn, db_id)
    };
    for pair in segments.windows(2).take(skipped) {
        let ((name, path), (next_name, next_path)) = (&pair[0], &pair[1]);
        let bytes = vfs.map(path).map_err(|e| Error::io(path, e))?;
        let header = header_of(path, &bytes, *name)?;
        let next_bytes = vfs.map(next_path).map_err(|e| Error::io(next_path, e))?;
        let next = header_of(next_path, &next_bytes, *next_name)?;
        let (end_lsn, end_crc) = match last_frame(&bytes) {
            Some(last) => (last.lsn + 1, last.crc),
            None => (header.first_lsn, header.prev_crc),
        };
        if next.first_lsn != end_lsn || next.prev_crc != end_crc {
            // Something is wrong between the two: a full scan of this segment names damage in
            // it (the frame and its offset); without any, the gap is at the next segment.
            let scan = SegmentScan {
                vfs,
                path,
                name_lsn: *name,
                db_id,
                is_last: false,
                durable_lsn: 0,
            };
            let mut tail = LogTail {
                end: LogEnd {
                    next_lsn: *name,
                    prev_crc: header.prev_crc,
                    active: None,
                    active_version: 0,
                },
                torn: Vec::new(),
                frames_replayed: 0,
            };
            scan.run(&mut tail, false, u64::MAX, None, &mut |_| Ok(()))?;
        }
        if next.first_lsn != end_lsn {
            let kind = CorruptionKind::LsnGap {
                expected: Lsn(end_lsn),
                found: Lsn(next.first_lsn),
            };
            return Err(Error::corruption(next_path, 24, kind));
        }
        if next.prev_crc != end_crc {
            return Err(Error::corruption(
                next_path,
                32,
                CorruptionKind::ChainBroken,
            ));
        }
    }
    Ok(())
}

/// The header of a segment recovery skips, checked to belong to database `db_id` and to start
/// at the LSN its name announces.
fn skipped_header(path: &Path, bytes: &[u8], name_lsn: u64, db_id: u64) -> Result<SegmentHeader> {
    let header = SegmentHeader::decode(bytes).map_err(|e| {
        let kind = match e {
            HeaderError::BadMagic => CorruptionKind::BadMagic,
            HeaderError::Truncated => CorruptionKind::BadLength(bytes.len() as u64),
            HeaderError::ChecksumMismatch { expected, actual } => {
                CorruptionKind::ChecksumMismatch { expected, actual }
            }
        };
        Error::corruption(path, 0, kind)
    })?;
    if header.db_id != db_id || header.first_lsn != name_lsn {
        let why = format!(
            "segment header names database {:#x} from LSN {}, expected {db_id:#x} from LSN \
             {name_lsn}",
            header.db_id, header.first_lsn
        );
        return Err(Error::corruption(
            path,
            16,
            CorruptionKind::InvalidValue(why),
        ));
    }
    Ok(header)
}

/// The last frame of a sealed segment, found from its end: the aligned frame whose length makes
/// it end exactly at the end of the file and whose checksum holds.
fn last_frame(bytes: &[u8]) -> Option<crate::codec::frame::FrameHeader> {
    use crate::codec::frame::FRAME_HEADER_BYTES;
    let mut at = bytes.len().checked_sub(FRAME_HEADER_BYTES)? / FRAME_ALIGN * FRAME_ALIGN;
    while at >= SEGMENT_HEADER_BYTES {
        let len = u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]);
        if at.checked_add(frame_len(len as usize)) == Some(bytes.len()) {
            if let Ok((header, _)) = decode_frame(&bytes[at..]) {
                return Some(header);
            }
        }
        at = at.checked_sub(FRAME_ALIGN)?;
    }
    None
}

/// The length of `path` when it is a segment whose header was torn (shorter than a header, or
/// a header-sized file with a bad checksum): what a crash during rotation leaves.
fn torn_header(vfs: &dyn Vfs, path: &Path) -> Result<Option<u64>> {
    let bytes = vfs.map(path).map_err(|e| Error::io(path, e))?;
    if bytes.len() > SEGMENT_HEADER_BYTES {
        return Ok(None);
    }
    Ok(match SegmentHeader::decode(&bytes) {
        Err(HeaderError::Truncated) | Err(HeaderError::ChecksumMismatch { .. }) => {
            Some(bytes.len() as u64)
        }
        Err(HeaderError::BadMagic) if bytes.iter().all(|&b| b == 0) => Some(bytes.len() as u64),
        _ => None,
    })
}

/// Where a scan stands in a segment: the offset of the next frame, its LSN and the checksum it
/// must chain to.
#[derive(Clone, Copy)]
struct Position {
    offset: usize,
    next_lsn: u64,
    prev_crc: u32,
    /// The segment's format version.
    version: u32,
}

struct SegmentScan<'a> {
    vfs: &'a dyn Vfs,
    path: &'a Path,
    name_lsn: u64,
    db_id: u64,
    is_last: bool,
    durable_lsn: u64,
}

impl SegmentScan<'_> {
    fn corrupt(&self, offset: u64, kind: CorruptionKind) -> Error {
        Error::corruption(self.path, offset, kind)
    }

    fn run(
        &self,
        tail: &mut LogTail,
        continued: bool,
        from_lsn: u64,
        resume: Option<LogPosition>,
        on_frame: &mut impl FnMut(LogFrame<'_>) -> Result<()>,
    ) -> Result<()> {
        let bytes = self
            .vfs
            .map(self.path)
            .map_err(|e| Error::io(self.path, e))?;
        let header = match SegmentHeader::decode(&bytes) {
            Ok(h) => h,
            Err(HeaderError::BadMagic) => return Err(self.corrupt(0, CorruptionKind::BadMagic)),
            Err(HeaderError::Truncated) => {
                return Err(self.corrupt(0, CorruptionKind::BadLength(bytes.len() as u64)))
            }
            Err(HeaderError::ChecksumMismatch { expected, actual }) => {
                return Err(self.corrupt(12, CorruptionKind::ChecksumMismatch { expected, actual }))
            }
        };
        self.check_header(&header, tail, continued)?;
        let mut expected_lsn = header.first_lsn;
        let mut prev_crc = header.prev_crc;
        let mut offset = SEGMENT_HEADER_BYTES;
        if let Some(at) = resume.and_then(|at| resumes_at(&bytes, at)) {
            (offset, expected_lsn, prev_crc) = (at.offset as usize, at.next_lsn, at.prev_crc);
        }
        while offset < bytes.len() {
            match decode_frame(&bytes[offset..]) {
                Ok((h, payload)) => {
                    if h.lsn != expected_lsn {
                        let kind = CorruptionKind::LsnGap {
                            expected: Lsn(expected_lsn),
                            found: Lsn(h.lsn),
                        };
                        return Err(self.corrupt(offset as u64, kind));
                    }
                    if h.prev_crc != prev_crc {
                        return Err(self.corrupt(offset as u64, CorruptionKind::ChainBroken));
                    }
                    if h.lsn >= from_lsn {
                        on_frame(LogFrame {
                            lsn: h.lsn,
                            op_count: h.op_count,
                            payload,
                            file: self.path,
                            offset: offset as u64,
                        })?;
                        tail.frames_replayed += 1;
                    }
                    expected_lsn += 1;
                    prev_crc = h.crc;
                    offset += frame_len(payload.len());
                }
                Err(err) => {
                    let at = Position {
                        offset,
                        next_lsn: expected_lsn,
                        prev_crc,
                        version: header.version,
                    };
                    return self.damage_at(&bytes, at, err, tail);
                }
            }
        }
        tail.end = LogEnd {
            next_lsn: expected_lsn,
            prev_crc,
            active: Some((self.path.to_path_buf(), bytes.len() as u64)),
            active_version: header.version,
        };
        Ok(())
    }

    /// A frame at `at` does not decode. In the last segment, beyond every LSN known durable and
    /// with no valid frame after it (or only after a sector never written), it is a torn tail:
    /// recorded, and the log ends there. Anywhere else it is corruption.
    fn damage_at(&self, bytes: &[u8], at: Position, err: FrameError, tail: &mut LogTail) -> Result<()> {
        let Position {
            offset,
            next_lsn: expected_lsn,
            prev_crc,
            version,
        } = at;
        let cut_anyway = planted!(TruncateMidLog);
        let later = later_frame(bytes, offset, expected_lsn);
        let mid_log = match later {
            // Valid frames after the damage: corruption, unless the damage holds a sector that
            // was never written (reads as zeros) — the signature of the last, unsynced write
            // reaching the disk out of order at a power loss.
            Some(next) => !unwritten_sector(bytes, offset, next),
            None => false,
        };
        if !self.is_last || (mid_log && !cut_anyway) {
            return Err(self.corrupt(offset as u64, frame_error_kind(err)));
        }
        if expected_lsn <= self.durable_lsn && !cut_anyway {
            // Acknowledged: a torn write never reaches an LSN known durable.
            let kind = CorruptionKind::DamagedDurable {
                lsn: Lsn(expected_lsn),
                durable: Lsn(self.durable_lsn),
                cause: Box::new(frame_error_kind(err)),
            };
            return Err(self.corrupt(offset as u64, kind));
        }
        let frames = 1 + later.map_or(0, |next| frames_from(bytes, next));
        tail.torn.push(TornTail {
            file: self.path.to_path_buf(),
            offset: offset as u64,
            bytes: (bytes.len() - offset) as u64,
            frames,
            lsn: Lsn(expected_lsn),
            whole_file: false,
        });
        tail.end = LogEnd {
            next_lsn: expected_lsn,
            prev_crc,
            active: Some((self.path.to_path_buf(), offset as u64)),
            active_version: version,
        };
        Ok(())
    }

    fn check_header(&self, header: &SegmentHeader, tail: &LogTail, continued: bool) -> Result<()> {
        header.check_version(self.path)?;
        if header.db_id != self.db_id {
            let why = format!(
                "segment of database {:#x}, expected {:#x}",
                header.db_id, self.db_id
            );
            return Err(self.corrupt(16, CorruptionKind::InvalidValue(why)));
        }
        if header.first_lsn != self.name_lsn {
            let kind = CorruptionKind::LsnGap {
                expected: Lsn(self.name_lsn),
                found: Lsn(header.first_lsn),
            };
            return Err(self.corrupt(24, kind));
        }
        if continued {
            if header.first_lsn != tail.end.next_lsn {
                let kind = CorruptionKind::LsnGap {
                    expected: Lsn(tail.end.next_lsn),
                    found: Lsn(header.first_lsn),
                };
                return Err(self.corrupt(24, kind));
            }
            if header.prev_crc != tail.end.prev_crc {
                return Err(self.corrupt(32, CorruptionKind::ChainBroken));
            }
        }
        Ok(())
    }
}

/// What a frame that does not decode is, as corruption.
pub(crate) fn frame_error_kind(err: FrameError) -> CorruptionKind {
    match err {
        FrameError::Truncated => CorruptionKind::BadLength(0),
        FrameError::BadLength(len) => CorruptionKind::BadLength(len as u64),
        FrameError::ChecksumMismatch { expected, actual } => {
            CorruptionKind::ChecksumMismatch { expected, actual }
        }
    }
}

/// Where the first valid frame with an LSN at or after `expected_lsn` starts after `offset`, if
/// any: then the damage at `offset` is not simply a torn tail.
fn later_frame(bytes: &[u8], offset: usize, expected_lsn: u64) -> Option<usize> {
    let mut at = offset + FRAME_ALIGN;
    while at < bytes.len() {
        if let Ok((h, _)) = decode_frame(&bytes[at..]) {
            if h.lsn >= expected_lsn {
                return Some(at);
            }
        }
        at += FRAME_ALIGN;
    }
    None
}

/// How many valid-looking frames follow one another from `at` (frames in a cut tail).
pub(crate) fn frames_from(bytes: &[u8], mut at: usize) -> u64 {
    let mut frames = 0;
    while at < bytes.len() {
        match decode_frame(&bytes[at..]) {
            Ok((_, payload)) => {
                frames += 1;
                at += frame_len(payload.len());
            }
            Err(_) => break,
        }
    }
    frames
}

/// The valid frames anywhere in `bytes` (a discarded piece of a segment), resynchronizing at
/// every frame alignment after damage: how many, and their first and last LSN.
pub fn frames_in(bytes: &[u8]) -> (u64, Option<(Lsn, Lsn)>) {
    let mut at = 0;
    let mut frames = 0;
    let mut lsns: Option<(Lsn, Lsn)> = None;
    while at < bytes.len() {
        match decode_frame(&bytes[at..]) {
            Ok((h, payload)) => {
                frames += 1;
                let lsn = Lsn(h.lsn);
                lsns = Some(lsns.map_or((lsn, lsn), |(lo, hi)| (lo.min(lsn), hi.max(lsn))));
                at += frame_len(payload.len());
            }
            Err(_) => at += FRAME_ALIGN,
        }
    }
    (frames, lsns)
}

/// Disk sector size assumed for writes that were cut or reordered by a power loss.
const SECTOR: usize = 512;

/// Whether the damaged bytes `start..end` (a damaged frame up to the next valid one; segment
/// offsets are file offsets) show a sector that never reached the disk: zeros from `start` to the
/// end of its sector, or a whole aligned sector of zeros. A flipped bit never looks like that, and
/// the encoder never writes such zero runs (a frame begins with its non-zero length, and its
/// payload holds no 512-byte run of zeros: in a compact batch every op starts with a non-zero tag
/// and no field is longer than 256 bytes, and an rkyv batch holds its text the same way).
fn unwritten_sector(bytes: &[u8], start: usize, end: usize) -> bool {
    let zero = |range: std::ops::Range<usize>| bytes[range].iter().all(|&b| b == 0);
    let first_end = (start / SECTOR + 1) * SECTOR;
    if first_end <= end && zero(start..first_end) {
        return true;
    }
    let mut at = first_end;
    while at + SECTOR <= end {
        if zero(at..at + SECTOR) {
            return true;
        }
        at += SECTOR;
    }
    false
}
