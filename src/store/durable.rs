//! The file `DURABLE`: an LSN up to which the log is known durable (every batch up to it was
//! acknowledged), and where in the log the frame after it starts. Written at each checkpoint
//! after the log is fsynced to that LSN and before the store is written, so it is never ahead of
//! the durable log and never behind the store's own checkpoint LSN. Opening reads it before it
//! touches the store: a log that ends before it, or a damaged frame at or below it, is lost
//! acknowledged data, refused with nothing changed.
//!
//! ```text
//! offset size field
//!  0     8    magic "FOLIODUR"
//!  8     4    format version (u32 LE)
//! 12     4    CRC32 of bytes 0..12 ++ 16..32
//! 16     8    LSN (u64 LE)
//! 24     8    database id (u64 LE)
//! -- a 64-byte mark goes on with a log position (`wal::position`) --
//! 32     8    the segment's first LSN (its name)
//! 40     8    byte offset of a frame boundary in it
//! 48     8    LSN of the frame at that offset (at most LSN + 1)
//! 56     4    CRC32 that frame chains to
//! 60     4    CRC32 of bytes 32..60
//! ```
//!
//! The position only spares recovery the frames before it in its segment (`wal::recovery`); a
//! mark of 32 bytes (from builds before it, or when the writer no longer knew the boundary) is
//! read the same way without it.

use crate::error::{CorruptionKind, Error, Result};
use crate::format::{Header, DURABLE_FILE, DURABLE_MAGIC, HEADER_BYTES};
use crate::frozen::layout::{u32_at, u64_at};
use crate::io::Vfs;
use crate::wal::LogPosition;
use std::path::Path;

/// Bytes of a mark with a log position.
const WITH_POSITION: usize = HEADER_BYTES + 32;

/// What `DURABLE` says.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Mark {
    /// The log is durable up to this LSN (0 before the first checkpoint).
    pub lsn: u64,
    /// A frame boundary at or before the frame `lsn + 1`, when the mark records one.
    pub position: Option<LogPosition>,
}

/// Reads the durable mark of the database at `dir` (LSN 0 when the file does not exist yet).
pub fn read(vfs: &dyn Vfs, dir: &Path, db_id: u64) -> Result<Mark> {
    let path = dir.join(DURABLE_FILE);
    if !vfs.exists(&path) {
        return Ok(Mark::default());
    }
    let b = vfs.read_file(&path).map_err(|e| Error::io(&path, e))?;
    // A mark of another length is refused as such before anything else is looked at.
    if b.len() != HEADER_BYTES && b.len() != WITH_POSITION {
        let kind = CorruptionKind::BadLength(b.len() as u64);
        return Err(Error::corruption(&path, 0, kind));
    }
    let header = Header::decode(&path, &b[..HEADER_BYTES], DURABLE_MAGIC)?;
    let (lsn, id) = (header.u64_at(16), header.u64_at(24));
    if id != db_id {
        let why = format!("durable mark of database {id:#x}, expected {db_id:#x}");
        return Err(Error::corruption(
            &path,
            24,
            CorruptionKind::InvalidValue(why),
        ));
    }
    if lsn > crate::limits::MAX_LSN {
        let why = format!("durable LSN {lsn} out of range");
        return Err(Error::corruption(
            &path,
            16,
            CorruptionKind::InvalidValue(why),
        ));
    }
    let position = match b.get(HEADER_BYTES..) {
        Some(tail) if !tail.is_empty() => Some(decode_position(&path, tail, lsn)?),
        _ => None,
    };
    Ok(Mark { lsn, position })
}

/// The position part (bytes 32..64) of a mark at `lsn`: its checksum, then a frame at or
/// before `lsn + 1`.
fn decode_position(path: &Path, tail: &[u8], lsn: u64) -> Result<LogPosition> {
    let (expected, actual) = (u32_at(tail, 28), crc32fast::hash(&tail[..28]));
    if expected != actual {
        let kind = CorruptionKind::ChecksumMismatch { expected, actual };
        return Err(Error::corruption(path, HEADER_BYTES as u64 + 28, kind));
    }
    let position = LogPosition {
        segment_lsn: u64_at(tail, 0),
        offset: u64_at(tail, 8),
        next_lsn: u64_at(tail, 16),
        prev_crc: u32_at(tail, 24),
    };
    let ordered = position.segment_lsn >= 1 && position.segment_lsn <= position.next_lsn;
    if !ordered || position.next_lsn > lsn.saturating_add(1) {
        let why = format!(
            "log position of frame {} in segment {} does not precede durable LSN {lsn} + 1",
            position.next_lsn, position.segment_lsn
        );
        let kind = CorruptionKind::InvalidValue(why);
        return Err(Error::corruption(path, HEADER_BYTES as u64, kind));
    }
    Ok(position)
}

/// Records that the log of `dir` is durable up to `lsn`, with a frame boundary at or before
/// the frame `lsn + 1` when the caller knows one (atomically: temp, sync, rename, sync).
pub fn write(
    vfs: &dyn Vfs,
    dir: &Path,
    db_id: u64,
    lsn: u64,
    position: Option<LogPosition>,
) -> Result<()> {
    let mut b = Header::new(DURABLE_MAGIC)
        .put_u64(16, lsn)
        .put_u64(24, db_id)
        .encode()
        .to_vec();
    if let Some(at) = position.filter(|p| p.next_lsn <= lsn.saturating_add(1)) {
        b.extend_from_slice(&at.segment_lsn.to_le_bytes());
        b.extend_from_slice(&at.offset.to_le_bytes());
        b.extend_from_slice(&at.next_lsn.to_le_bytes());
        b.extend_from_slice(&at.prev_crc.to_le_bytes());
        let crc = crc32fast::hash(&b[HEADER_BYTES..]);
        b.extend_from_slice(&crc.to_le_bytes());
    }
    let path = dir.join(DURABLE_FILE);
    vfs.write_atomic(&path, &b).map_err(|e| Error::io(&path, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::StdFs;

    #[test]
    fn a_durable_mark_round_trips_and_damage_is_corruption_naming_it() {
        let tmp = tempfile::tempdir().expect("tempdir");
        assert_eq!(read(&StdFs, tmp.path(), 7).expect("absent"), Mark::default());
        let at = LogPosition {
            segment_lsn: 30,
            offset: 4_096,
            next_lsn: 40,
            prev_crc: 0xdead_beef,
        };
        for position in [None, Some(at)] {
            write(&StdFs, tmp.path(), 7, 42, position).expect("write");
            let mark = read(&StdFs, tmp.path(), 7).expect("read");
            assert_eq!(mark, Mark { lsn: 42, position });
            assert!(
                read(&StdFs, tmp.path(), 8).is_err(),
                "another database's mark"
            );
            let path = tmp.path().join(DURABLE_FILE);
            let len = std::fs::read(&path).expect("read").len();
            assert_eq!(len, if position.is_some() { WITH_POSITION } else { HEADER_BYTES });
            for flip in 0..len {
                let mut bytes = std::fs::read(&path).expect("read");
                bytes[flip] ^= 0x10;
                let damaged = tmp.path().join("damaged");
                std::fs::create_dir_all(&damaged).expect("mkdir");
                std::fs::write(damaged.join(DURABLE_FILE), &bytes).expect("write");
                match read(&StdFs, &damaged, 7) {
                    Err(Error::Corruption { file, .. }) => {
                        assert_eq!(file, damaged.join(DURABLE_FILE))
                    }
                    other => panic!("flip at {flip}: {other:?}"),
                }
            }
        }
    }

    #[test]
    fn a_position_after_the_marks_next_frame_is_not_written_and_is_refused_when_read() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let late = LogPosition {
            segment_lsn: 1,
            offset: 64,
            next_lsn: 44,
            prev_crc: 1,
        };
        write(&StdFs, tmp.path(), 7, 42, Some(late)).expect("write");
        assert_eq!(read(&StdFs, tmp.path(), 7).expect("read").position, None);
        // Written by hand: a position beyond the mark's next frame.
        let mut bytes = Header::new(DURABLE_MAGIC)
            .put_u64(16, 42)
            .put_u64(24, 7)
            .encode()
            .to_vec();
        for word in [1u64, 64, 44] {
            bytes.extend_from_slice(&word.to_le_bytes());
        }
        bytes.extend_from_slice(&1u32.to_le_bytes());
        let crc = crc32fast::hash(&bytes[HEADER_BYTES..]);
        bytes.extend_from_slice(&crc.to_le_bytes());
        std::fs::write(tmp.path().join(DURABLE_FILE), &bytes).expect("write");
        match read(&StdFs, tmp.path(), 7) {
            Err(Error::Corruption { offset, .. }) => assert_eq!(offset, HEADER_BYTES as u64),
            other => panic!("{other:?}"),
        }
    }
}
