//! The frozen files' manifest (`frozen/MANIFEST`): which version of which month is in force,
//! with each file's size, header and footer checksums, LSN range and counts. Replaced
//! atomically ([`Vfs::write_atomic`]: temporary, fsync, rename, directory fsync).
//!
//! ```text
//! header (32 bytes): magic FOLIOFMN, format version, CRC32 of bytes 0..12 ++ 16..end (the whole
//!   file), database id (16..24), entries (24..28, u32), reserved zero (28..32)
//! entry (80 bytes each, months strictly increasing):
//!   0 4 month index (i32)   4 4 version   8 8 file size   16 4 header CRC32   20 4 footer CRC32
//!  24 8 first LSN          32 8 last LSN  40 8 orgs       48 8 rows
//!  56 24 file name, UTF-8, zero-padded: exactly `format::frozen_file_name(month, version)`
//! ```
//!
//! Replacing a month's version ([`FrozenDir::install`]): the new file is written and synced
//! under its own name first ([`super::FrozenWriter::finish`]), then the manifest naming it
//! replaces the old one, then the old file is removed. A crash leaves the old manifest (old
//! version in force, new file unlisted) or the new one (old file unlisted); unlisted files are
//! removed by the next [`FrozenDir::load`].

use super::layout::{u32_at, u64_at};
use super::reader::{Expected, FrozenFile};
use crate::error::{CorruptionKind, Error, Result};
use crate::format::{
    check_sealed, frozen_file_name, header_crc, parse_frozen_file_name, FORMAT_VERSION, FROZEN_DIR,
    FROZEN_MANIFEST, FROZEN_MANIFEST_MAGIC, HEADER_BYTES,
};
use crate::io::{FileKind, Vfs};
use crate::limits::MAX_FROZEN_FILES;
use crate::model::Month;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Bytes of one manifest entry.
pub const MANIFEST_ENTRY_BYTES: usize = 80;
const NAME_BYTES: usize = 24;

/// One frozen file in force.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ManifestEntry {
    pub month: Month,
    pub version: u32,
    pub size: u64,
    /// The CRC32 the file's header and footer carry (each covers its own bytes; the footer's
    /// covers every section's CRC32, so it stands for the whole file).
    pub header_crc: u32,
    pub footer_crc: u32,
    pub lsn_first: u64,
    pub lsn_last: u64,
    pub orgs: u64,
    pub rows: u64,
}

impl ManifestEntry {
    pub fn file_name(&self) -> String {
        frozen_file_name(self.month, self.version)
    }

    /// The entry's 80 bytes, as `frozen/MANIFEST` holds them (the store's frozen set too).
    pub fn to_bytes(self) -> [u8; MANIFEST_ENTRY_BYTES] {
        self.encode()
    }

    /// Reads an entry of 80 bytes found at offset `at` of `path` (named in errors), checked as
    /// the manifest's entries are: a frozen file name of this form, fields that agree with it.
    ///
    /// # Errors
    /// [`Error::Corruption`] naming `path`.
    pub fn from_bytes(path: &Path, at: u64, b: &[u8]) -> Result<ManifestEntry> {
        if b.len() != MANIFEST_ENTRY_BYTES {
            return Err(Error::corruption(
                path,
                at,
                CorruptionKind::BadLength(b.len() as u64),
            ));
        }
        ManifestEntry::decode(path, at, b)
    }

    fn encode(&self) -> [u8; MANIFEST_ENTRY_BYTES] {
        let mut b = [0u8; MANIFEST_ENTRY_BYTES];
        let mut put = |at: usize, v: &[u8]| b[at..at + v.len()].copy_from_slice(v);
        put(0, &self.month.index().to_le_bytes());
        put(4, &self.version.to_le_bytes());
        put(8, &self.size.to_le_bytes());
        put(16, &self.header_crc.to_le_bytes());
        put(20, &self.footer_crc.to_le_bytes());
        put(24, &self.lsn_first.to_le_bytes());
        put(32, &self.lsn_last.to_le_bytes());
        put(40, &self.orgs.to_le_bytes());
        put(48, &self.rows.to_le_bytes());
        put(56, self.file_name().as_bytes());
        b
    }

    fn decode(path: &Path, at: u64, b: &[u8]) -> Result<ManifestEntry> {
        let invalid = |why: String| Error::corruption(path, at, CorruptionKind::InvalidValue(why));
        let raw = &b[56..56 + NAME_BYTES];
        let name_len = raw.iter().position(|&c| c == 0).unwrap_or(NAME_BYTES);
        let name = std::str::from_utf8(&raw[..name_len]).unwrap_or("");
        let Some((month, version)) = parse_frozen_file_name(name) else {
            let shown = String::from_utf8_lossy(&raw[..name_len]);
            return Err(invalid(format!(
                "the manifest names {shown:?}, not a frozen file of this directory"
            )));
        };
        let entry = ManifestEntry {
            month,
            version,
            size: u64_at(b, 8),
            header_crc: u32_at(b, 16),
            footer_crc: u32_at(b, 20),
            lsn_first: u64_at(b, 24),
            lsn_last: u64_at(b, 32),
            orgs: u64_at(b, 40),
            rows: u64_at(b, 48),
        };
        let fields_agree = u32_at(b, 0) as i32 == month.index()
            && u32_at(b, 4) == version
            && raw[name_len..].iter().all(|&c| c == 0)
            && entry.lsn_first <= entry.lsn_last;
        if !fields_agree {
            return Err(invalid(format!("manifest entry of {name} is inconsistent")));
        }
        Ok(entry)
    }
}

/// Encodes a manifest of database `db_id` (entries in month order).
pub fn encode_manifest(db_id: u64, entries: &[ManifestEntry]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(HEADER_BYTES + entries.len() * MANIFEST_ENTRY_BYTES);
    bytes.extend_from_slice(FROZEN_MANIFEST_MAGIC);
    bytes.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    bytes.extend_from_slice(&[0; 4]);
    bytes.extend_from_slice(&db_id.to_le_bytes());
    bytes.extend_from_slice(&(entries.len() as u32).to_le_bytes());
    bytes.extend_from_slice(&[0; 4]);
    for e in entries {
        bytes.extend_from_slice(&e.encode());
    }
    let crc = header_crc(&bytes);
    bytes[12..16].copy_from_slice(&crc.to_le_bytes());
    bytes
}

/// Decodes a manifest: magic, checksum, format version, database id, length, entries (names
/// valid and matching their fields, months strictly increasing).
///
/// # Errors
/// [`Error::Corruption`] naming the manifest; [`Error::FormatVersion`].
pub fn decode_manifest(path: &Path, db_id: u64, bytes: &[u8]) -> Result<Vec<ManifestEntry>> {
    let corrupt = |at: u64, kind| Error::corruption(path, at, kind);
    if bytes.len() < HEADER_BYTES {
        return Err(corrupt(0, CorruptionKind::BadLength(bytes.len() as u64)));
    }
    check_sealed(path, 0, bytes, FROZEN_MANIFEST_MAGIC)?;
    let found = u64_at(bytes, 16);
    if found != db_id {
        let kind = CorruptionKind::ForeignFile {
            field: "database id",
            expected: db_id,
            found,
        };
        return Err(corrupt(16, kind));
    }
    let count = u32_at(bytes, 24) as usize;
    let body = bytes.len() - HEADER_BYTES;
    if count > MAX_FROZEN_FILES || count * MANIFEST_ENTRY_BYTES != body || u32_at(bytes, 28) != 0 {
        return Err(corrupt(24, CorruptionKind::BadLength(bytes.len() as u64)));
    }
    let mut entries: Vec<ManifestEntry> = Vec::with_capacity(count);
    for (i, raw) in bytes[HEADER_BYTES..]
        .chunks_exact(MANIFEST_ENTRY_BYTES)
        .enumerate()
    {
        let at = (HEADER_BYTES + i * MANIFEST_ENTRY_BYTES) as u64;
        let entry = ManifestEntry::decode(path, at, raw)?;
        if entries.last().is_some_and(|l| l.month >= entry.month) {
            let why = format!("manifest lists month {} out of order", entry.month);
            return Err(corrupt(at, CorruptionKind::InvalidValue(why)));
        }
        entries.push(entry);
    }
    Ok(entries)
}

/// The frozen files of one database: its `frozen/` directory and the manifest in force.
#[derive(Clone, Debug)]
pub struct FrozenDir {
    dir: PathBuf,
    db_id: u64,
    entries: BTreeMap<Month, ManifestEntry>,
}

/// What [`FrozenDir::load`] removed: files no manifest lists (left by a crash).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Cleanup {
    pub removed: Vec<PathBuf>,
}

impl FrozenDir {
    /// Reads the manifest of the database directory `db`'s `frozen/` (none: no frozen month), checks that every listed file is a
    /// regular file of the listed size (metadata only: the files' bytes are checked when they
    /// are opened), and removes the files the manifest does not list: temporaries and
    /// versions left by a crash before or after a manifest switch. Without a manifest only
    /// temporaries are removed.
    ///
    /// # Errors
    /// [`Error::Corruption`]: the manifest is damaged, of another database, names something
    /// that is no frozen file name; a listed file is missing (`MissingFile`), no regular file
    /// or of another size (`BadLength`). [`Error::FormatVersion`]; [`Error::Io`].
    pub fn load(vfs: &dyn Vfs, db: &Path, db_id: u64) -> Result<(FrozenDir, Cleanup)> {
        let dir = db.join(FROZEN_DIR);
        let mut frozen = FrozenDir {
            dir: dir.clone(),
            db_id,
            entries: BTreeMap::new(),
        };
        if !vfs.exists(&dir) {
            return Ok((frozen, Cleanup::default()));
        }
        let manifest = frozen.manifest_path();
        let has_manifest = vfs.exists(&manifest);
        if has_manifest {
            let bytes = vfs
                .read_file(&manifest)
                .map_err(|e| Error::io(&manifest, e))?;
            for entry in decode_manifest(&manifest, db_id, &bytes)? {
                frozen.check_listed(vfs, &entry)?;
                frozen.entries.insert(entry.month, entry);
            }
        }
        let cleanup = frozen.remove_unlisted(vfs, has_manifest)?;
        Ok((frozen, cleanup))
    }

    /// The frozen directory of database `db` as `entries` say it is (no I/O): what the database
    /// layer holds once the store's frozen set is loaded, to stage a new file at freeze time.
    pub fn from_entries(db: &Path, db_id: u64, entries: &[ManifestEntry]) -> FrozenDir {
        FrozenDir {
            dir: db.join(FROZEN_DIR),
            db_id,
            entries: entries.iter().map(|e| (e.month, *e)).collect(),
        }
    }

    /// Brings `db`'s `frozen/` in line with `entries`, the frozen set the store's checkpoint
    /// names (the authority): every listed file must be a regular file of its size (metadata
    /// only), `MANIFEST` is rewritten to list exactly `entries` when it does not already, and
    /// every other file of the directory is removed (versions of a freeze whose checkpoint never
    /// landed, versions a later checkpoint superseded, temporaries). With no entries and no
    /// directory nothing is created.
    ///
    /// # Errors
    /// [`Error::Corruption`] naming a listed file that is missing (`MissingFile`) or of another
    /// size or kind (`BadLength`); [`Error::Io`].
    pub fn align(
        vfs: &dyn Vfs,
        db: &Path,
        db_id: u64,
        entries: &[ManifestEntry],
    ) -> Result<(FrozenDir, Cleanup)> {
        let frozen = FrozenDir::from_entries(db, db_id, entries);
        if !vfs.exists(&frozen.dir) {
            if let Some(first) = entries.first() {
                let path = frozen.dir.join(first.file_name());
                return Err(Error::corruption(&path, 0, CorruptionKind::MissingFile));
            }
            return Ok((frozen, Cleanup::default()));
        }
        for entry in frozen.entries.values() {
            frozen.check_listed(vfs, entry)?;
        }
        let manifest = frozen.manifest_path();
        let list: Vec<ManifestEntry> = frozen.entries.values().copied().collect();
        let wanted = encode_manifest(db_id, &list);
        let current = match vfs.exists(&manifest) {
            true => Some(
                vfs.read_file(&manifest)
                    .map_err(|e| Error::io(&manifest, e))?,
            ),
            false => None,
        };
        if current.as_deref() != Some(&wanted[..]) {
            vfs.write_atomic(&manifest, &wanted)
                .map_err(|e| Error::io(&manifest, e))?;
        }
        let cleanup = frozen.remove_unlisted(vfs, true)?;
        Ok((frozen, cleanup))
    }

    /// Lists a written file in `MANIFEST` (replacing its month's entry, if any) **without**
    /// removing the file it replaces: where the store's checkpoint is the authority on which
    /// version is in force, the old file stays until the checkpoint naming the new version is
    /// durable, and [`FrozenDir::align`] (after that checkpoint, or at the next open) removes
    /// whichever version is not in force. The file must exist with the entry's size.
    ///
    /// # Errors
    /// As [`FrozenDir::install`].
    pub fn stage(&mut self, vfs: &dyn Vfs, entry: ManifestEntry) -> Result<()> {
        self.put(vfs, entry).map(|_| ())
    }

    /// Writes the manifest with `entry` in force for its month; returns the entry it replaced.
    fn put(&mut self, vfs: &dyn Vfs, entry: ManifestEntry) -> Result<Option<ManifestEntry>> {
        let old = self.get(entry.month).copied();
        if old.is_some_and(|o| o.version >= entry.version) {
            return Err(Error::InvalidArgument(format!(
                "frozen month {} version {} is not newer than the one in force",
                entry.month, entry.version
            )));
        }
        if self.entries.len() >= MAX_FROZEN_FILES && old.is_none() {
            return Err(Error::InvalidArgument("too many frozen months".into()));
        }
        self.check_listed(vfs, &entry)?;
        let mut next = self.entries.clone();
        next.insert(entry.month, entry);
        let list: Vec<ManifestEntry> = next.values().copied().collect();
        let manifest = self.manifest_path();
        vfs.write_atomic(&manifest, &encode_manifest(self.db_id, &list))
            .map_err(|e| Error::io(&manifest, e))?;
        self.entries = next;
        Ok(old)
    }

    fn manifest_path(&self) -> PathBuf {
        self.dir.join(FROZEN_MANIFEST)
    }

    fn check_listed(&self, vfs: &dyn Vfs, entry: &ManifestEntry) -> Result<()> {
        let path = self.dir.join(entry.file_name());
        let meta = vfs.metadata(&path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => {
                Error::corruption(&path, 0, CorruptionKind::MissingFile)
            }
            _ => Error::io(&path, e),
        })?;
        if meta.kind != FileKind::File || meta.len != entry.size {
            return Err(Error::corruption(
                &path,
                0,
                CorruptionKind::BadLength(meta.len),
            ));
        }
        Ok(())
    }

    fn remove_unlisted(&self, vfs: &dyn Vfs, has_manifest: bool) -> Result<Cleanup> {
        let names = vfs.list(&self.dir).map_err(|e| Error::io(&self.dir, e))?;
        let listed: Vec<String> = self
            .entries
            .values()
            .map(ManifestEntry::file_name)
            .collect();
        let mut cleanup = Cleanup::default();
        for name in names {
            let text = name.to_string_lossy();
            if text == FROZEN_MANIFEST || listed.iter().any(|l| *l == text) {
                continue;
            }
            let path = self.dir.join(&name);
            let temporary = text.ends_with(&format!(".{}", crate::format::TMP_EXTENSION));
            let is_file = vfs.metadata(&path).is_ok_and(|m| m.kind == FileKind::File);
            if is_file && (has_manifest || temporary) {
                vfs.remove_file(&path).map_err(|e| Error::io(&path, e))?;
                tracing::info!(file = %path.display(), "removed a frozen file no manifest lists");
                cleanup.removed.push(path);
            }
        }
        if !cleanup.removed.is_empty() {
            vfs.sync_dir(&self.dir)
                .map_err(|e| Error::io(&self.dir, e))?;
        }
        Ok(cleanup)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The files in force, in month order.
    pub fn entries(&self) -> impl Iterator<Item = &ManifestEntry> {
        self.entries.values()
    }

    pub fn get(&self, month: Month) -> Option<&ManifestEntry> {
        self.entries.get(&month)
    }

    /// The version a new file of `month` gets: one more than the one in force (1 for none).
    pub fn next_version(&self, month: Month) -> Option<u32> {
        self.get(month)
            .map_or(Some(1), |e| e.version.checked_add(1))
    }

    /// Opens the file in force for `month`, checked against its manifest entry.
    ///
    /// # Errors
    /// As [`FrozenFile::open`].
    pub fn open(&self, vfs: &dyn Vfs, month: Month) -> Result<Option<FrozenFile>> {
        let Some(entry) = self.get(month) else {
            return Ok(None);
        };
        let path = self.dir.join(entry.file_name());
        FrozenFile::open(vfs, &path, &Expected::of(self.db_id, entry)).map(Some)
    }

    /// Puts a written file in force: the manifest naming it replaces the old one atomically,
    /// then the file it replaces (if any) is removed. The file must exist with the size the
    /// entry gives (written by [`super::FrozenWriter::finish`]).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] when the entry's version is not newer than the one in force;
    /// [`Error::Corruption`] when the file is missing or of another size; [`Error::Io`] when
    /// the manifest cannot be written (nothing changed then, or the new manifest is in force
    /// if the failure came after its rename: reload to know). A failure to remove the old
    /// file is not an error: the next [`FrozenDir::load`] removes it.
    pub fn install(&mut self, vfs: &dyn Vfs, entry: ManifestEntry) -> Result<()> {
        if let Some(old) = self.put(vfs, entry)? {
            let path = self.dir.join(old.file_name());
            let removed = vfs
                .remove_file(&path)
                .and_then(|()| vfs.sync_dir(&self.dir));
            if let Err(e) = removed {
                tracing::warn!(file = %path.display(), error = %e, "could not remove a replaced frozen file");
            }
        }
        Ok(())
    }
}
