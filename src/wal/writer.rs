//! Appends frames to the active segment; rotates segments; syncs.

use super::position::{LogMarks, LogPosition};
use super::segment::{parse_segment_name, segment_path, SegmentHeader, SEGMENT_HEADER_BYTES};
use crate::format::SEGMENT_FORMAT_VERSION;
use crate::codec::frame::{decode_frame, encode_frame};
use crate::io::{AppendFile, Vfs};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The single writer of the log. Frames are staged in memory by [`LogWriter::stage`] and reach
/// the file in one write per group by [`LogWriter::write_staged`].
pub struct LogWriter {
    vfs: Arc<dyn Vfs>,
    dir: PathBuf,
    db_id: u64,
    file: Box<dyn AppendFile>,
    segment_path: PathBuf,
    /// The first LSN the active segment's name carries.
    segment_lsn: u64,
    segment_len: u64,
    next_lsn: u64,
    prev_crc: u32,
    staged: Vec<u8>,
    /// LSN and chain CRC before the first staged frame (meaningful while `staged` is non-empty).
    staged_first: (u64, u32),
    /// Rotate once the active segment is at least this long.
    segment_target: u64,
    /// Whether the active segment has writes not yet synced.
    unsynced: bool,
    /// Only with the planted bug `AckBeforeFsync`: a sync owed to the last group.
    deferred_sync: bool,
    /// The frame boundary after each group written ([`LogWriter::marks`]).
    marks: Arc<LogMarks>,
}

/// Where the log ends: the state a writer continues from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogEnd {
    pub next_lsn: u64,
    pub prev_crc: u32,
    /// The active segment and its valid length, if any segment exists.
    pub active: Option<(PathBuf, u64)>,
    /// The active segment's format version (its header's; 0 without one).
    pub active_version: u32,
}

impl LogWriter {
    /// Continues the log at `end`, creating the first segment when there is none.
    pub fn open(
        vfs: Arc<dyn Vfs>,
        dir: &Path,
        db_id: u64,
        end: LogEnd,
        segment_target: u64,
    ) -> io::Result<LogWriter> {
        let continued = |path: &Path| {
            let name = path.file_name().map(Path::new);
            name.and_then(parse_segment_name).ok_or_else(|| {
                io::Error::new(io::ErrorKind::InvalidInput, "not a log segment's name")
            })
        };
        let (file, segment_path, segment_lsn, segment_len) = match end.active {
            Some((path, len)) if end.active_version == SEGMENT_FORMAT_VERSION => {
                let first = continued(&path)?;
                (vfs.open_append(&path, false)?, path, first, len)
            }
            Some((path, len)) => {
                // A segment of an earlier format takes no frame of this one (a build that reads
                // only that format would misread it): the log goes on in a new segment. Its
                // frames are made durable first, as `sync_recovered` does for a continued one;
                // one without frames (a header only) is replaced.
                let mut old = vfs.open_append(&path, false)?;
                old.sync_data()?;
                drop(old);
                if len <= SEGMENT_HEADER_BYTES as u64 {
                    vfs.remove_file(&path)?;
                }
                let (file, path) = create_segment(&*vfs, dir, db_id, end.next_lsn, end.prev_crc)?;
                (file, path, end.next_lsn, SEGMENT_HEADER_BYTES as u64)
            }
            None => {
                let (file, path) = create_segment(&*vfs, dir, db_id, end.next_lsn, end.prev_crc)?;
                (file, path, end.next_lsn, SEGMENT_HEADER_BYTES as u64)
            }
        };
        let writer = LogWriter {
            vfs,
            dir: dir.to_path_buf(),
            db_id,
            file,
            segment_path,
            segment_lsn,
            segment_len,
            next_lsn: end.next_lsn,
            prev_crc: end.prev_crc,
            staged: Vec::new(),
            staged_first: (0, 0),
            segment_target: segment_target.max(SEGMENT_HEADER_BYTES as u64 + 1),
            unsynced: false,
            deferred_sync: false,
            marks: Arc::new(LogMarks::default()),
        };
        writer.mark();
        Ok(writer)
    }

    /// The frame boundaries after the groups this writer wrote (and where it started): what a
    /// checkpoint records for recovery to start from.
    pub fn marks(&self) -> Arc<LogMarks> {
        self.marks.clone()
    }

    /// Remembers where the next frame will start.
    fn mark(&self) {
        self.marks.record(LogPosition {
            segment_lsn: self.segment_lsn,
            offset: self.segment_len,
            next_lsn: self.next_lsn,
            prev_crc: self.prev_crc,
        });
    }

    /// Makes the segment being continued durable as recovery read it (it may have been written
    /// under buffered durability by a process that was then killed), with its directory entry.
    pub fn sync_recovered(&mut self) -> io::Result<()> {
        self.file.sync_data()?;
        self.vfs.sync_dir(&self.dir)
    }

    /// Checksum of the last frame staged or written: what the next frame chains to.
    pub fn last_crc(&self) -> u32 {
        self.prev_crc
    }

    /// The LSN the next staged frame will get.
    pub fn next_lsn(&self) -> u64 {
        self.next_lsn
    }

    /// Encodes a frame into the staging buffer and returns its LSN.
    pub fn stage(&mut self, payload: &[u8], op_count: u32) -> u64 {
        let lsn = self.next_lsn;
        if self.staged.is_empty() {
            self.staged_first = (lsn, self.prev_crc);
        }
        let (start, prev_crc) = (self.staged.len(), self.prev_crc);
        self.prev_crc = encode_frame(&mut self.staged, lsn, prev_crc, op_count, payload);
        // What recovery and followers check when they read it back: the frame decodes with this
        // LSN (one more than the frame before), this chain and this operation count.
        debug_assert!(
            matches!(
                decode_frame(&self.staged[start..]),
                Ok((h, p)) if h.lsn == lsn && h.prev_crc == prev_crc && h.op_count == op_count
                    && h.crc == self.prev_crc && p == payload
            ),
            "frame {lsn} decodes as it was encoded"
        );
        self.next_lsn += 1;
        lsn
    }

    /// Writes all staged frames with one write call (rotating first if the segment is full),
    /// then syncs when `sync` is set.
    pub fn write_staged(&mut self, sync: bool) -> io::Result<()> {
        if self.deferred_sync {
            // Planted bug `AckBeforeFsync`: the previous group's sync happens only now.
            self.deferred_sync = false;
            self.file.sync_data()?;
        }
        if self.staged.is_empty() {
            return if sync { self.sync() } else { Ok(()) };
        }
        if self.segment_len >= self.segment_target {
            self.rotate()?;
        }
        self.file.write_all(&self.staged)?;
        self.segment_len += self.staged.len() as u64;
        self.staged.clear();
        self.unsynced = true;
        self.mark();
        if sync {
            self.sync()?;
        }
        Ok(())
    }

    /// Makes everything written durable.
    pub fn sync(&mut self) -> io::Result<()> {
        if self.unsynced {
            if planted!(SkipFsync) {
                self.unsynced = false;
                return Ok(());
            }
            if planted!(AckBeforeFsync) {
                self.unsynced = false;
                self.deferred_sync = true;
                return Ok(());
            }
            if let Err(e) = self.file.sync_data() {
                if !planted!(RetryFailedFsync) {
                    return Err(e);
                }
                self.file.sync_data()?;
            }
            self.unsynced = false;
        }
        Ok(())
    }

    /// The active segment file.
    pub fn segment_path(&self) -> &Path {
        &self.segment_path
    }

    fn rotate(&mut self) -> io::Result<()> {
        self.sync()?;
        let (first, prev_crc) = self.staged_first;
        let (file, path) = create_segment(&*self.vfs, &self.dir, self.db_id, first, prev_crc)?;
        self.file = file;
        self.segment_path = path;
        self.segment_lsn = first;
        self.segment_len = SEGMENT_HEADER_BYTES as u64;
        Ok(())
    }
}

fn create_segment(
    vfs: &dyn Vfs,
    dir: &Path,
    db_id: u64,
    first_lsn: u64,
    prev_crc: u32,
) -> io::Result<(Box<dyn AppendFile>, PathBuf)> {
    let path = segment_path(dir, first_lsn);
    let mut file = vfs.open_append(&path, true)?;
    file.write_all(&SegmentHeader::new(db_id, first_lsn, prev_crc).encode())?;
    file.sync_data()?;
    if !planted!(SkipDirSync) {
        vfs.sync_dir(dir)?;
    }
    Ok((file, path))
}
