//! The database's identity file `FOLIO`: format version, database id and shard count.
//!
//! ```text
//! offset size field
//!  0     8    magic "FOLIODB\0"
//!  8     4    format version (u32 LE)
//! 12     4    CRC32 of bytes 0..12 ++ 16..32
//! 16     8    database id (u64 LE, random at creation)
//! 24     4    balance shard count (u32 LE)
//! 28     4    reserved, zero
//! ```

use crate::error::{CorruptionKind, Error, Result};
use crate::io::Vfs;
use std::path::Path;

/// The on-disk format this build reads and writes.
pub const FORMAT_VERSION: u32 = 1;
/// Name of the database's identity file, in its directory: its presence makes the directory
/// a Folio database.
pub const META_FILE: &str = "FOLIO";
const MAGIC: &[u8; 8] = b"FOLIODB\0";
const META_BYTES: usize = 32;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Meta {
    pub db_id: u64,
    pub shards: u32,
}

fn crc(b: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&b[0..12]);
    hasher.update(&b[16..]);
    hasher.finalize()
}

impl Meta {
    pub fn encode(&self) -> [u8; META_BYTES] {
        let mut b = [0u8; META_BYTES];
        b[0..8].copy_from_slice(MAGIC);
        b[8..12].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
        b[16..24].copy_from_slice(&self.db_id.to_le_bytes());
        b[24..28].copy_from_slice(&self.shards.to_le_bytes());
        let c = crc(&b);
        b[12..16].copy_from_slice(&c.to_le_bytes());
        b
    }

    /// Reads and checks the meta file of the database at `dir`.
    pub fn read(vfs: &dyn Vfs, dir: &Path) -> Result<Meta> {
        let path = dir.join(META_FILE);
        let bytes = vfs.read_file(&path).map_err(|e| Error::io(&path, e))?;
        if bytes.len() < 12 || &bytes[0..8] != MAGIC {
            return Err(Error::corruption(&path, 0, CorruptionKind::BadMagic));
        }
        let version = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
        // Every version keeps the CRC at bytes 12..16, so a damaged version field reads as
        // damage, not as a newer format.
        let checksum = || {
            let expected = u32::from_le_bytes([bytes[12], bytes[13], bytes[14], bytes[15]]);
            let actual = crc(&bytes);
            if expected != actual {
                return Err(Error::corruption(
                    &path,
                    12,
                    CorruptionKind::ChecksumMismatch { expected, actual },
                ));
            }
            Ok(())
        };
        if bytes.len() >= 16 {
            checksum()?;
        }
        if version != FORMAT_VERSION {
            return Err(Error::FormatVersion {
                path,
                found: version,
                supported: FORMAT_VERSION,
            });
        }
        if bytes.len() != META_BYTES {
            return Err(Error::corruption(
                &path,
                0,
                CorruptionKind::BadLength(bytes.len() as u64),
            ));
        }
        let mut id = [0u8; 8];
        id.copy_from_slice(&bytes[16..24]);
        let shards = u32::from_le_bytes([bytes[24], bytes[25], bytes[26], bytes[27]]);
        if shards == 0 || shards > crate::limits::MAX_SHARDS {
            let why = format!("shard count {shards}");
            return Err(Error::corruption(
                &path,
                24,
                CorruptionKind::InvalidValue(why),
            ));
        }
        Ok(Meta {
            db_id: u64::from_le_bytes(id),
            shards,
        })
    }

    pub fn write(&self, vfs: &dyn Vfs, dir: &Path) -> Result<()> {
        let path = dir.join(META_FILE);
        vfs.write_atomic(&path, &self.encode())
            .map_err(|e| Error::io(&path, e))
    }
}

/// A fresh random database id.
pub fn new_db_id() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    hasher.write_u128(now);
    hasher.write_u32(std::process::id());
    hasher.finish() | 1
}
