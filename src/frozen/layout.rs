//! The fixed-width parts of a frozen month file: header, footer, directory entries, fence
//! entries, top entries; their little-endian codecs and the arithmetic that places them.
//!
//! ```text
//! [header 32] [org blocks, 16-aligned] [directory pages] [fence] [top] [filter] [footer 160]
//! ```
//!
//! The sections tile the file with no gap: every byte lies in exactly one checksummed range (an
//! org block's range runs to the next 16-byte boundary, so its padding is covered too).

use crate::error::{CorruptionKind, Error, Result};
use crate::format::{
    check_sealed, header_crc, Header, FROZEN_FOOTER_MAGIC, FROZEN_MAGIC,
    HEADER_BYTES,
};
use crate::model::Month;
use std::path::Path;

/// Alignment of every org block (rkyv archives are accessed in place from the map).
pub const BLOCK_ALIGN: u64 = 16;
/// Bytes of one directory entry (format 3).
pub const DIR_ENTRY_BYTES: usize = 40;
/// Bytes of one directory entry of a format-2 file.
pub const DIR_ENTRY_BYTES_V2: usize = 48;

/// Bytes of one directory entry of a file of format `format`.
pub fn dir_entry_bytes(format: u32) -> usize {
    match format {
        2 => DIR_ENTRY_BYTES_V2,
        _ => DIR_ENTRY_BYTES,
    }
}

/// Directory entries per page (the last page may hold fewer): a page is 10 KiB (12 KiB in
/// format 2), one CRC32.
pub const DIR_PAGE_ENTRIES: usize = 256;
/// Bytes of one fence entry (a directory page's first org and CRC32).
pub const FENCE_ENTRY_BYTES: usize = 16;
/// Bytes of one entry of the month-wide top block (org, revenue total), and of one entry of its
/// per-currency index (currency code, entries of that currency).
pub const TOP_ENTRY_BYTES: usize = 16;
/// Bytes of the footer.
pub const FOOTER_BYTES: usize = 160;

/// The start of the next `BLOCK_ALIGN` boundary at or after `at`.
pub fn align_up(at: u64) -> Option<u64> {
    Some(at.checked_add(BLOCK_ALIGN - 1)? & !(BLOCK_ALIGN - 1))
}

/// Which file: what the header (and again the footer) names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileId {
    /// The database the file belongs to.
    pub db_id: u64,
    /// The UTC month of `occurred_at` its ledger rows fall in.
    pub month: Month,
    /// The file version (1, 2, … as the month is frozen again).
    pub version: u32,
}

/// The 32-byte header: the shared header codec, kind `FOLIOFRZ`, body = database id (16..24),
/// month index (24..28, i32), file version (28..32).
pub fn encode_header(id: FileId) -> [u8; HEADER_BYTES] {
    Header::new(FROZEN_MAGIC)
        .put_u64(16, id.db_id)
        .put_u32(24, id.month.index() as u32)
        .put_u32(28, id.version)
        .encode()
}

/// Decodes a header: magic, checksum, format version, then its month must be a valid month.
pub fn decode_header(path: &Path, bytes: &[u8]) -> Result<FileId> {
    let header = Header::decode(path, bytes, FROZEN_MAGIC)?;
    let month = month_at(path, 24, header.u32_at(24))?;
    Ok(FileId {
        db_id: header.u64_at(16),
        month,
        version: header.u32_at(28),
    })
}

fn month_at(path: &Path, offset: u64, raw: u32) -> Result<Month> {
    Month::from_index(raw as i32).map_err(|_| {
        let kind = CorruptionKind::InvalidValue(format!("month index {}", raw as i32));
        Error::corruption(path, offset, kind)
    })
}

/// Where a section lies: an offset and a length in bytes, with the CRC32 of those bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Span {
    pub offset: u64,
    pub len: u64,
    pub crc: u32,
}

/// The footer: the last [`FOOTER_BYTES`] of the file, checksummed like a header (the same
/// layout in formats 2 and 3).
///
/// ```text
/// offset size field
///   0    8    magic FOLIOFRE
///   8    4    format version (the header's)
///  12    4    CRC32 of bytes 0..12 ++ 16..160
///  16    8    database id          24  4  month index (i32)      28  4  file version
///  32    8    first LSN            40  8  last LSN  (the log range the file reflects)
///  48    8    orgs                 56  8  rows
///  64    8    directory offset     72  8  fence offset
///  80    4    fence CRC32          84  4  top CRC32
///  88    8    top offset           96  8  top entries
/// 104    8    filter offset       112  4  filter blocks (64 bytes each)   116  4  filter CRC32
/// 120    8    smallest entry id   128  8  largest entry id
/// 136    8    index catalog fingerprint (given by the writer's caller; 0 = no index parts)
/// 144    4    directory entries per page (256)     148  4  top list currencies
/// 152    8    reserved, zero
/// ```
///
/// The top section is the per-currency index (one 16-byte entry per currency in code order:
/// the 3-byte ISO code, 5 zero bytes, the number of top entries of that currency) followed by
/// the top entries, ordered by (currency, total descending, org ascending).
///
/// ```text
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Footer {
    /// The file's format version (2 or 3).
    pub format: u32,
    pub id: FileId,
    pub lsn_first: u64,
    pub lsn_last: u64,
    pub orgs: u64,
    pub rows: u64,
    pub dir_offset: u64,
    pub fence_offset: u64,
    pub fence_crc: u32,
    pub top_crc: u32,
    pub top_offset: u64,
    pub top_entries: u64,
    pub filter_offset: u64,
    pub filter_blocks: u32,
    pub filter_crc: u32,
    pub id_min: u64,
    pub id_max: u64,
    pub index_fingerprint: u64,
    /// Currencies of the top list (entries of its per-currency index).
    pub top_currencies: u32,
}

fn put(bytes: &mut [u8], at: usize, value: &[u8]) {
    bytes[at..at + value.len()].copy_from_slice(value);
}

/// The little-endian u64 at `at` of `bytes` (0 past the end: callers check lengths first).
pub fn u64_at(bytes: &[u8], at: usize) -> u64 {
    let mut raw = [0u8; 8];
    if let Some(src) = at.checked_add(8).and_then(|end| bytes.get(at..end)) {
        raw.copy_from_slice(src);
    }
    u64::from_le_bytes(raw)
}

/// The little-endian u32 at `at` of `bytes` (0 past the end).
pub fn u32_at(bytes: &[u8], at: usize) -> u32 {
    let mut raw = [0u8; 4];
    if let Some(src) = at.checked_add(4).and_then(|end| bytes.get(at..end)) {
        raw.copy_from_slice(src);
    }
    u32::from_le_bytes(raw)
}

impl Footer {
    pub fn encode(&self) -> [u8; FOOTER_BYTES] {
        let mut b = [0u8; FOOTER_BYTES];
        put(&mut b, 0, FROZEN_FOOTER_MAGIC);
        put(&mut b, 8, &self.format.to_le_bytes());
        put(&mut b, 16, &self.id.db_id.to_le_bytes());
        put(&mut b, 24, &self.id.month.index().to_le_bytes());
        put(&mut b, 28, &self.id.version.to_le_bytes());
        put(&mut b, 32, &self.lsn_first.to_le_bytes());
        put(&mut b, 40, &self.lsn_last.to_le_bytes());
        put(&mut b, 48, &self.orgs.to_le_bytes());
        put(&mut b, 56, &self.rows.to_le_bytes());
        put(&mut b, 64, &self.dir_offset.to_le_bytes());
        put(&mut b, 72, &self.fence_offset.to_le_bytes());
        put(&mut b, 80, &self.fence_crc.to_le_bytes());
        put(&mut b, 84, &self.top_crc.to_le_bytes());
        put(&mut b, 88, &self.top_offset.to_le_bytes());
        put(&mut b, 96, &self.top_entries.to_le_bytes());
        put(&mut b, 104, &self.filter_offset.to_le_bytes());
        put(&mut b, 112, &self.filter_blocks.to_le_bytes());
        put(&mut b, 116, &self.filter_crc.to_le_bytes());
        put(&mut b, 120, &self.id_min.to_le_bytes());
        put(&mut b, 128, &self.id_max.to_le_bytes());
        put(&mut b, 136, &self.index_fingerprint.to_le_bytes());
        put(&mut b, 144, &(DIR_PAGE_ENTRIES as u32).to_le_bytes());
        put(&mut b, 148, &self.top_currencies.to_le_bytes());
        let crc = header_crc(&b);
        put(&mut b, 12, &crc.to_le_bytes());
        b
    }

    /// Decodes the footer found at file offset `at`: magic, checksum, format version, entries
    /// per page, reserved bytes, month. Offsets are checked against the file by
    /// [`Footer::sections`].
    pub fn decode(path: &Path, at: u64, b: &[u8]) -> Result<Footer> {
        let corrupt = |off: u64, kind| Error::corruption(path, at.saturating_add(off), kind);
        if b.len() != FOOTER_BYTES {
            return Err(corrupt(0, CorruptionKind::BadLength(b.len() as u64)));
        }
        check_sealed(path, at, b, FROZEN_FOOTER_MAGIC)?;
        if u32_at(b, 144) as usize != DIR_PAGE_ENTRIES || b[152..].iter().any(|&x| x != 0) {
            let why = "footer page size or reserved bytes".to_string();
            return Err(corrupt(144, CorruptionKind::InvalidValue(why)));
        }
        Ok(Footer {
            format: u32_at(b, 8),
            id: FileId {
                db_id: u64_at(b, 16),
                month: month_at(path, at.saturating_add(24), u32_at(b, 24))?,
                version: u32_at(b, 28),
            },
            lsn_first: u64_at(b, 32),
            lsn_last: u64_at(b, 40),
            orgs: u64_at(b, 48),
            rows: u64_at(b, 56),
            dir_offset: u64_at(b, 64),
            fence_offset: u64_at(b, 72),
            fence_crc: u32_at(b, 80),
            top_crc: u32_at(b, 84),
            top_offset: u64_at(b, 88),
            top_entries: u64_at(b, 96),
            filter_offset: u64_at(b, 104),
            filter_blocks: u32_at(b, 112),
            filter_crc: u32_at(b, 116),
            id_min: u64_at(b, 120),
            id_max: u64_at(b, 128),
            index_fingerprint: u64_at(b, 136),
            top_currencies: u32_at(b, 148),
        })
    }

    /// Directory pages: `ceil(orgs / DIR_PAGE_ENTRIES)`.
    pub fn pages(&self) -> u64 {
        self.orgs.div_ceil(DIR_PAGE_ENTRIES as u64)
    }

    /// The sections' spans, checked to tile `[HEADER_BYTES, file_len - FOOTER_BYTES)` exactly
    /// (blocks, directory, fence, top, filter), with checked arithmetic; an impossible layout is
    /// `Corruption` at the footer.
    pub fn sections(&self, path: &Path, file_len: u64) -> Result<Sections> {
        let footer_at = file_len.checked_sub(FOOTER_BYTES as u64);
        let bad = || {
            let at = footer_at.unwrap_or(0);
            let why = "footer offsets do not tile the file".to_string();
            Error::corruption(
                path,
                at.saturating_add(64),
                CorruptionKind::InvalidValue(why),
            )
        };
        let footer_at = footer_at.ok_or_else(bad)?;
        let dir_len = self
            .orgs
            .checked_mul(dir_entry_bytes(self.format) as u64)
            .ok_or_else(bad)?;
        let fence_len = self
            .pages()
            .checked_mul(FENCE_ENTRY_BYTES as u64)
            .ok_or_else(bad)?;
        let top_len = self
            .top_entries
            .checked_add(u64::from(self.top_currencies))
            .ok_or_else(bad)?
            .checked_mul(TOP_ENTRY_BYTES as u64)
            .ok_or_else(bad)?;
        let filter_len = u64::from(self.filter_blocks) * super::filter::BLOCK_BYTES as u64;
        let tiles = self.dir_offset >= HEADER_BYTES as u64
            && self.dir_offset.is_multiple_of(BLOCK_ALIGN)
            && self.dir_offset.checked_add(dir_len) == Some(self.fence_offset)
            && self.fence_offset.checked_add(fence_len) == Some(self.top_offset)
            && self.top_offset.checked_add(top_len) == Some(self.filter_offset)
            && self.filter_offset.checked_add(filter_len) == Some(footer_at)
            && self.top_entries <= self.orgs
            && u64::from(self.top_currencies) <= self.top_entries
            && (self.top_currencies == 0) == (self.top_entries == 0)
            && self.filter_blocks >= 1
            && self.id_min <= self.id_max
            && self.lsn_first <= self.lsn_last
            && self.lsn_last <= crate::limits::MAX_LSN;
        if !tiles {
            return Err(bad());
        }
        Ok(Sections {
            blocks: HEADER_BYTES as u64..self.dir_offset,
            dir: self.dir_offset..self.fence_offset,
            fence: Span {
                offset: self.fence_offset,
                len: fence_len,
                crc: self.fence_crc,
            },
            top: Span {
                offset: self.top_offset,
                len: top_len,
                crc: self.top_crc,
            },
            filter: Span {
                offset: self.filter_offset,
                len: filter_len,
                crc: self.filter_crc,
            },
            footer_at,
        })
    }
}

/// Where the sections lie (checked against the file's length).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sections {
    pub blocks: std::ops::Range<u64>,
    pub dir: std::ops::Range<u64>,
    pub fence: Span,
    pub top: Span,
    pub filter: Span,
    pub footer_at: u64,
}

/// One directory entry: org, block offset, block archive length, smallest and largest entry
/// id, CRC32 of the block's bytes up to the next 16-byte boundary; in format 2 also the block's
/// rows.
///
/// ```text
/// format 3 (40 bytes):  0 8 org   8 8 offset   16 8 id min   24 8 id max   32 4 length   36 4 CRC32
/// format 2 (48 bytes):  0 8 org   8 8 offset   16 8 length   24 8 id min   32 8 id max   40 4 CRC32   44 4 rows
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DirEntry {
    pub org: u64,
    pub offset: u64,
    pub len: u64,
    pub id_min: u64,
    pub id_max: u64,
    pub crc: u32,
    /// The block's rows: stored in format 2 only.
    pub rows: Option<u32>,
}

impl DirEntry {
    /// The format-3 entry (the writer refuses a block whose length does not fit 4 bytes).
    pub fn encode(&self) -> [u8; DIR_ENTRY_BYTES] {
        let mut b = [0u8; DIR_ENTRY_BYTES];
        put(&mut b, 0, &self.org.to_le_bytes());
        put(&mut b, 8, &self.offset.to_le_bytes());
        put(&mut b, 16, &self.id_min.to_le_bytes());
        put(&mut b, 24, &self.id_max.to_le_bytes());
        put(&mut b, 32, &u32::try_from(self.len).unwrap_or(u32::MAX).to_le_bytes());
        put(&mut b, 36, &self.crc.to_le_bytes());
        b
    }

    /// Decodes an entry of a file of format `format`.
    pub fn decode(b: &[u8], format: u32) -> DirEntry {
        match format {
            2 => DirEntry {
                org: u64_at(b, 0),
                offset: u64_at(b, 8),
                len: u64_at(b, 16),
                id_min: u64_at(b, 24),
                id_max: u64_at(b, 32),
                crc: u32_at(b, 40),
                rows: Some(u32_at(b, 44)),
            },
            _ => DirEntry {
                org: u64_at(b, 0),
                offset: u64_at(b, 8),
                id_min: u64_at(b, 16),
                id_max: u64_at(b, 24),
                len: u64::from(u32_at(b, 32)),
                crc: u32_at(b, 36),
                rows: None,
            },
        }
    }

    /// The bytes the entry's CRC covers: the archive and its padding to the next boundary.
    pub fn covered(&self) -> Option<std::ops::Range<u64>> {
        let end = align_up(self.offset.checked_add(self.len)?)?;
        Some(self.offset..end)
    }
}

/// One fence entry (16 bytes): the first org of a directory page, the page's CRC32, zero.
pub fn encode_fence(first_org: u64, crc: u32) -> [u8; FENCE_ENTRY_BYTES] {
    let mut b = [0u8; FENCE_ENTRY_BYTES];
    put(&mut b, 0, &first_org.to_le_bytes());
    put(&mut b, 8, &crc.to_le_bytes());
    b
}

/// One top entry (16 bytes): org, revenue total of the month (i64).
pub fn encode_top(org: u64, total: i64) -> [u8; TOP_ENTRY_BYTES] {
    let mut b = [0u8; TOP_ENTRY_BYTES];
    put(&mut b, 0, &org.to_le_bytes());
    put(&mut b, 8, &total.to_le_bytes());
    b
}

/// One entry of the top list's per-currency index: the ISO code, 5 zero bytes, the number of
/// top entries of that currency.
pub fn encode_top_currency(code: [u8; 3], entries: u64) -> [u8; TOP_ENTRY_BYTES] {
    let mut b = [0u8; TOP_ENTRY_BYTES];
    put(&mut b, 0, &code);
    put(&mut b, 8, &entries.to_le_bytes());
    b
}

/// Decodes an entry of the per-currency index: `None` when its padding is not zero.
pub fn decode_top_currency(b: &[u8]) -> Option<([u8; 3], u64)> {
    let code = b.get(..3)?.try_into().ok()?;
    let padding_zero = b.get(3..8)?.iter().all(|&x| x == 0);
    padding_zero.then(|| (code, u64_at(b, 8)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn footer_round_trips_and_refuses_any_flipped_bit() {
        let footer = Footer {
            format: crate::format::FROZEN_FORMAT_VERSION,
            id: FileId {
                db_id: 7,
                month: Month::new(2024, 3).expect("month"),
                version: 2,
            },
            lsn_first: 1,
            lsn_last: 9,
            orgs: 3,
            rows: 10,
            dir_offset: 64,
            fence_offset: 64 + 120,
            fence_crc: 5,
            top_crc: 6,
            top_offset: 64 + 120 + 16,
            top_entries: 2,
            filter_offset: 64 + 120 + 16 + 48,
            filter_blocks: 1,
            filter_crc: 8,
            id_min: 1,
            id_max: 99,
            index_fingerprint: 0,
            top_currencies: 1,
        };
        let bytes = footer.encode();
        let path = Path::new("f");
        assert_eq!(Footer::decode(path, 0, &bytes).expect("decode"), footer);
        let len = footer.filter_offset + 64 + FOOTER_BYTES as u64;
        assert!(footer.sections(path, len).is_ok());
        assert!(footer.sections(path, len + 16).is_err());
        for bit in 0..FOOTER_BYTES * 8 {
            let mut damaged = bytes;
            damaged[bit / 8] ^= 1 << (bit % 8);
            assert!(Footer::decode(path, 0, &damaged).is_err(), "bit {bit}");
        }
    }

    /// Header and footer carry the frozen files' own format version; one sealed as format 1
    /// (blocks with stored roll-ups) is refused as another format, naming the file.
    #[test]
    fn a_frozen_file_of_format_one_is_refused_as_another_format() {
        let id = FileId {
            db_id: 7,
            month: Month::new(2024, 3).expect("month"),
            version: 1,
        };
        let path = Path::new("frozen/2024-03.v1.frz");
        let header = encode_header(id);
        assert_eq!(decode_header(path, &header).expect("decode"), id);
        let reseal = |bytes: &mut [u8], version: u32| {
            bytes[8..12].copy_from_slice(&version.to_le_bytes());
            let crc = header_crc(bytes);
            bytes[12..16].copy_from_slice(&crc.to_le_bytes());
        };
        let format_version = |e: Error| match e {
            Error::FormatVersion {
                path: p,
                found,
                supported,
            } => (p, found, supported),
            other => panic!("not a format version error: {other}"),
        };
        let mut old = header;
        reseal(&mut old, 1);
        let err = decode_header(path, &old).expect_err("format 1 header");
        assert_eq!(format_version(err), (path.to_path_buf(), 1, crate::format::FROZEN_FORMAT_VERSION));
        let mut footer = [0u8; FOOTER_BYTES];
        footer[..8].copy_from_slice(FROZEN_FOOTER_MAGIC);
        reseal(&mut footer, 1);
        let err = Footer::decode(path, 100, &footer).expect_err("format 1 footer");
        assert_eq!(format_version(err), (path.to_path_buf(), 1, crate::format::FROZEN_FORMAT_VERSION));
    }
}
