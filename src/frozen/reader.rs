//! Reads a frozen month file through a memory map ([`Vfs::map`]).
//!
//! Opening checks the header and the footer only (192 bytes, whatever the file's size) and the
//! footer's section offsets against the file's length. Every other part is checked on first
//! use and remembered: the fence (one CRC32), a directory page (one CRC32, one bit per page), an
//! org block (its CRC32, then rkyv's bytecheck and [`block::check`], one bit per block), the top
//! list and the filter (one CRC32 each). A block already checked is neither hashed nor
//! bytechecked again: later lookups access its archive unchecked ([`block::access_again`]), as
//! the bytes of an immutable file's map are the ones checked. Bytes never checked are never
//! accessed unchecked.

use super::block::{self, BlockSummary};
use super::block_v2;
use super::filter;
use super::layout::{
    decode_header, decode_top_currency, dir_entry_bytes, u32_at, u64_at, DirEntry, FileId, Footer, Sections, Span,
    DIR_PAGE_ENTRIES, FENCE_ENTRY_BYTES, FOOTER_BYTES, TOP_ENTRY_BYTES,
};
use super::manifest::ManifestEntry;
use super::view::{BlockRef, OrgMonth};
use crate::error::{CorruptionKind, Error, Result};
use crate::format::HEADER_BYTES;
use crate::io::{Mapped, Vfs};
use crate::model::{Currency, Month, OrgId};
use crate::state::catalog::EntryLoc;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::OnceLock;

/// What the opener expects the file to be (from the manifest); `None` fields are not checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Expected {
    pub db_id: u64,
    pub month: Month,
    pub version: u32,
    pub size: Option<u64>,
    pub header_crc: Option<u32>,
    pub footer_crc: Option<u32>,
}

impl Expected {
    /// Everything a manifest entry of database `db_id` says about its file.
    pub fn of(db_id: u64, entry: &ManifestEntry) -> Expected {
        Expected {
            db_id,
            month: entry.month,
            version: entry.version,
            size: Some(entry.size),
            header_crc: Some(entry.header_crc),
            footer_crc: Some(entry.footer_crc),
        }
    }
}

/// The file's bytes: the map itself when it is 16-byte aligned (a real map is page-aligned),
/// else an aligned copy (only for in-memory files of the simulated disk or a fuzzer).
enum Bytes {
    Mapped(Mapped),
    Aligned(rkyv::util::AlignedVec<16>),
}

impl std::ops::Deref for Bytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Bytes::Mapped(m) => m,
            Bytes::Aligned(v) => v,
        }
    }
}

/// A bitset of checked parts, allocated on first use.
#[derive(Default)]
struct Checked {
    bits: OnceLock<Box<[AtomicU64]>>,
}

impl Checked {
    fn words(&self, n: u64) -> &[AtomicU64] {
        self.bits
            .get_or_init(|| (0..n.div_ceil(64)).map(|_| AtomicU64::new(0)).collect())
    }

    fn get(&self, n: u64, i: u64) -> bool {
        self.words(n)
            .get((i / 64) as usize)
            .is_some_and(|w| w.load(Ordering::Acquire) & (1 << (i % 64)) != 0)
    }

    fn set(&self, n: u64, i: u64) {
        if let Some(w) = self.words(n).get((i / 64) as usize) {
            w.fetch_or(1 << (i % 64), Ordering::Release);
        }
    }

    fn heap_bytes(&self) -> usize {
        self.bits.get().map_or(0, |b| b.len() * 8)
    }
}

/// What a reader has done so far (for the open-cost and lookup-cost tests and benchmarks).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReadStats {
    /// Bytes read to decode or checksum (header, footer, verified parts); a part is counted
    /// once, when it is first checked.
    pub bytes_checked: u64,
    /// Org blocks checked (CRC32, bytecheck, [`block::check`]).
    pub blocks_checked: u64,
    /// Directory pages checked.
    pub pages_checked: u64,
    /// Filter probes, and how many of them the filter answered "absent".
    pub filter_probes: u64,
    pub filter_rejects: u64,
}

#[derive(Default)]
struct Counters {
    bytes_checked: AtomicU64,
    blocks_checked: AtomicU64,
    pages_checked: AtomicU64,
    filter_probes: AtomicU64,
    filter_rejects: AtomicU64,
}

/// A file's header and footer bytes.
struct Ends {
    header: [u8; HEADER_BYTES],
    footer: [u8; FOOTER_BYTES],
}

impl Ends {
    /// Those of the file `bytes` (at least a header and a footer long).
    fn of(bytes: &[u8]) -> Ends {
        let mut ends = Ends {
            header: [0; HEADER_BYTES],
            footer: [0; FOOTER_BYTES],
        };
        ends.header.copy_from_slice(&bytes[..HEADER_BYTES]);
        ends.footer.copy_from_slice(&bytes[bytes.len() - FOOTER_BYTES..]);
        ends
    }
}

/// Reads the header and the footer of the file `path` of `len` bytes (at least a header and a
/// footer long).
fn read_ends(vfs: &dyn Vfs, path: &Path, len: usize) -> Result<Ends> {
    let file = vfs.open_read(path).map_err(|e| Error::io(path, e))?;
    let mut ends = Ends {
        header: [0; HEADER_BYTES],
        footer: [0; FOOTER_BYTES],
    };
    let footer_at = (len - FOOTER_BYTES) as u64;
    file.read_exact_at(&mut ends.header, 0)
        .and_then(|()| file.read_exact_at(&mut ends.footer, footer_at))
        .map_err(|e| Error::io(path, e))?;
    Ok(ends)
}

/// An open frozen month file.
pub struct FrozenFile {
    path: PathBuf,
    bytes: Bytes,
    footer: Footer,
    sections: Sections,
    fence_ok: AtomicBool,
    top_ok: AtomicBool,
    filter_ok: AtomicBool,
    pages: Checked,
    blocks: Checked,
    counters: Counters,
}

impl std::fmt::Debug for FrozenFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrozenFile")
            .field("path", &self.path)
            .field("id", &self.footer.id)
            .field("orgs", &self.footer.orgs)
            .field("rows", &self.footer.rows)
            .finish()
    }
}

fn corrupt(path: &Path, offset: u64, kind: CorruptionKind) -> Error {
    Error::corruption(path, offset, kind)
}

fn foreign(path: &Path, field: &'static str, expected: u64, found: u64) -> Error {
    let kind = CorruptionKind::ForeignFile {
        field,
        expected,
        found,
    };
    corrupt(path, 16, kind)
}

impl FrozenFile {
    /// Maps `path` and checks its header and footer against `expected`.
    ///
    /// # Errors
    /// [`Error::Corruption`] naming the file: `MissingFile`, `BadLength` (shorter than a header
    /// and a footer, or another size than the manifest's), `BadMagic`, `ChecksumMismatch` (the
    /// header's or footer's own, or one that differs from the manifest's), `ForeignFile`
    /// (another database, month or version), `InvalidValue` (offsets that do not tile the
    /// file); [`Error::FormatVersion`]; [`Error::Io`].
    pub fn open(vfs: &dyn Vfs, path: &Path, expected: &Expected) -> Result<FrozenFile> {
        let mapped = vfs.map(path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => corrupt(path, 0, CorruptionKind::MissingFile),
            _ => Error::io(path, e),
        })?;
        // Header and footer are read with two small reads rather than through the map: a fault
        // on a mapped page of a file in the page cache may map a whole large folio (hundreds of
        // KiB) into the process, for each of the database's files at every open.
        let len = mapped.len();
        let ends = match len >= HEADER_BYTES + FOOTER_BYTES {
            true => Some(read_ends(vfs, path, len)?),
            false => None,
        };
        FrozenFile::from_parts(path, mapped, ends, expected)
    }

    /// [`FrozenFile::open`] on bytes already read or mapped.
    ///
    /// # Errors
    /// As [`FrozenFile::open`].
    pub fn from_mapped(path: &Path, mapped: Mapped, expected: &Expected) -> Result<FrozenFile> {
        FrozenFile::from_parts(path, mapped, None, expected)
    }

    /// [`FrozenFile::from_mapped`] with the file's header and footer bytes read apart (taken
    /// from `mapped` when `None`).
    fn from_parts(
        path: &Path,
        mapped: Mapped,
        ends: Option<Ends>,
        expected: &Expected,
    ) -> Result<FrozenFile> {
        let len = mapped.len() as u64;
        let min = (HEADER_BYTES + FOOTER_BYTES) as u64;
        if len < min || expected.size.is_some_and(|s| s != len) {
            return Err(corrupt(path, 0, CorruptionKind::BadLength(len)));
        }
        let ends = ends.unwrap_or_else(|| Ends::of(&mapped));
        let id = decode_header(path, &ends.header)?;
        let header_crc = u32_at(&ends.header, 12);
        if let Some(want) = expected.header_crc.filter(|w| *w != header_crc) {
            let kind = CorruptionKind::ChecksumMismatch {
                expected: want,
                actual: header_crc,
            };
            return Err(corrupt(path, 12, kind));
        }
        check_id(path, &id, expected)?;
        let footer_at = len - FOOTER_BYTES as u64;
        let footer = Footer::decode(path, footer_at, &ends.footer)?;
        let footer_crc = u32_at(&ends.footer, 12);
        if let Some(want) = expected.footer_crc.filter(|w| *w != footer_crc) {
            let kind = CorruptionKind::ChecksumMismatch {
                expected: want,
                actual: footer_crc,
            };
            return Err(corrupt(path, footer_at + 12, kind));
        }
        let header_format = crate::format::version_of(&ends.header).unwrap_or_default();
        if footer.id != id || footer.format != header_format {
            let why = "the footer names another file or format than the header".to_string();
            return Err(corrupt(
                path,
                footer_at + 16,
                CorruptionKind::InvalidValue(why),
            ));
        }
        let sections = footer.sections(path, len)?;
        let bytes = if (mapped.as_ptr() as usize).is_multiple_of(16) {
            Bytes::Mapped(mapped)
        } else {
            let mut copy = rkyv::util::AlignedVec::<16>::with_capacity(mapped.len());
            copy.extend_from_slice(&mapped);
            Bytes::Aligned(copy)
        };
        let file = FrozenFile {
            path: path.to_path_buf(),
            bytes,
            footer,
            sections,
            fence_ok: AtomicBool::new(false),
            top_ok: AtomicBool::new(false),
            filter_ok: AtomicBool::new(false),
            pages: Checked::default(),
            blocks: Checked::default(),
            counters: Counters::default(),
        };
        file.count(min);
        Ok(file)
    }

    fn count(&self, bytes: u64) {
        self.counters
            .bytes_checked
            .fetch_add(bytes, Ordering::Relaxed);
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Which database, month and version the file is.
    pub fn id(&self) -> FileId {
        self.footer.id
    }

    /// The log range the file reflects.
    pub fn lsn_range(&self) -> (u64, u64) {
        (self.footer.lsn_first, self.footer.lsn_last)
    }

    pub fn org_count(&self) -> u64 {
        self.footer.orgs
    }

    pub fn row_count(&self) -> u64 {
        self.footer.rows
    }

    pub fn index_fingerprint(&self) -> u64 {
        self.footer.index_fingerprint
    }

    pub fn file_len(&self) -> u64 {
        self.bytes.len() as u64
    }

    /// The whole file as mapped (not checked here: its readers check what they use). A copy of
    /// a file another process has since removed is made from these.
    pub fn raw_bytes(&self) -> &[u8] {
        &self.bytes
    }

    pub(super) fn footer(&self) -> &Footer {
        &self.footer
    }

    pub(super) fn sections(&self) -> &Sections {
        &self.sections
    }

    /// Bytes of one directory entry of this file.
    pub(super) fn dir_entry_bytes(&self) -> usize {
        dir_entry_bytes(self.footer.format)
    }

    /// What the reader has checked so far.
    pub fn stats(&self) -> ReadStats {
        let c = &self.counters;
        ReadStats {
            bytes_checked: c.bytes_checked.load(Ordering::Relaxed),
            blocks_checked: c.blocks_checked.load(Ordering::Relaxed),
            pages_checked: c.pages_checked.load(Ordering::Relaxed),
            filter_probes: c.filter_probes.load(Ordering::Relaxed),
            filter_rejects: c.filter_rejects.load(Ordering::Relaxed),
        }
    }

    /// Anonymous memory the reader holds (not the mapped pages, which the kernel reclaims): the
    /// struct, its path, the bitsets of checked pages and blocks, and the aligned copy of an
    /// unaligned in-memory file.
    pub fn resident_bytes(&self) -> usize {
        let copy = match &self.bytes {
            Bytes::Mapped(Mapped::Owned(v)) => v.capacity(),
            Bytes::Mapped(Mapped::Map(_)) => 0,
            Bytes::Aligned(v) => v.capacity(),
        };
        std::mem::size_of::<FrozenFile>()
            + self.path.as_os_str().len()
            + self.pages.heap_bytes()
            + self.blocks.heap_bytes()
            + copy
    }

    /// The bytes of a span, checked against its CRC32 once (`flag` remembers it).
    fn span(&self, span: &Span, flag: &AtomicBool) -> Result<&[u8]> {
        let bytes = self.range(span.offset, span.len)?;
        if !flag.load(Ordering::Acquire) {
            self.check_crc(span.offset, bytes, span.crc)?;
            self.count(span.len);
            flag.store(true, Ordering::Release);
        }
        Ok(bytes)
    }

    /// `ChecksumMismatch` at `offset` unless `bytes` have the CRC32 `expected`.
    fn check_crc(&self, offset: u64, bytes: &[u8], expected: u32) -> Result<()> {
        let actual = crc32fast::hash(bytes);
        if actual != expected {
            let kind = CorruptionKind::ChecksumMismatch { expected, actual };
            return Err(corrupt(&self.path, offset, kind));
        }
        Ok(())
    }

    /// `len` bytes at `offset`, or `BadLength` when the file ends first.
    fn range(&self, offset: u64, len: u64) -> Result<&[u8]> {
        let end = offset.checked_add(len);
        end.and_then(|end| {
            self.bytes
                .get(usize::try_from(offset).ok()?..usize::try_from(end).ok()?)
        })
        .ok_or_else(|| corrupt(&self.path, offset, CorruptionKind::BadLength(len)))
    }

    pub(super) fn fence(&self) -> Result<&[u8]> {
        let fence = self.sections.fence;
        self.span(&fence, &self.fence_ok)
    }

    pub(super) fn filter_bytes(&self) -> Result<&[u8]> {
        let filter = self.sections.filter;
        self.span(&filter, &self.filter_ok)
    }

    pub(super) fn top_bytes(&self) -> Result<&[u8]> {
        let top = self.sections.top;
        self.span(&top, &self.top_ok)
    }

    /// Directory page `page`, checked against its fence CRC32 once.
    pub(super) fn page(&self, page: u64) -> Result<&[u8]> {
        let fence = self.fence()?;
        let pages = self.footer.pages();
        let first = page * DIR_PAGE_ENTRIES as u64;
        let count = self
            .footer
            .orgs
            .saturating_sub(first)
            .min(DIR_PAGE_ENTRIES as u64);
        let entry_bytes = self.dir_entry_bytes() as u64;
        let offset = self.sections.dir.start + first * entry_bytes;
        let bytes = self.range(offset, count * entry_bytes)?;
        if !self.pages.get(pages, page) {
            let expected = u32_at(fence, page as usize * FENCE_ENTRY_BYTES + 8);
            self.check_crc(offset, bytes, expected)?;
            let fence_org = u64_at(fence, page as usize * FENCE_ENTRY_BYTES);
            if u64_at(bytes, 0) != fence_org {
                let why = format!("fence names org {fence_org}, its page starts elsewhere");
                return Err(corrupt(
                    &self.path,
                    offset,
                    CorruptionKind::InvalidValue(why),
                ));
            }
            self.count(bytes.len() as u64);
            self.counters.pages_checked.fetch_add(1, Ordering::Relaxed);
            self.pages.set(pages, page);
        }
        Ok(bytes)
    }

    /// The directory entry of `org` and its position, when the file holds the org.
    pub(super) fn find(&self, org: u64) -> Result<Option<(u64, DirEntry)>> {
        if self.footer.orgs == 0 {
            return Ok(None);
        }
        let fence = self.fence()?;
        let pages = self.footer.pages() as usize;
        let first_org = |p: usize| u64_at(fence, p * FENCE_ENTRY_BYTES);
        let at = partition_point(pages, |p| first_org(p) <= org);
        let Some(page) = at.checked_sub(1) else {
            return Ok(None);
        };
        let bytes = self.page(page as u64)?;
        let size = self.dir_entry_bytes();
        let entries = bytes.len() / size;
        let org_at = |i: usize| u64_at(bytes, i * size);
        let i = partition_point(entries, |i| org_at(i) < org);
        if i == entries || org_at(i) != org {
            return Ok(None);
        }
        let entry = DirEntry::decode(&bytes[i * size..(i + 1) * size], self.footer.format);
        Ok(Some(((page * DIR_PAGE_ENTRIES + i) as u64, entry)))
    }

    /// The archive of the block at directory position `pos`: CRC32, bytecheck and
    /// [`block::check`] on first use, bytecheck on every use.
    pub(super) fn block(&self, pos: u64, entry: &DirEntry) -> Result<BlockRef<'_>> {
        let (block, _) = self.block_checked(pos, entry, false)?;
        Ok(block)
    }

    /// As [`FrozenFile::block`]; with `always`, checks it again and returns its summary.
    pub(super) fn block_checked(
        &self,
        pos: u64,
        entry: &DirEntry,
        always: bool,
    ) -> Result<(BlockRef<'_>, Option<BlockSummary>)> {
        let covered = entry
            .covered()
            .filter(|r| {
                r.start.is_multiple_of(super::layout::BLOCK_ALIGN)
                    && r.start >= self.sections.blocks.start
                    && r.end <= self.sections.blocks.end
            })
            .ok_or_else(|| {
                let why = format!("block of org {} outside the blocks section", entry.org);
                corrupt(
                    &self.path,
                    self.sections.dir.start,
                    CorruptionKind::InvalidValue(why),
                )
            })?;
        let padded = self.range(covered.start, covered.end - covered.start)?;
        let archive = &padded[..entry.len as usize];
        let checked = self.blocks.get(self.footer.orgs, pos);
        if checked && !always {
            // SAFETY: the bit of block `pos` is set (below) only once this block passed its
            // CRC32, `block::access` and `block::check` at this very range of this map: its
            // offset and length come from directory entry `pos`, whose page is CRC-checked
            // and never changes. The map is of an immutable frozen file (written under a
            // temporary name, synced, renamed, never opened for writing again; see
            // `io::std_fs::map_file`) and nothing writes through it, so the bytes are still
            // the ones `access` accepted — the access of the file's format, which the footer
            // fixed when the file was opened, as it fixes the `access_again` used here.
            #[allow(unsafe_code)]
            let block = match self.footer.format {
                2 => BlockRef::V2(unsafe { block_v2::access_again(archive) }),
                _ => BlockRef::V3(unsafe { block::access_again(archive) }),
            };
            return Ok((block, None));
        }
        self.check_crc(entry.offset, padded, entry.crc)?;
        let archive_error =
            |why| corrupt(&self.path, entry.offset, CorruptionKind::InvalidArchive(why));
        let month = self.footer.id.month;
        let (block, summary) = match self.footer.format {
            2 => {
                let block = block_v2::access(archive).map_err(archive_error)?;
                (BlockRef::V2(block), block_v2::check(block, entry.org, month))
            }
            _ => {
                let block = block::access(archive).map_err(archive_error)?;
                (BlockRef::V3(block), block::check(block, month))
            }
        };
        let summary = summary.map_err(|why| self.invalid_block(entry, why))?;
        let agrees = entry.rows.is_none_or(|rows| rows == summary.rows)
            && summary.id_min == entry.id_min
            && summary.id_max == entry.id_max;
        if !agrees {
            let why = "the directory entry disagrees with its block".to_string();
            return Err(self.invalid_block(entry, why));
        }
        if !checked {
            self.count(padded.len() as u64);
            self.counters.blocks_checked.fetch_add(1, Ordering::Relaxed);
            self.blocks.set(self.footer.orgs, pos);
        }
        Ok((block, Some(summary)))
    }

    fn invalid_block(&self, entry: &DirEntry, why: String) -> Error {
        corrupt(&self.path, entry.offset, CorruptionKind::InvalidValue(why))
    }

    /// The org's month, when the file holds the org.
    ///
    /// # Errors
    /// [`Error::Corruption`] when the fence, the directory page or the block fails its check.
    pub fn org(&self, org: OrgId) -> Result<Option<OrgMonth<'_>>> {
        let Some((pos, entry)) = self.find(org.0)? else {
            return Ok(None);
        };
        let block = self.block(pos, &entry)?;
        Ok(Some(OrgMonth::new(block, org, self.footer.id.month)))
    }

    /// The org's block as this file holds it, checked, for a new version of the month to copy
    /// verbatim ([`super::FrozenWriter::push_copy`]): only a block of the format this build
    /// writes — files of formats 3 and 4 hold the same blocks (`None` for an org the file
    /// lacks, or any block of format 2).
    ///
    /// # Errors
    /// [`Error::Corruption`] when the fence, the directory page or the block fails its check.
    pub fn block_copy(&self, org: OrgId) -> Result<Option<BlockCopy<'_>>> {
        if self.footer.format < 3 {
            return Ok(None);
        }
        let Some((pos, entry)) = self.find(org.0)? else {
            return Ok(None);
        };
        let block = self.block(pos, &entry)?;
        // `block` checked the covered range against the entry's CRC32 (now or before).
        let covered = entry.covered().ok_or_else(|| self.invalid_block(&entry, "length".into()))?;
        let bytes = self.range(covered.start, covered.end - covered.start)?;
        Ok(Some(BlockCopy {
            entry,
            bytes,
            view: OrgMonth::new(block, org, self.footer.id.month),
        }))
    }

    /// Whether the org may have an expense row of this file pending as the file records it:
    /// `false` means certainly not — the file's filter lacks the org's pending key (format 4
    /// on; a file of an older format answers `true`), or the file has no rows. One probe of the
    /// filter: no directory page or block is read.
    ///
    /// # Errors
    /// [`Error::Corruption`] when the filter fails its check (on first use).
    pub fn may_have_pending(&self, org: OrgId) -> Result<bool> {
        if self.footer.format < crate::format::FROZEN_FORMAT_PENDING_KEYS {
            return Ok(true);
        }
        if self.footer.rows == 0 {
            return Ok(false);
        }
        let filter = self.filter_bytes()?;
        Ok(filter::may_contain(filter, org.0, filter::PENDING_KEY))
    }

    /// The largest entry id of the file's rows (0 without rows).
    pub fn id_max(&self) -> u64 {
        match self.footer.rows {
            0 => 0,
            _ => self.footer.id_max,
        }
    }

    /// Where the org's entry `entry_id` is, when this file holds it: the file's id range, then
    /// the filter, then the org's id range, then a binary search of the block's ids.
    ///
    /// # Errors
    /// [`Error::Corruption`] when a part it reads fails its check.
    pub fn contains(&self, org: OrgId, entry_id: u64) -> Result<Option<EntryLoc>> {
        let f = &self.footer;
        if f.rows == 0 || entry_id < f.id_min || entry_id > f.id_max {
            return Ok(None);
        }
        let filter = self.filter_bytes()?;
        self.counters.filter_probes.fetch_add(1, Ordering::Relaxed);
        if !filter::may_contain(filter, org.0, entry_id) {
            self.counters.filter_rejects.fetch_add(1, Ordering::Relaxed);
            return Ok(None);
        }
        let Some((pos, entry)) = self.find(org.0)? else {
            return Ok(None);
        };
        // A block without rows has the id range (0, 0), which holds no entry id.
        if entry_id < entry.id_min || entry_id > entry.id_max {
            return Ok(None);
        }
        let block = self.block(pos, &entry)?;
        let view = OrgMonth::new(block, org, self.footer.id.month);
        Ok(view.entry(entry_id).map(|row| EntryLoc {
            kind: row.kind(),
            occurred_at: row.occurred_at(),
        }))
    }

    /// The top list's per-currency index, checked: currencies in code order, each a known code
    /// with at least one entry, their counts adding up to the list's entries. Each currency
    /// with the range of its entries in the list; and the list's entries.
    ///
    /// # Errors
    /// [`Error::Corruption`] when the top section fails its checksum or its index does not
    /// hold.
    pub(super) fn top_index(&self) -> Result<(Vec<TopRun>, &[u8])> {
        let bytes = self.top_bytes()?;
        let currencies = self.footer.top_currencies as usize;
        let (index, entries) = bytes.split_at((currencies * TOP_ENTRY_BYTES).min(bytes.len()));
        let entries_len = entries.len() / TOP_ENTRY_BYTES;
        let mut out: Vec<TopRun> = Vec::with_capacity(currencies);
        let mut next = 0usize;
        for (i, e) in index.chunks_exact(TOP_ENTRY_BYTES).enumerate() {
            let at = self.sections.top.offset + (i * TOP_ENTRY_BYTES) as u64;
            let bad = |why: &str| {
                corrupt(&self.path, at, CorruptionKind::InvalidValue(format!("top list {why}")))
            };
            let (code, count) = decode_top_currency(e).ok_or_else(|| bad("padding"))?;
            let currency = Currency(code);
            if !currency.is_known() || out.last().is_some_and(|(c, _)| *c >= currency) {
                return Err(bad("currency out of order or unknown"));
            }
            let end = usize::try_from(count)
                .ok()
                .filter(|&n| n > 0)
                .and_then(|n| next.checked_add(n))
                .filter(|&end| end <= entries_len)
                .ok_or_else(|| bad("currency count"))?;
            out.push((currency, next..end));
            next = end;
        }
        if next != entries_len {
            let at = self.sections.top.offset;
            let why = "top list currency counts differ from its entries".to_string();
            return Err(corrupt(&self.path, at, CorruptionKind::InvalidValue(why)));
        }
        Ok((out, entries))
    }

    /// Q5 of the file's month: per currency (in code order), its first `limit` orgs by revenue
    /// of the month (total descending, then org ascending), reading only those entries of the
    /// top list.
    ///
    /// # Errors
    /// [`Error::Corruption`] when the top list fails its checksum or its index does not hold.
    pub fn top_revenue(&self, limit: usize) -> Result<Vec<(Currency, OrgId, i64)>> {
        let (index, entries) = self.top_index()?;
        let mut out = Vec::new();
        for (currency, range) in index {
            let end = range.end.min(range.start.saturating_add(limit));
            let run = &entries[range.start * TOP_ENTRY_BYTES..end * TOP_ENTRY_BYTES];
            out.extend(run.chunks_exact(TOP_ENTRY_BYTES).map(|e| top_entry(currency, e)));
        }
        Ok(out)
    }

    /// The whole top list in file order: by currency code, then rank (revenue total of the
    /// month descending, then org ascending); every org with at least one revenue row.
    ///
    /// # Errors
    /// [`Error::Corruption`] when the top list fails its checksum or its index does not hold.
    pub fn top(&self) -> Result<Vec<(Currency, OrgId, i64)>> {
        self.top_revenue(usize::MAX)
    }

    /// Every org of the file, in id order, with its directory entry (pages checked as they are
    /// read).
    pub(super) fn directory(&self) -> impl Iterator<Item = Result<(u64, DirEntry)>> + '_ {
        let pages = self.footer.pages();
        (0..pages).flat_map(move |page| {
            let items: Vec<Result<(u64, DirEntry)>> = match self.page(page) {
                Err(e) => vec![Err(e)],
                Ok(bytes) => bytes
                    .chunks_exact(self.dir_entry_bytes())
                    .enumerate()
                    .map(|(i, b)| {
                        Ok((
                            page * DIR_PAGE_ENTRIES as u64 + i as u64,
                            DirEntry::decode(b, self.footer.format),
                        ))
                    })
                    .collect(),
            };
            items
        })
    }

    /// Every org of the file, in id order (directory pages checked as they are read; blocks
    /// not touched).
    pub fn orgs(&self) -> impl Iterator<Item = Result<OrgId>> + '_ {
        self.directory()
            .map(|item| item.map(|(_, entry)| OrgId(entry.org)))
    }
}

/// An org's checked block of a file, with the bytes its directory entry's CRC32 covers (the
/// archive and its padding) and its directory entry.
pub struct BlockCopy<'a> {
    pub entry: DirEntry,
    pub bytes: &'a [u8],
    pub view: OrgMonth<'a>,
}

/// One currency of the top list and the range of its entries.
pub(super) type TopRun = (Currency, std::ops::Range<usize>);

fn top_entry(currency: Currency, e: &[u8]) -> (Currency, OrgId, i64) {
    (currency, OrgId(u64_at(e, 0)), u64_at(e, 8) as i64)
}

/// The first `i` in `0..n` for which `pred` is false (`pred` true then false over `0..n`).
pub(super) fn partition_point(n: usize, pred: impl Fn(usize) -> bool) -> usize {
    let (mut lo, mut hi) = (0, n);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if pred(mid) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    lo
}

fn check_id(path: &Path, id: &FileId, expected: &Expected) -> Result<()> {
    if id.db_id != expected.db_id {
        return Err(foreign(path, "database id", expected.db_id, id.db_id));
    }
    if id.month != expected.month {
        let (want, found) = (expected.month.index(), id.month.index());
        return Err(foreign(path, "month", want as u64, found as u64));
    }
    if id.version != expected.version {
        let (want, found) = (expected.version, id.version);
        return Err(foreign(path, "version", u64::from(want), u64::from(found)));
    }
    Ok(())
}
