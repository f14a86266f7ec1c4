//! The file `DURABLE`: an LSN up to which the log is known durable (every batch up to it was
//! acknowledged). Written at each checkpoint after the log is fsynced to that LSN and before the
//! store is written, so it is never ahead of the durable log and never behind the store's own
//! checkpoint LSN. Opening reads it before it touches the store: a log that ends before it, or a
//! damaged frame at or below it, is lost acknowledged data, refused with nothing changed.
//!
//! ```text
//! offset size field
//!  0     8    magic "FOLIODUR"
//!  8     4    format version (u32 LE)
//! 12     4    CRC32 of bytes 0..12 ++ 16..32
//! 16     8    LSN (u64 LE)
//! 24     8    database id (u64 LE)
//! ```

use super::meta::FORMAT_VERSION;
use crate::error::{CorruptionKind, Error, Result};
use crate::io::Vfs;
use std::path::Path;

pub const DURABLE_FILE: &str = "DURABLE";
const MAGIC: &[u8; 8] = b"FOLIODUR";
const BYTES: usize = 32;

fn crc(b: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&b[0..12]);
    hasher.update(&b[16..BYTES]);
    hasher.finalize()
}

/// Reads the durable LSN of the database at `dir` (0 when the file does not exist yet).
pub fn read(vfs: &dyn Vfs, dir: &Path, db_id: u64) -> Result<u64> {
    let path = dir.join(DURABLE_FILE);
    if !vfs.exists(&path) {
        return Ok(0);
    }
    let b = vfs.read_file(&path).map_err(|e| Error::io(&path, e))?;
    if b.len() != BYTES {
        let kind = CorruptionKind::BadLength(b.len() as u64);
        return Err(Error::corruption(&path, 0, kind));
    }
    if &b[0..8] != MAGIC {
        return Err(Error::corruption(&path, 0, CorruptionKind::BadMagic));
    }
    let word = |at: usize| {
        let mut w = [0u8; 8];
        w.copy_from_slice(&b[at..at + 8]);
        u64::from_le_bytes(w)
    };
    let expected = u32::from_le_bytes([b[12], b[13], b[14], b[15]]);
    let actual = crc(&b);
    if expected != actual {
        let kind = CorruptionKind::ChecksumMismatch { expected, actual };
        return Err(Error::corruption(&path, 12, kind));
    }
    let version = u32::from_le_bytes([b[8], b[9], b[10], b[11]]);
    if version != FORMAT_VERSION {
        return Err(Error::FormatVersion {
            path,
            found: version,
            supported: FORMAT_VERSION,
        });
    }
    let (lsn, id) = (word(16), word(24));
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
    Ok(lsn)
}

/// Records that the log of `dir` is durable up to `lsn` (atomically: temp, sync, rename, sync).
pub fn write(vfs: &dyn Vfs, dir: &Path, db_id: u64, lsn: u64) -> Result<()> {
    let mut b = [0u8; BYTES];
    b[0..8].copy_from_slice(MAGIC);
    b[8..12].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    b[16..24].copy_from_slice(&lsn.to_le_bytes());
    b[24..32].copy_from_slice(&db_id.to_le_bytes());
    let sum = crc(&b);
    b[12..16].copy_from_slice(&sum.to_le_bytes());
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
        assert_eq!(read(&StdFs, tmp.path(), 7).expect("absent"), 0);
        write(&StdFs, tmp.path(), 7, 42).expect("write");
        assert_eq!(read(&StdFs, tmp.path(), 7).expect("read"), 42);
        assert!(
            read(&StdFs, tmp.path(), 8).is_err(),
            "another database's mark"
        );
        let path = tmp.path().join(DURABLE_FILE);
        for at in 0..BYTES {
            let mut bytes = std::fs::read(&path).expect("read");
            bytes[at] ^= 0x10;
            let damaged = tmp.path().join("damaged");
            std::fs::create_dir_all(&damaged).expect("mkdir");
            std::fs::write(damaged.join(DURABLE_FILE), &bytes).expect("write");
            match read(&StdFs, &damaged, 7) {
                Err(Error::Corruption { file, .. }) => assert_eq!(file, damaged.join(DURABLE_FILE)),
                other => panic!("flip at {at}: {other:?}"),
            }
        }
    }
}
