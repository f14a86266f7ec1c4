//! Writes a frozen month file, streaming: org blocks go to the file as they come (staged in a
//! small buffer); only the directory (40 bytes per org), the top list (16 bytes per org with
//! revenue) and the id filter (10 bits per id) stay in memory until the end.
//!
//! The file is written to `<name>.tmp`, synced, renamed to its name and the directory synced,
//! all through the [`Vfs`]; it is not in force until a manifest lists it
//! ([`super::manifest::FrozenDir::install`]).

use super::block::{self, OrgMonthInput};
use super::filter::{blocks_for, FilterBuilder, PENDING_KEY};
use super::layout::{
    align_up, encode_fence, encode_header, encode_top, encode_top_currency, DirEntry, FileId, Footer, DIR_PAGE_ENTRIES,
    FOOTER_BYTES,
};
use super::manifest::ManifestEntry;
use super::reader::BlockCopy;
use super::view::{BlockRef, OrgMonth};
use crate::error::{Error, Result};
use crate::format::{frozen_file_name, HEADER_BYTES, TMP_EXTENSION};
use crate::io::{AppendFile, Vfs};
use crate::model::{Currency, Kind};
use std::path::{Path, PathBuf};

/// Bytes staged before a write to the file.
const STAGE_BYTES: usize = 1 << 20;

/// What a new file is: which database, month and version, the log range it reflects and the
/// fingerprint of the index catalog its index parts were built with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileMeta {
    pub id: FileId,
    pub lsn_first: u64,
    pub lsn_last: u64,
    /// Opaque to this module (0 = no index parts); readers compare it with their catalog's.
    pub index_fingerprint: u64,
}

/// A frozen month file being written; [`FrozenWriter::finish`] makes it durable under its name.
pub struct FrozenWriter<'a> {
    vfs: &'a dyn Vfs,
    dir: PathBuf,
    tmp: PathBuf,
    path: PathBuf,
    meta: FileMeta,
    file: Box<dyn AppendFile>,
    stage: Vec<u8>,
    written: u64,
    entries: Vec<DirEntry>,
    top: Vec<(Currency, u64, i64)>,
    filter: FilterBuilder,
    rows: u64,
    id_range: Option<(u64, u64)>,
}

impl<'a> FrozenWriter<'a> {
    /// Starts `dir/<YYYY-MM>.v<version>.frz` (written as `….tmp`, replacing a temporary left by
    /// a crash); `expected_ids` sizes the id filter, with room for the pending-org keys (more
    /// keys still work, at a higher false-positive rate).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for version 0 or an LSN range that is not one; [`Error::Io`].
    pub fn create(
        vfs: &'a dyn Vfs,
        dir: &Path,
        meta: FileMeta,
        expected_ids: u64,
    ) -> Result<FrozenWriter<'a>> {
        if meta.id.version == 0
            || meta.lsn_first > meta.lsn_last
            || meta.lsn_last > crate::limits::MAX_LSN
        {
            return Err(Error::InvalidArgument(format!(
                "frozen file version {} with LSN range {}..={}",
                meta.id.version, meta.lsn_first, meta.lsn_last
            )));
        }
        let name = frozen_file_name(meta.id.month, meta.id.version);
        let path = dir.join(&name);
        let tmp = dir.join(format!("{name}.{TMP_EXTENSION}"));
        vfs.create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        if vfs.exists(&tmp) {
            vfs.remove_file(&tmp).map_err(|e| Error::io(&tmp, e))?;
        }
        let file = vfs
            .open_append(&tmp, true)
            .map_err(|e| Error::io(&tmp, e))?;
        let mut writer = FrozenWriter {
            vfs,
            dir: dir.to_path_buf(),
            tmp,
            path,
            meta,
            file,
            stage: Vec::with_capacity(STAGE_BYTES),
            written: 0,
            entries: Vec::new(),
            top: Vec::new(),
            // A quarter more keys than ids: the pending-org keys (at most one per org, and
            // months hold more rows than orgs with pending expenses).
            filter: FilterBuilder::new(blocks_for(expected_ids.saturating_add(expected_ids / 4))),
            rows: 0,
            id_range: None,
        };
        writer.put(&encode_header(meta.id))?;
        Ok(writer)
    }

    fn put(&mut self, bytes: &[u8]) -> Result<()> {
        self.stage.extend_from_slice(bytes);
        self.written += bytes.len() as u64;
        if self.stage.len() >= STAGE_BYTES {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        if !self.stage.is_empty() {
            self.file
                .write_all(&self.stage)
                .map_err(|e| Error::io(&self.tmp, e))?;
            self.stage.clear();
        }
        Ok(())
    }

    /// Adds the next org's block. Orgs come in increasing id order.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for an org out of order or input the file cannot hold (what
    /// [`block::check`] refuses: rows outside the month, bad codes, repeated ids, …), revenue
    /// rows without a known currency; [`Error::Io`].
    pub fn push(&mut self, input: &OrgMonthInput) -> Result<()> {
        let org = input.org.0;
        if self.entries.last().is_some_and(|e| e.org >= org) {
            return Err(Error::InvalidArgument(format!(
                "frozen month input: org {org} after org {}",
                self.entries.last().map_or(0, |e| e.org)
            )));
        }
        let rec = block::build(input, self.meta.id.month)?;
        let bytes = block::encode(&rec)?;
        let (summary, pending) = block::access(&bytes)
            .and_then(|archived| {
                let summary = block::check(archived, self.meta.id.month)?;
                let view = OrgMonth::new(BlockRef::V3(archived), input.org, self.meta.id.month);
                Ok((summary, view.has_pending()))
            })
            .map_err(|why| Error::InvalidArgument(format!("frozen month input: {why}")))?;
        // An org with revenue rows is ranked within its currency's top list.
        let currency = match summary.revenue_rows {
            0 => None,
            _ => Some(input.currency.filter(Currency::is_known).ok_or_else(|| {
                Error::InvalidArgument(format!(
                    "frozen month input: org {org} has revenue rows but no known currency"
                ))
            })?),
        };
        if u32::try_from(bytes.len()).is_err() {
            let why = format!("frozen month input: the block of org {org} exceeds 4 GiB");
            return Err(Error::InvalidArgument(why));
        }
        let offset = self.written;
        debug_assert_eq!(offset % super::layout::BLOCK_ALIGN, 0);
        let end = align_up(offset + bytes.len() as u64)
            .ok_or(Error::InvalidArgument("frozen file too large".into()))?;
        let padding = vec![0u8; (end - offset) as usize - bytes.len()];
        let mut crc = crc32fast::Hasher::new();
        crc.update(&bytes);
        crc.update(&padding);
        self.put(&bytes)?;
        self.put(&padding)?;
        self.entries.push(DirEntry {
            org,
            offset,
            len: bytes.len() as u64,
            id_min: summary.id_min,
            id_max: summary.id_max,
            crc: crc.finalize(),
            rows: None,
        });
        for row in &input.rows {
            self.filter.insert(org, row.entry_id);
        }
        if pending {
            self.filter.insert(org, PENDING_KEY);
        }
        if summary.rows > 0 {
            let (lo, hi) = self.id_range.unwrap_or((u64::MAX, 0));
            self.id_range = Some((lo.min(summary.id_min), hi.max(summary.id_max)));
        }
        if let Some(currency) = currency {
            self.top.push((currency, org, summary.revenue_total));
        }
        self.rows += u64::from(summary.rows);
        Ok(())
    }

    /// Adds the next org's block as a copy of its block in another file of the same month
    /// (a version before this one, written by this build's format): the same bytes and CRC32,
    /// summed and filtered from the checked block. `currency` is the org's, as for
    /// [`FrozenWriter::push`]. Orgs come in increasing id order, copied or not.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for an org out of order, a block of another month, or revenue
    /// rows without a known currency; [`Error::Io`].
    pub fn push_copy(&mut self, copy: &BlockCopy<'_>, currency: Option<Currency>) -> Result<()> {
        let org = copy.entry.org;
        if self.entries.last().is_some_and(|e| e.org >= org) {
            return Err(Error::InvalidArgument(format!(
                "frozen month input: org {org} after org {}",
                self.entries.last().map_or(0, |e| e.org)
            )));
        }
        if copy.view.month() != self.meta.id.month || copy.view.org().0 != org {
            return Err(Error::InvalidArgument(format!(
                "frozen month input: a block of org {} of {} copied into org {org} of {}",
                copy.view.org(),
                copy.view.month(),
                self.meta.id.month
            )));
        }
        let revenue_rows = copy.view.row_count(Kind::Revenue);
        let currency = match revenue_rows {
            0 => None,
            _ => Some(currency.filter(Currency::is_known).ok_or_else(|| {
                Error::InvalidArgument(format!(
                    "frozen month input: org {org} has revenue rows but no known currency"
                ))
            })?),
        };
        let offset = self.written;
        debug_assert_eq!(offset % super::layout::BLOCK_ALIGN, 0);
        self.put(copy.bytes)?;
        let mut rows = 0u64;
        for kind in [Kind::Revenue, Kind::Expense] {
            for row in copy.view.rows(kind) {
                self.filter.insert(org, row.entry_id());
                rows += 1;
            }
        }
        if copy.view.has_pending() {
            self.filter.insert(org, PENDING_KEY);
        }
        let entry = DirEntry {
            offset,
            rows: None,
            ..copy.entry
        };
        if rows > 0 {
            let (lo, hi) = self.id_range.unwrap_or((u64::MAX, 0));
            self.id_range = Some((lo.min(entry.id_min), hi.max(entry.id_max)));
        }
        self.entries.push(entry);
        if let Some(currency) = currency {
            self.top.push((currency, org, copy.view.total(Kind::Revenue)));
        }
        self.rows += rows;
        Ok(())
    }

    /// Bytes of memory the writer holds (directory, top list, filter, stage).
    pub fn heap_bytes(&self) -> usize {
        self.entries.capacity() * std::mem::size_of::<DirEntry>()
            + self.top.capacity() * 16
            + self.filter.heap_bytes()
            + self.stage.capacity()
    }

    /// Writes the directory, fence, top list, filter and footer; syncs the file, renames it to
    /// its name and syncs the directory. Returns what the manifest lists for it.
    ///
    /// # Errors
    /// [`Error::Io`]; the temporary stays behind (removed by the next
    /// [`super::manifest::FrozenDir::load`]).
    pub fn finish(mut self) -> Result<ManifestEntry> {
        let dir_offset = self.written;
        let mut fence = Vec::new();
        for page in std::mem::take(&mut self.entries).chunks(DIR_PAGE_ENTRIES) {
            let bytes: Vec<u8> = page.iter().flat_map(|e| e.encode()).collect();
            fence.extend_from_slice(&encode_fence(page[0].org, crc32fast::hash(&bytes)));
            self.put(&bytes)?;
        }
        let orgs = (self.written - dir_offset) / super::layout::DIR_ENTRY_BYTES as u64;
        let fence_offset = self.written;
        self.put(&fence)?;
        let top_offset = self.written;
        let mut top = std::mem::take(&mut self.top);
        // (currency, total descending, org ascending): each currency's ranking is one run.
        top.sort_unstable_by(|a, b| a.0.cmp(&b.0).then(b.2.cmp(&a.2)).then(a.1.cmp(&b.1)));
        let mut top_bytes: Vec<u8> = Vec::with_capacity(top.len() * 16);
        let mut top_currencies = 0u32;
        for run in top.chunk_by(|a, b| a.0 == b.0) {
            top_bytes.extend_from_slice(&encode_top_currency(run[0].0 .0, run.len() as u64));
            top_currencies += 1;
        }
        top_bytes.extend(top.iter().flat_map(|(_, o, t)| encode_top(*o, *t)));
        self.put(&top_bytes)?;
        let filter_offset = self.written;
        let filter = self.filter.to_bytes();
        self.put(&filter)?;
        let (id_min, id_max) = self.id_range.unwrap_or((0, 0));
        let footer = Footer {
            format: crate::format::FROZEN_FORMAT_VERSION,
            id: self.meta.id,
            lsn_first: self.meta.lsn_first,
            lsn_last: self.meta.lsn_last,
            orgs,
            rows: self.rows,
            dir_offset,
            fence_offset,
            fence_crc: crc32fast::hash(&fence),
            top_crc: crc32fast::hash(&top_bytes),
            top_offset,
            top_entries: top.len() as u64,
            filter_offset,
            filter_blocks: self.filter.blocks(),
            filter_crc: crc32fast::hash(&filter),
            id_min,
            id_max,
            index_fingerprint: self.meta.index_fingerprint,
            top_currencies,
        };
        let footer_bytes = footer.encode();
        self.put(&footer_bytes)?;
        self.flush()?;
        debug_assert!(footer.sections(&self.path, self.written).is_ok());
        self.file.sync_data().map_err(|e| Error::io(&self.tmp, e))?;
        self.vfs
            .rename(&self.tmp, &self.path)
            .map_err(|e| Error::io(&self.path, e))?;
        self.vfs
            .sync_dir(&self.dir)
            .map_err(|e| Error::io(&self.dir, e))?;
        Ok(ManifestEntry {
            month: self.meta.id.month,
            version: self.meta.id.version,
            size: self.written,
            header_crc: super::layout::u32_at(&encode_header(self.meta.id), 12),
            footer_crc: super::layout::u32_at(&footer_bytes, 12),
            lsn_first: self.meta.lsn_first,
            lsn_last: self.meta.lsn_last,
            orgs,
            rows: self.rows,
        })
    }
}

const _: () = assert!((HEADER_BYTES as u64).is_multiple_of(super::layout::BLOCK_ALIGN));
const _: () = assert!(FOOTER_BYTES.is_multiple_of(16));
