//! Segment files: `wal/<first LSN, 20 digits>.log`, each starting with a 40-byte header.
//!
//! ```text
//! offset size field
//!  0     8    magic "FOLIOWAL"
//!  8     4    format version (u32 LE): 2 (`format::SEGMENT_FORMAT_VERSION`); 1 is read too
//! 12     4    CRC32 of bytes 0..12 ++ 16..40
//! 16     8    database id (u64 LE)
//! 24     8    LSN of the segment's first frame
//! 32     4    CRC32 of the last frame before this segment (0 for the first segment)
//! 36     4    reserved, zero
//! ```

use crate::error::{Error, Result};
use crate::format::{header_crc, SEGMENT_EXTENSION, SEGMENT_FORMAT_VERSION, SEGMENT_FORMAT_VERSIONS_READ};
use std::path::{Path, PathBuf};

pub const SEGMENT_MAGIC: &[u8; 8] = b"FOLIOWAL";
pub const SEGMENT_HEADER_BYTES: usize = 40;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SegmentHeader {
    pub version: u32,
    pub db_id: u64,
    pub first_lsn: u64,
    pub prev_crc: u32,
}

/// Why a segment header is unusable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeaderError {
    Truncated,
    BadMagic,
    ChecksumMismatch { expected: u32, actual: u32 },
}

pub fn segment_name(first_lsn: u64) -> String {
    format!("{first_lsn:020}.{SEGMENT_EXTENSION}")
}

pub fn segment_path(wal_dir: &Path, first_lsn: u64) -> PathBuf {
    wal_dir.join(segment_name(first_lsn))
}

/// The first LSN a segment file name announces, if it is a segment name.
pub fn parse_segment_name(name: &Path) -> Option<u64> {
    let name = name.to_str()?;
    let digits = name
        .strip_suffix(SEGMENT_EXTENSION)?
        .strip_suffix('.')?;
    (digits.len() == 20 && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| digits.parse().ok())
        .flatten()
}

impl SegmentHeader {
    pub fn new(db_id: u64, first_lsn: u64, prev_crc: u32) -> SegmentHeader {
        SegmentHeader {
            version: SEGMENT_FORMAT_VERSION,
            db_id,
            first_lsn,
            prev_crc,
        }
    }

    pub fn encode(&self) -> [u8; SEGMENT_HEADER_BYTES] {
        let mut b = [0u8; SEGMENT_HEADER_BYTES];
        b[0..8].copy_from_slice(SEGMENT_MAGIC);
        b[8..12].copy_from_slice(&self.version.to_le_bytes());
        b[16..24].copy_from_slice(&self.db_id.to_le_bytes());
        b[24..32].copy_from_slice(&self.first_lsn.to_le_bytes());
        b[32..36].copy_from_slice(&self.prev_crc.to_le_bytes());
        let crc = header_crc(&b);
        b[12..16].copy_from_slice(&crc.to_le_bytes());
        b
    }

    /// `Ok` when this build reads segments of the header's format version; else
    /// [`Error::FormatVersion`] naming `path` (the segment file).
    pub fn check_version(&self, path: &Path) -> Result<()> {
        if SEGMENT_FORMAT_VERSIONS_READ.contains(&self.version) {
            return Ok(());
        }
        Err(Error::FormatVersion {
            path: path.to_path_buf(),
            found: self.version,
            supported: SEGMENT_FORMAT_VERSION,
        })
    }

    pub fn decode(bytes: &[u8]) -> std::result::Result<SegmentHeader, HeaderError> {
        let b = bytes
            .get(..SEGMENT_HEADER_BYTES)
            .ok_or(HeaderError::Truncated)?;
        if &b[0..8] != SEGMENT_MAGIC {
            return Err(HeaderError::BadMagic);
        }
        let u32_at = |at: usize| u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]);
        let u64_at = |at: usize| {
            let mut raw = [0; 8];
            raw.copy_from_slice(&b[at..at + 8]);
            u64::from_le_bytes(raw)
        };
        let expected = u32_at(12);
        let actual = header_crc(b);
        if expected != actual {
            return Err(HeaderError::ChecksumMismatch { expected, actual });
        }
        Ok(SegmentHeader {
            version: u32_at(8),
            db_id: u64_at(16),
            first_lsn: u64_at(24),
            prev_crc: u32_at(32),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trip_and_bit_flips() {
        let h = SegmentHeader::new(0xABCD, 17, 99);
        let bytes = h.encode();
        assert_eq!(SegmentHeader::decode(&bytes), Ok(h));
        for bit in 0..SEGMENT_HEADER_BYTES * 8 {
            let mut damaged = bytes;
            damaged[bit / 8] ^= 1 << (bit % 8);
            assert!(SegmentHeader::decode(&damaged).is_err(), "bit {bit}");
        }
        assert_eq!(
            SegmentHeader::decode(&bytes[..39]),
            Err(HeaderError::Truncated)
        );
    }

    #[test]
    fn names() {
        assert_eq!(segment_name(1), "00000000000000000001.log");
        assert_eq!(
            parse_segment_name(Path::new("00000000000000000001.log")),
            Some(1)
        );
        assert_eq!(parse_segment_name(Path::new("1.log")), None);
        assert_eq!(
            parse_segment_name(Path::new("0000000000000000000a.log")),
            None
        );
    }
}
