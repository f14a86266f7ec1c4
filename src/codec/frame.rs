//! Log frame layout (see docs/format.md):
//!
//! ```text
//! offset size field
//!  0     4    payload length N (u32 LE)
//!  4     4    CRC32 of bytes 0..4 ++ 8..24 ++ payload (u32 LE)
//!  8     8    LSN (u64 LE)
//! 16     4    CRC32 of the previous frame (0 for the first frame of the log)
//! 20     4    operation count (u32 LE; bit 31: the payload is a compact batch)
//! 24     N    the batch (compact, or an rkyv archive: `codec::record`)
//! 24+N   p    zero padding so the frame length is a multiple of 8
//! ```

use crate::limits::MAX_FRAME_PAYLOAD_BYTES;

pub const FRAME_HEADER_BYTES: usize = 24;
pub const FRAME_ALIGN: usize = 8;

/// A decoded frame header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameHeader {
    pub len: u32,
    pub crc: u32,
    pub lsn: u64,
    pub prev_crc: u32,
    pub op_count: u32,
}

/// Why bytes at some offset are not a valid frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameError {
    /// Fewer bytes than a header, or than the header's length announces with the padding.
    Truncated,
    /// Length 0 or above the limit.
    BadLength(u32),
    ChecksumMismatch {
        expected: u32,
        actual: u32,
    },
}

/// Total bytes a frame with `payload_len` bytes occupies, padding included.
pub fn frame_len(payload_len: usize) -> usize {
    (FRAME_HEADER_BYTES + payload_len).div_ceil(FRAME_ALIGN) * FRAME_ALIGN
}

fn checksum(header: &[u8], payload: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&header[0..4]);
    hasher.update(&header[8..FRAME_HEADER_BYTES]);
    hasher.update(payload);
    hasher.finalize()
}

/// Whether a payload of `len` bytes fits a frame: not empty, at most
/// [`MAX_FRAME_PAYLOAD_BYTES`].
pub fn payload_len_ok(len: usize) -> bool {
    len > 0 && len <= MAX_FRAME_PAYLOAD_BYTES
}

/// The frame header with its CRC field still zero.
fn header_bytes(lsn: u64, prev_crc: u32, op_count: u32, payload_len: u32) -> [u8; FRAME_HEADER_BYTES] {
    let mut header = [0; FRAME_HEADER_BYTES];
    header[0..4].copy_from_slice(&payload_len.to_le_bytes());
    header[8..16].copy_from_slice(&lsn.to_le_bytes());
    header[16..20].copy_from_slice(&prev_crc.to_le_bytes());
    header[20..24].copy_from_slice(&op_count.to_le_bytes());
    header
}

/// The header of a frame with these fields, its CRC filled in, and that CRC; `None` when the
/// payload's length does not fit a frame.
fn sealed_header(
    lsn: u64,
    prev_crc: u32,
    op_count: u32,
    payload: &[u8],
) -> Option<([u8; FRAME_HEADER_BYTES], u32)> {
    if !payload_len_ok(payload.len()) {
        return None;
    }
    let mut header = header_bytes(lsn, prev_crc, op_count, u32::try_from(payload.len()).ok()?);
    let crc = checksum(&header, payload);
    header[4..8].copy_from_slice(&crc.to_le_bytes());
    Some((header, crc))
}

/// The CRC a frame with these fields carries (what [`encode_frame`] writes), computed without
/// building the frame. `None` when the payload's length does not fit a frame.
pub fn frame_crc(lsn: u64, prev_crc: u32, op_count: u32, payload: &[u8]) -> Option<u32> {
    sealed_header(lsn, prev_crc, op_count, payload).map(|(_, crc)| crc)
}

/// Appends one frame to `out` and returns its CRC (the next frame's `prev_crc`).
///
/// # Panics
/// When the payload's length does not fit a frame ([`payload_len_ok`]): the encoder builds
/// payloads within the limit, and shipped payloads are checked before they get here.
pub fn encode_frame(
    out: &mut Vec<u8>,
    lsn: u64,
    prev_crc: u32,
    op_count: u32,
    payload: &[u8],
) -> u32 {
    let (header, crc) =
        sealed_header(lsn, prev_crc, op_count, payload).expect("frame payload within the limit");
    let start = out.len();
    out.extend_from_slice(&header);
    out.extend_from_slice(payload);
    out.resize(start + frame_len(payload.len()), 0);
    crc
}

fn le_u32(b: &[u8], at: usize) -> u32 {
    let mut raw = [0; 4];
    raw.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(raw)
}

fn le_u64(b: &[u8], at: usize) -> u64 {
    let mut raw = [0; 8];
    raw.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(raw)
}

/// Decodes the frame at the start of `bytes`, verifying its checksum.
/// Returns the header and the payload slice. A frame is whole only with its padding: a writer
/// writes frame and padding with one write, so a frame without it was cut by a torn write (and
/// the log continues at the frame's padded end, which must be in the file).
pub fn decode_frame(bytes: &[u8]) -> Result<(FrameHeader, &[u8]), FrameError> {
    if bytes.len() < FRAME_HEADER_BYTES {
        return Err(FrameError::Truncated);
    }
    let header = FrameHeader {
        len: le_u32(bytes, 0),
        crc: le_u32(bytes, 4),
        lsn: le_u64(bytes, 8),
        prev_crc: le_u32(bytes, 16),
        op_count: le_u32(bytes, 20),
    };
    let len = header.len as usize;
    if !payload_len_ok(len) {
        return Err(FrameError::BadLength(header.len));
    }
    if bytes.len() < frame_len(len) {
        return Err(FrameError::Truncated);
    }
    let payload = &bytes[FRAME_HEADER_BYTES..FRAME_HEADER_BYTES + len];
    let actual = checksum(&bytes[..FRAME_HEADER_BYTES], payload);
    if actual != header.crc {
        return Err(FrameError::ChecksumMismatch {
            expected: header.crc,
            actual,
        });
    }
    Ok((header, payload))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<u8> {
        let mut out = Vec::new();
        encode_frame(&mut out, 42, 0xDEAD_BEEF, 3, b"hello frame payload");
        out
    }

    #[test]
    fn round_trip_and_padding() {
        let bytes = sample();
        assert_eq!(bytes.len() % FRAME_ALIGN, 0);
        let (h, payload) = decode_frame(&bytes).unwrap();
        assert_eq!((h.lsn, h.prev_crc, h.op_count), (42, 0xDEAD_BEEF, 3));
        assert_eq!(payload, b"hello frame payload");
    }

    #[test]
    fn every_single_bit_flip_is_rejected() {
        let bytes = sample();
        let covered = FRAME_HEADER_BYTES + b"hello frame payload".len();
        for bit in 0..covered * 8 {
            let mut damaged = bytes.clone();
            damaged[bit / 8] ^= 1 << (bit % 8);
            assert!(decode_frame(&damaged).is_err(), "bit {bit} flip accepted");
        }
    }

    #[test]
    fn truncation_and_bad_lengths() {
        let bytes = sample();
        assert!(bytes.len() > FRAME_HEADER_BYTES + 19, "the sample is padded");
        for cut in 0..bytes.len() {
            assert!(decode_frame(&bytes[..cut]).is_err(), "cut {cut} accepted");
        }
        let mut zero = bytes.clone();
        zero[0..4].copy_from_slice(&0u32.to_le_bytes());
        assert_eq!(decode_frame(&zero).unwrap_err(), FrameError::BadLength(0));
        let mut huge = bytes;
        huge[0..4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(
            decode_frame(&huge).unwrap_err(),
            FrameError::BadLength(u32::MAX)
        );
    }
}
