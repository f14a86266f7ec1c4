//! Reads the log back: every segment through a memory map, every frame checksummed, LSNs and the
//! checksum chain continuous. A torn last frame is cut off; damage anywhere else is an error
//! naming the file and the offset.

use super::segment::{parse_segment_name, HeaderError, SegmentHeader, SEGMENT_HEADER_BYTES};
use super::writer::LogEnd;
use crate::codec::frame::{decode_frame, frame_len, FrameError, FRAME_ALIGN};
use crate::error::{CorruptionKind, Error, Result};
use crate::io::Vfs;
use crate::store::meta::FORMAT_VERSION;
use std::path::{Path, PathBuf};

/// One valid frame handed to the caller during recovery.
pub struct RecoveredFrame<'a> {
    pub lsn: u64,
    pub op_count: u32,
    pub payload: &'a [u8],
    pub file: &'a Path,
    pub offset: u64,
}

/// What recovery found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogTail {
    /// Where a writer continues.
    pub end: LogEnd,
    /// Bytes cut off a torn tail (0 when the log ended cleanly).
    pub truncated_bytes: u64,
    /// Frames handed to the callback.
    pub frames_replayed: u64,
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

/// Scans the log in `dir` and calls `on_frame` for every frame with LSN `>= from_lsn`, in order.
/// Truncates a torn tail of the last segment (when `repair` is set) and returns where the log ends.
pub fn recover(
    vfs: &dyn Vfs,
    dir: &Path,
    db_id: u64,
    from_lsn: u64,
    repair: bool,
    mut on_frame: impl FnMut(RecoveredFrame<'_>) -> Result<()>,
) -> Result<LogTail> {
    let mut segments = list_segments(vfs, dir)?;
    let mut tail = LogTail {
        end: LogEnd {
            next_lsn: 1,
            prev_crc: 0,
            active: None,
        },
        truncated_bytes: 0,
        frames_replayed: 0,
    };
    // A last segment whose header never became durable holds nothing acknowledged: drop it
    // before choosing where to start, so the log ends where the previous segment ends.
    if let Some((_, last)) = segments.last() {
        if let Some(len) = torn_header(vfs, last)? {
            if repair {
                vfs.remove_file(last).map_err(|e| Error::io(last, e))?;
            }
            tail.truncated_bytes += len;
            segments.pop();
        }
    }
    // Segments wholly before `from_lsn` are skipped (their successor starts at or before it).
    let first_needed = segments
        .iter()
        .rposition(|(first, _)| *first <= from_lsn.max(1))
        .unwrap_or(0);
    if let Some((first, path)) = segments.get(first_needed) {
        if *first > from_lsn.max(1) {
            let kind = CorruptionKind::LsnGap {
                expected: from_lsn.max(1),
                found: *first,
            };
            return Err(Error::corruption(path, 24, kind));
        }
    }
    for (index, (name_lsn, path)) in segments.iter().enumerate().skip(first_needed) {
        let is_last = index + 1 == segments.len();
        let scan = SegmentScan {
            vfs,
            path,
            name_lsn: *name_lsn,
            db_id,
            is_last,
            repair,
        };
        let continued = index > first_needed;
        scan.run(&mut tail, continued, from_lsn, &mut on_frame)?;
    }
    Ok(tail)
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

struct SegmentScan<'a> {
    vfs: &'a dyn Vfs,
    path: &'a Path,
    name_lsn: u64,
    db_id: u64,
    is_last: bool,
    repair: bool,
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
        on_frame: &mut impl FnMut(RecoveredFrame<'_>) -> Result<()>,
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
        while offset < bytes.len() {
            match decode_frame(&bytes[offset..]) {
                Ok((h, payload)) => {
                    if h.lsn != expected_lsn {
                        let kind = CorruptionKind::LsnGap {
                            expected: expected_lsn,
                            found: h.lsn,
                        };
                        return Err(self.corrupt(offset as u64, kind));
                    }
                    if h.prev_crc != prev_crc {
                        return Err(self.corrupt(offset as u64, CorruptionKind::ChainBroken));
                    }
                    if h.lsn >= from_lsn {
                        on_frame(RecoveredFrame {
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
                    let cut_anyway = crate::planted::is(crate::planted::Planted::TruncateMidLog);
                    let mid_log = match later_frame(&bytes, offset, expected_lsn) {
                        // Valid frames after the damage: corruption, unless the damage holds a
                        // sector that was never written (reads as zeros) — the signature of the
                        // last, unsynced write reaching the disk out of order at a power loss.
                        Some(next) => !unwritten_sector(&bytes, offset, next),
                        None => false,
                    };
                    if !self.is_last || (mid_log && !cut_anyway) {
                        return Err(self.corrupt(offset as u64, frame_error_kind(err)));
                    }
                    let cut = (bytes.len() - offset) as u64;
                    drop(bytes);
                    if self.repair {
                        self.vfs
                            .truncate(self.path, offset as u64)
                            .map_err(|e| Error::io(self.path, e))?;
                    }
                    tail.truncated_bytes += cut;
                    tail.end = LogEnd {
                        next_lsn: expected_lsn,
                        prev_crc,
                        active: Some((self.path.to_path_buf(), offset as u64)),
                    };
                    return Ok(());
                }
            }
        }
        tail.end = LogEnd {
            next_lsn: expected_lsn,
            prev_crc,
            active: Some((self.path.to_path_buf(), bytes.len() as u64)),
        };
        Ok(())
    }

    fn check_header(&self, header: &SegmentHeader, tail: &LogTail, continued: bool) -> Result<()> {
        if header.version != FORMAT_VERSION {
            return Err(Error::FormatVersion {
                path: self.path.to_path_buf(),
                found: header.version,
                supported: FORMAT_VERSION,
            });
        }
        if header.db_id != self.db_id {
            let why = format!(
                "segment of database {:#x}, expected {:#x}",
                header.db_id, self.db_id
            );
            return Err(self.corrupt(16, CorruptionKind::InvalidValue(why)));
        }
        if header.first_lsn != self.name_lsn {
            let kind = CorruptionKind::LsnGap {
                expected: self.name_lsn,
                found: header.first_lsn,
            };
            return Err(self.corrupt(24, kind));
        }
        if continued {
            if header.first_lsn != tail.end.next_lsn {
                let kind = CorruptionKind::LsnGap {
                    expected: tail.end.next_lsn,
                    found: header.first_lsn,
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

fn frame_error_kind(err: FrameError) -> CorruptionKind {
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

/// Disk sector size assumed for writes that were cut or reordered by a power loss.
const SECTOR: usize = 512;

/// Whether the damaged bytes `start..end` (a damaged frame up to the next valid one; segment
/// offsets are file offsets) show a sector that never reached the disk: zeros from `start` to the
/// end of its sector, or a whole aligned sector of zeros. A flipped bit never looks like that, and
/// the encoder never writes such zero runs (a frame begins with its non-zero length, and its rkyv
/// payload holds no 512-byte run of zeros).
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
