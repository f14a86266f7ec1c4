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
use crate::format::{Header, HEADER_BYTES, META_FILE, META_MAGIC};
use crate::io::Vfs;
use std::path::Path;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Meta {
    pub db_id: u64,
    pub shards: u32,
}

impl Meta {
    pub fn encode(&self) -> [u8; HEADER_BYTES] {
        Header::new(META_MAGIC)
            .put_u64(16, self.db_id)
            .put_u32(24, self.shards)
            .encode()
    }

    /// Reads and checks the meta file of the database at `dir`.
    pub fn read(vfs: &dyn Vfs, dir: &Path) -> Result<Meta> {
        let path = dir.join(META_FILE);
        let bytes = vfs.read_file(&path).map_err(|e| Error::io(&path, e))?;
        let header = Header::decode(&path, &bytes, META_MAGIC)?;
        let shards = header.u32_at(24);
        if shards == 0 || shards > crate::limits::MAX_SHARDS {
            let why = format!("shard count {shards}");
            return Err(Error::corruption(
                &path,
                24,
                CorruptionKind::InvalidValue(why),
            ));
        }
        Ok(Meta {
            db_id: header.u64_at(16),
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
