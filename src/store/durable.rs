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

use crate::error::{CorruptionKind, Error, Result};
use crate::format::{Header, DURABLE_FILE, DURABLE_MAGIC, HEADER_BYTES};
use crate::io::Vfs;
use std::path::Path;

/// Reads the durable LSN of the database at `dir` (0 when the file does not exist yet).
pub fn read(vfs: &dyn Vfs, dir: &Path, db_id: u64) -> Result<u64> {
    let path = dir.join(DURABLE_FILE);
    if !vfs.exists(&path) {
        return Ok(0);
    }
    let b = vfs.read_file(&path).map_err(|e| Error::io(&path, e))?;
    // A mark of another length is refused as such before anything else is looked at.
    if b.len() != HEADER_BYTES {
        let kind = CorruptionKind::BadLength(b.len() as u64);
        return Err(Error::corruption(&path, 0, kind));
    }
    let header = Header::decode(&path, &b, DURABLE_MAGIC)?;
    let (lsn, id) = (header.u64_at(16), header.u64_at(24));
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
    let b = Header::new(DURABLE_MAGIC)
        .put_u64(16, lsn)
        .put_u64(24, db_id)
        .encode();
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
        for at in 0..HEADER_BYTES {
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
