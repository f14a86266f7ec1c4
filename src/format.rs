//! The on-disk format's shared pieces: the format version, the name of every file and directory
//! a database (or a checkpoint directory) holds, and the 32-byte header of its small identity and
//! mark files (`FOLIO`, `DURABLE`, `BASE`).
//!
//! ```text
//! <db>/FOLIO          identity: format version, database id, shard count   (store::meta)
//! <db>/LOCK           the database lock (flock)                             (db::open)
//! <db>/DURABLE        an LSN the log is known durable up to                 (store::durable)
//! <db>/BASE           a replica directory's base LSN and checksum           (db::edge)
//! <db>/MANIFEST.json  a checkpoint directory's files, lengths and CRC32s    (db::edge)
//! <db>/recovery.log   what recovery cut or rebuilt                          (db::recovery_log)
//! <db>/wal/           log segments `<first LSN, 20 digits>.log`             (wal::segment)
//! <db>/state/         the sled store                                        (store::checkpoint)
//! <db>/state.compact/ <db>/state.old/   a store compaction under way        (store::compact)
//! <db>/frozen/        frozen month files `<YYYY-MM>.v<N>.frz` and their `MANIFEST` (frozen)
//! ```
//!
//! Header of `FOLIO`, `DURABLE` and `BASE` (the log segments' 40-byte header keeps the same first
//! 16 bytes and checksum rule, see `wal::segment`):
//!
//! ```text
//! offset size field
//!  0     8    magic (names the kind of file)
//!  8     4    format version (u32 LE)
//! 12     4    CRC32 of bytes 0..12 ++ 16..end
//! 16    16    body (per kind of file)
//! ```

use crate::error::{CorruptionKind, Error, Result};
use crate::model::Month;
use std::path::Path;

/// The on-disk format this build reads and writes.
pub const FORMAT_VERSION: u32 = 1;

/// The format of frozen month files (their header and footer), versioned apart from the rest:
/// 4 since the id filter also holds the key ([`crate::frozen::filter::PENDING_KEY`]) of every
/// org whose block has a pending expense row, so that Q4 passes over a file without looking
/// the org up; 3 (the same blocks and sections, without those keys) since org blocks hold rows
/// of 24 bytes with their rare parts apart, day rows without their running net, and 40-byte
/// directory entries (`frozen::block`); 2 stored rows of 64 bytes (`frozen::block_v2`). Formats
/// 2 and 3 are read as well; a file of format 1 (roll-ups stored in every block) is refused
/// with [`Error::FormatVersion`].
pub const FROZEN_FORMAT_VERSION: u32 = 4;

/// The frozen-file format versions this build reads.
pub const FROZEN_FORMAT_VERSIONS_READ: [u32; 3] = [2, 3, FROZEN_FORMAT_VERSION];

/// The first frozen-file format whose id filter holds the pending-org keys.
pub const FROZEN_FORMAT_PENDING_KEYS: u32 = 4;

/// The format of the log's segments (their header), versioned apart from the rest: 2 since a
/// frame may hold a compact batch (`codec::compact`, bit 31 of its operation-count field). A
/// segment of version 1 holds rkyv batches only and is read as well; a writer never appends to
/// one (it starts a new segment), so a build that reads only version 1 refuses a log this build
/// wrote with [`Error::FormatVersion`] instead of misreading it.
pub const SEGMENT_FORMAT_VERSION: u32 = 2;

/// The segment format versions this build reads.
pub const SEGMENT_FORMAT_VERSIONS_READ: [u32; 2] = [1, SEGMENT_FORMAT_VERSION];

/// The format version a file of kind `magic` carries in this build.
pub fn format_version_of_kind(magic: &[u8; 8]) -> u32 {
    if magic == FROZEN_MAGIC || magic == FROZEN_FOOTER_MAGIC {
        FROZEN_FORMAT_VERSION
    } else {
        FORMAT_VERSION
    }
}

/// The database's identity file (format version, database id, shard count).
pub const META_FILE: &str = "FOLIO";
/// The database lock, taken exclusively by a writer (and shared by read-only opens of a
/// directory without a [`READ_GATE_FILE`]).
pub const LOCK_FILE: &str = "LOCK";
/// The read gate: taken exclusively by a writer while it changes the files a read-only open
/// reads whole, and shared by a read-only open while it opens (`db::gate`).
pub const READ_GATE_FILE: &str = "LOCK.read";
/// An LSN up to which the log is known durable.
pub const DURABLE_FILE: &str = "DURABLE";
/// Marks a replica directory: the LSN its log continues from and that frame's checksum.
pub const BASE_FILE: &str = "BASE";
/// Lists a checkpoint's files with their lengths and CRC32s; checked before first use.
pub const MANIFEST_FILE: &str = "MANIFEST.json";
/// What recovery cut or rebuilt and what an operator accepted to lose, one JSON line each.
pub const RECOVERY_LOG: &str = "recovery.log";
/// Sub-directory of a database holding the log segments.
pub const WAL_DIR: &str = "wal";
/// Sub-directory holding the sled store.
pub const STORE_DIR: &str = "state";
/// Left by a writer that found a damaged value in the store while it loaded orgs (`db::lazy`;
/// it holds the reason): the next open rebuilds the store from the log, as for a store that
/// cannot be opened, and removes it.
pub const STORE_DAMAGED_FILE: &str = "state.damaged";
/// A compacted copy of the store being written (`store::compact`); complete once `state` is
/// renamed to [`STORE_OLD_DIR`].
pub const STORE_COMPACT_DIR: &str = "state.compact";
/// The store a compaction replaced, until it is removed (`store::compact`).
pub const STORE_OLD_DIR: &str = "state.old";
/// Extension of a log segment's file name (`<first LSN, 20 digits>.log`).
pub const SEGMENT_EXTENSION: &str = "log";
/// Extension of the temporary a file is written to before it is renamed over its name.
pub const TMP_EXTENSION: &str = "tmp";
/// Suffix of the hidden sibling a checkpoint is copied into before it gets its name
/// (`.<name>.seeding`).
pub const SEEDING_SUFFIX: &str = ".seeding";

/// Sub-directory holding the frozen month files and their manifest.
pub const FROZEN_DIR: &str = "frozen";
/// The list of frozen month files in force, inside [`FROZEN_DIR`].
pub const FROZEN_MANIFEST: &str = "MANIFEST";
/// Extension of a frozen month file's name (`<YYYY-MM>.v<version>.frz`).
pub const FROZEN_EXTENSION: &str = "frz";

/// Magic of `FOLIO`.
pub const META_MAGIC: &[u8; 8] = b"FOLIODB\0";
/// Magic of `DURABLE`.
pub const DURABLE_MAGIC: &[u8; 8] = b"FOLIODUR";
/// Magic of `BASE`.
pub const BASE_MAGIC: &[u8; 8] = b"FOLIOBAS";

/// Magic of a frozen month file's header.
pub const FROZEN_MAGIC: &[u8; 8] = b"FOLIOFRZ";
/// Magic of a frozen month file's footer.
pub const FROZEN_FOOTER_MAGIC: &[u8; 8] = b"FOLIOFRE";
/// Magic of the frozen files' manifest.
pub const FROZEN_MANIFEST_MAGIC: &[u8; 8] = b"FOLIOFMN";

/// The file name of version `version` of the frozen month `month`: `2024-03.v3.frz`.
pub fn frozen_file_name(month: Month, version: u32) -> String {
    format!("{month}.v{version}.{FROZEN_EXTENSION}")
}

/// The month and version a frozen month file's name names; `None` for any other name (only
/// the exact form [`frozen_file_name`] writes is accepted: no path, no leading zeros, version
/// at least 1).
pub fn parse_frozen_file_name(name: &str) -> Option<(Month, u32)> {
    let stem = name.strip_suffix(FROZEN_EXTENSION)?.strip_suffix('.')?;
    let (month, version) = stem.split_once(".v")?;
    let (year, number) = month.split_once('-')?;
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(year) || !all_digits(number) || !all_digits(version) {
        return None;
    }
    let month = Month::new(year.parse().ok()?, number.parse().ok()?).ok()?;
    let version: u32 = version.parse().ok()?;
    (version >= 1 && frozen_file_name(month, version) == name).then_some((month, version))
}

/// Length of a header file (`FOLIO`, `DURABLE`, `BASE`).
pub const HEADER_BYTES: usize = 32;

/// The checksum of a header: CRC32 of bytes 0..12 and 16..end (the CRC itself sits at 12..16).
pub fn header_crc(bytes: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&bytes[0..12]);
    hasher.update(&bytes[16..]);
    hasher.finalize()
}

/// A 32-byte header file: built with [`Header::new`] and the `put_*` setters, sealed into bytes
/// with [`Header::encode`]; read back and checked with [`Header::decode`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    bytes: [u8; HEADER_BYTES],
}

impl Header {
    /// A header of the kind `magic` at this build's format version, with an all-zero body.
    pub fn new(magic: &[u8; 8]) -> Header {
        let mut bytes = [0u8; HEADER_BYTES];
        bytes[0..8].copy_from_slice(magic);
        bytes[8..12].copy_from_slice(&format_version_of_kind(magic).to_le_bytes());
        Header { bytes }
    }

    /// Sets the body's u64 at file offset `at` (16..=24).
    pub fn put_u64(mut self, at: usize, value: u64) -> Header {
        debug_assert!((16..=HEADER_BYTES - 8).contains(&at), "body offset {at}");
        self.bytes[at..at + 8].copy_from_slice(&value.to_le_bytes());
        self
    }

    /// Sets the body's u32 at file offset `at` (16..=28).
    pub fn put_u32(mut self, at: usize, value: u32) -> Header {
        debug_assert!((16..=HEADER_BYTES - 4).contains(&at), "body offset {at}");
        self.bytes[at..at + 4].copy_from_slice(&value.to_le_bytes());
        self
    }

    /// The body's u64 at file offset `at`.
    pub fn u64_at(&self, at: usize) -> u64 {
        let mut raw = [0u8; 8];
        raw.copy_from_slice(&self.bytes[at..at + 8]);
        u64::from_le_bytes(raw)
    }

    /// The body's u32 at file offset `at`.
    pub fn u32_at(&self, at: usize) -> u32 {
        let mut raw = [0u8; 4];
        raw.copy_from_slice(&self.bytes[at..at + 4]);
        u32::from_le_bytes(raw)
    }

    /// The file's bytes, checksum included.
    pub fn encode(&self) -> [u8; HEADER_BYTES] {
        let mut bytes = self.bytes;
        let crc = header_crc(&bytes);
        bytes[12..16].copy_from_slice(&crc.to_le_bytes());
        debug_assert!(
            Header::decode(Path::new(""), &bytes, self.magic()).is_ok(),
            "an encoded header decodes"
        );
        bytes
    }

    fn magic(&self) -> &[u8; 8] {
        self.bytes[0..8].try_into().unwrap_or(&[0; 8])
    }

    /// Checks the header file `path` holding `bytes` against the kind `magic`, in this order:
    /// magic (a file shorter than 12 bytes has none), checksum (when the file holds one), format
    /// version, length. Every version keeps magic and checksum where they are, so a damaged
    /// version field reads as damage, not as a newer format.
    pub fn decode(path: &Path, bytes: &[u8], magic: &[u8; 8]) -> Result<Header> {
        if bytes.len() >= 16 {
            check_sealed(path, 0, bytes, magic)?;
        } else {
            // Too short to hold a checksum: a torn write, or no Folio file at all.
            if bytes.len() < 12 || &bytes[0..8] != magic {
                return Err(Error::corruption(path, 0, CorruptionKind::BadMagic));
            }
            check_version(path, bytes, magic)?;
        }
        let Ok(bytes) = <[u8; HEADER_BYTES]>::try_from(bytes) else {
            let kind = CorruptionKind::BadLength(bytes.len() as u64);
            return Err(Error::corruption(path, 0, kind));
        };
        Ok(Header { bytes })
    }
}

/// Checks a sealed record of at least 16 bytes found at `offset` of the file `path` (a header
/// file, the frozen files' footer and manifest): magic at 0..8, then the CRC32 at 12..16 over
/// the rest ([`header_crc`]), then the format version at 8..12. Every version keeps magic and
/// checksum where they are, so a damaged version field reads as damage, not as a newer format.
pub fn check_sealed(path: &Path, offset: u64, bytes: &[u8], magic: &[u8; 8]) -> Result<()> {
    if bytes.len() < 16 || &bytes[0..8] != magic {
        return Err(Error::corruption(path, offset, CorruptionKind::BadMagic));
    }
    let expected = u32::from_le_bytes([bytes[12], bytes[13], bytes[14], bytes[15]]);
    let actual = header_crc(bytes);
    if expected != actual {
        let kind = CorruptionKind::ChecksumMismatch { expected, actual };
        return Err(Error::corruption(path, offset.saturating_add(12), kind));
    }
    check_version(path, bytes, magic)
}

fn check_version(path: &Path, bytes: &[u8], magic: &[u8; 8]) -> Result<()> {
    let version = version_of(bytes).unwrap_or_default();
    let supported = format_version_of_kind(magic);
    let frozen = magic == FROZEN_MAGIC || magic == FROZEN_FOOTER_MAGIC;
    let read = version == supported || (frozen && FROZEN_FORMAT_VERSIONS_READ.contains(&version));
    if !read {
        return Err(Error::FormatVersion {
            path: path.to_path_buf(),
            found: version,
            supported,
        });
    }
    Ok(())
}

/// The format version a header file names (bytes 8..12), if it is long enough to name one.
pub fn version_of(bytes: &[u8]) -> Option<u32> {
    let raw = bytes.get(8..12)?;
    Some(u32::from_le_bytes([raw[0], raw[1], raw[2], raw[3]]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_header_round_trips_and_every_bit_flip_is_refused() {
        let bytes = Header::new(DURABLE_MAGIC)
            .put_u64(16, 42)
            .put_u64(24, 7)
            .encode();
        let back = Header::decode(Path::new("x"), &bytes, DURABLE_MAGIC).expect("decode");
        assert_eq!((back.u64_at(16), back.u64_at(24)), (42, 7));
        assert_eq!(back.encode(), bytes);
        for bit in 0..HEADER_BYTES * 8 {
            let mut damaged = bytes;
            damaged[bit / 8] ^= 1 << (bit % 8);
            assert!(
                Header::decode(Path::new("x"), &damaged, DURABLE_MAGIC).is_err(),
                "bit {bit}"
            );
        }
        assert!(Header::decode(Path::new("x"), &bytes, BASE_MAGIC).is_err());
    }

    #[test]
    fn frozen_file_names_round_trip_and_nothing_else_parses() {
        let march = Month::new(2024, 3).expect("month");
        assert_eq!(frozen_file_name(march, 3), "2024-03.v3.frz");
        assert_eq!(parse_frozen_file_name("2024-03.v3.frz"), Some((march, 3)));
        let first = Month::MIN;
        assert_eq!(
            parse_frozen_file_name(&frozen_file_name(first, u32::MAX)),
            Some((first, u32::MAX))
        );
        for bad in [
            "2024-03.v0.frz",
            "2024-03.v03.frz",
            "2024-3.v1.frz",
            "2024-13.v1.frz",
            "0000-01.v1.frz",
            "../2024-03.v1.frz",
            "2024-03.v1.frz.tmp",
            "2024-03.v+1.frz",
            "2024-03.v1",
            "MANIFEST",
            "",
        ] {
            assert_eq!(parse_frozen_file_name(bad), None, "{bad}");
        }
    }
}
