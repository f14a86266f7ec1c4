//! The files of a database: copying it, its log segments and their frames, and damaging bytes.

use folio::Options;
use std::fs;
use std::path::{Path, PathBuf};

pub const SEGMENT_HEADER: u64 = 40;

pub const FRAME_HEADER: u64 = 24;

pub fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).expect("mkdir");
    for item in fs::read_dir(from).expect("read_dir") {
        let item = item.expect("dir entry");
        let target = to.join(item.file_name());
        if item.file_type().expect("file type").is_dir() {
            copy_dir(&item.path(), &target);
        } else {
            fs::copy(item.path(), &target).expect("copy");
        }
    }
}

pub fn segments(db_dir: &Path) -> Vec<PathBuf> {
    let mut segs: Vec<PathBuf> = fs::read_dir(db_dir.join("wal"))
        .expect("wal dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "log"))
        .collect();
    segs.sort();
    segs
}

pub fn only_segment(db_dir: &Path) -> PathBuf {
    let segs = segments(db_dir);
    assert_eq!(segs.len(), 1, "expected one segment: {segs:?}");
    segs.into_iter().next().expect("one segment")
}

/// A frame's place in its segment.
#[derive(Clone, Copy, Debug)]
pub struct FrameAt {
    pub offset: u64,
    /// Header + payload + padding.
    pub len: u64,
    pub payload_len: u64,
    pub lsn: u64,
}

/// Walks the frames of a segment: 40-byte header, then frames of 24 + len padded to 8.
pub fn frames(segment: &Path) -> Vec<FrameAt> {
    let bytes = fs::read(segment).expect("read segment");
    let mut out = Vec::new();
    let mut at = SEGMENT_HEADER as usize;
    while at + FRAME_HEADER as usize <= bytes.len() {
        let payload_len = u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4")) as u64;
        let lsn = u64::from_le_bytes(bytes[at + 8..at + 16].try_into().expect("8"));
        let len = (FRAME_HEADER + payload_len).div_ceil(8) * 8;
        out.push(FrameAt {
            offset: at as u64,
            len,
            payload_len,
            lsn,
        });
        at += len as usize;
    }
    assert_eq!(at, bytes.len(), "segment does not end on a frame boundary");
    out
}

pub fn flip_bit(path: &Path, offset: u64, bit: u8) {
    let mut bytes = fs::read(path).expect("read");
    bytes[offset as usize] ^= 1 << bit;
    fs::write(path, bytes).expect("write");
}

pub fn set_len(path: &Path, len: u64) {
    fs::OpenOptions::new()
        .write(true)
        .open(path)
        .expect("open")
        .set_len(len)
        .expect("set_len");
}

pub fn file_len(path: &Path) -> u64 {
    fs::metadata(path).expect("metadata").len()
}

pub fn segment_in(case_dir: &Path, original: &Path) -> PathBuf {
    case_dir
        .join("wal")
        .join(original.file_name().expect("segment name"))
}

/// Splits a one-segment log after frame `k` into two segments, as rotation would have written
/// them: the second header carries the database id, its first LSN and the CRC of frame `k`.
pub fn split_segment(dir: &Path, k: usize) -> (PathBuf, PathBuf) {
    let seg = only_segment(dir);
    let bytes = fs::read(&seg).expect("read");
    let fr = frames(&seg);
    let cut = fr[k - 1].offset + fr[k - 1].len;
    let prev_crc = {
        let at = fr[k - 1].offset as usize + 4;
        u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4"))
    };
    let db_id = u64::from_le_bytes(bytes[16..24].try_into().expect("8"));
    let first = fr[k].lsn;
    let header = folio::wal::segment::SegmentHeader::new(db_id, first, prev_crc).encode();
    let second = folio::wal::segment::segment_path(&dir.join("wal"), first);
    let mut out = header.to_vec();
    out.extend_from_slice(&bytes[cut as usize..]);
    fs::write(&second, out).expect("write second segment");
    set_len(&seg, cut);
    (seg, second)
}

pub fn small_segments() -> Options {
    Options::default().segment_target_bytes(512)
}

/// Segment header fields: (database id, first LSN, chain CRC).
pub fn header_of(segment: &Path) -> (u64, u64, u32) {
    let b = fs::read(segment).expect("read");
    (
        u64::from_le_bytes(b[16..24].try_into().expect("8")),
        u64::from_le_bytes(b[24..32].try_into().expect("8")),
        u32::from_le_bytes(b[32..36].try_into().expect("4")),
    )
}

pub fn crc_of_frame(segment: &Path, f: FrameAt) -> u32 {
    let b = fs::read(segment).expect("read");
    let at = f.offset as usize + 4;
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4"))
}
